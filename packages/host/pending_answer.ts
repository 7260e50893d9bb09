/**
 * The bound on what a command's pending answer may hold. A module (or a
 * noisy line) that prints lines, or garbage, without ever ending the
 * answer would otherwise make the driver keep every line until the
 * command's timeout: memory grows with whatever the module prints.
 *
 * @module
 */

/**
 * The most bytes of information lines and unparsable bytes a pending
 * answer may collect (64 KiB). The longest real answer, `AT+SKTSTATE` with
 * all 20 links, is about 2 KiB; a `+SKTREAD` answer's data is bounded
 * separately by the parser (`MAX_PAYLOAD_LENGTH`).
 */
export const MAX_ANSWER_BYTES = 64 * 1024;

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

/** Counts what a pending answer holds against the limit. */
export class AnswerBudget {
  #used = 0;
  readonly #limit: number;

  /** A budget of `limit` bytes. */
  constructor(limit: number = MAX_ANSWER_BYTES) {
    this.#limit = limit;
  }

  /** Takes `bytes` more; false when the answer is now over the limit. */
  take(bytes: number): boolean {
    this.#used += bytes;
    return this.#used <= this.#limit;
  }

  /** The limit. */
  get limit(): number {
    return this.#limit;
  }
}
