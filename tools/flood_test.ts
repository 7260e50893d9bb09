import assert from "node:assert/strict";
import { connect as tlsConnect } from "node:tls";
import {
  resetConnect,
  resetsSupported,
  stalledConnections,
} from "../packages/device/attacks.ts";
import { makePki } from "./make_pki.ts";
import {
  ConsoleClient,
  type Emulator,
  freePort,
  startEmulator,
} from "./soak_util.ts";

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
