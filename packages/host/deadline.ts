/**
 * A time limit and an optional AbortSignal, as one promise that rejects:
 * how the driver bounds the waits that are its own, not the session's (a
 * command waiting for a recovery before it is sent, `waitReady`). Once a
 * command is sent, its limit is the session's deadline (see
 * `command_queue.ts`).
 *
 * @module
 */

import { CommandTimeoutError } from "./errors.ts";

/** A time limit and an optional AbortSignal, as one promise that rejects. */
export class Deadline {
  /** Rejects with {@linkcode CommandTimeoutError} at the limit, or with the signal's reason. */
  readonly promise: Promise<never>;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #signal: AbortSignal | undefined;
  #onAbort: (() => void) | undefined;

  /** A limit of `ms` from now for the wait named `name`. */
  constructor(name: string, ms: number, signal?: AbortSignal) {
    this.#signal = signal;
    this.promise = new Promise<never>((_, reject) => {
      this.#timer = setTimeout(
        () => reject(new CommandTimeoutError(name, ms)),
        ms,
      );
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
