import assert from "node:assert/strict";
import FakeTimers from "@sinonjs/fake-timers";
import { encode } from "@atsock/protocol";
import { AtDriver, memoryPair, type Transport } from "./mod.ts";
import { bench, waitFor } from "./test_util.ts";

const text = (b: Uint8Array) => new TextDecoder().decode(b);

async function readAll(readable: ReadableStream<Uint8Array>): Promise<string> {
  let out = "";
  for await (const chunk of readable) out += text(chunk);
  return out;
}

/** A scripted module on an in-memory pair; `lines` records what the host sent. */
function fake(answer: (line: string) => string) {
  const [host, module] = memoryPair();
  const lines: string[] = [];
  const running = (async () => {
    const reader = module.readable.getReader();
    let buffered = "";
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      buffered += text(value);
      let end;
      while ((end = buffered.indexOf("\r\n")) >= 0) {
        const line = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        lines.push(line);
        await module.write(encode(answer(line)));
      }
    }
  })();
  return { transport: host as Transport, lines, running };
}

Deno.test("at_sktstate: an auto_rcv=1 link's readable ends by itself once the peer has closed", async () => {
  const b = await bench({ closeCheckMs: 50 });
  try {
    const accepted = b.peer.accept();
    const link = await b.driver.connect({
      linkId: 0,
      host: "127.0.0.1",
      port: b.port,
    });
    const conn = await accepted;
    await conn.write(encode("last words"));
    conn.close();
    // Nobody calls state(): the quiet reader makes the driver look.
    assert.equal(await readAll(link.readable), "last words");
    // The link stays on the module (socket_fd -1) until it is deleted.
    const states = await b.driver.state();
    assert.deepEqual(states.map((s) => [s.linkId, s.socketFd]), [[0, -1]]);
    await link.close();
    assert.deepEqual(await b.driver.state(), []);
  } finally {
    await b.close();
  }
});

Deno.test("at_sktstate: the check is AT+SKTSTATE after closeCheckMs of quiet, repeated; 0 turns it off", async () => {
  for (const closeCheckMs of [undefined, 0]) {
    const clock = FakeTimers.install({
      toFake: ["setInterval", "clearInterval"],
    });
    try {
      let closed = false;
      const m = fake((line) => {
        if (line.startsWith("AT+SKTSTATE")) {
          return `link_id:0,client,tcp,src_address:127.0.0.1,src_port:1,dst_address:127.0.0.1,dst_port:2,socket_fd:${
            closed ? -1 : 0
          }\r\n\r\nOK\r\n`;
        }
        return "\r\nOK\r\n";
      });
      const driver = new AtDriver(m.transport, { closeCheckMs });
      const link = await driver.connect({ linkId: 0, host: "h", port: 2 });
      const reading = readAll(link.readable);
      await waitFor(
        () => clock.countTimers() > 0 || closeCheckMs === 0,
        "a wait",
      );
      if (closeCheckMs === 0) {
        assert.equal(clock.countTimers(), 0);
        await clock.tickAsync(60_000);
        assert.deepEqual(m.lines, ["AT+SKTCLIENT=0,1,,h,2,,1"]);
        await driver.checkLinks(); // When asked: socket_fd 0, the link stays.
        closed = true;
        await driver.checkLinks(); // socket_fd -1 ends it.
      } else {
        await clock.tickAsync(999);
        assert.equal(m.lines.length, 1);
        await clock.tickAsync(1);
        await waitFor(() => m.lines.length === 2, "the first check");
        assert.equal(m.lines[1], "AT+SKTSTATE");
        closed = true;
        await clock.tickAsync(1000);
        // socket_fd -1: one more SKTSTATE, whose answer ends the stream.
        await waitFor(() => m.lines.length === 4, "the second check");
      }
      assert.equal(await reading, "");
      await driver.close();
      await m.running;
    } finally {
      clock.uninstall();
    }
  }
});

Deno.test("at_sktread: an auto_rcv=0 link also ends on ERROR: 1 (a read after the one that met the end)", async () => {
  const m = fake((line) => {
    if (line.startsWith("AT+SKTREAD")) return "\r\nERROR: 1\r\n";
    return "\r\nOK\r\n";
  });
  const driver = new AtDriver(m.transport);
  const link = await driver.connect({
    linkId: 3,
    host: "h",
    port: 2,
    autoReceive: false,
  });
  assert.equal(await readAll(link.readable), "");
  assert.equal(m.lines[1], "AT+SKTREAD=3,8192");
  await driver.close();
  await m.running;
});

Deno.test("at_sktread: an auto_rcv=0 link's reader gets every byte, then the end (ERROR: 4), against the virtual module", async () => {
  const b = await bench();
  try {
    const accepted = b.peer.accept();
    const link = await b.driver.connect({
      linkId: 2,
      host: "127.0.0.1",
      port: b.port,
      autoReceive: false,
    });
    const conn = await accepted;
    await conn.write(encode("HTTP/1.0 200 OK\r\n\r\nhello"));
    conn.close();
    assert.equal(await readAll(link.readable), "HTTP/1.0 200 OK\r\n\r\nhello");
    await link.close().catch(() => {});
  } finally {
    await b.close();
  }
});
