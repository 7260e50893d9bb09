/**
 * The firmware's console line reader, byte for byte: `shell_cmd_chk` of the
 * Ameba shell (`component/soc/<soc>/app/monitor/rom/shell_rom_patch.c` in
 * Ameba-AIoT/ameba-rtos), which both consoles feed one byte at a time (the
 * log UART through `shell_uart_irq_rom`, the AT UART through
 * `atio_uart_handler`).
 *
 * - A line ends only with LF right after CR (the CR is not part of the
 *   line), or with a NUL byte. A lone CR or LF is a byte of the line.
 * - BS (0x08) and DEL (0x7f) delete the previous byte, if any; TAB is one
 *   space; 0xFF is dropped.
 * - The buffer is `UART_LOG_CMD_BUFLEN` bytes. With `BUFLEN - 1` bytes held,
 *   only LF, NUL, BS or DEL are taken; any other byte runs the held bytes as
 *   a command at once (the byte itself is dropped) and the shell prints
 *   `<<<Too long cmd string.>>>`. An LF that is not after a CR fills the
 *   last place and the reader ignores every byte after it (the firmware's
 *   buffer count passes its limit and nothing resets it but a restart).
 * - The echo (the log UART's, which is the console in Manual Test Mode):
 *   each byte as typed, TAB as a space, `\b \b` for a deleted byte, CR LF
 *   at a line end.
 *
 * Pure: no I/O, no timers. The bytes it holds never exceed the buffer size.
 *
 * @module
 */

import { encode } from "./bytes.ts";

/** `UART_LOG_CMD_BUFLEN` of the default build: the line buffer in bytes. */
export const LINE_BUFFER_SIZE = 2000;

/** Smallest line buffer {@linkcode LineReader} accepts. */
export const LINE_BUFFER_MIN = 8;
/** Largest line buffer {@linkcode LineReader} accepts (the firmware's count is 16 bits). */
export const LINE_BUFFER_MAX = 65535;

const NUL = 0x00;
const BS = 0x08;
const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const ESC = 0x1b;
const SPACE = 0x20;
const DEL = 0x7f;
const INVALID = 0xff;

const ECHO_LINE_END = encode("\r\n");
const ECHO_ERASE = encode("\b \b");
const TOO_LONG = encode("\n\r <<<Too long cmd string.>>> \n");

/** Options for {@linkcode LineReader}. */
export interface LineReaderOptions {
  /**
   * The line buffer in bytes, `UART_LOG_CMD_BUFLEN` (default 2000). A line
   * ending in CR LF holds at most `size - 2` bytes.
   */
  size?: number;
  /**
   * Receives what the shell echoes. Without it nothing is echoed (Host
   * Control Mode: the echo goes to the log UART, not the AT UART).
   */
  echo?: (bytes: Uint8Array) => void;
  /**
   * Drop ESC bytes before the reader sees them, as the log UART's
   * interrupt handler `shell_uart_irq_rom` does (Manual Test Mode). The AT
   * UART's `atio_uart_handler` passes them on.
   */
  dropEsc?: boolean;
}

/** A line the reader completed. */
export interface ReadLine {
  /** The line, without its CR LF or NUL (a view: copy it to keep it past the next call). */
  line: Uint8Array;
  /** The buffer filled up and the line ran without a line end. */
  overflow: boolean;
}

/** Throws a RangeError unless `size` is a line buffer size {@linkcode LineReader} takes. */
export function checkLineBufferSize(size: number): number {
  if (
    !Number.isSafeInteger(size) || size < LINE_BUFFER_MIN ||
    size > LINE_BUFFER_MAX
  ) {
    throw new RangeError(
      `line buffer must be a whole number of bytes from ${LINE_BUFFER_MIN} to ${LINE_BUFFER_MAX}, got ${size}`,
    );
  }
  return size;
}

/**
 * Whether `shell_cmd_chk` would change these bytes inside a command line:
 * they hold NUL, BS, TAB, DEL or 0xFF, or a CR followed by LF. Such data
 * cannot go in `AT+SKTSEND`; a lone CR or LF can.
 */
export function lineReaderAlters(data: Uint8Array): boolean {
  for (let i = 0; i < data.length; i++) {
    const b = data[i];
    if (b === NUL || b === BS || b === TAB || b === DEL || b === INVALID) {
      return true;
    }
    if (b === CR && data[i + 1] === LF) return true;
  }
  return false;
}

// Bytes that need more than "append and echo as typed".
const SPECIAL = new Uint8Array(256);
for (const b of [NUL, BS, TAB, LF, DEL, INVALID]) SPECIAL[b] = 1;

/**
 * `shell_cmd_chk` as a streaming reader.
 *
 * @example
 * ```ts
 * import { encode, LineReader } from "@atsock/protocol";
 * const reader = new LineReader();
 * const bytes = encode("AT+SKTSTATE\r\n");
 * const { read } = reader.feed(bytes, 0, bytes.length);
 * console.log(read?.line.length); // 11
 * ```
 */
export class LineReader {
  readonly #size: number;
  readonly #echo: ((bytes: Uint8Array) => void) | undefined;
  readonly #dropEsc: boolean;
  #buf: Uint8Array;
  #count = 0;
  #pendingEcho: number[] = [];

  /** Creates an empty reader. Throws a RangeError on a bad `size`. */
  constructor(options: LineReaderOptions = {}) {
    this.#size = checkLineBufferSize(options.size ?? LINE_BUFFER_SIZE);
    this.#echo = options.echo;
    this.#dropEsc = options.dropEsc ?? false;
    this.#buf = new Uint8Array(Math.min(this.#size, 256));
  }

