/**
 * Progress of a long transfer on stderr: a bar redrawn in place at most ten
 * times a second, and the sizes and rates shown at the end.
 *
 * @module
 */

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

/** A byte count for people: `512 B`, `1.5 KiB`, `10.0 MiB`. */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${UNITS[unit]}`;
}

/** Bytes per second over `ms` (0 when no time passed: unknown). */
export function rate(bytes: number, ms: number): number {
  return ms > 0 ? bytes / (ms / 1000) : 0;
}

/** A rate for people: `1.2 MiB/s` (`-` when unknown). */
export function formatRate(bytesPerSecond: number): string {
  return bytesPerSecond > 0
    ? `${formatBytes(Math.round(bytesPerSecond))}/s`
    : "-";
}

/** One progress line: `[#####-----]  50%  512.0 KiB of 1.0 MiB  2.0 MiB/s`. */
export function progressLine(sent: number, total: number, ms: number): string {
  const width = 24;
  const fraction = total > 0 ? Math.min(1, sent / total) : 1;
  const filled = Math.round(fraction * width);
  const percent = `${Math.floor(fraction * 100)}%`.padStart(4);
  return `[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${percent}  ${
    formatBytes(sent)
  } of ${formatBytes(total)}  ${formatRate(rate(sent, ms))}`;
}

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
