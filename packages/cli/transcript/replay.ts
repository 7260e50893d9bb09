/**
 * `atsock replay FILE TARGET`: plays the host side of a transcript against
 * a module (a fresh in-process virtual one, or one behind a serial device
 * or a TCP console) and reports the first place where the module's output
 * differs, with a diff. Exit 0 match, 1 differs, 2 bad usage or transcript.
 * The replay itself is `@atsock/host`'s `replay`; this is its command line.
 *
 * @module
 */

import { replayScript, type Transcript } from "@atsock/protocol";
import { createModule, serveStreams } from "@atsock/device";
import {
  formatDiff,
  memoryPair,
  openTarget,
  parseTarget,
  readTranscript,
  replay,
  type ReplayResult,
  type Target,
  type Transport,
} from "@atsock/host";
import {
  type DeclaredSubcommand,
  defineSubcommand,
  type OptionTable,
  type ParsedWords,
} from "../command.ts";
import { parseBaud } from "../target.ts";
import { UsageError } from "../usage.ts";

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

/** The options of `atsock replay`. */
const REPLAY_OPTIONS = {
  json: { type: "boolean" },
  var: { type: "string", multiple: true },
  timeout: { type: "string" },
  baud: { type: "string" },
} as const satisfies OptionTable;

/** Parses `atsock replay` arguments; throws {@linkcode UsageError}. */
export function parseReplayArgs(args: string[]): ReplayOptions | "help" {
  return replayCommand.parse(args);
}

/** Checks the parsed options of `atsock replay`. */
function replayOptions(
  { values, positionals }: ParsedWords<typeof REPLAY_OPTIONS>,
): ReplayOptions {
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

/** Runs `atsock replay`; resolves the exit status. */
async function replayFile(options: ReplayOptions): Promise<number> {
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
}

/** `atsock replay`. */
export const replayCommand: DeclaredSubcommand<ReplayOptions> =
  defineSubcommand({
    name: "replay",
    summary:
      "play a transcript's host side against a module; show the first difference",
    help: REPLAY_HELP,
    options: REPLAY_OPTIONS,
    parse: replayOptions,
    action: replayFile,
  });
