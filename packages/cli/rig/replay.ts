/**
 * `atsock replay FILE TARGET`: plays the host side of a transcript against
 * a module (a fresh in-process virtual one, or one behind a serial device
 * or a TCP console) and reports the first place where the module's output
 * differs, with a diff. Exit 0 match, 1 differs, 2 bad usage or transcript.
 *
 * @module
 */

import {
  decodeLatin1,
  encodeLatin1,
  matchExpected,
  parseTranscript,
  type PeerStep,
  renderTemplate,
  type ReplayScript,
  replayScript,
  splitLines,
  templateNames,
  type Transcript,
  TranscriptError,
} from "@atsock/protocol";
import { createModule, serveStreams } from "@atsock/device";
import { memoryPair, type Transport } from "@atsock/host";
import type { Subcommand } from "../command.ts";
import {
  firstLine,
  isPermissionError,
  openTarget,
  parseBaud,
  parseTarget,
  type Target,
} from "../target.ts";
import { parseOptions, UsageError } from "../usage.ts";

/** Help text of `atsock replay`. */
export const REPLAY_HELP =
  `atsock replay: play a transcript's host side against a module

Usage:
  atsock replay FILE TARGET [--json] [--var NAME=VALUE]... [--timeout MS]
                [--baud N]

TARGET is virtual (a fresh virtual module in this process, in the
transcript's console mode), tcp:HOST:PORT or a serial device.

The host's bytes are sent as recorded; before each send, the module's
output since the previous send must match what was recorded, line by line.
Ports and the module's own address are placeholders (\${PORT0}, \${IP}):
ports in the host's commands are sent as recorded unless --var gives
another value; placeholders in the module's output match any value and
then keep it. Link ids and socket_fd numbers are compared as they are.

Options:
  --var NAME=VALUE  bind a placeholder (e.g. --var PORT0=5000 --var IP=10.0.0.7)
  --timeout MS      how long to wait for each expected answer (default 5000)
  --json            print the result as one JSON object
  --baud N          serial speed (default 38400)
  -h, --help        this help

Exit status: 0 the module answered as recorded, 1 it differs (the first
difference is shown as a diff: - expected, + got), 2 bad usage or a broken
transcript.

Examples:
  atsock replay session.jsonl virtual
  atsock replay session.jsonl tcp:127.0.0.1:3333 --var PORT0=40000
  atsock replay session.jsonl /dev/ttyUSB0 --json
`;

/** Parsed options of `atsock replay`. */
export interface ReplayOptions {
  /** The transcript file. */
  file: string;
  /** The module: a fresh virtual one, or a target. */
  target: { kind: "virtual" } | Target;
  /** Print one JSON object. */
  json: boolean;
  /** Placeholder values given with `--var`. */
  vars: Record<string, string>;
  /** Wait per expected answer, in ms. */
  timeoutMs: number;
  /** Serial speed. */
  baud?: number;
}

/** The outcome of a replay. */
export type ReplayResult =
  | {
    /** Every expected answer matched. */
    result: "match";
    /** Steps played. */
    steps: number;
    /** Placeholder values in the end. */
    vars: Record<string, string>;
  }
  | {
    /** The module's output differs. */
    result: "differs";
    /** Transcript line (1-based) of the expected output. */
    line: number;
    /** Index of the first differing line within that step's output. */
    index: number;
    /** Why, in words. */
    reason: string;
    /** Expected lines. */
    expected: string[];
    /** Lines the module printed. */
    got: string[];
    /** Placeholder values when it differed. */
    vars: Record<string, string>;
  };

