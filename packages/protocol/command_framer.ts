/**
 * The module's side of the UART: a streaming, binary-safe framer that turns
 * whatever chunks arrive from the host into command lines, and in
 * transparent transmission passes exactly N raw bytes through.
 *
 * It is pull-based: `push` bytes, then call `next` until it returns
 * `undefined`. Between two calls the caller may switch to raw mode, so the
 * bytes that follow an `AT+SKTSENDRAW` line in the same chunk are raw.
 *
 * @module
 */

import { allocate } from "./bytes.ts";
import { LineReader } from "./line_reader.ts";

const LT = 0x3c;

/** What the framer yields. */
export type ConsoleEvent =
  | {
    /**
     * A complete command line, without its CR LF or NUL (`shell_cmd_chk`).
     * It may be empty.
     */
    type: "line";
    /** The line's bytes (may be a view of pushed bytes: do not reuse a pushed buffer). */
    line: Uint8Array;
    /**
     * The line buffer filled up: the line is its first `BUFLEN - 1` bytes,
     * run without a line end, and the byte after them was lost.
     */
    overflow?: boolean;
  }
  | {
    /** Raw bytes of transparent transmission, in order. */
    type: "raw";
    /** The bytes (a view; copy to keep beyond the next `push`). */
    data: Uint8Array;
  }
  | {
    /** All the raw bytes asked for by {@linkcode CommandFramer.startRaw} were given. */
    type: "raw-end";
  }
  | {
    /**
     * The raw bytes so far end in `<<<`, which the framer holds back. If no
     * byte follows within the abort silence, call `abortRaw`.
     */
    type: "abort-pending";
  };

/** Options for {@linkcode CommandFramer}. */
export interface CommandFramerOptions {
  /** The line buffer, `UART_LOG_CMD_BUFLEN` (default 2000); see {@linkcode LineReader}. */
  lineBuffer?: number;
  /** Receives the shell's echo (Manual Test Mode); none without it. */
  echo?: (bytes: Uint8Array) => void;
  /** Drop ESC bytes as the log UART does (Manual Test Mode). */
  dropEsc?: boolean;
}

/**
 * Streaming framer for bytes going from a host to a module.
 *
 * @example
 * ```ts
 * import { CommandFramer, encode } from "@atsock/protocol";
 * const framer = new CommandFramer();
 * framer.push(encode("AT+SKTSTA"));
 * framer.push(encode("TE\r\n"));
 * framer.next(); // { type: "line", line: <AT+SKTSTATE> }
 * ```
 */
export class CommandFramer {
  #reader: LineReader;
  #chunks: Uint8Array[] = [];
  /** Bytes of the first chunk already consumed. */
  #pos = 0;
  #rawRemaining = 0;
  #held = 0;
  #abortSignalled = false;

