/**
 * `atsock run` as a user runs it: the CLI spawned with narrow permissions
 * against a virtual module started here, with real loopback peers.
 */

import assert from "node:assert/strict";
import { createModule, serveTcp, type VirtualModule } from "@atsock/device";
import { DEFAULT_CONFIG } from "@atsock/protocol";
import { parseRunArgs, resolvePayload } from "./command.ts";
import { UsageError } from "../usage.ts";
import { CLI_MAIN as MAIN } from "../test_cli.ts";

const decoder = new TextDecoder();

/** Runs `atsock run ...` with `permissions`; returns status and output. */
async function atsock(args: string[], permissions: string[], stdin = "") {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...permissions, MAIN, "run", ...args],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", RUST_BACKTRACE: "0" },
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(stdin));
  await writer.close();
  const out = await child.output();
  return {
    code: out.code,
    stdout: decoder.decode(out.stdout),
    stderr: decoder.decode(out.stderr),
  };
}

/** A virtual module in Host Control Mode on a loopback TCP console. */
function virtualModule(): {
  module: VirtualModule;
  target: string;
  close(): Promise<void>;
} {
  const module = createModule({ mode: "host" });
  const console = serveTcp(module, { port: 0 });
  return {
    module,
    target: `tcp:127.0.0.1:${console.port}`,
    async close() {
      await console.close();
      await module.close();
    },
  };
}

