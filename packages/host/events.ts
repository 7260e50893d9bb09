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
