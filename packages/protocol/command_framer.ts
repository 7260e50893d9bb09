/**
 * The module's side of the UART: a streaming, binary-safe framer that turns
 * whatever chunks arrive from the host into command lines, and in
 * transparent transmission passes every byte through as it came.
 *
 * It is pull-based: `push` bytes, then call `next` until it returns
 * `undefined`. Between two calls the caller may switch to raw mode, so the
 * bytes that follow an `AT+SKTSENDRAW` line in the same chunk are raw.
 * Raw mode lasts until the caller ends it (the firmware leaves
 * transparent transmission when its handler is done, not after N bytes).
 *
 * @module
 */

import { allocate } from "./bytes.ts";
import { MAX_LINE_LENGTH } from "./constants.ts";

const CR = 0x0d;
const LF = 0x0a;

/** What the framer yields. */
export type ConsoleEvent =
  | {
    /** A complete command line, without its CR/LF. Empty lines are skipped. */
    type: "line";
    /** The line's bytes (may be a view of pushed bytes: do not reuse a pushed buffer). */
    line: Uint8Array;
  }
  | {
    /**
     * A line longer than the command buffer. Its bytes were dropped up to
     * the next line end, so the next command is read normally.
     */
    type: "overlong";
    /** The whole line's length in bytes. */
    length: number;
    /** Its first bytes, enough to name the command. */
    head: Uint8Array;
  }
  | {
    /**
     * Raw bytes of transparent transmission, in order: at most one pushed
     * chunk each (the module tells an abort by a chunk of one `<`).
     */
    type: "raw";
    /** The bytes (a view of a pushed chunk: do not reuse a pushed buffer). */
    data: Uint8Array;
  };

/** Options for {@linkcode CommandFramer}. */
export interface CommandFramerOptions {
  /** Longest accepted line in bytes (default 2000). */
  maxLineLength?: number;
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
  #max: number;
  #chunks: Uint8Array[] = [];
  /** Bytes of the first chunk already consumed. */
  #pos = 0;
  /** A view of the first chunk for reading it four bytes at a time. */
  #view: DataView | undefined;
  #line: Uint8Array;
  #lineLength = 0;
  #overlongLength = -1;
  #skipLf = false;
  #raw = false;

  /** Creates a framer in line mode. */
  constructor(options: CommandFramerOptions = {}) {
    this.#max = options.maxLineLength ?? MAX_LINE_LENGTH;
    this.#line = new Uint8Array(Math.min(this.#max, 256));
  }

  /** Whether the framer is passing raw bytes through. */
  get raw(): boolean {
    return this.#raw;
  }

