import assert from "node:assert/strict";
import fc from "fast-check";
import { encodeLatin1 } from "@atsock/protocol";
import { parseScript, parseTime } from "./parse.ts";
import { describePattern, matches, type Step } from "./steps.ts";

function steps(text: string, vars: Record<string, string> = {}): Step[] {
  const script = parseScript(text, vars);
  assert.deepEqual(script.problems, []);
  return script.steps;
}

function problems(text: string, vars: Record<string, string> = {}) {
  return parseScript(text, vars).problems;
}

Deno.test("script: a command alone expects OK; expect lines attach to it", () => {
  const [cfg, query, urc, wait] = steps(`# a comment
AT+SKTCFG=2000,2000,,1,60,10,3        # trailing comment
  send AT+SKTQUERY
  expect line "so_sndtimeo: 2000"
  expect line /keep(cnt|idle): \\d+/i
  expect OK within 2s

expect urc /\\[\\$\\]\\[SKT\\]\\[EVENT\\]: A client.*connected/ within 5s
wait 100ms
`);
  assert.equal(cfg.kind, "command");
  assert.ok(cfg.kind === "command");
  assert.equal(cfg.line, 2);
  assert.equal(cfg.text, "AT+SKTCFG=2000,2000,,1,60,10,3");
  assert.equal(cfg.final, undefined);
  assert.equal(cfg.request.command, "SKTCFG");
  assert.ok(query.kind === "command");
  assert.equal(query.text, "AT+SKTQUERY");
  assert.deepEqual(query.final, {
    line: 6,
    text: "expect OK within 2s",
    kind: "ok",
    withinMs: 2000,
  });
  assert.equal(query.lines.length, 2);
  assert.ok(matches(query.lines[0].pattern, "so_sndtimeo: 2000"));
  assert.ok(!matches(query.lines[0].pattern, "so_sndtimeo: 20000"));
  assert.ok(matches(query.lines[1].pattern, "TCP_KEEPCNT: 3"));
  assert.equal(
    describePattern(query.lines[1].pattern),
    "/keep(cnt|idle): \\d+/i",
  );
  assert.ok(urc.kind === "urc");
  assert.equal(urc.line, 8);
  assert.equal(urc.withinMs, 5000);
  assert.ok(
    matches(
      urc.pattern,
      "[$][SKT][EVENT]: A client[link_id:2,seed,tcp,dst_address:127.0.0.1,dst_port:5] connected to server[link_id:1]",
    ),
  );
  assert.deepEqual(wait, {
    kind: "wait",
    line: 9,
    text: "wait 100ms",
    ms: 100,
  });
});

Deno.test("script: ERROR forms, with and without a code", () => {
  const codes = ["expect ERROR: 2", "expect ERROR:2", "expect ERROR 2"].map(
    (e) => {
      const [step] = steps(`AT+SKTDEL=1\n${e}`);
      assert.ok(step.kind === "command");
      return step.final?.code;
    },
  );
  assert.deepEqual(codes, [2, 2, 2]);
  const [any] = steps("AT+SKTDEL=1\nexpect ERROR within 1.5s");
  assert.ok(any.kind === "command");
  assert.equal(any.final?.kind, "error");
  assert.equal(any.final?.code, undefined);
  assert.equal(any.final?.withinMs, 1500);
});

Deno.test("script: variables from --var win over defaults; the environment is not read", () => {
  const [client] = steps(
    `default HOST=127.0.0.1
default PORT=1
AT+SKTCLIENT=0,1,,\${HOST},\${PORT},,1`,
    { PORT: "4321" },
  );
  assert.ok(client.kind === "command");
  assert.equal(client.text, "AT+SKTCLIENT=0,1,,127.0.0.1,4321,,1");
  assert.ok(client.request.command === "SKTCLIENT");
  assert.equal(client.request.port, 4321);
  const [quoted] = steps(`default DATA="a b"\nAT+SKTSEND=0,3,,,\${DATA}`);
  assert.ok(quoted.kind === "command" && quoted.request.command === "SKTSEND");
  assert.deepEqual(quoted.request.data, new TextEncoder().encode("a b"));
  assert.deepEqual(problems("AT+SKTDEL=${HOME}"), [{
    line: 1,
    message: "${HOME} is not set (give --var HOME=VALUE or a default line)",
  }]);
});

Deno.test("script: quoted send and sendraw text carry any byte", () => {
  const [send, raw, file, udp] = steps(`send "AT+SKTSEND=0,4,,,a #b"
sendraw 3 text "\\x00\\xff\\r\\n\\"é"
sendraw 0 file "fw image.bin"  # a path may be quoted
sendraw 1,10.0.0.2,5000 file /abs/fw.bin
expect OK within 60s`);
  assert.ok(send.kind === "command" && send.request.command === "SKTSEND");
  assert.deepEqual(send.request.data, new TextEncoder().encode("a #b"));
  assert.ok(raw.kind === "sendraw" && raw.payload.kind === "bytes");
  assert.equal(raw.linkId, 3);
  assert.deepEqual(
    raw.payload.data,
    new Uint8Array([0, 0xff, 13, 10, 0x22, 0xc3, 0xa9]),
  );
  assert.ok(file.kind === "sendraw");
  assert.deepEqual(file.payload, { kind: "file", path: "fw image.bin" });
  assert.ok(udp.kind === "sendraw");
  assert.deepEqual(udp.destination, { ip: "10.0.0.2", port: 5000 });
  assert.deepEqual(udp.payload, { kind: "file", path: "/abs/fw.bin" });
  assert.equal(udp.final?.withinMs, 60000);
});

