import assert from "node:assert/strict";
import type { ReplayScript, ReplayStep } from "@atsock/protocol";
import { formatDiff, readTranscript, replay } from "./replay.ts";
import { fakeModule } from "./test_util.ts";
import { UsageError } from "./usage_error.ts";

const send = (line: number, ...template: ReplayStep["template"]) => ({
  kind: "send" as const,
  template,
  line,
});
const expect = (line: number, ...template: ReplayStep["template"]) => ({
  kind: "expect" as const,
  template,
  line,
});

/** A module that answers AT+SKTSTATE with one server line, on `port`. */
function stateModule(port: number) {
  return fakeModule(async (line, write) => {
    if (line === "AT+SKTSTATE") {
      await write(
        `\r\n+SKTSTATE:0,0,TCP_SERVER,src_address:0.0.0.0,src_port:${port}\r\nOK\r\n`,
      );
    } else await write("\r\nERROR: 1\r\n");
  });
}

const STATE: ReplayScript = {
  steps: [
    expect(2, "ATCMD READY\r\n"),
    send(3, "AT+SKTSTATE\r\n"),
    expect(
      4,
      "\r\n+SKTSTATE:0,0,TCP_SERVER,src_address:0.0.0.0,src_port:",
      { name: "PORT0" },
      "\r\nOK\r\n",
    ),
    send(5, "AT+SKTDEL=", { name: "PORT0" }, "\r\n"),
    expect(6, "\r\nERROR: 1\r\n"),
  ],
  recorded: { PORT0: "5000" },
};

Deno.test("replay: a module that answers as recorded matches; a placeholder binds from its output and is sent back", async () => {
  const fake = stateModule(40123);
  const result = await replay(structuredClone(STATE), fake.transport, {
    timeoutMs: 2000,
  });
  await fake.running;
  // The leading ATCMD READY alone was optional: a module on a cable printed it at power-up.
  assert.deepEqual(result, {
    result: "match",
    steps: 5,
    vars: { PORT0: "40123" },
  });
  assert.deepEqual(fake.lines, ["AT+SKTSTATE", "AT+SKTDEL=40123"]);
});

Deno.test("replay: --var values are sent instead of the recorded ones", async () => {
  const fake = fakeModule((_line, write) => write("\r\nERROR: 1\r\n"));
  const result = await replay(
    { steps: STATE.steps.slice(3), recorded: STATE.recorded },
    fake.transport,
    { vars: { PORT0: "7" }, timeoutMs: 2000 },
  );
  await fake.running;
  assert.equal(result.result, "match");
  assert.deepEqual(fake.lines, ["AT+SKTDEL=7"]);
});

Deno.test("replay: a different answer is the first difference, shown as a diff", async () => {
  const fake = fakeModule((_line, write) =>
    write("\r\n+SKTSTATE:0,1,UDP_SERVER\r\nOK\r\n")
  );
  const result = await replay(
    {
      steps: [
        send(2, "AT+SKTSTATE\r\n"),
        expect(3, "\r\n+SKTSTATE:0,0,TCP_SERVER\r\nOK\r\n"),
      ],
      recorded: {},
    },
    fake.transport,
    { timeoutMs: 2000 },
  );
  await fake.running;
  assert.equal(result.result, "differs");
  if (result.result !== "differs") return;
  assert.equal(result.line, 3);
  assert.equal(result.reason, "the module's output differs");
  assert.equal(
    formatDiff(result),
    [
      "replay differs at transcript line 3: the module's output differs",
      "  \\r\\n",
      "- +SKTSTATE:0,0,TCP_SERVER\\r\\n",
      "- OK\\r\\n",
      "+ +SKTSTATE:0,1,UDP_SERVER\\r\\n",
      "+ OK\\r\\n",
    ].join("\n"),
  );
});

Deno.test("replay: a silent module differs after the timeout; output after the last answer differs", async () => {
  const silent = fakeModule(() => {});
  const late = await replay(
    { steps: [send(2, "AT\r\n"), expect(3, "\r\nOK\r\n")], recorded: {} },
    silent.transport,
    { timeoutMs: 50 },
  );
  await silent.running;
  assert.equal(late.result, "differs");
  if (late.result === "differs") {
    assert.equal(late.reason, "no matching output within 50 ms");
    assert.deepEqual(late.got, []);
    assert.match(formatDiff(late), /\n\+ \(nothing\)$/);
  }

  const chatty = fakeModule((_line, write) => write("\r\nOK\r\n\r\nOK\r\n"));
  const extra = await replay(
    { steps: [send(2, "AT\r\n"), expect(3, "\r\nOK\r\n")], recorded: {} },
    chatty.transport,
    { timeoutMs: 2000 },
  );
  await chatty.running;
  assert.equal(extra.result, "differs");
  if (extra.result === "differs") {
    assert.equal(extra.reason, "output after the last recorded answer");
  }
});

Deno.test("replay: a peer step without peers differs there and says why; with peers, their outcome counts", async () => {
  const script: ReplayScript = {
    steps: [{
      kind: "peer",
      template: [],
      line: 4,
      peer: { do: "listen", name: "S", proto: "tcp", port: "PORT1" },
    }],
    recorded: {},
  };
  const none = fakeModule(() => {});
  const without = await replay(structuredClone(script), none.transport);
  await none.running;
  assert.equal(without.result, "differs");
  if (without.result === "differs") {
    assert.equal(without.line, 4);
    assert.match(without.reason, /needs network peers/);
  }

  const bound = fakeModule(() => {});
  const withPeers = await replay(structuredClone(script), bound.transport, {
    peers: (step) => Promise.resolve({ bound: { [step.port!]: "6000" } }),
  });
  await bound.running;
  assert.deepEqual(withPeers, {
    result: "match",
    steps: 1,
    vars: { PORT1: "6000" },
  });

  const refused = fakeModule(() => {});
  const differs = await replay(structuredClone(script), refused.transport, {
    peers: () =>
      Promise.resolve({
        differs: "peer S got nothing",
        expected: ["x"],
        got: [],
      }),
  });
  await refused.running;
  assert.equal(differs.result, "differs");
  if (differs.result === "differs") {
    assert.equal(differs.reason, "peer S got nothing");
  }
});

Deno.test("readTranscript: a missing or broken file is a UsageError naming it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "atsock-replay-" });
  try {
    await assert.rejects(
      readTranscript(`${dir}/none.jsonl`),
      (e: unknown) =>
        e instanceof UsageError && e.message.startsWith(`${dir}/none.jsonl: `),
    );
    await Deno.writeTextFile(`${dir}/bad.jsonl`, "not json\n");
    await assert.rejects(
      readTranscript(`${dir}/bad.jsonl`),
      (e: unknown) =>
        e instanceof UsageError && e.message.startsWith(`${dir}/bad.jsonl: `),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
