/**
 * The error a subcommand throws for bad arguments: printed as one line with
 * a pointer to `--help`, never as a stack trace.
 *
 * @module
 */

import { parseArgs, type ParseArgsConfig } from "node:util";
import { UsageError } from "@atsock/host";

/** Bad command-line arguments: `@atsock/host`'s, which its target parser and transcript reader throw too. */
export { UsageError } from "@atsock/host";

/**
 * `node:util` `parseArgs` (strict unless told otherwise), with its errors (an unknown option, a
 * missing value) turned into a {@linkcode UsageError}: one line, exit 2.
 */
export function parseOptions<T extends ParseArgsConfig>(
  config: T,
): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
}
