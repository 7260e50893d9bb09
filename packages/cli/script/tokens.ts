/**
 * The words of an `atsock run` keyword line: plain words, "quoted strings"
 * (with escapes, as bytes) and /regexes/ where a pattern goes.
 *
 * @module
 */

import { decodeLatin1, encode, encodeLatin1 } from "@atsock/protocol";
import { type EscapeRules, EscapeScanError, scanEscapes } from "../escapes.ts";

/** A line that cannot be read; its message becomes the line's problem. */
export class LineError extends Error {}

/** One word of a keyword line. */
export interface Token {
  kind: "word" | "string" | "regex";
  /** The value: the word, the unescaped string, or the regex source. */
  text: string;
  /** As written. */
  source: string;
  regex?: RegExp;
}

/** A /regex/ is read only where a pattern goes: after `expect line` or `expect urc`. */
function patternNext(tokens: Token[]): boolean {
  return tokens.length === 2 && tokens[0].text === "expect" &&
    (tokens[1].text === "line" || tokens[1].text === "urc");
}

/** Splits a keyword line into words, "strings" and /regexes/; stops at a comment. */
export function tokenize(body: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < body.length) {
    if (/\s/.test(body[i])) {
      i++;
      continue;
    }
    const start = i;
    if (body[i] === "#") break;
    if (body[i] === '"') {
      const { text, end } = readString(body, i);
      i = end;
      tokens.push({ kind: "string", text, source: body.slice(start, i) });
    } else if (body[i] === "/" && patternNext(tokens)) {
      i++;
      let inClass = false;
      while (i < body.length && (inClass || body[i] !== "/")) {
        if (body[i] === "\\") i++;
        else if (body[i] === "[") inClass = true;
        else if (body[i] === "]") inClass = false;
        i++;
      }
      if (i >= body.length) throw new LineError("the /regex/ is not closed");
      const source = body.slice(start + 1, i);
      i++;
      const flagStart = i;
      while (i < body.length && /[a-z]/.test(body[i])) i++;
      const flags = body.slice(flagStart, i);
      if (/[gy]/.test(flags)) {
        throw new LineError("regex flags g and y are not allowed");
      }
      let regex: RegExp;
      try {
        // The module's lines are one character per byte: so is the regex.
        regex = new RegExp(decodeLatin1(encode(source)), flags);
      } catch (e) {
        throw new LineError(
          `bad regex /${source}/${flags}: ${
            (e as Error).message.replace(/^Invalid regular expression: /, "")
          }`,
        );
      }
      tokens.push({
        kind: "regex",
        text: source,
        source: body.slice(start, i),
        regex,
      });
    } else {
      while (i < body.length && !/\s/.test(body[i])) i++;
      const word = body.slice(start, i);
      tokens.push({ kind: "word", text: word, source: word });
      continue;
    }
    if (i < body.length && !/\s/.test(body[i])) {
      throw new LineError(`put a space after ${body.slice(start, i)}`);
    }
  }
  return tokens;
}

/** The escapes of a quoted string, which ends at the first unescaped `"`. */
const STRING_ESCAPES: EscapeRules = {
  bytes: { '"': 0x22, "\\": 0x5c, r: 0x0d, n: 0x0a, t: 0x09, "0": 0x00 },
  other: "refuse",
  end: '"',
};

/**
 * Reads a double-quoted string with \" \\ \r \n \t \0 \xNN escapes as
 * bytes (UTF-8 for the characters written, one byte per \xNN), returned
 * one character per byte (latin1), as the module's lines are decoded.
 */
function readString(body: string, at: number): { text: string; end: number } {
  try {
    const { bytes, next } = scanEscapes(body, STRING_ESCAPES, at + 1);
    return { text: decodeLatin1(bytes), end: next };
  } catch (e) {
    if (!(e instanceof EscapeScanError)) throw e;
    if (e.problem === "unclosed") {
      throw new LineError("the quoted string is not closed");
    }
    const next = e.problem === "hex" ? "x" : e.escape;
    throw new LineError(
      `unknown escape \\${next} (use \\" \\\\ \\r \\n \\t \\0 \\xNN)`,
    );
  }
}

/** A `default NAME=VALUE` value: as written, or a quoted string read as UTF-8. */
export function unquote(value: string): string {
  if (!value.startsWith('"')) return value;
  const { text, end } = readString(value, 0);
  if (end !== value.length) throw new LineError("text after the quoted value");
  return new TextDecoder().decode(encodeLatin1(text));
}
