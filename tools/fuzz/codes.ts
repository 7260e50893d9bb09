/**
 * The error codes the interpreter fuzz accepts, by command, all named from
 * the catalogue (`ERR` of `@atsock/protocol`). Every code the catalogue
 * lists for a command is accounted for: the parse error
 * (`ERROR: 1` of a malformed line, checked against `parseCommandLine`), a
 * code a well-formed line may get ({@linkcode allowedCodes}), a code of the
 * `AT+SKTSENDRAW` payload ({@linkcode PAYLOAD_CODES}, {@linkcode
 * abortCodes}), or one the virtual module never gives on this loopback
 * world, with why ({@linkcode NEVER}: never also accepted; the fuzzer
 * fails if one comes).
 *
 * @module
 */

import {
  type CommandName,
  ERR,
  PARAMETER_ERROR,
  type Request,
  type TransportKind,
  transportOf,
  TT_PIECE_SIZE,
} from "@atsock/protocol";

/** `OK`, as a code among the error codes (the fuzzer's `codeOf`). */
export const OK_CODE = 0;

const S = ERR.SKTSERVER;
const C = ERR.SKTCLIENT;

/**
 * What a well-formed line may get besides OK, by command (the servers and
 * clients by transport). A link id not in use (or of the wrong kind) is a
 * run-time `ERROR: 1` for every command that names one.
 */
const RUNTIME: {
  readonly [K in CommandName]: K extends "SKTSERVER" | "SKTCLIENT"
    ? Readonly<Record<TransportKind, readonly number[]>>
    : readonly number[];
} = {
  SKTCFG: [],
  SKTQUERY: [],
  SKTSTATE: [],
  SKTDEL: [ERR.SKTDEL.PARAMETER],
  SKTSERVER: {
    udp: [S.PARAMETER, S.UDP_CREATE],
    tcp: [S.PARAMETER, S.TCP_CREATE],
    tls: [S.PARAMETER, S.CERT_FLASH, S.CRT_PARSE, S.NET_BIND],
  },
  SKTCLIENT: {
    udp: [C.PARAMETER, C.UDP_CREATE],
    tcp: [C.PARAMETER, C.TCP_CREATE],
    tls: [C.PARAMETER, C.CERT_FLASH, C.CRT_PARSE, C.NET_CONNECT, C.HANDSHAKE],
  },
  SKTSEND: [ERR.SKTSEND.PARAMETER, ERR.SKTSEND.SEND],
  // A data_size the free heap cannot hold is NO_MEMORY (firmware rule sktread-heap).
  SKTREAD: [ERR.SKTREAD.PARAMETER, ERR.SKTREAD.NO_MEMORY, ERR.SKTREAD.READ],
  // Before the prompt; after it see PAYLOAD_CODES and abortCodes.
  SKTSENDRAW: [ERR.SKTSENDRAW.PARAMETER],
};

/** Codes the payload after an `AT+SKTSENDRAW` prompt may answer. */
export const PAYLOAD_CODES: readonly number[] = [OK_CODE, ERR.SKTSENDRAW.SEND];

/**
 * Codes of an `AT+SKTSENDRAW` payload aborted with `<<<` (the `<` bytes
 * are payload, so something was gathered): atcmd_lwip_start_tt_handle
 * sends a payload of at most `TT_PIECE_SIZE` (MAX_TT_BUF_LEN) in one piece
 * and answers OK; a larger one piece by piece until a piece comes empty,
 * `TT_DATA`. Either stops at the first failed send with `SEND`.
 */
export function abortCodes(size: number): number[] {
  return size <= TT_PIECE_SIZE
    ? [OK_CODE, ERR.SKTSENDRAW.SEND]
    : [ERR.SKTSENDRAW.TT_DATA, ERR.SKTSENDRAW.SEND];
}

const TASK = "the virtual module starts no RTOS task that could fail";
const HEAP = "the virtual module's allocations do not fail";
const MBEDTLS =
  "an mbedtls set-up step that node:tls does not fail with the module's certificates";

/** The catalogue's codes the virtual module never gives in the fuzz, with why. */
export const NEVER: {
  readonly [K in CommandName]: Readonly<Record<number, string>>;
} = {
  SKTCFG: {},
  SKTQUERY: {},
  SKTSTATE: {},
  SKTDEL: {},
  SKTSERVER: {
    [S.TCP_TASK]: TASK,
    [S.UDP_TASK]: TASK,
    [S.NO_MEMORY]: HEAP,
    [S.SSL_CONFIG]: MBEDTLS,
    [S.OWN_CERT]: MBEDTLS,
    [S.TLS_TASK]: TASK,
  },
  SKTCLIENT: {
    [C.TCP_TASK]: TASK,
    [C.UDP_TASK]: TASK,
    [C.NO_MEMORY]: HEAP,
    [C.SSL_CONFIG]: MBEDTLS,
    [C.OWN_CERT]: MBEDTLS,
    [C.SSL_SETUP]: MBEDTLS,
    [C.INET_NTOA]: "inet_ntoa_r of a resolved IPv4 address does not fail",
    [C.TLS_TASK]: TASK,
  },
  SKTSEND: {},
  SKTREAD: { [ERR.SKTREAD.SELECT]: "select() does not fail on a link" },
  SKTSENDRAW: {
    [ERR.SKTSENDRAW.NO_MEMORY]:
      "the TT ring is bounded (80 KiB) whatever data_size says",
  },
};

/**
 * Every code the fuzzer accounts for, by command: the parse error, the
 * run-time codes of every transport, the payload's codes, and
 * {@linkcode NEVER}. Equal to the catalogue's codes (a test checks).
 */
export function accountedCodes(command: CommandName): number[] {
  const runtime = RUNTIME[command];
  const lists: readonly (readonly number[])[] = Array.isArray(runtime)
    ? [runtime as readonly number[]]
    : Object.values(runtime as Record<TransportKind, readonly number[]>);
  const payload = command === "SKTSENDRAW"
    ? [...PAYLOAD_CODES, ...abortCodes(Infinity), ...abortCodes(0)]
    : [];
  const parse = command === "SKTSTATE" ? [] : [PARAMETER_ERROR];
  return [
    ...new Set([
      ...parse,
      ...lists.flat(),
      ...payload.filter((c) => c !== OK_CODE),
      ...Object.keys(NEVER[command]).map(Number),
    ]),
  ].sort((a, b) => a - b);
}

/**
 * Codes a well-formed request may answer, by command and type: OK and the
 * run-time errors; for `AT+SKTSENDRAW` no OK (its success is the prompt).
 */
export function allowedCodes(request: Request): number[] {
  const command = request.command;
  if (command === "SKTSERVER" || command === "SKTCLIENT") {
    const side = command === "SKTSERVER" ? "server" : "client";
    const transport = transportOf(side, request.type);
    if (transport === undefined) {
      throw new RangeError(`${command} of unknown type ${request.type}`);
    }
    return [OK_CODE, ...RUNTIME[command][transport]];
  }
  if (command === "SKTSENDRAW") return [...RUNTIME[command]];
  return [OK_CODE, ...RUNTIME[command]];
}
