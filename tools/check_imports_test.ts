import assert from "node:assert/strict";
import { checkImports, isTestFile } from "./check_imports.ts";

const ROOT = new URL("..", import.meta.url).pathname;

Deno.test("isTestFile: tests, benchmarks and test utilities", () => {
  assert.ok(isTestFile("packages/host/driver_test.ts"));
  assert.ok(isTestFile("packages/protocol/protocol_bench.ts"));
  assert.ok(isTestFile("packages/host/test_util.ts"));
  assert.ok(isTestFile("packages/cli/test_cli.ts"));
  assert.ok(!isTestFile("packages/host/driver.ts"));
  assert.ok(!isTestFile("packages/cli/tty_input.ts"));
});

/** Writes `files` (path to text) under a new directory; returns it. */
async function fixture(files: Record<string, string>): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "atsock-imports-" });
  for (const [path, text] of Object.entries(files)) {
    const full = `${root}/${path}`;
    await Deno.mkdir(full.slice(0, full.lastIndexOf("/")), { recursive: true });
    await Deno.writeTextFile(full, text);
  }
  return root;
}

const PACKAGES: Record<string, string> = {
  "packages/protocol/deno.json":
    '{"name":"@atsock/protocol","exports":"./mod.ts"}',
  "packages/tty/deno.json": '{"name":"@atsock/tty","exports":{".":"./mod.ts"}}',
  "packages/device/deno.json":
    '{"name":"@atsock/device","exports":{".":"./mod.ts","./tty":"./tty.ts","./attacks":"./attacks.ts"}}',
  "packages/host/deno.json":
    '{"name":"@atsock/host","exports":{".":"./mod.ts"}}',
  "packages/cli/deno.json": '{"name":"@atsock/cli","exports":{".":"./mod.ts"}}',
};

/** A graph that holds: every package importing what it may. */
const ALLOWED: Record<string, string> = {
  "packages/protocol/mod.ts":
    'export { parse } from "./parse.ts";\n// setTimeout is not called here\n',
  "packages/protocol/parse_test.ts":
    'import assert from "node:assert/strict";\nimport fc from "fast-check";\nimport { parse } from "@atsock/protocol";\nsetTimeout(() => {}, 0);\n',
  "packages/tty/mod.ts": 'import { concat } from "@atsock/protocol";\n',
  "packages/device/mod.ts":
    'import { openPty } from "@atsock/tty";\nimport { parse } from "@atsock/protocol";\nimport { createServer } from "node:tls";\n',
  "packages/device/pki_test.ts": 'import { freePort } from "./test_util.ts";\n',
  "packages/host/mod.ts":
    'import { openSerial } from "@atsock/tty";\nexport type * from "@atsock/protocol";\n',
  "packages/host/driver_test.ts":
    'import { createModule } from "@atsock/device";\nimport { bench } from "./test_util.ts";\n',
  "packages/cli/mod.ts":
    'import { AtDriver } from "@atsock/host";\nimport { createModule } from "@atsock/device";\nconst { servePty } = await import("@atsock/device/tty");\n',
  "tools/soak.ts":
    'import { resetConnect } from "@atsock/device/attacks";\nimport { freePort } from "./soak_util.ts";\nconst cli = new Deno.Command(Deno.execPath(), { args: ["run", "../packages/cli/main.ts"] });\n',
  "examples/fil/fil.ts": 'import { join } from "node:path";\n',
};

