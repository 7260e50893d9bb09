/**
 * The host driver: sends typed requests to a module one at a time, matches
 * each answer with the protocol package, and delivers unsolicited lines as
 * typed events, never mixed into answers.
 *
 * @module
 */

import { nextTurn, RAW_PIECE } from "./raw_pace.ts";
import {
  AtError,
  type ClientType,
  type CommandName,
  DEFAULT_CONFIG,
  type Endpoint,
  formatRequest,
  lineReaderAlters,
  type LinkState,
  MAX_LINE_LENGTH,
  type ModuleEvent,
  OutputParser,
  type Request,
  type ServerType,
  type SocketConfig,
} from "@atsock/protocol";
import {
  CommandTimeoutError,
  ModuleResetError,
  TransportClosedError,
  UnexpectedAnswerError,
} from "./errors.ts";
import {
  type HostLink,
  type HostServer,
  LinkCore,
  type LinkStreamOptions,
  linkView,
} from "./link.ts";
import type { Transport } from "./transport.ts";
import { AnswerBudget, AnswerTooLargeError } from "./pending_answer.ts";

/** An unsolicited event: connect, DATA, watermark, ready, other `[$]` lines, garbage. */
export type UnsolicitedEvent = Extract<
  ModuleEvent,
  { type: "connect" | "data" | "watermark" | "ready" | "urc" | "garbage" }
>;

/** Yielded by {@linkcode AtDriver.events} when its buffer overflowed. */
export interface DroppedEvents {
  /** Marks the gap. */
  type: "dropped";
  /** How many events were dropped (the oldest) since the last yield. */
  count: number;
}

/** What an answer carried besides its final OK. */
export interface Answer {
  /** Information lines (SKTQUERY, SKTSTATE). */
  lines: string[];
  /** The `+SKTREAD` data, if any. */
  read?: Extract<ModuleEvent, { type: "read" }>;
}

/** Options for one command. */
export interface CommandOptions {
  /** How long to wait for the final result (default: the driver's). */
  timeoutMs?: number;
  /**
   * Cancels the wait. If the command was already written, the driver then
   * resynchronises (as after a timeout), so a late answer is never taken
   * for the next command's.
   */
  signal?: AbortSignal;
}

/** Options for {@linkcode AtDriver}. */
export interface DriverOptions {
  /** Default time limit per command in ms (default 10000; connects can take long). */
  timeoutMs?: number;
  /**
   * A module prints nothing when a peer closes an `auto_rcv=1` link (the
   * firmware does not), so when such a link's reader has waited this long
   * with nothing to read, the driver asks `AT+SKTSTATE` (if no other check
   * is running) and ends the readable of every link that shows
   * `socket_fd:-1`; again after each such wait. Default 1000 ms; `0` turns
   * it off (then call {@linkcode AtDriver.state} yourself, or use
   * {@linkcode AtDriver.watch}). `auto_rcv=0` links need no check: they
   * end on the `AT+SKTREAD` that meets the end.
   */
  closeCheckMs?: number;
}

const DEFAULT_CLOSE_CHECK_MS = 1000;

/** Options for {@linkcode AtDriver.watch}. */
export interface WatchOptions {
  /** Time between probes (`AT+SKTSTATE`) while the driver is idle. */
  intervalMs: number;
  /** Time limit of a probe (default: the driver's). */
  timeoutMs?: number;
}

/** The event type dispatched on the driver for every unsolicited line. */
export class UnsolicitedEventEvent extends Event {
  /** The parsed event. */
  readonly detail: UnsolicitedEvent;
  /** Creates the DOM event for `detail`. */
  constructor(detail: UnsolicitedEvent) {
    super(detail.type);
    this.detail = detail;
  }
}

/**
 * Dispatched as `unresponsive` when a command (or a {@linkcode AtDriver.watch}
 * probe) got no answer in time: the module stopped answering.
 */
export class UnresponsiveEvent extends Event {
  /** The timeout that revealed it. */
  readonly error: CommandTimeoutError;
  /** Creates the event. */
  constructor(error: CommandTimeoutError) {
    super("unresponsive");
    this.error = error;
  }
}

type Pending = {
  name: string;
  command: CommandName | undefined;
  answer: Answer;
  budget: AnswerBudget;
  promise: Promise<Answer>;
  settled: boolean;
  resolve: (answer: Answer) => void;
  reject: (error: unknown) => void;
  onPrompt?: () => void;
};

