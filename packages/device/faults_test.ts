import assert from "node:assert/strict";
import { decodeLatin1, encode } from "@atsock/protocol";
import { createModule } from "./module.ts";
import type { ModuleOptions } from "./module_options.ts";
import {
  checkFaultPlan,
  type Fault,
  type FaultPlan,
  FaultPlanError,
  parseFaultPlan,
} from "./fault_plan.ts";
import { freePort, tcpPeer } from "./test_util.ts";

/** A module in Host Control Mode whose console writes are kept one by one. */
function rig(plan?: FaultPlan, options: ModuleOptions = {}) {
  const logs: string[] = [];
  const writes: Uint8Array[] = [];
  const module = createModule({
    mode: "host",
    faults: plan,
    log: (m) => logs.push(m),
    ...options,
  });
  module.attach((bytes) => {
    writes.push(bytes.slice());
    return Promise.resolve();
  });
  const text = () => writes.map(decodeLatin1).join("");
  return {
    module,
    logs,
    writes,
    text,
    send: (line: string) => module.receive(encode(line)),
    /** Waits (bounded) until the console text satisfies `test`. */
    async until(test: (text: string) => boolean, what: string) {
      for (let i = 0; i < 500; i++) {
        if (test(text())) return;
        await new Promise((r) => setTimeout(r, 10));
      }
      throw new Error(
        `timed out waiting for ${what}; console: ${JSON.stringify(text())}`,
      );
    },
    /** Sends a line and waits for `count` more final results. */
    async command(line: string, finals = 1) {
      const before = finalCount(text());
      await module.receive(encode(line + "\r\n"));
      await this.until(
        (t) => finalCount(t) >= before + finals,
        `the answer to ${line}`,
      );
    },
  };
}

function finalCount(text: string): number {
  return (text.match(/\r\n(OK|ERROR: \d+)\r\n/g) ?? []).length;
}

const READY = "ATCMD READY\r\n";

Deno.test("fault plans: JSON is checked field by field", () => {
  const plan = parseFaultPlan(JSON.stringify({
    seed: 7,
    faults: [
      {
        on: "command",
        command: "SKTREAD",
        probability: 0.3,
        times: 0,
        action: { type: "error", code: 4 },
      },
      { on: "time", atMs: 0, action: { type: "noise", dir: "m2h", drop: 0.1 } },
    ],
  }));
  assert.equal(plan.seed, 7);
  assert.equal(plan.faults.length, 2);
  assert.equal(checkFaultPlan({ faults: [] }).seed, 1);
  const bad: [unknown, RegExp][] = [
    [[], /the plan: must be an object/],
    [{ faults: 3 }, /faults: must be a list/],
    [{ seed: -1, faults: [] }, /seed: must be a whole number/],
    [{ faults: [{ on: "never" }] }, /faults\[0\]\.on: must be command/],
    [
      { faults: [{ on: "command", command: "SKTFOO", action: {} }] },
      /faults\[0\]\.command: must be one of SKTCFG/,
    ],
    [
      { faults: [{ on: "time", action: { type: "inject", lines: ["x"] } }] },
      /faults\[0\]\.atMs: must be a whole number/,
    ],
    [
      { faults: [{ on: "time", atMs: 5, action: { type: "error", code: 1 } }] },
      /error cannot fire on time/,
    ],
    [
      { faults: [{ on: "command", action: { type: "noise", dir: "up" } }] },
      /action\.dir: must be h2m or m2h/,
    ],
    [
      {
        faults: [{ on: "command", action: { type: "noise", dir: "h2m" } }],
      },
      /give a drop, duplicate or corrupt rate/,
    ],
    [
      { faults: [{ on: "command", action: { type: "chunk", sizes: [0] } }] },
      /sizes\[0\]: must be a whole number from 1/,
    ],
    [
      { faults: [{ on: "command", action: { type: "peer", do: "close" } }] },
      /action\.link: which link/,
    ],
    [
      {
        faults: [{ on: "command", probability: 2, action: { type: "reset" } }],
      },
      /probability: must be a number from 0 to 1/,
    ],
    [
      { faults: [{ on: "command", action: { type: "reset" }, when: 1 }] },
      /faults\[0\]\.when: unknown field/,
    ],
  ];
  for (const [value, message] of bad) {
    assert.throws(() => checkFaultPlan(value), (e: unknown) => {
      assert.ok(e instanceof FaultPlanError);
      assert.match(e.message, message);
      return true;
    });
  }
  assert.throws(() => parseFaultPlan("{"), /not JSON/);
});

