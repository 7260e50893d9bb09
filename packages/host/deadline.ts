/**
 * A time limit and an optional AbortSignal, as one promise that rejects:
 * how the driver bounds every wait of a command (the queue, a recovery,
 * the write, the answer, a raw transfer).
 *
 * @module
 */

import { CommandTimeoutError } from "./errors.ts";

/** A time limit and an optional AbortSignal, as one promise that rejects. */
export class Deadline {
  /** Rejects with {@linkcode CommandTimeoutError} at the limit, or with the signal's reason. */
  readonly promise: Promise<never>;
  /** When the limit falls (`performance.now()` clock). */
  readonly at: number;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #signal: AbortSignal | undefined;
  #onAbort: (() => void) | undefined;

  /**
   * A limit of `ms` from now for the wait named `name`. `onExpire` runs
   * when the limit falls, before the promise rejects (the driver reports
   * the time to its session there).
   */
  constructor(
    name: string,
    ms: number,
    signal?: AbortSignal,
    onExpire?: (at: number, error: CommandTimeoutError) => void,
  ) {
    this.#signal = signal;
    this.at = performance.now() + ms;
    this.promise = new Promise<never>((_, reject) => {
      this.#timer = setTimeout(() => {
        const error = new CommandTimeoutError(name, ms);
        onExpire?.(this.at, error);
        reject(error);
      }, ms);
      if (signal) {
        this.#onAbort = () => reject(signal.reason);
        signal.addEventListener("abort", this.#onAbort, { once: true });
      }
    });
    this.promise.catch(() => {});
  }

  /** Races `work` against the limit. */
  race<T>(work: Promise<T>): Promise<T> {
    return Promise.race([work, this.promise]);
  }

  /** Clears the timer and removes the abort listener. */
  dispose(): void {
    clearTimeout(this.#timer);
    if (this.#onAbort) {
      this.#signal?.removeEventListener("abort", this.#onAbort);
    }
  }
}
