import assert from "node:assert/strict";
import { connect as tlsConnect, createServer, type TLSSocket } from "node:tls";
import type { AddressInfo } from "node:net";
import { encode } from "@atsock/protocol";
import { makePki } from "../../tools/make_pki.ts";
import { freePort, Harness } from "./test_util.ts";

const hasOpenssl = await new Deno.Command("openssl", {
  args: ["version"],
  stdout: "null",
  stderr: "null",
})
  .output().then((o) => o.success, () => false);

let dir = "";
async function pki(): Promise<string> {
  if (!dir) {
    dir = await Deno.makeTempDir({ prefix: "atsock-tls-test-" });
    await makePki(dir, { suites: [1, 2] });
  }
  return dir;
}
const pem = async (name: string) =>
  await Deno.readTextFile(`${await pki()}/CERT/${name}`);

/** A node:tls peer server; `requireCert` demands a client certificate of suite `caSuite`. */
async function peerServer(suite: number, requireCert = false, caSuite = suite) {
  const server = createServer({
    cert: await pem(`server_cert_${suite}.crt`),
    key: await pem(`server_key_${suite}.key`),
    ca: await pem(`server_ca_${caSuite}.crt`),
    requestCert: requireCert,
    rejectUnauthorized: requireCert,
  });
  const sockets: TLSSocket[] = [];
  const connected: Promise<TLSSocket> = new Promise((resolve) =>
    server.on("secureConnection", (s: TLSSocket) => {
      sockets.push(s);
      resolve(s);
    })
  );
  server.on("tlsClientError", () => {});
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return {
    port: (server.address() as AddressInfo).port,
    connected,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

function collect(socket: TLSSocket, size: number): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let n = 0;
  return new Promise((resolve) => {
    socket.on("data", (d: Uint8Array) => {
      parts.push(new Uint8Array(d));
      n += d.length;
      if (n >= size) {
        const out = new Uint8Array(n);
        let o = 0;
        for (const p of parts) {
          out.set(p, o);
          o += p.length;
        }
        resolve(out);
      }
    });
  });
}

Deno.test({
  name: "TLS clients of every type, verification enforced",
  ignore: !hasOpenssl,
}, async () => {
  const h = await Harness.start({ mode: "host", certs: await pki() });
  const plain = await peerServer(1);
  const mutual = await peerServer(1, true);
  const foreign = await peerServer(2);
  try {
    // Type 2: no verification, even of a foreign CA's server.
    assert.equal(
      await h.code(`AT+SKTCLIENT=0,2,,127.0.0.1,${foreign.port},,1`),
      0,
    );
    // Type 3: verifies with suite 1's CA: its own server passes, suite 2's fails.
    assert.equal(
      await h.code(`AT+SKTCLIENT=1,3,1,127.0.0.1,${plain.port},,1`),
      0,
    );
    assert.equal(
      await h.code(`AT+SKTCLIENT=2,3,1,127.0.0.1,${foreign.port},,1`),
      14,
    );
    // Type 4: presents a client certificate to a server that demands one.
    assert.equal(
      await h.code(`AT+SKTCLIENT=2,4,1,127.0.0.1,${mutual.port},,1`),
      0,
    );
    // Type 5 with the wrong suite's client certificate is refused by the server.
    assert.equal(
      await h.code(`AT+SKTCLIENT=3,5,2,127.0.0.1,${mutual.port},,1`),
      14,
    );
    // Type 5 with the right suite: both sides verify.
    assert.equal(
      await h.code(`AT+SKTCLIENT=3,5,1,127.0.0.1,${mutual.port},,0`),
      0,
    );
    // A failed TCP connect is 13.
    assert.equal(
      await h.code(`AT+SKTCLIENT=4,2,,127.0.0.1,${freePort()},,1`),
      13,
    );
    assert.equal(
      await h.code(`AT+SKTCLIENT=4,2,,no-such-host.invalid,443,,1`),
      13,
    );

    const state = await h.command("AT+SKTSTATE");
    assert.match(
      state.text,
      new RegExp(
        `link_id:1,client,ssl,src_address:0\\.0\\.0\\.0,src_port:0,dst_address:127\\.0\\.0\\.1,dst_port:${plain.port},socket_fd:\\d+`,
      ),
    );

    // Data both ways on a TLS link: SKTSEND, DATA lines and SKTREAD.
    const server = await plain.connected;
    const got = collect(server, 5);
    assert.equal(await h.code("AT+SKTSEND=1,5,,,hello"), 0);
    assert.equal(new TextDecoder().decode(await got), "hello");
    server.write(new Uint8Array([0, 1, 13, 10, 255]));
    const { event } = await h.next((e) => e.type === "data" && e.linkId === 1);
    assert.deepEqual(event, {
      type: "data",
      linkId: 1,
      data: new Uint8Array([0, 1, 13, 10, 255]),
    });
  } finally {
    plain.close();
    mutual.close();
    foreign.close();
    await h.close();
  }
});

Deno.test({
  name: "TLS servers: type 2 and type 3 (client certificate required)",
  ignore: !hasOpenssl,
}, async () => {
  const h = await Harness.start({ mode: "host", certs: await pki() });
  try {
    const p2 = freePort(), p3 = freePort();
    assert.equal(await h.code(`AT+SKTSERVER=0,2,1,${p2},1`), 0);
    assert.equal(await h.code(`AT+SKTSERVER=1,3,1,${p3},0`), 0);

    // A client of type-2 server, verifying the module with suite 1's CA.
    const c1 = tlsConnect({
      host: "127.0.0.1",
      port: p2,
      ca: await pem("client_ca_1.crt"),
    });
    await new Promise<void>((resolve, reject) => {
      c1.once("secureConnect", () => resolve());
      c1.once("error", reject);
    });
    const { event } = await h.next((e) => e.type === "connect");
    assert.equal((event as { protocol: string }).protocol, "tls");
    c1.write("ping");
    const data = await h.next((e) => e.type === "data");
    assert.deepEqual(data.event, {
      type: "data",
      linkId: 2,
      data: encode("ping"),
    });

    // Type 3: a client without a certificate gets no seed.
    const bare = tlsConnect({
      host: "127.0.0.1",
      port: p3,
      rejectUnauthorized: false,
    });
    await new Promise<void>((resolve) => {
      bare.once("error", () => resolve());
      bare.once("close", () => resolve());
    });
    // Type 3: a client with suite 2's certificate gets no seed either.
    const wrong = tlsConnect({
      host: "127.0.0.1",
      port: p3,
      rejectUnauthorized: false,
      cert: await pem("client_cert_2.crt"),
      key: await pem("client_key_2.key"),
    });
    await new Promise<void>((resolve) => {
      wrong.once("error", () => resolve());
      wrong.once("close", () => resolve());
    });
    // With suite 1's certificate: a seed.
    const good = tlsConnect({
      host: "127.0.0.1",
      port: p3,
      ca: await pem("client_ca_1.crt"),
      cert: await pem("client_cert_1.crt"),
      key: await pem("client_key_1.key"),
    });
    await new Promise<void>((resolve, reject) => {
      good.once("secureConnect", () => resolve());
      good.once("error", reject);
    });
    const seed = await h.next((e) => e.type === "connect");
    assert.equal((seed.event as { serverId: number }).serverId, 1);
    const state = await h.command("AT+SKTSTATE");
    const lines = state.text.split("\r\n").filter((l) =>
      l.startsWith("link_id")
    );
    assert.equal(lines.length, 4, state.text); // two servers, two seeds: the refused got none
    assert.match(lines[0], /^link_id:0,server,ssl,/);
    good.write("x");
    let read;
    for (let i = 0; i < 50; i++) {
      read = await h.command(
        `AT+SKTREAD=${(seed.event as { linkId: number }).linkId},10`,
      );
      if (!/^\+SKTREAD:\d+,0,/.test(read.text)) break;
    }
    assert.match(read!.text, /^\+SKTREAD:\d+,1,x\r\nOK\r\n$/);
    for (const s of [c1, bare, wrong, good]) s.destroy();
  } finally {
    await h.close();
  }
});

Deno.test({
  name:
    "certificate store errors: 6 missing, 9 unparsable, 10 key mismatch; keys never shown",
  ignore: !hasOpenssl,
}, async () => {
  const base = await pki();
  const broken = await Deno.makeTempDir({ prefix: "atsock-broken-" });
  await Deno.mkdir(`${broken}/CERT`);
  for (
    const f of ["server_cert_1.crt", "server_key_1.key", "server_key_2.key"]
  ) {
    await Deno.copyFile(`${base}/CERT/${f}`, `${broken}/CERT/${f}`);
  }
  await Deno.writeTextFile(
    `${broken}/CERT/server_cert_3.crt`,
    "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n",
  );
  await Deno.copyFile(
    `${base}/CERT/server_key_1.key`,
    `${broken}/CERT/server_key_3.key`,
  );
  // Suite 4: suite 1's certificate with suite 2's key.
  await Deno.copyFile(
    `${base}/CERT/server_cert_1.crt`,
    `${broken}/CERT/server_cert_4.crt`,
  );
  await Deno.copyFile(
    `${base}/CERT/server_key_2.key`,
    `${broken}/CERT/server_key_4.key`,
  );
  const logs: string[] = [];
  const h = await Harness.start({
    mode: "host",
    certs: broken,
    log: (m) => logs.push(m),
  });
  const nocerts = await Harness.start({ mode: "host" });
  try {
    assert.equal(await h.code(`AT+SKTSERVER=0,2,5,${freePort()},1`), 6); // no files
    assert.equal(await h.code(`AT+SKTSERVER=0,3,1,${freePort()},1`), 6); // no CA
    assert.equal(await h.code(`AT+SKTSERVER=0,2,3,${freePort()},1`), 9);
    assert.equal(await h.code(`AT+SKTSERVER=0,2,4,${freePort()},1`), 10);
    assert.equal(await h.code(`AT+SKTSERVER=0,2,1,${freePort()},1`), 0);
    // Checked suites are remembered by content, never by name: a file
    // changed on "flash" is read and checked again.
    await Deno.copyFile(
      `${base}/CERT/server_key_2.key`,
      `${broken}/CERT/server_key_1.key`,
    );
    assert.equal(await h.code(`AT+SKTSERVER=2,2,1,${freePort()},1`), 10);
    assert.equal(await h.code(`AT+SKTCLIENT=1,3,1,127.0.0.1,1,,1`), 6);
    assert.equal(await nocerts.code(`AT+SKTCLIENT=1,4,1,127.0.0.1,1,,1`), 6);
    const key = await Deno.readTextFile(`${base}/CERT/server_key_2.key`);
    const body = key.split("\n")[1];
    for (const line of logs) {
      assert.ok(!line.includes(body), "a key reached the log");
    }
    assert.ok(logs.some((l) => /server_key_4\.key does not match/.test(l)));
  } finally {
    await h.close();
    await nocerts.close();
    await Deno.remove(broken, { recursive: true });
  }
});

Deno.test({
  name:
    "TT over TLS: 10 MiB through SKTSENDRAW on a type 5 link, checksum equal",
  ignore: !hasOpenssl,
}, async () => {
  const { createHash } = await import("node:crypto");
  const h = await Harness.start({ mode: "host", certs: await pki() });
  const server = await peerServer(1, true);
  try {
    await h.next((e) => e.type === "ready");
    assert.equal(
      await h.code(`AT+SKTCLIENT=0,5,1,127.0.0.1,${server.port},,0`),
      0,
    );
    const socket = await server.connected;
    const size = 10 * 1024 * 1024;
    const data = new Uint8Array(size).map((_, i) => (i * 2246822519) >>> 24);
    const hash = createHash("sha256");
    let received = 0;
    const done = new Promise<void>((resolve) =>
      socket.on("data", (d: Uint8Array) => {
        hash.update(d);
        received += d.length;
        if (received >= size) resolve();
      })
    );
    await h.write(`AT+SKTSENDRAW=0,${size}\r\n`);
    await h.next((e) => e.type === "prompt");
    for (let i = 0; i < size; i += 100_000) {
      await h.write(data.subarray(i, i + 100_000));
    }
    const { event } = await h.next(
      (e) => e.type === "ok" || e.type === "error",
      30000,
    );
    assert.deepEqual(event, { type: "ok" });
    await done;
    assert.equal(
      hash.digest("hex"),
      createHash("sha256").update(data).digest("hex"),
    );
  } finally {
    server.close();
    await h.close();
  }
});

Deno.test({ name: "remove the test PKI", ignore: !hasOpenssl }, async () => {
  if (dir) await Deno.remove(dir, { recursive: true });
});
