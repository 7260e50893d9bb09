/**
 * Explains a command line as the module reads it: every parameter with its
 * name from the reference, the number `atoi` reads from it, its meaning and
 * range, and what the module answers and does. The verdict (request or
 * `ERROR: <n>`) is always the protocol package's `parseCommandLine`, so the
 * explanation cannot disagree with the virtual module.
 *
 * @module
 */

import {
  atoi,
  CERT_INDEX_MAX,
  CERT_INDEX_MIN,
  COMMAND_NAMES,
  type CommandName,
  commandNameOf,
  decodeLatin1,
  errorMeaning,
  isIPv4,
  LINK_COUNT,
  MAX_HOST_LENGTH,
  parseCommandLine,
  READ_WAIT_MS,
  type Request,
  splitFields,
} from "@atsock/protocol";
import { showBytes } from "./escapes.ts";
import type { ExplainedField, Explanation } from "./explanation.ts";

/** Options for {@linkcode explainCommand}. */
export interface CommandExplainOptions {
  /** The module's console mode, when known (it decides `AT+SKTSENDRAW`). */
  mode?: "manual" | "host";
}

const INT_MAX = 2147483647;
/** Longest value shown for a text field. */
const SHOW_LIMIT = 64;

/** The reference's "Function Description" of each command. */
const PURPOSE: Readonly<Record<CommandName, string>> = {
  SKTCFG: "configure the global socket options for TCP/UDP/SSL",
  SKTQUERY: "query the global socket option configuration",
  SKTSERVER: "create a TCP/UDP/SSL server listening service",
  SKTCLIENT: "establish a TCP/UDP/SSL client connection",
  SKTSEND: "send data through a link",
  SKTREAD: "read buffered data from a link",
  SKTSENDRAW:
    "send data through a link in Transparent Transmission mode (Host Control Mode only)",
  SKTSTATE: "query the status of every active link",
  SKTDEL: "delete a link (a server with all its seeds)",
};

const SERVER_TYPES: Readonly<Record<number, string>> = {
  0: "socket server over UDP",
  1: "socket server over TCP",
  2: "socket server over TLS (provides the server certificate for client verification)",
  3: "socket server over TLS (provides the server certificate and verifies client certificates with the CA certificate)",
};

const CLIENT_TYPES: Readonly<Record<number, string>> = {
  0: "socket client over UDP",
  1: "socket client over TCP",
  2: "socket client over TLS (no certificate verification)",
  3: "socket client over TLS (verifies the server certificate with the CA certificate)",
  4: "socket client over TLS (provides a client certificate to the server)",
  5: "socket client over TLS (mutual authentication: both 3 and 4)",
};

/** A number field as `atoi` reads it. */
interface NumberRead {
  value: number;
  note?: string;
}

/** Reads a field as the firmware does, and says how when it is not plain. */
export function readNumber(raw: Uint8Array): NumberRead {
  const value = atoi(raw);
  const text = decodeLatin1(raw);
  if (text === "") return { value, note: "empty field, read as 0" };
  if (/^(0|-?[1-9][0-9]*)$/.test(text) && String(value) === text) {
    return { value };
  }
  const m = /^[ \t\n\v\f\r]*[+-]?([0-9]*)/.exec(text)!;
  const shown = showBytes(raw);
  if (m[1] === "") {
    return { value, note: `"${shown}" has no leading digits, read as 0` };
  }
  const parts: string[] = [];
  const rest = raw.subarray(m[0].length);
  if (rest.length > 0) parts.push(`trailing "${showBytes(rest)}" ignored`);
  if (Math.abs(value) === INT_MAX || value === -INT_MAX - 1) {
    const digits = m[1].replace(/^0+/, "");
    if (digits.length > 10 || BigInt(digits || "0") > BigInt(INT_MAX)) {
      parts.push("beyond 32 bits, saturated");
    }
  }
  return {
    value,
    note: `"${shown}" read as ${value}${
      parts.length ? ` (${parts.join("; ")})` : ""
    }`,
  };
}

