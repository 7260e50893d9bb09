/**
 * `atsock term` as a user runs it: spawned processes against a spawned
 * virtual module, the interactive terminal through a real pty (tmux: keys
 * sent, screen read back), and scripted through a pipe.
 */

import assert from "node:assert/strict";
import { parseTarget, parseTermArgs } from "./term.ts";
import { Sender, TCP_CHUNK } from "./sender.ts";
import { UsageError } from "../usage.ts";
import { CLI_MAIN as MAIN, LOOPBACK_NET } from "../test_cli.ts";

const decoder = new TextDecoder();
const encoder = new TextEncoder();

const NET = ["--allow-net=127.0.0.1"];
const SERIAL = ["--allow-ffi"];

function has(tool: string): boolean {
  return new Deno.Command("sh", {
    args: ["-c", `command -v ${tool}`],
    stdout: "null",
  }).outputSync().success;
}

function atsock(args: string[], permissions: string[]) {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", ...permissions, MAIN, ...args],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", RUST_BACKTRACE: "0" },
  }).spawn();
}

/** Runs `atsock` with `input` on standard input; returns status and output. */
async function run(args: string[], permissions: string[], input = "") {
  const child = atsock(args, permissions);
  const writer = child.stdin.getWriter();
  await writer.write(encoder.encode(input));
  await writer.close();
  const out = await child.output();
  return {
    code: out.code,
    stdout: decoder.decode(out.stdout),
    stderr: decoder.decode(out.stderr),
  };
}

/** A virtual module on a TCP console (or a pty), spawned like a user would. */
async function emulator(mode: "manual" | "host", console = "tcp:127.0.0.1:0") {
  const child = atsock(
    ["emulate", "--console", console, "--mode", mode],
    [LOOPBACK_NET, "--allow-read", "--allow-ffi", "--allow-sys"],
  );
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let err = "";
  const banner = /virtual module on (tcp:127\.0\.0\.1:\d+|\/dev\/pts\/\d+)/;
  while (!banner.test(err)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`emulator did not start: ${err}`);
    err += value;
  }
  const address = banner.exec(err)![1];
  let stopped = false;
  return {
    address,
    async stop() {
      if (stopped) return;
      stopped = true;
      child.kill("SIGTERM");
      await child.status;
      await reader.cancel();
      await child.stdin.close().catch(() => {});
      await child.stdout.cancel();
    },
  };
}

/** A loopback port with nothing listening on it (for the test's own peers). */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** A private tmux server running one command in a window of a known size. */
class Tmux {
  #socket = `atsock-test-${Deno.pid}-${Math.random().toString(36).slice(2)}`;
  #env: Record<string, string>;
  #pidFile: string | undefined;

