/** The example files the README names, run as the README runs them. */
import assert from "node:assert/strict";
import { CLI_MAIN, LOOPBACK_ALL } from "./test_cli.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const decoder = new TextDecoder();

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

function atsock(args: string[], stdin: "piped" | "null" = "null") {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", ...LOOPBACK_ALL, CLI_MAIN, ...args],
    cwd: ROOT,
    stdin,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", RUST_BACKTRACE: "0" },
  });
}

/** Starts an emulator on a TCP console and waits for its banner. */
async function emulator(extra: string[] = []) {
  const port = freePort();
  const child = atsock([
    "emulate",
    "--console",
    `tcp:127.0.0.1:${port}`,
    "--mode",
    "host",
    ...extra,
  ]).spawn();
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let banner = "";
  while (!banner.includes("permissions:")) {
    const { value, done } = await reader.read();
    if (done) break;
    banner += value;
  }
  return {
    port,
    banner,
    async stop() {
      child.kill("SIGTERM");
      let rest = "";
      while (true) {
        const { value, done } = await reader.read();
        if (done) break;
        rest += value;
      }
      await child.stdout.cancel();
      await child.status;
      return rest;
    },
  };
}

Deno.test("examples/smoke.atr passes against the virtual module", async () => {
  const em = await emulator();
  try {
    const out = await atsock([
      "run",
      `tcp:127.0.0.1:${em.port}`,
      "examples/smoke.atr",
      "--var",
      `PORT=${freePort()}`,
      "--json",
    ]).output();
    const report = JSON.parse(decoder.decode(out.stdout));
    assert.equal(out.code, 0, decoder.decode(out.stderr));
    assert.equal(report.failed, 0);
    assert.ok(report.passed >= 10);
  } finally {
    assert.match(await em.stop(), /closed every socket/);
  }
});

Deno.test("examples/plan.json is a valid fault plan: the emulator takes it and its faults fire", async () => {
  const em = await emulator(["--faults", "examples/plan.json"]);
  try {
    assert.match(em.banner, /3 faults from examples\/plan\.json, seed 42/);
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: em.port });
    await conn.write(new TextEncoder().encode("AT+SKTQUERY\r\n"));
    let text = "";
    const buffer = new Uint8Array(4096);
    while (!text.includes("OK\r\n")) {
      const n = await conn.read(buffer);
      if (n === null) break;
      text += decoder.decode(buffer.subarray(0, n));
    }
    conn.close();
    assert.match(text, /\[\$\]\[SKT\]\[DATA\]\[0\]\[5\]:hello/);
  } finally {
    assert.match(await em.stop(), /fault #0/);
  }
});