interface NumberSpec {
  name: string;
  meaning: string;
  min: number;
  max: number;
  /** Why the field is not used, when it is not. */
  ignored?: string;
  /** The meaning of a value in range. */
  describe?: (value: number) => string | undefined;
}

function numberField(raw: Uint8Array | undefined, spec: NumberSpec) {
  const range = spec.max === INT_MAX
    ? `${spec.min} or more`
    : `${spec.min}..${spec.max}`;
  if (raw === undefined) {
    return {
      field: {
        name: spec.name,
        value: null,
        meaning: `${spec.meaning} (${range})`,
        problem: "missing",
      } as ExplainedField,
      value: undefined,
    };
  }
  const read = readNumber(raw);
  const field: ExplainedField = {
    name: spec.name,
    value: read.value,
    meaning: `${spec.meaning} (${range})`,
  };
  if (spec.ignored) {
    field.value = showBytes(raw, SHOW_LIMIT);
    field.meaning = `${spec.meaning}: ${spec.ignored}, ignored`;
    return { field, value: undefined };
  }
  if (read.note) {
    field.raw = decodeLatin1(raw);
    field.note = read.note;
  }
  if (read.value < spec.min || read.value > spec.max) {
    field.problem = `${spec.name} ${read.value} is outside ${range}`;
  } else {
    const described = spec.describe?.(read.value);
    if (described) field.meaning = `${described}`;
  }
  return { field, value: field.problem ? undefined : read.value };
}

const linkSpec = (meaning = "link id"): NumberSpec => ({
  name: "link_id",
  meaning,
  min: 0,
  max: LINK_COUNT - 1,
});

function flagSpec(name: string, off: string, on: string): NumberSpec {
  return {
    name,
    meaning: `${name}: 0 ${off}, 1 ${on}`,
    min: 0,
    max: 1,
    describe: (v) => `${name} ${v}: ${v ? on : off}`,
  };
}

const AUTO_RCV = flagSpec(
  "auto_rcv",
  "received data is kept for AT+SKTREAD",
  "received data is printed as [$][SKT][DATA] lines",
);

function textField(
  name: string,
  raw: Uint8Array | undefined,
  meaning: string,
): ExplainedField {
  if (raw === undefined) {
    return { name, value: null, meaning, problem: "missing" };
  }
  return { name, value: showBytes(raw, SHOW_LIMIT), meaning };
}

function ipField(
  raw: Uint8Array | undefined,
  meaning: string,
  required: boolean,
): ExplainedField {
  const field = textField("dst_ip", raw, meaning);
  if (raw === undefined) return field;
  const ip = decodeLatin1(raw);
  if (required && !isIPv4(ip)) {
    field.problem = `dst_ip "${showBytes(raw)}" is not an IPv4 address`;
  }
  return field;
}

/** Fields beyond those the command takes. */
function extraFields(fields: Uint8Array[], from: number): ExplainedField[] {
  return fields.slice(from).map((raw, i) => ({
    name: `field ${from + i + 1}`,
    value: showBytes(raw, SHOW_LIMIT),
    meaning: "a field the command does not take",
    problem: "one field too many",
  }));
}

