/**
 * Fuzzes both sides of the UART.
 *
 * The interpreter: command lines (grammar-aware from the protocol's request
 * types and `formatRequest`, mutated ones, random bytes, overlong lines,
 * NUL bytes, lone CRs), written in chunks split at random, through the
 * console of a virtual module in this process. Every line must get the
 * answer the protocol's own `parseCommandLine` says (silence for unknown
 * lines, exactly `ERROR: 1` for a malformed one, OK or an error code that
 * command can give for a well-formed one) within a time limit; after every
 * non-grammar line, `AT+SKTQUERY` must answer exactly; and at checkpoints
 * `AT+SKTSTATE` must match the module's link table and the host's sockets
 * (links with a socket = host file descriptors held). Sockets stay on
 * loopback, on a few ports.
 *
 * The host: the `OutputParser` fed valid module output mixed with garbage,
 * split at random: no throw, bounded memory, every valid item parsed as
 * when alone (it resynchronises after garbage); and the `AtDriver` against
 * a fake module that prints garbage before its answers, or instead of one.
 *
 *   deno run --allow-net=127.0.0.1,localhost --allow-run=ls --allow-read \
 *     --allow-sys tools/fuzz_device.ts [--lines 100000] [--host-items 100000]
 *     [--driver-rounds 2000] [--seed N] [--time-limit 1800]
 *
 * Prints the figures; exits 1 on the first failure, naming the line.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { createSocket } from "node:dgram";
import fc from "fast-check";
import {
  ATCMD_READY,
  type ClientRequest,
  concat,
  DEFAULT_CONFIG,
  encode,
  type Endpoint,
  formatConnectEvent,
  formatData,
  formatError,
  formatQuery,
  formatRead,
  formatRequest,
  formatState,
  formatStateLine,
  HIGH_WATERMARK,
  type LinkState,
  LOW_WATERMARK,
  MAX_PAYLOAD_LENGTH,
  type ModuleEvent,
  OK,
  OutputParser,
  parseCommandLine,
  type Request,
  type SocketConfig,
  TT_PROMPT,
} from "@atsock/protocol";
import { acceptLoop, createModule, serveStreams } from "@atsock/device";
import { AtDriver, CommandTimeoutError, memoryPair } from "@atsock/host";

/** A broken promise of the fuzzer: which input, what was expected, what came. */
export class FuzzFailure extends Error {
  /** Creates a failure with a one-line message. */
  constructor(message: string) {
    super(message);
    this.name = "FuzzFailure";
  }
}

/** Options of {@linkcode fuzzDevice}. */
export interface DeviceFuzzOptions {
  /** Fuzz lines to write (probes and checkpoints come on top). */
  lines: number;
  /** Seed of every random choice (same seed, same lines). */
  seed: number;
  /** Longest wait for one answer, ms (default 5000). */
  lineTimeoutMs?: number;
  /** Stop (with a failure) after this long, ms (default 30 min). */
  timeLimitMs?: number;
  /** Lines between two link-table checkpoints (default 250). */
  checkEvery?: number;
  /** Progress lines. */
  log?: (line: string) => void;
}

/** What {@linkcode fuzzDevice} did. */
export interface DeviceFuzzReport {
  /** Fuzz lines written, by kind. */
  kinds: Record<string, number>;
  /** Command lines the module saw (a lone CR makes two of one). */
  commandLines: number;
  /** Lines answered nothing, as expected. */
  silent: number;
  /** Final results by text (`OK`, `ERROR: n`). */
  results: Record<string, number>;
  /** `>>>` prompts, and their payload bytes written. */
  prompts: number;
  /** Payload bytes written after prompts. */
  rawBytes: number;
  /** `AT+SKTQUERY` probes after non-grammar lines, all exact. */
  probes: number;
  /** Link-table checkpoints passed. */
  checkpoints: number;
  /** Longest wait for one answer, ms. */
  maxAnswerMs: number;
  /** Most links open at a checkpoint. */
  maxLinks: number;
  /**
   * Host fds: `baseline` after the warm-up, and the fewest and most held
   * at a checkpoint besides the links' sockets and the echo connections
   * (both equal the baseline: nothing grew).
   */
  fds: { baseline: number; min: number; max: number };
  /** Total time, ms. */
  elapsedMs: number;
}

const CRLF = encode("\r\n");

/** Error codes a well-formed command may answer, by command (and type). */
function allowedCodes(request: Request): number[] {
  switch (request.command) {
    case "SKTCFG":
    case "SKTQUERY":
    case "SKTSTATE":
      return [0];
    case "SKTDEL":
      return [0, 1];
    case "SKTSERVER":
      return request.type === 0
        ? [0, 1, 4]
        : request.type === 1
        ? [0, 1, 2]
        : [0, 1, 6, 9, 11];
    case "SKTCLIENT":
      return request.type === 0
        ? [0, 1, 4]
        : request.type === 1
        ? [0, 1, 2]
        : [0, 1, 6, 9, 13, 14];
    case "SKTSEND":
      return [0, 1, 2];
    case "SKTREAD":
      return [0, 1, 4];
    case "SKTSENDRAW":
      return [1]; // before the prompt; after it see the payload's answer
  }
}

