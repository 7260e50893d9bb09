/**
 * The peers of `tools/load.ts`: loopback TCP, TLS and UDP peers that take a
 * module's links, count and hash what comes, and send a payload back; and
 * the one timer that bounds every wait of a run.
 *
 * @module
 */

import { createHash, type Hash } from "node:crypto";
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { createServer, type TLSSocket } from "node:tls";
import type { AddressInfo } from "node:net";
import { writeAll } from "@atsock/tty";

/** A lost byte, a checksum mismatch, a leak or the time limit. */
export class LoadFailure extends Error {
  /** Creates a failure with a one-line message. */
  constructor(message: string) {
    super(message);
    this.name = "LoadFailure";
  }
}

/**
 * The time limit: one timer for the whole run, failing every wait still
 * pending when it fires. (A timer per wait, each for the time left, would
 * make Deno 2.9.6 keep a timer list per distinct duration until that
 * duration ran out, even when cleared: thousands of them, held for the
 * rest of the run, on the heap the run checks.)
 */
export class Deadline {
  #fails = new Set<() => void>();
  #timer: ReturnType<typeof setTimeout>;
  /** Fires at `at` (a `Date.now()` time). */
  constructor(at: number) {
    this.#timer = setTimeout(() => {
      for (const fail of [...this.#fails]) fail();
    }, Math.max(0, at - Date.now()));
  }
  /** Calls `fail` when the time is up, unless the returned function is called first. */
  watch(fail: () => void): () => void {
    this.#fails.add(fail);
    return () => this.#fails.delete(fail);
  }
  /** Stops the timer. */
  close(): void {
    clearTimeout(this.#timer);
  }
}

/** Counts bytes and hashes them as they come; `wait(n)` resolves once n have come. */
export class Tally {
  /** Bytes come so far. */
  count = 0;
  /** SHA-256 of the bytes come so far. */
  readonly hash: Hash = createHash("sha256");
  #waiters: { n: number; resolve: () => void }[] = [];
  #deadline: Deadline;
  /** A tally whose waits fail when `deadline` passes. */
  constructor(deadline: Deadline) {
    this.#deadline = deadline;
  }
  /** Counts and hashes `bytes`; wakes the waits they satisfy. */
  add(bytes: Uint8Array): void {
    this.hash.update(bytes);
    this.count += bytes.length;
    this.#waiters = this.#waiters.filter((w) => {
      if (this.count < w.n) return true;
      w.resolve();
      return false;
    });
  }
  /** Resolves once `n` bytes have come; fails (naming `what`) at the deadline. */
  wait(n: number, what: string): Promise<void> {
    if (this.count >= n) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter = {
        n,
        resolve: () => {
          unwatch();
          resolve();
        },
      };
      const unwatch = this.#deadline.watch(() => {
        unwatch();
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(new LoadFailure(`${what}: ${this.count} of ${n} bytes came`));
      });
      this.#waiters.push(waiter);
    });
  }
}

/** The peer end of one link. */
export interface PeerEnd {
  /** Bytes from the module. */
  got: Tally;
  /** Sends the peer's payload (UDP waits for `room(bytesSentSoFar)` before each datagram). */
  send(data: Uint8Array, room: (sent: number) => Promise<void>): Promise<void>;
  /** Closes this end. */
  close(): void;
}

/** Peers of one kind, taking the links of a round. */
export interface Peers {
  /** Where the next link connects to (and, for UDP, the module's source port). */
  connectTo(): Promise<{ port: number; localPort?: number }>;
  /** The peer end of the link the module connected last. */
  accepted(): Promise<PeerEnd>;
  /** Stops taking links. */
  close(): void;
}

/** TCP peers: one listener, an end per connection accepted. */
export function tcpPeers(deadline: Deadline): Peers {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  return {
    connectTo: () => Promise.resolve({ port }),
    async accepted() {
      const conn = await listener.accept();
      const got = new Tally(deadline);
      (async () => {
        const buf = new Uint8Array(65536);
        try {
          for (let n; (n = await conn.read(buf)) !== null;) {
            got.add(buf.subarray(0, n));
          }
        } catch { /* closed */ }
      })();
      return {
        got,
        send: (data) => writeAll(conn, data),
        close: () => {
          try {
            conn.close();
          } catch { /* closed */ }
        },
      };
    },
    close: () => listener.close(),
  };
}

