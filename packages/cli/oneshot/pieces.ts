/**
 * Cutting a payload into `AT+SKTSEND` commands that each fit the module's
 * 2000-byte command buffer once `,` and `\` are escaped.
 *
 * @module
 */

import { type Endpoint, MAX_LINE_LENGTH } from "@atsock/protocol";

const CR = 0x0d;
const LF = 0x0a;
const COMMA = 0x2c;
const BACKSLASH = 0x5c;

/** Whether the bytes hold a CR or LF, which `AT+SKTSEND` cannot carry (they end the command). */
export function hasLineEnd(data: Uint8Array): boolean {
  return data.includes(CR) || data.includes(LF);
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
