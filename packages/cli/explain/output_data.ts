/**
 * Explains the lines that carry received data: `[$][SKT][DATA]` lines of
 * `auto_rcv=1` links and the `+SKTREAD` answer, payload included.
 *
 * @module
 */

import { decodeLatin1 } from "@atsock/protocol";
import { showBytes } from "./escapes.ts";
import type { ExplainedField, Explanation } from "./explanation.ts";
import { ipField, linkField, portField, result } from "./output_fields.ts";

const DATA_HEAD =
  /^\[\$\]\[SKT\]\[DATA\]\[(\d+)\]\[(\d+)\](?:\[([^\]]*)\]\[(\d+)\])?:/;
const READ_HEAD = /^\+SKTREAD:(\d+),(\d+),/;
const UDP_PREFIX = /^(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}),(\d{1,5}),/;

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

/** A `[$][SKT][DATA]` line. */
export function dataLine(shown: string, line: Uint8Array): Explanation {
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

/** The `+SKTREAD` answer line. */
export function readLine(shown: string, line: Uint8Array): Explanation {
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
