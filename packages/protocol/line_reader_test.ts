import assert from "node:assert/strict";
import fc from "fast-check";
import {
  checkLineBufferSize,
  decodeLatin1 as latin1,
  encode,
  LineReader,
} from "./mod.ts";

interface Out {
  lines: string[];
  echo: string;
}

/** Feeds chunks through a reader, collecting lines (overflows marked `!`) and the echo. */
function read(
  chunks: Uint8Array[],
  options: { size?: number; dropEsc?: boolean; bound?: () => void } = {},
): Out {
  let echo = "";
  const reader = new LineReader({
    size: options.size,
    dropEsc: options.dropEsc,
    echo: (bytes) => echo += latin1(bytes),
  });
  const lines: string[] = [];
  for (const chunk of chunks) {
    let i = 0;
    while (i < chunk.length) {
      const { next, read } = reader.feed(chunk, i, chunk.length);
      assert.ok(next > i || read !== undefined);
      i = next;
      if (read) lines.push((read.overflow ? "!" : "") + latin1(read.line));
      assert.ok(reader.length <= reader.size);
    }
  }
  return { lines, echo };
}

/**
 * shell_cmd_chk transcribed, one byte at a time, as the reference model
 * (shell_rom_patch.c, Ameba-AIoT/ameba-rtos).
 */
function model(bytes: Uint8Array, size: number): string[] {
  const buf: number[] = [];
  let count = 0;
  const lines: string[] = [];
  const text = (n: number) => String.fromCharCode(...buf.slice(0, n));
  for (const b of bytes) {
    if (
      count < size - 1 ||
      (count === size - 1 && (b === 10 || b === 0 || b === 8 || b === 0x7f))
    ) {
      if (b === 0xff) continue;
      if (b === 10 && count > 0 && buf[count - 1] === 13) {
        lines.push(text(count - 1));
        count = 0;
      } else if (b === 0) {
        lines.push(text(count));
        count = 0;
      } else if (b === 8 || b === 0x7f) {
        if (count > 0) count--;
      } else {
        buf[count++] = b === 9 ? 32 : b;
      }
    } else if (count === size - 1) {
      lines.push("!" + text(count));
      count = 0;
    }
  }
  return lines;
}

Deno.test("shell_cmd_chk: CR LF ends a line, also across two writes", () => {
  assert.deepEqual(read([encode("AT+SKTSTATE\r"), encode("\nX\r\n")]).lines, [
    "AT+SKTSTATE",
    "X",
  ]);
});

Deno.test("shell_cmd_chk: a lone CR or LF is a byte of the line", () => {
  assert.deepEqual(read([encode("AT+SKTSTATE\n\r\n")]).lines, [
    "AT+SKTSTATE\n",
  ]);
  assert.deepEqual(read([encode("AT+SKTSTATE\r\r\n")]).lines, [
    "AT+SKTSTATE\r",
  ]);
});

Deno.test("shell_cmd_chk: NUL ends a line", () => {
  assert.deepEqual(read([encode("AT+SKTSTATE\0AT+SKTQUERY\0")]).lines, [
    "AT+SKTSTATE",
    "AT+SKTQUERY",
  ]);
});

Deno.test("shell_cmd_chk: BS and DEL delete, TAB is a space, 0xFF is dropped", () => {
  const bytes = new Uint8Array([
    ...encode("\bAT+SKTSTX\bATE"),
    0x7f,
    ...encode("E\tx"),
    0xff,
    ...encode("y\r\n"),
  ]);
  assert.deepEqual(read([bytes]).lines, ["AT+SKTSTATE xy"]);
});

Deno.test("shell_cmd_chk: the echo of a typed line (Manual Test Mode)", () => {
  const out = read([encode("AT\x08\x08AT\tX\x7f\r\n")]);
  assert.deepEqual(out.lines, ["AT "]);
  assert.equal(out.echo, "AT\b \b\b \bAT X\b \b\r\r\n");
  // A BS on an empty line echoes nothing; 0xFF echoes nothing.
  assert.equal(read([new Uint8Array([8, 0xff, 0])]).echo, "\r\n");
  // A lone LF echoes as typed.
  assert.equal(read([encode("A\nB\r\n")]).echo, "A\nB\r\r\n");
});

