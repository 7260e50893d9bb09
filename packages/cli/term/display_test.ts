import assert from "node:assert/strict";
import fc from "fast-check";
import {
  describeEvent,
  escapeBytes,
  escapeText,
  hexDump,
  logLine,
  styleLine,
  unescapePayload,
} from "./display.ts";

const enc = new TextEncoder();

Deno.test("escapeBytes: printable ASCII as is, everything else escaped", () => {
  assert.equal(
    escapeBytes(
      new Uint8Array([0x41, 0x00, 0x0d, 0x0a, 0x09, 0x5c, 0x1b, 0x7f, 0xff]),
    ),
    "A\\x00\\r\\n\\t\\\\\\x1b\\x7f\\xff",
  );
  // Nothing that reaches the screen can be a control character.
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      assert.doesNotMatch(escapeBytes(bytes), /[^\x20-\x7e]/);
    }),
  );
});

Deno.test("unescapePayload reverses escapeBytes", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      assert.deepEqual(unescapePayload(escapeBytes(bytes)), bytes);
    }),
  );
  assert.deepEqual(unescapePayload("é"), enc.encode("é")); // typed text is UTF-8
  for (const bad of ["\\", "\\q", "\\x4", "\\xzz"]) {
    assert.throws(() => unescapePayload(bad), SyntaxError, bad);
  }
});

Deno.test("escapeText: control characters of a line become escapes", () => {
  assert.equal(escapeText("a\x1b[2Jb\x00\xe9"), "a\\x1b[2Jb\\x00\\xe9");
  assert.equal(escapeText("C:\\dir"), "C:\\dir");
});

Deno.test("hexDump: offset, hex in two groups, ASCII", () => {
  const lines = hexDump(enc.encode("Hello, world!\r\n\x00xyz"));
  assert.deepEqual(lines, [
    "0000  48 65 6c 6c 6f 2c 20 77  6f 72 6c 64 21 0d 0a 00  |Hello, world!...|",
    "0010  78 79 7a                                          |xyz|",
  ]);
  assert.deepEqual(hexDump(new Uint8Array()), []);
});

Deno.test("styleLine: prefixes without colour, ANSI colours with", () => {
  const error = { kind: "error" as const, text: "ERROR: 1", hint: "meaning" };
  assert.equal(styleLine(error, { colour: false }), "< ERROR: 1  -> meaning");
  assert.equal(
    styleLine(error, { colour: true }),
    "\x1b[31mERROR: 1\x1b[0m\x1b[33m  -> meaning\x1b[0m",
  );
  assert.equal(
    styleLine({ kind: "urc", text: "[$]x" }, {
      colour: false,
      time: "12:00:00.000",
    }),
    "12:00:00.000 * [$]x",
  );
  assert.equal(
    styleLine({ kind: "urc", text: "[$]x" }, { colour: true }),
    "\x1b[36m[$]x\x1b[0m",
  );
  assert.equal(styleLine({ kind: "answer", text: "a" }, { colour: true }), "a");
  assert.equal(
    styleLine({ kind: "sent", text: "AT" }, { colour: false }),
    "> AT",
  );
  assert.equal(
    styleLine({ kind: "note", text: "n" }, { colour: false }),
    "# n",
  );
  assert.equal(
    logLine(
      { kind: "ok", text: "OK" },
      new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 6)),
    ),
    "2024-01-02T03:04:05.006Z < OK",
  );
});

Deno.test("describeEvent: payloads are escaped or dumped", () => {
  const data = new Uint8Array([0x68, 0x00, 0x1b]);
  assert.deepEqual(describeEvent({ type: "data", linkId: 1, data }, false), [
    { kind: "urc", text: "[$][SKT][DATA][1][3]:h\\x00\\x1b" },
  ]);
  assert.deepEqual(
    describeEvent({
      type: "data",
      linkId: 2,
      data,
      sender: { ip: "127.0.0.1", port: 9 },
    }, true),
    [
      { kind: "urc", text: "[$][SKT][DATA][2][3][127.0.0.1][9]:" },
      {
        kind: "urc",
        text: "  0000  68 00 1b                                          |h..|",
      },
    ],
  );
  assert.deepEqual(
    describeEvent({
      type: "read",
      linkId: 1,
      size: 5,
      data: enc.encode("ab"),
      truncated: true,
    }, false),
    [
      { kind: "answer", text: "+SKTREAD:1,5,ab" },
      {
        kind: "note",
        text: "the module cut the data at a NUL byte: 2 of 5 bytes shown",
      },
    ],
  );
  assert.deepEqual(
    describeEvent({ type: "urc", text: "[$]\x1b[31m" }, false),
    [{ kind: "urc", text: "[$]\\x1b[31m" }],
  );
  assert.deepEqual(
    describeEvent({ type: "watermark", level: "high" }, false),
    [{ kind: "urc", text: "[$][TT]:High Watermark" }],
  );
  assert.deepEqual(
    describeEvent({
      type: "connect",
      linkId: 1,
      protocol: "tls",
      peer: { ip: "10.0.0.2", port: 4000 },
      serverId: 0,
    }, false),
    [{
      kind: "urc",
      text:
        "[$][SKT][EVENT]: A client[link_id:1,seed,tls,dst_address:10.0.0.2,dst_port:4000] connected to server[link_id:0]",
    }],
  );
});
