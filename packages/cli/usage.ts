/**
 * The error a subcommand throws for bad arguments: printed as one line with
 * a pointer to `--help`, never as a stack trace.
 *
 * @module
 */

/** Bad command-line arguments. */
export class UsageError extends Error {
  /** Creates a usage error with a one-line message. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}
