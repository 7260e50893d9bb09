/**
 * The driver's command queue: one command in flight at a time, each
 * waiting for its final result within its limit, and the recovery after a
 * command gave up (a resync, so that a late answer is never taken for the
 * next command's). The matching of answers to commands is the
 * {@linkcode HostSession}'s; this module keeps the promises, the timers
 * and the writes.
 *
 * @module
 */

import {
  type Answer,
  AtError,
  type CommandName,
  describeLine,
  formatRequest,
  type HostSession,
  type HostSessionEvent,
  type PendingCommand,
  type Request,
} from "@atsock/protocol";
import {
  CommandTimeoutError,
  ModuleResetError,
  TransportClosedError,
} from "./errors.ts";
import { AnswerTooLargeError } from "./pending_answer.ts";
import { Deadline } from "./deadline.ts";
import type { CommandOptions } from "./options.ts";
import type { Transport } from "./transport.ts";

/** A caller waiting for the session's command in flight. */
export interface Waiter {
  /** The session's command. */
  readonly pending: PendingCommand;
  /** Settles with the command's answer or error. */
  readonly promise: Promise<Answer>;
  /** Whether it has settled. */
  settled: boolean;
  /** Called on the module's `>>>`. */
  onPrompt?: () => void;
  /** Resolves `promise`. */
  resolve(answer: Answer): void;
  /** Rejects `promise`. */
  reject(error: unknown): void;
}

/** What the queue needs from the driver. */
export interface QueueHooks {
  /** Whether the transport has closed. */
  closed(): boolean;
  /** A command got no answer in time. */
  unresponsive(error: CommandTimeoutError): void;
  /** The number of commands queued or in flight changed. */
  busy(): void;
}

/** Runs commands one at a time through a session and a transport. */
export class CommandQueue {
  readonly #session: HostSession;
  readonly #transport: Transport;
  readonly #hooks: QueueHooks;
  /** The driver's default time limit per command. */
  readonly timeoutMs: number;
  #queue: Promise<unknown> = Promise.resolve();
  #writes: Promise<unknown> = Promise.resolve();
  #waiter: Waiter | undefined;
  /** Commands queued or in flight. */
  inFlight = 0;
  /** A resynchronisation under way after a command gave up (see #recover). */
  #recovery: Promise<boolean> | undefined;
  /** Whether answers may be out of step with commands until a resync succeeds. */
  #unsynced = false;

  /** A queue writing to `transport`, matching with `session`. */
  constructor(
    session: HostSession,
    transport: Transport,
    timeoutMs: number,
    hooks: QueueHooks,
  ) {
    this.#session = session;
    this.#transport = transport;
    this.timeoutMs = timeoutMs;
    this.#hooks = hooks;
  }

