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
      `${command}: the module restarted (ATCMD READY) before answering; all its links are gone`,
    );
    this.name = "ModuleResetError";
  }
}

/** The transport closed while a command was in flight or queued. */
export class TransportClosedError extends Error {
  /** Creates the error. */
  constructor(what: string) {
    super(`${what}: the connection to the module is closed`);
    this.name = "TransportClosedError";
  }
}
