import assert from "node:assert/strict";
import { parseEmulateArgs, UsageError } from "./mod.ts";
import { LOOPBACK_NET } from "./test_cli.ts";

/** A free port on loopback (bound and released). */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

const MAIN = new URL("./main.ts", import.meta.url).pathname;
const decoder = new TextDecoder();

function atsock(
  args: string[],
  permissions = [
    LOOPBACK_NET,
    "--allow-read",
    "--allow-env",
    "--allow-ffi",
    "--allow-sys",
  ],
) {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", ...permissions, MAIN, ...args],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", RUST_BACKTRACE: "0" },
  }).spawn();
}

Deno.test("emulate arguments: defaults, tcp forms, errors", () => {
  assert.deepEqual(parseEmulateArgs([]), {
    console: { kind: "stdio" },
    mode: "manual",
    baud: 0,
    lineBuffer: 2000,
    ip: undefined,
    bind: "127.0.0.1",
    certs: undefined,
    mbedtls: 2,
  });
  const three = parseEmulateArgs(["--mbedtls", "3"]);
  assert.ok(three !== "help");
  assert.equal(three.mbedtls, 3);
  const tcp = parseEmulateArgs([
    "--console",
    "tcp::3333",
    "--mode",
    "host",
    "--baud",
    "115200",
  ]);
  assert.ok(tcp !== "help");
  assert.deepEqual(tcp.console, {
    kind: "tcp",
    hostname: "127.0.0.1",
    port: 3333,
  });
  const rts = parseEmulateArgs(["--flow-control", "rts"]);
  assert.ok(rts !== "help");
  assert.equal(rts.flowControl, "rts");
  const none = parseEmulateArgs(["--flow-control", "none"]);
  assert.ok(none !== "help");
  assert.equal(none.flowControl, "none");
  const v6 = parseEmulateArgs(["--console", "tcp:[::1]:4000"]);
  assert.ok(v6 !== "help");
  assert.deepEqual(v6.console, { kind: "tcp", hostname: "::1", port: 4000 });
  assert.equal(parseEmulateArgs(["--help"]), "help");
  const small = parseEmulateArgs(["--line-buffer", "127"]);
  assert.ok(small !== "help");
  assert.equal(small.lineBuffer, 127);
  for (
    const bad of [
      ["--console", "serial"],
      ["--console", "tcp:1.2.3.4"],
      ["--console", "tcp::70000"],
      ["--mode", "auto"],
      ["--baud", "fast"],
      ["--line-buffer", "7"],
      ["--line-buffer", "65536"],
      ["--line-buffer", "2e3"],
      ["--line-buffer", "-5"],
      ["--line-buffer", ""],
      ["--line-buffer", "12.5"],
      ["--flow-control", "cts"],
      ["--mbedtls", "4"],
      ["--mbedtls", ""],
      ["--bogus"],
      ["extra"],
    ]
  ) {
    assert.throws(() => parseEmulateArgs(bad), UsageError, bad.join(" "));
  }
});

Deno.test("atsock emulate on stdio answers and exits when stdin ends", async () => {
  const child = atsock(["emulate", "--mode", "host"]);
  const writer = child.stdin.getWriter();
  await writer.write(
    new TextEncoder().encode("AT+SKTQUERY\r\nAT+SKTDEL=3\r\n"),
  );
  await writer.close();
  const out = await child.output();
  assert.equal(out.code, 0);
  assert.equal(
    decoder.decode(out.stdout),
    "ATCMD READY\r\n\r\nGlobal SOCKET configuration:\r\nso_sndtimeo: 0\r\nso_rcvtimeo: 0\r\n" +
      "tcp_nodelay: 0\r\nso_keepalive: 0\r\ntcp_keepidle: 0\r\ntcp_keepintvl: 0\r\n" +
      "tcp_keepcnt: 0\r\n\r\nOK\r\n\r\nERROR: 1\r\n",
  );
  const err = decoder.decode(out.stderr);
  assert.match(err, /virtual module on stdio, mode Host Control Mode/);
  assert.match(err, /AT\+SKTDEL: ERROR: 1: link 3 is not in use/);
});

