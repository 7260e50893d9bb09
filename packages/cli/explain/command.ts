/**
 * Explains a command line as the module reads it: every parameter with its
 * name from the reference, the number `atoi` reads from it, its meaning and
 * range, and what the module answers and does. The verdict (request or
 * `ERROR: <n>`) is always the protocol package's `parseCommandLine`, so the
 * explanation cannot disagree with the virtual module.
 *
 * @module
 */

import {
  CLIENT_TYPE,
  COMMAND_NAMES,
  type CommandName,
  commandNameOf,
  COMMANDS,
  connType,
  decodeLatin1,
  ERR,
  errorMeaning,
  MODULE_FREE_HEAP,
  parseCommandLine,
  READ_WAIT_MS,
  type Request,
  SERVER_TYPE,
} from "@atsock/protocol";
import { showBytes } from "./escapes.ts";
import type { ExplainedField, Explanation } from "./explanation.ts";
import { explainFields } from "./fields.ts";

/** Options for {@linkcode explainCommand}. */
export interface CommandExplainOptions {
  /** The module's console mode, when known (it decides `AT+SKTSENDRAW`). */
  mode?: "manual" | "host";
}

/** What the module does for a well-formed request, in one sentence. */
function effect(request: Request, mode: "manual" | "host" | undefined): string {
  switch (request.command) {
    case "SKTCFG":
      return "replaces all seven global socket options; they apply to sockets created afterwards (UDP sockets take the two timeouts, TCP clients and listeners all seven, accepted seeds only keepalive, TLS links none)";
    case "SKTQUERY":
      return "prints the seven global socket options after 'Global SOCKET configuration:'";
    case "SKTSERVER": {
      const proto = connType("server", request.type)!.transport.toUpperCase();
      const seeds = request.type === SERVER_TYPE.UDP
        ? "datagrams from any sender arrive on this link"
        : "each client that connects becomes a seed on the lowest free link id, announced by a [$][SKT][EVENT] line";
      const data = request.autoReceive
        ? "received data is printed as [$][SKT][DATA] lines"
        : "received data is kept for AT+SKTREAD";
      return `listens on ${proto} port ${request.port} as link ${request.linkId}; ${seeds}; ${data}`;
    }
    case "SKTCLIENT": {
      const transport = connType("client", request.type)!.transport;
      const proto = transport === "udp"
        ? `UDP from local port ${request.localPort}`
        : transport.toUpperCase();
      const data = request.autoReceive
        ? "received data is printed as [$][SKT][DATA] lines"
        : "received data is kept for AT+SKTREAD";
      const when = request.type === CLIENT_TYPE.UDP
        ? "once bound"
        : "once connected";
      return `connects link ${request.linkId} to ${request.host}:${request.port} over ${proto}, answering ${when}; ${data}`;
    }
    case "SKTSEND":
      return `sends ${request.data.length} byte${
        request.data.length === 1 ? "" : "s"
      } on link ${request.linkId}${
        request.destination
          ? ` to ${request.destination.ip}:${request.destination.port} (UDP server)`
          : ""
      }, then answers`;
    case "SKTREAD":
      return `waits up to about ${READ_WAIT_MS} ms for data on link ${request.linkId}, reads once (at most ${request.size} bytes) and prints +SKTREAD:${request.linkId},<n>,<data> (UDP: <ip>,<port>, before the data); no data is +SKTREAD:${request.linkId},0, (UDP: +SKTREAD:${request.linkId},0,0.0.0.0,0,)`;
    case "SKTSENDRAW":
      return `answers >>>, takes exactly ${request.size} raw bytes from the UART (no escaping, no time limit), sends them on link ${request.linkId}${
        request.destination
          ? ` to ${request.destination.ip}:${request.destination.port}`
          : ""
      } and answers${
        mode === undefined
          ? ` (Host Control Mode only; in Manual Test Mode, the default firmware, it is ERROR: ${RAW.TT_DATA})`
          : ""
      }`;
    case "SKTSTATE":
      return "lists every link in id order, each server followed by its seeds in the order they connected";
    case "SKTDEL":
      return `deletes link ${request.linkId} (a server with all its seeds)`;
  }
}

