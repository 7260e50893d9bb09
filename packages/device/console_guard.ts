/**
 * What a token console keeps about its clients' failed attempts: a
 * lock-out per source address that grows with each wrong token (so guesses
 * are rate-limited, however many connections a guesser opens), and a log
 * of refusals that says each kind once, then sums up the rest.
 *
 * @module
 */

/** Lock-out after the first wrong token from an address. */
export const FIRST_PENALTY_MS = 250;
/** The longest lock-out (reached after 8 wrong tokens in a row). */
export const MAX_PENALTY_MS = 30_000;
/** An address whose last failure is this old starts again from nothing. */
const FORGET_MS = 10 * 60_000;
/** Addresses remembered at once (the oldest is forgotten first). */
const MAX_ADDRESSES = 1024;

interface Attempts {
  failures: number;
  lockedUntil: number;
  last: number;
}

/** Failed token attempts by source address. */
export class AttemptGuard {
  readonly #byAddress = new Map<string, Attempts>();

  /** How long `address` must still wait before its token is read (0: not locked). */
  lockedFor(address: string, now: number): number {
    const entry = this.#byAddress.get(address);
    if (!entry) return 0;
    if (now - entry.last > FORGET_MS) {
      this.#byAddress.delete(address);
      return 0;
    }
    return Math.max(0, entry.lockedUntil - now);
  }

  /** Records a wrong token from `address`; returns the lock-out it now has, in ms. */
  fail(address: string, now: number): number {
    let entry = this.#byAddress.get(address);
    if (entry && now - entry.last > FORGET_MS) entry = undefined;
    const failures = (entry?.failures ?? 0) + 1;
    const penalty = Math.min(
      FIRST_PENALTY_MS * 2 ** Math.min(failures - 1, 20),
      MAX_PENALTY_MS,
    );
    this.#byAddress.delete(address); // re-inserted as the newest
    this.#byAddress.set(address, {
      failures,
      lockedUntil: now + penalty,
      last: now,
    });
    while (this.#byAddress.size > MAX_ADDRESSES) {
      this.#byAddress.delete(this.#byAddress.keys().next().value!);
    }
    return penalty;
  }

  /** The right token came from `address`: its count starts again. */
  succeed(address: string): void {
    this.#byAddress.delete(address);
  }
}

/** How long a refusal summary covers. */
export const SUMMARY_WINDOW_MS = 10_000;

/**
 * Logs refusals without letting a flood of them flood the log: the first
 * refusal of each reason in a window is logged in full, later ones are
 * counted and summed up in one line when the window is over (at the next
 * refusal after it, or at {@linkcode RefusalLog.flush}).
 */
export class RefusalLog {
  readonly #log: (message: string) => void;
  #windowStart = -Infinity;
  #counted = new Map<string, number>();

  /** A log that writes through `log`. */
  constructor(log: (message: string) => void) {
    this.#log = log;
  }

  /** Notes a refusal of the client at `peer` for `why`. */
  refuse(peer: string, why: string, now: number): void {
    if (now - this.#windowStart >= SUMMARY_WINDOW_MS) {
      this.flush();
      this.#windowStart = now;
    }
    const seen = this.#counted.get(why);
    if (seen === undefined) {
      this.#counted.set(why, 0);
      this.#log(`console: client ${peer} refused: ${why}`);
    } else this.#counted.set(why, seen + 1);
  }

  /** Logs the summary of the refusals counted but not yet logged. */
  flush(): void {
    const parts = [...this.#counted].filter(([, n]) => n > 0).map(([why, n]) =>
      `${n} ${why}`
    );
    this.#counted.clear();
    if (parts.length === 0) return;
    this.#log(
      `console: also refused in the last ${SUMMARY_WINDOW_MS / 1000} s: ${
        parts.join(", ")
      }`,
    );
  }
}
