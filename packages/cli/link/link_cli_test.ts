/**
 * The one-shot subcommands as a user runs them: each invocation is a
 * spawned `atsock` process with narrow permissions, against a virtual
 * module on a loopback TCP console started here, with real loopback peers
 * checking the bytes. Links made by one invocation are used by the next.
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import { createSocket, type Socket } from "node:dgram";
import { createModule, serveTcp, type VirtualModule } from "@atsock/device";
import { CLI_MAIN as MAIN } from "../test_cli.ts";

const NET = ["--allow-net=127.0.0.1"];
const decoder = new TextDecoder();
const encoder = new TextEncoder();
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

interface Run {
  code: number;
  stdout: string;
  bytes: Uint8Array;
  stderr: string;
}

/** Runs `atsock` to the end; returns its status and output. */
async function atsock(args: string[], permissions = NET): Promise<Run> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...permissions, MAIN, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", RUST_BACKTRACE: "0" },
  }).output();
  return {
    code: out.code,
    stdout: decoder.decode(out.stdout),
    bytes: out.stdout,
    stderr: decoder.decode(out.stderr),
  };
}

/** Asserts an error run: the status, and exactly one line on stderr matching `line`. */
function failed(run: Run, code: number, line: RegExp): void {
  assert.equal(run.code, code, `status of a failure: ${run.stderr}`);
  assert.match(run.stderr, /^atsock: [^\n]*\n$/, "one line on stderr");
  assert.match(run.stderr, line);
  assert.doesNotMatch(run.stderr, /at .*\.ts:\d+/, "no stack trace");
}

/** Waits (bounded) until `ready()` holds. */
async function until(ready: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000 && !ready(); i++) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  assert.ok(ready(), `timed out waiting until ${what}`);
}

/** A virtual module on a loopback TCP console, for spawned invocations. */
class Bench {
  readonly module: VirtualModule;
  readonly console: ReturnType<typeof serveTcp>;
  readonly target: string;

  constructor(mode: "manual" | "host") {
    this.module = createModule({ mode });
    this.console = serveTcp(this.module, { port: 0 });
    this.target = `tcp:127.0.0.1:${this.console.port}`;
  }

  /** Runs `atsock <sub> <target> ...args` once the last one has let go of the console. */
  async run(sub: string, args: string[], permissions = NET): Promise<Run> {
    await until(() => !this.console.busy, "the console is free");
    return await atsock([sub, this.target, ...args], permissions);
  }

  async close(): Promise<void> {
    await this.console.close();
    await this.module.close();
  }
}

/** A TCP server on loopback for the module's clients. */
function tcpPeer() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  return {
    port: (listener.addr as Deno.NetAddr).port,
    accept: () => listener.accept(),
    close: () => listener.close(),
  };
}

/** Reads exactly `n` bytes (fewer if the connection ends). */
async function readExactly(conn: Deno.Conn, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let filled = 0;
  while (filled < n) {
    const got = await conn.read(out.subarray(filled));
    if (got === null) return out.subarray(0, filled);
    filled += got;
  }
  return out;
}

/** Reads from a link until `n` bytes came (one invocation, --wait bounded). */
async function readLink(
  bench: Bench,
  link: number,
  n: number,
  extra: string[] = [],
  permissions = NET,
): Promise<Run> {
  return await bench.run(
    "read",
    ["--link", String(link), "--size", String(n), "--wait", "10", ...extra],
    permissions,
  );
}

function tempFile(bytes: Uint8Array): string {
  const path = Deno.makeTempFileSync({ prefix: "atsock-oneshot-" });
  Deno.writeFileSync(path, bytes);
  return path;
}

function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) {
    crypto.getRandomValues(out.subarray(i, Math.min(n, i + 65536)));
  }
  return out;
}

