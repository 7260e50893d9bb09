import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import {
  findSocketFd,
  getReceiveBuffer,
  getSocketOptions,
  setSocketOptions,
} from "./sockopt.ts";
import { freePort, Harness, tcpPeer } from "./test_util.ts";

Deno.test("findSocketFd finds listeners, both ends of a connection, UDP and ::1", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const client = await Deno.connect({ hostname: "127.0.0.1", port });
  const server = await listener.accept();
  const v6 = Deno.listen({ hostname: "::1", port: 0 });
  const udp = createSocket("udp4");
  await new Promise<void>((r) => udp.bind(0, "127.0.0.1", () => r()));
  try {
    const lfd = findSocketFd({
      transport: "tcp",
      local: { hostname: "127.0.0.1", port },
    });
    const cfd = findSocketFd({
      transport: "tcp",
      local: client.localAddr as Deno.NetAddr,
      remote: client.remoteAddr as Deno.NetAddr,
    });
    const sfd = findSocketFd({
      transport: "tcp",
      local: server.localAddr as Deno.NetAddr,
      remote: server.remoteAddr as Deno.NetAddr,
    });
    assert.ok(lfd !== undefined && cfd !== undefined && sfd !== undefined);
    assert.equal(new Set([lfd, cfd, sfd]).size, 3);
    // Deno's own setNoDelay shows through the fd found: it is the right one.
    client.setNoDelay(true);
    assert.equal(getSocketOptions(cfd, "tcp").noDelay, true);
    assert.equal(getSocketOptions(sfd, "tcp").noDelay, false);
    setSocketOptions(sfd, {
      keepAlive: true,
      keepIdle: 30,
      keepInterval: 5,
      keepCount: 4,
      sendTimeoutMs: 1500,
      receiveTimeoutMs: 1000,
    });
    const back = getSocketOptions(sfd, "tcp");
    assert.deepEqual(
      { ...back, noDelay: undefined },
      {
        sendTimeoutMs: 1500,
        receiveTimeoutMs: 1000,
        noDelay: undefined,
        keepAlive: true,
        keepIdle: 30,
        keepInterval: 5,
        keepCount: 4,
      },
    );
    assert.equal(getSocketOptions(cfd, "tcp").keepAlive, false);
    const v6fd = findSocketFd({
      transport: "tcp",
      local: v6.addr as Deno.NetAddr,
    });
    assert.ok(v6fd !== undefined);
    const ufd = findSocketFd({
      transport: "udp",
      local: { hostname: "127.0.0.1", port: udp.address().port },
    });
    assert.ok(ufd !== undefined);
    setSocketOptions(ufd, { sendTimeoutMs: 700 });
    assert.equal(getSocketOptions(ufd, "udp").sendTimeoutMs, 700);
    assert.equal(
      findSocketFd({
        transport: "tcp",
        local: { hostname: "127.0.0.1", port: freePort() },
      }),
      undefined,
    );
    assert.throws(
      () => setSocketOptions(sfd, { keepIdle: 99999 }),
      /TCP_KEEPIDLE=99999 failed/,
    );
  } finally {
    udp.close();
    v6.close();
    client.close();
    server.close();
    listener.close();
  }
});

