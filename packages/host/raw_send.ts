/**
 * `AT+SKTSENDRAW` from the host: the transfer after the module's `>>>`,
 * paced against the TT watermarks (the rule is in `raw_pace.ts`), and its
 * early end with `<<<` when the transfer fails half-way.
 *
 * @module
 */

import {
  type FlowControl,
  prepareCommand,
  type SendRawRequest,
} from "@atsock/protocol";
import type { CommandQueue } from "./command_queue.ts";
import type { Waiter } from "./waiter.ts";
import type { CommandOptions } from "./options.ts";
import {
  CommandTimeoutError,
  TransportClosedError,
  UnexpectedAnswerError,
} from "./errors.ts";
import { nextTurn, RAW_PIECE } from "./raw_pace.ts";

/** Options of a raw transfer (as `AtDriver.sendRaw`). */
export interface RawOptions extends CommandOptions {
  /** Called after each piece handed to the transport. */
  onProgress?: (sent: number, total: number) => void;
  /**
   * The module's UART flow control (default `none`, the firmware's):
   * with `rts` the hardware holds the host back, and the driver writes
   * without the pause before each piece that `none` needs.
   */
  flowControl?: FlowControl;
}

/** The bytes of a raw transfer: a buffer, or a stream of known total size. */
export type RawData = Uint8Array | {
  size: number;
  stream: ReadableStream<Uint8Array>;
};

/** Milliseconds per byte at 9600 baud, 8N1: the slowest pace `sendRaw` allows by default. */
const RAW_MS_PER_BYTE = 10 / 9600 * 1000;

const ABORT_BYTE = new Uint8Array([0x3c]); // `<`

/** Pause before each `<` of an abort, so that each arrives alone. */
const ABORT_GAP_MS = 20;

/** The module's TT watermarks as the raw sender sees them: High pauses, Low resumes. */
export class Watermarks {
  #paused = false;
  #resume: (() => void)[] = [];

  /** True between a High and a Low watermark. */
  get paused(): boolean {
    return this.#paused;
  }

  /** A `[$][TT]` watermark line. */
  level(level: "high" | "low"): void {
    this.#paused = level === "high";
    if (!this.#paused) this.release();
  }

  /** A new transfer, or a restarted module: no watermark holds. */
  reset(): void {
    this.#paused = false;
  }

  /** Resolves when the next Low watermark comes (or {@linkcode release}). */
  next(): Promise<void> {
    return new Promise<void>((resolve) => this.#resume.push(resolve));
  }

  /** Wakes every waiter (a Low, or the transport closed). */
  release(): void {
    for (const resolve of this.#resume.splice(0)) resolve();
  }
}

/** What a raw transfer needs besides the queue. */
export interface RawContext {
  /** The command queue (writes, waits, recovery). */
  readonly queue: CommandQueue;
  /** The watermarks. */
  readonly watermarks: Watermarks;
  /** Whether the transport has closed. */
  closed(): boolean;
  /** The driver's flow control: the default of the call's. */
  readonly flowControl: FlowControl;
}

/** Runs one `AT+SKTSENDRAW` (in the queue's turn): see `AtDriver.sendRaw`. */
export async function sendRaw(
  context: RawContext,
  request: SendRawRequest,
  data: RawData,
  options: RawOptions,
): Promise<void> {
  const { queue, watermarks } = context;
  const size = request.size;
  const command = prepareCommand(request);
  const name = command.name;
  const paced = (options.flowControl ?? context.flowControl) !== "rts";
  // As every command: never out of step (a recovery first).
  const limit = await queue.ready(
    name,
    options.timeoutMs ?? queue.timeoutMs + Math.ceil(size * RAW_MS_PER_BYTE),
    options.signal,
  );
  let prompted!: () => void;
  const prompt = new Promise<void>((resolve) => (prompted = resolve));
  watermarks.reset();
  // The session times the whole transfer out: every wait below ends on
  // the waiter's failure.
  const { line, waiter } = queue.send(command, limit, () => prompted());
  let inRaw = false;
  let handed = 0; // Bytes given to the transport (they will all go out).
  // A final result before every byte went (a reset, an error) ends the wait.
  const early = waiter.promise.then(() => {
    throw new UnexpectedAnswerError(
      name,
      "a final result before all bytes were sent",
    );
  });
  early.catch(() => {});
  const wait = <T>(work: Promise<T>) => Promise.race([work, early]);
  // The pacing rule and why it loses nothing: raw_pace.ts.
  const push = async (chunk: Uint8Array) => {
    for (let i = 0; i < chunk.length; i += RAW_PIECE) {
      if (paced && handed > 0) await wait(nextTurn());
      while (watermarks.paused && !context.closed()) {
        await wait(watermarks.next());
      }
      const piece = chunk.subarray(i, i + RAW_PIECE);
      handed += piece.length;
      await wait(queue.write(piece, name));
      options.onProgress?.(handed, size);
    }
  };
  try {
    await waiter.until(queue.write(line, name));
    await Promise.race([prompt, waiter.promise]);
    if (waiter.settled) {
      await waiter.promise; // ERROR: <n> instead of the prompt.
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
    await waiter.promise;
  } catch (e) {
    if (queue.holds(waiter)) {
      if (inRaw && handed < size && !(e instanceof TransportClosedError)) {
        await abortRaw(queue, waiter, size - handed, e);
      } else await queue.giveUp(waiter, e);
    }
    throw e;
  }
}

/**
 * Ends a raw transfer early (BEHAVIOUR.md): three `<` one at a time, then
 * silence (nothing else is written until the final result), then the
 * module's final result (`OK` for a payload of at most 10 KiB, else
 * `ERROR: 4`).
 */
async function abortRaw(
  queue: CommandQueue,
  waiter: Waiter,
  remaining: number,
  cause: unknown,
): Promise<void> {
  if (cause instanceof CommandTimeoutError) queue.unresponsive(cause);
  // The session still holds the transfer: wait on for its final result.
  const after = queue.extend(waiter, "<<<", queue.timeoutMs);
  try {
    // Each `<` must reach the module as a read of its own (a UART FIFO
    // or a TCP segment holding two is no abort): a pause before each.
    for (let i = 0; i < Math.min(3, remaining); i++) {
      await after.until(new Promise((r) => setTimeout(r, ABORT_GAP_MS)));
      await after.until(queue.write(ABORT_BYTE, "<<<"));
    }
    await after.promise;
  } catch {
    // ERROR: 4 is the expected answer; a silent module is resynced below.
  }
  if (queue.holds(after)) {
    queue.abandon();
    await queue.resync();
  }
}
