import assert from "node:assert/strict";
import { CLIENT_TYPE } from "@atsock/protocol";
import { parseSeconds, UsageError } from "../usage.ts";
import {
  certFor,
  parseClientType,
  parseHost,
  parseIPv4,
  parseLinkId,
  parseOneShot,
  parsePort,
  parseServerType,
} from "./options.ts";
import { connectRequest } from "./connect.ts";
import { listenRequest } from "./listen.ts";
import { sendOptions } from "./send.ts";
import { readOptions } from "./read.ts";

const bad = (f: () => unknown, message: RegExp) =>
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof UsageError, String(e));
    assert.match(e.message, message);
    assert.doesNotMatch(e.message, /\n/);
    return true;
  });

Deno.test("ranges come from the protocol's limits", async (t) => {
  await t.step("link ids 0..19", () => {
    assert.equal(parseLinkId("0"), 0);
    assert.equal(parseLinkId("19"), 19);
    for (const text of ["20", "-1", "1.5", "", "x", "0x1", " 1"]) {
      bad(
        () => parseLinkId(text),
        /--link must be a whole number from 0 to 19/,
      );
    }
  });
  await t.step("ports 1..65535", () => {
    assert.equal(parsePort("1"), 1);
    assert.equal(parsePort("65535"), 65535);
    for (const text of ["0", "65536", "80a", "99999999999"]) {
      bad(
        () => parsePort(text),
        /--port must be a whole number from 1 to 65535/,
      );
    }
  });
  await t.step("certificate suites 1..10, only where the type uses one", () => {
    assert.equal(
      certFor("10", "client", CLIENT_TYPE.TLS_VERIFY_SERVER, "tls-verify"),
      10,
    );
    assert.equal(
      certFor(undefined, "client", CLIENT_TYPE.TLS, "tls"),
      undefined,
    );
    bad(
      () => certFor(undefined, "client", CLIENT_TYPE.TLS_MUTUAL, "tls-mutual"),
      /--cert 1\.\.10 is required/,
    );
    bad(
      () => certFor("11", "client", CLIENT_TYPE.TLS_CLIENT_CERT, "tls-cert"),
      /--cert must be .* 1 to 10/,
    );
    bad(
      () => certFor("1", "client", CLIENT_TYPE.TCP, "tcp"),
      /type tcp uses no certificate/,
    );
  });
  await t.step("types by name or code", () => {
    assert.equal(parseClientType("tls-mutual"), 5);
    assert.equal(parseClientType("0"), 0);
    assert.equal(parseServerType("tls-mutual"), 3);
    bad(
      () => parseServerType("tls-verify"),
      /udp, tcp, tls, tls-mutual \(or 0\.\.3\)/,
    );
    bad(() => parseClientType("6"), /or 0\.\.5/);
  });
  await t.step("addresses, hosts and seconds", () => {
    assert.equal(parseIPv4("192.168.1.10"), "192.168.1.10");
    bad(() => parseIPv4("256.1.1.1"), /IPv4/);
    bad(() => parseIPv4("::1"), /IPv4/);
    assert.equal(parseHost("example.com"), "example.com");
    for (const host of ["a,b", "a\\b", "a\tb", "\u00e9"]) {
      bad(() => parseHost(host), /--host: dst_host must be .* without ","/);
    }
    // A space is sent: the module answers a name it cannot resolve.
    assert.equal(parseHost("bad host"), "bad host");
    bad(() => parseHost("x".repeat(256)), /1\.\.255/);
    assert.equal(parseSeconds("0.5", "--wait"), 0.5);
    bad(() => parseSeconds("0", "--wait"), /more than 0/);
    bad(() => parseSeconds("1e3", "--wait"), /seconds/);
  });
});

Deno.test("the common options: one target, --baud only for serial, --timeout", () => {
  const parsed = parseOneShot(
    ["tcp:127.0.0.1:3333", "--json", "--timeout", "2.5"],
    {},
    { timeoutMs: 10000 },
  );
  assert.ok(parsed !== "help");
  assert.deepEqual(parsed.common, {
    target: { kind: "tcp", hostname: "127.0.0.1", port: 3333 },
    baud: 38400,
    json: true,
    timeoutMs: 2500,
  });
  assert.equal(parseOneShot(["-h"], {}, { timeoutMs: 1 }), "help");
  const opts = { timeoutMs: 1 };
  bad(() => parseOneShot([], {}, opts), /which module\?/);
  bad(() => parseOneShot(["a", "b"], {}, opts), /one target only/);
  bad(
    () => parseOneShot(["tcp::1", "--baud", "9600"], {}, opts),
    /serial device/,
  );
  bad(() => parseOneShot(["/dev/x", "--bogus"], {}, opts), /bogus/);
  bad(() => parseOneShot(["localhost:3333"], {}, opts), /did you mean tcp:/);
});