Deno.test("AT+SKTCFG options are in force on the sockets created afterwards, per socket kind", async () => {
  const h = await Harness.start({ mode: "host" });
  const peer = tcpPeer();
  const udpPort = freePort();
  const serverPort = freePort();
  try {
    // Before SKTCFG: a client with OS defaults.
    let accepted = peer.accept();
    assert.equal(
      await h.code(`AT+SKTCLIENT=0,1,,127.0.0.1,${peer.port},,0`),
      0,
    );
    let conn = await accepted;
    const fdOf = (c: Deno.TcpConn) =>
      findSocketFd({
        transport: "tcp",
        local: c.remoteAddr as Deno.NetAddr,
        remote: c.localAddr as Deno.NetAddr,
      })!;
    assert.equal(getSocketOptions(fdOf(conn), "tcp").keepAlive, false);

    assert.equal(await h.code("AT+SKTCFG=1500,2500,1,1,60,10,3"), 0);
    // A TCP client takes all seven.
    accepted = peer.accept();
    assert.equal(
      await h.code(`AT+SKTCLIENT=1,1,,127.0.0.1,${peer.port},,0`),
      0,
    );
    const conn1 = await accepted;
    assert.deepEqual(getSocketOptions(fdOf(conn1), "tcp"), {
      sendTimeoutMs: 1500,
      receiveTimeoutMs: 2500,
      noDelay: true,
      keepAlive: true,
      keepIdle: 60,
      keepInterval: 10,
      keepCount: 3,
    });
    // The earlier client is unchanged: options apply only to new sockets.
    assert.equal(getSocketOptions(fdOf(conn), "tcp").keepAlive, false);

    // A listener takes all seven; its seeds inherit only keepalive.
    assert.equal(await h.code(`AT+SKTSERVER=2,1,,${serverPort},0`), 0);
    const lfd = findSocketFd({
      transport: "tcp",
      local: { hostname: "127.0.0.1", port: serverPort },
    })!;
    assert.equal(getSocketOptions(lfd, "tcp").keepIdle, 60);
    assert.equal(getSocketOptions(lfd, "tcp").sendTimeoutMs, 1500);
    const client = await Deno.connect({
      hostname: "127.0.0.1",
      port: serverPort,
    });
    await h.next((e) => e.type === "connect");
    const seedFd = findSocketFd({
      transport: "tcp",
      local: client.remoteAddr as Deno.NetAddr,
      remote: client.localAddr as Deno.NetAddr,
    })!;
    const seed = getSocketOptions(seedFd, "tcp");
    assert.equal(seed.keepAlive, true);
    assert.equal(seed.noDelay, false);
    assert.equal(seed.sendTimeoutMs, 0);
    assert.notEqual(seed.keepIdle, 60);

    // UDP sockets take the two timeouts.
    assert.equal(await h.code(`AT+SKTSERVER=4,0,,${udpPort},0`), 0);
    const ufd = findSocketFd({
      transport: "udp",
      local: { hostname: "127.0.0.1", port: udpPort },
    })!;
    const udp = getSocketOptions(ufd, "udp");
    assert.equal(udp.sendTimeoutMs, 1500);
    assert.equal(udp.receiveTimeoutMs, 2500);
    assert.equal(udp.keepAlive, false);

    const query = await h.command("AT+SKTQUERY");
    assert.match(
      query.text,
      /so_sndtimeo: 1500\r\nso_rcvtimeo: 2500\r\ntcp_nodelay: 1\r\nso_keepalive: 1\r\ntcp_keepidle: 60\r\ntcp_keepintvl: 10\r\ntcp_keepcnt: 3\r\n/,
    );
    client.close();
    conn.close();
    conn1.close();
    conn = conn1;
  } finally {
    peer.close();
    await h.close();
  }
});

const hasOpenssl = await new Deno.Command("openssl", {
  args: ["version"],
  stdout: "null",
  stderr: "null",
}).output().then((o) => o.success, () => false);