for (const mode of ["manual", "host"] as const) {
  Deno.test(`${mode} mode: connect, then send, then read, each a separate invocation`, async (t) => {
    const bench = new Bench(mode);
    const peer = tcpPeer();
    try {
      const connected = await bench.run("connect", [
        "--link",
        "0",
        "--host",
        "127.0.0.1",
        "--port",
        String(peer.port),
      ]);
      assert.equal(connected.code, 0, connected.stderr);
      assert.equal(
        connected.stdout,
        `OK: link 0 is a tcp client of 127.0.0.1:${peer.port}\n`,
      );
      assert.equal(connected.stderr, "");
      using conn = await peer.accept();

      await t.step("state: the link as a table and as JSON", async () => {
        const text = await bench.run("state", []);
        assert.equal(text.code, 0);
        const dst = `127.0.0.1:${peer.port}`;
        // at_sktstate: a TCP client's source is its local address and port.
        const local = (conn.remoteAddr as Deno.NetAddr).port;
        const src = `127.0.0.1:${local}`;
        assert.equal(
          text.stdout,
          `LINK  ROLE    PROTO  ${"SOURCE".padEnd(src.length)}  ${
            "DESTINATION".padEnd(dst.length)
          }  SOCKET\n` +
            `0     client  tcp    ${src}  ${dst}  0\n`,
        );
        const json = await bench.run("state", ["--json"]);
        assert.equal(json.code, 0);
        assert.deepEqual(JSON.parse(json.stdout), [{
          linkId: 0,
          role: "client",
          protocol: "tcp",
          source: { ip: "127.0.0.1", port: local },
          destination: { ip: "127.0.0.1", port: peer.port },
          socketFd: 0,
        }]);
      });

      await t.step(
        "send --data: commas and backslashes arrive as typed",
        async () => {
          const sent = await bench.run("send", [
            "--link",
            "0",
            "--data",
            "a,b\\\\c,,\\x7e",
          ]);
          assert.equal(sent.code, 0, sent.stderr);
          assert.match(
            sent.stdout,
            /^sent 8 bytes \(8 B\) on link 0 in \d+\.\d\d s \(.*\) with AT\+SKTSEND\n$/,
          );
          assert.equal(decoder.decode(await readExactly(conn, 8)), "a,b\\c,,~");
        },
      );

      if (mode === "host") {
        await t.step(
          "send --data with CR LF goes as AT+SKTSENDRAW",
          async () => {
            const sent = await bench.run("send", [
              "--link",
              "0",
              "--data",
              "GET / HTTP/1.0\\r\\n\\r\\n",
              "--json",
            ]);
            assert.equal(sent.code, 0, sent.stderr);
            const json = JSON.parse(sent.stdout);
            assert.equal(json.ok, true);
            assert.equal(json.bytes, 18);
            assert.equal(json.method, "AT+SKTSENDRAW");
            assert.equal(
              decoder.decode(await readExactly(conn, 18)),
              "GET / HTTP/1.0\r\n\r\n",
            );
          },
        );
      } else {
        await t.step(
          "send --data with CR LF is refused in Manual Test Mode",
          async () => {
            const refused = await bench.run("send", [
              "--link",
              "0",
              "--data",
              "x\\r\\n",
            ]);
            failed(
              refused,
              1,
              /Manual Test Mode \(AT\+SKTSENDRAW is ERROR: 4\) and the data holds NUL, BS, TAB, DEL, 0xFF or CR LF bytes/,
            );
          },
        );
      }

      await t.step(
        "read: escaped text, exact bytes to a pipe, hex, JSON, a file",
        async () => {
          const payload = new Uint8Array([
            ...encoder.encode("from peer \x1b[2J"),
            0x01,
            0xff,
            13,
            10,
          ]);
          await conn.write(payload);
          const text = await readLink(bench, 0, payload.length);
          assert.equal(text.code, 0, text.stderr);
          assert.equal(text.stdout, "from peer \\x1b[2J\\x01\\xff\\r\\n\n");

          await conn.write(payload);
          const raw = await readLink(bench, 0, payload.length, ["--raw"]);
          assert.equal(raw.code, 0, raw.stderr);
          assert.deepEqual(raw.bytes, payload);

          await conn.write(encoder.encode("Hi\n"));
          const hex = await readLink(bench, 0, 3, ["--hex"]);
          assert.equal(
            hex.stdout,
            "0000  48 69 0a                                          |Hi.|\n",
          );

          const binary = randomBytes(3000).map((b) => b === 0 ? 1 : b);
          await conn.write(binary);
          const json = await readLink(bench, 0, binary.length, ["--json"]);
          assert.equal(json.code, 0, json.stderr);
          const doc = JSON.parse(json.stdout);
          assert.equal(doc.bytes, binary.length);
          assert.equal(doc.protocol, "tcp");
          assert.equal(doc.closed, false);
          assert.deepEqual(
            new Uint8Array(Buffer.from(doc.data, "base64")),
            binary,
          );

          const out = Deno.makeTempFileSync({ prefix: "atsock-oneshot-" });
          try {
            await conn.write(binary);
            const file = await readLink(bench, 0, binary.length, [
              "--out",
              out,
            ], [...NET, `--allow-write=${out}`]);
            assert.equal(file.code, 0, file.stderr);
            assert.equal(
              file.stdout,
              `read ${binary.length} bytes from link 0 into ${out}\n`,
            );
            assert.deepEqual(Deno.readFileSync(out), binary);
          } finally {
            Deno.removeSync(out);
          }

          const nothing = await bench.run("read", ["--link", "0"]);
          assert.equal(nothing.code, 0);
          assert.equal(nothing.stdout, "");
          assert.equal(nothing.stderr, "atsock: no data waiting on link 0\n");
        },
      );

      await t.step(
        "a NUL byte cuts AT+SKTREAD data: said, status 1",
        async () => {
          await conn.write(encoder.encode("ab\0cd"));
          const cut = await readLink(bench, 0, 5);
          assert.equal(cut.stdout, "ab\n");
          failed(cut, 1, /cut the data at a NUL byte: 2 of 5 bytes arrived/);
        },
      );

      await t.step(
        "the peer closes: read ends with closed, then ERROR: 4 with its meaning",
        async () => {
          await conn.write(encoder.encode("bye"));
          conn.close();
          const last = await bench.run("read", [
            "--link",
            "0",
            "--wait",
            "10",
            "--json",
          ]);
          assert.equal(last.code, 0, last.stderr);
          const doc = JSON.parse(last.stdout);
          assert.equal(doc.closed, true);
          assert.equal(decoder.decode(Buffer.from(doc.data, "base64")), "bye");
          // That read met the end: the module closed the socket (at_sktread),
          // so the link has none now.
          const gone = await bench.run("read", ["--link", "0"]);
          failed(
            gone,
            1,
            /^atsock: link 0's peer has gone and the module has closed its socket \(socket_fd:-1\)/,
          );
        },
      );
    } finally {
      peer.close();
      await bench.close();
    }
  });
}

