import assert from "node:assert/strict";
import fc from "fast-check";
import {
  atoi,
  badEscape,
  encode,
  formatRequest,
  MAX_LINE_LENGTH,
  parseCommandLine,
  type Request,
  splitFields,
  splitParams,
} from "./mod.ts";

function request(line: string): Request {
  const parsed = parseCommandLine(encode(line));
  if (parsed.kind !== "request") {
    assert.fail(`${line}: expected a request, got ${JSON.stringify(parsed)}`);
  }
  return parsed.request;
}

function errorCode(line: string | Uint8Array): number {
  const parsed = parseCommandLine(
    typeof line === "string" ? encode(line) : line,
  );
  if (parsed.kind !== "error") {
    assert.fail(`${line}: expected an error, got ${parsed.kind}`);
  }
  return parsed.error.code;
}

Deno.test("reference examples parse to typed requests", () => {
  assert.deepEqual(request("AT+SKTCFG=2000,2000,,1,60,10,3"), {
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
  });
  assert.deepEqual(request("AT+SKTQUERY"), { command: "SKTQUERY" });
  assert.deepEqual(request("AT+SKTSERVER=1,1,,1234,1"), {
    command: "SKTSERVER",
    linkId: 1,
    type: 1,
    port: 1234,
    autoReceive: true,
  });
  assert.deepEqual(request("AT+SKTSERVER=2,0,,4321,0"), {
    command: "SKTSERVER",
    linkId: 2,
    type: 0,
    port: 4321,
    autoReceive: false,
  });
  assert.deepEqual(request("AT+SKTSERVER=0,3,1,4433,1"), {
    command: "SKTSERVER",
    linkId: 0,
    type: 3,
    certIndex: 1,
    port: 4433,
    autoReceive: true,
  });
  assert.deepEqual(request("AT+SKTCLIENT=1,1,,192.168.0.100,6666,,1"), {
    command: "SKTCLIENT",
    linkId: 1,
    type: 1,
    host: "192.168.0.100",
    port: 6666,
    autoReceive: true,
  });
  assert.deepEqual(request("AT+SKTCLIENT=0,0,,192.168.1.10,6666,12345,1"), {
    command: "SKTCLIENT",
    linkId: 0,
    type: 0,
    host: "192.168.1.10",
    port: 6666,
    localPort: 12345,
    autoReceive: true,
  });
  assert.deepEqual(request("AT+SKTCLIENT=5,2,,192.168.1.10,4433,,1"), {
    command: "SKTCLIENT",
    linkId: 5,
    type: 2,
    host: "192.168.1.10",
    port: 4433,
    autoReceive: true,
  });
  assert.deepEqual(request("AT+SKTSEND=0,6,,,Hello!"), {
    command: "SKTSEND",
    linkId: 0,
    data: encode("Hello!"),
  });
  assert.deepEqual(request("AT+SKTSEND=3,10,192.168.1.101,61409,Lwip_Test!"), {
    command: "SKTSEND",
    linkId: 3,
    data: encode("Lwip_Test!"),
    destination: { ip: "192.168.1.101", port: 61409 },
  });
  assert.deepEqual(request("AT+SKTSEND=2,5,,,12345"), {
    command: "SKTSEND",
    linkId: 2,
    data: encode("12345"),
  });
  assert.deepEqual(request("AT+SKTREAD=1,10"), {
    command: "SKTREAD",
    linkId: 1,
    size: 10,
  });
  assert.deepEqual(request("AT+SKTSENDRAW=0,6"), {
    command: "SKTSENDRAW",
    linkId: 0,
    size: 6,
  });
  assert.deepEqual(request("AT+SKTSENDRAW=3,10,192.168.0.103,61468"), {
    command: "SKTSENDRAW",
    linkId: 3,
    size: 10,
    destination: { ip: "192.168.0.103", port: 61468 },
  });
  assert.deepEqual(request("AT+SKTSTATE"), { command: "SKTSTATE" });
  assert.deepEqual(request("AT+SKTDEL=0"), { command: "SKTDEL", linkId: 0 });
});

