/**
 * The conformance suite: replays every transcript of `tools/conformance/`
 * (one per example of the vendor reference, and the rules of BEHAVIOUR.md
 * worth pinning) against a module, with the network peers each transcript
 * asks for, and reports pass or fail per transcript with the first
 * difference as a diff. See `docs/conformance.md`.
 *
 *   deno task conformance virtual
 *   deno task conformance tcp:192.168.0.50:3333 --peer-host 192.168.0.10 --certs pki
 *
 * Exit status: 0 every transcript passed (or was skipped), 1 one failed,
 * 2 bad usage or a broken transcript.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { createModule, serveStreams, type VirtualModule } from "@atsock/device";
import { makePki, PkiError } from "@atsock/device/pki";
import {
  formatDiff,
  memoryPair,
  openTarget,
  parseTarget,
  readTranscript,
  replay,
  type ReplayResult,
  type Target,
  TargetError,
  type Transport,
  UsageError,
} from "@atsock/host";
import {
  decodeLatin1,
  encodeLatin1,
  renderTemplate,
  replayScript,
  type Transcript,
  type TranscriptHeader,
} from "@atsock/protocol";
import { PeerError, Peers, type Settler } from "./conformance_peers.ts";

/** The transcripts shipped with the suite. */
export const SUITE_DIR = new URL("./conformance/", import.meta.url).pathname;

/** Help text of the conformance runner. */
export const CONFORMANCE_HELP =
  `conformance: replay the suite's transcripts against a module

Usage:
  deno task conformance TARGET [--only NAME]... [--json] [--peer-host ADDR]
                        [--module-host ADDR] [--certs DIR] [--mode MODE]
                        [--timeout MS] [--dir DIR] [--baud N]

TARGET is virtual (a fresh virtual module per transcript, in the
transcript's console mode), tcp:HOST:PORT or a serial device.

Options:
  --only NAME        run this transcript only (file name without .jsonl; repeatable)
  --json             one JSON object per transcript, then a summary object
  --peer-host ADDR   where the peers listen and connect from (default 127.0.0.1)
  --module-host ADDR the module's address, for peers that connect to it
                     (default: 127.0.0.1 for virtual, HOST for tcp:)
  --certs DIR        certificate directory with CERT/ (suite 1); default for
                     virtual: a fresh test PKI (needs openssl)
  --mode MODE        manual or host: the external module's console mode;
                     transcripts of the other mode are skipped (default host)
  --timeout MS       wait per expected answer or peer event (default 5000)
  --dir DIR          the transcripts (default tools/conformance/)
  --baud N           serial speed (default 38400)
  -h, --help         this help

Exit status: 0 every transcript passed, 1 one failed, 2 bad usage.
`;

/** Options of a conformance run. */
export interface ConformanceOptions {
  /** The module: a fresh virtual one per transcript, or a target. */
  target: { kind: "virtual" } | Target;
  /** Transcript names to run (all when empty). */
  only: string[];
  /** Print JSON. */
  json: boolean;
  /** Where the peers are. */
  peerHost: string;
  /** The module's address for peers that connect to it. */
  moduleHost?: string;
  /** A certificate directory (with `CERT/`). */
  certs?: string;
  /** An external module's console mode. */
  mode: "manual" | "host";
  /** Wait per expected answer or peer event, in ms. */
  timeoutMs: number;
  /** The transcripts' directory. */
  dir: string;
  /** Serial speed. */
  baud?: number;
}

/** One transcript's outcome. */
export interface TranscriptOutcome {
  /** The file name without `.jsonl`. */
  name: string;
  /** `pass`, `fail`, or `skip` (another console mode than the module's). */
  result: "pass" | "fail" | "skip";
  /** Wall time of the run in ms. */
  ms: number;
  /** What the transcript pins (its header's title). */
  title?: string;
  /** `fail`: the first difference as a diff. */
  diff?: string;
  /** `fail`: the replay's result. */
  replay?: ReplayResult;
}

