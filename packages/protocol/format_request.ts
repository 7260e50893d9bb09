/**
 * Requests to command lines: the host side never builds AT strings by hand.
 *
 * @module
 */

import { concat, encode, encodeLatin1 } from "./bytes.ts";
import { escapeData } from "./fields.ts";
import type { Request, SocketConfig } from "./types.ts";

const CRLF = encode("\r\n");

function configFields(config: SocketConfig): string {
  return [
    config.sendTimeout,
    config.receiveTimeout,
    config.noDelay ? 1 : 0,
    config.keepAlive ? 1 : 0,
    config.keepIdle,
    config.keepInterval,
    config.keepCount,
  ].join(",");
}

/**
 * The command line for a request, ending in CR LF. Data in `AT+SKTSEND` is
 * escaped (`,` as `\,` and `\` as `\\`) and `data_size` counts the bytes
 * before escaping, as the module expects.
 *
 * @example
 * ```ts
 * import { formatRequest } from "@atsock/protocol";
 * const line = formatRequest({ command: "SKTDEL", linkId: 3 });
 * new TextDecoder().decode(line); // "AT+SKTDEL=3\r\n"
 * ```
 */
export function formatRequest(request: Request): Uint8Array {
  let text: string;
  switch (request.command) {
    case "SKTCFG":
      text = `AT+SKTCFG=${configFields(request.config)}`;
      break;
    case "SKTQUERY":
    case "SKTSTATE":
      text = `AT+${request.command}`;
      break;
    case "SKTSERVER":
      text = `AT+SKTSERVER=${request.linkId},${request.type},${
        request.certIndex ?? ""
      },${request.port},${request.autoReceive ? 1 : 0}`;
      break;
    case "SKTCLIENT":
      text = `AT+SKTCLIENT=${request.linkId},${request.type},${
        request.certIndex ?? ""
      },${request.host},${request.port},${request.localPort ?? ""},${
        request.autoReceive ? 1 : 0
      }`;
      break;
    case "SKTSEND": {
      const dst = request.destination;
      const head = encodeLatin1(
        `AT+SKTSEND=${request.linkId},${request.data.length},${
          dst ? `${dst.ip},${dst.port}` : ","
        },`,
      );
      return concat([head, escapeData(request.data), CRLF]);
    }
    case "SKTREAD":
      text = `AT+SKTREAD=${request.linkId},${request.size}`;
      break;
    case "SKTSENDRAW": {
      const dst = request.destination;
      text = `AT+SKTSENDRAW=${request.linkId},${request.size}${
        dst ? `,${dst.ip},${dst.port}` : ""
      }`;
      break;
    }
    case "SKTDEL":
      text = `AT+SKTDEL=${request.linkId}`;
      break;
  }
  return encodeLatin1(text + "\r\n");
}
