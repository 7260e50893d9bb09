import assert from "node:assert/strict";
import {
  decodeLatin1,
  parseTranscript,
  type TranscriptRecord,
} from "@atsock/protocol";
import { TranscriptRecorder } from "./transcript.ts";
import { Harness, tcpPeer } from "./test_util.ts";

/** A recorder that writes into memory. */
function memoryRecorder(
  options: { payloads?: boolean; maxBuffered?: number; block?: boolean } = {},
) {
  const chunks: Uint8Array[] = [];
  let release: () => void = () => {};
  const blocked = new Promise<void>((resolve) => (release = resolve));
  const recorder = new TranscriptRecorder({
    payloads: options.payloads,
    maxBuffered: options.maxBuffered,
    write: async (bytes) => {
      if (options.block) await blocked;
      chunks.push(bytes.slice());
    },
  });
  return {
    recorder,
    release,
    text: () =>
      new TextDecoder().decode(
        new Uint8Array(chunks.flatMap((c) => [...c])),
      ),
  };
}

function consoleText(records: TranscriptRecord[], dir: "h2m" | "m2h") {
  return records.filter((r) => r.dir === dir).map((r) =>
    decodeLatin1((r as { data: Uint8Array }).data)
  ).join("");
}

Deno.test("transcript of a session: console both ways and the link's network events", async () => {
  const { recorder, text } = memoryRecorder({ payloads: true });
  const h = await Harness.start({ mode: "host", transcript: recorder });
  const peer = tcpPeer();
  try {
    await h.next((e) => e.type === "ready");
    const accepted = peer.accept();
    assert.equal(
      await h.code(`AT+SKTCLIENT=0,1,,127.0.0.1,${peer.port},,0`),
      0,
    );
    const conn = await accepted;
    await conn.write(new TextEncoder().encode("hi"));
    let read = await h.command("AT+SKTREAD=0,10");
    for (let i = 0; i < 100 && !read.text.includes("hi"); i++) {
      read = await h.command("AT+SKTREAD=0,10");
    }
    assert.match(read.text, /\+SKTREAD:0,2,hi/);
    assert.equal(await h.code("AT+SKTSEND=0,3,,,abc"), 0);
    assert.equal(await h.code("AT+SKTDEL=0"), 0);
    conn.close();
  } finally {
    peer.close();
    await h.close();
  }
  await recorder.close();
  const transcript = parseTranscript(text());
  assert.equal(transcript.header.mode, "host");
  assert.equal(transcript.header.ip, "127.0.0.1");
  const { records } = transcript;
  const times = records.map((r) => r.t);
  assert.deepEqual(times, [...times].sort((a, b) => a - b), "monotonic");
  const sent = consoleText(records, "h2m");
  assert.ok(sent.startsWith(`AT+SKTCLIENT=0,1,,127.0.0.1,${peer.port},,0\r\n`));
  assert.ok(sent.endsWith("AT+SKTSEND=0,3,,,abc\r\nAT+SKTDEL=0\r\n"));
  const printed = consoleText(records, "m2h");
  assert.ok(printed.startsWith("ATCMD READY\r\n\r\nOK\r\n"));
  assert.ok(printed.includes("+SKTREAD:0,2,hi\r\nOK\r\n"));
  const net = records.filter((r) => r.dir === "net");
  assert.deepEqual(
    net.map((r) => r.dir === "net" && [r.event, r.bytes, r.by]),
    [
      ["open", undefined, undefined],
      ["rx", 2, undefined],
      ["tx", 3, undefined],
      ["close", undefined, "module"],
    ],
  );
  assert.equal(
    net[0].dir === "net" && net[0].peer,
    `127.0.0.1:${peer.port}`,
  );
  assert.equal(net[0].dir === "net" && net[0].kind, "client tcp");
  const tx = net[2];
  assert.equal(tx.dir === "net" && decodeLatin1(tx.data!), "abc");
});

Deno.test("transcript recorder: without payloads, net records keep counts only", async () => {
  const { recorder, text } = memoryRecorder();
  recorder.begin();
  recorder.net(3, "rx", { data: new Uint8Array(5) });
  await recorder.close();
  const [record] = parseTranscript(text()).records;
  assert.deepEqual(
    { ...record, t: 0 },
    { t: 0, dir: "net", link: 3, event: "rx", bytes: 5 },
  );
});

Deno.test("transcript recorder: memory stays bounded while the file is stuck, and the loss is recorded", async () => {
  const stuck = memoryRecorder({ block: true, maxBuffered: 1000 });
  const { recorder } = stuck;
  recorder.begin();
  const line = new TextEncoder().encode("x".repeat(100));
  for (let i = 0; i < 1000; i++) recorder.m2h(line);
  assert.ok(recorder.dropped > 900, `dropped ${recorder.dropped}`);
  const dropped = recorder.dropped;
  stuck.release();
  await recorder.flush();
  recorder.m2h(line);
  await recorder.close();
  const { records } = parseTranscript(stuck.text());
  const loss = records.find((r) => r.dir === "dropped");
  assert.ok(loss && loss.dir === "dropped");
  assert.equal(loss.count, dropped);
  assert.equal(records.length, 1000 - dropped + 2);
});
