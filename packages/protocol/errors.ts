/**
 * The error catalogue: every command's `ERROR: <n>` codes with the meaning
 * given in the vendor's reference, and the typed error that carries them.
 *
 * @module
 */

import {
  COMMAND_NAMES,
  type CommandName,
  COMMANDS,
  PARAMETER_ERROR,
} from "./commands.ts";

/**
 * Each command's error codes and their meaning, from the reference's
 * tables (the catalogue's `errors`, by command).
 */
export const ERROR_MEANINGS: Readonly<
  Record<CommandName, Readonly<Record<number, string>>>
> = Object.fromEntries(
  COMMAND_NAMES.map((name) => [name, COMMANDS[name].errors]),
) as Record<CommandName, Readonly<Record<number, string>>>;

/**
 * The meaning of an error code for a command, or `undefined` when the
 * reference lists no such code for it.
 *
 * @example
 * ```ts
 * import { errorMeaning } from "@atsock/protocol";
 * errorMeaning("SKTCLIENT", 14); // "mbedtls_ssl_handshake() failed"
 * ```
 */
export function errorMeaning(
  command: CommandName,
  code: number,
): string | undefined {
  return ERROR_MEANINGS[command][code];
}

/** Options for {@linkcode AtError}. */
export interface AtErrorOptions {
  /** Why the module (or the parser standing in for it) gives this code. */
  detail?: string;
  /** The underlying error, when there is one. */
  cause?: unknown;
}

/**
 * An `ERROR: <n>` answer, typed: the command it answers, the code, and the
 * reference's meaning of that code for that command.
 */
export class AtError extends Error {
  /** The command that failed, or `undefined` for a line too long to name. */
  readonly command: CommandName | undefined;
  /** The number after `ERROR: `. */
  readonly code: number;
  /** The reference's meaning of the code for this command. */
  readonly meaning: string;
  /** Why this code was given, when known (for example which field was wrong). */
  readonly detail: string | undefined;

  /** Creates an error for `command` with `code`. */
  constructor(
    command: CommandName | undefined,
    code: number,
    options: AtErrorOptions = {},
  ) {
    const meaning = command === undefined
      ? (code === PARAMETER_ERROR ? "Parameter error" : "Unknown error")
      : errorMeaning(command, code) ?? "Unknown error";
    const name = command === undefined ? "AT" : `AT+${command}`;
    super(
      `${name}: ERROR: ${code} (${meaning})` +
        (options.detail ? `: ${options.detail}` : ""),
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = "AtError";
    this.command = command;
    this.code = code;
    this.meaning = meaning;
    this.detail = options.detail;
  }
}