Deno.test("host mode: a 1 MiB file through AT+SKTSENDRAW, sha256 equal at the peer", async () => {
  const bench = new Bench("host");
  const peer = tcpPeer();
  const data = randomBytes(1024 * 1024);
  const path = tempFile(data);
  try {
    const connected = await bench.run("connect", [
      "--link",
      "4",
      "--host",
      "127.0.0.1",
      "--port",
      String(peer.port),
    ]);
    assert.equal(connected.code, 0, connected.stderr);
    using conn = await peer.accept();
    const received = readExactly(conn, data.length);
    const sent = await bench.run(
      "send",
      ["--link", "4", "--file", path, "--json", "--progress"],
      [...NET, `--allow-read=${path}`],
    );
    assert.equal(sent.code, 0, sent.stderr);
    const json = JSON.parse(sent.stdout);
    assert.equal(json.ok, true);
    assert.equal(json.bytes, data.length);
    assert.equal(json.method, "AT+SKTSENDRAW");
    assert.ok(json.bytesPerSecond > 0);
    // --progress draws the bar on stderr (not a terminal here); stdout is JSON only.
    assert.match(sent.stderr, /100% {2}1\.0 MiB of 1\.0 MiB/);
    assert.equal(sha(await received), sha(data));
  } finally {
    Deno.removeSync(path);
    peer.close();
    await bench.close();
  }
});