/** What the module answers a well-formed request. */
function answerOf(command: CommandName, request: Request): string {
  switch (command) {
    case "SKTQUERY":
      return "Global SOCKET configuration: (7 lines), then OK";
    case "SKTSTATE":
      return "one link_id:... line per link, then OK";
    case "SKTREAD":
      return `+SKTREAD:${
        (request as { linkId: number }).linkId
      },<n>,<data> then OK`;
    case "SKTSENDRAW":
      return ">>>, then OK after the raw bytes";
    default:
      return "OK";
  }
}

const SERVER = ERR.SKTSERVER;
const CLIENT = ERR.SKTCLIENT;
const SEND = ERR.SKTSEND;
const READ = ERR.SKTREAD;
const RAW = ERR.SKTSENDRAW;
const T = CLIENT_TYPE;

/** Errors a well-formed command can still get, from the state of the module. */
const LATER: Readonly<Partial<Record<CommandName, string>>> = {
  SKTSERVER:
    `it can still fail: ERROR: ${SERVER.PARAMETER} if the link id is in use or a certificate file the type needs does not exist; ${SERVER.TCP_CREATE} (TCP), ${SERVER.UDP_CREATE} (UDP) or ${SERVER.NET_BIND} (TLS) if the port cannot be bound; ${SERVER.CERT_FLASH} for a certificate file that cannot be read, ${SERVER.CRT_PARSE} for one that does not parse. A key that does not match its certificate is not refused: the server's handshakes fail (no seed, no event)`,
  SKTCLIENT:
    `it can still fail: ERROR: ${CLIENT.PARAMETER} if the link id is in use, a host name is not found (every type) or a certificate file the type needs does not exist; ${CLIENT.TCP_CREATE} for a refused or unreachable TCP peer; ${CLIENT.UDP_CREATE} if the UDP port cannot be bound; TLS: ${CLIENT.CERT_FLASH} for a file that cannot be read, ${CLIENT.CRT_PARSE} for one that does not parse, ${CLIENT.NET_CONNECT} if the connect fails, ${CLIENT.HANDSHAKE} if the handshake fails (types ${T.TLS_VERIFY_SERVER} and ${T.TLS_MUTUAL} check the server's chain, not its name: no host name is set, no SNI is sent)`,
  SKTSEND:
    `it can still fail: ERROR: ${SEND.PARAMETER} if the link is not in use, its socket has gone (socket_fd:-1), it is a listening TCP/TLS server, or a UDP server send lacks a good dst_ip/dst_port (other links ignore them); ${SEND.SEND} if the send fails (connection reset, so_sndtimeo)`,
  SKTREAD:
    `it can still fail: ERROR: ${READ.PARAMETER} if the link is not in use or its socket has gone (socket_fd:-1); ${READ.NO_MEMORY} if the buffer of data_size + 1 bytes cannot be allocated (the virtual module: data_size ${MODULE_FREE_HEAP} or more, its free heap); ${READ.READ} for the read that meets the peer's close (it closes the socket). Data is printed as a C string: cut at the first NUL byte while <n> counts every byte`,
  SKTSENDRAW:
    `it can still fail: ERROR: ${RAW.PARAMETER} (before any >>>) if the link is not in use, its socket has gone or a UDP server lacks dst_ip/dst_port; ${RAW.SEND} if the send fails; ${RAW.TT_DATA} if the host aborts with <<< and 30 ms of silence, or in Manual Test Mode`,
  SKTDEL:
    `it can still fail: ERROR: ${ERR.SKTDEL.PARAMETER} if the link id is not in use`,
};

