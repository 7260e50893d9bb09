/**
 * The host library's argument checks: a bad argument is a `RangeError`
 * before anything is written. Every range and every connection-type rule
 * is here, in one place, so that they follow the command catalogue in one
 * edit.
 *
 * @module
 */

import {
  CERT_INDEX_MAX,
  CERT_INDEX_MIN,
  type ClientRequest,
  type ClientType,
  type Endpoint,
  formatRequest,
  lineReaderAlters,
  LINK_COUNT,
  MAX_HOST_LENGTH,
  MAX_LINE_LENGTH,
  type SendRawRequest,
  type SendRequest,
  type ServerRequest,
  type ServerType,
  type SocketConfig,
} from "@atsock/protocol";

/** `AT+SKTSERVER` type 0 and `AT+SKTCLIENT` type 0: UDP. */
export const UDP_TYPE = 0;
/** The type a server or client gets when none is given: TCP. */
export const DEFAULT_TYPE = 1;
/** `AT+SKTSERVER` types from this one are TLS servers: they take a cert index. */
const FIRST_TLS_SERVER_TYPE = 2;
/** `AT+SKTCLIENT` types from this one are TLS clients: they take a cert index. */
const FIRST_TLS_CLIENT_TYPE = 3;

/** `ERROR: 1` (Parameter error): on `AT+SKTDEL`, no such link; on `AT+SKTREAD`, a link without socket. */
export const PARAMETER_ERROR = 1;
/** `ERROR: 4` of `AT+SKTREAD` (Failed to read data): the read that met the peer's close. */
export const READ_FAILED = 4;

/** Throws a `RangeError` with `message` unless `ok`. */
export function check(ok: boolean, message: string): asserts ok {
  if (!ok) throw new RangeError(message);
}

/** A link id: 0..19. */
export function checkLink(id: number): void {
  check(
    Number.isInteger(id) && id >= 0 && id < LINK_COUNT,
    `link id must be 0..${LINK_COUNT - 1}, not ${id}`,
  );
}

/** A port: 1..65535. */
export function checkPort(port: number, name = "port"): void {
  check(
    Number.isInteger(port) && port >= 1 && port <= 65535,
    `${name} must be 1..65535, not ${port}`,
  );
}

function checkCert(index: number | undefined): void {
  check(
    index !== undefined && Number.isInteger(index) &&
      index >= CERT_INDEX_MIN && index <= CERT_INDEX_MAX,
    `certIndex must be ${CERT_INDEX_MIN}..${CERT_INDEX_MAX} for this type`,
  );
}

/** A destination: a dotted IPv4 address and a port. */
export function checkEndpoint(endpoint: Endpoint): void {
  check(
    /^\d{1,3}(\.\d{1,3}){3}$/.test(endpoint.ip),
    `destination ip must be IPv4, not ${endpoint.ip}`,
  );
  checkPort(endpoint.port, "destination port");
}

/** A byte count: a whole number >= 1. */
export function checkSize(size: number, message = "size must be >= 1"): void {
  check(Number.isInteger(size) && size >= 1, message);
}

/** The seven options of `AT+SKTCFG`. */
export function checkConfig(config: SocketConfig): void {
  check(
    Number.isInteger(config.sendTimeout) && config.sendTimeout >= 0,
    "sendTimeout must be a whole number of ms >= 0",
  );
  check(
    Number.isInteger(config.receiveTimeout) && config.receiveTimeout >= 0,
    "receiveTimeout must be a whole number of ms >= 0",
  );
  check(
    Number.isInteger(config.keepIdle) && config.keepIdle >= 0 &&
      config.keepIdle <= 7200,
    "keepIdle must be 0..7200 s",
  );
  check(
    Number.isInteger(config.keepInterval) && config.keepInterval >= 0 &&
      config.keepInterval <= 75,
    "keepInterval must be 0..75 s",
  );
  check(
    Number.isInteger(config.keepCount) && config.keepCount >= 0 &&
      config.keepCount <= 10,
    "keepCount must be 0..10",
  );
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
  const type = server.type ?? DEFAULT_TYPE;
  const withCert = type >= FIRST_TLS_SERVER_TYPE;
  checkLink(server.linkId);
  checkPort(server.port);
  if (withCert) checkCert(server.certIndex);
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
  const type = client.type ?? DEFAULT_TYPE;
  const udp = type === UDP_TYPE;
  const withCert = type >= FIRST_TLS_CLIENT_TYPE;
  checkLink(client.linkId);
  checkPort(client.port);
  check(
    client.host.length > 0 && client.host.length <= MAX_HOST_LENGTH &&
      !/[,\r\n]/.test(client.host),
    `host must be 1..${MAX_HOST_LENGTH} characters without commas or line ends`,
  );
  if (udp) checkPort(client.localPort ?? 0, "localPort");
  if (withCert) checkCert(client.certIndex);
  return {
    command: "SKTCLIENT",
    linkId: client.linkId,
    type,
    ...(withCert ? { certIndex: client.certIndex } : {}),
    host: client.host,
    port: client.port,
    ...(udp ? { localPort: client.localPort } : {}),
    autoReceive: client.autoReceive ?? true,
  };
}

/** Checks `AtDriver.sendRaw`'s arguments and makes its request. */
export function rawRequest(
  linkId: number,
  data: Uint8Array | { size: number },
  destination: Endpoint | undefined,
): SendRawRequest {
  checkLink(linkId);
  const size = data instanceof Uint8Array ? data.length : data.size;
  checkSize(size);
  if (destination) checkEndpoint(destination);
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
  checkLink(linkId);
  check(data.length > 0, "data is empty");
  check(
    !lineReaderAlters(data),
    "AT+SKTSEND cannot carry NUL, BS, TAB, DEL, 0xFF or CR LF bytes (the module's line reader changes them): use sendRaw (Host Control Mode)",
  );
  if (destination) checkEndpoint(destination);
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
        `a UDP datagram must fit one AT+SKTSEND line (${MAX_LINE_LENGTH} bytes with escapes); use sendRaw for larger ones`,
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