/** Parses the runner's arguments; throws {@linkcode UsageError}. */
export function parseConformanceArgs(
  args: string[],
): ConformanceOptions | "help" {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: {
        only: { type: "string", multiple: true },
        json: { type: "boolean" },
        "peer-host": { type: "string" },
        "module-host": { type: "string" },
        certs: { type: "string" },
        mode: { type: "string" },
        timeout: { type: "string" },
        dir: { type: "string" },
        baud: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: true,
    });
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
  const { values, positionals } = parsed;
  if (values.help) return "help";
  if (positionals.length !== 1) throw new UsageError("expected one TARGET");
  const target = positionals[0] === "virtual"
    ? { kind: "virtual" as const }
    : parseTarget(positionals[0]);
  const address = (name: string, text: string | undefined) => {
    if (text !== undefined && !/^\d{1,3}(\.\d{1,3}){3}$/.test(text)) {
      throw new UsageError(`--${name} must be an IPv4 address, not "${text}"`);
    }
    return text;
  };
  const mode = values.mode ?? "host";
  if (mode !== "manual" && mode !== "host") {
    throw new UsageError(`--mode must be manual or host, not "${mode}"`);
  }
  let timeoutMs = 5000;
  if (values.timeout !== undefined) {
    timeoutMs = Number(values.timeout);
    if (!/^\d+$/.test(values.timeout) || timeoutMs < 1) {
      throw new UsageError(
        `--timeout must be a whole number of ms, not "${values.timeout}"`,
      );
    }
  }
  let baud: number | undefined;
  if (values.baud !== undefined) {
    baud = Number(values.baud);
    if (target.kind !== "serial" || !/^\d+$/.test(values.baud) || baud < 1) {
      throw new UsageError(
        "--baud takes a speed and applies to a serial device",
      );
    }
  }
  return {
    target,
    only: values.only ?? [],
    json: values.json ?? false,
    peerHost: address("peer-host", values["peer-host"]) ?? "127.0.0.1",
    moduleHost: address("module-host", values["module-host"]) ??
      (target.kind === "virtual"
        ? "127.0.0.1"
        : target.kind === "tcp"
        ? target.hostname
        : undefined),
    certs: values.certs,
    mode,
    timeoutMs,
    dir: values.dir ?? SUITE_DIR,
    baud,
  };
}

/** The suite's transcripts in `dir`, by name, sorted; `only` picks some. */
export async function listTranscripts(
  dir: string,
  only: string[] = [],
): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isFile && entry.name.endsWith(".jsonl")) {
        names.push(entry.name.slice(0, -".jsonl".length));
      }
    }
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new UsageError(`${dir}: no such directory`);
    }
    throw e;
  }
  names.sort();
  for (const name of only) {
    if (!names.includes(name)) {
      throw new UsageError(`no transcript named "${name}" in ${dir}`);
    }
  }
  return only.length ? names.filter((n) => only.includes(n)) : names;
}

/** Whether a transcript needs the TLS test PKI. */
function needsTls(transcript: Transcript): boolean {
  return transcript.records.some((r) => r.dir === "peer" && r.proto === "tls");
}

/** Polls `check` every 5 ms (bounded by `ms`). */
async function until(check: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (let i = 0; i < 100_000 && !check() && Date.now() < deadline; i++) {
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Waits on the virtual module's own state: no time guessed. */
function virtualSettler(module: VirtualModule, ms: number): Settler {
  const snapshot = () => {
    const stats = module.stats();
    return {
      held: stats.received + stats.datagrams,
      // Links whose peer has ended the stream: an auto_rcv=0 link keeps
      // its socket_fd until AT+SKTREAD meets the end.
      gone: stats.ended,
    };
  };
  return {
    before: snapshot,
    held: (before) => until(() => snapshot().held > before.held, ms),
    closed: (before) => until(() => snapshot().gone > before.gone, ms),
  };
}

/** An external module: nothing to look at, so a pause (the only one). */
const PAUSE_MS = 300;
const externalSettler: Settler = {
  before: () => ({ held: 0, gone: 0 }),
  held: () => new Promise((r) => setTimeout(r, PAUSE_MS)),
  closed: () => new Promise((r) => setTimeout(r, PAUSE_MS)),
};

/** Reads a transport until `done` holds for the text read (bounded). */
async function readUntil(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  done: (text: string) => boolean,
  ms: number,
): Promise<string> {
  let text = "";
  const deadline = Date.now() + ms;
  while (!done(text)) {
    const left = deadline - Date.now();
    if (left <= 0) throw new TargetError("the module did not answer");
    let timer: ReturnType<typeof setTimeout> | undefined;
    const next = await Promise.race([
      reader.read(),
      new Promise<"late">((r) => (timer = setTimeout(() => r("late"), left))),
    ]);
    clearTimeout(timer);
    if (next === "late") continue;
    if (next.done) throw new TargetError("the module's console ended");
    text += decodeLatin1(next.value);
  }
  return text;
}

/**
 * Brings an external module to a clean state before a transcript: every
 * link deleted, AT+SKTCFG back to its defaults. Output it printed is
 * consumed here, not matched.
 */
async function resetExternal(transport: Transport, ms: number): Promise<void> {
  const reader = transport.readable.getReader();
  const answered = (text: string) => /\r\n(OK|ERROR: \d+)\r\n$/.test(text);
  try {
    // In step first: whatever the module printed before ends at this answer.
    await transport.write(encodeLatin1("AT+SKTDEL=99\r\n"));
    await readUntil(reader, (text) => text.endsWith("\r\nERROR: 1\r\n"), ms);
    await transport.write(encodeLatin1("AT+SKTSTATE\r\n"));
    const state = await readUntil(reader, answered, ms);
    for (const m of state.matchAll(/link_id:(\d+),(server|client)/g)) {
      await transport.write(encodeLatin1(`AT+SKTDEL=${m[1]}\r\n`));
      await readUntil(reader, answered, ms);
    }
    await transport.write(encodeLatin1("AT+SKTCFG=0,0,0,0,0,0,0\r\n"));
    await readUntil(reader, answered, ms);
  } finally {
    reader.releaseLock();
  }
}

/**
 * An external module's transport, opened once for the whole suite: each
 * transcript gets a view whose `readable` ends when the view is closed,
 * while the module's connection stays open. Output between views is
 * dropped (the next transcript starts with a reset anyway).
 */
export class SharedTransport {
  readonly #transport: Transport;
  #current?: ReadableStreamDefaultController<Uint8Array>;
  readonly #pump: Promise<void>;

  /** Starts reading `transport`. */
  constructor(transport: Transport) {
    this.#transport = transport;
    this.#pump = (async () => {
      try {
        for await (const chunk of transport.readable) {
          this.#current?.enqueue(chunk);
        }
      } catch { /* the module's connection failed: its end */ }
      this.#detach();
    })();
  }

  #detach(): void {
    try {
      this.#current?.close();
    } catch { /* already closed */ }
    this.#current = undefined;
  }

  /** A view for one transcript; closing it leaves the module's connection open. */
  view(): Transport {
    this.#detach();
    const readable = new ReadableStream<Uint8Array>({
      start: (controller) => {
        this.#current = controller;
      },
    });
    let closed = false;
    return {
      name: this.#transport.name,
      readable,
      write: (bytes) =>
        closed
          ? Promise.reject(new Error("this view is closed"))
          : this.#transport.write(bytes),
      close: () => {
        if (!closed) {
          closed = true;
          this.#detach();
        }
        return Promise.resolve();
      },
    };
  }

  /** Closes the module's connection. */
  async close(): Promise<void> {
    await this.#transport.close();
    await this.#pump;
  }
}

