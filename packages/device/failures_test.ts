/**
 * Faults around the virtual module: peers that half-close, never read, or
 * connect and vanish; DNS failures; console clients that go away in the
 * middle of a command or of a TT payload; slow consoles. Each time the
 * module stays usable, answers the right codes, keeps what it had buffered
 * and leaks nothing (links, socket numbers, host file descriptors).
 *
 * Already proven elsewhere (not repeated here): a peer reset mid-transfer
 * (module_test.ts), a TLS peer going away and a TLS client that never
 * finishes its handshake (tls_test.ts), a console that stops reading while
 * TCP peers send (load_test.ts), TT aborts and a TT peer that stops reading
 * (sendraw_test.ts).
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { createSocket } from "node:dgram";
import { connect as netConnect } from "node:net";
import {
  concat,
  encode,
  type ModuleEvent,
  OutputParser,
} from "@atsock/protocol";
import { createModule, type VirtualModule } from "./module.ts";
import { serveTcp } from "./consoles.ts";
import {
  freePort,
  Harness,
  randomBytes,
  readExactly,
  tcpPeer,
} from "./test_util.ts";

const endsWith = (b: Uint8Array, tail: string) =>
  new TextDecoder("latin1").decode(b.subarray(-tail.length)) === tail;
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

/**
 * Host file descriptors open in this process, as `ls` sees them (Deno
 * reads /proc/self only with --allow-all; the pipes to `ls` count the same
 * every time).
 */
async function openFds(): Promise<number> {
  const out = await new Deno.Command("ls", {
    args: [`/proc/${Deno.pid}/fd`],
    stdout: "piped",
    stderr: "null",
  }).output();
  return new TextDecoder().decode(out.stdout).split("\n").filter(Boolean)
    .length;
}

/** Polls `check` (at most 5 s in 10 ms steps) until it holds. */
async function until(
  check: () => boolean | Promise<boolean>,
  what: string,
): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Asserts the module holds nothing and the process's fds are back to `baseline`. */
async function assertNoLeak(module: VirtualModule, baseline: number) {
  const stats = module.stats();
  assert.deepEqual(
    { ...stats, consoleOutput: 0 },
    {
      links: 0,
      consoleOutput: 0,
      consoleInput: 0,
      received: 0,
      datagrams: 0,
      ended: 0,
      transparent: 0,
      transparentDropped: 0,
    },
  );
  assert.deepEqual(module.state(), []);
  await until(
    async () => await openFds() <= baseline,
    `fds back to ${baseline}`,
  );
}

/** A console client of its own (the harness has one; these come and go). */
class Client {
  readonly parser = new OutputParser();
  events: ModuleEvent[] = [];
  #reading: Promise<void>;
  private constructor(readonly conn: Deno.TcpConn) {
    this.#reading = (async () => {
      const buf = new Uint8Array(65536);
      try {
        while (true) {
          const n = await conn.read(buf);
          if (n === null) break;
          this.events.push(...this.parser.push(buf.slice(0, n)));
        }
      } catch { /* closed */ }
    })();
  }
  static async connect(port: number): Promise<Client> {
    return new Client(await Deno.connect({ hostname: "127.0.0.1", port }));
  }
  async write(bytes: Uint8Array | string): Promise<void> {
    let data = typeof bytes === "string" ? encode(bytes) : bytes;
    while (data.length) data = data.subarray(await this.conn.write(data));
  }
  async next(match: (e: ModuleEvent) => boolean): Promise<ModuleEvent> {
    let found: ModuleEvent | undefined;
    await until(() => {
      const i = this.events.findIndex(match);
      if (i >= 0) found = this.events.splice(0, i + 1).pop();
      return found !== undefined;
    }, "an event");
    return found!;
  }
  async code(line: string): Promise<number> {
    await this.write(line + "\r\n");
    const e = await this.next((e) => e.type === "ok" || e.type === "error");
    return e.type === "error" ? e.code : 0;
  }
  async close(): Promise<void> {
    try {
      this.conn.close();
    } catch { /* closed */ }
    await this.#reading;
  }
}

