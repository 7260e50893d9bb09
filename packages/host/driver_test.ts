import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { createSocket } from "node:dgram";
import type { Buffer } from "node:buffer";
import { createModule, serveTcp } from "@atsock/device";
import { AtError, DEFAULT_CONFIG, encode } from "@atsock/protocol";
import {
  AtDriver,
  CommandTimeoutError,
  connectTcp,
  type DroppedEvents,
  linkStreams,
  ModuleResetError,
  type UnresponsiveEvent,
  type UnsolicitedEvent,
} from "./mod.ts";
import {
  bench,
  fakeModule,
  freePort,
  QUERY_BLOCK,
  readUntil,
  waitFor,
} from "./test_util.ts";

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

Deno.test("every typed method against the virtual module over its TCP console", async () => {
  const { driver, close, peer, port: peerPort } = await bench();
  try {
    assert.deepEqual(await driver.query(), DEFAULT_CONFIG);
    await driver.configure({
      sendTimeout: 2000,
      keepAlive: true,
      keepIdle: 60,
    });
    assert.deepEqual(await driver.query(), {
      ...DEFAULT_CONFIG,
      sendTimeout: 2000,
      keepAlive: true,
      keepIdle: 60,
    });
    await driver.configure({});

    const serverPort = freePort();
    await driver.listen({ linkId: 0, port: serverPort, autoReceive: false });
    const events: UnsolicitedEvent[] = [];
    driver.addEventListener(
      "connect",
      (e) => events.push((e as Event & { detail: UnsolicitedEvent }).detail),
    );
    const client = await Deno.connect({
      hostname: "127.0.0.1",
      port: serverPort,
    });
    await client.write(encode("hello"));
    const accepted = peer.accept();
    await driver.connect({
      linkId: 5,
      host: "127.0.0.1",
      port: peerPort,
      autoReceive: false,
    });
    const conn = await accepted;

    let read = await driver.read(1, 100);
    for (let i = 0; i < 50 && read.size === 0; i++) {
      read = await driver.read(1, 100);
    }
    assert.equal(new TextDecoder().decode(read.data), "hello");
    assert.equal(events[0].type, "connect");

    await driver.send(5, encode("a,b\\c"));
    const got = new Uint8Array(5);
    let n = 0;
    while (n < 5) n += (await conn.read(got.subarray(n)))!;
    assert.equal(new TextDecoder().decode(got), "a,b\\c");

    // A long SKTSEND is split to fit the command buffer.
    const long = new Uint8Array(5000).fill(0x2c); // all commas: worst-case escaping
    await driver.send(5, long);
    const back = new Uint8Array(5000);
    n = 0;
    while (n < 5000) n += (await conn.read(back.subarray(n)))!;
    assert.deepEqual(back, long);

    const state = await driver.state();
    assert.deepEqual(state.map((s) => [s.linkId, s.role, s.protocol]), [
      [0, "server", "tcp"],
      [1, "seed", "tcp"],
      [5, "client", "tcp"],
    ]);
    assert.equal(state[2].destination.port, peerPort);

    // A module error is a typed AtError with the reference's meaning.
    await assert.rejects(() => driver.remove(9), (e: unknown) => {
      assert.ok(e instanceof AtError);
      assert.equal(e.code, 1);
      assert.equal(e.command, "SKTDEL");
      assert.equal(e.meaning, "Parameter error");
      return true;
    });
    await assert.rejects(
      () => driver.connect({ linkId: 7, host: "127.0.0.1", port: freePort() }),
      (e: unknown) =>
        e instanceof AtError && e.code === 2 &&
        e.meaning === "Failed to create TCP client",
    );
    // Arguments are checked before anything is written.
    await assert.rejects(() => driver.remove(20), RangeError);
    await assert.rejects(() => driver.send(5, encode("a\r\nb")), /sendRaw/);
    await assert.rejects(
      () => driver.configure({ keepIdle: 9000 }),
      RangeError,
    );

    await driver.remove(0);
    await driver.remove(5);
    assert.deepEqual(await driver.state(), []);
    client.close();
    conn.close();
  } finally {
    await close();
  }
});

