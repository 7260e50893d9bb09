/**
 * Transparent transmission (`AT+SKTSENDRAW`) as the firmware does it
 * (Ameba-AIoT/ameba-rtos `atcmd_service.c` `atcmd_tt_mode_start`/`_get`/
 * `_end`, `tt_mode_timeout_handler`; `at_intf_uart.c` `atio_uart_handler`;
 * `atcmd_sockets.c` `atcmd_lwip_start_tt_handle`):
 *
 * - console bytes go into a ring buffer of `min(size + 1, 80 KiB)` bytes
 *   (it holds one byte less) as they arrive, in pieces of at most 1 KiB
 *   (the UART handler's buffer); a piece that does not fit is dropped
 *   whole unless the UART has RTS flow control (then the console waits);
 * - a sender takes the payload out in pieces of at most 10 KiB and sends
 *   each piece at once (on UDP: one datagram each), at the network's pace;
 * - watermarks (80 KiB buffer, no RTS): `[$][TT]:High Watermark` when the
 *   free space left after a piece is at most 24576 bytes,
 *   `[$][TT]:Low Watermark` when the sender finds fewer than 16384 held;
 * - abort: three chunks of one `<` each, then 30 ms without a byte, stop
 *   the sender once the buffer is empty (the `<` bytes are payload).
 *
 * @module
 */

import {
  concat,
  type Endpoint,
  ERR,
  type FlowControl,
  HIGH_WATERMARK,
  LOW_WATERMARK,
  TT_ABORT_SILENCE_MS,
  TT_BUFFER_SIZE,
  TT_HIGH_WATERMARK_FREE,
  TT_LOW_WATERMARK_HELD,
  TT_PIECE_SIZE,
} from "@atsock/protocol";
import type { ConsoleOutput } from "./output.ts";
import type { StreamLink } from "./links.ts";
import { UdpLink } from "./udp_link.ts";

export type { FlowControl } from "@atsock/protocol";

/** Bytes the UART handler takes from the FIFO at once (UART_TT_BUF_LEN). */
export const UART_TT_BUF_LEN = 1024;

const LT = 0x3c;

/** Most bytes of complete pieces sent in one write (no watermarks, TCP/TLS). */
export const TT_BATCH = 256 * 1024;

function joinPieces(pieces: Uint8Array[], length: number): Uint8Array {
  // Views of one console read that follow each other: one view, no copy.
  const first = pieces[0];
  let end = first.byteOffset + first.length;
  let adjacent = true;
  for (let i = 1; i < pieces.length && adjacent; i++) {
    adjacent = pieces[i].buffer === first.buffer &&
      pieces[i].byteOffset === end;
    end += pieces[i].length;
  }
  if (adjacent) {
    return new Uint8Array(first.buffer, first.byteOffset, length);
  }
  return concat(pieces);
}

/**
 * The firmware's TT globals, which outlive one transfer: the watermark
 * flags, the stop flag and count, and the stop timer (`xTimers_TT_Mode`).
 */
export class TtGlobals {
  /** `g_tt_mode_indicate_high_watermark`. */
  highIndicated = false;
  /** `g_tt_mode_indicate_low_watermark`. */
  lowIndicated = true;
  /** `g_tt_mode_stop_flag`. */
  stopFlag = false;
  /** `g_tt_mode_stop_char_cnt`. */
  stopChars = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Wakes the transfer under way, if any, when the stop timer fires. */
  wake: (() => void) | undefined;

  /** Whether the stop timer is running. */
  get timerActive(): boolean {
    return this.#timer !== undefined;
  }

  /** Starts the 30 ms stop timer. */
  startTimer(): void {
    this.#timer = setTimeout(() => {
      // firmware rule tt-abort-timer
      this.#timer = undefined;
      this.stopFlag = true;
      this.stopChars = 0;
      this.wake?.();
    }, TT_ABORT_SILENCE_MS);
  }

  /** Stops the stop timer. */
  stopTimer(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Back to power-up values (a module reset or close). */
  reset(): void {
    this.stopTimer();
    this.highIndicated = false;
    this.lowIndicated = true;
    this.stopFlag = false;
    this.stopChars = 0;
    this.wake = undefined;
  }
}