/** A loopback peer that keeps every byte of its first connection until it ends. */
function peer(): {
  port: number;
  received: Promise<Uint8Array>;
  close(): void;
} {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const received = (async () => {
    const conn = await listener.accept();
    const parts: Uint8Array[] = [];
    let total = 0;
    const buffer = new Uint8Array(65536);
    while (true) {
      const n = await conn.read(buffer);
      if (n === null) break;
      parts.push(buffer.slice(0, n));
      total += n;
    }
    conn.close();
    const all = new Uint8Array(total);
    let at = 0;
    for (const part of parts) {
      all.set(part, at);
      at += part.length;
    }
    return all;
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    received,
    close: () => listener.close(),
  };
}

/** A loopback port with nothing listening on it. */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** Settles `promise` or rejects after `ms` (a bound on waiting for a peer). */
function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`not within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

function tempDir(): string {
  return Deno.makeTempDirSync({ prefix: "atsock-run-test-" });
}

/** Every one of the nine commands, an unsolicited line and a file through SKTSENDRAW. */
const PASSING = `# production test of the virtual module
default PAYLOAD=payload.bin
expect urc "ATCMD READY" within 5s
AT+SKTCFG=2000,2000,,1,60,10,3
send AT+SKTQUERY
  expect line "so_sndtimeo: 2000"
  expect line /^tcp_keepcnt: 3$/
  expect OK within 5s
AT+SKTCLIENT=0,1,,127.0.0.1,\${PEER_PORT},,1
AT+SKTSERVER=1,1,,\${SERVER_PORT},0
AT+SKTCLIENT=3,1,,127.0.0.1,\${SERVER_PORT},,1
expect urc /\\[\\$\\]\\[SKT\\]\\[EVENT\\]: A client\\[link_id:2,seed,tcp,.*connected to server\\[link_id:1\\]/ within 5s
AT+SKTSEND=3,5,,,hello
sendraw 0 file \${PAYLOAD}
  expect OK within 60s
send AT+SKTREAD=2,100
  expect line "+SKTREAD:2,5,hello"
send AT+SKTSTATE
  expect line /^link_id:0,client,tcp,/
  expect line /^link_id:2,seed,tcp,/
AT+SKTDEL=3
AT+SKTDEL=1
AT+SKTDEL=0
send AT+SKTDEL=0
  expect ERROR: 1
send AT+SKTCLIENT=4,1,,127.0.0.1,\${CLOSED_PORT},,1
  expect ERROR within 15s
wait 10ms
`;

/** Lines of PASSING that produce a check. */
const PASSING_CHECKS = 26;

async function passingRun(extra: string[]) {
  const dir = tempDir();
  const payload = crypto.getRandomValues(new Uint8Array(60000));
  const file = new Uint8Array(300 * 1024);
  for (let at = 0; at < file.length; at += payload.length) {
    file.set(payload.subarray(0, file.length - at), at);
  }
  Deno.writeFileSync(`${dir}/payload.bin`, file);
  Deno.writeTextFileSync(`${dir}/test.atr`, PASSING);
  const vm = virtualModule();
  const remote = peer();
  try {
    const result = await atsock([
      vm.target,
      `${dir}/test.atr`,
      "--var",
      `PEER_PORT=${remote.port}`,
      "--var",
      `SERVER_PORT=${freePort()}`,
      "--var",
      `CLOSED_PORT=${freePort()}`,
      ...extra,
    ], [`--allow-net=127.0.0.1`, `--allow-read=${dir}`]);
    // SKTDEL=0 closed the link: the peer has seen its end.
    const received = await within(remote.received, 10000);
    assert.equal(received.length, file.length);
    assert.ok(received.every((byte, i) => byte === file[i]));
    assert.deepEqual(vm.module.state(), []);
    return result;
  } finally {
    remote.close();
    await vm.close();
    Deno.removeSync(dir, { recursive: true });
  }
}

Deno.test("atsock run: a passing script with all nine commands, a URC and a 300 KiB sendraw", async () => {
  const { code, stdout, stderr } = await passingRun([]);
  assert.equal(stderr, "", "no progress on a pipe without --progress");
  assert.equal(code, 0, stdout);
  const lines = stdout.trimEnd().split("\n");
  assert.equal(lines.length, PASSING_CHECKS + 1);
  for (const line of lines.slice(0, -1)) assert.match(line, /^ok {4}line \d+/);
  assert.match(
    lines.find((l) => / line 14 /.test(l))!,
    /sendraw 0 file payload\.bin .*307200 bytes sent/,
  );
  assert.match(lines.at(-1)!, /^PASS: all 26 checks passed \(.*test\.atr\)$/);
});

Deno.test("atsock run: --json report and --progress on a pipe", async () => {
  const { code, stdout, stderr } = await passingRun(["--json", "--progress"]);
  assert.equal(code, 0, stderr);
  const report = JSON.parse(stdout);
  assert.equal(report.passed, PASSING_CHECKS);
  assert.equal(report.failed, 0);
  assert.equal(report.notRun, 0);
  assert.equal(report.steps.length, PASSING_CHECKS);
  for (const step of report.steps) {
    assert.deepEqual(
      Object.keys(step).filter((k) => k !== "note"),
      ["line", "text", "ok", "expected", "got", "ms"],
    );
    assert.equal(step.ok, true);
  }
  const lineNumbers = report.steps.map((s: { line: number }) => s.line);
  assert.deepEqual(lineNumbers, [...lineNumbers].sort((a, b) => a - b));
  const query = report.steps.find((s: { line: number }) => s.line === 5);
  assert.equal(query.text, "AT+SKTQUERY");
  assert.ok(query.got.includes("so_keepalive: 1"));
  assert.equal(query.got.at(-1), "OK");
  const read = report.steps.find((s: { line: number }) => s.line === 17);
  assert.deepEqual(read.got, ["+SKTREAD:2,5,hello"]);
  const refused = report.steps.find((s: { line: number }) => s.line === 27);
  assert.deepEqual(refused.got, ["ERROR: 2"]);
  assert.match(refused.note, /AT\+SKTCLIENT/);
  // Progress went to stderr only: steps, then the transfer up to 100 %.
  assert.match(stderr, /^atsock run: step 1 of 17, line 3: expect urc/m);
  assert.match(
    stderr,
    /step 9 of 17, line 14: \[#+\] 100%  300\.0 KiB of 300\.0 KiB  [\d.]+ \S+\/s/,
  );
});

Deno.test("atsock run: a failing expectation stops the run, names the line and what came", async () => {
  const dir = tempDir();
  const script = `${dir}/fail.atr`;
  Deno.writeTextFileSync(
    script,
    `AT+SKTCFG=2000
send AT+SKTQUERY
expect line "so_sndtimeo: 9999"
AT+SKTSTATE
`,
  );
  const vm = virtualModule();
  try {
    const perms = ["--allow-net=127.0.0.1", `--allow-read=${dir}`];
    const stop = await atsock([vm.target, script], perms);
    assert.equal(stop.code, 1);
    assert.equal(stop.stderr, "");
    assert.match(
      stop.stdout,
      /^FAIL {2}line 3 {4}expect line "so_sndtimeo: 9999"\n {8}expected: a line "so_sndtimeo: 9999"\n {8}got: {6}Global SOCKET configuration:\n {18}so_sndtimeo: 2000\n/m,
    );
    assert.doesNotMatch(stop.stdout, /line 4 /);
    assert.match(
      stop.stdout.trimEnd().split("\n").at(-1)!,
      /^FAIL: .*fail\.atr: line 3 failed \(2 passed, 1 failed, 1 not run\)$/,
    );
    const going = await atsock([vm.target, script, "--keep-going"], perms);
    assert.equal(going.code, 1);
    assert.match(going.stdout, /^ok {4}line 4 {4}AT\+SKTSTATE/m);
    assert.match(
      going.stdout,
      /line 3 failed \(3 passed, 1 failed, 0 not run\)\n$/,
    );
  } finally {
    await vm.close();
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("atsock run: a broken script is reported with file:line before anything is sent", async () => {
  const dir = tempDir();
  const script = `${dir}/broken.atr`;
  Deno.writeTextFileSync(
    script,
    `AT+SKTCFG=1234
frobnicate 1
expect urc /a(/ within 2s
wait soon
sendraw 0 file missing.bin
AT+SKTDEL=\${LINK}
`,
  );
  const vm = virtualModule();
  try {
    const { code, stdout, stderr } = await atsock(
      [vm.target, script],
      ["--allow-net=127.0.0.1", `--allow-read=${dir}`],
    );
    assert.equal(code, 2);
    assert.equal(stdout, "");
    const lines = stderr.trimEnd().split("\n");
    assert.deepEqual(lines.map((l) => l.slice(0, l.indexOf(": "))), [
      `${script}:2`,
      `${script}:3`,
      `${script}:4`,
      `${script}:5`,
      `${script}:6`,
    ]);
    assert.match(lines[0], /unknown keyword "frobnicate"/);
    assert.match(lines[1], /bad regex/);
    assert.match(lines[2], /"soon" is not a time/);
    assert.match(lines[3], /missing\.bin: no such file/);
    assert.match(lines[4], /\$\{LINK\} is not set/);
    // Line 1 was never sent.
    assert.deepEqual(vm.module.config, DEFAULT_CONFIG);
  } finally {
    await vm.close();
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("atsock run: a module that does not answer in time, read from stdin, --json", async () => {
  // Takes the connection and reads everything, says nothing.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const silent = (async () => {
    const conn = await listener.accept();
    const buffer = new Uint8Array(4096);
    while (await conn.read(buffer) !== null) { /* swallow */ }
    conn.close();
  })();
  try {
    const { code, stdout, stderr } = await atsock(
      [
        `tcp:127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
        "-",
        "--timeout",
        "0.3",
        "--keep-going",
        "--json",
      ],
      ["--allow-net=127.0.0.1"],
      "AT+SKTQUERY\nexpect urc /connected/\n",
    );
    assert.equal(code, 1);
    assert.equal(stderr, "");
    const report = JSON.parse(stdout);
    assert.equal(report.passed, 0);
    assert.equal(report.failed, 2);
    assert.deepEqual(report.steps[0].got, []);
    assert.equal(report.steps[0].expected, "OK within 300 ms");
    assert.equal(report.steps[0].note, "no answer in time");
    assert.equal(report.steps[1].line, 2);
    assert.match(report.steps[1].note, /none came in time/);
    await within(silent, 10000);
  } finally {
    listener.close();
  }
});

