/**
 * Requests to command lines: the host side never builds AT strings by hand.
 *
 * @module
 */

import { concat, encode, encodeLatin1 } from "./bytes.ts";
import {
  CERT_INDEX_MAX,
  CERT_INDEX_MIN,
  LINK_COUNT,
  MAX_HOST_LENGTH,
  MAX_LINE_LENGTH,
} from "./constants.ts";
import { escapeData, isIPv4 } from "./fields.ts";
import type { Endpoint, Request, SocketConfig } from "./types.ts";

const CRLF = encode("\r\n");
const CR = 0x0d;
const LF = 0x0a;
const INT_MAX = 2147483647;

/** Throws the RangeError for a request that would not parse back to itself. */
function invalid(command: string, message: string): never {
  throw new RangeError(`AT+${command}: ${message}`);
}

function int(
  command: string,
  name: string,
  value: number,
  min: number,
  max: number,
): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    invalid(
      command,
      `${name} must be a whole number ${min}..${max}, not ${value}`,
    );
  }
  return value;
}

function bool(command: string, name: string, value: boolean): 0 | 1 {
  if (typeof value !== "boolean") {
    invalid(command, `${name} must be true or false, not ${value}`);
  }
  return value ? 1 : 0;
}

function link(command: string, id: number): number {
  return int(command, "linkId", id, 0, LINK_COUNT - 1);
}

function port(command: string, name: string, value: number): number {
  return int(command, name, value, 1, 65535);
}

function cert(
  command: string,
  index: number | undefined,
  needed: boolean,
): string {
  if (!needed) {
    if (index !== undefined) {
      invalid(command, "certIndex is given for a type that takes none");
    }
    return "";
  }
  if (index === undefined) {
    invalid(command, "certIndex is missing for this type");
  }
  return `${int(command, "certIndex", index, CERT_INDEX_MIN, CERT_INDEX_MAX)}`;
}

function endpoint(command: string, endpoint: Endpoint): string {
  if (typeof endpoint.ip !== "string" || !isIPv4(endpoint.ip)) {
    invalid(
      command,
      `destination ip must be a dotted-quad IPv4 address, not ${endpoint.ip}`,
    );
  }
  return `${endpoint.ip},${port(command, "destination port", endpoint.port)}`;
}

/** Host names: printable ASCII but `,` and `\` (which the field grammar would split or unescape). */
const HOST = /^[\x20-\x2b\x2d-\x5b\x5d-\x7e]+$/;

function host(command: string, host: string): string {
  if (
    typeof host !== "string" || host.length > MAX_HOST_LENGTH ||
    !HOST.test(host)
  ) {
    invalid(
      command,
      `host must be 1..${MAX_HOST_LENGTH} printable ASCII characters without "," or "\\"`,
    );
  }
  return host;
}

function configFields(config: SocketConfig): string {
  const c = "SKTCFG";
  return [
    int(c, "sendTimeout", config.sendTimeout, 0, INT_MAX),
    int(c, "receiveTimeout", config.receiveTimeout, 0, INT_MAX),
    bool(c, "noDelay", config.noDelay),
    bool(c, "keepAlive", config.keepAlive),
    int(c, "keepIdle", config.keepIdle, 0, 7200),
    int(c, "keepInterval", config.keepInterval, 0, 75),
    int(c, "keepCount", config.keepCount, 0, 10),
  ].join(",");
}

/**
 * The command line for a request, ending in CR LF. Data in `AT+SKTSEND` is
 * escaped (`,` as `\,` and `\` as `\\`) and `data_size` counts the bytes
 * before escaping, as the module expects.
 *
 * @throws {RangeError} for a request that would not parse back to the same
 * request: a field out of its range or not a whole number, a cert index or
 * local port given for a type that takes none (or missing where needed), a
 * host that is empty, longer than 255 characters or holds `,`, `\` or
 * anything but printable ASCII, `AT+SKTSEND` data that is empty or holds CR or LF, or
 * a line longer than the 2000-byte command buffer.
 *
 * @example
 * ```ts
 * import { formatRequest } from "@atsock/protocol";
 * const line = formatRequest({ command: "SKTDEL", linkId: 3 });
 * new TextDecoder().decode(line); // "AT+SKTDEL=3\r\n"
 * ```
 */
export function formatRequest(request: Request): Uint8Array {
  const line = formatLine(request);
  if (line.length - CRLF.length > MAX_LINE_LENGTH) {
    invalid(
      request.command,
      `the line of ${
        line.length - CRLF.length
      } bytes exceeds the ${MAX_LINE_LENGTH}-byte command buffer`,
    );
  }
  return line;
}

function formatLine(request: Request): Uint8Array {
  const c = request.command;
  let text: string;
  switch (request.command) {
    case "SKTCFG":
      text = `AT+SKTCFG=${configFields(request.config)}`;
      break;
    case "SKTQUERY":
    case "SKTSTATE":
      text = `AT+${request.command}`;
      break;
    case "SKTSERVER": {
      const type = int(c, "type", request.type, 0, 3);
      text = `AT+SKTSERVER=${link(c, request.linkId)},${type},${
        cert(c, request.certIndex, type >= 2)
      },${port(c, "port", request.port)},${
        bool(c, "autoReceive", request.autoReceive)
      }`;
      break;
    }
    case "SKTCLIENT": {
      const type = int(c, "type", request.type, 0, 5);
      // Required for UDP; optional for the others (at_sktclient).
      const local = type === 0 || request.localPort !== undefined
        ? port(c, "localPort", request.localPort ?? NaN)
        : "";
      text = `AT+SKTCLIENT=${link(c, request.linkId)},${type},${
        cert(c, request.certIndex, type >= 3)
      },${host(c, request.host)},${port(c, "port", request.port)},${local},${
        bool(c, "autoReceive", request.autoReceive)
      }`;
      break;
    }
    case "SKTSEND": {
      const data = request.data;
      if (!(data instanceof Uint8Array) || data.length === 0) {
        invalid(c, "data must be at least one byte");
      }
      if (data.includes(CR) || data.includes(LF)) {
        invalid(c, "data cannot hold CR or LF bytes (they end a command line)");
      }
      const dst = request.destination;
      const head = encodeLatin1(
        `AT+SKTSEND=${link(c, request.linkId)},${data.length},${
          dst ? endpoint(c, dst) : ","
        },`,
      );
      return concat([head, escapeData(data), CRLF]);
    }
    case "SKTREAD":
      text = `AT+SKTREAD=${link(c, request.linkId)},${
        int(c, "size", request.size, 1, INT_MAX)
      }`;
      break;
    case "SKTSENDRAW": {
      const dst = request.destination;
      text = `AT+SKTSENDRAW=${link(c, request.linkId)},${
        int(c, "size", request.size, 1, INT_MAX)
      }${dst ? `,${endpoint(c, dst)}` : ""}`;
      break;
    }
    case "SKTDEL":
      text = `AT+SKTDEL=${link(c, request.linkId)}`;
      break;
    default:
      invalid(
        String((request as { command: unknown }).command),
        "not one of the nine socket commands",
      );
  }
  return encodeLatin1(text + "\r\n");
}
