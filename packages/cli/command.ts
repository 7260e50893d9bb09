/**
 * The shape every `atsock` subcommand has, so that `main` can list, route
 * and explain them in one place.
 *
 * @module
 */

/** One `atsock` subcommand. */
export interface Subcommand {
  /** The word that selects it: `atsock <name> ...`. */
  readonly name: string;
  /** One line for the top-level help. */
  readonly summary: string;
  /** The full `--help` text, with examples. */
  readonly help: string;
  /**
   * Runs it with the arguments after its name; resolves the exit status
   * (0 success, 1 failure, 2 bad usage). Throws `UsageError` for bad
   * arguments and lets permission errors through: `main` turns both into
   * one line.
   */
  run(args: string[]): Promise<number>;
}
