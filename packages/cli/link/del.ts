/**
 * `atsock del`: deletes a link (`AT+SKTDEL`); a server goes with its seeds.
 *
 * @module
 */

import { ERR, rangeText } from "@atsock/protocol";
import { defineLinkCommand, type LinkSubcommand } from "./declare.ts";
import { LINK_ID, parseLinkId } from "./options.ts";
import { withDriver } from "./drive.ts";
import { commonHelp, PERMISSIONS_HELP } from "./help.ts";
import { UsageError } from "../usage.ts";

/** Help text of `atsock del`. */
export const DEL_HELP = `atsock del: delete a link (AT+SKTDEL)

Usage:
  atsock del <DEVICE | tcp:HOST:PORT> --link N [--json]

Closes the link's socket and frees its id; deleting a server also deletes
every seed it accepted. A link id not in use is ERROR: ${ERR.SKTDEL.PARAMETER}.

Options:
  --link N        the link to delete, ${rangeText(LINK_ID)}
  --json          {"ok": true, "linkId": N}
${commonHelp()}
${PERMISSIONS_HELP}
Examples:
  atsock del tcp:127.0.0.1:3333 --link 0
  atsock del /dev/ttyUSB0 --link 5 --json
`;

/** `atsock del`. */
export const delCommand: LinkSubcommand<number> = defineLinkCommand({
  name: "del",
  summary: "delete a link (AT+SKTDEL)",
  help: DEL_HELP,
  fields: {
    command: "SKTDEL",
    options: {
      link: "link_id",
    },
  },
  options: {},
  timeoutMs: 10000,
  request(values) {
    if (typeof values.link !== "string") {
      throw new UsageError("--link N is required");
    }
    return parseLinkId(values.link);
  },
  action: (common, linkId) =>
    withDriver(common, async (driver) => {
      await driver.remove(linkId);
      return { text: `link ${linkId} deleted`, json: { ok: true, linkId } };
    }),
});