Deno.test("manual mode: a file goes as AT+SKTSEND pieces, or is refused with the reason", async () => {
  const bench = new Bench("manual");
  const peer = tcpPeer();
  // Commas and backslashes are escaped, so pieces differ in size.
  const text = encoder.encode("abc,def\\ghi ".repeat(500));
  const ok = tempFile(text);
  const crlf = tempFile(encoder.encode("line\r\nline\r\n"));
  try {
    const connected = await bench.run("connect", [
      "--link",
      "1",
      "--host",
      "127.0.0.1",
      "--port",
      String(peer.port),
    ]);
    assert.equal(connected.code, 0, connected.stderr);
    using conn = await peer.accept();
    const received = readExactly(conn, text.length);
    const sent = await bench.run(
      "send",
      ["--link", "1", "--file", ok],
      [...NET, `--allow-read=${ok}`],
    );
    assert.equal(sent.code, 0, sent.stderr);
    assert.match(sent.stdout, /^sent 6000 bytes .* with AT\+SKTSEND\n$/);
    assert.equal(sent.stderr, "", "no progress bar when stderr is a pipe");
    assert.deepEqual(await received, text);

    const refused = await bench.run(
      "send",
      ["--link", "1", "--file", crlf],
      [...NET, `--allow-read=${crlf}`],
    );
    failed(
      refused,
      1,
      /Manual Test Mode .* holds NUL, BS, TAB, DEL, 0xFF or CR LF bytes/,
    );
    // Nothing of the refused file went out: the next bytes are these.
    const marker = await bench.run("send", ["--link", "1", "--data", "END"]);
    assert.equal(marker.code, 0, marker.stderr);
    assert.equal(decoder.decode(await readExactly(conn, 3)), "END");
  } finally {
    Deno.removeSync(ok);
    Deno.removeSync(crlf);
    peer.close();
    await bench.close();
  }
});

Deno.test("host mode: listen, a peer connects, its seed is sent to and read from", async () => {
  const bench = new Bench("host");
  const port = freePort();
  try {
    const listening = await bench.run("listen", [
      "--link",
      "2",
      "--port",
      String(port),
      "--json",
    ]);
    assert.equal(listening.code, 0, listening.stderr);
    assert.deepEqual(JSON.parse(listening.stdout), {
      ok: true,
      linkId: 2,
      type: "tcp",
      port,
      autoReceive: false,
    });
    using client = await Deno.connect({ hostname: "127.0.0.1", port });
    await until(
      () => bench.module.state().some((l) => l.role === "seed"),
      "the module has accepted the client",
    );
    const state = await bench.run("state", []);
    assert.equal(state.code, 0);
    const local = (client.localAddr as Deno.NetAddr).port;
    const lines = state.stdout.split("\n");
    assert.equal(lines.length, 4);
    assert.match(lines[0], /^LINK +ROLE +PROTO +SOURCE +DESTINATION +SOCKET$/);
    assert.match(
      lines[1],
      new RegExp(`^2 +server +tcp +127\\.0\\.0\\.1:${port} +- +0$`),
    );
    assert.match(
      lines[2],
      new RegExp(`^0 +seed +tcp +- +127\\.0\\.0\\.1:${local} +1$`),
    );
    const toServer = await bench.run("send", ["--link", "2", "--data", "x"]);
    failed(
      toServer,
      1,
      /link 2 is a tcp server on port \d+: send on one of its seeds/,
    );

    const sent = await bench.run("send", ["--link", "0", "--data", "hello"]);
    assert.equal(sent.code, 0, sent.stderr);
    assert.equal(decoder.decode(await readExactly(client, 5)), "hello");
    await client.write(encoder.encode("world"));
    const read = await readLink(bench, 0, 5);
    assert.equal(read.stdout, "world\n");

    const taken = await bench.run("listen", ["--link", "2", "--port", "1"]);
    failed(
      taken,
      1,
      /^atsock: AT\+SKTSERVER: ERROR: 1 \(Parameter error\): link 2 is already in use \(tcp server on port \d+\); AT\+SKTDEL=2 frees it\n$/,
    );
  } finally {
    await bench.close();
  }
});

