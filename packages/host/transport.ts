/**
 * The byte pipe between a host and a module: a serial device, a TCP bridge
 * (ser2net style) or an in-memory pair. All three have the same shape.
 *
 * @module
 */

import { writeAll } from "@atsock/tty";
/** A bidirectional byte stream to a module's UART. */
export interface Transport {
  /** Bytes from the module. Ends when the transport closes. */
  readonly readable: ReadableStream<Uint8Array>;
  /** Writes every byte to the module; rejects if the transport is closed. */
  write(bytes: Uint8Array): Promise<void>;
  /** Closes the transport; `readable` ends. Idempotent. */
  close(): Promise<void>;
  /** A short description, for messages: `tcp:127.0.0.1:3333`, `/dev/ttyUSB0`. */
  readonly name: string;
}

/** Options for {@linkcode connectTcp}. */
export interface TcpTransportOptions {
  /** Host of the bridge (default 127.0.0.1). */
  hostname?: string;
  /** Port of the bridge. */
  port: number;
  /**
   * Reconnect when the bridge drops the connection: attempts (default 0: no
   * reconnect), spaced by `reconnectDelayMs` (default 500 ms).
   */
  reconnectAttempts?: number;
  /** Delay between reconnect attempts. */
  reconnectDelayMs?: number;
}

/**
 * Connects to a module behind a serial-to-TCP bridge (or a virtual module's
 * TCP console). With `reconnectAttempts`, a dropped connection is reopened
 * and reading goes on; writes during the gap wait for the new connection.
 */
export async function connectTcp(
  options: TcpTransportOptions,
): Promise<Transport> {
  const hostname = options.hostname ?? "127.0.0.1";
  const open = async () => {
    const conn = await Deno.connect({ hostname, port: options.port });
    conn.setNoDelay(true);
    return conn;
  };
  let conn = await open();
  let closed = false;
  let reconnecting: Promise<Deno.TcpConn | undefined> | undefined;
  const attempts = options.reconnectAttempts ?? 0;
  const delay = options.reconnectDelayMs ?? 500;

  const reconnect = (): Promise<Deno.TcpConn | undefined> => {
    reconnecting ??= (async () => {
      for (let i = 0; i < attempts && !closed; i++) {
        await new Promise((r) => setTimeout(r, delay));
        try {
          conn = await open();
          return conn;
        } catch { /* try again */ }
      }
      return undefined;
    })().finally(() => (reconnecting = undefined));
    return reconnecting;
  };

  const readable = new ReadableStream<Uint8Array>({
    async pull(controller) {
      while (true) {
        const buf = new Uint8Array(64 * 1024);
        let n: number | null = null;
        try {
          n = await conn.read(buf);
        } catch {
          n = null;
        }
        if (n !== null) {
          controller.enqueue(buf.subarray(0, n));
          return;
        }
        if (closed || attempts === 0 || !(await reconnect())) {
          controller.close();
          return;
        }
      }
    },
    cancel() {
      closed = true;
      try {
        conn.close();
      } catch { /* closed */ }
    },
  });

  return {
    name: `tcp:${hostname}:${options.port}`,
    readable,
    async write(bytes) {
      if (closed) throw new Deno.errors.BadResource("transport is closed");
      try {
        await writeAll(conn, bytes);
      } catch (e) {
        if (closed || attempts === 0) throw e;
        const next = await reconnect();
        if (!next) throw e;
        await writeAll(next, bytes);
      }
    },
    close() {
      if (!closed) {
        closed = true;
        try {
          conn.close();
        } catch { /* closed */ }
      }
      return Promise.resolve();
    },
  };
}

/**
 * Two transports joined back to back in memory: what one writes, the other
 * reads. For tests, and for running host code against a virtual module in
 * the same process.
 */
export function memoryPair(): [Transport, Transport] {
  const make = (name: string) => {
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    const readable = new ReadableStream<Uint8Array>({
      start(c) {
        controller = c;
      },
    }, { highWaterMark: 64 * 1024, size: (chunk) => chunk.length });
    return { name, readable, controller, closed: false };
  };
  const a = make("memory:a");
  const b = make("memory:b");
  const side = (self: typeof a, other: typeof a): Transport => ({
    name: self.name,
    readable: self.readable,
    async write(bytes) {
      if (self.closed || other.closed) {
        throw new Deno.errors.BadResource("transport is closed");
      }
      other.controller.enqueue(bytes.slice());
      // Back-pressure: wait while the reader is far behind.
      while ((other.controller.desiredSize ?? 1) <= 0 && !other.closed) {
        await new Promise((r) => setTimeout(r, 1));
      }
    },
    close() {
      for (const end of [self, other]) {
        if (!end.closed) {
          end.closed = true;
          try {
            end.controller.close();
          } catch { /* already closed */ }
        }
      }
      return Promise.resolve();
    },
  });
  return [side(a, b), side(b, a)];
}
