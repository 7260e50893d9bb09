/**
 * The emulator's security properties, tested as an operator runs it: a
 * spawned `atsock emulate` with narrowed permissions, an allowlist, a
 * console token, and an environment that tries to weaken TLS.
 */

import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { createServer, type TLSSocket } from "node:tls";
import type { AddressInfo } from "node:net";
import { makePki } from "@atsock/device/pki";
import { CLI_MAIN, LOOPBACK_NET } from "./test_cli.ts";

const encoder = new TextEncoder();

const hasOpenssl = await new Deno.Command("openssl", {
  args: ["version"],
  stdout: "null",
  stderr: "null",
}).output().then((o) => o.success, () => false);

/** A free port on loopback (bound and released). */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** Collects a stream's text; `until` waits (bounded) for a pattern. */
function collect(stream: ReadableStream<Uint8Array>) {
  let text = "";
  let ended = false;
  const reading = (async () => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      text += chunk;
    }
    ended = true;
  })();
  return {
    get text() {
      return text;
    },
    reading,
    async until(re: RegExp, what = String(re)): Promise<RegExpExecArray> {
      for (let i = 0; i < 2000; i++) {
        const m = re.exec(text);
        if (m) return m;
        if (ended) break;
        await new Promise((r) => setTimeout(r, 5));
      }
      throw new Error(`${what} never came; have:\n${text}`);
    },
  };
}

/** `atsock emulate` spawned with the given permissions and environment. */
function emulator(
  args: string[],
  permissions: string[],
  env: Record<string, string> = {},
) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...permissions, CLI_MAIN, "emulate", ...args],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", RUST_BACKTRACE: "0", ...env },
  }).spawn();
  const stdin = child.stdin.getWriter();
  const out = collect(child.stdout);
  const err = collect(child.stderr);
  return {
    out,
    err,
    /** Writes a command line on the stdio console. */
    send: (line: string) => stdin.write(encoder.encode(line + "\r\n")),
    /** Waits for the n-th final result on stdout (1-based); returns them all. */
    async results(n: number): Promise<string[]> {
      const re = new RegExp(`(?:(?:OK|ERROR: \\d+)\\r\\n[^]*?){${n}}`);
      await out.until(re, `${n} results`);
      return [...out.text.matchAll(/^(OK|ERROR: \d+)\r$/gm)].map((m) => m[1]);
    },
    /** Ends stdin (stdio) or sends SIGTERM, and waits for the exit status. */
    async stop(signal = false): Promise<number> {
      if (signal) child.kill("SIGTERM");
      await stdin.close().catch(() => {});
      const { code } = await child.status;
      await out.reading;
      await err.reading;
      return code;
    },
  };
}

Deno.test("denied by Deno's --allow-net: every command answers its real code, one line names the flag, nothing crashes", async (t) => {
  const allowed = freePort();
  const denied = freePort();
  let certs: string | undefined;
  if (hasOpenssl) {
    certs = await Deno.makeTempDir({ prefix: "atsock-sec-" });
    await makePki(certs, { suites: [1] });
  }
  const emu = emulator(
    ["--mode", "host", ...(certs ? ["--certs", certs] : [])],
    [
      `--allow-net=127.0.0.1:${allowed}`,
      ...(certs ? [`--allow-read=${certs}`] : []),
    ],
  );
  const flag = (port: number) =>
    `Deno's permissions deny net access to 127.0.0.1:${port}: start the emulator with --allow-net=127.0.0.1:${port} (or a wider --allow-net)`;
  try {
    await emu.out.until(/ATCMD READY\r\n/);
    const cases: [string, number, string][] = [
      // The line that used to end the process from inside node:dgram.
      [`AT+SKTCLIENT=1,0,,127.0.0.1,9,${denied},1`, 4, flag(9)],
      [
        `AT+SKTCLIENT=1,0,,127.0.0.1,${allowed},${denied},1`,
        4,
        `bind UDP port ${denied}: ${flag(denied)}`,
      ],
      [
        `AT+SKTSERVER=1,0,,${denied},1`,
        4,
        `bind UDP port ${denied}: ${flag(denied)}`,
      ],
      [
        `AT+SKTSERVER=1,1,,${denied},1`,
        2,
        `listen on port ${denied}: ${flag(denied)}`,
      ],
      ["AT+SKTCLIENT=1,1,,127.0.0.1,9,,1", 2, flag(9)],
      ["AT+SKTCLIENT=1,2,,127.0.0.1,9,,1", 13, flag(9)],
      ["AT+SKTCLIENT=1,0,,localhost,9,4000,1", 1, "resolve localhost"],
      [`AT+SKTSERVER=2,0,,${allowed},0`, 0, ""],
      ["AT+SKTSEND=2,1,127.0.0.1,9,x", 2, flag(9)],
    ];
    if (certs) {
      cases.push([
        `AT+SKTSERVER=1,2,1,${denied},1`,
        11,
        `bind TLS port ${denied}: ${flag(denied)}`,
      ]);
    }
    for (const [i, [line, code, why]] of cases.entries()) {
      await t.step(line, async () => {
        await emu.send(line);
        const results = await emu.results(i + 1);
        assert.equal(results[i], code ? `ERROR: ${code}` : "OK");
        if (why) {
          const command = /^AT\+(\w+)/.exec(line)![1];
          await emu.err.until(
            new RegExp(`atsock: AT\\+${command}: ERROR: ${code}: `),
          );
          const lines = emu.err.text.split("\n").filter((l) =>
            l.startsWith(`atsock: AT+${command}: ERROR: ${code}: `)
          );
          assert.ok(
            lines.some((l) => l.includes(why)),
            `no line with ${why} in\n${emu.err.text}`,
          );
        }
      });
    }
    await emu.send("AT+SKTSTATE");
    await emu.results(cases.length + 1);
    assert.match(
      emu.out.text,
      new RegExp(
        `link_id:2,server,udp,src_address:127\\.0\\.0\\.1,src_port:${allowed},`,
      ),
    );
    assert.doesNotMatch(emu.err.text, /Uncaught|NotCapable| {4}at /);
  } finally {
    assert.equal(await emu.stop(), 0);
    if (certs) await Deno.remove(certs, { recursive: true });
  }
});