Deno.test("UDP server: the receiver is required, datagrams go and come with their sender", async () => {
  const bench = new Bench("host");
  const port = freePort();
  const peer: Socket = createSocket("udp4");
  await new Promise<void>((resolve) => peer.bind(0, "127.0.0.1", resolve));
  const got: Uint8Array[] = [];
  peer.on("message", (msg) => got.push(new Uint8Array(msg)));
  try {
    const listening = await bench.run("listen", [
      "--link",
      "3",
      "--type",
      "udp",
      "--port",
      String(port),
    ]);
    assert.equal(listening.code, 0, listening.stderr);
    assert.equal(
      listening.stdout,
      `OK: link 3 is a udp server on port ${port}\n`,
    );
    const nowhere = await bench.run("send", ["--link", "3", "--data", "x"]);
    failed(
      nowhere,
      1,
      /link 3 is a udp server: give the receiver with --ip and --port/,
    );
    const sent = await bench.run("send", [
      "--link",
      "3",
      "--data",
      "one,datagram",
      "--ip",
      "127.0.0.1",
      "--port",
      String(peer.address().port),
    ]);
    assert.equal(sent.code, 0, sent.stderr);
    await until(() => got.length > 0, "the datagram arrived");
    assert.equal(decoder.decode(got[0]), "one,datagram");

    // Data shaped like the sender fields: the read still names the real sender.
    await new Promise<void>((resolve, reject) =>
      peer.send(
        "1.2.3.4,5,x",
        port,
        "127.0.0.1",
        (e) => e ? reject(e) : resolve(),
      )
    );
    const read = await readLink(bench, 3, 11);
    assert.equal(read.code, 0, read.stderr);
    assert.equal(
      read.stdout,
      `127.0.0.1:${peer.address().port}: 1.2.3.4,5,x\n`,
    );
  } finally {
    peer.close();
    await bench.close();
  }
});

Deno.test("module errors come with their meaning; unused links are named", async () => {
  const bench = new Bench("host");
  try {
    const refused = await bench.run("connect", [
      "--link",
      "5",
      "--host",
      "127.0.0.1",
      "--port",
      String(freePort()),
    ]);
    failed(
      refused,
      1,
      /^atsock: AT\+SKTCLIENT: ERROR: 2 \(Failed to create TCP client\): nothing accepted the connection/,
    );
    const json = await bench.run("connect", [
      "--link",
      "5",
      "--host",
      "127.0.0.1",
      "--port",
      String(freePort()),
      "--json",
    ]);
    assert.equal(json.code, 1);
    assert.deepEqual(JSON.parse(json.stdout).error.code, 2);
    assert.equal(
      JSON.parse(json.stdout).error.meaning,
      "Failed to create TCP client",
    );
    const tls = await bench.run("listen", [
      "--link",
      "6",
      "--type",
      "tls",
      "--cert",
      "1",
      "--port",
      String(freePort()),
    ]);
    // at_sktserver: a certificate file that does not exist is 1.
    failed(
      tls,
      1,
      /AT\+SKTSERVER: ERROR: 1 \(Parameter error\): .*certificate file missing/,
    );
    failed(
      await bench.run("read", ["--link", "7"]),
      1,
      /^atsock: link 7 is not in use \(see atsock state\)\n$/,
    );
    failed(
      await bench.run("send", ["--link", "7", "--data", "x"]),
      1,
      /link 7 is not in use/,
    );
    const empty = await bench.run("state", ["--json"]);
    assert.equal(empty.stdout, "[]\n");
    assert.equal((await bench.run("state", [])).stdout, "no links in use\n");
  } finally {
    await bench.close();
  }
});

Deno.test("bad arguments: one line naming the command's help, status 2", async () => {
  const cases: [string[], RegExp][] = [
    [
      ["connect", "tcp::1", "--link", "20", "--host", "h", "--port", "1"],
      /--link must be a whole number from 0 to 19/,
    ],
    [[
      "connect",
      "tcp::1",
      "--link",
      "0",
      "--host",
      "h",
      "--port",
      "1",
      "--type",
      "tls-cert",
    ], /--cert 1\.\.10 is required for type tls-cert/],
    [
      ["listen", "tcp::1", "--link", "0", "--port", "0"],
      /--port must be a whole number from 1 to 65535/,
    ],
    [
      ["send", "tcp::1", "--link", "0"],
      /give one of --data TEXT or --file PATH/,
    ],
    [
      ["read", "tcp::1", "--link", "0", "--raw", "--hex"],
      /choose one of --hex, --raw/,
    ],
    [["state"], /which module\?/],
    [["state", "tcp::1", "--frobnicate"], /frobnicate/],
  ];
  for (const [args, message] of cases) {
    const run = await atsock(args);
    failed(run, 2, message);
    assert.match(
      run.stderr,
      new RegExp(`\\(see atsock ${args[0]} --help\\)\\n$`),
    );
  }
});

Deno.test("help: usage, examples and permissions for each one-shot command", async () => {
  for (const sub of ["state", "connect", "listen", "send", "read"]) {
    const run = await atsock([sub, "--help"], []);
    assert.equal(run.code, 0);
    assert.match(run.stdout, new RegExp(`^atsock ${sub}: `));
    assert.match(run.stdout, /\nUsage:\n/);
    assert.match(run.stdout, /\nExamples:\n/);
    assert.match(run.stdout, /\nPermissions: --allow-net/);
  }
});

