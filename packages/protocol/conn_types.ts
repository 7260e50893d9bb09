/**
 * The connection types of `AT+SKTSERVER` and `AT+SKTCLIENT` by name:
 * their numbers, transports and what they do with certificates. Part of the
 * command catalogue (`commands.ts`).
 *
 * @module
 */

/** `AT+SKTSERVER` connection types by name. */
export const SERVER_TYPE = {
  /** A UDP server. */
  UDP: 0,
  /** A TCP server. */
  TCP: 1,
  /** A TLS server presenting its certificate. */
  TLS: 2,
  /** A TLS server that also verifies client certificates with its CA. */
  TLS_VERIFY_CLIENT: 3,
} as const;

/** `AT+SKTCLIENT` connection types by name. */
export const CLIENT_TYPE = {
  /** A UDP client. */
  UDP: 0,
  /** A TCP client. */
  TCP: 1,
  /** A TLS client that verifies nothing. */
  TLS: 2,
  /** A TLS client verifying the server's certificate with its CA. */
  TLS_VERIFY_SERVER: 3,
  /** A TLS client presenting a client certificate. */
  TLS_CLIENT_CERT: 4,
  /** A TLS client doing both (mutual authentication). */
  TLS_MUTUAL: 5,
} as const;

/** Server connection types: 0 UDP, 1 TCP, 2 TLS, 3 TLS verifying client certificates. */
export type ServerType = typeof SERVER_TYPE[keyof typeof SERVER_TYPE];

/**
 * Client connection types: 0 UDP, 1 TCP, 2 TLS without verification,
 * 3 TLS verifying the server, 4 TLS presenting a client certificate, 5 both.
 */
export type ClientType = typeof CLIENT_TYPE[keyof typeof CLIENT_TYPE];

/** Which command a connection type belongs to. */
export type LinkSide = "server" | "client";

/** The transport under a connection type. */
export type TransportKind = "udp" | "tcp" | "tls";

/** One connection type: its number, name and what it does. */
export interface ConnTypeSpec {
  /** The number in `conn_type`. */
  readonly value: number;
  /** Its name in {@linkcode SERVER_TYPE} or {@linkcode CLIENT_TYPE}. */
  readonly name: string;
  /** UDP, TCP or TLS. */
  readonly transport: TransportKind;
  /** Whether `cert_index` is read for it (a certificate suite is used). */
  readonly usesCert: boolean;
  /** Whether the module presents its own certificate. */
  readonly presentsCert: boolean;
  /** Whether the module verifies the peer's certificate with its CA. */
  readonly verifiesPeer: boolean;
  /** The reference's description. */
  readonly meaning: string;
}

function tls(
  value: number,
  name: string,
  presentsCert: boolean,
  verifiesPeer: boolean,
  meaning: string,
): ConnTypeSpec {
  return {
    value,
    name,
    transport: "tls",
    usesCert: presentsCert || verifiesPeer,
    presentsCert,
    verifiesPeer,
    meaning,
  };
}

function plain(
  value: number,
  name: string,
  transport: TransportKind,
  meaning: string,
): ConnTypeSpec {
  return {
    value,
    name,
    transport,
    usesCert: false,
    presentsCert: false,
    verifiesPeer: false,
    meaning,
  };
}

/** Every `AT+SKTSERVER` connection type, indexed by its number. */
export const SERVER_TYPES: readonly ConnTypeSpec[] = [
  plain(SERVER_TYPE.UDP, "UDP", "udp", "socket server over UDP"),
  plain(SERVER_TYPE.TCP, "TCP", "tcp", "socket server over TCP"),
  tls(
    SERVER_TYPE.TLS,
    "TLS",
    true,
    false,
    "socket server over TLS (provides the server certificate for client verification)",
  ),
  tls(
    SERVER_TYPE.TLS_VERIFY_CLIENT,
    "TLS_VERIFY_CLIENT",
    true,
    true,
    "socket server over TLS (provides the server certificate and verifies client certificates with the CA certificate)",
  ),
];

/** Every `AT+SKTCLIENT` connection type, indexed by its number. */
export const CLIENT_TYPES: readonly ConnTypeSpec[] = [
  plain(CLIENT_TYPE.UDP, "UDP", "udp", "socket client over UDP"),
  plain(CLIENT_TYPE.TCP, "TCP", "tcp", "socket client over TCP"),
  tls(
    CLIENT_TYPE.TLS,
    "TLS",
    false,
    false,
    "socket client over TLS (no certificate verification)",
  ),
  tls(
    CLIENT_TYPE.TLS_VERIFY_SERVER,
    "TLS_VERIFY_SERVER",
    false,
    true,
    "socket client over TLS (verifies the server certificate with the CA certificate)",
  ),
  tls(
    CLIENT_TYPE.TLS_CLIENT_CERT,
    "TLS_CLIENT_CERT",
    true,
    false,
    "socket client over TLS (provides a client certificate to the server)",
  ),
  tls(
    CLIENT_TYPE.TLS_MUTUAL,
    "TLS_MUTUAL",
    true,
    true,
    "socket client over TLS (mutual authentication: both 3 and 4)",
  ),
];

/**
 * A connection type of a server or client by its number, or `undefined`
 * for a number that is none.
 */
export function connType(
  side: LinkSide,
  value: number,
): ConnTypeSpec | undefined {
  return (side === "server" ? SERVER_TYPES : CLIENT_TYPES)[value];
}

/** Whether a server or client of this type reads `cert_index`. */
export function usesCert(side: LinkSide, value: number): boolean {
  return connType(side, value)?.usesCert ?? false;
}

/** The transport of a server or client type (`undefined` for none). */
export function transportOf(
  side: LinkSide,
  value: number,
): TransportKind | undefined {
  return connType(side, value)?.transport;
}
