/**
 * The driver's command queue: one command in flight at a time, each
 * waiting for its final result within its limit, and the recovery after a
 * command gave up (a resync, so that a late answer is never taken for the
 * next command's). The {@linkcode HostSession} makes each command's line,
 * matches answers to it and keeps its deadline; this module keeps the
 * promises, the writes and the one timer, set for the session's deadline:
 * when it fires, the session is told the time and says whether the
 * command timed out.
 *
 * @module
 */

import {
  type Answer,
  AtError,
  type HostSession,
  type HostSessionEvent,
  type PendingCommand,
  prepareCommand,
  type PreparedCommand,
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
import { type Limit, Waiter } from "./waiter.ts";

/** What the queue needs from the driver. */
export interface QueueHooks {
  /** Whether the transport has closed. */
  closed(): boolean;
  /** A command got no answer in time. */
  unresponsive(error: CommandTimeoutError): void;
  /** The number of commands queued or in flight changed. */
  busy(): void;
  /** The clock of the session's deadlines, in ms (default `performance.now()`). */
  now?(): number;
}

/** Runs commands one at a time through a session and a transport. */
export class CommandQueue {
  readonly #session: HostSession;
  readonly #transport: Transport;
  readonly #hooks: QueueHooks;
  readonly #now: () => number;
  /** The driver's default time limit per command. */
  readonly timeoutMs: number;
  #queue: Promise<unknown> = Promise.resolve();
  #writes: Promise<unknown> = Promise.resolve();
  #waiter: Waiter | undefined;
  /** The timer for the session's deadline, and the deadline it is for. */
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerAt: number | undefined;
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
    this.#now = hooks.now ?? (() => performance.now());
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

  /**
   * Sets the one timer for the session's deadline, after anything that may
   * change it. A timer already set for an earlier time is left: it fires
   * early and is set again then (a timer per command would cost more than
   * the round trip's other work); one left when no command is in flight
   * finds nothing to time out.
   */
  #arm(): void {
    const at = this.#session.deadline();
    if (at === undefined) return;
    if (this.#timer !== undefined && this.#timerAt! <= at) return;
    clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(this.#fire, Math.max(0, at - this.#now()));
  }

  /** Clears the timer (the transport closed). */
  #disarm(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = undefined;
  }

  /** The timer fired: the session says, by the clock, whether the command timed out. */
  #fire = (): void => {
    this.#timer = undefined;
    this.#timerAt = undefined;
    const expired = this.#session.timeout(this.#now());
    if (expired) {
      const waiter = this.#waiterOf(expired);
      waiter?.reject(
        new CommandTimeoutError(waiter.limit.name, waiter.limit.ms),
      );
    }
    this.#arm(); // Early: again, for the rest of the time.
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
    this.#disarm();
    waiter?.reject(closed(waiter.pending.name));
  }

  /** Reports a command that got no answer in time. */
  unresponsive(error: CommandTimeoutError): void {
    this.#hooks.unresponsive(error);
  }

  /**
   * Waits on for `waiter`'s command (still in flight) for `ms` more, as the
   * wait `name` (after a raw transfer's `<<<`, its final result).
   */
  extend(waiter: Waiter, name: string, ms: number): Waiter {
    const at = this.#now() + ms;
    this.#session.extend(at);
    return this.#track(waiter.pending, { name, ms, at }, waiter.onPrompt);
  }

  /** Stops waiting for the command in flight (a recovery follows). */
  abandon(): void {
    this.#session.abandon();
  }

  /** Whether the session still holds the command `waiter` waits for. */
  holds(waiter: Waiter): boolean {
    return this.#session.pending === waiter.pending;
  }

  /** Waits for the session's command `pending` until `limit`. */
  #track(
    pending: PendingCommand,
    limit: Limit,
    onPrompt?: () => void,
  ): Waiter {
    const waiter = new Waiter(pending, limit, onPrompt);
    this.#waiter = waiter;
    this.#arm();
    return waiter;
  }

  /**
   * In the queue's turn, before a command is sent: fails at once if the
   * transport has closed or `signal` has aborted, then waits (within the
   * command's limit of `ms`) for a recovery under way. Returns the limit,
   * which {@linkcode send} hands to the session.
   */
  async ready(
    name: string,
    ms: number,
    signal: AbortSignal | undefined,
  ): Promise<Limit> {
    if (this.#hooks.closed()) throw new TransportClosedError(name);
    signal?.throwIfAborted();
    const limit = { name, ms, at: this.#now() + ms, signal };
    if (!this.#unsynced) return limit; // In step: no wait, no timer.
    const wait = new Deadline(name, ms, signal);
    try {
      await this.#recovered(wait);
    } catch (e) {
      if (e instanceof CommandTimeoutError) this.#hooks.unresponsive(e);
      throw e;
    } finally {
      wait.dispose();
    }
    return limit;
  }

  /**
   * Makes `command` the session's command in flight until `limit` (from
   * {@linkcode ready}); returns the line the session made, to be written,
   * and the waiter for its final result.
   */
  send(
    command: PreparedCommand,
    limit: Limit,
    onPrompt?: () => void,
  ): { line: Uint8Array; waiter: Waiter } {
    const line = this.#session.send(command, limit.at);
    const waiter = this.#track(this.#session.pending!, limit, onPrompt);
    return { line, waiter };
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
    const command = prepareCommand(request);
    const limit = await this.ready(
      command.name,
      options.timeoutMs ?? this.timeoutMs,
      options.signal,
    );
    const { line, waiter } = this.send(command, limit);
    try {
      await waiter.until(this.write(line, command.name));
      return await waiter.promise;
    } catch (e) {
      if (this.holds(waiter)) await this.giveUp(waiter, e);
      throw e;
    }
  }

  /**
   * After a command gave up waiting (timeout, abort), cleans up so that a
   * late answer cannot be taken for the next command's.
   */
  async giveUp(waiter: Waiter, error: unknown): Promise<void> {
    if (this.holds(waiter)) this.abandon();
    if (error instanceof CommandTimeoutError) this.#hooks.unresponsive(error);
    // The caller is told now; the recovery runs in the background and the
    // next command waits for it (see #recovered).
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
  async #recovered(limit: Deadline): Promise<void> {
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
    const ms = this.timeoutMs;
    const at = this.#now() + ms;
    const line = this.#session.resync(at);
    const waiter = this.#track(this.#session.pending!, {
      name: "resync",
      ms,
      at,
    });
    let found = false;
    try {
      const write = this.write(line, "resync");
      write.catch(() => {}); // A failed write ends the read loop too.
      await waiter.promise;
      found = true;
    } catch (e) {
      // Still silent: the next command tries again, within its own limit.
      found = !(e instanceof CommandTimeoutError);
    } finally {
      if (this.holds(waiter)) this.abandon();
    }
    return found;
  }
}
