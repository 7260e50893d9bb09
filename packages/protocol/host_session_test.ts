import assert from "node:assert/strict";
import {
  ATCMD_READY,
  concat,
  describeLine,
  encode,
  formatData,
  formatError,
  formatRead,
  HostSession,
  type HostSessionEvent,
  MAX_ANSWER_BYTES,
  OK,
  prepareCommand,
  TT_PROMPT,
} from "./mod.ts";

function settled(events: HostSessionEvent[]) {
  return events.filter((e) => e.type === "settled");
}

Deno.test("host session: a command's line comes out; its answer settles it, unsolicited lines stay events", () => {
  const session = new HostSession();
  const line = session.send({ command: "SKTSTATE" }, 100);
  assert.deepEqual(line, encode("AT+SKTSTATE\r\n"));
  const pending = session.pending!;
  assert.equal(pending.name, "AT+SKTSTATE");
  assert.equal(pending.command, "SKTSTATE");
  assert.equal(session.deadline(), 100);
  const events = session.receive(concat([
    encode("\r\n"),
    formatData(0, encode("mid\r\nanswer")),
    encode(
      "link_id:0,client,tcp,src_address:1.2.3.4,src_port:1,dst_address:5.6.7.8,dst_port:2,socket_fd:3\r\n",
    ),
    OK,
  ]));
  assert.deepEqual(events, [
    { type: "data", linkId: 0, data: encode("mid\r\nanswer") },
    {
      type: "settled",
      pending,
      result: {
        kind: "ok",
        answer: {
          lines: [
            "link_id:0,client,tcp,src_address:1.2.3.4,src_port:1,dst_address:5.6.7.8,dst_port:2,socket_fd:3",
          ],
        },
      },
    },
    { type: "final" },
  ]);
  assert.equal(session.pending, undefined);
  assert.equal(session.deadline(), undefined);
  // A late OK matches nothing, but still says the answers are out.
  assert.deepEqual(session.receive(OK), [{ type: "final" }]);
});

Deno.test("host session: a prepared command is sent as prepared: its line, its name, and a read's hint", () => {
  const session = new HostSession();
  session.markUdp(6);
  const prepared = prepareCommand({ command: "SKTREAD", linkId: 6, size: 9 });
  assert.deepEqual(prepared.line, encode("AT+SKTREAD=6,9\r\n"));
  assert.equal(prepared.name, "AT+SKTREAD=6,9");
  assert.equal(session.send(prepared, 7), prepared.line, "the line made once");
  assert.equal(session.pending?.name, prepared.name);
  assert.equal(session.pending?.command, "SKTREAD");
  assert.equal(session.deadline(), 7);
  const [read] = settled(session.receive(formatRead(6, encode("hi"), {
    ip: "10.0.0.1",
    port: 53,
  })));
  assert.ok(read?.type === "settled" && read.result.kind === "ok");
  assert.deepEqual(read.result.answer.read?.sender, {
    ip: "10.0.0.1",
    port: 53,
  });
  assert.throws(
    () => prepareCommand({ command: "SKTDEL", linkId: 20 }),
    RangeError,
  );
});

Deno.test("host session: ERROR settles with the code", () => {
  const session = new HostSession();
  session.send({ command: "SKTDEL", linkId: 3 });
  const pending = session.pending!;
  assert.deepEqual(session.receive(formatError(1)), [
    { type: "settled", pending, result: { kind: "error", code: 1 } },
    { type: "final" },
  ]);
});

Deno.test("host session: the first ATCMD READY is a greeting; a later one resets the command and the UDP mirror", () => {
  const session = new HostSession();
  session.markUdp(4);
  session.send({ command: "SKTSTATE" });
  assert.deepEqual(session.receive(ATCMD_READY), [{ type: "ready" }]);
  assert.ok(session.heard);
  assert.ok(session.pending, "a greeting does not end the command");
  assert.ok(!session.isUdp(4), "every link is gone after READY");
  session.markUdp(5);
  const pending = session.pending!;
  assert.deepEqual(session.receive(ATCMD_READY), [
    { type: "settled", pending, result: { kind: "reset" } },
    { type: "ready" },
  ]);
  assert.ok(!session.isUdp(5));
});

Deno.test("host session: >>> goes to the raw command in flight; no command, no prompt", () => {
  const session = new HostSession();
  assert.deepEqual(session.receive(TT_PROMPT), []);
  session.send({ command: "SKTSENDRAW", linkId: 1, size: 5 });
  const pending = session.pending!;
  assert.deepEqual(session.receive(TT_PROMPT), [{ type: "prompt", pending }]);
  assert.equal(session.pending, pending, "still waiting for the final result");
});

