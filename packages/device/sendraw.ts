/**
 * `AT+SKTSENDRAW` as the module runs it: the `>>>` prompt, the console
 * switched to raw payload, the {@linkcode RawTransfer} that takes it, and
 * its end (answered, hung up on by a console that went away, or cut short
 * by a reset-after-bytes fault). The firmware's TT globals outlive each
 * transfer.
 *
 * @module
 */

import {
  type ActionOutcome,
  type CommandFramer,
  ERR,
  type SendRawAction,
} from "@atsock/protocol";
import type { StreamLink } from "./links.ts";
import type { ConsoleOutput } from "./output.ts";
import { type FlowControl, RawTransfer, TtGlobals } from "./raw_transfer.ts";
import type { UdpLink } from "./udp_link.ts";

/** What a {@linkcode SendRaw} needs of its module. */
export interface SendRawHost {
  /** The console output. */
  readonly output: ConsoleOutput;
  /** One-line notices for the operator. */
  log(message: string): void;
  /** Restarts the module (a reset-after-bytes fault). */
  reset(): void;
  /** Console input for the module as it is now (after a reset). */
  requeue(bytes: Uint8Array): void;
}

/** The raw transfers of one module. */
export class SendRaw {
  #host: SendRawHost;
  #flowControl: FlowControl;
  #raw: RawTransfer | undefined;
  /** The firmware's TT globals (watermark flags, stop flag, stop timer). */
  #tt = new TtGlobals();
  #dropped = 0;
  /** Payload bytes left before a fault resets the module. */
  #resetLeft: number | undefined;

  /** Transfers on `host`'s console, wired with `flowControl`. */
  constructor(host: SendRawHost, flowControl: FlowControl) {
    this.#host = host;
    this.#flowControl = flowControl;
  }

  /** Payload bytes taken in, not yet sent. */
  get pending(): number {
    return this.#raw?.pending ?? 0;
  }

  /** Console bytes dropped since start because the TT buffer was full. */
  get dropped(): number {
    return this.#dropped + (this.#raw?.dropped ?? 0);
  }

  /**
   * Starts a transfer of `action.size` bytes to `link`: prints the prompt
   * and reads `framer` as payload. Resolves with its outcome once it is
   * over and the console reads lines again, or with undefined when it
   * ended unanswered (a reset, a hang-up, another transfer).
   */
  async start(
    action: SendRawAction,
    link: StreamLink | UdpLink,
    framer: CommandFramer,
    live: () => boolean,
  ): Promise<ActionOutcome | undefined> {
    const raw = new RawTransfer({
      size: action.size,
      link,
      destination: action.destination,
      output: this.#host.output,
      flowControl: this.#flowControl,
      globals: this.#tt,
    });
    this.#raw = raw;
    this.#host.output.answer(action.prompt);
    framer.startRaw();
    const code = await raw.done;
    if (this.#raw !== raw || !live()) return undefined;
    this.#raw = undefined;
    framer.endRaw();
    this.#dropped += raw.dropped;
    if (raw.dropped > 0) {
      // firmware rule tt-drop-when-full
      this.#host.log(
        `AT+SKTSENDRAW: ${raw.dropped} console bytes dropped: the TT buffer was full (no flow control: pause at High Watermark, or --flow-control rts)`,
      );
    }
    if (code === 0) return { ok: true };
    if (code === ERR.SKTSENDRAW.SEND) {
      this.#host.log(`AT+SKTSENDRAW: ERROR: ${code}: ${raw.failure}`);
      return { ok: false, failure: "send", reason: raw.failure };
    }
    const reason = `stopped (<<<) after ${raw.sent} bytes were sent`;
    this.#host.log(`AT+SKTSENDRAW: ERROR: ${code}: ${reason}`);
    return { ok: false, failure: "stopped", reason };
  }

  /** A reset-after-bytes fault: the module restarts after `bytes` payload bytes. */
  resetAfter(bytes: number): void {
    this.#resetLeft = bytes;
  }

  /** Payload bytes from the console. */
  async arrive(data: Uint8Array): Promise<void> {
    const left = this.#resetLeft;
    if (left === undefined) return await this.#raw?.arrive(data);
    // A payload under a reset-after-bytes fault: take what fits, then reset.
    if (data.length < left) {
      this.#resetLeft = left - data.length;
      return await this.#raw?.arrive(data);
    }
    if (left > 0) await this.#raw?.arrive(data.subarray(0, left));
    this.#host.reset();
    // The rest arrives at the restarted module, as console input.
    if (data.length > left) this.#host.requeue(data.subarray(left));
  }

  /**
   * The console that sent the payload has gone: what was sent stays sent,
   * the rest never will be, and there is nobody to answer.
   */
  async hangUp(): Promise<void> {
    const raw = this.#raw;
    if (!raw) return;
    this.#raw = undefined;
    raw.hangUp();
    await raw.done;
    this.#dropped += raw.dropped;
    this.#host.log(
      `AT+SKTSENDRAW: the console went away with ${
        raw.size - raw.sent
      } bytes not sent${
        raw.failure ? ` (a send had failed: ${raw.failure})` : ""
      }; nothing answered`,
    );
    this.#host.output.endAnswer();
  }

  /** Abandons a transfer under way; the TT globals return to power-up values. */
  reset(): void {
    this.#raw?.abandon();
    this.#raw = undefined;
    this.#tt.reset();
    this.#resetLeft = undefined;
  }

  /** The module is closing: a transfer under way is abandoned, unanswered. */
  close(): void {
    this.#raw?.abandon();
    this.#tt.reset();
  }
}
