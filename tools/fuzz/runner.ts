/**
 * What every fuzzer of `tools/fuzz/` shares: the failure it throws, the
 * seeded randomness that splits bytes into chunks, how a line is shown in
 * a message, and the reports.
 *
 * @module
 */

/** A broken promise of the fuzzer: which input, what was expected, what came. */
export class FuzzFailure extends Error {
  /** Creates a failure with a one-line message. */
  constructor(message: string) {
    super(message);
    this.name = "FuzzFailure";
  }
}

/** Options of `fuzzDevice`. */
export interface DeviceFuzzOptions {
  /** Fuzz lines to write (probes and checkpoints come on top). */
  lines: number;
  /** Seed of every random choice (same seed, same lines). */
  seed: number;
  /** Longest wait for one answer, ms (default 5000). */
  lineTimeoutMs?: number;
  /** Stop (with a failure) after this long, ms (default 30 min). */
  timeLimitMs?: number;
  /** Lines between two link-table checkpoints (default 250). */
  checkEvery?: number;
  /** Progress lines. */
  log?: (line: string) => void;
}

/** What `fuzzDevice` did. */
export interface DeviceFuzzReport {
  /** Fuzz lines written, by kind. */
  kinds: Record<string, number>;
  /** Command lines the module saw (a NUL makes two of one, an overflow more). */
  commandLines: number;
  /** Lines answered nothing, as expected. */
  silent: number;
  /** Final results by text (`OK`, `ERROR: n`). */
  results: Record<string, number>;
  /** `>>>` prompts, and their payload bytes written. */
  prompts: number;
  /** Payload bytes written after prompts. */
  rawBytes: number;
  /** `AT+SKTQUERY` probes after non-grammar lines, all exact. */
  probes: number;
  /** Link-table checkpoints passed. */
  checkpoints: number;
  /** Longest wait for one answer, ms. */
  maxAnswerMs: number;
  /** Most links open at a checkpoint. */
  maxLinks: number;
  /**
   * Host fds: `baseline` after the warm-up, and the fewest and most held
   * at a checkpoint besides the links' sockets and the echo connections
   * (both equal the baseline: nothing grew).
   */
  fds: { baseline: number; min: number; max: number };
  /** Total time, ms. */
  elapsedMs: number;
}

/** An empty {@linkcode DeviceFuzzReport}. */
export function deviceReport(): DeviceFuzzReport {
  return {
    kinds: {},
    commandLines: 0,
    silent: 0,
    results: {},
    prompts: 0,
    rawBytes: 0,
    probes: 0,
    checkpoints: 0,
    maxAnswerMs: 0,
    maxLinks: 0,
    fds: { baseline: 0, min: Infinity, max: 0 },
    elapsedMs: 0,
  };
}

/** Options of `fuzzHost`. */
export interface HostFuzzOptions {
  /** Output items (valid and garbage) to feed the parser. */
  items: number;
  /** Driver rounds against a fake module printing garbage. */
  driverRounds: number;
  /** Seed. */
  seed: number;
  /** Progress lines. */
  log?: (line: string) => void;
}

/** What `fuzzHost` did. */
export interface HostFuzzReport {
  /** Valid output items parsed exactly. */
  valid: number;
  /** Garbage items survived. */
  garbage: number;
  /** Bytes fed to the parser. */
  bytes: number;
  /** Most bytes the parser held at once. */
  maxBuffered: number;
  /** Driver commands answered right after garbage. */
  driverAnswers: number;
  /** Driver commands that timed out as they should (no answer, only garbage). */
  driverTimeouts: number;
  /** Total time, ms. */
  elapsedMs: number;
}

/** A seeded generator of numbers in [0, 1) (mulberry32). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `bytes` split at random points (pieces of 1 to 700 bytes) from `rnd`. */
export function* chunks(
  bytes: Uint8Array,
  rnd: () => number,
): Generator<Uint8Array> {
  let i = 0;
  while (i < bytes.length) {
    const n = 1 + Math.floor(rnd() * Math.min(bytes.length - i, 700));
    yield bytes.subarray(i, i + n);
    i += n;
  }
}

/** Bytes for a message: printable ASCII as is, the rest `\xNN`, at most 160. */
export function show(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes.subarray(0, 160)) {
    s += b >= 0x20 && b < 0x7f && b !== 0x5c
      ? String.fromCharCode(b)
      : `\\x${b.toString(16).padStart(2, "0")}`;
  }
  return bytes.length > 160 ? `${s}... (${bytes.length} bytes)` : s;
}