/** A port free on loopback now (for the virtual module's own ports). */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/**
 * Placeholders of ports the module itself binds (its servers, a UDP
 * client's source port): on the virtual module they get free ports, so the
 * suite never collides with anything else on the machine.
 */
function ownPorts(
  script: ReturnType<typeof replayScript>,
): string[] {
  const peerPorts = new Set<string>();
  for (const step of script.steps) {
    if (step.peer?.port) peerPorts.add(step.peer.port);
    if (step.peer?.from) peerPorts.add(step.peer.from);
  }
  const names = new Set<string>();
  for (const step of script.steps) {
    if (step.kind !== "send") continue;
    for (const part of step.template) {
      if (typeof part !== "string" && part.name.startsWith("PORT")) {
        if (!peerPorts.has(part.name)) names.add(part.name);
      }
    }
  }
  return [...names];
}

/** Runs one transcript; never throws for a difference, only for bad input. */
export async function runTranscript(
  path: string,
  options: ConformanceOptions,
  certs: string | undefined,
  external?: SharedTransport,
): Promise<Omit<TranscriptOutcome, "name">> {
  const transcript = await readTranscript(path);
  const header: TranscriptHeader = transcript.header;
  const mode = header.mode ?? "host";
  const start = performance.now();
  if (options.target.kind !== "virtual" && mode !== options.mode) {
    return { result: "skip", ms: 0, title: header.title };
  }
  const script = replayScript(transcript);
  const vars: Record<string, string> = { PEER: options.peerHost };
  let module: VirtualModule | undefined;
  let transport: Transport;
  let closeConsole = () => Promise.resolve();
  if (options.target.kind === "virtual") {
    for (const name of ownPorts(script)) vars[name] = String(freePort());
    module = createModule({ mode, certs, bindAddress: "127.0.0.1" });
    const [host, device] = memoryPair();
    const console = serveStreams(module, device, "virtual");
    transport = host;
    closeConsole = async () => {
      await console.close();
      await device.close();
    };
  } else {
    if (!external) throw new Error("an external module needs its transport");
    // It printed ATCMD READY at power-up, long before: not awaited here.
    const first = script.steps[0];
    if (
      first?.kind === "expect" &&
      renderTemplate(first.template) === "ATCMD READY\r\n"
    ) script.steps.shift();
    transport = external.view();
    await resetExternal(transport, options.timeoutMs);
  }
  const peers = new Peers({
    peerHost: options.peerHost,
    moduleHost: options.moduleHost,
    certs,
    timeoutMs: options.timeoutMs,
    settle: module
      ? virtualSettler(module, options.timeoutMs)
      : externalSettler,
  });
  const limitMs = options.timeoutMs * (script.steps.length + 2);
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const played = replay(script, transport, {
      vars,
      timeoutMs: options.timeoutMs,
      peers: peers.handle,
    });
    const result = await Promise.race([
      played,
      new Promise<"late">((
        r,
      ) => (timer = setTimeout(() => r("late"), limitMs))),
    ]);
    if (result === "late") {
      await transport.close();
      await played.catch(() => {});
      return {
        result: "fail",
        ms: performance.now() - start,
        title: header.title,
        diff: `the transcript took longer than ${limitMs} ms`,
      };
    }
    const ms = performance.now() - start;
    if (result.result === "match") {
      return { result: "pass", ms, title: header.title };
    }
    return {
      result: "fail",
      ms,
      title: header.title,
      diff: formatDiff(result),
      replay: result,
    };
  } catch (e) {
    if (e instanceof PeerError) throw new UsageError(`${path}: ${e.message}`);
    throw e;
  } finally {
    clearTimeout(timer);
    await peers.close();
    await closeConsole();
    await module?.close();
  }
}