Deno.test("atsock emulate on a TCP console; SIGTERM closes every socket", async () => {
  const child = atsock(["emulate", "--console", "tcp:127.0.0.1:0"]);
  const peer = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const peerPort = (peer.addr as Deno.NetAddr).port;
  const serverPort = freePort();
  // The banner names the port actually bound.
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let err = "";
  while (!/on tcp:127\.0\.0\.1:(\d+)/.test(err)) {
    const { value, done } = await reader.read();
    if (done) break;
    err += value;
  }
  const port = Number(/on tcp:127\.0\.0\.1:(\d+)/.exec(err)![1]);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(new TextEncoder().encode("AT+SKTSTATE\r\n"));
  const buf = new Uint8Array(100);
  let text = "";
  while (!text.endsWith("#\r\n")) {
    const n = await conn.read(buf);
    if (n === null) break;
    text += decoder.decode(buf.subarray(0, n));
  }
  // Manual Test Mode: the echo, the answer, the log service's lines.
  assert.equal(
    text,
    "AT+SKTSTATE\r\r\n\r\nOK\r\n" +
      "\n\r[MEM] After do cmd, available heap 290560\n\r\r\n\n#\r\n",
  );
  // A second client is told the console is busy.
  const second = await Deno.connect({ hostname: "127.0.0.1", port });
  const n = await second.read(buf);
  assert.match(decoder.decode(buf.subarray(0, n ?? 0)), /console busy/);
  second.close();
  // Live links: a client link to a peer, a server with a seed.
  const accepted = peer.accept();
  await conn.write(
    new TextEncoder().encode(
      `AT+SKTCLIENT=0,1,,127.0.0.1,${peerPort},,0\r\nAT+SKTSERVER=1,1,,${serverPort},0\r\n`,
    ),
  );
  const clientSide = await accepted;
  text = "";
  while (!/OK\r\n[\s\S]*OK\r\n[\s\S]*#\r\n$/.test(text)) {
    const n = await conn.read(buf);
    if (n === null) break;
    text += decoder.decode(buf.subarray(0, n));
  }
  const seedPeer = await Deno.connect({
    hostname: "127.0.0.1",
    port: serverPort,
  });
  while (!/connected to server\[link_id:1\]\r\n$/.test(text)) {
    const n = await conn.read(buf);
    if (n === null) break;
    text += decoder.decode(buf.subarray(0, n));
  }
  child.kill("SIGTERM");
  const status = await child.status;
  assert.equal(status.code, 0);
  // Every peer sees the end of its stream, and the server's port is free.
  assert.equal(await clientSide.read(buf), null);
  assert.equal(await seedPeer.read(buf), null);
  Deno.listen({ hostname: "127.0.0.1", port: serverPort }).close();
  clientSide.close();
  seedPeer.close();
  peer.close();
  conn.close();
  while (true) {
    const { value, done } = await reader.read();
    if (done) break;
    err += value;
  }
  assert.match(err, /closed every socket/);
  await child.stdin.close().catch(() => {});
  await child.stdout.cancel();
});

Deno.test("bad arguments: one line, exit status 2, no stack trace", async () => {
  const child = atsock(["emulate", "--mode", "auto"]);
  await child.stdin.close();
  const out = await child.output();
  assert.equal(out.code, 2);
  const err = decoder.decode(out.stderr);
  assert.equal(
    err,
    'atsock: --mode must be manual or host, not "auto" (see atsock emulate --help)\n',
  );
});

Deno.test("a denied permission is one line naming the problem", async () => {
  const child = atsock(["emulate", "--console", "tcp:127.0.0.1:0"], [
    "--allow-env",
  ]);
  await child.stdin.close();
  const out = await child.output();
  assert.equal(out.code, 1);
  const err = decoder.decode(out.stderr);
  assert.match(err, /^atsock: permission denied: .*--allow-net/m);
  assert.doesNotMatch(err, /at .*\.ts:\d+/);
});