/**
 * The host fds this process holds, as `ls -l` names them (`fd -> target`,
 * e.g. `23 -> socket:[200212]`), via `ls` as /proc/self needs --allow-all.
 */
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

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

function show(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes.subarray(0, 160)) {
    s += b >= 0x20 && b < 0x7f && b !== 0x5c
      ? String.fromCharCode(b)
      : `\\x${b.toString(16).padStart(2, "0")}`;
  }
  return bytes.length > 160 ? `${s}... (${bytes.length} bytes)` : s;
}

/** The loopback world the module may reach. */
interface World {
  echoPort: number;
  udpPeerPort: number;
  serverPorts: number[];
  udpPorts: number[];
  closedPort: number;
}

/** A request of any command, with fields the module can act on safely. */
function requestArb(world: World): fc.Arbitrary<Request> {
  const id = fc.integer({ min: 0, max: 19 });
  const cert = fc.integer({ min: 1, max: 10 });
  const bytes = (max: number) =>
    fc.uint8Array({ minLength: 1, maxLength: max }).map((b) =>
      b.map((x) => (x === 13 || x === 10 ? 32 : x))
    );
  const remote = fc.constantFrom(
    world.echoPort,
    world.udpPeerPort,
    world.closedPort,
    ...world.serverPorts,
    ...world.udpPorts,
  );
  const destination: fc.Arbitrary<Endpoint | undefined> = fc.option(
    fc.record({
      ip: fc.constant("127.0.0.1"),
      port: fc.constantFrom(world.udpPeerPort, ...world.udpPorts),
    }),
    { nil: undefined },
  );
  const config: fc.Arbitrary<SocketConfig> = fc.record({
    sendTimeout: fc.constantFrom(0, 0, 100, 2000),
    receiveTimeout: fc.constantFrom(0, 100),
    noDelay: fc.boolean(),
    keepAlive: fc.boolean(),
    keepIdle: fc.integer({ min: 0, max: 7200 }),
    keepInterval: fc.integer({ min: 0, max: 75 }),
    keepCount: fc.integer({ min: 0, max: 10 }),
  });
  return fc.oneof(
    config.map((c): Request => ({ command: "SKTCFG", config: c })),
    fc.constant<Request>({ command: "SKTQUERY" }),
    fc.constant<Request>({ command: "SKTSTATE" }),
    {
      arbitrary: id.map((linkId): Request => ({ command: "SKTDEL", linkId })),
      weight: 3,
    },
    {
      arbitrary: fc.record({
        linkId: id,
        type: fc.constantFrom(0, 1, 1, 2, 3) as fc.Arbitrary<0 | 1 | 2 | 3>,
        cert,
        port: fc.constantFrom(...world.serverPorts, ...world.udpPorts),
        autoReceive: fc.boolean(),
      }).map(({ cert, ...r }): Request => ({
        command: "SKTSERVER",
        ...r,
        ...(r.type >= 2 ? { certIndex: cert } : {}),
      })),
      weight: 3,
    },
    {
      arbitrary: fc.record({
        linkId: id,
        type: fc.constantFrom(0, 1, 1, 2, 3, 5) as fc.Arbitrary<
          ClientRequest["type"]
        >,
        cert,
        host: fc.constantFrom("127.0.0.1", "127.0.0.1", "localhost"),
        port: remote,
        localPort: fc.constantFrom(...world.udpPorts),
        // at_sktclient takes a src_port for every type (TCP ignores it, TLS shows it).
        givePort: fc.boolean(),
        autoReceive: fc.boolean(),
      }).map(({ cert, localPort, givePort, ...r }): Request => ({
        command: "SKTCLIENT",
        ...r,
        ...(r.type >= 3 ? { certIndex: cert } : {}),
        ...(r.type === 0 || givePort ? { localPort } : {}),
      })),
      weight: 3,
    },
    {
      arbitrary: fc.record({ linkId: id, data: bytes(300), destination }).map(
        ({ destination, ...r }): Request => ({
          command: "SKTSEND",
          ...r,
          ...(destination ? { destination } : {}),
        }),
      ),
      weight: 3,
    },
    {
      arbitrary: fc.record({
        linkId: id,
        size: fc.integer({ min: 1, max: 3000 }),
      }).map((r): Request => ({ command: "SKTREAD", ...r })),
      weight: 2,
    },
    {
      arbitrary: fc.record({
        linkId: id,
        size: fc.integer({ min: 1, max: 3000 }),
        destination,
      }).map(({ destination, ...r }): Request => ({
        command: "SKTSENDRAW",
        ...r,
        ...(destination ? { destination } : {}),
      })),
      weight: 2,
    },
  );
}

/** One fuzz line: its bytes (with a line end) and what kind it is. */
interface FuzzLine {
  kind: string;
  bytes: Uint8Array;
}

