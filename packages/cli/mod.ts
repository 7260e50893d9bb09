/**
 * The `atsock` command line: the virtual module (`emulate`) today, with the
 * host-side subcommands to come. `main` runs it with the given arguments and
 * returns the exit status.
 *
 * @example
 * ```ts ignore
 * import { main } from "@atsock/cli";
 * Deno.exit(await main(["emulate", "--console", "tcp::3333", "--mode", "host"]));
 * ```
 *
 * @module
 */

import { emulate, EMULATE_HELP, parseEmulateArgs } from "./emulate.ts";
import { UsageError } from "./usage.ts";

export { type EmulateOptions, parseEmulateArgs } from "./emulate.ts";
export { UsageError } from "./usage.ts";

/** Top-level help. */
export const HELP = `atsock: Socket AT commands of Realtek Ameba modules

Usage:
  atsock emulate [options]    run a virtual module (see atsock emulate --help)
  atsock --help

Permissions: see README.md; each task grants only what its subcommand needs.
`;

/** Runs the CLI; returns the exit status (0 ok, 1 failure, 2 usage). */
export async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  try {
    switch (command) {
      case undefined:
      case "-h":
      case "--help":
      case "help":
        console.log(HELP);
        return command === undefined ? 2 : 0;
      case "emulate": {
        const options = parseEmulateArgs(rest);
        if (options === "help") {
          console.log(EMULATE_HELP);
          return 0;
        }
        return await emulate(options);
      }
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(
        `atsock: ${e.message} (see atsock ${
          command && command !== "help" ? command + " " : ""
        }--help)`,
      );
      return 2;
    }
    if (
      e instanceof Deno.errors.NotCapable ||
      e instanceof Deno.errors.PermissionDenied
    ) {
      console.error(`atsock: permission denied: ${firstLine(e.message)}`);
      return 1;
    }
    if (e instanceof Deno.errors.AddrInUse) {
      console.error(`atsock: address in use: ${firstLine(e.message)}`);
      return 1;
    }
    throw e;
  }
}

function firstLine(text: string): string {
  return text.split("\n")[0];
}