/** What a {@linkcode RawTransfer} needs. */
export interface RawTransferOptions {
  /** The announced payload size. */
  size: number;
  /** The link the payload goes to. */
  link: StreamLink | UdpLink;
  /** Where UDP datagrams go (UDP servers). */
  destination?: Endpoint;
  /** The console output, for watermark lines. */
  output: ConsoleOutput;
  /** The UART's flow control. */
  flowControl: FlowControl;
  /** The firmware's TT globals (one set per module). */
  globals: TtGlobals;
}

/**
 * One `AT+SKTSENDRAW` payload under way: feed console bytes with
 * {@linkcode RawTransfer.arrive}; {@linkcode RawTransfer.done} gives the
 * error code to answer (0 for OK).
 */
export class RawTransfer {
  /** Bytes the ring holds at most (its size less one). */
  readonly capacity: number;
  /** Whether watermark lines are printed. */
  readonly watermarks: boolean;
  /** The error code to answer (0: OK; 2: a send failed; 4: nothing came or aborted). */
  readonly done: Promise<number>;
  /** Why a send failed, when it did. */
  failure: string | undefined;
  #options: RawTransferOptions;
  #ring: Uint8Array[] = [];
  #ringPos = 0;
  #held = 0;
  #gathered = 0;
  #dropped = 0;
  #sent = 0;
  #ended = false;
  #abandoned = false;
  #hungUp = false;
  #wake: (() => void) | undefined;
  #room: (() => void)[] = [];

  /** The announced payload size. */
  readonly size: number;

  /** Starts the transfer (the caller prints `>>>`). */
  constructor(options: RawTransferOptions) {
    this.#options = options;
    this.size = options.size;
    // firmware rule tt-ring-size
    const ringSize = options.size >= TT_BUFFER_SIZE
      ? TT_BUFFER_SIZE
      : options.size + 1;
    this.capacity = ringSize - 1;
    this.watermarks = ringSize === TT_BUFFER_SIZE &&
      options.flowControl === "none";
    options.globals.wake = () => this.#wakeSender();
    this.done = this.#run(options.size);
  }

  /** Bytes held in the ring, not yet taken by the sender. */
  get held(): number {
    return this.#held;
  }

  /** Bytes taken in (held, or gathered into the piece being filled or sent), not yet sent. */
  get pending(): number {
    return this.#held + this.#gathered;
  }

  /** Bytes dropped because the ring was full. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Bytes handed to the link. */
  get sent(): number {
    return this.#sent;
  }

  /** Whether the transfer has ended (tt mode left). */
  get ended(): boolean {
    return this.#ended;
  }

