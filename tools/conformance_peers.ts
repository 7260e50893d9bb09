/**
 * The network peers of the conformance suite: what a transcript's `peer`
 * records ask for (a server the module connects to, a client connecting to
 * the module's server, bytes sent and expected both ways, a close), done on
 * real sockets on the peer host (loopback, or `--peer-host` for a real
 * module). See `docs/conformance.md`.
 *
 * @module
 */

import { createSocket, type Socket as UdpSocket } from "node:dgram";
import type { PeerOutcome } from "@atsock/host";
import { decodeLatin1, type PeerStep } from "@atsock/protocol";
import { writeAll } from "@atsock/tty";

/** What the runner knows of the module before a peer acts. */
export interface Snapshot {
  /** Bytes and datagrams the module holds for `AT+SKTREAD`. */
  held: number;
  /** Links whose peer has ended the stream (seen by the module). */
  gone: number;
}

/** How the runner waits for the module to take in what a peer did. */
export interface Settler {
  /** Before a peer acts: a snapshot to compare with. */
  before(): Snapshot;
  /** After a `send` the module keeps (auto_rcv=0): resolves once the module holds more than `before`. */
  held(before: Snapshot): Promise<void>;
  /** After a `close`: resolves once the module has seen a peer go. */
  closed(before: Snapshot): Promise<void>;
}

/** Where the peers are and what they use. */
export interface PeersOptions {
  /** The address peers listen on (and the module connects to). */
  peerHost: string;
  /** The module's address, for peers that connect to it; undefined: none may. */
  moduleHost?: string;
  /** A certificate directory holding `CERT/` (TLS peers use suite 1). */
  certs?: string;
  /** How long a peer waits for a connection or bytes, in ms. */
  timeoutMs: number;
  /** How the runner waits for the module. */
  settle: Settler;
}

/** Bytes a peer received, and whether its connection ended. */
class Inbox {
  data = new Uint8Array(0);
  ended = false;
  /** UDP: who sent the last datagram. */
  from?: { address: string; port: number };
  #wake: (() => void)[] = [];

  add(chunk: Uint8Array): void {
    const next = new Uint8Array(this.data.length + chunk.length);
    next.set(this.data);
    next.set(chunk, this.data.length);
    this.data = next;
    this.#notify();
  }

  end(): void {
    this.ended = true;
    this.#notify();
  }

  #notify(): void {
    for (const wake of this.#wake.splice(0)) wake();
  }

  /** Waits until `check` holds or `ms` pass; says whether it held. */
  async until(check: () => boolean, ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!check()) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, left);
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.#wake.push(done);
      });
    }
    return true;
  }
}

/** A UDP socket bound on `hostname` (any port) whose datagrams go to `inbox`. */
async function udpPeer(inbox: Inbox, hostname: string): Promise<UdpSocket> {
  const socket = createSocket("udp4");
  socket.on("message", (msg: Uint8Array, rinfo) => {
    inbox.from = { address: rinfo.address, port: rinfo.port };
    inbox.add(new Uint8Array(msg));
  });
  socket.on("error", () => inbox.end());
  await new Promise<void>((resolve) => socket.bind(0, hostname, resolve));
  return socket;
}

/** One peer: its socket(s) and what it received. */
interface Peer {
  proto: "tcp" | "udp" | "tls";
  inbox: Inbox;
  /** A stream peer's connection (a listening peer's once accepted). */
  conn?: Promise<Deno.Conn | undefined>;
  listener?: Deno.Listener;
  udp?: UdpSocket;
  /** UDP connect: the module's address. */
  to?: { address: string; port: number };
}

const asLines = (data: Uint8Array): string[] =>
  data.length ? [decodeLatin1(data)] : [];

/** The peers of one transcript run; {@linkcode Peers.close} ends them all. */
export class Peers {
  readonly #options: PeersOptions;
  readonly #peers = new Map<string, Peer>();
  readonly #conns: Deno.Conn[] = [];
  readonly #readers: Promise<void>[] = [];

  /** Creates the peers' host; nothing is opened until a step asks. */
  constructor(options: PeersOptions) {
    this.#options = options;
  }

