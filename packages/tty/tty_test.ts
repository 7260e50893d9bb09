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

/** Waits (at most 2 s, in 5 ms steps) until `condition` holds. */
async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 400 && !condition(); i++) {
    await new Promise((r) => setTimeout(r, 5));
  }
  assert.ok(condition(), "condition not met within 2 s");
}

Deno.test("a pty with no client discards output; a client reads only what comes after it opened", async () => {
  const seen: boolean[] = [];
  const pty = openPty({ onPeer: (present) => seen.push(present) });
  const got: Uint8Array[] = [];
  const reading = (async () => {
    for await (const chunk of pty.readable) got.push(chunk);
  })();
  try {
    assert.equal(pty.peer, false);
    // Far more than the pty's own buffer (about 20 KB): nothing blocks.
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      pty.write(new Uint8Array(256 * 1024).fill(0x78)),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error("the write blocked")), 5000);
      }),
    ]).finally(() => clearTimeout(timer));

    const first = openSerial(pty.path);
    await until(() => pty.peer);
    assert.deepEqual(seen, [true]);
    await pty.write(new TextEncoder().encode("fresh"));
    assert.equal(
      new TextDecoder().decode(await readN(first.readable, 5)),
      "fresh",
    );
    // Bytes the client sends and then closes are still delivered, first.
    await first.write(new TextEncoder().encode("bye"));
    await pty.write(new TextEncoder().encode("never read"));
    await first.close();
    await until(() => !pty.peer);
    assert.deepEqual(seen, [true, false]);
    assert.equal(new TextDecoder().decode(got.at(-1)), "bye");

    await pty.write(new TextEncoder().encode("into the void"));
    const second = openSerial(pty.path);
    await until(() => pty.peer);
    await pty.write(new TextEncoder().encode("new"));
    assert.equal(
      new TextDecoder().decode(await readN(second.readable, 3)),
      "new",
    );
    await second.close();
    await until(() => !pty.peer);
    assert.deepEqual(seen, [true, false, true, false]);
  } finally {
    await pty.close();
    await reading;
  }
});