/** Parses `atsock replay` arguments; throws {@linkcode UsageError}. */
export function parseReplayArgs(args: string[]): ReplayOptions | "help" {
  const parsed = parseOptions({
    args,
    options: {
      json: { type: "boolean" },
      var: { type: "string", multiple: true },
      timeout: { type: "string" },
      baud: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
    allowPositionals: true,
  });
  const { values, positionals } = parsed;
  if (values.help) return "help";
  if (positionals.length !== 2) {
    throw new UsageError("expected a transcript FILE and a TARGET");
  }
  const [file, where] = positionals;
  const target = where === "virtual"
    ? { kind: "virtual" as const }
    : parseTarget(where);
  const vars: Record<string, string> = {};
  for (const item of values.var ?? []) {
    const m = /^(IP|PORT\d+)=(.+)$/.exec(item);
    if (!m) {
      throw new UsageError(
        `--var must be IP=ADDRESS or PORTn=NUMBER, not "${item}"`,
      );
    }
    if (m[1] !== "IP" && !/^\d{1,5}$/.test(m[2])) {
      throw new UsageError(`--var ${m[1]} must be a port number`);
    }
    vars[m[1]] = m[2];
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
  const options: ReplayOptions = {
    file,
    target,
    json: values.json ?? false,
    vars,
    timeoutMs,
  };
  if (values.baud !== undefined) {
    if (target.kind === "virtual") {
      throw new UsageError("--baud applies to a serial device");
    }
    options.baud = parseBaud(values.baud, target);
  }
  return options;
}

/** Reads and parses a transcript file; a bad one is a {@linkcode UsageError}. */
export async function readTranscript(path: string): Promise<Transcript> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (isPermissionError(e)) throw e;
    throw new UsageError(`${path}: ${firstLine(e)}`);
  }
  try {
    return parseTranscript(text);
  } catch (e) {
    if (e instanceof TranscriptError) {
      throw new UsageError(`${path}: ${e.message}`);
    }
    throw e;
  }
}

/** Collects a transport's output as latin1 text, waking waiters as it grows. */
class Output {
  text = "";
  ended = false;
  #wake: (() => void)[] = [];
  readonly done: Promise<void>;

  constructor(readable: ReadableStream<Uint8Array>) {
    this.done = (async () => {
      try {
        for await (const chunk of readable) {
          this.text += decodeLatin1(chunk);
          for (const wake of this.#wake.splice(0)) wake();
        }
      } catch { /* the transport failed: treated as its end */ }
      this.ended = true;
      for (const wake of this.#wake.splice(0)) wake();
    })();
  }

  /** Resolves when more output arrives, the stream ends, or at `deadline`. */
  changed(deadline: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(wake, Math.max(0, deadline - Date.now()));
      function wake() {
        clearTimeout(timer);
        resolve();
      }
      this.#wake.push(wake);
    });
  }
}

const READY = "ATCMD READY\r\n";

/**
 * What a network peer's action came to: placeholders it bound (its own
 * ports), or a difference (the peer did not get what the transcript says).
 */
export type PeerOutcome =
  | {
    /** Placeholders the action bound. */
    bound?: Record<string, string>;
  }
  | {
    /** Why the peer's side differs, in words. */
    differs: string;
    /** What the peer should have got (lines). */
    expected: string[];
    /** What it got (lines). */
    got: string[];
  };

/** Acts a transcript's `peer` steps (the conformance suite provides peers). */
export type PeerHandler = (
  step: PeerStep,
  vars: Readonly<Record<string, string>>,
) => Promise<PeerOutcome>;

/** Options of {@linkcode replay}. */
export interface ReplayRunOptions {
  /** Placeholder values bound beforehand. */
  vars?: Record<string, string>;
  /** Wait per expected answer, in ms (default 5000). */
  timeoutMs?: number;
  /** Acts `peer` steps; without it a transcript with peers differs at its first. */
  peers?: PeerHandler;
}

/**
 * Plays `script` on `transport`. A leading expected `ATCMD READY` alone is
 * optional (a module on a cable printed it at power-up, before the replay).
 */
