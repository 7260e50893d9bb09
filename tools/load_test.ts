import assert from "node:assert/strict";
import { runLoad } from "./load.ts";

const hasOpenssl = await new Deno.Command("openssl", {
  args: ["version"],
  stdout: "null",
  stderr: "null",
}).output().then((o) => o.success, () => false);

Deno.test("load, reduced: 4 links x 64 KiB both ways, TCP, UDP and TLS, 1 then 2 modules; every byte arrives, nothing leaks", async () => {
  const kinds = hasOpenssl
    ? ["tcp", "udp", "tls"] as const
    : ["tcp", "udp"] as const;
  const report = await runLoad({
    links: 4,
    bytes: 64 * 1024,
    modules: 2,
    kinds: [...kinds],
    timeLimitMs: 240_000,
  });
  assert.equal(report.rounds.length, kinds.length * 2);
  for (const round of report.rounds) {
    assert.equal(round.lost, 0);
    assert.equal(round.bytes, 2 * round.links * 64 * 1024);
  }
  assert.deepEqual(
    report.rounds.map((r) => [r.kind, r.modules, r.links]),
    kinds.flatMap((k) => [[k, 1, 4], [k, 2, 8]]),
  );
  assert.ok(report.fds.end <= report.fds.start, JSON.stringify(report.fds));
  console.log(`  ${JSON.stringify(report)}`);
});
