/**
 * The `atsock` command line: the virtual module and the host-side tools for
 * people at a bench with a module on a cable. `main` runs it with the given
 * arguments and returns the exit status.
 *
 * @example
 * ```ts ignore
 * import { main } from "@atsock/cli";
 * Deno.exit(await main(["emulate", "--console", "tcp::3333", "--mode", "host"]));
 * ```
 *
 * @module
 */

import type { Subcommand } from "./command.ts";
import { certsCommand } from "./certs/certs.ts";
import { emulateCommand } from "./emulate.ts";
import { explainSubcommand } from "./explain/explain.ts";
import { termCommand } from "./term/term.ts";
import { stateCommand } from "./link/state.ts";
import { connectCommand } from "./link/connect.ts";
import { listenCommand } from "./link/listen.ts";
import { sendCommand } from "./link/send.ts";
import { readCommand } from "./link/read.ts";
import { delCommand } from "./link/del.ts";
import { runCommand } from "./script/command.ts";
import { replayCommand } from "./transcript/replay.ts";
import { transcriptCommand } from "./transcript/show.ts";
import { firstLine, isPermissionError, TargetError } from "./target.ts";
import { UsageError } from "./usage.ts";

export {
  type DeclaredSubcommand,
  defineSubcommand,
  type OptionTable,
  type OptionValue,
  type OptionValues,
  type ParsedWords,
  parseWords,
  type Subcommand,
  type SubcommandDeclaration,
} from "./command.ts";
export { type CertsOptions, parseCertsArgs } from "./certs/certs.ts";
export {
  checkCertDir,
  type CheckReport,
  type FileReport,
  type SideReport,
  type SuiteReport,
} from "./certs/check.ts";
export { type EmulateOptions, parseEmulateArgs } from "./emulate.ts";
export {
  explainLine,
  type ExplainOptions,
  parseExplainArgs,
} from "./explain/explain.ts";
export type {
  ExplainedError,
  ExplainedField,
  Explanation,
  ExplanationKind,
} from "./explain/explanation.ts";
export { UsageError } from "./usage.ts";
export { parseReplayArgs, type ReplayOptions } from "./transcript/replay.ts";
export { parseTranscriptArgs, type ShowOptions } from "./transcript/show.ts";
// The replay and the target are `@atsock/host`'s; re-exported for code
// that took them from here.
export {
  formatDiff,
  type PeerHandler,
  type PeerOutcome,
  readTranscript,
  replay,
  type ReplayResult,
  type ReplayRunOptions,
} from "@atsock/host";
export { openTarget, parseTarget, type Target, TargetError } from "./target.ts";
export { type CommonOptions, parseOneShot } from "./link/options.ts";
export { parseRunArgs, type RunOptions } from "./script/command.ts";
export {
  parseTermArgs,
  type TermOptions,
  type TermTarget,
} from "./term/term.ts";

/** Every subcommand, in the order the help lists them. */
export const SUBCOMMANDS: readonly Subcommand[] = [
  emulateCommand,
  termCommand,
  runCommand,
  stateCommand,
  connectCommand,
  listenCommand,
  sendCommand,
  readCommand,
  delCommand,
  explainSubcommand,
  certsCommand,
  replayCommand,
  transcriptCommand,
];

/** Top-level help. */
export function help(): string {
  const width = Math.max(...SUBCOMMANDS.map((c) => c.name.length));
  return `atsock: Socket AT commands of Realtek Ameba modules

Usage:
${
    SUBCOMMANDS.map((c) => `  atsock ${c.name.padEnd(width)}  ${c.summary}`)
      .join("\n")
  }
  atsock <command> --help    options and examples of one command

Permissions: each deno task grants only what its subcommand needs (a task
takes no permission flags); a denied permission names the task that grants
it and the deno run flag (see README.md).
`;
}

/** Runs the CLI; returns the exit status (0 ok, 1 failure, 2 usage). */
export async function main(args: string[]): Promise<number> {
  const [name, ...rest] = args;
  try {
    if (
      name === undefined || name === "-h" || name === "--help" ||
      name === "help"
    ) {
      const about = name === "help" && rest[0] !== undefined
        ? SUBCOMMANDS.find((c) => c.name === rest[0])
        : undefined;
      console.log(about ? about.help : help());
      return name === undefined ? 2 : 0;
    }
    const command = SUBCOMMANDS.find((c) => c.name === name);
    if (!command) throw new UsageError(`unknown command "${name}"`);
    // `deno task start -- --mode host` (the npm habit): deno task passes
    // the `--` on; nothing here takes an argument that begins with `-`.
    if (rest[0] === "--") rest.shift();
    return await command.run(rest);
  } catch (e) {
    return report(e, name);
  }
}

/** Turns an error that escaped a subcommand into one line on stderr and an exit status. */
function report(e: unknown, name: string | undefined): number {
  if (e instanceof UsageError) {
    const known = SUBCOMMANDS.some((c) => c.name === name);
    console.error(
      `atsock: ${e.message} (see atsock ${known ? name + " " : ""}--help)`,
    );
    return 2;
  }
  if (isPermissionError(e)) {
    console.error(
      `atsock: permission denied: ${permissionAdvice(e as Error, name)}`,
    );
    return 1;
  }
  if (e instanceof TargetError) {
    console.error(`atsock: ${e.message}`);
    return 1;
  }
  if (e instanceof Deno.errors.AddrInUse) {
    console.error(`atsock: address in use: ${firstLine(e.message)}`);
    return 1;
  }
  if (e instanceof Deno.errors.AddrNotAvailable) {
    console.error(`atsock: address not available: ${firstLine(e.message)}`);
    return 1;
  }
  throw e;
}

/**
 * Deno's "Requires read access to "x", run again with the --allow-read
 * flag" as advice that also works inside a task, where no flag can be
 * added: the task that grants it, or the `deno run` flag.
 */
function permissionAdvice(e: Error, name: string | undefined): string {
  const line = firstLine(e.message);
  const m = /^(.*), run again with the (--allow-[a-z]+) flag$/.exec(line);
  if (!m) return line;
  const command = name ?? "<command>";
  return `${m[1]}: deno task atsock ${command} grants ${
    m[2]
  } (a task takes no permission flags), or add ${
    m[2]
  } to the deno run line (see docs/getting-started-cli.md#permissions)`;
}
