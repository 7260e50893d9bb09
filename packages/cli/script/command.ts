/**
 * `atsock run`: runs a script of commands and expectations against a
 * module, for production tests. The script is parsed and checked whole
 * (variables, patterns, times, files) before the module is opened; then each
 * step runs in turn and every check is reported with its script line.
 *
 * @module
 */

import { AtDriver } from "@atsock/host";
import {
  type DeclaredSubcommand,
  defineSubcommand,
  type OptionTable,
  type ParsedWords,
} from "../command.ts";
import {
  firstLine,
  isPermissionError,
  openTarget,
  parseBaud,
  parseTarget,
  type Target,
} from "../target.ts";
import { parseSeconds, UsageError } from "../usage.ts";
import { Progress } from "./progress.ts";
import { formatJson, formatResult, formatSummary } from "./report.ts";
import { executeScript } from "./execute.ts";
import { isVariableName, parseScript } from "./parse.ts";
import type { Script, ScriptProblem } from "./steps.ts";

/** Parsed options of `atsock run`. */
export interface RunOptions {
  /** The module. */
  target: Target;
  /** The script's path, or `-` for standard input. */
  script: string;
  /** `--var NAME=VALUE` values. */
  vars: Record<string, string>;
  /** One JSON report on stdout instead of text. */
  json: boolean;
  /** Default time for an answer or an unsolicited line, in ms. */
  timeoutMs: number;
  /** Serial speed. */
  baud: number;
  /** Go on after a failed check. */
  keepGoing: boolean;
  /** Progress on stderr even when it is not a terminal. */
  progress: boolean;
}

/** Help text of `atsock run`. */
export const RUN_HELP =
  `atsock run: run a script of commands and expectations against a module

Usage:
  atsock run <DEVICE | tcp:HOST:PORT> <SCRIPT | -> [--var NAME=VALUE ...]
             [--json] [--timeout S] [--baud N] [--keep-going] [--progress]

The script is checked as a whole first: an unknown keyword, a bad regex or
time, an unset variable, a command the module would reject or a missing
file is reported as SCRIPT:LINE and nothing is sent (exit status 2). Then
each step runs in turn; every check is shown with its line, and a failed
one with what was expected and what came. The run stops at the first
failed check unless --keep-going is given.

Script (one step per line; # starts a comment at the start of a line or
after a space; indentation is free):
  AT+SKTQUERY                 send a command line; with no expect OK or
  send AT+SKTQUERY            expect ERROR right after it, it must get OK
  send "AT+SKTSEND=0,4,,,a #b"   quoted: escapes \\" \\\\ \\r \\n \\t \\0 \\xNN
  expect OK [within T]        the final result of the command above, and
  expect ERROR [within T]     how long it may take (default --timeout);
  expect ERROR: N [within T]  ERROR alone takes any code
  expect line "TEXT"          an information line of the answer (SKTQUERY,
  expect line /REGEX/         SKTSTATE, +SKTREAD:...): "TEXT" is the whole
                              line, /REGEX/flags is searched in it
  expect urc "TEXT"|/REGEX/ [within T]
                              an unsolicited line ([$]..., ATCMD READY) that
                              came since the run began and was not matched
                              before, or comes within T
  sendraw LINK file PATH      AT+SKTSENDRAW=LINK,<size>, then the file after
  sendraw LINK text "..."     >>> (pausing at High Watermark), then OK;
                              LINK,IP,PORT on a UDP server; PATH is
                              relative to the script's directory
  wait T                      pause (T: 250ms, 2s, 1.5s)
  default NAME=VALUE          \${NAME} is VALUE unless --var NAME=... is given
  \${NAME}                     replaced everywhere on later lines, as text

Options:
  --var NAME=VALUE  set a variable (repeatable); the environment is not read
  --json            one JSON report on stdout:
                    {passed, failed, notRun, steps: [{line, text, ok,
                    expected, got, ms, note?}]}
  --timeout S       default time for an answer or an unsolicited line
                    (default 10); a sendraw also gets the time its bytes
                    take at the baud rate (38400 for tcp:)
  --baud N          serial speed (default 38400)
  --keep-going      run every step even after a failed check
  --progress        show progress on stderr even when it is not a terminal
                    (step i of N; bytes and rate of a sendraw file)
  -h, --help        this help

Before the first step the run waits until the module has been quiet for
150 ms (at most 1 s), so a greeting like ATCMD READY is kept for expect urc
instead of being taken for an answer.

Exit status: 0 every check passed, 1 a check failed or the module could not
be reached, 2 bad arguments or a broken script.

Permissions: --allow-read for the script and the files it sends (narrow:
--allow-read=test.atr,fw.bin), --allow-net for tcp: (narrow:
--allow-net=127.0.0.1:3333), --allow-ffi for a serial device.

Examples:
  atsock run /dev/ttyUSB0 production.atr --var PEER=192.168.1.10
  atsock run tcp:127.0.0.1:3333 smoke.atr --json > report.json
  atsock run tcp::3333 - <<'EOF'
  AT+SKTCFG=2000,2000,,1,60,10,3
  send AT+SKTQUERY
  expect line "so_sndtimeo: 2000"
  EOF
`;

/** The options of `atsock run`. */
const RUN_OPTIONS = {
  var: { type: "string", multiple: true },
  json: { type: "boolean", default: false },
  timeout: { type: "string" },
  baud: { type: "string" },
  "keep-going": { type: "boolean", default: false },
  progress: { type: "boolean", default: false },
} as const satisfies OptionTable;

/** Parses `atsock run` arguments; throws {@linkcode UsageError}. */
export function parseRunArgs(args: string[]): RunOptions | "help" {
  return runCommand.parse(args);
}