Deno.test("numbers are read like C atoi", () => {
  const n = (s: string) => atoi(encode(s));
  assert.equal(n(""), 0);
  assert.equal(n("12abc"), 12);
  assert.equal(n("  +7"), 7);
  assert.equal(n("-3"), -3);
  assert.equal(n("abc"), 0);
  assert.equal(n("99999999999999"), 2147483647);
  assert.equal(n("-99999999999999"), -2147483648);
  assert.deepEqual(request("AT+SKTDEL=5x"), { command: "SKTDEL", linkId: 5 });
  assert.equal(errorCode("AT+SKTDEL="), 1); // empty: not link 0
  assert.equal(
    (request("AT+SKTCFG=1000ms") as { config: { sendTimeout: number } }).config
      .sendTimeout,
    1000,
  );
});

Deno.test("fields split on unescaped commas and keep empty fields", () => {
  const texts = (s: string) =>
    splitFields(encode(s)).map((f) => new TextDecoder().decode(f));
  assert.deepEqual(texts("2000,,1"), ["2000", "", "1"]);
  assert.deepEqual(texts(""), [""]);
  assert.deepEqual(texts("a\\,b,c"), ["a,b", "c"]);
  assert.deepEqual(texts("a\\\\,b"), ["a\\", "b"]);
  assert.deepEqual(texts("a\\nb\\"), ["a\\nb\\"]);
});

Deno.test("SKTSEND data_size counts unescaped bytes exactly", () => {
  assert.deepEqual(request("AT+SKTSEND=0,3,,,a\\,b"), {
    command: "SKTSEND",
    linkId: 0,
    data: encode("a,b"),
  });
  assert.deepEqual(request("AT+SKTSEND=0,1,,,\\\\"), {
    command: "SKTSEND",
    linkId: 0,
    data: encode("\\"),
  });
  assert.equal(errorCode("AT+SKTSEND=0,4,,,a\\,b"), 1);
  assert.equal(errorCode("AT+SKTSEND=0,2,,,a\\,b"), 1);
  assert.equal(errorCode("AT+SKTSEND=0,3,,,a,b"), 1); // raw comma: 6 fields
  const binary = new Uint8Array([
    ...encode("AT+SKTSEND=0,3,,,"),
    0,
    255,
    7,
  ]);
  const parsed = parseCommandLine(binary);
  assert.equal(parsed.kind, "request");
  if (parsed.kind === "request" && parsed.request.command === "SKTSEND") {
    assert.deepEqual([...parsed.request.data], [0, 255, 7]);
  }
});

