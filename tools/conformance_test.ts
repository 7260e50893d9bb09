import assert from "node:assert/strict";
import { createModule, serveStreams, serveTcp } from "@atsock/device";
import { memoryPair, replay } from "@atsock/host";
import { encode, parseTranscript, replayScript } from "@atsock/protocol";
import {
  type ConformanceOptions,
  listTranscripts,
  main,
  parseConformanceArgs,
  runConformance,
  SUITE_DIR,
} from "./conformance.ts";

const hasOpenssl = await new Deno.Command("openssl", {
  args: ["version"],
  stdout: "null",
  stderr: "null",
}).output().then((o) => o.success, () => false);

/** One transcript per example of the reference (socket-at-commands.txt). */
const EXAMPLES = [
  "sktcfg-1-configure",
  "sktquery-1-defaults",
  "sktserver-1-tcp-auto-rcv",
  "sktserver-2-udp",
  "sktserver-3-tls-connect-event",
  "sktclient-1-tcp",
  "sktclient-2-udp",
  "sktclient-3-tls",
  "sktsend-1-tcp-client",
  "sktsend-2-udp-server",
  "sktsend-3-tls-seed",
  "sktread-1-tcp-seed",
  "sktread-2-udp-server",
  "sktread-3-tls-client",
  "sktsendraw-1-tcp-client",
  "sktsendraw-2-udp-server",
  "sktsendraw-3-tls-seed",
  "sktstate-1-four-links",
  "sktdel-1-server-and-seed",
];

function options(over: Partial<ConformanceOptions> = {}): ConformanceOptions {
  const parsed = parseConformanceArgs(["virtual"]);
  assert.notEqual(parsed, "help");
  return { ...(parsed as ConformanceOptions), ...over };
}

/** A temp dir holding `files` (name -> JSON lines). */
async function suiteOf(files: Record<string, string>): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "atsock-conformance-test-" });
  for (const [name, text] of Object.entries(files)) {
    await Deno.writeTextFile(`${dir}/${name}.jsonl`, text);
  }
  return dir;
}

const shipped = async (name: string) =>
  await Deno.readTextFile(`${SUITE_DIR}/${name}.jsonl`);

Deno.test("conformance: the suite ships every reference example, each quoting it first", async () => {
  const names = await listTranscripts(SUITE_DIR);
  for (const name of EXAMPLES) assert.ok(names.includes(name), name);
  for (const name of names) {
    const transcript = parseTranscript(await shipped(name));
    assert.ok(transcript.header.title, `${name}: a title`);
    assert.ok(transcript.header.quote?.length, `${name}: a quote`);
  }
});

Deno.test({
  name:
    "conformance: every transcript passes against the virtual module (peers on loopback, a fresh test PKI)",
  ignore: !hasOpenssl,
  async fn() {
    const { outcomes } = await runConformance(options());
    const names = await listTranscripts(SUITE_DIR);
    assert.deepEqual(outcomes.map((o) => o.name), names);
    for (const outcome of outcomes) {
      assert.equal(outcome.result, "pass", `${outcome.name}\n${outcome.diff}`);
    }
  },
});

