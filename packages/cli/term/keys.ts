/**
 * Key decoding for the interactive terminal: the bytes a terminal in raw
 * mode sends (UTF-8 text, control characters, ANSI escape sequences) to
 * key presses. Pure: bytes in, keys out, however the bytes were split.
 *
 * @module
 */

/** The editing keys the line editor knows. */
export type EditKey =
  | "enter"
  | "backspace"
  | "delete"
  | "left"
  | "right"
  | "word-left"
  | "word-right"
  | "home"
  | "end"
  | "up"
  | "down"
  | "tab"
  | "kill-before" // Ctrl-U
  | "kill-after" // Ctrl-K
  | "kill-word" // Ctrl-W
  | "interrupt" // Ctrl-C
  | "eof" // Ctrl-D
  | "clear-screen"; // Ctrl-L

/** One key press: text typed, an editing key, or a sequence the editor ignores. */
export type Key =
  | { type: "text"; text: string }
  | { type: "key"; key: EditKey }
  | { type: "unknown"; bytes: Uint8Array };

const ESC = 0x1b;

const CONTROL: Readonly<Record<number, EditKey>> = {
  0x01: "home", // Ctrl-A
  0x02: "left", // Ctrl-B
  0x03: "interrupt", // Ctrl-C
  0x04: "eof", // Ctrl-D
  0x05: "end", // Ctrl-E
  0x06: "right", // Ctrl-F
  0x08: "backspace", // Ctrl-H
  0x09: "tab",
  0x0a: "enter",
  0x0b: "kill-after", // Ctrl-K
  0x0c: "clear-screen", // Ctrl-L
  0x0d: "enter",
  0x0e: "down", // Ctrl-N
  0x10: "up", // Ctrl-P
  0x15: "kill-before", // Ctrl-U
  0x17: "kill-word", // Ctrl-W
  0x7f: "backspace",
};

/** CSI and SS3 final bytes (after optional parameters) that name a key. */
const FINAL: Readonly<Record<string, EditKey>> = {
  A: "up",
  B: "down",
  C: "right",
  D: "left",
  H: "home",
  F: "end",
};

/** `ESC [ <n> ~` keys. */
const TILDE: Readonly<Record<string, EditKey>> = {
  "1": "home",
  "7": "home",
  "3": "delete",
  "4": "end",
  "8": "end",
};

/**
 * Streaming decoder of terminal input. A sequence or UTF-8 character split
 * across two reads is held until its end arrives.
 *
 * @example
 * ```ts
 * import { KeyDecoder } from "./keys.ts";
 * const keys = new KeyDecoder().push(new TextEncoder().encode("ab\x1b[D\r"));
 * // [{ type: "text", text: "ab" }, { type: "key", key: "left" },
 * //  { type: "key", key: "enter" }]
 * ```
 */
export class KeyDecoder {
  #held: Uint8Array = new Uint8Array(0);
  #decoder = new TextDecoder();

  /** Bytes held back: the start of a sequence or character not yet complete. */
  get pending(): number {
    return this.#held.length;
  }

  /** Decodes a chunk; returns the keys it completes. */
  push(chunk: Uint8Array): Key[] {
    let bytes = chunk;
    if (this.#held.length > 0) {
      bytes = new Uint8Array(this.#held.length + chunk.length);
      bytes.set(this.#held);
      bytes.set(chunk, this.#held.length);
      this.#held = new Uint8Array(0);
    }
    const keys: Key[] = [];
    let text = "";
    const flushText = () => {
      if (text) keys.push({ type: "text", text });
      text = "";
    };
    let i = 0;
    while (i < bytes.length) {
      const byte = bytes[i];
      if (byte === ESC) {
        const end = sequenceEnd(bytes, i);
        if (end < 0) {
          this.#held = bytes.slice(i);
          break;
        }
        flushText();
        keys.push(escapeKey(bytes.subarray(i, end)));
        i = end;
        continue;
      }
      if (byte < 0x20 || byte === 0x7f) {
        flushText();
        const key = CONTROL[byte];
        keys.push(
          key
            ? { type: "key", key }
            : { type: "unknown", bytes: bytes.slice(i, i + 1) },
        );
        // CR LF (a paste, or a terminal in CRLF mode) is one Enter.
        i += byte === 0x0d && bytes[i + 1] === 0x0a ? 2 : 1;
        continue;
      }
      if (byte < 0x80) {
        text += String.fromCharCode(byte);
        i++;
        continue;
      }
      const length = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
      if (i + length > bytes.length) {
        this.#held = bytes.slice(i);
        break;
      }
      // Invalid UTF-8 becomes U+FFFD rather than disappearing.
      text += this.#decoder.decode(bytes.subarray(i, i + length));
      i += length;
    }
    flushText();
    return keys;
  }

  /**
   * Gives up on a held sequence (call when no byte followed for a while,
   * e.g. a lone Escape key press): it is returned as an unknown key.
   */
  flush(): Key[] {
    if (this.#held.length === 0) return [];
    const bytes = this.#held;
    this.#held = new Uint8Array(0);
    return [{ type: "unknown", bytes }];
  }
}

/** Where the escape sequence starting at `start` ends, or -1 if it is not complete yet. */
function sequenceEnd(bytes: Uint8Array, start: number): number {
  if (start + 1 >= bytes.length) return -1;
  const second = bytes[start + 1];
  if (second === 0x5b /* [ */) {
    // CSI: parameter and intermediate bytes, then one final byte 0x40..0x7e.
    for (let j = start + 2; j < bytes.length; j++) {
      if (bytes[j] >= 0x40 && bytes[j] <= 0x7e) return j + 1;
      if (bytes[j] < 0x20 || j - start > 32) return j; // malformed: stop here
    }
    return -1;
  }
  if (second === 0x4f /* O */) {
    return start + 2 < bytes.length ? start + 3 : -1;
  }
  return start + 2; // Alt+key
}

function escapeKey(seq: Uint8Array): Key {
  // The sequence after its ESC.
  const text = String.fromCharCode(...seq.subarray(1));
  let m = /^[\[O]([\d;]*)([A-DHF])$/.exec(text);
  if (m) {
    // ESC [ 1 ; 5 C (Ctrl) or ; 3 C (Alt) move by words.
    const modifier = m[1].split(";")[1];
    const base = FINAL[m[2]];
    if (modifier && modifier !== "1") {
      if (base === "left") return { type: "key", key: "word-left" };
      if (base === "right") return { type: "key", key: "word-right" };
    }
    return { type: "key", key: base };
  }
  m = /^\[(\d+)~$/.exec(text);
  if (m && TILDE[m[1]]) return { type: "key", key: TILDE[m[1]] };
  if (text === "b") return { type: "key", key: "word-left" };
  if (text === "f") return { type: "key", key: "word-right" };
  if (text === "\x7f") return { type: "key", key: "kill-word" };
  return { type: "unknown", bytes: seq.slice() };
}
