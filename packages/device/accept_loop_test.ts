import assert from "node:assert/strict";
import { acceptLoop } from "./accept_loop.ts";
import { createModule } from "./module.ts";
import { serveTcp } from "./consoles.ts";
import { connect as tlsConnect } from "node:tls";
import { makePki } from "@atsock/device/pki";
import {
  resetConnect,
  resetsSupported,
  stalledConnections,
} from "./attacks.ts";
import { listenTls, TLS_HANDSHAKES_IN_PROGRESS } from "./tls.ts";
import { freePort, Harness } from "./test_util.ts";

const ffi = resetsSupported();

/** Reads from `conn` until `text` has come, within a generous bound. */
async function readUntil(conn: Deno.Conn, text: string): Promise<string> {
  const buffer = new Uint8Array(4096);
  let seen = "";
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"late">((resolve) => {
    timer = setTimeout(() => resolve("late"), 20000);
  });
  try {
    while (!seen.includes(text)) {
      const n = await Promise.race([conn.read(buffer), late]);
      if (n === "late") throw new Error(`no "${text}" in 20 s: ${seen}`);
      if (n === null) throw new Error(`closed before "${text}": ${seen}`);
      seen += new TextDecoder().decode(buffer.subarray(0, n));
    }
    return seen;
  } finally {
    clearTimeout(timer);
  }
}

Deno.test({
  name:
    "accept loop: the TCP console still greets clients after resets before accept",
  ignore: !ffi,
  fn: async () => {
    const module = createModule({ mode: "host" });
    const logs: string[] = [];
    const console = serveTcp(module, { port: 0, log: (m) => logs.push(m) });
    try {
      for (let i = 0; i < 20; i++) assert.ok(resetConnect(console.port));
      const conn = await Deno.connect({ port: console.port });
      try {
        await readUntil(conn, "ATCMD READY");
      } finally {
        conn.close();
      }
    } finally {
      await console.close();
      await module.close();
    }
  },
});

Deno.test({
  name:
    "accept loop: a TCP server still makes seeds after resets before accept",
  ignore: !ffi,
  fn: async () => {
    const h = await Harness.start({ mode: "host" });
    const port = freePort();
    try {
      await h.next((e) => e.type === "ready");
      assert.equal(await h.code(`AT+SKTSERVER=0,1,,${port},1`), 0);
      for (let i = 0; i < 20; i++) assert.ok(resetConnect(port));
      const peer = await Deno.connect({ port });
      try {
        const { event } = await h.next((e) => e.type === "connect");
        assert.equal(event.type, "connect");
      } finally {
        peer.close();
      }
    } finally {
      await h.close();
    }
  },
});

/** A listener whose accept fails with each of `errors` in turn, then waits. */
function failingListener(errors: Error[]) {
  let closed = false;
  let wake: (() => void) | undefined;
  const listener = {
    accept(): Promise<Deno.Conn> {
      const error = errors.shift();
      if (error) return Promise.reject(error);
      return new Promise((_, reject) => {
        wake = () => reject(new Deno.errors.BadResource("closed"));
        if (closed) wake();
      });
    },
    close() {
      closed = true;
      wake?.();
    },
  };
  return listener;
}

Deno.test("acceptLoop: resets, EMFILE, ENFILE and ECONNABORTED never end it; each kind logged once", async () => {
  const emfile = () =>
    Object.assign(new Error("Too many open files (os error 24)"), {
      code: "EMFILE",
    });
  const errors = [
    new Deno.errors.NotConnected(
      "Transport endpoint is not connected (os error 107)",
    ),
    new Deno.errors.NotConnected(
      "Transport endpoint is not connected (os error 107)",
    ),
    emfile(),
    emfile(),
    new Error("Too many open files in system (os error 23)"),
    new Deno.errors.ConnectionAborted(
      "Software caused connection abort (os error 103)",
    ),
  ];
  const listener = failingListener([...errors]);
  const logs: string[] = [];
  const stats = { accepted: 0, errors: new Map<string, number>() };
  const loop = acceptLoop(
    listener as unknown as Deno.Listener,
    () => {},
    { name: "test", log: (m) => logs.push(m) },
    stats,
  );
  // Every error is taken and the loop waits in a new accept.
  for (let i = 0; i < 1000 && errors.length > 0; i++) {
    const seen = [...stats.errors.values()].reduce((a, b) => a + b, 0);
    if (seen === errors.length) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  listener.close();
  await loop;
  assert.deepEqual(Object.fromEntries(stats.errors), {
    ENOTCONN: 2,
    EMFILE: 2,
    ENFILE: 1,
    ECONNABORTED: 1,
  });
  assert.equal(logs.length, 4);
  assert.match(logs[1], /EMFILE.*back-off/);
});

const hasOpenssl = await new Deno.Command("openssl", {
  args: ["version"],
  stdout: "null",
  stderr: "null",
}).output().then((o) => o.success, () => false);

Deno.test({
  name:
    "listenTls: at most TLS_HANDSHAKES_IN_PROGRESS handshakes at once; the oldest goes, an honest client still gets through",
  ignore: !hasOpenssl,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "atsock-cap-" });
    await makePki(dir, { suites: [1] });
    const suite = {
      cert: await Deno.readTextFile(`${dir}/CERT/server_cert_1.crt`),
      key: await Deno.readTextFile(`${dir}/CERT/server_key_1.key`),
    };
    const seeds: { close(): void }[] = [];
    const server = await listenTls(
      { hostname: "127.0.0.1", port: 0, type: 2, suite },
      (conn) => seeds.push(conn),
    );
    const stalled = await stalledConnections(server.port, 40);
    try {
      for (
        let i = 0;
        i < 500 && server.dropped < 40 - TLS_HANDSHAKES_IN_PROGRESS;
        i++
      ) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.equal(server.dropped, 40 - TLS_HANDSHAKES_IN_PROGRESS);
      assert.ok(server.handshaking <= TLS_HANDSHAKES_IN_PROGRESS);
      const socket = await new Promise<{ destroy(): void }>(
        (resolve, reject) => {
          const s = tlsConnect(
            { host: "127.0.0.1", port: server.port, rejectUnauthorized: false },
            () => resolve(s),
          );
          s.once("error", reject);
        },
      );
      for (let i = 0; i < 500 && seeds.length === 0; i++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.equal(seeds.length, 1);
      socket.destroy();
    } finally {
      stalled.close();
      for (const seed of seeds) seed.close();
      server.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
