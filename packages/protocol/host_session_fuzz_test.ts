/**
 * The host session fuzzed directly, without sockets or streams: scripted
 * module output for a sequence of commands, cut into arbitrary chunks.
 * Bounded: a few hundred runs of at most a few dozen commands each.
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import {
  ATCMD_READY,
  concat,
  DEFAULT_CONFIG,
  encode,
  formatConnectEvent,
  formatData,
  formatError,
  formatQuery,
  formatRead,
  formatState,
  HIGH_WATERMARK,
  HostSession,
  type HostSessionEvent,
  type LinkState,
  LOW_WATERMARK,
  OK,
  type PendingCommand,
  type Request,
  TT_PROMPT,
} from "./mod.ts";

const RUNS = 200;

/** An unsolicited line the module may print at any time. */
const unsolicited: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.record({
    linkId: fc.integer({ min: 0, max: 19 }),
    data: fc.uint8Array({ maxLength: 300 }),
    udp: fc.boolean(),
  }).map(({ linkId, data, udp }) =>
    formatData(linkId, data, udp ? { ip: "10.0.0.7", port: 5000 } : undefined)
  ),
  fc.record({
    linkId: fc.integer({ min: 1, max: 19 }),
    serverId: fc.integer({ min: 0, max: 19 }),
    port: fc.integer({ min: 1, max: 65535 }),
  }).map(({ linkId, serverId, port }) =>
    formatConnectEvent({
      linkId,
      protocol: "tcp",
      peer: { ip: "127.0.0.1", port },
      serverId,
    })
  ),
  fc.constant(HIGH_WATERMARK),
  fc.constant(LOW_WATERMARK),
  fc.constant(encode("[$][SKT][EVENT]: something new\r\n")),
);

const STATE: LinkState = {
  linkId: 3,
  role: "client",
  protocol: "tcp",
  source: { ip: "127.0.0.1", port: 4000 },
  destination: { ip: "127.0.0.1", port: 80 },
  socketFd: 3,
};

/** How the module answers one command. */
type Reply =
  | { kind: "ok" }
  | { kind: "error"; code: number }
  | { kind: "state" }
  | { kind: "query" }
  | { kind: "read"; data: Uint8Array }
  | { kind: "raw" }
  | { kind: "reset" }
  | { kind: "silent" };

const reply: fc.Arbitrary<Reply> = fc.oneof(
  fc.constant({ kind: "ok" as const }),
  fc.integer({ min: 1, max: 15 }).map((code) => ({
    kind: "error" as const,
    code,
  })),
  fc.constant({ kind: "state" as const }),
  fc.constant({ kind: "query" as const }),
  // No CR in read data: a `\r\nOK\r\n` inside it makes the parser's NUL-cut
  // guess depend on where a chunk ends (documented in OutputParser.push).
  fc.uint8Array({ maxLength: 200 }).map((data) => ({
    kind: "read" as const,
    data: data.map((b) => (b === 0x0d || b === 0 ? 0x41 : b)),
  })),
  fc.constant({ kind: "raw" as const }),
  fc.constant({ kind: "reset" as const }),
  fc.constant({ kind: "silent" as const }),
);

interface Step {
  reply: Reply;
  linkId: number;
  before: Uint8Array[];
  after: Uint8Array[];
}

const step: fc.Arbitrary<Step> = fc.record({
  reply,
  linkId: fc.integer({ min: 0, max: 19 }),
  before: fc.array(unsolicited, { maxLength: 3 }),
  after: fc.array(unsolicited, { maxLength: 2 }),
});

/** The request a step sends (its reply decides which command fits). */
function requestOf(s: Step): Request {
  switch (s.reply.kind) {
    case "read":
      return { command: "SKTREAD", linkId: s.linkId, size: 8192 };
    case "raw":
      return { command: "SKTSENDRAW", linkId: s.linkId, size: 10 };
    case "query":
      return { command: "SKTQUERY" };
    case "state":
      return { command: "SKTSTATE" };
    default:
      return { command: "SKTDEL", linkId: s.linkId };
  }
}

/** UDP links at the start: reads on them name a sender. */
const UDP_LINKS = [4, 5];

/** What the module prints for a step (the session's UDP mirror decides the read format). */
function outputOf(s: Step, udp: boolean): Uint8Array {
  const r = s.reply;
  let answer: Uint8Array;
  switch (r.kind) {
    case "ok":
      answer = OK;
      break;
    case "error":
      answer = formatError(r.code);
      break;
    case "state":
      answer = formatState([STATE]);
      break;
    case "query":
      answer = formatQuery(DEFAULT_CONFIG);
      break;
    case "read": {
      const size = r.data.length;
      answer = size === 0 && !udp
        ? OK // Nothing to read on TCP: no +SKTREAD line.
        : formatRead(
          s.linkId,
          r.data,
          udp ? { ip: "10.0.0.9", port: 7000 } : undefined,
        );
      break;
    }
    case "raw":
      answer = concat([TT_PROMPT, OK]);
      break;
    case "reset":
      answer = ATCMD_READY;
      break;
    case "silent":
      answer = new Uint8Array();
      break;
  }
  return concat([...s.before, answer, ...s.after]);
}

