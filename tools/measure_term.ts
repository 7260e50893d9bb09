/**
 * `atsock term` measures against a baseline in the same run (loopback only,
 * bounded):
 *
 *   deno run -A tools/measure_term.ts
 *
 * - sendfile: 32 MiB from a file to a TCP peer through the virtual module's
 *   TCP console, sent by `atsock term` (a spawned CLI reading
 *   `:sendfile 0 FILE` from a pipe) vs a bare client in this process writing
 *   `AT+SKTSENDRAW` and the raw bytes itself in 64 KiB writes. The term's
 *   time includes its start-up (about 0.2 s), so its ratio is conservative.
 *
 * Three rounds of each, alternating; the best of each is kept.
 */

import { createModule, serveTcp } from "@atsock/device";
import { writeAll } from "@atsock/tty";
import { toolArgs } from "./args.ts";
import { readUntilText, sinkPeer } from "./loopback.ts";

toolArgs({
  name: "measure_term",
  summary: "atsock term's :sendfile against a bare client, in the same run",
  usage: "deno run -A tools/measure_term.ts",
  options: {},
});

const SIZE = 32 * 1024 * 1024;
const ROUNDS = 3;
const MAIN = new URL("../packages/cli/main.ts", import.meta.url).pathname;

/** Runs `atsock term` on the console at `port` with `input` on stdin; its exit code. */
async function term(
  port: number,
  input: string,
  allow: string[] = [],
): Promise<number> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net=127.0.0.1",
      ...allow,
      MAIN,
      "term",
      `tcp:127.0.0.1:${port}`,
      // The module has RTS flow control (see below): the term is told.
      "--flow-control",
      "rts",
    ],
    stdin: "piped",
    stdout: "null",
    stderr: "null",
    env: { NO_COLOR: "1" },
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(input));
  await w.close();
  return (await child.status).code;
}

async function round(
  file: string,
  data: Uint8Array,
  viaTerm: boolean,
): Promise<number> {
  // The bare client ignores watermarks: RTS holds it back (without flow
  // control the module drops what its full buffer cannot take).
  const module = createModule({ mode: "host", flowControl: "rts" });
  const console = serveTcp(module, { port: 0 });
  const consolePort = Number(console.address.split(":").pop());
  const peer = sinkPeer();
  try {
    const drained = peer.drain(SIZE);
    const start = performance.now();
    if (viaTerm) {
      const code = await term(
        consolePort,
        `AT+SKTCLIENT=0,1,,127.0.0.1,${peer.port},,0\n:sendfile 0 ${file}\n`,
        [`--allow-read=${file}`],
      );
      if (code !== 0) throw new Error(`term exited ${code}`);
    } else {
      const conn = await Deno.connect({ port: consolePort });
      await readUntilText(conn, "ATCMD READY\r\n");
      await writeAll(
        conn,
        new TextEncoder().encode(
          `AT+SKTCLIENT=0,1,,127.0.0.1,${peer.port},,0\r\n`,
        ),
      );
      await readUntilText(conn, "OK\r\n");
      await writeAll(
        conn,
        new TextEncoder().encode(`AT+SKTSENDRAW=0,${SIZE}\r\n`),
      );
      await readUntilText(conn, ">>>\r\n");
      for (let at = 0; at < SIZE; at += 65536) {
        await writeAll(conn, data.subarray(at, at + 65536));
      }
      await readUntilText(conn, "OK\r\n");
      conn.close();
    }
    await drained;
    return performance.now() - start;
  } finally {
    peer.close();
    await console.close();
    await module.close();
  }
}

/** `atsock term` sending one command and exiting: its fixed cost. */
async function startup(): Promise<number> {
  const module = createModule({ mode: "host" });
  const console = serveTcp(module, { port: 0 });
  const consolePort = Number(console.address.split(":").pop());
  try {
    const start = performance.now();
    await term(consolePort, "AT+SKTSTATE\n");
    return performance.now() - start;
  } finally {
    await console.close();
    await module.close();
  }
}

const dir = await Deno.makeTempDir({ prefix: "atsock-measure-term-" });
try {
  const file = `${dir}/payload.bin`;
  const data = new Uint8Array(SIZE).map((_, i) => (i * 31 + (i >> 10)) & 0xff);
  await Deno.writeFile(file, data);
  const best = { term: Infinity, bare: Infinity, startup: Infinity };
  for (let i = 0; i < ROUNDS; i++) {
    best.bare = Math.min(best.bare, await round(file, data, false));
    best.term = Math.min(best.term, await round(file, data, true));
    best.startup = Math.min(best.startup, await startup());
  }
  const mbps = (ms: number) => (SIZE / 1e6 / (ms / 1000)).toFixed(0);
  console.log(`sendfile ${SIZE / 1048576} MiB through the TCP console:`);
  console.log(
    `  atsock term :sendfile   ${best.term.toFixed(0)} ms  ${
      mbps(best.term)
    } MB/s`,
  );
  console.log(
    `  bare client (baseline)  ${best.bare.toFixed(0)} ms  ${
      mbps(best.bare)
    } MB/s`,
  );
  console.log(
    `  ratio ${(best.bare / best.term).toFixed(2)}x the baseline's rate`,
  );
  const net = best.term - best.startup;
  console.log(
    `  term start-up and exit alone (AT+SKTSTATE only): ${
      best.startup.toFixed(0)
    } ms; without it the term's transfer takes ${net.toFixed(0)} ms, ${
      mbps(net)
    } MB/s, ${(best.bare / net).toFixed(2)}x`,
  );
} finally {
  await Deno.remove(dir, { recursive: true });
}
