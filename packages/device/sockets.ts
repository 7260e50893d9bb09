/**
 * The module's host sockets: UDP binds, TCP listeners and connects, the
 * accept loop of TCP servers, host name lookups, the permission and
 * allowlist checks before each ({@linkcode NetGuard}), and the
 * `AT+SKTCFG` options applied to each socket. A failure is a
 * {@linkcode SocketFailure} saying what failed; which `ERROR` code that is
 * for the command is the session's choice (`@atsock/protocol`
 * `ModuleSession`).
 *
 * @module
 */

import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { lookup } from "node:dns/promises";
import {
  type Endpoint,
  inetAton,
  type ModuleFailure,
  type SocketConfig,
} from "@atsock/protocol";
import { acceptLoop } from "./accept_loop.ts";
import type { NetGuard } from "./net_guard.ts";
import {
  findSocketFd,
  setSocketOptions,
  setWindow,
  type SocketKey,
  type SocketOptions,
  socketOptionsSupported,
  type WindowOptions,
} from "./sockopt.ts";

/** A socket that could not be made, and why (see `ModuleFailure`). */
export class SocketFailure extends Error {
  /** What failed. */
  readonly failure: ModuleFailure;
  /** The code, for certificate failures (the file check chose it). */
  readonly code: number | undefined;
  /** Creates a failure; the message is for the log. */
  constructor(failure: ModuleFailure, message: string, code?: number) {
    super(message);
    this.name = "SocketFailure";
    this.failure = failure;
    this.code = code;
  }
}

/**
 * What the listener of an `auto_rcv=0` TCP server takes, so that its seeds
 * have a window like lwIP's (TCP_MSS 1460, TCP_WND 7300): the smallest
 * kernel receive buffer (asking 1 byte gets the kernel's minimum) and a
 * 1460-byte segment size advertised to peers, which also keeps the peer's
 * own send buffer small.
 */
const LWIP_WINDOW: WindowOptions = { receiveBuffer: 1, maxSegment: 1460 };

/** The options AT+SKTCFG gives a socket of this kind (BEHAVIOUR.md). */
function sktcfgOptions(c: SocketConfig, kind: "udp" | "tcp"): SocketOptions {
  const timeouts = {
    sendTimeoutMs: c.sendTimeout,
    receiveTimeoutMs: c.receiveTimeout,
  };
  if (kind === "udp") return timeouts;
  return {
    ...timeouts,
    noDelay: c.noDelay,
    keepAlive: c.keepAlive,
    keepIdle: c.keepIdle,
    keepInterval: c.keepInterval,
    keepCount: c.keepCount,
  };
}

/** Options for {@linkcode Sockets}. */
export interface SocketsOptions {
  /** The local address servers and UDP clients bind. */
  bindAddress: string;
  /** How long a TCP connect may take. */
  connectTimeoutMs: number;
  /** What may be bound and reached. */
  guard: NetGuard;
  /** One-line notices for the operator. */
  log: (message: string) => void;
}

/** Makes the host sockets of one module. */
export class Sockets {
  /** The local address servers and UDP clients bind. */
  readonly bindAddress: string;
  /** How long a TCP (or TLS) connect may take. */
  readonly connectTimeoutMs: number;
  #guard: NetGuard;
  #log: (message: string) => void;
  #connecting = new Set<AbortController>();
  #warnedOptions = false;
  #warnedWindow = false;

  /** Sockets on `options.bindAddress`. */
  constructor(options: SocketsOptions) {
    this.bindAddress = options.bindAddress;
    this.connectTimeoutMs = options.connectTimeoutMs;
    this.#guard = options.guard;
    this.#log = options.log;
  }

