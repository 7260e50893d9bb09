import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { createModule, serveTcp } from "@atsock/device";
import { AtError, DEFAULT_CONFIG, encode } from "@atsock/protocol";
import {
  AtDriver,
  CommandTimeoutError,
  connectTcp,
  type DroppedEvents,
  linkStreams,
  memoryPair,
  ModuleResetError,
  type Transport,
  type UnsolicitedEvent,
} from "./mod.ts";

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

async function virtualModule(mode: "manual" | "host" = "host") {
  const module = createModule({ mode });
  const console = serveTcp(module, { port: 0 });
  const transport = await connectTcp({ port: console.port });
  const driver = new AtDriver(transport, { timeoutMs: 5000 });
  if (mode === "host") await driver.waitReady();
  return {
    module,
    driver,
    close: async () => {
      await driver.close();
      await console.close();
      await module.close();
    },
  };
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** A scripted fake module on an in-memory pair: answers lines with `script`. */
function fakeModule(
  script: (
    line: string,
    write: (s: string | Uint8Array) => Promise<void>,
  ) => Promise<void>,
) {
  const [host, module] = memoryPair();
  const write = (s: string | Uint8Array) =>
    module.write(typeof s === "string" ? encode(s) : s);
  const running = (async () => {
    const reader = module.readable.getReader();
    let buffered = "";
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      buffered += new TextDecoder().decode(value);
      let end;
      while ((end = buffered.indexOf("\r\n")) >= 0) {
        const line = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        await script(line, write);
      }
    }
  })();
  return { transport: host as Transport, running };
}

Deno.test("every typed method against the virtual module over its TCP console", async () => {
  const { driver, close } = await virtualModule();
  const peer = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const peerPort = (peer.addr as Deno.NetAddr).port;
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
    peer.close();
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
  await assert.rejects(
    () => driver.connect({ linkId: 0, host: "h", port: 1 }),
    ModuleResetError,
  );
  assert.equal(ready.length, 1);
  await driver.connect({ linkId: 0, host: "h", port: 1 });
  await driver.close();
  await running;
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
    if (line === "AT+SKTQUERY") {
      await write(
        "\r\nGlobal SOCKET configuration:\r\nso_sndtimeo: 0\r\nso_rcvtimeo: 0\r\ntcp_nodelay: 0\r\nso_keepalive: 0\r\ntcp_keepidle: 0\r\ntcp_keepintvl: 0\r\ntcp_keepcnt: 0\r\n\r\nOK\r\n",
      );
    } else await write("\r\nOK\r\n");
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
  const { driver, close, module } = await virtualModule("host");
  const peer = Deno.listen({ hostname: "127.0.0.1", port: 0 });
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
      return { digest: hash.digest("hex"), total };
    })();
    await uploading;
    await peerWriting;
    assert.equal(await peerReading, sha(up));
    const read = await linkReading;
    assert.equal(read.total, size);
    assert.equal(read.digest, sha(down));
    conn.close();
  } finally {
    peer.close();
    await close();
  }
});
