/**
 * Broken and hostile peers for tests, the fuzzer and the soak: a
 * connection reset before the server could accept it (`SO_LINGER {1, 0}`
 * then close, all in one synchronous turn, through libc FFI), a TLS
 * client that opens the TCP connection and never says hello, and a
 * console client that never reads. Linux only; needs `--allow-ffi` for
 * the resets. Exported as `@atsock/device/attacks` for the tools (the soak
 * and the flood test); not part of the module's API (`@atsock/device`).
 *
 * @module
 */

import { lib, socketOptionsSupported } from "./sockopt.ts";

const AF_INET = 2;
const SOCK_STREAM = 1;
const SOL_SOCKET = 1;
const SO_LINGER = 13;

/** Whether {@linkcode resetConnect} can run here (Linux, FFI allowed). */
export const resetsSupported: () => boolean = socketOptionsSupported;

/**
 * Connects to `127.0.0.1:port` (or another IPv4 address) and at once
 * closes with `SO_LINGER {1, 0}`, so the connection is reset while it
 * still waits in the listener's queue: the server's accept then fails
 * (Deno: `NotConnected`, os error 107). Synchronous, so no accept of this
 * process can run in between. Returns false when the connect failed.
 */
export function resetConnect(port: number, ip = "127.0.0.1"): boolean {
  const c = lib();
  const fd = c.socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  try {
    const addr = new Uint8Array(16);
    const view = new DataView(addr.buffer);
    view.setUint16(0, AF_INET, true);
    view.setUint16(2, port, false);
    addr.set(ip.split(".").map(Number), 4);
    if (c.connect(fd, addr, 16) !== 0) return false;
    const linger = new Uint8Array(8);
    new DataView(linger.buffer).setInt32(0, 1, true); // l_onoff
    c.setsockopt(fd, SOL_SOCKET, SO_LINGER, linger, 8); // l_linger = 0
    return true;
  } finally {
    c.close(fd);
  }
}

/**
 * TCP connections that never send a byte (a TLS client that never says
 * hello, a console client that never sends its token): opened now, closed
 * by `close()`. Connections that fail to open (the server's descriptors
 * are exhausted) are counted, not thrown.
 */
export async function stalledConnections(
  port: number,
  count: number,
  hostname = "127.0.0.1",
): Promise<{ opened: number; close(): void }> {
  const conns: Deno.Conn[] = [];
  const results = await Promise.allSettled(
    Array.from({ length: count }, () => Deno.connect({ hostname, port })),
  );
  for (const result of results) {
    if (result.status === "fulfilled") conns.push(result.value);
  }
  return {
    opened: conns.length,
    close() {
      for (const conn of conns) {
        try {
          conn.close();
        } catch { /* already closed by the server */ }
      }
    },
  };
}
