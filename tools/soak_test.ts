import assert from "node:assert/strict";
import { runSoak } from "./soak.ts";

const hasOpenssl = await new Deno.Command("openssl", {
  args: ["version"],
  stdout: "null",
  stderr: "null",
}).output().then((o) => o.success, () => false);

Deno.test({
  name:
    "soak, reduced (20 s): resets, stalled handshakes, busy and non-reading console clients, a garbage module; nothing lost, memory bounded, every listener accepts",
  ignore: !hasOpenssl,
  fn: async () => {
    const report = await runSoak({ seconds: 20 });
    console.log(`  ${JSON.stringify(report)}`);
    assert.deepEqual(report.failures, []);
    assert.equal(report.lost, 0);
    assert.ok(report.rounds > 0);
    assert.ok(report.attacks.stalledHandshakes > 0);
    assert.ok(report.attacks.busyClients > 0);
    assert.ok(report.attacks.garbageFailures > 0);
    assert.deepEqual(report.accepting, {
      tcpServer: true,
      tlsServer: true,
      consoleA: true,
      consoleB: true,
    });
  },
});
