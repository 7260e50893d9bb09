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
  MAX_PAYLOAD_LENGTH,
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

Deno.test("SKTREAD: data holding \\r\\nOK\\r\\n is read to its announced size", () => {
  // The module prints `+SKTREAD:1,8,a\r\nOK\r\nb` and then its OK.
  const answer = formatRead(1, encode("a\r\nOK\r\nb"));
  const input = concat([answer, formatError(2)]);
  const expected: ModuleEvent[] = [
    {
      type: "read",
      linkId: 1,
      size: 8,
      data: encode("a\r\nOK\r\nb"),
      truncated: false,
    },
    { type: "ok" },
    { type: "error", code: 2 },
  ];
  assert.deepEqual(parse([input]), expected);
  // The inner tail ends at offset 21 of the input, the real one at 28: a
  // push that ends between the two leaves the parser only the cut reading
  // (see the next test), any other split gives the same events.
  const header = "+SKTREAD:1,8,".length;
  for (const chunks of everySplit(input)) {
    let offset = 0;
    const ambiguous = chunks.some((chunk) => {
      offset += chunk.length;
      return offset >= header + 7 && offset < header + 8 + 6;
    });
    if (!ambiguous) assert.deepEqual(parse(chunks), expected);
  }
  // The same with a UDP sender, however the sender prefix is split.
  const udp = formatRead(3, encode("\r\nOK\r\n\r\nOK\r\n"), {
    ip: "10.0.0.1",
    port: 9,
  });
  for (let cut = 0; cut < 30; cut++) {
    assert.deepEqual(parse([udp.subarray(0, cut), udp.subarray(cut)]), [
      {
        type: "read",
        linkId: 3,
        size: 12,
        data: encode("\r\nOK\r\n\r\nOK\r\n"),
        truncated: false,
        sender: { ip: "10.0.0.1", port: 9 },
      },
      { type: "ok" },
    ], `cut at ${cut}`);
  }
});

Deno.test("SKTREAD: a NUL cut ends at the earliest OK, whatever follows it", () => {
  // Data "AB\0..." of 10 bytes prints as "AB"; the next output follows at once.
  const cut = formatRead(2, new Uint8Array([65, 66, 0, 1, 2, 3, 4, 5, 6, 7]));
  const input = concat([
    cut,
    formatData(1, encode("xy")),
    formatRead(2, new Uint8Array([0, 9])),
    encode("[$][SKT][OTHER]:z\r\n"),
  ]);
  const expected: ModuleEvent[] = [
    { type: "read", linkId: 2, size: 10, data: encode("AB"), truncated: true },
    { type: "ok" },
    { type: "data", linkId: 1, data: encode("xy") },
    {
      type: "read",
      linkId: 2,
      size: 2,
      data: new Uint8Array(),
      truncated: true,
    },
    { type: "ok" },
    { type: "urc", text: "[$][SKT][OTHER]:z" },
  ];
  for (const chunks of everySplit(input)) {
    assert.deepEqual(parse(chunks), expected);
  }
  // A push that ends right after an inner OK is taken as a cut too (the
  // module prints an answer in one go, so nothing more was on its way).
  const inner = formatRead(1, encode("a\r\nOK\r\nb"));
  assert.deepEqual(parse([inner.subarray(0, 20), inner.subarray(20)]), [
    { type: "read", linkId: 1, size: 8, data: encode("a"), truncated: true },
    { type: "ok" },
    { type: "line", text: "b" },
    { type: "ok" },
  ]);
});

Deno.test("SKTREAD: no OK after the data is garbage, and what follows is parsed", () => {
  const expected: ModuleEvent[] = [
    {
      type: "garbage",
      bytes: encode("1.2.3.4"),
      reason: "+SKTREAD data of 1 bytes not followed by OK",
    },
    { type: "line", text: ",5x" },
    { type: "ok" },
  ];
  // The sender-looking bytes are held across pushes, then given back.
  for (
    const chunks of everySplit(encode("+SKTREAD:1,1,1.2.3.4,5x\r\nOK\r\n"))
  ) {
    assert.deepEqual(parse(chunks), expected);
  }
});

