/**
 * Small byte helpers shared by the grammar, the formatters and the framers.
 * (With JSR reachable, `@std/bytes` would provide `concat` and `indexOfNeedle`.)
 *
 * @module
 */

const encoder = new TextEncoder();

/** Encodes text as UTF-8 bytes. */
export function encode(text: string): Uint8Array {
  return encoder.encode(text);
}

/**
 * Decodes bytes one character per byte (ISO-8859-1), so that every byte
 * value survives a round trip through a string. Only for ASCII grammar.
 */
export function decodeLatin1(bytes: Uint8Array): string {
  // TextDecoder("latin1") is windows-1252, which remaps 0x80..0x9f.
  if (bytes.length <= 16) {
    // Short names and numbers: a loop beats spreading into a call.
    let short = "";
    for (let i = 0; i < bytes.length; i++) {
      short += String.fromCharCode(bytes[i]);
    }
    return short;
  }
  let text = "";
  for (let i = 0; i < bytes.length; i += 8192) {
    text += String.fromCharCode(...bytes.subarray(i, i + 8192));
  }
  return text;
}

/** Encodes a string of characters 0..255 back to the same bytes. */
export function encodeLatin1(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i) & 0xff;
  return out;
}

/** Joins byte arrays into one. */
export function concat(parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const part of parts) length += part.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Whether `a` and `b` hold the same bytes. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Whether `bytes` begins with the ASCII text `prefix`. */
export function startsWithAscii(
  bytes: Uint8Array,
  prefix: string,
  offset = 0,
): boolean {
  if (bytes.length - offset < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) {
    if (bytes[offset + i] !== prefix.charCodeAt(i)) return false;
  }
  return true;
}

/** Requests up to this size are carved from a shared slab (see {@linkcode allocate}). */
const SLAB_LIMIT = 4096;
const SLAB_SIZE = 64 * 1024;
let slab = new Uint8Array(0);
let slabUsed = 0;

/**
 * A new zero-filled byte array of `size` bytes that the caller owns. Small
 * ones are views of a shared 64 KiB slab that is only ever carved forward
 * (never handed out twice), because one native allocation per small array
 * costs more than parsing the line it holds; a slab is freed once no view
 * of it is left.
 */
export function allocate(size: number): Uint8Array {
  if (size > SLAB_LIMIT) return new Uint8Array(size);
  if (slabUsed + size > slab.length) {
    slab = new Uint8Array(SLAB_SIZE);
    slabUsed = 0;
  }
  const out = slab.subarray(slabUsed, slabUsed + size);
  slabUsed += (size + 7) & ~7;
  return out;
}