  /**
   * Console bytes, as one read of the console brought them. Returns a
   * promise only with RTS flow control while the ring is full (the console
   * is held back); bytes arriving after the transfer ended are ignored.
   */
  arrive(bytes: Uint8Array): void | Promise<void> {
    if (!this.#ended && bytes.length <= this.capacity - this.#held) {
      return this.#arriveWhole(bytes);
    }
    if (this.#options.flowControl === "rts") return this.#arriveHeld(bytes);
    for (let i = 0; i < bytes.length; i += UART_TT_BUF_LEN) {
      if (this.#ended) return;
      this.#uart(bytes.subarray(i, i + UART_TT_BUF_LEN));
    }
  }

  async #arriveHeld(bytes: Uint8Array): Promise<void> {
    // RTS: no drops and no watermarks, so the pieces that fit go in
    // together (whole 1 KiB pieces, so the stop count sees the same ones).
    let at = 0;
    while (at < bytes.length) {
      if (this.#ended) return;
      const rest = bytes.length - at;
      const room = this.capacity - this.#held;
      const fit = rest <= room
        ? rest
        : Math.floor(room / UART_TT_BUF_LEN) * UART_TT_BUF_LEN;
      if (fit === 0) {
        await new Promise<void>((resolve) => this.#room.push(resolve));
        continue;
      }
      this.#arriveWhole(bytes.subarray(at, at + fit));
      at += fit;
    }
  }

  /**
   * A read that fits whole: the same as {@linkcode RawTransfer.#uart} for
   * each of its pieces, but kept as one entry of the ring (fewer copies).
   */
  #arriveWhole(bytes: Uint8Array): void {
    const g = this.#options.globals;
    const space = this.capacity - this.#held;
    const n = bytes.length;
    if (this.watermarks && !g.highIndicated) {
      // The first piece after which the free space is 24576 or less.
      for (let end = Math.min(n, UART_TT_BUF_LEN);; end += UART_TT_BUF_LEN) {
        const last = Math.min(end, n);
        if (space - last <= TT_HIGH_WATERMARK_FREE) {
          g.highIndicated = true;
          g.lowIndicated = false;
          this.#options.output.answer(HIGH_WATERMARK);
          break;
        }
        if (last === n) break;
      }
    }
    if (n > 0) {
      this.#ring.push(bytes);
      this.#held += n;
      this.#wakeSender();
    }
    for (let i = 0; i < n; i += UART_TT_BUF_LEN) {
      const length = Math.min(UART_TT_BUF_LEN, n - i);
      this.#stopChars(length === 1 && bytes[i] === LT);
    }
  }

  /** The stop-character count and timer, for one piece read from the FIFO. */
  #stopChars(loneLt: boolean): void {
    const g = this.#options.globals;
    // firmware rule tt-abort-chars
    if (loneLt) g.stopChars++;
    else g.stopChars = 0;
    if (!g.stopFlag && g.timerActive) {
      g.stopTimer();
      g.stopChars = 0;
    }
    if (g.stopChars >= 3 && !g.timerActive) g.startTimer();
  }

  /** `atio_uart_handler` in tt mode, for one piece read from the FIFO. */
  #uart(piece: Uint8Array): void {
    const g = this.#options.globals;
    const n = piece.length;
    const space = this.capacity - this.#held;
    // firmware rule tt-high-watermark
    // (`space - n` is unsigned there: no High for a piece that cannot fit.)
    if (
      this.watermarks && space >= n &&
      space - n <= TT_HIGH_WATERMARK_FREE && !g.highIndicated
    ) {
      g.highIndicated = true;
      g.lowIndicated = false;
      this.#options.output.answer(HIGH_WATERMARK);
    }
    if (space >= n) {
      this.#ring.push(piece);
      this.#held += n;
      this.#wakeSender();
    } else {
      // firmware rule tt-drop-when-full
      this.#dropped += n;
    }
    this.#stopChars(n === 1 && piece[0] === LT);
  }

