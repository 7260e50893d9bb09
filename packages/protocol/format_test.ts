import assert from "node:assert/strict";
import fc from "fast-check";
import {
  ATCMD_READY,
  DEFAULT_CONFIG,
  encode,
  formatConnectEvent,
  formatData,
  formatError,
  formatQuery,
  formatRead,
  formatRequest,
  formatState,
  formatStateLine,
  HIGH_WATERMARK,
  type LinkState,
  LOW_WATERMARK,
  MAX_LINE_LENGTH,
  type ModuleEvent,
  OK,
  OutputParser,
  parseCommandLine,
  type Request,
  TT_PROMPT,
} from "./mod.ts";

const text = (bytes: Uint8Array) => new TextDecoder("latin1").decode(bytes);

Deno.test("final results and fixed lines", () => {
  assert.equal(text(OK), "\r\nOK\r\n");
  assert.equal(text(formatError(14)), "\r\nERROR: 14\r\n");
  assert.equal(text(ATCMD_READY), "ATCMD READY\r\n");
  assert.equal(text(TT_PROMPT), ">>>\r\n");
  assert.equal(text(HIGH_WATERMARK), "[$][TT]:High Watermark\r\n");
  assert.equal(text(LOW_WATERMARK), "[$][TT]:Low Watermark\r\n");
});

Deno.test("SKTQUERY block matches the reference example", () => {
  assert.equal(
    text(formatQuery(DEFAULT_CONFIG)),
    "\r\nGlobal SOCKET configuration:\r\nso_sndtimeo: 0\r\nso_rcvtimeo: 0\r\n" +
      "tcp_nodelay: 0\r\nso_keepalive: 0\r\ntcp_keepidle: 0\r\n" +
      "tcp_keepintvl: 0\r\ntcp_keepcnt: 0\r\n\r\nOK\r\n",
  );
});

/** The links of the reference's AT+SKTSTATE and AT+SKTDEL examples, in display order. */
const referenceLinks: LinkState[] = [
  {
    linkId: 0,
    role: "server",
    protocol: "tcp",
    source: { ip: "192.168.0.109", port: 6666 },
    destination: { ip: "0.0.0.0", port: 0 },
    socketFd: 0,
  },
  {
    linkId: 3,
    role: "seed",
    protocol: "tcp",
    source: { ip: "0.0.0.0", port: 0 },
    destination: { ip: "192.168.0.103", port: 49941 },
    socketFd: 3,
  },
  {
    linkId: 1,
    role: "server",
    protocol: "udp",
    source: { ip: "192.168.0.109", port: 12345 },
    destination: { ip: "0.0.0.0", port: 0 },
    socketFd: 1,
  },
  {
    linkId: 2,
    role: "client",
    protocol: "ssl",
    source: { ip: "0.0.0.0", port: 0 },
    destination: { ip: "192.168.0.103", port: 4433 },
    socketFd: 2,
  },
];

Deno.test("SKTSTATE answers match the reference's examples exactly", () => {
  // The reference prints each line on its own, then a blank line and OK.
  assert.equal(
    text(formatState(referenceLinks)),
    "link_id:0,server,tcp,src_address:192.168.0.109,src_port:6666,dst_address:0.0.0.0,dst_port:0,socket_fd:0\r\n" +
      "link_id:3,seed,tcp,src_address:0.0.0.0,src_port:0,dst_address:192.168.0.103,dst_port:49941,socket_fd:3\r\n" +
      "link_id:1,server,udp,src_address:192.168.0.109,src_port:12345,dst_address:0.0.0.0,dst_port:0,socket_fd:1\r\n" +
      "link_id:2,client,ssl,src_address:0.0.0.0,src_port:0,dst_address:192.168.0.103,dst_port:4433,socket_fd:2\r\n" +
      "\r\nOK\r\n",
  );
  // After AT+SKTDEL=0 the server and its seed (link 3) are gone.
  assert.equal(
    text(formatState(referenceLinks.slice(2))),
    "link_id:1,server,udp,src_address:192.168.0.109,src_port:12345,dst_address:0.0.0.0,dst_port:0,socket_fd:1\r\n" +
      "link_id:2,client,ssl,src_address:0.0.0.0,src_port:0,dst_address:192.168.0.103,dst_port:4433,socket_fd:2\r\n" +
      "\r\nOK\r\n",
  );
  assert.equal(text(formatState([])), "\r\nOK\r\n");
  // A link whose peer has gone shows socket_fd:-1 (BEHAVIOUR.md).
  assert.equal(
    formatStateLine({ ...referenceLinks[3], socketFd: -1 }),
    "link_id:2,client,ssl,src_address:0.0.0.0,src_port:0,dst_address:192.168.0.103,dst_port:4433,socket_fd:-1",
  );
});

