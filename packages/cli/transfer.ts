/**
 * Sizes, rates and the progress line of a transfer, for `atsock send` and
 * `atsock run`'s `sendraw`.
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

/**
 * One progress line, `width` characters of bar:
 * `[#####-----]  50%  512.0 KiB of 1.0 MiB  2.0 MiB/s`.
 */
export function progressLine(
  sent: number,
  total: number,
  ms: number,
  width = 24,
): string {
  const fraction = total > 0 ? Math.min(1, sent / total) : 1;
  const filled = Math.round(fraction * width);
  const percent = `${Math.floor(fraction * 100)}%`.padStart(4);
  return `[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${percent}  ${
    formatBytes(sent)
  } of ${formatBytes(total)}  ${formatRate(rate(sent, ms))}`;
}
