/**
 * Socket-like links over a driver: a `ReadableStream` and a
 * `WritableStream` of bytes per link, like `Deno.Conn`.
 *
 * How the read side holds a peer back depends on the link's `auto_rcv`:
 *
 * - `auto_rcv=0` (read `poll`): the link issues `AT+SKTREAD` only while its
 *   reader asks for data. A slow reader stops the polling, the module keeps
 *   at most a TCP window, and TCP flow control holds the peer. Nothing else
 *   is affected: use this for back-pressure.
 * - `auto_rcv=1` (read `auto`): the module prints every chunk as it arrives,
 *   so the only way to hold the peer is to stop reading the module, which
 *   would stall every command and every other link. The driver does that
 *   only while it hurts nobody: while a claimed link has `highWater` bytes
 *   unread, no command is queued or in flight and no other link's reader
 *   waits for data. Otherwise it reads on and the slow link's buffer grows,
 *   up to `maxBuffered`; beyond that the link's data is dropped and its
 *   readable errors with {@linkcode LinkOverflowError}. Memory stays bounded
 *   either way.
 *
 * @module
 */

import { AtError, type Endpoint } from "@atsock/protocol";
import type { AtDriver } from "./driver.ts";
import { LinkOverflowError } from "./errors.ts";
import { READ_FAILED, READ_NO_SOCKET } from "./args.ts";

/** How a link's streams move bytes. */
export interface LinkStreamOptions {
  /**
   * Reading: `auto` takes `[$][SKT][DATA]` lines (the link must have been
   * created with auto_rcv=1; binary-safe); `poll` issues `AT+SKTREAD` when the
   * reader wants data (auto_rcv=0; the module holds the peer back, but the
   * firmware cuts each read at a NUL byte, so it is for text). Links made by
   * {@linkcode AtDriver.connect} and {@linkcode AtDriver.listen} follow their
   * `autoReceive`.
   */
  read?: "auto" | "poll";
  /**
   * Writing: `raw` uses `AT+SKTSENDRAW` (Host Control Mode; any byte,
   * honours the watermarks), `send` uses `AT+SKTSEND` (no CR or LF bytes).
   */
  write?: "raw" | "send";
  /** UDP server destination for writes. */
  destination?: Endpoint;
  /**
   * `auto` reading: unread bytes above which the driver stops reading the
   * module while nothing else needs it (default 256 KiB).
   */
  highWater?: number;
  /**
   * `auto` reading: unread bytes beyond which the link's data is dropped and
   * its readable errors with {@linkcode LinkOverflowError} (default 4 times
   * `highWater`, at least 1 MiB).
   */
  maxBuffered?: number;
}

/** A link as a pair of byte streams. */
export interface HostLink {
  /** The module's link id. */
  readonly linkId: number;
  /**
   * Bytes from the peer. Ends when the peer has closed or the link is
   * deleted; errors with `ModuleResetError` when the module restarts. The
   * module prints nothing when a peer closes, so the driver finds out as a
   * host driver on real hardware must: an `auto_rcv=1` link's reader that
   * has waited `closeCheckMs` (see `DriverOptions`) with nothing to read
   * makes the driver ask `AT+SKTSTATE`, and `socket_fd:-1` ends the stream
   * (as does any {@linkcode AtDriver.state} call); an `auto_rcv=0` link
   * ends on the `AT+SKTREAD` that meets the end (`ERROR: 4`) or on a later
   * one (`ERROR: 1`: the firmware has closed the socket). A write after the
   * peer has gone fails with the module's `AtError` code 1 (the link has no
   * socket any more). Touching it claims the link: from then on a slow reader holds
   * the module back (see the module notes).
   */
  readonly readable: ReadableStream<Uint8Array>;
  /** Bytes to the peer. */
  readonly writable: WritableStream<Uint8Array>;
  /** Deletes the link on the module (`AT+SKTDEL`) and ends the streams. */
  close(): Promise<void>;
}

