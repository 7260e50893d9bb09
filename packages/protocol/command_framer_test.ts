import assert from "node:assert/strict";
import fc from "fast-check";
import { CommandFramer, type ConsoleEvent, encode } from "./mod.ts";

type Plain =
  | { type: "line"; text: string }
  | { type: "overlong"; length: number }
  | { type: "raw"; text: string }
  | { type: "raw-end" }
  | { type: "excess"; text: string };

const latin1 = (b: Uint8Array) => new TextDecoder("latin1").decode(b);

/**
 * Feeds chunks, entering raw mode after lines of the form `RAW <n>` as a
 * device does after `AT+SKTSENDRAW`, and merges adjacent raw events. Raw
 * mode ends when n bytes came; the rest of that chunk is `excess` (the
 * firmware's ring buffer took it and is destroyed with it).
 */
function run(chunks: Uint8Array[], maxLineLength?: number): Plain[] {
  const framer = new CommandFramer({ maxLineLength });
  const out: Plain[] = [];
  let left = 0;
  const add = (event: ConsoleEvent) => {
    switch (event.type) {
      case "line": {
        const text = latin1(event.line);
        out.push({ type: "line", text });
        const m = /^RAW (\d+)$/.exec(text);
        if (m) {
          left = Number(m[1]);
          framer.startRaw();
        }
        break;
      }
      case "overlong":
        out.push({ type: "overlong", length: event.length });
        break;
      case "raw": {
        const take = Math.min(left, event.data.length);
        const text = latin1(event.data.subarray(0, take));
        const last = out.at(-1);
        if (last?.type === "raw") last.text += text;
        else out.push({ type: "raw", text });
        left -= take;
        if (left === 0) {
          framer.endRaw();
          out.push({ type: "raw-end" });
          if (take < event.data.length) {
            out.push({
              type: "excess",
              text: latin1(event.data.subarray(take)),
            });
          }
        }
        break;
      }
    }
  };
  for (const chunk of chunks) {
    framer.push(chunk);
    for (let e = framer.next(); e; e = framer.next()) add(e);
  }
  return out;
}

function splits(bytes: Uint8Array): Uint8Array[][] {
  const all: Uint8Array[][] = [[bytes]];
  for (let i = 1; i < bytes.length; i++) {
    all.push([bytes.subarray(0, i), bytes.subarray(i)]);
  }
  all.push([...bytes].map((b) => Uint8Array.of(b)));
  return all;
}

Deno.test("lines end with CR LF, lone CR or lone LF; empty lines vanish", () => {
  const input = encode("AT+A\r\nAT+B\rAT+C\nAT+D\r\r\n\nAT+E\r\n");
  const expected = ["AT+A", "AT+B", "AT+C", "AT+D", "AT+E"].map((text) => ({
    type: "line",
    text,
  }));
  for (const chunks of splits(input)) assert.deepEqual(run(chunks), expected);
});

Deno.test("an overlong line is reported once and the next command survives", () => {
  const input = encode("A".repeat(30) + "\r\nAT+OK\r\n");
  for (const chunks of splits(input)) {
    assert.deepEqual(run(chunks, 20), [
      { type: "overlong", length: 30 },
      { type: "line", text: "AT+OK" },
    ]);
  }
  const framer = new CommandFramer({ maxLineLength: 10 });
  framer.push(encode("AT+SKTSEND=1,2,3,4,5,6,7"));
  framer.push(encode("\r"));
  const event = framer.next();
  assert.equal(event?.type, "overlong");
  if (event?.type === "overlong") {
    assert.equal(latin1(event.head), "AT+SKTSEND=1,2,3,4,5,6,7");
  }
  assert.ok(framer.buffered <= 10);
});

Deno.test("memory stays bounded on an endless line", () => {
  const framer = new CommandFramer();
  const chunk = new Uint8Array(65536).fill(65);
  for (let i = 0; i < 64; i++) {
    framer.push(chunk);
    assert.equal(framer.next(), undefined);
    assert.ok(framer.buffered <= 2000);
  }
});

Deno.test("raw mode passes every byte of any value until endRaw, then lines again", () => {
  const payload = new Uint8Array(300).map((_, i) => i & 0xff);
  const input = new Uint8Array([...encode("RAW 300\r\n"), ...payload]);
  const expected: Plain[] = [
    { type: "line", text: "RAW 300" },
    { type: "raw", text: latin1(payload) },
    { type: "raw-end" },
    { type: "line", text: "AT+NEXT" },
  ];
  for (const chunks of splits(input)) {
    assert.deepEqual(run([...chunks, encode("AT+NEXT\r\n")]), expected);
  }
});

