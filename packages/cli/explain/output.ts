/**
 * Explains one line a module prints: final results, the `AT+SKTQUERY` and
 * `AT+SKTSTATE` lines, `+SKTREAD` answers, connect events, DATA lines, the
 * `>>>` prompt, `ATCMD READY` and the TT watermarks.
 *
 * @module
 */

import {
  COMMAND_NAMES,
  type CommandName,
  decodeLatin1,
  ERROR_MEANINGS,
  isIPv4,
  LINK_COUNT,
  MODULE_FREE_HEAP,
  TT_BUFFER_SIZE,
} from "@atsock/protocol";
import { showBytes } from "./escapes.ts";
import type {
  ExplainedError,
  ExplainedField,
  Explanation,
  ExplanationKind,
} from "./explanation.ts";

/** Options for {@linkcode explainOutput}. */
export interface OutputExplainOptions {
  /** The command an `ERROR: <n>` answers, when known. */
  command?: CommandName;
}

/** What the firmware means beyond the reference's words, per command and code. */
const ERROR_NOTES: Readonly<Partial<Record<string, string>>> = {
  "SKTQUERY 1": "given when anything follows AT+SKTQUERY (an '=')",
  "SKTSERVER 1":
    "also: the link id is in use, a required field is empty or out of range, or a certificate file the type needs does not exist",
  "SKTSERVER 2": "the TCP port cannot be bound (in use?)",
  "SKTSERVER 4":
    "the UDP port cannot be bound: a UDP client or another program holds it (UDP servers may share a port: SO_REUSEADDR)",
  "SKTSERVER 6":
    "a file the type needs exists but cannot be read: CERT/server_cert_<i>.crt, server_key_<i>.key (type 3 also server_ca_<i>.crt); one that does not exist is 1",
  "SKTSERVER 9": "a certificate or key file of the suite does not parse",
  "SKTSERVER 10":
    "never given for a key that does not match its certificate: the server is made and its handshakes fail",
  "SKTSERVER 11": "the TLS port cannot be bound (in use?)",
  "SKTCLIENT 1":
    "also: the link id is in use, a required field is empty or out of range, a host name is not found (every type), or a certificate file the type needs does not exist",
  "SKTCLIENT 2": "a refused or unreachable TCP peer",
  "SKTCLIENT 4": "the UDP socket cannot be bound",
  "SKTCLIENT 6":
    "a file the type needs exists but cannot be read: CERT/client_ca_<i>.crt (types 3, 5), client_cert_<i>.crt and client_key_<i>.key (types 4, 5); one that does not exist is 1",
  "SKTCLIENT 9": "a certificate or key file of the suite does not parse",
  "SKTCLIENT 10":
    "never given for a key that does not match its certificate: the handshake fails instead (14) when the server asks for the certificate",
  "SKTCLIENT 13": "the TCP connect under TLS failed",
  "SKTCLIENT 14":
    "the TLS handshake failed, or the server's chain was refused (types 3, 5; its name is not checked: the firmware sets no host name; with mbedtls 3 these types always fail)",
  "SKTSEND 1":
    "also: the link is not in use, its socket has gone (socket_fd:-1: its peer closed an auto_rcv=1 link, or a read met the end), it is a listening TCP/TLS server, data_size does not match the data, a raw ',' in the data, or a '\\' not followed by ',' or '\\'",
  "SKTSEND 2":
    "the send failed: the connection was reset, or so_sndtimeo passed",
  "SKTREAD 1":
    "also: the link is not in use, or its socket has gone (socket_fd:-1): after the read that met the end, or an auto_rcv=1 link whose peer closed",
  "SKTREAD 2":
    `the buffer of data_size + 1 bytes could not be allocated (at_sktread): data_size larger than the module's free heap (the virtual module: ${MODULE_FREE_HEAP} bytes or more); nothing was read, read less at a time`,
  "SKTREAD 4":
    "the read met the peer's close (everything buffered had been read): the module closes the socket, later reads are ERROR: 1",
  "SKTSENDRAW 1":
    "also: the link is not in use or its socket has gone (socket_fd:-1); checked before the mode, and before any >>>",
  "SKTSENDRAW 4":
    "also in Manual Test Mode (AT+SKTSENDRAW needs Host Control Mode), and after the host aborts with <<< and 30 ms of silence",
  "SKTDEL 1": "also: the link id is not in use",
};