Deno.test("at_sktread: answers for TCP, UDP, empty (UDP: 0.0.0.0,0), cut at NUL", () => {
  assert.equal(
    text(formatRead(1, encode("Hello!"))),
    "+SKTREAD:1,6,Hello!\r\nOK\r\n",
  );
  assert.equal(
    text(formatRead(3, encode("12345"), { ip: "192.168.1.101", port: 61409 })),
    "+SKTREAD:3,5,192.168.1.101,61409,12345\r\nOK\r\n",
  );
  assert.equal(
    text(formatRead(2, encode("ABC"))),
    "+SKTREAD:2,3,ABC\r\nOK\r\n",
  );
  assert.equal(
    text(formatRead(2, new Uint8Array())),
    "+SKTREAD:2,0,\r\nOK\r\n",
  );
  assert.equal(
    text(formatRead(2, new Uint8Array(), { ip: "0.0.0.0", port: 0 })),
    "+SKTREAD:2,0,0.0.0.0,0,\r\nOK\r\n",
  );
  assert.equal(
    text(formatRead(4, new Uint8Array([65, 0, 66]))),
    "+SKTREAD:4,3,A\r\nOK\r\n",
  );
});

Deno.test("at_sktread / at_printf: a string of 20000 bytes or more is not printed; the size still says how many were read", () => {
  const long = new Uint8Array(20000).fill(0x61);
  assert.equal(
    text(formatRead(3, long, { ip: "1.2.3.4", port: 5 })),
    "+SKTREAD:3,20000,1.2.3.4,5,\r\nOK\r\n",
  );
  const shorter = new Uint8Array(19999).fill(0x61);
  assert.equal(
    formatRead(3, shorter).length,
    "+SKTREAD:3,19999,".length + 19999 + 6,
  );
  // Cut at a NUL first: what is left counts.
  long[100] = 0;
  assert.equal(
    text(formatRead(3, long)),
    `+SKTREAD:3,20000,${"a".repeat(100)}\r\nOK\r\n`,
  );
});

Deno.test("connect event and DATA lines", () => {
  assert.equal(
    text(formatConnectEvent({
      linkId: 1,
      protocol: "tls",
      peer: { ip: "192.168.0.103", port: 49946 },
      serverId: 0,
    })),
    "[$][SKT][EVENT]: A client[link_id:1,seed,tls,dst_address:192.168.0.103,dst_port:49946] connected to server[link_id:0]\r\n",
  );
  assert.equal(
    text(formatData(1, new Uint8Array([0, 13, 10]))),
    "[$][SKT][DATA][1][3]:\x00\r\n\r\n",
  );
  assert.equal(
    text(formatData(2, encode("hi"), { ip: "10.0.0.1", port: 99 })),
    "[$][SKT][DATA][2][2][10.0.0.1][99]:hi\r\n",
  );
});

