/**
 * The error catalogue: every command's `ERROR: <n>` codes with the meaning
 * given in the vendor's reference, and the typed error that carries them.
 *
 * @module
 */

/** The nine socket commands, named without the `AT+` prefix. */
export type CommandName =
  | "SKTCFG"
  | "SKTQUERY"
  | "SKTSERVER"
  | "SKTCLIENT"
  | "SKTSEND"
  | "SKTREAD"
  | "SKTSENDRAW"
  | "SKTSTATE"
  | "SKTDEL";

/** All command names, in the reference's order. */
export const COMMAND_NAMES: readonly CommandName[] = [
  "SKTCFG",
  "SKTQUERY",
  "SKTSERVER",
  "SKTCLIENT",
  "SKTSEND",
  "SKTREAD",
  "SKTSENDRAW",
  "SKTSTATE",
  "SKTDEL",
];

/** Each command's error codes and their meaning, from the reference's tables. */
export const ERROR_MEANINGS: Readonly<
  Record<CommandName, Readonly<Record<number, string>>>
> = {
  SKTCFG: { 1: "Parameter error" },
  SKTQUERY: { 1: "No need input Parameter" },
  SKTSERVER: {
    1: "Parameter error",
    2: "Failed to create TCP server",
    3: "Failed to create the task that auto-receives the TCP client and TCP data",
    4: "Failed to create UDP server",
    5: "Failed to create the task that auto-receives UDP client and its data",
    6: "Failed to get SERVER_CERT/SERVER_KEY/SERVER_CA from flash",
    7: "Memory allocation failed",
    8: "mbedtls_ssl_config_defaults() failed",
    9: "mbedtls_x509_crt_parse() failed",
    10: "mbedtls_ssl_conf_own_cert() failed",
    11: "mbedtls_net_bind() failed",
    12:
      "Failed to create the task that auto-receives the TLS client and TLS data",
  },
  SKTCLIENT: {
    1: "Parameter error",
    2: "Failed to create TCP client",
    3: "Failed to create the task that auto-receives TCP data as TCP client",
    4: "Failed to create UDP client",
    5: "Failed to create the task that auto-receives UDP data as UDP client",
    6: "Failed to get CLIENT_CERT/CLIENT_KEY/CLIENT_CA from flash",
    7: "Memory allocation failed",
    8: "mbedtls_ssl_config_defaults() failed",
    9: "mbedtls_x509_crt_parse() failed",
    10: "mbedtls_ssl_conf_own_cert() failed",
    11: "mbedtls_ssl_setup() failed",
    12: "inet_ntoa_r() failed",
    13: "mbedtls_net_connect() failed",
    14: "mbedtls_ssl_handshake() failed",
    15: "Failed to create the task that auto-receives TLS data as TLS client",
  },
  SKTSEND: { 1: "Parameter error", 2: "Failed to send data" },
  SKTREAD: {
    1: "Parameter error",
    2: "Memory allocation failed",
    3: "select() failed",
    4: "Failed to read data",
  },
  SKTSENDRAW: {
    1: "Parameter error",
    2: "Failed to send data",
    3: "Memory allocation failed",
    4: "Get data failed in TT mode",
  },
  SKTSTATE: {},
  SKTDEL: { 1: "Parameter error" },
};

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
      ? (code === 1 ? "Parameter error" : "Unknown error")
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
