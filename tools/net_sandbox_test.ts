/**
 * The test task's network sandbox: `deno task test` grants net access to
 * loopback only (deno.json), so a test that reaches for another address by
 * mistake (a UDP broadcast out of the default route, a send to 1.2.0.3) is
 * refused by Deno's permission check, before any socket call, instead of
 * sending a packet. These tests read the flags from deno.json (they cannot
 * drift from the task) and run probes in a child Deno under exactly those
 * flags. Nothing here sends to a non-loopback address: every attempt below
 * is refused before the system call, and the tests fail if one is not.
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** The flags of the `test` task in deno.json, after `deno test`. */
async function testTaskFlags(): Promise<string[]> {
  const config = JSON.parse(await Deno.readTextFile(`${ROOT}/deno.json`));
  const words = String(config.tasks.test).trim().split(/\s+/);
  assert.deepEqual(words.slice(0, 2), ["deno", "test"]);
  const flags = words.slice(2);
  assert.ok(
    flags.every((f) => f.startsWith("--")),
    `the test task names files or more than flags: ${words.join(" ")}`,
  );
  return flags;
}

/** The hosts of the task's `--allow-net=` list. */
function netAllowList(flags: string[]): string[] {
  const net = flags.filter((f) => /^--allow-net(=|$)/.test(f));
  assert.equal(net.length, 1, `one --allow-net in ${flags.join(" ")}`);
  const m = /^--allow-net=(.+)$/.exec(net[0]);
  assert.ok(
    m,
    "the test task's --allow-net has a list (a bare one is every host)",
  );
  return m[1].split(",");
}

/**
 * Whether `host` (an --allow-net entry, no port) keeps traffic on this
 * machine: 127.0.0.0/8, ::1, localhost (127.0.0.1 in /etc/hosts), or a
 * name under `.invalid`, which never resolves (RFC 6761): the DNS-failure
 * tests look those up to get a real "not found".
 */
function isLoopbackEntry(host: string): boolean {
  if (/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)) {
    return host.split(".").every((n) => Number(n) <= 255);
  }
  return host === "[::1]" || host === "localhost" ||
    /^[a-z0-9-]+(\.[a-z0-9-]+)*\.invalid$/.test(host);
}

let probed: Promise<Record<string, string>> | undefined;

/** What {@linkcode PROBE} printed under the test task's flags (run once). */
function probe(): Promise<Record<string, string>> {
  // --unstable-net gives Deno.listenDatagram (not a permission).
  return probed ??= underTestTask(["--unstable-net", "-"], PROBE).then((
    out,
  ) => JSON.parse(out.stdout));
}

/**
 * Runs `deno run` with the test task's flags and `args`, `input` on
 * stdin; its stdout and stderr (it must exit 0).
 */
async function underTestTask(
  args: string[],
  input: string,
): Promise<{ stdout: string; stderr: string }> {
  const flags = await testTaskFlags();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", ...flags, ...args],
    cwd: ROOT,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", RUST_BACKTRACE: "0" },
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(input));
  await writer.close();
  const out = await child.output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, stderr);
  return { stdout: new TextDecoder().decode(out.stdout), stderr };
}

Deno.test("net sandbox: the test task's --allow-net lists loopback hosts only", async () => {
  const hosts = netAllowList(await testTaskFlags());
  assert.ok(hosts.includes("127.0.0.1"));
  const outside = hosts.filter((h) => !isLoopbackEntry(h));
  assert.deepEqual(outside, [], "an --allow-net entry off loopback");
  // A port-less entry is a whole host; none is a network or a wildcard.
  assert.ok(!hosts.includes("0.0.0.0"));
});

Deno.test("net sandbox: isLoopbackEntry takes loopback and .invalid names, nothing else", () => {
  for (const h of ["127.0.0.1", "127.255.255.255", "[::1]", "localhost"]) {
    assert.ok(isLoopbackEntry(h), h);
  }
  assert.ok(isLoopbackEntry("no-such-host.invalid"));
  for (
    const h of [
      "0.0.0.0",
      "192.0.2.1",
      "1.2.0.3",
      "255.255.255.255",
      "127.0.0.256",
      "[::]",
      "example.com",
      "invalid",
      "a.invalid.example.com",
    ]
  ) {
    assert.ok(!isLoopbackEntry(h), h);
  }
});

