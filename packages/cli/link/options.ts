/**
 * Option parsing shared by the one-shot subcommands (`state`, `connect`,
 * `listen`, `send`, `read`): the target, link ids, ports, certificate
 * indexes, connection types and addresses, checked against the protocol
 * package's limits. Every bad value is a `UsageError` with one line.
 *
 * @module
 */

import {
  CLIENT_TYPE,
  type ClientType,
  field,
  type FieldSpec,
  hostProblem,
  isIPv4,
  type LinkSide,
  rangeProblem,
  rangeText,
  SERVER_TYPE,
  type ServerType,
  usesCert,
} from "@atsock/protocol";
import { type OptionTable, type OptionValues, parseWords } from "../command.ts";
import { oneTarget, parseBaud, type Target } from "../target.ts";
import { parseSeconds, UsageError } from "../usage.ts";

/** Options every one-shot subcommand takes. */
export interface CommonOptions {
  /** The module: a serial device or a TCP bridge. */
  target: Target;
  /** Serial speed. */
  baud: number;
  /** One JSON document on stdout instead of text. */
  json: boolean;
  /** How long to wait for each answer, in ms. */
  timeoutMs: number;
}

/** The `node:util` option specs every one-shot subcommand accepts (`--help` comes from the shell). */
export const COMMON_SPECS = {
  baud: { type: "string" },
  timeout: { type: "string" },
  json: { type: "boolean", default: false },
} as const satisfies OptionTable;

/**
 * Parses a one-shot command line: one target, the common options and the
 * command's own `specs`. Returns `"help"` for `-h`/`--help`.
 */
export function parseOneShot(
  args: string[],
  specs: OptionTable,
  defaults: { timeoutMs: number },
):
  | "help"
  | {
    common: CommonOptions;
    values: Record<string, string | boolean | undefined>;
  } {
  const words = parseWords(args, { ...specs, ...COMMON_SPECS });
  if (words === "help") return "help";
  const values = words.values as Record<string, string | boolean | undefined>;
  return { common: commonOptions(values, words.positionals, defaults), values };
}

/** The common options of a one-shot command line, checked. */
export function commonOptions(
  values: OptionValues<typeof COMMON_SPECS>,
  positionals: readonly string[],
  defaults: { timeoutMs: number },
): CommonOptions {
  const target = oneTarget(positionals);
  const baud = parseBaud(values.baud, target);
  const timeoutMs = values.timeout === undefined
    ? defaults.timeoutMs
    : parseSeconds(values.timeout, "--timeout") * 1000;
  return { target, baud, json: values.json === true, timeoutMs };
}

/** A value an option must have: throws when it was not given. */
export function required(
  value: string | boolean | undefined,
  name: string,
): string {
  if (typeof value !== "string") throw new UsageError(`${name} is required`);
  return value;
}

/** A whole number from `min` to `max` written in decimal. */
export function parseWhole(
  text: string,
  name: string,
  min: number,
  max: number,
): number {
  const value = Number(text);
  if (!/^\d{1,10}$/.test(text) || value < min || value > max) {
    throw new UsageError(
      `${name} must be a whole number from ${min} to ${max}, not "${text}"`,
    );
  }
  return value;
}

/** The catalogue's link id field: the range of `--link`. */
export const LINK_ID: FieldSpec = field("SKTDEL", "link_id");
/** The catalogue's port fields: the range of `--port` and `--src-port`. */
export const PORT: FieldSpec = field("SKTSERVER", "src_port");
/** The catalogue's certificate suite field: the range of `--cert`. */
export const CERT_INDEX: FieldSpec = field("SKTSERVER", "cert_index");
/** The catalogue's host field: the length of `--host`. */
export const HOST: FieldSpec = field("SKTCLIENT", "dst_host");

/** A number option for a catalogue field: a whole number in the field's range. */
export function parseFieldOption(
  text: string,
  name: string,
  spec: FieldSpec,
): number {
  return parseWhole(text, name, spec.min, spec.max);
}

