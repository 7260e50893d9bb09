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

const NEVER = new Promise<never>(() => {});

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
  #failed: Promise<never> | undefined;

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
    if (signal?.aborted) this.#abort();
    else signal?.addEventListener("abort", this.#abort, { once: true });
  }

  #abort = (): void => this.reject(this.limit.signal!.reason);

  #done(): boolean {
    if (this.settled) return false;
    this.settled = true;
    this.limit.signal?.removeEventListener("abort", this.#abort);
    return true;
  }

  /** Resolves `promise` (once). */
  resolve(answer: Answer): void {
    if (this.#done()) this.#resolve(answer);
  }

  /** Rejects `promise` (once). */
  reject(error: unknown): void {
    if (this.#done()) this.#reject(error);
  }

  /**
   * Races `work` against the command's failure (its timeout, an abort, an
   * error): a write or a wait of the command that must not outlive it.
   */
  until<T>(work: Promise<T>): Promise<T> {
    if (!this.#failed) {
      this.#failed = this.promise.then(() => NEVER);
      this.#failed.catch(() => {});
    }
    return Promise.race([work, this.#failed]);
  }
}