/** TLS peers: a `node:tls` server with suite 1's server certificate from `certs`. */
export async function tlsPeers(
  certs: string,
  deadline: Deadline,
): Promise<Peers> {
  const read = (n: string) => Deno.readTextFileSync(`${certs}/CERT/${n}`);
  const server = createServer({
    cert: read("server_cert_1.crt"),
    key: read("server_key_1.key"),
  });
  const queue: TLSSocket[] = [];
  const waiting: ((s: TLSSocket) => void)[] = [];
  server.on("secureConnection", (s: TLSSocket) => {
    s.on("error", () => {});
    const w = waiting.shift();
    if (w) w(s);
    else queue.push(s);
  });
  server.on("tlsClientError", () => {});
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as AddressInfo).port;
  return {
    connectTo: () => Promise.resolve({ port }),
    async accepted() {
      const socket = queue.shift() ??
        await new Promise<TLSSocket>((r) => waiting.push(r));
      const got = new Tally(deadline);
      socket.on("data", (d: Uint8Array) => got.add(d));
      return {
        got,
        async send(data) {
          for (let off = 0; off < data.length; off += 65536) {
            if (!socket.write(data.subarray(off, off + 65536))) {
              await new Promise((r) => socket.once("drain", r));
            }
          }
        },
        close: () => socket.destroy(),
      };
    },
    close: () => server.close(),
  };
}

/**
 * The UDP peer sockets and the module's local ports, one pair per link
 * slot, made when a round first needs them and used by every later round:
 * the module asks Deno's permissions about every `127.0.0.1:PORT` it binds
 * or sends to, and Deno keeps an answer per distinct question for the life
 * of the process, so fresh ports every round would grow the heap the run
 * checks (by about 0.5 KiB a link) with nothing of ours leaking.
 */
export class UdpPool {
  #slots: { socket: UdpSocket; localPort: number }[] = [];
  /** Every port a slot holds (its socket's or the module's), never given twice. */
  #ports = new Set<number>();
  /** Slot `i`: a bound peer socket and a port for the module to bind. */
  async slot(i: number): Promise<{ socket: UdpSocket; localPort: number }> {
    while (this.#slots.length <= i) {
      const socket = await this.#fresh(true);
      const probe = await this.#fresh(false);
      const localPort = probe.address().port;
      await new Promise<void>((r) => probe.close(() => r()));
      this.#slots.push({ socket, localPort });
    }
    return this.#slots[i];
  }
  /**
   * A socket on a port no slot holds (the module's ports are released
   * between rounds, so the kernel may offer one again), kept in `#ports`.
   */
  async #fresh(peer: boolean): Promise<UdpSocket> {
    for (let tries = 0; tries < 100; tries++) {
      const socket = createSocket("udp4");
      if (peer) socket.on("error", () => {});
      await new Promise<void>((r) => socket.bind(0, "127.0.0.1", () => r()));
      const port = socket.address().port;
      if (!this.#ports.has(port)) {
        this.#ports.add(port);
        return socket;
      }
      await new Promise<void>((r) => socket.close(() => r()));
    }
    throw new LoadFailure("no free UDP port in 100 tries");
  }
  /** Closes every peer socket. */
  close(): void {
    this.#ports.clear();
    for (const { socket } of this.#slots.splice(0)) {
      try {
        socket.close();
      } catch { /* closed */ }
    }
  }
}

/** UDP peers: one socket per link (a pool slot), so each knows its link. */
export function udpPeers(pool: UdpPool, deadline: Deadline): Peers {
  const pending: { socket: UdpSocket; localPort: number }[] = [];
  const used: UdpSocket[] = [];
  return {
    async connectTo() {
      const slot = await pool.slot(used.length);
      used.push(slot.socket);
      pending.push(slot);
      return { port: slot.socket.address().port, localPort: slot.localPort };
    },
    accepted() {
      const { socket, localPort } = pending.shift()!;
      const got = new Tally(deadline);
      socket.on("message", (m: Uint8Array) => got.add(new Uint8Array(m)));
      return Promise.resolve(
        {
          got,
          async send(data, room) {
            for (let off = 0; off < data.length; off += 1024) {
              await room(off);
              await new Promise<void>((r) =>
                socket.send(
                  data.subarray(off, off + 1024),
                  localPort,
                  "127.0.0.1",
                  () => r(),
                )
              );
            }
          },
          close: () => {},
        } satisfies PeerEnd as PeerEnd,
      );
    },
    close: () => {
      for (const s of used) s.removeAllListeners("message");
    },
  };
}