Deno.test("conformance: a wrong transcript fails with a diff naming its line", async () => {
  const right = await shipped("sktquery-1-defaults");
  const wrong = right.replace(
    "so_rcvtimeo: 0\\r\\n",
    "so_rcvtimeo: 250\\r\\n",
  );
  assert.notEqual(wrong, right);
  const dir = await suiteOf({ "a-right": right, "b-wrong": wrong });
  try {
    const { outcomes } = await runConformance(options({ dir }));
    assert.deepEqual(outcomes.map((o) => [o.name, o.result]), [
      ["a-right", "pass"],
      ["b-wrong", "fail"],
    ]);
    const diff = outcomes[1].diff!;
    // The m2h record is the file's third line (header, h2m, m2h).
    assert.match(diff, /^replay differs at transcript line 3: /);
    assert.match(diff, /^- so_rcvtimeo: 250\\r\\n$/m);
    assert.match(diff, /^\+ so_rcvtimeo: 0\\r\\n$/m);
    assert.equal(await main(["virtual", "--dir", dir]), 1);
    assert.equal(await main(["virtual", "--dir", dir, "--only", "a-right"]), 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("conformance: what a peer receives is checked too", async () => {
  const right = await shipped("sktsend-1-tcp-client");
  const wrong = right.replace(
    '"do": "expect", "name": "S", "text": "Hello!"',
    '"do": "expect", "name": "S", "text": "Hello?"',
  );
  assert.notEqual(wrong, right);
  const dir = await suiteOf({ wrong });
  try {
    const { outcomes } = await runConformance(options({ dir }));
    assert.equal(outcomes[0].result, "fail");
    const line = wrong.split("\n").findIndex((l) => l.includes("Hello?")) + 1;
    assert.match(
      outcomes[0].diff!,
      new RegExp(
        `^replay differs at transcript line ${line}: peer S did not receive`,
      ),
    );
    assert.match(outcomes[0].diff!, /^- Hello\?$/m);
    assert.match(outcomes[0].diff!, /^\+ Hello!$/m);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("conformance: bad usage is exit 2 with one line", async () => {
  assert.equal(await main(["virtual", "--only", "no-such-transcript"]), 2);
  assert.equal(await main([]), 2);
  assert.equal(await main(["virtual", "--peer-host", "example.com"]), 2);
  assert.equal(await main(["virtual", "--mode", "auto"]), 2);
  assert.throws(() => parseConformanceArgs(["virtual", "--timeout", "0"]));
  const parsed = parseConformanceArgs(["tcp:10.0.0.7:3333"]);
  assert.notEqual(parsed, "help");
  if (parsed !== "help") assert.equal(parsed.moduleHost, "10.0.0.7");
});

Deno.test("conformance: atsock replay without peers stops at the first peer step and says why", async () => {
  const text = await shipped("sktclient-1-tcp");
  const transcript = parseTranscript(text);
  const module = createModule({ mode: "host" });
  const [host, device] = memoryPair();
  const console = serveStreams(module, device, "virtual");
  try {
    const result = await replay(replayScript(transcript), host, {
      timeoutMs: 2000,
    });
    assert.equal(result.result, "differs");
    if (result.result === "differs") {
      assert.match(result.reason, /needs network peers/);
      const line = text.split("\n").findIndex((l) =>
        l.includes('"dir": "peer"')
      ) + 1;
      assert.equal(result.line, line);
    }
  } finally {
    await console.close();
    await device.close();
    await module.close();
  }
});

/** Polls `check` (bounded) until it holds. */
async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

Deno.test("conformance: an external module over a TCP console is reset before each transcript; the other mode's transcripts are skipped", async () => {
  const module = createModule({ mode: "host" });
  const console = serveTcp(module, { port: 0 });
  try {
    // Leave the module dirty: link 4 taken (behaviour-gone-peer-fd needs it
    // free) and SKTCFG changed (behaviour-unknown-line-silent shows the defaults).
    const dirty = await Deno.connect({
      hostname: "127.0.0.1",
      port: console.port,
    });
    const spare = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (spare.addr as Deno.NetAddr).port;
    spare.close();
    await dirty.write(
      encode(`AT+SKTSERVER=4,1,,${port},0\r\nAT+SKTCFG=1500\r\n`),
    );
    await until(() => module.config.sendTimeout === 1500, "the SKTCFG");
    assert.deepEqual(module.state().map((l) => l.linkId), [4]);
    dirty.close();
    await until(() => !console.busy, "the console to be free");
    const only = [
      "behaviour-gone-peer-fd",
      "behaviour-unknown-line-silent",
      "sktquery-1-defaults",
      "sktread-1-tcp-seed",
      "sktsend-2-udp-server",
      "sktsendraw-1-tcp-client",
    ];
    const { outcomes } = await runConformance(options({
      target: { kind: "tcp", hostname: "127.0.0.1", port: console.port },
      only,
      mode: "host",
    }));
    assert.deepEqual(
      outcomes.map((o) => [o.name, o.result, o.diff]),
      only.map((name) => [
        name,
        name === "sktquery-1-defaults" ? "skip" : "pass",
        undefined,
      ]),
    );
  } finally {
    await console.close();
    await module.close();
  }
});

const ROOT = new URL("../", import.meta.url).pathname;

Deno.test("conformance: deno task conformance reaches a target on another address than 127.0.0.1", async () => {
  const module = createModule({ mode: "host", bindAddress: "127.0.0.2" });
  const console = serveTcp(module, { hostname: "127.0.0.2", port: 0 });
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "task",
        "conformance",
        `tcp:127.0.0.2:${console.port}`,
        "--module-host",
        "127.0.0.2",
        "--only",
        "sktread-1-tcp-seed",
      ],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1", RUST_BACKTRACE: "0" },
    }).output();
    const err = new TextDecoder().decode(out.stderr);
    assert.doesNotMatch(err, /NotCapable| {4}at /);
    assert.equal(out.code, 0, err);
    assert.match(
      new TextDecoder().decode(out.stdout),
      /^pass sktread-1-tcp-seed/m,
    );
  } finally {
    await console.close();
    await module.close();
  }
});

Deno.test("conformance: a denied permission is one line naming the flag, no stack trace", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "tools/conformance.ts",
      "tcp:127.0.0.2:9",
      "--only",
      "sktread-1-tcp-seed",
    ],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", RUST_BACKTRACE: "0" },
  }).output();
  const err = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 1);
  assert.match(
    err,
    /^conformance: permission denied: Requires net access to "127\.0\.0\.2:9".*--allow-net.*\n$/,
  );
});
