import assert from "node:assert/strict";
import { parseTranscript } from "@atsock/protocol";
import { CLI_MAIN, LOOPBACK_NET } from "../test_cli.ts";

const decoder = new TextDecoder();
const encoder = new TextEncoder();
const PERMISSIONS = [
  LOOPBACK_NET,
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-ffi",
  "--allow-sys",
];

/** Runs `atsock ARGS` with `input` on stdin; resolves its status and output. */
async function atsock(args: string[], input = "") {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...PERMISSIONS, CLI_MAIN, ...args],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", RUST_BACKTRACE: "0" },
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(encoder.encode(input));
  await writer.close();
  const out = await child.output();
  return {
    code: out.code,
    stdout: decoder.decode(out.stdout),
    stderr: decoder.decode(out.stderr),
  };
}

Deno.test("atsock emulate --transcript records the session as JSON lines", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/session.jsonl`;
    const out = await atsock(
      ["emulate", "--mode", "host", "--transcript", file],
      "AT+SKTQUERY\r\nAT+SKTDEL=3\r\n",
    );
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stderr, /transcript written to /);
    const transcript = parseTranscript(await Deno.readTextFile(file));
    assert.equal(transcript.header.mode, "host");
    const m2h = transcript.records.filter((r) => r.dir === "m2h").map((r) =>
      decoder.decode((r as { data: Uint8Array }).data)
    ).join("");
    assert.equal(m2h, out.stdout);
    const h2m = transcript.records.filter((r) => r.dir === "h2m").map((r) =>
      decoder.decode((r as { data: Uint8Array }).data)
    ).join("");
    assert.equal(h2m, "AT+SKTQUERY\r\nAT+SKTDEL=3\r\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("atsock emulate --transcript to a directory that does not exist: one line, exit 1", async () => {
  const out = await atsock([
    "emulate",
    "--transcript",
    "/nonexistent-dir-atsock/x.jsonl",
  ]);
  assert.equal(out.code, 1);
  assert.match(
    out.stderr,
    /^atsock: transcript \/nonexistent-dir-atsock\/x\.jsonl: /,
  );
  assert.equal(out.stderr.trim().split("\n").length, 1);
});

Deno.test("atsock emulate --faults: the plan's faults fire, on stderr and in the transcript", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const plan = `${dir}/plan.json`;
    const file = `${dir}/session.jsonl`;
    await Deno.writeTextFile(
      plan,
      JSON.stringify({
        seed: 42,
        faults: [
          {
            on: "command",
            command: "SKTQUERY",
            action: { type: "inject", lines: ["[$][SKT][DATA][0][2]:hi"] },
          },
          {
            on: "command",
            command: "SKTSTATE",
            action: { type: "error", code: 6 },
          },
        ],
      }),
    );
    const out = await atsock(
      ["emulate", "--mode", "host", "--faults", plan, "--transcript", file],
      "AT+SKTSTATE\r\nAT+SKTQUERY\r\n",
    );
    assert.equal(out.code, 0, out.stderr);
    assert.ok(
      out.stdout.startsWith(
        "ATCMD READY\r\n\r\nERROR: 6\r\n[$][SKT][DATA][0][2]:hi\r\n\r\nGlobal SOCKET configuration:\r\n",
      ),
      out.stdout,
    );
    assert.match(out.stderr, /2 faults from .*plan\.json, seed 42/);
    assert.match(
      out.stderr,
      /atsock: fault #1 \(error on AT\+SKTSTATE\): AT\+SKTSTATE: answered ERROR: 6/,
    );
    const transcript = parseTranscript(await Deno.readTextFile(file));
    assert.equal(transcript.header.seed, 42);
    assert.deepEqual(
      transcript.records.filter((r) => r.dir === "fault").map((r) =>
        r.dir === "fault" && r.action
      ),
      ["error", "inject"],
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("atsock emulate --faults with a bad plan: one line, exit 2", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const plan = `${dir}/plan.json`;
    await Deno.writeTextFile(
      plan,
      '{"faults":[{"on":"command","action":{"type":"error"}}]}',
    );
    for (
      const [path, message] of [
        [plan, /faults\[0\]\.action\.code: must be a whole number/],
        [`${dir}/missing.json`, /--faults .*missing\.json: /],
        [`${dir}/plan.yaml`, /YAML plans are not supported/],
      ] as const
    ) {
      const out = await atsock(["emulate", "--faults", path]);
      assert.equal(out.code, 2, out.stderr);
      assert.match(out.stderr, message);
      assert.equal(out.stderr.trim().split("\n").length, 1, out.stderr);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Records a session driven by the host library into `file`. */
async function recordSession(file: string): Promise<void> {
  const { createModule, openTranscriptFile, serveStreams } = await import(
    "@atsock/device"
  );
  const { AtDriver, memoryPair } = await import("@atsock/host");
  const transcript = await openTranscriptFile(file);
  const module = createModule({ mode: "host", transcript });
  const [host, device] = memoryPair();
  const console = serveStreams(module, device);
  const driver = new AtDriver(host, { timeoutMs: 5000 });
  try {
    await driver.waitReady();
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (listener.addr as Deno.NetAddr).port;
    listener.close();
    await driver.configure({ noDelay: true });
    await driver.command({
      command: "SKTSERVER",
      linkId: 0,
      type: 1,
      port,
      autoReceive: false,
    });
    await driver.state();
    await driver.query();
    await driver.remove(0);
    await driver.remove(0).catch(() => {}); // ERROR: 1, recorded too
  } finally {
    await driver.close();
    await console.close();
    await module.close();
    await transcript.close();
  }
}

Deno.test("atsock replay: a recorded session matches a fresh virtual module and a TCP console, ports abstracted", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/session.jsonl`;
    await recordSession(file);
    const virtual = await atsock(["replay", file, "virtual"]);
    assert.equal(virtual.code, 0, virtual.stdout + virtual.stderr);
    assert.match(virtual.stdout, /^replay matches: \d+ steps/);
    // Another port for the server: the state line follows it.
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const other = (listener.addr as Deno.NetAddr).port;
    listener.close();
    const moved = await atsock([
      "replay",
      file,
      "virtual",
      "--json",
      "--var",
      `PORT0=${other}`,
    ]);
    assert.equal(moved.code, 0, moved.stdout + moved.stderr);
    const result = JSON.parse(moved.stdout);
    assert.equal(result.result, "match");
    assert.equal(result.vars.PORT0, String(other));
    // Against an emulator on a TCP console.
    const emulator = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        ...PERMISSIONS,
        CLI_MAIN,
        "emulate",
        "--mode",
        "host",
        "--console",
        "tcp:127.0.0.1:0",
      ],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).spawn();
    const reader = emulator.stderr.pipeThrough(new TextDecoderStream())
      .getReader();
    let err = "";
    while (!/on tcp:127\.0\.0\.1:(\d+)/.test(err)) {
      const { value, done } = await reader.read();
      if (done) break;
      err += value;
    }
    try {
      const port = /on tcp:127\.0\.0\.1:(\d+)/.exec(err)![1];
      const tcp = await atsock(["replay", file, `tcp:127.0.0.1:${port}`]);
      assert.equal(tcp.code, 0, tcp.stdout + tcp.stderr);
    } finally {
      emulator.kill("SIGTERM");
      await emulator.status;
      await reader.cancel();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("atsock replay: a module that answers differently is shown as a diff, exit 1", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/session.jsonl`;
    await recordSession(file);
    // Pretend the recorded module answered the query with another option.
    const text = await Deno.readTextFile(file);
    await Deno.writeTextFile(
      file,
      text.replace("tcp_nodelay: 1", "tcp_nodelay: 0"),
    );
    const lines = text.split("\n");
    const changed = lines.findIndex((l) => l.includes("tcp_nodelay: 1")) + 1;
    const out = await atsock(["replay", file, "virtual"]);
    assert.equal(out.code, 1, out.stderr);
    assert.match(
      out.stdout,
      new RegExp(`^replay differs at transcript line ${changed}: `),
    );
    assert.match(out.stdout, /^- tcp_nodelay: 0\\r\\n$/m);
    assert.match(out.stdout, /^\+ tcp_nodelay: 1\\r\\n$/m);
    const json = await atsock(["replay", file, "virtual", "--json"]);
    assert.equal(json.code, 1);
    const result = JSON.parse(json.stdout);
    assert.equal(result.result, "differs");
    assert.equal(result.line, changed);
    assert.equal(result.expected[result.index], "tcp_nodelay: 0\r\n");
    assert.equal(result.got[result.index], "tcp_nodelay: 1\r\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("atsock replay and transcript show: a broken or missing transcript is one line, exit 2", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const broken = `${dir}/broken.jsonl`;
    await Deno.writeTextFile(
      broken,
      '{"atsock":"transcript","version":1}\n{"t":1,"dir":"m2h"}\n',
    );
    for (
      const args of [
        ["replay", broken, "virtual"],
        ["transcript", "show", broken],
        ["replay", `${dir}/missing.jsonl`, "virtual"],
        ["transcript", "show", `${dir}/missing.jsonl`],
        ["replay", broken],
        ["transcript", "list", broken],
        ["replay", broken, "virtual", "--var", "HOST=1"],
      ]
    ) {
      const out = await atsock(args);
      assert.equal(out.code, 2, `${args.join(" ")}: ${out.stderr}`);
      assert.equal(out.stderr.trim().split("\n").length, 1, out.stderr);
      assert.match(out.stderr, /^atsock: /);
    }
    const out = await atsock(["transcript", "show", broken]);
    assert.match(out.stderr, /broken\.jsonl: line 2: needs "text" or "b64"/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("atsock transcript show: times, directions, escapes, hex and filters", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/t.jsonl`;
    await Deno.writeTextFile(
      file,
      [
        '{"atsock":"transcript","version":1,"mode":"host","ip":"127.0.0.1","seed":3}',
        '{"t":0.5,"dir":"m2h","text":"ATCMD READY\\r\\n"}',
        '{"t":2,"dir":"h2m","text":"AT+SKTREAD=1,10\\r\\n"}',
        '{"t":2.25,"dir":"net","link":1,"event":"rx","bytes":3,"b64":"AP9B"}',
        '{"t":3,"dir":"m2h","b64":"K1NLVFJFQUQ6MSwzLAD/QQ0KT0sNCg=="}',
        '{"t":4,"dir":"net","link":2,"event":"close","by":"peer"}',
        '{"t":5,"dir":"fault","fault":0,"action":"peer","detail":"AT+SKTSTATE: link 2\'s peer closed"}',
      ].join("\n"),
    );
    const all = await atsock(["transcript", "show", file]);
    assert.equal(all.code, 0, all.stderr);
    assert.ok(!all.stdout.includes("\x1b[")); // not a terminal: no colour
    const lines = all.stdout.trimEnd().split("\n");
    assert.equal(
      lines[0],
      "transcript v1, mode host, ip 127.0.0.1, fault seed 3",
    );
    assert.equal(
      lines[1],
      "     0.500     +0.500  m2h   ATCMD READY\\r\\n",
    );
    assert.equal(
      lines[2],
      "     2.000     +1.500  h2m   AT+SKTREAD=1,10\\r\\n",
    );
    assert.equal(
      lines[3],
      "     2.250     +0.250  net   link 1 rx 3 bytes [3 bytes] 00 ff 41",
    );
    assert.ok(lines[4].includes("m2h   [22 bytes] 2b 53 4b"), lines[4]);
    assert.equal(lines.length, 7);
    const link1 = await atsock(["transcript", "show", file, "--link", "1"]);
    assert.deepEqual(
      link1.stdout.trimEnd().split("\n").slice(1).map((l) => l.slice(23, 26)),
      ["h2m", "net", "m2h"],
    );
    const link2 = await atsock([
      "transcript",
      "show",
      file,
      "--link",
      "2",
      "--dir",
      "fault",
    ]);
    assert.match(link2.stdout.trimEnd().split("\n")[1], /fault #0 peer: /);
    assert.equal(link2.stdout.trimEnd().split("\n").length, 2);
    const hex = await atsock([
      "transcript",
      "show",
      file,
      "--hex",
      "--dir",
      "h2m",
    ]);
    assert.ok(
      hex.stdout.includes("h2m   [17 bytes] 41 54 2b 53 4b 54"),
      hex.stdout,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
