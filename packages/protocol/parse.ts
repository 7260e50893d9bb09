/**
 * The command grammar: a command line (without its line end) to a typed
 * request, or to the `ERROR: <n>` the firmware would answer, or to nothing
 * for a line that is not a known command.
 *
 * Only what the line itself shows is checked here (field counts, ranges,
 * escapes, sizes). Whether a link id is in use, or whether a command fits a
 * link, is the device's business and gives the same codes.
 *
 * @module
 */

import { decodeLatin1, encode, startsWithAscii } from "./bytes.ts";
import {
  CERT_INDEX_MAX,
  CERT_INDEX_MIN,
  LINK_COUNT,
  MAX_HOST_LENGTH,
} from "./constants.ts";
import { AtError, COMMAND_NAMES, type CommandName } from "./errors.ts";
import { atoi, badEscape, splitFields, splitParams } from "./fields.ts";
import { inetAton } from "./ipv4.ts";
import type {
  ClientRequest,
  ClientType,
  Request,
  SendRawRequest,
  SendRequest,
  ServerRequest,
  ServerType,
  SocketConfig,
} from "./types.ts";

/** The outcome of parsing one command line. */
export type ParsedLine =
  | {
    /** A well-formed request. */
    kind: "request";
    /** The command's name. */
    command: CommandName;
    /** The typed request. */
    request: Request;
  }
  | {
    /** A known command that the module answers with `ERROR: <n>`. */
    kind: "error";
    /** The command's name, when the line names one. */
    command: CommandName | undefined;
    /** The error, with code, meaning and detail. */
    error: AtError;
  }
  | {
    /** Not a known command: the module gives no answer at all. */
    kind: "unknown";
  };

const EQUALS = 0x3d;

/** Thrown inside the parser, turned into a `kind: "error"` result. */
class FieldError extends Error {}

const NAME_BYTES: readonly Uint8Array[] = COMMAND_NAMES.map((name) =>
  encode(name)
);

/** The command a line names (`AT+<NAME>` up to the first `=`), if it is one of the nine. */
export function commandNameOf(line: Uint8Array): CommandName | undefined {
  return nameBefore(line, equalsIn(line));
}

function equalsIn(line: Uint8Array): number {
  const eq = line.indexOf(EQUALS);
  return eq < 0 ? line.length : eq;
}

/** Compares the bytes between `AT+` and `end` with the nine names, no string made. */
function nameBefore(line: Uint8Array, end: number): CommandName | undefined {
  if (!startsWithAscii(line, "AT+")) return undefined;
  const length = end - 3;
  for (let k = 0; k < NAME_BYTES.length; k++) {
    const name = NAME_BYTES[k];
    if (name.length !== length) continue;
    let i = 0;
    while (i < length && line[3 + i] === name[i]) i++;
    if (i === length) return COMMAND_NAMES[k];
  }
  return undefined;
}

/**
 * Parses one command line, given without its CR/LF.
 *
 * @example
 * ```ts
 * import { encode, parseCommandLine } from "@atsock/protocol";
 * const parsed = parseCommandLine(encode("AT+SKTSEND=0,6,,,Hello!"));
 * if (parsed.kind === "request" && parsed.request.command === "SKTSEND") {
 *   console.log(parsed.request.data.length); // 6
 * }
 * ```
 */
export function parseCommandLine(line: Uint8Array): ParsedLine {
  const eq = equalsIn(line);
  const command = nameBefore(line, eq);
  if (command === undefined) return { kind: "unknown" };
  try {
    return {
      kind: "request",
      command,
      request: build(command, fieldsOf(command, line, eq)),
    };
  } catch (e) {
    if (!(e instanceof FieldError)) throw e;
    return {
      kind: "error",
      command,
      error: new AtError(command, 1, { detail: e.message }),
    };
  }
}

/**
 * The fields after the `=`: `AT+SKTSEND` and `AT+SKTSENDRAW` split them
 * with `parse_param_advance` (escapes; a bad one is `ERROR: 1`), every
 * other command with `parse_param` (a backslash is a plain byte).
 */
