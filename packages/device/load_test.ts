import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { TCP_WINDOW } from "@atsock/protocol";
import { freePort, Harness, tcpPeer, unsentBytes } from "./test_util.ts";

const MiB = 1024 * 1024;

function payload(seed: number, size: number): Uint8Array {
  // Pseudo-random bytes without NUL (SKTREAD prints data as a C string).
  const out = new Uint8Array(size);
  let x = seed * 2654435761 >>> 0;
  for (let i = 0; i < size; i++) {
    x = (x * 1664525 + 1013904223) >>> 0;
    out[i] = 1 + (x >>> 24) % 255;
  }
  return out;
}

const sha = (bytes: Uint8Array) =>
  createHash("sha256").update(bytes).digest("hex");

async function sendAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let written = 0;
  while (written < data.length) {
    written += await conn.write(data.subarray(written));
  }
}

/** Connects 20 client links to a local peer; returns the peer-side conns by link id. */
async function twentyClients(
  h: Harness,
  autoRcv: 0 | 1,
): Promise<{ conns: Deno.TcpConn[]; close(): void }> {
  const peer = tcpPeer();
  const conns: Deno.TcpConn[] = [];
  for (let id = 0; id < 20; id++) {
    const accepted = peer.accept();
    assert.equal(
      await h.code(`AT+SKTCLIENT=${id},1,,127.0.0.1,${peer.port},,${autoRcv}`),
      0,
    );
    conns.push(await accepted);
  }
  return { conns, close: () => peer.close() };
}

Deno.test("19 seeds x 1 MiB through SKTREAD (auto_rcv=0): no byte lost, every peer held back near a window", async () => {
  const h = await Harness.start({ mode: "host" });
  const port = freePort();
  const conns: Deno.TcpConn[] = [];
  try {
    // The server takes id 19; its seeds take 0..18.
    assert.equal(await h.code(`AT+SKTSERVER=19,1,,${port},0`), 0);
    for (let id = 0; id < 19; id++) {
      conns.push(await Deno.connect({ hostname: "127.0.0.1", port }));
      const { event } = await h.next((e) => e.type === "connect");
      assert.equal((event as { linkId: number }).linkId, id);
    }
    const sent = conns.map((_, id) => payload(id, MiB));
    // Written in 4 KiB pieces, counted, to see how far each peer gets ahead.
    const written = sent.map(() => 0);
    const writers = conns.map(async (conn, id) => {
      while (written[id] < MiB) {
        const end = Math.min(written[id] + 4096, MiB);
        written[id] += await conn.write(sent[id].subarray(written[id], end));
      }
    });
    const got = sent.map(() => [] as Uint8Array[]);
    const sizes = sent.map(() => 0);
    let maxAhead = 0;
    let maxTaken = 0;
    for (let round = 0; round < 20000 && sizes.some((n) => n < MiB); round++) {
      for (let id = 0; id < 19; id++) {
        if (sizes[id] >= MiB) continue;
        maxAhead = Math.max(maxAhead, written[id] - sizes[id]);
        // Taken by the module's side (its kernel and its window) and not
        // yet read; `written` can only lag, so this never overstates.
        const taken = written[id] - unsentBytes(conns[id]) - sizes[id];
        maxTaken = Math.max(maxTaken, taken);
        const answer = await h.command(`AT+SKTREAD=${id},8192`);
        const read = answer.events.find((e) => e.type === "read");
        assert.ok(read && read.type === "read", answer.text.slice(0, 80));
        assert.equal(read.data.length, read.size);
        got[id].push(read.data);
        sizes[id] += read.size;
      }
    }
    await Promise.all(writers);
    for (let id = 0; id < 19; id++) {
      const all = new Uint8Array(sizes[id]);
      let offset = 0;
      for (const part of got[id]) {
        all.set(part, offset);
        offset += part.length;
      }
      assert.equal(sha(all), sha(sent[id]), `link ${id}`);
    }
    // The module's side held a window (and a segment or two in its
    // kernel); a peer got further ahead only by its own send buffer.
    console.log(
      `  the module's side held at most ${maxTaken} bytes; a peer was at most ${maxAhead} ahead`,
    );
    assert.ok(maxTaken <= TCP_WINDOW + 2 * 1460, `held ${maxTaken}`);
  } finally {
    for (const conn of conns) conn.close();
    await h.close();
  }
});