/** A link id, in the range of the catalogue's `link_id`. */
export function parseLinkId(text: string, name = "--link"): number {
  return parseFieldOption(text, name, LINK_ID);
}

/** A port, in the range of the catalogue's ports. */
export function parsePort(text: string, name = "--port"): number {
  return parseFieldOption(text, name, PORT);
}

/** A certificate suite index, in the range of the catalogue's `cert_index`. */
export function parseCertIndex(text: string, name = "--cert"): number {
  return parseFieldOption(text, name, CERT_INDEX);
}

/** An IPv4 address (the module is IPv4 only). */
export function parseIPv4(text: string, name = "--ip"): string {
  if (!isIPv4(text)) {
    throw new UsageError(`${name} must be an IPv4 address, not "${text}"`);
  }
  return text;
}

/** A host name or address for `AT+SKTCLIENT`, by the catalogue's rule ({@linkcode hostProblem}). */
export function parseHost(text: string, name = "--host"): string {
  const problem = hostProblem(text);
  if (problem !== undefined) throw new UsageError(`${name}: ${problem}`);
  return text;
}

/**
 * The CLI's names of the `AT+SKTCLIENT` connection types (`--type`), by the
 * catalogue's constants.
 */
export const CLIENT_TYPE_NAMES: Readonly<Record<ClientType, string>> = {
  [CLIENT_TYPE.UDP]: "udp",
  [CLIENT_TYPE.TCP]: "tcp",
  [CLIENT_TYPE.TLS]: "tls",
  [CLIENT_TYPE.TLS_VERIFY_SERVER]: "tls-verify",
  [CLIENT_TYPE.TLS_CLIENT_CERT]: "tls-cert",
  [CLIENT_TYPE.TLS_MUTUAL]: "tls-mutual",
};

/**
 * The CLI's names of the `AT+SKTSERVER` connection types (`--type`), by the
 * catalogue's constants.
 */
export const SERVER_TYPE_NAMES: Readonly<Record<ServerType, string>> = {
  [SERVER_TYPE.UDP]: "udp",
  [SERVER_TYPE.TCP]: "tcp",
  [SERVER_TYPE.TLS]: "tls",
  [SERVER_TYPE.TLS_VERIFY_CLIENT]: "tls-mutual",
};

/** A client type: its name or its code. */
export function parseClientType(text: string): ClientType {
  return parseType(text, "SKTCLIENT", CLIENT_TYPE_NAMES) as ClientType;
}

/** A server type: its name or its code. */
export function parseServerType(text: string): ServerType {
  return parseType(text, "SKTSERVER", SERVER_TYPE_NAMES) as ServerType;
}

function parseType(
  text: string,
  command: "SKTSERVER" | "SKTCLIENT",
  names: Readonly<Record<number, string>>,
): number {
  const spec = field(command, "conn_type");
  const codes = Object.keys(names).map(Number);
  const byName = codes.find((code) => names[code] === text);
  if (byName !== undefined) return byName;
  if (/^\d$/.test(text) && rangeProblem(spec, Number(text)) === undefined) {
    return Number(text);
  }
  throw new UsageError(
    `--type must be ${codes.map((c) => names[c]).join(", ")} (or ${
      rangeText(spec)
    }), not "${text}"`,
  );
}

/**
 * The certificate index for a connection type: required where the
 * catalogue says the type uses a certificate suite, refused where not.
 */
export function certFor(
  text: string | undefined,
  side: LinkSide,
  type: number,
  typeName: string,
): number | undefined {
  if (usesCert(side, type)) {
    if (text === undefined) {
      throw new UsageError(
        `--cert ${rangeText(CERT_INDEX)} is required for type ${typeName}`,
      );
    }
    return parseCertIndex(text);
  }
  if (text !== undefined) {
    throw new UsageError(`type ${typeName} uses no certificate: drop --cert`);
  }
  return undefined;
}
