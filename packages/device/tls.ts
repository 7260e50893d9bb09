/**
 * TLS for the virtual module: TLS servers and clients of every connection
 * type (the certificate store they take their suites from is `certs.ts`),
 * with verification really enforced (through `node:tls`, because
 * `Deno.listenTls` cannot demand client certificates and `Deno.connectTls`
 * cannot skip verification, which types 2 and 4 need).
 *
 * @module
 */

import { connect as netConnect, type Socket } from "node:net";
import { Duplex } from "node:stream";
import {
  connect as tlsConnect,
  createSecureContext,
  type SecureContext,
  TLSSocket,
} from "node:tls";
import { X509Certificate } from "node:crypto";
import { type CLIENT_TYPE, connType, ERR, SERVER_TYPE } from "@atsock/protocol";

/** The `AT+SKTSERVER` types that are TLS. */
type TlsServerType =
  | typeof SERVER_TYPE.TLS
  | typeof SERVER_TYPE.TLS_VERIFY_CLIENT;

/** The `AT+SKTCLIENT` types that are TLS. */
type TlsClientType =
  | typeof CLIENT_TYPE.TLS
  | typeof CLIENT_TYPE.TLS_VERIFY_SERVER
  | typeof CLIENT_TYPE.TLS_CLIENT_CERT
  | typeof CLIENT_TYPE.TLS_MUTUAL;
import { acceptLoop, errorKind } from "./accept_loop.ts";
import { type ByteConn, nodeConn } from "./node_conn.ts";
import { type Suite, TlsFailure } from "./certs.ts";

export {
  CertStore,
  checkSuite,
  needsFor,
  type Suite,
  type SuiteNeeds,
  TlsFailure,
} from "./certs.ts";

/** Client contexts built from a checked suite (the suite object is the cache key). */
const clientContexts = new WeakMap<Suite, SecureContext>();

function clientContext(suite: Suite): SecureContext {
  let context = clientContexts.get(suite);
  if (!context) {
    // A key that does not match cannot go into a context: the client then
    // presents no certificate, so a server that demands one breaks the
    // handshake off, as it would on the bad signature.
    const own = suite.mismatch ? {} : { cert: suite.cert, key: suite.key };
    context = createSecureContext({
      ca: suite.ca,
      ...own,
      maxVersion: "TLSv1.2",
    });
    clientContexts.set(suite, context);
  }
  return context;
}

/** A TLS listener whose accepted, verified connections are handed out. */
export interface TlsListener {
  /** The port listened on. */
  readonly port: number;
  /** Handshakes in progress now (at most {@linkcode TLS_HANDSHAKES_IN_PROGRESS}). */
  readonly handshaking: number;
  /** Handshakes dropped to make room for a newer one, since the start. */
  readonly dropped: number;
  /** Closes the listener. */
  close(): void;
}

/** How long a client may take over its handshake with a TLS server, by default. */
export const TLS_HANDSHAKE_TIMEOUT_MS = 10000;

/**
 * Handshakes a TLS server lets run at once, by default. The firmware serves
 * one at a time (its accept task runs each handshake to its end before the
 * next accept); a few let honest clients that arrive together through,
 * while a flood of clients that never finish cannot hold more than this
 * many connections (and file descriptors) per server.
 */
export const TLS_HANDSHAKES_IN_PROGRESS = 4;

/**
 * Listens for TLS clients. Type 3 requires a client certificate signed by
 * the suite's CA: a client without one fails the handshake and is never
 * handed out. A handshake that takes longer than `handshakeTimeoutMs`
 * (default {@linkcode TLS_HANDSHAKE_TIMEOUT_MS}) is dropped, without a seed.
 * At most `maxHandshakes` (default {@linkcode TLS_HANDSHAKES_IN_PROGRESS})
 * handshakes run at once: a new connection beyond that closes the oldest
 * one still in its handshake. Connections are accepted by
 * {@linkcode acceptLoop} (a reset before the accept, out of descriptors:
 * the server goes on), then given to `node:tls` for the handshake.
 */
