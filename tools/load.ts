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

import { createModule, serveStreams, type VirtualModule } from "@atsock/device";
import { makePki } from "@atsock/device/pki";
import { AtDriver, type HostLink, memoryPair } from "@atsock/host";
import { CLIENT_TYPE, LINK_COUNT } from "@atsock/protocol";
import { toolArgs } from "./args.ts";
import {
  Deadline,
  LoadFailure,
  Tally,
  tcpPeers,
  tlsPeers,
  udpPeers,
  UdpPool,
} from "./load_peers.ts";
import { fdList, fdsWhen, payload, settledFds, sha256 } from "./loopback.ts";

export { LoadFailure } from "./load_peers.ts";

/** A link kind. */
export type LoadKind = "tcp" | "udp" | "tls";

/** Options of {@linkcode runLoad}. */
export interface LoadOptions {
  /** Links per module (at most `LINK_COUNT`, 20). */
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

/**
 * How long after the process starts the runtime's own late fds are open:
 * Deno 2.9.6 opens a socketpair (the self-pipe of its signal handling) and
 * a pipe about 0.5 s in, on an event-loop turn (docs/reliability.md,
 * "fds"). A warm-up of one kind alone can end before that.
 */
const LATE_FDS_MS = 1500;

function collectGarbage(): boolean {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return false;
  gc();
  gc();
  return true;
}

/** The client type of each kind (TLS verifies the peer with suite 1's CA). */
const CLIENT_TYPE_OF = {
  tcp: CLIENT_TYPE.TCP,
  udp: CLIENT_TYPE.UDP,
  tls: CLIENT_TYPE.TLS_VERIFY_SERVER,
} as const;

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
          type: CLIENT_TYPE_OF[kind],
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
          if (peer.got.hash.digest("hex") !== sha256(out)) {
            lost += options.bytes;
            throw new LoadFailure(`${what}: module->peer bytes differ`);
          }
          if (got.hash.digest("hex") !== sha256(back)) {
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
  if (options.links < 1 || options.links > LINK_COUNT) {
    throw new RangeError(
      `links must be 1..${LINK_COUNT}, not ${options.links}`,
    );
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
    const fdsBefore = (await settledFds({ notBeforeMs: LATE_FDS_MS }))!;
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
    const fdEnd = (await fdsWhen((fds) => fds.length <= fdStart)).length;
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

/** The command line of `deno task load`. */
export const LOAD_ARGS = {
  name: "load",
  summary: "links carrying bytes both ways through virtual modules",
  usage: `deno task load [--links 20] [--bytes 1048576] [--modules 20]
               [--kinds tcp,udp,tls] [--certs DIR] [--time-limit 1800]`,
  options: {
    links: {
      kind: "integer",
      help: "links per module",
      default: LINK_COUNT,
      min: 1,
      max: LINK_COUNT,
    },
    bytes: {
      kind: "integer",
      help: "bytes each way on each link",
      default: 1024 * 1024,
      min: 1,
      max: 1 << 30,
    },
    modules: {
      kind: "integer",
      help: "modules side by side in the second round",
      default: 20,
      min: 1,
      max: 100,
    },
    kinds: {
      kind: "choice",
      help: "link kinds to run",
      choices: ["tcp", "udp", "tls"],
      list: true,
      default: ["tcp", "udp", "tls"],
    },
    certs: {
      kind: "string",
      help: "certificate directory with suite 1",
      value: "DIR",
      defaultHelp: "a fresh test PKI (openssl)",
    },
    "time-limit": {
      kind: "duration",
      help: "give up after this long",
      unit: "s",
      default: 1_800_000,
      min: 1000,
      max: 86_400_000,
    },
  },
  epilogue:
    `For each kind: one module with --links links, then --modules modules with
--links links each, every link carrying --bytes both ways at once; SHA-256
compared both ways; then every link deleted and every module closed, and
the module stats, file descriptors and heap must be back where they began.
Exit status 0 all good, 1 a lost or changed byte, a leak or the time limit,
2 bad arguments.`,
} as const;

if (import.meta.main) {
  const { values } = toolArgs(LOAD_ARGS);
  const log = (line: string) => console.error(`load: ${line}`);
  try {
    const report = await runLoad({
      links: values.links,
      bytes: values.bytes,
      modules: values.modules,
      kinds: values.kinds,
      certs: values.certs,
      timeLimitMs: values["time-limit"],
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