  constructor(env: Record<string, string> = {}) {
    // Only what the child needs: NO_COLOR from the test run must not leak in.
    this.#env = {
      PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
      HOME: Deno.env.get("HOME") ?? "/tmp",
      TERM: "xterm-256color",
      RUST_BACKTRACE: "0",
      ...env,
    };
  }

  #tmux(...args: string[]): string {
    const out = new Deno.Command("tmux", {
      args: ["-L", this.#socket, "-f", "/dev/null", ...args],
      clearEnv: true,
      env: this.#env,
      stdout: "piped",
      stderr: "piped",
    }).outputSync();
    if (!out.success) {
      throw new Error(`tmux ${args[0]}: ${decoder.decode(out.stderr)}`);
    }
    return decoder.decode(out.stdout);
  }

  /** Starts `command` (argv) in a 120x40 window; its exit status and the console mode are printed after it. */
  start(command: string[]): void {
    const quoted = command.map((a) => `'${a.replaceAll("'", `'\\''`)}'`);
    // The command execs in a shell that first notes its pid (for signals).
    this.#pidFile = Deno.makeTempFileSync({ prefix: "atsock-tmux-pid-" });
    this.#tmux(
      "new-session",
      "-d",
      "-x",
      "120",
      "-y",
      "40",
      // After it: its status, and whether the console is back in canonical
      // mode ("icanon", not "-icanon"): raw mode was undone.
      `sh -c 'echo $$ > ${this.#pidFile}; exec "$@"' sh ${
        quoted.join(" ")
      }; echo "EXIT $?"; ` +
        `stty -a | tr ' ;' '\\n\\n' | grep -xE -e '-?icanon'; sleep 60`,
    );
  }

  /** Sends keys: literal text, or tmux key names with `key:` (e.g. `key:Up`). */
  send(...keys: string[]): void {
    for (const key of keys) {
      if (key.startsWith("key:")) this.#tmux("send-keys", key.slice(4));
      else this.#tmux("send-keys", "-l", key);
    }
  }

  /** The screen's text (with `escapes`, its colours as SGR sequences, ESC written "ESC"). */
  screen(escapes = false): string {
    // -N keeps trailing spaces, so an empty prompt still reads "> ".
    return this.#tmux("capture-pane", "-p", "-N", ...(escapes ? ["-e"] : []))
      .replaceAll("\x1b", "ESC");
  }

  /** Waits until the screen matches; throws with the screen after 15 s. */
  async waitFor(pattern: RegExp, escapes = false): Promise<string> {
    const deadline = Date.now() + 15000;
    while (true) {
      const screen = this.screen(escapes);
      if (pattern.test(screen)) return screen;
      if (Date.now() > deadline) {
        throw new Error(`screen never matched ${pattern}:\n${screen}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** The pid of the command started. */
  commandPid(): number {
    return Number(Deno.readTextFileSync(this.#pidFile!).trim());
  }

  /** The row the cursor is on (the prompt). */
  promptRow(): string {
    const y = Number(this.#tmux("display", "-p", "#{cursor_y}").trim());
    return this.screen().split("\n")[y];
  }

  kill(): void {
    try {
      this.#tmux("kill-server");
    } catch { /* already gone */ }
    if (this.#pidFile) Deno.removeSync(this.#pidFile);
  }
}

Deno.test("term arguments: targets, options, errors", () => {
  assert.deepEqual(parseTermArgs(["tcp:127.0.0.1:3333"]), {
    target: { kind: "tcp", hostname: "127.0.0.1", port: 3333 },
    baud: 38400,
    hex: false,
    timestamps: false,
    log: undefined,
    timeoutMs: 10000,
    flowControl: "none",
  });
  const serial = parseTermArgs([
    "/dev/ttyUSB0",
    "--baud",
    "115200",
    "--hex",
    "--timestamps",
    "--log",
    "s.log",
    "--timeout",
    "2.5",
    "--flow-control",
    "rts",
  ]);
  assert.deepEqual(serial, {
    target: { kind: "serial", path: "/dev/ttyUSB0" },
    baud: 115200,
    hex: true,
    timestamps: true,
    log: "s.log",
    timeoutMs: 2500,
    flowControl: "rts",
  });
  assert.deepEqual(parseTarget("tcp::4000"), {
    kind: "tcp",
    hostname: "127.0.0.1",
    port: 4000,
  });
  assert.deepEqual(parseTarget("tcp:[::1]:4000"), {
    kind: "tcp",
    hostname: "::1",
    port: 4000,
  });
  assert.equal(parseTermArgs(["-h"]), "help");
  for (
    const bad of [
      [],
      ["a", "b"],
      ["tcp:host"],
      ["tcp:h:0"],
      ["tcp:h:70000"],
      ["localhost:3333"],
      ["tcp:h:1", "--baud", "9600"],
      ["/dev/ttyS0", "--baud", "fast"],
      ["/dev/ttyS0", "--timeout", "0"],
      ["/dev/ttyS0", "--log", ""],
      ["/dev/ttyS0", "--bogus"],
      ["/dev/ttyS0", "--flow-control", "xon"],
    ]
  ) {
    assert.throws(() => parseTermArgs(bad), UsageError, bad.join(" "));
  }
});

Deno.test("atsock term --help and bad arguments", async () => {
  const help = await run(["term", "--help"], []);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^atsock term: an interactive terminal/);
  assert.match(help.stdout, /Examples:\n {2}atsock term \/dev\/ttyUSB0/);
  const top = await run(["--help"], []);
  assert.match(top.stdout, /atsock term +an interactive terminal/);

  const none = await run(["term"], []);
  assert.equal(none.code, 2);
  assert.equal(
    none.stderr,
    "atsock: which module? give a serial device or tcp:HOST:PORT (see atsock term --help)\n",
  );
  const hostPort = await run(["term", "localhost:3333"], []);
  assert.equal(hostPort.code, 2);
  assert.match(hostPort.stderr, /did you mean tcp:localhost:3333\?/);
});

Deno.test("a missing device, a non-tty and a refused connection: one line, exit 1", async () => {
  const missing = await run(["term", "/dev/atsock-no-such-device"], SERIAL);
  assert.equal(missing.code, 1);
  assert.equal(
    missing.stderr,
    "atsock: /dev/atsock-no-such-device: no such device (is the cable plugged in? check ls /dev/tty*)\n",
  );
  const notTty = await run(["term", "/dev/null"], SERIAL);
  assert.equal(notTty.code, 1);
  assert.equal(notTty.stderr, "atsock: /dev/null: not a serial device\n");
  const port = freePort();
  const refused = await run(["term", `tcp:127.0.0.1:${port}`], NET);
  assert.equal(refused.code, 1);
  assert.equal(
    refused.stderr,
    `atsock: tcp:127.0.0.1:${port}: connection refused (is the bridge or emulator running?)\n`,
  );
});

Deno.test("a denied permission is one line naming the flag", async () => {
  const net = await run(["term", "tcp:127.0.0.1:9"], []);
  assert.equal(net.code, 1);
  assert.match(net.stderr, /^atsock: permission denied: .*--allow-net/);
  assert.equal(net.stderr.split("\n").length, 2);
  const ffi = await run(["term", "/dev/ttyUSB0"], ["--allow-read"]);
  assert.equal(ffi.code, 1);
  assert.match(ffi.stderr, /^atsock: permission denied: .*--allow-ffi/);
  const log = await run(
    ["term", "tcp:127.0.0.1:9", "--log", "/tmp/atsock-term-denied.log"],
    NET,
  );
  assert.equal(log.code, 1);
  assert.match(log.stderr, /^atsock: permission denied: .*--allow-write/);
  assert.equal(log.stderr.split("\n").length, 2);
});

Deno.test("scripted through a pipe: answers, hints, unsolicited lines, exit when input ends", async () => {
  const module = await emulator("host");
  const peerPort = freePort();
  const dir = await Deno.makeTempDir();
  try {
    const payload = `${dir}/payload.bin`;
    await Deno.writeFile(payload, new Uint8Array([0x00, 0xff, 0x41]));
    const script = [
      "AT+SKTQUERY",
      "AT+SKTDEL=7",
      `AT+SKTSERVER=0,1,,${peerPort},1`,
      `AT+SKTCLIENT=5,1,,127.0.0.1,${peerPort},,1`,
      ":sleep 100", // the seed's connect line
      "AT+SKTSENDRAW=5,5",
      "hi",
      `:sendfile ${payload}`,
      ":sleep 100", // the DATA line on the seed
      `:sendfile 5 ${payload}`,
      ":sleep 100",
      "not a command",
      "AT+SKTSTATE",
    ].join("\n") + "\n";
    const out = await run(
      ["term", module.address],
      [...NET, `--allow-read=${payload}`],
      script,
    );
    assert.equal(out.code, 0, out.stderr);
    assert.equal(
      out.stderr,
      `atsock: connected to ${module.address}; reading commands from standard input\n`,
    );
    const lines = out.stdout.split("\n");
    assert.equal(lines[0], "* ATCMD READY");
    assert.deepEqual(lines.slice(1, 4), [
      "> AT+SKTQUERY",
      "< Global SOCKET configuration:",
      "< so_sndtimeo: 0",
    ]);
    assert.ok(
      lines.includes(
        "< ERROR: 1  -> AT+SKTDEL: Parameter error (bad link id, or the link is not in use)",
      ),
    );
    assert.ok(
      lines.some((l) =>
        /^\* \[\$\]\[SKT\]\[EVENT\]: A client\[link_id:1,seed,tcp,dst_address:127\.0\.0\.1,dst_port:\d+\] connected to server\[link_id:0\]$/
          .test(l)
      ),
      out.stdout,
    );
    const raw = lines.indexOf("> AT+SKTSENDRAW=5,5");
    assert.deepEqual(lines.slice(raw, raw + 5), [
      "> AT+SKTSENDRAW=5,5",
      "< >>>",
      "> [2 bytes] hi",
      `> [3 bytes from ${payload}]`,
      "< OK",
    ]);
    const file = lines.indexOf("> AT+SKTSENDRAW=5,3");
    assert.deepEqual(lines.slice(file, file + 4), [
      "> AT+SKTSENDRAW=5,3",
      "< >>>",
      `> [3 bytes from ${payload}]`,
      "< OK",
    ]);
    // However TCP split it, the seed received the bytes, shown escaped.
    const data = lines.filter((l) => l.startsWith("* [$][SKT][DATA][1]["))
      .map((l) => l.slice(l.indexOf("]:") + 2)).join("");
    assert.equal(data, "hi\\x00\\xffA\\x00\\xffA", out.stdout);
    assert.ok(lines.includes("> not a command"));
    assert.match(out.stdout, /< link_id:5,client,tcp,.*\n< OK\n$/);
  } finally {
    await module.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("scripted :sendfile of 512 KiB: every byte reaches the peer, in order", async () => {
  const module = await emulator("host");
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const dir = await Deno.makeTempDir();
  const size = 512 * 1024;
  const blob = new Uint8Array(size).map((_, i) => (i * 7 + (i >> 8)) & 0xff);
  const file = `${dir}/blob.bin`;
  try {
    await Deno.writeFile(file, blob);
    const received = (async () => {
      const conn = await listener.accept();
      const got = new Uint8Array(size);
      let n = 0;
      const buf = new Uint8Array(64 * 1024);
      while (n < size) {
        const r = await conn.read(buf);
        if (r === null) break;
        got.set(buf.subarray(0, Math.min(r, size - n)), n);
        n += r;
      }
      conn.close();
      return { n, got };
    })();
    const out = await run(
      ["term", module.address],
      [...NET, `--allow-read=${file}`],
      `AT+SKTCLIENT=0,1,,127.0.0.1,${port},,0\n:sendfile 0 ${file}\n`,
    );
    assert.equal(out.code, 0, out.stdout + out.stderr);
    // Watermarks may come (the module's TT buffer filling): set them aside.
    const transcript = out.stdout.replace(
      /^\* \[\$\]\[TT\]:\w+ Watermark\n/gm,
      "",
    );
    assert.equal(
      transcript,
      `* ATCMD READY\n> AT+SKTCLIENT=0,1,,127.0.0.1,${port},,0\n< OK\n` +
        `> AT+SKTSENDRAW=0,${size}\n< >>>\n> [${size} bytes from ${file}]\n< OK\n`,
    );
    const { n, got } = await received;
    assert.equal(n, size);
    assert.deepEqual(got, blob);
  } finally {
    listener.close();
    await module.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("scripted: an answer that never comes times out; a closed connection ends the session", async () => {
  // A silent peer: accepts, reads, never answers; then closes.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const serving = (async () => {
    const conn = await listener.accept();
    const buf = new Uint8Array(1024);
    let seen = "";
    while (!seen.includes("AT+SKTDEL=1\r\n")) {
      const n = await conn.read(buf);
      if (n === null) break;
      seen += decoder.decode(buf.subarray(0, n));
    }
    conn.close();
    return seen;
  })();
  try {
    const out = await run(
      ["term", `tcp:127.0.0.1:${port}`, "--timeout", "0.3"],
      NET,
      "AT+SKTSTATE\nAT+SKTDEL=1\nAT+SKTQUERY\n",
    );
    assert.equal(out.code, 1);
    assert.equal(
      out.stdout,
      "> AT+SKTSTATE\n# no answer to AT+SKTSTATE within 0.3 s\n> AT+SKTDEL=1\n" +
        `# tcp:127.0.0.1:${port}: the connection closed\n`,
    );
    assert.equal(await serving, "AT+SKTSTATE\r\nAT+SKTDEL=1\r\n");
  } finally {
    listener.close();
  }
});

Deno.test("a serial device: the emulator's pty at a baud rate", async () => {
  const module = await emulator("manual", "pty");
  try {
    const out = await run(
      ["term", module.address, "--baud", "115200"],
      SERIAL,
      "AT+SKTSTATE\nAT+SKTCFG=1,2,3\n",
    );
    assert.equal(out.code, 0, out.stderr);
    // Manual Test Mode echoes every line: the transcript shows it once.
    assert.equal(
      out.stdout,
      "> AT+SKTSTATE\n< OK\n> AT+SKTCFG=1,2,3\n" +
        "< ERROR: 1  -> AT+SKTCFG: Parameter error (tcp_nodelay 3 is outside 0..1)\n",
    );
    assert.match(out.stderr, /connected to \/dev\/pts\/\d+@115200/);
  } finally {
    await module.stop();
  }
});

Deno.test({
  name:
    "interactive through tmux: completion, answers, hint, history, URC and binary data, log, clean exit",
  ignore: !has("tmux"),
  fn: async () => {
    const module = await emulator("manual");
    const dir = await Deno.makeTempDir();
    const log = `${dir}/session.log`;
    const tmux = new Tmux();
    const peerPort = freePort();
    let peer: Deno.TcpConn | undefined;
    try {
      tmux.start([
        Deno.execPath(),
        "run",
        ...NET,
        `--allow-write=${log}`,
        MAIN,
        "term",
        module.address,
        "--log",
        log,
      ]);
      await tmux.waitFor(/# connected to tcp:127\.0\.0\.1:\d+; :help for help/);

      // Tab completes a command name; Enter sends it; the answer follows.
      tmux.send("at+sktq", "key:Tab");
      await tmux.waitFor(/^> AT\+SKTQUERY$/m);
      tmux.send("key:Enter");
      let screen = await tmux.waitFor(/tcp_keepcnt: 0\n\s*OK\n> $/m);
      // Manual Test Mode echoes the line: it is shown once.
      assert.equal(screen.match(/AT\+SKTQUERY/g)?.length, 1, screen);

      // A second Tab lists the choices; on a whole name it shows the syntax.
      tmux.send("AT+SKTSE", "key:Tab", "key:Tab");
      await tmux.waitFor(
        /^AT\+SKTSERVER= {2}AT\+SKTSEND= {2}AT\+SKTSENDRAW=$/m,
      );
      tmux.send("RVER=", "key:Tab");
      await tmux.waitFor(/^AT\+SKTSERVER=<link_id>,<conn_type/m);
      tmux.send("key:C-u");

      // ERROR with the meaning for the command in flight, in colour.
      tmux.send("AT+SKTDEL=3", "key:Enter");
      screen = await tmux.waitFor(
        /^ERROR: 1 {2}-> AT\+SKTDEL: Parameter error \(bad link id, or the link is not in use\)$/m,
      );
      const coloured = tmux.screen(true);
      // (tmux re-encodes attributes: other SGR sequences may come between.)
      assert.match(
        coloured,
        /ESC\[31m(ESC\[\d+m)*ERROR: 1ESC\[33m {2}-> AT\+SKTDEL/,
      );
      assert.match(coloured, /ESC\[32m(ESC\[\d+m)*OK/);

      // Up recalls the last line.
      tmux.send("key:Up");
      await tmux.waitFor(/^> AT\+SKTDEL=3$/m);
      assert.equal(tmux.promptRow().trimEnd(), "> AT+SKTDEL=3");
      tmux.send("key:C-u");

      // A server; a client connects and sends binary bytes: unsolicited
      // lines in cyan, the bytes escaped.
      tmux.send(`AT+SKTSERVER=0,1,,${peerPort},1`, "key:Enter");
      await tmux.waitFor(/SKTSERVER=0,1,,\d+,1\n\s*OK/);
      // Half a line typed while output arrives: the prompt is redrawn intact.
      tmux.send("AT+SKTST");
      await tmux.waitFor(/^> AT\+SKTST$/m);
      peer = await Deno.connect({ hostname: "127.0.0.1", port: peerPort });
      await tmux.waitFor(/connected to server\[link_id:0\]/);
      await peer.write(
        new Uint8Array([0x68, 0x69, 0x00, 0x1b, 0x5b, 0x32, 0x4a, 0x0a]),
      );
      screen = await tmux.waitFor(
        /^\[\$\]\[SKT\]\[DATA\]\[1\]\[8\]:hi\\x00\\x1b\[2J\\n$/m,
      );
      assert.equal(tmux.promptRow().trimEnd(), "> AT+SKTST");
      assert.match(
        tmux.screen(true),
        /ESC\[36m\[\$\]\[SKT\]\[EVENT\]: A client\[link_id:1,seed,tcp/,
      );
      tmux.send("key:Tab", "key:Enter");
      await tmux.waitFor(/^link_id:1,seed,tcp,.*\n\s*OK\n> $/m);

      // Ctrl-D on an empty line leaves cleanly.
      tmux.send("key:C-d");
      await tmux.waitFor(/^EXIT 0\nicanon\s*$/m);

      const text = await Deno.readTextFile(log);
      const entries = text.trimEnd().split("\n").map((l) =>
        l.replace(/^\d{4}-\d\d-\d\dT[\d:.]+Z /, "")
      );
      assert.equal(entries[0], `# session on ${module.address} started`);
      for (
        const expected of [
          "> AT+SKTQUERY",
          "< tcp_keepcnt: 0",
          "< OK",
          "> AT+SKTDEL=3",
          "< ERROR: 1  -> AT+SKTDEL: Parameter error (bad link id, or the link is not in use)",
          "* [$][SKT][DATA][1][8]:hi\\x00\\x1b[2J\\n",
          "> AT+SKTSTATE",
        ]
      ) {
        assert.ok(entries.includes(expected), `${expected} in\n${text}`);
      }
      assert.equal(entries[entries.length - 1], "# session ended");
      assert.ok(text.split("\n").slice(0, -1).every((l) => /^\d{4}-/.test(l)));
    } finally {
      peer?.close();
      tmux.kill();
      await module.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "interactive through tmux with NO_COLOR: prefixes, --hex, a raw payload typed and from a file, Ctrl-C twice",
  ignore: !has("tmux"),
  fn: async () => {
    const module = await emulator("host");
    const dir = await Deno.makeTempDir();
    const file = `${dir}/tail.bin`;
    await Deno.writeFile(file, new Uint8Array([0xfe, 0x0a]));
    const tmux = new Tmux({ NO_COLOR: "1" });
    const peerPort = freePort();
    try {
      tmux.start([
        Deno.execPath(),
        "run",
        ...NET,
        `--allow-read=${file}`,
        MAIN,
        "term",
        module.address,
        "--hex",
        "--timestamps",
      ]);
      await tmux.waitFor(/# connected to/);
      const time = String.raw`\d\d:\d\d:\d\d\.\d{3}`;
      assert.match(tmux.screen(), new RegExp(`^${time} \\* ATCMD READY$`, "m"));
      tmux.send(`AT+SKTSERVER=0,1,,${peerPort},1`, "key:Enter");
      tmux.send(`AT+SKTCLIENT=4,1,,127.0.0.1,${peerPort},,0`, "key:Enter");
      await tmux.waitFor(
        new RegExp(`^${time} \\* \\[\\$\\]\\[SKT\\]\\[EVENT\\]`, "m"),
      );
      tmux.send("AT+SKTSENDRAW=4,4", "key:Enter");
      await tmux.waitFor(/^>>> \[4 of 4 bytes\] $/m);
      tmux.send("a\\x00", "key:Enter");
      await tmux.waitFor(/^>>> \[2 of 4 bytes\] $/m);
      tmux.send("toolong", "key:Enter");
      await tmux.waitFor(
        /7 bytes, but only 2 are left of the 4 announced; nothing sent/,
      );
      tmux.send(`:sendfile ${file}`, "key:Enter");
      // The seed gets the four bytes (in one DATA line or two), as hex dumps.
      await tmux.waitFor(/< OK\n/);
      const screen = await tmux.waitFor(/ fe 0a +\|(a\.)?\.\.\|$/m);
      assert.match(
        screen,
        new RegExp(
          `^${time} \\* \\[\\$\\]\\[SKT\\]\\[DATA\\]\\[1\\]\\[[24]\\]:\\n${time} \\*   0000  61 00( fe 0a)? +\\|a\\.(\\.\\.)?\\|$`,
          "m",
        ),
      );
      assert.match(
        screen,
        new RegExp(`^${time} > \\[2 bytes\\] a\\\\x00$`, "m"),
      );
      assert.match(screen, new RegExp(`^${time} < OK$`, "m"));
      assert.doesNotMatch(tmux.screen(true), /ESC\[3\dm/); // no colour
      tmux.send("key:C-c");
      await tmux.waitFor(/# Ctrl-C again or Ctrl-D to quit/);
      tmux.send("key:C-c");
      await tmux.waitFor(/^EXIT 0\nicanon\s*$/m);
    } finally {
      tmux.kill();
      await module.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "interactive through tmux: the module going away is one line, exit 1, console restored",
  ignore: !has("tmux"),
  fn: async () => {
    const module = await emulator("manual");
    const tmux = new Tmux();
    try {
      tmux.start([
        Deno.execPath(),
        "run",
        ...NET,
        MAIN,
        "term",
        module.address,
      ]);
      await tmux.waitFor(/# connected to/);
      tmux.send("AT+SKT");
      await tmux.waitFor(/^> AT\+SKT\s*$/m);
      await module.stop();
      const screen = await tmux.waitFor(/^EXIT 1\nicanon\s*$/m);
      assert.match(
        screen,
        /^# tcp:127\.0\.0\.1:\d+: the connection closed\s*\nEXIT 1$/m,
      );
    } finally {
      tmux.kill();
      await module.stop();
    }
  },
});

Deno.test({
  name:
    "interactive through tmux: SIGTERM ends cleanly, exit 143, console restored",
  ignore: !has("tmux"),
  fn: async () => {
    const module = await emulator("manual");
    const tmux = new Tmux();
    try {
      tmux.start([
        Deno.execPath(),
        "run",
        ...NET,
        MAIN,
        "term",
        module.address,
      ]);
      await tmux.waitFor(/# connected to/);
      tmux.send("AT+SKT");
      await tmux.waitFor(/^> AT\+SKT\s*$/m);
      Deno.kill(tmux.commandPid(), "SIGTERM");
      const screen = await tmux.waitFor(/^EXIT 143\nicanon\s*$/m);
      assert.doesNotMatch(screen, /^> AT\+SKT/m); // the prompt row is cleared
    } finally {
      tmux.kill();
      await module.stop();
    }
  },
});

Deno.test("term sender: payload steps turn the event loop between them unless the module has RTS", async () => {
  for (const paced of [true, false]) {
    const writes: number[] = [];
    const transport = {
      name: "test",
      readable: new ReadableStream<Uint8Array>(),
      write: (bytes: Uint8Array) => {
        writes.push(bytes.length);
        return Promise.resolve();
      },
      close: () => Promise.resolve(),
    };
    const original = globalThis.setTimeout;
    let turns = 0;
    globalThis.setTimeout = ((fn: () => void, ms?: number) => {
      if (!ms) turns++;
      return original(fn, ms);
    }) as typeof setTimeout;
    try {
      const sender = new Sender(transport, TCP_CHUNK, paced, (e) => {
        throw e;
      });
      sender.payload(new Uint8Array(4 * TCP_CHUNK));
      await sender.idle;
    } finally {
      globalThis.setTimeout = original;
    }
    assert.deepEqual(writes, [TCP_CHUNK, TCP_CHUNK, TCP_CHUNK, TCP_CHUNK]);
    assert.equal(turns, paced ? 3 : 0, `paced ${paced}`);
  }
});
