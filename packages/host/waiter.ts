/**
 * A caller's wait for the session's command in flight: a promise that the
 * command's answer resolves and its error, timeout or abort rejects.
 *
 * @module
 */

import type { Answer, PendingCommand } from "@atsock/protocol";

/**
 * A command's time limit: it times out `ms` after it began waiting for its
 * turn, at `at` (the queue's clock), as the wait named `name`; `signal`
 * aborts it.
 */
export interface Limit {
  /** The wait's name in its `CommandTimeoutError`. */
  readonly name: string;
  /** The limit in ms. */
  readonly ms: number;
  /** When it falls (the queue's clock). */
  readonly at: number;
  /** Aborts the wait. */
  readonly signal?: AbortSignal;
}

/** A caller waiting for the session's command in flight. */
export class Waiter {
  /** The session's command. */
  readonly pending: PendingCommand;
  /** The limit its timeout names. */
  readonly limit: Limit;
  /** Settles with the command's answer or error. */
  readonly promise: Promise<Answer>;
  /** Called on the module's `>>>`. */
  readonly onPrompt: (() => void) | undefined;
  /** Whether it has settled. */
  settled = false;
  #resolve!: (answer: Answer) => void;
  #reject!: (error: unknown) => void;
  /** Why it failed, once rejected. */
  #failure: { error: unknown } | undefined;
  /** Rejects with `promise` and never resolves (made by `until`). */
  #failed: Promise<never> | undefined;
  #fail: ((error: unknown) => void) | undefined;
  #onAbort: (() => void) | undefined;

  /** Waits for `pending` within `limit`; an abort of its signal rejects it. */
  constructor(
    pending: PendingCommand,
    limit: Limit,
    onPrompt?: () => void,
  ) {
    this.pending = pending;
    this.limit = limit;
    this.onPrompt = onPrompt;
    this.promise = new Promise<Answer>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.promise.catch(() => {});
    const signal = limit.signal;
    if (signal?.aborted) this.reject(signal.reason);
    else if (signal) {
      this.#onAbort = () => this.reject(signal.reason);
      signal.addEventListener("abort", this.#onAbort, { once: true });
    }
  }

  #done(): boolean {
    if (this.settled) return false;
    this.settled = true;
    if (this.#onAbort) {
      this.limit.signal?.removeEventListener("abort", this.#onAbort);
    }
    return true;
  }

  /** Resolves `promise` (once). */
  resolve(answer: Answer): void {
    if (this.#done()) this.#resolve(answer);
  }

  /** Rejects `promise` (once). */
  reject(error: unknown): void {
    if (!this.#done()) return;
    this.#failure = { error };
    this.#reject(error);
    this.#fail?.(error);
  }

  /**
   * Races `work` against the command's failure (its timeout, an abort, an
   * error): a write or a wait of the command that must not outlive it.
   */
  until<T>(work: Promise<T>): Promise<T> {
    if (!this.#failed) {
      this.#failed = new Promise<never>((_, fail) => (this.#fail = fail));
      this.#failed.catch(() => {});
      if (this.#failure) this.#fail!(this.#failure.error);
    }
    return Promise.race([work, this.#failed]);
  }
}