/** Cuts `bytes` into chunks of the sizes in `sizes`, cyclically. */
function cut(bytes: Uint8Array, sizes: readonly number[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let k = 0;
  for (let i = 0; i < bytes.length;) {
    const n = sizes.length === 0 ? bytes.length : sizes[k++ % sizes.length];
    out.push(bytes.subarray(i, i + n));
    i += n;
  }
  return out;
}

interface Run {
  /** Events per step. */
  events: HostSessionEvent[][];
  /** The command each step sent. */
  pending: PendingCommand[];
  /** The command each step's deadline timed out, if any. */
  timedOut: (PendingCommand | undefined)[];
}

/** Drives a session through `steps`, cutting each step's output by `sizes`. */
function drive(steps: readonly Step[], sizes: readonly number[]): Run {
  const session = new HostSession();
  for (const id of UDP_LINKS) session.markUdp(id);
  const greeting = session.receive(ATCMD_READY); // A console greets first.
  assert.deepEqual(greeting, [{ type: "ready" }]);
  const run: Run = { events: [], pending: [], timedOut: [] };
  steps.forEach((s, i) => {
    const request = requestOf(s);
    const udp = request.command === "SKTREAD" && session.isUdp(s.linkId);
    session.send(request, i + 1);
    const pending = session.pending!;
    const events: HostSessionEvent[] = [];
    for (const chunk of cut(outputOf(s, udp), sizes)) {
      events.push(...session.receive(chunk));
    }
    // The caller's clock reaches the deadline: give the command up if it
    // is still in flight (as the driver does).
    const expired = session.timeout(i + 1);
    assert.equal(session.timeout(i + 1), undefined, "a timeout is told once");
    if (expired) session.abandon();
    run.events.push(events);
    run.pending.push(pending);
    run.timedOut.push(expired);
  });
  return run;
}

/** The events with each command replaced by its name (runs have their own objects). */
function comparable(events: HostSessionEvent[][]): unknown {
  return events.map((list) =>
    list.map((e) => "pending" in e ? { ...e, pending: e.pending.name } : e)
  );
}

Deno.test("host session: arbitrary chunking of module output gives the same events as one chunk per command (property)", () => {
  fc.assert(
    fc.property(
      fc.array(step, { maxLength: 25 }),
      fc.array(fc.integer({ min: 1, max: 40 }), {
        minLength: 1,
        maxLength: 8,
      }),
      (steps, sizes) => {
        const whole = drive(steps, []);
        const chunked = drive(steps, sizes);
        assert.deepEqual(comparable(chunked.events), comparable(whole.events));
        const bytes = drive(steps, [1]);
        assert.deepEqual(comparable(bytes.events), comparable(whole.events));
      },
    ),
    { numRuns: RUNS },
  );
});

Deno.test("host session: every command gets exactly one end: its answer, a reset, or its deadline (property)", () => {
  fc.assert(
    fc.property(
      fc.array(step, { maxLength: 25 }),
      fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 8 }),
      (steps, sizes) => {
        const run = drive(steps, sizes);
        steps.forEach((s, i) => {
          const pending = run.pending[i];
          const settled = run.events.flat().filter((e) =>
            e.type === "settled" && e.pending === pending
          );
          const ends = settled.length + (run.timedOut[i] === pending ? 1 : 0);
          assert.equal(ends, 1, `step ${i} (${s.reply.kind}) ends once`);
          const result = settled[0]?.type === "settled"
            ? settled[0].result
            : undefined;
          switch (s.reply.kind) {
            case "silent":
              assert.equal(run.timedOut[i], pending);
              break;
            case "reset":
              assert.deepEqual(result, { kind: "reset" });
              break;
            case "error":
              assert.deepEqual(result, { kind: "error", code: s.reply.code });
              break;
            default:
              assert.equal(result?.kind, "ok");
          }
          if (s.reply.kind === "raw") {
            assert.ok(
              run.events[i].some((e) =>
                e.type === "prompt" && e.pending === pending
              ),
            );
          }
          // Unsolicited lines are events, never answer lines.
          if (result?.kind === "ok") {
            for (const line of result.answer.lines) {
              assert.ok(!line.startsWith("[$]"), line);
            }
          }
        });
      },
    ),
    { numRuns: RUNS },
  );
});

Deno.test("host session: a read's data and sender follow the UDP mirror, whatever the chunking (property)", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 1, maxLength: 300 }),
      fc.boolean(),
      fc.array(fc.integer({ min: 1, max: 30 }), { maxLength: 6 }),
      (raw, udp, sizes) => {
        const data = raw.map((b) => (b === 0x0d || b === 0 ? 0x41 : b));
        const session = new HostSession();
        session.receive(ATCMD_READY);
        if (udp) session.markUdp(2);
        session.send({ command: "SKTREAD", linkId: 2, size: 8192 });
        const sender = udp ? { ip: "10.1.2.3", port: 65535 } : undefined;
        const events: HostSessionEvent[] = [];
        for (const chunk of cut(formatRead(2, data, sender), sizes)) {
          events.push(...session.receive(chunk));
        }
        const settled = events.find((e) => e.type === "settled");
        assert.ok(settled?.type === "settled");
        assert.equal(settled.result.kind, "ok");
        if (settled.result.kind !== "ok") return;
        const read = settled.result.answer.read;
        assert.deepEqual(read?.data, data);
        assert.deepEqual(read?.sender, sender);
      },
    ),
    { numRuns: RUNS },
  );
});

