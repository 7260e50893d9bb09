/**
 * Host library measures against baselines in the same run (loopback only,
 * bounded):
 *
 *   deno run -A tools/measure_host.ts [stream|commands|all]
 *
 * - stream: 32 MiB from a host program to a TCP peer through the virtual
 *   module's TCP console, written through a socket-like link
 *   (`linkStreams(...).writable`, SKTSENDRAW) vs the TT relay alone (a bare
 *   client writing `AT+SKTSENDRAW` and the raw bytes itself).
 * - commands: `AT+SKTSTATE` per second with one in flight through the
 *   driver vs the raw round trip (bare client writing the line and waiting
 *   for `OK`).
 */

import { createModule, serveTcp } from "@atsock/device";
import { AtDriver, connectTcp, linkStreams } from "@atsock/host";
import { writeAll } from "@atsock/tty";
import { toolArgs } from "./args.ts";
import { readUntilText, sinkPeer } from "./loopback.ts";

const encoder = new TextEncoder();

function emulator() {
  // The TT relay baseline writes without looking at watermarks: RTS holds
  // it back (without flow control the module drops what it cannot take).
  const module = createModule({ mode: "host", flowControl: "rts" });
  const console = serveTcp(module, { port: 0 });
  return {
    module,
    console,
    close: async () => {
      await console.close();
      await module.close();
    },
  };
}

const SIZE = 32 * 1024 * 1024;
const data = new Uint8Array(SIZE).map((_, i) => (i * 131) & 0xff);

/** A bare console client (no driver) on `port`, once the module is ready. */
async function bareClient(port: number): Promise<Deno.TcpConn> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  conn.setNoDelay(true);
  await readUntilText(conn, "ATCMD READY");
  return conn;
}

async function relayAlone(): Promise<number> {
  const e = await emulator();
  const peer = sinkPeer();
  const conn = await bareClient(e.console.port);
  const draining = peer.drain(SIZE);
  await writeAll(
    conn,
    encoder.encode(`AT+SKTCLIENT=0,1,,127.0.0.1,${peer.port},,0\r\n`),
  );
  await readUntilText(conn, "OK\r\n");
  const t = performance.now();
  await writeAll(conn, encoder.encode(`AT+SKTSENDRAW=0,${SIZE}\r\n`));
  await readUntilText(conn, ">>>\r\n");
  const reading = readUntilText(conn, "\r\nOK\r\n");
  for (let i = 0; i < SIZE; i += 256 * 1024) {
    await writeAll(conn, data.subarray(i, i + 256 * 1024));
  }
  await reading;
  await draining;
  const seconds = (performance.now() - t) / 1000;
  conn.close();
  peer.close();
  await e.close();
  return SIZE / seconds / 1e6;
}

async function throughLibrary(): Promise<number> {
  const e = await emulator();
  const peer = sinkPeer();
  // The module has RTS flow control (see emulator()): the driver is told.
  const driver = new AtDriver(await connectTcp({ port: e.console.port }), {
    flowControl: "rts",
  });
  await driver.waitReady();
  const draining = peer.drain(SIZE);
  await driver.connect({
    linkId: 0,
    host: "127.0.0.1",
    port: peer.port,
    autoReceive: false,
  });
  const link = linkStreams(driver, 0, { read: "poll" });
  const t = performance.now();
  const writer = link.writable.getWriter();
  for (let i = 0; i < SIZE; i += 1024 * 1024) {
    await writer.write(data.subarray(i, i + 1024 * 1024));
  }
  await draining;
  const seconds = (performance.now() - t) / 1000;
  writer.releaseLock();
  await driver.close();
  peer.close();
  await e.close();
  return SIZE / seconds / 1e6;
}

async function stream(): Promise<string> {
  const base: number[] = [], ours: number[] = [];
  for (let round = 0; round < 3; round++) {
    base.push(await relayAlone());
    ours.push(await throughLibrary());
  }
  const b = Math.max(...base), o = Math.max(...ours);
  return `| stream to a TCP peer through the host library (socket-like link, SKTSENDRAW), 32 MiB | ${
    o.toFixed(0)
  } MB/s | TT relay alone: ${b.toFixed(0)} MB/s | ${
    (o / b).toFixed(2)
  }x (target ≥ 0.7x) |`;
}

async function commands(): Promise<string> {
  const N = 3000;
  const e = await emulator();
  const conn = await bareClient(e.console.port);
  const line = encoder.encode("AT+SKTSTATE\r\n");
  const raw = async () => {
    const t = performance.now();
    for (let i = 0; i < N; i++) {
      await writeAll(conn, line);
      await readUntilText(conn, "OK\r\n");
    }
    return N / ((performance.now() - t) / 1000);
  };
  const e2 = await emulator();
  const driver = new AtDriver(await connectTcp({ port: e2.console.port }));
  await driver.waitReady();
  const lib = async () => {
    const t = performance.now();
    for (let i = 0; i < N; i++) await driver.state();
    return N / ((performance.now() - t) / 1000);
  };
  const r1 = await raw(), l1 = await lib(), r2 = await raw(), l2 = await lib();
  const base = Math.max(r1, r2), ours = Math.max(l1, l2);
  conn.close();
  await driver.close();
  await e.close();
  await e2.close();
  return `| AT+SKTSTATE commands per second, one in flight, through the driver | ${
    ours.toFixed(0)
  }/s | raw round trip on the same console: ${base.toFixed(0)}/s | ${
    (ours / base).toFixed(2)
  }x (target ≥ 0.5x) |`;
}

const { positionals } = toolArgs({
  name: "measure_host",
  summary: "host library measures against baselines in the same run",
  usage: "deno run -A tools/measure_host.ts [stream|commands|all]",
  options: {},
  positionals: { min: 0, max: 1, choices: ["stream", "commands", "all"] },
});
const which = positionals[0] ?? "all";
console.log("| measure | atsock | baseline (same run) | ratio |");
console.log("| --- | --- | --- | --- |");
if (which === "all" || which === "stream") console.log(await stream());
if (which === "all" || which === "commands") console.log(await commands());
