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
  renderTemplate,
  replayScript,
  type Transcript,
  type TranscriptHeader,
} from "@atsock/protocol";
import { ArgsError, helpText, parseToolArgs } from "./args.ts";
import {
  externalSettler,
  resetExternal,
  SharedTransport,
} from "./conformance_external.ts";
import { PeerError, Peers, type Settler } from "./conformance_peers.ts";
import { freePort } from "./loopback.ts";

export { SharedTransport } from "./conformance_external.ts";

/** The transcripts shipped with the suite. */
export const SUITE_DIR = new URL("./conformance/", import.meta.url).pathname;

/** The command line of `deno task conformance`. */
export const CONFORMANCE_ARGS = {
  name: "conformance",
  summary: "replay the suite's transcripts against a module",
  usage:
    `deno task conformance TARGET [--only NAME]... [--json] [--peer-host ADDR]
                      [--module-host ADDR] [--certs DIR] [--mode MODE]
                      [--timeout MS] [--dir DIR] [--baud N]

TARGET is virtual (a fresh virtual module per transcript, in the
transcript's console mode), tcp:HOST:PORT or a serial device.`,
  options: {
    only: {
      kind: "string",
      multiple: true,
      value: "NAME",
      help: "run this transcript only (file name without .jsonl; repeatable)",
    },
    json: {
      kind: "boolean",
      help: "one JSON object per transcript, then a summary object",
    },
    "peer-host": {
      kind: "string",
      value: "ADDR",
      help: "where the peers listen and connect from",
      default: "127.0.0.1",
    },
    "module-host": {
      kind: "string",
      value: "ADDR",
      help: "the module's address, for peers that connect to it",
      defaultHelp: "127.0.0.1 for virtual, HOST for tcp:",
    },
    certs: {
      kind: "string",
      value: "DIR",
      help: "certificate directory with CERT/, suite 1",
      defaultHelp: "a fresh test PKI for virtual (needs openssl)",
    },
    mode: {
      kind: "choice",
      value: "MODE",
      choices: ["manual", "host"],
      help:
        "the external module's console mode; transcripts of the other mode are skipped",
      default: "host",
    },
    timeout: {
      kind: "duration",
      unit: "ms",
      help: "wait per expected answer or peer event",
      default: 5000,
      min: 1,
      max: 3_600_000,
    },
    dir: {
      kind: "string",
      value: "DIR",
      help: "the transcripts",
      defaultHelp: "tools/conformance/",
    },
    baud: {
      kind: "integer",
      help: "serial speed",
      min: 1,
      max: 100_000_000,
      defaultHelp: "38400",
    },
  },
  positionals: { min: 1, max: 1 },
  epilogue:
    "Exit status: 0 every transcript passed, 1 one failed, 2 bad usage.",
} as const;

/** Help text of the conformance runner. */
export const CONFORMANCE_HELP: string = helpText(CONFORMANCE_ARGS);

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
    parsed = parseToolArgs(CONFORMANCE_ARGS, args);
  } catch (e) {
    if (e instanceof ArgsError) throw new UsageError(e.message);
    throw e;
  }
  if (parsed === "help") return "help";
  const { values, positionals } = parsed;
  const target = positionals[0] === "virtual"
    ? { kind: "virtual" as const }
    : parseTarget(positionals[0]);
  const address = (name: string, text: string | undefined) => {
    if (text !== undefined && !/^\d{1,3}(\.\d{1,3}){3}$/.test(text)) {
      throw new UsageError(`--${name} must be an IPv4 address, not "${text}"`);
    }
    return text;
  };
  if (values.baud !== undefined && target.kind !== "serial") {
    throw new UsageError("--baud takes a speed and applies to a serial device");
  }
  return {
    target,
    only: values.only,
    json: values.json,
    peerHost: address("peer-host", values["peer-host"])!,
    moduleHost: address("module-host", values["module-host"]) ??
      (target.kind === "virtual"
        ? "127.0.0.1"
        : target.kind === "tcp"
        ? target.hostname
        : undefined),
    certs: values.certs,
    mode: values.mode,
    timeoutMs: values.timeout,
    dir: values.dir ?? SUITE_DIR,
    baud: values.baud,
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