/** A line at least this long is rejected as a whole with ERROR: 1. */
const OVERLONG_NOTE =
  "any line longer than 2000 bytes is also ERROR: 1, whatever the command";

const QUERY_FIELDS: Readonly<
  Record<string, { meaning: string; min: number; max: number }>
> = {
  so_sndtimeo: {
    meaning: "SO_SNDTIMEO: send time limit in ms (0: none)",
    min: 0,
    max: 2147483647,
  },
  so_rcvtimeo: {
    meaning: "SO_RCVTIMEO: receive time limit in ms (0: none)",
    min: 0,
    max: 2147483647,
  },
  tcp_nodelay: {
    meaning: "TCP_NODELAY: 1 turns Nagle's algorithm off",
    min: 0,
    max: 1,
  },
  so_keepalive: {
    meaning: "SO_KEEPALIVE: 1 sends keepalive probes",
    min: 0,
    max: 1,
  },
  tcp_keepidle: {
    meaning: "TCP_KEEPIDLE: idle seconds before the first probe",
    min: 0,
    max: 7200,
  },
  tcp_keepintvl: {
    meaning: "TCP_KEEPINTVL: seconds between probes",
    min: 0,
    max: 75,
  },
  tcp_keepcnt: {
    meaning: "TCP_KEEPCNT: unanswered probes before the link is dead",
    min: 0,
    max: 10,
  },
};

function result(
  line: string,
  kind: ExplanationKind,
  summary: string,
  fields: ExplainedField[] = [],
  extra: Partial<Explanation> = {},
): Explanation {
  const valid = kind !== "unrecognised" && fields.every((f) => !f.problem);
  return {
    line,
    kind,
    command: null,
    summary,
    fields,
    error: null,
    answer: null,
    notes: [],
    valid,
    ...extra,
  };
}

function linkField(
  name: string,
  value: string,
  meaning: string,
): ExplainedField {
  const n = Number(value);
  const field: ExplainedField = { name, value: n, meaning };
  if (!/^\d+$/.test(value) || n >= LINK_COUNT) {
    field.value = value;
    field.problem = `${name} ${value} is outside 0..${LINK_COUNT - 1}`;
  }
  return field;
}

function portField(
  name: string,
  value: string,
  meaning: string,
  min = 1,
): ExplainedField {
  const n = Number(value);
  const field: ExplainedField = { name, value: n, meaning };
  if (!/^\d+$/.test(value) || n < min || n > 65535) {
    field.value = value;
    field.problem = `${name} ${value} is outside ${min}..65535`;
  }
  return field;
}

function ipField(name: string, value: string, meaning: string): ExplainedField {
  const field: ExplainedField = { name, value, meaning };
  if (!isIPv4(value)) {
    field.problem = `${name} "${value}" is not an IPv4 address`;
  }
  return field;
}

const DATA_HEAD =
  /^\[\$\]\[SKT\]\[DATA\]\[(\d+)\]\[(\d+)\](?:\[([^\]]*)\]\[(\d+)\])?:/;
const READ_HEAD = /^\+SKTREAD:(\d+),(\d+),/;
const UDP_PREFIX = /^(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}),(\d{1,5}),/;
const CONNECT =
  /^\[\$\]\[SKT\]\[EVENT\]: A client\[link_id:([^,\]]*),seed,([^,\]]*),dst_address:([^,\]]*),dst_port:([^,\]]*)\] connected to server\[link_id:([^\]]*)\]$/;
const STATE =
  /^link_id:([^,]*),([^,]*),([^,]*),src_address:([^,]*),src_port:([^,]*),dst_address:([^,]*),dst_port:([^,]*),socket_fd:([^,]*)$/;

/**
 * Explains an output line. DATA and `+SKTREAD` lines are given with their
 * payload (which may hold CR and LF) and may end with their CR LF (and, for
 * `+SKTREAD`, the CR LF OK CR LF that follows); other lines without the line end.
 */