export function listenTls(
  options: {
    hostname: string;
    port: number;
    type: TlsServerType;
    suite: Suite;
    handshakeTimeoutMs?: number;
    maxHandshakes?: number;
    log?: (message: string) => void;
  },
  onConnection: (conn: ByteConn, peer: { ip: string; port: number }) => void,
): Promise<TlsListener> {
  if (options.suite.mismatch) return listenBroken(options);
  const context = createSecureContext({
    cert: options.suite.cert,
    key: options.suite.key,
    ca: options.type === SERVER_TYPE.TLS_VERIFY_CLIENT
      ? options.suite.ca
      : undefined,
    maxVersion: "TLSv1.2",
  });
  let listener: Deno.TcpListener;
  try {
    listener = listenTcp(options);
  } catch (e) {
    return Promise.reject(e);
  }
  const port = (listener.addr as Deno.NetAddr).port;
  const caCert =
    options.type === SERVER_TYPE.TLS_VERIFY_CLIENT && options.suite.ca
      ? new X509Certificate(options.suite.ca)
      : undefined;
  const cap = Math.max(1, options.maxHandshakes ?? TLS_HANDSHAKES_IN_PROGRESS);
  const limitMs = options.handshakeTimeoutMs ?? TLS_HANDSHAKE_TIMEOUT_MS;
  // Connections whose handshake has not ended, oldest first.
  const handshaking = new Map<Deno.TcpConn, () => void>();
  let dropped = 0;
  let closed = false;
  const accepting = acceptLoop(listener, (conn) => {
    const remote = conn.remoteAddr as Deno.NetAddr;
    let socket: TLSSocket | undefined;
    const timer = setTimeout(() => end(), limitMs);
    const end = () => {
      clearTimeout(timer);
      handshaking.delete(conn);
      socket?.destroy();
      try {
        conn.close();
      } catch { /* closed */ }
    };
    handshaking.set(conn, end);
    while (handshaking.size > cap) {
      const [, oldest] = handshaking.entries().next().value!;
      dropped++;
      oldest();
    }
    // No TLS state until the client says hello: a client that never does
    // costs a socket and a pending read, nothing more (node:tls keeps
    // native memory for every handshake it starts).
    const hello = new Uint8Array(16 * 1024);
    conn.read(hello).then((n) => {
      if (n === null || !handshaking.has(conn)) return end();
      // A client gone before its handshake ended frees its slot at once.
      const gone = () => {
        if (handshaking.has(conn)) end();
      };
      const tls = new TLSSocket(
        denoDuplex(conn, gone, hello.subarray(0, n)),
        {
          isServer: true,
          secureContext: context,
          requestCert: options.type === SERVER_TYPE.TLS_VERIFY_CLIENT,
          rejectUnauthorized: options.type === SERVER_TYPE.TLS_VERIFY_CLIENT,
        },
      );
      socket = tls;
      tls.once("close", () => {
        clearTimeout(timer);
        handshaking.delete(conn);
        try {
          conn.close();
        } catch { /* closed */ }
      });
      // A failed handshake: no seed, and the connection goes.
      tls.on("error", () => end());
      tls.once("secure", () => {
        clearTimeout(timer);
        handshaking.delete(conn);
        if (
          options.type === SERVER_TYPE.TLS_VERIFY_CLIENT &&
          !clientVerified(tls, caCert)
        ) {
          end();
          return;
        }
        tls.removeAllListeners("error");
        onConnection(nodeConn(tls as unknown as Socket), {
          ip: remote.hostname,
          port: remote.port,
        });
      });
    }, () => end());
  }, {
    name: `TLS server on port ${port}`,
    log: options.log,
    closed: () => closed,
  });
  return Promise.resolve({
    port,
    get handshaking() {
      return handshaking.size;
    },
    get dropped() {
      return dropped;
    },
    close: () => {
      if (closed) return;
      closed = true;
      try {
        listener.close();
      } catch { /* closed */ }
      for (const end of [...handshaking.values()]) end();
      accepting.catch(() => {});
    },
  });
}

/**
 * Whether a type 3 server's client presented a certificate issued and
 * signed by the suite's CA and valid now. `node:tls` on a stream socket
 * does not say (`authorized` stays false), so it is checked here, as
 * mbedtls does with `MBEDTLS_SSL_VERIFY_REQUIRED` and the CA chain.
 */
function clientVerified(
  socket: TLSSocket,
  ca: X509Certificate | undefined,
): boolean {
  if (!ca) return false;
  const raw = socket.getPeerCertificate()?.raw;
  if (!raw || raw.length === 0) return false;
  try {
    const cert = new X509Certificate(raw);
    const now = Date.now();
    return cert.checkIssued(ca) && cert.verify(ca.publicKey) &&
      Date.parse(cert.validFrom) <= now && now <= Date.parse(cert.validTo);
  } catch {
    return false;
  }
}

/**
 * A `node:stream` Duplex over a Deno TCP connection, for `node:tls` to run
 * a server handshake on: reads only when asked (back-pressure), and
 * closing either side closes the connection.
 */
function denoDuplex(
  conn: Deno.TcpConn,
  onEnd: () => void,
  first?: Uint8Array,
): Duplex {
  let reading = false;
  let pending = first;
  return new Duplex({
    read() {
      if (pending) {
        const chunk = pending;
        pending = undefined;
        this.push(chunk);
        return;
      }
      if (reading) return;
      reading = true;
      const buffer = new Uint8Array(64 * 1024);
      conn.read(buffer).then(
        (n) => {
          reading = false;
          if (n === null) onEnd();
          this.push(n === null ? null : buffer.subarray(0, n));
        },
        () => {
          reading = false;
          onEnd();
          this.push(null);
        },
      );
    },
    write(chunk: Uint8Array, _encoding, callback) {
      (async () => {
        for (let at = 0; at < chunk.length;) {
          at += await conn.write(chunk.subarray(at));
        }
      })().then(() => callback(), (e) => callback(e));
    },
    final(callback) {
      conn.closeWrite().then(() => callback(), () => callback());
    },
    destroy(error, callback) {
      try {
        conn.close();
      } catch { /* closed */ }
      callback(error);
    },
  });
}

