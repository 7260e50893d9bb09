/**
 * `atsock listen`: starts a server on a link of the module
 * (`AT+SKTSERVER`).
 *
 * @module
 */

import { field, rangeText } from "@atsock/protocol";
import type { ServerType } from "@atsock/host";
import { defineLinkCommand, type LinkSubcommand } from "./declare.ts";
import { commonHelp, PERMISSIONS_HELP } from "./help.ts";
import {
  CERT_INDEX,
  certFor,
  LINK_ID,
  parseLinkId,
  parsePort,
  parseServerType,
  PORT,
  required,
  SERVER_TYPE_NAMES,
} from "./options.ts";
import { explainTaken, withDriver } from "./drive.ts";

/** Help text of `atsock listen`. */
export const LISTEN_HELP =
  `atsock listen: start a server on a link (AT+SKTSERVER)

Usage:
  atsock listen <DEVICE | tcp:HOST:PORT> --link N --port P [--type T]
                [--cert I] [--auto-rcv] [--json]

Prints OK, or the module's ERROR: n with what it means (exit status 1).
Each client that connects becomes a seed on the lowest free link id (see
atsock state); send to it and read from it by that id.

Options:
  --link N        link id for the server, ${rangeText(LINK_ID)} (must be free)
  --type T        udp, tcp (default), tls (server certificate --cert),
                  tls-mutual (also checks the client with the suite's CA);
                  or the code ${rangeText(field("SKTSERVER", "conn_type"))}
  --port P        port to listen on, ${rangeText(PORT)}
  --cert I        certificate suite ${rangeText(CERT_INDEX)} (tls, tls-mutual)
  --auto-rcv      the module prints incoming data as [$][SKT][DATA] lines
                  instead of keeping it for atsock read
  --json          {"ok": true, "linkId", "type", "port", ...}
${commonHelp()}
${PERMISSIONS_HELP}
Examples:
  atsock listen tcp:127.0.0.1:3333 --link 0 --port 4000
  atsock listen /dev/ttyUSB0 --link 3 --type udp --port 4321
  atsock listen /dev/ttyUSB0 --link 0 --type tls --cert 1 --port 4433 --json
`;

/** Parsed options of `atsock listen`. */
export interface ListenRequest {
  /** Link id. */
  linkId: number;
  /** Server type code. */
  type: ServerType;
  /** Port to listen on. */
  port: number;
  /** Certificate suite, for the TLS types. */
  certIndex?: number;
  /** Incoming data printed as DATA lines. */
  autoReceive: boolean;
}

/** Reads the `atsock listen` options (after the common ones were parsed). */
export function listenRequest(
  values: Record<string, string | boolean | undefined>,
): ListenRequest {
  const linkId = parseLinkId(required(values.link, "--link"));
  const type = parseServerType((values.type as string | undefined) ?? "tcp");
  const port = parsePort(required(values.port, "--port"));
  const certIndex = certFor(
    values.cert as string | undefined,
    "server",
    type,
    SERVER_TYPE_NAMES[type],
  );
  return {
    linkId,
    type,
    port,
    ...(certIndex !== undefined ? { certIndex } : {}),
    autoReceive: values["auto-rcv"] === true,
  };
}

/** `atsock listen`. */
export const listenCommand: LinkSubcommand<ListenRequest> = defineLinkCommand({
  name: "listen",
  summary: "start a server on a link (AT+SKTSERVER)",
  help: LISTEN_HELP,
  fields: {
    command: "SKTSERVER",
    options: {
      link: "link_id",
      type: "conn_type",
      cert: "cert_index",
      port: "src_port",
      "auto-rcv": "auto_rcv",
    },
  },
  options: {},
  timeoutMs: 10000,
  request: listenRequest,
  action: (common, request) =>
    withDriver(common, async (driver) => {
      await driver.listen(request).catch((e) =>
        explainTaken(driver, request.linkId, e)
      );
      const type = SERVER_TYPE_NAMES[request.type];
      return {
        text:
          `OK: link ${request.linkId} is a ${type} server on port ${request.port}`,
        json: { ok: true, ...request, type },
      };
    }),
});