Deno.test("error: the Nth named command is answered ERROR: n instead of acting", async () => {
  const r = rig({
    seed: 1,
    faults: [{
      on: "command",
      command: "SKTSERVER",
      nth: 2,
      action: { type: "error", code: 11 },
    }],
  });
  try {
    await r.command("AT+SKTSTATE");
    for (const id of [0, 1, 2]) {
      await r.command(`AT+SKTSERVER=${id},1,,${freePort()},0`);
    }
    assert.equal(
      r.text(),
      READY + "\r\nOK\r\n" + "\r\nOK\r\n" + "\r\nERROR: 11\r\n" +
        "\r\nOK\r\n",
    );
    assert.deepEqual(r.module.state().map((l) => l.linkId), [0, 2]);
    assert.deepEqual(r.module.faults.fired, [{
      index: 0,
      action: "error",
      detail: "AT+SKTSERVER: answered ERROR: 11",
    }]);
    assert.ok(
      r.logs.includes(
        "fault #0 (error on AT+SKTSERVER): AT+SKTSERVER: answered ERROR: 11",
      ),
      r.logs.join("\n"),
    );
  } finally {
    await r.module.close();
  }
});

Deno.test("inject: unsolicited lines between the command line and its answer", async () => {
  const r = rig({
    seed: 1,
    faults: [{
      on: "command",
      command: "SKTQUERY",
      action: {
        type: "inject",
        lines: [
          "[$][SKT][DATA][3][5]:hello",
          "[$][SKT][EVENT]: A client[link_id:4,seed,tcp,dst_address:10.0.0.9,dst_port:999] connected to server[link_id:1]",
        ],
      },
    }],
  });
  try {
    await r.command("AT+SKTQUERY");
    assert.ok(
      r.text().startsWith(
        READY + "[$][SKT][DATA][3][5]:hello\r\n" +
          "[$][SKT][EVENT]: A client[link_id:4,seed,tcp,dst_address:10.0.0.9,dst_port:999] connected to server[link_id:1]\r\n" +
          "\r\nGlobal SOCKET configuration:\r\n",
      ),
      r.text(),
    );
  } finally {
    await r.module.close();
  }
});

Deno.test("chunk: the answer leaves in writes of the given sizes, down to one byte", async () => {
  const r = rig({
    seed: 1,
    faults: [{
      on: "command",
      command: "SKTSTATE",
      action: { type: "chunk", sizes: [1, 2], bytes: 6 },
    }],
  });
  try {
    await r.command("AT+SKTSTATE");
    await r.command("AT+SKTSTATE");
    assert.deepEqual(r.writes.map(decodeLatin1), [
      READY,
      "\r",
      "\nO",
      "K",
      "\r\n",
      "\r\nOK\r\n", // Chunking ended after 6 bytes.
    ]);
  } finally {
    await r.module.close();
  }
});

Deno.test("delay: the answer is held, then arrives whole", async () => {
  const r = rig({
    seed: 1,
    faults: [{
      on: "command",
      command: "SKTSTATE",
      action: { type: "delay", ms: 30 },
    }],
  });
  try {
    await r.command("AT+SKTSTATE");
    assert.equal(r.text(), READY + "\r\nOK\r\n");
    assert.equal(r.module.faults.fired[0].detail, "AT+SKTSTATE: held 30 ms");
  } finally {
    await r.module.close();
  }
});

Deno.test("reset on a command: links gone, ATCMD READY instead of the answer", async () => {
  const r = rig({
    seed: 1,
    faults: [{
      on: "command",
      command: "SKTSTATE",
      action: { type: "reset" },
    }],
  });
  try {
    await r.command(`AT+SKTSERVER=0,1,,${freePort()},0`);
    assert.equal(r.module.state().length, 1);
    await r.send("AT+SKTSTATE\r\n");
    await r.until((t) => t.split(READY).length === 3, "the second READY");
    assert.equal(r.text(), READY + "\r\nOK\r\n" + READY);
    assert.equal(r.module.state().length, 0);
    await r.command("AT+SKTSTATE"); // Fired once: answers again.
    assert.ok(r.text().endsWith(READY + "\r\nOK\r\n"));
  } finally {
    await r.module.close();
  }
});

Deno.test("reset in the middle of an AT+SKTSENDRAW payload", async () => {
  const peer = tcpPeer();
  const r = rig({
    seed: 1,
    faults: [{
      on: "command",
      command: "SKTSENDRAW",
      action: { type: "reset", afterBytes: 4 },
    }],
  });
  try {
    const accepted = peer.accept();
    await r.command(`AT+SKTCLIENT=0,1,,127.0.0.1,${peer.port},,0`);
    const conn = await accepted;
    await r.send("AT+SKTSENDRAW=0,10\r\n");
    await r.until((t) => t.endsWith(">>>\r\n"), "the prompt");
    await r.send("abcdefghij");
    await r.until((t) => t.endsWith(">>>\r\n" + READY), "READY");
    assert.equal(r.text(), READY + "\r\nOK\r\n" + ">>>\r\n" + READY);
    assert.equal(r.module.state().length, 0);
    // The rest of the payload reached a fresh module as console input.
    assert.equal(r.module.inputBuffered, 6);
    conn.close();
  } finally {
    peer.close();
    await r.module.close();
  }
});

