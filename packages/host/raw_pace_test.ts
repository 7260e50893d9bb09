import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { bench } from "./test_util.ts";
import { nextTurn, RAW_PIECE } from "./raw_pace.ts";
import type { UnsolicitedEventEvent } from "./driver.ts";

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

Deno.test("sendRaw: 10 MiB through a module without flow control to a peer that reads slowly arrives complete: paused at High Watermark, resumed at Low (atio_uart_handler drops nothing)", async () => {
  const b = await bench({ flowControl: "none", timeoutMs: 120000 });
  try {
    const accepted = b.peer.accept();
    await b.driver.connect({ linkId: 0, host: "127.0.0.1", port: b.port });
    const conn = await accepted;
    const levels: string[] = [];
    b.driver.addEventListener("watermark", (e) => {
      const detail = (e as UnsolicitedEventEvent).detail;
      if (detail.type === "watermark") levels.push(detail.level);
    });
    const size = 10 * 1024 * 1024;
    const data = new Uint8Array(size);
    for (let i = 0; i < size; i += 65536) {
      crypto.getRandomValues(data.subarray(i, i + 65536));
    }
    // The peer reads 16 KiB at a time with a pause of 8 ms after each read
    // (2 MB/s at most): slower than the driver, so the module's buffer fills.
    const receiving = (async () => {
      const out = new Uint8Array(size);
      let n = 0;
      while (n < size) {
        const got = await conn.read(out.subarray(n, Math.min(size, n + 16384)));
        if (got === null) break;
        n += got;
        await new Promise((r) => setTimeout(r, 8));
      }
      return out.subarray(0, n);
    })();
    await b.driver.sendRaw(0, data);
    assert.equal(sha(await receiving), sha(data));
    assert.equal(b.module.stats().transparentDropped, 0);
    assert.ok(levels.includes("high"), `watermarks: ${levels.join(",")}`);
    // Alternating, High first.
    for (const [i, level] of levels.entries()) {
      assert.equal(level, i % 2 === 0 ? "high" : "low");
    }
    conn.close();
  } finally {
    await b.close();
  }
});

Deno.test("nextTurn: timers and I/O run between two pieces", async () => {
  let timerFired = false;
  setTimeout(() => (timerFired = true), 0);
  await nextTurn();
  assert.ok(timerFired);
  assert.ok(RAW_PIECE <= 23553 - 8192, "one piece fits the headroom at High");
});
