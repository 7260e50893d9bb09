/**
 * The driver's unsolicited events: the DOM events it dispatches, and the
 * bounded buffer behind {@linkcode AtDriver.events}.
 *
 * @module
 */

import type { UnsolicitedEvent } from "@atsock/protocol";
import type { CommandTimeoutError } from "./errors.ts";
// deno-lint-ignore no-unused-vars
import type { AtDriver } from "./driver.ts";

/** Yielded by {@linkcode AtDriver.events} when its buffer overflowed. */
export interface DroppedEvents {
  /** Marks the gap. */
  type: "dropped";
  /** How many events were dropped (the oldest) since the last yield. */
  count: number;
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

/** Fans unsolicited events out to iterators, each with a bounded buffer. */
export class EventFeed {
  #listeners = new Set<(event: UnsolicitedEvent | undefined) => void>();
  #ended = false;

  /** Gives `event` to every iterator. */
  emit(event: UnsolicitedEvent): void {
    for (const listener of this.#listeners) listener(event);
  }

  /** Ends every iterator (once its buffer is read). */
  end(): void {
    this.#ended = true;
    for (const listener of this.#listeners) listener(undefined);
  }

  /**
   * Iterates events from now on, as {@linkcode AtDriver.events}; `ended`
   * says whether the driver has closed.
   */
  async *iterate(
    ended: () => boolean,
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
        if (ended() || this.#ended) return;
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
    } finally {
      this.#listeners.delete(listener);
    }
  }
}

/** `ATCMD READY` as something to wait for: remembered while nobody waits. */
export class ReadySignal {
  #waiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  #unclaimed = false;

  /** The module printed `ATCMD READY`. */
  fire(): void {
    if (this.#waiters.length > 0) {
      for (const waiter of this.#waiters.splice(0)) waiter.resolve();
    } else this.#unclaimed = true;
  }

  /** Fails every waiter (the transport closed). */
  fail(error: unknown): void {
    for (const waiter of this.#waiters.splice(0)) waiter.reject(error);
  }

  /** Takes a READY that came while nobody waited, if one did. */
  claim(): boolean {
    const unclaimed = this.#unclaimed;
    this.#unclaimed = false;
    return unclaimed;
  }

  /**
   * Registers for the next READY at once, before anything else runs (a
   * timer made after this may let pending reads complete first); `cancel`
   * takes the registration back.
   */
  next(): { promise: Promise<void>; cancel: () => void } {
    const waiter = { resolve: () => {}, reject: (_: unknown) => {} };
    const promise = new Promise<void>((resolve, reject) => {
      waiter.resolve = resolve;
      waiter.reject = reject;
    });
    this.#waiters.push(waiter);
    const cancel = () => {
      const at = this.#waiters.indexOf(waiter);
      if (at >= 0) this.#waiters.splice(at, 1);
    };
    return { promise, cancel };
  }
}

/** What {@linkcode watchModule} needs from the driver. */
export interface WatchHooks {
  /** Whether probing must stop for good. */
  closed(): boolean;
  /** Whether the driver is idle (no command, not paused). */
  idle(): boolean;
  /** One probe (`AT+SKTSTATE`). */
  probe(): Promise<unknown>;
}

/**
 * Probes every `intervalMs` while the driver is idle (see
 * {@linkcode AtDriver.watch}); returns the function that stops it.
 */
export function watchModule(intervalMs: number, hooks: WatchHooks): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  const tick = async () => {
    if (stopped || hooks.closed()) return;
    if (hooks.idle()) {
      try {
        await hooks.probe();
      } catch {
        // A timeout was dispatched as `unresponsive`; other failures
        // (a reset, a closed transport) have their own events.
      }
    }
    if (!stopped && !hooks.closed()) timer = setTimeout(tick, intervalMs);
  };
  timer = setTimeout(tick, intervalMs);
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
