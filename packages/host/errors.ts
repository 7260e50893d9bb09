/**
 * Errors of the host driver besides the module's own `ERROR: <n>`
 * (`AtError` from `@atsock/protocol`).
 *
 * @module
 */

/** A command got no final result in time. */
export class CommandTimeoutError extends Error {
  /** The command line sent (without its line end). */
  readonly command: string;
  /** Creates the error. */
  constructor(command: string, ms: number) {
    super(
      `${command}: no answer within ${ms} ms (is the module powered and the baud rate right?)`,
    );
    this.name = "CommandTimeoutError";
    this.command = command;
  }
}

/** The module restarted (`ATCMD READY`) while a command was in flight: its links are gone. */
export class ModuleResetError extends Error {
  /** Creates the error. */
  constructor(command: string) {
    super(
      `${command}: the module restarted (ATCMD READY); all its links are gone`,
    );
    this.name = "ModuleResetError";
  }
}

/** The transport closed while a command was in flight or queued. */
export class TransportClosedError extends Error {
  /** Creates the error; `cause` is what the transport reported, if anything. */
  constructor(what: string, options?: { cause?: unknown }) {
    super(
      `${what}: the connection to the module is closed`,
      options?.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = "TransportClosedError";
  }
}

/**
 * An `auto_rcv=1` link's reader fell so far behind while the driver had to
 * keep reading the module (for commands or other links) that its data was
 * dropped. Use `autoReceive: false` (poll reading) for back-pressure.
 */
export class LinkOverflowError extends Error {
  /** The link id. */
  readonly linkId: number;
  /** Creates the error. */
  constructor(linkId: number, limit: number) {
    super(
      `link ${linkId}: the reader fell more than ${limit} bytes behind while the module had to be read for other work; later data was dropped (use autoReceive: false to hold the peer back)`,
    );
    this.name = "LinkOverflowError";
    this.linkId = linkId;
  }
}

/**
 * The module answered in a way the protocol does not allow: a block with a
 * line missing or garbled (a noisy line), or a final result where a prompt
 * was due. The command's effect on the module is unknown; `state()` tells.
 */
export class UnexpectedAnswerError extends Error {
  /** The command line sent (without its line end). */
  readonly command: string;
  /** Creates the error. */
  constructor(command: string, what: string) {
    super(`${command}: unexpected answer: ${what}`);
    this.name = "UnexpectedAnswerError";
    this.command = command;
  }
}
