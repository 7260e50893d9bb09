/**
 * The host library's argument checks: a bad argument is a `RangeError`
 * before anything is written, named by its command
 * (`AT+SKTSERVER: type must be a whole number 0..3, not 7`). Every range
 * and every connection-type rule is here, in one place, so that they
 * follow the command catalogue in one edit.
 *
 * @module
 */

import {
  CLIENT_TYPE,
  type ClientRequest,
  type ClientType,
  type CommandName,
  COMMANDS,
  type Endpoint,
  ERR,
  field,
  fieldRequiredFor,
  type FieldSpec,
  fieldUsedBy,
  type FlowControl,
  formatRequest,
  hostProblem,
  isIPv4,
  lineReaderAlters,
  MAX_LINE_LENGTH,
  rangeProblem,
  rangeText,
  type SendRawRequest,
  type SendRequest,
  SERVER_TYPE,
  type ServerRequest,
  type ServerType,
  type SocketConfig,
  transportOf,
} from "@atsock/protocol";
import { DEFAULT_CLOSE_CHECK_MS, type DriverOptions } from "./options.ts";

/** `ERROR: 1` of `AT+SKTDEL`: no such link. */
export const NO_SUCH_LINK = ERR.SKTDEL.PARAMETER;
/** `ERROR: 1` of `AT+SKTREAD`: the link has no socket (a read after the end). */
export const READ_NO_SOCKET = ERR.SKTREAD.PARAMETER;
/** `ERROR: 4` of `AT+SKTREAD`: the read that met the peer's close. */
export const READ_FAILED = ERR.SKTREAD.READ;

const LINK_ID = field("SKTDEL", "link_id");
const READ_SIZE = field("SKTREAD", "data_size");
const RAW_SIZE = field("SKTSENDRAW", "data_size");

/** Throws a `RangeError` with `message` unless `ok`. */
export function check(ok: boolean, message: string): asserts ok {
  if (!ok) throw new RangeError(message);
}

/** What an argument error names first: `AT+<COMMAND>` (or a method). */
export type Where = CommandName | `AtDriver.${string}`;

/** Throws `RangeError("<where>: <message>")` unless `ok`. */
export function checkArg(
  ok: boolean,
  where: Where,
  message: string,
): asserts ok {
  if (!ok) {
    const prefix = where.startsWith("AtDriver.") ? where : `AT+${where}`;
    throw new RangeError(`${prefix}: ${message}`);
  }
}

/** What a value of a number field must be: "a whole number 0..19". */
function wholeNumber(spec: FieldSpec): string {
  return `a whole number ${rangeText(spec)}`;
}

/**
 * Checks `value` against a number field of the catalogue: a whole number
 * in its range. `name` is the argument's name; `where` names the command.
 */
export function checkField(
  where: Where,
  spec: FieldSpec,
  value: number | undefined,
  name: string = spec.key,
): void {
  checkArg(
    value !== undefined && Number.isInteger(value) &&
      rangeProblem(spec, value) === undefined,
    where,
    `${name} must be ${wholeNumber(spec)}, not ${value}`,
  );
}

/** A link id (`link_id`: 0..19) for the command (or method) `where`. */
export function checkLink(id: number, where: Where): void {
  const spec = where.startsWith("AtDriver.")
    ? LINK_ID
    : field(where as CommandName, "link_id");
  checkField(where, spec, id, "link id");
}

/** A destination of `AT+SKTSEND` or `AT+SKTSENDRAW`: its `dst_ip` and `dst_port`. */
export function checkEndpoint(
  command: "SKTSEND" | "SKTSENDRAW",
  endpoint: Endpoint,
): void {
  checkArg(
    typeof endpoint.ip === "string" && isIPv4(endpoint.ip),
    command,
    `destination ip must be ${
      rangeText(field(command, "dst_ip"))
    }, not ${endpoint.ip}`,
  );
  checkField(
    command,
    field(command, "dst_port"),
    endpoint.port,
    "destination port",
  );
}

/** `AtDriver.read`'s size (`AT+SKTREAD` `data_size`). */
export function checkReadSize(size: number): void {
  checkField("SKTREAD", READ_SIZE, size, "size");
}

/** The seven options of `AT+SKTCFG`, each in its catalogue range. */
export function checkConfig(config: SocketConfig): void {
  for (const spec of COMMANDS.SKTCFG.fields) {
    if (spec.kind === "flag") continue; // Booleans here.
    checkField(
      "SKTCFG",
      spec,
      config[spec.key as keyof SocketConfig] as number,
    );
  }
}

/** What {@linkcode serverRequest} takes (as `AtDriver.listen`). */
export interface ServerArgs {
  /** The server's link id. */
  linkId: number;
  /** The type (default TCP). */
  type?: ServerType;
  /** The local port. */
  port: number;
  /** The certificate suite of a TLS server. */
  certIndex?: number;
  /** auto_rcv (default true). */
  autoReceive?: boolean;
}

/** Checks a server's arguments and makes its `AT+SKTSERVER` request. */
export function serverRequest(server: ServerArgs): ServerRequest {
  const type = server.type ?? SERVER_TYPE.TCP;
  const spec = typedFields("SKTSERVER", type);
  checkLink(server.linkId, "SKTSERVER");
  checkField("SKTSERVER", spec.port, server.port, "port");
  const withCert = fieldUsedBy(spec.cert, type);
  if (withCert) checkCert("SKTSERVER", spec.cert, server.certIndex);
  return {
    command: "SKTSERVER",
    linkId: server.linkId,
    type,
    ...(withCert ? { certIndex: server.certIndex } : {}),
    port: server.port,
    autoReceive: server.autoReceive ?? true,
  };
}