Deno.test("host session: random bytes never throw, each command ends at most once, and memory and garbage stay bounded (property)", () => {
  const maxLineLength = 256;
  const maxPayloadLength = 4096;
  const maxAnswerBytes = 1024;
  fc.assert(
    fc.property(
      fc.array(
        fc.oneof(
          fc.uint8Array({ maxLength: 400 }),
          unsolicited,
          fc.constantFrom(OK, formatError(1), ATCMD_READY, TT_PROMPT),
          fc.constant(encode("+SKTREAD:1,9000,")),
          fc.constant(encode("[$][SKT][DATA][1][99999]:")),
        ),
        { maxLength: 40 },
      ),
      fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 40 }),
      (chunks, sends) => {
        const session = new HostSession({
          maxAnswerBytes,
          parser: { maxLineLength, maxPayloadLength },
        });
        const ends = new Map<PendingCommand, number>();
        chunks.forEach((chunk, i) => {
          if (sends[i] === 0 || session.pending === undefined) {
            if (sends[i] === 1) session.resync();
            else session.send({ command: "SKTSTATE" });
          }
          for (const e of session.receive(chunk)) {
            if (e.type === "settled") {
              ends.set(e.pending, (ends.get(e.pending) ?? 0) + 1);
              assert.notEqual(session.pending, e.pending, "released");
            }
            if (e.type === "garbage") {
              assert.ok(
                e.bytes.length <=
                  Math.max(maxLineLength + 1, maxPayloadLength + 6),
                `garbage of ${e.bytes.length} bytes`,
              );
            }
          }
          assert.ok(
            session.buffered <= maxPayloadLength + maxLineLength + 64,
            `${session.buffered} bytes held`,
          );
        });
        for (const [pending, count] of ends) {
          assert.equal(count, 1, `${pending.name} ended ${count} times`);
        }
      },
    ),
    { numRuns: RUNS },
  );
});

Deno.test("host session: an answer that never ends is cut at the answer limit, once, whatever the chunking (property)", () => {
  const maxAnswerBytes = 2048;
  fc.assert(
    fc.property(
      fc.array(fc.stringMatching(/^[a-z :0-9]{1,80}$/), {
        minLength: 1,
        maxLength: 20,
      }),
      fc.array(fc.integer({ min: 1, max: 50 }), { maxLength: 6 }),
      (lines, sizes) => {
        const session = new HostSession({ maxAnswerBytes });
        session.receive(ATCMD_READY);
        session.send({ command: "SKTSTATE" });
        const pending = session.pending!;
        const noise = encode(lines.map((l) => l + "\r\n").join(""));
        const events: HostSessionEvent[] = [];
        let fed = 0;
        // Feed the lines over and over, far past the limit (which counts
        // the lines' text).
        const text = lines.join("").length;
        while (fed < maxAnswerBytes * 3) {
          for (const chunk of cut(noise, sizes)) {
            events.push(...session.receive(chunk));
          }
          fed += text;
        }
        const settled = events.filter((e) => e.type === "settled");
        assert.equal(settled.length, 1);
        assert.deepEqual(settled[0], {
          type: "settled",
          pending,
          result: { kind: "too-large", limit: maxAnswerBytes },
        });
        assert.equal(session.pending, undefined);
      },
    ),
    { numRuns: 50 },
  );
});

Deno.test("host session: a resync drops late answers, errors and garbage and ends only on the query block (property)", () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.oneof(
          fc.constantFrom(OK, formatError(4), formatState([STATE])),
          unsolicited,
          fc.uint8Array({ maxLength: 100 }).map((b) =>
            concat([
              b.map((x) => (x === 0x0d || x === 0x0a ? 0x41 : x)),
              encode("\r\n"),
            ])
          ),
        ),
        { maxLength: 20 },
      ),
      fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 6 }),
      (late, sizes) => {
        const session = new HostSession({ maxAnswerBytes: 512 });
        session.receive(ATCMD_READY);
        session.resync();
        const pending = session.pending!;
        const events: HostSessionEvent[] = [];
        for (const chunk of cut(concat(late), sizes)) {
          events.push(...session.receive(chunk));
        }
        // A partial line may still be held: end it before the block.
        events.push(...session.receive(encode("\r\n")));
        assert.ok(!events.some((e) => e.type === "settled"), "still waiting");
        assert.equal(session.pending, pending);
        const block = session.receive(formatQuery(DEFAULT_CONFIG));
        const settled = block.filter((e) => e.type === "settled");
        assert.equal(settled.length, 1);
        assert.equal(
          settled[0].type === "settled" && settled[0].result.kind,
          "ok",
        );
      },
    ),
    { numRuns: RUNS },
  );
});
