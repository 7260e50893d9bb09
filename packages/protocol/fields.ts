/**
 * The firmware's field grammar: splitting parameters on unescaped commas,
 * `\,` and `\\` escapes, C `atoi` numbers and IPv4 literals.
 *
 * @module
 */

import { allocate } from "./bytes.ts";

const COMMA = 0x2c;
const BACKSLASH = 0x5c;

/**
 * Splits the parameter bytes (everything after the first `=`) into fields.
 * Commas preceded by a backslash do not split, and `\,` / `\\` are
 * unescaped to `,` / `\`; any other backslash is kept as it is. Empty
 * fields are kept, so `2000,,1` gives three fields.
 */
export function splitFields(params: Uint8Array): Uint8Array[] {
  const fields: Uint8Array[] = [];
  if (params.indexOf(BACKSLASH) < 0) {
    // No escapes: fields are views of the input.
    let start = 0;
    for (let comma = params.indexOf(COMMA); comma >= 0;) {
      fields.push(params.subarray(start, comma));
      start = comma + 1;
      comma = params.indexOf(COMMA, start);
    }
    fields.push(params.subarray(start));
    return fields;
  }
  // Unescape into one buffer; fields are views of it.
  const out = allocate(params.length);
  let length = 0;
  let fieldStart = 0;
  const n = params.length;
  for (let i = 0; i < n; i++) {
    const byte = params[i];
    if (byte === BACKSLASH) {
      const next = params[i + 1];
      if (next === COMMA || next === BACKSLASH) {
        out[length++] = next;
        i++;
        continue;
      }
    } else if (byte === COMMA) {
      fields.push(out.subarray(fieldStart, length));
      fieldStart = length;
      continue;
    }
    out[length++] = byte;
  }
  fields.push(out.subarray(fieldStart, length));
  return fields;
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

const INT_MAX = 2147483647;
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
