/**
 * The module's UART transmitter: one ordered byte queue to the console,
 * with the two rules a real module keeps: an unsolicited line never splits
 * a command's answer, and bytes leave no faster than the baud rate (when
 * one is set). Producers that can wait (socket readers) wait for the queue
 * to drain, so a slow console holds the network back instead of growing
 * memory.
 *
 * @module
 */

import { concat } from "@atsock/protocol";

/** Small queued pieces are joined into writes of up to this many bytes. */
const JOIN_LIMIT = 16 * 1024;

/** Where console bytes go: a console's writer. It must write every byte. */
export type ConsoleSink = (bytes: Uint8Array) => Promise<void>;

/** Options for {@linkcode ConsoleOutput}. */
export interface ConsoleOutputOptions {
  /** Pace output like a UART at this many baud (10 bits a byte, 8N1); 0 or absent: unpaced. */
  baud?: number;
  /** Queue size above which {@linkcode ConsoleOutput.waitForRoom} waits (default 64 KiB). */
  highWater?: number;
}

/** The ordered, paced output of one module. */
export class ConsoleOutput {
  #sink: ConsoleSink | undefined;
  #queue: Uint8Array[] = [];
  #queued = 0;
  #inFlight = 0;
  #held: Uint8Array[] = [];
  #heldBytes = 0;
  #answering = 0;
  #pumping = false;
  #room: (() => void)[] = [];
  #drain: (() => void)[] = [];
  #idle: (() => void)[] = [];
  #bytesPerSecond: number;
  #nextFree = 0;
  #highWater: number;
  #closed = false;

  /** Creates an output with no console attached (bytes are discarded until one is). */
  constructor(options: ConsoleOutputOptions = {}) {
    // 10 bits a byte (8N1), with 0.5% to spare so that timer jitter never
    // lets a receiver see more than the line rate.
    this.#bytesPerSecond = options.baud ? options.baud / 10 * 0.995 : 0;
    this.#highWater = options.highWater ?? 64 * 1024;
  }

  /** Attaches a console (or detaches with `undefined`); queued bytes go to the new one. */
  attach(sink: ConsoleSink | undefined): void {
    this.#sink = sink;
    this.#pump();
  }

  /** Whether a console is attached. */
  get attached(): boolean {
    return this.#sink !== undefined;
  }

  /** Bytes waiting to be written, including unsolicited lines held back by an answer. */
  get buffered(): number {
    return this.#queued + this.#heldBytes + this.#inFlight;
  }

  /** Starts a command's answer: unsolicited lines are held until {@linkcode endAnswer}. */
  beginAnswer(): void {
    this.#answering++;
  }