function fieldsOf(
  command: CommandName,
  line: Uint8Array,
  eq: number,
): Uint8Array[] | undefined {
  if (eq === line.length) return undefined;
  const params = line.subarray(eq + 1);
  if (command !== "SKTSEND" && command !== "SKTSENDRAW") {
    return splitParams(params);
  }
  // firmware rule fields-escapes
  const bad = badEscape(params);
  if (bad >= 0) {
    throw new FieldError(
      `a backslash must be followed by "," or "\\" (byte ${eq + 1 + bad})`,
    );
  }
  return splitFields(params);
}

/**
 * Throws `ERROR: 1` when a required field is empty: every handler checks
 * `strlen(argv[n]) == 0` before reading a number (so an empty link id is
 * not link 0).
 */
function required(f: Uint8Array[], names: Record<number, string>): void {
  // firmware rule fields-empty
  for (const [index, name] of Object.entries(names)) {
    if (f[Number(index)].length === 0) {
      throw new FieldError(`${name} is empty`);
    }
  }
}

function build(
  command: CommandName,
  fields: Uint8Array[] | undefined,
): Request {
  switch (command) {
    case "SKTQUERY":
      if (fields !== undefined) {
        throw new FieldError("AT+SKTQUERY takes no parameters");
      }
      return { command };
    case "SKTSTATE":
      return { command };
    case "SKTCFG":
      return { command, config: parseConfig(need(fields, 1, 7)) };
    case "SKTSERVER":
      return parseServer(need(fields, 5, 5));
    case "SKTCLIENT":
      return parseClient(need(fields, 7, 7));
    case "SKTSEND":
      return parseSend(need(fields, 5, 5));
    case "SKTREAD": {
      const f = need(fields, 2, 2);
      required(f, { 0: "link_id", 1: "data_size" });
      return {
        command,
        linkId: linkId(f[0]),
        size: ranged(f[1], "data_size", 1, 2147483647),
      };
    }
    case "SKTSENDRAW": {
      const f = fields ?? [];
      if (f.length !== 2 && f.length !== 4) {
        throw new FieldError(
          `expected 2 fields (or 4 on a UDP server), got ${f.length}`,
        );
      }
      required(f, { 0: "link_id", 1: "data_size" });
      const request: SendRawRequest = {
        command,
        linkId: linkId(f[0]),
        size: ranged(f[1], "data_size", 1, 2147483647),
      };
      if (f.length === 4) destination(request, f[2], f[3]);
      return request;
    }
    case "SKTDEL": {
      const f = need(fields, 1, 1);
      required(f, { 0: "link_id" });
      return { command, linkId: linkId(f[0]) };
    }
  }
}

function need(
  fields: Uint8Array[] | undefined,
  min: number,
  max: number,
): Uint8Array[] {
  const count = fields?.length ?? 0;
  if (count < min || count > max) {
    const want = min === max ? `${min}` : `${min} to ${max}`;
    throw new FieldError(`expected ${want} fields, got ${count}`);
  }
  return fields!;
}

function ranged(
  field: Uint8Array,
  name: string,
  min: number,
  max: number,
): number {
  const value = atoi(field);
  if (value < min || value > max) {
    throw new FieldError(`${name} ${value} is outside ${min}..${max}`);
  }
  return value;
}

function linkId(field: Uint8Array): number {
  return ranged(field, "link_id", 0, LINK_COUNT - 1);
}

function flag(field: Uint8Array, name: string): boolean {
  return ranged(field, name, 0, 1) === 1;
}

/**
 * Reads the dst_ip/dst_port fields into `request.destination`, or says in
 * `request.badDestination` why they make none. Only a UDP server needs
 * them (`ERROR: 1` there); every other link ignores them (`at_sktsend`,
 * `at_sktsendraw`), so the line itself is never refused for them.
 */