Deno.test("atcmd_lwip_receive_data: a peer that half-closes an auto_rcv=0 link: sends still go out, what it sent stays readable, the read that meets the end is 4 and closes; then 1; nothing leaks", async () => {
  const h = await Harness.start({ mode: "host" });
  const peer = tcpPeer();
  try {
    await h.next((e) => e.type === "ready");
    const baseline = await openFds();
    const accepted = peer.accept();
    assert.equal(
      await h.code(`AT+SKTCLIENT=0,1,,127.0.0.1,${peer.port},,0`),
      0,
    );
    const conn = await accepted;
    // The module's data sent before the half-close reaches the peer.
    assert.equal(await h.code("AT+SKTSEND=0,5,,,first"), 0);
    assert.equal(new TextDecoder().decode(await readExactly(conn, 5)), "first");
    await conn.write(encode("bye-bye"));
    await conn.closeWrite(); // FIN: the peer will send no more.
    await until(() => h.module.stats().ended === 1, "the end of stream seen");
    // Nobody reads an auto_rcv=0 socket: it stays open, and the peer,
    // still reading, gets what the module sends.
    assert.equal(h.module.state()[0]?.socketFd, 0);
    assert.equal(await h.code("AT+SKTSEND=0,4,,,more"), 0);
    assert.equal(new TextDecoder().decode(await readExactly(conn, 4)), "more");
    const read = await h.command("AT+SKTREAD=0,100");
    assert.equal(read.text, "+SKTREAD:0,7,bye-bye\r\nOK\r\n");
    assert.equal(await h.code("AT+SKTREAD=0,100"), 4);
    // That read closed the socket: the peer sees the end.
    assert.equal(await readExactly(conn, 1).then((b) => b.length), 0);
    assert.equal(h.module.state()[0]?.socketFd, -1);
    assert.equal(await h.code("AT+SKTREAD=0,100"), 1);
    assert.equal(await h.code("AT+SKTSEND=0,1,,,x"), 1);
    assert.equal(await h.code("AT+SKTCLIENT=0,1,,127.0.0.1,1,,0"), 1); // id still in use
    assert.equal(await h.code("AT+SKTDEL=0"), 0);
    conn.close();
    await assertNoLeak(h.module, baseline);
  } finally {
    peer.close();
    await h.close();
  }
});

Deno.test("socket_client_tcp_auto_rcv: a peer that half-closes an auto_rcv=1 link: the socket is closed at once (socket_fd:-1), sends and reads are 1", async () => {
  const h = await Harness.start({ mode: "host" });
  const peer = tcpPeer();
  try {
    await h.next((e) => e.type === "ready");
    const accepted = peer.accept();
    assert.equal(
      await h.code(`AT+SKTCLIENT=0,1,,127.0.0.1,${peer.port},,1`),
      0,
    );
    const conn = await accepted;
    await conn.closeWrite();
    await until(() => h.module.state()[0]?.socketFd === -1, "socket_fd:-1");
    assert.equal(await readExactly(conn, 1).then((b) => b.length), 0);
    assert.equal(await h.code("AT+SKTSEND=0,1,,,x"), 1);
    assert.equal(await h.code("AT+SKTREAD=0,1"), 1);
    assert.equal(await h.code("AT+SKTDEL=0"), 0);
    conn.close();
  } finally {
    peer.close();
    await h.close();
  }
});

Deno.test("a peer that never reads: with so_sndtimeo a TT send fails with ERROR: 2, the payload is consumed, other links go on", async () => {
  // The payload is written without looking at watermarks: RTS holds it back
  // (without flow control the full buffer would drop bytes).
  const h = await Harness.start({ mode: "host", flowControl: "rts" });
  const peer = tcpPeer();
  const other = tcpPeer();
  try {
    await h.next((e) => e.type === "ready");
    assert.equal(await h.code("AT+SKTCFG=300"), 0);
    const stuck = peer.accept();
    assert.equal(
      await h.code(`AT+SKTCLIENT=0,1,,127.0.0.1,${peer.port},,0`),
      0,
    );
    const lively = other.accept();
    assert.equal(
      await h.code(`AT+SKTCLIENT=1,1,,127.0.0.1,${other.port},,0`),
      0,
    );
    const stuckConn = await stuck;
    const livelyConn = await lively;
    // More than loopback's socket buffers hold: the kernel stops taking bytes.
    const size = 16 * 1024 * 1024;
    await h.write(`AT+SKTSENDRAW=0,${size}\r\n`);
    await h.next((e) => e.type === "prompt");
    const payload = randomBytes(1024 * 1024);
    for (let sent = 0; sent < size; sent += payload.length) {
      await h.write(payload);
    }
    const { event, before } = await h.next(
      (e) => e.type === "ok" || e.type === "error",
      30000,
    );
    assert.ok(before.every((e) => e.type !== "watermark"), "no watermarks");
    assert.deepEqual(event, { type: "error", code: 2 });
    assert.equal(h.module.stats().transparent, 0);
    // The module takes commands again and the other link is untouched.
    assert.equal(await h.code("AT+SKTSEND=1,2,,,ok"), 0);
    assert.equal(
      new TextDecoder().decode(await readExactly(livelyConn, 2)),
      "ok",
    );
    assert.equal(await h.code("AT+SKTDEL=0"), 0);
    assert.equal(await h.code("AT+SKTDEL=1"), 0);
    assert.equal(h.module.stats().links, 0);
    stuckConn.close();
    livelyConn.close();
  } finally {
    peer.close();
    other.close();
    await h.close();
  }
});