Deno.test("unsolicited lines between a command and its answer are events, not answer lines", async () => {
  const { transport, running } = fakeModule(async (line, write) => {
    if (line === "AT+SKTSTATE") {
      await write(
        "[$][SKT][EVENT]: A client[link_id:1,seed,tcp,dst_address:1.2.3.4,dst_port:5] connected to server[link_id:0]\r\n",
      );
      await write("[$][SKT][DATA][1][4]:\r\nOK\r\n"); // a payload that looks like an answer
      await write(
        "link_id:0,server,tcp,src_address:1.1.1.1,src_port:80,dst_address:0.0.0.0,dst_port:0,socket_fd:0\r\n",
      );
      await write("[$][SKT][DATA][1][2]:hi\r\n");
      // The final result arrives in single bytes.
      for (const ch of "\r\nOK\r\n") await write(ch);
    }
  });
  const driver = new AtDriver(transport);
  const seen: (UnsolicitedEvent | DroppedEvents)[] = [];
  const iterating = (async () => {
    for await (const event of driver.events()) {
      seen.push(event);
      if (seen.length === 3) break;
    }
  })();
  const state = await driver.state();
  assert.equal(state.length, 1);
  assert.equal(state[0].source.ip, "1.1.1.1");
  await iterating;
  assert.deepEqual(seen.map((e) => e.type), ["connect", "data", "data"]);
  assert.deepEqual(seen[1], {
    type: "data",
    linkId: 1,
    data: encode("\r\nOK"),
  });
  await driver.close();
  await running;
});

Deno.test("a module reset mid-command is a clear error and the driver goes on", async () => {
  let resets = 0;
  const { transport, running } = fakeModule(async (line, write) => {
    if (line.startsWith("AT+SKTCLIENT") && resets++ === 0) {
      await write("ATCMD READY\r\n");
    } else await write("\r\nOK\r\n");
  });
  const driver = new AtDriver(transport);
  const ready: UnsolicitedEvent[] = [];
  driver.addEventListener(
    "ready",
    (e) => ready.push((e as Event & { detail: UnsolicitedEvent }).detail),
  );
  await driver.remove(1); // the module has spoken: a later ATCMD READY is a restart
  await assert.rejects(
    () => driver.connect({ linkId: 0, host: "h", port: 1 }),
    ModuleResetError,
  );
  assert.equal(ready.length, 1);
  await driver.connect({ linkId: 0, host: "h", port: 1 });
  await driver.close();
  await running;
});

Deno.test("ATCMD READY as the first output (a TCP console greeting a new client) is no restart", async () => {
  let greeted = false;
  const { transport, running } = fakeModule(async (line, write) => {
    // The greeting went out before the command arrived; the host parses it
    // only once the command is in flight.
    if (!greeted) {
      greeted = true;
      await write("ATCMD READY\r\n");
    }
    if (line === "AT+SKTDEL=1") await write("\r\nOK\r\n");
  });
  const driver = new AtDriver(transport, { timeoutMs: 5000 });
  const ready: UnsolicitedEvent[] = [];
  driver.addEventListener(
    "ready",
    (e) => ready.push((e as Event & { detail: UnsolicitedEvent }).detail),
  );
  await driver.remove(1);
  assert.deepEqual(ready, [{ type: "ready" }]);
  await driver.close();
  await running;
});

Deno.test("a fresh driver on a host-mode TCP console: greeting, then commands answer", async () => {
  const module = createModule({ mode: "host" });
  const console = serveTcp(module, { port: 0 });
  try {
    for (let i = 0; i < 3; i++) {
      while (console.busy) await new Promise((r) => setTimeout(r, 5));
      const driver = new AtDriver(await connectTcp({ port: console.port }));
      assert.deepEqual(await driver.state(), []); // no ModuleResetError
      await driver.close();
    }
  } finally {
    await console.close();
    await module.close();
  }
});

Deno.test("atcmd_service: a Manual Test Mode console's [MEM] and # lines never become answer lines", async () => {
  const module = createModule(); // Manual Test Mode
  const console = serveTcp(module, { port: 0 });
  try {
    const driver = new AtDriver(await connectTcp({ port: console.port }));
    try {
      // Pipelined: each answer's [MEM] and # lines come before the next answer.
      const [state, query, again] = await Promise.all([
        driver.state(),
        driver.query(),
        driver.state(),
      ]);
      assert.deepEqual(state, []);
      assert.deepEqual(again, []);
      assert.equal(query.sendTimeout, 0);
    } finally {
      await driver.close();
    }
  } finally {
    await console.close();
    await module.close();
  }
});

