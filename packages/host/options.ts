/**
 * The options of the host driver: of the driver, of one command, of the
 * watch.
 *
 * @module
 */

import type { FlowControl } from "@atsock/protocol";

// deno-lint-ignore no-unused-vars
import type { AtDriver } from "./driver.ts";

/** The default time limit per command, in ms. */
export const DEFAULT_TIMEOUT_MS = 10000;

/** The default `closeCheckMs`. */
export const DEFAULT_CLOSE_CHECK_MS = 1000;

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
  /**
   * The module's UART flow control, as it is built and wired (default
   * `none`, the firmware's): the default of every
   * {@linkcode AtDriver.sendRaw}, and so of the writes of link streams.
   * With `rts` the hardware holds the host back and raw payloads go
   * without the pause before each 8 KiB piece that `none` needs (a few
   * MB/s). Give `rts` only when the module really has it: without it, a
   * module drops what its full TT buffer cannot take.
   */
  flowControl?: FlowControl;
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

/** Options for {@linkcode AtDriver.watch}. */
export interface WatchOptions {
  /** Time between probes (`AT+SKTSTATE`) while the driver is idle. */
  intervalMs: number;
  /** Time limit of a probe (default: the driver's). */
  timeoutMs?: number;
}
