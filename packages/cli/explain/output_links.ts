/**
 * Explains the lines that describe links: a line of the `AT+SKTSTATE`
 * answer and the connect event of a server's new seed.
 *
 * @module
 */

import { PARAMETER_ERROR } from "@atsock/protocol";
import type { ExplainedField, Explanation } from "./explanation.ts";
import { ipField, linkField, portField, result } from "./output_fields.ts";

const CONNECT =
  /^\[\$\]\[SKT\]\[EVENT\]: A client\[link_id:([^,\]]*),seed,([^,\]]*),dst_address:([^,\]]*),dst_port:([^,\]]*)\] connected to server\[link_id:([^\]]*)\]$/;
const STATE =
  /^link_id:([^,]*),([^,]*),([^,]*),src_address:([^,]*),src_port:([^,]*),dst_address:([^,]*),dst_port:([^,]*),socket_fd:([^,]*)$/;

/** A line of the `AT+SKTSTATE` answer. */
export function stateLine(shown: string, text: string): Explanation {
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
      ? `-1: the socket has gone (closed at once when the peer of an auto_rcv=1 link closes; for auto_rcv=0, by the AT+SKTREAD that met the end); reads and sends are ERROR: ${PARAMETER_ERROR}, and the link stays in the table until AT+SKTDEL frees it`
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

/** The connect event: a client connected to a server of the module. */
export function connectLine(shown: string, text: string): Explanation {
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
