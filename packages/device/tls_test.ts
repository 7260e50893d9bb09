import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  connect as tlsConnect,
  createServer,
  type TlsOptions,
  type TLSSocket,
} from "node:tls";
import type { AddressInfo } from "node:net";
import { concat, encode } from "@atsock/protocol";
import { makePki } from "@atsock/device/pki";
import { listenTls } from "./tls.ts";
import { freePort, Harness, oddChunks, randomBytes } from "./test_util.ts";

const hasOpenssl = await new Deno.Command("openssl", {
  args: ["version"],
  stdout: "null",
  stderr: "null",
})
  .output().then((o) => o.success, () => false);

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

/**
 * The test PKI: suites 1 and 2 with their own CAs, and suite 3 (its own CA)
 * whose server certificate names only `atsock.invalid`, for name checks.
 */
let dir = "";
async function pki(): Promise<string> {
  if (!dir) {
    dir = await Deno.makeTempDir({ prefix: "atsock-tls-test-" });
    await makePki(dir, { suites: [1, 2] });
    await makePki(dir, { suites: [3], serverHosts: ["atsock.invalid"] });
  }
  return dir;
}
const pem = async (name: string) =>
  await Deno.readTextFile(`${await pki()}/CERT/${name}`);

/** Why a client link failed, as the module logs it. */
const REASON = {
  /** The peer server broke the handshake off: it refused our certificate or its absence. */
  serverRefused:
    /ERROR: 14: handshake: (Client network socket disconnected before secure TLS connection was established|received fatal alert: (CertificateRequired|UnknownCA|BadCertificate|HandshakeFailure))$/,
  /** The module refused the server's certificate chain. */
  clientRefused:
    /ERROR: 14: (handshake: (self-signed certificate in certificate chain|unable to verify the first certificate|unable to get local issuer certificate)|server certificate refused: .+)$/,
};

/** Polls `check` (bounded) until it holds. */
async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Everything a node socket receives, and a way to wait for an amount. */
function sink(socket: TLSSocket) {
  const parts: Uint8Array[] = [];
  let total = 0;
  let waiter: { n: number; resolve: () => void } | undefined;
  socket.on("data", (d: Uint8Array) => {
    parts.push(new Uint8Array(d));
    total += d.length;
    if (waiter && total >= waiter.n) waiter.resolve();
  });
  return {
    get total() {
      return total;
    },
    bytes: () => concat(parts),
    /** Resolves once `n` bytes have come, or rejects after `ms`. */
    waitFor(n: number, ms = 30000): Promise<void> {
      if (total >= n) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`only ${total} of ${n} bytes arrived`)),
          ms,
        );
        waiter = {
          n,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        };
      });
    },
  };
}

/**
 * A node:tls peer server with suite `suite`'s certificate. `requireCert`
 * demands a client certificate signed by suite `caSuite`'s CA.
 */
