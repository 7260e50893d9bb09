/**
 * Soak: normal traffic through a virtual module while it is attacked the
 * ways issue 12 found, all at once, for a bounded time:
 *
 * - resets before accept (`SO_LINGER {1, 0}`) on the console, a TCP server
 *   and a TLS server of module A;
 * - stalled TLS handshakes (clients that never say hello) on A's TLS server;
 * - console clients that connect while the console is taken (busy);
 * - a console client of module B that sends commands and never reads;
 * - a fake module printing garbage (endless lines, `+SKTREAD` answers
 *   announcing huge lengths that never come) to a host driver.
 *
 * Meanwhile the host library drives module A over its TCP console: echo
 * rounds on a TCP link, checked by SHA-256, and `AT+SKTSTATE`. At the end
 * it checks that the normal traffic lost nothing, that memory stayed under
 * the stated bounds (the emulators' resident set, this process's heap)
 * and that every listener still accepts (a TCP seed, a TLS seed, module
 * A's and B's consoles).
 *
 *   deno task soak [--seconds 60] [--json]
 *
 * Exits 1 when a check fails.
 *
 * @module
 */

import { connect as tlsConnect } from "node:tls";
import {
  AnswerTooLargeError,
  AtDriver,
  CommandTimeoutError,
  connectTcp,
  type HostLink,
  type HostServer,
  memoryPair,
  type Transport,
} from "@atsock/host";
import {
  resetConnect,
  resetsSupported,
  stalledConnections,
} from "@atsock/device/attacks";
import { makePki } from "@atsock/device/pki";
import { CLIENT_TYPE, SERVER_TYPE } from "@atsock/protocol";
import { toolArgs } from "./args.ts";
import { echoPeer, freePort, payload, sha256 as sha } from "./loopback.ts";
import { ConsoleClient, type Emulator, startEmulator } from "./soak_util.ts";

/** The most resident memory an emulator may reach during the soak. */
export const EMULATOR_RSS_BOUND = 384 * 1024 * 1024;
/** The most this process's heap may grow over its start during the soak. */
export const HEAP_GROWTH_BOUND = 128 * 1024 * 1024;

/** Options of {@linkcode runSoak}. */
export interface SoakOptions {
  /** How long the attacks and the traffic run, in seconds. */
  seconds: number;
  /** Progress lines. */
  log?: (line: string) => void;
}

