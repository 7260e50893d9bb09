/**
 * The console byte-stream fuzz: command lines as bytes, grammar-aware ones
 * from {@linkcode requestArb} and `formatRequest`, and from them mutated
 * lines, random bytes, overlong lines, NULs and lone CRs and LFs, and the
 * catalogue's boundary lines ({@linkcode boundaryCases}), each with a line
 * end the firmware's reader takes.
 *
 * @module
 */

import fc from "fast-check";
import { concat, encode, formatRequest } from "@atsock/protocol";
import { boundaryCases, requestArb, type World } from "./requests.ts";

/** One fuzz line: its bytes (with a line end) and what kind it is. */
export interface FuzzLine {
  /** grammar, mutated, boundary, random, overlong, nul or lone-cr. */
  kind: string;
  /** The line, with its end. */
  bytes: Uint8Array;
}

/** A fuzz line of any kind, its ports from `world`. */
export function lineArb(world: World): fc.Arbitrary<FuzzLine> {
  const grammar = requestArb(world).map((r) => {
    try {
      return formatRequest(r).subarray(0, -2); // without its CR LF
    } catch {
      return encode("AT+SKTSTATE");
    }
  });
  // Only CR LF or NUL ends a line (shell_cmd_chk).
  const ending = fc.constantFrom("\r\n", "\r\n", "\r\n", "\0");
  const withEnd = (kind: string, body: fc.Arbitrary<Uint8Array>) =>
    fc.tuple(body, ending).map(([b, e]): FuzzLine => ({
      kind,
      bytes: concat([b, encode(e)]),
    }));
  const noEnds = (b: Uint8Array) =>
    b.map((x) => (x === 13 || x === 10 ? 0x2c : x));
  const mutated = fc.tuple(
    grammar,
    fc.array(
      fc.tuple(
        fc.constantFrom(
          "flip",
          "delete",
          "insert",
          "duplicate",
          "truncate",
          "number",
        ),
        fc.nat(),
        fc.constantFrom(0x2c, 0x30, 0x2d, 0x00, 0x5c, 0x3d, 0x20, 0x39, 0xff),
      ),
      { minLength: 1, maxLength: 3 },
    ),
  ).map(([line, ops]) => {
    let b = Array.from(line);
    for (const [op, at, byte] of ops) {
      const i = b.length ? at % b.length : 0;
      if (op === "flip") b[i] = (b[i] ^ (1 << (at % 8))) & 0xff;
      else if (op === "delete") b.splice(i, 1);
      else if (op === "insert") b.splice(i, 0, byte);
      else if (op === "duplicate") b = [...b.slice(0, i), ...b.slice(i)];
      else if (op === "truncate") b = b.slice(0, i);
      else b.splice(i, 0, ...encode(String(at * 7919)));
    }
    return noEnds(new Uint8Array(b));
  });
  return fc.oneof(
    { arbitrary: withEnd("grammar", grammar), weight: 50 },
    { arbitrary: withEnd("mutated", mutated), weight: 25 },
    {
      arbitrary: withEnd(
        "boundary",
        fc.constantFrom(...boundaryCases(world)).map((c) => encode(c.line)),
      ),
      weight: 5,
    },
    {
      arbitrary: withEnd(
        "random",
        fc.uint8Array({ maxLength: 120 }).map(noEnds),
      ),
      weight: 8,
    },
    {
      arbitrary: withEnd(
        "overlong",
        fc.tuple(grammar, fc.integer({ min: 2001, max: 6000 })).map((
          [g, n],
        ) => {
          const out = new Uint8Array(n).fill(0x41);
          out.set(g.subarray(0, Math.min(g.length, n)));
          return out;
        }),
      ),
      weight: 3,
    },
    {
      arbitrary: withEnd(
        "nul",
        fc.tuple(grammar, fc.nat()).map(([g, at]) => {
          const b = Array.from(g);
          b.splice(at % (b.length + 1), 0, 0);
          return new Uint8Array(b);
        }),
      ),
      weight: 7,
    },
    {
      // A lone CR (or, in a short line, a lone LF) inside: a byte of the
      // line. (An LF with 1999 bytes held would leave the reader stuck.)
      arbitrary: withEnd(
        "lone-cr",
        fc.tuple(grammar, fc.nat(), fc.boolean()).map(([g, at, lf]) => {
          const b = Array.from(g);
          b.splice(at % (b.length + 1), 0, lf && b.length < 1000 ? 10 : 13);
          return new Uint8Array(b);
        }),
      ),
      weight: 7,
    },
  );
}