/**
 * Listens on TCP for a TLS server; a failure is named as node:net named it
 * (EADDRINUSE), with Deno's words after.
 */
function listenTcp(
  options: { hostname: string; port: number },
): Deno.TcpListener {
  try {
    return Deno.listen({
      hostname: options.hostname,
      port: options.port,
      transport: "tcp",
    });
  } catch (e) {
    throw new Error(
      `${errorKind(e)}: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
}

/**
 * A TLS server whose key does not match its certificate: it listens, and
 * every handshake fails (the peer's connection is closed without a seed,
 * an event or anything on the console).
 */
function listenBroken(
  options: {
    hostname: string;
    port: number;
    log?: (message: string) => void;
  },
): Promise<TlsListener> {
  let listener: Deno.TcpListener;
  try {
    listener = listenTcp(options);
  } catch (e) {
    return Promise.reject(e);
  }
  const port = (listener.addr as Deno.NetAddr).port;
  let closed = false;
  // Every handshake fails: each client is accepted and closed at once.
  const accepting = acceptLoop(listener, (conn) => conn.close(), {
    name: `TLS server on port ${port} (key and certificate do not match)`,
    log: options.log,
    closed: () => closed,
  });
  return Promise.resolve({
    port,
    handshaking: 0,
    dropped: 0,
    close: () => {
      if (closed) return;
      closed = true;
      try {
        listener.close();
      } catch { /* closed */ }
      accepting.catch(() => {});
    },
  });
}

/**
 * Connects as a TLS client: a failed TCP connect is 13, a failed handshake
 * or verification 14. The firmware never calls `mbedtls_ssl_set_hostname`:
 * no SNI is sent, and types 3 and 5 verify the server's chain against the
 * suite's CA but not its name (mbedtls 2); with `mbedtls: 3` (3.6.3 and
 * later) their handshake fails for want of a host name. Types 2 and 4
 * verify nothing.
 */
export async function connectTls(
  options: {
    ip: string;
    port: number;
    type: TlsClientType;
    suite: Suite;
    timeoutMs: number;
    /** The firmware's mbedtls major version (default 2). */
    mbedtls?: 2 | 3;
  },
): Promise<ByteConn> {
  const tcp: Socket = await new Promise((resolve, reject) => {
    const socket = netConnect({ host: options.ip, port: options.port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        new TlsFailure(
          ERR.SKTCLIENT.NET_CONNECT,
          `connect to ${options.ip}:${options.port}: timed out`,
        ),
      );
    }, options.timeoutMs);
    socket.once("connect", () => {
      clearTimeout(timer);
      resolve(socket);
    });
    socket.once("error", (e) => {
      clearTimeout(timer);
      reject(
        new TlsFailure(
          ERR.SKTCLIENT.NET_CONNECT,
          `connect to ${options.ip}:${options.port}: ${e.message}`,
        ),
      );
    });
  });
  const verify = connType("client", options.type)?.verifiesPeer ?? false;
  const secure: TLSSocket = await new Promise((resolve, reject) => {
    // firmware rule tls-no-hostname
    const socket = tlsConnect({
      socket: tcp,
      // No servername: no SNI. The chain is verified, the name is not.
      host: options.ip,
      checkServerIdentity: () => undefined,
      // The suite holds a CA only for the verifying types (3 and 5).
      secureContext: clientContext(options.suite),
      rejectUnauthorized: verify,
    });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new TlsFailure(ERR.SKTCLIENT.HANDSHAKE, "handshake timed out"));
    }, options.timeoutMs);
    socket.once("secureConnect", () => {
      clearTimeout(timer);
      if (verify && !socket.authorized) {
        socket.destroy();
        reject(
          new TlsFailure(
            ERR.SKTCLIENT.HANDSHAKE,
            `server certificate refused: ${socket.authorizationError}`,
          ),
        );
      } else if (verify && options.mbedtls === 3) {
        socket.destroy();
        reject(
          new TlsFailure(
            ERR.SKTCLIENT.HANDSHAKE,
            "mbedtls 3: verifying the server needs a host name, and the firmware sets none",
          ),
        );
      } else resolve(socket);
    });
    socket.once("error", (e) => {
      clearTimeout(timer);
      tcp.destroy();
      reject(
        new TlsFailure(ERR.SKTCLIENT.HANDSHAKE, `handshake: ${e.message}`),
      );
    });
  });
  return nodeConn(secure);
}
