/**
 * Consoles a virtual module can be reached on: standard I/O, a TCP port
 * (one client at a time) and a serial pseudo-terminal.
 *
 * @module
 */

import { createHash, timingSafeEqual } from "node:crypto";
import { acceptLoop } from "./accept_loop.ts";
import { AttemptGuard, RefusalLog } from "./console_guard.ts";
import type { VirtualModule } from "./module.ts";
import { writeAll } from "@atsock/tty";
export { writeAll };

/** A running console. */
export interface Console {
  /** Where it is: `stdio`, `tcp:HOST:PORT` or the pty's `/dev/pts/N` path. */
  readonly address: string;
  /** Stops the console (the module itself stays open). */
  close(): Promise<void>;
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
 * A terminal's line discipline turns the Enter key into a lone LF, which
 * the module's line reader keeps as a byte of the line (only CR LF ends
 * one): typed on a terminal, each LF not after a CR is sent as CR LF, as a
 * serial terminal set to send CR LF on Enter would. Piped input is left as
 * it is.
 */
export function enterAsCrLf(
  source: { read(p: Uint8Array): Promise<number | null> },
): { read(p: Uint8Array): Promise<number | null> } {
  let lastCr = false;
  let pending: Uint8Array = new Uint8Array();
  return {
    async read(p: Uint8Array): Promise<number | null> {
      if (pending.length === 0) {
        const buf = new Uint8Array(Math.max(1, p.length >> 1));
        const n = await source.read(buf);
        if (n === null) return null;
        const out: number[] = [];
        for (let i = 0; i < n; i++) {
          const b = buf[i];
          if (b === 0x0a && !lastCr) out.push(0x0d);
          out.push(b);
          lastCr = b === 0x0d;
        }
        pending = Uint8Array.from(out);
      }
      const take = Math.min(p.length, pending.length);
      p.set(pending.subarray(0, take));
      pending = pending.subarray(take);
      return take;
    },
  };
}

/**
 * Serves the module on standard input and output until stdin ends. At the
 * end of input every command already received is finished (each bounded
 * by its own timeout) and answered before `done` settles. On a terminal
 * that is not in raw mode, Enter (a lone LF) is sent as CR LF
 * ({@linkcode enterAsCrLf}).
 */
