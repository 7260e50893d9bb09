/**
 * The bound on what a command's pending answer may hold. A module (or a
 * noisy line) that prints lines, or garbage, without ever ending the
 * answer would otherwise make the driver keep every line until the
 * command's timeout: memory grows with whatever the module prints.
 *
 * @module
 */

export { MAX_ANSWER_BYTES } from "@atsock/protocol";

/** A pending answer grew past {@linkcode MAX_ANSWER_BYTES}: the module is printing garbage. */
export class AnswerTooLargeError extends Error {
  /** The command line sent (without its line end). */
  readonly command: string;
  /** Creates the error. */
  constructor(command: string, limit: number) {
    super(
      `${command}: the answer grew past ${limit} bytes without ending (the module prints garbage, or the line is noisy); the driver resynchronised`,
    );
    this.name = "AnswerTooLargeError";
    this.command = command;
  }
}