export function explainOutput(
  line: Uint8Array,
  options: OutputExplainOptions = {},
): Explanation {
  const shown = showBytes(line, 200);
  const text = decodeLatin1(line);
  if (text === "OK") {
    return result(shown, "ok", "OK: the command in flight succeeded", [], {
      command: options.command ?? null,
      notes: ["the module prints it as \\r\\nOK\\r\\n: a blank line, then OK"],
    });
  }
  const error = /^ERROR: (\d+)$/.exec(text);
  if (error) return errorLine(shown, Number(error[1]), options.command);
  if (text === ">>>") {
    return result(
      shown,
      "prompt",
      "the AT+SKTSENDRAW prompt: the module now takes exactly <data_size> raw bytes from the UART, then answers OK (abort: <<< and 30 ms of silence, then ERROR: 4)",
      [],
      { command: "SKTSENDRAW" },
    );
  }
  if (text === "ATCMD READY") {
    return result(
      shown,
      "ready",
      "the module has started in Host Control Mode (no echo; AT+SKTSENDRAW available); a host that sees it again knows the module restarted and every link is gone",
    );
  }
  if (text === "[$][TT]:High Watermark") {
    return result(
      shown,
      "watermark",
      `the module's ${
        TT_BUFFER_SIZE / 1024
      } KiB transparent-transmission buffer is full: the host must pause sending raw bytes until [$][TT]:Low Watermark`,
    );
  }
  if (text === "[$][TT]:Low Watermark") {
    return result(
      shown,
      "watermark",
      "the module's transparent-transmission buffer has drained: the host may send raw bytes again",
    );
  }
  if (text === "Global SOCKET configuration:") {
    return result(
      shown,
      "query",
      "the first line of the AT+SKTQUERY answer; the seven global socket options follow, then OK",
      [],
      { command: "SKTQUERY" },
    );
  }
  const query = /^([a-z_]+): (.*)$/.exec(text);
  if (query && query[1] in QUERY_FIELDS) {
    const spec = QUERY_FIELDS[query[1]];
    const field: ExplainedField = {
      name: query[1],
      value: Number(query[2]),
      meaning: `${spec.meaning}, ${spec.min}..${spec.max}`,
    };
    if (!/^\d+$/.test(query[2]) || field.value as number > spec.max) {
      field.value = query[2];
      field.problem = `${query[1]} "${
        query[2]
      }" is not a number in ${spec.min}..${spec.max}`;
    }
    return result(
      shown,
      "query",
      `a line of the AT+SKTQUERY answer: the global option ${
        query[1]
      }, set by AT+SKTCFG`,
      [field],
      { command: "SKTQUERY" },
    );
  }
  if (text.startsWith("link_id:")) return stateLine(shown, text);
  if (text.startsWith("+SKTREAD:")) return readLine(shown, line);
  if (text.startsWith("[$][SKT][DATA]")) return dataLine(shown, line);
  if (text.startsWith("[$][SKT][EVENT]")) return connectLine(shown, text);
  if (text.startsWith("[$]")) {
    return result(
      shown,
      "unrecognised",
      "an unsolicited [$] line that the socket commands do not print",
    );
  }
  return result(
    shown,
    "unrecognised",
    "not a line a module prints for the socket commands, and not a command (commands start with AT+): as a command the module gives no answer",
  );
}

function errorLine(
  shown: string,
  code: number,
  command: CommandName | undefined,
): Explanation {
  const notes: string[] = [];
  const names = command ? [command] : COMMAND_NAMES;
  const meanings = names.flatMap((name) => {
    const meaning = ERROR_MEANINGS[name][code];
    return meaning === undefined ? [] : [{ command: name, meaning }];
  });
  for (const m of meanings) {
    const note = ERROR_NOTES[`${m.command} ${code}`];
    if (note) notes.push(`AT+${m.command} ERROR: ${code}: ${note}`);
  }
  if (code === 1) notes.push(OVERLONG_NOTE);
  if (meanings.length === 0) {
    const which = command ? `AT+${command}` : "any socket command";
    return result(
      shown,
      "error",
      `ERROR: ${code}: the reference lists no such code for ${which}`,
      [],
      {
        command: command ?? null,
        error: { code, meaning: "not in the reference", detail: null },
        valid: false,
        notes,
      },
    );
  }
  const error: ExplainedError = {
    code,
    meaning: meanings.length === 1
      ? meanings[0].meaning
      : meanings.map((m) => `AT+${m.command}: ${m.meaning}`).join("; "),
    detail: null,
    meanings,
  };
  const summary = command
    ? `ERROR: ${code}: AT+${command} failed: ${meanings[0].meaning}`
    : meanings.length === 1
    ? `ERROR: ${code}: the command in flight failed; only AT+${
      meanings[0].command
    } has this code: ${meanings[0].meaning}`
    : `ERROR: ${code}: the command in flight failed; the meaning depends on the command (say --command NAME to pick one)`;
  return result(shown, "error", summary, [], {
    command: command ?? null,
    error,
    notes,
  });
}

