import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { createModule, serveTcp } from "@atsock/device";
import { encode } from "@atsock/protocol";
import {
  AtDriver,
  connectTcp,
  LinkOverflowError,
  linkStreams,
  memoryPair,
  ModuleResetError,
} from "./mod.ts";
import { freePort, readAll, waitFor } from "./test_util.ts";

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

Deno.test("connect returns a link that keeps data arriving with the OK (same chunk)", async () => {
  const [host, module] = memoryPair();
  const serving = (async () => {
    const reader = module.readable.getReader();
    let text = "";
    while (!text.includes("\r\n")) {
      const { value, done } = await reader.read();
      if (done) return;
      text += new TextDecoder().decode(value);
    }
    // The answer and the peer's banner in one write: one chunk to the host.
    await module.write(encode("\r\nOK\r\n[$][SKT][DATA][0][7]:banner!\r\n"));
    reader.releaseLock();
  })();
  const driver = new AtDriver(host);
  const link = await driver.connect({ linkId: 0, host: "h", port: 1 });
  await serving;
  const reader = link.readable.getReader();
  assert.deepEqual((await reader.read()).value, encode("banner!"));
  reader.releaseLock();
  await driver.close();
});

Deno.test("links from connect and listen against the virtual module: banners, seeds, peer close", async (t) => {
  const b = await setup();
  try {
    await t.step("connect: a banner sent at once is read", async () => {
      const accepting = (async () => {
        const conn = await b.peer.accept();
        await conn.write(encode("220 hello\r\n"));
        return conn;
      })();
      const link = await b.driver.connect({
        linkId: 0,
        host: "127.0.0.1",
        port: b.port,
      });
      const conn = await accepting;
      const reader = link.readable.getReader();
      let text = "";
      while (!text.endsWith("\r\n")) {
        text += new TextDecoder().decode((await reader.read()).value);
      }
      assert.equal(text, "220 hello\r\n");
      // An auto_rcv link ends once state() shows the peer gone.
      await conn.write(encode("bye"));
      conn.close();
      await waitFor(
        async () =>
          (await b.driver.state()).some((s) =>
            s.linkId === 0 && s.socketFd === -1
          ),
        "the module to see the peer gone",
      );
      await b.driver.query(); // The answer after which held DATA lines are out.
      let rest = "";
      while (true) {
        const { value, done } = await reader.read();
        if (done) break;
        rest += new TextDecoder().decode(value);
      }
      assert.equal(rest, "bye");
      reader.releaseLock();
      await link.close();
      assert.deepEqual(await b.driver.state(), []);
    });

    await t.step(
      "listen: seeds come as links, with their first bytes",
      async () => {
        const port = freePort();
        const server = await b.driver.listen({ linkId: 1, port });
        const clients = await Promise.all([0, 1].map(async (i) => {
          const conn = await Deno.connect({ hostname: "127.0.0.1", port });
          await conn.write(encode(`client ${i}|`));
          return conn;
        }));
        const seen: string[] = [];
        for await (const seed of server) {
          const reader = seed.readable.getReader();
          let text = "";
          while (!text.endsWith("|")) {
            text += new TextDecoder().decode((await reader.read()).value);
          }
          reader.releaseLock();
          seen.push(`${seed.linkId}:${text}`);
          if (seen.length === 2) break;
        }
        // Seeds take the lowest free ids (0 is free again, 1 is the server).
        assert.deepEqual(seen.map((s) => s.split(":")[0]).sort(), ["0", "2"]);
        assert.deepEqual(seen.map((s) => s.split(":")[1]).sort(), [
          "client 0|",
          "client 1|",
        ]);
        await server.close();
        await assert.rejects(server.accept());
        assert.deepEqual(await b.driver.state(), []);
        for (const conn of clients) conn.close();
      },
    );

    await t.step(
      "poll reading: the peer's close ends the readable (ERROR: 4 is not an error)",
      async () => {
        const accepted = b.peer.accept();
        const link = await b.driver.connect({
          linkId: 5,
          host: "127.0.0.1",
          port: b.port,
          autoReceive: false,
        });
        const conn = await accepted;
        await conn.write(encode("last words"));
        conn.close();
        assert.equal(
          new TextDecoder().decode(await readAll(link.readable)),
          "last words",
        );
        await link.close();
      },
    );
  } finally {
    await b.close();
  }
});

Deno.test("a module reset errors every link's readable and ends the server's seeds", async () => {
  const b = await setup();
  try {
    const accepted = b.peer.accept();
    const link = await b.driver.connect({
      linkId: 0,
      host: "127.0.0.1",
      port: b.port,
    });
    const conn = await accepted;
    const server = await b.driver.listen({ linkId: 1, port: freePort() });
    const reading = readAll(link.readable);
    const accepting = server.accept();
    b.module.reset();
    await assert.rejects(reading, ModuleResetError);
    await assert.rejects(accepting, ModuleResetError);
    assert.equal(b.driver.hasLink(0), false);
    // The driver goes on; the link id is free again on both sides.
    assert.deepEqual(await b.driver.state(), []);
    const again = b.peer.accept();
    await b.driver.connect({ linkId: 0, host: "127.0.0.1", port: b.port });
    (await again).close();
    conn.close();
  } finally {
    await b.close();
  }
});