  /** Ends an answer and releases the unsolicited lines held meanwhile, in order. */
  endAnswer(): void {
    if (this.#answering === 0) return;
    this.#answering--;
    if (this.#answering === 0 && this.#held.length > 0) {
      for (const bytes of this.#held) this.#enqueue(bytes);
      this.#held = [];
      this.#heldBytes = 0;
    }
  }

  /** Writes part of an answer (or anything that must go out now). */
  answer(bytes: Uint8Array): void {
    this.#enqueue(bytes);
  }

  /**
   * Writes an unsolicited line (or an echo), given whole or as parts that
   * stay together: held while an answer is in progress.
   */
  unsolicited(bytes: Uint8Array | readonly Uint8Array[]): void {
    const parts = bytes instanceof Uint8Array ? [bytes] : bytes;
    for (const part of parts) {
      if (this.#answering > 0) {
        this.#held.push(part);
        this.#heldBytes += part.length;
      } else this.#enqueue(part);
    }
  }

  /** Resolves when the queue is below the high-water mark (at once if it is). */
  waitForRoom(): Promise<void> {
    if (this.buffered < this.#highWater || this.#closed) {
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#room.push(resolve));
  }

  /**
   * Resolves when the bytes on their way to the console are below the
   * high-water mark, not counting unsolicited lines held back by an answer
   * (only the end of that answer releases them). The command loop waits
   * for this between commands: a UART whose transmit buffer is full
   * stalls the module, so a console that never reads cannot make output
   * grow without bound.
   */
  waitForDrain(): Promise<void> {
    if (this.#queued + this.#inFlight < this.#highWater || this.#closed) {
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#drain.push(resolve));
  }

  /** Resolves when every queued byte has been handed to the console. */
  flushed(): Promise<void> {
    if (this.#queued === 0 && !this.#pumping) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /**
   * Drops everything queued or held and any answer under way (a module
   * reset); a write already handed to the console still completes.
   */
  reset(): void {
    this.#queue = [];
    this.#queued = 0;
    this.#held = [];
    this.#heldBytes = 0;
    this.#answering = 0;
    this.#wake();
  }

  /** Drops everything queued and releases every waiter. */
  close(): void {
    this.#closed = true;
    this.#queue = [];
    this.#queued = 0;
    this.#held = [];
    this.#heldBytes = 0;
    this.#wake();
  }

  #enqueue(bytes: Uint8Array): void {
    if (this.#closed || bytes.length === 0) return;
    this.#queue.push(bytes);
    this.#queued += bytes.length;
    this.#pump();
  }

  #wake(): void {
    if (this.buffered < this.#highWater || this.#closed) {
      for (const resolve of this.#room.splice(0)) resolve();
    }
    if (this.#queued + this.#inFlight < this.#highWater || this.#closed) {
      for (const resolve of this.#drain.splice(0)) resolve();
    }
    if (this.#queued === 0 && !this.#pumping) {
      for (const resolve of this.#idle.splice(0)) resolve();
    }
  }

  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (this.#queue.length > 0) {
        const sink = this.#sink;
        if (sink === undefined) {
          // Nothing on the line: a UART transmits into the void.
          this.#queue = [];
          this.#queued = 0;
          break;
        }
        let bytes = this.#queue[0];
        if (this.#bytesPerSecond > 0) {
          const limit = await this.#pace(bytes.length);
          if (bytes.length > limit) {
            this.#queue[0] = bytes.subarray(limit);
            bytes = bytes.subarray(0, limit);
          } else this.#queue.shift();
        } else {
          // Write a large piece as it is; join runs of small ones.
          let count = 0;
          let size = 0;
          while (
            count < this.#queue.length &&
            (count === 0 || size + this.#queue[count].length <= JOIN_LIMIT)
          ) {
            size += this.#queue[count].length;
            count++;
          }
          bytes = count === 1
            ? this.#queue[0]
            : concat(this.#queue.slice(0, count));
          this.#queue.splice(0, count);
        }
        this.#queued -= bytes.length;
        this.#inFlight = bytes.length;
        try {
          await sink(bytes);
        } catch {
          // The console went away; its owner detaches it. Drop what was queued.
          if (this.#sink === sink) this.#sink = undefined;
        }
        this.#inFlight = 0;
        this.#wake();
      }
    } finally {
      this.#pumping = false;
      this.#wake();
    }
  }

  /**
   * Waits for the line to be free and books it for up to 10 ms of line
   * time; returns how many bytes were booked. A virtual clock (not the
   * timer's wake-up time) decides, so oversleeping does not slow the rate
   * and an idle line earns no credit: the long-run rate is the baud rate.
   */
  async #pace(length: number): Promise<number> {
    const rate = this.#bytesPerSecond;
    const booked = Math.min(length, Math.max(1, Math.floor(rate / 100)));
    let now = performance.now();
    if (now > this.#nextFree + 50) this.#nextFree = now;
    if (this.#nextFree > now) {
      await new Promise((resolve) => setTimeout(resolve, this.#nextFree - now));
      now = performance.now();
    }
    this.#nextFree += booked * 1000 / rate;
    return booked;
  }
}
