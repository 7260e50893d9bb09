/**
 * Test harness: a virtual module on a TCP console on loopback, driven by a
 * real TCP client that parses the output with the protocol package.
 *
 * @module
 */

import { concat, type ModuleEvent, OutputParser } from "@atsock/protocol";
import { createModule, type VirtualModule } from "./module.ts";
import type { ModuleOptions } from "./module_options.ts";
import { serveTcp, writeAll } from "./consoles.ts";
import { afterCommand } from "./log_service.ts";
import { findSocketFd } from "./sockopt.ts";

const encoder = new TextEncoder();
const latin1 = (bytes: Uint8Array) => String.fromCharCode(...bytes);

/** An answer: every event up to and including the final result. */
export interface Answer {
  /** Events before the final result (information lines, reads, URCs). */
  events: ModuleEvent[];
  /** The final result. */
  final: ModuleEvent;
  /** The exact bytes of the answer (Manual Test Mode: without the shell's `[MEM]` and `#` lines after it). */
  bytes: Uint8Array;
  /** The bytes as text (latin1). */
  text: string;
  /** Manual Test Mode: what the shell printed after the answer (`[MEM]`, `#`). */
  shell: string;
}

/** A module with a TCP console and a client on it. */
export class Harness {
  readonly module: VirtualModule;
  readonly conn: Deno.TcpConn;
  readonly console: ReturnType<typeof serveTcp>;
  readonly parser = new OutputParser();
  #events: ModuleEvent[] = [];
  #waiters: (() => void)[] = [];
  #bytes: Uint8Array[] = [];
  #reading: Promise<void>;
  #resumed: Promise<void> = Promise.resolve();
  #resume: () => void = () => {};

  /** Stops reading the console (a slow host), until {@linkcode resume}. */
  pause(): void {
    this.#resumed = new Promise((resolve) => (this.#resume = resolve));
  }

  /** Reads the console again. */
  resume(): void {
    this.#resume();
  }

  /** Every byte the console has printed. */
  totalBytes = 0;

  /** Set to an array to keep every console byte from then on, as text (latin1). */
  transcript: string[] | undefined;

  private constructor(
    module: VirtualModule,
    console: ReturnType<typeof serveTcp>,
    conn: Deno.TcpConn,
  ) {
    this.module = module;
    this.console = console;
    this.conn = conn;
    this.#reading = this.#read();
  }

  /** Starts a module and connects to its console. */
  static async start(options: ModuleOptions = {}): Promise<Harness> {
    const module = createModule(options);
    const console = serveTcp(module, { port: 0 });
    const conn = await Deno.connect({
      hostname: "127.0.0.1",
      port: console.port,
    });
    conn.setNoDelay(true); // a `<` written alone arrives alone (SKTSENDRAW abort)
    return new Harness(module, console, conn);
  }

