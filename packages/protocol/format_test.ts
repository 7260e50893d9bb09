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
  HIGH_WATERMARK,
  LOW_WATERMARK,
  OK,
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

Deno.test("SKTSTATE lines match the reference example", () => {
  const out = formatState([
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
      linkId: 2,
      role: "client",
      protocol: "ssl",
      source: { ip: "0.0.0.0", port: 0 },
      destination: { ip: "192.168.0.103", port: 4433 },
      socketFd: -1,
    },
  ]);
  assert.equal(
    text(out),
    "link_id:0,server,tcp,src_address:192.168.0.109,src_port:6666,dst_address:0.0.0.0,dst_port:0,socket_fd:0\r\n" +
      "link_id:3,seed,tcp,src_address:0.0.0.0,src_port:0,dst_address:192.168.0.103,dst_port:49941,socket_fd:3\r\n" +
      "link_id:2,client,ssl,src_address:0.0.0.0,src_port:0,dst_address:192.168.0.103,dst_port:4433,socket_fd:-1\r\n" +
      "\r\nOK\r\n",
  );
  assert.equal(text(formatState([])), "\r\nOK\r\n");
});

Deno.test("SKTREAD answers: TCP, UDP, empty, cut at NUL", () => {
  assert.equal(
    text(formatRead(1, encode("Hello!"))),
    "+SKTREAD:1,6,Hello!\r\nOK\r\n",
  );
  assert.equal(
    text(formatRead(3, encode("12345"), { ip: "192.168.1.101", port: 61409 })),
    "+SKTREAD:3,5,192.168.1.101,61409,12345\r\nOK\r\n",
  );
  assert.equal(
    text(formatRead(2, new Uint8Array())),
    "+SKTREAD:2,0,\r\nOK\r\n",
  );
  assert.equal(
    text(formatRead(2, new Uint8Array(), { ip: "1.2.3.4", port: 5 })),
    "+SKTREAD:2,0,\r\nOK\r\n",
  );
  assert.equal(
    text(formatRead(4, new Uint8Array([65, 0, 66]))),
    "+SKTREAD:4,3,A\r\nOK\r\n",
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

Deno.test("requests format to the reference's command lines", () => {
  const cases: [Request, string][] = [
    [{ command: "SKTQUERY" }, "AT+SKTQUERY"],
    [{ command: "SKTSTATE" }, "AT+SKTSTATE"],
    [{ command: "SKTDEL", linkId: 0 }, "AT+SKTDEL=0"],
    [{
      command: "SKTSERVER",
      linkId: 0,
      type: 3,
      certIndex: 1,
      port: 4433,
      autoReceive: true,
    }, "AT+SKTSERVER=0,3,1,4433,1"],
    [{
      command: "SKTCLIENT",
      linkId: 0,
      type: 0,
      host: "192.168.1.10",
      port: 6666,
      localPort: 12345,
      autoReceive: true,
    }, "AT+SKTCLIENT=0,0,,192.168.1.10,6666,12345,1"],
    [
      { command: "SKTSEND", linkId: 0, data: encode("Hello!") },
      "AT+SKTSEND=0,6,,,Hello!",
    ],
    [{
      command: "SKTSEND",
      linkId: 3,
      data: encode("a,b\\"),
      destination: { ip: "192.168.1.101", port: 61409 },
    }, "AT+SKTSEND=3,4,192.168.1.101,61409,a\\,b\\\\"],
    [{ command: "SKTREAD", linkId: 1, size: 10 }, "AT+SKTREAD=1,10"],
    [{
      command: "SKTSENDRAW",
      linkId: 3,
      size: 10,
      destination: { ip: "192.168.0.103", port: 61468 },
    }, "AT+SKTSENDRAW=3,10,192.168.0.103,61468"],
    [{
      command: "SKTCFG",
      config: { ...DEFAULT_CONFIG, sendTimeout: 2000, keepAlive: true },
    }, "AT+SKTCFG=2000,0,0,1,0,0,0"],
  ];
  for (const [req, line] of cases) {
    assert.equal(text(formatRequest(req)), line + "\r\n");
  }
});

const linkId = fc.integer({ min: 0, max: 19 });
const port = fc.integer({ min: 1, max: 65535 });
const ip = fc.tuple(
  fc.nat(255),
  fc.nat(255),
  fc.nat(255),
  fc.nat(255),
).map((parts) => parts.join("."));
const endpoint = fc.record({ ip, port });
const flag = fc.boolean();
const cert = fc.integer({ min: 1, max: 10 });
const host = fc.oneof(
  ip,
  fc.stringMatching(/^[a-z0-9][a-z0-9.-]{0,254}$/),
);
/** Data without CR/LF, which end a command line. */
const data = fc.uint8Array({ minLength: 1, maxLength: 200 }).map((bytes) =>
  bytes.map((b) => (b === 13 || b === 10 ? 32 : b))
);

const arbitraryRequest: fc.Arbitrary<Request> = fc.oneof(
  fc.record({
    command: fc.constant("SKTCFG" as const),
    config: fc.record({
      sendTimeout: fc.integer({ min: 0, max: 2147483647 }),
      receiveTimeout: fc.integer({ min: 0, max: 2147483647 }),
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
  fc.record({
    command: fc.constant("SKTREAD" as const),
    linkId,
    size: fc.integer({ min: 1, max: 2147483647 }),
  }),
  fc.record({
    command: fc.constant("SKTSENDRAW" as const),
    linkId,
    size: fc.integer({ min: 1, max: 2147483647 }),
  }),
  fc.record({
    command: fc.constant("SKTSENDRAW" as const),
    linkId,
    size: fc.integer({ min: 1, max: 2147483647 }),
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

Deno.test("parse(format(x)) equals x for every request (property)", () => {
  fc.assert(
    fc.property(arbitraryRequest, (req) => {
      const line = formatRequest(req);
      assert.deepEqual([...line.subarray(-2)], [13, 10]);
      const parsed = parseCommandLine(line.subarray(0, -2));
      assert.equal(parsed.kind, "request");
      if (parsed.kind === "request") {
        assert.deepEqual(parsed.request, plain(req));
      }
    }),
    { numRuns: 2000 },
  );
});
