import assert from "node:assert/strict";
import { fuzzDevice, fuzzHost } from "./fuzz_device.ts";

Deno.test("fuzz the interpreter: 2,000 lines of every kind, each answered as parseCommandLine says, the link table consistent", async () => {
  const report = await fuzzDevice({
    lines: 2000,
    seed: 20240808,
    checkEvery: 100,
    timeLimitMs: 240_000,
  });
  const kinds = Object.values(report.kinds).reduce((a, b) => a + b, 0);
  assert.equal(kinds, 2000);
  for (
    const kind of [
      "grammar",
      "mutated",
      "boundary",
      "random",
      "overlong",
      "nul",
      "lone-cr",
    ]
  ) {
    assert.ok((report.kinds[kind] ?? 0) > 0, `no ${kind} line`);
  }
  // Every kind of answer came: silence, OK, parameter errors, runtime errors, prompts.
  assert.ok(report.silent > 0);
  assert.ok(report.results["OK"] > 0);
  assert.ok(report.results["ERROR: 1"] > 0);
  assert.ok(report.prompts > 0);
  assert.ok(report.checkpoints >= 20);
  assert.ok(report.probes >= 2000 - (report.kinds["grammar"] ?? 0));
  assert.ok(report.maxLinks > 0);
  // Besides the links' sockets, the same fds at every checkpoint: no growth.
  assert.ok(report.fds.baseline > 0);
  assert.equal(report.fds.min, report.fds.baseline);
  assert.equal(report.fds.max, report.fds.baseline);
  console.log(`  ${JSON.stringify(report)}`);
});

Deno.test("fuzz the host: 2,000 output items through OutputParser, 200 driver rounds through garbage", async () => {
  const report = await fuzzHost({ items: 2000, driverRounds: 200, seed: 7 });
  assert.equal(report.valid + report.garbage, 2000);
  assert.ok(report.garbage > 0 && report.valid > 0);
  assert.equal(report.driverAnswers + report.driverTimeouts, 200);
  assert.equal(report.driverTimeouts, 4);
  console.log(`  ${JSON.stringify(report)}`);
});
