/**
 * What a module prints, as events, and the classification of one complete
 * output line (final results, information lines, prompts, the unsolicited
 * `[$]` lines, Manual Test Mode shell lines). The byte-level framing is the
 * output parser's.
 *
 * @module
 */

import type { Endpoint } from "./types.ts";

/** What a module's output is made of. */
export type ModuleEvent =
  | {
    /** `OK`: the command in flight succeeded. */
    type: "ok";
  }
  | {
    /** `ERROR: <code>`: the command in flight failed. */
    type: "error";
    /** The code. */
    code: number;
  }
  | {
    /** An information line of an answer (SKTQUERY, SKTSTATE lines), not empty. */
    type: "line";
    /** The line's text. */
    text: string;
  }
  | {
    /** A command line echoed back in Manual Test Mode. */
    type: "echo";
    /** The echoed text. */
    text: string;
  }
  | {
    /**
     * A line the shell prints around commands in Manual Test Mode (the log
     * UART): `[MEM] After do cmd, available heap <n>`, the `#` prompt,
     * `unknown command '<word>'`, `<<<Too long cmd string.>>>`. Never part
     * of an answer.
     */
    type: "shell";
    /** The line's text. */
    text: string;
  }
  | {
    /** `+SKTREAD`: an answer's data (the OK follows as its own event). */
    type: "read";
    /** The link read. */
    linkId: number;
    /** Bytes the module read (may exceed `data.length`, see `truncated`). */
    size: number;
    /** The bytes printed. */
    data: Uint8Array;
    /** True when the module cut the printed data at a NUL byte. */
    truncated: boolean;
    /** The UDP sender, for UDP reads (`0.0.0.0:0` when nothing came). */
    sender?: Endpoint;
  }
  | {
    /** `>>>`: the module waits for the raw bytes of `AT+SKTSENDRAW`. */
    type: "prompt";
  }
  | {
    /** `ATCMD READY`: the module (re)started in Host Control Mode. */
    type: "ready";
  }
  | {
    /** A client connected to a server: a new seed. */
    type: "connect";
    /** The seed's link id. */
    linkId: number;
    /** `tcp` or `tls`. */
    protocol: "tcp" | "tls";
    /** The remote client. */
    peer: Endpoint;
    /** The server's link id. */
    serverId: number;
  }
  | {
    /** Data received on an `auto_rcv=1` link. */
    type: "data";
    /** The link. */
    linkId: number;
    /** The bytes. */
    data: Uint8Array;
    /** The UDP sender, for UDP links. */
    sender?: Endpoint;
  }
  | {
    /** The TT buffer filled (`high`: pause) or drained (`low`: go on). */
    type: "watermark";
    /** Which watermark. */
    level: "high" | "low";
  }
  | {
    /** Another `[$]` line this parser does not know. */
    type: "urc";
    /** Its text. */
    text: string;
  }
  | {
    /** Bytes that could not be parsed; the parser resynchronised after them. */
    type: "garbage";
    /** The bytes (at most the line limit, or a `+SKTREAD` payload and its tail). */
    bytes: Uint8Array;
    /** Why they were dropped. */
    reason: string;
  };

const CONNECT =
  /^\[\$\]\[SKT\]\[EVENT\]: A client\[link_id:(\d+),seed,(tcp|tls),dst_address:([^,\]]*),dst_port:(\d+)\] connected to server\[link_id:(\d+)\]$/;
const ERROR_LINE = /^ERROR: (\d+)$/;

const SHELL_LINE =
  /^(?:#|\[MEM\] After do cmd, available heap \d+|unknown command '.*'| <<<Too long cmd string\.>>> )$/s;

/** The event of one complete output line (not empty, without its line end). */
export function classify(text: string): ModuleEvent {
  if (text === "OK") return { type: "ok" };
  if (SHELL_LINE.test(text)) return { type: "shell", text };
  const error = ERROR_LINE.exec(text);
  if (error) return { type: "error", code: Number(error[1]) };
  if (text === ">>>") return { type: "prompt" };
  if (text === "ATCMD READY") return { type: "ready" };
  if (text.startsWith("[$]")) {
    if (text === "[$][TT]:High Watermark") {
      return { type: "watermark", level: "high" };
    }
    if (text === "[$][TT]:Low Watermark") {
      return { type: "watermark", level: "low" };
    }
    const m = CONNECT.exec(text);
    if (m) {
      return {
        type: "connect",
        linkId: Number(m[1]),
        protocol: m[2] as "tcp" | "tls",
        peer: { ip: m[3], port: Number(m[4]) },
        serverId: Number(m[5]),
      };
    }
    return { type: "urc", text };
  }
  if (text.startsWith("AT")) return { type: "echo", text };
  return { type: "line", text };
}