const PROBE = `
const result = {};
const tryIt = async (name, fn) => {
  try {
    await fn();
    result[name] = "done";
  } catch (e) {
    result[name] = e.constructor.name + ": " + e.message;
  }
};
const bytes = new Uint8Array([1, 2, 3]);
// Loopback works: the refusals below are the sandbox, not a broken network.
const tcp = Deno.listen({ hostname: "127.0.0.1", port: 0 });
await tryIt("tcp 127.0.0.1", async () => {
  const accepted = tcp.accept();
  (await Deno.connect({ hostname: "127.0.0.1", port: tcp.addr.port })).close();
  (await accepted).close();
});
tcp.close();
const udp = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
await tryIt("udp 127.0.0.1", async () => {
  await udp.send(bytes, { transport: "udp", hostname: "127.0.0.1", port: udp.addr.port });
  await udp.receive();
});
// Off loopback: refused by the permission check, before the system call.
await tryIt("udp 192.0.2.1", () =>
  udp.send(bytes, { transport: "udp", hostname: "192.0.2.1", port: 9 }));
await tryIt("udp 255.255.255.255", () =>
  udp.send(bytes, { transport: "udp", hostname: "255.255.255.255", port: 9 }));
await tryIt("udp 1.2.0.3", () =>
  udp.send(bytes, { transport: "udp", hostname: "1.2.0.3", port: 9 }));
udp.close();
await tryIt("tcp 192.0.2.1", async () =>
  (await Deno.connect({ hostname: "192.0.2.1", port: 9 })).close());
await tryIt("listen 0.0.0.0", async () =>
  Deno.listen({ hostname: "0.0.0.0", port: 0 }).close());
await tryIt("bind udp 0.0.0.0", async () =>
  Deno.listenDatagram({ transport: "udp", hostname: "0.0.0.0", port: 0 }).close());
result["query 192.0.2.1:9"] =
  Deno.permissions.querySync({ name: "net", host: "192.0.2.1:9" }).state;
// Name lookups (node:dns, as the module resolves SKTCLIENT hosts): a
// listed .invalid name goes to the resolver and is not found, as before;
// an unlisted name is refused before any query.
const { lookup } = await import("node:dns/promises");
for (const host of ["no-such-host.invalid", "atsock-fault.invalid", "example.com", "localhost"]) {
  await tryIt("lookup " + host, async () => {
    try {
      const { address } = await lookup(host, { family: 4 });
      result["address " + host] = address;
    } catch (e) {
      throw new Error(e.code);
    }
  });
}
console.log(JSON.stringify(result));
`;

Deno.test("net sandbox: under the test task's flags, TCP and UDP off loopback are refused by Deno's permission check; loopback works", async () => {
  const r = await probe();
  assert.equal(r["tcp 127.0.0.1"], "done");
  assert.equal(r["udp 127.0.0.1"], "done");
  // NotCapable is the permission check's error: it is thrown before the
  // socket call, so no packet was attempted (an attempted one would end in
  // a timeout or EHOSTUNREACH, not this).
  for (
    const [name, target] of [
      ["udp 192.0.2.1", "192.0.2.1:9"],
      ["udp 255.255.255.255", "255.255.255.255:9"],
      ["udp 1.2.0.3", "1.2.0.3:9"],
      ["tcp 192.0.2.1", "192.0.2.1:9"],
      ["listen 0.0.0.0", "0.0.0.0:0"],
      ["bind udp 0.0.0.0", "0.0.0.0:0"],
    ]
  ) {
    assert.equal(
      r[name],
      `NotCapable: Requires net access to "${target}", run again with the --allow-net flag`,
      name,
    );
  }
  assert.notEqual(r["query 192.0.2.1:9"], "granted");
});

Deno.test("net sandbox: a listed .invalid name is looked up and not found (the DNS tests' meaning); an unlisted name is refused unasked", async () => {
  const r = await probe();
  assert.equal(r["lookup localhost"], "done");
  assert.equal(r["address localhost"], "127.0.0.1");
  // Refused by the permission check (getaddrinfo EPERM), never resolved.
  assert.equal(r["lookup example.com"], "Error: EPERM");
  for (const host of ["no-such-host.invalid", "atsock-fault.invalid"]) {
    // ENOTFOUND, or a resolver failure on a machine without DNS: a real
    // lookup that failed, never the permission check's EPERM.
    assert.match(r[`lookup ${host}`], /^Error: E[A-Z_]+$/, host);
    assert.notEqual(r[`lookup ${host}`], "Error: EPERM", host);
  }
});

Deno.test("net sandbox: a virtual module under the test task's flags answers SKTSEND and SKTCLIENT off loopback with its error code; nothing is sent", async () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  const commands = [
    `AT+SKTSERVER=0,0,,${port},1`, // a UDP server on 127.0.0.1
    "AT+SKTSEND=0,2,192.0.2.1,9,hi",
    "AT+SKTSEND=0,2,255.255.255.255,9,hi",
    "AT+SKTCLIENT=1,1,,192.0.2.1,9,,1", // TCP
    `AT+SKTCLIENT=2,0,,1.2.0.3,9,${port + 1},1`, // UDP
    `AT+SKTSEND=0,2,127.0.0.1,${port},hi`, // loopback: sent (to itself)
  ];
  const { stdout, stderr } = await underTestTask(
    ["packages/cli/main.ts", "emulate", "--mode", "host"],
    commands.map((c) => c + "\r\n").join(""),
  );
  assert.deepEqual(
    stdout.split("\r\n").filter((l) => /^(OK|ERROR: \d+)$/.test(l)),
    ["OK", "ERROR: 2", "ERROR: 2", "ERROR: 2", "ERROR: 4", "OK"],
  );
  for (
    const [command, target] of [
      ["SKTSEND", "192.0.2.1:9"],
      ["SKTSEND", "255.255.255.255:9"],
      ["SKTCLIENT", "192.0.2.1:9"],
    ]
  ) {
    assert.ok(
      stderr.includes(
        `AT+${command}: ERROR: 2: Deno's permissions deny net access to ${target}:`,
      ),
      stderr,
    );
  }
  assert.ok(
    stderr.includes(
      "AT+SKTCLIENT: ERROR: 4: Deno's permissions deny net access to 1.2.0.3:9:",
    ),
    stderr,
  );
});
