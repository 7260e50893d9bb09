import assert from "node:assert/strict";
import fc from "fast-check";
import { CommandFramer, type ConsoleEvent, encode } from "./mod.ts";

type Plain =
  | { type: "line"; text: string }
  | { type: "overflow"; text: string }
  | { type: "raw"; text: string }
  | { type: "raw-end" }
  | { type: "abort-pending" };

const latin1 = (b: Uint8Array) => new TextDecoder("latin1").decode(b);

/**
 * Feeds chunks, entering raw mode after lines of the form `RAW <n>` as a
 * device does after `AT+SKTSENDRAW`, and merges adjacent raw events.
 */
function run(chunks: Uint8Array[], lineBuffer?: number): Plain[] {
  const framer = new CommandFramer({ lineBuffer });
  const out: Plain[] = [];
  const add = (event: ConsoleEvent) => {
    switch (event.type) {
      case "line": {
        const text = latin1(event.line);
        if (event.overflow) {
          out.push({ type: "overflow", text });
          break;
        }
        if (text === "") break;
        out.push({ type: "line", text });
        const m = /^RAW (\d+)$/.exec(text);
        if (m) framer.startRaw(Number(m[1]));
        break;
      }
      case "raw": {
        const last = out.at(-1);
        if (last?.type === "raw") last.text += latin1(event.data);
        else out.push({ type: "raw", text: latin1(event.data) });
        break;
      }
      case "abort-pending":
        break; // Timing decides; without silence the bytes are data.
      default:
        out.push({ type: event.type });
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

Deno.test("shell_cmd_chk: only CR LF or NUL ends a line; a lone CR or LF is a byte of it", () => {
  const input = encode("AT+A\r\nAT+B\rAT+C\nAT+D\r\r\n\nAT+E\0AT+F\r\n");
  const expected = ["AT+A", "AT+B\rAT+C\nAT+D\r", "\nAT+E", "AT+F"].map((
    text,
  ) => ({ type: "line", text }));
  for (const chunks of splits(input)) assert.deepEqual(run(chunks), expected);
});

Deno.test("shell_cmd_chk: an empty line is a line (CR LF alone, NUL alone)", () => {
  const framer = new CommandFramer();
  framer.push(encode("\r\n\0"));
  for (let k = 0; k < 2; k++) {
    const event = framer.next();
    assert.equal(event?.type, "line");
    if (event?.type === "line") assert.equal(event.line.length, 0);
  }
  assert.equal(framer.next(), undefined);
});

Deno.test("shell_cmd_chk: a full buffer runs its BUFLEN-1 bytes, loses the next byte, reads on", () => {
  // BUFLEN 20: 19 bytes held; the 20th byte runs them and is lost.
  const input = encode("A".repeat(19) + "XYZ\r\nAT+OK\r\n");
  for (const chunks of splits(input)) {
    assert.deepEqual(run(chunks, 20), [
      { type: "overflow", text: "A".repeat(19) },
      { type: "line", text: "YZ" },
      { type: "line", text: "AT+OK" },
    ]);
  }
  // 18 bytes and CR LF: the CR is the 19th byte, the LF still ends the line.
  assert.deepEqual(run([encode("B".repeat(18) + "\r\n")], 20), [
    { type: "line", text: "B".repeat(18) },
  ]);
  // 19 bytes and CR LF: the CR overflows, the LF starts the next line.
  assert.deepEqual(run([encode("C".repeat(19) + "\r\nAT+N\r\n")], 20), [
    { type: "overflow", text: "C".repeat(19) },
    { type: "line", text: "\nAT+N" },
  ]);
});

Deno.test("shell_cmd_chk: memory stays bounded on an endless line", () => {
  const framer = new CommandFramer();
  const chunk = new Uint8Array(65536).fill(65);
  let overflows = 0;
  for (let i = 0; i < 64; i++) {
    framer.push(chunk);
    for (let e = framer.next(); e; e = framer.next()) {
      assert.equal(e.type, "line");
      if (e.type === "line") {
        assert.equal(e.overflow, true);
        assert.equal(e.line.length, 1999);
      }
      overflows++;
    }
    assert.ok(framer.buffered <= 2000);
  }
  assert.equal(overflows, Math.floor(64 * 65536 / 2000));
});

Deno.test("shell_cmd_chk: a NUL or BS at BUFLEN-1 bytes is still taken", () => {
  assert.deepEqual(run([encode("A".repeat(19) + "\0")], 20), [
    { type: "line", text: "A".repeat(19) },
  ]);
  assert.deepEqual(run([encode("A".repeat(19) + "\bB\0")], 20), [
    { type: "line", text: "A".repeat(18) + "B" },
  ]);
});

Deno.test("raw mode passes exactly N bytes of any value, then lines again", () => {
  const payload = new Uint8Array(300).map((_, i) => i & 0xff);
  const input = new Uint8Array([
    ...encode("RAW 300\r\n"),
    ...payload,
    ...encode("AT+NEXT\r\n"),
  ]);
  const expected: Plain[] = [
    { type: "line", text: "RAW 300" },
    { type: "raw", text: latin1(payload) },
    { type: "raw-end" },
    { type: "line", text: "AT+NEXT" },
  ];
  for (const chunks of splits(input)) assert.deepEqual(run(chunks), expected);
});

Deno.test("a raw payload ending in <<< is data when it completes the count", () => {
  const input = encode("RAW 5\r\nab<<<AT+X\r\n");
  for (const chunks of splits(input)) {
    assert.deepEqual(run(chunks), [
      { type: "line", text: "RAW 5" },
      { type: "raw", text: "ab<<<" },
      { type: "raw-end" },
      { type: "line", text: "AT+X" },
    ]);
  }
});

Deno.test("<<< is held back, signalled, and either aborted or released", () => {
  const framer = new CommandFramer();
  framer.push(encode("RAW 100\r\nhello<"));
  assert.equal(framer.next()?.type, "line");
  framer.startRaw(100);
  const first = framer.next();
  assert.equal(first?.type, "raw");
  if (first?.type === "raw") assert.equal(latin1(first.data), "hello");
  assert.equal(framer.next(), undefined);
  framer.push(encode("<"));
  assert.equal(framer.next(), undefined);
  framer.push(encode("<"));
  assert.deepEqual(framer.next(), { type: "abort-pending" });
  assert.equal(framer.next(), undefined);
  // More bytes: the <<< was data.
  framer.push(encode("x"));
  const released = framer.next();
  assert.equal(released?.type, "raw");
  if (released?.type === "raw") assert.equal(latin1(released.data), "<<<x");
  assert.equal(framer.rawRemaining, 100 - 9);
  framer.push(encode("<<<"));
  assert.deepEqual(framer.next(), { type: "abort-pending" });
  assert.equal(framer.abortRaw(), 91);
  assert.equal(framer.raw, false);
  framer.push(encode("AT+AFTER\r\n"));
  const after = framer.next();
  assert.equal(after?.type, "line");
  if (after?.type === "line") assert.equal(latin1(after.line), "AT+AFTER");
});

Deno.test("a run of more than three < keeps only the last three back", () => {
  const framer = new CommandFramer();
  framer.startRaw(50);
  framer.push(encode("a<<<<<"));
  const event = framer.next();
  assert.equal(event?.type, "raw");
  if (event?.type === "raw") assert.equal(latin1(event.data), "a<<");
  assert.deepEqual(framer.next(), { type: "abort-pending" });
});

Deno.test("the same events however the input is chunked (property)", () => {
  const piece = fc.oneof(
    fc.constantFrom(
      "AT+SKTSTATE\r\n",
      "AT+X\r",
      "\n",
      "\0",
      "\b",
      "\x7f",
      "\t",
      "\xff",
      "RAW 7\r\n",
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

Deno.test("a megabyte of CR LF or NUL lines in one chunk comes out whole", async (t) => {
  // One scan per chunk: this used to take seconds (a search for the other
  // line end from every line start).
  const lines: string[] = [];
  for (let size = 0, i = 0; size < 1 << 20; i++) {
    const line = `AT+SKTREAD=${i % 20},${i}`;
    lines.push(line);
    size += line.length + 1;
  }
  for (const end of ["\r\n", "\0"]) {
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

Deno.test("raw bytes taken from the middle of a chunk leave its lines intact", () => {
  const input = encode("AT+A\r\nRAW 3\r\nx\ny\nAT+B\rAT+C\r\n");
  for (const chunks of splits(input)) {
    assert.deepEqual(run(chunks), [
      { type: "line", text: "AT+A" },
      { type: "line", text: "RAW 3" },
      { type: "raw", text: "x\ny" },
      { type: "raw-end" },
      { type: "line", text: "\nAT+B\rAT+C" },
    ]);
  }
});
