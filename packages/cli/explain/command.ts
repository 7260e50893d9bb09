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
  badEscape,
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
  MAX_LINE_LENGTH,
  MODULE_FREE_HEAP,
  parseCommandLine,
  READ_WAIT_MS,
  type Request,
  splitFields,
  splitParams,
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
  /** An empty field is ERROR: 1 (the handler checks `strlen(argv[n]) == 0`). */
  required?: boolean;
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
  if (raw.length === 0 && spec.required) {
    field.value = null;
    field.note = undefined;
    field.problem =
      `${spec.name} is empty: a required field (ERROR: 1, not the number 0)`;
  } else if (read.value < spec.min || read.value > spec.max) {
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
  required: true,
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

const AUTO_RCV: NumberSpec = {
  ...flagSpec(
    "auto_rcv",
    "received data is kept for AT+SKTREAD",
    "received data is printed as [$][SKT][DATA] lines",
  ),
  required: true,
};

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
  // parse_param_advance (escapes) for SKTSEND/SKTSENDRAW, parse_param
  // (every comma splits, a backslash is a byte) for the others.
  const escapes = command === "SKTSEND" || command === "SKTSENDRAW";
  const fields = params === undefined
    ? undefined
    : escapes
    ? splitFields(params)
    : splitParams(params);
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
        required: true,
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
          required: true,
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
        required: true,
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
        "remote server: IPv4 address or host name (resolved to IPv4; a name not found is ERROR: 1)",
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
          required: true,
        }).field,
      );
      const given = (f[5]?.length ?? 0) > 0;
      out.push(
        numberField(f[5], {
          name: "src_port",
          meaning: t === 0
            ? "local port the UDP client binds (required for UDP)"
            : t === 1
            ? "local port: checked when given, then ignored (TCP takes an ephemeral port)"
            : "local port: checked when given, shown by AT+SKTSTATE (TLS binds none)",
          min: 1,
          max: 65535,
          required: t === 0,
          ignored: t !== 0 && !given ? "not given" : undefined,
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
        required: true,
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
      out.push(...destinationFields(f[2], f[3]));
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
      if (data !== undefined && data.length === 0) {
        dataField.problem = "data is empty: a required field (ERROR: 1)";
      }
      const extra = extraFields(f, 5);
      if (extra.length > 0) {
        extra[0].problem =
          "one field too many: a raw ',' in the data splits it; write it as \\,";
      }
      return [...out, ...extra, ...badEscapeField(params)];
    }
    case "SKTREAD":
      return [
        numberField(f[0], linkSpec("link to read")).field,
        numberField(f[1], {
          name: "data_size",
          meaning: "most bytes to read",
          min: 1,
          max: INT_MAX,
          required: true,
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
          required: true,
        }).field,
      ];
      if (f.length >= 3) out.push(...destinationFields(f[2], f[3]));
      return [...out, ...extraFields(f, 4), ...badEscapeField(params)];
    }
    case "SKTDEL":
      return [
        numberField(f[0], linkSpec("link to delete")).field,
        ...extraFields(f, 1),
      ];
  }
}

/**
 * dst_ip and dst_port of SKTSEND/SKTSENDRAW: required on a UDP server,
 * ignored on every other link (which the line alone cannot tell).
 */
function destinationFields(
  ipRaw: Uint8Array | undefined,
  portRaw: Uint8Array | undefined,
): ExplainedField[] {
  const given = (ipRaw?.length ?? 0) > 0 || (portRaw?.length ?? 0) > 0;
  const where =
    "required on a UDP server; ignored on any other link, whatever it holds";
  const ip = ipField(ipRaw, `destination IPv4 address: ${where}`, false);
  const port = textField("dst_port", portRaw, `destination port: ${where}`);
  if (given && ipRaw !== undefined && portRaw !== undefined) {
    const address = decodeLatin1(ipRaw);
    const value = atoi(portRaw);
    if (!isIPv4(address)) {
      ip.note = `"${
        showBytes(ipRaw)
      }" is not an IPv4 address: ERROR: 1 on a UDP server`;
    }
    if (value < 1 || value > 65535) {
      port.note = `${value} is outside 1..65535: ERROR: 1 on a UDP server`;
    } else port.value = value;
  }
  return [ip, port];
}

