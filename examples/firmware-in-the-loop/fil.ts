/**
 * Firmware in the loop: builds the example host firmware (C, Cortex-M3),
 * runs it in `qemu-system-arm -M mps2-an385` with its UART wired to
 * `atsock emulate --console tcp:...`, with a TCP and a UDP peer on
 * loopback, and returns the firmware's own report.
 *
 * `deno task fil` runs the loop once and prints the report; `--faults`
 * runs it under `faults.json` too. `fil_test.ts` checks both.
 *
 * @module
 */

import { createSocket, type Socket } from "node:dgram";

const HERE = new URL(".", import.meta.url).pathname;
const CLI = new URL("../../packages/cli/main.ts", import.meta.url).pathname;
const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** The Debian packages the loop needs, as the skip message names them. */
export const TOOLCHAIN_PACKAGES =
  "gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm";

/** The fault plan of the example, beside this file. */
export const FAULT_PLAN = `${HERE}faults.json`;

/** Why the loop cannot run here (a tool is missing), or undefined. */
export function toolchainMissing(): string | undefined {
  for (const tool of ["arm-none-eabi-gcc", "qemu-system-arm"]) {
    try {
      const out = new Deno.Command(tool, {
        args: ["--version"],
        stdout: "null",
        stderr: "null",
      }).outputSync();
      if (!out.success) return `${tool} --version failed`;
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) {
        return `${tool} is not installed (apt-get install ${TOOLCHAIN_PACKAGES})`;
      }
      throw e;
    }
  }
  return undefined;
}

/** The compiler flags: the driver must build cleanly with these. */
export const CFLAGS = [
  "-mcpu=cortex-m3",
  "-mthumb",
  "-Os",
  "-g",
  "-Wall",
  "-Wextra",
  "-Werror",
  "-ffunction-sections",
  "-fdata-sections",
];

/** Runs a C compiler; its error output becomes the error's message. */
async function compile(
  compiler: string,
  args: string[],
  what: string,
): Promise<void> {
  const out = await new Deno.Command(compiler, {
    args,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`${what}:\n${decoder.decode(out.stderr)}`);
  }
}

/** Builds the firmware into `dir`; returns the ELF's path. */
export async function buildFirmware(dir: string): Promise<string> {
  const elf = `${dir}/fil.elf`;
  await compile("arm-none-eabi-gcc", [
    ...CFLAGS,
    "-specs=nano.specs",
    "-specs=nosys.specs",
    "-nostartfiles",
    "-T",
    `${HERE}firmware/link.ld`,
    "-Wl,--gc-sections",
    "-o",
    elf,
    `${HERE}firmware/board.c`,
    `${HERE}firmware/at_driver.c`,
    `${HERE}firmware/main.c`,
  ], "the firmware did not build");
  return elf;
}

/** Whether a native C compiler (`cc`) is here, for the native build. */
export function nativeCompiler(): boolean {
  try {
    return new Deno.Command("cc", {
      args: ["--version"],
      stdout: "null",
      stderr: "null",
    }).outputSync().success;
  } catch {
    return false;
  }
}

/**
 * Builds the same driver and application for Linux (`board_posix.c`), to
 * talk to a serial device or the emulator's pty; returns the program.
 */
export async function buildNative(dir: string): Promise<string> {
  const exe = `${dir}/fil-native`;
  await compile("cc", [
    "-O2",
    "-Wall",
    "-Wextra",
    "-Werror",
    "-o",
    exe,
    `${HERE}firmware/board_posix.c`,
    `${HERE}firmware/at_driver.c`,
    `${HERE}firmware/main.c`,
  ], "the native build failed");
  return exe;
}

/** FNV-1a, 32 bits: the firmware's checksum. */
export function fnv1a(bytes: Uint8Array): number {
  let h = 2166136261;
  for (const b of bytes) h = Math.imul(h ^ b, 16777619) >>> 0;
  return h >>> 0;
}