Deno.test("connect and listen options", () => {
  assert.deepEqual(
    connectRequest({
      link: "2",
      host: "10.0.0.1",
      port: "80",
      "auto-rcv": false,
    }),
    { linkId: 2, type: 1, host: "10.0.0.1", port: 80, autoReceive: false },
  );
  assert.deepEqual(
    connectRequest({
      link: "0",
      type: "udp",
      host: "h",
      port: "1",
      "src-port": "5000",
      "auto-rcv": true,
    }),
    {
      linkId: 0,
      type: 0,
      host: "h",
      port: 1,
      localPort: 5000,
      autoReceive: true,
    },
  );
  bad(
    () => connectRequest({ link: "0", type: "udp", host: "h", port: "1" }),
    /--src-port is required/,
  );
  bad(
    () => connectRequest({ link: "0", host: "h", port: "1", "src-port": "2" }),
    /--src-port is for a udp client/,
  );
  bad(() => connectRequest({ host: "h", port: "1" }), /--link is required/);
  bad(() => connectRequest({ link: "0", port: "1" }), /--host is required/);
  assert.deepEqual(
    listenRequest({ link: "1", type: "tls", cert: "3", port: "4433" }),
    { linkId: 1, type: 2, port: 4433, certIndex: 3, autoReceive: false },
  );
  bad(
    () => listenRequest({ link: "1", type: "tls", port: "4433" }),
    /--cert 1\.\.10 is required for type tls/,
  );
  bad(() => listenRequest({ link: "1" }), /--port is required/);
});

Deno.test("send options: one payload, escapes, a UDP receiver", () => {
  const options = sendOptions({ link: "0", data: "a\\r\\n\\x00\\\\é" });
  assert.deepEqual(options.payload, {
    kind: "data",
    data: new Uint8Array([0x61, 13, 10, 0, 0x5c, 0xc3, 0xa9]),
  });
  assert.deepEqual(
    sendOptions({ link: "3", file: "fw.bin", ip: "10.0.0.2", port: "9" }),
    {
      linkId: 3,
      payload: { kind: "file", path: "fw.bin" },
      destination: { ip: "10.0.0.2", port: 9 },
      progress: false,
    },
  );
  bad(() => sendOptions({ link: "0" }), /one of --data TEXT or --file PATH/);
  bad(() => sendOptions({ link: "0", data: "x", file: "y" }), /one of --data/);
  bad(() => sendOptions({ link: "0", data: "" }), /--data is empty/);
  bad(
    () => sendOptions({ link: "0", data: "\\q" }),
    /--data: unknown escape \\q/,
  );
  bad(
    () => sendOptions({ link: "0", data: "x", ip: "1.2.3.4" }),
    /go together/,
  );
  bad(() => sendOptions({ link: "0", data: "x", ip: "h", port: "1" }), /IPv4/);
});

Deno.test("read options: one output, --raw never to a terminal", () => {
  assert.deepEqual(readOptions({ link: "1" }, false, true), {
    linkId: 1,
    output: { kind: "text" },
  });
  assert.deepEqual(
    readOptions({ link: "1", size: "100", wait: "2", out: "f" }, true, true),
    { linkId: 1, size: 100, waitMs: 2000, output: { kind: "file", path: "f" } },
  );
  assert.deepEqual(readOptions({ link: "1", raw: true }, false, false).output, {
    kind: "raw",
  });
  assert.deepEqual(readOptions({ link: "1" }, true, false).output, {
    kind: "json",
  });
  bad(
    () => readOptions({ link: "1", raw: true }, false, true),
    /redirect stdout/,
  );
  bad(
    () => readOptions({ link: "1", hex: true, out: "f" }, false, false),
    /choose one of --out, --hex/,
  );
  bad(
    () => readOptions({ link: "1", hex: true }, true, false),
    /base64: drop --hex/,
  );
  bad(() => readOptions({ link: "1", size: "0" }, false, false), /--size/);
});
