import assert from "node:assert/strict";
import { createModule, serveStreams, serveTcp } from "@atsock/device";
import { encode } from "@atsock/protocol";
import {
  AtDriver,
  connectTcp,
  memoryPair,
  TransportClosedError,
} from "./mod.ts";

/**
 * A ser2net-like bridge in front of a virtual module's TCP console whose
 * client connections the test can drop, as a flaky bridge does.
 */
function bridge(consolePort: number) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const open = new Set<Deno.Conn>();
  let accepted = 0;
  const pipe = async (from: Deno.Conn, to: Deno.Conn) => {
    const buf = new Uint8Array(16384);
    try {
      while (true) {
        const n = await from.read(buf);
        if (n === null) break;
        let written = 0;
        while (written < n) {
          written += await to.write(buf.subarray(written, n));
        }
      }
    } catch { /* dropped */ }
    for (const conn of [from, to]) {
      try {
        conn.close();
      } catch { /* closed */ }
      open.delete(conn);
    }
  };
  const serving = (async () => {
    for await (const client of listener) {
      accepted++;
      const upstream = await Deno.connect({
        hostname: "127.0.0.1",
        port: consolePort,
      });
      open.add(client);
      open.add(upstream);
      pipe(client, upstream);
      pipe(upstream, client);
    }
  })().catch(() => {});
  return {
    port: (listener.addr as Deno.NetAddr).port,
    get accepted() {
      return accepted;
    },
    drop() {
      for (const conn of open) {
        try {
          conn.close();
        } catch { /* closed */ }
      }
      open.clear();
    },
    async close() {
      this.drop();
      listener.close();
      await serving;
    },
  };
}

Deno.test("TCP bridge: the transport reconnects after a drop and commands go on", async () => {
  const module = createModule({ mode: "host" });
  const console = serveTcp(module, { port: 0 });
  const link = bridge(console.port);
  const driver = new AtDriver(
    await connectTcp({
      port: link.port,
      reconnectAttempts: 20,
      reconnectDelayMs: 20,
    }),
    { timeoutMs: 5000 },
  );
  try {
    await driver.waitReady();
    await driver.configure({ sendTimeout: 7 });
    const ready = driver.waitReady();
    link.drop();
    // The new connection is a new console client: the module says READY again.
    await ready;
    assert.equal(link.accepted, 2);
    // The module kept its state across the bridge's drop.
    assert.equal((await driver.query()).sendTimeout, 7);
  } finally {
    await driver.close();
    await link.close();
    await console.close();
    await module.close();
  }
});

Deno.test("without reconnect, a dropped transport fails the command in flight and later ones", async () => {
  const module = createModule({ mode: "host" });
  const console = serveTcp(module, { port: 0 });
  const link = bridge(console.port);
  const driver = new AtDriver(await connectTcp({ port: link.port }));
  try {
    await driver.waitReady();
    await driver.state();
    link.drop();
    await assert.rejects(() => driver.state(), TransportClosedError);
    assert.equal(driver.closed, true);
    await assert.rejects(() => driver.remove(0), TransportClosedError);
  } finally {
    await driver.close();
    await link.close();
    await console.close();
    await module.close();
  }
});

Deno.test("a memory pair passes bytes both ways and holds a slow reader's writer back", async () => {
  const [a, b] = memoryPair();
  const reader = b.readable.getReader();
  await a.write(encode("hello"));
  assert.deepEqual((await reader.read()).value, encode("hello"));
  // 256 KiB unread is above the pair's 64 KiB mark: the writer waits.
  let settled = false;
  const writing = a.write(new Uint8Array(256 * 1024)).then(() => {
    settled = true;
  });
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(settled, false);
  let got = 0;
  while (got < 256 * 1024) got += (await reader.read()).value!.length;
  await writing;
  await a.close();
  assert.equal((await reader.read()).done, true);
  await assert.rejects(() => a.write(encode("x")), Deno.errors.BadResource);
});

Deno.test("a memory pair runs the driver against a virtual module in one process", async () => {
  const module = createModule({ mode: "host" });
  const [hostSide, moduleSide] = memoryPair();
  const console = serveStreams(module, moduleSide, "memory");
  const driver = new AtDriver(hostSide, { timeoutMs: 5000 });
  const peer = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    await driver.waitReady();
    const accepted = peer.accept();
    const link = await driver.connect({
      linkId: 0,
      host: "127.0.0.1",
      port: (peer.addr as Deno.NetAddr).port,
    });
    const conn = await accepted;
    // Any byte up (SKTSENDRAW), any byte down (DATA lines).
    const payload = new Uint8Array(300 * 1024).map((_, i) => (i * 7) & 0xff);
    const writer = link.writable.getWriter();
    const uploading = writer.write(payload);
    const got = new Uint8Array(payload.length);
    let n = 0;
    while (n < got.length) n += (await conn.read(got.subarray(n)))!;
    await uploading;
    assert.deepEqual(got, payload);
    await conn.write(encode("\r\nOK\r\n\0back"));
    const reader = link.readable.getReader();
    const parts: number[] = [];
    while (parts.length < 10) parts.push(...(await reader.read()).value!);
    assert.deepEqual(new Uint8Array(parts), encode("\r\nOK\r\n\0back"));
    reader.releaseLock();
    writer.releaseLock();
    assert.deepEqual((await driver.state()).map((s) => s.linkId), [0]);
    await link.close();
    assert.deepEqual(await driver.state(), []);
    conn.close();
  } finally {
    peer.close();
    await driver.close();
    await console.close();
    await module.close();
  }
});