/** The first backslash `parse_param_advance` refuses, as a problem. */
function badEscapeField(params: Uint8Array | undefined): ExplainedField[] {
  if (params === undefined) return [];
  const at = badEscape(params);
  if (at < 0) return [];
  return [{
    name: "escape",
    value: showBytes(params.subarray(at, at + 2)),
    meaning: "only \\, (a comma) and \\\\ (a backslash) are escapes",
    problem: `a backslash at byte ${
      at + 1
    } of the parameters is followed by neither ',' nor '\\': ERROR: 1`,
  }];
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
      return `waits up to about ${READ_WAIT_MS} ms for data on link ${request.linkId}, reads once (at most ${request.size} bytes) and prints +SKTREAD:${request.linkId},<n>,<data> (UDP: <ip>,<port>, before the data); no data is +SKTREAD:${request.linkId},0, (UDP: +SKTREAD:${request.linkId},0,0.0.0.0,0,)`;
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
      return "lists every link in id order, each server followed by its seeds in the order they connected";
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
    "it can still fail: ERROR: 1 if the link id is in use or a certificate file the type needs does not exist; 2 (TCP), 4 (UDP) or 11 (TLS) if the port cannot be bound; 6 for a certificate file that cannot be read, 9 for one that does not parse. A key that does not match its certificate is not refused: the server's handshakes fail (no seed, no event)",
  SKTCLIENT:
    "it can still fail: ERROR: 1 if the link id is in use, a host name is not found (every type) or a certificate file the type needs does not exist; 2 for a refused or unreachable TCP peer; 4 if the UDP port cannot be bound; TLS: 6 for a file that cannot be read, 9 for one that does not parse, 13 if the connect fails, 14 if the handshake fails (types 3 and 5 check the server's chain, not its name: no host name is set, no SNI is sent)",
  SKTSEND:
    "it can still fail: ERROR: 1 if the link is not in use, its socket has gone (socket_fd:-1), it is a listening TCP/TLS server, or a UDP server send lacks a good dst_ip/dst_port (other links ignore them); 2 if the send fails (connection reset, so_sndtimeo)",
  SKTREAD:
    `it can still fail: ERROR: 1 if the link is not in use or its socket has gone (socket_fd:-1); 2 if the buffer of data_size + 1 bytes cannot be allocated (the virtual module: data_size ${MODULE_FREE_HEAP} or more, its free heap); 4 for the read that meets the peer's close (it closes the socket). Data is printed as a C string: cut at the first NUL byte while <n> counts every byte`,
  SKTSENDRAW:
    "it can still fail: ERROR: 1 (before any >>>) if the link is not in use, its socket has gone or a UDP server lacks dst_ip/dst_port; 2 if the send fails; 4 if the host aborts with <<< and 30 ms of silence, or in Manual Test Mode",
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
  // at_sktsendraw checks the fields and the link (1) before transparent
  // transmission is refused in Manual Test Mode (4).
  if (
    name === "SKTSENDRAW" && options.mode === "manual" &&
    parsed.kind === "request"
  ) {
    return {
      line: shown,
      kind: "command",
      command: "SKTSENDRAW",
      summary:
        `${purpose}; in Manual Test Mode the module answers ERROR: 4 (after checking the link)`,
      fields,
      error: {
        code: 4,
        meaning: errorMeaning("SKTSENDRAW", 4)!,
        detail: "AT+SKTSENDRAW needs Host Control Mode",
      },
      answer: "ERROR: 4",
      notes: [
        "the module is in Manual Test Mode (--mode manual); AT+SKTSENDRAW works only in Host Control Mode",
        "the link is checked first: a link not in use, without a socket (socket_fd:-1), a listening TCP/TLS server or a UDP server without dst_ip/dst_port is ERROR: 1",
      ],
      valid: false,
    };
  }
  if (parsed.kind === "error") {
    const error = parsed.error;
    if (line.length > MAX_LINE_LENGTH) {
      notes.push(
        `the command buffer holds ${MAX_LINE_LENGTH} bytes (UART_LOG_CMD_BUFLEN): the module answers ERROR: 1 at the line end and reads the next line normally`,
      );
    }
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
  if (request.command === "SKTREAD" && request.size >= MODULE_FREE_HEAP) {
    // at_sktread: rtos_mem_zmalloc(wanted_recv_size + 1) fails: ERROR: 2.
    notes.push(
      `data_size ${request.size} needs a buffer larger than the module's free heap (${MODULE_FREE_HEAP} bytes on the virtual module): once the link checks pass the answer is ERROR: 2; read less at a time`,
    );
  }
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