Deno.test("AT+SKTSTATE tells a fresh driver which links are UDP: reads name the sender", async () => {
  const module = createModule({ mode: "host" });
  const console = serveTcp(module, { port: 0 });
  const peer = createSocket("udp4");
  await new Promise<void>((r) => peer.bind(0, "127.0.0.1", () => r()));
  try {
    const first = new AtDriver(await connectTcp({ port: console.port }));
    const serverPort = freePort();
    await first.listen({
      linkId: 2,
      type: 0,
      port: serverPort,
      autoReceive: false,
    });
    await first.close();
    while (console.busy) await new Promise((r) => setTimeout(r, 5));
    // Data that looks like the sender fields of a UDP read.
    await new Promise<void>((resolve, reject) =>
      peer.send(
        encode("1.2.3.4,5,x"),
        serverPort,
        "127.0.0.1",
        (e) => e ? reject(e) : resolve(),
      )
    );
    const second = new AtDriver(await connectTcp({ port: console.port }));
    const links = await second.state();
    assert.equal(links[0].protocol, "udp");
    let read = await second.read(2, 100);
    for (let i = 0; i < 100 && read.size === 0; i++) {
      read = await second.read(2, 100);
    }
    assert.equal(new TextDecoder().decode(read.data), "1.2.3.4,5,x");
    assert.equal(read.sender?.ip, "127.0.0.1");
    assert.equal(read.sender?.port, peer.address().port);
    await second.close();
  } finally {
    peer.close();
    await console.close();
    await module.close();
  }
});

Deno.test("at_sktread: read() names the sender of an empty UDP datagram; a read of nothing names none", async () => {
  const module = createModule({ mode: "host" });
  const console = serveTcp(module, { port: 0 });
  const peer = createSocket("udp4");
  await new Promise<void>((r) => peer.bind(0, "127.0.0.1", () => r()));
  try {
    const driver = new AtDriver(await connectTcp({ port: console.port }));
    await driver.waitReady();
    const serverPort = freePort();
    await driver.listen({
      linkId: 7,
      type: 0,
      port: serverPort,
      autoReceive: false,
    });
    assert.deepEqual(await driver.read(7, 10), {
      data: new Uint8Array(),
      size: 0,
      truncated: false,
    });
    await new Promise<void>((resolve, reject) =>
      peer.send(
        new Uint8Array(0),
        serverPort,
        "127.0.0.1",
        (e) => e ? reject(e) : resolve(),
      )
    );
    // The module prints +SKTREAD:7,0,127.0.0.1,<port>, for it.
    let read = await driver.read(7, 10);
    for (let i = 0; i < 100 && !read.sender; i++) {
      read = await driver.read(7, 10);
    }
    assert.equal(read.size, 0);
    assert.deepEqual(read.sender, {
      ip: "127.0.0.1",
      port: peer.address().port,
    });
    await driver.close();
  } finally {
    peer.close();
    await console.close();
    await module.close();
  }
});

Deno.test("a silent module times out; a late answer is not taken for the next command", async () => {
  let first = true;
  let late: (() => Promise<void>) | undefined;
  const { transport, running } = fakeModule(async (line, write) => {
    if (line === "AT+SKTDEL=1" && first) {
      first = false;
      late = () => write("\r\nERROR: 1\r\n"); // answered only after the timeout
      return;
    }
    if (late) {
      await late();
      late = undefined;
    }
    if (line === "AT+SKTQUERY") await write(QUERY_BLOCK);
    else await write("\r\nOK\r\n");
  });
  const driver = new AtDriver(transport, { timeoutMs: 200 });
  await assert.rejects(() => driver.remove(1), CommandTimeoutError);
  // The late ERROR: 1 was drained by the resync; this OK is the real answer.
  await driver.remove(2);
  await driver.close();
  await running;
});

Deno.test("an AbortSignal cancels the wait for an answer", async () => {
  const { transport, running } = fakeModule(async () => {});
  const driver = new AtDriver(transport);
  const controller = new AbortController();
  const pending = driver.state({ signal: controller.signal });
  controller.abort(new Error("user gave up"));
  await assert.rejects(pending, /user gave up/);
  await driver.close();
  await running;
});