Deno.test("every parameter error gives ERROR: 1 with a detail", () => {
  const cases = [
    "AT+SKTCFG",
    "AT+SKTCFG=1,2,3,4,5,6,7,8",
    "AT+SKTCFG=-1",
    "AT+SKTCFG=,-1",
    "AT+SKTCFG=,,2",
    "AT+SKTCFG=,,,2",
    "AT+SKTCFG=,,,,7201",
    "AT+SKTCFG=,,,,,76",
    "AT+SKTCFG=,,,,,,11",
    "AT+SKTQUERY=",
    "AT+SKTQUERY=1",
    "AT+SKTSERVER=1,1,1234,1",
    "AT+SKTSERVER=20,1,,1234,1",
    "AT+SKTSERVER=-1,1,,1234,1",
    "AT+SKTSERVER=1,4,,1234,1",
    "AT+SKTSERVER=1,2,,1234,1",
    "AT+SKTSERVER=1,3,11,1234,1",
    "AT+SKTSERVER=1,1,,0,1",
    "AT+SKTSERVER=1,1,,65536,1",
    "AT+SKTSERVER=1,1,,1234,2",
    "AT+SKTSERVER=,1,,1234,1",
    "AT+SKTSERVER=1,,,1234,1",
    "AT+SKTSERVER=1,1,,,1",
    "AT+SKTSERVER=1,1,,1234,",
    "AT+SKTCLIENT=1,1,,host,80,1",
    "AT+SKTCLIENT=1,6,,host,80,,1",
    "AT+SKTCLIENT=1,3,,host,80,,1",
    "AT+SKTCLIENT=1,5,0,host,80,,1",
    "AT+SKTCLIENT=1,1,,,80,,1",
    `AT+SKTCLIENT=1,1,,${"h".repeat(256)},80,,1`,
    "AT+SKTCLIENT=1,1,,host,0,,1",
    "AT+SKTCLIENT=1,0,,host,80,,1",
    "AT+SKTCLIENT=1,0,,host,80,70000,1",
    "AT+SKTCLIENT=1,1,,host,80,,3",
    "AT+SKTCLIENT=,1,,host,80,,1",
    "AT+SKTCLIENT=1,,,host,80,,1",
    "AT+SKTCLIENT=1,1,,host,,,1",
    "AT+SKTCLIENT=1,1,,host,80,,",
    "AT+SKTCLIENT=1,1,,host,80,0,1",
    "AT+SKTCLIENT=1,2,,host,80,65536,1",
    "AT+SKTCLIENT=1,4,1,host,80,-1,1",
    "AT+SKTSEND=0,6,,Hello!",
    "AT+SKTSEND=0,0,,,",
    "AT+SKTSEND=21,1,,,a",
    "AT+SKTSEND=0,1,,,a\\b",
    "AT+SKTSEND=0,1,,,a\\",
    "AT+SKTSEND=,1,,,a",
    "AT+SKTSEND=0,,,,a",
    "AT+SKTSEND=0,1,,,",
    "AT+SKTREAD=1",
    "AT+SKTREAD=1,0",
    "AT+SKTREAD=1,10,1",
    "AT+SKTREAD=20,10",
    "AT+SKTREAD=,10",
    "AT+SKTREAD=1,",
    "AT+SKTSENDRAW=0",
    "AT+SKTSENDRAW=0,0",
    "AT+SKTSENDRAW=0,5,1.2.3.4",
    "AT+SKTSENDRAW=,5",
    "AT+SKTSENDRAW=0,",
    "AT+SKTSENDRAW=0,5\\x",
    "AT+SKTDEL=",
    "AT+SKTDEL",
    "AT+SKTDEL=1,2",
    "AT+SKTDEL=20",
  ];
  for (const line of cases) {
    const parsed = parseCommandLine(encode(line));
    assert.equal(parsed.kind, "error", line);
    if (parsed.kind === "error") {
      assert.equal(parsed.error.code, 1, line);
      assert.equal(parsed.error.meaning.length > 0, true);
      assert.ok(parsed.error.detail, `${line} has a detail`);
      assert.equal(`AT+${parsed.error.command}`, line.split("=")[0]);
    }
  }
});

Deno.test("at_sktserver/at_sktclient: a cert index is ignored where the type needs none; a src_port given is checked for every type", () => {
  assert.deepEqual(request("AT+SKTSERVER=1,1,7,1234,0"), {
    command: "SKTSERVER",
    linkId: 1,
    type: 1,
    port: 1234,
    autoReceive: false,
  });
  assert.deepEqual(request("AT+SKTCLIENT=1,2,99,h,1,,0"), {
    command: "SKTCLIENT",
    linkId: 1,
    type: 2,
    host: "h",
    port: 1,
    autoReceive: false,
  });
  assert.deepEqual(request("AT+SKTCLIENT=1,1,,h,1,5000,0"), {
    command: "SKTCLIENT",
    linkId: 1,
    type: 1,
    host: "h",
    port: 1,
    localPort: 5000,
    autoReceive: false,
  });
  assert.equal(errorCode("AT+SKTCLIENT=1,2,99,h,1,99999,0"), 1);
});

Deno.test("parse_param_advance: escapes only in SKTSEND and SKTSENDRAW; any other backslash there is ERROR: 1", () => {
  assert.equal(errorCode("AT+SKTSEND=0,3,,,a\\nb"), 1);
  assert.equal(errorCode("AT+SKTSEND=0,2,,,a\\"), 1);
  assert.equal(errorCode("AT+SKTSENDRAW=0\\,5"), 1);
  assert.deepEqual(request("AT+SKTSEND=0,4,,,a\\\\\\,b"), {
    command: "SKTSEND",
    linkId: 0,
    data: encode("a\\,b"),
  });
});

