/**
 * The one scanner of typed escapes (`\r`, `\xNN`, ...) the CLI has. Each
 * place that reads them passes its rule set: `explain` (a command line,
 * where the module's own `\,` and `\\` stay as typed), a raw payload in
 * `term` and `send`, and a quoted string of an `atsock run` script. Other
 * characters stand for their UTF-8 bytes.
 *
 * @module
 */

/** Which escapes a reader takes and what it does with the rest. */
export interface EscapeRules {
  /** Escapes of one character after the backslash, and the byte each stands for. */
  readonly bytes: Readonly<Record<string, number>>;
  /** Characters whose escape is kept as typed: the backslash and the character. */
  readonly keep?: string;
  /** A backslash before any other character (or at the end): kept as a byte, or refused. */
  readonly other: "keep" | "refuse";
  /** The character that ends the text, unescaped (a closing quote). */
  readonly end?: string;
}

/** Why an escape was refused. */
export type EscapeProblem =
  /** `\x` without two hex digits after it. */
  | "hex"
  /** A backslash before a character that is no escape, or at the end. */
  | "unknown"
  /** The text ended before `rules.end`. */
  | "unclosed";

/** An escape the rules refuse: where, and what followed the backslash. */
export class EscapeScanError extends Error {
  /** Why. */
  readonly problem: EscapeProblem;
  /** Index of the backslash in the text (of the start, for `unclosed`). */
  readonly at: number;
  /** What followed the backslash: the two characters after `\x`, the character, or `""`. */
  readonly escape: string;

  /** Creates the error. */
  constructor(problem: EscapeProblem, at: number, escape: string) {
    super(`${problem} escape at ${at}: "${escape}"`);
    this.name = "EscapeScanError";
    this.problem = problem;
    this.at = at;
    this.escape = escape;
  }
}

const BACKSLASH = 0x5c;
const encoder = new TextEncoder();

/**
 * Reads `text` from `from` up to its end, or up to `rules.end` (which is
 * then required): escapes become bytes by `rules`, other characters their
 * UTF-8 bytes. Returns the bytes and the index after what was read (after
 * the end character, when there is one).
 *
 * @throws {EscapeScanError} for an escape the rules refuse, or no end character.
 */
export function scanEscapes(
  text: string,
  rules: EscapeRules,
  from = 0,
): { bytes: Uint8Array; next: number } {
  const out: number[] = [];
  let i = from;
  while (i < text.length && text[i] !== rules.end) {
    if (text[i] !== "\\") {
      const code = text.codePointAt(i)!;
      if (code < 0x80) out.push(code);
      else out.push(...encoder.encode(String.fromCodePoint(code)));
      i += code > 0xffff ? 2 : 1;
      continue;
    }
    const next = text[i + 1];
    if (next === "x") {
      const hex = text.slice(i + 2, i + 4);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) {
        throw new EscapeScanError("hex", i, hex);
      }
      out.push(parseInt(hex, 16));
      i += 4;
    } else if (next !== undefined && next in rules.bytes) {
      out.push(rules.bytes[next]);
      i += 2;
    } else if (next !== undefined && rules.keep?.includes(next)) {
      out.push(BACKSLASH, next.charCodeAt(0));
      i += 2;
    } else if (rules.other === "keep") {
      out.push(BACKSLASH);
      i += 1;
    } else {
      throw new EscapeScanError("unknown", i, next ?? "");
    }
  }
  if (rules.end !== undefined) {
    if (i >= text.length) throw new EscapeScanError("unclosed", from, "");
    i += 1;
  }
  return { bytes: new Uint8Array(out), next: i };
}
