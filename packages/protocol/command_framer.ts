/**
 * The module's side of the UART: a streaming, binary-safe framer that turns
 * whatever chunks arrive from the host into command lines (with the
 * firmware's line reader, {@linkcode LineReader}), and in transparent
 * transmission passes every byte through as it came.
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
import { LineReader } from "./line_reader.ts";

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
  #raw = false;

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
    return this.#raw;
  }

  /** Bytes pushed but not yet turned into events, plus a partial line. */
  get buffered(): number {
    let n = this.#reader.length - this.#pos;
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
    if (this.#reader.length > 0) {
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
    if (chunk === undefined) return undefined;
    const data = this.#pos === 0 ? chunk : chunk.subarray(this.#pos);
    this.#drop();
    return { type: "raw", data };
  }
}
