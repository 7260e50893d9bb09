import assert from "node:assert/strict";
import FakeTimers from "@sinonjs/fake-timers";
import { AnswerTooLargeError, AtDriver, CommandTimeoutError } from "./mod.ts";
import { MAX_ANSWER_BYTES } from "./pending_answer.ts";
import { fakeModule, QUERY_BLOCK } from "./test_util.ts";

const STATE_LINE =
  "link_id:0,client,tcp,src_address:127.0.0.1,src_port:5000,dst_address:127.0.0.1,dst_port:80,socket_fd:3";
const STATE_BLOCK = `\r\n${STATE_LINE}\r\n\r\nOK\r\n`;

/** Whether a promise has settled, after the microtasks queued now have run. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  promise.then(() => (done = true), () => (done = true));
  for (let i = 0; i < 50; i++) await Promise.resolve();
  return done;
}

Deno.test("driver: a command's timeoutMs is the caller's limit: it rejects then, the recovery runs before the next command", async () => {
  const clock = FakeTimers.install({
    toFake: ["setTimeout", "clearTimeout", "performance"],
  });
  try {
    let silent = true;
    const { transport, lines } = fakeModule(async (line, write) => {
      if (silent) return; // the first command and its recovery go unanswered
      if (line === "AT+SKTQUERY") await write(QUERY_BLOCK);
      else if (line === "AT+SKTSTATE") await write(STATE_BLOCK);
    });
    const driver = new AtDriver(transport, { timeoutMs: 3000 });
    const first = driver.state({ timeoutMs: 500 });
    first.catch(() => {});
    await clock.tickAsync(499);
    assert.equal(await settled(first), false);
    await clock.tickAsync(1);
    assert.equal(await settled(first), true, "rejected at the caller's 500 ms");
    await assert.rejects(first, CommandTimeoutError);
    // The next command waits for the recovery (SKTQUERY) to finish first.
    silent = false;
    const second = driver.state({ timeoutMs: 10000 });
    await clock.tickAsync(3000); // the first recovery times out unanswered
    await clock.tickAsync(100);
    const states = await second;
    assert.equal(states.length, 1);
    assert.equal(states[0].linkId, 0);
    // Order on the wire: the command, its recovery, a second recovery, then state.
    assert.deepEqual(lines.slice(0, 2), ["AT+SKTSTATE", "AT+SKTQUERY"]);
    assert.equal(lines.at(-1), "AT+SKTSTATE");
    await driver.close();
  } finally {
    clock.uninstall();
  }
});

Deno.test("driver: an abort rejects at once, not after the recovery", async () => {
  const clock = FakeTimers.install({
    toFake: ["setTimeout", "clearTimeout", "performance"],
  });
  try {
    const { transport } = fakeModule(() => {});
    const driver = new AtDriver(transport, { timeoutMs: 3000 });
    const abort = new AbortController();
    const pending = driver.state({ signal: abort.signal });
    pending.catch(() => {});
    await clock.tickAsync(300);
    abort.abort(new Error("user gave up"));
    assert.equal(await settled(pending), true);
    await assert.rejects(pending, /user gave up/);
    await driver.close();
  } finally {
    clock.uninstall();
  }
});

Deno.test("driver: a module printing endless garbage lines fails the command with AnswerTooLargeError, memory bounded, then resyncs", async () => {
  let garbage = false;
  let sent = 0;
  const { transport, running } = fakeModule(async (line, write) => {
    if (line === "AT+SKTSTATE" && sent === 0) {
      garbage = true;
      const junk = "x".repeat(1000) + "\r\n";
      // Bounded: 64 MiB at most, stopped by the driver's recovery query.
      (async () => {
        while (garbage && sent < 64 * 1024 * 1024) {
          await write(junk);
          sent += junk.length;
        }
      })();
      return;
    }
    if (line === "AT+SKTQUERY") {
      garbage = false;
      await write(QUERY_BLOCK);
    } else if (line === "AT+SKTSTATE") await write(STATE_BLOCK);
  });
  const driver = new AtDriver(transport, { timeoutMs: 60000 });
  await assert.rejects(driver.state(), AnswerTooLargeError);
  assert.ok(sent < 64 * 1024 * 1024, `the driver took ${sent} bytes`);
  // The next command gets its own answer.
  const states = await driver.state();
  assert.equal(states.length, 1);
  await driver.close();
  await running;
  assert.ok(MAX_ANSWER_BYTES <= 1024 * 1024);
});

Deno.test("driver: after a timed-out read whose huge declared length never ends, no later answer is swallowed or taken for another's", async () => {
  let streaming = true;
  let junk: Promise<void> | undefined;
  const { transport, running } = fakeModule(async (line, write) => {
    if (line.startsWith("AT+SKTREAD=")) {
      // Announces 900000 bytes, then trickles data that never reaches it.
      await write("\r\n+SKTREAD:0,900000,");
      junk = (async () => {
        for (let i = 0; streaming && i < 800; i++) {
          await write("x".repeat(1000));
          await new Promise((resolve) => setTimeout(resolve, 2));
        }
      })();
    } else if (line === "AT+SKTQUERY") {
      // Busy printing: the first two recovery queries go unanswered.
      if (++queries > 2) await write(QUERY_BLOCK);
    } else if (line === "AT+SKTSTATE") await write(STATE_BLOCK);
  });
  let queries = 0;
  const driver = new AtDriver(transport, { timeoutMs: 300 });
  try {
    await assert.rejects(driver.read(0, 10), CommandTimeoutError);
    let answered = 0;
    for (let i = 0; i < 5; i++) {
      // Either its own answer or a typed failure: never an empty list made
      // of someone else's OK.
      const result: { linkId: number }[] | Error = await driver.state({
        timeoutMs: 2000,
      }).catch((e) => e);
      if (result instanceof Error) {
        assert.ok(
          result instanceof CommandTimeoutError ||
            result instanceof AnswerTooLargeError,
          String(result),
        );
      } else {
        assert.deepEqual(result.map((s) => s.linkId), [0]);
        answered++;
      }
    }
    assert.ok(answered > 0, "the driver never resynchronised");
  } finally {
    streaming = false;
    await junk;
    await driver.close();
    await running;
  }
});

Deno.test("driver: a module that answers everything with a huge +SKTREAD header never gives a command another's answer", async () => {
  // Every answer opens a read that announces 900000 bytes and never ends.
  const { transport, running } = fakeModule(async (_line, write) => {
    await write("\r\n+SKTREAD:0,900000,abc");
  });
  const driver = new AtDriver(transport, { timeoutMs: 200 });
  await assert.rejects(driver.read(0, 10), CommandTimeoutError);
  for (let i = 0; i < 3; i++) {
    await assert.rejects(driver.state({ timeoutMs: 700 }), CommandTimeoutError);
  }
  await driver.close();
  await running;
});
