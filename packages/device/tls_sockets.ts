/**
 * The module's TLS sockets, as `at_sktserver` and `at_sktclient` make
 * them: the certificate files checked in the firmware's order, then the
 * bind or connect ({@linkcode listenTls}, {@linkcode connectTls}). A
 * failure is a {@linkcode SocketFailure}: a certificate file's check keeps
 * the code the firmware's file function gives.
 *
 * @module
 */

import {
  type ClientRequest,
  type Endpoint,
  ERR,
  type ServerRequest,
} from "@atsock/protocol";
import { CertStore, needsFor, type Suite, TlsFailure } from "./certs.ts";
import type { ByteConn } from "./node_conn.ts";
import { message, SocketFailure, type Sockets } from "./sockets.ts";
import { connectTls, listenTls, type TlsListener } from "./tls.ts";

/** A {@linkcode TlsFailure} as a {@linkcode SocketFailure}. */
function socketFailure(e: TlsFailure): SocketFailure {
  if (e.code === ERR.SKTCLIENT.NET_CONNECT) {
    return new SocketFailure("connect", e.message);
  }
  if (e.code === ERR.SKTCLIENT.HANDSHAKE) {
    return new SocketFailure("handshake", e.message);
  }
  return new SocketFailure("certificate", e.message, e.code);
}

/** Makes one module's TLS servers and clients. */
export class TlsSockets {
  #sockets: Sockets;
  #certs: CertStore;
  #mbedtls: 2 | 3;
  #log: (message: string) => void;

  /** TLS sockets from `certs`, bound and checked by `sockets`. */
  constructor(
    sockets: Sockets,
    options: {
      certs: string | undefined;
      mbedtls: 2 | 3;
      log: (message: string) => void;
    },
  ) {
    this.#sockets = sockets;
    this.#certs = new CertStore(options.certs);
    this.#mbedtls = options.mbedtls;
    this.#log = options.log;
  }

  /** A TLS server's listener; each verified connection goes to `onConnection`. */
  async listen(
    request: ServerRequest,
    onConnection: (conn: ByteConn, peer: Endpoint) => void,
  ): Promise<TlsListener> {
    const type = request.type as 2 | 3;
    this.#certsExist("server", request.certIndex!, type);
    const suite = this.#suite("server", request.certIndex!, type);
    this.#sockets.mayBind(request.port, "bind TLS port");
    try {
      return await listenTls({
        hostname: this.#sockets.bindAddress,
        port: request.port,
        type,
        suite,
        log: this.#log,
      }, onConnection);
    } catch (e) {
      throw new SocketFailure(
        "bind",
        `bind TLS port ${request.port}: ${message(e)}`,
      );
    }
  }

  /** A TLS client's connection, and the address the host was found at. */
  async connect(
    request: ClientRequest,
  ): Promise<{ conn: ByteConn; ip: string }> {
    const type = request.type as 2 | 3 | 4 | 5;
    // at_sktclient: files exist (1), host found (1); then
    // create_socket_client_tls reads them (6) and parses them (9).
    this.#certsExist("client", request.certIndex, type);
    const ip = await this.#sockets.resolve(request.host);
    const suite = this.#suite("client", request.certIndex, type);
    this.#sockets.mayConnect(ip, request.port, request.host);
    try {
      const conn = await connectTls({
        ip,
        port: request.port,
        type,
        suite,
        timeoutMs: this.#sockets.connectTimeoutMs,
        mbedtls: this.#mbedtls,
      });
      return { conn, ip };
    } catch (e) {
      if (e instanceof TlsFailure) throw socketFailure(e);
      throw new SocketFailure("handshake", message(e));
    }
  }

  /**
   * `ERROR: 1` when a file the type needs does not exist (or is empty):
   * `at_sktserver`/`at_sktclient` check their sizes before anything else.
   */
  #certsExist(
    side: "server" | "client",
    index: number | undefined,
    type: number,
  ): void {
    // firmware rule tls-cert-missing
    try {
      this.#certs.exist(side, index ?? 0, needsFor(side, type));
    } catch (e) {
      if (e instanceof TlsFailure) throw socketFailure(e);
      throw e;
    }
  }

  #suite(
    side: "server" | "client",
    index: number | undefined,
    type: number,
  ): Suite {
    const needs = needsFor(side, type);
    if (!needs.ca && !needs.cert) return {};
    try {
      return this.#certs.load(side, index!, needs);
    } catch (e) {
      if (e instanceof TlsFailure) throw socketFailure(e);
      throw e;
    }
  }
}