function stateLine(shown: string, text: string): Explanation {
  const m = STATE.exec(text);
  if (!m) {
    return result(
      shown,
      "unrecognised",
      "starts like an AT+SKTSTATE line but lacks its eight fields: link_id:<id>,<role>,<protocol>,src_address:<ip>,src_port:<port>,dst_address:<ip>,dst_port:<port>,socket_fd:<fd>",
      [],
      { command: "SKTSTATE" },
    );
  }
  const [, id, role, protocol, srcIp, srcPort, dstIp, dstPort, fd] = m;
  const fields: ExplainedField[] = [linkField("link_id", id, "the link's id")];
  const roleField: ExplainedField = {
    name: "role",
    value: role,
    meaning: {
      server: "a listening server (AT+SKTSERVER)",
      client: "a client (AT+SKTCLIENT)",
      seed: "a client that connected to one of the module's servers",
    }[role] ?? "server, client or seed",
  };
  if (!["server", "client", "seed"].includes(role)) {
    roleField.problem = `role "${role}" is not server, client or seed`;
  }
  fields.push(roleField);
  const protoField: ExplainedField = {
    name: "protocol",
    value: protocol,
    meaning: { tcp: "TCP", udp: "UDP", ssl: "TLS (printed as ssl here)" }[
      protocol
    ] ?? "tcp, udp or ssl",
  };
  if (protocol === "tls") {
    protoField.problem =
      "AT+SKTSTATE prints TLS as ssl (tls only in the connect event)";
  } else if (!["tcp", "udp", "ssl"].includes(protocol)) {
    protoField.problem = `protocol "${protocol}" is not tcp, udp or ssl`;
  } else if (role === "seed" && protocol === "udp") {
    protoField.problem = "a seed is a TCP or TLS connection, never UDP";
  }
  fields.push(protoField);
  const server = role === "server";
  // at_sktstate: a TCP client shows lwip_getsockname's address and port; a
  // UDP or TLS client 0.0.0.0 and the src_port given; a seed 0.0.0.0:0.
  const tcpClient = role === "client" && protocol === "tcp";
  const source = ipField(
    "src_address",
    srcIp,
    server
      ? "the module's own address"
      : tcpClient
      ? "the module's local address of the connection"
      : `unused for ${role}s: 0.0.0.0`,
  );
  const sourcePort = portField(
    "src_port",
    srcPort,
    server
      ? "the port the server listens on"
      : tcpClient
      ? "the local (ephemeral) port of the connection"
      : role === "client"
      ? "the src_port given to AT+SKTCLIENT (0 when none)"
      : "unused for seeds: 0",
    server ? 1 : 0,
  );
  const dest = ipField(
    "dst_address",
    dstIp,
    server ? "unused for servers: 0.0.0.0" : "the peer's address",
  );
  const destPort = portField(
    "dst_port",
    dstPort,
    server ? "unused for servers: 0" : "the peer's port",
    server ? 0 : 1,
  );
  if (server) {
    if (dstIp !== "0.0.0.0") {
      dest.problem ??= "a server shows 0.0.0.0 as destination";
    }
    if (dstPort !== "0") {
      destPort.problem ??= "a server shows 0 as destination port";
    }
  } else if (role === "seed") {
    if (srcIp !== "0.0.0.0") {
      source.problem ??= "a seed shows 0.0.0.0 as source";
    }
    if (srcPort !== "0") {
      sourcePort.problem ??= "a seed shows 0 as source port";
    }
  } else if (role === "client" && !tcpClient && srcIp !== "0.0.0.0") {
    source.problem ??= `a ${protocol} client shows 0.0.0.0 as source`;
  }
  fields.push(source, sourcePort, dest, destPort);
  const fdField: ExplainedField = {
    name: "socket_fd",
    value: Number(fd),
    meaning: fd === "-1"
      ? "-1: the socket has gone (closed at once when the peer of an auto_rcv=1 link closes; for auto_rcv=0, by the AT+SKTREAD that met the end); reads and sends are ERROR: 1, and the link stays in the table until AT+SKTDEL frees it"
      : "the lwIP socket number (a small number, lowest free from 0)",
  };
  if (!/^(-1|\d+)$/.test(fd)) {
    fdField.value = fd;
    fdField.problem = `socket_fd "${fd}" is not a number`;
  }
  fields.push(fdField);
  const peer = server
    ? `listening on port ${srcPort}`
    : `with peer ${dstIp}:${dstPort}`;
  return result(
    shown,
    "state",
    `a line of the AT+SKTSTATE answer: link ${id}, a ${protocol} ${role} ${peer}${
      fd === "-1" ? ", whose peer has gone" : ""
    }`,
    fields,
    { command: "SKTSTATE" },
  );
}