Deno.test("host session: the UDP mirror decides whether a read names its sender", () => {
  // TCP data that looks like a sender prefix stays data.
  const tcp = new HostSession();
  tcp.send({ command: "SKTREAD", linkId: 2, size: 100 });
  const data = encode("1.2.3.4,5,rest");
  const [tcpRead] = settled(tcp.receive(formatRead(2, data)));
  assert.ok(tcpRead?.type === "settled" && tcpRead.result.kind === "ok");
  assert.deepEqual(tcpRead.result.answer.read?.data, data);
  assert.equal(tcpRead.result.answer.read?.sender, undefined);
  // The same bytes on a link AT+SKTSTATE showed as UDP: a sender.
  const udp = new HostSession();
  udp.learnStates([{
    linkId: 2,
    role: "client",
    protocol: "udp",
    source: { ip: "0.0.0.0", port: 0 },
    destination: { ip: "1.2.3.4", port: 5 },
    socketFd: 1,
  }]);
  assert.ok(udp.isUdp(2));
  udp.send({ command: "SKTREAD", linkId: 2, size: 100 });
  const [udpRead] = settled(udp.receive(formatRead(2, encode("rest"), {
    ip: "1.2.3.4",
    port: 5,
  })));
  assert.ok(udpRead?.type === "settled" && udpRead.result.kind === "ok");
  assert.deepEqual(udpRead.result.answer.read?.sender, {
    ip: "1.2.3.4",
    port: 5,
  });
  udp.forgetLink(2);
  assert.ok(!udp.isUdp(2));
});

Deno.test("host session: AT+SKTSTATE replaces the UDP mirror: a link it no longer shows as UDP is read as TCP", () => {
  const session = new HostSession();
  session.markUdp(3);
  session.markUdp(7);
  const udpState = (linkId: number) => ({
    linkId,
    role: "client" as const,
    protocol: "udp" as const,
    source: { ip: "0.0.0.0", port: 0 },
    destination: { ip: "1.2.3.4", port: 5 },
    socketFd: 1,
  });
  session.learnStates([udpState(7), { ...udpState(9), protocol: "tcp" }]);
  assert.ok(!session.isUdp(3), "a link the answer does not show is forgotten");
  assert.ok(session.isUdp(7));
  assert.ok(!session.isUdp(9));
  // Link 3 (now, say, a TCP link of another host) reads without a sender.
  session.send({ command: "SKTREAD", linkId: 3, size: 100 });
  const data = encode("1.2.3.4,5,rest");
  const [read] = settled(session.receive(formatRead(3, data)));
  assert.ok(read?.type === "settled" && read.result.kind === "ok");
  assert.deepEqual(read.result.answer.read?.data, data);
  assert.equal(read.result.answer.read?.sender, undefined);
});

Deno.test("host session: garbage and lines beyond the answer limit end the command once", () => {
  const session = new HostSession({
    maxAnswerBytes: 100,
    parser: { maxLineLength: 64 },
  });
  session.send({ command: "SKTSTATE" });
  const pending = session.pending!;
  const events = session.receive(new Uint8Array(300).fill(0x41));
  assert.deepEqual(settled(events), [{
    type: "settled",
    pending,
    result: { kind: "too-large", limit: 100 },
  }]);
  assert.ok(events.some((e) => e.type === "garbage"));
  assert.ok(session.buffered <= 65);
  assert.equal(MAX_ANSWER_BYTES, 64 * 1024);
});

Deno.test("host session: a deadline is handed out, reported once, and can be extended or abandoned", () => {
  const session = new HostSession();
  session.send({ command: "SKTSTATE" }, 50);
  const pending = session.pending!;
  assert.equal(session.timeout(49), undefined);
  assert.equal(session.timeout(50), pending);
  assert.equal(session.timeout(60), undefined, "told once");
  assert.equal(session.deadline(), undefined);
  assert.equal(session.pending, pending, "the caller decides");
  session.extend(80);
  assert.equal(session.deadline(), 80);
  assert.equal(session.timeout(80), pending);
  session.abandon();
  assert.equal(session.pending, undefined);
  // A late answer to the abandoned command settles nothing.
  assert.deepEqual(session.receive(OK), [{ type: "final" }]);
});

Deno.test("host session: restart drops a read that announced more than it printed", () => {
  const session = new HostSession();
  session.send({ command: "SKTREAD", linkId: 0, size: 1000 });
  session.receive(encode("+SKTREAD:0,1000,abc"));
  assert.ok(session.buffered > 0);
  session.abandon();
  session.restart();
  assert.equal(session.buffered, 0);
  session.send({ command: "SKTDEL", linkId: 0 });
  assert.equal(settled(session.receive(OK)).length, 1);
});

Deno.test("describeLine: a command line without its line end, cut at 60 characters", () => {
  assert.equal(describeLine(encode("AT+SKTSTATE\r\n")), "AT+SKTSTATE");
  const long = encode(`AT+SKTSEND=0,100,,,${"x".repeat(100)}\r\n`);
  assert.equal(describeLine(long), `AT+SKTSEND=0,100,,,${"x".repeat(38)}...`);
  assert.equal(describeLine(long).length, 60);
  const huge = encode(`AT+SKTSEND=0,900,,,${"é".repeat(900)}\r\n`);
  assert.equal(describeLine(huge), `AT+SKTSEND=0,900,,,${"é".repeat(38)}...`);
});
