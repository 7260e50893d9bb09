// AT+SKTSENDRAW end to end on a module and real sockets (transparent
// transmission: the prompt, the payload, watermarks, flow control, the <<<
// abort); RawTransfer alone is raw_transfer_test.ts.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { createSocket } from "node:dgram";
import { encode, TT_BUFFER_SIZE, TT_PIECE_SIZE } from "@atsock/protocol";
import {
  freePort,
  Harness,
  oddChunks,
  randomBytes,
  readExactly,
  tcpPeer,
} from "./test_util.ts";
import { TT_BATCH } from "./raw_transfer.ts";

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

Deno.test("at_sktsendraw in Manual Test Mode: the link is checked first (1), then atcmd_tt_mode_start fails (4); shell_cmd_chk echo", async () => {
  const h = await Harness.start();
  try {
    // A CR alone does not end the line: the LF after it does (shell_cmd_chk).
    await h.write("AT+SKTSTATE\r");
    await h.write("\n");
    const { event } = await h.next((e) => e.type === "ok");
    assert.deepEqual(event, { type: "ok" });
    await h.next((e) => e.type === "shell" && e.text === "#");
    // No link 0 yet, or a malformed command: 1, as in Host Control Mode.
    const free = await h.command("AT+SKTSENDRAW=0,6");
    assert.equal(free.text, "AT+SKTSENDRAW=0,6\r\r\n\r\nERROR: 1\r\n");
    assert.equal(await h.code("AT+SKTSENDRAW=99"), 1);
    assert.equal(await h.code(`AT+SKTSERVER=0,0,,${freePort()},0`), 0);
    // A UDP server without a destination is still a parameter error.
    assert.equal(await h.code("AT+SKTSENDRAW=0,6"), 1);
    // A good command on a good link: the mode refuses it.
    const raw = await h.command("AT+SKTSENDRAW=0,6,127.0.0.1,9");
    assert.equal(
      raw.text,
      "AT+SKTSENDRAW=0,6,127.0.0.1,9\r\r\n\r\nERROR: 4\r\n",
    );
  } finally {
    await h.close();
  }
});

Deno.test("SKTSENDRAW on TCP with RTS flow control: prompt, exact bytes, 10 MiB of random bytes in odd chunks with checksum, OK", async () => {
  // The console writes without looking at watermarks: only RTS keeps every byte.
  const h = await Harness.start({ mode: "host", flowControl: "rts" });
  const peer = tcpPeer();
  try {
    await h.next((e) => e.type === "ready");
    const accepted = peer.accept();
    assert.equal(
      await h.code(`AT+SKTCLIENT=0,1,,127.0.0.1,${peer.port},,0`),
      0,
    );
    const conn = await accepted;
    await h.write("AT+SKTSENDRAW=0,6\r\n");
    await h.next((e) => e.type === "prompt");
    await h.write("Hello!");
    assert.deepEqual(
      (await h.next((e) => e.type === "ok" || e.type === "error")).event,
      { type: "ok" },
    );
    assert.equal(
      new TextDecoder().decode(await readExactly(conn, 6)),
      "Hello!",
    );

    // 10 MiB of random bytes (every value, CR, LF, commas and "<<<"
    // included), sent in odd chunk sizes.
    const size = 10 * 1024 * 1024;
    const data = new Uint8Array(size);
    for (let i = 0; i < size; i += 65536) {
      crypto.getRandomValues(data.subarray(i, i + 65536));
    }
    data.set(encode("<<<"), 1000);
    data.set(encode("\r\n<<<"), size - 5000);
    await h.write(`AT+SKTSENDRAW=0,${size}\r\n`);
    await h.next((e) => e.type === "prompt");
    const receiving = readExactly(conn, size);
    for (let i = 0, k = 1; i < size; k = (k * 31 + 7) % 16411 + 1) {
      await h.write(data.subarray(i, i + k));
      i += k;
    }
    assert.deepEqual(
      (await h.next((e) => e.type === "ok" || e.type === "error", 20000)).event,
      { type: "ok" },
    );
    assert.equal(sha(await receiving), sha(data));
    // The console is back to commands.
    assert.equal(await h.code("AT+SKTDEL=0"), 0);
    conn.close();
  } finally {
    peer.close();
    await h.close();
  }
});

