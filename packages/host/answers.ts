/**
 * Parsers for the information lines of answers: the `AT+SKTQUERY` block
 * and the `AT+SKTSTATE` lines.
 *
 * @module
 */

import {
  type Answer,
  COMMANDS,
  type Endpoint,
  type LinkState,
  type SocketConfig,
} from "@atsock/protocol";
import { UnexpectedAnswerError } from "./errors.ts";

/** Parses the `AT+SKTQUERY` block. */
export function parseQuery(lines: readonly string[]): SocketConfig {
  const value = (name: string) => {
    const line = lines.find((l) => l.startsWith(`${name}: `));
    if (line === undefined) {
      throw new UnexpectedAnswerError("AT+SKTQUERY", `no ${name} line`);
    }
    return Number(line.slice(name.length + 2));
  };
  // One line per AT+SKTCFG field of the catalogue, under its name.
  return Object.fromEntries(
    COMMANDS.SKTCFG.fields.map((spec) => {
      const n = value(spec.name);
      return [spec.key, spec.kind === "flag" ? n === 1 : n];
    }),
  ) as unknown as SocketConfig;
}

const STATE_LINE =
  /^link_id:(\d+),(server|client|seed),(tcp|udp|ssl),src_address:([^,]*),src_port:(\d+),dst_address:([^,]*),dst_port:(\d+),socket_fd:(-?\d+)$/;

/** Parses one `AT+SKTSTATE` line (undefined if it is not one). */
export function parseStateLine(line: string): LinkState | undefined {
  const m = STATE_LINE.exec(line);
  if (!m) return undefined;
  return {
    linkId: Number(m[1]),
    role: m[2] as LinkState["role"],
    protocol: m[3] as LinkState["protocol"],
    source: { ip: m[4], port: Number(m[5]) },
    destination: { ip: m[6], port: Number(m[7]) },
    socketFd: Number(m[8]),
  };
}

/** What `AtDriver.read` gives for one `AT+SKTREAD`. */
export interface ReadResult {
  /** The bytes printed. */
  data: Uint8Array;
  /** Bytes the module read (more than `data` when cut at a NUL). */
  size: number;
  /** Whether the module cut the data at a NUL byte. */
  truncated: boolean;
  /** The UDP sender, if a datagram came. */
  sender?: Endpoint;
}

/** The result of an `AT+SKTREAD` answer. */
export function readResult(answer: Answer): ReadResult {
  const read = answer.read;
  if (!read) return { data: new Uint8Array(), size: 0, truncated: false };
  return {
    data: read.data,
    size: read.size,
    truncated: read.truncated,
    // at_sktread: recvfrom names the sender of an empty datagram too;
    // only a read that found nothing leaves 0.0.0.0,0.
    ...(read.sender &&
        !(read.sender.ip === "0.0.0.0" && read.sender.port === 0)
      ? { sender: read.sender }
      : {}),
  };
}