/** What the TCP peer answers to `GET n ...;`: the request, then a pattern, n bytes in all. */
export function getReply(request: Uint8Array, n: number): Uint8Array {
  const reply = new Uint8Array(n);
  reply.set(request.subarray(0, Math.min(request.length, n)));
  for (let k = request.length; k < n; k++) reply[k] = (k * 31 + 7) & 0xff;
  return reply;
}

/** What the TCP peer sends for `TXT n;` before it closes. */
export function txtReply(n: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, k) => 97 + k % 26);
}

/** The payload the firmware sends with AT+SKTSENDRAW (as main.c makes it). */
export function putPayload(n = 4096): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 7 + (i >> 8)) & 0xff);
}

/** The peers: a TCP server and a UDP echo, on loopback. */
export interface Peers {
  tcpPort: number;
  udpPort: number;
  /** Connections the TCP peer has accepted. */
  readonly connections: number;
  close(): Promise<void>;
}

const LIMIT = 64 * 1024; // bytes a peer keeps from one connection, at most

/**
 * Starts the peers. The TCP peer reads requests ended by `;`:
 * `GET n ...;` answers {@linkcode getReply} (with `split`: the first half,
 * then the rest once `split` settles, 10 s at most, so a stall has
 * something to hold), `PUT n;` reads n bytes and answers
 * `SUM n <fnv1a hex>;`, `TXT n;` sends n letters and closes.
 * The UDP peer answers each datagram with `PONG ` + the datagram.
 */
export async function startPeers(split?: Promise<void>): Promise<Peers> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  let connections = 0;
  const serve = async (conn: Deno.Conn) => {
    let buf = new Uint8Array(0);
    const take = (n: number) => {
      const head = buf.slice(0, n);
      buf = buf.slice(n);
      return head;
    };
    let put = -1;
    try {
      const chunk = new Uint8Array(16 * 1024);
      while (true) {
        const n = await conn.read(chunk);
        if (n === null) break;
        if (buf.length + n > LIMIT) break;
        const joined = new Uint8Array(buf.length + n);
        joined.set(buf);
        joined.set(chunk.subarray(0, n), buf.length);
        buf = joined;
        while (true) {
          if (put >= 0) {
            if (buf.length < put) break;
            const data = take(put);
            const sum = fnv1a(data).toString(16).padStart(8, "0");
            await conn.write(encoder.encode(`SUM ${put} ${sum};`));
            put = -1;
            continue;
          }
          const end = buf.indexOf(59); // ';'
          if (end < 0) break;
          const request = take(end + 1);
          const [verb, count] = decoder.decode(request).split(/[ ;]/);
          const size = Math.min(Number(count) || 0, 16 * 1024);
          if (verb === "GET") {
            const reply = getReply(request, size);
            if (split) {
              await conn.write(reply.subarray(0, size >> 1));
              let timer: ReturnType<typeof setTimeout> | undefined;
              await Promise.race([
                split,
                new Promise((r) => (timer = setTimeout(r, 10000))),
              ]);
              clearTimeout(timer);
              await conn.write(reply.subarray(size >> 1));
            } else await conn.write(reply);
          } else if (verb === "PUT") put = size;
          else if (verb === "TXT") {
            await conn.write(txtReply(size));
            return;
          }
        }
      }
    } catch {
      // The module closed or reset the connection.
    } finally {
      conns.delete(conn);
      try {
        conn.close();
      } catch { /* closed */ }
    }
  };
  const accepting = (async () => {
    try {
      for await (const conn of listener) {
        connections++;
        conns.add(conn);
        serve(conn);
      }
    } catch { /* closed */ }
  })();
  const udp: Socket = createSocket("udp4");
  udp.on("message", (msg, rinfo) => {
    udp.send(
      Buffer.concat([Buffer.from("PONG "), msg]),
      rinfo.port,
      rinfo.address,
    );
  });
  await new Promise<void>((resolve) => udp.bind(0, "127.0.0.1", resolve));
  return {
    tcpPort: (listener.addr as Deno.NetAddr).port,
    udpPort: udp.address().port,
    get connections() {
      return connections;
    },
    close: async () => {
      listener.close();
      for (const conn of conns) {
        try {
          conn.close();
        } catch { /* closed */ }
      }
      await accepting;
      await new Promise<void>((resolve) => udp.close(() => resolve()));
    },
  };
}

