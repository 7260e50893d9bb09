import assert from "node:assert/strict";
import { formatJson, formatResult, formatSummary, visible } from "./report.ts";
import { formatBytes, progressLine } from "../transfer.ts";
import { Progress } from "./progress.ts";
import type { ScriptReport, StepResult } from "./execute.ts";
import FakeTimers from "@sinonjs/fake-timers";

const passed: StepResult = {
  line: 3,
  text: "AT+SKTQUERY",
  ok: true,
  expected: "OK within 10 s",
  got: ["so_sndtimeo: 0", "OK"],
  ms: 4,
};
const failed: StepResult = {
  line: 12,
  text: 'expect line "x\\r"',
  ok: false,
  expected: 'a line "x\\r"',
  got: ["+SKTREAD:0,3,a\r\x00", "OK"],
  ms: 0,
};

Deno.test("report: a passing check is one line, a failing one says what came", () => {
  assert.equal(formatResult(passed), "ok    line 3    AT+SKTQUERY  (4 ms)");
  assert.equal(
    formatResult(failed),
    [
      'FAIL  line 12   expect line "x\\r"',
      '        expected: a line "x\\r"',
      "        got:      +SKTREAD:0,3,a\\r\\x00",
      "                  OK",
    ].join("\n"),
  );
  assert.equal(
    formatResult({ ...failed, got: [], note: "no answer in time" }),
    [
      'FAIL  line 12   expect line "x\\r"',
      '        expected: a line "x\\r"',
      "        got:      (nothing)",
      "        note:     no answer in time",
    ].join("\n"),
  );
  const many = formatResult({
    ...failed,
    got: Array.from({ length: 25 }, (_, i) => `l${i}`),
  }).split("\n");
  assert.equal(many.length, 2 + 20 + 1); // head, expected, 20 got, more
  assert.match(many.at(-1)!, /\.\.\. 5 more \(see --json\)$/);
});

Deno.test("report: the summary names every failed line", () => {
  const report = (steps: StepResult[], notRun = 0): ScriptReport => ({
    passed: steps.filter((s) => s.ok).length,
    failed: steps.filter((s) => !s.ok).length,
    notRun,
    steps,
  });
  assert.equal(
    formatSummary(report([passed, passed]), "t.atr"),
    "PASS: all 2 checks passed (t.atr)",
  );
  assert.equal(
    formatSummary(report([passed, failed], 4), "t.atr"),
    "FAIL: t.atr: line 12 failed (1 passed, 1 failed, 4 not run)",
  );
  assert.equal(
    formatSummary(
      report([failed, passed, { ...failed, line: 20 }, {
        ...failed,
        line: 20,
      }]),
      "t.atr",
    ),
    "FAIL: t.atr: lines 12, 20 failed (1 passed, 3 failed, 0 not run)",
  );
  const json = JSON.parse(formatJson(report([passed, failed], 1)));
  assert.deepEqual(json, {
    passed: 1,
    failed: 1,
    notRun: 1,
    steps: [passed, failed],
  });
});

Deno.test("report: visible escapes control and non-ASCII bytes", () => {
  assert.equal(visible("a\r\n\t\x00\x7f\xff b"), "a\\r\\n\\t\\x00\\x7f\\xff b");
});

Deno.test("progress: bytes, bar and rate", () => {
  assert.equal(formatBytes(1000), "1000 B");
  assert.equal(formatBytes(1536), "1.5 KiB");
  assert.equal(formatBytes(3 * 1024 * 1024), "3.0 MiB");
  assert.equal(
    progressLine(75 * 1024, 300 * 1024, 1000, 20),
    "[#####---------------]  25%  75.0 KiB of 300.0 KiB  75.0 KiB/s",
  );
  assert.equal(
    progressLine(0, 100, 0, 4),
    "[----]   0%  0 B of 100 B  -",
  );
  assert.equal(
    progressLine(100, 100, 10, 4),
    "[####] 100%  100 B of 100 B  9.8 KiB/s",
  );
});

function sink() {
  const chunks: string[] = [];
  return {
    chunks,
    writeSync(bytes: Uint8Array) {
      chunks.push(new TextDecoder().decode(bytes));
      return bytes.length;
    },
  };
}

Deno.test("progress: plain lines on a pipe, the transfer once per tenth", () => {
  const out = sink();
  const progress = new Progress(out, false);
  progress.step(2, 5, 7, "sendraw 0 file fw.bin");
  for (let sent = 1000; sent <= 100000; sent += 1000) {
    progress.bytes(sent, 100000);
  }
  progress.clear(); // nothing to clear on a pipe
  assert.equal(
    out.chunks[0],
    "atsock run: step 2 of 5, line 7: sendraw 0 file fw.bin\n",
  );
  const transfer = out.chunks.slice(1);
  // 1 % (the first), then 10 %, 20 % ... 100 %.
  assert.equal(transfer.length, 11);
  assert.ok(transfer.every((c) => c.endsWith("\n") && !c.includes("\r")));
  assert.match(transfer.at(-1)!, /\[#+\] 100% {2}97\.7 KiB of 97\.7 KiB/);
});

Deno.test("progress: one redrawn line on a terminal, cleared before output", () => {
  const clock = FakeTimers.install({ toFake: ["Date"] });
  try {
    const out = sink();
    const progress = new Progress(out, true, () => 60);
    progress.step(1, 3, 2, "x".repeat(200));
    assert.equal(
      out.chunks[0],
      "\r\x1b[2K" + "step 1 of 3, line 2: " + "x".repeat(38),
      "no wider than the screen",
    );
    clock.tick(1000);
    progress.bytes(10, 100);
    clock.tick(50);
    progress.bytes(20, 100); // within the redraw interval: skipped
    clock.tick(100);
    progress.bytes(30, 100);
    clock.tick(1);
    progress.bytes(100, 100); // the last is always drawn
    assert.equal(out.chunks.length, 4);
    const CLEAR = "\r\x1b[2K";
    assert.ok(out.chunks[2].startsWith(CLEAR));
    assert.match(out.chunks[2].slice(CLEAR.length), / 30% /);
    assert.ok(out.chunks[3].startsWith(CLEAR));
    assert.match(out.chunks[3].slice(CLEAR.length), / 100% /);
    progress.clear();
    progress.clear();
    assert.deepEqual(out.chunks.slice(4), ["\r\x1b[2K"]);
  } finally {
    clock.uninstall();
  }
});
