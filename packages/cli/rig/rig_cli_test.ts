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