/** Every command line in the reference's examples, with its typed request. */
const referenceRequests: [string, Request][] = [
  ["AT+SKTCFG=2000,2000,,1,60,10,3", {
    command: "SKTCFG",
    config: {
      sendTimeout: 2000,
      receiveTimeout: 2000,
      noDelay: false,
      keepAlive: true,
      keepIdle: 60,
      keepInterval: 10,
      keepCount: 3,
    },
  }],
  ["AT+SKTQUERY", { command: "SKTQUERY" }],
  ["AT+SKTSERVER=1,1,,1234,1", {
    command: "SKTSERVER",
    linkId: 1,
    type: 1,
    port: 1234,
    autoReceive: true,
  }],
  ["AT+SKTSERVER=2,0,,4321,0", {
    command: "SKTSERVER",
    linkId: 2,
    type: 0,
    port: 4321,
    autoReceive: false,
  }],
  ["AT+SKTSERVER=0,3,1,4433,1", {
    command: "SKTSERVER",
    linkId: 0,
    type: 3,
    certIndex: 1,
    port: 4433,
    autoReceive: true,
  }],
  ["AT+SKTCLIENT=1,1,,192.168.0.100,6666,,1", {
    command: "SKTCLIENT",
    linkId: 1,
    type: 1,
    host: "192.168.0.100",
    port: 6666,
    autoReceive: true,
  }],
  ["AT+SKTCLIENT=0,0,,192.168.1.10,6666,12345,1", {
    command: "SKTCLIENT",
    linkId: 0,
    type: 0,
    host: "192.168.1.10",
    port: 6666,
    localPort: 12345,
    autoReceive: true,
  }],
  ["AT+SKTCLIENT=5,2,,192.168.1.10,4433,,1", {
    command: "SKTCLIENT",
    linkId: 5,
    type: 2,
    host: "192.168.1.10",
    port: 4433,
    autoReceive: true,
  }],
  ["AT+SKTSEND=0,6,,,Hello!", {
    command: "SKTSEND",
    linkId: 0,
    data: encode("Hello!"),
  }],
  ["AT+SKTSEND=3,10,192.168.1.101,61409,Lwip_Test!", {
    command: "SKTSEND",
    linkId: 3,
    data: encode("Lwip_Test!"),
    destination: { ip: "192.168.1.101", port: 61409 },
  }],
  ["AT+SKTSEND=2,5,,,12345", {
    command: "SKTSEND",
    linkId: 2,
    data: encode("12345"),
  }],
  ["AT+SKTREAD=1,10", { command: "SKTREAD", linkId: 1, size: 10 }],
  ["AT+SKTREAD=3,10", { command: "SKTREAD", linkId: 3, size: 10 }],
  ["AT+SKTREAD=2,10", { command: "SKTREAD", linkId: 2, size: 10 }],
  ["AT+SKTSENDRAW=0,6", { command: "SKTSENDRAW", linkId: 0, size: 6 }],
  ["AT+SKTSENDRAW=3,10,192.168.0.103,61468", {
    command: "SKTSENDRAW",
    linkId: 3,
    size: 10,
    destination: { ip: "192.168.0.103", port: 61468 },
  }],
  ["AT+SKTSENDRAW=2,5", { command: "SKTSENDRAW", linkId: 2, size: 5 }],
  ["AT+SKTSTATE", { command: "SKTSTATE" }],
  ["AT+SKTDEL=0", { command: "SKTDEL", linkId: 0 }],
];

Deno.test("every reference command line parses to its request and formats back", () => {
  for (const [line, request] of referenceRequests) {
    const parsed = parseCommandLine(encode(line));
    assert.equal(parsed.kind, "request", line);
    if (parsed.kind === "request") assert.deepEqual(parsed.request, request);
    // The reference leaves tcp_nodelay empty; the formatter writes its 0.
    const canonical = line === "AT+SKTCFG=2000,2000,,1,60,10,3"
      ? "AT+SKTCFG=2000,2000,0,1,60,10,3"
      : line;
    assert.equal(text(formatRequest(request)), canonical + "\r\n");
  }
  assert.equal(
    text(formatRequest({
      command: "SKTSEND",
      linkId: 3,
      data: encode("a,b\\"),
      destination: { ip: "192.168.1.101", port: 61409 },
    })),
    "AT+SKTSEND=3,4,192.168.1.101,61409,a\\,b\\\\\r\n",
  );
});