Deno.test("atsock run: a missing device and a refused connection are one line, status 1", async () => {
  const dir = tempDir();
  const script = `${dir}/ok.atr`;
  Deno.writeTextFileSync(script, "AT+SKTQUERY\n");
  try {
    const missing = await atsock(
      ["/dev/atsock-no-such-tty", script],
      ["--allow-ffi", `--allow-read=${dir}`],
    );
    assert.equal(missing.code, 1);
    assert.equal(missing.stdout, "");
    assert.match(missing.stderr, /^atsock: .*\/dev\/atsock-no-such-tty.*\n$/);
    const refused = await atsock(
      [`tcp:127.0.0.1:${freePort()}`, script],
      ["--allow-net=127.0.0.1", `--allow-read=${dir}`],
    );
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      /^atsock: tcp:127\.0\.0\.1:\d+: connection refused.*\n$/,
    );
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("atsock run: a denied permission is one line naming the flag", async () => {
  const dir = tempDir();
  const script = `${dir}/ok.atr`;
  Deno.writeTextFileSync(script, "AT+SKTQUERY\n");
  const vm = virtualModule();
  try {
    const net = await atsock([vm.target, script], [`--allow-read=${dir}`]);
    assert.equal(net.code, 1);
    assert.match(net.stderr, /^atsock: permission denied: .*--allow-net.*\n$/);
    const read = await atsock([vm.target, script], ["--allow-net=127.0.0.1"]);
    assert.equal(read.code, 1);
    assert.match(
      read.stderr,
      /^atsock: permission denied: .*--allow-read.*\n$/,
    );
    Deno.writeTextFileSync(script, "sendraw 0 file /etc/hostname\n");
    const file = await atsock([vm.target, script], [
      "--allow-net=127.0.0.1",
      `--allow-read=${script}`,
    ]);
    assert.equal(file.code, 1);
    assert.match(
      file.stderr,
      /^atsock: permission denied: .*--allow-read.*\n$/,
    );
  } finally {
    await vm.close();
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("atsock run: bad arguments are one line and status 2", async () => {
  for (
    const args of [
      [],
      ["tcp:127.0.0.1:1"],
      ["tcp:127.0.0.1:1", "a.atr", "b.atr"],
      ["tcp:127.0.0.1:1", "a.atr", "--timeout", "0"],
      ["tcp:127.0.0.1:1", "a.atr", "--var", "1X=2"],
      ["tcp:127.0.0.1:1", "a.atr", "--var", "NOVALUE"],
      ["tcp:127.0.0.1:1", "a.atr", "--baud", "9600"],
      ["tcp:127.0.0.1:1", "a.atr", "--bogus"],
      ["127.0.0.1:3333", "a.atr"],
    ]
  ) {
    const { code, stdout, stderr } = await atsock(args, []);
    assert.equal(code, 2, args.join(" "));
    assert.equal(stdout, "");
    assert.match(
      stderr,
      /^atsock: .*\(see atsock run --help\)\n$/,
      args.join(" "),
    );
  }
  const missing = await atsock(["tcp:127.0.0.1:1", "/nonexistent/a.atr"], [
    "--allow-read",
  ]);
  assert.equal(missing.code, 2);
  assert.match(
    missing.stderr,
    /^atsock: cannot read the script \/nonexistent\/a\.atr: .*\n$/,
  );
  const help = await atsock(["--help"], []);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Usage:\n {2}atsock run/);
  assert.match(help.stdout, /Examples:/);
  assert.match(help.stdout, /Permissions:/);
});

Deno.test("run arguments: parsed values", () => {
  assert.deepEqual(
    parseRunArgs([
      "tcp::3333",
      "t.atr",
      "--var",
      "A=1",
      "--var",
      "B=x=y",
      "--var",
      "A=2",
      "--json",
      "--timeout",
      "2.5",
      "--keep-going",
    ]),
    {
      target: { kind: "tcp", hostname: "127.0.0.1", port: 3333 },
      script: "t.atr",
      vars: { A: "2", B: "x=y" },
      json: true,
      timeoutMs: 2500,
      baud: 38400,
      keepGoing: true,
      progress: false,
    },
  );
  const serial = parseRunArgs(["/dev/ttyUSB0", "-", "--baud", "115200"]);
  assert.ok(serial !== "help");
  assert.equal(serial.baud, 115200);
  assert.equal(parseRunArgs(["-h"]), "help");
  assert.throws(() => parseRunArgs(["tcp::1", ""]), UsageError);
});

Deno.test("run: sendraw paths start at the script's directory", () => {
  assert.equal(resolvePayload("tests/a.atr", "fw.bin"), "tests/fw.bin");
  assert.equal(resolvePayload("a.atr", "fw.bin"), "fw.bin");
  assert.equal(resolvePayload("tests/a.atr", "/abs/fw.bin"), "/abs/fw.bin");
  assert.equal(resolvePayload("-", "fw.bin"), "fw.bin");
});

function has(tool: string): boolean {
  return new Deno.Command("sh", {
    args: ["-c", `command -v ${tool}`],
    stdout: "null",
  }).outputSync().success;
}

Deno.test({
  name:
    "atsock run: on a terminal, step i of N is shown on stderr and cleared before results",
  ignore: !has("tmux"),
  async fn() {
    const dir = tempDir();
    const script = `${dir}/slow.atr`;
    Deno.writeTextFileSync(
      script,
      `expect urc "ATCMD READY" within 5s
AT+SKTQUERY
expect urc "never comes" within 60s
`,
    );
    const vm = virtualModule();
    const socket = `atsock-run-test-${Deno.pid}-${
      Math.random().toString(36).slice(2)
    }`;
    const tmux = (...args: string[]) => {
      const out = new Deno.Command("tmux", {
        args: ["-L", socket, "-f", "/dev/null", ...args],
        clearEnv: true,
        env: {
          PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
          HOME: Deno.env.get("HOME") ?? "/tmp",
          TERM: "xterm-256color",
          RUST_BACKTRACE: "0",
        },
        stdout: "piped",
        stderr: "piped",
      }).outputSync();
      if (!out.success) {
        throw new Error(`tmux ${args[0]}: ${decoder.decode(out.stderr)}`);
      }
      return decoder.decode(out.stdout);
    };
    try {
      const command = [
        Deno.execPath(),
        "run",
        "--allow-net=127.0.0.1",
        `--allow-read=${dir}`,
        MAIN,
        "run",
        vm.target,
        script,
      ].map((a) => `'${a}'`).join(" ");
      tmux("new-session", "-d", "-x", "120", "-y", "20", command);
      const deadline = Date.now() + 15000;
      let screen = "";
      const progress =
        /^step 3 of 3, line 3: expect urc "never comes" within 60s/m;
      while (!progress.test(screen)) {
        if (Date.now() > deadline) {
          throw new Error(`no progress line on the screen:\n${screen}`);
        }
        await new Promise((r) => setTimeout(r, 50));
        screen = tmux("capture-pane", "-p");
      }
      const rows = screen.split("\n");
      // The results so far, each on a clean row (the progress line was
      // cleared before them), and the progress line below them.
      assert.match(rows[0], /^ok {4}line 1 {4}expect urc "ATCMD READY"/);
      assert.match(rows[1], /^ok {4}line 2 {4}AT\+SKTQUERY/);
      assert.match(rows[2], progress);
    } finally {
      try {
        tmux("kill-server");
      } catch { /* gone */ }
      await vm.close();
      Deno.removeSync(dir, { recursive: true });
    }
  },
});
