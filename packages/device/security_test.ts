import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import fc from "fast-check";
import { encode } from "@atsock/protocol";
import {
  ConnectRuleError,
  deniedByDeno,
  NetGuard,
  parseConnectRules,
} from "./net_guard.ts";
import { createModule } from "./module.ts";
import { serveTcp } from "./consoles.ts";
import { freePort, Harness, tcpPeer } from "./test_util.ts";

const decoder = new TextDecoder();

Deno.test("--allow-connect entries: hosts, ports, clear errors", () => {
  assert.deepEqual(parseConnectRules("127.0.0.1:8080, LocalHost,10.0.0.1"), [
    { host: "127.0.0.1", port: 8080 },
    { host: "localhost" },
    { host: "10.0.0.1" },
  ]);
  for (
    const [bad, why] of [
      ["", /empty entry/],
      ["a,,b", /empty entry/],
      ["127.0.0.1:0", /port 0 is outside 1\.\.65535/],
      ["127.0.0.1:70000", /port 70000 is outside/],
      ["[::1]:80", /not HOST\[:PORT\]/],
      ["host:80:90", /not HOST\[:PORT\]/],
      ["bad_name", /not HOST\[:PORT\]/],
      ["127.0.0.1:http", /not HOST\[:PORT\]/],
    ] as const
  ) {
    assert.throws(() => parseConnectRules(bad), (e: unknown) => {
      assert.ok(e instanceof ConnectRuleError);
      assert.match(e.message, why);
      assert.doesNotMatch(e.message, /\n/);
      return true;
    });
  }
  assert.throws(
    () => createModule({ allowConnect: ["ok.example", "no good"] }),
    ConnectRuleError,
  );
});

Deno.test("NetGuard: the allowlist by address, by name, by port; Deno's permissions under it", () => {
  const guard = new NetGuard(parseConnectRules("127.0.0.1:7,localhost"));
  assert.equal(guard.connect("127.0.0.1", 7), undefined);
  assert.match(
    guard.connect("127.0.0.1", 8)!,
    /^127\.0\.0\.1:8 is not in --allow-connect 127\.0\.0\.1:7,localhost$/,
  );
  // A name in the list allows what it resolved to, on any port.
  assert.equal(guard.connect("127.0.0.2", 9, "LOCALHOST"), undefined);
  assert.match(
    guard.connect("127.0.0.3", 9, "other.invalid")!,
    /127\.0\.0\.3:9 \(other\.invalid\) is not in/,
  );
  // No list: only Deno's permissions (the test task grants these loopback
  // hosts; a blanket --allow-net does too).
  assert.equal(new NetGuard().connect("127.0.0.1", 1), undefined);
  assert.equal(new NetGuard().bind("127.0.0.1", 1), undefined);
  assert.equal(deniedByDeno("::1", 80), undefined);
});

