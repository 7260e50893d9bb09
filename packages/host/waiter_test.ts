import assert from "node:assert/strict";
import type { PendingCommand } from "@atsock/protocol";
import { Waiter } from "./waiter.ts";

const pending: PendingCommand = {
  name: "AT+SKTSTATE",
  command: "SKTSTATE",
  resync: false,
};

Deno.test("waiter: settles once; until() ends on its failure, never on its answer", async () => {
  const waiter = new Waiter(pending, { name: "x", ms: 1, at: 1 });
  waiter.resolve({ lines: ["a"] });
  waiter.reject(new Error("late"));
  assert.deepEqual(await waiter.promise, { lines: ["a"] });
  assert.ok(waiter.settled);
  // An answered command does not end a write still under way.
  let finish!: (n: number) => void;
  const work = waiter.until(new Promise<number>((r) => (finish = r)));
  finish(7);
  assert.equal(await work, 7);
  const failing = new Waiter(pending, { name: "x", ms: 1, at: 1 });
  const stuck = failing.until(new Promise(() => {}));
  failing.reject(new RangeError("timed out"));
  await assert.rejects(stuck, RangeError);
  // Asked after the failure: ends at once too.
  await assert.rejects(failing.until(new Promise(() => {})), RangeError);
});

Deno.test("waiter: an abort rejects with the signal's reason, also one aborted before; the listener goes once settled", async () => {
  const abort = new AbortController();
  const waiter = new Waiter(pending, {
    name: "x",
    ms: 1,
    at: 1,
    signal: abort.signal,
  });
  abort.abort(new Error("user gave up"));
  await assert.rejects(waiter.promise, /user gave up/);
  const early = new Waiter(pending, {
    name: "x",
    ms: 1,
    at: 1,
    signal: abort.signal,
  });
  await assert.rejects(early.promise, /user gave up/);
  // Settled first: a later abort changes nothing.
  const later = new AbortController();
  const answered = new Waiter(pending, {
    name: "x",
    ms: 1,
    at: 1,
    signal: later.signal,
  });
  answered.resolve({ lines: [] });
  later.abort(new Error("too late"));
  assert.deepEqual(await answered.promise, { lines: [] });
});
