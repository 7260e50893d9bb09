import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { makePki } from "@atsock/device/pki";
import { parseCertsArgs, UsageError } from "../mod.ts";
import { type CheckReport, checkSuiteFiles } from "./check.ts";
import { CLI_MAIN as MAIN } from "../test_cli.ts";

const decoder = new TextDecoder();

const hasOpenssl = await new Deno.Command("openssl", {
  args: ["version"],
  stdout: "null",
  stderr: "null",
}).output().then((o) => o.success, () => false);

/** Runs `atsock certs ...` as a user does, with the permissions given. */
async function atsock(
  args: string[],
  permissions: string[],
  env: Record<string, string> = {},
) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", ...permissions, MAIN, "certs", ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", RUST_BACKTRACE: "0", ...env },
  }).output();
  return {
    code: out.code,
    stdout: decoder.decode(out.stdout),
    stderr: decoder.decode(out.stderr),
  };
}

/** Every line of every key file under `dir`: none may ever be printed. */
async function keyLines(dir: string): Promise<string[]> {
  const lines: string[] = [];
  for await (const entry of Deno.readDir(`${dir}/CERT`)) {
    if (!entry.name.endsWith(".key")) continue;
    const text = await Deno.readTextFile(`${dir}/CERT/${entry.name}`);
    lines.push(...text.split("\n").filter((l) => l && !l.startsWith("-----")));
  }
  assert.ok(lines.length > 0);
  return lines;
}

function assertNoKeys(output: string, lines: string[]) {
  for (const line of lines) {
    assert.ok(!output.includes(line), "a key line was printed");
  }
}

Deno.test("certs arguments", () => {
  assert.deepEqual(parseCertsArgs(["make", "d"]), {
    action: "make",
    dir: "d",
    suites: [1, 2],
    hosts: undefined,
    force: false,
    json: false,
    progress: false,
  });
  const made = parseCertsArgs(["make", "d", "--suites", "3,1,3", "--force"]);
  assert.ok(made !== "help" && made.action === "make");
  assert.deepEqual(made.suites, [1, 3]);
  const hosts = parseCertsArgs(["make", "d", "--hosts", "localhost, 10.0.0.2"]);
  assert.ok(hosts !== "help" && hosts.action === "make");
  assert.deepEqual(hosts.hosts, ["localhost", "10.0.0.2"]);
  assert.deepEqual(parseCertsArgs(["check", "d", "--json"]), {
    action: "check",
    dir: "d",
    json: true,
  });
  assert.equal(parseCertsArgs(["--help"]), "help");
  for (
    const bad of [
      [],
      ["make"],
      ["sign", "d"],
      ["make", "d", "e"],
      ["make", "d", "--suites", "0"],
      ["make", "d", "--suites", "11"],
      ["make", "d", "--suites", "1,x"],
      ["check", "d", "--force"],
      ["make", "d", "--hosts", "a b"],
      ["make", "d", "--hosts", ""],
      ["check", "d", "--bogus"],
    ]
  ) {
    assert.throws(() => parseCertsArgs(bad), UsageError, bad.join(" "));
  }
});

