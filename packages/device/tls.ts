/**
 * TLS for the virtual module: the certificate store laid out as on a real
 * module's flash, and TLS servers and clients of every connection type,
 * with verification really enforced (through `node:tls`, because
 * `Deno.listenTls` cannot demand client certificates and `Deno.connectTls`
 * cannot skip verification, which types 2 and 4 need).
 *
 * @module
 */

import { createPrivateKey, X509Certificate } from "node:crypto";
import { connect as netConnect, type Socket } from "node:net";
import { Duplex } from "node:stream";
import {
  connect as tlsConnect,
  createSecureContext,
  type SecureContext,
  TLSSocket,
} from "node:tls";
import { acceptLoop, errorKind } from "./accept_loop.ts";
import { type ByteConn, nodeConn } from "./node_conn.ts";

/** A TLS setup failure with the code the command answers. */
export class TlsFailure extends Error {
  /** The `ERROR: <n>` code. */
  readonly code: number;
  /** Creates a failure (the message never holds key material). */
  constructor(code: number, message: string) {
    super(message);
    this.name = "TlsFailure";
    this.code = code;
  }
}

/** The PEM texts one connection needs. */
export interface Suite {
  /** CA to verify the peer with. */
  ca?: string;
  /** Own certificate. */
  cert?: string;
  /** Own private key (never logged). */
  key?: string;
  /**
   * The key does not match the certificate. The firmware does not check
   * this up front (`mbedtls_ssl_conf_own_cert` only stores the pair): the
   * handshakes that need the key fail instead.
   */
  mismatch?: boolean;
}

/** Which files a side needs: `ca`, `cert` (with its key). */
export interface SuiteNeeds {
  /** The CA file. */
  ca: boolean;
  /** The certificate and key files. */
  cert: boolean;
}

/**
 * The module's certificate store: `DIR/CERT/<side>_<ca|cert|key>_<i>.*`.
 * File names are built from a side and a number 1..10 only, so AT input can
 * never name a path outside the directory.
 */
export class CertStore {
  readonly #dir: string | undefined;
  /** Suites already checked, by their exact file contents (the files are read every time). */
  readonly #checked = new Map<string, Suite>();

  /** A store on `dir` (undefined: no store, every TLS type needing files fails with 6). */
  constructor(dir: string | undefined) {
    this.#dir = dir;
  }