async function peerServer(suite: number, requireCert = false, caSuite = suite) {
  const options: TlsOptions = {
    cert: await pem(`server_cert_${suite}.crt`),
    key: await pem(`server_key_${suite}.key`),
    ca: await pem(`server_ca_${caSuite}.crt`),
    requestCert: requireCert,
    rejectUnauthorized: requireCert,
  };
  const server = createServer(options);
  const sockets: TLSSocket[] = [];
  const servernames: (string | undefined)[] = [];
  let accepted: (s: TLSSocket) => void = () => {};
  let next = new Promise<TLSSocket>((r) => (accepted = r));
  server.on("secureConnection", (s: TLSSocket) => {
    sockets.push(s);
    servernames.push(
      (s as TLSSocket & { servername?: string }).servername || undefined,
    );
    s.on("error", () => {});
    accepted(s);
  });
  server.on("tlsClientError", () => {});
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return {
    port: (server.address() as AddressInfo).port,
    /** The SNI names clients sent (undefined: none). */
    servernames,
    /** The next accepted connection (bounded wait). */
    async connected(ms = 5000): Promise<TLSSocket> {
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        return await Promise.race([
          next,
          new Promise<never>((_, reject) => {
            timer = setTimeout(
              () => reject(new Error("no TLS client came")),
              ms,
            );
          }),
        ]);
      } finally {
        clearTimeout(timer);
        next = new Promise<TLSSocket>((r) => (accepted = r));
      }
    },
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

/** A node:tls client of the module's server; resolves once the handshake is over, either way. */
function tlsClient(
  port: number,
  options: { ca?: string; cert?: string; key?: string },
): Promise<{ socket: TLSSocket; ok: boolean }> {
  const socket = tlsConnect({
    host: "127.0.0.1",
    port,
    rejectUnauthorized: options.ca !== undefined,
    ...options,
  });
  return new Promise((resolve) => {
    socket.once("secureConnect", () => resolve({ socket, ok: true }));
    socket.once("error", () => resolve({ socket, ok: false }));
    socket.once("close", () => resolve({ socket, ok: false }));
  });
}

Deno.test({
  name:
    "TLS clients of every type against node:tls peers: verification enforced both ways, reasons logged",
  ignore: !hasOpenssl,
}, async (t) => {
  const logs: string[] = [];
  const h = await Harness.start({
    mode: "host",
    certs: await pki(),
    log: (m) => logs.push(m),
  });
  const plain = await peerServer(1); // suite 1, asks for no certificate
  const mutual = await peerServer(1, true); // suite 1, demands a suite 1 client
  const foreign = await peerServer(2); // another CA's server
  const foreignMutual = await peerServer(2, true); // another CA's, demanding suite 2
  // Suite 2's server certificate, but it trusts only suite 1's CA for clients.
  const crossed = await peerServer(2, true, 1);
  const misnamed = await peerServer(3); // names only atsock.invalid
  let id = 0;
  /** Runs SKTCLIENT; on failure, returns the log line that gave the reason. */
  const client = async (
    type: number,
    index: number | "",
    host: string,
    port: number,
  ) => {
    logs.length = 0;
    const linkId = id++;
    const code = await h.code(
      `AT+SKTCLIENT=${linkId},${type},${index},${host},${port},,1`,
    );
    return { code, linkId, reason: logs.join("\n") };
  };
  try {
    await t.step(
      "type 2 verifies nothing: another CA's server is taken",
      async () => {
        assert.equal((await client(2, "", "127.0.0.1", foreign.port)).code, 0);
      },
    );
    await t.step(
      "type 2 has no certificate: a server demanding one breaks off (14)",
      async () => {
        const r = await client(2, "", "127.0.0.1", mutual.port);
        assert.equal(r.code, 14);
        assert.match(r.reason, REASON.serverRefused);
      },
    );
    await t.step("type 3 verifies the server with the suite's CA", async () => {
      assert.equal((await client(3, 1, "127.0.0.1", plain.port)).code, 0);
      const r = await client(3, 1, "127.0.0.1", foreign.port);
      assert.equal(r.code, 14);
      assert.match(r.reason, REASON.clientRefused);
    });
    await t.step(
      "create_socket_client_tls: no host name is set, so no SNI is sent and the name is not checked (mbedtls 2)",
      async () => {
        // Suite 3's CA trusts the server; the certificate names neither
        // 127.0.0.1 nor localhost: the chain is what counts.
        assert.equal((await client(3, 3, "127.0.0.1", misnamed.port)).code, 0);
        assert.equal((await client(3, 3, "localhost", misnamed.port)).code, 0);
        assert.equal((await client(5, 3, "localhost", misnamed.port)).code, 0);
        // No SNI, by name or by address.
        const before = plain.servernames.length;
        assert.equal((await client(3, 1, "localhost", plain.port)).code, 0);
        assert.equal((await client(3, 1, "127.0.0.1", plain.port)).code, 0);
        await until(
          () => plain.servernames.length === before + 2,
          "two clients",
        );
        assert.deepEqual(plain.servernames.slice(before), [
          undefined,
          undefined,
        ]);
        // The chain still counts: another CA's server is refused.
        const r = await client(3, 1, "localhost", foreign.port);
        assert.equal(r.code, 14);
        assert.match(r.reason, REASON.clientRefused);
      },
    );
    await t.step(
      "type 4 presents its certificate and verifies nothing",
      async () => {
        assert.equal((await client(4, 1, "127.0.0.1", mutual.port)).code, 0);
        assert.equal(
          (await client(4, 2, "127.0.0.1", foreignMutual.port)).code,
          0,
        );
      },
    );
    await t.step(
      "type 4 with another CA's certificate: the server refuses it (14)",
      async () => {
        // Against the same server as the passing suite 1 client: only the client certificate differs.
        const r = await client(4, 2, "127.0.0.1", mutual.port);
        assert.equal(r.code, 14);
        assert.match(r.reason, REASON.serverRefused);
      },
    );
    await t.step("type 5: both sides verify", async () => {
      assert.equal((await client(5, 1, "127.0.0.1", mutual.port)).code, 0);
      // The module trusts the server (suite 2's CA), the server refuses the suite 2 client.
      const refused = await client(5, 2, "127.0.0.1", crossed.port);
      assert.equal(refused.code, 14);
      assert.match(refused.reason, REASON.serverRefused);
      // The server would take a suite 2 client, but the module refuses its CA.
      const untrusted = await client(5, 1, "127.0.0.1", foreignMutual.port);
      assert.equal(untrusted.code, 14);
      assert.match(untrusted.reason, REASON.clientRefused);
    });
    await t.step(
      "create_socket_client_tls: a failed TCP connect is 13; at_sktclient: a host not found is 1",
      async () => {
        assert.equal((await client(2, "", "127.0.0.1", freePort())).code, 13);
        assert.equal(
          (await client(2, "", "no-such-host.invalid", 443)).code,
          1,
        );
      },
    );
    await t.step(
      "data both ways on a TLS client link; ssl in SKTSTATE",
      async () => {
        const server = await plain.connected(); // the first type 3 client
        const state = await h.command("AT+SKTSTATE");
        assert.match(
          state.text,
          new RegExp(
            `link_id:2,client,ssl,src_address:0\\.0\\.0\\.0,src_port:0,dst_address:127\\.0\\.0\\.1,dst_port:${plain.port},socket_fd:\\d+`,
          ),
        );
        const got = sink(server);
        assert.equal(await h.code("AT+SKTSEND=2,5,,,hello"), 0);
        await got.waitFor(5);
        assert.equal(new TextDecoder().decode(got.bytes()), "hello");
        server.write(new Uint8Array([0, 1, 13, 10, 255]));
        const { event } = await h.next((e) =>
          e.type === "data" && e.linkId === 2
        );
        assert.deepEqual(event, {
          type: "data",
          linkId: 2,
          data: new Uint8Array([0, 1, 13, 10, 255]),
        });
      },
    );
  } finally {
    for (
      const s of [plain, mutual, foreign, foreignMutual, crossed, misnamed]
    ) {
      s.close();
    }
    await h.close();
  }
});

Deno.test({
  name: "TLS servers: type 2 and type 3 (client certificate required)",
  ignore: !hasOpenssl,
}, async () => {
  const h = await Harness.start({ mode: "host", certs: await pki() });
  const clients: TLSSocket[] = [];
  try {
    const p2 = freePort(), p3 = freePort();
    assert.equal(await h.code(`AT+SKTSERVER=0,2,1,${p2},1`), 0);
    assert.equal(await h.code(`AT+SKTSERVER=1,3,1,${p3},0`), 0);

    // A client of the type 2 server, verifying the module with suite 1's CA.
    const c1 = await tlsClient(p2, { ca: await pem("client_ca_1.crt") });
    clients.push(c1.socket);
    assert.ok(c1.ok);
    const { event } = await h.next((e) => e.type === "connect");
    assert.equal((event as { protocol: string }).protocol, "tls");
    c1.socket.write("ping");
    const data = await h.next((e) => e.type === "data");
    assert.deepEqual(data.event, {
      type: "data",
      linkId: 2,
      data: encode("ping"),
    });

    // Type 3: no certificate, or another CA's: the handshake fails, no seed.
    const bare = await tlsClient(p3, {});
    clients.push(bare.socket);
    assert.equal(bare.ok, false);
    const wrong = await tlsClient(p3, {
      cert: await pem("client_cert_2.crt"),
      key: await pem("client_key_2.key"),
    });
    clients.push(wrong.socket);
    assert.equal(wrong.ok, false);
    // With suite 1's certificate: a seed.
    const good = await tlsClient(p3, {
      ca: await pem("client_ca_1.crt"),
      cert: await pem("client_cert_1.crt"),
      key: await pem("client_key_1.key"),
    });
    clients.push(good.socket);
    assert.ok(good.ok);
    const seed = await h.next((e) => e.type === "connect");
    assert.equal((seed.event as { serverId: number }).serverId, 1);
    const state = await h.command("AT+SKTSTATE");
    const lines = state.text.split("\r\n").filter((l) =>
      l.startsWith("link_id")
    );
    assert.equal(lines.length, 4, state.text); // two servers, two seeds: the refused got none
    assert.match(lines[0], /^link_id:0,server,ssl,/);
    good.socket.write("x");
    const linkId = (seed.event as { linkId: number }).linkId;
    let read;
    for (let i = 0; i < 50; i++) {
      read = await h.command(`AT+SKTREAD=${linkId},10`);
      if (!/^\+SKTREAD:\d+,0,/.test(read.text)) break;
    }
    assert.match(read!.text, /^\+SKTREAD:\d+,1,x\r\nOK\r\n$/);
  } finally {
    for (const s of clients) s.destroy();
    await h.close();
  }
});

/** A spawned openssl command whose output is gathered as text. */
function openssl(args: string[]) {
  const child = new Deno.Command("openssl", {
    args,
    cwd: `${dir}/CERT`,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let out = "";
  let err = "";
  const decoder = new TextDecoder();
  const pump = async (
    stream: ReadableStream<Uint8Array>,
    add: (s: string) => void,
  ) => {
    for await (const chunk of stream) add(decoder.decode(chunk));
  };
  const pumped = Promise.all([
    pump(child.stdout, (s) => (out += s)),
    pump(child.stderr, (s) => (err += s)),
  ]);
  const stdin = child.stdin.getWriter();
  let exited: Deno.CommandStatus | undefined;
  const status = child.status.then((s) => (exited = s));
  return {
    get out() {
      return out;
    },
    get err() {
      return err;
    },
    /** The exit status once it has exited. */
    get exited() {
      return exited;
    },
    write: (text: string) => stdin.write(encode(text)),
    /** Waits (bounded) until stdout holds `text`. */
    async waitOut(text: string): Promise<void> {
      await until(() => out.includes(text) || exited !== undefined, text);
      assert.ok(out.includes(text), `openssl printed no ${text}: ${err}`);
    },
    /** Waits (bounded) until it exits by itself. */
    async waitExit(): Promise<Deno.CommandStatus> {
      await until(() => exited !== undefined, `openssl ${args[0]} to exit`);
      return exited!;
    },
    /** Kills it if it still runs, and waits for it. */
    async stop(): Promise<void> {
      if (exited === undefined) {
        try {
          child.kill("SIGKILL");
        } catch { /* exited meanwhile */ }
      }
      await status;
      await stdin.close().catch(() => {});
      await pumped;
    },
  };
}

Deno.test({
  name:
    "openssl s_client against a type 3 server: no seed without a certificate or with another CA's, a seed and DATA with suite 1's",
  ignore: !hasOpenssl,
}, async () => {
  const h = await Harness.start({ mode: "host", certs: await pki() });
  const port = freePort();
  const base = [
    "s_client",
    "-connect",
    `127.0.0.1:${port}`,
    "-CAfile",
    "client_ca_1.crt",
    "-verify_return_error",
    "-verify_ip",
    "127.0.0.1",
    "-quiet",
  ];
  const runs: ReturnType<typeof openssl>[] = [];
  try {
    assert.equal(await h.code(`AT+SKTSERVER=0,3,1,${port},1`), 0);
    // Without a certificate and with suite 2's, the module breaks the
    // handshake off: s_client gives up and exits by itself.
    for (
      const extra of [[], [
        "-cert",
        "client_cert_2.crt",
        "-key",
        "client_key_2.key",
      ]]
    ) {
      const run = openssl([...base, ...extra]);
      runs.push(run);
      const status = await run.waitExit();
      assert.equal(status.success, false, run.err);
    }
    const good = openssl([
      ...base,
      "-cert",
      "client_cert_1.crt",
      "-key",
      "client_key_1.key",
    ]);
    runs.push(good);
    const seed = await h.next((e) => e.type === "connect", 10000);
    assert.equal((seed.event as { linkId: number }).linkId, 1);
    await good.write("hello over openssl\n");
    const data = await h.next((e) => e.type === "data", 10000);
    assert.deepEqual(data.event, {
      type: "data",
      linkId: 1,
      data: encode("hello over openssl\n"),
    });
    // The module verified s_client and s_client verified the module.
    assert.equal(good.exited, undefined, good.err);
    const state = await h.command("AT+SKTSTATE");
    const lines = state.text.split("\r\n").filter((l) =>
      l.startsWith("link_id")
    );
    assert.equal(lines.length, 2, state.text); // the server and one seed
    assert.match(lines[1], /^link_id:1,seed,ssl,/);
    assert.deepEqual(h.pending().filter((e) => e.type === "connect"), []);
  } finally {
    for (const run of runs) await run.stop();
    await h.close();
  }
});

Deno.test({
  name:
    "openssl s_server -Verify 1 against a type 4 client: another CA's certificate is 14, suite 1's is OK and data flows",
  ignore: !hasOpenssl,
}, async () => {
  const logs: string[] = [];
  const h = await Harness.start({
    mode: "host",
    certs: await pki(),
    log: (m) => logs.push(m),
  });
  const runs: ReturnType<typeof openssl>[] = [];
  const server = (port: number) =>
    openssl([
      "s_server",
      "-accept",
      `127.0.0.1:${port}`,
      "-naccept",
      "1",
      "-cert",
      "server_cert_1.crt",
      "-key",
      "server_key_1.key",
      "-CAfile",
      "server_ca_1.crt",
      "-Verify",
      "1",
      "-verify_return_error",
    ]);
  try {
    const p1 = freePort();
    const strict = server(p1);
    runs.push(strict);
    await strict.waitOut("ACCEPT");
    assert.equal(await h.code(`AT+SKTCLIENT=0,4,2,127.0.0.1,${p1},,1`), 14);
    assert.match(logs.join("\n"), REASON.serverRefused);

    const p2 = freePort();
    const open = server(p2);
    runs.push(open);
    await open.waitOut("ACCEPT");
    assert.equal(await h.code(`AT+SKTCLIENT=0,4,1,127.0.0.1,${p2},,1`), 0);
    assert.equal(await h.code("AT+SKTSEND=0,15,,,to s_server\\, ok"), 0);
    await open.waitOut("to s_server, ok");
    await open.write("from s_server\n");
    const data = await h.next((e) => e.type === "data", 10000);
    assert.deepEqual(data.event, {
      type: "data",
      linkId: 0,
      data: encode("from s_server\n"),
    });
  } finally {
    for (const run of runs) await run.stop();
    await h.close();
  }
});

Deno.test({
  name:
    "at_sktserver/at_sktclient: a missing file is 1; create_socket_*_tls: 9 unparsable (certificate, key, CA, DER), a key mismatch only fails handshakes, 11 TLS port in use",
  ignore: !hasOpenssl,
}, async () => {
  const base = await pki();
  const broken = await Deno.makeTempDir({ prefix: "atsock-broken-" });
  const copy = (from: string, to = from) =>
    Deno.copyFile(`${base}/CERT/${from}`, `${broken}/CERT/${to}`);
  await Deno.mkdir(`${broken}/CERT`);
  await copy("server_cert_1.crt");
  await copy("server_key_1.key");
  // Suite 3: a certificate that does not parse.
  await Deno.writeTextFile(
    `${broken}/CERT/server_cert_3.crt`,
    "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n",
  );
  await copy("server_key_1.key", "server_key_3.key");
  // Suite 4: suite 1's certificate with suite 2's key.
  await copy("server_cert_1.crt", "server_cert_4.crt");
  await copy("server_key_2.key", "server_key_4.key");
  // Suite 5: a key that does not parse.
  await copy("server_cert_1.crt", "server_cert_5.crt");
  await Deno.writeTextFile(
    `${broken}/CERT/server_key_5.key`,
    "-----BEGIN PRIVATE KEY-----\nAAAAnot a key\n-----END PRIVATE KEY-----\n",
  );
  // Suite 6: good certificate and key, a CA that does not parse (server and client).
  await copy("server_cert_1.crt", "server_cert_6.crt");
  await copy("server_key_1.key", "server_key_6.key");
  for (const side of ["server", "client"]) {
    await Deno.writeTextFile(
      `${broken}/CERT/${side}_ca_6.crt`,
      "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
    );
  }
  // Suite 7: the certificate in DER, as mbedtls would also take: PEM only here.
  await copy("server_key_1.key", "server_key_7.key");
  const der = await new Deno.Command("openssl", {
    args: [
      "x509",
      "-in",
      `${base}/CERT/server_cert_1.crt`,
      "-outform",
      "DER",
      "-out",
      `${broken}/CERT/server_cert_7.crt`,
    ],
  }).output();
  assert.ok(der.success);
  const logs: string[] = [];
  const h = await Harness.start({
    mode: "host",
    certs: broken,
    log: (m) => logs.push(m),
  });
  const nocerts = await Harness.start({ mode: "host" });
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const logged = (pattern: RegExp) =>
    assert.ok(logs.some((l) => pattern.test(l)), logs.join("\n"));
  try {
    assert.equal(await h.code(`AT+SKTSERVER=0,2,8,${freePort()},1`), 1); // no files
    logged(/ERROR: 1: CERT\/server_cert_8\.crt does not exist$/);
    assert.equal(await h.code(`AT+SKTSERVER=0,3,1,${freePort()},1`), 1); // no CA
    logged(/ERROR: 1: CERT\/server_ca_1\.crt does not exist$/);
    assert.equal(await h.code(`AT+SKTSERVER=0,2,3,${freePort()},1`), 9);
    logged(/ERROR: 9: CERT\/server_cert_3\.crt does not parse/);
    // A key that does not match: the server is made, its handshakes fail.
    const mismatched = freePort();
    assert.equal(await h.code(`AT+SKTSERVER=9,2,4,${mismatched},1`), 0);
    assert.equal((await tlsClient(mismatched, {})).ok, false);
    assert.equal(h.module.stats().links, 1);
    assert.equal(await h.code("AT+SKTDEL=9"), 0);
    assert.equal(await h.code(`AT+SKTSERVER=0,2,5,${freePort()},1`), 9);
    logged(
      /ERROR: 9: CERT\/server_key_5\.key does not parse as a private key$/,
    );
    assert.equal(await h.code(`AT+SKTSERVER=0,3,6,${freePort()},1`), 9);
    logged(/ERROR: 9: CERT\/server_ca_6\.crt does not parse/);
    assert.equal(await h.code(`AT+SKTCLIENT=0,3,6,127.0.0.1,1,,1`), 9);
    logged(/ERROR: 9: CERT\/client_ca_6\.crt does not parse/);
    assert.equal(await h.code(`AT+SKTSERVER=0,2,7,${freePort()},1`), 9);
    logged(/CERT\/server_cert_7\.crt (does not parse|is not text)/);
    // A TLS server on a port that is taken.
    const port = (taken.addr as Deno.NetAddr).port;
    assert.equal(await h.code(`AT+SKTSERVER=0,2,1,${port},1`), 11);
    logged(/ERROR: 11: bind TLS port \d+: .*EADDRINUSE/);
    assert.equal(await h.code(`AT+SKTSERVER=0,2,1,${freePort()},1`), 0);
    // Checked suites are remembered by content, never by name: a file
    // changed on "flash" is read and checked again.
    await copy("server_key_2.key", "server_key_1.key");
    const changed = freePort();
    assert.equal(await h.code(`AT+SKTSERVER=2,2,1,${changed},1`), 0);
    assert.equal((await tlsClient(changed, {})).ok, false);
    assert.equal(await h.code(`AT+SKTCLIENT=1,3,1,127.0.0.1,1,,1`), 1);
    assert.equal(await nocerts.code(`AT+SKTCLIENT=1,4,1,127.0.0.1,1,,1`), 1);
    assert.equal(await nocerts.code(`AT+SKTSERVER=1,2,1,${freePort()},1`), 1);
  } finally {
    taken.close();
    await h.close();
    await nocerts.close();
    await Deno.remove(broken, { recursive: true });
  }
});

Deno.test({
  name:
    "private keys never reach the log or the console: store errors, handshake failures, good links",
  ignore: !hasOpenssl,
}, async () => {
  const base = await pki();
  const broken = await Deno.makeTempDir({ prefix: "atsock-keys-" });
  await Deno.mkdir(`${broken}/CERT`);
  for (const name of ["server_cert_1.crt", "server_ca_1.crt"]) {
    await Deno.copyFile(`${base}/CERT/${name}`, `${broken}/CERT/${name}`);
  }
  // Key mismatch (handshakes fail) and a key that does not parse (9), both
  // with a real key's lines in the file.
  await Deno.copyFile(
    `${base}/CERT/server_key_2.key`,
    `${broken}/CERT/server_key_1.key`,
  );
  await Deno.copyFile(
    `${base}/CERT/server_cert_1.crt`,
    `${broken}/CERT/server_cert_2.crt`,
  );
  const real = await Deno.readTextFile(`${base}/CERT/client_key_1.key`);
  await Deno.writeTextFile(
    `${broken}/CERT/server_key_2.key`,
    real.replace(/\n(.)/, "\n!$1"), // a real key's body, spoiled
  );
  const logs: string[] = [];
  const h = await Harness.start({
    mode: "host",
    certs: base,
    log: (m) => logs.push(m),
  });
  const spoiled = await Harness.start({
    mode: "host",
    certs: broken,
    log: (m) => logs.push(m),
  });
  h.transcript = [];
  spoiled.transcript = [];
  const mutual = await peerServer(1, true);
  const foreign = await peerServer(2);
  const clients: TLSSocket[] = [];
  try {
    const mismatched = freePort();
    assert.equal(await spoiled.code(`AT+SKTSERVER=0,2,1,${mismatched},1`), 0);
    const refused = await tlsClient(mismatched, {});
    clients.push(refused.socket);
    assert.equal(refused.ok, false);
    assert.equal(await spoiled.code(`AT+SKTSERVER=1,2,2,${freePort()},1`), 9);
    // Handshake failures as a client, both ways, and a good link.
    assert.equal(
      await h.code(`AT+SKTCLIENT=0,5,2,127.0.0.1,${mutual.port},,1`),
      14,
    );
    assert.equal(
      await h.code(`AT+SKTCLIENT=0,4,2,127.0.0.1,${mutual.port},,1`),
      14,
    );
    assert.equal(
      await h.code(`AT+SKTCLIENT=0,3,1,127.0.0.1,${foreign.port},,1`),
      14,
    );
    assert.equal(
      await h.code(`AT+SKTCLIENT=0,5,1,127.0.0.1,${mutual.port},,1`),
      0,
    );
    // A type 3 server refusing clients, then taking one.
    const port = freePort();
    assert.equal(await h.code(`AT+SKTSERVER=1,3,1,${port},1`), 0);
    for (const suite of [0, 2, 1]) {
      const c = await tlsClient(
        port,
        suite
          ? {
            cert: await pem(`client_cert_${suite}.crt`),
            key: await pem(`client_key_${suite}.key`),
          }
          : {},
      );
      clients.push(c.socket);
      assert.equal(c.ok, suite === 1);
    }
    await h.next((e) => e.type === "connect");
    assert.equal(await h.code("AT+SKTSTATE"), 0);
    assert.ok(logs.length >= 4, logs.join("\n"));

    const seen = [
      logs.join("\n"),
      h.transcript.join(""),
      spoiled.transcript.join(""),
    ]
      .join("\n");
    let lines = 0;
    for (const d of [base, broken]) {
      for await (const entry of Deno.readDir(`${d}/CERT`)) {
        if (!entry.name.endsWith(".key")) continue;
        const text = await Deno.readTextFile(`${d}/CERT/${entry.name}`);
        for (const line of text.split("\n")) {
          if (line === "" || line.startsWith("-----")) continue;
          lines++;
          assert.ok(
            !seen.includes(line),
            `a line of ${entry.name} was printed or logged`,
          );
        }
      }
    }
    assert.ok(lines >= 12, `only ${lines} key lines scanned`);
  } finally {
    for (const c of clients) c.destroy();
    mutual.close();
    foreign.close();
    await h.close();
    await spoiled.close();
    await Deno.remove(broken, { recursive: true });
  }
});

Deno.test({
  name:
    "atcmd_lwip_receive_data: a TLS peer going away (auto_rcv=0): socket_fd stays until SKTREAD drains what came and meets the end (4); then 1 (client and seed)",
  ignore: !hasOpenssl,
}, async () => {
  const h = await Harness.start({ mode: "host", certs: await pki() });
  const peer = await peerServer(1);
  const clients: TLSSocket[] = [];
  const line = async (id: number) => {
    const state = await h.command("AT+SKTSTATE");
    return state.text.split("\r\n").find((l) =>
      l.startsWith(`link_id:${id},`)
    ) ?? "";
  };
  const ended = (n: number) =>
    until(() => h.module.stats().ended >= n, `${n} ended links`);
  try {
    assert.equal(
      await h.code(`AT+SKTCLIENT=0,3,1,127.0.0.1,${peer.port},,0`),
      0,
    );
    const server = await peer.connected();
    server.end("bye");
    await ended(1);
    assert.match(await line(0), /^link_id:0,client,ssl,.*socket_fd:0$/);
    assert.equal(
      (await h.command("AT+SKTREAD=0,10")).text,
      "+SKTREAD:0,3,bye\r\nOK\r\n",
    );
    assert.equal(await h.code("AT+SKTREAD=0,10"), 4);
    assert.match(await line(0), /^link_id:0,client,ssl,.*socket_fd:-1$/);
    assert.equal(await h.code("AT+SKTREAD=0,10"), 1);
    assert.equal(await h.code("AT+SKTSEND=0,1,,,x"), 1);

    // A seed of a type 2 server whose client leaves.
    const port = freePort();
    assert.equal(await h.code(`AT+SKTSERVER=1,2,1,${port},0`), 0);
    const c = await tlsClient(port, { ca: await pem("client_ca_1.crt") });
    clients.push(c.socket);
    assert.ok(c.ok);
    const seed = await h.next((e) => e.type === "connect");
    assert.equal((seed.event as { linkId: number }).linkId, 2);
    c.socket.end("seed bye");
    await ended(2);
    assert.match(await line(2), /^link_id:2,seed,ssl,.*socket_fd:\d+$/);
    assert.equal(
      (await h.command("AT+SKTREAD=2,100")).text,
      "+SKTREAD:2,8,seed bye\r\nOK\r\n",
    );
    assert.equal(await h.code("AT+SKTREAD=2,100"), 4);
    assert.equal(await h.code("AT+SKTREAD=2,100"), 1);
    // The link stays until SKTDEL frees it.
    assert.equal(await h.code("AT+SKTDEL=2"), 0);
    assert.equal(await h.code("AT+SKTDEL=0"), 0);
  } finally {
    for (const c of clients) c.destroy();
    peer.close();
    await h.close();
  }
});

Deno.test({
  name:
    "socket_client_tls_auto_rcv: a TLS peer going away (auto_rcv=1): socket_fd:-1 at once, SKTSEND and SKTREAD are 1",
  ignore: !hasOpenssl,
}, async () => {
  const h = await Harness.start({ mode: "host", certs: await pki() });
  const peer = await peerServer(1);
  try {
    assert.equal(
      await h.code(`AT+SKTCLIENT=0,2,,127.0.0.1,${peer.port},,1`),
      0,
    );
    const server = await peer.connected();
    server.end();
    await until(
      () => h.module.state()[0]?.socketFd === -1,
      "socket_fd:-1",
    );
    assert.equal(await h.code("AT+SKTSEND=0,1,,,x"), 1);
    assert.equal(await h.code("AT+SKTREAD=0,1"), 1);
    assert.equal(await h.code("AT+SKTDEL=0"), 0);
  } finally {
    peer.close();
    await h.close();
  }
});

Deno.test({
  name:
    "TT over TLS: 10 MiB of random bytes in odd chunks through SKTSENDRAW on a type 5 link, checksum equal",
  ignore: !hasOpenssl,
}, async () => {
  const h = await Harness.start({
    mode: "host",
    certs: await pki(),
    flowControl: "rts", // written without looking at watermarks
  });
  const server = await peerServer(1, true);
  try {
    await h.next((e) => e.type === "ready");
    assert.equal(
      await h.code(`AT+SKTCLIENT=0,5,1,127.0.0.1,${server.port},,0`),
      0,
    );
    const got = sink(await server.connected());
    const size = 10 * 1024 * 1024;
    const data = randomBytes(size);
    data.set(encode("\r\n<<<"), 5000);
    await h.write(`AT+SKTSENDRAW=0,${size}\r\n`);
    await h.next((e) => e.type === "prompt");
    for (const chunk of oddChunks(data)) await h.write(chunk);
    const { event } = await h.next(
      (e) => e.type === "ok" || e.type === "error",
      30000,
    );
    assert.deepEqual(event, { type: "ok" });
    await got.waitFor(size);
    assert.equal(got.total, size);
    assert.equal(sha(got.bytes()), sha(data));
  } finally {
    server.close();
    await h.close();
  }
});

Deno.test({
  name:
    "TT over TLS aborted with <<< after 6 MiB of 10 (atcmd_lwip_start_tt_handle): the bytes before and the <<< arrive, ERROR: 4, commands again",
  ignore: !hasOpenssl,
}, async () => {
  const h = await Harness.start({
    mode: "host",
    certs: await pki(),
    flowControl: "rts",
  });
  const server = await peerServer(1);
  try {
    await h.next((e) => e.type === "ready");
    assert.equal(
      await h.code(`AT+SKTCLIENT=0,3,1,127.0.0.1,${server.port},,0`),
      0,
    );
    const got = sink(await server.connected());
    const size = 10 * 1024 * 1024;
    const cut = 6 * 1024 * 1024 + 4321;
    const data = randomBytes(size);
    data[cut - 1] = 0; // not a `<`, so the abort is exactly the three that follow
    await h.write(`AT+SKTSENDRAW=0,${size}\r\n`);
    await h.next((e) => e.type === "prompt");
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
    // Commands again; what follows the prefix on the wire is this SKTSEND.
    assert.equal(await h.code("AT+SKTSEND=0,2,,,ok"), 0);
    await got.waitFor(cut + 5);
    assert.equal(got.total, cut + 5);
    assert.equal(
      sha(got.bytes()),
      sha(concat([data.subarray(0, cut), encode("<<<ok")])),
    );
  } finally {
    server.close();
    await h.close();
  }
});

Deno.test({
  name:
    "a TLS server drops a client that does not finish its handshake in time",
  ignore: !hasOpenssl,
}, async () => {
  let handedOut = 0;
  const port = freePort();
  const listener = await listenTls({
    hostname: "127.0.0.1",
    port,
    type: 2,
    suite: {
      cert: await pem("server_cert_1.crt"),
      key: await pem("server_key_1.key"),
    },
    handshakeTimeoutMs: 200,
  }, (conn) => {
    handedOut++;
    conn.close();
  });
  const silent = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    // Says nothing: the server gives up and closes (bounded by the test's own limit).
    const read = silent.read(new Uint8Array(16));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const result = await Promise.race([
      read,
      new Promise<"late">((r) => (timer = setTimeout(() => r("late"), 10000))),
    ]);
    clearTimeout(timer);
    assert.equal(result, null);
    assert.equal(handedOut, 0);
  } finally {
    silent.close();
    listener.close();
  }
});

Deno.test({
  name:
    "create_socket_client_tls with mbedtls 3: types 3 and 5 fail the handshake (14) for want of a host name; 2 and 4 connect",
  ignore: !hasOpenssl,
}, async () => {
  const logs: string[] = [];
  const h = await Harness.start({
    mode: "host",
    certs: await pki(),
    mbedtls: 3,
    log: (m) => logs.push(m),
  });
  const mutual = await peerServer(1, true);
  try {
    for (const [type, code] of [[3, 14], [5, 14], [2, 14], [4, 0]]) {
      // Type 2 presents no certificate to a server that demands one: 14 as with mbedtls 2.
      const got = await h.code(
        `AT+SKTCLIENT=${type},${type},${
          type === 2 ? "" : 1
        },127.0.0.1,${mutual.port},,1`,
      );
      assert.equal(got, code, `type ${type}`);
    }
    assert.match(logs.join("\n"), /ERROR: 14: mbedtls 3: .*host name/);
    const plain = await peerServer(1);
    try {
      assert.equal(
        await h.code(`AT+SKTCLIENT=10,2,,127.0.0.1,${plain.port},,1`),
        0,
      );
      assert.equal(
        await h.code(`AT+SKTCLIENT=11,3,1,127.0.0.1,${plain.port},,1`),
        14,
      );
    } finally {
      plain.close();
    }
  } finally {
    mutual.close();
    await h.close();
  }
});

Deno.test({
  name:
    "create_socket_client_tls: a client key that does not match its certificate is not refused up front; a server that demands the certificate fails the handshake (14)",
  ignore: !hasOpenssl,
}, async () => {
  const base = await pki();
  const dir = await Deno.makeTempDir({ prefix: "atsock-mismatch-" });
  await Deno.mkdir(`${dir}/CERT`);
  await Deno.copyFile(
    `${base}/CERT/client_cert_1.crt`,
    `${dir}/CERT/client_cert_1.crt`,
  );
  await Deno.copyFile(
    `${base}/CERT/client_key_2.key`,
    `${dir}/CERT/client_key_1.key`,
  );
  const h = await Harness.start({ mode: "host", certs: dir });
  const mutual = await peerServer(1, true);
  const plain = await peerServer(1);
  try {
    assert.equal(
      await h.code(`AT+SKTCLIENT=0,4,1,127.0.0.1,${mutual.port},,1`),
      14,
    );
    // A server that asks for no certificate never needs the key.
    assert.equal(
      await h.code(`AT+SKTCLIENT=1,4,1,127.0.0.1,${plain.port},,1`),
      0,
    );
  } finally {
    mutual.close();
    plain.close();
    await h.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({ name: "remove the test PKI", ignore: !hasOpenssl }, async () => {
  if (dir) await Deno.remove(dir, { recursive: true });
});