/** A time limit and an optional AbortSignal, as one promise that rejects. */
class Deadline {
  readonly promise: Promise<never>;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #signal: AbortSignal | undefined;
  #onAbort: (() => void) | undefined;

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

/** A server made by {@linkcode AtDriver.listen}: its seeds wait here. */
interface ServerEntry {
  core: LinkCore | undefined;
  options: LinkStreamOptions;
  mode: "auto" | "poll";
  seeds: Set<number>;
  queue: HostLink[];
  waiters: {
    resolve: (link: HostLink) => void;
    reject: (e: unknown) => void;
  }[];
  ended: unknown;
}

/** Payload size that fits one `AT+SKTSEND` line in the worst case of escaping. */
const SEND_CHUNK = 900;

/** Milliseconds per byte at 9600 baud, 8N1: the slowest pace `sendRaw` allows by default. */
const RAW_MS_PER_BYTE = 10 / 9600 * 1000;

/** Unsolicited events an unread {@linkcode AtDriver.events} iterator keeps by default. */
const EVENTS_BUFFERED = 4096;
/** Bytes of payload (DATA and garbage) an unread `events()` iterator keeps. */
const EVENTS_BUFFERED_BYTES = 4 * 1024 * 1024;

/** Payload bytes an unsolicited event holds (what a buffer of them costs). */
function eventBytes(event: UnsolicitedEvent): number {
  if (event.type === "data") return event.data.length;
  if (event.type === "garbage") return event.bytes.length;
  return 0;
}

const ABORT_BYTE = new Uint8Array([0x3c]); // `<`

/** Pause before each `<` of an abort, so that each arrives alone. */
const ABORT_GAP_MS = 20;

/**
 * Drives a module over a transport. Unsolicited events are dispatched on the
 * driver (an `EventTarget`: `connect`, `data`, `watermark`, `ready`, `urc`,
 * `garbage`, and `unresponsive` as an {@linkcode UnresponsiveEvent}) and can
 * also be iterated with {@linkcode AtDriver.events}.
 *
 * @example
 * ```ts ignore
 * import { AtDriver, connectTcp } from "@atsock/host";
 * const driver = new AtDriver(await connectTcp({ port: 3333 }));
 * const link = await driver.connect({ linkId: 0, host: "example.com", port: 80 });
 * const writer = link.writable.getWriter();
 * await writer.write(new TextEncoder().encode("GET / HTTP/1.0\r\n\r\n"));
 * ```
 */
export class AtDriver extends EventTarget {
  #transport: Transport;
  #parser = new OutputParser();
  #queue: Promise<unknown> = Promise.resolve();
  #writes: Promise<unknown> = Promise.resolve();
  #pending: Pending | undefined;
  #timeout: number;
  #closed = false;
  #reading: Promise<void>;
  #listeners = new Set<(event: UnsolicitedEvent | undefined) => void>();
  #rawPaused = false;
  #rawResume: (() => void)[] = [];
  #readyWaiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  #readyUnclaimed = false;
  #inFlight = 0;
  #inputWake: (() => void) | undefined;
  #links = new Map<number, LinkCore>();
  #servers = new Map<number, ServerEntry>();
  #endAfterAnswer: LinkCore[] = [];
  #watchers = new Set<() => void>();
  /** Link ids known to be UDP (for the `+SKTREAD` sender fields). */
  #udp = new Set<number>();
  /** Whether the module has printed anything yet on this transport. */
  #heard = false;
  #closeCheckMs: number;
  #closeCheck: Promise<unknown> | undefined;
  /** A resynchronisation under way after a command gave up (see #recover). */
  #recovery: Promise<boolean> | undefined;
  /** Whether answers may be out of step with commands until a resync succeeds. */
  #unsynced = false;

