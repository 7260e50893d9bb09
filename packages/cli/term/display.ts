/**
 * How the terminal shows a session: what kind each line is (typed by the
 * user, an answer, an unsolicited line, a note of the terminal's own), binary
 * payloads made safe to print (escaped, or as a hex dump), and the styles:
 * colour, or plain text with a prefix per kind, with optional timestamps.
 * Pure: no I/O.
 *
 * @module
 */

import { type EscapeRules, EscapeScanError, scanEscapes } from "../escapes.ts";
import type { ModuleEvent } from "@atsock/protocol";

/** What a line on the screen is. */
export type LineKind =
  /** A line the user sent to the module. */
  | "sent"
  /** Raw bytes sent after `>>>`. */
  | "payload"
  /** An information line of an answer, `+SKTREAD`, `>>>`. */
  | "answer"
  /** `OK`. */
  | "ok"
  /** `ERROR: <n>`, with a hint. */
  | "error"
  /** An unsolicited line (`[$]...`, `ATCMD READY`). */
  | "urc"
  /** An echo the terminal did not expect. */
  | "echo"
  /** The terminal's own words. */
  | "note"
  /** The terminal's own words about something wrong. */
  | "warning";

/** One line to show. Its text is already safe to print (no control characters). */
export interface Shown {
  /** What it is. */
  kind: LineKind;
  /** The text, without prefix or line end. */
  text: string;
  /** For an error: what the code means (shown after `->`). */
  hint?: string;
}

/** Prefixes that tell the kinds apart without colour. */
export const PLAIN_PREFIX: Readonly<Record<LineKind, string>> = {
  sent: "> ",
  payload: "> ",
  answer: "< ",
  ok: "< ",
  error: "< ",
  echo: "< ",
  urc: "* ",
  note: "# ",
  warning: "# ",
};

const SGR: Readonly<Record<LineKind, string>> = {
  sent: "1",
  payload: "1",
  answer: "",
  ok: "32",
  error: "31",
  echo: "2",
  urc: "36",
  note: "35",
  warning: "33",
};

/** Options for {@linkcode styleLine}. */
export interface StyleOptions {
  /** ANSI colours (true) or plain prefixes (false). */
  colour: boolean;
  /** A timestamp to put in front, when timestamps are on. */
  time?: string;
}

/**
 * Renders a line for the screen (without line end). In colour, answers are
 * plain, OK green, ERROR red with a yellow hint, unsolicited lines cyan,
 * stray echoes dim; the user's lines keep their `> ` and the terminal's notes
 * their `# `. Without colour every kind has a prefix (see {@linkcode PLAIN_PREFIX}).
 */
export function styleLine(line: Shown, options: StyleOptions): string {
  const time = options.time ? options.time + " " : "";
  const hint = line.hint ? `  -> ${line.hint}` : "";
  if (!options.colour) {
    return time + PLAIN_PREFIX[line.kind] + line.text + hint;
  }
  const keep = line.kind === "sent" || line.kind === "payload" ||
      line.kind === "note" || line.kind === "warning"
    ? PLAIN_PREFIX[line.kind]
    : "";
  const sgr = SGR[line.kind];
  const body = sgr
    ? `\x1b[${sgr}m${keep}${line.text}\x1b[0m`
    : keep + line.text;
  return (time ? `\x1b[2m${time}\x1b[0m` : "") + body +
    (hint ? `\x1b[33m${hint}\x1b[0m` : "");
}

/** A line of the session log: ISO time, direction prefix, text, hint. */
export function logLine(line: Shown, date: Date): string {
  return `${date.toISOString()} ${styleLine(line, { colour: false })}`;
}

/** Local wall-clock time with milliseconds, `HH:MM:SS.mmm`. */
export function clock(date: Date): string {
  const two = (n: number) => String(n).padStart(2, "0");
  return `${two(date.getHours())}:${two(date.getMinutes())}:${
    two(date.getSeconds())
  }.${String(date.getMilliseconds()).padStart(3, "0")}`;
}

const ESCAPES: Readonly<Record<number, string>> = {
  0x09: "\\t",
  0x0a: "\\n",
  0x0d: "\\r",
  0x5c: "\\\\",
};

/** Each byte value as escaped text, and as hex and as a hex dump's ASCII column. */
const ESCAPED: readonly string[] = Array.from(
  { length: 256 },
  (_, byte) =>
    ESCAPES[byte] ??
      (byte >= 0x20 && byte <= 0x7e
        ? String.fromCharCode(byte)
        : "\\x" + byte.toString(16).padStart(2, "0")),
);
const HEX: readonly string[] = Array.from(
  { length: 256 },
  (_, byte) => byte.toString(16).padStart(2, "0"),
);
const DUMP_ASCII: readonly string[] = Array.from(
  { length: 256 },
  (_, byte) => byte >= 0x20 && byte <= 0x7e ? String.fromCharCode(byte) : ".",
);

/**
 * Bytes as printable text: ASCII 0x20..0x7e as is (a backslash doubled),
 * `\r` `\n` `\t`, and `\xNN` for everything else, so no byte from the
 * network can move the cursor or change the terminal's state.
 *
 * @example
 * ```ts
 * import { escapeBytes } from "./display.ts";
 * escapeBytes(new Uint8Array([0x68, 0x69, 0x00, 0x0d, 0x0a])); // "hi\\x00\\r\\n"
 * ```
 */
export function escapeBytes(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i++) out += ESCAPED[bytes[i]];
  return out;
}

