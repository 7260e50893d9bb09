/**
 * The error a subcommand throws for bad arguments: printed as one line with
 * a pointer to `--help`, never as a stack trace.
 *
 * @module
 */

import type { FlowControl } from "@atsock/protocol";

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

/**
 * Seconds, more than 0 and at most `max` (fractions allowed), for an
 * option named `name`; throws {@linkcode UsageError}.
 */
export function parseSeconds(text: string, name: string, max = 86400): number {
  const seconds = Number(text);
  if (!/^(\d+(\.\d*)?|\.\d+)$/.test(text) || !(seconds > 0) || seconds > max) {
    throw new UsageError(
      `${name} must be seconds, more than 0 and at most ${max}, not "${text}"`,
    );
  }
  return seconds;
}

/**
 * The module's UART flow control given with `--flow-control` (`undefined`
 * when not given); throws {@linkcode UsageError}.
 */
export function parseFlowControl(
  text: string | undefined,
): FlowControl | undefined {
  if (text !== undefined && text !== "none" && text !== "rts") {
    throw new UsageError(`--flow-control must be none or rts, not "${text}"`);
  }
  return text;
}

/** The module's console mode given with `--mode`; throws {@linkcode UsageError}. */
export function parseMode(text: string): "manual" | "host" {
  if (text !== "manual" && text !== "host") {
    throw new UsageError(`--mode must be manual or host, not "${text}"`);
  }
  return text;
}