Deno.test("--allow-connect: only listed destinations, on top of --allow-net", async () => {
  const peer = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const peerPort = (peer.addr as Deno.NetAddr).port;
  const udp = createSocket("udp4");
  await new Promise<void>((r) => udp.bind(0, "127.0.0.1", () => r()));
  const udpPort = udp.address().port;
  const other = freePort();
  const emu = emulator(
    [
      "--mode",
      "host",
      "--allow-connect",
      `127.0.0.1:${peerPort},127.0.0.1:${udpPort}`,
    ],
    [LOOPBACK_NET],
  );
  try {
    await emu.err.until(
      new RegExp(
        `connects only to 127\\.0\\.0\\.1:${peerPort},127\\.0\\.0\\.1:${udpPort}`,
      ),
    );
    const accepted = peer.accept();
    await emu.send(`AT+SKTCLIENT=0,1,,127.0.0.1,${peerPort},,0`);
    await emu.send(`AT+SKTCLIENT=1,1,,127.0.0.1,${other},,0`);
    await emu.send(`AT+SKTCLIENT=1,0,,127.0.0.1,${other},${freePort()},0`);
    await emu.send(`AT+SKTCLIENT=1,2,,127.0.0.1,${other},,0`);
    await emu.send(`AT+SKTCLIENT=1,0,,127.0.0.1,${udpPort},${freePort()},0`);
    assert.deepEqual(await emu.results(5), [
      "OK",
      "ERROR: 2",
      "ERROR: 4",
      "ERROR: 13",
      "OK",
    ]);
    (await accepted).close();
    for (const code of [2, 4, 13]) {
      assert.match(
        emu.err.text,
        new RegExp(
          `AT\\+SKTCLIENT: ERROR: ${code}: 127\\.0\\.0\\.1:${other} is not in --allow-connect`,
        ),
      );
    }
  } finally {
    assert.equal(await emu.stop(), 0);
    udp.close();
    peer.close();
  }
});

Deno.test("bad --allow-connect and --token uses are one-line usage errors", async () => {
  for (
    const [args, message] of [
      [
        ["--allow-connect", "1.2.3.4:99999"],
        /port 99999 is outside 1\.\.65535/,
      ],
      [["--token", "x"], /--token and --token-file need a TCP console/],
      [
        ["--console", "tcp::0", "--token", "a", "--token-file", "f"],
        /not both/,
      ],
      [
        ["--console", "tcp::0", "--token-file", "/nonexistent/token"],
        /--token-file \/nonexistent\/token does not exist/,
      ],
    ] as const
  ) {
    const emu = emulator([...args], [LOOPBACK_NET, "--allow-read"]);
    assert.equal(await emu.stop(), 2);
    assert.match(emu.err.text, message);
    assert.equal(emu.err.text.trimEnd().split("\n").length, 1, emu.err.text);
  }
});

Deno.test("a console on another address than loopback is warned about", async () => {
  // 192.0.2.1 (TEST-NET-1) is on no interface: the warning comes, then the
  // bind fails cleanly (EADDRNOTAVAIL: a listen, nothing is sent). Net
  // access to that one address only, so Deno lets the bind reach the kernel.
  const emu = emulator(["--console", "tcp:192.0.2.1:0"], [
    "--allow-net=192.0.2.1",
  ]);
  assert.equal(await emu.stop(), 1);
  assert.match(
    emu.err.text,
    /^atsock: warning: the console listens on 192\.0\.2\.1, not loopback: anyone who can reach it controls the module\natsock: address not available: /,
  );
});