/** Every field of a command line, explained. */
function explainFields(
  command: CommandName,
  params: Uint8Array | undefined,
): ExplainedField[] {
  const fields = params === undefined ? undefined : splitFields(params);
  const f = fields ?? [];
  switch (command) {
    case "SKTQUERY":
      return params === undefined ? [] : [{
        name: "parameters",
        value: showBytes(params, SHOW_LIMIT),
        meaning: "AT+SKTQUERY takes no parameters",
        problem: "any '=' after AT+SKTQUERY is ERROR: 1",
      }];
    case "SKTSTATE":
      return params === undefined ? [] : [{
        name: "parameters",
        value: showBytes(params, SHOW_LIMIT),
        meaning: "ignored: AT+SKTSTATE takes no parameters",
      }];
    case "SKTCFG": {
      if (fields === undefined) return [];
      const specs: NumberSpec[] = [
        {
          name: "so_sndtimeo",
          meaning: "SO_SNDTIMEO: send time limit in ms, 0 none",
          min: 0,
          max: INT_MAX,
          describe: (v) =>
            v
              ? `sends give up after ${v} ms (SO_SNDTIMEO)`
              : "no send time limit (SO_SNDTIMEO 0)",
        },
        {
          name: "so_rcvtimeo",
          meaning: "SO_RCVTIMEO: receive time limit in ms, 0 none",
          min: 0,
          max: INT_MAX,
          describe: (v) =>
            v
              ? `receives give up after ${v} ms (SO_RCVTIMEO)`
              : "no receive time limit (SO_RCVTIMEO 0)",
        },
        flagSpec(
          "tcp_nodelay",
          "Nagle's algorithm on",
          "TCP_NODELAY: Nagle's algorithm off",
        ),
        flagSpec("so_keepalive", "no keepalive", "SO_KEEPALIVE on"),
        {
          name: "tcp_keepidle",
          meaning:
            "TCP_KEEPIDLE: idle seconds before the first keepalive probe",
          min: 0,
          max: 7200,
        },
        {
          name: "tcp_keepintvl",
          meaning: "TCP_KEEPINTVL: seconds between keepalive probes",
          min: 0,
          max: 75,
        },
        {
          name: "tcp_keepcnt",
          meaning: "TCP_KEEPCNT: unanswered probes before the link is dead",
          min: 0,
          max: 10,
        },
      ];
      const out = specs.map((spec, i) => {
        if (i < f.length || f.length === 0) {
          return numberField(f[i] ?? new Uint8Array(), spec).field;
        }
        const { field } = numberField(new Uint8Array(), spec);
        field.note = "absent, read as 0";
        return field;
      });
      return [...out, ...extraFields(f, 7)];
    }
    case "SKTSERVER": {
      const out = [
        numberField(f[0], linkSpec("link id the server gets")).field,
      ];
      const type = numberField(f[1], {
        name: "conn_type",
        meaning:
          "connection type: 0 UDP, 1 TCP, 2 TLS, 3 TLS verifying clients",
        min: 0,
        max: 3,
        describe: (v) => SERVER_TYPES[v],
      });
      out.push(type.field);
      out.push(
        numberField(f[2], {
          name: "cert_index",
          meaning: "certificate suite (CERT/server_*_<i>), for types 2 and 3",
          min: CERT_INDEX_MIN,
          max: CERT_INDEX_MAX,
          ignored: type.value === undefined
            ? "depends on conn_type"
            : type.value < 2
            ? `not used by conn_type ${type.value}`
            : undefined,
          describe: (v) =>
            `certificate suite ${v}: CERT/server_cert_${v}.crt and server_key_${v}.key${
              type.value === 3
                ? `, clients verified with server_ca_${v}.crt`
                : ""
            }`,
        }).field,
      );
      out.push(
        numberField(f[3], {
          name: "src_port",
          meaning: "local port the server listens on",
          min: 1,
          max: 65535,
        }).field,
      );
      out.push(numberField(f[4], AUTO_RCV).field);
      return [...out, ...extraFields(f, 5)];
    }
    case "SKTCLIENT": {
      const out = [
        numberField(f[0], linkSpec("link id the client gets")).field,
      ];
      const type = numberField(f[1], {
        name: "conn_type",
        meaning:
          "connection type: 0 UDP, 1 TCP, 2 TLS, 3 TLS verifying the server, 4 TLS with a client certificate, 5 both",
        min: 0,
        max: 5,
        describe: (v) => CLIENT_TYPES[v],
      });
      out.push(type.field);
      const t = type.value;
      out.push(
        numberField(f[2], {
          name: "cert_index",
          meaning:
            "certificate suite (CERT/client_*_<i>), for types 3, 4 and 5",
          min: CERT_INDEX_MIN,
          max: CERT_INDEX_MAX,
          ignored: t === undefined
            ? "depends on conn_type"
            : t < 3
            ? `not used by conn_type ${t}`
            : undefined,
          describe: (v) => clientSuite(t!, v),
        }).field,
      );
      const host = textField(
        "dst_host",
        f[3],
        "remote server: IPv4 address or host name (resolved to IPv4)",
      );
      if (f[3] !== undefined) {
        if (f[3].length === 0) host.problem = "dst_host is empty";
        else if (f[3].length > MAX_HOST_LENGTH) {
          host.problem = `dst_host has ${
            f[3].length
          } characters, more than ${MAX_HOST_LENGTH}`;
        }
      }
      out.push(host);
      out.push(
        numberField(f[4], {
          name: "dst_port",
          meaning: "remote server port",
          min: 1,
          max: 65535,
        }).field,
      );
      out.push(
        numberField(f[5], {
          name: "src_port",
          meaning: "local port the UDP client binds (UDP only)",
          min: 1,
          max: 65535,
          ignored: t === undefined
            ? "depends on conn_type"
            : t !== 0
            ? `not used by conn_type ${t}`
            : undefined,
        }).field,
      );
      out.push(numberField(f[6], AUTO_RCV).field);
      return [...out, ...extraFields(f, 7)];
    }
    case "SKTSEND": {
      const out = [numberField(f[0], linkSpec("link to send on")).field];
      const data = f[4];
      const size = numberField(f[1], {
        name: "data_size",
        meaning: "bytes of data, counted after unescaping \\, and \\\\",
        min: 1,
        max: INT_MAX,
      });
      if (
        size.value !== undefined && data !== undefined &&
        size.value !== data.length
      ) {
        size.field.problem = `data_size ${size.value} does not match the ${
          plural(data.length, "byte")
        } of data`;
      }
      out.push(size.field);
      const udp = (f[2]?.length ?? 0) > 0 || (f[3]?.length ?? 0) > 0;
      const ipMeaning =
        "destination IPv4 address: only on a UDP server, else empty";
      out.push(ipField(f[2], ipMeaning, udp));
      if (udp) {
        out.push(
          numberField(f[3], {
            name: "dst_port",
            meaning: "destination port: only on a UDP server, else empty",
            min: 1,
            max: 65535,
          }).field,
        );
      } else {
        out.push(
          textField(
            "dst_port",
            f[3],
            "destination port: only on a UDP server, else empty",
          ),
        );
      }
      const dataField = textField(
        "data",
        data,
        data === undefined
          ? "the bytes to send"
          : `${data.length} byte${
            data.length === 1 ? "" : "s"
          } to send, as the module reads them (\\, and \\\\ unescaped)`,
      );
      out.push(dataField);
      const extra = extraFields(f, 5);
      if (extra.length > 0) {
        extra[0].problem =
          "one field too many: a raw ',' in the data splits it; write it as \\,";
      }
      return [...out, ...extra];
    }
    case "SKTREAD":
      return [
        numberField(f[0], linkSpec("link to read")).field,
        numberField(f[1], {
          name: "data_size",
          meaning: "most bytes to read",
          min: 1,
          max: INT_MAX,
        }).field,
        ...extraFields(f, 2),
      ];
    case "SKTSENDRAW": {
      const out = [
        numberField(f[0], linkSpec("link to send on")).field,
        numberField(f[1], {
          name: "data_size",
          meaning: "raw bytes that follow the >>> prompt",
          min: 1,
          max: INT_MAX,
        }).field,
      ];
      if (f.length >= 3) {
        out.push(
          ipField(f[2], "destination IPv4 address (UDP server only)", true),
        );
        out.push(
          numberField(f[3], {
            name: "dst_port",
            meaning: "destination port (UDP server only)",
            min: 1,
            max: 65535,
          }).field,
        );
      }
      return [...out, ...extraFields(f, 4)];
    }
    case "SKTDEL":
      return [
        numberField(f[0], linkSpec("link to delete")).field,
        ...extraFields(f, 1),
      ];
  }
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

function clientSuite(type: number, v: number): string {
  const files = [];
  if (type === 3 || type === 5) {
    files.push(`verifies the server with CERT/client_ca_${v}.crt`);
  }
  if (type === 4 || type === 5) {
    files.push(
      `presents CERT/client_cert_${v}.crt with client_key_${v}.key`,
    );
  }
  return `certificate suite ${v}: ${files.join(", ")}`;
}

/** What the module does for a well-formed request, in one sentence. */
function effect(request: Request, mode: "manual" | "host" | undefined): string {
  switch (request.command) {
    case "SKTCFG":
      return "replaces all seven global socket options; they apply to sockets created afterwards (UDP sockets take the two timeouts, TCP clients and listeners all seven, accepted seeds only keepalive, TLS links none)";
    case "SKTQUERY":
      return "prints the seven global socket options after 'Global SOCKET configuration:'";
    case "SKTSERVER": {
      const proto = ["UDP", "TCP", "TLS", "TLS"][request.type];
      const seeds = request.type === 0
        ? "datagrams from any sender arrive on this link"
        : "each client that connects becomes a seed on the lowest free link id, announced by a [$][SKT][EVENT] line";
      const data = request.autoReceive
        ? "received data is printed as [$][SKT][DATA] lines"
        : "received data is kept for AT+SKTREAD";
      return `listens on ${proto} port ${request.port} as link ${request.linkId}; ${seeds}; ${data}`;
    }
    case "SKTCLIENT": {
      const proto = request.type === 0
        ? `UDP from local port ${request.localPort}`
        : request.type === 1
        ? "TCP"
        : "TLS";
      const data = request.autoReceive
        ? "received data is printed as [$][SKT][DATA] lines"
        : "received data is kept for AT+SKTREAD";
      const when = request.type === 0 ? "once bound" : "once connected";
      return `connects link ${request.linkId} to ${request.host}:${request.port} over ${proto}, answering ${when}; ${data}`;
    }
    case "SKTSEND":
      return `sends ${request.data.length} byte${
        request.data.length === 1 ? "" : "s"
      } on link ${request.linkId}${
        request.destination
          ? ` to ${request.destination.ip}:${request.destination.port} (UDP server)`
          : ""
      }, then answers`;
    case "SKTREAD":
      return `waits up to about ${READ_WAIT_MS} ms for data on link ${request.linkId}, reads once (at most ${request.size} bytes) and prints +SKTREAD:${request.linkId},<n>,<data> (UDP: <ip>,<port>, before the data); no data is +SKTREAD:${request.linkId},0,`;
    case "SKTSENDRAW":
      return `answers >>>, takes exactly ${request.size} raw bytes from the UART (no escaping, no time limit), sends them on link ${request.linkId}${
        request.destination
          ? ` to ${request.destination.ip}:${request.destination.port}`
          : ""
      } and answers${
        mode === undefined
          ? " (Host Control Mode only; in Manual Test Mode, the default firmware, it is ERROR: 4)"
          : ""
      }`;
    case "SKTSTATE":
      return "lists every link in id order, each server followed by its seeds";
    case "SKTDEL":
      return `deletes link ${request.linkId} (a server with all its seeds)`;
  }
}

/** What the module answers a well-formed request. */
function answerOf(command: CommandName, request: Request): string {
  switch (command) {
    case "SKTQUERY":
      return "Global SOCKET configuration: (7 lines), then OK";
    case "SKTSTATE":
      return "one link_id:... line per link, then OK";
    case "SKTREAD":
      return `+SKTREAD:${
        (request as { linkId: number }).linkId
      },<n>,<data> then OK`;
    case "SKTSENDRAW":
      return ">>>, then OK after the raw bytes";
    default:
      return "OK";
  }
}

/** Errors a well-formed command can still get, from the state of the module. */
const LATER: Readonly<Partial<Record<CommandName, string>>> = {
  SKTSERVER:
    "it can still fail: ERROR: 1 if the link id is in use; 2 (TCP), 4 (UDP) or 11 (TLS) if the port cannot be bound; 6, 9, 10 for a missing, unparsable or mismatched certificate file",
  SKTCLIENT:
    "it can still fail: ERROR: 1 if the link id is in use; 2 for a refused or unreachable TCP peer; 4 for UDP; TLS: 6, 9, 10 for certificate files, 13 if the connect fails, 14 if the handshake or verification fails",
  SKTSEND:
    "it can still fail: ERROR: 1 if the link is not in use or is a listening TCP/TLS server, or a UDP server send lacks dst_ip/dst_port; 2 if the send fails (peer gone, so_sndtimeo)",
  SKTREAD:
    "it can still fail: ERROR: 1 if the link is not in use; 4 once the peer has closed and everything buffered has been read. Data is printed as a C string: cut at the first NUL byte while <n> counts every byte",
  SKTSENDRAW:
    "it can still fail: ERROR: 1 if the link is not in use; 2 if the send fails; 4 if the host aborts with <<< and 30 ms of silence",
  SKTDEL: "it can still fail: ERROR: 1 if the link id is not in use",
};

/** Explains a command line (without its line end). */
export function explainCommand(
  line: Uint8Array,
  options: CommandExplainOptions = {},
): Explanation {
  const shown = showBytes(line, 200);
  const name = commandNameOf(line);
  const parsed = parseCommandLine(line);
  if (parsed.kind === "unknown") return unknownLine(line, shown);
  const command = parsed.command;
  const notes: string[] = [];
  let fields: ExplainedField[] = [];
  if (command !== undefined) {
    const eq = line.indexOf(0x3d);
    fields = explainFields(
      command,
      eq < 0 ? undefined : line.subarray(eq + 1),
    );
  }
  const purpose = command === undefined
    ? "a line too long to be a command"
    : `AT+${command}: ${PURPOSE[command]}`;
  // The firmware refuses SKTSENDRAW in Manual Test Mode before reading it.
  if (name === "SKTSENDRAW" && options.mode === "manual") {
    return {
      line: shown,
      kind: "command",
      command: "SKTSENDRAW",
      summary:
        `${purpose}; in Manual Test Mode the module answers ERROR: 4 whatever the parameters`,
      fields,
      error: {
        code: 4,
        meaning: errorMeaning("SKTSENDRAW", 4)!,
        detail: "AT+SKTSENDRAW needs Host Control Mode",
      },
      answer: "ERROR: 4",
      notes: [
        "the module is in Manual Test Mode (--mode manual); AT+SKTSENDRAW works only in Host Control Mode",
      ],
      valid: false,
    };
  }
  if (parsed.kind === "error") {
    const error = parsed.error;
    return {
      line: shown,
      kind: "command",
      command: command ?? null,
      summary: `${purpose}; the module rejects it with ERROR: ${error.code}`,
      fields,
      error: {
        code: error.code,
        meaning: error.meaning,
        detail: error.detail ?? null,
      },
      answer: `ERROR: ${error.code}`,
      notes,
      valid: false,
    };
  }
  const request = parsed.request;
  if (request.command === "SKTSENDRAW" && options.mode === undefined) {
    notes.push(
      "AT+SKTSENDRAW works only in Host Control Mode; in Manual Test Mode (the default firmware build) the answer is ERROR: 4 (say --mode to pick one)",
    );
  }
  const later = LATER[parsed.command];
  if (later) notes.push(later);
  return {
    line: shown,
    kind: "command",
    command: parsed.command,
    summary: `${purpose}; the module ${effect(request, options.mode)}`,
    fields,
    error: null,
    answer: answerOf(parsed.command, request),
    notes,
    valid: true,
  };
}

function unknownLine(line: Uint8Array, shown: string): Explanation {
  const notes: string[] = [];
  const text = decodeLatin1(line);
  const upper = text.toUpperCase();
  const name = /^AT\+([A-Z]+)/.exec(upper)?.[1];
  if (name && (COMMAND_NAMES as readonly string[]).includes(name)) {
    if (!text.startsWith(`AT+${name}`)) {
      notes.push(
        `command names are case-sensitive: write AT+${name}`,
      );
    }
  } else if (/^AT\+SKT/.test(upper)) {
    notes.push(`the socket commands are AT+${COMMAND_NAMES.join(", AT+")}`);
  }
  return {
    line: shown,
    kind: "unknown",
    command: null,
    summary: "not a socket command: the module gives no answer at all",
    fields: [],
    error: null,
    answer: null,
    notes,
    valid: false,
  };
}
