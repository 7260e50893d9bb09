/**
 * `atsock connect`: connects a link of the module to a server
 * (`AT+SKTCLIENT`).
 *
 * @module
 */

import type { ClientType } from "@atsock/host";
import { field, fieldRequiredFor, rangeText } from "@atsock/protocol";
import { defineLinkCommand, type LinkSubcommand } from "./declare.ts";
import { UsageError } from "../usage.ts";
import { commonHelp, PERMISSIONS_HELP } from "./help.ts";
import {
  CERT_INDEX,
  certFor,
  CLIENT_TYPE_NAMES,
  HOST,
  LINK_ID,
  parseClientType,
  parseHost,
  parseLinkId,
  parsePort,
  PORT,
  required,
} from "./options.ts";
import { explainTaken, withDriver } from "./drive.ts";

/** The catalogue's `src_port` of `AT+SKTCLIENT`: which types need `--src-port`. */
const LOCAL_PORT = field("SKTCLIENT", "src_port");

/** Help text of `atsock connect`. */
export const CONNECT_HELP =
  `atsock connect: connect a link to a server (AT+SKTCLIENT)

Usage:
  atsock connect <DEVICE | tcp:HOST:PORT> --link N --host H --port P
                 [--type T] [--cert I] [--src-port P] [--auto-rcv] [--json]

Prints OK, or the module's ERROR: n with what it means (exit status 1).

Options:
  --link N        link id to use, ${
    rangeText(LINK_ID)
  } (must be free: see atsock state)
  --type T        udp, tcp (default), tls (no certificate check),
                  tls-verify (check the server with CA suite --cert),
                  tls-cert (show client certificate --cert),
                  tls-mutual (both); or the code ${
    rangeText(field("SKTCLIENT", "conn_type"))
  }
  --host H        server name or IPv4 address (up to ${HOST.max} characters)
  --port P        server port, ${rangeText(PORT)}
  --cert I        certificate suite ${
    rangeText(CERT_INDEX)
  } (tls-verify, tls-cert, tls-mutual)
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
  const typeName = CLIENT_TYPE_NAMES[type];
  const host = parseHost(required(values.host, "--host"));
  const port = parsePort(required(values.port, "--port"));
  const certIndex = certFor(
    values.cert as string | undefined,
    "client",
    type,
    typeName,
  );
  let localPort: number | undefined;
  if (fieldRequiredFor(LOCAL_PORT, type)) {
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
export const connectCommand: LinkSubcommand<ConnectRequest> = defineLinkCommand(
  {
    name: "connect",
    summary: "connect a link to a server (AT+SKTCLIENT)",
    help: CONNECT_HELP,
    fields: {
      command: "SKTCLIENT",
      options: {
        link: "link_id",
        type: "conn_type",
        cert: "cert_index",
        host: "dst_host",
        port: "dst_port",
        "src-port": "src_port",
        "auto-rcv": "auto_rcv",
      },
    },
    options: {},
    timeoutMs: 30000,
    request: connectRequest,
    action: (common, request) =>
      withDriver(common, async (driver) => {
        await driver.connect(request).catch((e) =>
          explainTaken(driver, request.linkId, e)
        );
        const type = CLIENT_TYPE_NAMES[request.type];
        return {
          text:
            `OK: link ${request.linkId} is a ${type} client of ${request.host}:${request.port}`,
          json: { ok: true, ...request, type },
        };
      }),
  },
);