/** What a soak measured. */
export interface SoakReport {
  /** Seconds of traffic under attack. */
  seconds: number;
  /** Echo rounds completed, and their bytes (both ways). */
  rounds: number;
  /** Bytes echoed through module A, both ways. */
  bytes: number;
  /** Bytes lost or changed (must be 0). */
  lost: number;
  /** `AT+SKTSTATE` commands answered during the soak. */
  states: number;
  /** Attacks made. */
  attacks: {
    resets: number;
    stalledHandshakes: number;
    busyClients: number;
    /** Bytes module B's non-reading client got in before B stopped reading. */
    unreadConsoleBytes: number;
    /** Commands the garbage module failed with a typed error. */
    garbageFailures: number;
  };
  /** Peak resident set of modules A and B, and this process's heap (start, peak). */
  memory: {
    aPeakRss: number;
    bPeakRss: number;
    heapStart: number;
    heapPeak: number;
  };
  /** What still accepted at the end. */
  accepting: {
    tcpServer: boolean;
    tlsServer: boolean;
    consoleA: boolean;
    consoleB: boolean;
  };
  /** Every check that failed (empty: the soak passed). */
  failures: string[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Races `work` against `ms`; undefined when time ran out. */
async function within<T>(work: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      work,
      new Promise<undefined>((
        r,
      ) => (timer = setTimeout(() => r(undefined), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Echo rounds on a TCP link through module A, until `deadline`. */
async function normalTraffic(
  driver: AtDriver,
  echoPort: number,
  deadline: number,
  report: SoakReport,
): Promise<void> {
  const size = 64 * 1024;
  for (let round = 0; Date.now() < deadline; round++) {
    const link: HostLink = await driver.connect({
      // The highest id: seeds take the lowest free one.
      linkId: 19,
      type: CLIENT_TYPE.TCP,
      host: "127.0.0.1",
      port: echoPort,
      autoReceive: true,
      streams: { write: "raw" },
    });
    const out = payload(round + 1, size);
    const got = new Uint8Array(size);
    let filled = 0;
    const reading = (async () => {
      const reader = link.readable.getReader();
      while (filled < size) {
        const { value, done } = await reader.read();
        if (done) break;
        got.set(value.subarray(0, size - filled), filled);
        filled += Math.min(value.length, size - filled);
      }
      reader.releaseLock();
    })();
    const writer = link.writable.getWriter();
    await writer.write(out);
    writer.releaseLock();
    const done = await within(reading.then(() => true), 60_000);
    if (!done || filled < size || sha(got) !== sha(out)) {
      report.lost += size - (sha(got) === sha(out) ? size : 0);
      report.failures.push(
        `echo round ${round}: ${filled} of ${size} bytes came back${
          filled === size ? " changed" : ""
        }`,
      );
    } else {
      report.bytes += 2 * size;
      report.rounds++;
    }
    await link.close();
    await driver.state();
    report.states++;
  }
}

/** A fake module that answers every command with garbage, driven until `deadline`. */
async function garbageModule(
  deadline: number,
  report: SoakReport,
): Promise<void> {
  const [host, module] = memoryPair();
  let stop = false;
  const printing = (async () => {
    const reader = module.readable.getReader();
    let n = 0;
    while (!stop) {
      const { done } = await reader.read();
      if (done) break;
      n++;
      if (n % 2 === 0) {
        // A read that announces 900000 bytes and never ends.
        await module.write(new TextEncoder().encode("\r\n+SKTREAD:0,900000,"));
        for (let i = 0; i < 64 && !stop; i++) {
          await module.write(new Uint8Array(1024).fill(0x78));
        }
      } else {
        // Endless information lines.
        const line = new TextEncoder().encode("garbage ".repeat(100) + "\r\n");
        for (let i = 0; i < 2000 && !stop; i++) await module.write(line);
      }
    }
    reader.releaseLock();
  })().catch(() => {});
  const driver = new AtDriver(host as Transport, { timeoutMs: 500 });
  while (Date.now() < deadline) {
    try {
      await driver.state({ timeoutMs: 500 });
      report.failures.push("the garbage module's answer was taken as a state");
    } catch (e) {
      if (
        e instanceof CommandTimeoutError || e instanceof AnswerTooLargeError
      ) {
        report.attacks.garbageFailures++;
      } else throw e;
    }
  }
  stop = true;
  await driver.close();
  await module.close().catch(() => {});
  await printing;
}

/** Runs the soak; never throws for a failed check (see `failures`). */
export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const log = options.log ?? (() => {});
  const report: SoakReport = {
    seconds: options.seconds,
    rounds: 0,
    bytes: 0,
    lost: 0,
    states: 0,
    attacks: {
      resets: 0,
      stalledHandshakes: 0,
      busyClients: 0,
      unreadConsoleBytes: 0,
      garbageFailures: 0,
    },
    memory: { aPeakRss: 0, bPeakRss: 0, heapStart: 0, heapPeak: 0 },
    accepting: {
      tcpServer: false,
      tlsServer: false,
      consoleA: false,
      consoleB: false,
    },
    failures: [],
  };
  const resets = resetsSupported();
  if (!resets) log("soak: no FFI here: the reset attack is left out");
  const dir = await Deno.makeTempDir({ prefix: "atsock-soak-" });
  let a: Emulator | undefined;
  let b: Emulator | undefined;
  let driver: AtDriver | undefined;
  let drainers: Promise<void>[] = [];
  const echo = echoPeer("soak echo peer");
  try {
    await makePki(dir, { suites: [1] });
    a = await startEmulator(["--mode", "host", "--certs", dir]);
    b = await startEmulator(["--mode", "manual"]);
    driver = new AtDriver(await connectTcp({ port: a.port }), {
      timeoutMs: 30_000,
    });
    await driver.waitReady();
    const tcpPort = freePort();
    const tlsPort = freePort();
    const tcpServer: HostServer = await driver.listen({
      linkId: 10,
      type: SERVER_TYPE.TCP,
      port: tcpPort,
    });
    const tlsServer: HostServer = await driver.listen({
      linkId: 11,
      type: SERVER_TYPE.TLS,
      certIndex: 1,
      port: tlsPort,
    });
    // Seeds (a reset can land after the accept) are taken and deleted as
    // they come, as a host would, so they never use up the link ids.
    const seeds = { tcp: 0, tls: 0 };
    drainers = [
      [tcpServer, "tcp"],
      [tlsServer, "tls"],
    ].map(async ([server, kind]) => {
      try {
        for await (const seed of server as HostServer) {
          seeds[kind as "tcp" | "tls"]++;
          await seed.close().catch(() => {});
        }
      } catch { /* the driver closed */ }
    });
    report.memory.heapStart = Deno.memoryUsage().heapUsed;
    report.memory.heapPeak = report.memory.heapStart;
    const deadline = Date.now() + options.seconds * 1000;
    let unmeasured = false;
    log(`soak: ${options.seconds} s of traffic under attack`);

    const sampling = (async () => {
      while (Date.now() < deadline) {
        const [rssA, rssB] = await Promise.all([a!.rss(), b!.rss()]);
        if (rssA === undefined || rssB === undefined) unmeasured = true;
        report.memory.aPeakRss = Math.max(report.memory.aPeakRss, rssA ?? 0);
        report.memory.bPeakRss = Math.max(report.memory.bPeakRss, rssB ?? 0);
        report.memory.heapPeak = Math.max(
          report.memory.heapPeak,
          Deno.memoryUsage().heapUsed,
        );
        await sleep(250);
      }
    })();
    const resetting = (async () => {
      while (resets && Date.now() < deadline) {
        for (const port of [a!.port, tcpPort, tlsPort]) {
          if (resetConnect(port)) report.attacks.resets++;
        }
        await sleep(20);
      }
    })();
    const stalling = (async () => {
      while (Date.now() < deadline) {
        const stalled = await stalledConnections(tlsPort, 50);
        report.attacks.stalledHandshakes += stalled.opened;
        await sleep(1000);
        stalled.close();
      }
    })();
    const crowding = (async () => {
      while (Date.now() < deadline) {
        const client = await ConsoleClient.connect(a!.port);
        try {
          await client.waitFor(/console busy/, 10_000);
          report.attacks.busyClients++;
        } catch (e) {
          report.failures.push(`a second console client: ${e}`);
        } finally {
          await client.close();
        }
        await sleep(100);
      }
    })();
    // Module B: a console client that sends and never reads.
    const unread = await Deno.connect({ hostname: "127.0.0.1", port: b.port });
    const flooding = (async () => {
      const chunk = new TextEncoder().encode("AT+SKTQUERY\r\n".repeat(1000));
      try {
        while (Date.now() < deadline) {
          const n = await within(unread.write(chunk), 1000);
          if (n === undefined) {
            // Blocked: B stopped reading, as a full UART stalls. Wait.
            await sleep(500);
            continue;
          }
          report.attacks.unreadConsoleBytes += n;
        }
      } catch { /* closed at the end */ }
    })();

    await Promise.all([
      normalTraffic(driver, echo.port, deadline, report)
        .catch((e) => {
          report.failures.push(`normal traffic: ${e}`);
        }),
      garbageModule(deadline, report).catch((e) => {
        report.failures.push(`garbage module: ${e}`);
      }),
      resetting,
      stalling,
      crowding,
      sampling,
    ]);
    try {
      unread.close();
    } catch { /* closed */ }
    await flooding;
    log("soak: attacks over; checking every listener");

    // Every listener still accepts.
    const seen = (kind: "tcp" | "tls", before: number) =>
      within(
        (async () => {
          while (seeds[kind] === before) await sleep(20);
          return true;
        })(),
        30_000,
      ).then((ok) => ok === true);
    const tcpBefore = seeds.tcp;
    const peer = await within(
      Deno.connect({ hostname: "127.0.0.1", port: tcpPort }),
      10_000,
    ).catch(() => undefined);
    report.accepting.tcpServer = peer !== undefined &&
      await seen("tcp", tcpBefore);
    peer?.close();
    const tlsBefore = seeds.tls;
    const tlsPeer = await new Promise<{ destroy(): void } | undefined>(
      (resolve) => {
        const socket = tlsConnect(
          { host: "127.0.0.1", port: tlsPort, rejectUnauthorized: false },
          () => resolve(socket),
        );
        socket.once("error", () => resolve(undefined));
      },
    );
    report.accepting.tlsServer = tlsPeer !== undefined &&
      await seen("tls", tlsBefore);
    tlsPeer?.destroy();
    report.accepting.consoleA = await within(
      (async () => {
        const second = await ConsoleClient.connect(a!.port);
        try {
          await second.waitFor(/console busy/, 30_000);
          return true;
        } finally {
          await second.close();
        }
      })().catch(() => false),
      40_000,
    ) === true;
    const fresh = await connectConsoleB(b.port);
    report.accepting.consoleB = fresh;

    for (const [what, ok] of Object.entries(report.accepting)) {
      if (!ok) report.failures.push(`${what} no longer accepts`);
    }
    if (report.lost > 0) report.failures.push(`${report.lost} bytes lost`);
    if (report.rounds === 0) report.failures.push("no echo round completed");
    for (
      const [name, rss] of [["A", report.memory.aPeakRss], [
        "B",
        report.memory.bPeakRss,
      ]] as const
    ) {
      if (rss > EMULATOR_RSS_BOUND) {
        report.failures.push(
          `module ${name} reached ${mib(rss)} MiB resident (bound ${
            mib(EMULATOR_RSS_BOUND)
          } MiB)`,
        );
      }
    }
    if (unmeasured) {
      report.failures.push("an emulator's resident set could not be measured");
    }
    const growth = report.memory.heapPeak - report.memory.heapStart;
    if (growth > HEAP_GROWTH_BOUND) {
      report.failures.push(
        `the host heap grew ${mib(growth)} MiB (bound ${
          mib(HEAP_GROWTH_BOUND)
        } MiB)`,
      );
    }
  } finally {
    await driver?.close();
    await Promise.all(drainers);
    await a?.stop();
    await b?.stop();
    await echo.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
  return report;
}

/** Module B's console takes a new client that gets its answer (Manual Test Mode). */
async function connectConsoleB(port: number): Promise<boolean> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const client = await within(ConsoleClient.connect(port), 10_000).catch(
      () => undefined,
    );
    if (!client) return false;
    try {
      await client.write("AT+SKTSTATE\r\n");
      const m = await client.waitFor(/console busy|\r\nOK\r\n/, 10_000);
      if (m[0] !== "console busy") return true;
    } catch {
      // Not yet.
    } finally {
      await client.close();
    }
    await sleep(200);
  }
  return false;
}

function mib(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(1);
}

/** The command line of `deno task soak`. */
export const SOAK_ARGS = {
  name: "soak",
  summary: "traffic through a virtual module under attack, for a bounded time",
  usage: "deno task soak [--seconds 60] [--json]",
  options: {
    seconds: {
      kind: "duration",
      help: "how long the attacks and the traffic run",
      unit: "s",
      default: 60_000,
      min: 1,
      max: 86_400_000,
    },
    json: { kind: "boolean", help: "print the report as JSON" },
  },
  epilogue: "Exit status: 0 every check passed, 1 one failed, 2 bad arguments.",
} as const;

if (import.meta.main) {
  const { values } = toolArgs(SOAK_ARGS);
  const report = await runSoak({
    seconds: values.seconds / 1000,
    log: (line) => console.error(line),
  });
  if (values.json) console.log(JSON.stringify(report));
  else {
    console.log(
      `soak ${report.seconds} s: ${report.rounds} echo rounds (${
        mib(report.bytes)
      } MiB, ${report.lost} lost), ${report.states} states; attacks: ${report.attacks.resets} resets, ${report.attacks.stalledHandshakes} stalled handshakes, ${report.attacks.busyClients} busy clients, ${
        mib(report.attacks.unreadConsoleBytes)
      } MiB to a console that never reads, ${report.attacks.garbageFailures} commands failed on garbage; peak RSS A ${
        mib(report.memory.aPeakRss)
      } MiB, B ${mib(report.memory.bPeakRss)} MiB; host heap ${
        mib(report.memory.heapStart)
      } -> peak ${mib(report.memory.heapPeak)} MiB`,
    );
    for (const failure of report.failures) console.log(`FAIL ${failure}`);
  }
  Deno.exit(report.failures.length === 0 ? 0 : 1);
}
