import assert from "node:assert/strict";
import { createModule, serveTcp } from "@atsock/device";
import { AtDriver, connectTcp } from "@atsock/host";
import { parseScript } from "./parse.ts";
import { type ExecuteOptions, executeScript } from "./execute.ts";

const OPTIONS: ExecuteOptions = {
  timeoutMs: 5000,
  bytesPerSecond: 3840,
  openFile: () => Promise.reject(new Error("no files here")),
  settleMs: 0,
};

/** Runs `script` against a fresh virtual module in Host Control Mode. */
async function runOn(
  script: string,
  vars: Record<string, string> = {},
  options: Partial<ExecuteOptions> = {},
  during?: (console: ReturnType<typeof serveTcp>) => void,
) {
  const parsed = parseScript(script, vars);
  assert.deepEqual(parsed.problems, []);
  const module = createModule({ mode: "host" });
  const console = serveTcp(module, { port: 0 });
  const driver = new AtDriver(await connectTcp({ port: console.port }), {
    timeoutMs: 5000,
  });
  try {
    during?.(console);
    return await executeScript(driver, parsed.steps, {
      ...OPTIONS,
      ...options,
    });
  } finally {
    await driver.close();
    await console.close();
    await module.close();
  }
}

Deno.test("executeScript: an unsolicited line is matched once, also when it came before", async () => {
  const report = await runOn(
    `expect urc "ATCMD READY"
AT+SKTSERVER=1,1,,\${PORT},1
AT+SKTCLIENT=2,1,,127.0.0.1,\${PORT},,1
wait 1ms
expect urc /connected to server\\[link_id:1\\]/
expect urc /connected to server/ within 200ms
`,
    { PORT: String(freePort()) },
    { keepGoing: true },
  );
  assert.deepEqual(report.steps.map((s) => [s.line, s.ok]), [
    [1, true],
    [2, true],
    [3, true],
    [4, true],
    [5, true],
    [6, false],
  ]);
  // The greeting was taken before the first command, not as its answer.
  assert.deepEqual(report.steps[0].got, ["ATCMD READY"]);
  assert.match(
    report.steps[4].got[0],
    /^\[\$\]\[SKT\]\[EVENT\]: A client\[link_id:0,seed,tcp,dst_address:127\.0\.0\.1,dst_port:\d+\] connected to server\[link_id:1\]$/,
  );
  assert.deepEqual(report.steps[5].got, []);
  assert.equal(report.failed, 1);
});

Deno.test("executeScript: sendraw text reaches the peer; a refused sendraw is its ERROR", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept();
  try {
    const report = await runOn(
      `expect urc "ATCMD READY"
AT+SKTCLIENT=0,1,,127.0.0.1,\${PORT},,1
sendraw 0 text "a,b\\r\\n\\x00"
sendraw 5 text "x"
expect ERROR: 1
`,
      { PORT: String((listener.addr as Deno.NetAddr).port) },
    );
    assert.equal(report.failed, 0, JSON.stringify(report.steps));
    assert.equal(report.passed, 5);
    assert.equal(report.steps[2].note, "6 bytes sent");
    assert.deepEqual(report.steps[4].got, ["ERROR: 1"]);
    const conn = await accepted;
    const got = new Uint8Array(6);
    let filled = 0;
    for (let reads = 0; filled < 6 && reads < 100; reads++) {
      const n = await conn.read(got.subarray(filled));
      if (n === null) break;
      filled += n;
    }
    assert.deepEqual(got, new TextEncoder().encode("a,b\r\n\0"));
    conn.close();
  } finally {
    listener.close();
  }
});

Deno.test("executeScript: a closed connection ends the run, even with keepGoing", async () => {
  const report = await runOn(
    `expect urc "ATCMD READY"
AT+SKTQUERY
expect urc "never comes"
AT+SKTSTATE
AT+SKTQUERY
expect line "x"
`,
    {},
    { keepGoing: true },
    // The console goes away once the first answer has been given.
    (console) => {
      queueMicrotask(async () => {
        for (let i = 0; i < 400 && !console.busy; i++) {
          await new Promise((r) => setTimeout(r, 5));
        }
        setTimeout(() => console.close(), 50);
      });
    },
  );
  // Line 2 passed or the console closed under it; either way the run stopped
  // at the first check the closed connection failed, and nothing after it ran.
  const failedAt = report.steps.findIndex((s) => !s.ok);
  assert.ok(failedAt >= 0);
  assert.equal(failedAt, report.steps.length - 1);
  assert.match(
    report.steps[failedAt].note ?? "",
    /connection to the module closed/,
  );
  assert.equal(report.notRun, 6 - report.steps.length);
});

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}
