import assert from "node:assert/strict";
import fc from "fast-check";
import { formatRequest, MAX_LINE_LENGTH } from "@atsock/protocol";
import { hasLineEnd, pieceEnd, sendPieces, sendRoom } from "./pieces.ts";

Deno.test("AT+SKTSEND pieces fill the command buffer and no more", async (t) => {
  await t.step("a piece of commas is half as long", () => {
    const room = sendRoom(0);
    const commas = new Uint8Array(5000).fill(0x2c);
    const pieces = sendPieces(commas, room);
    assert.equal(pieces[0].length, Math.floor(room / 2));
    const line = formatRequest({
      command: "SKTSEND",
      linkId: 0,
      data: pieces[0],
    });
    assert.ok(line.length - 2 <= MAX_LINE_LENGTH);
    assert.ok(line.length - 2 >= MAX_LINE_LENGTH - 4);
  });
  await t.step("a 2-byte escape is never split at the end of the room", () => {
    const data = new Uint8Array([0x61, 0x5c]);
    assert.equal(pieceEnd(data, 0, 2), 1);
    assert.equal(pieceEnd(data, 1, 2), 2);
  });
  await t.step(
    "bytes the line reader changes are found (shell_cmd_chk)",
    () => {
      assert.ok(hasLineEnd(new Uint8Array([1, 13, 10])));
      for (const b of [0, 8, 9, 0x7f, 0xff]) {
        assert.ok(hasLineEnd(new Uint8Array([1, b])), String(b));
      }
      // A lone CR or LF is a byte of the line: AT+SKTSEND carries it.
      assert.ok(!hasLineEnd(new Uint8Array([10])));
      assert.ok(!hasLineEnd(new Uint8Array([13])));
      assert.ok(!hasLineEnd(new Uint8Array([10, 13])));
      assert.ok(!hasLineEnd(new Uint8Array([1, 2, 0x2c])));
    },
  );
  await t.step("property: pieces join to the payload, each line fits", () => {
    fc.assert(
      fc.property(
        // Payloads the line reader would change never go as AT+SKTSEND
        // (hasLineEnd refuses them first): the pieces are made of the rest.
        fc.uint8Array({ minLength: 1, maxLength: 9000 }).map((data) =>
          data.map((b) => ([0, 8, 9, 10, 0x7f, 0xff].includes(b) ? 0x41 : b))
        ),
        fc.integer({ min: 0, max: 19 }),
        fc.boolean(),
        (data, linkId, udp) => {
          const destination = udp
            ? { ip: "255.255.255.255", port: 65535 }
            : undefined;
          const pieces = sendPieces(data, sendRoom(linkId, destination));
          const joined = new Uint8Array(data.length);
          let at = 0;
          for (const piece of pieces) {
            assert.ok(piece.length > 0);
            const line = formatRequest({
              command: "SKTSEND",
              linkId,
              data: piece,
              ...(destination ? { destination } : {}),
            });
            assert.ok(line.length - 2 <= MAX_LINE_LENGTH);
            joined.set(piece, at);
            at += piece.length;
          }
          assert.deepEqual(joined, data);
        },
      ),
      { numRuns: 200 },
    );
  });
});