Deno.test({
  name:
    "certs make with only --allow-run=openssl and write to DIR; refuses to overwrite",
  ignore: !hasOpenssl,
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "atsock-certs-make-" });
  try {
    const perms = ["--allow-run=openssl", `--allow-write=${dir}`];
    const made = await atsock(["make", dir, "--suites", "1,2,3"], perms);
    assert.equal(made.stderr, "");
    assert.equal(made.code, 0);
    assert.equal(
      made.stdout,
      `wrote suites 1, 2, 3 to ${dir}/CERT (18 files, keys mode 0600)\n`,
    );
    const names = [];
    for await (const e of Deno.readDir(`${dir}/CERT`)) names.push(e.name);
    assert.equal(names.length, 18, "no scratch files left");
    for (const side of ["server", "client"]) {
      for (const i of [1, 2, 3]) {
        const key = await Deno.stat(`${dir}/CERT/${side}_key_${i}.key`);
        assert.equal(key.mode! & 0o777, 0o600);
        assert.ok(key.size > 0);
      }
    }
    const again = await atsock(["make", dir, "--suites", "2"], perms);
    assert.equal(again.code, 1);
    assert.equal(
      again.stderr,
      `atsock: certs make: ${dir}/CERT/server_ca_2.crt exists: use --force to replace the suite's files\n`,
    );
    const before = await Deno.readTextFile(`${dir}/CERT/server_cert_2.crt`);
    assert.equal(
      before.length > 0,
      true,
      "a refused make leaves the files alone",
    );
    const forced = await atsock([
      "make",
      dir,
      "--suites",
      "2",
      "--force",
      "--json",
      "--progress",
    ], perms);
    assert.equal(forced.code, 0);
    assert.equal(forced.stderr, "", "quiet under --json");
    const doc = JSON.parse(forced.stdout);
    assert.deepEqual(doc.suites, [2]);
    assert.equal(doc.files.length, 6);
    assert.notEqual(
      await Deno.readTextFile(`${dir}/CERT/server_cert_2.crt`),
      before,
    );
    const progress = await atsock([
      "make",
      `${dir}/p`,
      "--suites",
      "4",
      "--progress",
      "--hosts",
      "bench.local,192.168.1.50",
    ], [
      "--allow-run=openssl",
      `--allow-write=${dir}/p`,
    ]);
    assert.equal(progress.code, 0);
    assert.equal(
      progress.stderr,
      "atsock: suite 4: CA, server and client certificates\n",
    );
    const server = new X509Certificate(
      await Deno.readTextFile(`${dir}/p/CERT/server_cert_4.crt`),
    );
    assert.equal(
      server.subjectAltName,
      "DNS:bench.local, IP Address:192.168.1.50",
    );
    const keys = await keyLines(dir);
    for (const r of [made, again, forced, progress]) {
      assertNoKeys(r.stdout + r.stderr, keys);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name:
    "certs make: denied permissions and a missing openssl are one line, exit 1",
  ignore: !hasOpenssl,
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "atsock-certs-deny-" });
  try {
    const noWrite = await atsock(["make", `${dir}/a`], ["--allow-run=openssl"]);
    assert.equal(noWrite.code, 1);
    assert.match(
      noWrite.stderr,
      /^atsock: permission denied: .*--allow-write.*\n$/,
    );
    const noRun = await atsock(["make", `${dir}/b`], [`--allow-write=${dir}`]);
    assert.equal(noRun.code, 1);
    assert.match(
      noRun.stderr,
      /^atsock: permission denied: .*"openssl".*--allow-run.*\n$/,
    );
    // A failed make leaves no empty files behind: a second try works.
    const retry = await atsock(["make", `${dir}/b`], [
      `--allow-write=${dir}`,
      "--allow-run=openssl",
    ]);
    assert.equal(retry.code, 0, retry.stderr);
    const empty = await Deno.makeTempDir({ prefix: "atsock-no-openssl-" });
    const missing = await atsock(
      ["make", `${dir}/c`],
      ["--allow-run=openssl", `--allow-write=${dir}`],
      { PATH: empty },
    );
    await Deno.remove(empty);
    assert.equal(missing.code, 1);
    // Deno itself may add an "Info" line about resolving the allowed binary.
    const ours = missing.stderr.split("\n").filter((l) =>
      l.startsWith("atsock:")
    );
    assert.deepEqual(ours, [
      "atsock: certs make: openssl is not installed or not on PATH (Debian: apt-get install openssl)",
    ]);
    assert.doesNotMatch(missing.stderr, /at .*\.ts:\d+/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name:
    "certs check: a good PKI with only --allow-read=DIR; a broken one named file by file",
  ignore: !hasOpenssl,
}, async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "atsock-certs-check-" });
  const cert = (name: string) => `${dir}/CERT/${name}`;
  try {
    await makePki(dir, { suites: [1, 2, 3, 4, 5] });
    const keys = await keyLines(dir);
    const perms = [`--allow-read=${dir}`];
    await t.step("all good: exit 0, every type served", async () => {
      const r = await atsock(["check", dir], perms);
      assert.equal(r.stderr, "");
      assert.equal(r.code, 0);
      assert.match(
        r.stdout,
        /^suite 1: ok, serves server 2 3, client 2 3 4 5\n/,
      );
      assert.match(
        r.stdout,
        /CERT\/server_cert_1\.crt +ok +CN=atsock test server 1, valid until \d{4}-\d\d-\d\d, signed by CERT\/client_ca_1\.crt/,
      );
      assert.match(
        r.stdout,
        /CERT\/client_key_5\.key +ok +matches CERT\/client_cert_5\.crt/,
      );
      assert.match(r.stdout, /5 suites, all ok\n$/);
      assertNoKeys(r.stdout, keys);
      const json: CheckReport = JSON.parse(
        (await atsock(["check", dir, "--json"], perms)).stdout,
      );
      assert.equal(json.ok, true);
      assert.deepEqual(json.suites.map((s) => s.index), [1, 2, 3, 4, 5]);
      assert.deepEqual(json.suites[0].server.types, [2, 3]);
      assert.deepEqual(json.suites[0].client.types, [2, 3, 4, 5]);
      assert.equal(json.suites[0].client.signed, true);
    });
    await t.step(
      "broken: missing key, garbage cert, key of another cert, cert of another CA",
      async () => {
        await Deno.remove(cert("server_key_1.key"));
        await Deno.writeTextFile(
          cert("client_cert_2.crt"),
          "-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n",
        );
        await Deno.copyFile(cert("server_key_3.key"), cert("client_key_3.key"));
        await Deno.copyFile(
          cert("server_cert_5.crt"),
          cert("server_cert_4.crt"),
        );
        await Deno.copyFile(cert("server_key_5.key"), cert("server_key_4.key"));
        // Suite 6: only a client CA (incomplete, but client types 2 and 3 work).
        await Deno.copyFile(cert("client_ca_5.crt"), cert("client_ca_6.crt"));
        const r = await atsock(["check", dir], perms);
        assert.equal(r.code, 1);
        assert.equal(r.stderr, "");
        assertNoKeys(r.stdout, keys);
        assert.match(
          r.stdout,
          /^suite 1: INCOMPLETE, serves client 2 3 4 5\n/m,
        );
        assert.match(r.stdout, /CERT\/server_key_1\.key +missing/);
        assert.match(
          r.stdout,
          /^suite 2: BROKEN, serves server 2 3, client 2 3\n/m,
        );
        assert.match(
          r.stdout,
          /CERT\/client_cert_2\.crt +BAD +CERT\/client_cert_2\.crt does not parse as an X\.509 certificate \(the module answers ERROR: 9\)/,
        );
        assert.match(
          r.stdout,
          /CERT\/client_key_2\.key +BAD +not checked: CERT\/client_cert_2\.crt is broken/,
        );
        assert.match(
          r.stdout,
          /^suite 3: BROKEN, serves server 2 3, client 2 3\n/m,
        );
        assert.match(
          r.stdout,
          /CERT\/client_key_3\.key +BAD +CERT\/client_key_3\.key does not match CERT\/client_cert_3\.crt \(the module answers ERROR: 10\)/,
        );
        assert.match(
          r.stdout,
          /^suite 4: BROKEN, serves server 2 3, client 2 3 4 5\n/m,
        );
        assert.match(
          r.stdout,
          /CERT\/server_cert_4\.crt +BAD +not signed by CERT\/client_ca_4\.crt: a peer of this suite refuses it/,
        );
        assert.match(r.stdout, /^suite 5: ok/m);
        assert.match(r.stdout, /^suite 6: INCOMPLETE, serves client 2 3\n/m);
        assert.match(r.stdout, /6 suites, 5 incomplete or broken\n$/);
        const json: CheckReport = JSON.parse(
          (await atsock(["check", dir, "--json"], perms)).stdout,
        );
        assert.equal(json.ok, false);
        const [s1, s2, s3, s4, s5] = json.suites;
        assert.equal(s1.complete, false);
        assert.equal(s1.server.key.present, false);
        assert.equal(s2.client.cert.ok, false);
        assert.equal(s3.client.key.ok, false);
        assert.equal(s4.server.signed, false);
        assert.equal(
          s4.server.key.ok,
          true,
          "the key matches its (foreign) certificate",
        );
        assert.equal(s5.ok, true);
        assertNoKeys(JSON.stringify(json), keys);
      },
    );
    await t.step("no permission, or no suites: one line / exit 1", async () => {
      const denied = await atsock(["check", dir], []);
      assert.equal(denied.code, 1);
      assert.match(
        denied.stderr,
        /^atsock: permission denied: .*--allow-read.*\n$/,
      );
      const empty = await atsock(["check", `${dir}/nothing`], perms);
      assert.equal(empty.code, 1);
      assert.match(empty.stdout, /no certificate suite/);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name:
    "certs check: expiry warnings (expired, within 30 days) do not break a suite",
  ignore: !hasOpenssl,
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "atsock-certs-days-" });
  try {
    await makePki(dir, { suites: [1], days: 10 });
    const texts = new Map<string, string>();
    for await (const e of Deno.readDir(`${dir}/CERT`)) {
      texts.set(
        `CERT/${e.name}`,
        await Deno.readTextFile(`${dir}/CERT/${e.name}`),
      );
    }
    const soon = checkSuiteFiles(1, texts, new Date());
    assert.equal(soon.ok, true);
    assert.equal(soon.warnings.length, 4, soon.warnings.join("\n"));
    assert.match(
      soon.warnings[0],
      /^CERT\/server_ca_1\.crt expires on \d{4}-\d\d-\d\d, in (9|10) days$/,
    );
    const later = checkSuiteFiles(
      1,
      texts,
      new Date(Date.now() + 30 * 86400_000),
    );
    assert.match(later.warnings[0], /expired on/);
    const before = checkSuiteFiles(
      1,
      texts,
      new Date(Date.now() - 2 * 86400_000),
    );
    assert.match(before.warnings[0], /is not valid before/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
