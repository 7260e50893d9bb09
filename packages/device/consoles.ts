/**
 * Consoles a virtual module can be reached on: standard I/O, a TCP port
 * (one client at a time) and a serial pseudo-terminal.
 *
 * @module
 */

import { createHash, timingSafeEqual } from "node:crypto";
import type { VirtualModule } from "./module.ts";

/** A running console. */
export interface Console {
  /** Where it is: `stdio`, `tcp:HOST:PORT` or the pty's `/dev/pts/N` path. */
  readonly address: string;
  /** Stops the console (the module itself stays open). */
  close(): Promise<void>;
}

/** Writes every byte, looping over partial writes. */
export async function writeAll(
  writer: { write(p: Uint8Array): Promise<number> },
  bytes: Uint8Array,
): Promise<void> {
  let written = 0;
  while (written < bytes.length) {
    written += await writer.write(bytes.subarray(written));
  }
}

/** Smallest and largest console read: small for typed lines, large for TT bursts. */
const MIN_READ = 4 * 1024;
const MAX_READ = 256 * 1024;

/**
 * Feeds a reader's bytes to the module, waiting whenever the module asks.
 * Each read goes into a fresh buffer (the module keeps what it is given),
 * sized to the traffic: it doubles while reads fill it (a transparent
 * transmission burst) and shrinks back when they do not (typed lines).
 */
async function feed(
  module: VirtualModule,
  source: { read(p: Uint8Array): Promise<number | null> },
  first?: Uint8Array,
): Promise<void> {
  let size = MIN_READ;
  try {
    if (first?.length) await module.receive(first);
    while (true) {
      const buffer = new Uint8Array(size);
      const n = await source.read(buffer);
      if (n === null) break;
      if (n === size) size = Math.min(size * 2, MAX_READ);
      else if (n < size / 4) size = Math.max(size / 2, MIN_READ);
      await module.receive(buffer.subarray(0, n));
    }
  } catch {
    // The console went away mid-read.
  }
}

/** A byte pipe a console can run on: a pty, one end of an in-memory pair. */
export interface ConsolePipe {
  /** Bytes typed or sent to the module; each chunk is the module's to keep. */
  readonly readable: ReadableStream<Uint8Array>;
  /** Writes the module's output. */
  write(bytes: Uint8Array): Promise<void>;
  /**
   * Whether anyone is on the other end (a pty with no client: false). A
   * pipe that has this attaches the module only while it is true and calls
   * the module's `attach`/`detach` itself as it changes.
   */
  readonly peer?: boolean;
}

/**
 * Serves the module on any byte pipe: for example one end of the host
 * package's `memoryPair()`, to run host code against a module in one
 * process. Closing the console detaches the module and cancels the
 * readable.
 */
export function serveStreams(
  module: VirtualModule,
  pipe: ConsolePipe,
  address = "streams",
): Console {
  const reader = pipe.readable.getReader();
  if (pipe.peer !== false) module.attach((bytes) => pipe.write(bytes));
  const reading = (async () => {
    try {
      while (true) {
        const { value, done } = await reader.read();
        if (done) break;
        await module.receive(value);
      }
    } catch {
      // The pipe failed: the console is gone, as when a cable is pulled.
    } finally {
      reader.releaseLock();
    }
  })();
  return {
    address,
    close: async () => {
      module.detach();
      await reader.cancel().catch(() => {});
      await reading;
    },
  };
}

/**
 * Serves the module on standard input and output until stdin ends. At the
 * end of input every command already received is finished (each bounded
 * by its own timeout) and answered before `done` settles.
 */
export function serveStdio(
  module: VirtualModule,
  /** Where input comes from instead of `Deno.stdin` (a terminal in raw mode). */
  input: { read(p: Uint8Array): Promise<number | null> } = Deno.stdin,
): Console & {
  /** Settles when stdin has ended. */
  done: Promise<void>;
} {
  module.attach((bytes) => writeAll(Deno.stdout, bytes));
  const done = feed(module, input).then(() => module.idle());
  return {
    address: "stdio",
    done,
    close: async () => {
      module.detach();
      await Promise.resolve();
    },
  };
}

/** Options for {@linkcode serveTcp}. */
export interface TcpConsoleOptions {
  /** Address to listen on (default 127.0.0.1: loopback only). */
  hostname?: string;
  /** Port (0: any free port). */
  port: number;
  /**
   * A shared secret: the first line a client sends (ended by CR, LF or
   * CR LF) must be exactly this, else the client is told and closed. The
   * line is never echoed, logged or given to the module.
   */
  token?: string;
  /** How long a client may take to send the token (default 10000 ms). */
  tokenTimeoutMs?: number;
  /** Called with a one-line notice (a refused client); never gets the token. */
  log?: (message: string) => void;
}

