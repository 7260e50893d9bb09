/**
 * What the virtual module may reach on the network, checked before every
 * bind, listen, connect and datagram: Deno's own net permissions (a denied
 * one must never reach `node:dgram` or `node:net`, which throw it
 * asynchronously and end the process) and the operator's `--allow-connect`
 * allowlist for outgoing connections on top of them.
 *
 * @module
 */

import { isIPv4 } from "@atsock/protocol";
import { inetAton } from "@atsock/protocol";

/** One `--allow-connect` entry: a host (IPv4 address or name) and maybe a port. */
export interface ConnectRule {
  /** IPv4 address or host name, lower case. */
  host: string;
  /** The one port allowed (undefined: any port). */
  port?: number;
}

/** A malformed `--allow-connect` entry. */
export class ConnectRuleError extends Error {
  /** Creates the error with a one-line message. */
  constructor(message: string) {
    super(message);
    this.name = "ConnectRuleError";
  }
}

const NAME = /^[a-z0-9]([a-z0-9-]{0,62})(\.[a-z0-9]([a-z0-9-]{0,62}))*\.?$/;

/**
 * Parses `HOST[:PORT],...` (an IPv4 address or a host name, an optional
 * port 1..65535). Throws {@linkcode ConnectRuleError} naming the bad entry.
 */
export function parseConnectRules(text: string): ConnectRule[] {
  const rules: ConnectRule[] = [];
  for (const raw of text.split(",")) {
    const entry = raw.trim();
    if (entry === "") {
      throw new ConnectRuleError(`--allow-connect has an empty entry`);
    }
    const m = /^([^:]+)(?::(\d{1,5}))?$/.exec(entry);
    const host = m?.[1].toLowerCase();
    if (!m || !host || (!isIPv4(host) && !NAME.test(host))) {
      throw new ConnectRuleError(
        `--allow-connect entry "${entry}" is not HOST[:PORT] (an IPv4 address or a host name)`,
      );
    }
    // firmware rule ipv4-inet-aton: a number the firmware would read as
    // an address must be written in the one form it is shown in.
    const read = inetAton(host);
    if (read !== undefined && read !== host) {
      throw new ConnectRuleError(
        `--allow-connect entry "${entry}": the module reads ${host} as ${read} (C number forms: a leading 0 is octal, 0x hex); write ${read}`,
      );
    }
    const port = m[2] === undefined ? undefined : Number(m[2]);
    if (port !== undefined && (port < 1 || port > 65535)) {
      throw new ConnectRuleError(
        `--allow-connect entry "${entry}": port ${port} is outside 1..65535`,
      );
    }
    rules.push(port === undefined ? { host } : { host, port });
  }
  return rules;
}

function hostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * Whether Deno grants net access to every host and port (`--allow-net`
 * with no `--deny-net`: granted, not partial). Deno keeps every
 * `PermissionStatus` it ever returned, one per distinct descriptor, for
 * the life of the process, so asking about each `HOST:PORT` would hold
 * memory for every port a UDP link ever bound or sent to; this one
 * question is one entry. A host alone is never asked: Deno says granted
 * for it even when `--deny-net` names one of its ports.
 */
function allNetGranted(): boolean {
  const all = Deno.permissions.querySync({ name: "net" });
  return all.state === "granted" && !all.partial;
}

/**
 * Why Deno's permissions deny net access to `host:port`, or undefined when
 * they grant it. A permission that would prompt counts as denied: a prompt
 * would stop the whole emulator (every module, every console) until
 * answered. Under a full `--allow-net` only the whole of `net` is asked
 * about; otherwise `HOST:PORT` is, and Deno keeps one status per distinct
 * one asked (see `allNetGranted`).
 */
export function deniedByDeno(host: string, port: number): string | undefined {
  const target = hostPort(host, port);
  let state: Deno.PermissionState;
  try {
    if (allNetGranted()) return undefined;
    state = Deno.permissions.querySync({ name: "net", host: target }).state;
  } catch (e) {
    return `net access to ${target} cannot be checked (${
      e instanceof Error ? e.message : String(e)
    })`;
  }
  if (state === "granted") return undefined;
  return `Deno's permissions deny net access to ${target}: start the emulator with --allow-net=${target} (or a wider --allow-net)`;
}

/** The network a module may use: Deno's permissions, then the allowlist. */
export class NetGuard {
  readonly #rules: readonly ConnectRule[] | undefined;

  /** A guard with an allowlist (undefined: every destination Deno allows). */
  constructor(rules?: readonly ConnectRule[]) {
    this.#rules = rules;
  }

  /** The allowlist, as given (undefined: none). */
  get rules(): readonly ConnectRule[] | undefined {
    return this.#rules;
  }

  /**
   * Why binding or listening on `address:port` is refused, or undefined.
   * Only Deno's permissions apply (the allowlist is for outgoing traffic).
   */
  bind(address: string, port: number): string | undefined {
    return deniedByDeno(address, port);
  }

  /**
   * Why an outgoing connection or datagram to `ip:port` is refused, or
   * undefined. `host` is the name as given in the command (the allowlist
   * may name either it or the address it resolved to).
   */
  connect(ip: string, port: number, host: string = ip): string | undefined {
    // A host given as a number is its address, in canonical form: only the
    // address may match (a rule naming "127.0.0.010" cannot exist).
    if (inetAton(host) !== undefined) host = ip;
    if (this.#rules && !this.#allowed(ip, port, host.toLowerCase())) {
      const list = this.#rules.map((r) =>
        r.port === undefined ? r.host : `${r.host}:${r.port}`
      ).join(",");
      const name = host.toLowerCase() === ip ? "" : ` (${host})`;
      return `${hostPort(ip, port)}${name} is not in --allow-connect ${list}`;
    }
    return deniedByDeno(ip, port);
  }

  #allowed(ip: string, port: number, host: string): boolean {
    return this.#rules!.some((rule) =>
      (rule.host === ip || rule.host === host) &&
      (rule.port === undefined || rule.port === port)
    );
  }
}
