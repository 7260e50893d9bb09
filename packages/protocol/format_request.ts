/**
 * Requests to command lines: the host side never builds AT strings by hand.
 *
 * @module
 */

import { concat, encode, encodeLatin1 } from "./bytes.ts";
import {
  type CommandName,
  COMMANDS,
  field,
  type FieldSpec,
  usesCert,
} from "./commands.ts";
import { hostProblem } from "./field_checks.ts";
import { MAX_LINE_LENGTH } from "./constants.ts";
import { escapeData, isIPv4 } from "./fields.ts";
import { lineReaderAlters } from "./line_reader.ts";
import type { Endpoint, Request, SocketConfig } from "./types.ts";

const CRLF = encode("\r\n");

/** Throws the RangeError for a request that would not parse back to itself. */
function invalid(command: string, message: string): never {
  throw new RangeError(`AT+${command}: ${message}`);
}

/** A request property checked against its catalogue field's range. */
function int(command: string, spec: FieldSpec, value: number): number {
  if (!Number.isInteger(value) || value < spec.min || value > spec.max) {
    invalid(
      command,
      `${spec.key} must be a whole number ${spec.min}..${spec.max}, not ${value}`,
    );
  }
  return value;
}

function bool(command: string, spec: FieldSpec, value: boolean): 0 | 1 {
  if (typeof value !== "boolean") {
    invalid(command, `${spec.key} must be true or false, not ${value}`);
  }
  return value ? 1 : 0;
}

function link(command: CommandName, id: number): number {
  return int(command, field(command, "link_id"), id);
}

function cert(
  command: "SKTSERVER" | "SKTCLIENT",
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
  return `${int(command, field(command, "cert_index"), index)}`;
}

function endpoint(command: CommandName, endpoint: Endpoint): string {
  if (typeof endpoint.ip !== "string" || !isIPv4(endpoint.ip)) {
    invalid(
      command,
      `destination ip must be a dotted-quad IPv4 address, not ${endpoint.ip}`,
    );
  }
  return `${endpoint.ip},${
    int(command, field(command, "dst_port"), endpoint.port)
  }`;
}

function host(command: string, host: string): string {
  const problem = hostProblem(host);
  if (problem !== undefined) invalid(command, problem);
  return host;
}

function configFields(config: SocketConfig): string {
  const values = config as unknown as Record<string, number | boolean>;
  return COMMANDS.SKTCFG.fields.map((spec) =>
    spec.kind === "flag"
      ? bool("SKTCFG", spec, values[spec.key] as boolean)
      : int("SKTCFG", spec, values[spec.key] as number)
  ).join(",");
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
 * anything but printable ASCII, `AT+SKTSEND` data that is empty or holds
 * bytes the module's line reader changes (NUL, BS, TAB, DEL, 0xFF, CR LF;
 * see {@linkcode lineReaderAlters}), or a line longer than the 1998 bytes a
 * CR LF line can hold in the 2000-byte command buffer.
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
      const [, typeSpec, , portSpec, autoSpec] = COMMANDS.SKTSERVER.fields;
      const type = int(c, typeSpec, request.type);
      text = `AT+SKTSERVER=${link(c, request.linkId)},${type},${
        cert("SKTSERVER", request.certIndex, usesCert("server", type))
      },${int(c, portSpec, request.port)},${
        bool(c, autoSpec, request.autoReceive)
      }`;
      break;
    }
    case "SKTCLIENT": {
      const [, typeSpec, , , portSpec, localSpec, autoSpec] =
        COMMANDS.SKTCLIENT.fields;
      const type = int(c, typeSpec, request.type);
      // Required for UDP; optional for the others (at_sktclient).
      const local =
        localSpec.requiredFor!.includes(type) || request.localPort !== undefined
          ? int(c, localSpec, request.localPort ?? NaN)
          : "";
      text = `AT+SKTCLIENT=${link(c, request.linkId)},${type},${
        cert("SKTCLIENT", request.certIndex, usesCert("client", type))
      },${host(c, request.host)},${int(c, portSpec, request.port)},${local},${
        bool(c, autoSpec, request.autoReceive)
      }`;
      break;
    }
    case "SKTSEND": {
      const data = request.data;
      if (!(data instanceof Uint8Array) || data.length === 0) {
        invalid(c, "data must be at least one byte");
      }
      if (lineReaderAlters(data)) {
        invalid(
          c,
          "data cannot hold NUL, BS, TAB, DEL, 0xFF or CR LF bytes (the module's line reader changes them)",
        );
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
        int(c, field(c, "data_size"), request.size)
      }`;
      break;
    case "SKTSENDRAW": {
      const dst = request.destination;
      text = `AT+SKTSENDRAW=${link(c, request.linkId)},${
        int(c, field(c, "data_size"), request.size)
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