Deno.test("--allow-connect in createModule: TCP 2, UDP 4, TLS 13, UDP sends 2, the reason logged; allowed ones work", async () => {
  const peer = tcpPeer();
  const udpPeer = createSocket("udp4");
  await new Promise<void>((r) => udpPeer.bind(0, "127.0.0.1", () => r()));
  const udpPort = udpPeer.address().port;
  const got: string[] = [];
  udpPeer.on("message", (m) => got.push(decoder.decode(m)));
  const logs: string[] = [];
  const h = await Harness.start({
    mode: "host",
    allowConnect: [`127.0.0.1:${peer.port}`, `localhost:${udpPort}`],
    log: (m) => logs.push(m),
  });
  const other = freePort();
  try {
    await h.next((e) => e.type === "ready");
    const outside = `127.0.0.1:${other} is not in --allow-connect`;
    assert.equal(await h.code(`AT+SKTCLIENT=0,1,,127.0.0.1,${other},,0`), 2);
    assert.equal(
      await h.code(`AT+SKTCLIENT=0,0,,127.0.0.1,${other},${freePort()},0`),
      4,
    );
    assert.equal(await h.code(`AT+SKTCLIENT=0,2,,127.0.0.1,${other},,0`), 13);
    assert.equal(logs.length, 3);
    for (const [i, code] of [2, 4, 13].entries()) {
      assert.equal(
        logs[i],
        `AT+SKTCLIENT: ERROR: ${code}: ${outside} 127.0.0.1:${peer.port},localhost:${udpPort}`,
      );
    }
    assert.equal(h.module.stats().links, 0);

    // Allowed: the TCP peer by address; the UDP peer by the name it has.
    const accepted = peer.accept();
    assert.equal(
      await h.code(`AT+SKTCLIENT=0,1,,127.0.0.1,${peer.port},,0`),
      0,
    );
    (await accepted).close();
    assert.equal(
      await h.code(`AT+SKTCLIENT=1,0,,localhost,${udpPort},${freePort()},0`),
      0,
    );
    assert.equal(await h.code("AT+SKTSEND=1,2,,,hi"), 0);

    // A UDP server may send only to listed destinations.
    assert.equal(await h.code(`AT+SKTSERVER=2,0,,${freePort()},0`), 0);
    assert.equal(await h.code(`AT+SKTSEND=2,1,127.0.0.1,${other},x`), 2);
    assert.equal(
      logs.at(-1),
      `AT+SKTSEND: ERROR: 2: ${outside} ` +
        `127.0.0.1:${peer.port},localhost:${udpPort}`,
    );
    // A name in the list matches commands that give that name: a UDP
    // server's destination is an address, so it must be listed as one.
    assert.equal(await h.code(`AT+SKTSEND=2,1,127.0.0.1,${udpPort},y`), 2);
    await h.write(`AT+SKTSENDRAW=2,3,127.0.0.1,${other}\r\n`);
    await h.next((e) => e.type === "prompt"); // The payload follows anyway.
    await h.write("abc");
    const { event } = await h.next((e) => e.type === "error");
    assert.deepEqual(event, { type: "error", code: 2 });
    for (let i = 0; i < 200 && got.length < 1; i++) {
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.deepEqual(got, ["hi"]);
    assert.equal((await h.command("AT+SKTSTATE")).final.type, "ok");
  } finally {
    udpPeer.close();
    peer.close();
    await h.close();
  }
});

/** A TCP client of a console, reading everything it is sent. */
async function consoleClient(port: number) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  let text = "";
  let closed = false;
  const reading = (async () => {
    const buf = new Uint8Array(4096);
    try {
      while (true) {
        const n = await conn.read(buf);
        if (n === null) break;
        text += decoder.decode(buf.subarray(0, n));
      }
    } catch { /* reset */ }
    closed = true;
  })();
  return {
    conn,
    get text() {
      return text;
    },
    get closed() {
      return closed;
    },
    write: (s: string) => conn.write(encode(s)),
    /** Waits (bounded) until the text matches or the connection ends. */
    async until(re: RegExp): Promise<string> {
      for (let i = 0; i < 1000 && !re.test(text) && !closed; i++) {
        await new Promise((r) => setTimeout(r, 5));
      }
      assert.match(text, re);
      return text;
    },
    async close() {
      try {
        conn.close();
      } catch { /* closed */ }
      await reading;
    },
    reading,
  };
}

Deno.test("a TCP console listens on loopback by default", async () => {
  const module = createModule();
  const con = serveTcp(module, { port: 0 });
  try {
    assert.equal(con.address, `tcp:127.0.0.1:${con.port}`);
  } finally {
    await con.close();
    await module.close();
  }
});

