import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import FakeTimers from "@sinonjs/fake-timers";
import {
  encode,
  MODULE_FREE_HEAP,
  READ_WAIT_MS,
  TCP_WINDOW,
} from "@atsock/protocol";
import { findSocketFd } from "./sockopt.ts";
import { createModule } from "./module.ts";
import {
  Flood,
  freePort,
  Harness,
  readExactly,
  readLink,
  tcpPeer,
  unsentBytes,
} from "./test_util.ts";

Deno.test("SKTQUERY and SKTCFG answer byte for byte as the reference shows", async () => {
  const h = await Harness.start();
  try {
    const query = await h.command("AT+SKTQUERY");
    assert.equal(
      query.text,
      "AT+SKTQUERY\r\r\n" + // Manual Test Mode echoes what is typed (shell_cmd_chk).
        "\r\nGlobal SOCKET configuration:\r\nso_sndtimeo: 0\r\nso_rcvtimeo: 0\r\n" +
        "tcp_nodelay: 0\r\nso_keepalive: 0\r\ntcp_keepidle: 0\r\n" +
        "tcp_keepintvl: 0\r\ntcp_keepcnt: 0\r\n\r\nOK\r\n",
    );
    const cfg = await h.command("AT+SKTCFG=2000,2000,,1,60,10,3");
    assert.equal(cfg.text, "AT+SKTCFG=2000,2000,,1,60,10,3\r\r\n\r\nOK\r\n");
    const after = await h.command("AT+SKTQUERY");
    assert.match(
      after.text,
      /so_sndtimeo: 2000\r\nso_rcvtimeo: 2000\r\ntcp_nodelay: 0\r\nso_keepalive: 1\r\ntcp_keepidle: 60\r\ntcp_keepintvl: 10\r\ntcp_keepcnt: 3\r\n/,
    );
    // Every call replaces all seven values.
    assert.equal(await h.code("AT+SKTCFG=5"), 0);
    assert.deepEqual(h.module.config, {
      sendTimeout: 5,
      receiveTimeout: 0,
      noDelay: false,
      keepAlive: false,
      keepIdle: 0,
      keepInterval: 0,
      keepCount: 0,
    });
    assert.equal(await h.code("AT+SKTCFG=,,,,7201"), 1);
    assert.equal(await h.code("AT+SKTQUERY=1"), 1);
  } finally {
    await h.close();
  }
});

Deno.test("host mode: ATCMD READY, no echo; unknown lines get nothing", async () => {
  const h = await Harness.start({ mode: "host" });
  try {
    await h.next((e) => e.type === "ready");
    await h.write("AT+NOPE\r\nhello\r\n");
    const state = await h.command("AT+SKTSTATE");
    assert.equal(state.text, "\r\nOK\r\n");
  } finally {
    await h.close();
  }
});

Deno.test("shell_cmd_chk: a full line buffer runs its first 1999 bytes at once; the next byte is lost, the rest is the next line", async () => {
  const h = await Harness.start({ mode: "host" });
  try {
    await h.next((e) => e.type === "ready");
    const head = "AT+SKTSTATE=";
    // 1999 bytes, no line end: they run as soon as the 2000th byte comes.
    await h.write(head + "x".repeat(1999 - head.length) + "Y" + "AT+SKTQUERY");
    const state = await h.next((e) => e.type === "ok");
    assert.deepEqual(state.before, []);
    await h.write("\r\n");
    const query = await h.next((e) => e.type === "ok");
    assert.ok(
      query.before.some((e) => e.type === "line" && e.text.startsWith("so_")),
    );
    // An unknown overflow (5000 bytes of SKTSEND data) answers what its
    // first 1999 bytes answer; the rest are unknown lines: nothing.
    await h.write("AT+SKTSEND=0,5000,,," + "x".repeat(5000) + "\r\n");
    const { event } = await h.next((e) => e.type === "error");
    assert.deepEqual(event, { type: "error", code: 1 });
    assert.equal((await h.command("AT+SKTSTATE")).final.type, "ok");
    assert.deepEqual(h.pending(), []);
  } finally {
    await h.close();
  }
});

Deno.test("shell_cmd_chk: --line-buffer sets the buffer; a 1998-byte line with CR LF fits 2000", async () => {
  const h = await Harness.start({ mode: "host", lineBuffer: 64 });
  try {
    await h.next((e) => e.type === "ready");
    assert.equal(
      (await h.command("AT+SKTSTATE=" + "x".repeat(50))).final.type,
      "ok",
    );
    // 63 bytes then CR: the CR overflows, the line runs, the LF begins the next.
    await h.write("AT+SKTSTATE=" + "x".repeat(51) + "\r\n");
    await h.next((e) => e.type === "ok");
    // "\nAT+SKTQUERY" is an unknown command: no answer at all.
    await h.write("AT+SKTQUERY\r\n");
    const after = await h.command("AT+SKTSTATE");
    assert.equal(after.final.type, "ok");
    assert.deepEqual(after.events, []);
  } finally {
    await h.close();
  }
  assert.throws(() => createModule({ lineBuffer: 3 }), RangeError);
  const big = await Harness.start({ mode: "host" });
  try {
    await big.next((e) => e.type === "ready");
    const line = "AT+SKTSTATE=" + "x".repeat(1998 - 12);
    assert.equal(line.length, 1998);
    assert.equal((await big.command(line)).final.type, "ok");
  } finally {
    await big.close();
  }
});

Deno.test("shell_cmd_chk: an LF in the last place of the buffer leaves the console ignoring everything until a reset", async () => {
  const logs: string[] = [];
  const h = await Harness.start({
    mode: "host",
    lineBuffer: 16,
    log: (line) => logs.push(line),
  });
  try {
    await h.next((e) => e.type === "ready");
    await h.write("x".repeat(15) + "\nAT+SKTSTATE\r\n");
    for (
      let i = 0;
      i < 500 && !logs.some((l) => /ignores every byte/.test(l));
      i++
    ) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.ok(logs.some((l) => /ignores every byte/.test(l)), logs.join("\n"));
    assert.deepEqual(h.pending(), []);
    h.module.reset();
    await h.next((e) => e.type === "ready");
    assert.equal((await h.command("AT+SKTSTATE")).final.type, "ok");
  } finally {
    await h.close();
  }
});

