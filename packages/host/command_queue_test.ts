import assert from "node:assert/strict";
import FakeTimers from "@sinonjs/fake-timers";
import { type Answer, decodeLatin1, HostSession, OK } from "@atsock/protocol";
import { CommandQueue } from "./command_queue.ts";
import { CommandTimeoutError, TransportClosedError } from "./errors.ts";
import type { Transport } from "./transport.ts";

/** Whether a promise has settled, after the microtasks queued now have run. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  promise.then(() => (done = true), () => (done = true));
  for (let i = 0; i < 50; i++) await Promise.resolve();
  return done;
}

/**
 * A queue on a session and a transport that records what is written; the
 * test owns the clock (`clock.now`) and feeds the module's bytes itself.
 */
function rig() {
  const session = new HostSession();
  const written: string[] = [];
  const unresponsive: CommandTimeoutError[] = [];
  const clock = { now: 1000 };
  const transport: Transport = {
    name: "test",
    readable: new ReadableStream(),
    write: (bytes) => {
      written.push(decodeLatin1(bytes));
      return Promise.resolve();
    },
    close: () => Promise.resolve(),
  };
  const queue = new CommandQueue(session, transport, 3000, {
    closed: () => false,
    unresponsive: (e) => unresponsive.push(e),
    busy: () => {},
    now: () => clock.now,
  });
  /** What the driver's read loop does with the module's bytes. */
  const receive = (bytes: Uint8Array) => {
    for (const event of session.receive(bytes)) {
      if (event.type === "settled" || event.type === "prompt") {
        queue.handle(event);
      }
    }
  };
  const command = (timeoutMs: number): Promise<Answer> =>
    queue.enqueue(() => queue.exchange({ command: "SKTSTATE" }, { timeoutMs }));
  const close = () => queue.close((what) => new TransportClosedError(what));
  return {
    session,
    queue,
    written,
    unresponsive,
    clock,
    receive,
    command,
    close,
  };
}

Deno.test("command queue: the line written is the session's; one timer, for the session's deadline, whatever the number of commands", async () => {
  const timers = FakeTimers.install({ toFake: ["setTimeout", "clearTimeout"] });
  const r = rig();
  try {
    const answer = r.command(500);
    await timers.tickAsync(0);
    assert.deepEqual(r.written, ["AT+SKTSTATE\r\n"]);
    assert.equal(r.session.pending?.name, "AT+SKTSTATE");
    assert.equal(r.session.deadline(), 1500, "the limit on the queue's clock");
    assert.equal(timers.countTimers(), 1, "one timer: the session's deadline");
    r.receive(OK);
    assert.deepEqual(await answer, { lines: [] });
    // The next command keeps the timer, set for the earlier deadline.
    r.clock.now = 1100;
    const next = r.command(500);
    await timers.tickAsync(0);
    assert.equal(r.session.deadline(), 1600);
    assert.equal(timers.countTimers(), 1, "still one timer");
    // It fires at 1500, early for the next command: set again for 1600.
    r.clock.now = 1500;
    await timers.tickAsync(400);
    assert.equal(await settled(next), false);
    assert.equal(timers.countTimers(), 1);
    r.receive(OK);
    assert.deepEqual(await next, { lines: [] });
    // With nothing in flight, the timer finds nothing and is not set again.
    r.clock.now = 1600;
    await timers.tickAsync(100);
    assert.equal(timers.countTimers(), 0);
    assert.equal(r.unresponsive.length, 0);
  } finally {
    r.close();
    timers.uninstall();
  }
});

Deno.test("command queue: a timer that fires before the session's deadline (by the clock) times nothing out; the session decides", async () => {
  const timers = FakeTimers.install({ toFake: ["setTimeout", "clearTimeout"] });
  const r = rig();
  try {
    const answer = r.command(500);
    answer.catch(() => {});
    await timers.tickAsync(0);
    // The timer fires after 500 ms of timer time, but the clock says only
    // 200 ms have passed: early.
    r.clock.now = 1200;
    await timers.tickAsync(500);
    assert.equal(
      await settled(answer),
      false,
      "an early timer expires nothing",
    );
    assert.equal(r.session.pending?.name, "AT+SKTSTATE", "still in flight");
    assert.equal(r.session.deadline(), 1500);
    assert.equal(r.unresponsive.length, 0);
    // Set again for the rest of the time: 300 ms.
    r.clock.now = 1499;
    await timers.tickAsync(299);
    assert.equal(await settled(answer), false);
    r.clock.now = 1500;
    await timers.tickAsync(1);
    await assert.rejects(answer, (e) => {
      assert.ok(e instanceof CommandTimeoutError);
      assert.match(e.message, /AT\+SKTSTATE/);
      assert.match(e.message, /500/);
      return true;
    });
    assert.equal(r.unresponsive.length, 1);
    // The command was given up: a resync follows, with its own deadline.
    assert.deepEqual(r.written, ["AT+SKTSTATE\r\n", "AT+SKTQUERY\r\n"]);
    assert.equal(r.session.pending?.name, "resync");
    assert.equal(r.session.deadline(), 1500 + 3000);
  } finally {
    r.close();
    timers.uninstall();
  }
});

Deno.test("command queue: an answer that comes after the timer fired early is the command's", async () => {
  const timers = FakeTimers.install({ toFake: ["setTimeout", "clearTimeout"] });
  const r = rig();
  try {
    const answer = r.command(500);
    await timers.tickAsync(0);
    r.clock.now = 1010; // The timer fires far too early.
    await timers.tickAsync(500);
    r.receive(OK);
    assert.deepEqual(await answer, { lines: [] });
    assert.equal(r.unresponsive.length, 0);
    r.clock.now = 1500;
    await timers.tickAsync(500);
    assert.equal(r.unresponsive.length, 0, "a timer after the answer: nothing");
    assert.equal(timers.countTimers(), 0);
  } finally {
    r.close();
    timers.uninstall();
  }
});