function connectLine(shown: string, text: string): Explanation {
  const m = CONNECT.exec(text);
  if (!m) {
    return result(
      shown,
      "unrecognised",
      "an [$][SKT][EVENT] line not in the connect event's form: [$][SKT][EVENT]: A client[link_id:<seed>,seed,<tcp|tls>,dst_address:<ip>,dst_port:<port>] connected to server[link_id:<server>]",
    );
  }
  const [, seed, protocol, ip, port, server] = m;
  const protoField: ExplainedField = {
    name: "protocol",
    value: protocol,
    meaning: protocol === "tls" ? "TLS (AT+SKTSTATE shows it as ssl)" : "TCP",
  };
  if (protocol !== "tcp" && protocol !== "tls") {
    protoField.problem = `protocol "${protocol}" is not tcp or tls`;
  }
  const fields = [
    linkField(
      "link_id",
      seed,
      "the seed: the new connection's link id (the lowest free one)",
    ),
    protoField,
    ipField("dst_address", ip, "the client's address"),
    portField("dst_port", port, "the client's port"),
    linkField("server", server, "the link id of the server it connected to"),
  ];
  if (seed === server) {
    fields[0].problem = "a seed never has its server's link id";
  }
  return result(
    shown,
    "connect",
    `a client ${ip}:${port} connected to the ${protocol} server on link ${server}; it is now seed link ${seed} (use it with AT+SKTSEND, AT+SKTREAD, AT+SKTDEL)`,
    fields,
  );
}

/**
 * Splits the line end (and for reads the OK) that may follow a payload:
 * nothing when exactly `size` bytes are given, else the first tail found.
 */
function payloadOf(rest: Uint8Array, size: number, ok: boolean): {
  payload: Uint8Array;
  tail: string;
} {
  if (rest.length !== size) {
    const text = decodeLatin1(rest.subarray(Math.max(0, rest.length - 6)));
    for (const tail of ok ? ["\r\nOK\r\n", "\r\nOK", "\r\n"] : ["\r\n"]) {
      if (text.endsWith(tail)) {
        return { payload: rest.subarray(0, rest.length - tail.length), tail };
      }
    }
  }
  return { payload: rest, tail: "" };
}

function dataLine(shown: string, line: Uint8Array): Explanation {
  const text = decodeLatin1(line.subarray(0, 80));
  const m = DATA_HEAD.exec(text);
  if (!m) {
    return result(
      shown,
      "unrecognised",
      "a [$][SKT][DATA] line without a valid header: [$][SKT][DATA][<id>][<len>]:<bytes> (UDP: [$][SKT][DATA][<id>][<len>][<ip>][<port>]:<bytes>)",
    );
  }
  const [head, id, len, ip, port] = m;
  const size = Number(len);
  const fields = [
    linkField("link_id", id, "the auto_rcv=1 link the data arrived on"),
    {
      name: "len",
      value: size,
      meaning: "bytes of data that follow the colon",
    } as ExplainedField,
  ];
  if (ip !== undefined) {
    fields.push(ipField("ip", ip, "the UDP sender's address"));
    fields.push(portField("port", port, "the UDP sender's port"));
  }
  const { payload } = payloadOf(line.subarray(head.length), size, false);
  const dataField: ExplainedField = {
    name: "data",
    value: showBytes(payload, 200),
    meaning: `${payload.length} raw byte${
      payload.length === 1 ? "" : "s"
    }, any values (CR, LF and NUL included), not escaped`,
  };
  if (payload.length !== size) {
    dataField.problem = payload.length < size
      ? `len says ${size} bytes but only ${payload.length} follow`
      : `len says ${size} bytes but ${payload.length} follow (after them the line must end with \\r\\n)`;
  }
  fields.push(dataField);
  if (size > 16384) {
    fields[1].problem =
      "a module reads at most 16384 bytes at once (AT_SOCKET_RECEIVE_BUFFER_SIZE): one DATA line carries no more";
  }
  const notes = [
    "a host reads exactly len bytes after the colon (they may contain CR LF), then the CR LF that ends the line",
  ];
  return result(
    shown,
    "data",
    `${size} byte${size === 1 ? "" : "s"} received on auto_rcv link ${id}${
      ip !== undefined ? ` (UDP) from ${ip}:${port}` : " (TCP or TLS)"
    }`,
    fields,
    { notes },
  );
}

