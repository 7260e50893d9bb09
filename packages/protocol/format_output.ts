/**
 * Everything a module prints, byte for byte: final results, the query
 * blocks, `+SKTREAD`, and the unsolicited `[$]` lines.
 *
 * @module
 */

import { concat, encode, encodeLatin1 } from "./bytes.ts";
import { COMMANDS } from "./commands.ts";
import { AT_PRINTF_LIMIT } from "./constants.ts";
import type { Endpoint, LinkState, SocketConfig } from "./types.ts";

/** `\r\nOK\r\n`: the success result. */
export const OK: Uint8Array = encode("\r\nOK\r\n");

/** `ATCMD READY\r\n`: printed once in Host Control Mode when the module is up. */
export const ATCMD_READY: Uint8Array = encode("ATCMD READY\r\n");

/** `>>>\r\n`: the prompt for the raw bytes of `AT+SKTSENDRAW`. */
export const TT_PROMPT: Uint8Array = encode(">>>\r\n");

/** `[$][TT]:High Watermark\r\n`: the TT buffer is full, the host must pause. */
export const HIGH_WATERMARK: Uint8Array = encode("[$][TT]:High Watermark\r\n");

/** `[$][TT]:Low Watermark\r\n`: the TT buffer has drained, the host may go on. */
export const LOW_WATERMARK: Uint8Array = encode("[$][TT]:Low Watermark\r\n");

/** `\r\nERROR: <code>\r\n`. */
export function formatError(code: number): Uint8Array {
  return encode(`\r\nERROR: ${code}\r\n`);
}

/** The `AT+SKTQUERY` answer, including its final OK. */
export function formatQuery(config: SocketConfig): Uint8Array {
  // at_sktquery prints each option under its AT+SKTCFG field's name, in
  // the same order: one line per field of the catalogue.
  const values = config as unknown as Record<string, number | boolean>;
  const lines = COMMANDS.SKTCFG.fields.map((spec) =>
    `${spec.name}: ${Number(values[spec.key])}\r\n`
  );
  return encode(
    `\r\nGlobal SOCKET configuration:\r\n${lines.join("")}\r\nOK\r\n`,
  );
}

/** One `AT+SKTSTATE` line without its line end. */
export function formatStateLine(link: LinkState): string {
  return `link_id:${link.linkId},${link.role},${link.protocol},` +
    `src_address:${link.source.ip},src_port:${link.source.port},` +
    `dst_address:${link.destination.ip},dst_port:${link.destination.port},` +
    `socket_fd:${link.socketFd}`;
}

/** The `AT+SKTSTATE` answer for links already in display order, including OK. */
export function formatState(links: readonly LinkState[]): Uint8Array {
  return encode(
    links.map((link) => formatStateLine(link) + "\r\n").join("") +
      "\r\nOK\r\n",
  );
}

/**
 * The `AT+SKTREAD` answer including its final OK. The firmware prints the
 * data as a C string, so the printed bytes stop at the first NUL while the
 * size still counts every byte read; a string of 20000 bytes or more is not
 * printed at all (`at_printf`'s `MAX_BUF_LEN`). A UDP read always names the sender
 * (give `sender`), `0.0.0.0,0` when nothing came (`at_sktread`).
 */
export function formatRead(
  linkId: number,
  data: Uint8Array,
  sender?: Endpoint,
): Uint8Array {
  const nul = data.indexOf(0);
  let printed = nul < 0 ? data : data.subarray(0, nul);
  // firmware rule sktread-print-limit
  // at_printf("%s", rx_buffer) prints nothing for 20000 bytes or more.
  if (printed.length >= AT_PRINTF_LIMIT) printed = printed.subarray(0, 0);
  // firmware rule sktread-udp-address
  const from = sender ? `${sender.ip},${sender.port},` : "";
  return concat([
    encodeLatin1(`+SKTREAD:${linkId},${data.length},${from}`),
    printed,
    OK,
  ]);
}

/** A seed's connect event. */
export interface ConnectEvent {
  /** The seed's link id. */
  linkId: number;
  /** `tcp` or `tls`. */
  protocol: "tcp" | "tls";
  /** The remote client. */
  peer: Endpoint;
  /** The server's link id. */
  serverId: number;
}

/** `[$][SKT][EVENT]: A client[...] connected to server[link_id:<n>]\r\n`. */
export function formatConnectEvent(event: ConnectEvent): Uint8Array {
  return encode(
    `[$][SKT][EVENT]: A client[link_id:${event.linkId},seed,${event.protocol},` +
      `dst_address:${event.peer.ip},dst_port:${event.peer.port}] ` +
      `connected to server[link_id:${event.serverId}]\r\n`,
  );
}

/**
 * An auto-receive DATA line: `[$][SKT][DATA][<id>][<len>]:<bytes>\r\n`, with
 * `[<ip>][<port>]` after the length for UDP.
 */
export function formatData(
  linkId: number,
  data: Uint8Array,
  sender?: Endpoint,
): Uint8Array {
  const from = sender ? `[${sender.ip}][${sender.port}]` : "";
  return concat([
    encodeLatin1(`[$][SKT][DATA][${linkId}][${data.length}]${from}:`),
    data,
    encode("\r\n"),
  ]);
}
