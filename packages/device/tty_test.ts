import assert from "node:assert/strict";
import { openPty, openSerial, SerialError } from "./tty.ts";

async function readN(
  readable: ReadableStream<Uint8Array>,
  n: number,
): Promise<Uint8Array> {
  const reader = readable.getReader();
  const out = new Uint8Array(n);
  let got = 0;
  try {
    while (got < n) {
      const { value, done } = await reader.read();
      if (done) break;
      out.set(value.subarray(0, n - got), got);
      got += value.length;
    }
  } finally {
    reader.releaseLock();
  }
  return out.subarray(0, got);
}

Deno.test("a pty and its slave opened as a serial port pass every byte value both ways", async () => {
  const pty = openPty();
  assert.match(pty.path, /^\/dev\/pts\/\d+$/);
  const port = openSerial(pty.path, { baud: 115200 });
  try {
    assert.equal(port.baud, 115200);
    const all = new Uint8Array(256).map((_, i) => i);
    await port.write(all);
    assert.deepEqual(await readN(pty.readable, 256), all);
    await pty.write(all);
    assert.deepEqual(await readN(port.readable, 256), all);
    // 1 MiB from the module side to the client.
    const big = new Uint8Array(1024 * 1024).map((_, i) => (i * 31) & 0xff);
    const reading = readN(port.readable, big.length);
    await pty.write(big);
    assert.deepEqual(await reading, big);
  } finally {
    await port.close();
    await pty.close();
  }
});

Deno.test("the pty survives a client closing and another reopening", async () => {
  const pty = openPty();
  try {
    const first = openSerial(pty.path);
    await first.write(new TextEncoder().encode("one"));
    assert.equal(new TextDecoder().decode(await readN(pty.readable, 3)), "one");
    await first.close();
    await first.close(); // idempotent
    const second = openSerial(pty.path, { baud: 9600 });
    assert.equal(second.baud, 9600);
    await second.write(new TextEncoder().encode("two"));
    assert.equal(new TextDecoder().decode(await readN(pty.readable, 3)), "two");
    await second.close();
  } finally {
    await pty.close();
  }
});

Deno.test("openSerial errors: missing, not a tty, busy, bad baud", async () => {
  assert.throws(
    () => openSerial("/dev/no-such-tty"),
    (e: unknown) =>
      e instanceof SerialError && e.kind === "not-found" &&
      /no such device/.test(e.message),
  );
  assert.throws(
    () => openSerial("/dev/null"),
    (e: unknown) => e instanceof SerialError && e.kind === "not-a-tty",
  );
  const pty = openPty();
  const port = openSerial(pty.path);
  try {
    assert.throws(
      () => openSerial(pty.path),
      (e: unknown) => e instanceof SerialError && e.kind === "busy",
    );
    assert.throws(() => openSerial(pty.path, { baud: 12345 }), RangeError);
  } finally {
    await port.close();
    await pty.close();
  }
});

Deno.test("a process that opened and closed a pty exits by itself", async () => {
  const url = new URL("./tty.ts", import.meta.url).href;
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `import { openPty } from "${url}"; const p = openPty(); const r = p.readable.getReader(); r.read().catch(() => {}); await new Promise((res) => setTimeout(res, 100)); await p.close(); console.log("closed");`,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  assert.equal(new TextDecoder().decode(out.stdout).trim(), "closed");
});
