/**
 * The packages used from another project, outside the workspace, as the
 * README says: the project maps `@atsock/*` to their `jsr:` specifiers and
 * links a checkout of this repository (`"links"` in its deno.json), which
 * Deno prefers over JSR, so nothing is fetched (JSR is not needed here);
 * or maps them to the checkout's files with an import map.
 */
import assert from "node:assert/strict";
import { importSpecifiers } from "./import_scan.ts";

const PACKAGES = new URL("../packages/", import.meta.url).pathname;

/** The `@atsock/...` packages a package's files import (its own name aside). */
async function siblingsImported(
  dir: string,
  own: string,
): Promise<Set<string>> {
  const found = new Set<string>();
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) {
      for (const name of await siblingsImported(path, own)) found.add(name);
    } else if (entry.name.endsWith(".ts")) {
      const text = await Deno.readTextFile(path);
      for (const { specifier } of importSpecifiers(text)) {
        const name = /^@atsock\/[a-z]+/.exec(specifier)?.[0];
        if (name && name !== own) found.add(name);
      }
    }
  }
  return found;
}

Deno.test("each package's deno.json maps the sibling packages it imports to their jsr: specifiers (as JSR will see it)", async () => {
  for (const pkg of ["protocol", "tty", "device", "host", "cli"]) {
    const config = JSON.parse(
      await Deno.readTextFile(`${PACKAGES}${pkg}/deno.json`),
    );
    const imports: Record<string, string> = config.imports ?? {};
    for (const name of await siblingsImported(PACKAGES + pkg, config.name)) {
      const sibling = JSON.parse(
        await Deno.readTextFile(`${PACKAGES}${name.split("/")[1]}/deno.json`),
      );
      assert.equal(
        imports[name],
        `jsr:${name}@^${sibling.version}`,
        `${config.name} imports ${name}`,
      );
    }
  }
});

Deno.test("another project imports @atsock/host and @atsock/device from a checkout through links, as it will from JSR", async () => {
  const dir = await Deno.makeTempDir({ prefix: "atsock-user-" });
  try {
    await Deno.writeTextFile(
      `${dir}/deno.json`,
      JSON.stringify({
        imports: {
          "@atsock/host": "jsr:@atsock/host@^0.1.0",
          "@atsock/device": "jsr:@atsock/device@^0.1.0",
        },
        links: ["protocol", "tty", "device", "host"].map((p) => PACKAGES + p),
      }),
    );
    await Deno.writeTextFile(
      `${dir}/main.ts`,
      `import { AtDriver, memoryPair } from "@atsock/host";
import { createModule, serveStreams } from "@atsock/device";
import { formatRequest } from "${PACKAGES}protocol/mod.ts";

const [host, device] = memoryPair();
const module = createModule({ mode: "host" });
const console_ = serveStreams(module, device);
const driver = new AtDriver(host);
await driver.waitReady();
const config = await driver.query();
console.log(JSON.stringify({ sndtimeo: config.sendTimeout, line: new TextDecoder().decode(formatRequest({ command: "SKTSTATE" })) }));
await driver.close();
await console_.close();
await module.close();
`,
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "main.ts"],
      cwd: dir,
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1", RUST_BACKTRACE: "0" },
    }).output();
    const err = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, err);
    assert.deepEqual(JSON.parse(new TextDecoder().decode(out.stdout)), {
      sndtimeo: 0,
      line: "AT+SKTSTATE\r\n",
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("another project imports the packages from a checkout through an import map", async () => {
  const dir = await Deno.makeTempDir({ prefix: "atsock-user-" });
  try {
    const imports = Object.fromEntries(
      ["protocol", "tty", "device", "host"].map((
        p,
      ) => [`@atsock/${p}`, `${PACKAGES}${p}/mod.ts`]),
    );
    await Deno.writeTextFile(`${dir}/deno.json`, JSON.stringify({ imports }));
    await Deno.writeTextFile(
      `${dir}/main.ts`,
      `import { AtDriver } from "@atsock/host";\nconsole.log(typeof AtDriver);\n`,
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "main.ts"],
      cwd: dir,
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1", RUST_BACKTRACE: "0" },
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    assert.equal(new TextDecoder().decode(out.stdout), "function\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