  /**
   * Throws {@linkcode TlsFailure} 1 when a file the connection needs does
   * not exist or is empty, as `at_sktserver`/`at_sktclient` check with
   * `atcmd_get_ssl_certificate_size` before anything else.
   */
  exist(side: "server" | "client", index: number, needs: SuiteNeeds): void {
    if (!needs.ca && !needs.cert) return;
    if (!Number.isInteger(index) || index < 1 || index > 10) {
      throw new TlsFailure(1, `cert index ${index} is outside 1..10`);
    }
    const names: string[] = [];
    if (needs.ca) names.push(`CERT/${side}_ca_${index}.crt`);
    if (needs.cert) {
      names.push(`CERT/${side}_cert_${index}.crt`);
      names.push(`CERT/${side}_key_${index}.key`);
    }
    for (const name of names) {
      if (this.#dir === undefined) {
        throw new TlsFailure(
          1,
          `${name} does not exist: no certificate directory (start the emulator with --certs DIR)`,
        );
      }
      let size: number;
      try {
        size = Deno.lstatSync(`${this.#dir}/${name}`).size;
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) {
          throw new TlsFailure(1, `${name} does not exist`);
        }
        // Cannot look (permissions): reading it will say so (6).
        continue;
      }
      if (size === 0) throw new TlsFailure(1, `${name} is empty`);
    }
  }

  /**
   * Loads and checks what a connection needs; throws {@linkcode TlsFailure}
   * 6 or 9. Synchronous: the files are a few KiB each.
   */
  load(
    side: "server" | "client",
    index: number,
    needs: SuiteNeeds,
  ): Suite {
    if (!Number.isInteger(index) || index < 1 || index > 10) {
      throw new TlsFailure(1, `cert index ${index} is outside 1..10`);
    }
    const suite: Suite = {};
    if (needs.ca) suite.ca = this.#read(side, "ca", index, "crt");
    if (needs.cert) {
      suite.cert = this.#read(side, "cert", index, "crt");
      suite.key = this.#read(side, "key", index, "key");
    }
    // Parsing and matching cost more than reading: do them once per content.
    const identity = [side, index, suite.ca, suite.cert, suite.key].join("\0");
    const known = this.#checked.get(identity);
    if (known) return known;
    this.#check(side, index, suite);
    if (this.#checked.size >= CHECKED_LIMIT) {
      this.#checked.delete(this.#checked.keys().next().value!);
    }
    this.#checked.set(identity, suite);
    return suite;
  }

  /** Parses the certificates and the key (9); marks a key that does not match. */
  #check(side: string, index: number, suite: Suite): void {
    try {
      checkSuite(side, index, suite);
    } catch (e) {
      // firmware rule tls-key-mismatch
      if (!(e instanceof TlsFailure) || e.code !== 10) throw e;
      suite.mismatch = true;
    }
  }

  #read(
    side: string,
    kind: string,
    index: number,
    ext: string,
  ): string {
    const name = `CERT/${side}_${kind}_${index}.${ext}`;
    if (this.#dir === undefined) {
      throw new TlsFailure(
        6,
        `${name}: no certificate directory (start the emulator with --certs DIR)`,
      );
    }
    try {
      return readPlainFile(`${this.#dir}/${name}`, name);
    } catch (e) {
      if (e instanceof TlsFailure) throw e;
      if (e instanceof Deno.errors.NotFound) {
        throw new TlsFailure(6, `${name} is missing`);
      }
      if (
        e instanceof Deno.errors.NotCapable ||
        e instanceof Deno.errors.PermissionDenied
      ) {
        throw new TlsFailure(
          6,
          `${name} cannot be read: Deno's read permission is not granted for the cert directory (deno task emulate grants it; with deno run, --allow-read=DIR)`,
        );
      }
      if (e instanceof TypeError) {
        throw new TlsFailure(9, `${name} is not text`);
      }
      throw new TlsFailure(6, `${name} cannot be read (${(e as Error).name})`);
    }
  }
}

/** The largest certificate or key file read (a module's flash holds far less). */
const MAX_CERT_FILE = 1024 * 1024;

/**
 * Reads a file that must be a regular file, not a symbolic link: a real
 * module's flash has no links, and one inside `CERT/` could point anywhere
 * on the host. The file opened is checked to be the one looked at (same
 * device and inode), so a link swapped in between is refused too.
 */
function readPlainFile(path: string, name: string): string {
  // Certificate files are a few KiB on a local disk: synchronous calls read
  // one in microseconds, where each awaited call costs a turn of the loop.
  const seen = Deno.lstatSync(path);
  if (seen.isSymlink) {
    throw new TlsFailure(
      6,
      `${name} is a symbolic link: refused (copy the file into CERT/)`,
    );
  }
  if (!seen.isFile) throw new TlsFailure(6, `${name} is not a regular file`);
  if (seen.size > MAX_CERT_FILE) {
    throw new TlsFailure(9, `${name} is larger than ${MAX_CERT_FILE} bytes`);
  }
  const file = Deno.openSync(path, { read: true });
  let bytes: Uint8Array;
  try {
    const opened = file.statSync();
    if (opened.ino !== seen.ino || opened.dev !== seen.dev) {
      throw new TlsFailure(6, `${name} changed while being opened: refused`);
    }
    // One byte more than the size: a file that grew is read to its end.
    let buffer = new Uint8Array(opened.size + 1);
    let length = 0;
    while (true) {
      if (length === buffer.length) {
        if (length > MAX_CERT_FILE) {
          throw new TlsFailure(
            9,
            `${name} is larger than ${MAX_CERT_FILE} bytes`,
          );
        }
        const grown = new Uint8Array(buffer.length * 2);
        grown.set(buffer);
        buffer = grown;
      }
      const n = file.readSync(buffer.subarray(length));
      if (n === null) break;
      length += n;
    }
    bytes = buffer.subarray(0, length);
  } finally {
    file.close();
  }
  return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
}

