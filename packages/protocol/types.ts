/**
 * Typed requests (one variant per command) and the module's state as the
 * query commands report it.
 *
 * @module
 */

import type { ClientType, ServerType } from "./commands.ts";

/** The global socket options set by `AT+SKTCFG` and shown by `AT+SKTQUERY`. */
export interface SocketConfig {
  /** SO_SNDTIMEO in milliseconds (0: none). */
  sendTimeout: number;
  /** SO_RCVTIMEO in milliseconds (0: none). */
  receiveTimeout: number;
  /** TCP_NODELAY: true disables Nagle's algorithm. */
  noDelay: boolean;
  /** SO_KEEPALIVE. */
  keepAlive: boolean;
  /** TCP_KEEPIDLE in seconds, 0..7200. */
  keepIdle: number;
  /** TCP_KEEPINTVL in seconds, 0..75. */
  keepInterval: number;
  /** TCP_KEEPCNT, 0..10. */
  keepCount: number;
}

/** The configuration a module starts with. */
export const DEFAULT_CONFIG: Readonly<SocketConfig> = Object.freeze({
  sendTimeout: 0,
  receiveTimeout: 0,
  noDelay: false,
  keepAlive: false,
  keepIdle: 0,
  keepInterval: 0,
  keepCount: 0,
});

/** An IPv4 address and port, as in the UDP destination fields. */
export interface Endpoint {
  /** Dotted-quad IPv4 address. */
  ip: string;
  /** Port, 1..65535 (0 in `AT+SKTSTATE` for the unused side of a link). */
  port: number;
}

/** `AT+SKTCFG`: replace all seven global socket options. */
export interface CfgRequest {
  /** Command discriminator. */
  command: "SKTCFG";
  /** The new options (every call replaces all seven). */
  config: SocketConfig;
}

/** `AT+SKTQUERY`: show the global socket options. */
export interface QueryRequest {
  /** Command discriminator. */
  command: "SKTQUERY";
}

/** `AT+SKTSERVER`: create a listening server. */
export interface ServerRequest {
  /** Command discriminator. */
  command: "SKTSERVER";
  /** Link id 0..19. */
  linkId: number;
  /** Connection type. */
  type: ServerType;
  /** Certificate suite 1..10, present for types 2 and 3 only. */
  certIndex?: number;
  /** Local port 1..65535. */
  port: number;
  /** Print received data as `[$][SKT][DATA]` lines instead of keeping it for `AT+SKTREAD`. */
  autoReceive: boolean;
}

/** `AT+SKTCLIENT`: connect to a remote server. */
export interface ClientRequest {
  /** Command discriminator. */
  command: "SKTCLIENT";
  /** Link id 0..19. */
  linkId: number;
  /** Connection type. */
  type: ClientType;
  /** Certificate suite 1..10, present for types 3, 4 and 5 only. */
  certIndex?: number;
  /** IPv4 address or host name (at most 255 characters). */
  host: string;
  /** Remote port 1..65535. */
  port: number;
  /**
   * Local port 1..65535: required for UDP (type 0), optional for the
   * others (`at_sktclient` checks its range whenever it is given). A UDP
   * client binds it; a TLS client only shows it in `AT+SKTSTATE`; a TCP
   * client ignores it.
   */
  localPort?: number;
  /** Print received data as `[$][SKT][DATA]` lines. */
  autoReceive: boolean;
}

/** `AT+SKTSEND`: send bytes given on the command line. */
export interface SendRequest {
  /** Command discriminator. */
  command: "SKTSEND";
  /** Link id 0..19. */
  linkId: number;
  /** The bytes to send (after unescaping `\,` and `\\`). */
  data: Uint8Array;
  /**
   * Destination, required on a UDP server. On any other link the module
   * ignores the `dst_ip`/`dst_port` fields (`at_sktsend`).
   */
  destination?: Endpoint;
  /**
   * Why the `dst_ip`/`dst_port` fields given do not make a destination
   * (the parser keeps the line: only a UDP server needs one, and answers
   * `ERROR: 1` for them).
   */
  badDestination?: string;
}

/** `AT+SKTREAD`: read buffered data. */
export interface ReadRequest {
  /** Command discriminator. */
  command: "SKTREAD";
  /** Link id 0..19. */
  linkId: number;
  /** Most bytes to read, at least 1. */
  size: number;
}

/** `AT+SKTSENDRAW`: send raw bytes in transparent transmission. */
export interface SendRawRequest {
  /** Command discriminator. */
  command: "SKTSENDRAW";
  /** Link id 0..19. */
  linkId: number;
  /** Number of raw bytes that follow the `>>>` prompt, at least 1. */
  size: number;
  /**
   * Destination, required on a UDP server. On any other link the module
   * ignores the `dst_ip`/`dst_port` fields (`at_sktsendraw`).
   */
  destination?: Endpoint;
  /** As {@linkcode SendRequest.badDestination}. */
  badDestination?: string;
}

/** `AT+SKTSTATE`: list every link. */
export interface StateRequest {
  /** Command discriminator. */
  command: "SKTSTATE";
}

/** `AT+SKTDEL`: delete a link (a server with all its seeds). */
export interface DelRequest {
  /** Command discriminator. */
  command: "SKTDEL";
  /** Link id 0..19. */
  linkId: number;
}

/** Any socket command, discriminated by `command`. */
export type Request =
  | CfgRequest
  | QueryRequest
  | ServerRequest
  | ClientRequest
  | SendRequest
  | ReadRequest
  | SendRawRequest
  | StateRequest
  | DelRequest;

/** A link's role in `AT+SKTSTATE`. */
export type LinkRole = "server" | "client" | "seed";

/** A link's protocol as printed by `AT+SKTSTATE` (TLS shows as `ssl`). */
export type StateProtocol = "tcp" | "udp" | "ssl";

/** One line of `AT+SKTSTATE`. */
export interface LinkState {
  /** Link id 0..19. */
  linkId: number;
  /** Server, client or seed. */
  role: LinkRole;
  /** tcp, udp or ssl. */
  protocol: StateProtocol;
  /**
   * Source address and port (`at_sktstate`): a server's own address and
   * port; a TCP client's local address and port (`lwip_getsockname`); a
   * UDP or TLS client's `0.0.0.0` and the src_port given (0 when none);
   * a seed's `0.0.0.0:0`.
   */
  source: Endpoint;
  /** Destination (the peer for clients and seeds, 0.0.0.0:0 for servers). */
  destination: Endpoint;
  /** lwIP-style socket number, or -1 once the peer has gone. */
  socketFd: number;
}