  /** Acts one step (a {@linkcode PeerHandler} for `replay`). */
  handle = async (
    step: PeerStep,
    vars: Readonly<Record<string, string>>,
  ): Promise<PeerOutcome> => {
    switch (step.do) {
      case "listen":
        return await this.#listen(step);
      case "connect":
        return await this.#connect(step, vars);
      case "send":
        return await this.#send(step);
      case "expect":
        return await this.#expect(step);
      case "expect-close":
        return await this.#expectClose(step);
      case "close":
        return await this.#close(step);
    }
  };

  #certs(): { read: (name: string) => string } {
    const dir = this.#options.certs;
    if (!dir) {
      throw new PeerError(
        "a TLS peer needs a certificate directory (--certs DIR)",
      );
    }
    return { read: (name) => Deno.readTextFileSync(`${dir}/CERT/${name}`) };
  }

  #peer(step: PeerStep): Peer {
    const peer = this.#peers.get(step.name);
    if (!peer) {
      throw new PeerError(`peer ${step.name} was never opened`);
    }
    return peer;
  }

  #track(conn: Deno.Conn, inbox: Inbox): void {
    this.#conns.push(conn);
    this.#readers.push((async () => {
      const buffer = new Uint8Array(16 * 1024);
      try {
        while (true) {
          const n = await conn.read(buffer);
          if (n === null) break;
          inbox.add(buffer.slice(0, n));
        }
      } catch { /* reset or closed by us: the end of the stream */ }
      inbox.end();
    })());
  }

  async #listen(step: PeerStep): Promise<PeerOutcome> {
    const inbox = new Inbox();
    const hostname = this.#options.peerHost;
    const peer: Peer = { proto: step.proto!, inbox };
    let port: number;
    if (step.proto === "udp") {
      const socket = await udpPeer(inbox, hostname);
      peer.udp = socket;
      port = socket.address().port;
    } else {
      const listener = step.proto === "tls"
        ? Deno.listenTls({
          hostname,
          port: 0,
          cert: this.#certs().read("server_cert_1.crt"),
          key: this.#certs().read("server_key_1.key"),
        })
        : Deno.listen({ hostname, port: 0 });
      peer.listener = listener;
      port = (listener.addr as Deno.NetAddr).port;
      peer.conn = (async () => {
        try {
          const conn = await listener.accept();
          if ("handshake" in conn) await (conn as Deno.TlsConn).handshake();
          this.#track(conn, inbox);
          return conn;
        } catch {
          inbox.end();
          return undefined;
        }
      })();
    }
    this.#peers.set(step.name, peer);
    return { bound: step.port ? { [step.port]: String(port) } : {} };
  }

  async #connect(
    step: PeerStep,
    vars: Readonly<Record<string, string>>,
  ): Promise<PeerOutcome> {
    const moduleHost = this.#options.moduleHost;
    if (!moduleHost) {
      throw new PeerError(
        "a peer connects to the module: give its address with --module-host",
      );
    }
    const port = Number(vars[step.to!]);
    if (!(port > 0)) {
      throw new PeerError(`peer ${step.name}: the module's port is unknown`);
    }
    const inbox = new Inbox();
    const peer: Peer = { proto: step.proto!, inbox };
    let local: number;
    if (step.proto === "udp") {
      const socket = await udpPeer(inbox, this.#options.peerHost);
      peer.udp = socket;
      peer.to = { address: moduleHost, port };
      local = socket.address().port;
    } else {
      let conn: Deno.Conn;
      if (step.proto === "tls") {
        const certs = this.#certs();
        const tls = await Deno.connectTls({
          hostname: moduleHost,
          port,
          caCerts: [certs.read("client_ca_1.crt")],
          cert: certs.read("client_cert_1.crt"),
          key: certs.read("client_key_1.key"),
        });
        try {
          await tls.handshake();
        } catch {
          // Refused (e.g. no free link id): the peer sees its end.
        }
        conn = tls;
      } else {
        conn = await Deno.connect({ hostname: moduleHost, port });
      }
      this.#track(conn, inbox);
      peer.conn = Promise.resolve(conn);
      local = (conn.localAddr as Deno.NetAddr).port;
    }
    this.#peers.set(step.name, peer);
    return { bound: step.from ? { [step.from]: String(local) } : {} };
  }

  async #send(step: PeerStep): Promise<PeerOutcome> {
    const peer = this.#peer(step);
    const data = step.data!;
    const before = this.#options.settle.before();
    if (peer.udp) {
      const to = peer.to ?? peer.inbox.from;
      if (!to) {
        throw new PeerError(
          `peer ${step.name} has no address to send to (the module sent it nothing)`,
        );
      }
      await new Promise<void>((resolve, reject) =>
        peer.udp!.send(
          data,
          to.port,
          to.address,
          (e) => e ? reject(e) : resolve(),
        )
      );
    } else {
      const conn = await this.#accepted(peer);
      if (!conn) return this.#noConnection(step);
      await writeAll(conn, data);
    }
    if (step.held) await this.#options.settle.held(before);
    return {};
  }

  async #expect(step: PeerStep): Promise<PeerOutcome> {
    const peer = this.#peer(step);
    const want = step.data!;
    const inbox = peer.inbox;
    await inbox.until(
      () => inbox.data.length >= want.length || inbox.ended,
      this.#options.timeoutMs,
    );
    const got = inbox.data.slice(0, want.length);
    if (got.length === want.length && got.every((b, i) => b === want[i])) {
      inbox.data = inbox.data.slice(want.length);
      return {};
    }
    return {
      differs: `peer ${step.name} did not receive what the module should send` +
        (inbox.ended ? " (its connection ended)" : ""),
      expected: asLines(want),
      got: asLines(inbox.data),
    };
  }

  async #expectClose(step: PeerStep): Promise<PeerOutcome> {
    const peer = this.#peer(step);
    const ended = await peer.inbox.until(
      () => peer.inbox.ended,
      this.#options.timeoutMs,
    );
    if (ended) return {};
    return {
      differs:
        `peer ${step.name}'s connection was not closed by the module within ${this.#options.timeoutMs} ms`,
      expected: ["(closed)"],
      got: ["(open)"],
    };
  }

  async #close(step: PeerStep): Promise<PeerOutcome> {
    const peer = this.#peer(step);
    const before = this.#options.settle.before();
    if (peer.udp) peer.udp.close();
    else {
      const conn = await this.#accepted(peer);
      if (!conn) return this.#noConnection(step);
      try {
        conn.close();
      } catch { /* already closed */ }
      peer.listener?.close();
      peer.listener = undefined;
    }
    this.#peers.delete(step.name);
    await this.#options.settle.closed(before);
    return {};
  }

  /** A stream peer's connection, waiting (bounded) for a listening peer's accept. */
  async #accepted(peer: Peer): Promise<Deno.Conn | undefined> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), this.#options.timeoutMs);
    });
    try {
      const conn = await Promise.race([peer.conn, timeout]);
      if (!conn) return undefined;
      return conn;
    } finally {
      clearTimeout(timer);
    }
  }

  #noConnection(step: PeerStep): PeerOutcome {
    return {
      differs:
        `peer ${step.name}: the module never connected (within ${this.#options.timeoutMs} ms)`,
      expected: ["(a connection)"],
      got: ["(none)"],
    };
  }

  /** Closes every peer socket and waits for their readers. */
  async close(): Promise<void> {
    for (const peer of this.#peers.values()) {
      try {
        peer.listener?.close();
      } catch { /* closed */ }
      try {
        peer.udp?.close();
      } catch { /* closed */ }
    }
    for (const conn of this.#conns) {
      try {
        conn.close();
      } catch { /* closed */ }
    }
    // A listener closed before its accept makes the accept reject: awaited here.
    await Promise.all(
      [...this.#peers.values()].map((peer) => peer.conn),
    );
    await Promise.all(this.#readers);
    this.#peers.clear();
  }
}

/** A transcript's peers cannot do what it asks (a broken transcript or missing option). */
export class PeerError extends Error {
  /** Creates the error with a one-line message. */
  constructor(message: string) {
    super(message);
    this.name = "PeerError";
  }
}