Deno.test("every reference +SKTREAD answer is read back by the output parser", () => {
  const answers: [string, "tcp" | "udp", ModuleEvent][] = [
    ["+SKTREAD:1,6,Hello!", "tcp", {
      type: "read",
      linkId: 1,
      size: 6,
      data: encode("Hello!"),
      truncated: false,
    }],
    ["+SKTREAD:3,5,192.168.1.101,61409,12345", "udp", {
      type: "read",
      linkId: 3,
      size: 5,
      data: encode("12345"),
      truncated: false,
      sender: { ip: "192.168.1.101", port: 61409 },
    }],
    ["+SKTREAD:2,3,ABC", "tcp", {
      type: "read",
      linkId: 2,
      size: 3,
      data: encode("ABC"),
      truncated: false,
    }],
  ];
  for (const [answer, hint, event] of answers) {
    const parser = new OutputParser();
    parser.hintRead(hint);
    assert.deepEqual(parser.push(encode(answer + "\r\nOK\r\n")), [event, {
      type: "ok",
    }]);
  }
});

// Valid requests, with the edge values of every range.
const INT_MAX = 2147483647;
const linkId = fc.oneof(
  fc.constantFrom(0, 19),
  fc.integer({ min: 0, max: 19 }),
);
const port = fc.oneof(
  fc.constantFrom(1, 65535),
  fc.integer({ min: 1, max: 65535 }),
);
const size = fc.oneof(
  fc.constantFrom(1, INT_MAX),
  fc.integer({ min: 1, max: INT_MAX }),
);
const ip = fc.oneof(
  fc.constantFrom("0.0.0.0", "255.255.255.255", "10.1.0.255"),
  fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((parts) =>
    parts.join(".")
  ),
);
const endpoint = fc.record({ ip, port });
const flag = fc.boolean();
const cert = fc.integer({ min: 1, max: 10 });
/** Printable ASCII but `,` and `\`. */
const hostChar = fc.integer({ min: 0x20, max: 0x7e })
  .filter((c) => c !== 0x2c && c !== 0x5c)
  .map((c) => String.fromCharCode(c));
const host = fc.oneof(
  ip,
  fc.stringMatching(/^[a-z0-9][a-z0-9.-]{0,254}$/),
  fc.string({ unit: hostChar, minLength: 1, maxLength: 255 }),
  fc.constantFrom("h", "h".repeat(255)),
);
/** Data without CR/LF (they end a command line), escapes and all. */
const data = fc.oneof(
  fc.uint8Array({ minLength: 1, maxLength: 900 }).map((bytes) =>
    bytes.map((b) => ([0, 8, 9, 0x7f, 0xff].includes(b) ? 32 : b))
      .map((b, i, all) => (b === 10 && all[i - 1] === 13 ? 32 : b))
  ),
  fc.constantFrom(
    new Uint8Array(900).fill(0x2c),
    new Uint8Array(900).fill(0x5c),
    Uint8Array.of(13),
    Uint8Array.of(10, 13),
  ),
);
const timeout = fc.oneof(
  fc.constantFrom(0, INT_MAX),
  fc.integer({ min: 0, max: INT_MAX }),
);