Deno.test("console token: the first line must be it; never echoed, logged or given to the module", async (t) => {
  const token = "s3cret-Tok,en";
  const module = createModule({ mode: "manual" });
  const logs: string[] = [];
  // A fresh console for each step: a wrong token locks its address out.
  const step = (name: string, fn: (port: number) => Promise<void>) =>
    t.step(name, async () => {
      const con = serveTcp(module, {
        port: 0,
        token,
        tokenTimeoutMs: 300,
        log: (m) => logs.push(m),
      });
      try {
        await fn(con.port);
      } finally {
        await con.close();
      }
    });
  try {
    await step("a wrong token is told and closed", async (port) => {
      const c = await consoleClient(port);
      await c.write("guess\r\nAT+SKTSTATE\r\n");
      await c.reading;
      assert.equal(c.text, "atsock: console refused: wrong token\r\n");
      await c.close();
      assert.match(
        logs.at(-1)!,
        /^console: client 127\.0\.0\.1:\d+ refused: wrong token$/,
      );
    });
    await step("the token with a trailing byte is wrong", async (port) => {
      const c = await consoleClient(port);
      await c.write(token + " \r\n");
      await c.reading;
      assert.match(c.text, /wrong token/);
      await c.close();
    });
    await step(
      "no line in time: told and closed, the console is free again",
      async (port) => {
        const c = await consoleClient(port);
        await c.write(token.slice(0, 3));
        await c.reading;
        assert.equal(
          c.text,
          "atsock: console refused: no token line in time\r\n",
        );
        await c.close();
      },
    );
    await step("an overlong first line is refused", async (port) => {
      const c = await consoleClient(port);
      await c.write("x".repeat(3000));
      await c.reading;
      assert.match(c.text, /wrong token/);
      await c.close();
    });
    await step(
      "the right token, CR LF split across writes, then commands",
      async (port) => {
        const c = await consoleClient(port);
        await c.write(token + "\r");
        // A second client waiting for its token line does not lock out the first.
        const second = await consoleClient(port);
        await c.write("\nAT+SKTSTATE\r\n");
        await c.until(/#\r\n$/);
        // Manual Test Mode echoes commands, never the token line.
        assert.equal(
          c.text,
          "AT+SKTSTATE\r\r\n\r\nOK\r\n" +
            "\n\r[MEM] After do cmd, available heap 290560\n\r\r\n\n#\r\n",
        );
        // Once one client has the console, the next one is busy.
        await second.write(token + "\r\n");
        await second.reading;
        assert.match(second.text, /console busy/);
        await second.close();
        await c.close();
      },
    );
    await step("the token and a command in one write", async (port) => {
      const c = await consoleClient(port);
      await c.write(token + "\r\nAT+SKTQUERY\r\n");
      await c.until(/#\r\n$/);
      assert.match(c.text, /^AT\+SKTQUERY\r\r\n\r\nGlobal SOCKET/);
      await c.close();
    });
    for (const line of logs) assert.ok(!line.includes(token), line);
    assert.equal(logs.length, 5);
  } finally {
    await module.close();
  }
});

/** Every path `fn` makes Deno look at or open, through the sync and async `lstat`, `open`, `readTextFile` and `readFile`. */
async function spyPaths<T>(
  fn: () => Promise<T>,
): Promise<{ result: T; paths: string[] }> {
  const paths: string[] = [];
  const saved = {
    lstat: Deno.lstat,
    open: Deno.open,
    readTextFile: Deno.readTextFile,
    readFile: Deno.readFile,
    lstatSync: Deno.lstatSync,
    openSync: Deno.openSync,
    readTextFileSync: Deno.readTextFileSync,
    readFileSync: Deno.readFileSync,
  };
  const spy = <F extends (path: string | URL, ...rest: never[]) => unknown>(
    f: F,
  ) =>
  (path: string | URL, ...rest: never[]) => {
    paths.push(String(path));
    return f(path, ...rest);
  };
  Object.assign(Deno, {
    lstat: spy(saved.lstat),
    open: spy(saved.open),
    readTextFile: spy(saved.readTextFile),
    readFile: spy(saved.readFile),
    lstatSync: spy(saved.lstatSync),
    openSync: spy(saved.openSync),
    readTextFileSync: spy(saved.readTextFileSync),
    readFileSync: spy(saved.readFileSync),
  });
  try {
    return { result: await fn(), paths };
  } finally {
    Object.assign(Deno, saved);
  }
}

Deno.test("cert paths: AT input only ever reaches CERT/<side>_<kind>_<1..10>.<ext> under the directory", async () => {
  const dir = await Deno.makeTempDir({ prefix: "atsock-certpaths-" });
  await Deno.mkdir(`${dir}/CERT`);
  // Every legitimate name exists (not valid PEM: each load reads all its files, then fails 9).
  for (const side of ["server", "client"]) {
    for (let i = 1; i <= 10; i++) {
      for (const kind of ["ca", "cert"]) {
        await Deno.writeTextFile(`${dir}/CERT/${side}_${kind}_${i}.crt`, "x");
      }
      await Deno.writeTextFile(`${dir}/CERT/${side}_key_${i}.key`, "x");
    }
  }
  const allowed = new RegExp(
    `^${dir}/CERT/(server|client)_(ca|cert|key)_([1-9]|10)\\.(crt|key)$`,
  );
  const h = await Harness.start({ mode: "host", certs: dir });
  try {
    await h.next((e) => e.type === "ready");
    const field = fc.oneof(
      fc.constantFrom(
        "../../etc/passwd",
        "/etc/passwd",
        "1/../../x",
        "0",
        "11",
        "-1",
        "1e1",
        "01",
        "10",
        "1 ",
        "%2e%2e",
        "",
      ),
      fc.string({ maxLength: 12 }).filter((s) => !/[\r\n,]/.test(s)),
      fc.integer({ min: -5, max: 20 }).map(String),
    );
    const { paths } = await spyPaths(() =>
      fc.assert(
        fc.asyncProperty(
          fc.constantFrom("SKTSERVER", "SKTCLIENT"),
          fc.integer({ min: 2, max: 5 }),
          field,
          async (command, type, index) => {
            const port = 1;
            const line = command === "SKTSERVER"
              ? `AT+SKTSERVER=0,${Math.min(type, 3)},${index},${port},0`
              : `AT+SKTCLIENT=0,${type},${index},127.0.0.1,${port},,0`;
            const code = await h.code(line);
            // Nothing valid can come of these files: 1 (bad field), 9 (not PEM), 13/14 (connect).
            assert.ok([1, 9, 13, 14].includes(code), `${line}: ERROR ${code}`);
          },
        ),
        { numRuns: 300 },
      )
    );
    assert.ok(paths.length > 100, `only ${paths.length} paths looked at`);
    for (const path of paths) assert.match(path, allowed);
    assert.equal(h.module.stats().links, 0);
  } finally {
    await h.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cert store: a symbolic link inside CERT/ is refused (6), even to a good file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "atsock-certlink-" });
  const outside = await Deno.makeTempDir({ prefix: "atsock-outside-" });
  const logs: string[] = [];
  const h = await Harness.start({
    mode: "host",
    certs: dir,
    log: (m) => logs.push(m),
  });
  try {
    await Deno.mkdir(`${dir}/CERT`);
    await Deno.writeTextFile(`${outside}/secret.crt`, "not for the module");
    await Deno.symlink(`${outside}/secret.crt`, `${dir}/CERT/client_ca_1.crt`);
    await Deno.mkdir(`${dir}/CERT/client_ca_2.crt`);
    await h.next((e) => e.type === "ready");
    assert.equal(await h.code("AT+SKTCLIENT=0,3,1,127.0.0.1,1,,0"), 6);
    assert.equal(
      logs.at(-1),
      "AT+SKTCLIENT: ERROR: 6: CERT/client_ca_1.crt is a symbolic link: refused (copy the file into CERT/)",
    );
    assert.equal(await h.code("AT+SKTCLIENT=0,3,2,127.0.0.1,1,,0"), 6);
    assert.match(logs.at(-1)!, /client_ca_2\.crt is not a regular file$/);
    // A dangling link is refused the same way, not reported missing.
    await Deno.symlink(`${outside}/none`, `${dir}/CERT/client_ca_3.crt`);
    assert.equal(await h.code("AT+SKTCLIENT=0,3,3,127.0.0.1,1,,0"), 6);
    assert.match(logs.at(-1)!, /client_ca_3\.crt is a symbolic link/);
    for (const line of logs) assert.ok(!line.includes("not for the module"));
  } finally {
    await h.close();
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(outside, { recursive: true });
  }
});
