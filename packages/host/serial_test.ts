import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { createModule } from "@atsock/device";
import { servePty } from "@atsock/device/pty-console";
import {
  AtDriver,
  linkStreams,
  openSerialTransport,
  SerialError,
} from "./mod.ts";

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

Deno.test("the driver over a real pty (serial transport) against the virtual module", async () => {
  const module = createModule({ mode: "host" });
  const pty = servePty(module);
  const driver = new AtDriver(
    openSerialTransport(pty.address, { baud: 115200 }),
  );
  const peer = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    // The pty kept ATCMD READY for the first client, as a port opened early would.
    await driver.waitReady();
    assert.deepEqual(await driver.state(), []);
    const accepted = peer.accept();
    await driver.connect({
      linkId: 2,
      host: "127.0.0.1",
      port: (peer.addr as Deno.NetAddr).port,
    });
    const conn = await accepted;
    const link = linkStreams(driver, 2);
    // 1 MiB each way through the pty.
    const size = 1024 * 1024;
    const up = new Uint8Array(size).map((_, i) => (i * 17) & 0xff);
    const down = new Uint8Array(size).map((_, i) => (i * 29 + 3) & 0xff);
    const writer = link.writable.getWriter();
    const uploading = writer.write(up);
    const peerGot = (async () => {
      const out = new Uint8Array(size);
      let n = 0;
      while (n < size) {
        const got = await conn.read(out.subarray(n));
        if (got === null) break;
        n += got;
      }
      return out.subarray(0, n);
    })();
    let written = 0;
    while (written < size) written += await conn.write(down.subarray(written));
    const hash = createHash("sha256");
    let total = 0;
    for await (const chunk of link.readable) {
      hash.update(chunk);
      total += chunk.length;
      if (total >= size) break;
    }
    await uploading;
    writer.releaseLock();
    assert.equal(hash.digest("hex"), sha(down));
    assert.equal(sha(await peerGot), sha(up));
    conn.close();
  } finally {
    peer.close();
    await driver.close();
    await pty.close();
    await module.close();
  }
});

Deno.test("a missing serial device is a clear error", () => {
  assert.throws(
    () => openSerialTransport("/dev/ttyUSB-missing"),
    (e: unknown) =>
      e instanceof SerialError && e.kind === "not-found" &&
      /cable/.test(e.message),
  );
});
