/**
 * Progress of a long transfer on stderr: a bar redrawn in place at most ten
 * times a second, and the sizes and rates shown at the end.
 *
 * @module
 */

import { progressLine } from "../transfer.ts";

/** Draws a progress bar on stderr, in place. */
export class ProgressBar {
  #total: number;
  #enabled: boolean;
  #start = performance.now();
  #lastDraw = -Infinity;
  #drawn = false;
  #encoder = new TextEncoder();

  /** A bar for `total` bytes, drawn only when `enabled`. */
  constructor(total: number, enabled: boolean) {
    this.#total = total;
    this.#enabled = enabled;
  }

  /** Milliseconds since the bar was made. */
  get elapsedMs(): number {
    return performance.now() - this.#start;
  }

  /** Shows `sent` bytes (redraws at most every 100 ms, and at the end). */
  update(sent: number): void {
    if (!this.#enabled) return;
    const now = performance.now();
    if (sent < this.#total && now - this.#lastDraw < 100) return;
    this.#lastDraw = now;
    this.#write(`\r${progressLine(sent, this.#total, now - this.#start)}`);
    this.#drawn = true;
  }

  /** Ends the bar's line, so the next output starts on a fresh one. */
  finish(): void {
    if (this.#drawn) this.#write("\n");
    this.#drawn = false;
  }

  #write(text: string): void {
    const bytes = this.#encoder.encode(text);
    let written = 0;
    while (written < bytes.length) {
      written += Deno.stderr.writeSync(bytes.subarray(written));
    }
  }
}