function destination(
  request: SendRequest | SendRawRequest,
  ipField: Uint8Array,
  portField: Uint8Array,
): void {
  // firmware rule send-destination
  if (ipField.length === 0 && portField.length === 0) return;
  const ip = decodeLatin1(ipField);
  const port = atoi(portField);
  if (ipField.length === 0 || portField.length === 0) {
    request.badDestination = "dst_ip and dst_port go together";
    return;
  }
  // at_sktsend/at_sktsendraw read dst_ip with inet_aton (firmware rule
  // ipv4-inet-aton): C number forms and short forms are addresses.
  const canonical = inetAton(ip);
  if (canonical === undefined) {
    request.badDestination = `dst_ip "${ip}" is not an IPv4 address`;
  } else if (port < 1 || port > 65535) {
    request.badDestination = `dst_port ${port} is outside 1..65535`;
  } else request.destination = { ip: canonical, port };
}

function parseConfig(f: Uint8Array[]): SocketConfig {
  // firmware rule sktcfg-missing-fields
  // at_sktcfg takes 1 to 7 fields; one not given keeps its 0 (the vendor's
  // own drivers send `AT+SKTCFG=,,1`). Every call sets all seven.
  const at = (i: number) => f[i] ?? new Uint8Array();
  return {
    sendTimeout: ranged(at(0), "so_sndtimeo", 0, 2147483647),
    receiveTimeout: ranged(at(1), "so_rcvtimeo", 0, 2147483647),
    noDelay: flag(at(2), "tcp_nodelay"),
    keepAlive: flag(at(3), "so_keepalive"),
    keepIdle: ranged(at(4), "tcp_keepidle", 0, 7200),
    keepInterval: ranged(at(5), "tcp_keepintvl", 0, 75),
    keepCount: ranged(at(6), "tcp_keepcnt", 0, 10),
  };
}

function certIndex(field: Uint8Array): number {
  return ranged(field, "cert_index", CERT_INDEX_MIN, CERT_INDEX_MAX);
}

function parseServer(f: Uint8Array[]): Request {
  required(f, { 0: "link_id", 1: "conn_type", 3: "src_port", 4: "auto_rcv" });
  const id = linkId(f[0]);
  const type = ranged(f[1], "conn_type", 0, 3) as ServerType;
  const request: ServerRequest = {
    command: "SKTSERVER",
    linkId: id,
    type,
    port: 0,
    autoReceive: false,
  };
  if (type >= 2) request.certIndex = certIndex(f[2]);
  request.port = ranged(f[3], "src_port", 1, 65535);
  request.autoReceive = flag(f[4], "auto_rcv");
  return request;
}

function parseClient(f: Uint8Array[]): Request {
  required(f, {
    0: "link_id",
    1: "conn_type",
    3: "dst_host",
    4: "dst_port",
    6: "auto_rcv",
  });
  const id = linkId(f[0]);
  const type = ranged(f[1], "conn_type", 0, 5) as ClientType;
  const request: ClientRequest = {
    command: "SKTCLIENT",
    linkId: id,
    type,
    host: "",
    port: 0,
    autoReceive: false,
  };
  if (type >= 3) request.certIndex = certIndex(f[2]);
  const host = decodeLatin1(f[3]);
  if (host.length === 0) throw new FieldError("dst_host is empty");
  if (host.length > MAX_HOST_LENGTH) {
    throw new FieldError(
      `dst_host has ${host.length} characters, more than ${MAX_HOST_LENGTH}`,
    );
  }
  request.host = host;
  request.port = ranged(f[4], "dst_port", 1, 65535);
  // firmware rule client-src-port
  if (type === 0 || f[5].length > 0) {
    request.localPort = ranged(f[5], "src_port", 1, 65535);
  }
  request.autoReceive = flag(f[6], "auto_rcv");
  return request;
}

function parseSend(f: Uint8Array[]): Request {
  required(f, { 0: "link_id", 1: "data_size", 4: "data" });
  const id = linkId(f[0]);
  const size = atoi(f[1]);
  const data = f[4];
  if (size < 1) throw new FieldError(`data_size ${size} is less than 1`);
  if (size !== data.length) {
    throw new FieldError(
      `data_size ${size} does not match the ${data.length} bytes of data`,
    );
  }
  const request: SendRequest = { command: "SKTSEND", linkId: id, data };
  destination(request, f[2], f[3]);
  return request;
}