export function serveStdio(
  module: VirtualModule,
  /** Where input comes from instead of standard input (a terminal in raw mode). */
  input: { read(p: Uint8Array): Promise<number | null> } = Deno.stdin
      .isTerminal()
    ? enterAsCrLf(Deno.stdin)
    : Deno.stdin,
): Console & {
  /** Settles when stdin has ended. */
  done: Promise<void>;
} {
  module.attach((bytes) => writeAll(Deno.stdout, bytes));
  const done = feed(module, input)
    .then(() => module.idle())
    .then(() => module.output.flushed());
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
   * A shared secret: the first line a client sends must be exactly this,
   * else the client is told and closed. The line ends as every console
   * line does (CR LF or NUL; see {@linkcode authenticate}). It is never
   * echoed, logged or given to the module. No CR, LF or NUL in it.
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
const NOT_CRLF = new TextEncoder().encode(
  "atsock: console refused: wrong token (a line ends with CR LF; a lone CR or LF is a byte of the line)\r\n",
);
const CROWDED = new TextEncoder().encode(
  "atsock: console refused: too many clients waiting to send the token\r\n",
);
const locked = (ms: number) =>
  new TextEncoder().encode(
    `atsock: console refused: too many wrong tokens from this address; try again in ${
      Math.ceil(ms / 1000)
    } s\r\n`,
  );
/** Longest token line read before giving up. */
const TOKEN_LINE_MAX = 1024;
/**
 * Clients that may wait to send the token at once; one more closes the one
 * that has waited longest. A client that has not sent the token holds
 * nothing: the first with the right token gets the console.
 */
export const TOKEN_WAITING_MAX = 8;
/**
 * How long a token line that ends in CR waits for its LF before it is
 * refused (instead of the whole token timeout).
 */
export const TOKEN_CR_GRACE_MS = 1000;

const digest = (bytes: Uint8Array) =>
  createHash("sha256").update(bytes).digest();

/** Why a client is refused: what it is told and what is logged. */
interface Refusal {
  refused: Uint8Array;
  why: string;
}

/**
 * Reads the first line and compares it with the token in constant time.
 * Returns the bytes that came after the line (for the module), or why the
 * client is refused.
 *
 * A token line ends as a console line does on the firmware
 * (`shell_cmd_chk`): with CR LF or with NUL. A lone CR or LF is a byte of
 * the line, and since a token holds neither, a line with one can never
 * be the token: it is refused as soon as that shows (a CR followed by
 * anything but LF, an LF without CR before it), and a line whose last
 * byte so far is CR waits at most {@linkcode TOKEN_CR_GRACE_MS} for its
 * LF, never the whole token timeout.
 */
async function authenticate(
  conn: Deno.Conn,
  token: Uint8Array,
  timeoutMs: number,
): Promise<{ rest: Uint8Array } | Refusal> {
  const line = new Uint8Array(TOKEN_LINE_MAX + 2);
  let filled = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"late">((resolve) => {
    timer = setTimeout(() => resolve("late"), timeoutMs);
  });
  let graceTimer: ReturnType<typeof setTimeout> | undefined;
  let grace: Promise<"grace"> | undefined;
  const check = (given: Uint8Array, rest: Uint8Array) =>
    timingSafeEqual(digest(given), digest(token))
      ? { rest }
      : { refused: WRONG_TOKEN, why: "wrong token" };
  try {
    while (true) {
      for (let i = 0; i < filled; i++) {
        const byte = line[i];
        if (byte === 0) {
          return check(line.slice(0, i), line.slice(i + 1, filled));
        }
        if (byte === 10) {
          return { refused: NOT_CRLF, why: "lone LF in the token line" };
        }
        if (byte !== 13) continue;
        if (i + 1 === filled) break; // a CR last: wait (briefly) for its LF
        if (line[i + 1] !== 10) {
          return { refused: NOT_CRLF, why: "lone CR in the token line" };
        }
        return check(line.slice(0, i), line.slice(i + 2, filled));
      }
      if (filled >= TOKEN_LINE_MAX) {
        return { refused: WRONG_TOKEN, why: "token line too long" };
      }
      const crLast = filled > 0 && line[filled - 1] === 13;
      if (crLast && !grace) {
        grace = new Promise<"grace">((resolve) => {
          graceTimer = setTimeout(() => resolve("grace"), TOKEN_CR_GRACE_MS);
        });
      }
      const n = await Promise.race([
        conn.read(line.subarray(filled, TOKEN_LINE_MAX + 1)),
        late,
        ...(grace ? [grace] : []),
      ]);
      if (n === "grace") {
        return { refused: NOT_CRLF, why: "lone CR ending the token line" };
      }
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
    clearTimeout(graceTimer);
  }
}

/**
 * Serves the module on a TCP port. One client at a time: a second client is
 * told the console is busy and closed, and the first keeps the console.
 * With a {@linkcode TcpConsoleOptions.token}, clients that have not yet
 * sent the token hold nothing: up to {@linkcode TOKEN_WAITING_MAX} may
 * wait at once and the first with the right token gets the console. Each
 * wrong token locks its source address out for a while (250 ms, doubling
 * up to 30 s), and refusals are logged once per reason, then summed up.
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
  if (options.token !== undefined && /[\r\n\0]/.test(options.token)) {
    throw new RangeError("the console token must not hold CR, LF or NUL");
  }
  const listener = Deno.listen({
    hostname: options.hostname ?? "127.0.0.1",
    port: options.port,
  });
  const addr = listener.addr as Deno.NetAddr;
  let current: Deno.TcpConn | undefined;
  const sessions = new Set<Promise<void>>();
  const waiting = new Map<Deno.TcpConn, { kicked: boolean }>();
  const guard = new AttemptGuard();
  const refusals = new RefusalLog(options.log ?? (() => {}));
  const token = options.token === undefined
    ? undefined
    : new TextEncoder().encode(options.token);

  const refuse = async (conn: Deno.TcpConn, refusal: Refusal) => {
    const peer = conn.remoteAddr as Deno.NetAddr;
    refusals.refuse(`${peer.hostname}:${peer.port}`, refusal.why, Date.now());
    await writeAll(conn, refusal.refused).catch(() => {});
    try {
      conn.close();
    } catch { /* already closed */ }
  };

  const attached = async (conn: Deno.TcpConn, first?: Uint8Array) => {
    current = conn;
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

  const session = async (conn: Deno.TcpConn) => {
    conn.setNoDelay(true);
    if (!token) return await attached(conn);
    const address = (conn.remoteAddr as Deno.NetAddr).hostname;
    const wait = guard.lockedFor(address, Date.now());
    if (wait > 0) {
      return await refuse(conn, {
        refused: locked(wait),
        why: "locked out after wrong tokens",
      });
    }
    const entry = { kicked: false };
    waiting.set(conn, entry);
    if (waiting.size > TOKEN_WAITING_MAX) {
      const [oldest, its] = waiting.entries().next().value!;
      waiting.delete(oldest);
      its.kicked = true;
      await writeAll(oldest, CROWDED).catch(() => {});
      try {
        oldest.close();
      } catch { /* gone */ }
    }
    const result = await authenticate(
      conn,
      token,
      options.tokenTimeoutMs ?? 10000,
    ).catch((): Refusal => ({
      refused: new Uint8Array(),
      why: "closed before sending the token",
    }));
    waiting.delete(conn);
    if (entry.kicked) {
      return refusals.refuse(
        address,
        "too many clients waiting to send the token",
        Date.now(),
      );
    }
    if ("refused" in result) {
      if (result.refused === WRONG_TOKEN || result.refused === NOT_CRLF) {
        guard.fail(address, Date.now());
      }
      return await refuse(conn, result);
    }
    guard.succeed(address);
    if (current) return await refuse(conn, { refused: BUSY, why: "busy" });
    await attached(conn, result.rest);
  };

  const host = addr.hostname.includes(":")
    ? `[${addr.hostname}]`
    : addr.hostname;
  let closed = false;
  const accepting = acceptLoop(listener, (conn) => {
    if (current) {
      writeAll(conn, BUSY).catch(() => {}).finally(() => {
        try {
          conn.close();
        } catch { /* gone */ }
      });
      return;
    }
    // Taken now, so that a second client is busy even before the first
    // one's session has started.
    if (!token) current = conn;
    const run = session(conn).catch((e) => {
      // A connection that failed under us (reset mid-setup): say so, go on.
      options.log?.(
        `console: a client's session failed: ${
          e instanceof Error ? e.message : String(e)
        }`,
      );
      try {
        conn.close();
      } catch { /* closed */ }
      if (current === conn) {
        current = undefined;
        module.detach();
      }
    });
    sessions.add(run);
    run.finally(() => sessions.delete(run));
  }, {
    name: `console tcp:${host}:${addr.port}`,
    log: options.log,
    closed: () => closed,
  });

  return {
    address: `tcp:${host}:${addr.port}`,
    port: addr.port,
    get busy() {
      return current !== undefined;
    },
    close: async () => {
      closed = true;
      try {
        listener.close();
      } catch { /* closed */ }
      if (current) {
        try {
          current.close();
        } catch { /* closed */ }
      }
      for (const conn of waiting.keys()) {
        try {
          conn.close();
        } catch { /* closed */ }
      }
      refusals.flush();
      module.detach();
      await accepting;
      await Promise.allSettled([...sessions]);
    },
  };
}