Deno.test("--token-file: the TCP console wants the token first; it never reaches stderr", async () => {
  const dir = await Deno.makeTempDir({ prefix: "atsock-token-" });
  const token = "tok-" + crypto.randomUUID();
  await Deno.writeTextFile(`${dir}/token`, token + "\n");
  const emu = emulator(
    ["--console", "tcp:127.0.0.1:0", "--token-file", `${dir}/token`],
    ["--allow-net=127.0.0.1", `--allow-read=${dir}`],
  );
  try {
    const port = Number((await emu.err.until(/on tcp:127\.0\.0\.1:(\d+)/))[1]);
    assert.match(emu.err.text, /console needs a token/);
    const talk = async (first: string) => {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      await conn.write(encoder.encode(first + "\r\nAT+SKTSTATE\r\n"));
      const text = collect(conn.readable);
      await text.until(/#\r\n$|refused.*\r\n$/);
      try {
        conn.close();
      } catch { /* closed by the console */ }
      await text.reading.catch(() => {});
      return text.text;
    };
    assert.equal(
      await talk("wrong"),
      "atsock: console refused: wrong token\r\n",
    );
    // A wrong token locks the address out for 250 ms: the right one is
    // refused until then (bounded retries), then it is taken.
    let answer = await talk(token);
    for (let i = 0; i < 50 && /too many wrong tokens/.test(answer); i++) {
      await new Promise((r) => setTimeout(r, 100));
      answer = await talk(token);
    }
    assert.equal(
      answer,
      "AT+SKTSTATE\r\r\n\r\nOK\r\n" +
        "\n\r[MEM] After do cmd, available heap 290560\n\r\r\n\n#\r\n",
    );
    await emu.err.until(/refused: wrong token/);
  } finally {
    assert.equal(await emu.stop(true), 0);
    await Deno.remove(dir, { recursive: true });
  }
  assert.ok(!emu.err.text.includes(token), emu.err.text);
  assert.ok(!emu.out.text.includes(token));
});

/** A node:tls peer with suite `suite`'s server certificate. */
async function tlsPeer(certs: string, suite: number) {
  const read = (name: string) => Deno.readTextFile(`${certs}/CERT/${name}`);
  const server = createServer({
    cert: await read(`server_cert_${suite}.crt`),
    key: await read(`server_key_${suite}.key`),
  });
  const sockets: TLSSocket[] = [];
  server.on("secureConnection", (s: TLSSocket) => {
    s.on("error", () => {});
    sockets.push(s);
  });
  server.on("tlsClientError", () => {});
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return {
    port: (server.address() as AddressInfo).port,
    close() {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

Deno.test({
  name:
    "TLS verification cannot be downgraded: NODE_TLS_REJECT_UNAUTHORIZED=0 and --unsafely-ignore-certificate-errors change nothing",
  ignore: !hasOpenssl,
  fn: async () => {
    const certs = await Deno.makeTempDir({ prefix: "atsock-downgrade-" });
    await makePki(certs, { suites: [1, 2] });
    await makePki(certs, { suites: [3], serverHosts: ["atsock.invalid"] });
    const good = await tlsPeer(certs, 1);
    const foreign = await tlsPeer(certs, 2); // another CA
    const misnamed = await tlsPeer(certs, 3); // names only atsock.invalid
    const emu = emulator(
      ["--mode", "host", "--certs", certs],
      [
        LOOPBACK_NET,
        `--allow-read=${certs}`,
        "--allow-env",
        "--unsafely-ignore-certificate-errors",
      ],
      { NODE_TLS_REJECT_UNAUTHORIZED: "0" },
    );
    try {
      await emu.out.until(/ATCMD READY\r\n/);
      const lines = [
        // Control: suite 1's CA verifies suite 1's server.
        `AT+SKTCLIENT=0,3,1,127.0.0.1,${good.port},,0`,
        `AT+SKTCLIENT=1,5,1,127.0.0.1,${good.port},,0`,
        // Another CA: refused by types 3 and 5.
        `AT+SKTCLIENT=2,3,1,127.0.0.1,${foreign.port},,0`,
        `AT+SKTCLIENT=2,5,1,127.0.0.1,${foreign.port},,0`,
        // The right CA, another name: the firmware sets no host name,
        // so (mbedtls 2) only the chain is checked, as on a module.
        `AT+SKTCLIENT=2,3,3,127.0.0.1,${misnamed.port},,0`,
        `AT+SKTCLIENT=3,5,3,127.0.0.1,${misnamed.port},,0`,
        // Types 2 and 4 do not verify, as documented.
        `AT+SKTCLIENT=4,2,,127.0.0.1,${foreign.port},,0`,
      ];
      for (const line of lines) await emu.send(line);
      assert.deepEqual(await emu.results(lines.length), [
        "OK",
        "OK",
        "ERROR: 14",
        "ERROR: 14",
        "OK",
        "OK",
        "OK",
      ]);
      assert.match(
        emu.err.text,
        /DANGER: TLS certificate validation is disabled/,
      );
      const refusals = emu.err.text.split("\n").filter((l) =>
        l.includes("AT+SKTCLIENT: ERROR: 14:")
      );
      assert.equal(refusals.length, 2);
      for (const line of refusals) {
        assert.match(
          line,
          /certificate|altnames|verify|issuer|Hostname\/IP/i,
          line,
        );
        assert.doesNotMatch(line, /PRIVATE KEY|BEGIN/);
      }
    } finally {
      assert.equal(await emu.stop(), 0);
      good.close();
      foreign.close();
      misnamed.close();
      await Deno.remove(certs, { recursive: true });
    }
  },
});