  /** Starts reading the transport. */
  constructor(transport: Transport, options: DriverOptions = {}) {
    super();
    this.#transport = transport;
    this.#timeout = options.timeoutMs ?? 10000;
    this.#closeCheckMs = options.closeCheckMs ?? DEFAULT_CLOSE_CHECK_MS;
    check(
      Number.isFinite(this.#closeCheckMs) && this.#closeCheckMs >= 0,
      "closeCheckMs must be >= 0",
    );
    this.#reading = this.#read();
  }

  /** Whether the transport has closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * True while the driver has stopped reading the module on purpose: a
   * claimed `auto_rcv=1` link's reader is behind and nothing else needs
   * the module (see `link.ts`).
   */
  get paused(): boolean {
    if (this.#closed || this.#inFlight > 0) return false;
    let full = false;
    for (const core of this.#links.values()) {
      if (core.starved) return false;
      full ||= core.full;
    }
    return full;
  }

  #anyFull(): boolean {
    for (const core of this.#links.values()) if (core.full) return true;
    return false;
  }

  #wakeInput = (): void => {
    const wake = this.#inputWake;
    this.#inputWake = undefined;
    wake?.();
  };

  async #read(): Promise<void> {
    const reader = this.#transport.readable.getReader();
    let failure: unknown;
    try {
      while (true) {
        while (this.paused) {
          await new Promise<void>((resolve) => (this.#inputWake = resolve));
        }
        const { value, done } = await reader.read();
        if (done) break;
        for (const event of this.#parser.push(value)) this.#route(event);
        // A reader behind: let it run before the next read (the module
        // may have to be read on for a command, but not ahead of readers).
        if (this.#anyFull()) await new Promise((r) => setTimeout(r, 0));
      }
    } catch (e) {
      failure = e; // Reported as the cause of every TransportClosedError below.
    } finally {
      reader.releaseLock();
      this.#closed = true;
      const closed = (what: string) =>
        new TransportClosedError(what, { cause: failure });
      const pending = this.#pending;
      this.#pending = undefined;
      pending?.reject(closed(pending.name));
      for (const resolve of this.#rawResume.splice(0)) resolve();
      for (const waiter of this.#readyWaiters.splice(0)) {
        waiter.reject(closed("ATCMD READY"));
      }
      this.#dropAll(closed(this.#transport.name));
      for (const stop of this.#watchers) stop();
      for (const listener of this.#listeners) listener(undefined);
    }
  }

  #route(event: ModuleEvent): void {
    const pending = this.#pending;
    const first = !this.#heard;
    this.#heard = true;
    switch (event.type) {
      case "ok":
        if (pending) {
          this.#pending = undefined;
          pending.resolve(pending.answer);
        }
        this.#answered();
        return;
      case "error":
        if (pending) {
          this.#pending = undefined;
          pending.reject(
            new AtError(pending.command, event.code, {
              detail: `answer to ${pending.name}`,
            }),
          );
        }
        this.#answered();
        return;
      case "line":
        if (pending && this.#hold(pending, event.text.length)) {
          pending.answer.lines.push(event.text);
        }
        return;
      case "read":
        if (pending) pending.answer.read = event;
        return;
      case "prompt":
        pending?.onPrompt?.();
        return;
      case "echo":
      case "shell":
        return;
      case "ready":
        // The very first thing a module prints on a fresh transport is its
        // greeting (a TCP console greets every new client), not a restart
        // in the middle of the command just sent.
        if (pending && !first) {
          this.#pending = undefined;
          pending.reject(new ModuleResetError(pending.name));
        }
        this.#udp.clear();
        this.#rawPaused = false;
        this.#dropAll(new ModuleResetError("link"));
        if (this.#readyWaiters.length > 0) {
          for (const waiter of this.#readyWaiters.splice(0)) waiter.resolve();
        } else this.#readyUnclaimed = true;
        break;
      case "watermark":
        this.#rawPaused = event.level === "high";
        if (!this.#rawPaused) {
          for (const resolve of this.#rawResume.splice(0)) resolve();
        }
        break;
      case "data":
        this.#links.get(event.linkId)?.push(event.data);
        break;
      case "connect":
        this.#seed(event);
        break;
      case "garbage":
        if (pending) this.#hold(pending, event.bytes.length);
        break;
    }
    this.#emit(event as UnsolicitedEvent);
  }

  /**
   * Counts `bytes` more held for the pending answer; past the limit the
   * command fails with {@linkcode AnswerTooLargeError} and the driver
   * resynchronises. Returns whether the bytes may be kept.
   */
  #hold(pending: Pending, bytes: number): boolean {
    if (pending.budget.take(bytes)) return true;
    if (this.#pending === pending) this.#pending = undefined;
    pending.reject(new AnswerTooLargeError(pending.name, pending.budget.limit));
    if (pending.name !== "resync") this.#recover(false);
    return false;
  }

  /** A final result: unsolicited lines held during earlier answers are all out. */
  #answered(): void {
    for (const core of this.#endAfterAnswer.splice(0)) core.end();
  }

  #emit(event: UnsolicitedEvent): void {
    for (const listener of this.#listeners) listener(event);
    this.dispatchEvent(new UnsolicitedEventEvent(event));
  }

  /**
   * Iterates unsolicited events from now on. While the iterator is not
   * consumed, at most `maxBuffered` events (default 4096) holding at most
   * `maxBufferedBytes` of DATA and garbage bytes (default 4 MiB) are kept:
   * older ones are dropped and a {@linkcode DroppedEvents} with their count
   * is yielded before the next event. Ends when the transport closes.
   */
  async *events(
    options: { maxBuffered?: number; maxBufferedBytes?: number } = {},
  ): AsyncGenerator<UnsolicitedEvent | DroppedEvents> {
    const max = Math.max(1, options.maxBuffered ?? EVENTS_BUFFERED);
    const maxBytes = Math.max(
      0,
      options.maxBufferedBytes ?? EVENTS_BUFFERED_BYTES,
    );
    const buffer: UnsolicitedEvent[] = [];
    let bytes = 0;
    let dropped = 0;
    let wake: (() => void) | undefined;
    const listener = (event: UnsolicitedEvent | undefined) => {
      if (event) {
        buffer.push(event);
        bytes += eventBytes(event);
        while (
          buffer.length > max || (bytes > maxBytes && buffer.length > 1)
        ) {
          bytes -= eventBytes(buffer.shift()!);
          dropped++;
        }
      }
      wake?.();
    };
    this.#listeners.add(listener);
    try {
      while (true) {
        while (buffer.length > 0) {
          if (dropped > 0) {
            const count = dropped;
            dropped = 0;
            yield { type: "dropped", count };
          }
          const event = buffer.shift()!;
          bytes -= eventBytes(event);
          yield event;
        }
        if (this.#closed) return;
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
    } finally {
      this.#listeners.delete(listener);
    }
  }

  /**
   * Waits for `ATCMD READY` (a module starting in Host Control Mode). A
   * READY that arrived while nobody waited is remembered: the first call
   * after it returns at once.
   */
  async waitReady(options: CommandOptions = {}): Promise<void> {
    if (this.#readyUnclaimed) {
      this.#readyUnclaimed = false;
      return;
    }
    if (this.#closed) throw new TransportClosedError("ATCMD READY");
    options.signal?.throwIfAborted();
    const limit = new Deadline(
      "ATCMD READY",
      options.timeoutMs ?? this.#timeout,
      options.signal,
    );
    const waiter = {
      resolve: () => {},
      reject: (_: unknown) => {},
    };
    const ready = new Promise<void>((resolve, reject) => {
      waiter.resolve = resolve;
      waiter.reject = reject;
    });
    this.#readyWaiters.push(waiter);
    try {
      await limit.race(ready);
    } finally {
      limit.dispose();
      const at = this.#readyWaiters.indexOf(waiter);
      if (at >= 0) this.#readyWaiters.splice(at, 1);
    }
  }

  /**
   * Probes the module with `AT+SKTSTATE` every `intervalMs` while the
   * driver is idle (not while a link holds the module back on purpose). A
   * probe without an answer dispatches `unresponsive` (as does any command
   * that times out); probes also notice peers gone from `auto_rcv=1` links.
   * Returns a function that stops the probing; closing the driver stops it.
   */
  watch(options: WatchOptions): () => void {
    check(
      Number.isFinite(options.intervalMs) && options.intervalMs > 0,
      "intervalMs must be > 0",
    );
    let timer: ReturnType<typeof setTimeout> | undefined;
    let stopped = false;
    const stop = () => {
      stopped = true;
      clearTimeout(timer);
      this.#watchers.delete(stop);
    };
    const tick = async () => {
      if (stopped || this.#closed) return;
      if (this.#inFlight === 0 && !this.paused) {
        try {
          await this.state({ timeoutMs: options.timeoutMs });
        } catch {
          // A timeout was dispatched as `unresponsive`; other failures
          // (a reset, a closed transport) have their own events.
        }
      }
      if (!stopped && !this.#closed) {
        timer = setTimeout(tick, options.intervalMs);
      }
    };
    this.#watchers.add(stop);
    timer = setTimeout(tick, options.intervalMs);
    return stop;
  }

  /**
   * Sends one request and waits for its final result. Commands queue behind
   * each other: one is in flight at a time.
   */
  command(request: Request, options: CommandOptions = {}): Promise<Answer> {
    return this.#enqueue(() => this.#exchange(request, options));
  }

  #enqueue<T>(work: () => Promise<T>): Promise<T> {
    this.#inFlight++;
    this.#wakeInput(); // The answer must be read: stop any pause.
    const run = this.#queue.then(work).finally(() => {
      this.#inFlight--;
      this.#wakeInput();
    });
    this.#queue = run.catch(() => {});
    return run;
  }

  /**
   * Writes in order. A failing transport is broken: it is closed (reading
   * ends, so the driver is `closed`) and the write throws a
   * {@linkcode TransportClosedError}.
   */
  #write(bytes: Uint8Array, what: string): Promise<void> {
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

  /** Makes `pending` the command in flight. */
  #begin(
    name: string,
    command: CommandName | undefined,
    onPrompt?: () => void,
  ): Pending {
    let resolve!: (answer: Answer) => void;
    let reject!: (error: unknown) => void;
    const promise = new Promise<Answer>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    promise.catch(() => {});
    const pending: Pending = {
      name,
      command,
      answer: { lines: [] },
      budget: new AnswerBudget(),
      promise,
      settled: false,
      resolve: (answer) => {
        pending.settled = true;
        resolve(answer);
      },
      reject: (error) => {
        pending.settled = true;
        reject(error);
      },
      onPrompt,
    };
    this.#pending = pending;
    return pending;
  }

  /**
   * After a command gave up waiting (timeout, abort), cleans up so that a
   * late answer cannot be taken for the next command's.
   */
  async #giveUp(pending: Pending, error: unknown): Promise<void> {
    if (this.#pending === pending) this.#pending = undefined;
    if (error instanceof CommandTimeoutError) {
      this.dispatchEvent(new UnresponsiveEvent(error));
    }
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
    if (this.#closed) return;
    if (fresh) this.#parser = new OutputParser();
    this.#unsynced = true;
    const run = this.#recovery
      ? this.#recovery.then(() => this.#resync())
      : this.#resync();
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
    while (this.#unsynced && !this.#closed) {
      // The last recovery found no boundary: the parser may be stuck too.
      if (!this.#recovery) this.#recover(true);
      await limit.race(this.#recovery!);
    }
  }

  async #exchange(request: Request, options: CommandOptions): Promise<Answer> {
    const name = describe(request);
    if (this.#closed) throw new TransportClosedError(name);
    options.signal?.throwIfAborted();
    const line = formatRequest(request);
    const limit = new Deadline(
      name,
      options.timeoutMs ?? this.#timeout,
      options.signal,
    );
    try {
      await this.#recovered(limit);
    } catch (e) {
      limit.dispose();
      if (e instanceof CommandTimeoutError) {
        this.dispatchEvent(new UnresponsiveEvent(e));
      }
      throw e;
    }
    if (request.command === "SKTREAD") {
      this.#parser.hintRead(this.#udp.has(request.linkId) ? "udp" : "tcp");
    }
    const pending = this.#begin(name, request.command);
    try {
      await limit.race(this.#write(line, name));
      return await limit.race(pending.promise);
    } catch (e) {
      if (!pending.settled) await this.#giveUp(pending, e);
      throw e;
    } finally {
      limit.dispose();
    }
  }

  /**
   * Asks for the options block, whose shape nothing else has, and drops
   * everything up to its end. The wait is re-armed from inside the answer
   * routing, so no line slips past between a late answer and the block.
   */
  async #resync(): Promise<boolean> {
    if (this.#closed) return true;
    const limit = new Deadline("resync", this.#timeout);
    let synced!: () => void;
    const done = new Promise<void>((resolve) => (synced = resolve));
    let found = false;
    const arm = () => {
      const pending = this.#begin("resync", "SKTQUERY");
      pending.resolve = (answer) => {
        if (answer.lines.includes("Global SOCKET configuration:")) {
          found = true;
          synced();
        } else arm(); // A late answer: keep waiting.
      };
      pending.reject = (e) => {
        if (e instanceof AtError || e instanceof AnswerTooLargeError) {
          arm(); // A late error, or garbage: keep waiting.
        } else {
          found = true; // Reset or closed: nothing late can come.
          synced();
        }
      };
    };
    arm();
    try {
      const write = this.#write(
        formatRequest({ command: "SKTQUERY" }),
        "resync",
      );
      write.catch(() => {}); // A failed write ends the read loop too.
      await limit.race(done);
    } catch {
      // Still silent: the next command tries again, within its own limit.
    } finally {
      limit.dispose();
      if (this.#pending?.name === "resync") this.#pending = undefined;
    }
    return found;
  }

  // ---- links ----

  /**
   * Streams for a link id. Views of the same id share one read side (made
   * by {@linkcode connect} or {@linkcode listen}, or here on first use);
   * each view has its own writable with its own `write` mode.
   */
  link(linkId: number, options: LinkStreamOptions = {}): HostLink {
    checkLink(linkId);
    let core = this.#links.get(linkId);
    if (!core) {
      core = this.#newCore(linkId, options.read ?? "auto", options);
      this.#links.set(linkId, core);
    }
    return linkView(core, this, options);
  }

  /** Whether the driver holds streams for a link id. */
  hasLink(linkId: number): boolean {
    return this.#links.has(linkId);
  }

  #newCore(
    linkId: number,
    mode: "auto" | "poll",
    options: LinkStreamOptions,
  ): LinkCore {
    return new LinkCore(linkId, mode, {
      driver: this,
      changed: this.#wakeInput,
      quietMs: this.#closeCheckMs,
      quiet: this.#checkClosed,
    }, options);
  }

  /** An `auto` reader has waited a while: has its peer gone? (One check at a time.) */
  #checkClosed = (): void => {
    if (this.#closed || this.#closeCheck) return;
    this.#closeCheck = this.checkLinks().catch(() => {
      // A timeout is dispatched as `unresponsive`; a reset or a closed
      // transport ends the links by itself.
    }).finally(() => (this.#closeCheck = undefined));
  };

  /** Registers a new read side before the command that makes the link is written. */
  #claimId(linkId: number, core: LinkCore): void {
    const prior = this.#links.get(linkId);
    if (prior && !prior.ended) {
      throw new RangeError(
        `link id ${linkId} is in use by this driver (close it first)`,
      );
    }
    if (prior) this.#forget(linkId);
    this.#links.set(linkId, core);
  }

  #forget(linkId: number, error?: unknown): void {
    const core = this.#links.get(linkId);
    if (core) {
      this.#links.delete(linkId);
      core.detached = true;
      core.end(error);
    }
    const server = this.#servers.get(linkId);
    if (server) {
      this.#servers.delete(linkId);
      for (const seed of server.seeds) this.#forget(seed, error);
      server.ended = error ??
        new Error(`server link ${linkId} was deleted`);
      for (const waiter of server.waiters.splice(0)) {
        waiter.reject(server.ended);
      }
    }
    this.#udp.delete(linkId);
    this.#wakeInput();
  }

  #dropAll(error: unknown): void {
    for (const id of [...this.#servers.keys(), ...this.#links.keys()]) {
      this.#forget(id, error);
    }
  }

  #seed(event: Extract<ModuleEvent, { type: "connect" }>): void {
    const server = this.#servers.get(event.serverId);
    if (!server) return;
    if (this.#links.has(event.linkId)) this.#forget(event.linkId);
    const core = this.#newCore(event.linkId, server.mode, server.options);
    this.#links.set(event.linkId, core);
    server.seeds.add(event.linkId);
    const link = linkView(core, this, server.options);
    const waiter = server.waiters.shift();
    if (waiter) waiter.resolve(link);
    else server.queue.push(link);
  }

  // ---- typed commands ----

  /** `AT+SKTCFG`: sets all seven options (missing fields take the defaults). */
  async configure(
    config: Partial<SocketConfig>,
    options?: CommandOptions,
  ): Promise<void> {
    const full = { ...DEFAULT_CONFIG, ...config };
    check(
      Number.isInteger(full.sendTimeout) && full.sendTimeout >= 0,
      "sendTimeout must be a whole number of ms >= 0",
    );
    check(
      Number.isInteger(full.receiveTimeout) && full.receiveTimeout >= 0,
      "receiveTimeout must be a whole number of ms >= 0",
    );
    check(
      Number.isInteger(full.keepIdle) && full.keepIdle >= 0 &&
        full.keepIdle <= 7200,
      "keepIdle must be 0..7200 s",
    );
    check(
      Number.isInteger(full.keepInterval) && full.keepInterval >= 0 &&
        full.keepInterval <= 75,
      "keepInterval must be 0..75 s",
    );
    check(
      Number.isInteger(full.keepCount) && full.keepCount >= 0 &&
        full.keepCount <= 10,
      "keepCount must be 0..10",
    );
    await this.command({ command: "SKTCFG", config: full }, options);
  }

  /** `AT+SKTQUERY`: the global options. */
  async query(options?: CommandOptions): Promise<SocketConfig> {
    const answer = await this.command({ command: "SKTQUERY" }, options);
    return parseQuery(answer.lines);
  }

  /**
   * `AT+SKTSERVER`: starts a server on a link. The result gives its seeds
   * as links (`for await (const link of server)`), each read the way the
   * server's `autoReceive` says and written as `streams.write` says. A UDP
   * server (type 0) has no seeds: use {@linkcode link} on its id.
   */
  listen(
    server: {
      linkId: number;
      type?: ServerType;
      port: number;
      certIndex?: number;
      autoReceive?: boolean;
      /** Stream options for the seeds (and a UDP server's own link). */
      streams?: LinkStreamOptions;
    },
    options?: CommandOptions,
  ): Promise<HostServer> {
    const type = server.type ?? 1;
    const autoReceive = server.autoReceive ?? true;
    checkLink(server.linkId);
    checkPort(server.port);
    if (type >= 2) checkCert(server.certIndex);
    const request: Request = {
      command: "SKTSERVER",
      linkId: server.linkId,
      type,
      ...(type >= 2 ? { certIndex: server.certIndex } : {}),
      port: server.port,
      autoReceive,
    };
    const id = server.linkId;
    const streams = server.streams ?? {};
    const mode = autoReceive ? "auto" : "poll";
    return this.#enqueue(async () => {
      const core = this.#newCore(id, mode, streams);
      this.#claimId(id, core);
      const entry: ServerEntry = {
        core,
        options: streams,
        mode,
        seeds: new Set(),
        queue: [],
        waiters: [],
        ended: undefined,
      };
      this.#servers.set(id, entry);
      try {
        await this.#exchange(request, options ?? {});
      } catch (e) {
        if (this.#links.get(id) === core) this.#forget(id);
        throw e;
      }
      if (type === 0) this.#udp.add(id);
      return serverView(this, id, entry, core);
    });
  }

  /**
   * `AT+SKTCLIENT`: connects a link to a remote server and returns it as a
   * link. Its read side exists before the command is written, so data that
   * arrives with the OK is kept; it is read the way `autoReceive` says
   * (`auto` DATA lines, or `poll` with `AT+SKTREAD`).
   */
  connect(
    client: {
      linkId: number;
      type?: ClientType;
      host: string;
      port: number;
      localPort?: number;
      certIndex?: number;
      autoReceive?: boolean;
      /** Stream options for the link (write mode, buffer bounds). */
      streams?: LinkStreamOptions;
    },
    options?: CommandOptions,
  ): Promise<HostLink> {
    const type = client.type ?? 1;
    const autoReceive = client.autoReceive ?? true;
    checkLink(client.linkId);
    checkPort(client.port);
    check(
      client.host.length > 0 && client.host.length <= 255 &&
        !/[,\r\n]/.test(client.host),
      "host must be 1..255 characters without commas or line ends",
    );
    if (type === 0) checkPort(client.localPort ?? 0, "localPort");
    if (type >= 3) checkCert(client.certIndex);
    const request: Request = {
      command: "SKTCLIENT",
      linkId: client.linkId,
      type,
      ...(type >= 3 ? { certIndex: client.certIndex } : {}),
      host: client.host,
      port: client.port,
      ...(type === 0 ? { localPort: client.localPort } : {}),
      autoReceive,
    };
    const id = client.linkId;
    const streams = client.streams ?? {};
    return this.#enqueue(async () => {
      const core = this.#newCore(id, autoReceive ? "auto" : "poll", streams);
      this.#claimId(id, core);
      if (type === 0) this.#udp.add(id);
      try {
        await this.#exchange(request, options ?? {});
      } catch (e) {
        if (this.#links.get(id) === core) this.#forget(id);
        throw e;
      }
      return linkView(core, this, streams);
    });
  }

  /**
   * `AT+SKTSEND`: sends bytes, split over as many commands as the 2000-byte
   * command buffer needs. Data may hold a lone CR or LF, but not bytes the
   * module's line reader changes (NUL, BS, TAB, DEL, 0xFF, CR LF); use
   * {@linkcode sendRaw} for those in Host Control Mode.
   */
  async send(
    linkId: number,
    data: Uint8Array,
    destination?: Endpoint,
    options?: CommandOptions,
  ): Promise<void> {
    checkLink(linkId);
    check(data.length > 0, "data is empty");
    check(
      !lineReaderAlters(data),
      "AT+SKTSEND cannot carry NUL, BS, TAB, DEL, 0xFF or CR LF bytes (the module's line reader changes them): use sendRaw (Host Control Mode)",
    );
    if (destination) checkEndpoint(destination);
    if (this.#udp.has(linkId)) {
      // One datagram per command: splitting would make several datagrams.
      const request: Request = { command: "SKTSEND", linkId, data };
      if (destination) request.destination = destination;
      try {
        formatRequest(request); // Throws when the line exceeds the buffer.
      } catch (e) {
        throw new RangeError(
          `a UDP datagram must fit one AT+SKTSEND line (${MAX_LINE_LENGTH} bytes with escapes); use sendRaw for larger ones`,
          { cause: e },
        );
      }
      await this.command(request, options);
      return;
    }
    for (let i = 0; i < data.length; i += SEND_CHUNK) {
      const request: Request = {
        command: "SKTSEND",
        linkId,
        data: data.subarray(i, i + SEND_CHUNK),
      };
      if (destination) request.destination = destination;
      await this.command(request, options);
    }
  }

  /**
   * `AT+SKTREAD`: reads up to `size` buffered bytes (waits about 20 ms on
   * the module). `sender` is the UDP sender of the datagram read, also of
   * an empty (0-byte) one (`size` 0); it is absent when nothing came (the
   * module prints `0.0.0.0,0` then) and on TCP and TLS links.
   *
   * After a peer has closed, the read that meets the end throws the
   * module's `AtError` 4 (the module closes the socket), and every later
   * read throws `AtError` 1 (the link has no socket: `socket_fd:-1`);
   * both mean the end of the stream. A link's `readable` ends on either.
   */
  async read(linkId: number, size: number, options?: CommandOptions): Promise<{
    data: Uint8Array;
    size: number;
    truncated: boolean;
    sender?: Endpoint;
  }> {
    checkLink(linkId);
    check(
      Number.isInteger(size) && size >= 1,
      "size must be a whole number >= 1",
    );
    const answer = await this.command(
      { command: "SKTREAD", linkId, size },
      options,
    );
    const read = answer.read;
    if (!read) return { data: new Uint8Array(), size: 0, truncated: false };
    return {
      data: read.data,
      size: read.size,
      truncated: read.truncated,
      // at_sktread: recvfrom names the sender of an empty datagram too;
      // only a read that found nothing leaves 0.0.0.0,0.
      ...(read.sender &&
          !(read.sender.ip === "0.0.0.0" && read.sender.port === 0)
        ? { sender: read.sender }
        : {}),
    };
  }

  /**
   * `AT+SKTSENDRAW` (Host Control Mode): sends raw bytes of any value, from
   * a buffer or a stream of known total size, in pieces of 8 KiB, pausing
   * between the module's High and Low Watermark lines, so that a module
   * without flow control (which drops bytes its full TT buffer cannot take)
   * loses none; the rule and its limits are in `raw_pace.ts` and
   * `docs/getting-started-host-library.md`.
   *
   * The default time limit is the driver's plus the time the bytes take at
   * 9600 baud. If the transfer fails after the module's `>>>` (timeout,
   * abort, a stream shorter than `size`), the driver ends raw mode with
   * `<`,`<`,`<` and 30 ms of silence and waits for the module's final
   * result before the next command: the peer has then received the bytes
   * written before the failure followed by the `<` bytes (the firmware
   * sends them with the payload), and the module answers `OK` for a
   * payload of at most 10 KiB, `ERROR: 4` for a larger one.
   */
  sendRaw(
    linkId: number,
    data: Uint8Array | { size: number; stream: ReadableStream<Uint8Array> },
    destination?: Endpoint,
    options: CommandOptions & {
      onProgress?: (sent: number, total: number) => void;
      /**
       * The module's UART flow control (default `none`, the firmware's):
       * with `rts` the hardware holds the host back, and the driver writes
       * without the pause before each piece that `none` needs.
       */
      flowControl?: "none" | "rts";
    } = {},
  ): Promise<void> {
    checkLink(linkId);
    const size = data instanceof Uint8Array ? data.length : data.size;
    check(Number.isInteger(size) && size >= 1, "size must be >= 1");
    if (destination) checkEndpoint(destination);
    const request: Request = { command: "SKTSENDRAW", linkId, size };
    if (destination) request.destination = destination;
    return this.#enqueue(() => this.#sendRaw(request, size, data, options));
  }

  async #sendRaw(
    request: Request,
    size: number,
    data: Uint8Array | { size: number; stream: ReadableStream<Uint8Array> },
    options: CommandOptions & {
      onProgress?: (sent: number, total: number) => void;
      flowControl?: "none" | "rts";
    },
  ): Promise<void> {
    const name = describe(request);
    const paced = options.flowControl !== "rts";
    if (this.#closed) throw new TransportClosedError(name);
    options.signal?.throwIfAborted();
    const limit = new Deadline(
      name,
      options.timeoutMs ?? this.#timeout + Math.ceil(size * RAW_MS_PER_BYTE),
      options.signal,
    );
    try {
      await this.#recovered(limit); // As every command: never out of step.
    } catch (e) {
      limit.dispose();
      throw e;
    }
    let prompted!: () => void;
    const prompt = new Promise<void>((resolve) => (prompted = resolve));
    this.#rawPaused = false;
    const pending = this.#begin(name, "SKTSENDRAW", () => prompted());
    let inRaw = false;
    let handed = 0; // Bytes given to the transport (they will all go out).
    // A final result before every byte went (a reset, an error) ends the wait.
    const early = pending.promise.then(() => {
      throw new UnexpectedAnswerError(
        name,
        "a final result before all bytes were sent",
      );
    });
    early.catch(() => {});
    const wait = <T>(work: Promise<T>) =>
      limit.race(Promise.race([work, early]));
    // The pacing rule and why it loses nothing: raw_pace.ts.
    const push = async (chunk: Uint8Array) => {
      for (let i = 0; i < chunk.length; i += RAW_PIECE) {
        if (paced && handed > 0) await wait(nextTurn());
        while (this.#rawPaused && !this.#closed) {
          await wait(
            new Promise<void>((resolve) => this.#rawResume.push(resolve)),
          );
        }
        const piece = chunk.subarray(i, i + RAW_PIECE);
        handed += piece.length;
        await wait(this.#write(piece, name));
        options.onProgress?.(handed, size);
      }
    };
    try {
      await limit.race(this.#write(formatRequest(request), name));
      await limit.race(Promise.race([prompt, pending.promise]));
      if (pending.settled) {
        await pending.promise; // ERROR: <n> instead of the prompt.
        throw new UnexpectedAnswerError(name, "OK without >>>");
      }
      inRaw = true;
      if (data instanceof Uint8Array) await push(data);
      else {
        const reader = data.stream.getReader();
        try {
          while (handed < size) {
            const { value, done } = await wait(reader.read());
            if (done) break;
            await push(value.subarray(0, size - handed));
          }
        } catch (e) {
          await reader.cancel(e).catch(() => {});
          throw e;
        } finally {
          reader.releaseLock();
        }
        if (handed < size) {
          throw new RangeError(
            `the stream ended after ${handed} of ${size} bytes`,
          );
        }
      }
      await limit.race(pending.promise);
    } catch (e) {
      if (!pending.settled) {
        if (inRaw && handed < size && !(e instanceof TransportClosedError)) {
          await this.#abortRaw(pending, size - handed, e);
        } else await this.#giveUp(pending, e);
      }
      throw e;
    } finally {
      limit.dispose();
    }
  }

  /**
   * Ends a raw transfer early (BEHAVIOUR.md): three `<` one at a time, then
   * silence (nothing else is written until the final result), then the
   * module's final result (`OK` for a payload of at most 10 KiB, else
   * `ERROR: 4`).
   */
  async #abortRaw(
    pending: Pending,
    remaining: number,
    cause: unknown,
  ): Promise<void> {
    if (cause instanceof CommandTimeoutError) {
      this.dispatchEvent(new UnresponsiveEvent(cause));
    }
    const limit = new Deadline("<<<", this.#timeout);
    try {
      // Each `<` must reach the module as a read of its own (a UART FIFO
      // or a TCP segment holding two is no abort): a pause before each.
      for (let i = 0; i < Math.min(3, remaining); i++) {
        await limit.race(new Promise((r) => setTimeout(r, ABORT_GAP_MS)));
        await limit.race(this.#write(ABORT_BYTE, "<<<"));
      }
      await limit.race(pending.promise);
    } catch {
      // ERROR: 4 is the expected answer; a silent module is resynced below.
    } finally {
      limit.dispose();
    }
    if (!pending.settled) {
      if (this.#pending === pending) this.#pending = undefined;
      await this.#resync();
    }
  }

  /**
   * `AT+SKTSTATE`: every link, parsed. Links of this driver that show
   * `socket_fd:-1` (the peer has gone) end their readable once the data
   * printed before that is delivered; links that are missing end at once.
   * The driver also learns from it which links are UDP, so that a later
   * `AT+SKTREAD` on a link this driver did not create is parsed with its
   * sender fields.
   */
  async state(options?: CommandOptions): Promise<LinkState[]> {
    const answer = await this.command({ command: "SKTSTATE" }, options);
    const states = answer.lines.map(parseStateLine).filter((
      s,
    ): s is LinkState => s !== undefined);
    this.#udp.clear();
    for (const state of states) {
      if (state.protocol === "udp") this.#udp.add(state.linkId);
    }
    const listed = new Map(states.map((s) => [s.linkId, s]));
    for (const [id, core] of this.#links) {
      const state = listed.get(id);
      if (!state) this.#forget(id);
      else if (state.socketFd === -1) {
        // auto_rcv=1: DATA lines held back by this answer follow it, so end
        // after the next one. auto_rcv=0: -1 only once a read met the end.
        this.#endAfterAnswer.push(core);
      }
    }
    return states;
  }

  /**
   * Finds out now which links' peers have gone (the module prints nothing
   * when one closes): `AT+SKTSTATE`, and the readable of every link that
   * shows `socket_fd:-1` ends, once the data printed before is delivered
   * (a second `AT+SKTSTATE` lets any DATA line held back by the first
   * answer out first). The driver does this by itself when an `auto_rcv=1`
   * reader has waited `closeCheckMs`.
   */
  async checkLinks(options?: CommandOptions): Promise<void> {
    await this.state(options);
    if (this.#endAfterAnswer.length > 0) await this.state(options);
  }

  /**
   * `AT+SKTDEL`: deletes a link (a server with its seeds); its streams end.
   * An `ERROR: 1` (no such link) also ends them, then is thrown.
   */
  async remove(linkId: number, options?: CommandOptions): Promise<void> {
    checkLink(linkId);
    try {
      await this.command({ command: "SKTDEL", linkId }, options);
    } catch (e) {
      if (e instanceof AtError && e.code === 1) this.#forget(linkId);
      throw e;
    }
    this.#forget(linkId);
  }

  /** Closes the transport; queued commands fail with {@linkcode TransportClosedError}. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const stop of this.#watchers) stop();
    this.#wakeInput();
    await this.#transport.close();
    await this.#reading;
  }
}

/** The server object {@linkcode AtDriver.listen} returns. */
function serverView(
  driver: AtDriver,
  linkId: number,
  entry: ServerEntry,
  core: LinkCore,
): HostServer {
  const accept = (): Promise<HostLink> => {
    const link = entry.queue.shift();
    if (link) return Promise.resolve(link);
    if (entry.ended !== undefined) return Promise.reject(entry.ended);
    return new Promise((resolve, reject) =>
      entry.waiters.push({ resolve, reject })
    );
  };
  return {
    linkId,
    accept,
    async *[Symbol.asyncIterator]() {
      while (true) {
        let link: HostLink;
        try {
          link = await accept();
        } catch (e) {
          if (e instanceof ModuleResetError) throw e;
          return; // Deleted: the iteration ends.
        }
        yield link;
      }
    },
    async close() {
      if (core.detached) return;
      await driver.remove(linkId);
    },
  };
}

function check(ok: boolean, message: string): asserts ok {
  if (!ok) throw new RangeError(message);
}

function checkLink(id: number): void {
  check(
    Number.isInteger(id) && id >= 0 && id <= 19,
    `link id must be 0..19, not ${id}`,
  );
}

function checkPort(port: number, name = "port"): void {
  check(
    Number.isInteger(port) && port >= 1 && port <= 65535,
    `${name} must be 1..65535, not ${port}`,
  );
}

function checkCert(index: number | undefined): void {
  check(
    index !== undefined && Number.isInteger(index) && index >= 1 && index <= 10,
    `certIndex must be 1..10 for this type`,
  );
}

function checkEndpoint(endpoint: Endpoint): void {
  check(
    /^\d{1,3}(\.\d{1,3}){3}$/.test(endpoint.ip),
    `destination ip must be IPv4, not ${endpoint.ip}`,
  );
  checkPort(endpoint.port, "destination port");
}

function describe(request: Request): string {
  const line = new TextDecoder().decode(formatRequest(request)).trimEnd();
  return line.length > 60 ? line.slice(0, 57) + "..." : line;
}

/** Parses the `AT+SKTQUERY` block. */
export function parseQuery(lines: readonly string[]): SocketConfig {
  const value = (name: string) => {
    const line = lines.find((l) => l.startsWith(`${name}: `));
    if (line === undefined) {
      throw new UnexpectedAnswerError("AT+SKTQUERY", `no ${name} line`);
    }
    return Number(line.slice(name.length + 2));
  };
  return {
    sendTimeout: value("so_sndtimeo"),
    receiveTimeout: value("so_rcvtimeo"),
    noDelay: value("tcp_nodelay") === 1,
    keepAlive: value("so_keepalive") === 1,
    keepIdle: value("tcp_keepidle"),
    keepInterval: value("tcp_keepintvl"),
    keepCount: value("tcp_keepcnt"),
  };
}

const STATE_LINE =
  /^link_id:(\d+),(server|client|seed),(tcp|udp|ssl),src_address:([^,]*),src_port:(\d+),dst_address:([^,]*),dst_port:(\d+),socket_fd:(-?\d+)$/;

/** Parses one `AT+SKTSTATE` line (undefined if it is not one). */
export function parseStateLine(line: string): LinkState | undefined {
  const m = STATE_LINE.exec(line);
  if (!m) return undefined;
  return {
    linkId: Number(m[1]),
    role: m[2] as LinkState["role"],
    protocol: m[3] as LinkState["protocol"],
    source: { ip: m[4], port: Number(m[5]) },
    destination: { ip: m[6], port: Number(m[7]) },
    socketFd: Number(m[8]),
  };
}
