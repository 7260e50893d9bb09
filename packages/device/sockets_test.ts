import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { DEFAULT_CONFIG } from "@atsock/protocol";
import { NetGuard, parseConnectRules } from "./net_guard.ts";
import { SocketFailure, Sockets } from "./sockets.ts";
import { freePort } from "./test_util.ts";

function sockets(allow?: string): { sockets: Sockets; logs: string[] } {
  const logs: string[] = [];
  const guard = new NetGuard(allow ? parseConnectRules(allow) : undefined);
  return {
    sockets: new Sockets({
      bindAddress: "127.0.0.1",
      connectTimeoutMs: 5000,
      guard,
      log: (m) => logs.push(m),
    }),
    logs,
  };
}

async function failure(work: () => unknown): Promise<SocketFailure> {
  try {
    await work();
  } catch (e) {
    assert.ok(e instanceof SocketFailure, String(e));
    return e;
  }
  assert.fail("no failure");
}

Deno.test("sockets: what failed is named (bind, connect, refused); the code is the session's to choose", async () => {
  const { sockets: s } = sockets("127.0.0.1:1");
  // A TCP port in use.
  const busy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (busy.addr as Deno.NetAddr).port;
  try {
    const e = await failure(() => s.listenTcp(port, DEFAULT_CONFIG, true));
    assert.equal(e.failure, "bind");
    assert.match(e.message, new RegExp(`listen on port ${port}`));
  } finally {
    busy.close();
  }
  // A UDP port a client holds: a server cannot share it (no SO_REUSEADDR on the client).
  const udp = createSocket("udp4");
  await new Promise<void>((resolve) => udp.bind(0, "127.0.0.1", resolve));
  try {
    const e = await failure(() =>
      s.bindUdp(udp.address().port, DEFAULT_CONFIG, "client")
    );
    assert.equal(e.failure, "bind");
  } finally {
    udp.close();
  }
  // Outside the allowlist.
  const refused = await failure(() =>
    s.connectTcp("127.0.0.1", 2, "127.0.0.1", DEFAULT_CONFIG)
  );
  assert.equal(refused.failure, "refused");
  assert.match(refused.message, /--allow-connect/);
  s.close();
});

Deno.test("sockets: a connect nobody answers is `connect`; a number host is read as inet_aton does, with no lookup", async () => {
  const { sockets: s } = sockets();
  const e = await failure(() =>
    s.connectTcp("127.0.0.1", freePort(), "127.0.0.1", DEFAULT_CONFIG)
  );
  assert.equal(e.failure, "connect");
  assert.equal(await s.resolve("127.0.0.010"), "127.0.0.8");
  assert.equal(await s.resolve("127.1"), "127.0.0.1");
  s.close();
});

Deno.test("sockets: a TCP connect gives the local address lwip_getsockname would; a bound UDP socket takes datagrams", async () => {
  const { sockets: s } = sockets();
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const accepted = listener.accept();
  const { conn, source } = await s.connectTcp(
    "127.0.0.1",
    port,
    "localhost",
    DEFAULT_CONFIG,
  );
  const peer = await accepted;
  assert.equal(source.ip, "127.0.0.1");
  assert.equal(source.port, (peer.remoteAddr as Deno.NetAddr).port);
  conn.close();
  peer.close();
  listener.close();

  const udp = await s.bindUdp(0, DEFAULT_CONFIG, "server");
  const got = new Promise<string>((resolve) =>
    udp.once("message", (m) => resolve(m.toString()))
  );
  // Bound to loopback first: an unbound socket's send binds 0.0.0.0 (every
  // interface), which the test task's loopback-only --allow-net refuses.
  const sender = createSocket("udp4");
  await new Promise<void>((r) => sender.bind(0, "127.0.0.1", () => r()));
  sender.send("hi", udp.address().port, "127.0.0.1");
  assert.equal(await got, "hi");
  sender.close();
  udp.close();
  s.close();
});
