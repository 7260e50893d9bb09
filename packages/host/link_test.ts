import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { createModule, serveTcp } from "@atsock/device";
import { encode } from "@atsock/protocol";
import { AtDriver, connectTcp, linkStreams } from "./mod.ts";

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

async function setup(mode: "manual" | "host" = "host") {
  const module = createModule({ mode });
  const console = serveTcp(module, { port: 0 });
  const driver = new AtDriver(await connectTcp({ port: console.port }));
  if (mode === "host") await driver.waitReady();
  const peer = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  return {
    module,
    driver,
    peer,
    port: (peer.addr as Deno.NetAddr).port,
    close: async () => {
      peer.close();
      await driver.close();
      await console.close();
      await module.close();
    },
  };
}

Deno.test("a slow link reader holds the peer back: memory stays bounded, nothing is lost", async () => {
  const t = await setup();
  try {
    const accepted = t.peer.accept();
    await t.driver.connect({ linkId: 0, host: "127.0.0.1", port: t.port });
    const conn = await accepted;
    const link = linkStreams(t.driver, 0, { highWater: 64 * 1024 });
    const size = 16 * 1024 * 1024;
    const data = new Uint8Array(size).map((_, i) =>
      (i * 29 + (i >>> 10)) & 0xff
    );
    let written = 0;
    const writing = (async () => {
      while (written < size) {
        written += await conn.write(data.subarray(written, written + 65536));
      }
    })();
    // Nobody reads the link yet: the peer must stall well before 16 MiB.
    let stalledAt = -1;
    for (let i = 0; i < 200; i++) {
      const before = written;
      await new Promise((r) => setTimeout(r, 10));
      if (written === before && written > 0) {
        stalledAt = written;
        break;
      }
    }
    assert.ok(
      stalledAt > 0 && stalledAt < size,
      `peer stalled at ${stalledAt}`,
    );
    const held = t.module.stats().consoleOutput;
    assert.ok(held <= 512 * 1024, `module holds ${held} bytes of output`);
    // Now read everything: every byte arrives, in order.
    const hash = createHash("sha256");
    let total = 0;
    for await (const chunk of link.readable) {
      hash.update(chunk);
      total += chunk.length;
      if (total >= size) break;
    }
    await writing;
    assert.equal(total, size);
    assert.equal(hash.digest("hex"), sha(data));
    conn.close();
  } finally {
    await t.close();
  }
});

Deno.test("poll reading (auto_rcv=0, SKTREAD) and SKTSEND writing in Manual Test Mode", async () => {
  const t = await setup("manual");
  try {
    const accepted = t.peer.accept();
    await t.driver.connect({
      linkId: 2,
      host: "127.0.0.1",
      port: t.port,
      autoReceive: false,
    });
    const conn = await accepted;
    const link = linkStreams(t.driver, 2, { read: "poll", write: "send" });
    // 20 KB of text with commas and backslashes: SKTSEND splits and escapes.
    const text = encode("a,b\\c;".repeat(3500));
    const writer = link.writable.getWriter();
    await writer.write(text);
    const got = new Uint8Array(text.length);
    let n = 0;
    while (n < text.length) {
      const r = await conn.read(got.subarray(n));
      if (r === null) break;
      n += r;
    }
    assert.equal(new TextDecoder().decode(got), new TextDecoder().decode(text));
    // The peer answers more than one window (7300 bytes): reads poll it all.
    const reply = encode("0123456789".repeat(2000));
    let sent = 0;
    const sending = (async () => {
      while (sent < reply.length) {
        sent += await conn.write(reply.subarray(sent));
      }
    })();
    const reader = link.readable.getReader();
    const parts: Uint8Array[] = [];
    let total = 0;
    while (total < reply.length) {
      const { value, done } = await reader.read();
      if (done) break;
      parts.push(value);
      total += value.length;
    }
    await sending;
    assert.equal(
      parts.map((p) => new TextDecoder().decode(p)).join(""),
      new TextDecoder().decode(reply),
    );
    // SKTSEND cannot carry CR or LF: a clear error before anything is sent.
    await assert.rejects(() => writer.write(encode("a\r\nb")), /CR or LF/);
    reader.releaseLock();
    writer.releaseLock();
    await link.close();
    assert.deepEqual(await t.driver.state(), []);
    conn.close();
  } finally {
    await t.close();
  }
});