/** A string of characters 0..255 (a Latin-1-decoded line) made printable like {@linkcode escapeBytes}, except that backslashes stay single. */
export function escapeText(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/[\x00-\x1f\x7f-\uffff]/g, (c) => {
    const code = c.charCodeAt(0);
    const named = ESCAPES[code];
    return named ?? "\\x" + code.toString(16).padStart(2, "0");
  });
}

/**
 * Parses the escapes a user may type in a raw payload: `\r`, `\n`, `\t`,
 * `\\`, `\xNN`; other characters are sent as UTF-8. Throws `SyntaxError`
 * for a bad escape.
 *
 * @example
 * ```ts
 * import { unescapePayload } from "./display.ts";
 * unescapePayload("hi\\r\\n"); // Uint8Array [104, 105, 13, 10]
 * ```
 */
export function unescapePayload(text: string): Uint8Array {
  try {
    return scanEscapes(text, PAYLOAD_ESCAPES).bytes;
  } catch (e) {
    if (!(e instanceof EscapeScanError)) throw e;
    throw new SyntaxError(
      e.problem === "hex"
        ? `bad escape \\x${e.escape}: use \\xNN, two hex digits`
        : e.escape === ""
        ? "a lone \\ at the end: write \\\\ for a backslash"
        : `unknown escape \\${e.escape}: use \\r \\n \\t \\\\ or \\xNN`,
    );
  }
}

/** The escapes of a raw payload: `\\r \\n \\t \\\\ \\xNN`, nothing else. */
const PAYLOAD_ESCAPES: EscapeRules = {
  bytes: { r: 0x0d, n: 0x0a, t: 0x09, "\\": 0x5c },
  other: "refuse",
};

/**
 * A classic hex dump: offset, 16 bytes in hex, and the printable ASCII.
 *
 * @example
 * ```ts
 * import { hexDump } from "./display.ts";
 * hexDump(new TextEncoder().encode("Hi\n"));
 * // ["0000  48 69 0a                                          |Hi.|"]
 * ```
 */
export function hexDump(bytes: Uint8Array): string[] {
  const lines: string[] = [];
  for (let offset = 0; offset < bytes.length; offset += 16) {
    const end = Math.min(offset + 16, bytes.length);
    let hex = "";
    let ascii = "";
    for (let i = offset; i < end; i++) {
      hex += (i === offset ? "" : i === offset + 8 ? "  " : " ") +
        HEX[bytes[i]];
      ascii += DUMP_ASCII[bytes[i]];
    }
    lines.push(
      `${offset.toString(16).padStart(4, "0")}  ${hex.padEnd(48)}  |${ascii}|`,
    );
  }
  return lines;
}

/**
 * A header followed by a payload: on one line, escaped, or (with `hex`)
 * the header alone and then hex dump lines.
 */
export function withPayload(
  kind: LineKind,
  header: string,
  data: Uint8Array,
  hex: boolean,
): Shown[] {
  if (!hex || data.length === 0) {
    return [{ kind, text: header + escapeBytes(data) }];
  }
  return [
    { kind, text: header },
    ...hexDump(data).map((text) => ({ kind, text: "  " + text })),
  ];
}

/** Events that this module turns into lines on its own (echo, OK and ERROR need the session). */
export type ShownEvent = Exclude<
  ModuleEvent,
  { type: "echo" | "ok" | "error" }
>;

/** The lines that show a module event, as the module printed it but safe to print. */
export function describeEvent(event: ShownEvent, hex: boolean): Shown[] {
  switch (event.type) {
    case "line":
      return [{ kind: "answer", text: escapeText(event.text) }];
    case "read": {
      const sender = event.sender
        ? `${event.sender.ip},${event.sender.port},`
        : "";
      const lines = withPayload(
        "answer",
        `+SKTREAD:${event.linkId},${event.size},${sender}`,
        event.data,
        hex,
      );
      if (event.truncated) {
        lines.push({
          kind: "note",
          text:
            `the module cut the data at a NUL byte: ${event.data.length} of ${event.size} bytes shown`,
        });
      }
      return lines;
    }
    case "prompt":
      return [{ kind: "answer", text: ">>>" }];
    case "ready":
      return [{ kind: "urc", text: "ATCMD READY" }];
    case "connect":
      return [{
        kind: "urc",
        text:
          `[$][SKT][EVENT]: A client[link_id:${event.linkId},seed,${event.protocol},dst_address:${event.peer.ip},dst_port:${event.peer.port}] connected to server[link_id:${event.serverId}]`,
      }];
    case "data": {
      const sender = event.sender
        ? `[${event.sender.ip}][${event.sender.port}]`
        : "";
      return withPayload(
        "urc",
        `[$][SKT][DATA][${event.linkId}][${event.data.length}]${sender}:`,
        event.data,
        hex,
      );
    }
    case "watermark":
      return [{
        kind: "urc",
        text: `[$][TT]:${event.level === "high" ? "High" : "Low"} Watermark`,
      }];
    case "urc":
      return [{ kind: "urc", text: escapeText(event.text) }];
    case "shell":
      // Manual Test Mode's log lines: the [MEM] line and the # prompt after
      // every command are left out; `unknown command` and the shell's
      // "Too long" line say something about what was typed.
      if (event.text === "#" || event.text.startsWith("[MEM]")) return [];
      return [{ kind: "note", text: escapeText(event.text.trim()) }];
    case "garbage":
      return [{
        kind: "warning",
        text: `unparsed output (${event.reason}): ${escapeBytes(event.bytes)}`,
      }];
  }
}
