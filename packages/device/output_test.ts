import assert from "node:assert/strict";
import FakeTimers from "@sinonjs/fake-timers";
import { ConsoleOutput } from "./output.ts";

const text = (parts: Uint8Array[]) =>
  parts.map((p) => new TextDecoder().decode(p)).join("");
const enc = (s: string) => new TextEncoder().encode(s);

Deno.test("unsolicited lines never split an answer", async () => {
  const out = new ConsoleOutput();
  const written: Uint8Array[] = [];
  out.attach((bytes) => {
    written.push(bytes);
    return Promise.resolve();
  });
  out.beginAnswer();
  out.answer(enc("+SKTREAD:1,2,"));
  out.unsolicited(enc("[$][SKT][DATA][3][1]:x\r\n"));
  out.answer(enc("ab\r\nOK\r\n"));
  out.unsolicited([enc("[$]"), enc("two parts\r\n")]);
  assert.equal(out.buffered > 0, true);
  out.endAnswer();
  await out.flushed();
  assert.equal(
    text(written),
    "+SKTREAD:1,2,ab\r\nOK\r\n[$][SKT][DATA][3][1]:x\r\n[$]two parts\r\n",
  );
});

Deno.test("with no console attached, output is discarded", async () => {
  const out = new ConsoleOutput();
  out.answer(enc("lost"));
  await out.flushed();
  assert.equal(out.buffered, 0);
});

Deno.test("waitForRoom holds producers above the high-water mark", async () => {
  const out = new ConsoleOutput({ highWater: 10 });
  let release: () => void = () => {};
  out.attach(() => new Promise<void>((resolve) => (release = resolve)));
  out.unsolicited(enc("0123456789abcdef"));
  out.unsolicited(enc("more"));
  let roomy = false;
  const waiting = out.waitForRoom().then(() => (roomy = true));
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(roomy, false);
  release();
  await new Promise((r) => setTimeout(r, 0));
  release();
  await waiting;
  assert.equal(roomy, true);
  out.close();
});

Deno.test("--baud pacing: never more than the line rate, at least 95% of it (fake clock)", async () => {
  const clock = FakeTimers.install({
    toFake: ["setTimeout", "clearTimeout", "performance"],
  });
  try {
    const out = new ConsoleOutput({ baud: 115200 });
    const sent: { at: number; n: number }[] = [];
    out.attach((bytes) => {
      sent.push({ at: clock.now, n: bytes.length });
      return Promise.resolve();
    });
    out.unsolicited(new Uint8Array(3 * 11520));
    for (let ms = 0; ms < 3500; ms += 1) await clock.tickAsync(1);
    const total = sent.reduce((n, s) => n + s.n, 0);
    assert.equal(total, 3 * 11520);
    // In every window of one second, at most the line rate (plus one slice).
    for (const start of sent) {
      const inWindow = sent.filter((s) =>
        s.at >= start.at && s.at < start.at + 1000
      )
        .reduce((n, s) => n + s.n, 0);
      assert.ok(inWindow <= 11520, `${inWindow} bytes in one second`);
    }
    const span = (sent.at(-1)!.at - sent[0].at) / 1000;
    const rate = (total - sent[0].n) / span;
    assert.ok(rate >= 0.95 * 11520 && rate <= 11520, `rate ${rate}`);
  } finally {
    clock.uninstall();
  }
});