const arbitraryRequest: fc.Arbitrary<Request> = fc.oneof(
  fc.record({
    command: fc.constant("SKTCFG" as const),
    config: fc.record({
      sendTimeout: timeout,
      receiveTimeout: timeout,
      noDelay: flag,
      keepAlive: flag,
      keepIdle: fc.integer({ min: 0, max: 7200 }),
      keepInterval: fc.integer({ min: 0, max: 75 }),
      keepCount: fc.integer({ min: 0, max: 10 }),
    }),
  }),
  fc.constant({ command: "SKTQUERY" as const }),
  fc.constant({ command: "SKTSTATE" as const }),
  fc.record({
    command: fc.constant("SKTSERVER" as const),
    linkId,
    type: fc.constantFrom(0 as const, 1 as const),
    port,
    autoReceive: flag,
  }),
  fc.record({
    command: fc.constant("SKTSERVER" as const),
    linkId,
    type: fc.constantFrom(2 as const, 3 as const),
    certIndex: cert,
    port,
    autoReceive: flag,
  }),
  fc.record({
    command: fc.constant("SKTCLIENT" as const),
    linkId,
    type: fc.constant(0 as const),
    host,
    port,
    localPort: port,
    autoReceive: flag,
  }),
  fc.record({
    command: fc.constant("SKTCLIENT" as const),
    linkId,
    type: fc.constantFrom(1 as const, 2 as const),
    host,
    port,
    autoReceive: flag,
  }),
  fc.record({
    command: fc.constant("SKTCLIENT" as const),
    linkId,
    type: fc.constantFrom(3 as const, 4 as const, 5 as const),
    certIndex: cert,
    host,
    port,
    autoReceive: flag,
  }),
  fc.record({ command: fc.constant("SKTSEND" as const), linkId, data }),
  fc.record({
    command: fc.constant("SKTSEND" as const),
    linkId,
    data,
    destination: endpoint,
  }),
  fc.record({ command: fc.constant("SKTREAD" as const), linkId, size }),
  fc.record({ command: fc.constant("SKTSENDRAW" as const), linkId, size }),
  fc.record({
    command: fc.constant("SKTSENDRAW" as const),
    linkId,
    size,
    destination: endpoint,
  }),
  fc.record({ command: fc.constant("SKTDEL" as const), linkId }),
);

/** fast-check builds null-prototype records: copy them into plain objects. */
function plain<T>(value: T): T {
  if (value instanceof Uint8Array || typeof value !== "object" || !value) {
    return value;
  }
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [k, plain(v)]),
  ) as T;
}

function roundTrip(req: Request): void {
  const line = formatRequest(req);
  assert.deepEqual([...line.subarray(-2)], [13, 10]);
  assert.ok(line.length - 2 <= MAX_LINE_LENGTH);
  const parsed = parseCommandLine(line.subarray(0, -2));
  assert.equal(parsed.kind, "request");
  if (parsed.kind === "request") {
    assert.deepEqual(parsed.request, plain(req));
  }
}

Deno.test("parse(format(x)) equals x for every request (property)", () => {
  fc.assert(fc.property(arbitraryRequest, roundTrip), { numRuns: 2000 });
});

// Anything a caller might pass, valid or not.
const anyNumber = fc.oneof(
  fc.integer(),
  fc.integer({ min: -2, max: 21 }),
  fc.constantFrom(
    0,
    1,
    10,
    11,
    19,
    20,
    99,
    65535,
    65536,
    7200,
    7201,
    75,
    76,
    INT_MAX,
    INT_MAX + 1,
    -1,
    1.5,
    NaN,
    Infinity,
  ),
);
const anyFlag = fc.oneof(flag, fc.constantFrom(0, 1, "1", undefined));
const anyIp = fc.oneof(
  ip,
  fc.constantFrom("1.2.3", "256.0.0.1", "1.2.3.4 ", "a.b.c.d", "", "1.2.3.4,5"),
);
const anyHost = fc.oneof(
  host,
  fc.string({ maxLength: 300 }),
  fc.constantFrom(
    "",
    "a,b",
    "a\\b",
    "a\\",
    "a\rb",
    "a\nb",
    "a\u0000b",
    "h".repeat(256),
    "caf\u00e9",
    "\u0100",
  ),
);
const anyData = fc.oneof(
  data,
  fc.uint8Array({ maxLength: 2100 }),
  fc.constantFrom(
    new Uint8Array(),
    Uint8Array.of(13),
    Uint8Array.of(65, 10, 66),
    new Uint8Array(1000).fill(0x2c),
    new Uint8Array(1985).fill(0x41),
  ),
);
const anyEndpoint = fc.record({ ip: anyIp, port: anyNumber });
const optional = (keys: string[]) => ({
  requiredKeys: ["command", ...keys] as never[],
});

