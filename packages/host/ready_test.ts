import assert from "node:assert/strict";
import { AtDriver } from "./driver.ts";
import { memoryPair } from "./transport.ts";

// The first test of a fresh process: before the fix, making waitReady's
// timer let the driver read the greeting first, and the READY it waited
// for had already passed (a timeout here, every time, in a new process).
for (let round = 0; round < 3; round++) {
  Deno.test(`waitReady: a READY the module prints as the driver starts is not missed (round ${round})`, async () => {
    const [host, module] = memoryPair();
    const running = (async () => {
      await module.write(new TextEncoder().encode("\r\nATCMD READY\r\n"));
      for await (const _ of module.readable) { /* drain */ }
    })();
    const driver = new AtDriver(host);
    await driver.waitReady({ timeoutMs: 5000 });
    await driver.close();
    await running;
  });
}

Deno.test("waitReady: a READY that came before the call is claimed at once, and only once", async () => {
  const [host, module] = memoryPair();
  const running = (async () => {
    for await (const _ of module.readable) { /* drain */ }
  })();
  const driver = new AtDriver(host);
  // The driver reads it while nobody waits: its event says when.
  const seen = new Promise((r) => driver.addEventListener("ready", r));
  await module.write(new TextEncoder().encode("\r\nATCMD READY\r\n"));
  await seen;
  await driver.waitReady({ timeoutMs: 5000 });
  await assert.rejects(driver.waitReady({ timeoutMs: 50 }), /ATCMD READY/);
  await driver.close();
  await running;
});
