import assert from "node:assert/strict";
import { AtDriver } from "./driver.ts";
import { linkStreams } from "./link.ts";
import { RAW_PIECE } from "./raw_pace.ts";
import { memoryPair } from "./transport.ts";

/**
 * A module that answers `AT+SKTSENDRAW` with `>>>`, takes the payload and
 * answers `OK`; counts the payload bytes it got.
 */
function rawModule() {
  const [host, module] = memoryPair();
  const text = new TextEncoder();
  let got = 0;
  let want = 0;
  let line = "";
  const running = (async () => {
    for await (const chunk of module.readable) {
      for (const byte of chunk) {
        if (want > 0) {
          got++;
          if (--want === 0) await module.write(text.encode("\r\nOK\r\n"));
          continue;
        }
        line += String.fromCharCode(byte);
        if (!line.endsWith("\r\n")) continue;
        const size = /^AT\+SKTSENDRAW=\d+,(\d+)/.exec(line)?.[1];
        line = "";
        if (size) {
          want = Number(size);
          await module.write(text.encode(">>>\r\n"));
        }
      }
    }
  })();
  return { host, running, got: () => got };
}

/** Counts the zero-delay timers (event-loop turns) set while `work` runs. */
async function turnsDuring(work: () => Promise<void>): Promise<number> {
  const original = globalThis.setTimeout;
  let turns = 0;
  globalThis.setTimeout = ((fn: () => void, ms?: number) => {
    if (!ms) turns++;
    return original(fn, ms);
  }) as typeof setTimeout;
  try {
    await work();
  } finally {
    globalThis.setTimeout = original;
  }
  return turns;
}

for (const [flowControl, paced] of [["none", true], ["rts", false]] as const) {
  Deno.test(`AtDriver flowControl ${flowControl}: sendRaw ${paced ? "turns the event loop before each 8 KiB piece" : "writes every piece without a pause"}`, async () => {
    const m = rawModule();
    const driver = new AtDriver(m.host, { flowControl });
    const size = 4 * RAW_PIECE;
    const turns = await turnsDuring(() =>
      driver.sendRaw(0, new Uint8Array(size))
    );
    assert.equal(m.got(), size);
    if (paced) assert.ok(turns >= 3, `${turns} turns`);
    else assert.equal(turns, 0);
    // A call's own option wins over the driver's.
    const other = flowControl === "rts" ? "none" : "rts";
    const again = await turnsDuring(() =>
      driver.sendRaw(0, new Uint8Array(size), undefined, {
        flowControl: other,
      })
    );
    if (paced) assert.equal(again, 0);
    else assert.ok(again >= 3, `${again} turns`);
    await driver.close();
    await m.running;
  });
}

Deno.test("AtDriver flowControl: anything but none or rts is a RangeError", () => {
  const [host] = memoryPair();
  assert.throws(
    () => new AtDriver(host, { flowControl: "xon" as "rts" }),
    /flowControl must be "none" or "rts", not xon/,
  );
});

Deno.test("AtDriver flowControl rts: a link stream's writes go without pauses too", async () => {
  const m = rawModule();
  const driver = new AtDriver(m.host, { flowControl: "rts" });
  const link = linkStreams(driver, 0, { read: "poll", write: "raw" });
  const size = 4 * RAW_PIECE;
  const turns = await turnsDuring(async () => {
    const writer = link.writable.getWriter();
    await writer.write(new Uint8Array(size));
    writer.releaseLock();
  });
  assert.equal(m.got(), size);
  assert.equal(turns, 0);
  await driver.close();
  await m.running;
});