/** Checks the parsed options of `atsock run`. */
function runOptions(
  { values, positionals }: ParsedWords<typeof RUN_OPTIONS>,
): RunOptions {
  if (positionals.length !== 2) {
    throw new UsageError(
      positionals.length < 2
        ? "give a module (DEVICE or tcp:HOST:PORT) and a script"
        : `a module and one script, not ${
          positionals.map((p) => `"${p}"`).join(" ")
        }`,
    );
  }
  const target = parseTarget(positionals[0]);
  const baud = parseBaud(values.baud, target);
  if (positionals[1] === "") throw new UsageError("the script name is empty");
  const vars: Record<string, string> = {};
  for (const item of values.var ?? []) {
    const at = item.indexOf("=");
    const name = at < 0 ? item : item.slice(0, at);
    if (at < 0 || !isVariableName(name)) {
      throw new UsageError(
        `--var needs NAME=VALUE with NAME of letters, digits and _, not "${item}"`,
      );
    }
    vars[name] = item.slice(at + 1);
  }
  const timeoutMs = values.timeout === undefined
    ? 10000
    : Math.round(parseSeconds(values.timeout, "--timeout", 3600) * 1000);
  return {
    target,
    script: positionals[1],
    vars,
    json: values.json === true,
    timeoutMs,
    baud,
    keepGoing: values["keep-going"] === true,
    progress: values.progress === true,
  };
}

/** Where `sendraw ... file PATH` points: relative paths start at the script's directory. */
export function resolvePayload(script: string, path: string): string {
  if (path.startsWith("/") || script === "-") return path;
  const slash = script.lastIndexOf("/");
  return slash < 0 ? path : `${script.slice(0, slash + 1)}${path}`;
}

/** Reads the script; undefined (with a line on stderr) if it cannot be. */
async function readScript(name: string): Promise<string | undefined> {
  try {
    if (name === "-") {
      return await new Response(Deno.stdin.readable).text();
    }
    return await Deno.readTextFile(name);
  } catch (e) {
    if (isPermissionError(e)) throw e;
    console.error(`atsock: cannot read the script ${name}: ${firstLine(e)}`);
    return undefined;
  }
}

/** Checks every file a sendraw names; returns their sizes by path as written. */
async function checkFiles(
  script: Script,
  name: string,
): Promise<{ sizes: Map<string, number>; problems: ScriptProblem[] }> {
  const sizes = new Map<string, number>();
  const problems: ScriptProblem[] = [];
  for (const step of script.steps) {
    if (step.kind !== "sendraw" || step.payload.kind !== "file") continue;
    const path = step.payload.path;
    try {
      const info = await Deno.stat(resolvePayload(name, path));
      if (!info.isFile) {
        problems.push({ line: step.line, message: `${path} is not a file` });
      } else if (info.size === 0) {
        problems.push({
          line: step.line,
          message: `${path} is empty (AT+SKTSENDRAW needs at least one byte)`,
        });
      } else sizes.set(path, info.size);
    } catch (e) {
      if (isPermissionError(e)) throw e;
      problems.push({
        line: step.line,
        message: e instanceof Deno.errors.NotFound
          ? `${path}: no such file`
          : `${path}: ${firstLine(e)}`,
      });
    }
  }
  return { sizes, problems };
}

/**
 * Runs `atsock run`: reads and checks the script file, opens the module and
 * executes the script on it; resolves the exit status.
 */
export async function runScriptFile(options: RunOptions): Promise<number> {
  const text = await readScript(options.script);
  if (text === undefined) return 2;
  const label = options.script === "-" ? "(stdin)" : options.script;
  const script = parseScript(text, options.vars);
  const files = await checkFiles(script, options.script);
  const problems = [...script.problems, ...files.problems].sort((a, b) =>
    a.line - b.line
  );
  if (problems.length > 0) {
    for (const p of problems) {
      console.error(`${label}${p.line > 0 ? `:${p.line}` : ""}: ${p.message}`);
    }
    return 2;
  }
  const transport = await openTarget(options.target, { baud: options.baud });
  const driver = new AtDriver(transport, { timeoutMs: options.timeoutMs });
  const showProgress = options.progress ||
    (!options.json && Deno.stderr.isTerminal());
  const progress = showProgress
    ? new Progress(Deno.stderr, Deno.stderr.isTerminal())
    : undefined;
  try {
    const report = await executeScript(driver, script.steps, {
      timeoutMs: options.timeoutMs,
      keepGoing: options.keepGoing,
      bytesPerSecond:
        (options.target.kind === "serial" ? options.baud : 38400) /
        10,
      async openFile(path) {
        const file = await Deno.open(resolvePayload(options.script, path));
        const size = (await file.stat()).size;
        if (size !== files.sizes.get(path)) {
          file.close();
          throw new Error(
            `the file changed size since the script was checked (${size} bytes now)`,
          );
        }
        return { size, stream: file.readable };
      },
      onStep: progress
        ? (i, total, step) => progress.step(i, total, step.line, step.text)
        : undefined,
      onBytes: progress
        ? (sent, total) => progress.bytes(sent, total)
        : undefined,
      onResult: options.json ? undefined : (result) => {
        progress?.clear();
        console.log(formatResult(result));
      },
    });
    progress?.clear();
    if (options.json) console.log(formatJson(report));
    else console.log(formatSummary(report, label));
    return report.failed === 0 && report.notRun === 0 ? 0 : 1;
  } finally {
    progress?.clear();
    await driver.close();
  }
}

/** `atsock run`. */
export const runCommand: DeclaredSubcommand<RunOptions> = defineSubcommand({
  name: "run",
  summary: "run a script of commands and expectations (production tests)",
  help: RUN_HELP,
  options: RUN_OPTIONS,
  parse: runOptions,
  action: runScriptFile,
});