Deno.test("a DATA or SKTREAD length beyond the limit is garbage and memory stays bounded", () => {
  const parser = new OutputParser();
  const header = encode("[$][SKT][DATA][0][99999999999999]:");
  const events = parser.push(header);
  assert.equal(events.length, 1);
  assert.equal(events[0].type, "garbage");
  if (events[0].type === "garbage") {
    assert.deepEqual(events[0].bytes, header);
    assert.match(events[0].reason, /99999999999999 bytes, more than/);
  }
  const junk = new Uint8Array(65536).fill(0x41);
  for (let i = 0; i < 64; i++) {
    parser.push(junk);
    assert.ok(parser.buffered <= 4096, `buffered ${parser.buffered}`);
  }
  const after = parser.push(encode("\r\nOK\r\n"));
  assert.deepEqual(after.at(-1), { type: "ok" });
  assert.equal(parser.buffered, 0);

  const read = parser.push(encode(`+SKTREAD:0,${MAX_PAYLOAD_LENGTH + 1},`));
  assert.equal(read.length, 1);
  assert.equal(read[0].type, "garbage");
  parser.push(junk);
  assert.ok(parser.buffered <= 4096);
  assert.deepEqual(parser.push(encode("\r\nOK\r\n")).at(-1), { type: "ok" });

  // The limit itself is allowed.
  const small = new OutputParser({ maxPayloadLength: 4 });
  assert.deepEqual(
    small.push(
      concat([formatData(1, encode("abcd")), formatRead(2, encode("wxyz"))]),
    ),
    [
      { type: "data", linkId: 1, data: encode("abcd") },
      {
        type: "read",
        linkId: 2,
        size: 4,
        data: encode("wxyz"),
        truncated: false,
      },
      { type: "ok" },
    ],
  );
  assert.equal(small.push(formatData(1, encode("abcde")))[0].type, "garbage");
});

Deno.test("a megabyte of LF-only or CR-only lines in one chunk comes out whole", async (t) => {
  const lines: string[] = [];
  for (let size = 0, i = 0; size < 1 << 20; i++) {
    const line = i % 50 === 0 ? "[$][TT]:Low Watermark" : `so_sndtimeo: ${i}`;
    lines.push(line);
    size += line.length + 1;
  }
  for (const end of ["\n", "\r", "\r\n"]) {
    await t.step(JSON.stringify(end), () => {
      const parser = new OutputParser();
      const events = parser.push(encode(lines.join(end) + end));
      assert.equal(events.length, lines.length);
      events.forEach((event, i) => {
        if (i % 50 === 0) {
          assert.deepEqual(event, { type: "watermark", level: "low" });
        } else assert.deepEqual(event, { type: "line", text: lines[i] });
      });
      assert.equal(parser.buffered, 0);
    });
  }
});

/** Printed SKTREAD data that can only be read one way: no NUL, no inner tail. */
const plainData = fc.uint8Array({ maxLength: 40 }).filter((bytes) =>
  !bytes.includes(0) &&
  !new TextDecoder("latin1").decode(bytes).includes("\r\nOK")
);

Deno.test("any sequence of module output gives the same events however chunked (property)", () => {
  const piece: fc.Arbitrary<Uint8Array> = fc.oneof(
    fc.constant(OK),
    fc.integer({ min: 1, max: 15 }).map(formatError),
    fc.constant(TT_PROMPT),
    fc.constant(HIGH_WATERMARK),
    fc.constant(encode("[$][SKT][OTHER]:x,y\r\n")),
    fc.constant(encode("AT+SKTSTATE\r\n")),
    fc.tuple(fc.nat(19), fc.uint8Array({ maxLength: 40 })).map(([id, data]) =>
      formatData(id, data)
    ),
    fc.tuple(fc.nat(19), fc.uint8Array({ maxLength: 40 })).map(([id, data]) =>
      formatData(id, data, { ip: "10.1.2.3", port: 4000 })
    ),
    fc.tuple(fc.nat(19), plainData).map(([id, data]) => formatRead(id, data)),
    fc.tuple(fc.nat(19), plainData).map(([id, data]) =>
      formatRead(id, data, { ip: "192.168.1.101", port: 61409 })
    ),
  );
  fc.assert(
    fc.property(
      fc.array(piece, { maxLength: 12 }),
      fc.array(fc.integer({ min: 1, max: 23 }), { minLength: 1, maxLength: 8 }),
      (pieces, sizes) => {
        const input = concat(pieces);
        const whole = parse([input]);
        const chunks: Uint8Array[] = [];
        for (let i = 0, k = 0; i < input.length; k++) {
          const size = sizes[k % sizes.length];
          chunks.push(input.subarray(i, i + size));
          i += size;
        }
        assert.deepEqual(parse(chunks), whole);
        const bytewise = [...input].map((b) => Uint8Array.of(b));
        assert.deepEqual(parse(bytewise), whole);
        assert.ok(!whole.some((event) => event.type === "garbage"));
      },
    ),
    { numRuns: 500 },
  );
});

Deno.test("a long SKTREAD answer fed byte by byte is read in linear time", () => {
  // 64 KiB without CR: each byte may end the push, so the tail search must
  // only look at bytes it has not seen.
  const data = new Uint8Array(65536).map((_, i) => 0x20 + (i % 90));
  // Built by hand: formatRead prints nothing of 20000 bytes or more, as
  // at_printf does; the parser still takes any length it is given.
  const answer = concat([encode("+SKTREAD:4,65536,"), data, OK]);
  const parser = new OutputParser();
  parser.hintRead("tcp");
  const events: ModuleEvent[] = [];
  for (let i = 0; i < answer.length; i++) {
    events.push(...parser.push(answer.subarray(i, i + 1)));
  }
  assert.deepEqual(events, [
    { type: "read", linkId: 4, size: 65536, data, truncated: false },
    { type: "ok" },
  ]);
});
