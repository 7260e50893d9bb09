/**
 * Progress of `atsock run` on stderr: "step i of N" and, while a file goes
 * through `AT+SKTSENDRAW`, a bar with bytes and rate. On a terminal one line
 * is redrawn; elsewhere (with `--progress`) plain lines are written, the
 * transfer every tenth of the way.
 *
 * @module
 */

import { progressLine } from "../transfer.ts";
import { visible } from "./report.ts";

/** Something progress lines can be written to (stderr). */
export interface ProgressSink {
  /** Writes bytes, synchronously. */
  writeSync(bytes: Uint8Array): number;
}

const encoder = new TextEncoder();
/** Redraws on a terminal at most this often (ms), besides the last. */
const REDRAW_MS = 100;

/** Writes progress to a terminal (redrawn line) or a pipe (plain lines). */
export class Progress {
  #sink: ProgressSink;
  #terminal: boolean;
  #shown = false;
  #transferStart = 0;
  #lastDraw = 0;
  #lastTenth = -1;
  #label = "";

  #columns: () => number;

  /**
   * `terminal`: redraw one line, no wider than `width()` (default: the
   * console's); otherwise write whole lines.
   */
  constructor(sink: ProgressSink, terminal: boolean, width = columns) {
    this.#sink = sink;
    this.#terminal = terminal;
    this.#columns = width;
  }

  /** Step `index` of `total` begins at script line `line`. */
  step(index: number, total: number, line: number, text: string): void {
    this.#label = `step ${index} of ${total}, line ${line}`;
    this.#transferStart = 0;
    const short = visible(text.length > 50 ? text.slice(0, 47) + "..." : text);
    this.#write(`${this.#label}: ${short}`);
  }

  /** `sent` of `total` payload bytes have been written. */
  bytes(sent: number, total: number): void {
    const now = Date.now();
    if (this.#transferStart === 0) {
      this.#transferStart = now;
      this.#lastTenth = -1;
    }
    const text = `${this.#label}: ${
      progressLine(sent, total, now - this.#transferStart, 20)
    }`;
    if (this.#terminal) {
      if (sent < total && now - this.#lastDraw < REDRAW_MS) return;
      this.#lastDraw = now;
      this.#write(text);
    } else {
      const tenth = Math.floor(sent * 10 / total);
      if (tenth === this.#lastTenth) return;
      this.#lastTenth = tenth;
      this.#write(text);
    }
  }

  /** Removes the progress line from a terminal before other output. */
  clear(): void {
    if (this.#terminal && this.#shown) {
      this.#put("\r\x1b[2K");
      this.#shown = false;
    }
  }

  #write(text: string): void {
    if (this.#terminal) {
      // One screen line, or the redraw would leave wrapped pieces behind.
      this.#put(`\r\x1b[2K${text.slice(0, this.#columns() - 1)}`);
      this.#shown = true;
    } else this.#put(`atsock run: ${text}\n`);
  }

  #put(text: string): void {
    const bytes = encoder.encode(text);
    let written = 0;
    while (written < bytes.length) {
      written += this.#sink.writeSync(bytes.subarray(written));
    }
  }
}

function columns(): number {
  try {
    return Deno.consoleSize().columns || 80;
  } catch {
    return 80; // Not a terminal after all.
  }
}
