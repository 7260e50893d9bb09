import assert from "node:assert/strict";
import { parseExplainArgs, UsageError } from "../mod.ts";
import { CLI_MAIN as MAIN } from "../test_cli.ts";

const decoder = new TextDecoder();

/** Runs `atsock explain` as a user does, with no permissions at all. */
async function atsock(args: string[], stdin?: string) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", MAIN, "explain", ...args],
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", RUST_BACKTRACE: "0" },
  }).spawn();
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(stdin));
    await writer.close();
  }
  const out = await child.output();
  return {
    code: out.code,
    stdout: decoder.decode(out.stdout),
    stderr: decoder.decode(out.stderr),
  };
}

Deno.test("explain arguments", () => {
  assert.deepEqual(parseExplainArgs(["--mode", "host", "AT+SKTSTATE"]), {
    line: "AT+SKTSTATE",
    json: false,
    mode: "host",
    command: undefined,
  });
  const named = parseExplainArgs(["--command", "at+sktclient", "ERROR: 2"]);
  assert.ok(named !== "help");
  assert.equal(named.command, "SKTCLIENT");
  assert.equal(parseExplainArgs(["-h"]), "help");
  for (
    const bad of [
      [],
      ["a", "b"],
      ["--mode", "auto", "x"],
      ["--command", "SKTFOO", "x"],
      ["--bogus", "x"],
    ]
  ) {
    assert.throws(() => parseExplainArgs(bad), UsageError, bad.join(" "));
  }
});

Deno.test("atsock explain runs with no permissions: a valid command, exit 0", async () => {
  const r = await atsock(["AT+SKTCLIENT=5,2,,192.168.1.10,4433,,1"]);
  assert.equal(r.stderr, "");
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^AT\+SKTCLIENT=5,2,,192\.168\.1\.10,4433,,1\n/);
  assert.match(
    r.stdout,
    /conn_type +2 +socket client over TLS \(no certificate verification\)/,
  );
  assert.match(r.stdout, /answer: OK/);
});

Deno.test("atsock explain: a rejected command is exit 1 with the ERROR and why", async () => {
  const r = await atsock(["AT+SKTCFG=0,0,0,0,0,76"]);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, "");
  assert.match(
    r.stdout,
    /tcp_keepintvl +76 .*\n +WRONG: tcp_keepintvl 76 is outside 0\.\.75/,
  );
  assert.match(
    r.stdout,
    /error: ERROR: 1 \(Parameter error\): tcp_keepintvl 76 is outside 0\.\.75/,
  );
  const manual = await atsock(["--mode", "manual", "AT+SKTSENDRAW=0,6"]);
  assert.equal(manual.code, 1);
  assert.match(manual.stdout, /ERROR: 4 \(Get data failed in TT mode\)/);
  const unknown = await atsock(["AT+SKTHELLO"]);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stdout, /the module gives no answer/);
});

Deno.test("atsock explain --json: one document with kind, fields, error, answer", async () => {
  const r = await atsock([
    "--json",
    "[$][SKT][DATA][1][4]:\\r\\n\\x00\\xff\\r\\n",
  ]);
  assert.equal(r.code, 0);
  const doc = JSON.parse(r.stdout);
  assert.equal(doc.kind, "data");
  assert.equal(doc.error, null);
  assert.equal(doc.valid, true);
  assert.deepEqual(doc.fields.map((f: { name: string }) => f.name), [
    "link_id",
    "len",
    "data",
  ]);
  assert.equal(doc.fields[2].value, "\\r\\n\\0\\xff");
  const error = JSON.parse(
    (await atsock(["--json", "--command", "SKTREAD", "ERROR: 4"])).stdout,
  );
  assert.deepEqual(
    { kind: error.kind, code: error.error.code, meaning: error.error.meaning },
    { kind: "error", code: 4, meaning: "Failed to read data" },
  );
});

Deno.test("atsock explain - reads lines from stdin: one explanation each", async () => {
  const input = "AT+SKTSTATE\r\n\r\nOK\nERROR: 14\nnonsense\n";
  const r = await atsock(["--json", "--command", "SKTCLIENT", "-"], input);
  assert.equal(r.code, 1, "nonsense is not a module line");
  const docs = JSON.parse(r.stdout);
  assert.deepEqual(docs.map((d: { kind: string }) => d.kind), [
    "command",
    "ok",
    "error",
    "unrecognised",
  ]);
  assert.equal(docs[2].error.meaning, "mbedtls_ssl_handshake() failed");
  const text = await atsock(["-"], "OK\nATCMD READY\n");
  assert.equal(text.code, 0);
  assert.match(text.stdout, /^OK\n( {2}.*\n)+\nATCMD READY\n/);
});

Deno.test("atsock explain: bad usage is one line and exit 2", async () => {
  for (
    const [args, message] of [
      [[], /give one line to explain/],
      [["--mode", "auto", "OK"], /--mode must be manual or host/],
      [
        ["[$][SKT][DATA][1][1]:\\xZZ"],
        /"\\x" must be followed by two hex digits/,
      ],
    ] as const
  ) {
    const r = await atsock([...args]);
    assert.equal(r.code, 2, args.join(" "));
    assert.equal(r.stdout, "");
    assert.equal(r.stderr.split("\n").length, 2, r.stderr);
    assert.match(r.stderr, message);
    assert.match(r.stderr, /\(see atsock explain --help\)\n$/);
  }
  const help = await atsock(["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Escapes:/);
  assert.match(help.stdout, /Permissions: none/);
});