function lineArb(world: World): fc.Arbitrary<FuzzLine> {
  const grammar = requestArb(world).map((r) => {
    try {
      return formatRequest(r).subarray(0, -2); // without its CR LF
    } catch {
      return encode("AT+SKTSTATE");
    }
  });
  const ending = fc.constantFrom("\r\n", "\r\n", "\r", "\n");
  const withEnd = (kind: string, body: fc.Arbitrary<Uint8Array>) =>
    fc.tuple(body, ending).map(([b, e]): FuzzLine => ({
      kind,
      bytes: concat([b, encode(e)]),
    }));
  const noEnds = (b: Uint8Array) =>
    b.map((x) => (x === 13 || x === 10 ? 0x2c : x));
  const mutated = fc.tuple(
    grammar,
    fc.array(
      fc.tuple(
        fc.constantFrom(
          "flip",
          "delete",
          "insert",
          "duplicate",
          "truncate",
          "number",
        ),
        fc.nat(),
        fc.constantFrom(0x2c, 0x30, 0x2d, 0x00, 0x5c, 0x3d, 0x20, 0x39, 0xff),
      ),
      { minLength: 1, maxLength: 3 },
    ),
  ).map(([line, ops]) => {
    let b = Array.from(line);
    for (const [op, at, byte] of ops) {
      const i = b.length ? at % b.length : 0;
      if (op === "flip") b[i] = (b[i] ^ (1 << (at % 8))) & 0xff;
      else if (op === "delete") b.splice(i, 1);
      else if (op === "insert") b.splice(i, 0, byte);
      else if (op === "duplicate") b = [...b.slice(0, i), ...b.slice(i)];
      else if (op === "truncate") b = b.slice(0, i);
      else b.splice(i, 0, ...encode(String(at * 7919)));
    }
    return noEnds(new Uint8Array(b));
  });
  return fc.oneof(
    { arbitrary: withEnd("grammar", grammar), weight: 50 },
    { arbitrary: withEnd("mutated", mutated), weight: 25 },
    {
      arbitrary: withEnd(
        "random",
        fc.uint8Array({ maxLength: 120 }).map(noEnds),
      ),
      weight: 8,
    },
    {
      arbitrary: withEnd(
        "overlong",
        fc.tuple(grammar, fc.integer({ min: 2001, max: 6000 })).map((
          [g, n],
        ) => {
          const out = new Uint8Array(n).fill(0x41);
          out.set(g.subarray(0, Math.min(g.length, n)));
          return out;
        }),
      ),
      weight: 3,
    },
    {
      arbitrary: withEnd(
        "nul",
        fc.tuple(grammar, fc.nat()).map(([g, at]) => {
          const b = Array.from(g);
          b.splice(at % (b.length + 1), 0, 0);
          return new Uint8Array(b);
        }),
      ),
      weight: 7,
    },
    {
      // A lone CR inside: the module sees two lines.
      arbitrary: withEnd(
        "lone-cr",
        fc.tuple(grammar, fc.nat()).map(([g, at]) => {
          const b = Array.from(g);
          b.splice(at % (b.length + 1), 0, 13);
          return new Uint8Array(b);
        }),
      ),
      weight: 7,
    },
  );
}

/** One line as the module's console splits it, and where the bytes after its line end start. */
interface CommandLine {
  bytes: Uint8Array;
  /** Offset of the first byte after the line end (a LF right after the CR belongs to it). */
  next: number;
}

/**
 * Splits bytes into the lines the module's console sees: CR, LF or CR LF
 * ends one; empty ones vanish; a last piece without a line end is no line.
 */
function commandLines(bytes: Uint8Array): CommandLine[] {
  const out: CommandLine[] = [];
  let start = 0;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] !== 13 && bytes[i] !== 10) continue;
    const next = bytes[i] === 13 && bytes[i + 1] === 10 ? i + 2 : i + 1;
    if (i > start) out.push({ bytes: bytes.subarray(start, i), next });
    start = next;
    i = next - 1;
  }
  return out;
}