Deno.test("atsock emulate on a pty: the banner names the path, a serial client talks to it", async () => {
  const { openSerial } = await import("@atsock/tty");
  const child = atsock([
    "emulate",
    "--console",
    "pty",
    "--mode",
    "host",
    "--baud",
    "115200",
  ]);
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let err = "";
  while (!/on (\/dev\/pts\/\d+)/.test(err)) {
    const { value, done } = await reader.read();
    if (done) break;
    err += value;
  }
  const path = /on (\/dev\/pts\/\d+)/.exec(err)![1];
  assert.match(err, /115200 baud/);
  const port = openSerial(path, { baud: 115200 });
  try {
    await port.write(new TextEncoder().encode("AT+SKTQUERY\r\n"));
    const r = port.readable.getReader();
    let text = "";
    while (!text.endsWith("\r\nOK\r\n")) {
      const { value, done } = await r.read();
      if (done) break;
      text += decoder.decode(value);
    }
    r.releaseLock();
    // ATCMD READY greets the client when it opens the pty; the answer,
    // paced at 115200 baud, arrives complete.
    assert.equal(
      text,
      "ATCMD READY\r\n\r\nGlobal SOCKET configuration:\r\nso_sndtimeo: 0\r\nso_rcvtimeo: 0\r\n" +
        "tcp_nodelay: 0\r\nso_keepalive: 0\r\ntcp_keepidle: 0\r\ntcp_keepintvl: 0\r\n" +
        "tcp_keepcnt: 0\r\n\r\nOK\r\n",
    );
  } finally {
    await port.close();
    child.kill("SIGTERM");
    assert.equal((await child.status).code, 0);
    await reader.cancel();
    await child.stdin.close().catch(() => {});
    await child.stdout.cancel();
  }
});