Deno.test("10 MiB each way through a socket-like link (auto_rcv + SKTSENDRAW), checksums equal", async () => {
  const { driver, close, module, peer } = await bench();
  try {
    const accepted = peer.accept();
    await driver.connect({
      linkId: 3,
      host: "127.0.0.1",
      port: (peer.addr as Deno.NetAddr).port,
    });
    const conn = await accepted;
    const link = linkStreams(driver, 3, { highWater: 128 * 1024 });
    const size = 10 * 1024 * 1024;
    const up = new Uint8Array(size).map((_, i) => (i * 13 + (i >>> 11)) & 0xff);
    const down = new Uint8Array(size).map((_, i) =>
      (i * 7 + (i >>> 13)) & 0xff
    );

    const uploading = (async () => {
      const writer = link.writable.getWriter();
      for (let i = 0; i < size; i += 256 * 1024) {
        await writer.write(up.subarray(i, i + 256 * 1024));
      }
      writer.releaseLock();
    })();
    const peerReading = (async () => {
      const hash = createHash("sha256");
      const buf = new Uint8Array(65536);
      let total = 0;
      while (total < size) {
        const n = await conn.read(buf);
        if (n === null) break;
        hash.update(buf.subarray(0, n));
        total += n;
      }
      return hash.digest("hex");
    })();
    const peerWriting = (async () => {
      let n = 0;
      while (n < size) n += await conn.write(down.subarray(n, n + 65536));
    })();
    const linkReading = (async () => {
      const hash = createHash("sha256");
      let total = 0;
      let maxQueued = 0;
      for await (const chunk of link.readable) {
        hash.update(chunk);
        total += chunk.length;
        maxQueued = Math.max(maxQueued, module.stats().consoleOutput);
        if (total >= size) break;
      }
      return { digest: hash.digest("hex"), total, maxQueued };
    })();
    await uploading;
    await peerWriting;
    assert.equal(await peerReading, sha(up));
    const read = await linkReading;
    assert.equal(read.total, size);
    assert.equal(read.digest, sha(down));
    // The module never held much console output: the reader kept up, and
    // the driver's reading held the module (and the peer) back otherwise.
    assert.ok(
      read.maxQueued <= 512 * 1024,
      `module queued ${read.maxQueued} bytes of console output`,
    );
    conn.close();
  } finally {
    await close();
  }
});

Deno.test("sendRaw failing after >>> ends raw mode with <<<: the peer gets the bytes before and the <<< (atcmd_lwip_start_tt_handle), the next command works", async (t) => {
  const b = await bench();
  try {
    const accepted = b.peer.accept();
    await b.driver.connect({ linkId: 0, host: "127.0.0.1", port: b.port });
    const conn = await accepted;
    const cases: {
      name: string;
      timeoutMs?: number;
      fail: (
        source: ReadableStreamDefaultController<Uint8Array>,
        abort: AbortController,
      ) => void;
      error: RegExp | (new (...args: never[]) => Error);
    }[] = [
      {
        name: "an AbortSignal mid-transfer",
        fail: (_, abort) => abort.abort(new Error("user gave up")),
        error: /user gave up/,
      },
      {
        name: "a timeout mid-transfer",
        timeoutMs: 2000,
        fail: () => {},
        error: CommandTimeoutError,
      },
      {
        name: "a stream shorter than announced",
        fail: (source) => source.close(),
        error: /stream ended after/,
      },
    ];
    for (const [i, c] of cases.entries()) {
      await t.step(c.name, async () => {
        // The part sent ends in `<`: data, not an abort, to the module.
        const head = encode(`part ${i} of a transfer, ending in <<`);
        let source!: ReadableStreamDefaultController<Uint8Array>;
        const stream = new ReadableStream<Uint8Array>({
          start(controller) {
            source = controller;
            controller.enqueue(head);
          },
        });
        const abort = new AbortController();
        const sending = b.driver.sendRaw(
          0,
          { size: 10000, stream },
          undefined,
          {
            signal: abort.signal,
            timeoutMs: c.timeoutMs,
          },
        );
        // A payload of at most 10 KiB is one piece: the module sends it
        // when it is complete or stopped. Let the head reach the module.
        await waitFor(
          () => b.module.stats().transparent === head.length,
          "the module to take the head",
        );
        c.fail(source, abort);
        await assert.rejects(sending, c.error);
        // Back in command mode: commands are answered, the link is intact.
        assert.deepEqual((await b.driver.state()).map((s) => s.linkId), [0]);
        const marker = encode(`|end ${i}|`);
        await b.driver.send(0, marker);
        // The `<` bytes were payload (the firmware sends them too).
        assert.equal(
          new TextDecoder().decode(await readUntil(conn, marker)),
          `part ${i} of a transfer, ending in <<<<<|end ${i}|`,
        );
      });
    }
    conn.close();
  } finally {
    await b.close();
  }
});

