/**
 * The options a virtual module is made with and the figures it reports.
 *
 * @module
 */

import type { FaultPlan } from "./fault_plan.ts";
import type { FlowControl } from "./raw_transfer.ts";
import type { TranscriptRecorder } from "./transcript.ts";

/** Manual Test Mode (a person on a terminal) or Host Control Mode (a host MCU). */
export type ConsoleMode = "manual" | "host";

/** Options for {@linkcode createModule}. */
export interface ModuleOptions {
  /** Console mode (default `manual`, as the default firmware build). */
  mode?: ConsoleMode;
  /**
   * The console line buffer, `UART_LOG_CMD_BUFLEN` (default 2000, from 8 to
   * 65535): a line ending in CR LF holds at most this less 2 bytes. Throws
   * a RangeError on anything else.
   */
  lineBuffer?: number;
  /** Local address servers listen on (default `127.0.0.1`). */
  bindAddress?: string;
  /** The address the module reports as its own (default: the bind address, or the first external IPv4 address when binding to 0.0.0.0). */
  ip?: string;
  /** Pace console output at this baud rate (default: unpaced). */
  baud?: number;
  /** How long a TCP connect may take before `ERROR: 2` (default 10000 ms). */
  connectTimeoutMs?: number;
  /** Certificate directory holding `CERT/<side>_<ca|cert|key>_<i>.*` (TLS types). */
  certs?: string;
  /** Called with a one-line notice for the operator (stderr in the CLI). Never gets key material. */
  log?: (message: string) => void;
  /**
   * Outgoing connections and datagrams allowed, as `HOST[:PORT]` entries
   * (an IPv4 address or a host name; no port: any). Anything else answers
   * the command's error code and says why in the log. Default: every
   * destination Deno's permissions allow. Throws `ConnectRuleError` on a
   * malformed entry.
   */
  allowConnect?: readonly string[];
  /**
   * Records the console both ways and each link's network events (see
   * `docs/transcripts.md`). The module writes the header; its owner closes it.
   */
  transcript?: TranscriptRecorder;
  /**
   * A fault plan (see `docs/fault-injection.md`): what goes wrong, when,
   * with which seed. Without one the module is the faithful one.
   */
  faults?: FaultPlan;
  /**
   * The AT UART's flow control (default `none`, as the firmware's default
   * wiring): `none` prints watermarks in `AT+SKTSENDRAW` and drops console
   * bytes that find the 80 KiB TT buffer full; `rts` prints none and holds
   * the console back instead.
   */
  flowControl?: FlowControl;
  /**
   * The mbedtls major version of the firmware build (default 2). The
   * firmware never sets a host name: with 2 a verifying TLS client (types
   * 3 and 5) checks the server's chain only; with 3 (3.6.3 and later)
   * their handshake fails (`ERROR: 14`). No SNI is sent either way.
   */
  mbedtls?: 2 | 3;
}

/** Memory a module holds, from {@linkcode VirtualModule.stats}. */
export interface ModuleStats {
  /** Link ids in use. */
  links: number;
  /** Bytes queued for the console (answers, held unsolicited lines). */
  consoleOutput: number;
  /** Console bytes received and not yet processed. */
  consoleInput: number;
  /** Bytes held on TCP links for `AT+SKTREAD`. */
  received: number;
  /** Datagrams held on UDP links for `AT+SKTREAD`. */
  datagrams: number;
  /** TCP/TLS links whose peer has ended the stream (shown or not as `socket_fd:-1`). */
  ended: number;
  /** Bytes of an `AT+SKTSENDRAW` payload taken in (the TT buffer and the piece being gathered), not yet sent. */
  transparent: number;
  /** Console bytes dropped since start because the TT buffer was full (flow control `none`). */
  transparentDropped: number;
}
