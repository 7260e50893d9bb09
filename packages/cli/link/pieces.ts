/**
 * Cutting a payload into `AT+SKTSEND` commands that each fit the module's
 * 2000-byte command buffer once `,` and `\` are escaped.
 *
 * @module
 */

import {
  type Endpoint,
  lineReaderAlters,
  MAX_LINE_LENGTH,
} from "@atsock/protocol";

const COMMA = 0x2c;
const BACKSLASH = 0x5c;

/**
 * Whether the bytes hold what `AT+SKTSEND` cannot carry: NUL, BS, TAB, DEL,
 * 0xFF or CR LF, which the module's line reader changes (a lone CR or LF
 * is fine).
 */
export function hasLineEnd(data: Uint8Array): boolean {
  return lineReaderAlters(data);
}

/**
 * Room for escaped data in one `AT+SKTSEND` line on `linkId` (to
 * `destination` on a UDP server): the command buffer less the longest
 * header, with a 4-digit size.
 */
export function sendRoom(linkId: number, destination?: Endpoint): number {
  const where = destination ? `${destination.ip},${destination.port}` : ",";
  return MAX_LINE_LENGTH - `AT+SKTSEND=${linkId},2000,${where},`.length;
}

/**
 * Where the next piece starting at `start` ends: as many bytes as fit
 * `room` once escaped (a comma or backslash takes two).
 */
export function pieceEnd(
  data: Uint8Array,
  start: number,
  room: number,
): number {
  let used = 0;
  let i = start;
  while (i < data.length) {
    const cost = data[i] === COMMA || data[i] === BACKSLASH ? 2 : 1;
    if (used + cost > room) break;
    used += cost;
    i++;
  }
  return i;
}

/** The payload cut into pieces that each fit one `AT+SKTSEND` line. */
export function sendPieces(data: Uint8Array, room: number): Uint8Array[] {
  const pieces: Uint8Array[] = [];
  for (let start = 0; start < data.length;) {
    const end = pieceEnd(data, start, room);
    pieces.push(data.subarray(start, end));
    start = end;
  }
  return pieces;
}