Deno.test("an abort after the command was written resyncs: a late answer is not the next command's", async () => {
  let late: (() => Promise<void>) | undefined;
  let written!: () => void;
  const wroteFirst = new Promise<void>((resolve) => (written = resolve));
  const { transport, running } = fakeModule(async (line, write) => {
    if (line === "AT+SKTDEL=1") {
      late = () => write("\r\nERROR: 1\r\n");
      written();
      return;
    }
    if (late) {
      await late();
      late = undefined;
    }
    if (line === "AT+SKTQUERY") await write(QUERY_BLOCK);
    else await write("\r\nOK\r\n");
  });
  const driver = new AtDriver(transport);
  const abort = new AbortController();
  const removing = driver.remove(1, { signal: abort.signal });
  await wroteFirst;
  abort.abort(new Error("gave up"));
  await assert.rejects(removing, /gave up/);
  await driver.remove(2); // OK, not the late ERROR: 1 of SKTDEL=1
  await driver.close();
  await running;
});

Deno.test("waitReady returns at once for a READY that came while nobody waited", async () => {
  const b = await bench();
  try {
    let readySeen = false;
    b.driver.addEventListener("ready", () => (readySeen = true));
    b.module.reset();
    await waitFor(() => readySeen, "ATCMD READY after the reset");
    await b.driver.waitReady({ timeoutMs: 1000 });
  } finally {
    await b.close();
  }
});

Deno.test("watch() reports a module that stopped answering with an unresponsive event", async () => {
  let answered = 0;
  const { transport, running } = fakeModule(async (line, write) => {
    if (line === "AT+SKTSTATE" && answered++ === 0) await write("\r\nOK\r\n");
  });
  const driver = new AtDriver(transport, { timeoutMs: 300 });
  const unresponsive = new Promise<UnresponsiveEvent>((resolve) =>
    driver.addEventListener(
      "unresponsive",
      (e) => resolve(e as UnresponsiveEvent),
      { once: true },
    )
  );
  const stop = driver.watch({ intervalMs: 10, timeoutMs: 200 });
  const event = await unresponsive;
  stop();
  assert.ok(event.error instanceof CommandTimeoutError);
  assert.equal(event.error.command, "AT+SKTSTATE");
  assert.ok(answered >= 2, "the first probe was answered, a later one not");
  await driver.close();
  await running;
});

Deno.test("an unread events() iterator keeps the newest events and says how many it dropped", async () => {
  const { transport, running } = fakeModule(async (line, write) => {
    if (line === "AT+SKTSTATE") {
      let burst = "";
      for (let i = 0; i < 10; i++) burst += `[$][X]:event ${i}\r\n`;
      await write(burst + "\r\nOK\r\n"); // one chunk: all parsed before the iterator runs
    }
  });
  const driver = new AtDriver(transport);
  const iterator = driver.events({ maxBuffered: 3 });
  const first = iterator.next(); // starts listening
  await driver.state();
  const seen = [(await first).value];
  for (let i = 0; i < 3; i++) seen.push((await iterator.next()).value);
  await iterator.return(undefined);
  assert.deepEqual(seen, [
    { type: "dropped", count: 7 },
    { type: "urc", text: "[$][X]:event 7" },
    { type: "urc", text: "[$][X]:event 8" },
    { type: "urc", text: "[$][X]:event 9" },
  ]);
  await driver.close();
  await running;
});

