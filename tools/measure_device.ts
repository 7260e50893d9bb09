/**
 * Measures the virtual module against baselines taken in the same run
 * (these machines are noisy). Loopback only; every loop is bounded.
 *
 *   deno run -A tools/measure_device.ts [roundtrip|autorcv|baud|memory|tt|tls|all]
 *
 * Prints a Markdown table row per measure, for docs/benchmarks.md.
 * `MEASURE_ROUNDS=N` sets the rounds of the throughput measures (default
 * 5; 3 for auto_rcv). `tools/compare_device.sh` runs this file against an
 * older tree too.
 */

import {
  acceptLoop,
  createModule,
  serveTcp,
  type VirtualModule,
} from "@atsock/device";
import { toolArgs } from "./args.ts";

const encoder = new TextEncoder();

/** Rounds of a throughput measure (`MEASURE_ROUNDS`, else `fallback`). */
function rounds(fallback: number): number {
  const n = Number(Deno.env.get("MEASURE_ROUNDS"));
  return Number.isInteger(n) && n > 0 ? n : fallback;
}

/**
 * The TT measure writes without looking at watermarks, so the emulator
 * holds its console back (RTS) where the tree has the option: the default
 * (no flow control, as the firmware) drops what its full buffer cannot take.
 */
const FLOW_RTS: string[] = (() => {
  try {
    const emulate = Deno.readTextFileSync(
      new URL("../packages/cli/emulate.ts", import.meta.url),
    );
    return emulate.includes("--flow-control") ? ["--flow-control", "rts"] : [];
  } catch {
    return [];
  }
})();

function listen() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  return { listener, port: (listener.addr as Deno.NetAddr).port };
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let n = 0;
  while (n < data.length) n += await conn.write(data.subarray(n));
}

/** Reads until `done(total, chunk)` says so; returns the bytes counted. */
async function readUntil(
  conn: Deno.Conn,
  done: (total: number, chunk: Uint8Array) => boolean,
): Promise<number> {
  const buf = new Uint8Array(256 * 1024);
  let total = 0;
  while (true) {
    const n = await conn.read(buf);
    if (n === null) return total;
    total += n;
    if (done(total, buf.subarray(0, n))) return total;
  }
}