const anyRequest = fc.oneof(
  arbitraryRequest,
  fc.record({
    command: fc.constant("SKTCFG"),
    config: fc.record({
      sendTimeout: anyNumber,
      receiveTimeout: anyNumber,
      noDelay: anyFlag,
      keepAlive: anyFlag,
      keepIdle: anyNumber,
      keepInterval: anyNumber,
      keepCount: anyNumber,
    }),
  }),
  fc.record({
    command: fc.constant("SKTSERVER"),
    linkId: anyNumber,
    type: anyNumber,
    certIndex: anyNumber,
    port: anyNumber,
    autoReceive: anyFlag,
  }, optional(["linkId", "type", "port", "autoReceive"])),
  fc.record({
    command: fc.constant("SKTCLIENT"),
    linkId: anyNumber,
    type: anyNumber,
    certIndex: anyNumber,
    host: anyHost,
    port: anyNumber,
    localPort: anyNumber,
    autoReceive: anyFlag,
  }, optional(["linkId", "type", "host", "port", "autoReceive"])),
  fc.record({
    command: fc.constant("SKTSEND"),
    linkId: anyNumber,
    data: anyData,
    destination: anyEndpoint,
  }, optional(["linkId", "data"])),
  fc.record({
    command: fc.constant("SKTREAD"),
    linkId: anyNumber,
    size: anyNumber,
  }, optional(["linkId"])),
  fc.record(
    { command: fc.constant("SKTDEL"), linkId: anyNumber },
    optional([]),
  ),
  fc.record({
    command: fc.constant("SKTSENDRAW"),
    linkId: anyNumber,
    size: anyNumber,
    destination: anyEndpoint,
  }, optional(["linkId", "size"])),
) as unknown as fc.Arbitrary<Request>;

Deno.test("for any request, format throws RangeError or parse(format(x)) equals x (property)", () => {
  let thrown = 0;
  let kept = 0;
  fc.assert(
    fc.property(anyRequest, (req) => {
      let line: Uint8Array;
      try {
        line = formatRequest(req);
      } catch (e) {
        assert.ok(e instanceof RangeError, `${e}`);
        assert.match(e.message, /^AT\+SKT[A-Z]+: \S/);
        thrown++;
        return;
      }
      kept++;
      assert.ok(line.length > 0);
      roundTrip(req);
    }),
    { numRuns: 3000 },
  );
  // Both outcomes were explored.
  assert.ok(thrown > 300 && kept > 300, `thrown ${thrown}, kept ${kept}`);
});

