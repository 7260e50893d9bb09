/**
 * The error for input a person gave that cannot be used: a malformed
 * target address, an unreadable or broken transcript file.
 *
 * @module
 */

/**
 * Input a person gave that cannot be used (a malformed target address, an
 * unreadable or broken transcript file, a bad option). Its message is one
 * line that says what is wrong; the `atsock` CLI and the tools print it and
 * exit with status 2.
 */
export class UsageError extends Error {
  /** Creates a usage error with a one-line message. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}
