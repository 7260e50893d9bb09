import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { createModule } from "@atsock/device";
import { servePty } from "@atsock/device/pty-console";
import { DEFAULT_CONFIG, encode } from "@atsock/protocol";
import { openPty, serialErrorKind } from "@atsock/tty";
import {
  AtDriver,
  linkStreams,
  openSerialTransport,
  SerialError,
  TransportClosedError,
} from "./mod.ts";
import { freePort, waitFor } from "./test_util.ts";

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

Deno.test("the driver over a real pty (serial transport) against the virtual module", async () => {
  const module = createModule({ mode: "host" });
  const pty = servePty(module);
  const driver = new AtDriver(
    openSerialTransport(pty.address, { baud: 115200 }),
  );
  const peer = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    // The pty kept ATCMD READY for the first client, as a port opened early would.
    await driver.waitReady();
    assert.deepEqual(await driver.state(), []);
    const accepted = peer.accept();
    await driver.connect({
      linkId: 2,
      host: "127.0.0.1",
      port: (peer.addr as Deno.NetAddr).port,
    });
    const conn = await accepted;
    const link = linkStreams(driver, 2);
    // The whole method set through the pty.
    assert.deepEqual(await driver.query(), DEFAULT_CONFIG);
    await driver.configure({ keepAlive: true, keepIdle: 30 });
    assert.equal((await driver.query()).keepIdle, 30);
    await driver.configure({});
    const serverPort = freePort();
    const server = await driver.listen({
      linkId: 0,
      port: serverPort,
      autoReceive: false,
    });
    const client = await Deno.connect({
      hostname: "127.0.0.1",
      port: serverPort,
    });
    await client.write(encode("via SKTREAD"));
    const seed = await server.accept();
    let read = await driver.read(seed.linkId, 100);
    for (let i = 0; i < 200 && read.size === 0; i++) {
      read = await driver.read(seed.linkId, 100);
    }
    assert.equal(new TextDecoder().decode(read.data), "via SKTREAD");
    await driver.send(seed.linkId, encode("a,b\\c"));
    const echoed = new Uint8Array(5);
    let got = 0;
    while (got < 5) got += (await client.read(echoed.subarray(got)))!;
    assert.equal(new TextDecoder().decode(echoed), "a,b\\c");
    assert.deepEqual(
      (await driver.state()).map((s) => [s.linkId, s.role]),
      [[0, "server"], [1, "seed"], [2, "client"]],
    );
    await server.close();
    client.close();
    // 10 MiB each way through the pty.
    const size = 10 * 1024 * 1024;
    const up = new Uint8Array(size).map((_, i) => (i * 17) & 0xff);
    const down = new Uint8Array(size).map((_, i) => (i * 29 + 3) & 0xff);
    const writer = link.writable.getWriter();
    const uploading = writer.write(up);
    const peerGot = (async () => {
      const out = new Uint8Array(size);
      let n = 0;
      while (n < size) {
        const got = await conn.read(out.subarray(n));
        if (got === null) break;
        n += got;
      }
      return out.subarray(0, n);
    })();
    const downloading = (async () => {
      let written = 0;
      while (written < size) {
        written += await conn.write(down.subarray(written));
      }
    })();
    const hash = createHash("sha256");
    let total = 0;
    let maxQueued = 0;
    for await (const chunk of link.readable) {
      hash.update(chunk);
      total += chunk.length;
      maxQueued = Math.max(maxQueued, module.stats().consoleOutput);
      if (total >= size) break;
    }
    await downloading;
    await uploading;
    writer.releaseLock();
    assert.equal(hash.digest("hex"), sha(down));
    assert.ok(maxQueued <= 512 * 1024, `module queued ${maxQueued} bytes`);
    assert.equal(sha(await peerGot), sha(up));
    conn.close();
  } finally {
    peer.close();
    await driver.close();
    await pty.close();
    await module.close();
  }
});

Deno.test("a missing serial device is a clear error", () => {
  assert.throws(
    () => openSerialTransport("/dev/ttyUSB-missing"),
    (e: unknown) =>
      e instanceof SerialError && e.kind === "not-found" &&
      /cable/.test(e.message),
  );
});

Deno.test("a vanished serial device ends the transport: driver closed, commands fail with TransportClosedError", async () => {
  const module = createModule({ mode: "host" });
  const pty = servePty(module);
  const transport = openSerialTransport(pty.address, { baud: 115200 });
  const driver = new AtDriver(transport, { timeoutMs: 5000 });
  try {
    await driver.waitReady();
    assert.deepEqual(await driver.state(), []);
    await pty.close(); // The other side goes, as a USB adapter unplugged.
    await assert.rejects(() => driver.state(), TransportClosedError);
    await waitFor(() => driver.closed, "the driver to see the transport end");
    await assert.rejects(() => driver.query(), TransportClosedError);
  } finally {
    await driver.close();
    await module.close();
  }
});

Deno.test("a vanished serial device: the transport's readable ends and writes say disconnected", async () => {
  const pty = openPty();
  const transport = openSerialTransport(pty.path);
  // The pty notices its client while its own readable is read; until then
  // it discards what it is given, as a UART with nobody on the line.
  const watching = pty.readable.pipeTo(new WritableStream()).catch(() => {});
  try {
    await waitFor(() => pty.peer, "the pty to see its client");
    const reader = transport.readable.getReader();
    await pty.write(encode("last"));
    assert.deepEqual((await reader.read()).value, encode("last"));
    await pty.close();
    assert.equal((await reader.read()).done, true); // Ends, never loops.
    await assert.rejects(
      () => transport.write(encode("AT+SKTSTATE\r\n")),
      (e: unknown) =>
        e instanceof SerialError && e.kind === "disconnected" &&
        /went away/.test(e.message),
    );
  } finally {
    await transport.close();
    await pty.close();
    await watching;
  }
});

Deno.test("serial line settings: a second opener is busy; baud and RTS/CTS read back", async () => {
  const pty = openPty();
  try {
    const first = openSerialTransport(pty.path, { baud: 9600 });
    try {
      assert.equal(first.baud, 9600);
      assert.equal(first.rtscts, false);
      assert.match(first.name, /@9600$/);
      assert.throws(
        () => openSerialTransport(pty.path),
        (e: unknown) =>
          e instanceof SerialError && e.kind === "busy" &&
          /in use/.test(e.message),
      );
    } finally {
      await first.close();
    }
    const second = openSerialTransport(pty.path, {
      baud: 921600,
      rtscts: true,
    });
    assert.equal(second.baud, 921600);
    assert.equal(second.rtscts, true);
    await second.close();
    assert.throws(
      () => openSerialTransport(pty.path, { baud: 1234 }),
      RangeError,
    );
  } finally {
    await pty.close();
  }
});

Deno.test("serial open errors map to kinds with messages a technician can act on", () => {
  // Running as root, a denied open cannot be produced: check the mapping.
  const cases: [number, string, RegExp][] = [
    [2, "not-found", /cable/],
    [13, "permission", /dialout/],
    [1, "permission", /dialout/],
    [16, "busy", /in use/],
    [25, "not-a-tty", /not a serial device/],
    [5, "other", /errno 5/],
  ];
  for (const [code, kind, message] of cases) {
    assert.equal(serialErrorKind(code), kind, `errno ${code}`);
    const error = new SerialError(serialErrorKind(code), "/dev/ttyX", code);
    assert.match(error.message, message);
    assert.match(error.message, /^\/dev\/ttyX: /);
  }
  assert.throws(
    () => openSerialTransport("/etc/hostname"),
    (e: unknown) => e instanceof SerialError && e.kind === "not-a-tty",
  );
});