  /** Creates a framer in line mode. Throws a RangeError on a bad `lineBuffer`. */
  constructor(options: CommandFramerOptions = {}) {
    this.#reader = new LineReader({
      size: options.lineBuffer,
      echo: options.echo,
      dropEsc: options.dropEsc,
    });
  }

  /** Bytes of a partial line held by the line reader. */
  get partialLine(): number {
    return this.#reader.length;
  }

  /**
   * Whether the line reader ignores every byte (an LF filled its last
   * place, as the firmware's does) until a new framer replaces it.
   */
  get stuck(): boolean {
    return this.#reader.stuck;
  }

  /** Whether the framer is passing raw bytes through. */
  get raw(): boolean {
    return this.#rawRemaining > 0;
  }

  /** Raw bytes still expected (including any held-back `<`). */
  get rawRemaining(): number {
    return this.#rawRemaining;
  }

  /** Bytes pushed but not yet turned into events, plus a partial line. */
  get buffered(): number {
    let n = this.#reader.length + this.#held - this.#pos;
    for (const chunk of this.#chunks) n += chunk.length;
    return n;
  }

  /** Adds bytes from the host. The framer keeps a reference until they are consumed. */
  push(chunk: Uint8Array): void {
    if (chunk.length > 0) this.#chunks.push(chunk);
  }

  /**
   * Switches to raw mode: the next `size` bytes are yielded as `raw` events,
   * then `raw-end`, then line mode resumes.
   */
  startRaw(size: number): void {
    if (!Number.isSafeInteger(size) || size < 1) {
      throw new RangeError(`raw size must be a positive integer, got ${size}`);
    }
    if (this.#reader.length > 0) {
      throw new Error("cannot start raw mode in the middle of a line");
    }
    this.#rawRemaining = size;
    this.#held = 0;
    this.#abortSignalled = false;
  }

  /**
   * Ends raw mode early (the host's `<<<` abort): the held-back `<<<` is
   * discarded and line mode resumes. Returns how many announced bytes were
   * never yielded.
   */
  abortRaw(): number {
    const left = this.#rawRemaining;
    this.#rawRemaining = 0;
    this.#held = 0;
    this.#abortSignalled = false;
    return left;
  }

  /** The next event, or `undefined` when more bytes are needed. */
  next(): ConsoleEvent | undefined {
    if (this.#pendingEnd) {
      this.#pendingEnd = false;
      return { type: "raw-end" };
    }
    while (true) {
      if (this.#rawRemaining > 0) {
        const event = this.#nextRaw();
        if (event !== null) return event;
        continue;
      }
      const chunk = this.#chunks[0];
      if (chunk === undefined) return undefined;
      const { next, read } = this.#reader.feed(chunk, this.#pos, chunk.length);
      this.#advance(chunk, next - this.#pos);
      if (read === undefined) continue;
      let line = read.line;
      if (line.buffer !== chunk.buffer) {
        // A view of the reader's buffer, which the next line overwrites.
        line = allocate(line.length);
        line.set(read.line);
      }
      return read.overflow
        ? { type: "line", line, overflow: true }
        : { type: "line", line };
    }
  }

  /** Consumes `count` bytes of the first chunk. */
  #advance(chunk: Uint8Array, count: number): void {
    this.#pos += count;
    if (this.#pos >= chunk.length) this.#drop();
  }

  /** Drops the first chunk. */
  #drop(): void {
    this.#chunks.shift();
    this.#pos = 0;
  }

  /** One raw step: an event, or null to loop again. */
  #nextRaw(): ConsoleEvent | null | undefined {
    const chunk = this.#chunks[0];
    if (chunk === undefined) {
      if (this.#held === 3 && !this.#abortSignalled) {
        this.#abortSignalled = true;
        return { type: "abort-pending" };
      }
      return undefined;
    }
    this.#abortSignalled = false;
    const want = this.#rawRemaining - this.#held;
    const take = Math.min(want, chunk.length - this.#pos);
    const piece = chunk.subarray(this.#pos, this.#pos + take);
    this.#advance(chunk, take);
    const held = this.#held;
    if (take === want) {
      // The payload is complete: held bytes are data after all.
      this.#rawRemaining = 0;
      this.#held = 0;
      if (held > 0 || piece.length > 0) {
        this.#pendingEnd = true;
        return { type: "raw", data: prependLt(held, piece) };
      }
      return { type: "raw-end" };
    }
    // Hold back a trailing run of up to three `<`: it may be an abort.
    let run = 0;
    while (
      run < piece.length && run < 3 && piece[piece.length - 1 - run] === LT
    ) run++;
    let newHeld: number;
    let out: Uint8Array;
    if (run === piece.length) {
      // The whole piece is `<`: it extends the held run.
      const total = held + run;
      newHeld = Math.min(total, 3);
      out = ltBytes(total - newHeld);
    } else {
      newHeld = run;
      out = prependLt(held, piece.subarray(0, piece.length - run));
    }
    this.#held = newHeld;
    this.#rawRemaining -= out.length;
    if (out.length > 0) return { type: "raw", data: out };
    return null;
  }

  #pendingEnd = false;
}

function ltBytes(count: number): Uint8Array {
  return new Uint8Array(count).fill(LT);
}

function prependLt(count: number, bytes: Uint8Array): Uint8Array {
  if (count === 0) return bytes;
  const out = new Uint8Array(count + bytes.length);
  out.fill(LT, 0, count);
  out.set(bytes, count);
  return out;
}