Deno.test("atcmd_lwip_receive_data: peers that connect and vanish (close or reset) 50 times: ERROR: 4, then socket_fd:-1 and 1; ids and fds all come back", async () => {
  const h = await Harness.start({ mode: "host" });
  const port = freePort();
  try {
    await h.next((e) => e.type === "ready");
    const baseline = await openFds();
    assert.equal(await h.code(`AT+SKTSERVER=0,1,,${port},0`), 0);
    for (let round = 0; round < 50; round++) {
      const socket = netConnect(port, "127.0.0.1");
      socket.on("error", () => {});
      await new Promise((r) => socket.once("connect", r));
      if (round % 2) {
        (socket as unknown as { resetAndDestroy(): void }).resetAndDestroy();
      } else socket.destroy();
      const { event } = await h.next((e) => e.type === "connect");
      assert.equal((event as { linkId: number }).linkId, 1);
      await until(() => h.module.stats().ended === 1, "the end seen");
      assert.equal(await h.code("AT+SKTREAD=1,10"), 4);
      assert.equal(
        h.module.state().find((s) => s.linkId === 1)?.socketFd,
        -1,
      );
      assert.equal(await h.code("AT+SKTSEND=1,1,,,x"), 1);
      assert.equal(await h.code("AT+SKTDEL=1"), 0);
    }
    const state = await h.command("AT+SKTSTATE");
    assert.match(
      state.text,
      new RegExp(
        `^link_id:0,server,tcp,src_address:127\\.0\\.0\\.1,src_port:${port},dst_address:0\\.0\\.0\\.0,dst_port:0,socket_fd:0\r\n\r\nOK\r\n$`,
      ),
    );
    assert.equal(await h.code("AT+SKTDEL=0"), 0);
    await assertNoLeak(h.module, baseline);
  } finally {
    await h.close();
  }
});

Deno.test("at_sktclient: a host name not found is ERROR: 1 for TLS, TCP and UDP; nothing is left behind", async () => {
  const logs: string[] = [];
  const h = await Harness.start({ mode: "host", log: (m) => logs.push(m) });
  try {
    await h.next((e) => e.type === "ready");
    const baseline = await openFds();
    assert.equal(
      await h.code("AT+SKTCLIENT=0,2,,atsock-fault.invalid,443,,0"),
      1,
    );
    assert.match(
      logs.at(-1)!,
      /^AT\+SKTCLIENT: ERROR: 1: resolve atsock-fault\.invalid: /,
    );
    assert.equal(
      await h.code("AT+SKTCLIENT=0,1,,atsock-fault.invalid,80,,0"),
      1,
    );
    assert.equal(
      await h.code(`AT+SKTCLIENT=0,0,,atsock-fault.invalid,80,${freePort()},0`),
      1,
    );
    assert.equal(await h.code("AT+SKTSTATE"), 0);
    await assertNoLeak(h.module, baseline);
  } finally {
    await h.close();
  }
});

Deno.test("a console client gone in the middle of a line or of a command: the next client is served, the command's work stays", async () => {
  const module = createModule({ mode: "host" });
  const con = serveTcp(module, { port: 0 });
  const peer = tcpPeer();
  try {
    const first = await Client.connect(con.port);
    await first.next((e) => e.type === "ready");
    await first.write("AT+SKTSTA"); // and the cable is pulled
    await first.close();
    await until(() => !con.busy, "the console free again");

    // The half line went with its console (behaviour.md): the next client's
    // first line is a command of its own.
    const second = await Client.connect(con.port);
    assert.equal(await second.code("AT+SKTSTATE"), 0);
    assert.deepEqual(
      second.events.filter((e) => e.type !== "ready"),
      [],
    );
    // A command whose client leaves before the answer still happens.
    const accepted = peer.accept();
    await second.write(`AT+SKTCLIENT=3,1,,127.0.0.1,${peer.port},,0\r\n`);
    await second.close();
    const conn = await accepted;
    await until(() => module.stats().links === 1 && !con.busy, "the link");
    const third = await Client.connect(con.port);
    await third.write("AT+SKTSTATE\r\n");
    const line = await third.next((e) => e.type === "line");
    assert.match(
      (line as { text: string }).text,
      new RegExp(`^link_id:3,client,tcp,.*dst_port:${peer.port},socket_fd:0$`),
    );
    await third.next((e) => e.type === "ok");
    assert.equal(await third.code("AT+SKTDEL=3"), 0);
    assert.equal(await conn.read(new Uint8Array(1)), null);
    conn.close();
    await third.close();
  } finally {
    peer.close();
    await con.close();
    await module.close();
  }
});

