import assert from "node:assert/strict";
import { explainFailure, outputFor, TARGETS } from "./compile.ts";

Deno.test("compile: a binary that runs, or one line saying the runtime download is unreachable", async () => {
  const target = "x86_64-unknown-linux-gnu";
  const output = outputFor(target);
  await Deno.remove(output).catch(() => {});
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-run",
      "--allow-read",
      "--allow-write=dist",
      "--allow-env",
      "tools/compile.ts",
      target,
    ],
    env: { NO_COLOR: "1", RUST_BACKTRACE: "0" },
    stdout: "null",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(stderr);
  assert.doesNotMatch(text, /Stack backtrace|at .*\.ts:\d+/);
  if (code === 0) {
    const help = await new Deno.Command(output, { args: ["--help"] }).output();
    assert.equal(help.code, 0);
    assert.match(new TextDecoder().decode(help.stdout), /atsock emulate/);
    await Deno.remove(output);
  } else {
    assert.equal(code, 1);
    assert.match(
      text,
      /must download the Deno runtime for this target from dl\.deno\.land.*deno task bundle/,
    );
    assert.match(text, /0 of 1 built/);
  }
});

Deno.test("compile: an unknown target is refused before anything is built", async () => {
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-run", "--allow-read", "tools/compile.ts", "vax"],
    env: { NO_COLOR: "1" },
    stderr: "piped",
    stdout: "null",
  }).output();
  assert.equal(code, 2);
  assert.match(new TextDecoder().decode(stderr), /unknown target vax; known:/);
});

Deno.test("compile: targets, file names and failure lines", () => {
  assert.ok(TARGETS.some((t) => t.includes("linux")));
  assert.ok(TARGETS.some((t) => t.includes("apple")));
  assert.ok(TARGETS.some((t) => t.includes("windows")));
  assert.equal(
    outputFor("x86_64-pc-windows-msvc"),
    "dist/atsock-x86_64-pc-windows-msvc.exe",
  );
  assert.match(
    explainFailure("t", "error: Writing\n  3: dns error\n"),
    /cannot reach/,
  );
  assert.equal(
    explainFailure("t", "error: Module not found\n"),
    "t: deno compile failed: error: Module not found",
  );
});
