import assert from "node:assert/strict";
import { connect as tlsConnect } from "node:tls";
import {
  resetConnect,
  resetsSupported,
  stalledConnections,
} from "@atsock/device/attacks";
import { makePki } from "@atsock/device/pki";
import { freePort } from "./loopback.ts";
import { ConsoleClient, type Emulator, startEmulator } from "./soak_util.ts";

const hasOpenssl = await new Deno.Command("openssl", {
  args: ["version"],
  stdout: "null",
  stderr: "null",
}).output().then((o) => o.success, () => false);
const hasBash = await new Deno.Command("bash", {
  args: ["-c", "ulimit -n 256"],
  stdout: "null",
  stderr: "null",
}).output().then((o) => o.success, () => false);

/** A TLS client that completes its handshake (types 2: no verification). */
function tlsHandshake(port: number): Promise<() => void> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({
      host: "127.0.0.1",
      port,
      rejectUnauthorized: false,
    }, () => resolve(() => socket.destroy()));
    socket.once("error", reject);
  });
}

Deno.test({
  name:
    "flood: under ulimit -n 256, 400 stalled TLS handshakes and resets on every listener; afterwards every server and the console accept again",
  ignore: !hasOpenssl || !hasBash || !resetsSupported(),
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "atsock-flood-" });
    await makePki(dir, { suites: [1] });
    let emulator: Emulator | undefined;
    let console: ConsoleClient | undefined;
    try {
      emulator = await startEmulator(
        ["--mode", "host", "--certs", dir],
        256,
      );
      console = await ConsoleClient.connect(emulator.port);
      await console.waitFor(/ATCMD READY\r\n/);
      const tcpPort = freePort();
      const tlsPort = freePort();
      assert.match(
        await console.command(`AT+SKTSERVER=0,1,,${tcpPort},1`),
        /OK\r\n$/,
      );
      assert.match(
        await console.command(`AT+SKTSERVER=1,2,1,${tlsPort},1`),
        /OK\r\n$/,
      );

      // The flood: 400 TLS clients that never say hello, 100 console
      // clients that hang on, and resets before accept on every listener.
      const stalled = await stalledConnections(tlsPort, 400);
      const waiting = await stalledConnections(emulator.port, 100);
      for (let i = 0; i < 50; i++) {
        resetConnect(tlsPort);
        resetConnect(tcpPort);
        resetConnect(emulator.port);
      }
      stalled.close();
      waiting.close();

      // Every listener accepts again: a TCP seed, a TLS seed, a console client.
      console.clear();
      const tcpPeer = await Deno.connect({ port: tcpPort });
      await console.waitFor(
        /\[link_id:\d+,seed,tcp,[^\]]*\] connected to server\[link_id:0\]/,
      );
      const closeTls = await tlsHandshake(tlsPort);
      await console.waitFor(
        /\[link_id:\d+,seed,tls,[^\]]*\] connected to server\[link_id:1\]/,
      );
      tcpPeer.close();
      closeTls();
      await console.close();
      console = await ConsoleClient.ready(emulator.port);
      assert.match(await console.command("AT+SKTSTATE"), /OK\r\n$/);
    } finally {
      await console?.close();
      await emulator?.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "flood: a TLS server with no handshake cap, out of descriptors (ulimit -n 64, 100 stalled clients), logs EMFILE once and accepts again after",
  ignore: !hasOpenssl || !hasBash,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "atsock-emfile-" });
    await makePki(dir, { suites: [1] });
    const tls = new URL("../packages/device/tls.ts", import.meta.url).href;
    const script = `
      import { listenTls } from ${JSON.stringify(tls)};
      const read = (n) => Deno.readTextFileSync(${
      JSON.stringify(dir)
    } + "/CERT/" + n);
      const server = await listenTls({
        hostname: "127.0.0.1", port: 0, type: 2, maxHandshakes: 100000,
        suite: { cert: read("server_cert_1.crt"), key: read("server_key_1.key") },
        log: (m) => console.log("LOG " + m),
      }, () => console.log("SEED"));
      console.log("PORT " + server.port);
      await new Promise((r) => setTimeout(r, 60000));
    `;
    const quote = (a: string) => `'${a.replaceAll("'", `'\\''`)}'`;
    const child = new Deno.Command("bash", {
      args: [
        "-c",
        `ulimit -n 64 && exec ${quote(Deno.execPath())} eval --no-check ${
          quote(script)
        }`,
      ],
      stdout: "piped",
      stderr: "null",
      env: { NO_COLOR: "1" },
    }).spawn();
    let out = "";
    const reading = (async () => {
      for await (const chunk of child.stdout) {
        out += new TextDecoder().decode(chunk);
      }
    })();
    const until = async (re: RegExp) => {
      for (let i = 0; i < 600 && !re.test(out); i++) {
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.match(out, re);
    };
    try {
      await until(/PORT (\d+)/);
      const port = Number(/PORT (\d+)/.exec(out)![1]);
      const stalled = await stalledConnections(port, 100);
      await until(/accept failed \(EMFILE/);
      stalled.close();
      // The stalled clients are gone: the server frees their descriptors
      // and accepts a real client (bounded retries while it catches up).
      let done = false;
      for (let i = 0; i < 20 && !done; i++) {
        const closeTls = await tlsHandshake(port).catch(() => undefined);
        if (closeTls) {
          closeTls();
          done = true;
        } else await new Promise((r) => setTimeout(r, 500));
      }
      assert.ok(done, `no handshake after the flood: ${out}`);
      await until(/SEED/);
      assert.equal(out.match(/accept failed \(EMFILE/g)?.length, 1, out);
    } finally {
      child.kill("SIGKILL");
      await child.status;
      await reading;
      await Deno.remove(dir, { recursive: true });
    }
  },
});