Deno.test("shell_cmd_chk: a client that leaves a partial line of any length leaves nothing for the next one (issue 12)", async () => {
  const h = await Harness.start({ mode: "host" });
  const next = async () => {
    for (let i = 0; i < 500 && h.console.busy; i++) {
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.equal(h.console.busy, false);
    const conn = await Deno.connect({
      hostname: "127.0.0.1",
      port: h.console.port,
    });
    assert.equal(await readUntil(conn, "ATCMD READY\r\n"), "ATCMD READY\r\n");
    return conn;
  };
  const conns: Deno.TcpConn[] = [];
  try {
    await h.next((e) => e.type === "ready");
    // 2001 bytes without a line end, then the client goes.
    await h.write("x".repeat(2001));
    h.conn.close();
    let conn = await next();
    conns.push(conn);
    await conn.write(encode("AT+SKTSTATE\r\n"));
    assert.equal(await readUntil(conn, "OK\r\n"), "\r\nOK\r\n");
    for (const partial of ["A", "AT+SKTSTATE\r", "y".repeat(1998) + "\n"]) {
      await conn.write(encode(partial));
      conn.close();
      conn = await next();
      conns.push(conn);
      await conn.write(encode("AT+SKTSTATE\r\n"));
      assert.equal(await readUntil(conn, "OK\r\n"), "\r\nOK\r\n");
    }
  } finally {
    for (const c of conns) {
      try {
        c.close();
      } catch { /* closed */ }
    }
    await h.close();
  }
});

Deno.test("atcmd_service and shell_task_ram: Manual Test Mode prints [MEM] and # after a known command, unknown command for the rest", async () => {
  const h = await Harness.start();
  try {
    const all: string[] = [];
    h.transcript = all;
    const mem = "\n\r[MEM] After do cmd, available heap 290560\n\r\r\n\n#\r\n";
    // A known command, answered OK.
    const state = await h.command("AT+SKTSTATE");
    assert.equal(state.text + state.shell, "AT+SKTSTATE\r\r\n\r\nOK\r\n" + mem);
    // A known command that fails still gets the [MEM] line.
    const del = await h.command("AT+SKTDEL=7");
    assert.equal(
      del.text + del.shell,
      "AT+SKTDEL=7\r\r\n\r\nERROR: 1\r\n" + mem,
    );
    // Unknown: the first word only, no [MEM] line. Leading spaces go first.
    all.length = 0;
    await h.write("  AT+NOPE x y\r\n");
    await h.next((e) => e.type === "shell" && e.text === "#");
    assert.equal(
      all.join(""),
      "  AT+NOPE x y\r\r\n\r\nunknown command 'AT+NOPE'\r\n\n#\r\n",
    );
    // A lone LF is a byte of the line: "AT+SKTSTATE\n" is unknown.
    all.length = 0;
    await h.write("AT+SKTSTATE\n\r\n");
    await h.next((e) => e.type === "shell" && e.text === "#");
    assert.equal(
      all.join(""),
      "AT+SKTSTATE\n\r\r\n\r\nunknown command 'AT+SKTSTATE\n'\r\n\n#\r\n",
    );
    // BS, DEL, TAB, 0xFF and ESC: "AT+SKTSTATX<BS>E" is AT+SKTSTATE.
    all.length = 0;
    const typed = new Uint8Array([
      ...encode("AT+SKTSTATX\bE\x1b"),
      0xff,
      ...encode("Q\x7f\r\n"),
    ]);
    const typedAnswer = await h.command(typed.subarray(0, typed.length - 2));
    assert.equal(typedAnswer.final.type, "ok");
    assert.equal(
      all.join(""),
      "AT+SKTSTATX\b \bEQ\b \b\r\r\n\r\nOK\r\n" + mem,
    );
    // An empty line: only the prompt.
    all.length = 0;
    await h.write("\r\n");
    await h.command("AT+SKTSTATE");
    assert.ok(all.join("").startsWith("\r\r\n\r#AT+SKTSTATE\r\r\n"));
    // A full buffer: the shell says so and runs the 1999 bytes.
    all.length = 0;
    const long = "AT+SKTSTATE=" + "x".repeat(1987);
    await h.write(long + "Z\r\n");
    await h.next((e) => e.type === "ok");
    await h.next((e) => e.type === "shell" && e.text === "#");
    // The prompt after the empty line has no line end: wait for its bytes.
    for (let i = 0; i < 500 && !all.join("").endsWith("\r#"); i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(
      all.join(""),
      long + "\n\r <<<Too long cmd string.>>> \n" + long + "\r\n" +
        "\r\nOK\r\n" + mem + "\r\r\n\r#",
    );
  } finally {
    await h.close();
  }
});

Deno.test("TCP server: seeds, connect events, SKTREAD, SKTSEND, peer close, SKTDEL", async () => {
  const h = await Harness.start({ mode: "host" });
  const port = freePort();
  try {
    await h.next((e) => e.type === "ready");
    assert.equal(await h.code(`AT+SKTSERVER=0,1,,${port},0`), 0);
    assert.equal(await h.code(`AT+SKTSERVER=0,1,,${port + 1},0`), 1); // id in use
    const a = await Deno.connect({ hostname: "127.0.0.1", port });
    const { event } = await h.next((e) => e.type === "connect");
    const localA = (a.localAddr as Deno.NetAddr).port;
    assert.deepEqual(event, {
      type: "connect",
      linkId: 1,
      protocol: "tcp",
      peer: { ip: "127.0.0.1", port: localA },
      serverId: 0,
    });
    const b = await Deno.connect({ hostname: "127.0.0.1", port });
    const second = await h.next((e) => e.type === "connect");
    assert.equal((second.event as { linkId: number }).linkId, 2);

    const state = await h.command("AT+SKTSTATE");
    assert.equal(
      state.text,
      `link_id:0,server,tcp,src_address:127.0.0.1,src_port:${port},dst_address:0.0.0.0,dst_port:0,socket_fd:0\r\n` +
        `link_id:1,seed,tcp,src_address:0.0.0.0,src_port:0,dst_address:127.0.0.1,dst_port:${localA},socket_fd:1\r\n` +
        `link_id:2,seed,tcp,src_address:0.0.0.0,src_port:0,dst_address:127.0.0.1,dst_port:${
          (b.localAddr as Deno.NetAddr).port
        },socket_fd:2\r\n` +
        "\r\nOK\r\n",
    );

    // SKTREAD with nothing: empty after ~20 ms.
    assert.equal(
      (await h.command("AT+SKTREAD=1,10")).text,
      "+SKTREAD:1,0,\r\nOK\r\n",
    );
    await a.write(encode("Hello!"));
    let read;
    for (let i = 0; i < 50; i++) {
      read = await h.command("AT+SKTREAD=1,10");
      if (!read.text.startsWith("+SKTREAD:1,0,")) break;
    }
    assert.equal(read!.text, "+SKTREAD:1,6,Hello!\r\nOK\r\n");

    // SKTSEND to the seed, with escapes.
    assert.equal(await h.code("AT+SKTSEND=2,5,,,a\\,b\\\\c"), 0);
    assert.equal(new TextDecoder().decode(await readExactly(b, 5)), "a,b\\c");
    // Sending on the listening server is a parameter error.
    assert.equal(await h.code("AT+SKTSEND=0,1,,,x"), 1);
    // Reading a listening server too.
    assert.equal(await h.code("AT+SKTREAD=0,1"), 1);
    // at_sktsend: dst fields count on UDP servers only, elsewhere ignored.
    assert.equal(await h.code("AT+SKTSEND=2,1,127.0.0.1,80,x"), 0);
    assert.equal(await h.code("AT+SKTSEND=2,1,nonsense,0,y"), 0);
    assert.equal(new TextDecoder().decode(await readExactly(b, 2)), "xy");

    // Peer closes with data queued (auto_rcv=0): the socket stays
    // (socket_fd set) until SKTREAD has read the data and meets the end.
    await a.write(encode("bye"));
    a.close();
    for (let i = 0; i < 500 && h.module.stats().ended < 1; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(h.module.stats().ended, 1);
    assert.match(
      (await h.command("AT+SKTSTATE")).text,
      /link_id:1,seed,tcp,.*socket_fd:1\r\n/,
    );
    assert.equal(
      (await h.command("AT+SKTREAD=1,10")).text,
      "+SKTREAD:1,3,bye\r\nOK\r\n",
    );
    assert.equal(await h.code("AT+SKTREAD=1,10"), 4);
    assert.match(
      (await h.command("AT+SKTSTATE")).text,
      /link_id:1,seed,tcp,.*socket_fd:-1\r\n/,
    );
    // Then the link has no socket: 1 for reads and sends, no >>>.
    assert.equal(await h.code("AT+SKTREAD=1,10"), 1);
    assert.equal(await h.code("AT+SKTSEND=1,1,,,x"), 1);
    const raw = await h.command("AT+SKTSENDRAW=1,5");
    assert.equal(raw.text, "\r\nERROR: 1\r\n");
    assert.equal(await h.code("AT+SKTSERVER=1,1,,1,0"), 1); // a gone link keeps its id

    // Deleting the server deletes its seeds.
    assert.equal(await h.code("AT+SKTDEL=0"), 0);
    assert.equal((await h.command("AT+SKTSTATE")).text, "\r\nOK\r\n");
    assert.equal(await h.code("AT+SKTDEL=0"), 1);
    assert.equal(await b.read(new Uint8Array(1)), null); // seed closed
    b.close();
  } finally {
    await h.close();
  }
});

Deno.test("TCP client with auto_rcv: DATA lines carry binary payloads exactly", async () => {
  const h = await Harness.start({ mode: "host" });
  const peer = tcpPeer();
  try {
    await h.next((e) => e.type === "ready");
    const accepted = peer.accept();
    assert.equal(
      await h.code(`AT+SKTCLIENT=3,1,,127.0.0.1,${peer.port},,1`),
      0,
    );
    const conn = await accepted;
    const local = (conn.remoteAddr as Deno.NetAddr).port;
    const payload = new Uint8Array(256).map((_, i) => i);
    await conn.write(payload);
    const got: number[] = [];
    while (got.length < 256) {
      const { event } = await h.next((e) => e.type === "data");
      if (event.type === "data") {
        assert.equal(event.linkId, 3);
        got.push(...event.data);
      }
    }
    assert.deepEqual(got, [...payload]);
    const state = await h.command("AT+SKTSTATE");
    assert.equal(
      state.text,
      // at_sktstate: lwip_getsockname's local address and ephemeral port.
      `link_id:3,client,tcp,src_address:127.0.0.1,src_port:${local},dst_address:127.0.0.1,dst_port:${peer.port},socket_fd:0\r\n\r\nOK\r\n`,
    );
    assert.equal(await h.code("AT+SKTDEL=3"), 0);
    conn.close();
  } finally {
    peer.close();
    await h.close();
  }
});

Deno.test("at_sktclient: refused, a host not found (1 for every type), id in use", async () => {
  const h = await Harness.start({ mode: "host" });
  try {
    await h.next((e) => e.type === "ready");
    assert.equal(
      await h.code(`AT+SKTCLIENT=0,1,,127.0.0.1,${freePort()},,0`),
      2,
    );
    assert.equal(
      await h.code("AT+SKTCLIENT=0,1,,no-such-host.invalid,80,,0"),
      1,
    );
    assert.equal(
      await h.code("AT+SKTCLIENT=0,0,,no-such-host.invalid,80,5000,0"),
      1,
    );
    const port = freePort();
    assert.equal(await h.code(`AT+SKTSERVER=0,1,,${port},0`), 0);
    assert.equal(await h.code(`AT+SKTSERVER=1,1,,${port},0`), 2); // port in use
    assert.equal(await h.code(`AT+SKTCLIENT=0,1,,127.0.0.1,${port},,0`), 1);
    assert.equal(await h.code("AT+SKTSEND=5,1,,,x"), 1);
    assert.equal(await h.code("AT+SKTREAD=5,1"), 1);
  } finally {
    await h.close();
  }
});

Deno.test("at_sktread: a data_size whose buffer the heap cannot hold is ERROR: 2, after the link checks", async () => {
  const h = await Harness.start({ mode: "host" });
  const peer = tcpPeer();
  try {
    await h.next((e) => e.type === "ready");
    const port = freePort();
    assert.equal(await h.code(`AT+SKTSERVER=0,1,,${port},0`), 0);
    assert.equal(await h.code(`AT+SKTSERVER=1,0,,${freePort()},0`), 0);
    const accepted = peer.accept();
    assert.equal(
      await h.code(`AT+SKTCLIENT=2,1,,127.0.0.1,${peer.port},,0`),
      0,
    );
    const conn = await accepted;
    await conn.write(encode("kept"));
    // firmware rule sktread-heap: rtos_mem_zmalloc(wanted_recv_size + 1)
    // fails (ERROR: 2) for more than the free heap, on TCP and UDP links.
    for (
      const size of [MODULE_FREE_HEAP, 1000000, 2147483647, 99999999999]
    ) {
      assert.equal(await h.code(`AT+SKTREAD=2,${size}`), 2, `${size}`);
      assert.equal(await h.code(`AT+SKTREAD=1,${size}`), 2, `${size}`);
      // The link checks come first: a free id or a listener is 1.
      assert.equal(await h.code(`AT+SKTREAD=7,${size}`), 1, `${size}`);
      assert.equal(await h.code(`AT+SKTREAD=0,${size}`), 1, `${size}`);
    }
    // Nothing was read: the data is still there for a read that fits.
    let read;
    for (let i = 0; i < 100; i++) {
      read = await h.command(`AT+SKTREAD=2,${MODULE_FREE_HEAP - 1}`);
      if (!read.text.startsWith("+SKTREAD:2,0,")) break;
    }
    assert.equal(read!.text, "+SKTREAD:2,4,kept\r\nOK\r\n");
    conn.close();
  } finally {
    peer.close();
    await h.close();
  }
});

/** A UDP socket bound to `address:port`, collecting what it receives. */
async function udpReceiver(address: string, port = 0) {
  const socket = createSocket("udp4");
  const got: string[] = [];
  socket.on("message", (msg) => got.push(new TextDecoder().decode(msg)));
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.bind(port, address, () => resolve());
  });
  return { socket, got, port: socket.address().port };
}

/** Waits until `condition()` holds (bounded: about 5 s). */
async function until(condition: () => boolean): Promise<boolean> {
  for (let i = 0; i < 500 && !condition(); i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  return condition();
}

Deno.test("create_socket_client_udp, create_socket_server_udp: UDP links send to a broadcast address (loopback's 127.255.255.255 only)", async () => {
  const h = await Harness.start({ mode: "host" });
  // Bound to the loopback broadcast address itself: it receives only what
  // is sent to 127.255.255.255, and nothing here leaves the loopback.
  const receiver = await udpReceiver("127.255.255.255");
  try {
    await h.next((e) => e.type === "ready");
    // firmware rule udp-broadcast: no broadcast filter (IP_SOF_BROADCAST
    // is 0 in the firmware's lwipopts.h), so SO_BROADCAST on every socket.
    assert.equal(
      await h.code(
        `AT+SKTCLIENT=0,0,,127.255.255.255,${receiver.port},${freePort()},0`,
      ),
      0,
    );
    assert.equal(await h.code("AT+SKTSEND=0,2,,,hi"), 0);
    assert.equal(await h.code(`AT+SKTSERVER=1,0,,${freePort()},0`), 0);
    assert.equal(
      await h.code(`AT+SKTSEND=1,3,127.255.255.255,${receiver.port},srv`),
      0,
    );
    assert.ok(
      await until(() => receiver.got.length === 2),
      JSON.stringify(receiver.got),
    );
    assert.deepEqual(receiver.got.sort(), ["hi", "srv"]);
  } finally {
    receiver.socket.close();
    await h.close();
  }
});

Deno.test("create_socket_server_udp: UDP servers share a port (SO_REUSEADDR), the last bound gets unicast; a UDP client there is ERROR: 4", async () => {
  const h = await Harness.start({ mode: "host" });
  const peer = await udpReceiver("127.0.0.1");
  try {
    await h.next((e) => e.type === "ready");
    const port = freePort();
    // firmware rule udp-server-reuseaddr
    assert.equal(await h.code(`AT+SKTSERVER=0,0,,${port},1`), 0);
    assert.equal(await h.code(`AT+SKTSERVER=1,0,,${port},1`), 0);
    // create_socket_client_udp sets no SO_REUSEADDR: the port is in use.
    assert.equal(
      await h.code(`AT+SKTCLIENT=2,0,,127.0.0.1,${peer.port},${port},0`),
      4,
    );
    // A datagram to the port reaches the server bound last (lwIP puts a
    // newly bound pcb first in udp_pcbs; Linux picks the last bound too).
    peer.socket.send(encode("one"), port, "127.0.0.1");
    const { event } = await h.next((e) => e.type === "data");
    assert.equal((event as { linkId: number }).linkId, 1);
    // Both send from the shared port.
    assert.equal(
      await h.code(`AT+SKTSEND=0,2,127.0.0.1,${peer.port},s0`),
      0,
    );
    assert.ok(await until(() => peer.got.length === 1));
    // Once the last bound has gone, the other one gets them.
    assert.equal(await h.code("AT+SKTDEL=1"), 0);
    peer.socket.send(encode("two"), port, "127.0.0.1");
    const next = await h.next((e) => e.type === "data");
    assert.equal((next.event as { linkId: number }).linkId, 0);
    // A client that holds a port keeps a server off it (4).
    const clientPort = freePort();
    assert.equal(
      await h.code(`AT+SKTCLIENT=2,0,,127.0.0.1,${peer.port},${clientPort},0`),
      0,
    );
    assert.equal(await h.code(`AT+SKTSERVER=3,0,,${clientPort},0`), 4);
  } finally {
    peer.socket.close();
    await h.close();
  }
});

Deno.test("UDP server and client: SKTSEND with destination, SKTREAD sender, DATA lines", async () => {
  const h = await Harness.start({ mode: "host" });
  const serverPort = freePort();
  const peer = createSocket("udp4");
  await new Promise<void>((r) => peer.bind(0, "127.0.0.1", () => r()));
  const peerPort = peer.address().port;
  const received: { msg: Uint8Array; port: number }[] = [];
  peer.on(
    "message",
    (msg, rinfo) =>
      received.push({ msg: new Uint8Array(msg), port: rinfo.port }),
  );
  try {
    await h.next((e) => e.type === "ready");
    assert.equal(await h.code(`AT+SKTSERVER=2,0,,${serverPort},0`), 0);
    assert.equal(
      await h.code(`AT+SKTSEND=2,10,127.0.0.1,${peerPort},Lwip_Test!`),
      0,
    );
    assert.equal(await h.code("AT+SKTSEND=2,1,,,x"), 1); // UDP server needs a destination
    assert.equal(await h.code(`AT+SKTSEND=2,1,1.2.x,${peerPort},x`), 1); // not inet_aton
    assert.equal(await h.code("AT+SKTSEND=2,1,127.0.0.1,0,x"), 1);
    // at_sktread: a UDP read names the sender even when nothing came.
    assert.equal(
      (await h.command("AT+SKTREAD=2,10")).text,
      "+SKTREAD:2,0,0.0.0.0,0,\r\nOK\r\n",
    );
    for (let i = 0; i < 100 && received.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.equal(new TextDecoder().decode(received[0].msg), "Lwip_Test!");
    assert.equal(received[0].port, serverPort);

    peer.send(encode("12345"), serverPort, "127.0.0.1");
    let read;
    for (let i = 0; i < 50; i++) {
      read = await h.command("AT+SKTREAD=2,10");
      if (!read.text.startsWith("+SKTREAD:2,0,")) break;
    }
    assert.equal(
      read!.text,
      `+SKTREAD:2,5,127.0.0.1,${peerPort},12345\r\nOK\r\n`,
    );

    // Beyond 6 datagrams, auto_rcv=0 drops.
    for (let i = 0; i < 10; i++) {
      peer.send(encode(`d${i}`), serverPort, "127.0.0.1");
    }
    await new Promise((r) => setTimeout(r, 100));
    const texts: string[] = [];
    for (let i = 0; i < 8; i++) {
      const r = await h.command("AT+SKTREAD=2,10");
      const m = /^\+SKTREAD:2,2,127\.0\.0\.1,\d+,(d\d)\r\n/.exec(r.text);
      if (m) texts.push(m[1]);
    }
    assert.deepEqual(texts, ["d0", "d1", "d2", "d3", "d4", "d5"]);

    // A UDP client with auto_rcv=1.
    const localPort = freePort();
    assert.equal(
      await h.code(`AT+SKTCLIENT=4,0,,127.0.0.1,${peerPort},${localPort},1`),
      0,
    );
    assert.equal(await h.code("AT+SKTSEND=4,2,,,hi"), 0);
    // A UDP client sends to its peer whatever dst fields say.
    assert.equal(await h.code("AT+SKTSEND=4,2,10.9.9.9,9,ho"), 0);
    for (let i = 0; i < 100 && received.length < 3; i++) {
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.deepEqual(
      received.slice(1).map((r) => new TextDecoder().decode(r.msg)),
      ["hi", "ho"],
    );
    peer.send(new Uint8Array([0, 13, 10, 255]), localPort, "127.0.0.1");
    const { event } = await h.next((e) => e.type === "data");
    assert.deepEqual(event, {
      type: "data",
      linkId: 4,
      data: new Uint8Array([0, 13, 10, 255]),
      sender: { ip: "127.0.0.1", port: peerPort },
    });
    const state = await h.command("AT+SKTSTATE");
    assert.equal(
      state.text,
      `link_id:2,server,udp,src_address:127.0.0.1,src_port:${serverPort},dst_address:0.0.0.0,dst_port:0,socket_fd:0\r\n` +
        `link_id:4,client,udp,src_address:0.0.0.0,src_port:${localPort},dst_address:127.0.0.1,dst_port:${peerPort},socket_fd:1\r\n\r\nOK\r\n`,
    );
    // A UDP client's source port is in use for a server (no SO_REUSEADDR
    // on the client); another UDP server may share a server's port
    // (firmware rule udp-server-reuseaddr).
    assert.equal(await h.code(`AT+SKTSERVER=5,0,,${localPort},0`), 4);
    assert.equal(await h.code(`AT+SKTSERVER=5,0,,${serverPort},0`), 0);
  } finally {
    peer.close();
    await h.close();
  }
});

Deno.test("a peer that resets mid-transfer: buffered data stays readable, the module stays usable", async () => {
  const net = await import("node:net");
  const h = await Harness.start({ mode: "host" });
  const port = freePort();
  try {
    await h.next((e) => e.type === "ready");
    assert.equal(await h.code(`AT+SKTSERVER=0,1,,${port},0`), 0);
    const client = net.connect(port, "127.0.0.1");
    await new Promise((r) => client.once("connect", r));
    await h.next((e) => e.type === "connect");
    client.write(new Uint8Array(5000).fill(0x41));
    for (let i = 0; i < 200 && h.module.stats().received < 5000; i++) {
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.equal(h.module.stats().received, 5000);
    (client as unknown as { resetAndDestroy(): void }).resetAndDestroy();
    for (let i = 0; i < 500 && h.module.stats().ended < 1; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    // auto_rcv=0: the socket stays until SKTREAD meets the end; a send
    // on the reset connection fails (2).
    let state = (await h.command("AT+SKTSTATE")).text;
    assert.match(state, /link_id:1,seed,tcp,[^\r]*socket_fd:1\r\n/);
    assert.equal(await h.code("AT+SKTSEND=1,1,,,x"), 2);
    const read = await h.command("AT+SKTREAD=1,8000");
    assert.match(read.text, /^\+SKTREAD:1,5000,A{5000}\r\nOK\r\n$/);
    assert.equal(await h.code("AT+SKTREAD=1,10"), 4);
    assert.equal(await h.code("AT+SKTSEND=1,1,,,x"), 1);

    // auto_rcv=1 client whose peer resets in the middle of a blast.
    const server = net.createServer((socket) => {
      socket.write(new Uint8Array(256 * 1024).fill(0x42));
      setTimeout(
        () =>
          (socket as unknown as { resetAndDestroy(): void }).resetAndDestroy(),
        20,
      );
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const blastPort = (server.address() as { port: number }).port;
    assert.equal(
      await h.code(`AT+SKTCLIENT=5,1,,127.0.0.1,${blastPort},,1`),
      0,
    );
    await h.next((e) => e.type === "data" && e.linkId === 5);
    state = "";
    for (
      let i = 0;
      i < 100 && !/link_id:5,[^\r]*socket_fd:-1/.test(state);
      i++
    ) {
      await new Promise((r) => setTimeout(r, 10));
      state = (await h.command("AT+SKTSTATE")).text;
    }
    assert.match(state, /link_id:5,client,tcp,[^\r]*socket_fd:-1\r\n/);
    server.close();
    // Still usable: delete both and start again on the same ids.
    assert.equal(await h.code("AT+SKTDEL=0"), 0);
    assert.equal(await h.code("AT+SKTDEL=5"), 0);
    assert.equal(await h.code(`AT+SKTSERVER=0,1,,${port},0`), 0);
    assert.equal(h.module.stats().links, 1);
  } finally {
    await h.close();
  }
});

Deno.test("reset(): links closed, options back to defaults, a raw transfer dropped, ATCMD READY again", async () => {
  const h = await Harness.start({ mode: "host" });
  const peer = tcpPeer();
  try {
    await h.next((e) => e.type === "ready");
    assert.equal(await h.code("AT+SKTCFG=2000"), 0);
    const accepted = peer.accept();
    assert.equal(
      await h.code(`AT+SKTCLIENT=0,1,,127.0.0.1,${peer.port},,1`),
      0,
    );
    const conn = await accepted;
    // A raw transfer under way: its answer must never come.
    await h.write("AT+SKTSENDRAW=0,100\r\n");
    await h.next((e) => e.type === "prompt");
    await h.write("half");
    // A payload of at most 10 KiB is sent whole (atcmd_lwip_start_tt_handle):
    // the module holds the half.
    for (let i = 0; i < 1000 && h.module.stats().transparent < 4; i++) {
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.equal(h.module.stats().transparent, 4);
    h.module.reset();
    await h.next((e) => e.type === "ready");
    assert.deepEqual(h.module.state(), []);
    assert.equal(h.module.config.sendTimeout, 0);
    // Line mode again: the next bytes are a command, answered normally.
    const state = await h.command("AT+SKTSTATE");
    assert.equal(state.text, "\r\nOK\r\n");
    assert.equal(await conn.read(new Uint8Array(8)), null); // The link closed.
    conn.close();
  } finally {
    peer.close();
    await h.close();
  }
});

Deno.test("auto_rcv=0: a peer nobody reads is held back near a TCP window, and nothing is lost", async () => {
  const h = await Harness.start({ mode: "host" });
  const port = freePort();
  let peer: Deno.TcpConn | undefined;
  try {
    await h.next((e) => e.type === "ready");
    assert.equal(await h.code(`AT+SKTSERVER=0,1,,${port},0`), 0);
    peer = await Deno.connect({ hostname: "127.0.0.1", port });
    await h.next((e) => e.type === "connect");
    // The peer keeps its default buffers: what it manages to write is its
    // own send buffer plus what the module's side takes.
    const flood = new Flood(peer);
    const written = await flood.stalled(() =>
      h.module.stats().received === TCP_WINDOW
    );
    assert.equal(h.module.stats().received, TCP_WINDOW);
    // The module's side took a window (and at most a segment more in the
    // kernel); the rest is in the peer's own send buffer. A host's default
    // window would take megabytes (3.9 MB measured before).
    const taken = written - unsentBytes(peer);
    assert.ok(taken <= TCP_WINDOW + 1460, `the module's side took ${taken}`);
    assert.ok(written <= 16 * TCP_WINDOW, `the peer wrote ${written} bytes`);
    const stopping = flood.stop();
    let got = await readLink(h, 1, written);
    await stopping;
    got += await readLink(h, 1, flood.written - got);
    assert.equal(got, flood.written);
  } finally {
    peer?.close();
    await h.close();
  }
});

const MiB = 1024 * 1024;

/**
 * Starts an AT+SKTSENDRAW of `size` bytes on a link whose peer does not
 * read; resolves once the TT buffer is full, so a send is stuck.
 */
async function stuckSendRaw(
  h: Harness,
  id: number,
  size: number,
): Promise<Promise<void>> {
  await h.write(`AT+SKTSENDRAW=${id},${size}\r\n`);
  await h.next((e) => e.type === "prompt");
  const writing = h.write(new Uint8Array(size).fill(0x55));
  // RTS flow control: no watermarks; the buffer fills and stays full.
  for (let i = 0; i < 4000 && h.module.stats().transparent < 81919; i++) {
    await new Promise((r) => setTimeout(r, 5));
  }
  assert.ok(h.module.stats().transparent >= 81919, "the TT buffer filled");
  return writing;
}

/** Reads and drops `size` bytes. */
async function drain(conn: Deno.Conn, size: number): Promise<void> {
  const buf = new Uint8Array(256 * 1024);
  for (let got = 0; got < size;) {
    const n = await conn.read(buf);
    if (n === null) throw new Error(`closed after ${got} bytes`);
    got += n;
  }
}

Deno.test("so_sndtimeo is the one in force when a link was made: a later SKTCFG changes nothing, seeds take none", async () => {
  // The payload is written without looking at watermarks: RTS holds it back.
  const h = await Harness.start({ mode: "host", flowControl: "rts" });
  const peer = tcpPeer();
  const serverPort = freePort();
  const conns: Deno.Conn[] = [];
  // Enough to fill the host's socket buffers, so that a send gets stuck.
  const size = 8 * MiB;
  const final = () => h.next((e) => e.type === "ok" || e.type === "error");
  // Longer than the 100 ms timeout, set after the stuck send began (its
  // timer, if any, was set first and fires first).
  const pastTimeout = () => new Promise((r) => setTimeout(r, 300));
  /** A stuck send on `id` outlives the timeout, then completes once `conn` reads. */
  const waitsForPeer = async (id: number, conn: Deno.Conn) => {
    const writing = await stuckSendRaw(h, id, size);
    const answer = h.next((e) => e.type === "ok" || e.type === "error", 20000);
    await pastTimeout();
    const draining = drain(conn, size);
    draining.catch(() => {}); // Never completes if the send gave up.
    assert.deepEqual((await answer).event, { type: "ok" });
    await draining;
    await writing;
  };
  try {
    await h.next((e) => e.type === "ready");
    let accepted = peer.accept();
    assert.equal(
      await h.code(`AT+SKTCLIENT=0,1,,127.0.0.1,${peer.port},,0`),
      0,
    );
    conns.push(await accepted);
    assert.equal(await h.code("AT+SKTCFG=100"), 0);

    // Link 0 was made with no timeout: it waits for its slow peer.
    await waitsForPeer(0, conns[0]);

    // Link 1, made after SKTCFG=100, gives up: ERROR: 2.
    accepted = peer.accept();
    assert.equal(
      await h.code(`AT+SKTCLIENT=1,1,,127.0.0.1,${peer.port},,0`),
      0,
    );
    conns.push(await accepted);
    const writing = await stuckSendRaw(h, 1, size);
    await writing;
    assert.deepEqual((await final()).event, { type: "error", code: 2 });

    // A seed of a server made after SKTCFG=100 takes no timeout.
    assert.equal(await h.code(`AT+SKTSERVER=2,1,,${serverPort},1`), 0);
    conns.push(await Deno.connect({ hostname: "127.0.0.1", port: serverPort }));
    const { event } = await h.next((e) => e.type === "connect");
    const seed = (event as { linkId: number }).linkId;
    await waitsForPeer(seed, conns[2]);
  } finally {
    for (const conn of conns) conn.close();
    peer.close();
    await h.close();
  }
});

/** Sets a listener's accept queue to hold one connection (libc `listen`, FFI). */
function backlogOfOne(listener: Deno.Listener): void {
  const libc = Deno.dlopen("libc.so.6", {
    listen: { parameters: ["i32", "i32"], result: "i32" },
  });
  try {
    const fd = findSocketFd({
      transport: "tcp",
      local: listener.addr as Deno.NetAddr,
    });
    assert.ok(fd !== undefined);
    assert.equal(libc.symbols.listen(fd, 0), 0);
  } finally {
    libc.close();
  }
}

Deno.test("error paths: a connect nobody answers, a busy UDP source port, a refused UDP send, a host name", async () => {
  // Loopback only: every destination outside the allowlist is refused.
  const h = await Harness.start({
    mode: "host",
    connectTimeoutMs: 200,
    allowConnect: ["127.0.0.1", "localhost"],
  });
  // A listener whose accept queue is full drops further SYNs unanswered,
  // as an unreachable host does, all on loopback.
  const full = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const fullPort = (full.addr as Deno.NetAddr).port;
  const udp = createSocket("udp4");
  const peer = tcpPeer();
  const conns: Deno.Conn[] = [];
  try {
    await h.next((e) => e.type === "ready");
    backlogOfOne(full);
    conns.push(await Deno.connect({ hostname: "127.0.0.1", port: fullPort }));
    assert.equal(
      await h.code(`AT+SKTCLIENT=0,1,,127.0.0.1,${fullPort},,0`),
      2,
    );
    assert.equal(h.module.stats().links, 0);

    // A UDP client whose source port is taken.
    await new Promise<void>((r) => udp.bind(0, "127.0.0.1", () => r()));
    const busy = udp.address().port;
    assert.equal(
      await h.code(`AT+SKTCLIENT=1,0,,127.0.0.1,9,${busy},0`),
      4,
    );

    // A refused send is ERROR: 2. (Broadcasts are allowed, as on the
    // module: never send one here, it would leave the loopback.)
    assert.equal(await h.code(`AT+SKTSERVER=2,0,,${freePort()},0`), 0);
    assert.equal(await h.code("AT+SKTSEND=2,1,127.0.0.2,9,x"), 2);

    // A host name resolves (IPv4) and the link shows the address.
    const accepted = peer.accept();
    assert.equal(
      await h.code(`AT+SKTCLIENT=3,1,,localhost,${peer.port},,0`),
      0,
    );
    conns.push(await accepted);
    assert.match(
      (await h.command("AT+SKTSTATE")).text,
      new RegExp(
        `link_id:3,client,tcp,src_address:127\\.0\\.0\\.1,src_port:\\d+,dst_address:127\\.0\\.0\\.1,dst_port:${peer.port},`,
      ),
    );
  } finally {
    for (const conn of conns) conn.close();
    full.close();
    udp.close();
    peer.close();
    await h.close();
  }
});

Deno.test("at_sktclient: the link id is reserved while it connects: a seed of the module's own server takes the next id", async () => {
  const h = await Harness.start({ mode: "host" });
  const port = freePort();
  try {
    await h.next((e) => e.type === "ready");
    assert.equal(await h.code(`AT+SKTSERVER=0,1,,${port},1`), 0);
    // firmware rule link-reserved-while-opening: id 1 is the lowest free
    // one, but at_sktclient has set node_pool[1].link_id before it
    // connects, so search_available_node gives the seed 2.
    assert.equal(
      await h.code(`AT+SKTCLIENT=1,1,,127.0.0.1,${port},${port},0`),
      0,
    );
    const { event } = await h.next((e) => e.type === "connect");
    assert.equal((event as { linkId: number }).linkId, 2);
    const state = (await h.command("AT+SKTSTATE")).text;
    assert.match(state, /^link_id:1,client,tcp,/m);
    assert.match(state, /^link_id:2,seed,tcp,/m);
    // A failed command frees its id again (init_single_node).
    assert.equal(
      await h.code(`AT+SKTCLIENT=3,1,,127.0.0.1,${freePort()},,0`),
      2,
    );
    assert.equal(await h.code(`AT+SKTSERVER=3,0,,${freePort()},0`), 0);
    assert.equal(await h.code("AT+SKTDEL=3"), 0);
    assert.equal(await h.code("AT+SKTDEL=0"), 0);
    assert.equal(await h.code("AT+SKTDEL=1"), 0);
  } finally {
    await h.close();
  }
});

Deno.test("at_sktserver: a seed racing a UDP server's bind never takes the id the command holds", async () => {
  const logs: string[] = [];
  const h = await Harness.start({
    mode: "host",
    log: (line) => logs.push(line),
  });
  const serverPort = freePort();
  const clients: Deno.Conn[] = [];
  try {
    await h.next((e) => e.type === "ready");
    assert.equal(await h.code(`AT+SKTSERVER=19,1,,${serverPort},0`), 0);
    // Each round races AT+SKTSERVER (UDP, id 0, the lowest free) against a
    // connection whose seed takes the lowest free id. A seed accepted
    // before the command is read takes 0 (the command is then ERROR: 1,
    // "in use"); one accepted while the command binds skips 0 (firmware
    // rule link-reserved-while-opening). No socket leaks either way.
    for (let round = 0; round < 30; round++) {
      const udpPort = freePort();
      const answer = h.command(`AT+SKTSERVER=0,0,,${udpPort},0`);
      clients.push(
        await Deno.connect({ hostname: "127.0.0.1", port: serverPort }),
      );
      const { final } = await answer;
      await h.next((e) => e.type === "connect");
      const state = (await h.command("AT+SKTSTATE")).text;
      if (final.type === "ok") {
        assert.match(state, /^link_id:0,server,udp,/m);
        assert.match(state, /^link_id:1,seed,tcp,/m);
      } else {
        assert.deepEqual(final, { type: "error", code: 1 });
        assert.match(logs.at(-1) ?? "", /already in use/);
        assert.match(state, /^link_id:0,seed,tcp,/m);
        // The UDP port was never bound.
        const probe = createSocket("udp4");
        await new Promise<void>((resolve, reject) => {
          probe.once("error", reject);
          probe.bind(udpPort, "127.0.0.1", () => resolve());
        });
        probe.close();
      }
      assert.equal(await h.code("AT+SKTDEL=0"), 0);
      if (final.type === "ok") assert.equal(await h.code("AT+SKTDEL=1"), 0);
      clients.pop()!.close();
    }
  } finally {
    for (const c of clients) c.close();
    await h.close();
  }
});

/** Reads from `conn` until the text read ends with `end` (at most 100 reads). */
async function readUntil(conn: Deno.Conn, end: string): Promise<string> {
  const buf = new Uint8Array(4096);
  let text = "";
  for (let i = 0; i < 100 && !text.endsWith(end); i++) {
    const n = await conn.read(buf);
    if (n === null) break;
    text += new TextDecoder().decode(buf.subarray(0, n));
  }
  return text;
}

Deno.test("TCP console: a client that goes mid-line or mid-SKTSENDRAW leaves nothing for the next one", async () => {
  const logs: string[] = [];
  const h = await Harness.start({
    mode: "host",
    log: (line) => logs.push(line),
  });
  const peer = tcpPeer();
  const next = async () => {
    for (let i = 0; i < 500 && h.console.busy; i++) {
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.equal(h.console.busy, false);
    const conn = await Deno.connect({
      hostname: "127.0.0.1",
      port: h.console.port,
    });
    assert.equal(await readUntil(conn, "ATCMD READY\r\n"), "ATCMD READY\r\n");
    return conn;
  };
  let peerConn: Deno.TcpConn | undefined;
  try {
    await h.next((e) => e.type === "ready");
    const accepted = peer.accept();
    assert.equal(
      await h.code(`AT+SKTCLIENT=0,1,,127.0.0.1,${peer.port},,0`),
      0,
    );
    peerConn = await accepted;

    // Half a command, then the client goes: the next client's "ERY" is a
    // line of its own (unknown: no answer), not the end of AT+SKTQUERY.
    await h.write("AT+SKTQU");
    h.conn.close();
    const second = await next();
    await second.write(encode("ERY\r\nAT+SKTDEL=7\r\n"));
    assert.equal(await readUntil(second, "\r\n"), "\r\nERROR: 1\r\n");

    // Half a payload, then the client goes: what arrived was sent, the rest
    // never will be, nobody is answered, and the next client's bytes are
    // commands again.
    await second.write(encode("AT+SKTSENDRAW=0,10\r\n"));
    assert.equal(await readUntil(second, ">>>\r\n"), ">>>\r\n");
    await second.write(encode("12345"));
    // A payload of at most 10 KiB is one piece, sent when it is complete or
    // stopped: here when the console goes (atcmd_lwip_start_tt_handle).
    for (let i = 0; i < 1000 && h.module.stats().transparent < 5; i++) {
      await new Promise((r) => setTimeout(r, 5));
    }
    second.close();
    assert.equal(
      new TextDecoder().decode(await readExactly(peerConn, 5)),
      "12345",
    );
    const third = await next();
    await third.write(encode("AT+SKTSTATE\r\n"));
    assert.match(
      await readUntil(third, "OK\r\n"),
      /^link_id:0,client,tcp,[^\r]*\r\n\r\nOK\r\n$/,
    );
    assert.ok(
      logs.some((l) => /went away with 5 bytes not sent/.test(l)),
      logs.join("\n"),
    );
    // The link got nothing more: deleting it shows the end of its stream.
    await third.write(encode("AT+SKTDEL=0\r\n"));
    assert.equal(await readUntil(third, "OK\r\n"), "\r\nOK\r\n");
    assert.equal(await peerConn.read(new Uint8Array(16)), null);
    third.close();
  } finally {
    peerConn?.close();
    peer.close();
    await h.close();
  }
});

Deno.test("SKTREAD end to end: the data is cut at the first NUL while n counts every byte; data arriving during the 20 ms wait is returned", async () => {
  const h = await Harness.start(); // Manual Test Mode: the echo shows when a command was taken.
  const peer = tcpPeer();
  let conn: Deno.TcpConn | undefined;
  const realSetTimeout = setTimeout;
  const realClearTimeout = clearTimeout;
  let clock: ReturnType<typeof FakeTimers.install> | undefined;
  try {
    const accepted = peer.accept();
    assert.equal(
      await h.code(`AT+SKTCLIENT=0,1,,127.0.0.1,${peer.port},,0`),
      0,
    );
    conn = await accepted;
    await conn.write(new Uint8Array([0x61, 0x62, 0, 0x63, 0x64]));
    for (let i = 0; i < 500 && h.module.stats().received < 5; i++) {
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.equal(
      (await h.command("AT+SKTREAD=0,100")).text,
      "AT+SKTREAD=0,100\r\r\n+SKTREAD:0,5,ab\r\nOK\r\n",
    );

    // With the module's clock stopped, a read of an empty link waits; the
    // echo shows it has begun. Data sent now is what it returns.
    clock = FakeTimers.install({ toFake: ["setTimeout", "clearTimeout"] });
    let deadline: ReturnType<typeof setTimeout> | undefined;
    const bounded = <T>(work: Promise<T>) =>
      Promise.race([
        work,
        new Promise<never>((_, reject) => {
          deadline = realSetTimeout(
            () => reject(new Error("no answer within 5 s")),
            5000,
          );
        }),
      ]).finally(() => realClearTimeout(deadline));
    await h.write("AT+SKTREAD=0,100\r\n");
    await bounded(
      h.next((e) => e.type === "echo" && e.text === "AT+SKTREAD=0,100"),
    );
    await conn.write(encode("late"));
    const { event } = await bounded(h.next((e) => e.type === "read"));
    assert.equal(event.type === "read" && event.size, 4);
    assert.deepEqual(event.type === "read" && event.data, encode("late"));
    await bounded(h.next((e) => e.type === "ok"));
    // With no data the answer comes when the wait's timer runs out.
    await h.write("AT+SKTREAD=0,100\r\n");
    await bounded(
      h.next((e) => e.type === "echo" && e.text === "AT+SKTREAD=0,100"),
    );
    await clock.tickAsync(READ_WAIT_MS);
    const empty = await bounded(h.next((e) => e.type === "read"));
    assert.equal(empty.event.type === "read" && empty.event.size, 0);
    await bounded(h.next((e) => e.type === "ok"));
  } finally {
    clock?.uninstall();
    conn?.close();
    peer.close();
    await h.close();
  }
});

Deno.test("hang_seednode / at_sktstate: seeds are listed under their server in accept order, not by id", async () => {
  const h = await Harness.start({ mode: "host" });
  const port = freePort();
  const conns: Deno.Conn[] = [];
  try {
    await h.next((e) => e.type === "ready");
    assert.equal(await h.code(`AT+SKTSERVER=0,1,,${port},0`), 0);
    const connect = async () => {
      conns.push(await Deno.connect({ hostname: "127.0.0.1", port }));
      const { event } = await h.next((e) => e.type === "connect");
      return (event as { linkId: number }).linkId;
    };
    assert.equal(await connect(), 1);
    assert.equal(await connect(), 2);
    assert.equal(await h.code("AT+SKTDEL=1"), 0);
    assert.equal(await connect(), 1); // the lowest free id, accepted last
    const ids = (await h.command("AT+SKTSTATE")).text.split("\r\n")
      .filter((l) => l.startsWith("link_id:"))
      .map((l) => Number(/^link_id:(\d+),/.exec(l)![1]));
    assert.deepEqual(ids, [0, 2, 1]);
    assert.deepEqual(h.module.state().map((s) => s.linkId), [0, 2, 1]);
  } finally {
    for (const c of conns) c.close();
    await h.close();
  }
});

Deno.test("socket_client_tcp_auto_rcv / socket_server_udp_auto_rcv_data: one DATA line per read of at most 16 KiB; a longer datagram is cut", async () => {
  const h = await Harness.start({ mode: "host" });
  const peer = tcpPeer();
  const udp = createSocket("udp4");
  try {
    await h.next((e) => e.type === "ready");
    const accepted = peer.accept();
    assert.equal(
      await h.code(`AT+SKTCLIENT=0,1,,127.0.0.1,${peer.port},,1`),
      0,
    );
    const conn = await accepted;
    const size = 200 * 1024;
    const payload = new Uint8Array(size).map((_, i) => (i * 31) & 0xff);
    const writing = (async () => {
      let n = 0;
      while (n < size) n += await conn.write(payload.subarray(n));
    })();
    const got: number[] = [];
    let lines = 0;
    while (got.length < size) {
      const { event } = await h.next((e) => e.type === "data");
      if (event.type !== "data") continue;
      assert.ok(event.data.length <= 16384, `${event.data.length} bytes`);
      got.push(...event.data);
      lines++;
    }
    await writing;
    assert.deepEqual(new Uint8Array(got), payload);
    assert.ok(lines >= size / 16384, `${lines} lines`);

    const udpPort = freePort();
    assert.equal(await h.code(`AT+SKTSERVER=1,0,,${udpPort},1`), 0);
    await new Promise<void>((r) => udp.bind(0, "127.0.0.1", () => r()));
    udp.send(new Uint8Array(20000).fill(0x61), udpPort, "127.0.0.1");
    const { event } = await h.next((e) => e.type === "data" && e.linkId === 1);
    assert.equal((event as { data: Uint8Array }).data.length, 16384);
    conn.close();
  } finally {
    udp.close();
    peer.close();
    await h.close();
  }
});

Deno.test("--ip sets the address servers report", async () => {
  const h = await Harness.start({ mode: "host", ip: "192.168.0.109" });
  try {
    const port = freePort();
    assert.equal(await h.code(`AT+SKTSERVER=0,1,,${port},0`), 0);
    const state = await h.command("AT+SKTSTATE");
    assert.equal(
      state.text,
      `link_id:0,server,tcp,src_address:192.168.0.109,src_port:${port},dst_address:0.0.0.0,dst_port:0,socket_fd:0\r\n\r\nOK\r\n`,
    );
  } finally {
    await h.close();
  }
});

Deno.test("20 modules side by side keep their own link tables", async () => {
  const modules = await Promise.all(
    Array.from({ length: 20 }, () => Harness.start({ mode: "host" })),
  );
  try {
    const ports = modules.map(() => freePort());
    for (const [i, h] of modules.entries()) {
      assert.equal(await h.code(`AT+SKTSERVER=${i % 20},1,,${ports[i]},0`), 0);
      assert.equal(await h.code(`AT+SKTCFG=${i}`), 0);
    }
    for (const [i, h] of modules.entries()) {
      const state = await h.command("AT+SKTSTATE");
      const lines = state.text.split("\r\n").filter((l) =>
        l.startsWith("link_id")
      );
      assert.deepEqual(lines.length, 1);
      assert.match(
        lines[0],
        new RegExp(
          `^link_id:${i},server,tcp,src_address:127\\.0\\.0\\.1,src_port:${
            ports[i]
          },`,
        ),
      );
      assert.equal(h.module.config.sendTimeout, i);
    }
  } finally {
    await Promise.all(modules.map((h) => h.close()));
  }
});
