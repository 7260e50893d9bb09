/**
 * Option parsing shared by the one-shot subcommands (`state`, `connect`,
 * `listen`, `send`, `read`): the target, link ids, ports, certificate
 * indexes, connection types and addresses, checked against the protocol
 * package's limits. Every bad value is a `UsageError` with one line.
 *
 * @module
 */

import {
  CERT_INDEX_MAX,
  CERT_INDEX_MIN,
  type ClientType,
  isIPv4,
  LINK_COUNT,
  MAX_HOST_LENGTH,
  type ServerType,
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

/** A link id, 0..19. */
export function parseLinkId(text: string, name = "--link"): number {
  return parseWhole(text, name, 0, LINK_COUNT - 1);
}

/** A port, 1..65535. */
export function parsePort(text: string, name = "--port"): number {
  return parseWhole(text, name, 1, 65535);
}

/** A certificate suite index, 1..10. */
export function parseCertIndex(text: string, name = "--cert"): number {
  return parseWhole(text, name, CERT_INDEX_MIN, CERT_INDEX_MAX);
}

/** An IPv4 address (the module is IPv4 only). */
export function parseIPv4(text: string, name = "--ip"): string {
  if (!isIPv4(text)) {
    throw new UsageError(`${name} must be an IPv4 address, not "${text}"`);
  }
  return text;
}

/** A host name or address for `AT+SKTCLIENT`: 1..255 characters, no commas or line ends. */
export function parseHost(text: string, name = "--host"): string {
  if (
    text.length === 0 || text.length > MAX_HOST_LENGTH ||
    // deno-lint-ignore no-control-regex
    /[,\x00-\x20\x7f]/.test(text)
  ) {
    throw new UsageError(
      `${name} must be 1..${MAX_HOST_LENGTH} characters without commas, spaces or control characters`,
    );
  }
  return text;
}

/** `AT+SKTCLIENT` connection types by name, in code order (0..5). */
export const CLIENT_TYPES = [
  "udp",
  "tcp",
  "tls",
  "tls-verify",
  "tls-cert",
  "tls-mutual",
] as const;

/** `AT+SKTSERVER` connection types by name, in code order (0..3). */
export const SERVER_TYPES = ["udp", "tcp", "tls", "tls-mutual"] as const;

/** A client type: its name or its code 0..5. */
export function parseClientType(text: string): ClientType {
  return parseType(text, CLIENT_TYPES) as ClientType;
}

/** A server type: its name or its code 0..3. */
export function parseServerType(text: string): ServerType {
  return parseType(text, SERVER_TYPES) as ServerType;
}

function parseType(text: string, names: readonly string[]): number {
  const byName = names.indexOf(text);
  if (byName >= 0) return byName;
  if (/^\d$/.test(text) && Number(text) < names.length) return Number(text);
  throw new UsageError(
    `--type must be ${names.join(", ")} (or 0..${
      names.length - 1
    }), not "${text}"`,
  );
}

/**
 * The certificate index for a type: required (1..10) where the type uses
 * one (`from` and above), refused where it does not.
 */
export function certFor(
  text: string | undefined,
  type: number,
  from: number,
  typeName: string,
): number | undefined {
  if (type >= from) {
    if (text === undefined) {
      throw new UsageError(
        `--cert ${CERT_INDEX_MIN}..${CERT_INDEX_MAX} is required for type ${typeName}`,
      );
    }
    return parseCertIndex(text);
  }
  if (text !== undefined) {
    throw new UsageError(`type ${typeName} uses no certificate: drop --cert`);
  }
  return undefined;
}