Deno.test("20 links x 1 MiB as DATA lines (auto_rcv=1): no byte lost", async () => {
  const h = await Harness.start({ mode: "host" });
  const { conns, close } = await twentyClients(h, 1);
  try {
    const sent = conns.map((_, id) => payload(id + 100, MiB));
    const hashes = sent.map(() => createHash("sha256"));
    const sizes = sent.map(() => 0);
    const writers = conns.map((conn, id) => sendAll(conn, sent[id]));
    while (sizes.some((n) => n < MiB)) {
      const { event } = await h.next((e) => e.type === "data", 20000);
      if (event.type !== "data") continue;
      hashes[event.linkId].update(event.data);
      sizes[event.linkId] += event.data.length;
    }
    await Promise.all(writers);
    for (let id = 0; id < 20; id++) {
      assert.equal(sizes[id], MiB);
      assert.equal(hashes[id].digest("hex"), sha(sent[id]), `link ${id}`);
    }
  } finally {
    for (const conn of conns) conn.close();
    close();
    await h.close();
  }
});

Deno.test("a console that stops reading holds the peers back: memory stays bounded, nothing lost", async () => {
  const h = await Harness.start({ mode: "host" });
  const { conns, close } = await twentyClients(h, 1);
  try {
    h.pause();
    const sent = conns.map((_, id) => payload(id + 200, MiB));
    let finished = 0;
    const writers = conns.map((conn, id) =>
      sendAll(conn, sent[id]).then(() => finished++)
    );
    let maxQueued = 0;
    for (let i = 0; i < 100; i++) {
      maxQueued = Math.max(maxQueued, h.module.stats().consoleOutput);
      await new Promise((r) => setTimeout(r, 10));
    }
    // 64 KiB high water plus at most one read (64 KiB) per link, printed
    // as up to four DATA lines of 16 KiB, each with its header.
    assert.ok(
      maxQueued <= 64 * 1024 + 20 * (64 * 1024 + 4 * 40),
      `queued ${maxQueued}`,
    );
    assert.ok(maxQueued > 0);
    // What the console did not take stays in the peers' and kernel's buffers.
    console.log(
      `  console queue peak ${maxQueued} bytes; ${finished}/20 peers done while paused`,
    );
    h.resume();
    const hashes = sent.map(() => createHash("sha256"));
    const sizes = sent.map(() => 0);
    while (sizes.some((n) => n < MiB)) {
      const { event } = await h.next((e) => e.type === "data", 20000);
      if (event.type !== "data") continue;
      hashes[event.linkId].update(event.data);
      sizes[event.linkId] += event.data.length;
    }
    await Promise.all(writers);
    for (let id = 0; id < 20; id++) {
      assert.equal(hashes[id].digest("hex"), sha(sent[id]), `link ${id}`);
    }
  } finally {
    for (const conn of conns) conn.close();
    close();
    await h.close();
  }
});

Deno.test("the link table: 20 ids, a full table refuses connections silently", async () => {
  const h = await Harness.start({ mode: "host" });
  const port = freePort();
  const clients: Deno.TcpConn[] = [];
  try {
    assert.equal(await h.code(`AT+SKTSERVER=5,1,,${port},0`), 0);
    for (let i = 0; i < 19; i++) {
      clients.push(await Deno.connect({ hostname: "127.0.0.1", port }));
      const { event } = await h.next((e) => e.type === "connect");
      // Seeds take the lowest free id, skipping the server's.
      assert.equal((event as { linkId: number }).linkId, i < 5 ? i : i + 1);
    }
    // The 21st connection is accepted and closed at once, with no event.
    const extra = await Deno.connect({ hostname: "127.0.0.1", port });
    assert.equal(await extra.read(new Uint8Array(1)), null);
    extra.close();
    const state = await h.command("AT+SKTSTATE");
    const lines = state.text.split("\r\n").filter((l) =>
      l.startsWith("link_id")
    );
    assert.equal(lines.length, 20);
    assert.match(lines[0], /^link_id:5,server,tcp,/);
    assert.match(lines[1], /^link_id:0,seed,tcp,/);
    assert.equal(await h.code("AT+SKTCLIENT=3,1,,127.0.0.1,1,,0"), 1);
    // Deleting a seed frees its id and the lowest socket number for reuse.
    assert.equal(await h.code("AT+SKTDEL=2"), 0);
    clients.push(await Deno.connect({ hostname: "127.0.0.1", port }));
    const { event } = await h.next((e) => e.type === "connect");
    assert.equal((event as { linkId: number }).linkId, 2);
    const again = await h.command("AT+SKTSTATE");
    assert.match(again.text, /link_id:2,seed,tcp,[^\r]*socket_fd:3\r\n/);
    assert.equal(await h.code("AT+SKTDEL=5"), 0);
    assert.equal(h.module.stats().links, 0);
  } finally {
    for (const c of clients) c.close();
    await h.close();
  }
});
