/**
 * Load: links each carrying a payload both ways at once, through virtual
 * modules driven by the host library (`AtDriver` links: `AT+SKTSENDRAW`
 * out, DATA lines in), against loopback peers: TCP, UDP (paced to stay
 * within datagram and buffer limits, so nothing may be dropped) and TLS
 * (type 3, verifying the peer, with the test PKI). SHA-256 of every byte
 * both ways is compared; after every link is deleted and every module
 * closed, the module stats, the host's file descriptors and the heap (with
 * `gc()` when `--v8-flags=--expose-gc` is given) must be back where they
 * started.
 *
 *   deno run --v8-flags=--expose-gc --allow-net=127.0.0.1 --allow-run=ls,openssl \
 *     --allow-read --allow-write tools/load.ts [--links 20] [--bytes 1048576]
 *     [--modules 20] [--kinds tcp,udp,tls] [--time-limit 1800]
 *
 * First one module with `--links` links, then `--modules` modules with
 * `--links` links each, for every kind. Prints the figures; exits 1 on a
 * lost or changed byte, a leak, or the time limit.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { createHash, type Hash } from "node:crypto";
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { createServer, type TLSSocket } from "node:tls";
import type { AddressInfo } from "node:net";
import { createModule, serveStreams, type VirtualModule } from "@atsock/device";
import { makePki } from "@atsock/device/pki";
import { AtDriver, type HostLink, memoryPair } from "@atsock/host";

/** A lost byte, a checksum mismatch, a leak or the time limit. */
export class LoadFailure extends Error {
  /** Creates a failure with a one-line message. */
  constructor(message: string) {
    super(message);
    this.name = "LoadFailure";
  }
}

/** A link kind. */
export type LoadKind = "tcp" | "udp" | "tls";

/** Options of {@linkcode runLoad}. */
export interface LoadOptions {
  /** Links per module (at most 20). */
  links: number;
  /** Bytes each way on each link. */
  bytes: number;
  /** Modules side by side in the second round (1: skip it). */
  modules: number;
  /** Kinds to run. */
  kinds: LoadKind[];
  /** Certificate directory with suite 1 (made with openssl when absent and tls is asked for). */
  certs?: string;
  /** Give up after this long, ms (default 30 min). */
  timeLimitMs?: number;
  /** Progress lines. */
  log?: (line: string) => void;
}

/** One round's figures. */
export interface RoundReport {
  /** tcp, udp or tls. */
  kind: LoadKind;
  /** Modules in the round. */
  modules: number;
  /** Links in all. */
  links: number;
  /** Bytes that went module to peer and peer to module, in all. */
  bytes: number;
  /** Bytes lost or changed (always 0, or the round fails). */
  lost: number;
  /** Wall time, ms. */
  elapsedMs: number;
  /** Both directions, MiB/s. */
  mibPerSecond: number;
}

/** What {@linkcode runLoad} measured. */
export interface LoadReport {
  /** Each round. */
  rounds: RoundReport[];
  /** Heap used before and after (bytes), and whether gc() was forced. */
  heap: { start: number; end: number; gc: boolean };
  /** Resident set before and after (bytes), for information. */
  rss: { start: number; end: number };
  /** Host fds before and after. */
  fds: { start: number; end: number };
}

/** The host fds this process holds, as `ls -l` names them (fd -> target). */
async function fdList(): Promise<string[]> {
  const out = await new Deno.Command("ls", {
    args: ["-l", `/proc/${Deno.pid}/fd`],
    stdout: "piped",
    stderr: "null",
  }).output();
  return new TextDecoder().decode(out.stdout).split("\n").filter((l) =>
    l.includes(" -> ")
  ).map((l) => l.slice(l.lastIndexOf(" ", l.indexOf(" -> ") - 1) + 1));
}

async function openFds(): Promise<number> {
  return (await fdList()).length;
}

/**
 * How long after the process starts the runtime's own late fds are open:
 * Deno 2.9.6 opens a socketpair (the self-pipe of its signal handling) and
 * a pipe about 0.5 s in, on an event-loop turn (docs/reliability.md,
 * "fds"). A warm-up of one kind alone can end before that.
 */
