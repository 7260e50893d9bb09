/**
 * Helpers for the host tests: a virtual module behind its TCP console with
 * a driver on it, loopback peers, and bounded waits for conditions.
 *
 * @module
 */

import { createModule, serveTcp, type VirtualModule } from "@atsock/device";
import type { ModuleOptions } from "@atsock/device";
import { AtDriver } from "./driver.ts";
import { connectTcp, memoryPair, type Transport } from "./transport.ts";
import { concat, encode } from "@atsock/protocol";

/** The answer to `AT+SKTQUERY` with every option at its default. */
export const QUERY_BLOCK =
  "\r\nGlobal SOCKET configuration:\r\nso_sndtimeo: 0\r\nso_rcvtimeo: 0\r\ntcp_nodelay: 0\r\nso_keepalive: 0\r\ntcp_keepidle: 0\r\ntcp_keepintvl: 0\r\ntcp_keepcnt: 0\r\n\r\nOK\r\n";

/** A virtual module, its TCP console, a driver on it and a loopback listener for peers. */
export interface Bench {
  /** The virtual module. */
  module: VirtualModule;
  /** The driver on its console. */
  driver: AtDriver;
  /** A listener the module's clients connect to. */
  peer: Deno.TcpListener;
  /** The listener's port. */
  port: number;
  /** Closes everything. */
  close(): Promise<void>;
}

/** Starts a module (Host Control Mode unless told) and a driver that has seen READY. */
export async function bench(
  options: ModuleOptions & { timeoutMs?: number; closeCheckMs?: number } = {},
): Promise<Bench> {
  const module = createModule({ mode: "host", ...options });
  const console = serveTcp(module, { port: 0 });
  const driver = new AtDriver(await connectTcp({ port: console.port }), {
    timeoutMs: options.timeoutMs ?? 5000,
    closeCheckMs: options.closeCheckMs,
  });
  if (module.mode === "host") await driver.waitReady();
  const peer = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  return {
    module,
    driver,
    peer,
    port: (peer.addr as Deno.NetAddr).port,
    close: async () => {
      peer.close();
      await driver.close();
      await console.close();
      await module.close();
    },
  };
}

/** A port nothing listens on (bound, read, released). */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Waits until `condition()` holds, checking every 10 ms, at most `limitMs`. */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  what: string,
  limitMs = 10000,
): Promise<void> {
  for (let waited = 0; waited < limitMs; waited += 10) {
    if (await condition()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Reads from a connection until `marker` ends what was read (at most `limit` bytes). */
export async function readUntil(
  conn: Deno.Conn,
  marker: Uint8Array,
  limit = 64 * 1024 * 1024,
): Promise<Uint8Array> {
  let out = new Uint8Array(64 * 1024);
  let n = 0;
  const ends = () =>
    n >= marker.length &&
    marker.every((b, i) => out[n - marker.length + i] === b);
  while (!ends()) {
    if (n === out.length) {
      if (n >= limit) throw new Error(`no marker within ${limit} bytes`);
      const bigger = new Uint8Array(out.length * 2);
      bigger.set(out);
      out = bigger;
    }
    const got = await conn.read(out.subarray(n));
    if (got === null) throw new Error(`connection ended after ${n} bytes`);
    n += got;
  }
  return out.slice(0, n);
}

/** Reads everything from a stream until it ends. */
export async function readAll(
  stream: ReadableStream<Uint8Array>,
): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const part of stream) parts.push(part);
  return concat(parts);
}

/** A scripted fake module on an in-memory pair: answers lines with `script`. */
export function fakeModule(
  script: (
    line: string,
    write: (s: string | Uint8Array) => Promise<void>,
  ) => Promise<void> | void,
) {
  const [host, module] = memoryPair();
  const write = (s: string | Uint8Array) =>
    module.write(typeof s === "string" ? encode(s) : s);
  const lines: string[] = [];
  const running = (async () => {
    const reader = module.readable.getReader();
    let buffered = "";
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      buffered += new TextDecoder().decode(value);
      let end;
      while ((end = buffered.indexOf("\r\n")) >= 0) {
        const line = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        lines.push(line);
        await script(line, write);
      }
    }
  })();
  return { transport: host as Transport, running, lines };
}