Deno.test("noise m2h: duplicate every byte of a bounded stretch", async () => {
  const r = rig({
    seed: 1,
    faults: [{
      on: "command",
      command: "SKTSTATE",
      action: { type: "noise", dir: "m2h", duplicate: 1, bytes: 6 },
    }],
  });
  try {
    await r.command("AT+SKTSTATE", 0);
    await r.until((t) => t.endsWith("\n\n"), "the doubled answer");
    await r.command("AT+SKTSTATE");
    assert.equal(
      r.text(),
      READY + "\r\r\n\nOOKK\r\r\n\n" + "\r\nOK\r\n",
    );
    assert.match(
      r.module.faults.fired[1].detail,
      /^m2h: duplicated 0x0d, duplicated 0x0a, duplicated 0x4f/,
    );
  } finally {
    await r.module.close();
  }
});

Deno.test("noise h2m: a dropped command is never answered; the next one is", async () => {
  const r = rig({
    seed: 1,
    faults: [{
      on: "time",
      atMs: 0,
      action: { type: "noise", dir: "h2m", drop: 1, bytes: 13 },
    }],
  });
  try {
    await r.send("AT+SKTSTATE\r\n"); // 13 bytes, all dropped
    await r.command("AT+SKTSTATE");
    assert.equal(r.text(), READY + "\r\nOK\r\n");
  } finally {
    await r.module.close();
  }
});

/** The console of a session under mixed noise and chance, and what fired. */
async function noisyRun(seed: number) {
  const r = rig({
    seed,
    faults: [
      {
        on: "time",
        atMs: 0,
        action: {
          type: "noise",
          dir: "m2h",
          drop: 0.05,
          duplicate: 0.05,
          corrupt: 0.05,
        },
      },
      {
        on: "command",
        command: "SKTDEL",
        probability: 0.5,
        times: 0,
        action: { type: "error", code: 9 },
      },
    ],
  });
  try {
    for (let i = 0; i < 12; i++) {
      await r.send("AT+SKTDEL=5\r\n");
      await r.until(
        () => r.module.faults.fired.length > 0 || r.writes.length > i,
        "output",
      );
    }
    await r.command("AT+SKTQUERY", 0);
    await r.until(() => r.module.stats().consoleOutput === 0, "quiet");
    await r.module.output.flushed();
    return { text: r.text(), fired: r.module.faults.fired };
  } finally {
    await r.module.close();
  }
}

Deno.test("the same seed gives the same run; another seed another", async () => {
  const a = await noisyRun(1234);
  const b = await noisyRun(1234);
  const c = await noisyRun(99);
  assert.equal(a.text, b.text);
  assert.deepEqual(a.fired, b.fired);
  assert.notEqual(a.text, c.text);
  const errors = a.fired.filter((f) => f.action === "error").length;
  assert.ok(errors > 0 && errors < 12, `${errors} of 12 SKTDEL erred`);
  assert.ok(
    a.fired.some((f) => f.action === "noise" && /corrupted/.test(f.detail)),
  );
});

