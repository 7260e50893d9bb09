import assert from "node:assert/strict";
import { formatStateTable } from "./state.ts";
import { formatHex, formatText } from "./read.ts";
import { describeFailure } from "./drive.ts";
import { AtError, CommandTimeoutError } from "@atsock/host";

Deno.test("the link table as text", () => {
  assert.equal(formatStateTable([]), "no links in use");
  assert.equal(
    formatStateTable([
      {
        linkId: 0,
        role: "server",
        protocol: "tcp",
        source: { ip: "192.168.0.109", port: 6666 },
        destination: { ip: "0.0.0.0", port: 0 },
        socketFd: 0,
      },
      {
        linkId: 12,
        role: "seed",
        protocol: "ssl",
        source: { ip: "0.0.0.0", port: 0 },
        destination: { ip: "192.168.0.103", port: 49941 },
        socketFd: -1,
      },
    ]),
    "LINK  ROLE    PROTO  SOURCE              DESTINATION          SOCKET\n" +
      "0     server  tcp    192.168.0.109:6666  -                    0\n" +
      "12    seed    tls    -                   192.168.0.103:49941  gone",
  );
});

Deno.test("read data shown safely: escaped, per datagram, hex", () => {
  const bytes = new Uint8Array([
    0x68,
    0x69,
    0x1b,
    0x5b,
    0x32,
    0x4a,
    0x0d,
    0x0a,
  ]);
  // An escape sequence from the network never reaches the terminal as such.
  assert.equal(formatText([{ data: bytes, size: 8 }]), "hi\\x1b[2J\\r\\n\n");
  assert.equal(
    formatText([
      {
        data: new Uint8Array([0x61]),
        size: 1,
        sender: { ip: "1.2.3.4", port: 5 },
      },
      {
        data: new Uint8Array([0x5c]),
        size: 1,
        sender: { ip: "1.2.3.4", port: 6 },
      },
    ]),
    "1.2.3.4:5: a\n1.2.3.4:6: \\\\\n",
  );
  assert.equal(formatText([]), "");
  assert.equal(
    formatHex([{ data: new TextEncoder().encode("Hi\n"), size: 3 }]),
    "0000  48 69 0a                                          |Hi.|\n",
  );
});

Deno.test("failures are one line, with the module's code and meaning", () => {
  const failure = describeFailure(
    new AtError("SKTREAD", 4, { detail: "answer to AT+SKTREAD=1,10" }),
  );
  assert.deepEqual(failure, {
    message:
      "AT+SKTREAD: ERROR: 4 (Failed to read data): the peer has closed the link and everything was read; the module closed the socket",
    command: "AT+SKTREAD",
    code: 4,
    meaning: "Failed to read data",
  });
  assert.match(
    describeFailure(new CommandTimeoutError("AT+SKTSTATE", 500))!.message,
    /^AT\+SKTSTATE: no answer within 500 ms/,
  );
  assert.equal(describeFailure(new TypeError("bug")), undefined);
});