function readLine(shown: string, line: Uint8Array): Explanation {
  const text = decodeLatin1(line.subarray(0, 80));
  const m = READ_HEAD.exec(text);
  if (!m) {
    return result(
      shown,
      "unrecognised",
      "a +SKTREAD line without a valid header: +SKTREAD:<link_id>,<actual_recv_size>,[<ip>,<port>,]<data>",
      [],
      { command: "SKTREAD" },
    );
  }
  const [head, id, len] = m;
  const size = Number(len);
  let rest = line.subarray(head.length);
  const fields: ExplainedField[] = [
    linkField("link_id", id, "the link read"),
    {
      name: "actual_recv_size",
      value: size,
      meaning:
        "bytes the module read (the printed data stops at the first NUL byte)",
    },
  ];
  const notes: string[] = [];
  const udp = UDP_PREFIX.exec(decodeLatin1(rest.subarray(0, 24)));
  if (udp) {
    fields.push(ipField("udp_dstip", udp[1], "the UDP sender's address"));
    fields.push(
      portField(
        "udp_dstport",
        udp[2],
        "the UDP sender's port",
        size === 0 ? 0 : 1,
      ),
    );
    rest = rest.subarray(udp[0].length);
    notes.push(
      "read as the UDP form because the data starts with <ip>,<port>, (a TCP read whose data looks like that reads the same)",
    );
    // recvfrom fills in the sender of an empty datagram too; only a read
    // that found nothing (select timed out) leaves it 0.0.0.0,0 (at_sktread).
    const nothing = udp[1] === "0.0.0.0" && udp[2] === "0";
    if (size === 0 && nothing) {
      notes.push("a UDP read of nothing: the module prints 0.0.0.0,0");
    } else if (size === 0) {
      notes.push(
        `an empty (0-byte) datagram from ${udp[1]}:${
          udp[2]
        }; a read that found nothing would name 0.0.0.0,0`,
      );
    }
  }
  const { payload, tail } = payloadOf(rest, size, true);
  const dataField: ExplainedField = {
    name: "data",
    value: showBytes(payload, 200),
    meaning: `${payload.length} byte${payload.length === 1 ? "" : "s"} printed`,
  };
  if (payload.length > size) {
    dataField.problem =
      `${payload.length} bytes printed, more than actual_recv_size ${size}`;
  } else if (payload.length < size) {
    notes.push(
      `${
        size - payload.length
      } of the ${size} bytes are not printed: the firmware prints the data as a C string, so it stops at a NUL byte (or the line was cut short)`,
    );
  }
  fields.push(dataField);
  if (tail.includes("OK")) notes.push("followed by OK: the read succeeded");
  else notes.push("\\r\\nOK\\r\\n follows the data");
  return result(
    shown,
    "read",
    size === 0 && udp && (udp[1] !== "0.0.0.0" || udp[2] !== "0")
      ? `the AT+SKTREAD answer for link ${id}: an empty UDP datagram from ${
        udp[1]
      }:${udp[2]}`
      : size === 0
      ? `the AT+SKTREAD answer for link ${id}: no data was waiting`
      : `the AT+SKTREAD answer: ${size} byte${
        size === 1 ? "" : "s"
      } read from link ${id}${
        udp ? ` (UDP, sent by ${udp[1]}:${udp[2]})` : ""
      }`,
    fields,
    { command: "SKTREAD", notes },
  );
}
