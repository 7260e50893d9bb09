/**
 * What the docs say about the repository itself: each task's permissions
 * as deno.json grants them, in README.md and the getting-started pages
 * alike; no link or cited path to a file a clone does not have; the
 * directories the docs' commands write private keys into are ignored.
 */
import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url).pathname;

/** The `--allow-*` flags of each task that runs Deno. */
async function taskFlags(): Promise<Map<string, string>> {
  const config = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`));
  const out = new Map<string, string>();
  for (const [name, command] of Object.entries<string>(config.tasks)) {
    const m = /^deno (?:run|test|bench)((?: --[\w-]+(?:=\S+)?)*)/.exec(
      command,
    );
    if (!m) continue;
    out.set(
      name,
      m[1].trim().split(/\s+/).filter((f) => f.startsWith("--allow")).join(
        " ",
      ),
    );
  }
  return out;
}

async function markdownFiles(): Promise<string[]> {
  const files = ["README.md"];
  for (const dir of ["docs", "docs/commands"]) {
    for await (const entry of Deno.readDir(`${ROOT}${dir}`)) {
      if (entry.isFile && entry.name.endsWith(".md")) {
        files.push(`${dir}/${entry.name}`);
      }
    }
  }
  return files;
}

Deno.test("docs: README.md and the getting-started pages say what each task grants, as deno.json does", async () => {
  const flags = await taskFlags();
  const pages = ["README.md"];
  for await (const entry of Deno.readDir(`${ROOT}docs`)) {
    if (entry.name.startsWith("getting-started-")) {
      pages.push(`docs/${entry.name}`);
    }
  }
  const listed = new Map<string, Set<string>>();
  for (const page of pages) {
    const text = await Deno.readTextFile(`${ROOT}${page}`);
    const rows = text.matchAll(
      /^\| `deno task ([\w-]+)` *\| (?:`(--allow[^`]*)`|\(none\)) *\|/gm,
    );
    for (const [, task, granted] of rows) {
      assert.ok(flags.has(task), `${page}: no task ${task} in deno.json`);
      assert.equal(
        granted ?? "",
        flags.get(task),
        `${page}: deno task ${task}`,
      );
      listed.set(page, (listed.get(page) ?? new Set()).add(task));
    }
  }
  // The CLI guide lists every task; README names the ones it runs.
  assert.deepEqual(
    [...(listed.get("docs/getting-started-cli.md") ?? [])].sort(),
    [...flags.keys()].sort(),
  );
  for (const task of ["start", "test", "atsock", "emulate", "conformance"]) {
    assert.ok(listed.get("README.md")?.has(task), `README.md: ${task}`);
  }
});

Deno.test("docs: every link and every cited path is in the repository", async () => {
  const problems: string[] = [];
  for (const file of await markdownFiles()) {
    const text = await Deno.readTextFile(`${ROOT}${file}`);
    const dir = file.includes("/")
      ? file.slice(0, file.lastIndexOf("/") + 1)
      : "";
    for (const [, target] of text.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
      if (/^[a-z]+:/.test(target)) continue; // https:, mailto:
      try {
        await Deno.stat(`${ROOT}${dir}${target}`);
      } catch {
        problems.push(`${file}: link ${target}`);
      }
    }
    const cited = text.matchAll(
      /`((?:packages|tools|docs|examples|\.ci)\/[\w./-]*)`/g,
    );
    for (const [, path] of cited) {
      try {
        await Deno.stat(`${ROOT}${path}`);
      } catch {
        problems.push(`${file}: ${path}`);
      }
    }
    if (text.includes("../shared/")) {
      problems.push(`${file}: ../shared/ is outside the repository`);
    }
  }
  assert.deepEqual(problems, []);
});

Deno.test("docs: the PKI directories the docs make (private keys) are ignored by git", async () => {
  let out;
  try {
    out = await new Deno.Command("git", {
      args: [
        "check-ignore",
        "certs/CERT/server_key_1.key",
        "pki/CERT/client_key_1.key",
        "run.jsonl",
        "session.jsonl",
      ],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch {
    // No git: read .gitignore instead.
    const ignore = await Deno.readTextFile(`${ROOT}.gitignore`);
    for (const line of ["/certs/", "/pki/"]) {
      assert.ok(ignore.split("\n").includes(line), line);
    }
    return;
  }
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  assert.equal(
    new TextDecoder().decode(out.stdout).trim().split("\n").length,
    4,
  );
});

Deno.test("a fresh clone's first deno run prints no approve-scripts box: no package.json at the root declares the deno package", async () => {
  // Deno takes a root package.json's dependencies for the workspace's: the
  // npm package that installs Deno (with its postinstall script) made it
  // rebuild node_modules and print "Run deno approve-scripts" on the first
  // run. CI installs Deno from .ci/npm instead.
  let manifest: { dependencies?: object; devDependencies?: object } = {};
  try {
    manifest = JSON.parse(await Deno.readTextFile(`${ROOT}package.json`));
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  assert.equal(
    Object.keys({ ...manifest.dependencies, ...manifest.devDependencies })
      .includes("deno"),
    false,
  );
  const ci = JSON.parse(await Deno.readTextFile(`${ROOT}.ci/npm/package.json`));
  assert.equal(ci.devDependencies.deno, "2.9.6");
  assert.deepEqual(ci.allowScripts, { deno: true }); // npm ci says nothing
});