/**
 * The module's checks of a suite's files, as it makes them when a TLS
 * connection needs them: each certificate given must parse (else 9), the
 * key given with a certificate must parse (9) and match it (10). Throws
 * {@linkcode TlsFailure}; its message names the file, never its contents.
 * Pass only the files to check (a suite with just `ca` checks the CA).
 */
export function checkSuite(side: string, index: number, suite: Suite): void {
  let certificate: X509Certificate | undefined;
  for (
    const [name, pem] of [["ca", suite.ca], ["cert", suite.cert]] as const
  ) {
    if (pem === undefined) continue;
    try {
      const parsed = new X509Certificate(pem);
      if (name === "cert") certificate = parsed;
    } catch {
      throw new TlsFailure(
        9,
        `CERT/${side}_${name}_${index}.crt does not parse as an X.509 certificate`,
      );
    }
  }
  if (suite.key !== undefined && certificate) {
    let key;
    try {
      key = createPrivateKey(suite.key);
    } catch {
      // Say which file, never what is in it.
      throw new TlsFailure(
        9,
        `CERT/${side}_key_${index}.key does not parse as a private key`,
      );
    }
    if (!certificate.checkPrivateKey(key)) {
      throw new TlsFailure(
        10,
        `CERT/${side}_key_${index}.key does not match CERT/${side}_cert_${index}.crt`,
      );
    }
  }
}

/** How many checked suites a store remembers. */
const CHECKED_LIMIT = 64;

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

/** What each TLS connection type needs from the store. */
export function needsFor(side: "server" | "client", type: number): SuiteNeeds {
  if (side === "server") return { ca: type === 3, cert: true };
  return { ca: type === 3 || type === 5, cert: type === 4 || type === 5 };
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
    type: 2 | 3;
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
    ca: options.type === 3 ? options.suite.ca : undefined,
    maxVersion: "TLSv1.2",
  });
  let listener: Deno.TcpListener;
  try {
    listener = listenTcp(options);
  } catch (e) {
    return Promise.reject(e);
  }
  const port = (listener.addr as Deno.NetAddr).port;
  const caCert = options.type === 3 && options.suite.ca
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
          requestCert: options.type === 3,
          rejectUnauthorized: options.type === 3,
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
        if (options.type === 3 && !clientVerified(tls, caCert)) {
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
    type: 2 | 3 | 4 | 5;
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
          13,
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
          13,
          `connect to ${options.ip}:${options.port}: ${e.message}`,
        ),
      );
    });
  });
  const verify = options.type === 3 || options.type === 5;
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
      reject(new TlsFailure(14, "handshake timed out"));
    }, options.timeoutMs);
    socket.once("secureConnect", () => {
      clearTimeout(timer);
      if (verify && !socket.authorized) {
        socket.destroy();
        reject(
          new TlsFailure(
            14,
            `server certificate refused: ${socket.authorizationError}`,
          ),
        );
      } else if (verify && options.mbedtls === 3) {
        socket.destroy();
        reject(
          new TlsFailure(
            14,
            "mbedtls 3: verifying the server needs a host name, and the firmware sets none",
          ),
        );
      } else resolve(socket);
    });
    socket.once("error", (e) => {
      clearTimeout(timer);
      tcp.destroy();
      reject(new TlsFailure(14, `handshake: ${e.message}`));
    });
  });
  return nodeConn(secure);
}