  /** Bytes pushed but not yet turned into events, plus a partial line. */
  get buffered(): number {
    let n = this.#lineLength - this.#pos;
    for (const chunk of this.#chunks) n += chunk.length;
    return n;
  }

  /** Adds bytes from the host. The framer keeps a reference until they are consumed. */
  push(chunk: Uint8Array): void {
    if (chunk.length > 0) this.#chunks.push(chunk);
  }

  /**
   * Switches to raw mode: every byte from here on is yielded as `raw`
   * events until {@linkcode CommandFramer.endRaw}.
   */
  startRaw(): void {
    if (this.#lineLength > 0 || this.#overlongLength >= 0) {
      throw new Error("cannot start raw mode in the middle of a line");
    }
    this.#raw = true;
  }

  /** Ends raw mode: the bytes not yet yielded are read as lines. */
  endRaw(): void {
    this.#raw = false;
  }

  /** The next event, or `undefined` when more bytes are needed. */
  next(): ConsoleEvent | undefined {
    while (true) {
      if (this.#raw) {
        const event = this.#nextRaw();
        if (event !== null) return event;
        continue;
      }
      const chunk = this.#chunks[0];
      if (chunk === undefined) return undefined;
      if (this.#skipLf) {
        this.#skipLf = false;
        if (chunk[this.#pos] === LF) {
          this.#advance(chunk, 1);
          continue;
        }
      }
      const start = this.#pos;
      const end = this.#lineEnd(chunk);
      if (end < 0) {
        this.#append(chunk.subarray(start));
        this.#drop();
        continue;
      }
      if (chunk[end] === CR) this.#skipLf = true;
      this.#advance(chunk, end + 1 - start);
      if (this.#lineLength === 0 && this.#overlongLength < 0) {
        // The whole line is in this chunk: hand out a view, no copy.
        if (end === start) continue;
        const line = chunk.subarray(start, end);
        if (end - start <= this.#max) return { type: "line", line };
        this.#append(line);
      } else {
        this.#append(chunk.subarray(start, end));
      }
      const event = this.#finishLine();
      if (event !== undefined) return event;
    }
  }

  /**
   * Where the line starting at `#pos` ends in `chunk` (its first CR or LF),
   * or -1. Each byte is looked at once, eight at a time where no CR or LF
   * is among them.
   */
  #lineEnd(chunk: Uint8Array): number {
    this.#view ??= new DataView(chunk.buffer, chunk.byteOffset, chunk.length);
    const view = this.#view;
    const n = chunk.length;
    let i = this.#pos;
    while (i + 8 <= n) {
      const a = view.getUint32(i);
      const b = view.getUint32(i + 4);
      const crA = a ^ 0x0d0d0d0d;
      const lfA = a ^ 0x0a0a0a0a;
      const crB = b ^ 0x0d0d0d0d;
      const lfB = b ^ 0x0a0a0a0a;
      // Non-zero when a byte of one of them is zero: a CR or LF.
      if (
        (((crA - 0x01010101) & ~crA) | ((lfA - 0x01010101) & ~lfA) |
          ((crB - 0x01010101) & ~crB) | ((lfB - 0x01010101) & ~lfB)) &
        0x80808080
      ) break;
      i += 8;
    }
    for (; i < n; i++) {
      const byte = chunk[i];
      if (byte === CR || byte === LF) return i;
    }
    return -1;
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
    this.#view = undefined;
  }

  /** One raw step: an event, or null to loop again. */
  #nextRaw(): ConsoleEvent | null | undefined {
    const chunk = this.#chunks[0];
    if (chunk === undefined) return undefined;
    if (this.#skipLf) {
      this.#skipLf = false;
      if (chunk[this.#pos] === LF) {
        this.#advance(chunk, 1);
        return null;
      }
    }
    const data = this.#pos === 0 ? chunk : chunk.subarray(this.#pos);
    this.#drop();
    return { type: "raw", data };
  }

  #head: Uint8Array = new Uint8Array();

  #append(bytes: Uint8Array): void {
    if (this.#overlongLength >= 0) {
      this.#overlongLength += bytes.length;
      return;
    }
    const length = this.#lineLength + bytes.length;
    if (length > this.#max) {
      const head = new Uint8Array(Math.min(32, length));
      head.set(this.#line.subarray(0, Math.min(this.#lineLength, head.length)));
      if (this.#lineLength < head.length) {
        head.set(
          bytes.subarray(0, head.length - this.#lineLength),
          this.#lineLength,
        );
      }
      this.#head = head;
      this.#overlongLength = length;
      return;
    }
    if (length > this.#line.length) {
      const grown = new Uint8Array(
        Math.min(this.#max, Math.max(length, this.#line.length * 2)),
      );
      grown.set(this.#line.subarray(0, this.#lineLength));
      this.#line = grown;
    }
    this.#line.set(bytes, this.#lineLength);
    this.#lineLength = length;
  }

  #finishLine(): ConsoleEvent | undefined {
    if (this.#overlongLength >= 0) {
      const event: ConsoleEvent = {
        type: "overlong",
        length: this.#overlongLength,
        head: this.#head,
      };
      this.#overlongLength = -1;
      this.#lineLength = 0;
      return event;
    }
    if (this.#lineLength === 0) return undefined;
    const line = allocate(this.#lineLength);
    line.set(this.#line.subarray(0, this.#lineLength));
    this.#lineLength = 0;
    return { type: "line", line };
  }
}