  #wakeSender(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  /** Copies `count` held bytes into `out` at `offset`. */
  #read(out: Uint8Array, offset: number, count: number): void {
    while (count > 0) {
      const chunk = this.#ring[0];
      const take = Math.min(count, chunk.length - this.#ringPos);
      out.set(chunk.subarray(this.#ringPos, this.#ringPos + take), offset);
      offset += take;
      count -= take;
      this.#ringPos += take;
      if (this.#ringPos === chunk.length) {
        this.#ring.shift();
        this.#ringPos = 0;
      }
    }
  }

  /** `atcmd_tt_mode_get`: up to `length` (at most 10 KiB) bytes, fewer after a stop. */
  async #get(length: number): Promise<Uint8Array> {
    const g = this.#options.globals;
    const size = Math.min(length, TT_PIECE_SIZE);
    let out: Uint8Array | undefined;
    let want = size;
    let filled = 0;
    while (want > 0 && !this.#abandoned) {
      if ((g.stopFlag || this.#hungUp) && this.#held === 0) break;
      while (this.#held === 0 && !this.#abandoned) {
        await new Promise<void>((resolve) => (this.#wake = resolve));
        if (g.stopFlag || this.#hungUp) break;
      }
      const available = this.#held;
      if (available === 0 || this.#abandoned) continue;
      // firmware rule tt-low-watermark
      if (
        this.watermarks && available < TT_LOW_WATERMARK_HELD &&
        !g.lowIndicated
      ) {
        g.lowIndicated = true;
        g.highIndicated = false;
        this.#options.output.answer(LOW_WATERMARK);
      }
      const take = Math.min(available, want);
      const first = this.#ring[0];
      if (
        out === undefined && take === size &&
        first.length - this.#ringPos >= take
      ) {
        // The whole piece lies in one read: a view, no copy.
        out = first.subarray(this.#ringPos, this.#ringPos + take);
        this.#ringPos += take;
        if (this.#ringPos === first.length) {
          this.#ring.shift();
          this.#ringPos = 0;
        }
      } else {
        out ??= new Uint8Array(size);
        this.#read(out, filled, take);
      }
      this.#held -= take;
      filled += take;
      this.#gathered += take;
      want -= take;
      for (const resolve of this.#room.splice(0)) resolve();
    }
    return out === undefined ? new Uint8Array(0) : out.subarray(0, filled);
  }

  /** Sends one piece; false when the send failed. */
  async #send(piece: Uint8Array): Promise<boolean> {
    const { link, destination } = this.#options;
    try {
      if (link instanceof UdpLink) await link.send(piece, destination);
      else await link.send(piece);
      this.#sent += piece.length;
      return true;
    } catch (e) {
      this.failure = e instanceof Error ? e.message : String(e);
      return false;
    } finally {
      this.#gathered = 0;
    }
  }

  /** `atcmd_lwip_start_tt_handle`, from `atcmd_tt_mode_start` on. */
  async #run(size: number): Promise<number> {
    // firmware rule tt-pieces
    const g = this.#options.globals;
    try {
      if (size <= TT_PIECE_SIZE) {
        const piece = await this.#get(size);
        if (piece.length === 0) return ERR.SKTSENDRAW.TT_DATA;
        return (await this.#send(piece)) ? 0 : ERR.SKTSENDRAW.SEND;
      }
      // After a failed send the firmware leaves tt mode at once and reads
      // the rest of the payload as commands; we take the announced bytes
      // and answer ERROR: 2 after them (docs/behaviour.md).
      let failed = false;
      // Without watermarks nothing shows when a piece leaves the ring: on
      // a byte stream, pieces already complete go in one write (the peer
      // sees the same bytes, in fewer syscalls). With watermarks each piece
      // waits for the send before it, as in the firmware.
      const batch = !this.watermarks &&
        !(this.#options.link instanceof UdpLink);
      let remaining = size;
      while (remaining > 0) {
        const piece = await this.#get(Math.min(remaining, TT_PIECE_SIZE));
        if (piece.length === 0) {
          return failed ? ERR.SKTSENDRAW.SEND : ERR.SKTSENDRAW.TT_DATA;
        }
        remaining -= piece.length;
        let out = piece;
        if (batch && piece.length === TT_PIECE_SIZE) {
          const pieces = [piece];
          let length = piece.length;
          while (
            remaining > 0 && length < TT_BATCH && !g.stopFlag &&
            this.#held >= Math.min(remaining, TT_PIECE_SIZE)
          ) {
            const next = await this.#get(Math.min(remaining, TT_PIECE_SIZE));
            pieces.push(next);
            length += next.length;
            remaining -= next.length;
          }
          if (pieces.length > 1) out = joinPieces(pieces, length);
        }
        if (!failed && !(await this.#send(out))) failed = true;
        this.#gathered = 0;
      }
      return failed ? ERR.SKTSENDRAW.SEND : 0;
    } finally {
      this.#end();
    }
  }

  /** `atcmd_tt_mode_end`: the ring goes with what it holds. */
  #end(): void {
    const g = this.#options.globals;
    this.#ended = true;
    g.stopFlag = false;
    g.wake = undefined;
    this.#ring = [];
    this.#ringPos = 0;
    this.#held = 0;
    this.#gathered = 0;
    for (const resolve of this.#room.splice(0)) resolve();
  }

  /**
   * The console went away: what arrived is sent, as after a stop, and
   * {@linkcode RawTransfer.done} resolves once it is.
   */
  hangUp(): void {
    this.#hungUp = true;
    this.#wakeSender();
  }

  /**
   * Gives up (the module was reset or closed): nothing more is sent and
   * {@linkcode RawTransfer.done} resolves soon.
   */
  abandon(): void {
    this.#abandoned = true;
    this.#wakeSender();
    for (const resolve of this.#room.splice(0)) resolve();
  }
}