Deno.test("one unread link stalls neither commands nor another link, and stays bounded", async () => {
  const b = await setup();
  try {
    // Link 0: auto_rcv, claimed, never read, its peer sending 8 MiB.
    const slowAccepted = b.peer.accept();
    const slow = await b.driver.connect({
      linkId: 0,
      host: "127.0.0.1",
      port: b.port,
      streams: { highWater: 64 * 1024, maxBuffered: 1024 * 1024 },
    });
    const slowPeer = await slowAccepted;
    const slowReader = slow.readable.getReader();
    const flood = new Uint8Array(8 * 1024 * 1024).fill(0x61);
    const flooding = (async () => {
      let n = 0;
      try {
        while (n < flood.length) n += await slowPeer.write(flood.subarray(n));
      } catch { /* closed at the end of the test */ }
    })();
    // Link 1: poll reading, also never read: its peer is held by the module.
    const heldAccepted = b.peer.accept();
    const held = await b.driver.connect({
      linkId: 1,
      host: "127.0.0.1",
      port: b.port,
      autoReceive: false,
    });
    const heldPeer = await heldAccepted;
    void held.readable; // claimed, unread
    let heldSent = 0;
    const holding = (async () => {
      try {
        while (heldSent < flood.length) {
          heldSent += await heldPeer.write(flood.subarray(heldSent));
        }
      } catch { /* closed at the end of the test */ }
    })();
    // Link 2: an echo, used both ways while the others are unread.
    const echoAccepted = b.peer.accept();
    const echo = await b.driver.connect({
      linkId: 2,
      host: "127.0.0.1",
      port: b.port,
    });
    const echoPeer = await echoAccepted;
    const echoing = (async () => {
      const buf = new Uint8Array(4096);
      while (true) {
        const n = await echoPeer.read(buf);
        if (n === null) break;
        await echoPeer.write(buf.slice(0, n));
      }
    })().catch(() => {});
    const writer = echo.writable.getWriter();
    const reader = echo.readable.getReader();
    for (let round = 0; round < 20; round++) {
      const message = encode(`round ${round}|`);
      await writer.write(message);
      let text = "";
      while (!text.endsWith("|")) {
        text += new TextDecoder().decode((await reader.read()).value);
      }
      assert.equal(text, `round ${round}|`);
      assert.equal((await b.driver.state()).length, 3);
    }
    // The poll link's peer is held back by the module's window.
    await waitFor(async () => {
      const before = heldSent;
      await new Promise((r) => setTimeout(r, 20));
      return heldSent === before;
    }, "the held peer to stall");
    assert.ok(heldSent < flood.length, `held peer sent ${heldSent}`);
    // The unread auto link either still holds its data (bounded) or gave
    // up with a clear error; it never took more than its bound.
    let got = 0;
    let error: unknown;
    try {
      while (got < flood.length) {
        const { value, done } = await slowReader.read();
        if (done) break;
        got += value.length;
      }
    } catch (e) {
      error = e;
    }
    if (error !== undefined) {
      assert.ok(error instanceof LinkOverflowError, String(error));
      assert.ok(got <= 1024 * 1024, `delivered ${got} before the overflow`);
    } else assert.equal(got, flood.length);
    writer.releaseLock();
    reader.releaseLock();
    for (const conn of [slowPeer, heldPeer, echoPeer]) conn.close();
    await Promise.all([flooding, holding, echoing]);
  } finally {
    await b.close();
  }
});

Deno.test("at_sktread: a poll link read after the module closed its socket (ERROR: 1) ends the readable, no error; a UDP read of nothing names no sender", async () => {
  const t = await setup();
  try {
    const accepted = t.peer.accept();
    await t.driver.connect({
      linkId: 1,
      host: "127.0.0.1",
      port: t.port,
      autoReceive: false,
    });
    const conn = await accepted;
    await conn.write(encode("last"));
    conn.close();
    // Someone else's reads take the data and meet the end (ERROR: 4).
    let got = "";
    for (let i = 0; i < 500; i++) {
      try {
        const r = await t.driver.read(1, 100);
        got += new TextDecoder().decode(r.data);
      } catch (e) {
        assert.equal((e as { code: number }).code, 4);
        break;
      }
    }
    assert.equal(got, "last");
    // The link's readable then meets ERROR: 1: the end of the stream.
    const link = linkStreams(t.driver, 1, { read: "poll" });
    assert.deepEqual(await readAll(link.readable), new Uint8Array());
    assert.equal(
      (await t.driver.state()).find((s) => s.linkId === 1)?.socketFd,
      -1,
    );
    await t.driver.remove(1);

    // A UDP read with nothing there: the module prints 0.0.0.0,0.
    await t.driver.listen({ linkId: 2, type: 0, port: freePort() });
    assert.deepEqual(await t.driver.read(2, 10), {
      data: new Uint8Array(),
      size: 0,
      truncated: false,
    });
  } finally {
    await t.close();
  }
});