Deno.test({
  name:
    "TLS links take no AT+SKTCFG option: a TLS client and a TLS seed keep the OS defaults",
  ignore: !hasOpenssl,
}, async () => {
  const { makePki } = await import("@atsock/device/pki");
  const { connect: tlsConnect, createServer } = await import("node:tls");
  const dir = await Deno.makeTempDir({ prefix: "atsock-sockopt-tls-" });
  await makePki(dir, { suites: [1] });
  const pem = (name: string) => Deno.readTextFile(`${dir}/CERT/${name}`);
  const h = await Harness.start({ mode: "host", certs: dir });
  const peer = createServer({
    cert: await pem("server_cert_1.crt"),
    key: await pem("server_key_1.key"),
  });
  const peerSockets: { destroy(): void }[] = [];
  const peerConnected = new Promise<{
    remotePort?: number;
    localPort?: number;
  }>((resolve) =>
    peer.on("secureConnection", (s) => {
      peerSockets.push(s);
      resolve(s);
    })
  );
  await new Promise<void>((r) => peer.listen(0, "127.0.0.1", () => r()));
  const peerPort = (peer.address() as { port: number }).port;
  const serverPort = freePort();
  let client: ReturnType<typeof tlsConnect> | undefined;
  try {
    await h.next((e) => e.type === "ready");
    assert.equal(await h.code("AT+SKTCFG=1500,2500,1,1,60,10,3"), 0);
    const defaults = (fd: number | undefined) => {
      assert.ok(fd !== undefined, "socket not found");
      const o = getSocketOptions(fd, "tcp");
      assert.equal(o.sendTimeoutMs, 0);
      assert.equal(o.receiveTimeoutMs, 0);
      assert.equal(o.noDelay, false);
      assert.equal(o.keepAlive, false);
      assert.notEqual(o.keepIdle, 60);
    };
    // A TLS client (type 2: no verification).
    assert.equal(
      await h.code(`AT+SKTCLIENT=0,2,,127.0.0.1,${peerPort},,0`),
      0,
    );
    const seen = await peerConnected;
    defaults(
      findSocketFd({
        transport: "tcp",
        local: { hostname: "127.0.0.1", port: seen.remotePort! },
        remote: { hostname: "127.0.0.1", port: seen.localPort! },
      }),
    );
    // A TLS server (type 2) and its seed.
    assert.equal(await h.code(`AT+SKTSERVER=1,2,1,${serverPort},0`), 0);
    client = tlsConnect({
      host: "127.0.0.1",
      port: serverPort,
      rejectUnauthorized: false,
    });
    const { event } = await h.next((e) => e.type === "connect");
    assert.equal((event as { protocol: string }).protocol, "tls");
    defaults(
      findSocketFd({
        transport: "tcp",
        local: { hostname: "127.0.0.1", port: serverPort },
        remote: { hostname: "127.0.0.1", port: client.localPort! },
      }),
    );
  } finally {
    client?.destroy();
    for (const s of peerSockets) s.destroy();
    peer.close();
    await h.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("auto_rcv=0 servers: the listener and its seeds get the smallest receive buffer; auto_rcv=1 keeps the OS default", async () => {
  const h = await Harness.start({ mode: "host" });
  const small = freePort();
  const large = freePort();
  const clients: Deno.Conn[] = [];
  try {
    await h.next((e) => e.type === "ready");
    assert.equal(await h.code(`AT+SKTSERVER=0,1,,${small},0`), 0);
    assert.equal(await h.code(`AT+SKTSERVER=1,1,,${large},1`), 0);
    const seedBuffer = async (port: number) => {
      const client = await Deno.connect({ hostname: "127.0.0.1", port });
      clients.push(client);
      await h.next((e) => e.type === "connect");
      const fd = findSocketFd({
        transport: "tcp",
        local: client.remoteAddr as Deno.NetAddr,
        remote: client.localAddr as Deno.NetAddr,
      });
      assert.ok(fd !== undefined);
      return getReceiveBuffer(fd);
    };
    const listenerBuffer = (port: number) =>
      getReceiveBuffer(
        findSocketFd({
          transport: "tcp",
          local: { hostname: "127.0.0.1", port },
        })!,
      );
    // Linux's minimum is a few KB (2304 bytes here); its default 128 KB.
    assert.ok(listenerBuffer(small) <= 4608, `${listenerBuffer(small)}`);
    assert.ok(await seedBuffer(small) <= 4608);
    assert.ok(listenerBuffer(large) > 4 * 7300);
    assert.ok(await seedBuffer(large) > 4 * 7300);
  } finally {
    for (const c of clients) c.close();
    await h.close();
  }
});
