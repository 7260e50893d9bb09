/**
 * `atsock state`: the module's link table (`AT+SKTSTATE`) as a table or a
 * JSON array.
 *
 * @module
 */

import type { LinkState } from "@atsock/host";
import { defineLinkCommand, type LinkSubcommand } from "./declare.ts";
import { withDriver } from "./drive.ts";
import { commonHelp, PERMISSIONS_HELP } from "./help.ts";

/** Help text of `atsock state`. */
export const STATE_HELP = `atsock state: the module's links (AT+SKTSTATE)

Usage:
  atsock state <DEVICE | tcp:HOST:PORT> [--json]

Prints one row per link in use: id, role (server, client, seed: a client
accepted by a server), protocol, source and destination, and the module's
socket number ("gone" once the peer has closed; AT+SKTDEL frees the id).

Options:
  --json          a JSON array of {linkId, role, protocol, source: {ip, port},
                  destination: {ip, port}, socketFd}
${commonHelp()}
${PERMISSIONS_HELP}
Examples:
  atsock state /dev/ttyUSB0
  atsock state tcp:127.0.0.1:3333 --json
`;

/** The link table as aligned text (a note when it is empty). */
export function formatStateTable(links: readonly LinkState[]): string {
  if (links.length === 0) return "no links in use";
  const address = (e: { ip: string; port: number }) =>
    e.ip === "0.0.0.0" && e.port === 0 ? "-" : `${e.ip}:${e.port}`;
  const rows = [
    ["LINK", "ROLE", "PROTO", "SOURCE", "DESTINATION", "SOCKET"],
    ...links.map((l) => [
      String(l.linkId),
      l.role,
      l.protocol === "ssl" ? "tls" : l.protocol,
      address(l.source),
      address(l.destination),
      l.socketFd < 0 ? "gone" : String(l.socketFd),
    ]),
  ];
  const widths = rows[0].map((_, i) =>
    Math.max(...rows.map((row) => row[i].length))
  );
  return rows.map((row) =>
    row.map((cell, i) => i === row.length - 1 ? cell : cell.padEnd(widths[i]))
      .join("  ")
  ).join("\n");
}

/** `atsock state`. */
export const stateCommand: LinkSubcommand<void> = defineLinkCommand({
  name: "state",
  summary: "list the module's links (AT+SKTSTATE)",
  help: STATE_HELP,
  fields: { command: "SKTSTATE", options: {} },
  options: {},
  timeoutMs: 10000,
  request() {},
  action: (common) =>
    withDriver(common, async (driver) => {
      const links = await driver.state();
      return { text: formatStateTable(links), json: links };
    }),
});
