import assert from "node:assert/strict";
import { parseTranscript } from "@atsock/protocol";
import { CLI_MAIN } from "../test_cli.ts";

const decoder = new TextDecoder();
const encoder = new TextEncoder();
const PERMISSIONS = [
  "--allow-net",
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