Deno.test("requests that would not parse back are a RangeError with a clear message", () => {
  const bad: [unknown, RegExp][] = [
    [
      { command: "SKTDEL", linkId: 99 },
      /linkId must be a whole number 0\.\.19, not 99/,
    ],
    [{ command: "SKTDEL", linkId: 1.5 }, /linkId/],
    [
      { command: "SKTREAD", linkId: 1, size: 0 },
      /size must be .* 1\.\.2147483647/,
    ],
    [{ command: "SKTSENDRAW", linkId: 1, size: NaN }, /size/],
    [{
      command: "SKTSERVER",
      linkId: 1,
      type: 2,
      port: 443,
      autoReceive: true,
    }, /certIndex is missing/],
    [{
      command: "SKTSERVER",
      linkId: 1,
      type: 1,
      certIndex: 1,
      port: 80,
      autoReceive: true,
    }, /certIndex is given/],
    [{
      command: "SKTSERVER",
      linkId: 1,
      type: 4,
      port: 80,
      autoReceive: true,
    }, /type must be .* 0\.\.3/],
    [{
      command: "SKTSERVER",
      linkId: 1,
      type: 1,
      port: 0,
      autoReceive: true,
    }, /port must be .* 1\.\.65535, not 0/],
    [{
      command: "SKTSERVER",
      linkId: 1,
      type: 1,
      port: 80,
      autoReceive: 1,
    }, /autoReceive must be true or false/],
    ...[",", "\\", "\r", "\n", "", "h".repeat(256), "\u00e9"].map((
      host,
    ): [unknown, RegExp] => [
      {
        command: "SKTCLIENT",
        linkId: 0,
        type: 1,
        host: `a${host}`.slice(host === "" ? 1 : 0),
        port: 80,
        autoReceive: true,
      },
      /dst_host must be 1\.\.255 printable ASCII characters without "," or "\\"/,
    ]),
    [{
      command: "SKTCLIENT",
      linkId: 0,
      type: 0,
      host: "h",
      port: 80,
      autoReceive: true,
    }, /localPort must be/],
    [{
      command: "SKTCLIENT",
      linkId: 0,
      type: 1,
      host: "h",
      port: 80,
      localPort: 0,
      autoReceive: true,
    }, /localPort must be/],
    [
      { command: "SKTSEND", linkId: 0, data: new Uint8Array() },
      /at least one byte/,
    ],
    [{ command: "SKTSEND", linkId: 0, data: encode("a\r\nb") }, /CR LF/],
    [{ command: "SKTSEND", linkId: 0, data: encode("a\tb") }, /TAB/],
    [{ command: "SKTSEND", linkId: 0, data: Uint8Array.of(0x41, 0) }, /NUL/],
    [{ command: "SKTSEND", linkId: 0, data: Uint8Array.of(0xff) }, /0xFF/],
    [{ command: "SKTSEND", linkId: 0, data: Uint8Array.of(0x7f) }, /DEL/],
    [{ command: "SKTSEND", linkId: 0, data: Uint8Array.of(8) }, /BS/],
    [{
      command: "SKTSEND",
      linkId: 0,
      data: encode("x"),
      destination: { ip: "1.2.3", port: 5 },
    }, /destination ip must be a dotted-quad IPv4 address, not 1\.2\.3/],
    [{
      command: "SKTSENDRAW",
      linkId: 0,
      size: 5,
      destination: { ip: "1.2.3.4", port: 65536 },
    }, /destination.port/],
    [{
      command: "SKTCFG",
      config: { ...DEFAULT_CONFIG, keepIdle: 7201 },
    }, /AT\+SKTCFG: keepIdle must be a whole number 0\.\.7200, not 7201/],
    [
      { command: "SKTCFG", config: { ...DEFAULT_CONFIG, sendTimeout: -1 } },
      /sendTimeout/,
    ],
    [
      { command: "SKTNOPE" },
      /AT\+SKTNOPE: not one of the nine socket commands/,
    ],
  ];
  for (const [request, message] of bad) {
    assert.throws(
      () => formatRequest(request as Request),
      (e: unknown) => e instanceof RangeError && message.test(e.message),
      JSON.stringify(request),
    );
  }
});

Deno.test("SKTSEND fills the 2000-byte command buffer exactly (1998 bytes and CR LF), escapes counted", () => {
  const head = "AT+SKTSEND=0,1978,,,".length;
  const fits = new Uint8Array(MAX_LINE_LENGTH - head).fill(0x41);
  assert.equal(fits.length, 1978);
  const line = formatRequest({ command: "SKTSEND", linkId: 0, data: fits });
  assert.equal(line.length, MAX_LINE_LENGTH + 2);
  roundTrip({ command: "SKTSEND", linkId: 0, data: fits });
  const over = new Uint8Array(fits.length + 1).fill(0x41);
  assert.throws(
    () => formatRequest({ command: "SKTSEND", linkId: 0, data: over }),
    /AT\+SKTSEND: the line of 1999 bytes exceeds the 1998-byte command buffer/,
  );
  // 990 commas are 990 bytes of data but 1980 bytes on the line.
  const commas = new Uint8Array(990).fill(0x2c);
  assert.throws(
    () => formatRequest({ command: "SKTSEND", linkId: 0, data: commas }),
    RangeError,
  );
  roundTrip({ command: "SKTSEND", linkId: 0, data: commas.subarray(0, 985) });
});
