import assert from "node:assert/strict";
import fc from "fast-check";
import {
  ATCMD_READY,
  concat,
  DEFAULT_CONFIG,
  encode,
  formatConnectEvent,
  formatData,
  formatError,
  formatQuery,
  formatRead,
  formatState,
  HIGH_WATERMARK,
  LOW_WATERMARK,
  type ModuleEvent,
  OK,
  OutputParser,
  TT_PROMPT,
} from "./mod.ts";

function parse(chunks: Uint8Array[], hint?: "udp" | "tcp"): ModuleEvent[] {
  const parser = new OutputParser();
  if (hint) parser.hintRead(hint);
  const events: ModuleEvent[] = [];
  for (const chunk of chunks) events.push(...parser.push(chunk));
  // Merge nothing: a DATA event is never split, whatever the chunks.
  return events;
}

function everySplit(bytes: Uint8Array): Uint8Array[][] {
  const all: Uint8Array[][] = [[bytes]];
  for (let i = 1; i < bytes.length; i++) {
    all.push([bytes.subarray(0, i), bytes.subarray(i)]);
  }
  all.push([...bytes].map((b) => Uint8Array.of(b)));
  return all;
}

const binary = new Uint8Array(64).map((_, i) => (i * 37) & 0xff);
binary[5] = 13;
binary[6] = 10;

const transcript = concat([
  ATCMD_READY,
  formatQuery(DEFAULT_CONFIG),
  formatConnectEvent({
    linkId: 3,
    protocol: "tcp",
    peer: { ip: "127.0.0.1", port: 50000 },
    serverId: 0,
  }),
  formatData(3, binary),
  formatData(4, encode("x\r\nOK\r\n"), { ip: "10.1.2.3", port: 7 }),
  formatState([{
    linkId: 0,
    role: "server",
    protocol: "tcp",
    source: { ip: "127.0.0.1", port: 6666 },
    destination: { ip: "0.0.0.0", port: 0 },
    socketFd: 0,
  }]),
  formatRead(1, encode("Hello!")),
  formatError(4),
  TT_PROMPT,
  HIGH_WATERMARK,
  LOW_WATERMARK,
  OK,
  encode("[$][SKT][OTHER]:thing\r\n"),
]);

const expected: ModuleEvent[] = [
  { type: "ready" },
  { type: "line", text: "Global SOCKET configuration:" },
  { type: "line", text: "so_sndtimeo: 0" },
  { type: "line", text: "so_rcvtimeo: 0" },
  { type: "line", text: "tcp_nodelay: 0" },
  { type: "line", text: "so_keepalive: 0" },
  { type: "line", text: "tcp_keepidle: 0" },
  { type: "line", text: "tcp_keepintvl: 0" },
  { type: "line", text: "tcp_keepcnt: 0" },
  { type: "ok" },
  {
    type: "connect",
    linkId: 3,
    protocol: "tcp",
    peer: { ip: "127.0.0.1", port: 50000 },
    serverId: 0,
  },
  { type: "data", linkId: 3, data: binary },
  {
    type: "data",
    linkId: 4,
    data: encode("x\r\nOK\r\n"),
    sender: { ip: "10.1.2.3", port: 7 },
  },
  {
    type: "line",
    text:
      "link_id:0,server,tcp,src_address:127.0.0.1,src_port:6666,dst_address:0.0.0.0,dst_port:0,socket_fd:0",
  },
  { type: "ok" },
  {
    type: "read",
    linkId: 1,
    size: 6,
    data: encode("Hello!"),
    truncated: false,
  },
  { type: "ok" },
  { type: "error", code: 4 },
  { type: "prompt" },
  { type: "watermark", level: "high" },
  { type: "watermark", level: "low" },
  { type: "ok" },
  { type: "urc", text: "[$][SKT][OTHER]:thing" },
];

Deno.test("every kind of module output becomes its event, however split", () => {
  for (const chunks of everySplit(transcript)) {
    assert.deepEqual(parse(chunks), expected);
  }
});

Deno.test("SKTREAD: UDP sender, empty, cut at NUL, binary with CR LF", () => {
  const udp = formatRead(3, encode("12345"), {
    ip: "192.168.1.101",
    port: 61409,
  });
  for (const chunks of everySplit(udp)) {
    assert.deepEqual(parse(chunks), [{
      type: "read",
      linkId: 3,
      size: 5,
      data: encode("12345"),
      truncated: false,
      sender: { ip: "192.168.1.101", port: 61409 },
    }, { type: "ok" }]);
  }
  assert.deepEqual(parse([formatRead(2, new Uint8Array())]), [
    {
      type: "read",
      linkId: 2,
      size: 0,
      data: new Uint8Array(),
      truncated: false,
    },
    { type: "ok" },
  ]);
  assert.deepEqual(parse([formatRead(2, new Uint8Array([65, 0, 66]))]), [
    { type: "read", linkId: 2, size: 3, data: encode("A"), truncated: true },
    { type: "ok" },
  ]);
  const crlf = formatRead(1, encode("a\r\nb"));
  for (const chunks of everySplit(crlf)) {
    assert.deepEqual(parse(chunks), [
      {
        type: "read",
        linkId: 1,
        size: 4,
        data: encode("a\r\nb"),
        truncated: false,
      },
      { type: "ok" },
    ]);
  }
  // TCP data that looks like an address is data when the hint says TCP.
  const tricky = formatRead(1, encode("1.2.3.4,5,x"));
  assert.deepEqual(parse([tricky], "tcp"), [
    {
      type: "read",
      linkId: 1,
      size: 11,
      data: encode("1.2.3.4,5,x"),
      truncated: false,
    },
    { type: "ok" },
  ]);
});

Deno.test("echoed commands in Manual Test Mode are told apart", () => {
  assert.deepEqual(parse([encode("AT+SKTSTATE\r\n\r\nOK\r\n")]), [
    { type: "echo", text: "AT+SKTSTATE" },
    { type: "ok" },
  ]);
});

Deno.test("garbage is reported and the parser resynchronises", () => {
  const parser = new OutputParser({ maxLineLength: 100 });
  const events = parser.push(
    concat([new Uint8Array(250).fill(0x41), encode("\r\nOK\r\n")]),
  );
  assert.equal(events[0].type, "garbage");
  assert.deepEqual(events.at(-1), { type: "ok" });
  assert.ok(parser.buffered === 0);
  // A DATA line missing its CR LF does not swallow what follows.
  const after = parser.push(encode("[$][SKT][DATA][1][2]:abOK\r\n"));
  assert.deepEqual(after, [
    { type: "data", linkId: 1, data: encode("ab") },
    { type: "ok" },
  ]);
});

Deno.test("random module output never throws and keeps memory bounded (property)", () => {
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 30 }),
      (chunks) => {
        const parser = new OutputParser({ maxLineLength: 512 });
        for (const chunk of chunks) parser.push(chunk);
        // A DATA payload may be pending (its length is at most 5 digits).
        assert.ok(parser.buffered <= 100000);
        parser.push(encode("\r\n"));
      },
    ),
    { numRuns: 300 },
  );
});