Deno.test("script: text patterns are bytes as the module prints them", () => {
  const [step] = steps('AT+SKTREAD=0,9\nexpect line "+SKTREAD:0,2,é"');
  assert.ok(step.kind === "command");
  // The module's lines are decoded one character per byte.
  const line = String.fromCharCode(
    ...new TextEncoder().encode("+SKTREAD:0,2,é"),
  );
  assert.ok(matches(step.lines[0].pattern, line));
  const [re] = steps("expect urc /é$/");
  assert.ok(re.kind === "urc");
  assert.ok(matches(re.pattern, line));
});

Deno.test("script: every broken line is reported with its number", () => {
  const found = problems(`frobnicate now
at+sktquery
AT+SKTDEL=20
AT+GMR
AT+SKTSENDRAW=0,10
expect OK
AT+SKTQUERY
expect line "x" within 2s
expect line so_sndtimeo
expect urc /[unclosed/
expect urc /a/g
wait soon
wait 0ms
wait 2h
expect OK within
sendraw 0 file
sendraw 20 text "x"
sendraw 0 text ""
sendraw 0,1.2.3,80 text "x"
send "AT+SKTSEND=0,2,,,\\r\\n"
expect ERROR: x
AT+SKTDEL=1
expect OK
expect ERROR
expect line "\\q"
expect line "open
AT+SKTDEL=\${bad-name}
default 9X=1
sendraw 0 text "a"
expect line "x"`);
  assert.deepEqual(found.map((p) => p.line), [
    1,
    2,
    3,
    4,
    5,
    6,
    8,
    9,
    10,
    11,
    12,
    13,
    14,
    15,
    16,
    17,
    18,
    19,
    20,
    21,
    24,
    25,
    26,
    27,
    28,
    30,
  ]);
  const message = (line: number) => found.find((p) => p.line === line)!.message;
  assert.match(message(1), /unknown keyword "frobnicate"/);
  assert.match(message(2), /capitals/);
  assert.match(message(3), /link_id 20 is outside 0\.\.19 .*ERROR: 1/);
  assert.match(message(4), /not one of the nine/);
  assert.match(message(5), /sendraw LINK file PATH/);
  assert.match(message(6), /must follow a command/);
  assert.match(message(10), /the \/regex\/ is not closed|bad regex/);
  assert.match(message(11), /flags g and y/);
  assert.match(message(12), /"soon" is not a time/);
  assert.match(message(14), /"2h" is not a time/);
  assert.match(message(24), /already expects OK/);
  assert.match(message(25), /unknown escape/);
  assert.match(message(30), /sendraw answers no information lines/);
});

Deno.test("script: an empty script is broken", () => {
  assert.deepEqual(problems("# nothing\n\n"), [{
    line: 0,
    message: "the script has no steps",
  }]);
});

Deno.test("script: times", () => {
  assert.equal(parseTime("250ms"), 250);
  assert.equal(parseTime("2s"), 2000);
  assert.equal(parseTime("0.5s"), 500);
  assert.equal(parseTime("3600s"), 3600000);
  for (const bad of ["", "5", "1m", "-1s", "0s", "3601s", "1e3ms"]) {
    assert.throws(() => parseTime(bad), /is not/, bad);
  }
});

Deno.test("script: any quoted text round-trips into sendraw bytes", () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 1, maxLength: 64 }), (bytes) => {
      const escaped = [...bytes].map((b) =>
        `\\x${b.toString(16).padStart(2, "0")}`
      ).join("");
      const [step] = steps(`sendraw 0 text "${escaped}"`);
      assert.ok(step.kind === "sendraw" && step.payload.kind === "bytes");
      assert.deepEqual(step.payload.data, bytes);
    }),
    { numRuns: 200 },
  );
});

Deno.test("script: no line, however odd, throws instead of being reported", () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.oneof(
          fc.string({ maxLength: 40 }),
          fc.constantFrom(
            "expect",
            "expect OK",
            'expect line "',
            "expect urc /",
            "sendraw",
            "AT+",
            "send",
            "${",
            "default",
            "wait",
          ),
        ),
        { maxLength: 8 },
      ),
      (lines) => {
        const script = parseScript(lines.join("\n"), { X: "1" });
        for (const p of script.problems) {
          assert.ok(p.line >= 0 && p.line <= lines.length);
          assert.ok(!p.message.includes("\n"));
        }
      },
    ),
    { numRuns: 500 },
  );
});

Deno.test("script: sendraw bytes are latin1 of the escapes", () => {
  const [step] = steps('sendraw 0 text "A\\x80"');
  assert.ok(step.kind === "sendraw" && step.payload.kind === "bytes");
  assert.deepEqual(step.payload.data, encodeLatin1("A\x80"));
});

Deno.test("script: the example in docs/cli-run.md is a valid script", () => {
  const doc = Deno.readTextFileSync(
    new URL("../../../docs/cli-run.md", import.meta.url),
  );
  const example = /```text\n(# production\.atr[\s\S]*?)```/.exec(doc)![1];
  const script = parseScript(example);
  assert.deepEqual(script.problems, []);
  assert.equal(script.steps.length, 10);
  const wrong = parseScript(example.replace("within 300s", "within 5m"));
  assert.deepEqual(wrong.problems, [{
    line: 18,
    message: '"5m" is not a time (write 500ms or 2s)',
  }]);
});
