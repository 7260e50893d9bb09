/**
 * The firmware's field grammar: splitting parameters on unescaped commas,
 * `\,` and `\\` escapes, C `atoi` numbers and IPv4 literals.
 *
 * @module
 */

import { allocate } from "./bytes.ts";
import { INT_MAX } from "./commands.ts";

const COMMA = 0x2c;
const BACKSLASH = 0x5c;

/**
 * Splits the parameter bytes as the firmware's `parse_param` does (every
 * command but `AT+SKTSEND` and `AT+SKTSENDRAW`): on every comma, with no
 * escapes (a backslash is a byte like any other). Empty fields are kept.
 * The fields are views of `params`.
 */
export function splitParams(params: Uint8Array): Uint8Array[] {
  const fields: Uint8Array[] = [];
  let pos = 0;
  while (true) {
    const comma = params.indexOf(COMMA, pos);
    if (comma < 0) {
      fields.push(params.subarray(pos));
      return fields;
    }
    fields.push(params.subarray(pos, comma));
    pos = comma + 1;
  }
}

/**
 * The index of the first backslash that the firmware's
 * `parse_param_advance` refuses (one followed by anything but `,` or `\`,
 * or by nothing), or -1 when every escape is good. `AT+SKTSEND` and
 * `AT+SKTSENDRAW` answer `ERROR: 1` for such a line.
 */
export function badEscape(params: Uint8Array): number {
  let i = params.indexOf(BACKSLASH);
  while (i >= 0) {
    const next = params[i + 1];
    if (next !== COMMA && next !== BACKSLASH) return i;
    i = params.indexOf(BACKSLASH, i + 2);
  }
  return -1;
}

/**
 * Splits the parameter bytes (everything after the first `=`) into fields
 * as `parse_param_advance` does for `AT+SKTSEND` and `AT+SKTSENDRAW`.
 * Commas preceded by a backslash do not split, and `\,` / `\\` are
 * unescaped to `,` / `\`. Any other backslash is kept as it is here, but
 * the firmware refuses such a line: check it with {@linkcode badEscape}
 * first. Empty fields are kept, so `2000,,1` gives three fields.
 *
 * Fields without a backslash are views of `params`; the others are views of
 * one new buffer that the caller owns.
 */
export function splitFields(params: Uint8Array): Uint8Array[] {
  const fields: Uint8Array[] = [];
  const n = params.length;
  let pos = 0;
  // The next comma and backslash at or after some earlier position (-1: none).
  let comma = params.indexOf(COMMA);
  let backslash = params.indexOf(BACKSLASH);
  let out: Uint8Array | undefined;
  let length = 0;
  while (true) {
    if (comma >= 0 && comma < pos) comma = params.indexOf(COMMA, pos);
    if (backslash >= 0 && backslash < pos) {
      backslash = params.indexOf(BACKSLASH, pos);
    }
    if (backslash < 0 || (comma >= 0 && comma < backslash)) {
      // No escape in this field: a view.
      if (comma < 0) {
        fields.push(params.subarray(pos));
        return fields;
      }
      fields.push(params.subarray(pos, comma));
      pos = comma + 1;
      continue;
    }
    // This field holds a backslash: unescape it.
    out ??= allocate(n - pos);
    const fieldStart = length;
    const end = unescapeField(params, pos, out, length);
    length = end.length;
    fields.push(out.subarray(fieldStart, length));
    if (end.next === n) return fields;
    pos = end.next + 1;
  }
}

/** Where {@linkcode unescapeField} stopped. */
interface FieldEnd {
  /** The end of the unescaped bytes in `out`. */
  length: number;
  /** The index of the comma that ended the field, or the input's length. */
  next: number;
}

/**
 * Unescapes the field that starts at `params[from]` into `out` at `at`, up
 * to the first unescaped comma. Eight bytes at a time while none of them is
 * `,` or `\` (a field is mostly plain bytes), one at a time around them.
 */
function unescapeField(
  params: Uint8Array,
  from: number,
  out: Uint8Array,
  at: number,
): FieldEnd {
  const n = params.length;
  const src = new DataView(params.buffer, params.byteOffset, n);
  const dst = new DataView(out.buffer, out.byteOffset, out.length);
  let i = from;
  let length = at;
  while (i < n) {
    while (i + 8 <= n) {
      const a = src.getUint32(i);
      const b = src.getUint32(i + 4);
      const commasA = a ^ 0x2c2c2c2c;
      const slashesA = a ^ 0x5c5c5c5c;
      const commasB = b ^ 0x2c2c2c2c;
      const slashesB = b ^ 0x5c5c5c5c;
      // Non-zero when a byte of one of them is zero: a `,` or `\`.
      if (
        (((commasA - 0x01010101) & ~commasA) |
          ((slashesA - 0x01010101) & ~slashesA) |
          ((commasB - 0x01010101) & ~commasB) |
          ((slashesB - 0x01010101) & ~slashesB)) & 0x80808080
      ) break;
      dst.setUint32(length, a);
      dst.setUint32(length + 4, b);
      i += 8;
      length += 8;
    }
    // Byte by byte past the block that holds a `,` or `\` (or the end).
    const stop = Math.min(i + 8, n);
    while (i < stop) {
      const byte = params[i];
      if (byte === BACKSLASH) {
        const next = params[i + 1];
        if (next === COMMA || next === BACKSLASH) {
          out[length++] = next;
          i += 2;
          continue;
        }
      } else if (byte === COMMA) return { length, next: i };
      out[length++] = byte;
      i++;
    }
  }
  return { length, next: n };
}

/** Escapes `,` and `\` in data so that {@linkcode splitFields} gives it back. */
export function escapeData(data: Uint8Array): Uint8Array {
  let extra = 0;
  for (const byte of data) if (byte === COMMA || byte === BACKSLASH) extra++;
  if (extra === 0) return data;
  const out = new Uint8Array(data.length + extra);
  let j = 0;
  for (const byte of data) {
    if (byte === COMMA || byte === BACKSLASH) out[j++] = BACKSLASH;
    out[j++] = byte;
  }
  return out;
}

const INT_MIN = -2147483648;

/**
 * Reads a number as C `atoi` does: leading white space and one sign are
 * allowed, then leading digits count and anything after them is ignored.
 * An empty field or one without digits is 0. Values beyond 32 bits
 * saturate (like `strtol`), so they always fail a range check.
 */
export function atoi(field: Uint8Array): number {
  let i = 0;
  while (
    i < field.length &&
    (field[i] === 0x20 || (field[i] >= 0x09 && field[i] <= 0x0d))
  ) i++;
  let sign = 1;
  if (field[i] === 0x2b || field[i] === 0x2d) {
    if (field[i] === 0x2d) sign = -1;
    i++;
  }
  let value = 0;
  while (i < field.length && field[i] >= 0x30 && field[i] <= 0x39) {
    value = value * 10 + (field[i] - 0x30);
    if (value > INT_MAX + 1) value = INT_MAX + 1;
    i++;
  }
  value *= sign;
  if (value > INT_MAX) return INT_MAX;
  if (value < INT_MIN) return INT_MIN;
  return value === 0 ? 0 : value;
}

/** Whether `text` is a dotted-quad IPv4 address (four decimal parts 0..255). */
export function isIPv4(text: string): boolean {
  const parts = text.split(".");
  if (parts.length !== 4) return false;
  return parts.every((part) =>
    /^[0-9]{1,3}$/.test(part) && Number(part) <= 255
  );
}