  /** Cancels every connect under way (the module is closing). */
  close(): void {
    for (const abort of this.#connecting) abort.abort(new Error("closed"));
  }

  /** The host's IPv4 address; a failed lookup is `not-found`. */
  async resolve(host: string): Promise<string> {
    // firmware rule ipv4-inet-aton: at_sktclient tries inet_aton first
    // (127.0.0.010 is 127.0.0.8), then a name lookup.
    const number = inetAton(host);
    if (number !== undefined) return number;
    try {
      const { address } = await lookup(host, { family: 4 });
      return address;
    } catch (e) {
      // firmware rule client-host-not-found
      throw new SocketFailure("not-found", `resolve ${host}: ${message(e)}`);
    }
  }

  /** Throws `refused` when Deno's permissions would refuse binding `port`. */
  mayBind(port: number, what: string): void {
    const refused = this.#guard.bind(this.bindAddress, port);
    if (refused) {
      throw new SocketFailure("refused", `${what} ${port}: ${refused}`);
    }
  }

  /** Throws `refused` when the allowlist or Deno's permissions refuse `ip:port`. */
  mayConnect(ip: string, port: number, host: string): void {
    const refused = this.#guard.connect(ip, port, host);
    if (refused) throw new SocketFailure("refused", refused);
  }

  /** A UDP socket bound on `port`, with the options of `config`. */
  async bindUdp(
    port: number,
    config: SocketConfig,
    role: "server" | "client",
  ): Promise<UdpSocket> {
    // node:dgram throws a denied permission asynchronously, out of reach of
    // any handler: it must never be asked.
    this.mayBind(port, "bind UDP port");
    // firmware rule udp-server-reuseaddr
    // create_socket_server_udp sets SO_REUSEADDR before bind (lwIP SO_REUSE
    // 1): UDP servers share a port (the last bound gets unicast datagrams,
    // on lwIP as on Linux); create_socket_client_udp does not, so a client
    // on a server's port (or a server on a client's) is ERROR: 4.
    const socket = createSocket({ type: "udp4", reuseAddr: role === "server" });
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once("error", reject);
        socket.bind(
          { port, address: this.bindAddress, exclusive: true },
          () => {
            socket.off("error", reject);
            resolve();
          },
        );
      });
    } catch (e) {
      try {
        socket.close();
      } catch { /* never bound */ }
      throw new SocketFailure("bind", `bind UDP port ${port}: ${message(e)}`);
    }
    // firmware rule udp-broadcast
    // The SO_BROADCAST setsockopt of create_socket_server_udp and
    // create_socket_client_udp is under IP_SOF_BROADCAST, which the
    // firmware's lwipopts.h leaves at lwIP's default 0: no broadcast filter
    // at all, so every UDP link may send to a broadcast address.
    socket.setBroadcast(true);
    const local = socket.address();
    this.#applyOptions({
      transport: "udp",
      local: { hostname: local.address, port: local.port },
    }, sktcfgOptions(config, "udp"));
    return socket;
  }

  /**
   * A TCP listener on `port` with the options of `config`; one for an
   * `auto_rcv=0` server also gets lwIP's small window, which its seeds
   * inherit.
   */
  listenTcp(
    port: number,
    config: SocketConfig,
    autoReceive: boolean,
  ): Deno.TcpListener {
    this.mayBind(port, "listen on port");
    let listener: Deno.TcpListener;
    try {
      listener = Deno.listen({
        hostname: this.bindAddress,
        port,
        transport: "tcp",
      });
    } catch (e) {
      throw new SocketFailure("bind", `listen on port ${port}: ${message(e)}`);
    }
    // Set before any accept: seeds inherit the listener's window.
    this.#applyOptions(
      { transport: "tcp", local: listener.addr as Deno.NetAddr },
      sktcfgOptions(config, "tcp"),
      !autoReceive,
    );
    return listener;
  }

  /**
   * Accepts on a TCP server's listener until it closes (surviving every
   * other error), handing each connection, with the options a lwIP seed
   * has, to `onConnection`.
   */
  async acceptTcp(
    listener: Deno.TcpListener,
    config: SocketConfig,
    onConnection: (conn: Deno.TcpConn, peer: Endpoint) => void,
    options: { name: string; closed: () => boolean },
  ): Promise<void> {
    const keepAlive = config.keepAlive;
    // Linux copies a listener's options to accepted sockets; lwIP seeds
    // inherit only keepalive, so put the rest back to the defaults.
    const inherited = config.noDelay || config.sendTimeout ||
      config.receiveTimeout || config.keepIdle || config.keepInterval ||
      config.keepCount;
    await acceptLoop(listener, (conn) => {
      if (keepAlive) conn.setKeepAlive(true);
      if (inherited) this.#resetSeedOptions(conn, keepAlive);
      const remote = conn.remoteAddr as Deno.NetAddr;
      onConnection(conn, {
        ip: unmapIPv4(remote.hostname),
        port: remote.port,
      });
    }, { name: options.name, log: this.#log, closed: options.closed });
  }

  /**
   * A TCP connection to `ip:port` (checked against the guard) within the
   * connect time limit, with the options of `config`, and the local
   * address `lwip_getsockname` would give.
   */
  async connectTcp(
    ip: string,
    port: number,
    host: string,
    config: SocketConfig,
  ): Promise<{ conn: Deno.TcpConn; source: Endpoint }> {
    this.mayConnect(ip, port, host);
    const conn = await this.#connect(ip, port);
    if (config.noDelay) conn.setNoDelay(true);
    if (config.keepAlive) conn.setKeepAlive(true);
    this.#applyOptions({
      transport: "tcp",
      local: conn.localAddr as Deno.NetAddr,
      remote: conn.remoteAddr as Deno.NetAddr,
    }, sktcfgOptions(config, "tcp"));
    const local = conn.localAddr as Deno.NetAddr;
    return {
      conn,
      source: { ip: unmapIPv4(local.hostname), port: local.port },
    };
  }

  /** Connects within the connect time limit; {@linkcode close} cancels it. */
  async #connect(ip: string, port: number): Promise<Deno.TcpConn> {
    const abort = new AbortController();
    const timer = setTimeout(
      () =>
        abort.abort(new Error(`timed out after ${this.connectTimeoutMs} ms`)),
      this.connectTimeoutMs,
    );
    this.#connecting.add(abort);
    try {
      return await Deno.connect({
        hostname: ip,
        port,
        transport: "tcp",
        signal: abort.signal,
      });
    } catch (e) {
      const why = abort.signal.aborted ? abort.signal.reason : e;
      throw new SocketFailure(
        "connect",
        `connect to ${ip}:${port}: ${message(why)}`,
      );
    } finally {
      clearTimeout(timer);
      this.#connecting.delete(abort);
    }
  }

  /**
   * Applies options to a host socket: `options` (what AT+SKTCFG gives this
   * kind of socket) and, with `window`, {@linkcode LWIP_WINDOW} (listeners
   * of `auto_rcv=0` servers). Without FFI (or off Linux) only what Deno
   * offers (nodelay, keepalive) is applied, with one warning for each.
   */
  #applyOptions(key: SocketKey, options: SocketOptions, window = false): void {
    const custom = Object.values(options).some((value) => value);
    if (!custom && !window) return;
    if (!socketOptionsSupported()) {
      if (custom && !this.#warnedOptions) {
        this.#warnedOptions = true;
        this.#log(
          "warning: AT+SKTCFG timeouts and keepalive timers are not applied to host sockets: they need Deno's --allow-ffi (Linux), which deno task emulate grants and deno task start does not",
        );
      }
      if (window && !this.#warnedWindow) {
        this.#warnedWindow = true;
        this.#log(
          "warning: auto_rcv=0 servers keep the host's large TCP window: a peer can send far beyond 7300 bytes before it is held back: the 7300-byte window needs Deno's --allow-ffi (Linux), which deno task emulate grants and deno task start does not",
        );
      }
      return;
    }
    const fd = findSocketFd(key);
    if (fd === undefined) {
      this.#log(
        `warning: socket ${key.transport} ${key.local.hostname}:${key.local.port} not found: options not applied`,
      );
      return;
    }
    try {
      if (custom) setSocketOptions(fd, options);
      if (window) setWindow(fd, LWIP_WINDOW);
    } catch (e) {
      this.#log(`warning: ${message(e)}`);
    }
  }

  #resetSeedOptions(conn: Deno.TcpConn, keepAlive: boolean): void {
    if (!socketOptionsSupported()) return;
    const fd = findSocketFd({
      transport: "tcp",
      local: conn.localAddr as Deno.NetAddr,
      remote: conn.remoteAddr as Deno.NetAddr,
    });
    if (fd === undefined) return;
    try {
      setSocketOptions(fd, {
        noDelay: false,
        sendTimeoutMs: 0,
        receiveTimeoutMs: 0,
        keepAlive,
        ...osKeepaliveDefaults(),
      });
    } catch (e) {
      this.#log(`warning: ${message(e)}`);
    }
  }
}