/** Waits (at most 5 s) until the module has received `bytes` bytes from its peers. */
async function received(r: ReturnType<typeof rig>, bytes: number) {
  for (let i = 0; i < 500 && r.module.stats().received < bytes; i++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

Deno.test("peer close: data received stays readable, then the link reports its peer gone", async () => {
  const peer = tcpPeer();
  const r = rig();
  try {
    const accepted = peer.accept();
    await r.command(`AT+SKTCLIENT=0,1,,127.0.0.1,${peer.port},,0`);
    const conn = await accepted;
    await conn.write(encode("hello"));
    await received(r, 5);
    r.module.faults.add({
      on: "command",
      command: "SKTSTATE",
      action: { type: "peer", link: 0, do: "close" },
    });
    await r.command("AT+SKTSTATE");
    assert.match(r.text(), /socket_fd:\d+\r\n\r\nOK\r\n$/);
    // The peer sees the connection end.
    assert.equal(await conn.read(new Uint8Array(10)), null);
    await r.command("AT+SKTREAD=0,10");
    assert.ok(r.text().endsWith("+SKTREAD:0,5,hello\r\nOK\r\n"), r.text());
    await r.command("AT+SKTREAD=0,10");
    assert.ok(r.text().endsWith("\r\nERROR: 4\r\n"));
    assert.equal(
      r.module.faults.fired[0].detail,
      "AT+SKTSTATE: link 0's peer closed",
    );
    conn.close();
  } finally {
    peer.close();
    await r.module.close();
  }
});

Deno.test("peer reset: data not yet read is lost", async () => {
  const peer = tcpPeer();
  const r = rig();
  try {
    const accepted = peer.accept();
    await r.command(`AT+SKTCLIENT=0,1,,127.0.0.1,${peer.port},,0`);
    const conn = await accepted;
    await conn.write(encode("hello"));
    await received(r, 5);
    r.module.faults.add({
      on: "command",
      command: "SKTREAD",
      action: { type: "peer", link: 0, do: "reset" },
    });
    await r.command("AT+SKTREAD=0,10");
    assert.ok(r.text().endsWith("\r\nERROR: 4\r\n"), r.text());
    conn.close();
  } finally {
    peer.close();
    await r.module.close();
  }
});

Deno.test("peer stall: the link stops reading its socket (after the read under way)", async () => {
  const peer = tcpPeer();
  const r = rig();
  try {
    const accepted = peer.accept();
    await r.command(`AT+SKTCLIENT=0,1,,127.0.0.1,${peer.port},,0`);
    const conn = await accepted;
    r.module.faults.add({
      on: "command",
      command: "SKTSTATE",
      action: { type: "peer", link: 0, do: "stall" },
    });
    await r.command("AT+SKTSTATE");
    await conn.write(encode("A"));
    await received(r, 1);
    let written = 0;
    const big = new Uint8Array(16 * 1024);
    while (written < 64 * 1024) written += await conn.write(big);
    await r.command("AT+SKTREAD=0,100");
    assert.ok(r.text().endsWith("+SKTREAD:0,1,A\r\nOK\r\n"), r.text());
    await r.command("AT+SKTREAD=0,100");
    assert.ok(r.text().endsWith("+SKTREAD:0,0,\r\nOK\r\n"), r.text());
    assert.equal(r.module.stats().received, 0);
    await r.command("AT+SKTDEL=0"); // Ends the stall too.
    conn.close();
  } finally {
    peer.close();
    await r.module.close();
  }
});

Deno.test("on a link's data: the DATA line is delayed, then a later one injects a line", async () => {
  const peer = tcpPeer();
  const faults: Fault[] = [
    { on: "data", link: 0, action: { type: "delay", ms: 20 } },
    {
      on: "data",
      link: 0,
      nth: 2,
      action: { type: "inject", lines: ["[$][SKT][EVENT]: noise"] },
    },
  ];
  const r = rig({ seed: 3, faults });
  try {
    const accepted = peer.accept();
    await r.command(`AT+SKTCLIENT=0,1,,127.0.0.1,${peer.port},,1`);
    const conn = await accepted;
    await conn.write(encode("one"));
    await r.until((t) => t.endsWith("[$][SKT][DATA][0][3]:one\r\n"), "one");
    await conn.write(encode("two"));
    await r.until((t) => t.endsWith("[$][SKT][DATA][0][3]:two\r\n"), "two");
    assert.equal(
      r.text(),
      READY + "\r\nOK\r\n" + "[$][SKT][DATA][0][3]:one\r\n" +
        "[$][SKT][EVENT]: noise\r\n" + "[$][SKT][DATA][0][3]:two\r\n",
    );
    assert.deepEqual(r.module.faults.fired.map((f) => f.action), [
      "delay",
      "inject",
    ]);
    conn.close();
  } finally {
    peer.close();
    await r.module.close();
  }
});

Deno.test("at a time offset: inject a line at a line boundary", async () => {
  const r = rig({
    seed: 1,
    faults: [{
      on: "time",
      atMs: 20,
      action: { type: "inject", lines: ["[$][SKT][DATA][1][2]:hi"] },
    }],
  });
  try {
    await r.until((t) => t.includes("hi\r\n"), "the injected line");
    assert.equal(r.text(), READY + "[$][SKT][DATA][1][2]:hi\r\n");
  } finally {
    await r.module.close();
  }
});

Deno.test("faults and transcript: each firing is a fault record", async () => {
  const { TranscriptRecorder } = await import("./transcript.ts");
  const { parseTranscript } = await import("@atsock/protocol");
  const chunks: string[] = [];
  const transcript = new TranscriptRecorder({
    write: (bytes) => {
      chunks.push(new TextDecoder().decode(bytes));
      return Promise.resolve();
    },
  });
  const r = rig({
    seed: 5,
    faults: [{ on: "command", action: { type: "error", code: 3 } }],
  }, { transcript });
  try {
    await r.command("AT+SKTSTATE");
  } finally {
    await r.module.close();
    await transcript.close();
  }
  const { records } = parseTranscript(chunks.join(""));
  const fault = records.find((rec) => rec.dir === "fault");
  assert.deepEqual(fault && { ...fault, t: 0 }, {
    t: 0,
    dir: "fault",
    fault: 0,
    action: "error",
    detail: "AT+SKTSTATE: answered ERROR: 3",
  });
});