  /** The line buffer's size (`UART_LOG_CMD_BUFLEN`). */
  get size(): number {
    return this.#size;
  }

  /** Bytes of a partial line held (at most the buffer size). */
  get length(): number {
    return this.#count;
  }

  /** Whether an LF filled the last place: every byte is now ignored. */
  get stuck(): boolean {
    return this.#count === this.#size;
  }

  /** Forgets a partial line (the console that typed it has gone). */
  clear(): void {
    this.#count = 0;
  }

  /**
   * Reads `chunk[start..end)` until a line is complete. Returns where it
   * stopped (`next`) and the line, if one was completed; the caller calls
   * again from `next` for the rest.
   */
  feed(
    chunk: Uint8Array,
    start: number,
    end: number,
  ): { next: number; read?: ReadLine } {
    const max = this.#size - 1;
    let i = start;
    if (this.#count === 0 && !this.#dropEsc) {
      // Fast path: a whole plain line in the chunk is handed out as a view.
      const limit = Math.min(end, start + max + 1);
      let j = start;
      while (j < limit && SPECIAL[chunk[j]] === 0) j++;
      if (j < limit) {
        const b = chunk[j];
        if (b === LF && j > start && chunk[j - 1] === CR) {
          this.#echoBytes(chunk.subarray(start, j), true);
          return {
            next: j + 1,
            read: { line: chunk.subarray(start, j - 1), overflow: false },
          };
        }
        if (b === NUL) {
          this.#echoBytes(chunk.subarray(start, j), true);
          return {
            next: j + 1,
            read: { line: chunk.subarray(start, j), overflow: false },
          };
        }
      }
    }
    const echo = this.#pendingEcho;
    try {
      for (; i < end; i++) {
        const b = chunk[i];
        if (b === ESC && this.#dropEsc) continue; // firmware rule console-esc
        const count = this.#count;
        if (SPECIAL[b] === 0 && count < max && !this.#dropEsc) {
          // A run of plain bytes that fits: taken at once.
          const limit = Math.min(end, i + (max - count));
          let j = i + 1;
          while (j < limit && SPECIAL[chunk[j]] === 0) j++;
          this.#putAll(chunk.subarray(i, j));
          if (this.#echo) {
            this.#flushEcho(false);
            this.#echo(chunk.slice(i, j));
          }
          i = j - 1;
          continue;
        }
        if (
          count < max ||
          (count === max && (b === LF || b === NUL || b === BS || b === DEL))
        ) {
          if (b === INVALID) continue; // firmware rule console-edit-keys
          // firmware rule console-line-end
          if (b === LF && count > 0 && this.#buf[count - 1] === CR) {
            this.#count = 0;
            this.#flushEcho(true);
            return { next: i + 1, read: this.#take(count - 1, false) };
          }
          if (b === NUL) {
            this.#count = 0;
            this.#flushEcho(true);
            return { next: i + 1, read: this.#take(count, false) };
          }
          if (b === BS || b === DEL) {
            if (count > 0) {
              this.#count = count - 1;
              if (this.#echo) {
                this.#flushEcho(false);
                this.#echo(ECHO_ERASE);
              }
            }
            continue;
          }
          const stored = b === TAB ? SPACE : b;
          this.#put(stored);
          if (this.#echo) echo.push(stored);
          continue;
        }
        if (count === max) {
          // firmware rule console-overflow
          // The buffer is full: run what it holds; this byte is lost.
          this.#count = 0;
          const read = this.#take(max, true);
          if (this.#echo) {
            this.#flushEcho(false);
            this.#echo(TOO_LONG);
            this.#echo(read.line.slice());
            this.#echo(ECHO_LINE_END);
          }
          return { next: i + 1, read };
        }
        // firmware rule console-stuck
        // count === size: stuck until the module restarts.
      }
      return { next: end };
    } finally {
      this.#flushEcho(false);
    }
  }

  #putAll(bytes: Uint8Array): void {
    const count = this.#count;
    const need = count + bytes.length;
    if (need > this.#buf.length) {
      const grown = new Uint8Array(
        Math.min(this.#size, Math.max(need, this.#buf.length * 2)),
      );
      grown.set(this.#buf.subarray(0, count));
      this.#buf = grown;
    }
    this.#buf.set(bytes, count);
    this.#count = need;
  }

  #put(b: number): void {
    const count = this.#count;
    if (count >= this.#buf.length) {
      const grown = new Uint8Array(
        Math.min(this.#size, Math.max(count + 1, this.#buf.length * 2)),
      );
      grown.set(this.#buf.subarray(0, count));
      this.#buf = grown;
    }
    this.#buf[count] = b;
    this.#count = count + 1;
  }

  #take(length: number, overflow: boolean): ReadLine {
    return { line: this.#buf.subarray(0, length), overflow };
  }

  #echoBytes(bytes: Uint8Array, lineEnd: boolean): void {
    if (!this.#echo) return;
    if (bytes.length > 0) this.#echo(bytes.slice());
    if (lineEnd) this.#echo(ECHO_LINE_END);
  }

  #flushEcho(lineEnd: boolean): void {
    if (!this.#echo) return;
    const pending = this.#pendingEcho;
    if (pending.length > 0) {
      this.#echo(Uint8Array.from(pending));
      pending.length = 0;
    }
    if (lineEnd) this.#echo(ECHO_LINE_END);
  }
}