const LATE_FDS_MS = 1500;

/**
 * The baseline fds: not before {@linkcode LATE_FDS_MS} into the process,
 * once every socket of the warm-up has closed: the smallest count seen,
 * held for 5 looks in a row (a spawn of `ls` in progress only adds fds).
 * At most about 2 s of looks.
 */
async function settledFds(): Promise<string[]> {
  const late = LATE_FDS_MS - performance.now();
  if (late > 0) await new Promise((r) => setTimeout(r, late));
  let least = await fdList();
  for (let i = 0, same = 0; i < 200 && same < 5; i++) {
    await new Promise((r) => setTimeout(r, 10));
    const fds = await fdList();
    if (fds.length < least.length) {
      least = fds;
      same = 0;
    } else if (fds.length === least.length) same++;
  }
  return least;
}

/** Deterministic bytes (any value, NUL and CR LF included). */
function payload(seed: number, size: number): Uint8Array {
  const out = new Uint8Array(size);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

function collectGarbage(): boolean {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return false;
  gc();
  gc();
  return true;
}

/**
 * The time limit: one timer for the whole run, failing every wait still
 * pending when it fires. (A timer per wait, each for the time left, would
 * make Deno 2.9.6 keep a timer list per distinct duration until that
 * duration ran out, even when cleared: thousands of them, held for the
 * rest of the run, on the heap the run checks.)
 */
class Deadline {
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
class Tally {
  count = 0;
  readonly hash: Hash = createHash("sha256");
  #waiters: { n: number; resolve: () => void }[] = [];
  #deadline: Deadline;
  constructor(deadline: Deadline) {
    this.#deadline = deadline;
  }
  add(bytes: Uint8Array): void {
    this.hash.update(bytes);
    this.count += bytes.length;
    this.#waiters = this.#waiters.filter((w) => {
      if (this.count < w.n) return true;
      w.resolve();
      return false;
    });
  }
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
interface PeerEnd {
  /** Bytes from the module. */
  got: Tally;
  /** Sends the peer's payload (UDP waits for `room(bytesSentSoFar)` before each datagram). */
  send(data: Uint8Array, room: (sent: number) => Promise<void>): Promise<void>;
  close(): void;
}

/** Peers of one kind: `open` returns the port to connect to and the end, once the module has connected. */
interface Peers {
  connectTo(): Promise<{ port: number; localPort?: number }>;
  accepted(): Promise<PeerEnd>;
  close(): void;
}

function tcpPeers(deadline: Deadline): Peers {
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
        async send(data) {
          let off = 0;
          while (off < data.length) off += await conn.write(data.subarray(off));
        },
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

async function tlsPeers(certs: string, deadline: Deadline): Promise<Peers> {
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
class UdpPool {
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
function udpPeers(pool: UdpPool, deadline: Deadline): Peers {
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

/** How far ahead of the receiver a UDP sender may be (datagrams are dropped, not held, past the buffers). */
const UDP_WINDOW = 8 * 1024;

/** One round: `modules` modules with `links` links each, all at once. */
async function round(
  kind: LoadKind,
  modules: number,
  options: LoadOptions,
  deadline: Deadline,
  pool: UdpPool,
): Promise<RoundReport> {
  const started = performance.now();
  const peers = kind === "tcp"
    ? tcpPeers(deadline)
    : kind === "udp"
    ? udpPeers(pool, deadline)
    : await tlsPeers(options.certs!, deadline);
  const stacks: {
    module: VirtualModule;
    driver: AtDriver;
    close(): Promise<void>;
  }[] = [];
  const transfers: Promise<void>[] = [];
  let lost = 0;
  try {
    for (let m = 0; m < modules; m++) {
      const module = createModule({
        mode: "host",
        certs: options.certs,
      });
      const [host, side] = memoryPair();
      const con = serveStreams(module, side);
      const driver = new AtDriver(host, { timeoutMs: 30000 });
      await driver.waitReady();
      stacks.push({
        module,
        driver,
        close: async () => {
          await driver.close();
          await con.close();
          await module.close();
        },
      });
      for (let id = 0; id < options.links; id++) {
        const target = await peers.connectTo();
        const link: HostLink = await driver.connect({
          linkId: id,
          type: kind === "tcp" ? 1 : kind === "udp" ? 0 : 3,
          host: "127.0.0.1",
          port: target.port,
          ...(kind === "udp" ? { localPort: target.localPort } : {}),
          ...(kind === "tls" ? { certIndex: 1 } : {}),
          autoReceive: true,
          streams: { write: "raw" },
        });
        const peer = await peers.accepted();
        const seed = m * 100 + id;
        const out = payload(seed * 2 + 1, options.bytes); // module -> peer
        const back = payload(seed * 2 + 2, options.bytes); // peer -> module
        const what = `${kind} module ${m} link ${id}`;
        const got = new Tally(deadline);
        const reading = (async () => {
          const reader = link.readable.getReader();
          while (got.count < options.bytes) {
            const { value, done } = await reader.read();
            if (done) break;
            got.add(value);
          }
          reader.releaseLock();
        })();
        const writing = (async () => {
          const writer = link.writable.getWriter();
          const piece = kind === "udp" ? UDP_WINDOW / 2 : 64 * 1024;
          for (let off = 0; off < out.length; off += piece) {
            if (kind === "udp") {
              await peer.got.wait(off - UDP_WINDOW / 2, `${what} out`);
            }
            await writer.write(out.subarray(off, off + piece));
          }
          writer.releaseLock();
        })();
        // For UDP the peer waits until the module side is at most a window behind.
        const sending = peer.send(
          back,
          (sent) => got.wait(sent - UDP_WINDOW, `${what} back`),
        );
        transfers.push((async () => {
          await Promise.all([writing, sending]);
          await peer.got.wait(out.length, `${what} module->peer`);
          await Promise.race([
            reading,
            got.wait(back.length, `${what} peer->module`),
          ]);
          await got.wait(back.length, `${what} peer->module`);
          if (peer.got.hash.digest("hex") !== sha(out)) {
            lost += options.bytes;
            throw new LoadFailure(`${what}: module->peer bytes differ`);
          }
          if (got.hash.digest("hex") !== sha(back)) {
            lost += options.bytes;
            throw new LoadFailure(`${what}: peer->module bytes differ`);
          }
          await link.close();
          peer.close();
        })());
      }
    }
    await Promise.all(transfers);
    for (const { module } of stacks) {
      const stats = module.stats();
      if (stats.links !== 0 || stats.transparent !== 0) {
        throw new LoadFailure(`a module still holds ${JSON.stringify(stats)}`);
      }
    }
  } finally {
    await Promise.allSettled(transfers);
    for (const stack of stacks) await stack.close();
    peers.close();
  }
  const elapsedMs = performance.now() - started;
  const bytes = 2 * modules * options.links * options.bytes;
  return {
    kind,
    modules,
    links: modules * options.links,
    bytes,
    lost,
    elapsedMs,
    mibPerSecond: bytes / 1048576 / (elapsedMs / 1000),
  };
}

/** Runs every round; throws {@linkcode LoadFailure} on a lost byte or a leak. */
export async function runLoad(options: LoadOptions): Promise<LoadReport> {
  if (options.links < 1 || options.links > 20) {
    throw new RangeError(`links must be 1..20, not ${options.links}`);
  }
  const log = options.log ?? (() => {});
  const deadline = new Deadline(
    Date.now() + (options.timeLimitMs ?? 30 * 60_000),
  );
  const pool = new UdpPool();
  let scratch: string | undefined;
  try {
    if (options.kinds.includes("tls") && !options.certs) {
      scratch = await Deno.makeTempDir({ prefix: "atsock-load-" });
      await makePki(scratch, { suites: [1] });
      options = { ...options, certs: scratch };
    }
    // Warm up every path (code compiled, lazy runtime state made, every
    // UDP pool slot bound) with a small payload before taking the baseline.
    for (const kind of options.kinds) {
      await round(
        kind,
        options.modules,
        { ...options, bytes: 4096 },
        deadline,
        pool,
      );
    }
    const fdsBefore = await settledFds();
    const gc = collectGarbage();
    const heapStart = Deno.memoryUsage().heapUsed;
    const rssStart = Deno.memoryUsage().rss;
    const fdStart = fdsBefore.length;
    const rounds: RoundReport[] = [];
    for (const kind of options.kinds) {
      for (const modules of options.modules > 1 ? [1, options.modules] : [1]) {
        const r = await round(kind, modules, options, deadline, pool);
        log(
          `${kind}: ${r.modules} module(s), ${r.links} links, ${r.bytes} bytes both ways, ${r.lost} lost, ${
            r.mibPerSecond.toFixed(1)
          } MiB/s`,
        );
        rounds.push(r);
      }
    }
    collectGarbage();
    let fdEnd = 0;
    for (let i = 0; i < 200; i++) {
      fdEnd = await openFds();
      if (fdEnd <= fdStart) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    const report: LoadReport = {
      rounds,
      heap: { start: heapStart, end: Deno.memoryUsage().heapUsed, gc },
      rss: { start: rssStart, end: Deno.memoryUsage().rss },
      fds: { start: fdStart, end: fdEnd },
    };
    if (fdEnd > fdStart) {
      const now = await fdList();
      const fresh = now.filter((l) => !fdsBefore.includes(l));
      throw new LoadFailure(
        `${fdEnd - fdStart} host fds leaked: ${fresh.join(", ")}`,
      );
    }
    if (gc && report.heap.end > report.heap.start * 1.1) {
      throw new LoadFailure(
        `heap ${report.heap.end} bytes at the end, ${report.heap.start} at the start (over 10% more)`,
      );
    }
    return report;
  } finally {
    deadline.close();
    pool.close();
    if (scratch) await Deno.remove(scratch, { recursive: true });
  }
}

const HELP = `load: links carrying bytes both ways through virtual modules

Usage:
  deno task load [--links 20] [--bytes 1048576] [--modules 20]
                 [--kinds tcp,udp,tls] [--certs DIR] [--time-limit 1800]

For each kind: one module with --links links, then --modules modules with
--links links each, every link carrying --bytes both ways at once; SHA-256
compared both ways; then every link deleted and every module closed, and
the module stats, file descriptors and heap must be back where they began.
Exit status 0 all good, 1 a lost or changed byte, a leak or the time limit,
2 bad arguments.`;

if (import.meta.main) {
  let values;
  try {
    ({ values } = parseArgs({
      args: Deno.args,
      options: {
        links: { type: "string", default: "20" },
        bytes: { type: "string", default: String(1024 * 1024) },
        modules: { type: "string", default: "20" },
        kinds: { type: "string", default: "tcp,udp,tls" },
        certs: { type: "string" },
        "time-limit": { type: "string", default: "1800" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (e) {
    console.error(`load: ${(e as Error).message} (see --help)`);
    Deno.exit(2);
  }
  if (values.help) {
    console.log(HELP);
    Deno.exit(0);
  }
  const number = (name: string, text: string, min: number, max: number) => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < min || n > max) {
      console.error(
        `load: --${name} must be a whole number ${min}..${max}, not "${text}"`,
      );
      Deno.exit(2);
    }
    return n;
  };
  const kinds = values.kinds!.split(",") as LoadKind[];
  if (!kinds.every((k) => ["tcp", "udp", "tls"].includes(k))) {
    console.error(
      `load: --kinds takes tcp, udp and tls, not "${values.kinds}"`,
    );
    Deno.exit(2);
  }
  const log = (line: string) => console.error(`load: ${line}`);
  try {
    const report = await runLoad({
      links: number("links", values.links!, 1, 20),
      bytes: number("bytes", values.bytes!, 1, 1 << 30),
      modules: number("modules", values.modules!, 1, 100),
      kinds,
      certs: values.certs,
      timeLimitMs: number("time-limit", values["time-limit"]!, 1, 86400) * 1000,
      log,
    });
    if (!report.heap.gc) {
      log("no gc(): run with --v8-flags=--expose-gc to check the heap");
    }
    console.log(JSON.stringify(report));
  } catch (e) {
    console.error(`load: FAILED: ${e instanceof Error ? e.message : e}`);
    Deno.exit(1);
  }
}
