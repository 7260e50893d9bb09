import assert from "node:assert/strict";
import fc from "fast-check";
import { type EscapeRules, EscapeScanError, scanEscapes } from "./escapes.ts";

const KEEP: EscapeRules = { bytes: { n: 0x0a }, keep: "\\", other: "keep" };
const REFUSE: EscapeRules = { bytes: { n: 0x0a, "\\": 0x5c }, other: "refuse" };
const QUOTED: EscapeRules = {
  ...REFUSE,
  bytes: { ...REFUSE.bytes, '"': 0x22 },
  end: '"',
};

const bytes = (
  text: string,
  rules: EscapeRules,
  from = 0,
) => [...scanEscapes(text, rules, from).bytes];

function refused(
  f: () => unknown,
  problem: string,
  at: number,
  escape: string,
) {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof EscapeScanError);
    assert.deepEqual([e.problem, e.at, e.escape], [problem, at, escape]);
    return true;
  });
}

Deno.test("scanEscapes: one-byte escapes, \\xNN and UTF-8", () => {
  assert.deepEqual(bytes("a\\n\\x00\\xFF", REFUSE), [0x61, 0x0a, 0x00, 0xff]);
  assert.deepEqual(bytes("é😀", REFUSE), [
    0xc3,
    0xa9,
    0xf0,
    0x9f,
    0x98,
    0x80,
  ]);
  refused(() => scanEscapes("ab\\x4", REFUSE), "hex", 2, "4");
  refused(() => scanEscapes("\\xzz", KEEP), "hex", 0, "zz");
});

Deno.test("scanEscapes: other escapes kept as typed, or refused", () => {
  // keep: a kept pair is both bytes; another backslash is a byte and the
  // character after it is read as usual.
  assert.deepEqual(bytes("\\\\n", KEEP), [0x5c, 0x5c, 0x6e]);
  assert.deepEqual(bytes("\\,\\n", KEEP), [0x5c, 0x2c, 0x0a]);
  assert.deepEqual(bytes("end\\", KEEP), [0x65, 0x6e, 0x64, 0x5c]);
  // refuse: the escape and where.
  assert.deepEqual(bytes("\\\\n", REFUSE), [0x5c, 0x6e]);
  refused(() => scanEscapes("a\\q", REFUSE), "unknown", 1, "q");
  refused(() => scanEscapes("a\\", REFUSE), "unknown", 1, "");
});

Deno.test("scanEscapes: an end character ends the text and must come", () => {
  const text = 'say "a\\"b" then';
  const { bytes: read, next } = scanEscapes(text, QUOTED, 5);
  assert.equal(new TextDecoder().decode(read), 'a"b');
  assert.equal(text.slice(next), " then");
  refused(() => scanEscapes('"open', QUOTED, 1), "unclosed", 1, "");
});

Deno.test("scanEscapes: every byte written as \\xNN reads back (property)", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (input) => {
      const typed = [...input].map((b) =>
        `\\x${b.toString(16).padStart(2, "0")}`
      ).join("");
      for (const rules of [KEEP, REFUSE]) {
        assert.deepEqual(scanEscapes(typed, rules).bytes, input);
      }
      const quoted = scanEscapes(`${typed}"`, QUOTED);
      assert.deepEqual(quoted.bytes, input);
      assert.equal(quoted.next, typed.length + 1);
    }),
    { numRuns: 300 },
  );
});