/** A server link: its seeds, as links, in the order clients connect. */
export interface HostServer extends AsyncIterable<HostLink> {
  /** The server's link id. */
  readonly linkId: number;
  /**
   * The next seed (a client that connected). Rejects once the server is
   * deleted or the module restarts.
   */
  accept(): Promise<HostLink>;
  /** Deletes the server and its seeds on the module (`AT+SKTDEL`). */
  close(): Promise<void>;
}

/** What a link's read side needs from the driver. */
export interface LinkHooks {
  /** The driver whose commands poll, write and delete. */
  readonly driver: AtDriver;
  /** Called when `full` or `starved` may have changed. */
  changed(): void;
  /**
   * How long an `auto` reader may wait with nothing to read before
   * `quiet` is called (then again after each such wait); 0: never.
   */
  readonly quietMs?: number;
  /** Called when an `auto` reader has waited `quietMs`: check the peer. */
  quiet?(): void;
}

const DEFAULT_HIGH_WATER = 256 * 1024;
const POLL_SIZE = 8192;
const POLL_IDLE_MS = 5;

/**
 * The read side of one link id, shared by every {@linkcode HostLink} view
 * of it. Created by the driver before the command that makes the link is
 * written, so no byte that arrives with the answer is missed.
 */
export class LinkCore {
  /** The link id. */
  readonly linkId: number;
  /** How the link is read. */
  readonly mode: "auto" | "poll";
  #hooks: LinkHooks;
  #highWater: number;
  #maxBuffered: number;
  #chunks: Uint8Array[] = [];
  #buffered = 0;
  #wake: (() => void) | undefined;
  #ending: { error?: unknown } | undefined;
  #claimed = false;
  /** Set by the driver when the link id was deleted or lost: views stop acting on it. */
  detached = false;
  #readable: ReadableStream<Uint8Array> | undefined;