/** What {@linkcode clientRequest} takes (as `AtDriver.connect`). */
export interface ClientArgs {
  /** The client's link id. */
  linkId: number;
  /** The type (default TCP). */
  type?: ClientType;
  /** The remote host. */
  host: string;
  /** The remote port. */
  port: number;
  /** The local port of a UDP client. */
  localPort?: number;
  /** The certificate suite of a TLS client. */
  certIndex?: number;
  /** auto_rcv (default true). */
  autoReceive?: boolean;
}

/** Checks a client's arguments and makes its `AT+SKTCLIENT` request. */
export function clientRequest(client: ClientArgs): ClientRequest {
  const type = client.type ?? CLIENT_TYPE.TCP;
  const spec = typedFields("SKTCLIENT", type);
  checkLink(client.linkId, "SKTCLIENT");
  checkField("SKTCLIENT", spec.port, client.port, "port");
  const hostIssue = hostProblem(client.host);
  checkArg(hostIssue === undefined, "SKTCLIENT", hostIssue ?? "");
  // A local port is sent where the firmware requires one (UDP: bound).
  const local = field("SKTCLIENT", "src_port");
  const withLocal = fieldRequiredFor(local, type);
  if (withLocal) {
    checkField("SKTCLIENT", local, client.localPort, "localPort");
  }
  const withCert = fieldUsedBy(spec.cert, type);
  if (withCert) checkCert("SKTCLIENT", spec.cert, client.certIndex);
  return {
    command: "SKTCLIENT",
    linkId: client.linkId,
    type,
    ...(withCert ? { certIndex: client.certIndex } : {}),
    host: client.host,
    port: client.port,
    ...(withLocal ? { localPort: client.localPort } : {}),
    autoReceive: client.autoReceive ?? true,
  };
}

/** Whether a server or client of `type` is UDP (the driver mirrors it). */
export function isUdp(request: ServerRequest | ClientRequest): boolean {
  const side = request.command === "SKTSERVER" ? "server" : "client";
  return transportOf(side, request.type) === "udp";
}

/** Checks the connection type; returns the fields that depend on it. */
function typedFields(
  command: "SKTSERVER" | "SKTCLIENT",
  type: number,
): { port: FieldSpec; cert: FieldSpec } {
  checkField(command, field(command, "conn_type"), type, "type");
  return {
    port: field(command, command === "SKTSERVER" ? "src_port" : "dst_port"),
    cert: field(command, "cert_index"),
  };
}

function checkCert(
  command: "SKTSERVER" | "SKTCLIENT",
  spec: FieldSpec,
  index: number | undefined,
): void {
  checkArg(
    index !== undefined && Number.isInteger(index) &&
      rangeProblem(spec, index) === undefined,
    command,
    `certIndex must be ${wholeNumber(spec)} for this type, not ${index}`,
  );
}

/** Checks `AtDriver.sendRaw`'s arguments and makes its request. */
export function rawRequest(
  linkId: number,
  data: Uint8Array | { size: number },
  destination: Endpoint | undefined,
): SendRawRequest {
  checkLink(linkId, "SKTSENDRAW");
  const size = data instanceof Uint8Array ? data.length : data.size;
  checkField("SKTSENDRAW", RAW_SIZE, size, "size");
  if (destination) checkEndpoint("SKTSENDRAW", destination);
  return destination
    ? { command: "SKTSENDRAW", linkId, size, destination }
    : { command: "SKTSENDRAW", linkId, size };
}

/** Payload size that fits one `AT+SKTSEND` line in the worst case of escaping. */
const SEND_CHUNK = 900;

/**
 * Checks `AtDriver.send`'s arguments and makes its requests: one for a UDP
 * link (one datagram), else as many as the command buffer needs.
 */
export function sendRequests(
  linkId: number,
  data: Uint8Array,
  destination: Endpoint | undefined,
  udp: boolean,
): SendRequest[] {
  checkLink(linkId, "SKTSEND");
  checkArg(data.length > 0, "SKTSEND", "data is empty");
  checkArg(
    !lineReaderAlters(data),
    "SKTSEND",
    "cannot carry NUL, BS, TAB, DEL, 0xFF or CR LF bytes (the module's line reader changes them): use sendRaw (Host Control Mode)",
  );
  if (destination) checkEndpoint("SKTSEND", destination);
  const request = (data: Uint8Array): SendRequest =>
    destination
      ? { command: "SKTSEND", linkId, data, destination }
      : { command: "SKTSEND", linkId, data };
  if (udp) {
    // One datagram per command: splitting would make several datagrams.
    try {
      formatRequest(request(data)); // Throws when the line exceeds the buffer.
    } catch (e) {
      throw new RangeError(
        `AT+SKTSEND: a UDP datagram must fit one AT+SKTSEND line (${MAX_LINE_LENGTH} bytes with escapes); use sendRaw for larger ones`,
        { cause: e },
      );
    }
    return [request(data)];
  }
  const requests: SendRequest[] = [];
  for (let i = 0; i < data.length; i += SEND_CHUNK) {
    requests.push(request(data.subarray(i, i + SEND_CHUNK)));
  }
  return requests;
}

/** The driver's own options, checked, with their defaults. */
export function driverSettings(
  options: DriverOptions,
): { closeCheckMs: number; flowControl: FlowControl } {
  const closeCheckMs = options.closeCheckMs ?? DEFAULT_CLOSE_CHECK_MS;
  check(
    Number.isFinite(closeCheckMs) && closeCheckMs >= 0,
    "AtDriver: closeCheckMs must be >= 0",
  );
  const flowControl = options.flowControl ?? "none";
  check(
    flowControl === "none" || flowControl === "rts",
    `AtDriver: flowControl must be "none" or "rts", not ${flowControl}`,
  );
  return { closeCheckMs, flowControl };
}
