/**
 * Where a module is, for every subcommand that talks to one: a serial
 * device or a TCP bridge (`tcp:HOST:PORT`). Parsing and opening are
 * `@atsock/host`'s (parsing gives a `UsageError`; opening gives a
 * `TargetError` with one line for the user, and lets permission errors
 * through so `main` can name the flag to add); the `--baud` option is the
 * command line's.
 *
 * @module
 */

import { DEFAULT_BAUD, parseTarget, type Target } from "@atsock/host";
import { UsageError } from "./usage.ts";

export {
  DEFAULT_BAUD,
  isPermissionError,
  openTarget,
  parseTarget,
  type Target,
  TargetError,
  targetName,
} from "@atsock/host";

/**
 * The one target of a command line (its only positional word); a missing
 * or second one is a {@linkcode UsageError}.
 */
export function oneTarget(positionals: readonly string[]): Target {
  if (positionals.length === 0) {
    throw new UsageError("which module? give a serial device or tcp:HOST:PORT");
  }
  if (positionals.length > 1) {
    throw new UsageError(
      `one target only, not ${positionals.map((p) => `"${p}"`).join(" ")}`,
    );
  }
  return parseTarget(positionals[0]);
}

/** Parses a `--baud` value for a serial target; throws `UsageError`. */
export function parseBaud(text: string | undefined, target: Target): number {
  if (text === undefined) return DEFAULT_BAUD;
  if (target.kind !== "serial") {
    throw new UsageError("--baud applies to a serial device, not tcp:");
  }
  const baud = Number(text);
  if (!/^\d+$/.test(text) || baud < 1200 || baud > 4000000) {
    throw new UsageError(
      `--baud must be a whole number from 1200 to 4000000, not "${text}"`,
    );
  }
  return baud;
}

/** The first line of an error's message. */
export function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split("\n")[0];
}