Deno.test("atcmd_lwip_start_tt_handle: <<< then 30 ms on a payload of at most 10 KiB sends what came, <<< included, and answers OK", async () => {
  const h = await Harness.start({ mode: "host" });
  const peer = tcpPeer();
  try {
    await h.next((e) => e.type === "ready");
    const accepted = peer.accept();
    assert.equal(
      await h.code(`AT+SKTCLIENT=1,1,,127.0.0.1,${peer.port},,0`),
      0,
    );
    const conn = await accepted;
    await h.write("AT+SKTSENDRAW=1,100\r\n");
    await h.next((e) => e.type === "prompt");
    await h.write("abc");
    await new Promise((r) => setTimeout(r, 5));
    for (const byte of "<<<") {
      await h.write(byte);
      await new Promise((r) => setTimeout(r, 5));
    }
    const { event } = await h.next((e) =>
      e.type === "ok" || e.type === "error"
    );
    assert.deepEqual(event, { type: "ok" });
    // On the UART the `<` bytes went into the buffer: they are sent too.
    assert.equal(
      new TextDecoder().decode(await readExactly(conn, 6)),
      "abc<<<",
    );
    assert.equal(await h.code("AT+SKTSEND=1,2,,,ok"), 0);
    assert.equal(new TextDecoder().decode(await readExactly(conn, 2)), "ok");
    conn.close();
  } finally {
    peer.close();
    await h.close();
  }
});