  async #read(): Promise<void> {
    const buf = new Uint8Array(65536);
    try {
      while (true) {
        await this.#resumed;
        const n = await this.conn.read(buf);
        if (n === null) break;
        const chunk = buf.slice(0, n);
        this.#bytes.push(chunk);
        this.totalBytes += n;
        this.transcript?.push(latin1(chunk));
        this.#events.push(...this.parser.push(chunk));
        for (const resolve of this.#waiters.splice(0)) resolve();
      }
    } catch { /* closed */ }
    for (const resolve of this.#waiters.splice(0)) resolve();
  }

  /** Sends raw bytes on the console. */
  async write(bytes: Uint8Array | string): Promise<void> {
    await writeAll(
      this.conn,
      typeof bytes === "string" ? encoder.encode(bytes) : bytes,
    );
  }

  /** Waits until an event matches (consuming events up to it), or throws after `ms`. */
  async next(
    match: (e: ModuleEvent) => boolean = () => true,
    ms = 5000,
  ): Promise<{ event: ModuleEvent; before: ModuleEvent[] }> {
    const deadline = Date.now() + ms;
    while (true) {
      const i = this.#events.findIndex(match);
      if (i >= 0) {
        const before = this.#events.splice(0, i + 1);
        return { event: before.pop()!, before };
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(
          `no matching event within ${ms} ms; have ${
            JSON.stringify(this.#events)
          }`,
        );
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
    }
  }

  /** Events received and not yet consumed. */
  pending(): ModuleEvent[] {
    return this.#events.splice(0);
  }

  /** Sends a command line (CR LF added) and waits for its final result. */
  async command(line: string | Uint8Array, ms = 5000): Promise<Answer> {
    this.#bytes = []; // Keep only this answer's bytes.
    await this.write(
      typeof line === "string"
        ? line + "\r\n"
        : concat([line, encoder.encode("\r\n")]),
    );
    const { event, before } = await this.next(
      (e) => e.type === "ok" || e.type === "error",
      ms,
    );
    if (this.module.mode === "manual") {
      // The log service's lines follow every known command (atcmd_service).
      await this.next((e) => e.type === "shell" && e.text === "#", ms);
    }
    let bytes = concat(this.#bytes);
    let shell = "";
    const tail = afterCommand();
    if (this.module.mode === "manual" && endsWith(bytes, tail)) {
      shell = latin1(tail);
      bytes = bytes.subarray(0, bytes.length - tail.length);
    }
    return { events: before, final: event, bytes, text: latin1(bytes), shell };
  }

  /** Sends a command and asserts-free returns the error code, or 0 for OK. */
  async code(line: string, ms?: number): Promise<number> {
    const answer = await this.command(line, ms);
    return answer.final.type === "error" ? answer.final.code : 0;
  }

  /** Closes the client, the console and the module. */
  async close(): Promise<void> {
    try {
      this.conn.close();
    } catch { /* closed */ }
    this.resume();
    await this.#reading;
    await this.console.close();
    await this.module.close();
  }
}

/** A TCP peer server on loopback that records what it receives. */
export function tcpPeer(): {
  port: number;
  accept(): Promise<Deno.TcpConn>;
  close(): void;
} {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  return {
    port: (listener.addr as Deno.NetAddr).port,
    accept: () => listener.accept(),
    close: () => listener.close(),
  };
}

/** Reads exactly `n` bytes from a connection (or fewer if it closes). */
export async function readExactly(
  conn: Deno.Conn,
  n: number,
): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let filled = 0;
  while (filled < n) {
    const got = await conn.read(out.subarray(filled));
    if (got === null) return out.subarray(0, filled);
    filled += got;
  }
  return out;
}

/** A free port on loopback (bound and released). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** `size` random bytes (`crypto.getRandomValues` takes at most 64 KiB a call). */
export function randomBytes(size: number): Uint8Array {
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i += 65536) {
    crypto.getRandomValues(data.subarray(i, i + 65536));
  }
  return data;
}

/** Cuts `data` into pieces of odd, varying sizes (1 to `max` bytes). */
export function* oddChunks(
  data: Uint8Array,
  max = 16411,
): Generator<Uint8Array> {
  for (let i = 0, k = 1; i < data.length; k = (k * 31 + 7) % max + 1) {
    yield data.subarray(i, i + k);
    i += k;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Writes 1 KiB pieces of `fill` to a connection until it stops taking them
 * (the receiver holds it back). {@linkcode Flood.stalled} waits for that.
 */
export class Flood {
  /** Bytes the connection has taken. */
  written = 0;
  #stopped = false;
  #loop: Promise<void>;

  /** Starts writing. */
  constructor(conn: Deno.Conn, fill = 0x41) {
    const piece = new Uint8Array(1024).fill(fill);
    this.#loop = (async () => {
      try {
        while (!this.#stopped) this.written += await conn.write(piece);
      } catch { /* closed */ }
    })();
  }

  /**
   * Resolves with {@linkcode Flood.written} once no write has completed for
   * five checks 20 ms apart, after `ready()` has held (at most 500 checks).
   */
  async stalled(ready: () => boolean = () => true): Promise<number> {
    let last = -1;
    let quiet = 0;
    for (let i = 0; i < 500; i++) {
      await sleep(20);
      if (!ready() || this.written !== last) {
        last = this.written;
        quiet = 0;
      } else if (++quiet >= 5) return this.written;
    }
    throw new Error(`writes never stalled (${this.written} bytes written)`);
  }

  /** Stops after the write in progress, which ends once the reader takes it. */
  stop(): Promise<void> {
    this.#stopped = true;
    return this.#loop;
  }
}

/** Reads `total` bytes from link `id` with AT+SKTREAD (at most 2000 reads). */
export async function readLink(
  h: Harness,
  id: number,
  total: number,
): Promise<number> {
  let got = 0;
  for (let i = 0; i < 2000 && got < total; i++) {
    const answer = await h.command(`AT+SKTREAD=${id},8192`);
    const read = answer.events.find((e) => e.type === "read");
    if (read?.type !== "read") throw new Error(answer.text.slice(0, 80));
    got += read.size;
  }
  return got;
}

const fds = new WeakMap<Deno.Conn, number>();
let ioctl:
  | ((fd: number, request: bigint, arg: Uint8Array<ArrayBuffer>) => number)
  | undefined;

/**
 * Bytes a connection of this process has taken from writes but not yet
 * delivered to its peer (`ioctl(SIOCOUTQ)`, Linux, FFI): what a writer
 * counts minus this is what the receiving side has taken.
 */
export function unsentBytes(conn: Deno.Conn): number {
  ioctl ??= Deno.dlopen("libc.so.6", {
    ioctl: { parameters: ["i32", "u64", "buffer"], result: "i32" },
  }).symbols.ioctl;
  const fd = fds.get(conn) ?? findSocketFd({
    transport: "tcp",
    local: conn.localAddr as Deno.NetAddr,
    remote: conn.remoteAddr as Deno.NetAddr,
  });
  if (fd === undefined) throw new Error("socket not found");
  fds.set(conn, fd);
  const out = new Uint8Array(4);
  if (ioctl(fd, 0x5411n, out) !== 0) throw new Error("SIOCOUTQ failed");
  return new DataView(out.buffer).getInt32(0, true);
}

function endsWith(bytes: Uint8Array, tail: Uint8Array): boolean {
  if (bytes.length < tail.length) return false;
  const at = bytes.length - tail.length;
  return tail.every((b, i) => bytes[at + i] === b);
}