Deno.test("parse_param: other commands take a backslash as a plain byte and split on every comma", () => {
  // The host keeps its backslash (a name lookup will fail on it).
  assert.deepEqual(request("AT+SKTCLIENT=1,1,,a\\b,80,,0"), {
    command: "SKTCLIENT",
    linkId: 1,
    type: 1,
    host: "a\\b",
    port: 80,
    autoReceive: false,
  });
  // `\,` is no escape here: the comma splits, so there are too many fields.
  assert.equal(errorCode("AT+SKTCLIENT=1,1,,a\\,b,80,,0"), 1);
  assert.deepEqual(request("AT+SKTDEL=3\\"), { command: "SKTDEL", linkId: 3 });
  const texts = (s: string) =>
    splitParams(encode(s)).map((f) => new TextDecoder().decode(f));
  assert.deepEqual(texts("a\\,b,,c"), ["a\\", "b", "", "c"]);
  assert.equal(badEscape(encode("a\\,b\\\\")), -1);
  assert.equal(badEscape(encode("ab\\")), 2);
  assert.equal(badEscape(encode("a\\\\\\x")), 3);
});

Deno.test("at_sktsend/at_sktsendraw: dst_ip and dst_port are kept for the module to check on a UDP server only", () => {
  assert.deepEqual(request("AT+SKTSEND=0,1,1.2.x,80,a"), {
    command: "SKTSEND",
    linkId: 0,
    data: encode("a"),
    badDestination: 'dst_ip "1.2.x" is not an IPv4 address',
  });
  // inet_aton's forms (firmware rule ipv4-inet-aton), in canonical form.
  for (
    const [given, ip] of [
      ["1.2.3", "1.2.0.3"],
      ["127.0.0.010", "127.0.0.8"],
      ["0x7f.1", "127.0.0.1"],
      ["2130706433", "127.0.0.1"],
    ]
  ) {
    assert.deepEqual(request(`AT+SKTSEND=0,1,${given},80,a`), {
      command: "SKTSEND",
      linkId: 0,
      data: encode("a"),
      destination: { ip, port: 80 },
    });
  }
  assert.deepEqual(request("AT+SKTSEND=0,1,,80,a"), {
    command: "SKTSEND",
    linkId: 0,
    data: encode("a"),
    badDestination: "dst_ip and dst_port go together",
  });
  assert.deepEqual(request("AT+SKTSENDRAW=0,5,1.2.3.4,0"), {
    command: "SKTSENDRAW",
    linkId: 0,
    size: 5,
    badDestination: "dst_port 0 is outside 1..65535",
  });
  assert.deepEqual(request("AT+SKTSENDRAW=0,5,,"), {
    command: "SKTSENDRAW",
    linkId: 0,
    size: 5,
  });
});

Deno.test("SKTSTATE ignores parameters; unknown lines get no answer", () => {
  assert.deepEqual(request("AT+SKTSTATE=1,2"), { command: "SKTSTATE" });
  for (
    const line of ["AT", "AT+GMR", "at+sktstate", "AT+SKTSTATE ", "hello", ""]
  ) {
    assert.equal(parseCommandLine(encode(line)).kind, "unknown", line);
  }
});

Deno.test("the grammar takes a line of any length: shell_cmd_chk bounds it", () => {
  const data = "x".repeat(MAX_LINE_LENGTH - "AT+SKTSEND=0,1978,,,".length);
  const fit = `AT+SKTSEND=0,${data.length},,,${data}`;
  assert.equal(fit.length, MAX_LINE_LENGTH);
  assert.equal(parseCommandLine(encode(fit)).kind, "request");
  assert.equal(parseCommandLine(encode("x".repeat(4000))).kind, "unknown");
});

Deno.test("latin1 helpers round-trip every byte value", async () => {
  const { decodeLatin1, encodeLatin1 } = await import("./bytes.ts");
  const all = new Uint8Array(256).map((_, i) => i);
  assert.deepEqual(encodeLatin1(decodeLatin1(all)), all);
});

