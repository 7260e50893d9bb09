/**
 * `atsock connect`: connects a link of the module to a server
 * (`AT+SKTCLIENT`).
 *
 * @module
 */

import type { ClientType } from "@atsock/host";
import type { DeclaredSubcommand } from "../command.ts";
import { defineLinkCommand, type LinkCall } from "./declare.ts";
import { UsageError } from "../usage.ts";
import { commonHelp, PERMISSIONS_HELP } from "./help.ts";
import {
  certFor,
  CLIENT_TYPES,
  parseClientType,
  parseHost,
  parseLinkId,
  parsePort,
  required,
} from "./options.ts";
import { explainTaken, withDriver } from "./drive.ts";

/** Help text of `atsock connect`. */
export const CONNECT_HELP =
  `atsock connect: connect a link to a server (AT+SKTCLIENT)

Usage:
  atsock connect <DEVICE | tcp:HOST:PORT> --link N --host H --port P
                 [--type T] [--cert I] [--src-port P] [--auto-rcv] [--json]

Prints OK, or the module's ERROR: n with what it means (exit status 1).

Options:
  --link N        link id to use, 0..19 (must be free: see atsock state)
  --type T        udp, tcp (default), tls (no certificate check),
                  tls-verify (check the server with CA suite --cert),
                  tls-cert (show client certificate --cert),
                  tls-mutual (both); or the code 0..5
  --host H        server name or IPv4 address (up to 255 characters)
  --port P        server port, 1..65535
  --cert I        certificate suite 1..10 (tls-verify, tls-cert, tls-mutual)
  --src-port P    local port of a udp client (required for udp)
  --auto-rcv      the module prints incoming data as [$][SKT][DATA] lines
                  (seen by whoever holds the console) instead of keeping it
                  for atsock read
  --json          {"ok": true, "linkId", "type", "host", "port", ...}
${commonHelp(30)}
${PERMISSIONS_HELP}
Examples:
  atsock connect tcp:127.0.0.1:3333 --link 0 --host 192.168.1.10 --port 6666
  atsock connect /dev/ttyUSB0 --link 1 --type udp --host 192.168.1.10 \\
                 --port 6666 --src-port 12345
  atsock connect /dev/ttyUSB0 --link 2 --type tls-verify --cert 1 \\
                 --host example.com --port 443 --json
`;

/** Parsed options of `atsock connect`. */
export interface ConnectRequest {
  /** Link id. */
  linkId: number;
  /** Connection type code. */
  type: ClientType;
  /** Server name or address. */
  host: string;
  /** Server port. */
  port: number;
  /** Certificate suite, for the TLS types that use one. */
  certIndex?: number;
  /** Local port, for UDP. */
  localPort?: number;
  /** Incoming data printed as DATA lines. */
  autoReceive: boolean;
}

/** Reads the `atsock connect` options (after the common ones were parsed). */
export function connectRequest(
  values: Record<string, string | boolean | undefined>,
): ConnectRequest {
  const linkId = parseLinkId(required(values.link, "--link"));
  const type = parseClientType((values.type as string | undefined) ?? "tcp");
  const typeName = CLIENT_TYPES[type];
  const host = parseHost(required(values.host, "--host"));
  const port = parsePort(required(values.port, "--port"));
  const certIndex = certFor(
    values.cert as string | undefined,
    type,
    3,
    typeName,
  );
  let localPort: number | undefined;
  if (type === 0) {
    localPort = parsePort(
      required(values["src-port"], "--src-port"),
      "--src-port",
    );
  } else if (values["src-port"] !== undefined) {
    throw new UsageError(`--src-port is for a udp client, not ${typeName}`);
  }
  return {
    linkId,
    type,
    host,
    port,
    ...(certIndex !== undefined ? { certIndex } : {}),
    ...(localPort !== undefined ? { localPort } : {}),
    autoReceive: values["auto-rcv"] === true,
  };
}

/** `atsock connect`. */
export const connectCommand: DeclaredSubcommand<LinkCall<ConnectRequest>> =
  defineLinkCommand({
    name: "connect",
    summary: "connect a link to a server (AT+SKTCLIENT)",
    help: CONNECT_HELP,
    options: {
      link: { type: "string" },
      type: { type: "string" },
      host: { type: "string" },
      port: { type: "string" },
      cert: { type: "string" },
      "src-port": { type: "string" },
      "auto-rcv": { type: "boolean", default: false },
    },
    timeoutMs: 30000,
    request: connectRequest,
    action: (common, request) =>
      withDriver(common, async (driver) => {
        await driver.connect(request).catch((e) =>
          explainTaken(driver, request.linkId, e)
        );
        const type = CLIENT_TYPES[request.type];
        return {
          text:
            `OK: link ${request.linkId} is a ${type} client of ${request.host}:${request.port}`,
          json: { ok: true, ...request, type },
        };
      }),
  });