Deno.test({
  name: "socat can drive the pty console",
  ignore: !(await new Deno.Command("sh", {
    args: ["-c", "command -v socat"],
    stdout: "null",
  }).output()).success,
  fn: async () => {
    const child = atsock(["emulate", "--console", "pty"]);
    const reader = child.stderr.pipeThrough(new TextDecoderStream())
      .getReader();
    let err = "";
    while (!/on (\/dev\/pts\/\d+)/.test(err)) {
      const { value, done } = await reader.read();
      if (done) break;
      err += value;
    }
    const path = /on (\/dev\/pts\/\d+)/.exec(err)![1];
    const socat = new Deno.Command("socat", {
      args: ["-T1", "-", `${path},raw,echo=0`],
      stdin: "piped",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const w = socat.stdin.getWriter();
    await w.write(new TextEncoder().encode("AT+SKTSTATE\r\n"));
    const r = socat.stdout.getReader();
    let text = "";
    while (!text.endsWith("#\r\n")) {
      const { value, done } = await r.read();
      if (done) break;
      text += decoder.decode(value);
    }
    // Manual Test Mode echoes, then prints the log service's lines.
    assert.equal(
      text,
      "AT+SKTSTATE\r\r\n\r\nOK\r\n" +
        "\n\r[MEM] After do cmd, available heap 290560\n\r\r\n\n#\r\n",
    );
    await w.close();
    r.releaseLock();
    await socat.stdout.cancel();
    socat.kill();
    await socat.status;
    child.kill("SIGTERM");
    await child.status;
    await reader.cancel();
    await child.stdin.close().catch(() => {});
    await child.stdout.cancel();
  },
});

Deno.test("--bind 0.0.0.0 and --ip: servers listen on every address and report the given one", async () => {
  const port = freePort();
  const child = atsock([
    "emulate",
    "--mode",
    "host",
    "--bind",
    "0.0.0.0",
    "--ip",
    "192.0.2.7",
  ], [
    // Listening on every interface (0.0.0.0) is the point; connects and
    // sends stay on loopback.
    "--allow-net=0.0.0.0,127.0.0.1,localhost",
    "--allow-read",
    "--allow-env",
    "--allow-ffi",
    "--allow-sys",
  ]);
  const writer = child.stdin.getWriter();
  const reader = child.stdout.getReader();
  let text = "";
  const readUntil = async (pattern: RegExp) => {
    for (let i = 0; i < 100 && !pattern.test(text); i++) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value);
    }
  };
  try {
    await writer.write(
      new TextEncoder().encode(
        `AT+SKTSERVER=0,1,,${port},0\r\nAT+SKTSTATE\r\n`,
      ),
    );
    await readUntil(/socket_fd:0\r\n\r\nOK\r\n$/);
    assert.match(
      text,
      new RegExp(
        `link_id:0,server,tcp,src_address:192\\.0\\.2\\.7,src_port:${port},dst_address:0\\.0\\.0\\.0,dst_port:0,socket_fd:0\r\n`,
      ),
    );
    // Bound to 0.0.0.0: reachable on loopback too.
    const client = await Deno.connect({ hostname: "127.0.0.1", port });
    await readUntil(/connected to server\[link_id:0\]\r\n$/);
    assert.match(
      text,
      /A client\[link_id:1,seed,tcp,dst_address:127\.0\.0\.1,/,
    );
    client.close();
  } finally {
    await writer.close();
    reader.releaseLock();
    const out = await child.output();
    assert.equal(out.code, 0);
    assert.match(
      decoder.decode(out.stderr),
      /servers bind 0\.0\.0\.0, report ip 192\.0\.2\.7/,
    );
  }
});

Deno.test("without --allow-ffi the emulator says once that auto_rcv=0 servers keep the host's window", async () => {
  const child = atsock(["emulate", "--mode", "host"], [
    LOOPBACK_NET,
    "--allow-read",
    "--allow-env",
    "--allow-sys",
  ]);
  const writer = child.stdin.getWriter();
  await writer.write(
    new TextEncoder().encode(
      `AT+SKTSERVER=0,1,,${freePort()},0\r\nAT+SKTSERVER=1,1,,${freePort()},0\r\n`,
    ),
  );
  await writer.close();
  const out = await child.output();
  assert.equal(out.code, 0);
  assert.equal(
    decoder.decode(out.stdout),
    "ATCMD READY\r\n\r\nOK\r\n\r\nOK\r\n",
  );
  const warnings = decoder.decode(out.stderr).split("\n").filter((l) =>
    /keep the host's large TCP window/.test(l)
  );
  assert.equal(warnings.length, 1, decoder.decode(out.stderr));
  assert.match(warnings[0], /--allow-ffi.*deno task emulate grants/);
});

Deno.test("atsock emulate on stdio: at the end of input, commands still running are finished and answered", async () => {
  // A connect is in flight when stdin ends: its answer and the SKTSTATE
  // after it must still be printed (3 runs: it used to be lost 3 times in 4).
  for (let run = 0; run < 3; run++) {
    const port = freePort();
    const child = atsock(["emulate", "--mode", "host"]);
    const writer = child.stdin.getWriter();
    await writer.write(
      new TextEncoder().encode(
        `AT+SKTSERVER=0,1,,${port},1\r\n` +
          `AT+SKTCLIENT=5,1,,127.0.0.1,${port},,1\r\nAT+SKTSTATE\r\n`,
      ),
    );
    await writer.close();
    const out = await child.output();
    assert.equal(out.code, 0);
    const text = decoder.decode(out.stdout);
    assert.equal(text.match(/\r\nOK\r\n/g)?.length, 3, text);
    assert.match(text, /link_id:5,client,tcp,/);
    assert.match(text, /link_id:1,seed,tcp,/);
    assert.match(decoder.decode(out.stderr), /closed every socket/);
  }
});

Deno.test("permission text: the banner says 'not granted', and a denial inside a task names the task that grants it", async () => {
  const child = atsock(["emulate"], ["--allow-net"]);
  await child.stdin.close();
  const out = await child.output();
  const err = decoder.decode(out.stderr);
  assert.match(
    err,
    /permissions: net granted, read not granted, ffi not granted\n/,
  );
  assert.doesNotMatch(err, /prompt/);

  // A net grant for some hosts is said as such, not as "not granted".
  const loopback = atsock(["emulate"], ["--allow-net=127.0.0.1"]);
  await loopback.stdin.close();
  assert.match(
    decoder.decode((await loopback.output()).stderr),
    /permissions: net granted for some hosts \(loopback among them\), read not granted/,
  );

  const certs = atsock(["emulate", "--certs", "/nonexistent-dir"], [
    "--allow-net",
  ]);
  await certs.stdin.close();
  const denied = decoder.decode((await certs.output()).stderr);
  // Not "run again with the --allow-read flag", which a task cannot take.
  assert.doesNotMatch(denied, /run again with/);
});

Deno.test("permission text: a refused permission names deno task atsock and the deno run flag", async () => {
  const child = atsock(["emulate", "--console", "tcp:127.0.0.1:0"], [
    "--allow-env",
  ]);
  await child.stdin.close();
  const err = decoder.decode((await child.output()).stderr);
  assert.match(
    err,
    /^atsock: permission denied: Requires net access to "127\.0\.0\.1:0": deno task atsock emulate grants --allow-net \(a task takes no permission flags\), or add --allow-net to the deno run line/m,
  );
});

Deno.test("diagnostics: at_sktserver format errors are logged with their reason", async () => {
  const child = atsock(["emulate", "--mode", "host"]);
  const writer = child.stdin.getWriter();
  await writer.write(
    new TextEncoder().encode(
      "AT+SKTSERVER=0,0\r\nAT+SKTCLIENT=1,1,,127.0.0.1,99999,,1\r\n",
    ),
  );
  await writer.close();
  const out = await child.output();
  assert.equal(
    decoder.decode(out.stdout),
    "ATCMD READY\r\n\r\nERROR: 1\r\n\r\nERROR: 1\r\n",
  );
  const err = decoder.decode(out.stderr);
  assert.match(err, /AT\+SKTSERVER: ERROR: 1: expected 5 fields, got 2\n/);
  assert.match(err, /AT\+SKTCLIENT: ERROR: 1: dst_port 99999 is outside/);
});

Deno.test("diagnostics: --certs is checked at start-up, one warning line", async () => {
  const cases: [string, string[], RegExp][] = [
    ["/nonexistent-atsock-certs", ["-A"], /does not exist/],
    [MAIN, ["-A"], /is not a directory/],
    ["packages", ["--allow-net"], /Deno's read permission is not granted/],
  ];
  for (const [dir, permissions, problem] of cases) {
    const child = atsock(["emulate", "--certs", dir], permissions);
    await child.stdin.close();
    const err = decoder.decode((await child.output()).stderr);
    const warnings = err.split("\n").filter((l) => l.includes("warning"));
    assert.equal(warnings.length, 1, err);
    assert.match(warnings[0], new RegExp(`--certs ${dir} `));
    assert.match(warnings[0], problem);
  }
});

Deno.test("diagnostics: a console address in use names the address and the port", async () => {
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (taken.addr as Deno.NetAddr).port;
  try {
    const child = atsock(["emulate", "--console", `tcp:127.0.0.1:${port}`]);
    await child.stdin.close();
    const out = await child.output();
    assert.equal(out.code, 1);
    assert.match(
      decoder.decode(out.stderr),
      new RegExp(`^atsock: address in use: tcp:127\\.0\\.0\\.1:${port} `, "m"),
    );
  } finally {
    taken.close();
  }
});

Deno.test("diagnostics: run says why a step got ERROR: 1 (link already in use, link not in use)", async () => {
  const port = freePort();
  const emulator = atsock([
    "emulate",
    "--console",
    `tcp:127.0.0.1:${port}`,
    "--mode",
    "host",
  ]);
  const errors = emulator.stderr.pipeThrough(new TextDecoderStream())
    .getReader();
  let banner = "";
  while (!banner.includes("permissions:")) {
    const { value, done } = await errors.read();
    if (done) break;
    banner += value;
  }
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/a.atr`,
      `AT+SKTSERVER=0,1,,${freePort()},1\n`,
    );
    await Deno.writeTextFile(`${dir}/b.atr`, "AT+SKTSEND=7,2,,,hi\n");
    const run = async (script: string) => {
      for (let i = 0; i < 200; i++) {
        const out = await atsock(["run", `tcp:127.0.0.1:${port}`, script])
          .output();
        const text = decoder.decode(out.stdout) + decoder.decode(out.stderr);
        if (!/console busy|another client/.test(text)) return text;
        await new Promise((r) => setTimeout(r, 20));
      }
      throw new Error("the console stayed busy");
    };
    assert.match(await run(`${dir}/a.atr`), /PASS/);
    assert.match(
      await run(`${dir}/a.atr`),
      /note: +ERROR: 1 of AT\+SKTSERVER: .*: link 0 is already in use \(AT\+SKTDEL=0 frees it\)/,
    );
    assert.match(await run(`${dir}/b.atr`), /link 7 is not in use/);
  } finally {
    await Deno.remove(dir, { recursive: true });
    emulator.kill("SIGTERM");
    while (!(await errors.read()).done);
    await emulator.stdout.cancel();
    await emulator.status;
  }
});

Deno.test("deno task start --mode host and deno task start -- --mode host both start Host Control Mode", async () => {
  const root = new URL("../../", import.meta.url).pathname;
  for (const args of [["--mode", "host"], ["--", "--mode", "host"]]) {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["task", "start", ...args],
      cwd: root,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1", RUST_BACKTRACE: "0" },
    }).spawn();
    const out = await child.output();
    const err = decoder.decode(out.stderr);
    assert.equal(out.code, 0, err);
    assert.match(err, /mode Host Control Mode/);
    assert.equal(decoder.decode(out.stdout), "ATCMD READY\r\n");
  }
});
