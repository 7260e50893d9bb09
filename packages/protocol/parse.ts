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
  type ClientType,
  COMMAND_NAMES,
  type CommandName,
  COMMANDS,
  field,
  type FieldSpec,
  PARAMETER_ERROR,
  type ServerType,
  usesCert,
} from "./commands.ts";
import { rangeProblem } from "./field_checks.ts";
import { AtError } from "./errors.ts";
import { atoi, badEscape, splitFields, splitParams } from "./fields.ts";
import { inetAton } from "./ipv4.ts";
import type {
  ClientRequest,
  Request,
  SendRawRequest,
  SendRequest,
  ServerRequest,
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
      error: new AtError(command, PARAMETER_ERROR, { detail: e.message }),
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
  if (!COMMANDS[command].escapes) return splitParams(params);
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
 * Throws `ERROR: 1` when a field the catalogue marks required is empty:
 * every handler checks `strlen(argv[n]) == 0` before reading a number (so
 * an empty link id is not link 0).
 */
function required(command: CommandName, f: Uint8Array[]): void {
  // firmware rule fields-empty
  const specs = COMMANDS[command].fields;
  for (let i = 0; i < specs.length; i++) {
    if (specs[i].required && f[i]?.length === 0) {
      throw new FieldError(`${specs[i].name} is empty`);
    }
  }
}

function build(
  command: CommandName,
  fields: Uint8Array[] | undefined,
): Request {
  const f = counted(command, fields);
  required(command, f);
  switch (command) {
    case "SKTQUERY":
    case "SKTSTATE":
      return { command };
    case "SKTCFG":
      return { command, config: parseConfig(f) };
    case "SKTSERVER":
      return parseServer(f);
    case "SKTCLIENT":
      return parseClient(f);
    case "SKTSEND":
      return parseSend(f);
    case "SKTREAD":
      return {
        command,
        linkId: number(f[0], COMMANDS[command].fields[0]),
        size: number(f[1], field(command, "data_size")),
      };
    case "SKTSENDRAW": {
      const request: SendRawRequest = {
        command,
        linkId: number(f[0], COMMANDS[command].fields[0]),
        size: number(f[1], field(command, "data_size")),
      };
      if (f.length === 4) destination(request, f[2], f[3]);
      return request;
    }
    case "SKTDEL":
      return { command, linkId: number(f[0], COMMANDS[command].fields[0]) };
  }
}

/** The fields, when the catalogue allows their count for the command. */
function counted(
  command: CommandName,
  fields: Uint8Array[] | undefined,
): Uint8Array[] {
  const counts = COMMANDS[command].fieldCounts;
  const count = fields?.length ?? 0;
  if (counts === undefined || counts.includes(count)) return fields ?? [];
  if (counts.length === 1 && counts[0] === 0) {
    throw new FieldError(`AT+${command} takes no parameters`);
  }
  const min = Math.min(...counts);
  const max = Math.max(...counts);
  // AT+SKTSENDRAW: 2 fields, or 4 with the optional destination.
  const extra = COMMANDS[command].fields.slice(min, max).map((f) => f.name);
  const want = counts.length === 1
    ? `${min} fields`
    : counts.length === max - min + 1
    ? `${min} to ${max} fields`
    : `${min} fields (or ${max} with ${extra.join(" and ")})`;
  throw new FieldError(`expected ${want}, got ${count}`);
}

/** A number field read with `atoi` and checked against its catalogue range. */
function number(raw: Uint8Array, spec: FieldSpec): number {
  const value = atoi(raw);
  const problem = rangeProblem(spec, value);
  if (problem !== undefined) throw new FieldError(problem);
  return value;
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
  } else {
    const problem = rangeProblem(field(request.command, "dst_port"), port);
    if (problem !== undefined) request.badDestination = problem;
    else request.destination = { ip: canonical, port };
  }
}

function parseConfig(f: Uint8Array[]): SocketConfig {
  // firmware rule sktcfg-missing-fields
  // at_sktcfg takes 1 to 7 fields; one not given keeps its 0 (the vendor's
  // own drivers send `AT+SKTCFG=,,1`). Every call sets all seven.
  const config: Record<string, number | boolean> = {};
  COMMANDS.SKTCFG.fields.forEach((spec, i) => {
    const value = number(f[i] ?? new Uint8Array(), spec);
    config[spec.key] = spec.kind === "flag" ? value === 1 : value;
  });
  return config as unknown as SocketConfig;
}

function parseServer(f: Uint8Array[]): Request {
  const [, typeSpec, certSpec, portSpec, autoSpec] = COMMANDS.SKTSERVER.fields;
  const id = number(f[0], COMMANDS.SKTSERVER.fields[0]);
  const type = number(f[1], typeSpec) as ServerType;
  const request: ServerRequest = {
    command: "SKTSERVER",
    linkId: id,
    type,
    port: 0,
    autoReceive: false,
  };
  if (usesCert("server", type)) request.certIndex = number(f[2], certSpec);
  request.port = number(f[3], portSpec);
  request.autoReceive = number(f[4], autoSpec) === 1;
  return request;
}

function parseClient(f: Uint8Array[]): Request {
  const [, typeSpec, certSpec, hostSpec, portSpec, localSpec, autoSpec] =
    COMMANDS.SKTCLIENT.fields;
  const id = number(f[0], COMMANDS.SKTCLIENT.fields[0]);
  const type = number(f[1], typeSpec) as ClientType;
  const request: ClientRequest = {
    command: "SKTCLIENT",
    linkId: id,
    type,
    host: "",
    port: 0,
    autoReceive: false,
  };
  if (usesCert("client", type)) request.certIndex = number(f[2], certSpec);
  const host = decodeLatin1(f[3]);
  const problem = rangeProblem(hostSpec, host.length);
  if (problem !== undefined) throw new FieldError(problem);
  request.host = host;
  request.port = number(f[4], portSpec);
  // firmware rule client-src-port
  if (localSpec.requiredFor!.includes(type) || f[5].length > 0) {
    request.localPort = number(f[5], localSpec);
  }
  request.autoReceive = number(f[6], autoSpec) === 1;
  return request;
}

function parseSend(f: Uint8Array[]): Request {
  const id = number(f[0], field("SKTSEND", "link_id"));
  const size = atoi(f[1]);
  const data = f[4];
  const sizeSpec = field("SKTSEND", "data_size");
  if (size < sizeSpec.min) {
    throw new FieldError(`data_size ${size} is less than ${sizeSpec.min}`);
  }
  if (size !== data.length) {
    throw new FieldError(
      `data_size ${size} does not match the ${data.length} bytes of data`,
    );
  }
  const request: SendRequest = { command: "SKTSEND", linkId: id, data };
  destination(request, f[2], f[3]);
  return request;
}