Deno.test("shell_cmd_chk: a full buffer prints <<<Too long cmd string.>>> with the line", () => {
  const out = read([encode("ABCDEFGHIJKLMNOPQRSTUVWXYZ")], { size: 8 });
  assert.deepEqual(out.lines, ["!ABCDEFG", "!IJKLMNO", "!QRSTUVW"]);
  assert.equal(
    out.echo,
    "ABCDEFG\n\r <<<Too long cmd string.>>> \nABCDEFG\r\n" +
      "IJKLMNO\n\r <<<Too long cmd string.>>> \nIJKLMNO\r\n" +
      "QRSTUVW\n\r <<<Too long cmd string.>>> \nQRSTUVW\r\nYZ",
  );
});

Deno.test("shell_cmd_chk: an LF in the last place leaves the reader ignoring everything", () => {
  const reader = new LineReader({ size: 8 });
  const bytes = encode("ABCDEFG\nAT+SKTSTATE\r\n");
  const { next, read } = reader.feed(bytes, 0, bytes.length);
  assert.equal(next, bytes.length);
  assert.equal(read, undefined);
  assert.equal(reader.stuck, true);
  assert.equal(reader.length, 8);
  reader.clear();
  assert.equal(reader.stuck, false);
});

Deno.test("shell_uart_irq_rom: the log UART drops ESC; the AT UART keeps it", () => {
  assert.deepEqual(read([encode("AT\x1b+X\r\n")], { dropEsc: true }).lines, [
    "AT+X",
  ]);
  assert.deepEqual(read([encode("AT\x1b+X\r\n")]).lines, ["AT\x1b+X"]);
});

Deno.test("shell_cmd_chk: the line buffer size is checked", () => {
  for (const bad of [0, 7, 1.5, -1, NaN, 65536, Infinity]) {
    assert.throws(() => checkLineBufferSize(bad), RangeError);
    assert.throws(() => new LineReader({ size: bad }), RangeError);
  }
  assert.equal(new LineReader().size, 2000);
});

const special = fc.constantFrom(0, 8, 9, 10, 13, 0x1b, 0x7f, 0xff, 0x41, 0x20);
const bytesArb = fc.array(fc.oneof(special, fc.integer({ min: 0, max: 255 })), {
  maxLength: 200,
});

Deno.test("shell_cmd_chk: no input makes the reader hold more than the buffer (property)", () => {
  fc.assert(
    fc.property(
      bytesArb,
      fc.integer({ min: 8, max: 40 }),
      fc.integer({ min: 1, max: 300 }),
      (bytes, size, repeat) => {
        const reader = new LineReader({ size, echo: () => {} });
        const input = new Uint8Array(bytes);
        for (let r = 0; r < Math.min(repeat, 20); r++) {
          let i = 0;
          while (i < input.length) {
            i = reader.feed(input, i, input.length).next;
            assert.ok(reader.length <= size);
          }
        }
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("shell_cmd_chk: lines match the byte-at-a-time model however the input is cut (property)", () => {
  fc.assert(
    fc.property(
      bytesArb,
      fc.integer({ min: 8, max: 24 }),
      fc.array(fc.integer({ min: 1, max: 13 }), { minLength: 1, maxLength: 6 }),
      (bytes, size, sizes) => {
        const input = new Uint8Array(bytes);
        const expected = model(input, size);
        assert.deepEqual(read([input], { size }).lines, expected);
        const chunks: Uint8Array[] = [];
        for (let i = 0, k = 0; i < input.length; k++) {
          const n = sizes[k % sizes.length];
          chunks.push(input.subarray(i, i + n));
          i += n;
        }
        const cut = read(chunks, { size });
        assert.deepEqual(cut.lines, expected);
        assert.equal(cut.echo, read([input], { size }).echo);
      },
    ),
    { numRuns: 500 },
  );
});