Deno.test("allocate hands out zeroed arrays that never share bytes", async () => {
  const { allocate, decodeLatin1 } = await import("./bytes.ts");
  assert.equal(decodeLatin1(encode("AT+SKT")), "AT+SKT"); // short path
  const arrays = [1, 7, 8, 100, 4096, 4097, 3000, 3000, 60000, 5].map((n) =>
    allocate(n)
  );
  for (const [i, a] of arrays.entries()) {
    assert.ok(a.every((b) => b === 0), `array ${i} is zeroed`);
    a.fill(i + 1);
  }
  for (const [i, a] of arrays.entries()) {
    assert.ok(a.every((b) => b === i + 1), `array ${i} kept its bytes`);
  }
  // Parsed data is the caller's: a later parse never changes it.
  const first = parseCommandLine(encode("AT+SKTSEND=0,3,,,a\\,b"));
  assert.ok(first.kind === "request" && first.request.command === "SKTSEND");
  const kept = first.request.data.slice();
  for (let i = 0; i < 200; i++) {
    parseCommandLine(encode(`AT+SKTSEND=0,3,,,${i % 10}\\,z`));
  }
  assert.deepEqual(first.request.data, kept);
});

/** The field grammar one byte at a time, as the firmware reads it. */
function referenceSplit(params: Uint8Array): number[][] {
  const fields: number[][] = [[]];
  for (let i = 0; i < params.length; i++) {
    const byte = params[i];
    const next = params[i + 1];
    if (byte === 0x5c && (next === 0x2c || next === 0x5c)) {
      fields.at(-1)!.push(next);
      i++;
    } else if (byte === 0x2c) fields.push([]);
    else fields.at(-1)!.push(byte);
  }
  return fields;
}

Deno.test("splitFields agrees with a byte-at-a-time reading of any bytes (property)", () => {
  const byte = fc.oneof(
    fc.constantFrom(0x2c, 0x5c, 0x41),
    fc.integer({ min: 0, max: 255 }),
  );
  fc.assert(
    fc.property(
      fc.array(byte, { maxLength: 120 }),
      fc.nat(7),
      (bytes, offset) => {
        // An odd offset into a larger buffer, as a framer's view would be.
        const buffer = new Uint8Array(offset + bytes.length);
        buffer.set(bytes, offset);
        const params = buffer.subarray(offset);
        const fields = splitFields(params).map((f) => [...f]);
        assert.deepEqual(fields, referenceSplit(params));
        assert.deepEqual([...params], [...buffer.subarray(offset)]);
      },
    ),
    { numRuns: 3000 },
  );
});

Deno.test("SKTSEND data with escapes every few bytes comes out whole", () => {
  const data = new Uint8Array(1900).map((_, i) =>
    [0x2c, 0x5c, 65, 66, 67][i % 5]
  );
  const line = formatRequest({
    command: "SKTSEND",
    linkId: 7,
    data: data.subarray(0, 1300),
  });
  const parsed = parseCommandLine(line.subarray(0, -2));
  assert.ok(parsed.kind === "request" && parsed.request.command === "SKTSEND");
  assert.deepEqual(parsed.request.data, data.subarray(0, 1300));
});

Deno.test("at_sktcfg: 1 to 7 fields; those not given (or empty) are 0, and every call sets all seven", () => {
  assert.deepEqual(request("AT+SKTCFG=,,1"), {
    command: "SKTCFG",
    config: {
      sendTimeout: 0,
      receiveTimeout: 0,
      noDelay: true,
      keepAlive: false,
      keepIdle: 0,
      keepInterval: 0,
      keepCount: 0,
    },
  });
  assert.deepEqual(request("AT+SKTCFG="), {
    command: "SKTCFG",
    config: {
      sendTimeout: 0,
      receiveTimeout: 0,
      noDelay: false,
      keepAlive: false,
      keepIdle: 0,
      keepInterval: 0,
      keepCount: 0,
    },
  });
  assert.equal(errorCode("AT+SKTCFG"), 1);
  assert.equal(errorCode("AT+SKTCFG=1,2,0,0,0,0,0,0"), 1);
});
