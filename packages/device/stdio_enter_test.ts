import assert from "node:assert/strict";
import { enterAsCrLf } from "./consoles.ts";

Deno.test("shell_cmd_chk on a terminal: Enter (a lone LF) is sent as CR LF; CR LF stays", async () => {
  const chunks = [
    new TextEncoder().encode("AT+SKTSTATE\n"),
    new TextEncoder().encode("AT+SKTQUERY\r"),
    new TextEncoder().encode("\nx\n"),
  ];
  const source = {
    read(p: Uint8Array): Promise<number | null> {
      const next = chunks.shift();
      if (!next) return Promise.resolve(null);
      const n = Math.min(p.length, next.length);
      p.set(next.subarray(0, n));
      if (n < next.length) chunks.unshift(next.subarray(n));
      return Promise.resolve(n);
    },
  };
  const input = enterAsCrLf(source);
  let text = "";
  for (let i = 0; i < 20; i++) {
    const buf = new Uint8Array(8);
    const n = await input.read(buf);
    if (n === null) break;
    text += new TextDecoder().decode(buf.subarray(0, n));
  }
  assert.equal(text, "AT+SKTSTATE\r\nAT+SKTQUERY\r\nx\r\n");
});
