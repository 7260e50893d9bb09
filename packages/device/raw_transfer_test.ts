import assert from "node:assert/strict";
import { decodeLatin1 as decode, TT_PIECE_SIZE } from "@atsock/protocol";
import type { ConsoleOutput } from "./output.ts";
import type { StreamLink } from "./links.ts";
import {
  type FlowControl,
  RawTransfer,
  TtGlobals,
  UART_TT_BUF_LEN,
} from "./raw_transfer.ts";

/** A link whose sends are recorded and, when `blocked`, wait for `release`. */
class FakeLink {
  pieces: Uint8Array[] = [];
  blocked = false;
  fail = false;
  #waiting: (() => void)[] = [];
  async send(data: Uint8Array): Promise<void> {
    while (this.blocked) {
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    }
    if (this.fail) throw new Error("connection reset");
    this.pieces.push(data.slice());
  }
  release(): void {
    this.blocked = false;
    for (const resolve of this.#waiting.splice(0)) resolve();
  }
  get sent(): Uint8Array {
    return concat(this.pieces);
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

interface Setup {
  transfer: RawTransfer;
  link: FakeLink;
  lines: string[];
  globals: TtGlobals;
}

function start(
  size: number,
  options: {
    flowControl?: FlowControl;
    globals?: TtGlobals;
    link?: FakeLink;
  } = {},
): Setup {
  const link = options.link ?? new FakeLink();
  const lines: string[] = [];
  const output = {
    answer: (bytes: Uint8Array) => lines.push(decode(bytes)),
  } as unknown as ConsoleOutput;
  const globals = options.globals ?? new TtGlobals();
  const transfer = new RawTransfer({
    size,
    link: link as unknown as StreamLink,
    output,
    flowControl: options.flowControl ?? "none",
    globals,
  });
  return { transfer, link, lines, globals };
}

/** Lets pending sends and gets run (bounded). */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
  await new Promise((r) => setTimeout(r, 0));
}

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let waited = 0; waited < 5000; waited += 5) {
    if (condition()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const kib = (n: number) => new Uint8Array(n * 1024).fill(0x61);

Deno.test("atcmd_tt_mode_start: ring of min(size + 1, 80 KiB), holding one byte less; watermarks from 81919 bytes (firmware rule tt-ring-size)", async () => {
  const cases: [number, number, boolean][] = [
    [1, 1, false],
    [5000, 5000, false],
    [81918, 81918, false],
    [81919, 81919, true], // size + 1 == 80 KiB: the 80 KiB case already
    [81920, 81919, true],
    [10 * 1024 * 1024, 81919, true],
  ];
  for (const [size, capacity, watermarks] of cases) {
    const { transfer } = start(size);
    assert.equal(transfer.capacity, capacity, `size ${size}`);
    assert.equal(transfer.watermarks, watermarks, `size ${size}`);
    transfer.abandon();
    await transfer.done;
  }
  const rts = start(1 << 20, { flowControl: "rts" });
  assert.equal(rts.transfer.watermarks, false);
  rts.transfer.abandon();
  await rts.transfer.done;
});

Deno.test("atio_uart_handler: High Watermark once free space after a piece is 24576 bytes or less; a piece that does not fit is dropped whole (firmware rules tt-high-watermark, tt-drop-when-full)", async () => {
  const { transfer, link, lines } = start(1 << 20);
  link.blocked = true;
  // Synchronous arrivals: the sender has not taken anything yet.
  for (let i = 1; i <= 80; i++) {
    transfer.arrive(kib(1));
    const free = transfer.capacity - transfer.held;
    if (i < 56) assert.deepEqual(lines, [], `piece ${i}: free ${free}`);
    if (i === 56) {
      // 57344 held, 24575 free.
      assert.equal(free, 24575);
      assert.deepEqual(lines, ["[$][TT]:High Watermark\r\n"]);
    }
  }
  // 79 pieces fit (80896 bytes); the 80th finds 1023 bytes free.
  assert.equal(transfer.held, 79 * 1024);
  assert.equal(transfer.dropped, 1024);
  // A smaller piece still fits; then the ring is full to the byte.
  transfer.arrive(new Uint8Array(1023));
  assert.equal(transfer.held, transfer.capacity);
  transfer.arrive(new Uint8Array(1));
  assert.equal(transfer.dropped, 1025);
  assert.equal(lines.length, 1, "High is printed once");
  transfer.abandon();
  link.release();
  await transfer.done;
});

Deno.test("atio_uart_handler: a console read is taken in pieces of UART_TT_BUF_LEN (1 KiB)", async () => {
  const { transfer, link } = start(1 << 20);
  link.blocked = true;
  transfer.arrive(new Uint8Array(81919 - 100));
  // 100 bytes free: of a 3000-byte read, no 1 KiB piece fits.
  transfer.arrive(new Uint8Array(3000));
  assert.equal(transfer.dropped, 3000);
  assert.equal(UART_TT_BUF_LEN, 1024);
  transfer.abandon();
  link.release();
  await transfer.done;
});

Deno.test("atcmd_tt_mode_get: Low Watermark when the sender finds fewer than 16384 bytes held (firmware rule tt-low-watermark)", async () => {
  const { transfer, link, lines } = start(200 * 1024);
  link.blocked = true;
  transfer.arrive(new Uint8Array(70 * 1024));
  await settle(); // the sender took 10 KiB and waits on the link
  assert.equal(transfer.held, 60 * 1024);
  assert.deepEqual(lines, ["[$][TT]:High Watermark\r\n"]);
  link.release();
  await until(() => transfer.held === 0, "the ring to drain");
  // Held before each get: 60, 50, 40, 30, 20, 10 KiB: Low at 10 KiB.
  assert.deepEqual(lines, [
    "[$][TT]:High Watermark\r\n",
    "[$][TT]:Low Watermark\r\n",
  ]);
  transfer.abandon();
  await transfer.done;
});

Deno.test("atcmd_tt_mode_get: with RTS flow control no watermarks and nothing dropped: the console waits", async () => {
  const { transfer, link, lines } = start(200 * 1024, { flowControl: "rts" });
  link.blocked = true;
  const data = new Uint8Array(200 * 1024).map((_, i) => i * 7);
  const arriving = transfer.arrive(data);
  assert.ok(arriving instanceof Promise, "the console is held back");
  await settle();
  assert.ok(transfer.held <= transfer.capacity);
  link.release();
  await arriving;
  assert.equal(await transfer.done, 0);
  assert.deepEqual(lines, []);
  assert.equal(transfer.dropped, 0);
  assert.deepEqual(link.sent, data);
});

Deno.test("atcmd_lwip_start_tt_handle: the payload goes in pieces of 10 KiB, each sent at once (firmware rule tt-pieces)", async () => {
  for (const size of [5000, TT_PIECE_SIZE, 25000]) {
    const { transfer, link } = start(size);
    const data = new Uint8Array(size).map((_, i) => i);
    // Odd console reads: the pieces do not follow them.
    for (let i = 0; i < size; i += 777) {
      transfer.arrive(data.subarray(i, Math.min(size, i + 777)));
      await settle();
    }
    assert.equal(await transfer.done, 0);
    const expected = [];
    for (let left = size; left > 0; left -= TT_PIECE_SIZE) {
      expected.push(Math.min(left, TT_PIECE_SIZE));
    }
    assert.deepEqual(link.pieces.map((p) => p.length), expected, `${size}`);
    assert.deepEqual(link.sent, data);
  }
});

Deno.test("atcmd_lwip_start_tt_handle: a failed send answers ERROR: 2 once the announced bytes came (we differ: the firmware stops at once)", async () => {
  const { transfer, link } = start(30000);
  link.fail = true;
  transfer.arrive(new Uint8Array(20000));
  await settle();
  assert.equal(transfer.ended, false, "the rest of the payload is awaited");
  transfer.arrive(new Uint8Array(10000));
  assert.equal(await transfer.done, 2);
  assert.equal(transfer.failure, "connection reset");
  assert.ok(transfer.ended);
});

const lt = new Uint8Array([0x3c]);

Deno.test("tt_mode_timeout_handler: three lone < then 30 ms: a payload of at most 10 KiB sends what came, < included, and answers OK (firmware rule tt-abort-chars)", async () => {
  const { transfer, link } = start(100);
  transfer.arrive(new TextEncoder().encode("abc"));
  for (let i = 0; i < 3; i++) transfer.arrive(lt);
  assert.equal(await transfer.done, 0);
  assert.equal(decode(link.sent), "abc<<<");
});

Deno.test("tt_mode_timeout_handler: a larger payload sends the pieces gathered, then ERROR: 4", async () => {
  const { transfer, link } = start(30000);
  transfer.arrive(new Uint8Array(12000).fill(0x61));
  for (let i = 0; i < 3; i++) transfer.arrive(lt);
  assert.equal(await transfer.done, 4);
  assert.deepEqual(link.pieces.map((p) => p.length), [10240, 1763]);
  assert.equal(decode(link.pieces[1].subarray(-3)), "<<<");
});

Deno.test("tt_mode_timeout_handler: nothing at all came: ERROR: 4", async () => {
  const globals = new TtGlobals();
  const { transfer, link } = start(100, { globals });
  // The stop timer starts only after three lone `<` (which are data);
  // with nothing held after them the payload is short, so it is OK. A
  // transfer that gets nothing: the stop flag set with an empty ring.
  globals.stopFlag = true;
  globals.wake?.();
  assert.equal(await transfer.done, 4);
  assert.equal(link.pieces.length, 0);
});

Deno.test("atio_uart_handler: <<< in one read, or a fourth lone < within 30 ms, is not an abort", async () => {
  const globals = new TtGlobals();
  const one = start(100, { globals });
  one.transfer.arrive(new TextEncoder().encode("<<<"));
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(globals.stopFlag, false);
  assert.equal(one.transfer.ended, false, "still gathering");
  for (let i = 0; i < 4; i++) one.transfer.arrive(lt);
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(globals.stopFlag, false);
  assert.equal(globals.timerActive, false);
  one.transfer.abandon();
  await one.transfer.done;
});

Deno.test("tt_mode_timeout_handler: a stop timer that fires after the payload completed fails the next SKTSENDRAW at once (firmware rule tt-abort-timer)", async () => {
  const globals = new TtGlobals();
  const first = start(5, { globals });
  first.transfer.arrive(new TextEncoder().encode("ab"));
  for (let i = 0; i < 3; i++) first.transfer.arrive(lt);
  assert.equal(await first.transfer.done, 0);
  assert.equal(decode(first.link.sent), "ab<<<");
  await until(() => globals.stopFlag, "the stop timer");
  // The next transfer finds the stop flag set and an empty ring.
  const next = start(5, { globals });
  assert.equal(await next.transfer.done, 4);
  assert.equal(globals.stopFlag, false, "atcmd_tt_mode_end clears it");
  const after = start(2, { globals });
  after.transfer.arrive(new TextEncoder().encode("ok"));
  assert.equal(await after.transfer.done, 0);
});

Deno.test("atcmd_tt_mode_end: the watermark flags outlive a transfer", async () => {
  const globals = new TtGlobals();
  const { transfer, link, lines } = start(200 * 1024, { globals });
  link.blocked = true;
  transfer.arrive(new Uint8Array(70 * 1024));
  // The transfer ends before the buffer drained (here: given up).
  transfer.abandon();
  link.release();
  assert.equal(await transfer.done, 4);
  assert.deepEqual(lines, ["[$][TT]:High Watermark\r\n"]);
  assert.equal(globals.highIndicated, true);
  // The next large transfer prints Low at its first get.
  const next = start(200 * 1024, { globals });
  next.transfer.arrive(new Uint8Array(1000));
  await until(() => next.lines.length > 0, "a watermark");
  assert.deepEqual(next.lines, ["[$][TT]:Low Watermark\r\n"]);
  next.transfer.abandon();
  await next.transfer.done;
});

Deno.test("atcmd_lwip_start_tt_handle: without watermarks, complete pieces held on a byte stream go in one write (nothing shows when they leave the ring)", async () => {
  const { transfer, link } = start(25000);
  const data = new Uint8Array(25000).map((_, i) => i * 3);
  transfer.arrive(data); // all held before the sender runs
  assert.equal(await transfer.done, 0);
  assert.deepEqual(link.pieces.map((p) => p.length), [25000]);
  assert.deepEqual(link.sent, data);
});