Deno.test("checkImports: a graph that follows the rules has no violation", async () => {
  const root = await fixture({ ...PACKAGES, ...ALLOWED });
  try {
    assert.deepEqual(await checkImports(root), []);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("checkImports: each forbidden import is reported with its file, line and rule", async () => {
  const root = await fixture({
    ...PACKAGES,
    ...ALLOWED,
    "packages/protocol/io.ts":
      'import { readFile } from "node:fs/promises";\nexport const read = () => Deno.readFile("x");\nexport const later = () => setTimeout(() => {}, 1);\n',
    "packages/protocol/graph.ts": 'import { openPty } from "@atsock/tty";\n',
    "packages/protocol/peer_test.ts":
      'import { createModule } from "@atsock/device";\n',
    "packages/tty/bad.ts": 'import { AtDriver } from "@atsock/host";\n',
    "packages/host/serial.ts":
      '// the host\nimport { openSerial } from "@atsock/device/tty";\n',
    "packages/device/cli.ts": 'export { main } from "@atsock/cli";\n',
    "packages/device/inside.ts":
      'import { Transport } from "../host/transport.ts";\n',
    "packages/device/tls_test.ts":
      'import { makePki } from "../../tools/make_pki.ts";\n',
    "packages/cli/explain/explain_test.ts":
      'import { Harness } from "../../device/test_util.ts";\n',
    "packages/cli/hidden.ts": 'import { x } from "@atsock/device/internal";\n',
    "tools/conformance.ts":
      'import {\n  replay,\n} from "@atsock/cli";\nimport { stalled } from "../packages/device/attacks.ts";\nconst later = await import("@atsock/cli");\nimport { y } from "@atsock/nothing";\n',
    "examples/fil/peek.ts":
      'import { z } from "../../packages/host/driver.ts";\n',
  });
  try {
    const found = (await checkImports(root)).map((v) =>
      `${v.file}:${v.line}: ${v.rule}`
    );
    const expected: [string, RegExp][] = [
      ["examples/fil/peek.ts:1", /examples import libraries only, by name/],
      [
        "packages/cli/explain/explain_test.ts:1",
        /imports a file of device .*test utilities of its own package only/,
      ],
      [
        "packages/cli/hidden.ts:1",
        /@atsock\/device does not export "\.\/internal"/,
      ],
      ["packages/device/cli.ts:1", /no library imports the CLI/],
      [
        "packages/device/inside.ts:1",
        /device imports a file of host \(packages\/host\/transport\.ts\)/,
      ],
      ["packages/device/tls_test.ts:1", /packages never import tools\//],
      ["packages/host/serial.ts:2", /device and host never import each other/],
      [
        "packages/protocol/graph.ts:1",
        /protocol may import only itself, not @atsock\/tty/,
      ],
      [
        "packages/protocol/peer_test.ts:1",
        /protocol may import only itself, not @atsock\/device/,
      ],
      [
        "packages/protocol/io.ts:1",
        /protocol imports nothing \(no node: modules/,
      ],
      [
        "packages/protocol/io.ts:2",
        /protocol does no I\/O and sets no timers \(uses Deno\)/,
      ],
      [
        "packages/protocol/io.ts:3",
        /protocol does no I\/O and sets no timers \(uses setTimeout\)/,
      ],
      [
        "packages/tty/bad.ts:1",
        /tty may import only protocol, not @atsock\/host/,
      ],
      ["tools/conformance.ts:3", /tools import libraries only, not the CLI/],
      [
        "tools/conformance.ts:4",
        /tools import libraries only, by name \(@atsock\/device/,
      ],
      ["tools/conformance.ts:5", /tools import libraries only, not the CLI/],
      ["tools/conformance.ts:6", /@atsock\/nothing is not a package/],
    ];
    assert.equal(found.length, expected.length, found.join("\n"));
    for (const [at, rule] of expected) {
      assert.ok(
        found.some((line) => line.startsWith(`${at}: `) && rule.test(line)),
        `${at} ${rule} not in:\n${found.join("\n")}`,
      );
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("check_imports.ts as a program: exit 1 with file:line: rule on stderr, exit 0 when the graph holds", async () => {
  const bad = await fixture({
    ...PACKAGES,
    "packages/host/serial.ts":
      'import { openSerial } from "@atsock/device/tty";\n',
  });
  const good = await fixture({ ...PACKAGES, ...ALLOWED });
  try {
    const run = (root: string) =>
      new Deno.Command(Deno.execPath(), {
        args: ["run", "--allow-read", `${ROOT}tools/check_imports.ts`, root],
        stdout: "piped",
        stderr: "piped",
        env: { NO_COLOR: "1" },
      }).output();
    const failed = await run(bad);
    assert.equal(failed.code, 1);
    assert.match(
      new TextDecoder().decode(failed.stderr),
      /^packages\/host\/serial\.ts:1: device and host never import each other \(host imports @atsock\/device\) \("@atsock\/device\/tty"\)\n/,
    );
    const passed = await run(good);
    assert.equal(passed.code, 0, new TextDecoder().decode(passed.stderr));
  } finally {
    await Deno.remove(bad, { recursive: true });
    await Deno.remove(good, { recursive: true });
  }
});

Deno.test("checkImports: this repository's package graph holds", async () => {
  assert.deepEqual(await checkImports(ROOT), []);
});