Deno.test("a console client gone in the middle of a TT payload: the transfer is abandoned, the next client has commands; what went out is an exact prefix", async () => {
  const module = createModule({ mode: "host", flowControl: "rts" });
  const con = serveTcp(module, { port: 0 });
  const peer = tcpPeer();
  try {
    const first = await Client.connect(con.port);
    await first.next((e) => e.type === "ready");
    const accepted = peer.accept();
    assert.equal(
      await first.code(`AT+SKTCLIENT=0,1,,127.0.0.1,${peer.port},,0`),
      0,
    );
    const conn = await accepted;
    // The peer reads everything, in the background.
    const parts: Uint8Array[] = [];
    let total = 0;
    const reading = (async () => {
      const buf = new Uint8Array(65536);
      for (let n; (n = await conn.read(buf)) !== null;) {
        parts.push(buf.slice(0, n));
        total += n;
      }
    })();
    const payload = randomBytes(300_000);
    await first.write("AT+SKTSENDRAW=0,1000000\r\n");
    await first.next((e) => e.type === "prompt");
    await first.write(payload);
    await first.close(); // Gone, 700,000 bytes short.
    await until(() => !con.busy, "the console free again");

    // The payload left incomplete is abandoned, unanswered: the next
    // client's bytes are commands again.
    await until(() => module.stats().transparent === 0, "the TT buffer empty");
    const second = await Client.connect(con.port);
    assert.equal(await second.code("AT+SKTSEND=0,3,,,end"), 0);
    await until(() => total >= 3, "the end marker");
    let arrived = concat(parts);
    for (let i = 0; i < 500 && !endsWith(arrived, "end"); i++) {
      await new Promise((r) => setTimeout(r, 10));
      arrived = concat(parts);
    }
    // Bytes the module had taken went out in order, none invented: a prefix
    // of the payload (a vanished TCP client can lose bytes still in flight:
    // the module's next output to it is answered by a reset).
    const sent = arrived.subarray(0, arrived.length - 3);
    assert.ok(endsWith(arrived, "end"));
    assert.ok(sent.length <= payload.length);
    assert.equal(sha(sent), sha(payload.subarray(0, sent.length)));
    assert.equal(await second.code("AT+SKTDEL=0"), 0);
    await reading;
    conn.close();
    await second.close();
  } finally {
    peer.close();
    await con.close();
    await module.close();
  }
});

Deno.test("a slow console: commands typed a byte at a time; UDP floods past a stalled console are dropped, not hoarded", async () => {
  const h = await Harness.start({ mode: "host" });
  const port = freePort();
  const udp = createSocket("udp4");
  await new Promise<void>((r) => udp.bind(0, "127.0.0.1", () => r()));
  try {
    await h.next((e) => e.type === "ready");
    for (const byte of "AT+SKTSERVER=0,0,,") await h.write(byte);
    for (const byte of `${port},1\r\n`) await h.write(byte);
    await h.next((e) => e.type === "ok");

    h.pause(); // The host stops reading its UART.
    const datagram = (i: number) => new Uint8Array(1400).fill(i % 251 + 1);
    let maxQueued = 0;
    const count = 8000; // Far more than the kernel's buffers on the way hold.
    for (let i = 0; i < count; i++) {
      await new Promise<void>((r) =>
        udp.send(datagram(i), port, "127.0.0.1", () => r())
      );
      if (i % 20 === 19) await new Promise((r) => setTimeout(r, 1));
      maxQueued = Math.max(maxQueued, h.module.stats().consoleOutput);
    }
    // The limit plus one DATA line, however many datagrams came.
    const line = 1400 + 48;
    assert.ok(maxQueued <= 256 * 1024 + line, `queued ${maxQueued}`);
    assert.ok(maxQueued >= 128 * 1024, `the queue filled (${maxQueued})`);
    h.resume();
    await h.write("AT+SKTDEL=0\r\n");
    const { event, before } = await h.next(
      (e) => e.type === "ok" || e.type === "error",
      20000,
    );
    assert.deepEqual(event, { type: "ok" });
    const data = before.filter((e) => e.type === "data");
    assert.ok(data.length > 0 && data.length < count, `${data.length} lines`);
    for (const e of data) {
      if (e.type !== "data") continue;
      assert.equal(e.data.length, 1400);
      assert.ok(e.data.every((b) => b === e.data[0]), "a datagram intact");
    }
    assert.equal(h.module.stats().links, 0);
  } finally {
    udp.close();
    await h.close();
  }
});