const BUSY = new TextEncoder().encode(
  "atsock: console busy: another client is connected\r\n",
);
const WRONG_TOKEN = new TextEncoder().encode(
  "atsock: console refused: wrong token\r\n",
);
const NO_TOKEN = new TextEncoder().encode(
  "atsock: console refused: no token line in time\r\n",
);
/** Longest token line read before giving up. */
const TOKEN_LINE_MAX = 1024;

const digest = (bytes: Uint8Array) =>
  createHash("sha256").update(bytes).digest();

/**
 * Reads the first line and compares it with the token in constant time.
 * Returns the bytes that came after the line (for the module), or why the
 * client is refused.
 */
async function authenticate(
  conn: Deno.Conn,
  token: Uint8Array,
  timeoutMs: number,
): Promise<{ rest: Uint8Array } | { refused: Uint8Array; why: string }> {
  const line = new Uint8Array(TOKEN_LINE_MAX + 2);
  let filled = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"late">((resolve) => {
    timer = setTimeout(() => resolve("late"), timeoutMs);
  });
  try {
    while (true) {
      const end = line.subarray(0, filled).findIndex((b) =>
        b === 13 || b === 10
      );
      if (end >= 0) {
        const given = line.slice(0, end);
        let after = end + 1;
        if (line[end] === 13) {
          // A CR LF split across reads: wait for the LF (or other bytes).
          while (after >= filled) {
            const n = await Promise.race([
              conn.read(line.subarray(filled)),
              late,
            ]);
            if (n === "late" || n === null) break;
            filled += n;
          }
          if (after < filled && line[after] === 10) after++;
        }
        const good = timingSafeEqual(digest(given), digest(token));
        return good ? { rest: line.slice(after, filled) } : {
          refused: WRONG_TOKEN,
          why: "wrong token",
        };
      }
      if (filled >= TOKEN_LINE_MAX) {
        return { refused: WRONG_TOKEN, why: "token line too long" };
      }
      const n = await Promise.race([
        conn.read(line.subarray(filled, TOKEN_LINE_MAX)),
        late,
      ]);
      if (n === "late") return { refused: NO_TOKEN, why: "no token in time" };
      if (n === null) {
        return {
          refused: new Uint8Array(),
          why: "closed before sending the token",
        };
      }
      filled += n;
    }
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Serves the module on a TCP port. One client at a time: a second client is
 * told the console is busy and closed, and the first keeps the console.
 * With a {@linkcode TcpConsoleOptions.token}, a client must first send the
 * token line; until it has, it holds the console but the module is not
 * attached to it.
 */
export function serveTcp(
  module: VirtualModule,
  options: TcpConsoleOptions,
): Console & {
  /** The port actually listened on. */
  port: number;
  /** Whether a client holds the console. */
  readonly busy: boolean;
} {
  const listener = Deno.listen({
    hostname: options.hostname ?? "127.0.0.1",
    port: options.port,
  });
  const addr = listener.addr as Deno.NetAddr;
  let current: Deno.TcpConn | undefined;
  const sessions = new Set<Promise<void>>();
  const token = options.token === undefined
    ? undefined
    : new TextEncoder().encode(options.token);

  const session = async (conn: Deno.TcpConn) => {
    current = conn;
    conn.setNoDelay(true);
    let first: Uint8Array | undefined;
    if (token) {
      const result = await authenticate(
        conn,
        token,
        options.tokenTimeoutMs ?? 10000,
      ).catch(() => ({
        refused: new Uint8Array(),
        why: "closed before sending the token",
      }));
      if ("refused" in result) {
        const peer = conn.remoteAddr as Deno.NetAddr;
        options.log?.(
          `console: client ${peer.hostname}:${peer.port} refused: ${result.why}`,
        );
        await writeAll(conn, result.refused).catch(() => {});
        if (current === conn) current = undefined;
        try {
          conn.close();
        } catch { /* already closed */ }
        return;
      }
      first = result.rest;
    }
    module.attach((bytes) => writeAll(conn, bytes));
    await feed(module, conn, first);
    if (current === conn) {
      current = undefined;
      module.detach();
    }
    try {
      conn.close();
    } catch { /* already closed */ }
  };

  const accepting = (async () => {
    try {
      for await (const conn of listener) {
        if (current) {
          writeAll(conn, BUSY).catch(() => {}).finally(() => {
            try {
              conn.close();
            } catch { /* gone */ }
          });
          continue;
        }
        const run = session(conn);
        sessions.add(run);
        run.finally(() => sessions.delete(run));
      }
    } catch { /* listener closed */ }
  })();

  const host = addr.hostname.includes(":")
    ? `[${addr.hostname}]`
    : addr.hostname;
  return {
    address: `tcp:${host}:${addr.port}`,
    port: addr.port,
    get busy() {
      return current !== undefined;
    },
    close: async () => {
      try {
        listener.close();
      } catch { /* closed */ }
      if (current) {
        try {
          current.close();
        } catch { /* closed */ }
      }
      module.detach();
      await accepting;
      await Promise.allSettled([...sessions]);
    },
  };
}