/** Random split points from a seeded generator. */
function* chunks(bytes: Uint8Array, rnd: () => number): Generator<Uint8Array> {
  let i = 0;
  while (i < bytes.length) {
    const n = 1 + Math.floor(rnd() * Math.min(bytes.length - i, 700));
    yield bytes.subarray(i, i + n);
    i += n;
  }
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Fuzzes the virtual module's interpreter; throws {@linkcode FuzzFailure}
 * on the first line not answered as the spec says.
 */
export async function fuzzDevice(
  options: DeviceFuzzOptions,
): Promise<DeviceFuzzReport> {
  const log = options.log ?? (() => {});
  const lineTimeout = options.lineTimeoutMs ?? 5000;
  const deadline = Date.now() + (options.timeLimitMs ?? 30 * 60_000);
  const checkEvery = options.checkEvery ?? 250;
  const rnd = mulberry32(options.seed);
  const started = performance.now();

  // The loopback world: a TCP echo peer, a UDP echo peer, a few ports.
  const echo = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const echoConns = new Set<Deno.Conn>();
  const echoing = acceptLoop(echo, (conn) => {
    echoConns.add(conn);
    (async () => {
      const buf = new Uint8Array(16384);
      try {
        for (let n; (n = await conn.read(buf)) !== null;) {
          await conn.write(buf.subarray(0, n));
        }
      } catch { /* reset */ }
      echoConns.delete(conn);
      try {
        conn.close();
      } catch { /* closed */ }
    })();
  }, { name: "fuzz echo peer" });
  const udpPeer = createSocket("udp4");
  await new Promise<void>((r) => udpPeer.bind(0, "127.0.0.1", () => r()));
  udpPeer.on("message", (msg, from) => {
    udpPeer.send(msg, from.port, from.address);
  });
  const world: World = {
    echoPort: (echo.addr as Deno.NetAddr).port,
    udpPeerPort: udpPeer.address().port,
    serverPorts: [freePort(), freePort(), freePort()],
    udpPorts: [freePort(), freePort(), freePort()],
    closedPort: freePort(),
  };

  const module = createModule({ mode: "host", connectTimeoutMs: 1000 });
  const [hostSide, moduleSide] = memoryPair();
  const con = serveStreams(module, moduleSide);
  const parser = new OutputParser();
  const events: ModuleEvent[] = [];
  let wake: (() => void) | undefined;
  const reading = (async () => {
    for await (const chunk of hostSide.readable) {
      for (const e of parser.push(chunk)) {
        if (e.type === "data" || e.type === "connect") continue; // URCs
        if (e.type === "watermark") continue;
        events.push(e);
      }
      wake?.();
    }
  })();
  const next = async (what: string): Promise<ModuleEvent> => {
    const until = Date.now() + lineTimeout;
    while (events.length === 0) {
      const left = until - Date.now();
      if (left <= 0) {
        throw new FuzzFailure(`no answer within ${lineTimeout} ms to ${what}`);
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((r) => {
        wake = r;
        timer = setTimeout(r, left);
      });
      clearTimeout(timer);
    }
    return events.shift()!;
  };
  const write = async (bytes: Uint8Array) => {
    for (const piece of chunks(bytes, rnd)) await hostSide.write(piece);
  };

  const report: DeviceFuzzReport = {
    kinds: {},
    commandLines: 0,
    silent: 0,
    results: {},
    prompts: 0,
    rawBytes: 0,
    probes: 0,
    checkpoints: 0,
    maxAnswerMs: 0,
    maxLinks: 0,
    fds: { baseline: 0, min: Infinity, max: 0 },
    elapsedMs: 0,
  };
  const count = (result: string) =>
    report.results[result] = (report.results[result] ?? 0) + 1;

  /** Reads one answer's events up to its final result (or a prompt). */
  const answer = async (what: string) => {
    const t0 = performance.now();
    const before: ModuleEvent[] = [];
    while (true) {
      const e = await next(what);
      if (e.type === "ok" || e.type === "error" || e.type === "prompt") {
        report.maxAnswerMs = Math.max(
          report.maxAnswerMs,
          performance.now() - t0,
        );
        return { final: e, before };
      }
      if (e.type === "garbage") {
        throw new FuzzFailure(
          `garbage from the module after ${what}: ${JSON.stringify(e)}`,
        );
      }
      before.push(e);
    }
  };
  const codeOf = (e: ModuleEvent) => e.type === "error" ? e.code : 0;
  const text = (e: ModuleEvent) =>
    e.type === "ok" ? "OK" : e.type === "error" ? `ERROR: ${e.code}` : e.type;
  const linesOf = (events: ModuleEvent[]) =>
    events.filter((e) => e.type === "line").map((e) =>
      (e as { text: string }).text
    );

  const probe = async () => {
    await write(encode("AT+SKTQUERY\r\n"));
    const { final, before } = await answer("AT+SKTQUERY (probe)");
    const expected = new TextDecoder().decode(formatQuery(module.config))
      .split("\r\n").filter((l) => l && l !== "OK");
    if (
      final.type !== "ok" || linesOf(before).join("|") !== expected.join("|")
    ) {
      throw new FuzzFailure(
        `probe AT+SKTQUERY answered ${text(final)} ${
          JSON.stringify(linesOf(before))
        }`,
      );
    }
    report.probes++;
  };

  // Host fds held besides the links' sockets and the echo connections: set
  // after the warm-up (see `warmUp`), then never to change.
  let baseline: string[] = [];
  const unaccountedSeen: number[] = [];
  const checkpoint = async () => {
    await write(encode("AT+SKTSTATE\r\n"));
    const { final, before } = await answer("AT+SKTSTATE (checkpoint)");
    const table = module.state();
    const expected = table.map(formatStateLine);
    if (
      final.type !== "ok" || linesOf(before).join("|") !== expected.join("|")
    ) {
      throw new FuzzFailure(
        `SKTSTATE ${JSON.stringify(linesOf(before))} is not the link table ${
          JSON.stringify(expected)
        }`,
      );
    }
    if (module.stats().links !== table.length) {
      throw new FuzzFailure(
        `stats say ${module.stats().links} links, SKTSTATE ${table.length}`,
      );
    }
    // Each link with a socket holds one host fd; so does each echo
    // connection; every other fd is one of the baseline's. Sockets close
    // asynchronously: wait (bounded) for the count to settle.
    const accounted = () =>
      module.state().filter((l: LinkState) => l.socketFd >= 0).length +
      echoConns.size;
    let fds: string[] = [];
    for (let i = 0; i < 200; i++) {
      fds = await fdList();
      if (fds.length - accounted() === baseline.length) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    const unaccounted = fds.length - accounted();
    unaccountedSeen.push(unaccounted);
    report.fds.min = Math.min(report.fds.min, unaccounted);
    report.fds.max = Math.max(report.fds.max, unaccounted);
    if (unaccounted !== baseline.length) {
      // Which fds came since the baseline, named (socket:[inode], ...): a
      // leak grows from checkpoint to checkpoint, a one-time resource not.
      const fresh = fds.filter((f) => !baseline.includes(f));
      throw new FuzzFailure(
        `${fds.length} host fds open, expected ${
          baseline.length + accounted()
        } (baseline ${baseline.length}, links with sockets ${
          module.state().filter((l) => l.socketFd >= 0).length
        }, echo connections ${echoConns.size}); unaccounted at the checkpoints so far: ${
          unaccountedSeen.slice(-20).join(",")
        }; not in the baseline: ${fresh.join(", ")}`,
      );
    }
    report.maxLinks = Math.max(report.maxLinks, table.length);
    report.checkpoints++;
  };

  /**
   * Links of every kind, with bytes on them, then all deleted: what the
   * runtime makes once on first use (node:dgram, node:tls, the resolver)
   * must exist before the baseline is taken. The TLS client against a
   * silent seed waits out the 1 s handshake timeout, which also covers a
   * pair Deno 2.9 makes once about 0.5 s after start (docs/reliability.md).
   */
  const warmUp = async () => {
    const [tcpServer, udpLocal, udpServer] = [
      world.serverPorts[0],
      world.udpPorts[0],
      world.udpPorts[1],
    ];
    const local = "127.0.0.1";
    const steps: Request[] = [
      {
        command: "SKTSERVER",
        linkId: 0,
        type: 1,
        port: tcpServer,
        autoReceive: false,
      },
      {
        command: "SKTCLIENT",
        linkId: 1,
        type: 1,
        host: local,
        port: world.echoPort,
        autoReceive: false,
      },
      { command: "SKTSEND", linkId: 1, data: encode("warm-up") },
      {
        command: "SKTCLIENT",
        linkId: 2,
        type: 0,
        host: "localhost",
        port: world.udpPeerPort,
        localPort: udpLocal,
        autoReceive: true,
      },
      { command: "SKTSEND", linkId: 2, data: encode("warm-up") },
      {
        command: "SKTSERVER",
        linkId: 3,
        type: 0,
        port: udpServer,
        autoReceive: false,
      },
      {
        command: "SKTSEND",
        linkId: 3,
        data: encode("warm-up"),
        destination: { ip: local, port: world.udpPeerPort },
      },
      // Type 2 needs no certificate: the echo peer answers the ClientHello
      // with itself, the TCP server's seed never answers (both ERROR: 14).
      {
        command: "SKTCLIENT",
        linkId: 4,
        type: 2,
        host: local,
        port: world.echoPort,
        autoReceive: false,
      },
      {
        command: "SKTCLIENT",
        linkId: 5,
        type: 2,
        host: local,
        port: tcpServer,
        autoReceive: false,
      },
    ];
    for (const step of steps) {
      await write(formatRequest(step));
      const { final } = await answer(`warm-up ${step.command}`);
      const tls = step.command === "SKTCLIENT" && step.type === 2;
      if (final.type === "prompt" || (!tls && final.type !== "ok")) {
        throw new FuzzFailure(
          `warm-up ${show(formatRequest(step))} answered ${text(final)}`,
        );
      }
    }
    for (const link of module.state()) {
      await write(encode(`AT+SKTDEL=${link.linkId}\r\n`));
      await answer("warm-up AT+SKTDEL");
    }
    await probe();
    report.probes--; // not one of the run's
  };

  /**
   * The fds held with no link and no echo connection, once sockets being
   * closed are gone: the smallest count seen, after it held for 5 looks
   * in a row (a spawn of `ls` in progress only adds fds). At most 2 s.
   */
  const settledFds = async (): Promise<string[]> => {
    let least: string[] | undefined;
    let same = 0;
    for (let i = 0; i < 200 && same < 5; i++) {
      const fds = await fdList();
      if (echoConns.size === 0 && (!least || fds.length < least.length)) {
        least = fds;
        same = 0;
      } else if (least && fds.length === least.length) same++;
      await new Promise((r) => setTimeout(r, 10));
    }
    if (!least) {
      throw new FuzzFailure("the echo peer's connections never closed");
    }
    return least;
  };

  try {
    if ((await next("power-up")).type !== "ready") {
      throw new FuzzFailure("no ATCMD READY");
    }
    await warmUp();
    baseline = await settledFds();
    report.fds.baseline = baseline.length;
    const arb = lineArb(world);
    let done = 0;
    for (let batch = 0; done < options.lines; batch++) {
      const lines = fc.sample(arb, {
        numRuns: Math.min(500, options.lines - done),
        seed: options.seed + batch,
      });
      for (const line of lines) {
        if (Date.now() > deadline) {
          throw new FuzzFailure(`time limit reached after ${done} lines`);
        }
        report.kinds[line.kind] = (report.kinds[line.kind] ?? 0) + 1;
        done++;
        // Write the whole line at once (split at random), then read the
        // answers in order: the framer must see lines as the oracle does.
        await write(line.bytes);
        // What the module still reads as commands: after a `>>>` the rest
        // of the line (a lone CR made two lines of one) is payload.
        let rest = line.bytes;
        let pieces = commandLines(rest);
        while (pieces.length) {
          const piece = pieces.shift()!;
          report.commandLines++;
          const parsed = parseCommandLine(piece.bytes);
          const what = `"${show(piece.bytes)}" (${line.kind} line ${done})`;
          if (parsed.kind === "unknown") {
            report.silent++;
            continue;
          }
          const { final } = await answer(what);
          count(text(final));
          if (parsed.kind === "error") {
            if (codeOf(final) !== parsed.error.code) {
              throw new FuzzFailure(
                `${what} answered ${
                  text(final)
                }, expected ERROR: ${parsed.error.code}`,
              );
            }
            continue;
          }
          const request = parsed.request;
          if (final.type === "prompt") {
            if (request.command !== "SKTSENDRAW") {
              throw new FuzzFailure(`${what} answered >>>`);
            }
            report.prompts++;
            const tail = rest.subarray(piece.next);
            if (request.size <= 4096) {
              // The payload starts with what followed the command's line end.
              const inLine = Math.min(tail.length, request.size);
              const payload = new Uint8Array(request.size - inLine);
              crypto.getRandomValues(payload);
              for (let i = 0; i < payload.length; i++) {
                if (payload[i] === 0x3c) payload[i] = 0x3d; // no stray <<<
              }
              await write(payload);
              report.rawBytes += request.size;
              rest = tail.subarray(inLine);
              pieces = commandLines(rest);
              const end = await answer(`${what} payload`);
              count(text(end.final));
              if (
                ![0, 2].includes(codeOf(end.final)) ||
                end.final.type === "prompt"
              ) {
                throw new FuzzFailure(
                  `${what} payload answered ${text(end.final)}`,
                );
              }
            } else {
              // The rest of the line went into the payload being aborted.
              pieces = [];
              for (const b of "<<<") await hostSide.write(encode(b));
              const end = await answer(`${what} abort`);
              count(text(end.final));
              if (codeOf(end.final) !== 4) {
                throw new FuzzFailure(
                  `${what} abort answered ${text(end.final)}`,
                );
              }
            }
            continue;
          }
          if (!allowedCodes(request).includes(codeOf(final))) {
            throw new FuzzFailure(
              `${what} answered ${text(final)}, not one of ${
                allowedCodes(request)
              }`,
            );
          }
        }
        if (line.kind !== "grammar") await probe();
        if (done % checkEvery === 0) await checkpoint();
        if (done % 2000 === 0) {
          log(
            `${done} lines, ${report.checkpoints} checkpoints, ${module.stats().links} links`,
          );
        }
      }
    }
    await checkpoint();
    // Clean up through the console, as a host would.
    for (const link of module.state()) {
      await write(encode(`AT+SKTDEL=${link.linkId}\r\n`));
      await answer("cleanup");
    }
    await checkpoint();
    if (events.length) {
      throw new FuzzFailure(`events left over: ${JSON.stringify(events)}`);
    }
  } finally {
    await con.close();
    await module.close();
    await hostSide.close();
    await reading.catch(() => {});
    echo.close();
    for (const conn of echoConns) {
      try {
        conn.close();
      } catch { /* closed */ }
    }
    await echoing;
    udpPeer.close();
  }
  report.elapsedMs = performance.now() - started;
  return report;
}

/** Options of {@linkcode fuzzHost}. */
export interface HostFuzzOptions {
  /** Output items (valid and garbage) to feed the parser. */
  items: number;
  /** Driver rounds against a fake module printing garbage. */
  driverRounds: number;
  /** Seed. */
  seed: number;
  /** Progress lines. */
  log?: (line: string) => void;
}

/** What {@linkcode fuzzHost} did. */
export interface HostFuzzReport {
  /** Valid output items parsed exactly. */
  valid: number;
  /** Garbage items survived. */
  garbage: number;
  /** Bytes fed to the parser. */
  bytes: number;
  /** Most bytes the parser held at once. */
  maxBuffered: number;
  /** Driver commands answered right after garbage. */
  driverAnswers: number;
  /** Driver commands that timed out as they should (no answer, only garbage). */
  driverTimeouts: number;
  /** Total time, ms. */
  elapsedMs: number;
}

const ip = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map(
  (p) => p.join("."),
);
const port = fc.integer({ min: 1, max: 65535 });
const endpoint = fc.record({ ip, port });

/** A valid piece of module output. */
const validOutput: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.constantFrom(OK, ATCMD_READY, TT_PROMPT, HIGH_WATERMARK, LOW_WATERMARK),
  fc.integer({ min: 1, max: 14 }).map(formatError),
  fc.record({
    sendTimeout: fc.nat(100000),
    receiveTimeout: fc.nat(100000),
    noDelay: fc.boolean(),
    keepAlive: fc.boolean(),
    keepIdle: fc.nat(7200),
    keepInterval: fc.nat(75),
    keepCount: fc.nat(10),
  }).map(formatQuery),
  fc.array(
    fc.record({
      linkId: fc.nat(19),
      role: fc.constantFrom("server", "client", "seed") as fc.Arbitrary<
        LinkState["role"]
      >,
      protocol: fc.constantFrom("tcp", "udp", "ssl") as fc.Arbitrary<
        LinkState["protocol"]
      >,
      source: endpoint,
      destination: endpoint,
      socketFd: fc.integer({ min: -1, max: 19 }),
    }),
    { maxLength: 5 },
  ).map(formatState),
  fc.tuple(
    fc.nat(19),
    fc.uint8Array({ maxLength: 300 }).map((b) =>
      b.map((x) => (x === 0 || x === 13 || x === 10 ? 0x61 : x))
    ),
  ).map(([id, data]) => formatRead(id, data)),
  fc.tuple(fc.nat(19), fc.uint8Array({ maxLength: 2000 }), fc.option(endpoint))
    .map(([id, data, from]) => formatData(id, data, from ?? undefined)),
  fc.record({
    linkId: fc.nat(19),
    protocol: fc.constantFrom("tcp", "tls") as fc.Arbitrary<"tcp" | "tls">,
    peer: endpoint,
    serverId: fc.nat(19),
  }).map(formatConnectEvent),
);

/** Garbage: random bytes, overlong lines, NULs, lone CRs; never a result or a payload header. */
const garbageOutput: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.uint8Array({ minLength: 1, maxLength: 200 }),
  fc.integer({ min: 4097, max: 20000 }).map((n) =>
    new Uint8Array(n).fill(0x7a)
  ),
  fc.uint8Array({ minLength: 1, maxLength: 50 }).map((b) =>
    b.map((x, i) => (i % 5 === 0 ? 0 : x))
  ),
  fc.uint8Array({ minLength: 1, maxLength: 50 }).map((b) =>
    b.map((x, i) => (i % 7 === 3 ? 13 : x))
  ),
).map((b) => {
  // No "+", "[", ">" (payload-announcing or prompt lines) and no letters of OK/ERROR.
  const out = b.map((x) =>
    x === 0x2b || x === 0x5b || x === 0x3e || x === 0x4f || x === 0x45
      ? 0x7a
      : x
  );
  return concat([out, CRLF]);
});

/** The events a piece of output gives when parsed alone, in one chunk. */
function alone(bytes: Uint8Array): ModuleEvent[] {
  return new OutputParser().push(bytes);
}

/**
 * Fuzzes the host side; throws {@linkcode FuzzFailure} when a valid piece
 * is not parsed as when alone, the parser throws or holds too much, or the
 * driver does not recover.
 */
export async function fuzzHost(
  options: HostFuzzOptions,
): Promise<HostFuzzReport> {
  const log = options.log ?? (() => {});
  const started = performance.now();
  const rnd = mulberry32(options.seed ^ 0x5eed);
  const report: HostFuzzReport = {
    valid: 0,
    garbage: 0,
    bytes: 0,
    maxBuffered: 0,
    driverAnswers: 0,
    driverTimeouts: 0,
    elapsedMs: 0,
  };
  const bound = MAX_PAYLOAD_LENGTH + 4096 + 64;
  const item = fc.oneof(
    { arbitrary: validOutput.map((b) => ({ valid: true, b })), weight: 3 },
    { arbitrary: garbageOutput.map((b) => ({ valid: false, b })), weight: 1 },
  );
  const parser = new OutputParser();
  const ignorable = new Set(["garbage", "line", "urc", "echo"]);
  let done = 0;
  for (let batch = 0; done < options.items; batch++) {
    const items = fc.sample(item, {
      numRuns: Math.min(1000, options.items - done),
      seed: options.seed + 7 * batch,
    });
    const stream = concat(items.map((i) => i.b));
    const expected = items.filter((i) => i.valid).map((i) => alone(i.b));
    let got: ModuleEvent[] = [];
    for (const piece of chunks(stream, rnd)) {
      try {
        got.push(...parser.push(piece.slice()));
      } catch (e) {
        throw new FuzzFailure(`OutputParser threw ${e} in batch ${batch}`);
      }
      report.maxBuffered = Math.max(report.maxBuffered, parser.buffered);
      if (parser.buffered > bound) {
        throw new FuzzFailure(`OutputParser holds ${parser.buffered} bytes`);
      }
    }
    report.bytes += stream.length;
    // Every valid piece's events, in order; between them only garbage-ish events.
    for (const [k, want] of expected.entries()) {
      while (
        got.length && ignorable.has(got[0].type) &&
        !(want.length && JSON.stringify(got[0]) === JSON.stringify(want[0]))
      ) {
        got.shift();
      }
      const head = got.slice(0, want.length);
      if (JSON.stringify(head) !== JSON.stringify(want)) {
        throw new FuzzFailure(
          `batch ${batch} item ${k}: parsed ${
            JSON.stringify(head).slice(0, 300)
          }, alone ${JSON.stringify(want).slice(0, 300)}`,
        );
      }
      got = got.slice(want.length);
      report.valid++;
    }
    report.garbage += items.length - expected.length;
    done += items.length;
    if (done % 20000 === 0) log(`${done} output items`);
  }

  // The driver against a fake module: garbage before each answer, and now
  // and then garbage instead of one (the driver times out, resynchronises).
  const [host, fake] = memoryPair();
  const driver = new AtDriver(host, { timeoutMs: 2000 });
  const fakeReader = fake.readable.getReader();
  const garbage = fc.sample(garbageOutput, {
    numRuns: Math.max(1, options.driverRounds),
    seed: options.seed,
  });
  let silentNext = false;
  const serving = (async () => {
    let pending: Uint8Array = new Uint8Array();
    let round = 0;
    while (true) {
      const { value, done } = await fakeReader.read();
      if (done) return;
      pending = concat([pending, value]);
      for (let end; (end = pending.indexOf(10)) >= 0;) {
        const line = pending.subarray(0, end + 1);
        pending = pending.slice(end + 1);
        const junk = garbage[round++ % garbage.length];
        const text = new TextDecoder().decode(line);
        if (text.startsWith("AT+SKTQUERY")) {
          // The driver's resynchronisation after a timeout: answered, after
          // garbage, so the next command may go.
          const answer = concat([junk, formatQuery(DEFAULT_CONFIG)]);
          for (const piece of chunks(answer, rnd)) await fake.write(piece);
          continue;
        }
        if (!text.startsWith("AT+SKTSTATE")) continue;
        const answer = silentNext ? junk : concat([
          junk,
          formatState([{
            linkId: round % 20,
            role: "client",
            protocol: "tcp",
            source: { ip: "0.0.0.0", port: 0 },
            destination: { ip: "127.0.0.1", port: 1 + round },
            socketFd: 0,
          }]),
        ]);
        for (const piece of chunks(answer, rnd)) await fake.write(piece);
      }
    }
  })();
  try {
    await fake.write(ATCMD_READY);
    for (let round = 0; round < options.driverRounds; round++) {
      silentNext = round % 50 === 49;
      try {
        const links = await driver.state({
          timeoutMs: silentNext ? 100 : 2000,
        });
        if (
          silentNext || links.length !== 1 ||
          links[0].destination.ip !== "127.0.0.1"
        ) {
          throw new FuzzFailure(
            `driver round ${round}: ${JSON.stringify(links)}`,
          );
        }
        report.driverAnswers++;
      } catch (e) {
        if (!(silentNext && e instanceof CommandTimeoutError)) {
          throw e instanceof FuzzFailure
            ? e
            : new FuzzFailure(`driver round ${round}: ${e}`);
        }
        report.driverTimeouts++;
      }
    }
  } finally {
    await driver.close();
    await fake.close();
    await serving.catch(() => {});
  }
  report.elapsedMs = performance.now() - started;
  return report;
}

const HELP =
  `fuzz_device: fuzz the virtual module's interpreter and the host's parser

  deno run --allow-net=127.0.0.1,localhost --allow-run=ls --allow-read --allow-sys \\
    tools/fuzz_device.ts [--lines N] [--host-items N] [--driver-rounds N]
                         [--seed N] [--time-limit SECONDS]

  --lines          command lines for the interpreter (default 100000)
  --host-items     module output items for the host parser (default 100000)
  --driver-rounds  driver commands against a garbage-printing module (default 2000)
  --seed           seed of every random choice (default: time)
  --time-limit     give up after this many seconds (default 1800)
`;

if (import.meta.main) {
  let values;
  try {
    ({ values } = parseArgs({
      args: Deno.args,
      options: {
        lines: { type: "string", default: "100000" },
        "host-items": { type: "string", default: "100000" },
        "driver-rounds": { type: "string", default: "2000" },
        seed: { type: "string" },
        "time-limit": { type: "string", default: "1800" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (e) {
    console.error(`fuzz: ${(e as Error).message} (see --help)`);
    Deno.exit(2);
  }
  if (values.help) {
    console.log(HELP);
    Deno.exit(0);
  }
  const number = (name: string, text: string) => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < 0) {
      console.error(
        `fuzz_device: --${name} must be a whole number, not "${text}"`,
      );
      Deno.exit(2);
    }
    return n;
  };
  const seed = values.seed === undefined
    ? Date.now() % 2 ** 31
    : number("seed", values.seed);
  const log = (line: string) => console.error(`fuzz_device: ${line}`);
  try {
    log(`seed ${seed}`);
    const device = await fuzzDevice({
      lines: number("lines", values.lines!),
      seed,
      timeLimitMs: number("time-limit", values["time-limit"]!) * 1000,
      log,
    });
    console.log(`interpreter: ${JSON.stringify(device)}`);
    const host = await fuzzHost({
      items: number("host-items", values["host-items"]!),
      driverRounds: number("driver-rounds", values["driver-rounds"]!),
      seed,
      log,
    });
    console.log(`host: ${JSON.stringify(host)}`);
  } catch (e) {
    if (e instanceof FuzzFailure) {
      console.error(`fuzz_device: FAILED (seed ${seed}): ${e.message}`);
      Deno.exit(1);
    }
    throw e;
  }
}