/** Runs the suite; `report` gets each outcome as it comes. */
export async function runConformance(
  options: ConformanceOptions,
  report: (outcome: TranscriptOutcome) => void = () => {},
): Promise<{ outcomes: TranscriptOutcome[]; ms: number }> {
  const start = performance.now();
  const names = await listTranscripts(options.dir, options.only);
  const transcripts = new Map<string, Transcript>();
  for (const name of names) {
    transcripts.set(name, await readTranscript(`${options.dir}/${name}.jsonl`));
  }
  let certs = options.certs;
  let scratch: string | undefined;
  const tls = [...transcripts.values()].some(needsTls);
  if (tls && certs === undefined && options.target.kind === "virtual") {
    scratch = await Deno.makeTempDir({ prefix: "atsock-conformance-" });
    try {
      await makePki(scratch, { suites: [1] });
    } catch (e) {
      await Deno.remove(scratch, { recursive: true });
      if (e instanceof PkiError) {
        throw new UsageError(
          `the TLS transcripts need a test PKI: ${e.message} (or give --certs DIR)`,
        );
      }
      throw e;
    }
    certs = scratch;
  }
  const outcomes: TranscriptOutcome[] = [];
  let external: SharedTransport | undefined;
  try {
    if (options.target.kind !== "virtual") {
      external = new SharedTransport(
        await openTarget(options.target, { baud: options.baud }),
      );
    }
    for (const name of names) {
      const outcome = {
        name,
        ...await runTranscript(
          `${options.dir}/${name}.jsonl`,
          options,
          certs,
          external,
        ),
      };
      outcomes.push(outcome);
      report(outcome);
    }
  } finally {
    await external?.close();
    if (scratch) await Deno.remove(scratch, { recursive: true });
  }
  return { outcomes, ms: performance.now() - start };
}

/** The runner as a command: prints and returns the exit status. */
export async function main(args: string[]): Promise<number> {
  let options;
  try {
    options = parseConformanceArgs(args);
    if (options === "help") {
      console.log(CONFORMANCE_HELP);
      return 0;
    }
    const json = options.json;
    const { outcomes, ms } = await runConformance(options, (o) => {
      if (json) {
        const { replay: _replay, ...rest } = o;
        console.log(JSON.stringify({ ...rest, ms: Math.round(o.ms) }));
        return;
      }
      const title = o.title ? `  ${o.title}` : "";
      console.log(
        `${o.result.padEnd(4)} ${o.name} (${Math.round(o.ms)} ms)${title}`,
      );
      if (o.diff) console.log(o.diff.replace(/^/gm, "     "));
    });
    const count = (r: string) => outcomes.filter((o) => o.result === r).length;
    const summary = {
      transcripts: outcomes.length,
      pass: count("pass"),
      fail: count("fail"),
      skip: count("skip"),
      ms: Math.round(ms),
    };
    if (json) console.log(JSON.stringify({ summary }));
    else {
      console.log(
        `${summary.pass} passed, ${summary.fail} failed, ${summary.skip} skipped of ${summary.transcripts} transcripts in ${summary.ms} ms`,
      );
    }
    return summary.fail ? 1 : 0;
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`conformance: ${e.message}`);
      return 2;
    }
    if (e instanceof TargetError) {
      console.error(`conformance: ${e.message}`);
      return 1;
    }
    if (
      e instanceof Deno.errors.NotCapable ||
      e instanceof Deno.errors.PermissionDenied
    ) {
      console.error(
        `conformance: permission denied: ${
          e.message.split("\n")[0]
        } (deno task conformance grants net, read, write, ffi and run=openssl; with deno run, add the flag named)`,
      );
      return 1;
    }
    throw e;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