export async function replay(
  script: ReplayScript,
  transport: Transport,
  options: ReplayRunOptions = {},
): Promise<ReplayResult> {
  const timeoutMs = options.timeoutMs ?? 5000;
  const vars: Record<string, string> = { ...options.vars };
  const output = new Output(transport.readable);
  let at = 0;
  try {
    for (let i = 0; i < script.steps.length; i++) {
      const step = script.steps[i];
      if (step.kind === "peer") {
        if (!options.peers || !step.peer) {
          return differs(
            step.line,
            0,
            "the transcript needs network peers (run it with tools/conformance.ts)",
            [],
            [],
            vars,
          );
        }
        const outcome = await options.peers(step.peer, vars);
        if ("differs" in outcome) {
          return differs(
            step.line,
            0,
            outcome.differs,
            outcome.expected,
            outcome.got,
            vars,
          );
        }
        Object.assign(vars, outcome.bound);
        continue;
      }
      if (step.kind === "send") {
        for (const name of templateNames(step.template)) {
          vars[name] ??= script.recorded[name];
        }
        await transport.write(
          encodeLatin1(renderTemplate(step.template, vars)),
        );
        continue;
      }
      const optionalReady = i === 0 &&
        renderTemplate(step.template) === READY;
      const deadline = Date.now() +
        (optionalReady ? Math.min(timeoutMs, 1000) : timeoutMs);
      while (true) {
        const got = output.text.slice(at);
        const result = matchExpected(step.template, got, vars);
        if (result.status === "match") {
          at += result.consumed;
          Object.assign(vars, result.bound);
          break;
        }
        if (result.status === "differ") {
          return differs(
            step.line,
            result.index,
            "the module's output differs",
            result.expected,
            result.got,
            vars,
          );
        }
        if (Date.now() >= deadline || output.ended) {
          if (optionalReady && got === "") break;
          const expected = splitLines(renderTemplate(step.template, vars));
          const have = splitLines(got);
          let index = 0;
          while (index < have.length && have[index] === expected[index]) {
            index++;
          }
          return differs(
            step.line,
            index,
            output.ended
              ? "the connection to the module ended"
              : `no matching output within ${timeoutMs} ms`,
            expected,
            have,
            vars,
          );
        }
        await output.changed(deadline);
      }
    }
    const extra = output.text.slice(at);
    if (extra !== "" && !(extra === READY && at === 0)) {
      const last = script.steps[script.steps.length - 1];
      return differs(
        last?.line ?? 1,
        0,
        "output after the last recorded answer",
        [],
        splitLines(extra),
        vars,
      );
    }
    return { result: "match", steps: script.steps.length, vars };
  } finally {
    await transport.close();
    await output.done;
  }
}

function differs(
  line: number,
  index: number,
  reason: string,
  expected: string[],
  got: string[],
  vars: Record<string, string>,
): ReplayResult {
  return {
    result: "differs",
    line,
    index,
    reason,
    expected,
    got,
    vars: { ...vars },
  };
}

/** A line for a person: CR, LF and other control bytes escaped. */
export function showLine(line: string): string {
  return JSON.stringify(line).slice(1, -1);
}

/** The diff of a difference: context, then `-` expected and `+` got from the first differing line. */
export function formatDiff(
  result: Extract<ReplayResult, { result: "differs" }>,
): string {
  const out = [
    `replay differs at transcript line ${result.line}: ${result.reason}`,
  ];
  for (let i = 0; i < result.index && i < result.got.length; i++) {
    out.push(`  ${showLine(result.got[i])}`);
  }
  for (const line of result.expected.slice(result.index)) {
    out.push(`- ${showLine(line)}`);
  }
  for (const line of result.got.slice(result.index)) {
    out.push(`+ ${showLine(line)}`);
  }
  if (result.got.length <= result.index) out.push("+ (nothing)");
  return out.join("\n");
}

async function open(options: ReplayOptions, transcript: Transcript): Promise<{
  transport: Transport;
  close: () => Promise<void>;
}> {
  if (options.target.kind !== "virtual") {
    const transport = await openTarget(options.target, { baud: options.baud });
    return { transport, close: () => Promise.resolve() };
  }
  const module = createModule({ mode: transcript.header.mode ?? "host" });
  const [host, device] = memoryPair();
  const console = serveStreams(module, device, "virtual");
  return {
    transport: host,
    close: async () => {
      await console.close();
      await device.close();
      await module.close();
    },
  };
}

/** `atsock replay`. */
export const replayCommand: Subcommand = {
  name: "replay",
  summary:
    "play a transcript's host side against a module; show the first difference",
  help: REPLAY_HELP,
  async run(args) {
    const options = parseReplayArgs(args);
    if (options === "help") {
      console.log(REPLAY_HELP);
      return 0;
    }
    const transcript = await readTranscript(options.file);
    const script = replayScript(transcript);
    const { transport, close } = await open(options, transcript);
    let result: ReplayResult;
    try {
      result = await replay(script, transport, {
        vars: options.vars,
        timeoutMs: options.timeoutMs,
      });
    } finally {
      await close();
    }
    if (options.json) console.log(JSON.stringify(result));
    else if (result.result === "match") {
      console.log(
        `replay matches: ${result.steps} steps of ${options.file}`,
      );
    } else console.log(formatDiff(result));
    return result.result === "match" ? 0 : 1;
  },
};