/** Runs `atsock emulate` in its own process on a TCP console. */
async function startEmulator() {
  const port = (() => {
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const p = (l.addr as Deno.NetAddr).port;
    l.close();
    return p;
  })();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      new URL("../packages/cli/main.ts", import.meta.url).pathname,
      "emulate",
      "--mode",
      "host",
      "--console",
      `tcp:127.0.0.1:${port}`,
      ...FLOW_RTS,
    ],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  let conn: Deno.TcpConn | undefined;
  for (let i = 0; i < 200 && !conn; i++) {
    try {
      conn = await Deno.connect({ hostname: "127.0.0.1", port });
    } catch {
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  if (!conn) throw new Error("the emulator did not start");
  conn.setNoDelay(true);
  await readUntil(conn, (total) => total >= 13);
  return {
    conn,
    close: async () => {
      conn.close();
      child.kill("SIGTERM");
      await child.status;
    },
  };
}

async function startModule(baud?: number) {
  const module = createModule({ mode: "host", baud });
  const console = serveTcp(module, { port: 0 });
  const conn = await Deno.connect({
    hostname: "127.0.0.1",
    port: console.port,
  });
  conn.setNoDelay(true);
  // Swallow ATCMD READY.
  await readUntil(conn, (total) => total >= 13);
  return {
    module,
    conn,
    close: async () => {
      conn.close();
      await console.close();
      await module.close();
    },
  };
}

function endsWith(chunk: Uint8Array, text: string): boolean {
  const tail = chunk.subarray(chunk.length - text.length);
  return new TextDecoder().decode(tail) === text;
}

async function roundtrip(): Promise<string> {
  const N = 2000;
  // Baseline: a raw Deno TCP echo round trip with the same 13 + ~180 bytes.
  const { listener, port } = listen();
  acceptLoop(listener, (c) => {
    (async () => {
      c.setNoDelay(true);
      const buf = new Uint8Array(4096);
      let n;
      while ((n = await c.read(buf)) !== null) {
        // Answer with as many bytes as an SKTQUERY answer has.
        await writeAll(c, new Uint8Array(183).fill(n > 0 ? 65 : 66));
      }
      c.close();
    })().catch(() => {});
  }, { name: "roundtrip baseline peer" });
  const echo = await Deno.connect({ hostname: "127.0.0.1", port });
  echo.setNoDelay(true);
  const query = encoder.encode("AT+SKTQUERY\r\n");
  const timeEcho = async () => {
    const t = performance.now();
    for (let i = 0; i < N; i++) {
      await writeAll(echo, query);
      await readUntil(echo, (total) => total >= 183);
    }
    return (performance.now() - t) / N;
  };
  const m = await startModule();
  const timeModule = async () => {
    const t = performance.now();
    for (let i = 0; i < N; i++) {
      await writeAll(m.conn, query);
      await readUntil(m.conn, (_, chunk) => endsWith(chunk, "\r\nOK\r\n"));
    }
    return (performance.now() - t) / N;
  };
  // Interleave to share the noise.
  const e1 = await timeEcho(), m1 = await timeModule();
  const e2 = await timeEcho(), m2 = await timeModule();
  const base = (e1 + e2) / 2, ours = (m1 + m2) / 2;
  echo.close();
  listener.close();
  await m.close();
  return `| AT+SKTQUERY round trip over the TCP console | ${
    (ours * 1000).toFixed(0)
  } µs | raw TCP echo round trip ${(base * 1000).toFixed(0)} µs | ${
    (ours / base).toFixed(2)
  }x the baseline's time (target ≤ 2x) |`;
}

/** Seconds for socat to relay `data` from a TCP peer to a TCP reader. */
async function relayViaSocat(data: Uint8Array): Promise<number> {
  const SIZE = data.length;
  // Baseline: socat relaying the same bytes from a peer to a reader.
  const sink = listen();
  const relayPort = (() => {
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const p = (l.addr as Deno.NetAddr).port;
    l.close();
    return p;
  })();
  const socat = new Deno.Command("socat", {
    args: [
      "-b",
      "65536",
      `TCP-LISTEN:${relayPort},bind=127.0.0.1,reuseaddr`,
      `TCP:127.0.0.1:${sink.port}`,
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  let src: Deno.TcpConn | undefined;
  for (let i = 0; i < 100 && !src; i++) {
    try {
      src = await Deno.connect({ hostname: "127.0.0.1", port: relayPort });
    } catch {
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  const dst = await sink.listener.accept();
  const t = performance.now();
  const sending2 = writeAll(src!, data);
  await readUntil(dst, (total) => total >= SIZE);
  const socatSeconds = (performance.now() - t) / 1000;
  await sending2;
  src!.close();
  dst.close();
  sink.listener.close();
  socat.kill();
  await socat.status;
  return socatSeconds;
}

/**
 * Link 0 of the module on `m.conn` made a TCP client (`auto_rcv` as given)
 * of a fresh loopback peer: the peer and its end of the link.
 */
async function clientLink(m: { conn: Deno.Conn }, autoRcv: 0 | 1) {
  const peer = listen();
  const accepted = peer.listener.accept();
  await writeAll(
    m.conn,
    encoder.encode(`AT+SKTCLIENT=0,1,,127.0.0.1,${peer.port},,${autoRcv}\r\n`),
  );
  await readUntil(m.conn, (_, chunk) => endsWith(chunk, "\r\nOK\r\n"));
  return { peer, conn: await accepted };
}

async function autorcv(): Promise<string> {
  const SIZE = 32 * 1024 * 1024;
  const data = new Uint8Array(SIZE).map((_, i) => (i * 131) & 0xff);
  const viaModule = async (): Promise<number> => {
    // The module runs in its own process (the CLI), as a user runs it.
    const m = await startEmulator();
    const { peer, conn } = await clientLink(m, 1);
    const t = performance.now();
    const sending = writeAll(conn, data);
    // Count payload bytes with a minimal DATA-line skipper (headers are
    // ASCII, payloads skipped by length), as light as the baseline's reader.
    let payload = 0;
    let skip = 0; // payload bytes (plus CR LF) still to skip
    let header = "";
    const buf = new Uint8Array(256 * 1024);
    while (payload < SIZE) {
      const n = await m.conn.read(buf);
      if (n === null) break;
      let i = 0;
      while (i < n) {
        if (skip > 0) {
          const take = Math.min(skip, n - i);
          skip -= take;
          i += take;
          continue;
        }
        const byte = buf[i++];
        header += String.fromCharCode(byte);
        if (byte === 0x3a) {
          const len = Number(/\[(\d+)\]:$/.exec(header)?.[1] ?? 0);
          payload += len;
          skip = len + 2;
          header = "";
        }
      }
    }
    const moduleSeconds = (performance.now() - t) / 1000;
    await sending;
    conn.close();
    peer.listener.close();
    await m.close();

    return moduleSeconds;
  };
  const viaSocat = () => relayViaSocat(data);
  // Alternate, three rounds each, and take the best of each (least noise).
  const mine: number[] = [], theirs: number[] = [];
  for (let round = 0; round < rounds(3); round++) {
    mine.push(await viaModule());
    theirs.push(await viaSocat());
  }
  const moduleSeconds = Math.min(...mine), socatSeconds = Math.min(...theirs);
  const ours = SIZE / moduleSeconds / 1e6, base = SIZE / socatSeconds / 1e6;
  return `| auto_rcv delivery, TCP peer to console as DATA lines (32 MiB) | ${
    ours.toFixed(0)
  } MB/s | socat relay ${base.toFixed(0)} MB/s | ${
    (ours / base).toFixed(2)
  }x (target ≥ 0.5x) |`;
}

async function baud(): Promise<string> {
  const BAUD = 115200;
  const m = await startModule(BAUD);
  const { peer, conn } = await clientLink(m, 1);
  const SIZE = 3 * 11520; // about three seconds of line time
  await writeAll(conn, new Uint8Array(SIZE).fill(0x55));
  // Rate = bytes after the first read / time from the first read to the last.
  const buf = new Uint8Array(65536);
  let total = 0;
  let counted = 0;
  let first = 0;
  let lastAt = 0;
  const expected = SIZE + Math.ceil(SIZE / 16384) * 30; // payload + DATA headers (approx.)
  while (total < expected - 200) {
    const n = await m.conn.read(buf);
    if (n === null) break;
    total += n;
    if (first === 0) first = performance.now();
    else counted += n;
    lastAt = performance.now();
  }
  const rate = counted / ((lastAt - first) / 1000);
  conn.close();
  peer.listener.close();
  await m.close();
  return `| paced console at 115200 baud | ${
    rate.toFixed(0)
  } bytes/s | line rate 11520 bytes/s | ${
    (rate / 11520 * 100).toFixed(1)
  }% (target 95% to 100%) |`;
}

async function memory(): Promise<string> {
  const before = Deno.memoryUsage().rss;
  const peer = listen();
  const peerConns: Deno.Conn[] = [];
  acceptLoop(peer.listener, (c) => peerConns.push(c), {
    name: "memory peer",
  });
  const modules: {
    module: VirtualModule;
    close: () => Promise<void>;
    conn: Deno.TcpConn;
  }[] = [];
  for (let i = 0; i < 20; i++) {
    const m = await startModule();
    modules.push(m);
    for (let id = 0; id < 20; id++) {
      await writeAll(
        m.conn,
        encoder.encode(
          `AT+SKTCLIENT=${id},1,,127.0.0.1,${peer.port},,${id % 2}\r\n`,
        ),
      );
      await readUntil(m.conn, (_, chunk) => endsWith(chunk, "\r\nOK\r\n"));
    }
  }
  // Some traffic on every link so buffers are in use.
  await Promise.all(
    peerConns.map((c) => writeAll(c, new Uint8Array(4096).fill(1))),
  );
  await new Promise((r) => setTimeout(r, 500));
  const links = modules.reduce((n, m) => n + m.module.stats().links, 0);
  const during = Deno.memoryUsage().rss;
  for (const c of peerConns) c.close();
  for (const m of modules) await m.close();
  peer.listener.close();
  return `| 20 modules x 20 links in one process (${links} links) | ${
    (during / 1e6).toFixed(0)
  } MB resident | same process before: ${(before / 1e6).toFixed(0)} MB | +${
    ((during - before) / 1e6).toFixed(0)
  } MB (target total < 200 MB) |`;
}

async function tt(): Promise<string> {
  const SIZE = 32 * 1024 * 1024;
  const data = new Uint8Array(SIZE).map((_, i) => (i * 131) & 0xff);
  const viaModule = async (): Promise<number> => {
    const m = await startEmulator();
    const { peer, conn } = await clientLink(m, 0);
    const t = performance.now();
    await writeAll(m.conn, encoder.encode(`AT+SKTSENDRAW=0,${SIZE}\r\n`));
    await readUntil(m.conn, (_, chunk) => endsWith(chunk, ">>>\r\n"));
    const draining = readUntil(conn, (total) => total >= SIZE);
    // Watermark lines come back meanwhile: drain the console too.
    const console = readUntil(
      m.conn,
      (_, chunk) => endsWith(chunk, "\r\nOK\r\n"),
    );
    await writeAll(m.conn, data);
    await draining;
    const seconds = (performance.now() - t) / 1000;
    await console;
    conn.close();
    peer.listener.close();
    await m.close();
    return seconds;
  };
  const mine: number[] = [], theirs: number[] = [];
  for (let round = 0; round < rounds(5); round++) {
    mine.push(await viaModule());
    theirs.push(await relayViaSocat(data));
  }
  const ours = SIZE / Math.min(...mine) / 1e6;
  const base = SIZE / Math.min(...theirs) / 1e6;
  return `| TT (SKTSENDRAW) from the TCP console to a TCP peer, 32 MiB | ${
    ours.toFixed(0)
  } MB/s | socat relay ${base.toFixed(0)} MB/s | ${
    (ours / base).toFixed(2)
  }x (target ≥ 0.5x) |`;
}

async function tls(): Promise<string> {
  const { makePki } = await import("@atsock/device/pki");
  const tlsMod = await import("node:tls");
  const dir = await Deno.makeTempDir({ prefix: "atsock-measure-" });
  await makePki(dir, { suites: [1] });
  const pem = (f: string) => Deno.readTextFileSync(`${dir}/CERT/${f}`);
  const SIZE = 1024 * 1024;
  const data = new Uint8Array(SIZE).fill(0x5a);
  // A node:tls server that demands a client certificate, and counts bytes.
  let onBytes: (() => void) | undefined;
  let received = 0;
  const server = tlsMod.createServer({
    cert: pem("server_cert_1.crt"),
    key: pem("server_key_1.key"),
    ca: pem("server_ca_1.crt"),
    requestCert: true,
    rejectUnauthorized: true,
  }, (socket) => {
    socket.on("data", (d: Uint8Array) => {
      received += d.length;
      if (received >= SIZE) onBytes?.();
    });
    socket.on("error", () => {});
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as { port: number }).port;
  const arrived = () => new Promise<void>((r) => (onBytes = r));

  const module = createModule({ mode: "host", certs: dir });
  const con = serveTcp(module, { port: 0 });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: con.port });
  conn.setNoDelay(true);
  await readUntil(conn, (total) => total >= 13);
  let id = 0;
  const viaModule = async () => {
    received = 0;
    const done = arrived();
    const t = performance.now();
    await writeAll(
      conn,
      encoder.encode(`AT+SKTCLIENT=${id},5,1,127.0.0.1,${port},,0\r\n`),
    );
    await readUntil(conn, (_, chunk) => endsWith(chunk, "\r\nOK\r\n"));
    await writeAll(conn, encoder.encode(`AT+SKTSENDRAW=${id},${SIZE}\r\n`));
    await readUntil(conn, (_, chunk) => endsWith(chunk, ">>>\r\n"));
    const answered = readUntil(
      conn,
      (_, chunk) => endsWith(chunk, "\r\nOK\r\n"),
    );
    await writeAll(conn, data);
    await done;
    const seconds = (performance.now() - t) / 1000;
    await answered;
    await writeAll(conn, encoder.encode(`AT+SKTDEL=${id}\r\n`));
    await readUntil(conn, (_, chunk) => endsWith(chunk, "\r\nOK\r\n"));
    id = (id + 1) % 20;
    return seconds;
  };
  // The module parses its suite once and reuses the client context: so
  // does the baseline, so that both rounds measure handshake and transfer.
  const context = tlsMod.createSecureContext({
    ca: pem("client_ca_1.crt"),
    cert: pem("client_cert_1.crt"),
    key: pem("client_key_1.key"),
    maxVersion: "TLSv1.2",
  });
  const viaNode = async () => {
    received = 0;
    const done = arrived();
    const t = performance.now();
    const socket = tlsMod.connect({
      host: "127.0.0.1",
      port,
      secureContext: context,
    });
    await new Promise<void>((r, j) => {
      socket.once("secureConnect", () => r());
      socket.once("error", j);
    });
    socket.write(data);
    await done;
    const seconds = (performance.now() - t) / 1000;
    socket.destroy();
    return seconds;
  };
  const mine: number[] = [], theirs: number[] = [];
  for (let round = 0; round < rounds(5); round++) {
    mine.push(await viaModule());
    theirs.push(await viaNode());
  }
  conn.close();
  await con.close();
  await module.close();
  server.close();
  await Deno.remove(dir, { recursive: true });
  const ours = Math.min(...mine), base = Math.min(...theirs);
  return `| TLS type 5 handshake + 1 MiB through the module (SKTCLIENT + SKTSENDRAW) | ${
    (ours * 1000).toFixed(1)
  } ms | plain node:tls client, same certificates: ${
    (base * 1000).toFixed(1)
  } ms | ${(base / ours).toFixed(2)}x the baseline's speed (target ≥ 0.5x) |`;
}

const measures: Record<string, () => Promise<string>> = {
  roundtrip,
  autorcv,
  baud,
  memory,
  tt,
  tls,
};
const { positionals } = toolArgs({
  name: "measure_device",
  summary: "the virtual module against baselines taken in the same run",
  usage: `deno run -A tools/measure_device.ts [${
    [...Object.keys(measures), "all"].join("|")
  }]`,
  options: {},
  positionals: { min: 0, max: 1, choices: [...Object.keys(measures), "all"] },
  epilogue:
    "MEASURE_ROUNDS=N sets the rounds of the throughput measures (default 5; 3 for auto_rcv).",
});
const which = positionals[0] ?? "all";
console.log("| measure | atsock | baseline (same run) | ratio |");
console.log("| --- | --- | --- | --- |");
for (const [name, run] of Object.entries(measures)) {
  if (which === name) console.log(await run());
  if (which !== "all") continue;
  // Each measure in a fresh process, so none inherits another's memory.
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(import.meta.url).pathname, name],
    stderr: "inherit",
  }).output();
  console.log(new TextDecoder().decode(out.stdout).split("\n")[2]);
}