  /** Creates the read side; `options.read` is ignored (see `mode`). */
  constructor(
    linkId: number,
    mode: "auto" | "poll",
    hooks: LinkHooks,
    options: LinkStreamOptions = {},
  ) {
    this.linkId = linkId;
    this.mode = mode;
    this.#hooks = hooks;
    this.#highWater = options.highWater ?? DEFAULT_HIGH_WATER;
    this.#maxBuffered = options.maxBuffered ??
      Math.max(4 * this.#highWater, 1024 * 1024);
  }

  /** True while a claimed reader is `highWater` or more bytes behind. */
  get full(): boolean {
    return this.#claimed && this.#buffered >= this.#highWater &&
      this.#ending === undefined;
  }

  /** True while the reader waits with nothing buffered. */
  get starved(): boolean {
    return this.#wake !== undefined;
  }

  /** Whether the read side has ended (or is ending). */
  get ended(): boolean {
    return this.#ending !== undefined;
  }

  /** The stream (claiming the link). */
  get readable(): ReadableStream<Uint8Array> {
    this.#claimed = true;
    this.#readable ??= new ReadableStream<Uint8Array>({
      pull: (controller) =>
        this.mode === "auto" ? this.#pullAuto(controller) : this.#poll(
          controller,
        ),
      cancel: () => this.end(),
    }, { highWaterMark: 0 });
    return this.#readable;
  }

  /** Takes `[$][SKT][DATA]` bytes for this link. */
  push(data: Uint8Array): void {
    if (this.#ending || this.mode !== "auto") return;
    if (this.#buffered + data.length > this.#maxBuffered) {
      this.end(new LinkOverflowError(this.linkId, this.#maxBuffered));
      return;
    }
    const wasFull = this.full;
    this.#chunks.push(data);
    this.#buffered += data.length;
    this.#wakeReader();
    if (this.full !== wasFull) this.#hooks.changed();
  }

  /**
   * Ends the read side: what is buffered is still delivered, then the
   * readable closes (no `error`) or errors. Later data is dropped.
   */
  end(error?: unknown): void {
    if (this.#ending) return;
    this.#ending = error === undefined ? {} : { error };
    this.#wakeReader();
    this.#hooks.changed();
  }

  #wakeReader(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  async #pullAuto(
    controller: ReadableStreamDefaultController<Uint8Array>,
  ): Promise<void> {
    while (this.#chunks.length === 0 && !this.#ending) {
      const waiting = new Promise<void>((resolve) => (this.#wake = resolve));
      this.#hooks.changed(); // Now starved: the driver must read on.
      // The module prints nothing when the peer closes: after a quiet
      // while, have the driver look (AT+SKTSTATE) while the reader waits.
      const quietMs = this.#hooks.quietMs ?? 0;
      const check = quietMs > 0
        ? setInterval(() => this.#hooks.quiet?.(), quietMs)
        : undefined;
      try {
        await waiting;
      } finally {
        clearInterval(check);
      }
    }
    const chunk = this.#chunks.shift();
    if (chunk) {
      const wasFull = this.full;
      this.#buffered -= chunk.length;
      controller.enqueue(chunk);
      if (this.full !== wasFull) this.#hooks.changed();
      return;
    }
    this.#finish(controller);
  }

  async #poll(
    controller: ReadableStreamDefaultController<Uint8Array>,
  ): Promise<void> {
    // Polling only when asked: no AT+SKTREAD runs ahead of the reader.
    while (!this.#ending) {
      let result;
      try {
        result = await this.#hooks.driver.read(this.linkId, POLL_SIZE);
      } catch (e) {
        // ERROR: 4 is the read that meets the peer's close (the firmware
        // then closes the socket); ERROR: 1 a read after that one
        // (at_sktread: the socket has gone).
        this.end(isEndOfStream(e) ? undefined : e);
        break;
      }
      if (result.data.length > 0) {
        controller.enqueue(result.data);
        return;
      }
      if (this.#ending) break;
      await new Promise<void>((resolve) => {
        // The wake first: making a timer can let a pending read run.
        const wait: { timer?: ReturnType<typeof setTimeout> } = {};
        this.#wake = () => {
          clearTimeout(wait.timer);
          resolve();
        };
        wait.timer = setTimeout(() => {
          this.#wake = undefined;
          resolve();
        }, POLL_IDLE_MS);
      });
    }
    this.#finish(controller);
  }

  #finish(controller: ReadableStreamDefaultController<Uint8Array>): void {
    const error = this.#ending?.error;
    if (error === undefined) controller.close();
    else controller.error(error);
  }
}

/**
 * Whether an `AT+SKTREAD` failure means the peer's data has all been read:
 * `ERROR: 4` on the read that meets the end, `ERROR: 1` on any read after
 * it (the firmware closed the socket on that read).
 */
function isEndOfStream(error: unknown): boolean {
  return error instanceof AtError && error.command === "SKTREAD" &&
    (error.code === READ_FAILED || error.code === READ_NO_SOCKET);
}

/** A view of a link: the shared read side and a writable of its own. */
export function linkView(
  core: LinkCore,
  driver: AtDriver,
  options: LinkStreamOptions = {},
): HostLink {
  const writeMode = options.write ?? "raw";
  const linkId = core.linkId;
  let writable: WritableStream<Uint8Array> | undefined;
  return {
    linkId,
    get readable() {
      return core.readable;
    },
    get writable() {
      writable ??= new WritableStream<Uint8Array>({
        async write(chunk) {
          if (chunk.length === 0) return;
          if (writeMode === "raw") {
            await driver.sendRaw(linkId, chunk, options.destination);
          } else await driver.send(linkId, chunk, options.destination);
        },
      });
      return writable;
    },
    async close() {
      if (core.detached) return;
      core.end();
      await driver.remove(linkId);
    },
  };
}

/**
 * Wraps a link id of a driver in streams. A link the driver made
 * ({@linkcode AtDriver.connect}, {@linkcode AtDriver.listen} seeds) shares
 * its buffer, so nothing that arrived before is lost; the read side is
 * claimed at once.
 */
export function linkStreams(
  driver: AtDriver,
  linkId: number,
  options: LinkStreamOptions = {},
): HostLink {
  const link = driver.link(linkId, options);
  void link.readable; // Claim it: the caller asked for streams.
  return link;
}
