import assert from "node:assert/strict";
import fc from "fast-check";
import { EscapeError, showBytes, unescapeLine } from "./escapes.ts";

const bytes = (...b: number[]) => new Uint8Array(b);

Deno.test("escapes: control bytes, hex, and the module's own escapes kept", () => {
  assert.deepEqual(unescapeLine("a\\r\\n\\t\\0"), bytes(97, 13, 10, 9, 0));
  assert.deepEqual(unescapeLine("\\x00\\xFF\\x5c"), bytes(0, 255, 0x5c));
  // \, and \\ are the module's escapes: kept byte for byte.
  assert.deepEqual(unescapeLine("a\\,b"), bytes(97, 0x5c, 0x2c, 98));
  assert.deepEqual(unescapeLine("\\\\r"), bytes(0x5c, 0x5c, 114));
  assert.deepEqual(unescapeLine("end\\"), bytes(101, 110, 100, 0x5c));
  assert.deepEqual(unescapeLine("é"), bytes(0xc3, 0xa9));
  for (const bad of ["\\x", "\\x4", "\\xzz"]) {
    assert.throws(() => unescapeLine(bad), EscapeError, bad);
  }
});

Deno.test("showBytes: printable ASCII only, and a limit", () => {
  assert.equal(
    showBytes(bytes(13, 10, 0, 9, 0x7f, 0xff, 65)),
    "\\r\\n\\0\\t\\x7f\\xffA",
  );
  assert.equal(showBytes(bytes(0x5c, 114)), "\\x5cr");
  assert.equal(
    showBytes(new TextEncoder().encode("abcdef"), 2),
    "ab... (4 more bytes)",
  );
});

Deno.test("unescapeLine(showBytes(b)) gives b back (property)", () => {
  // Bytes rich in backslashes and escape letters.
  const byte = fc.oneof(
    fc.integer({ min: 0, max: 255 }),
    fc.constantFrom(0x5c, 0x72, 0x6e, 0x74, 0x30, 0x78, 0x2c),
  );
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 40 }),
      fc.array(byte, { maxLength: 40 }),
      (a, b) => {
        const input = new Uint8Array([...a, ...b]);
        const shown = showBytes(input);
        assert.match(shown, /^[\x20-\x7e]*$/);
        assert.deepEqual(unescapeLine(shown), input);
      },
    ),
    { numRuns: 2000 },
  );
});