/** Explains a command line (without its line end). */
export function explainCommand(
  line: Uint8Array,
  options: CommandExplainOptions = {},
): Explanation {
  const shown = showBytes(line, 200);
  const name = commandNameOf(line);
  const parsed = parseCommandLine(line);
  if (parsed.kind === "unknown") return unknownLine(line, shown);
  const command = parsed.command;
  const notes: string[] = [];
  let fields: ExplainedField[] = [];
  if (command !== undefined) {
    const eq = line.indexOf(0x3d);
    fields = explainFields(
      command,
      eq < 0 ? undefined : line.subarray(eq + 1),
    );
  }
  const purpose = command === undefined
    ? "a line too long to be a command"
    : `AT+${command}: ${COMMANDS[command].purpose}`;
  // at_sktsendraw checks the fields and the link (1) before transparent
  // transmission is refused in Manual Test Mode (TT_DATA).
  if (
    name === "SKTSENDRAW" && options.mode === "manual" &&
    parsed.kind === "request"
  ) {
    return {
      line: shown,
      kind: "command",
      command: "SKTSENDRAW",
      summary:
        `${purpose}; in Manual Test Mode the module answers ERROR: ${RAW.TT_DATA} (after checking the link)`,
      fields,
      error: {
        code: RAW.TT_DATA,
        meaning: errorMeaning("SKTSENDRAW", RAW.TT_DATA)!,
        detail: "AT+SKTSENDRAW needs Host Control Mode",
      },
      answer: `ERROR: ${RAW.TT_DATA}`,
      notes: [
        "the module is in Manual Test Mode (--mode manual); AT+SKTSENDRAW works only in Host Control Mode",
        `the link is checked first: a link not in use, without a socket (socket_fd:-1), a listening TCP/TLS server or a UDP server without dst_ip/dst_port is ERROR: ${RAW.PARAMETER}`,
      ],
      valid: false,
    };
  }
  if (parsed.kind === "error") {
    const error = parsed.error;
    return {
      line: shown,
      kind: "command",
      command: command ?? null,
      summary: `${purpose}; the module rejects it with ERROR: ${error.code}`,
      fields,
      error: {
        code: error.code,
        meaning: error.meaning,
        detail: error.detail ?? null,
      },
      answer: `ERROR: ${error.code}`,
      notes,
      valid: false,
    };
  }
  const request = parsed.request;
  if (request.command === "SKTSENDRAW" && options.mode === undefined) {
    notes.push(
      `AT+SKTSENDRAW works only in Host Control Mode; in Manual Test Mode (the default firmware build) the answer is ERROR: ${RAW.TT_DATA} (say --mode to pick one)`,
    );
  }
  const later = LATER[parsed.command];
  if (later) notes.push(later);
  if (request.command === "SKTREAD" && request.size >= MODULE_FREE_HEAP) {
    // at_sktread: rtos_mem_zmalloc(wanted_recv_size + 1) fails: NO_MEMORY.
    notes.push(
      `data_size ${request.size} needs a buffer larger than the module's free heap (${MODULE_FREE_HEAP} bytes on the virtual module): once the link checks pass the answer is ERROR: ${READ.NO_MEMORY}; read less at a time`,
    );
  }
  return {
    line: shown,
    kind: "command",
    command: parsed.command,
    summary: `${purpose}; the module ${effect(request, options.mode)}`,
    fields,
    error: null,
    answer: answerOf(parsed.command, request),
    notes,
    valid: true,
  };
}

function unknownLine(line: Uint8Array, shown: string): Explanation {
  const notes: string[] = [];
  const text = decodeLatin1(line);
  const upper = text.toUpperCase();
  const name = /^AT\+([A-Z]+)/.exec(upper)?.[1];
  if (name && (COMMAND_NAMES as readonly string[]).includes(name)) {
    if (!text.startsWith(`AT+${name}`)) {
      notes.push(
        `command names are case-sensitive: write AT+${name}`,
      );
    }
  } else if (/^AT\+SKT/.test(upper)) {
    notes.push(`the socket commands are AT+${COMMAND_NAMES.join(", AT+")}`);
  }
  return {
    line: shown,
    kind: "unknown",
    command: null,
    summary: "not a socket command: the module gives no answer at all",
    fields: [],
    error: null,
    answer: null,
    notes,
    valid: false,
  };
}