Deno.test("an unread events() iterator holds at most maxBufferedBytes of DATA and garbage", async () => {
  const { transport, running } = fakeModule(async (line, write) => {
    if (line === "AT+SKTSTATE") {
      let burst = "";
      for (let i = 0; i < 10; i++) {
        burst += `[$][SKT][DATA][1][100]:${String(i).repeat(100)}\r\n`;
      }
      await write(burst + "\r\nOK\r\n"); // one chunk: all parsed before the iterator runs
    }
  });
  const driver = new AtDriver(transport);
  const iterator = driver.events({ maxBufferedBytes: 250 });
  const first = iterator.next(); // starts listening
  await driver.state();
  const seen = [(await first).value];
  for (let i = 0; i < 2; i++) seen.push((await iterator.next()).value);
  await iterator.return(undefined);
  assert.deepEqual(seen[0], { type: "dropped", count: 8 });
  const kept = seen.slice(1).map((e) =>
    e && e.type === "data" ? new TextDecoder().decode(e.data) : e
  );
  assert.deepEqual(kept, ["8".repeat(100), "9".repeat(100)]);
  await driver.close();
  await running;
});

Deno.test("a UDP send is one datagram: larger than one command is refused before anything is written", async () => {
  const b = await bench();
  const socket = createSocket("udp4");
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  const got = new Promise<Buffer>((resolve) =>
    socket.once("message", (m) => resolve(m))
  );
  try {
    await b.driver.connect({
      linkId: 4,
      type: 0,
      host: "127.0.0.1",
      port: socket.address().port,
      localPort: freePort(),
    });
    await assert.rejects(
      () => b.driver.send(4, new Uint8Array(1500).fill(0x2c)),
      /one AT\+SKTSEND line/,
    );
    const datagram = new Uint8Array(600).fill(0x2c); // 1200 bytes escaped: fits
    await b.driver.send(4, datagram);
    assert.equal((await got).length, 600);
  } finally {
    socket.close();
    await b.close();
  }
});

Deno.test("module errors come through the driver as typed AtErrors with the reference's meaning", async (t) => {
  const host = await bench();
  const manual = await bench({ mode: "manual" });
  const holder = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const taken = (holder.addr as Deno.NetAddr).port;
  const udpHolder = createSocket("udp4");
  await new Promise<void>((r) => udpHolder.bind(0, "127.0.0.1", r));
  const expect = async (
    name: string,
    work: () => Promise<unknown>,
    command: string,
    code: number,
    meaning: RegExp,
  ) => {
    await t.step(`${command} ERROR: ${code} (${name})`, async () => {
      await assert.rejects(work, (e: unknown) => {
        assert.ok(e instanceof AtError, String(e));
        assert.equal(e.command, command);
        assert.equal(e.code, code);
        assert.match(e.meaning, meaning);
        return true;
      });
    });
  };
  try {
    const d = host.driver;
    const accepted = host.peer.accept();
    await d.connect({
      linkId: 0,
      host: "127.0.0.1",
      port: host.port,
      autoReceive: false,
    });
    const conn = await accepted;
    await d.listen({ linkId: 1, port: freePort() });
    await expect("unused id", () => d.remove(9), "SKTDEL", 1, /Parameter/);
    await expect(
      "TCP port in use",
      () => d.listen({ linkId: 2, port: taken }),
      "SKTSERVER",
      2,
      /TCP server/,
    );
    await expect(
      "UDP port in use",
      () => d.listen({ linkId: 2, type: 0, port: udpHolder.address().port }),
      "SKTSERVER",
      4,
      /UDP server/,
    );
    // at_sktserver/at_sktclient: a certificate file that does not exist is 1.
    await expect(
      "TLS without certificates",
      () => d.listen({ linkId: 2, type: 2, port: freePort(), certIndex: 1 }),
      "SKTSERVER",
      1,
      /Parameter/,
    );
    await expect(
      "refused",
      () => d.connect({ linkId: 2, host: "127.0.0.1", port: freePort() }),
      "SKTCLIENT",
      2,
      /TCP client/,
    );
    await expect(
      "TLS without certificates",
      () =>
        d.connect({
          linkId: 2,
          type: 3,
          host: "127.0.0.1",
          port: taken,
          certIndex: 1,
        }),
      "SKTCLIENT",
      1,
      /Parameter/,
    );
    await expect(
      "a listening server",
      () => d.send(1, encode("x")),
      "SKTSEND",
      1,
      /Parameter/,
    );
    conn.close(); // The peer goes: reads end, sends fail.
    await expect(
      "peer gone, nothing left",
      async () => {
        for (let i = 0; i < 500; i++) await d.read(0, 10);
      },
      "SKTREAD",
      4,
      /read data/,
    );
    // That read closed the socket: from then on the link has none (1).
    await expect(
      "read after the end",
      () => d.read(0, 10),
      "SKTREAD",
      1,
      /Parameter/,
    );
    await expect(
      "peer gone",
      () => d.send(0, encode("late")),
      "SKTSEND",
      1,
      /Parameter/,
    );
    // at_sktsendraw checks the link (1) before the mode (4).
    await expect(
      "Manual Test Mode, no link",
      () => manual.driver.sendRaw(0, encode("raw")),
      "SKTSENDRAW",
      1,
      /Parameter/,
    );
    await manual.driver.listen({ linkId: 0, type: 0, port: freePort() });
    await expect(
      "Manual Test Mode",
      () =>
        manual.driver.sendRaw(0, encode("raw"), { ip: "127.0.0.1", port: 9 }),
      "SKTSENDRAW",
      4,
      /TT mode/,
    );
  } finally {
    holder.close();
    udpHolder.close();
    await manual.close();
    await host.close();
  }
});