let keepaliveDefaults:
  | { keepIdle: number; keepInterval: number; keepCount: number }
  | undefined;

/** The kernel's keepalive defaults (what a socket has until told otherwise). */
function osKeepaliveDefaults(): {
  keepIdle: number;
  keepInterval: number;
  keepCount: number;
} {
  const read = (name: string, fallback: number) => {
    try {
      return Number(
        Deno.readTextFileSync(`/proc/sys/net/ipv4/${name}`).trim(),
      ) || fallback;
    } catch {
      return fallback;
    }
  };
  keepaliveDefaults ??= {
    keepIdle: read("tcp_keepalive_time", 7200),
    keepInterval: read("tcp_keepalive_intvl", 75),
    keepCount: read("tcp_keepalive_probes", 9),
  };
  return keepaliveDefaults;
}

/** An error's message. */
export function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** An IPv4 address without its IPv4-mapped IPv6 prefix. */
export function unmapIPv4(ip: string): string {
  return ip.startsWith("::ffff:") ? ip.slice(7) : ip;
}

/**
 * The address a module bound to `bind` reports as its own: `bind`, or for
 * `0.0.0.0` the first external IPv4 address.
 */
export function reportedAddress(bind: string): string {
  if (bind !== "0.0.0.0") return bind;
  try {
    const external = Deno.networkInterfaces().find((i) =>
      i.family === "IPv4" && !i.address.startsWith("127.")
    );
    if (external) return external.address;
  } catch { /* no --allow-sys: fall back */ }
  return "127.0.0.1";
}