Deno.test("unreachable modules: missing device, refused connection, silence", async () => {
  const missing = await atsock(
    ["state", "/dev/atsock-no-such-device"],
    ["--allow-ffi"],
  );
  failed(missing, 1, /\/dev\/atsock-no-such-device/);

  const port = freePort();
  failed(
    await atsock(["state", `tcp:127.0.0.1:${port}`]),
    1,
    /connection refused/,
  );

  // Another client holds an emulator's TCP console.
  const bench = new Bench("host");
  const holder = await Deno.connect({
    hostname: "127.0.0.1",
    port: bench.console.port,
  });
  try {
    await until(() => bench.console.busy, "the first client holds the console");
    failed(
      await atsock(["state", bench.target]),
      1,
      /the connection to the module is closed \(is another client connected to tcp:127\.0\.0\.1:\d+\?\)/,
    );
  } finally {
    holder.close();
    await bench.close();
  }

  // Accepts and never answers.
  const silent = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of silent) held.push(conn);
  })();
  try {
    const run = await atsock([
      "state",
      `tcp:127.0.0.1:${(silent.addr as Deno.NetAddr).port}`,
      "--timeout",
      "0.3",
    ]);
    failed(run, 1, /^atsock: AT\+SKTSTATE: no answer within 300 ms/);
  } finally {
    silent.close();
    await accepting.catch(() => {});
    for (const conn of held) conn.close();
  }
});

Deno.test("denied permissions: one line naming the flag, and nothing lost", async () => {
  const bench = new Bench("host");
  const peer = tcpPeer();
  const path = tempFile(encoder.encode("data"));
  const out = Deno.makeTempFileSync({ prefix: "atsock-oneshot-" });
  try {
    failed(
      await bench.run("state", [], []),
      1,
      /permission denied: .*--allow-net/,
    );
    const connected = await bench.run("connect", [
      "--link",
      "0",
      "--host",
      "127.0.0.1",
      "--port",
      String(peer.port),
    ]);
    assert.equal(connected.code, 0, connected.stderr);
    using conn = await peer.accept();
    failed(
      await bench.run("send", ["--link", "0", "--file", path]),
      1,
      /permission denied: .*--allow-read/,
    );
    await conn.write(encoder.encode("keep me"));
    await until(
      () => bench.module.stats().received > 0,
      "the module has the peer's bytes",
    );
    failed(
      await bench.run("read", ["--link", "0", "--out", out]),
      1,
      /permission denied: .*--allow-write/,
    );
    // The file was opened before anything was read: the bytes are still there.
    const read = await readLink(bench, 0, 7);
    assert.equal(read.stdout, "keep me\n");
    failed(
      await atsock(["state", "/dev/atsock-no-such-device"], []),
      1,
      /permission denied: .*--allow-ffi/,
    );
  } finally {
    Deno.removeSync(path);
    Deno.removeSync(out);
    peer.close();
    await bench.close();
  }
});

/** A loopback port with nothing listening on it. */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

Deno.test("atsock del: deletes a link (AT+SKTDEL), a server with its seeds; an unused id is one line, status 1", async () => {
  const bench = new Bench("host");
  try {
    const port = freePort();
    const made = await bench.run("listen", [
      "--link",
      "0",
      "--port",
      String(port),
    ]);
    assert.equal(made.code, 0, made.stderr);
    const client = await Deno.connect({ hostname: "127.0.0.1", port });
    await until(
      () => bench.module.state().some((l) => l.role === "seed"),
      "the seed",
    );
    const del = await bench.run("del", ["--link", "0", "--json"]);
    assert.equal(del.code, 0, del.stderr);
    assert.deepEqual(JSON.parse(del.stdout), { ok: true, linkId: 0 });
    assert.deepEqual(bench.module.state(), []);
    client.close();
    failed(
      await bench.run("del", ["--link", "0"]),
      1,
      /^atsock: AT\+SKTDEL: ERROR: 1 .*the link is not in use/,
    );
    failed(await bench.run("del", []), 2, /--link N is required/);
  } finally {
    await bench.close();
  }
});