  /** Runs `work` after everything queued before it. */
  enqueue<T>(work: () => Promise<T>): Promise<T> {
    this.inFlight++;
    this.#hooks.busy(); // The answer must be read: stop any pause.
    const run = this.#queue.then(work).finally(() => {
      this.inFlight--;
      this.#hooks.busy();
    });
    this.#queue = run.catch(() => {});
    return run;
  }

  /** A limit of `ms` whose expiry times the session's command out. */
  deadline(name: string, ms: number, signal?: AbortSignal): Deadline {
    return new Deadline(name, ms, signal, this.#expire);
  }

  #expire = (at: number, error: CommandTimeoutError): void => {
    const expired = this.#session.timeout(at);
    if (expired) this.#waiterOf(expired)?.reject(error);
  };

  #waiterOf(pending: PendingCommand): Waiter | undefined {
    const waiter = this.#waiter;
    return waiter?.pending === pending && !waiter.settled ? waiter : undefined;
  }

  /** Takes the session's events about the command in flight. */
  handle(
    event: Extract<HostSessionEvent, { type: "settled" | "prompt" }>,
  ): void {
    const waiter = this.#waiterOf(event.pending);
    if (event.type === "prompt") {
      waiter?.onPrompt?.();
      return;
    }
    const { pending, result } = event;
    switch (result.kind) {
      case "ok":
        waiter?.resolve(result.answer);
        return;
      case "error":
        waiter?.reject(
          new AtError(pending.command, result.code, {
            detail: `answer to ${pending.name}`,
          }),
        );
        return;
      case "reset":
        waiter?.reject(new ModuleResetError(pending.name));
        return;
      case "too-large":
        waiter?.reject(new AnswerTooLargeError(pending.name, result.limit));
        this.#recover(false);
        return;
    }
  }

  /** The transport closed: the command in flight fails with `closed(name)`. */
  close(closed: (what: string) => Error): void {
    const waiter = this.#waiter;
    this.#waiter = undefined;
    this.#session.abandon();
    waiter?.reject(closed(waiter.pending.name));
  }

  /** Reports a command that got no answer in time. */
  unresponsive(error: CommandTimeoutError): void {
    this.#hooks.unresponsive(error);
  }

  /** Waits on for `waiter`'s command (still in flight), until `limit`. */
  extend(waiter: Waiter, limit: Deadline): Waiter {
    this.#session.extend(limit.at);
    return this.track(waiter.pending, waiter.onPrompt);
  }

  /** Stops waiting for the command in flight (a recovery follows). */
  abandon(): void {
    this.#session.abandon();
  }

  /** Whether the session still holds the command `waiter` waits for. */
  holds(waiter: Waiter): boolean {
    return this.#session.pending === waiter.pending;
  }

  /** Waits for the session's command `pending` (again, after a timeout). */
  track(pending: PendingCommand, onPrompt?: () => void): Waiter {
    let resolve!: (answer: Answer) => void;
    let reject!: (error: unknown) => void;
    const promise = new Promise<Answer>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    promise.catch(() => {});
    const waiter: Waiter = {
      pending,
      promise,
      settled: false,
      onPrompt,
      resolve: (answer) => {
        waiter.settled = true;
        resolve(answer);
      },
      reject: (error) => {
        waiter.settled = true;
        reject(error);
      },
    };
    this.#waiter = waiter;
    return waiter;
  }

  /** Makes a command the one in flight, until `limit`. */
  begin(
    name: string,
    command: CommandName | undefined,
    limit: Deadline,
    options: { readLink?: number; onPrompt?: () => void } = {},
  ): Waiter {
    const pending = this.#session.begin(name, command, {
      deadline: limit.at,
      readLink: options.readLink,
    });
    return this.track(pending, options.onPrompt);
  }

  /**
   * Writes in order. A failing transport is broken: it is closed (reading
   * ends, so the driver is `closed`) and the write throws a
   * {@linkcode TransportClosedError}.
   */
  write(bytes: Uint8Array, what: string): Promise<void> {
    const done = this.#writes.then(() => this.#transport.write(bytes)).catch(
      (e) => {
        this.#transport.close().catch(() => {}); // Already failing.
        throw e instanceof TransportClosedError
          ? e
          : new TransportClosedError(what, { cause: e });
      },
    );
    this.#writes = done.catch(() => {});
    return done;
  }

  /** Sends one request (in the queue's turn) and waits for its final result. */
  async exchange(request: Request, options: CommandOptions): Promise<Answer> {
    const line = formatRequest(request);
    const name = describeLine(line);
    if (this.#hooks.closed()) throw new TransportClosedError(name);
    options.signal?.throwIfAborted();
    const limit = this.deadline(
      name,
      options.timeoutMs ?? this.timeoutMs,
      options.signal,
    );
    try {
      await this.recovered(limit);
    } catch (e) {
      limit.dispose();
      if (e instanceof CommandTimeoutError) this.#hooks.unresponsive(e);
      throw e;
    }
    const waiter = this.begin(name, request.command, limit, {
      readLink: request.command === "SKTREAD" ? request.linkId : undefined,
    });
    try {
      await limit.race(this.write(line, name));
      return await limit.race(waiter.promise);
    } catch (e) {
      if (this.holds(waiter)) await this.giveUp(waiter, e);
      throw e;
    } finally {
      limit.dispose();
    }
  }

  /**
   * After a command gave up waiting (timeout, abort), cleans up so that a
   * late answer cannot be taken for the next command's.
   */
  async giveUp(waiter: Waiter, error: unknown): Promise<void> {
    if (this.holds(waiter)) this.#session.abandon();
    if (error instanceof CommandTimeoutError) this.#hooks.unresponsive(error);
    // The caller is told now; the recovery runs in the background and the
    // next command waits for it (see recovered).
    if (!(error instanceof TransportClosedError)) this.#recover(true);
    await Promise.resolve();
  }

  /**
   * Starts resynchronising in the background. `fresh`: the parser may be
   * in the middle of an answer that will never end (a `+SKTREAD` that
   * announced more than it printed), so it starts over in line mode.
   */
  #recover(fresh: boolean): void {
    if (this.#hooks.closed()) return;
    if (fresh) this.#session.restart();
    this.#unsynced = true;
    const run = this.#recovery
      ? this.#recovery.then(() => this.resync())
      : this.resync();
    this.#recovery = run;
    run.then((synced) => {
      if (this.#recovery !== run) return;
      this.#recovery = undefined;
      this.#unsynced = !synced;
    });
  }

  /**
   * Before a command is written: waits (within its limit) for a recovery
   * under way, and starts another while the last one found no boundary, so
   * a late or garbled answer is never taken for this command's.
   */
  async recovered(limit: Deadline): Promise<void> {
    while (this.#unsynced && !this.#hooks.closed()) {
      // The last recovery found no boundary: the parser may be stuck too.
      if (!this.#recovery) this.#recover(true);
      await limit.race(this.#recovery!);
    }
  }

  /**
   * Asks for the options block, whose shape nothing else has, and has the
   * session drop everything up to its end. Returns whether a boundary was
   * found (the block, a reset, or a closed transport: nothing late can
   * come after either).
   */
  async resync(): Promise<boolean> {
    if (this.#hooks.closed()) return true;
    const limit = this.deadline("resync", this.timeoutMs);
    const line = this.#session.resync(limit.at);
    const waiter = this.track(this.#session.pending!);
    let found = false;
    try {
      const write = this.write(line, "resync");
      write.catch(() => {}); // A failed write ends the read loop too.
      await limit.race(waiter.promise);
      found = true;
    } catch (e) {
      // Still silent: the next command tries again, within its own limit.
      found = !(e instanceof CommandTimeoutError);
    } finally {
      limit.dispose();
      if (this.holds(waiter)) this.#session.abandon();
    }
    return found;
  }
}