Deno.test("SKTSENDRAW errors and UDP destinations", async () => {
  const h = await Harness.start({ mode: "host" });
  const udp = createSocket("udp4");
  await new Promise<void>((r) => udp.bind(0, "127.0.0.1", () => r()));
  const got: string[] = [];
  udp.on("message", (m) => got.push(new TextDecoder().decode(m)));
  try {
    await h.next((e) => e.type === "ready");
    assert.equal(await h.code("AT+SKTSENDRAW=0,5"), 1); // no such link
    const port = freePort();
    assert.equal(await h.code(`AT+SKTSERVER=3,0,,${port},0`), 0);
    assert.equal(await h.code("AT+SKTSENDRAW=3,5"), 1); // UDP server needs ip, port
    await h.write(`AT+SKTSENDRAW=3,10,127.0.0.1,${udp.address().port}\r\n`);
    await h.next((e) => e.type === "prompt");
    await h.write("Lwip_Test!");
    assert.deepEqual(
      (await h.next((e) => e.type === "ok" || e.type === "error")).event,
      { type: "ok" },
    );
    for (let i = 0; i < 100 && got.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.deepEqual(got, ["Lwip_Test!"]);
  } finally {
    udp.close();
    await h.close();
  }
});

Deno.test("atio_uart_handler: without flow control, High Watermark, then bytes dropped when the buffer is full (counted and logged), Low when it drains", async () => {
  const logs: string[] = [];
  const h = await Harness.start({
    mode: "host",
    log: (line) => logs.push(line),
  });
  const peer = tcpPeer();
  try {
    await h.next((e) => e.type === "ready");
    const accepted = peer.accept();
    assert.equal(
      await h.code(`AT+SKTCLIENT=0,1,,127.0.0.1,${peer.port},,0`),
      0,
    );
    const conn = await accepted;
    const size = 32 * 1024 * 1024; // more than the kernel's loopback buffers hold
    await h.write(`AT+SKTSENDRAW=0,${size}\r\n`);
    await h.next((e) => e.type === "prompt");
    // The host ignores the watermarks and writes on (the peer reads nothing).
    const data = randomBytes(64 * 1024);
    let written = 0;
    while (h.module.stats().transparentDropped === 0 && written < size) {
      await h.module.receive(data.slice());
      written += data.length;
    }
    assert.ok(h.module.stats().transparentDropped > 0, "bytes were dropped");
    assert.ok(h.module.stats().transparent <= 81919 + TT_PIECE_SIZE);
    const high = await h.next((e) => e.type === "watermark", 20000);
    assert.deepEqual(high.event, { type: "watermark", level: "high" });
    const draining = (async () => {
      const buf = new Uint8Array(65536);
      while ((await conn.read(buf)) !== null) { /* discard */ }
    })();
    const low = await h.next((e) => e.type === "watermark", 20000);
    assert.deepEqual(low.event, { type: "watermark", level: "low" });
    // Bytes are missing: the module waits for more until the host aborts.
    for (const byte of "<<<") {
      await h.write(byte);
      await new Promise((r) => setTimeout(r, 5));
    }

    const { event } = await h.next(
      (e) => e.type === "ok" || e.type === "error",
      20000,
    );
    assert.deepEqual(event, { type: "error", code: 4 });
    const dropped = h.module.stats().transparentDropped;
    assert.ok(
      logs.some((line) =>
        line.includes(`${dropped} console bytes dropped`) &&
        line.includes("TT buffer was full")
      ),
      logs.join("\n"),
    );
    assert.equal(await h.code("AT+SKTDEL=0"), 0);
    conn.close();
    await draining.catch(() => {});
  } finally {
    peer.close();
    await h.close();
  }
});

Deno.test("atcmd_lwip_start_tt_handle: a 5000-byte UDP payload is one 5000-byte datagram; 25000 bytes are 10240 + 10240 + 4520", async () => {
  const h = await Harness.start({ mode: "host" });
  const udp = createSocket("udp4");
  await new Promise<void>((r) => udp.bind(0, "127.0.0.1", () => r()));
  const got: Uint8Array[] = [];
  udp.on("message", (m) => got.push(new Uint8Array(m)));
  try {
    await h.next((e) => e.type === "ready");
    assert.equal(
      await h.code(
        `AT+SKTCLIENT=2,0,,127.0.0.1,${udp.address().port},${freePort()},0`,
      ),
      0,
    );
    for (
      const [size, lengths] of [[5000, [5000]], [25000, [
        10240,
        10240,
        4520,
      ]]] as const
    ) {
      got.length = 0;
      const data = randomBytes(size);
      await h.write(`AT+SKTSENDRAW=2,${size}\r\n`);
      await h.next((e) => e.type === "prompt");
      for (const chunk of oddChunks(data, 1500)) await h.write(chunk);
      assert.deepEqual(
        (await h.next((e) => e.type === "ok" || e.type === "error")).event,
        { type: "ok" },
      );
      for (let i = 0; i < 200 && got.length < lengths.length; i++) {
        await new Promise((r) => setTimeout(r, 5));
      }
      assert.deepEqual(got.map((d) => d.length), [...lengths]);
      assert.equal(sha(new Uint8Array(got.flatMap((d) => [...d]))), sha(data));
    }
  } finally {
    udp.close();
    await h.close();
  }
});

/** A UDP receiver in its own process (so it keeps up), reporting bytes, largest datagram and SHA-256. */
const UDP_SINK = `
import { createSocket } from "node:dgram";
import { createHash } from "node:crypto";
const udp = createSocket("udp4");
const hash = createHash("sha256");
let received = 0, largest = 0;
udp.on("message", (m) => { hash.update(m); received += m.length; largest = Math.max(largest, m.length); });
udp.bind(0, "127.0.0.1", () => console.log(udp.address().port));
for await (const _ of Deno.stdin.readable) { /* until stdin closes */ }
console.log(JSON.stringify({ received, largest, digest: hash.digest("hex") }));
udp.close();
`;

Deno.test("TT with RTS flow control: 10 MiB of random bytes over UDP in datagrams of at most 10 KiB, in order", async () => {
  const h = await Harness.start({ mode: "host", flowControl: "rts" });
  const sink = new Deno.Command(Deno.execPath(), {
    args: ["eval", UDP_SINK],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = sink.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const port = Number((await lines.read()).value!.trim());
  try {
    await h.next((e) => e.type === "ready");
    assert.equal(
      await h.code(`AT+SKTCLIENT=1,0,,127.0.0.1,${port},${freePort()},0`),
      0,
    );
    const size = 10 * 1024 * 1024;
    const data = randomBytes(size);
    await h.write(`AT+SKTSENDRAW=1,${size}\r\n`);
    await h.next((e) => e.type === "prompt");
    // Odd chunk sizes from the console, at about 4 MB/s: the rate of a
    // fast UART, which a receiver keeps up with (loopback UDP drops what a
    // receiver cannot take, as any network does).
    let sinceSleep = 0;
    for (let i = 0, k = 1; i < size; k = (k * 17 + 3) % 9001 + 1) {
      await h.write(data.subarray(i, i + k));
      i += k;
      sinceSleep += k;
      if (sinceSleep >= 64 * 1024) {
        sinceSleep = 0;
        await new Promise((r) => setTimeout(r, 16));
      }
    }
    assert.deepEqual(
      (await h.next((e) => e.type === "ok" || e.type === "error", 30000)).event,
      { type: "ok" },
    );
    await new Promise((r) => setTimeout(r, 300));
    await sink.stdin.close();
    let text = "";
    while (!text.includes("}")) {
      const { value, done } = await lines.read();
      if (done) break;
      text += value;
    }
    const report = JSON.parse(text);
    assert.equal(report.largest, 10240);
    assert.equal(report.received, size);
    assert.equal(report.digest, sha(data));
  } finally {
    await sink.status;
    await h.close();
  }
});

Deno.test("atcmd_lwip_start_tt_handle: SKTSENDRAW on TCP aborted with <<< after 6 MiB of 10: the bytes before and the <<< arrive, ERROR: 4, commands again", async () => {
  const h = await Harness.start({ mode: "host", flowControl: "rts" });
  const peer = tcpPeer();
  try {
    await h.next((e) => e.type === "ready");
    const accepted = peer.accept();
    assert.equal(
      await h.code(`AT+SKTCLIENT=0,1,,127.0.0.1,${peer.port},,0`),
      0,
    );
    const conn = await accepted;
    const size = 10 * 1024 * 1024;
    const cut = 6 * 1024 * 1024 + 4321;
    const data = randomBytes(size);
    data[cut - 1] = 0; // not a `<`, so the abort is exactly the three that follow
    await h.write(`AT+SKTSENDRAW=0,${size}\r\n`);
    await h.next((e) => e.type === "prompt");
    const receiving = readExactly(conn, cut + 3);
    for (const chunk of oddChunks(data.subarray(0, cut))) await h.write(chunk);
    // Every payload byte taken before the `<` (else one read could hold both).
    for (let i = 0; i < 2000 && h.module.stats().transparent > 0; i++) {
      await new Promise((r) => setTimeout(r, 5));
    }
    await new Promise((r) => setTimeout(r, 20));
    for (const byte of "<<<") {
      await h.write(byte);
      await new Promise((r) => setTimeout(r, 5)); // three reads of one byte
    }
    const { event } = await h.next(
      (e) => e.type === "ok" || e.type === "error",
      30000,
    );
    assert.deepEqual(event, { type: "error", code: 4 });
    const expected = new Uint8Array(cut + 3);
    expected.set(data.subarray(0, cut));
    expected.set(encode("<<<"), cut);
    assert.equal(sha(await receiving), sha(expected));
    // Commands again; what follows the prefix on the wire is this SKTSEND.
    assert.equal(await h.code("AT+SKTSEND=0,2,,,ok"), 0);
    assert.equal(new TextDecoder().decode(await readExactly(conn, 2)), "ok");
    assert.equal(h.module.stats().transparent, 0);
    conn.close();
  } finally {
    peer.close();
    await h.close();
  }
});

Deno.test("TT buffer with RTS flow control stays within 80 KiB while the peer does not read; no watermarks", async () => {
  const h = await Harness.start({ mode: "host", flowControl: "rts" });
  const peer = tcpPeer();
  try {
    await h.next((e) => e.type === "ready");
    const accepted = peer.accept();
    assert.equal(
      await h.code(`AT+SKTCLIENT=0,1,,127.0.0.1,${peer.port},,0`),
      0,
    );
    const conn = await accepted;
    const size = 24 * 1024 * 1024; // more than the kernel's loopback buffers hold
    const data = randomBytes(size);
    await h.write(`AT+SKTSENDRAW=0,${size}\r\n`);
    await h.next((e) => e.type === "prompt");
    // Feed the module directly in pieces of known size, so "one chunk" is known.
    let largest = 0;
    let peak = 0;
    const sample = () => {
      peak = Math.max(peak, h.module.stats().transparent);
    };
    const feeding = (async () => {
      for (const chunk of oddChunks(data, 9001)) {
        largest = Math.max(largest, chunk.length);
        await h.module.receive(chunk);
        sample();
      }
    })();
    // The peer reads nothing: the buffer fills and stays full.
    for (let i = 0; i < 2000 && peak < TT_BUFFER_SIZE - 1; i++) {
      sample();
      await new Promise((r) => setTimeout(r, 5));
    }
    for (let i = 0; i < 20; i++) {
      sample();
      await new Promise((r) => setTimeout(r, 5));
    }
    const receiving = readExactly(conn, size); // now the peer reads
    await feeding;
    const { event } = await h.next(
      (e) => e.type === "ok" || e.type === "error",
      20000,
    );
    assert.deepEqual(event, { type: "ok" });
    assert.equal(sha(await receiving), sha(data));
    // The ring holds 80 KiB less one; besides, the pieces being sent (one
    // write of at most TT_BATCH without watermarks).
    assert.ok(
      peak >= TT_BUFFER_SIZE - 1,
      `peak ${peak}: the ring never filled`,
    );
    assert.ok(
      peak <= TT_BUFFER_SIZE - 1 + TT_BATCH,
      `TT buffer held ${peak} bytes`,
    );
    assert.ok(largest > 0);
    assert.equal(h.module.stats().transparentDropped, 0);
    assert.equal(
      h.pending().filter((e) => e.type === "watermark").length,
      0,
      "no watermark lines with RTS",
    );
    assert.equal(h.module.stats().transparent, 0);
    conn.close();
  } finally {
    peer.close();
    await h.close();
  }
});