/**
 * For a run under the fault plan: `gate` settles when the module logs that
 * a `peer` fault fired on a link's data (the link has stopped reading), so
 * the peer sends the rest of its reply only then, whatever the load.
 * Give `watch` to {@linkcode runLoop} as `onEmulatorLine`.
 */
export function stallGate(): {
  gate: Promise<void>;
  watch: (line: string) => void;
} {
  let open: () => void = () => {};
  const gate = new Promise<void>((resolve) => (open = resolve));
  return {
    gate,
    watch: (line) => {
      if (/fault #\d+ \(peer on data/.test(line)) open();
    },
  };
}

/** A free UDP port on loopback (bound and released), for the firmware's UDP source port. */
async function freeUdpPort(): Promise<number> {
  const s = createSocket("udp4");
  await new Promise<void>((resolve) => s.bind(0, "127.0.0.1", resolve));
  const port = s.address().port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** Runs `atsock` (this repository's CLI) with `args`. */
export function atsock(args: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net=127.0.0.1",
      "--allow-read",
      "--allow-write",
      "--allow-sys=networkInterfaces",
      "--allow-ffi",
      CLI,
      ...args,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", RUST_BACKTRACE: "0" },
  }).spawn();
}

/** Reads a stream into `sink` line by line; settles when it ends. */
async function lines(
  stream: ReadableStream<Uint8Array>,
  sink: (line: string) => void,
): Promise<void> {
  let rest = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    rest += chunk;
    const parts = rest.split("\n");
    rest = parts.pop()!;
    parts.forEach(sink);
  }
  if (rest) sink(rest);
}

/** Options of {@linkcode runLoop}. */
export interface LoopOptions {
  /**
   * What runs the firmware: the ELF in QEMU (module on a TCP console), or
   * the native build (from {@linkcode buildNative}) on the module's pty.
   */
  firmware: { elf: string } | { native: string };
  /** A fault plan file for the module. */
  faults?: string;
  /** Record the console to this transcript file. */
  transcript?: string;
  /** The peers (started and closed by the caller, so a replay can use them). */
  peers: Peers;
  /** How long the firmware may run (default 60000 ms). */
  timeoutMs?: number;
  /** Called with each line the emulator prints on stderr. */
  onEmulatorLine?: (line: string) => void;
}

/** What one run gave. */
export interface LoopResult {
  /** The firmware's exit status (0 pass, 1 fail), or 124 on timeout. */
  status: number;
  /** The firmware's report lines (`fil: ...`). */
  report: string[];
  /** The emulator's stderr lines (banner, faults that fired). */
  emulator: string[];
  /** Anything else QEMU or the native program printed. */
  qemu: string;
}

