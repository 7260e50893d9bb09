import assert from "node:assert/strict";
import { formatBytes, formatRate, progressLine, rate } from "./transfer.ts";

Deno.test("sizes, rates and the progress line", () => {
  assert.equal(formatBytes(0), "0 B");
  assert.equal(formatBytes(1023), "1023 B");
  assert.equal(formatBytes(1536), "1.5 KiB");
  assert.equal(formatBytes(1024 * 1024), "1.0 MiB");
  assert.equal(rate(1024, 500), 2048);
  assert.equal(rate(1024, 0), 0);
  assert.equal(formatRate(2048), "2.0 KiB/s");
  assert.equal(formatRate(0), "-");
  assert.equal(
    progressLine(512 * 1024, 1024 * 1024, 250),
    "[############------------]  50%  512.0 KiB of 1.0 MiB  2.0 MiB/s",
  );
  assert.equal(
    progressLine(10, 10, 0),
    "[########################] 100%  10 B of 10 B  -",
  );
});
