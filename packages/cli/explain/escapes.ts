/**
 * Control bytes written as escapes on the command line, and bytes shown
 * safely on a terminal.
 *
 * `\r`, `\n`, `\t`, `\0` and `\xNN` (two hex digits) stand for one byte.
 * A pair `\\` is kept as typed (two backslashes), and so is a backslash
 * before anything else: the module's own escapes in `AT+SKTSEND` data (`\,`
 * and `\\`) are written exactly as they are sent. A lone backslash byte
 * before `r`, `n`, `t`, `0` or `x` is written `\x5c`. Other characters
 * stand for their UTF-8 bytes.
 *
 * @module
 */

import { type EscapeRules, EscapeScanError, scanEscapes } from "../escapes.ts";

/** The escapes of a typed command line: the module's own `\\,` and `\\\\` stay as typed. */
const LINE_ESCAPES: EscapeRules = {
  bytes: { r: 0x0d, n: 0x0a, t: 0x09, "0": 0x00 },
  keep: "\\",
  other: "keep",
};

/** Thrown for a malformed `\x` escape. */
export class EscapeError extends Error {
  /** Creates an error with a one-line message. */
  constructor(message: string) {
    super(message);
    this.name = "EscapeError";
  }
}

/** Turns typed text with escapes into the bytes it stands for. */
export function unescapeLine(text: string): Uint8Array {
  try {
    return scanEscapes(text, LINE_ESCAPES).bytes;
  } catch (e) {
    if (e instanceof EscapeScanError) {
      throw new EscapeError(
        `"\\x" must be followed by two hex digits (at character ${e.at + 1})`,
      );
    }
    throw e;
  }
}

/**
 * Bytes as printable ASCII for a terminal or JSON: control bytes and bytes
 * above 0x7e as `\r`, `\n`, `\t`, `\0` or `\xNN`; everything else as is,
 * except a backslash that would read as an escape (`\x5c`): what is shown
 * gives the same bytes back through {@linkcode unescapeLine}. At most
 * `limit` bytes are shown, then how many more there are.
 */
export function showBytes(bytes: Uint8Array, limit = Infinity): string {
  let text = "";
  const n = Math.min(bytes.length, limit);
  for (let i = 0; i < n; i++) {
    const b = bytes[i];
    if (b === 0x5c) {
      // Shown so that unescapeLine gives the same bytes back.
      const next = bytes[i + 1];
      if (next === 0x5c && i + 1 < n) {
        text += "\\\\";
        i++;
      } else if (
        next !== undefined &&
        (next < 0x20 || next > 0x7e ||
          "rnt0x".includes(String.fromCharCode(next)))
      ) {
        text += "\\x5c";
      } else text += "\\";
    } else if (b === 0x0d) text += "\\r";
    else if (b === 0x0a) text += "\\n";
    else if (b === 0x09) text += "\\t";
    else if (b === 0x00) text += "\\0";
    else if (b < 0x20 || b > 0x7e) {
      text += `\\x${b.toString(16).padStart(2, "0")}`;
    } else text += String.fromCharCode(b);
  }
  if (bytes.length > n) text += `... (${bytes.length - n} more bytes)`;
  return text;
}