/** Runs the firmware against a fresh `atsock emulate` and collects its report. */
export async function runLoop(options: LoopOptions): Promise<LoopResult> {
  const emulator: string[] = [];
  const native = "native" in options.firmware;
  const args = [
    "emulate",
    "--console",
    native ? "pty" : "tcp:127.0.0.1:0",
    "--mode",
    "host",
    "--baud",
    "38400",
  ];
  if (options.faults) args.push("--faults", options.faults);
  if (options.transcript) args.push("--transcript", options.transcript);
  const module = atsock(args);
  let announce: (where: string) => void = () => {};
  const announced = new Promise<string>((resolve) => (announce = resolve));
  const stderr = lines(module.stderr, (line) => {
    emulator.push(line);
    options.onEmulatorLine?.(line);
    const m = /virtual module on (tcp:127\.0\.0\.1:\d+|\/dev\/\S+?),/.exec(
      line,
    );
    if (m) announce(m[1]);
  });
  const stdout = module.stdout.cancel();
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    let late: ReturnType<typeof setTimeout> | undefined;
    const where = await Promise.race([
      announced,
      module.status.then((s) => {
        throw new Error(
          `atsock emulate exited (${s.code}):\n${emulator.join("\n")}`,
        );
      }),
      new Promise<never>((_, reject) => {
        late = setTimeout(
          () => reject(new Error("atsock emulate did not start in 30 s")),
          30000,
        );
      }),
    ]).finally(() => clearTimeout(late));
    const udpSrc = await freeUdpPort();
    const peers =
      `127.0.0.1 ${options.peers.tcpPort} ${options.peers.udpPort} ${udpSrc}`;
    const child = "native" in options.firmware
      ? new Deno.Command(options.firmware.native, {
        env: { FIL_TTY: where, FIL_ARGS: peers },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn()
      : new Deno.Command("qemu-system-arm", {
        args: [
          "-M",
          "mps2-an385",
          "-display",
          "none",
          "-monitor",
          "none",
          "-serial",
          `${where},nodelay=on`,
          "-semihosting-config",
          "enable=on,target=native",
          "-kernel",
          options.firmware.elf,
          "-append",
          peers,
        ],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
    const report: string[] = [];
    let other = "";
    // Semihosting output goes to QEMU's stdout or stderr (by version).
    const take = (line: string) => {
      if (line.startsWith("fil: ")) report.push(line.slice(5));
      else other += line + "\n";
    };
    const out = lines(child.stdout, take);
    const err = lines(child.stderr, take);
    let timedOut = false;
    timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, options.timeoutMs ?? 60000);
    const status = await child.status;
    await Promise.all([out, err]);
    return {
      status: timedOut ? 124 : status.code,
      report,
      emulator,
      qemu: other,
    };
  } finally {
    clearTimeout(timer);
    try {
      module.kill("SIGTERM");
    } catch { /* already gone */ }
    await module.status;
    await Promise.all([stderr, stdout]);
  }
}

/** Parses the firmware's `seen:` line into numbers. */
export function seen(report: string[]): Record<string, number> {
  const line = report.find((l) => l.startsWith("seen: ")) ?? "";
  return Object.fromEntries(
    [...line.matchAll(/(\w+)=(\d+)/g)].map((m) => [m[1], Number(m[2])]),
  );
}

async function main(): Promise<number> {
  const missing = toolchainMissing();
  if (missing) {
    console.error(`fil: cannot run: ${missing}`);
    return 2;
  }
  const dir = await Deno.makeTempDir({ prefix: "fil-" });
  try {
    const started = performance.now();
    const elf = await buildFirmware(dir);
    console.log(
      `built ${elf} in ${Math.round(performance.now() - started)} ms`,
    );
    let worst = 0;
    const plans = Deno.args.includes("--faults")
      ? [undefined, FAULT_PLAN]
      : [undefined];
    for (const faults of plans) {
      const { gate, watch } = stallGate();
      const peers = await startPeers(faults ? gate : undefined);
      try {
        const t0 = performance.now();
        const transcript = faults ? undefined : `${dir}/plain.jsonl`;
        const result = await runLoop({
          firmware: { elf },
          peers,
          faults,
          transcript,
          onEmulatorLine: watch,
        });
        console.log(
          `\n== firmware report (${
            faults ? "fault plan " + faults : "plain"
          }, ${Math.round(performance.now() - t0)} ms, exit ${result.status})`,
        );
        for (const line of result.report) console.log(line);
        for (const line of result.emulator) {
          if (/fault #/.test(line)) console.log(`  module: ${line}`);
        }
        if (result.qemu) console.log(`qemu: ${result.qemu.trim()}`);
        worst = Math.max(worst, result.status);
        if (transcript) {
          // The same console traffic against a fresh module, peers still up.
          const replay = atsock(["replay", transcript, "virtual"]);
          const [out, err, status] = await Promise.all([
            new Response(replay.stdout).text(),
            new Response(replay.stderr).text(),
            replay.status,
          ]);
          console.log(`atsock replay of its transcript: ${(out + err).trim()}`);
          if (!status.success) worst = Math.max(worst, 1);
        }
      } finally {
        await peers.close();
      }
    }
    return worst;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) Deno.exit(await main());
