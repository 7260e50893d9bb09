/**
 * How `atsock term` writes to the module: command lines, payload bytes in
 * steps (held while the module's TT buffer is full) and the `<<<` abort, in
 * the order they were typed.
 *
 * @module
 */

import type { Transport } from "@atsock/host";

/**
 * Payload bytes written per step. A High Watermark pauses sending after the
 * step in progress: on a serial line 256 bytes take 67 ms at 38400 baud.
 * Over TCP a module without flow control drops what its full buffer cannot
 * take, so steps are 8 KiB with an event-loop turn before each (the rule of
 * `AtDriver.sendRaw`, `packages/host/raw_pace.ts`).
 */
export const SERIAL_CHUNK = 256;
/** Payload bytes written per step over TCP. */
export const TCP_CHUNK = 8 * 1024;

/**
 * Writes to the module in order: command lines, payload chunks (held while
 * the module's TT buffer is full) and the `<<<` abort.
 */
export class Sender {
  #transport: Transport;
  #chain: Promise<void> = Promise.resolve();
  #paused = false;
  #resume: (() => void)[] = [];
  #onError: (e: unknown) => void;
  #chunk: number;
  #paced: boolean;

  /**
   * `paced`: a turn of the event loop before each step after the first
   * (a module without flow control); false for a module with RTS.
   */
  constructor(
    transport: Transport,
    chunk: number,
    paced: boolean,
    onError: (e: unknown) => void,
  ) {
    this.#transport = transport;
    this.#chunk = chunk;
    this.#paced = paced;
    this.#onError = onError;
  }

  set paused(value: boolean) {
    this.#paused = value;
    if (!value) { for (const resume of this.#resume.splice(0)) resume(); }
  }

  /** Resolves when everything queued so far is written. */
  get idle(): Promise<void> {
    return this.#chain;
  }

  line(bytes: Uint8Array): void {
    this.#enqueue(() => this.#transport.write(bytes));
  }

  payload(bytes: Uint8Array): void {
    this.#enqueue(async () => {
      for (let at = 0; at < bytes.length; at += this.#chunk) {
        // A turn with its I/O poll, so a High Watermark is read first.
        if (at > 0 && this.#paced) await delay(0);
        while (this.#paused) {
          await new Promise<void>((r) => this.#resume.push(r));
        }
        await this.#transport.write(bytes.subarray(at, at + this.#chunk));
      }
    });
  }

  abort(): void {
    this.#enqueue(async () => {
      // Three '<' one by one, each arriving alone (a pause before each),
      // then silence (the module waits for 30 ms of it).
      for (let i = 0; i < 3; i++) {
        await delay(20);
        await this.#transport.write(new Uint8Array([0x3c]));
      }
      await delay(60);
    });
  }

  #enqueue(job: () => Promise<void>): void {
    this.#chain = this.#chain.then(job).catch(this.#onError);
  }
}

/** Resolves after `ms` milliseconds. */
export function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