Deno.test("atio_uart_handler: bytes after the payload in the same chunk are raw too", () => {
  assert.deepEqual(run([encode("RAW 5\r\nab<<<AT+X\r\n")]), [
    { type: "line", text: "RAW 5" },
    { type: "raw", text: "ab<<<" },
    { type: "raw-end" },
    { type: "excess", text: "AT+X\r\n" },
  ]);
});

Deno.test("atio_uart_handler: raw events keep the pushed chunks apart (a lone < is its own event)", () => {
  const framer = new CommandFramer();
  framer.push(encode("RAW 100\r\nhello<"));
  assert.equal(framer.next()?.type, "line");
  framer.startRaw();
  const events: string[] = [];
  const drain = () => {
    for (let e = framer.next(); e; e = framer.next()) {
      assert.equal(e.type, "raw");
      if (e.type === "raw") events.push(latin1(e.data));
    }
  };
  drain();
  for (const piece of ["<", "<", "x", "<<<"]) {
    framer.push(encode(piece));
    drain();
  }
  assert.deepEqual(events, ["hello<", "<", "<", "x", "<<<"]);
  assert.equal(framer.buffered, 0);
  framer.endRaw();
  assert.equal(framer.raw, false);
  framer.push(encode("AT+AFTER\r\n"));
  const after = framer.next();
  assert.equal(after?.type, "line");
  if (after?.type === "line") assert.equal(latin1(after.line), "AT+AFTER");
});

Deno.test("raw bytes come out in order whatever the chunking (property)", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 200 }),
      fc.array(fc.integer({ min: 1, max: 17 }), {
        minLength: 1,
        maxLength: 10,
      }),
      (payload, sizes) => {
        const framer = new CommandFramer();
        framer.startRaw();
        const out: number[] = [];
        for (let i = 0, k = 0; i < payload.length; k++) {
          const size = sizes[k % sizes.length];
          const chunk = payload.slice(i, i + size);
          framer.push(chunk);
          for (let e = framer.next(); e; e = framer.next()) {
            assert.equal(e.type, "raw");
            if (e.type === "raw") {
              assert.ok(e.data.length <= chunk.length);
              out.push(...e.data);
            }
          }
          i += size;
        }
        assert.deepEqual(out, [...payload]);
      },
    ),
    { numRuns: 200 },
  );
});

Deno.test("the same events however the input is chunked (property)", () => {
  const piece = fc.oneof(
    fc.constantFrom(
      "AT+SKTSTATE\r\n",
      "AT+X\r",
      "\n",
      "<<<",
      "\r\n",
    ),
    fc.string({ maxLength: 30 }),
  );
  fc.assert(
    fc.property(
      fc.array(piece, { maxLength: 20 }),
      fc.array(fc.integer({ min: 1, max: 17 }), {
        minLength: 1,
        maxLength: 10,
      }),
      (pieces, sizes) => {
        const input = encode(pieces.join(""));
        const whole = run([input], 64);
        const chunks: Uint8Array[] = [];
        for (let i = 0, k = 0; i < input.length; k++) {
          const size = sizes[k % sizes.length];
          chunks.push(input.subarray(i, i + size));
          i += size;
        }
        assert.deepEqual(run(chunks, 64), whole);
      },
    ),
    { numRuns: 500 },
  );
});

Deno.test("a megabyte of LF-only or CR-only lines in one chunk comes out whole", async (t) => {
  // One scan per chunk: this used to take seconds (a search for the other
  // line end from every line start).
  const lines: string[] = [];
  for (let size = 0, i = 0; size < 1 << 20; i++) {
    const line = `AT+SKTREAD=${i % 20},${i}`;
    lines.push(line);
    size += line.length + 1;
  }
  for (const end of ["\n", "\r", "\r\n", "\n\r"]) {
    await t.step(JSON.stringify(end), () => {
      const framer = new CommandFramer();
      framer.push(encode(lines.join(end) + end));
      const out: string[] = [];
      for (let e = framer.next(); e; e = framer.next()) {
        assert.equal(e.type, "line");
        if (e.type === "line") out.push(latin1(e.line));
      }
      assert.equal(out.length, lines.length);
      assert.deepEqual(out, lines);
      assert.equal(framer.buffered, 0);
    });
  }
});

Deno.test("raw bytes taken from the middle of a chunk leave the lines before intact", () => {
  const input = encode("AT+A\r\nRAW 3\r\nx\ny");
  for (const chunks of splits(input)) {
    assert.deepEqual(run([...chunks, encode("AT+B\r\nAT+C\r\n")]), [
      { type: "line", text: "AT+A" },
      { type: "line", text: "RAW 3" },
      { type: "raw", text: "x\ny" },
      { type: "raw-end" },
      { type: "line", text: "AT+B" },
      { type: "line", text: "AT+C" },
    ]);
  }
});