Deno.test("virtual module: a reset mid-command (SKTSENDRAW under way) is ModuleResetError, and the driver goes on", async () => {
  const b = await bench();
  try {
    const accepted = b.peer.accept();
    const link = await b.driver.connect({
      linkId: 0,
      host: "127.0.0.1",
      port: b.port,
    });
    const conn = await accepted;
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(encode("first half")); // and no more for now
      },
    });
    const sending = b.driver.sendRaw(0, { size: 1000, stream });
    // A payload of at most 10 KiB goes as one piece once complete: the
    // module holds the first half (atcmd_lwip_start_tt_handle).
    await waitFor(
      () => b.module.stats().transparent === "first half".length,
      "the module to take the first half",
    );
    const reading = assert.rejects(
      link.readable.getReader().read(),
      ModuleResetError,
    );
    b.module.reset();
    await assert.rejects(sending, ModuleResetError);
    await reading;
    assert.deepEqual(await b.driver.state(), []);
    assert.deepEqual(await b.driver.query(), DEFAULT_CONFIG);
    conn.close();
  } finally {
    await b.close();
  }
});

Deno.test("virtual module: DATA lines streaming around 200 answers never leak into them", async () => {
  const b = await bench();
  try {
    const accepted = b.peer.accept();
    const link = await b.driver.connect({
      linkId: 0,
      host: "127.0.0.1",
      port: b.port,
    });
    const conn = await accepted;
    // Payload that looks like answers: OK, ERROR and state lines.
    const unit = encode(
      "\r\nOK\r\n\r\nERROR: 1\r\nlink_id:9,client,tcp,src_address:0.0.0.0,src_port:0,dst_address:1.1.1.1,dst_port:1,socket_fd:3\r\n",
    );
    const rounds = 400;
    const sending = (async () => {
      for (let i = 0; i < rounds; i++) await conn.write(unit);
    })();
    const receiving = (async () => {
      const hash = createHash("sha256");
      let total = 0;
      const reader = link.readable.getReader();
      while (total < unit.length * rounds) {
        const { value, done } = await reader.read();
        if (done) break;
        hash.update(value);
        total += value.length;
      }
      reader.releaseLock();
      return hash.digest("hex");
    })();
    for (let i = 0; i < 100; i++) {
      const state = await b.driver.state();
      assert.deepEqual(state.map((s) => [s.linkId, s.socketFd >= 0]), [[
        0,
        true,
      ]]);
      assert.deepEqual(await b.driver.query(), DEFAULT_CONFIG);
    }
    await sending;
    const expected = createHash("sha256");
    for (let i = 0; i < rounds; i++) expected.update(unit);
    assert.equal(await receiving, expected.digest("hex"));
    conn.close();
  } finally {
    await b.close();
  }
});
