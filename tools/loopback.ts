/**
 * What the tools' loopback test beds share: a free port, a TCP echo peer
 * and a TCP sink, reading up to a text,
 * deterministic payloads and their SHA-256, and the file descriptors this
 * process holds (to find a leak).
 *
 * @module
 */

import { createHash } from "node:crypto";
import { acceptLoop } from "@atsock/device";
import { writeAll } from "@atsock/tty";

/** A free port on loopback (bound and released). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** A TCP peer on loopback that writes back every byte it reads. */
export interface EchoPeer {
  /** Its port on 127.0.0.1. */
  port: number;
  /** The connections open now (each holds a host fd). */
  conns: ReadonlySet<Deno.Conn>;
  /** Stops listening, closes every connection, waits for the accept loop. */
  close(): Promise<void>;
}

/** Starts a {@linkcode EchoPeer}; `name` names its accept loop in errors. */
export function echoPeer(name: string): EchoPeer {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  const closeConn = (conn: Deno.Conn) => {
    try {
      conn.close();
    } catch { /* closed */ }
  };
  const accepting = acceptLoop(listener, (conn) => {
    conns.add(conn);
    (async () => {
      const buffer = new Uint8Array(16384);
      try {
        for (let n; (n = await conn.read(buffer)) !== null;) {
          await writeAll(conn, buffer.subarray(0, n));
        }
      } catch { /* reset */ }
      conns.delete(conn);
      closeConn(conn);
    })();
  }, { name });
  return {
    port: (listener.addr as Deno.NetAddr).port,
    conns,
    async close() {
      listener.close();
      for (const conn of conns) closeConn(conn);
      await accepting;
    },
  };
}

/** A TCP peer on loopback that takes one connection and counts what comes. */
export interface SinkPeer {
  /** Its port on 127.0.0.1. */
  port: number;
  /** Accepts a connection and reads `size` bytes; throws if it ends sooner. */
  drain(size: number): Promise<void>;
  /** Stops listening. */
  close(): void;
}

/** Starts a {@linkcode SinkPeer}. */
export function sinkPeer(): SinkPeer {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  return {
    port: (listener.addr as Deno.NetAddr).port,
    async drain(size: number): Promise<void> {
      const conn = await listener.accept();
      const buf = new Uint8Array(256 * 1024);
      let total = 0;
      try {
        while (total < size) {
          const n = await conn.read(buf);
          if (n === null) throw new Error(`peer got ${total} of ${size}`);
          total += n;
        }
      } finally {
        conn.close();
      }
    },
    close: () => listener.close(),
  };
}

/** Reads `conn` until `text` has come (Latin-1); throws if it ends first. */
export async function readUntilText(
  conn: Deno.Conn,
  text: string,
): Promise<void> {
  const buf = new Uint8Array(65536);
  let tail = "";
  while (true) {
    const n = await conn.read(buf);
    if (n === null) throw new Error("closed");
    tail = (tail + new TextDecoder("latin1").decode(buf.subarray(0, n)))
      .slice(-200);
    if (tail.includes(text)) return;
  }
}

/** Deterministic bytes (xorshift of `seed`: any value, NUL and CR LF included). */
export function payload(seed: number, size: number): Uint8Array {
  const out = new Uint8Array(size);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** SHA-256 of `bytes`, in hex. */
export function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/**
 * The host fds this process holds, as `ls -l` names them (`fd -> target`,
 * e.g. `23 -> socket:[200212]`), via `ls` as /proc/self needs --allow-all.
 */
export async function fdList(): Promise<string[]> {
  const out = await new Deno.Command("ls", {
    args: ["-l", `/proc/${Deno.pid}/fd`],
    stdout: "piped",
    stderr: "null",
  }).output();
  return new TextDecoder().decode(out.stdout).split("\n").filter((l) =>
    l.includes(" -> ")
  ).map((l) => l.slice(l.lastIndexOf(" ", l.indexOf(" -> ") - 1) + 1));
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The fds held once sockets being closed are gone: the smallest count seen
 * while `quiet()` holds, after it held for 5 looks in a row (a spawn of
 * `ls` in progress only adds fds). At most 200 looks, 10 ms apart; not
 * before `notBeforeMs` into the process (Deno 2.9.6 opens a socketpair and
 * a pipe of its own about 0.5 s in: docs/reliability.md, "fds").
 * Undefined when `quiet()` never held.
 */
export async function settledFds(
  options: { notBeforeMs?: number; quiet?: () => boolean } = {},
): Promise<string[] | undefined> {
  const late = (options.notBeforeMs ?? 0) - performance.now();
  if (late > 0) await pause(late);
  const quiet = options.quiet ?? (() => true);
  let least: string[] | undefined;
  let same = 0;
  for (let i = 0; i < 200 && same < 5; i++) {
    const fds = await fdList();
    if (quiet() && (!least || fds.length < least.length)) {
      least = fds;
      same = 0;
    } else if (least && fds.length === least.length) same++;
    await pause(10);
  }
  return least;
}

/**
 * Looks at the fds (at most 200 times, 10 ms apart: sockets close
 * asynchronously) until `done(fds)` holds; returns the last look.
 */
export async function fdsWhen(
  done: (fds: string[]) => boolean,
): Promise<string[]> {
  let fds: string[] = [];
  for (let i = 0; i < 200; i++) {
    fds = await fdList();
    if (done(fds)) break;
    await pause(10);
  }
  return fds;
}
