/**
 * Every command line in README.md and docs/*.md that is meant to run (the
 * fenced `sh` blocks; `text` blocks are output, real hardware or other
 * machines) is run as written, so the docs cannot rot. Each document runs
 * in a sandbox directory that looks like a fresh clone (the repository's
 * files linked in, what commands write stays there); blocks of a document
 * run in order in that sandbox. Placeholders only:
 *
 * - `deno` is this Deno; `npx -y deno@2.9.6` runs as written (skipped
 *   without npx); the test suite itself (`task test`) is not run again.
 * - Ports the docs use (3333, 6666, 8443, ...) become free ports, the same
 *   within a block; `/dev/ttyUSB0` and `/dev/pts/7` become the pty of a
 *   virtual module (started for the block unless the block starts one);
 *   `/tmp/ttyAMEBA` a path in the sandbox.
 * - A target `tcp:127.0.0.1:3333` with no emulator started by the block
 *   gets one (Host Control Mode), as the text around such blocks says.
 * - A line ending in `&`, an emulator on a TCP console or a pty, `socat
 *   TCP-LISTEN` and `openssl s_server` run in the background until `kill
 *   %N` or the end of the block, and must then stop on SIGTERM. Anything
 *   else runs with standard input at its end and must exit 0, or with the
 *   status its comment names (`exit status 1`).
 * - A program that is not installed (nc, picocom, a cross compiler, QEMU)
 *   is skipped with the rest of its block, and named in the test's output;
 *   so are lines that install software (apt-get, sudo) and lines with a
 *   `<placeholder>` for the reader. `cd DIR`, `NAME=value command` and
 *   `NAME=$(command)` then `"$NAME"` work as in sh.
 */
import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url).pathname;
const DENO = Deno.execPath();
/** What `-A` grants, with net access to loopback only (as `deno task test`'s own). */
const LOOPBACK_ALL = [
  "--allow-net=127.0.0.1,localhost",
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-run",
  "--allow-ffi",
  "--allow-sys",
];
const decoder = new TextDecoder();

/** The docs whose `sh` blocks run. */
async function documents(): Promise<string[]> {
  const docs = ["README.md"];
  for await (const entry of Deno.readDir(`${ROOT}docs`)) {
    if (entry.isFile && entry.name.endsWith(".md")) {
      docs.push(`docs/${entry.name}`);
    }
  }
  return docs.sort();
}

interface Block {
  file: string;
  line: number;
  text: string;
}

/** The fenced `sh` blocks of a markdown file. */
export function shBlocks(file: string, markdown: string): Block[] {
  const blocks: Block[] = [];
  for (const m of markdown.matchAll(/^```sh\n([\s\S]*?)^```/gm)) {
    const line = markdown.slice(0, m.index).split("\n").length;
    blocks.push({ file, line, text: m[1] });
  }
  return blocks;
}

interface Command {
  /** The line as written (continuations joined, comment removed). */
  text: string;
  /** Its comment, if any. */
  comment: string;
}

/** Splits a block into commands: `\` continuations joined, comments apart. */
export function commandsOf(text: string): Command[] {
  const out: Command[] = [];
  let pending = "";
  for (const raw of text.split("\n")) {
    const line = pending + raw;
    if (line.endsWith("\\")) {
      pending = line.slice(0, -1) + " ";
      continue;
    }
    pending = "";
    const { code, comment } = splitComment(line);
    if (code.trim() === "") continue;
    out.push({ text: code.trim(), comment });
  }
  return out;
}

/** A `#` after a space and outside quotes starts a comment. */
function splitComment(line: string): { code: string; comment: string } {
  let quote = "";
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === quote) quote = "";
    } else if (c === "'" || c === '"') quote = c;
    else if (c === "#" && (i === 0 || /\s/.test(line[i - 1]))) {
      return { code: line.slice(0, i), comment: line.slice(i + 1).trim() };
    }
  }
  return { code: line, comment: "" };
}

/** Splits a command line into words, as sh would for these docs (quotes). */
function words(line: string): string[] {
  const out: string[] = [];
  let word = "";
  let quote = "";
  let started = false;
  for (const c of line) {
    if (quote) {
      if (c === quote) quote = "";
      else word += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      started = true;
    } else if (/\s/.test(c)) {
      if (started || word) out.push(word);
      word = "";
      started = false;
    } else word += c;
  }
  if (started || word) out.push(word);
  return out;
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

function installed(program: string): boolean {
  if (program.startsWith("/")) return true;
  try {
    return new Deno.Command("sh", {
      args: ["-c", `command -v ${program}`],
      stdout: "null",
      stderr: "null",
    }).outputSync().success;
  } catch {
    return false;
  }
}

/**
 * Whether something listens on a TCP port (from /proc/net/tcp, read by
 * cat: Deno wants --allow-all to read /proc/net itself, and a connection
 * would use up a listener that takes one client).
 */
function listening(port: number): boolean {
  const hex = port.toString(16).toUpperCase().padStart(4, "0");
  const out = new Deno.Command("cat", {
    args: ["/proc/net/tcp", "/proc/net/tcp6"],
    stdout: "piped",
    stderr: "null",
  }).outputSync();
  return decoder.decode(out.stdout).split("\n").some((l) => {
    const f = l.trim().split(/\s+/);
    return f[1]?.endsWith(`:${hex}`) && f[3] === "0A";
  });
}

async function until(
  ready: () => boolean,
  what: string,
  child?: Deno.ChildProcess,
  stderr?: () => string,
): Promise<void> {
  let exited = false;
  child?.status.then(() => (exited = true));
  for (let i = 0; i < 1200; i++) {
    if (ready()) return;
    if (exited) {
      throw new Error(
        `${what}: the process exited first${stderr ? `: ${stderr()}` : ""}`,
      );
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** A program running in the background of a block. */
interface Job {
  text: string;
  child: Deno.ChildProcess;
  stderr: () => string;
  stdin: WritableStreamDefaultWriter<Uint8Array>;
  /** The emulator's console port, if it is one on tcp. */
  consolePort?: number;
}

/** Ports the docs use, each replaced by a free port within a block. */
const DOC_PORTS = /\b(3333|6666|5000|8443|8444|4433|4443)\b/g;
const DEVICES = /\/dev\/ttyUSB0|\/dev\/pts\/7/g;

class BlockRun {
  #jobs: (Job | undefined)[] = [];
  #ports = new Map<string, number>();
  #device: string | undefined;
  #hidden: Job[] = [];
  /** Shell variables set by `NAME=$(command)`. */
  #vars = new Map<string, string>();
  /** The directory commands run in (`cd` changes it). */
  #cwd: string;
  /** Set when a program the block needs is missing: the rest is skipped. */
  #missing: string | undefined;
  log: string[] = [];

  constructor(readonly sandbox: string) {
    this.#cwd = sandbox;
  }

  port(doc: string): number {
    let port = this.#ports.get(doc);
    if (port === undefined) {
      port = freePort();
      this.#ports.set(doc, port);
    }
    return port;
  }

  #spawn(
    argv: string[],
    text: string,
    env: Record<string, string> = { NO_COLOR: "1", RUST_BACKTRACE: "0" },
  ): Job {
    const child = new Deno.Command(argv[0], {
      args: argv.slice(1),
      cwd: this.#cwd,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      env,
    }).spawn();
    let err = "";
    (async () => {
      for await (const chunk of child.stderr) err += decoder.decode(chunk);
    })();
    child.stdout.pipeTo(new WritableStream()).catch(() => {});
    return { text, child, stderr: () => err, stdin: child.stdin.getWriter() };
  }

  /** An emulator the block did not start but its commands need. */
  async #hiddenEmulator(console: string): Promise<Job> {
    const job = this.#spawn([
      DENO,
      "run",
      ...LOOPBACK_ALL,
      `${ROOT}packages/cli/main.ts`,
      "emulate",
      "--console",
      console,
      "--mode",
      "host",
    ], `(an emulator for the block on ${console})`);
    await until(
      () => /permissions: /.test(job.stderr()),
      job.text,
      job.child,
      job.stderr,
    );
    this.#hidden.push(job);
    return job;
  }

  async #needs(line: string): Promise<void> {
    const target = /tcp:127\.0\.0\.1:(\d+)/.exec(line);
    if (target && !/emulate/.test(line)) {
      const port = Number(target[1]);
      const running = [...this.#jobs, ...this.#hidden].some((job) =>
        job?.consolePort === port
      );
      if (!running) {
        const job = await this.#hiddenEmulator(`tcp:127.0.0.1:${port}`);
        job.consolePort = port;
      }
    }
  }

  async #devicePath(): Promise<string> {
    if (this.#device === undefined) {
      const job = await this.#hiddenEmulator("pty");
      this.#device =
        /virtual module on (\/dev\/pts\/\d+)/.exec(job.stderr())![1];
    }
    return this.#device;
  }

  async run(command: Command): Promise<void> {
    if (this.#missing) {
      this.log.push(`skipped (needs ${this.#missing}): ${command.text}`);
      return;
    }
    if (/^(sudo|apt-get|apt|brew|pip|npm install)\b/.test(command.text)) {
      this.log.push(`not run (installs software): ${command.text}`);
      return;
    }
    if (/<[a-z_]+>/.test(command.text)) {
      this.log.push(`not run (a placeholder for the reader): ${command.text}`);
      return;
    }
    const cd = /^cd (\S+)$/.exec(command.text);
    if (cd) {
      this.#cwd = cd[1].startsWith("/") ? cd[1] : `${this.#cwd}/${cd[1]}`;
      return;
    }
    let line = command.text.replace(DOC_PORTS, (p) => String(this.port(p)));
    line = line.replaceAll("/tmp/ttyAMEBA", `${this.sandbox}/ttyAMEBA`);
    if (DEVICES.test(line)) {
      const device = await this.#devicePath();
      line = line.replace(DEVICES, device);
    }
    line = line.replace(
      /"?\$([A-Z_]+)"?/g,
      (all, name) => this.#vars.get(name) ?? all,
    );
    const assign = /^([A-Z_]+)=\$\((.*)\)$/.exec(line);
    if (assign) {
      const argv = words(assign[2]);
      if (!installed(argv[0])) {
        this.log.push(
          `${argv[0]} is not installed: $${assign[1]} is this Deno`,
        );
        this.#vars.set(assign[1], DENO);
        return;
      }
      const out = await new Deno.Command(argv[0], {
        args: argv.slice(1),
        cwd: this.#cwd,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(out.code, 0, `${line}: ${decoder.decode(out.stderr)}`);
      this.#vars.set(assign[1], decoder.decode(out.stdout).trim());
      return;
    }
    const kill = /^kill %(\d+)$/.exec(line);
    if (kill) return await this.#stop(Number(kill[1]) - 1);
    let background = line.endsWith("&");
    if (background) line = line.slice(0, -1).trim();
    background ||=
      /emulate .*--console (tcp|pty)|task start .*--console|TCP-LISTEN|PTY,link=|s_server/
        .test(line);
    const argv = words(line);
    // NAME=value in front of a command: its environment.
    const env: Record<string, string> = { NO_COLOR: "1", RUST_BACKTRACE: "0" };
    while (argv.length > 1 && /^[A-Z_]+=/.test(argv[0])) {
      const [name, ...value] = argv.shift()!.split("=");
      env[name] = value.join("=");
    }
    if (argv[0] === "deno") argv[0] = DENO;
    if (/(^| )task test( |$)/.test(line)) {
      this.log.push(`not run (the suite itself): ${command.text}`);
      return;
    }
    if (!installed(argv[0])) {
      this.#missing = argv[0];
      this.log.push(`skipped (${argv[0]} is not installed): ${command.text}`);
      return;
    }
    if (!background) await this.#needs(line);
    if (background) {
      const job = this.#spawn(argv, command.text, env);
      this.#jobs.push(job);
      const tcp = /--console tcp:[^ ]*:(\d+)/.exec(line);
      if (/emulate|task start/.test(line)) {
        await until(
          () => /permissions: /.test(job.stderr()),
          line,
          job.child,
          job.stderr,
        );
        const pty = /virtual module on (\/dev\/pts\/\d+)/.exec(job.stderr());
        if (pty) this.#device = pty[1];
        if (tcp) job.consolePort = Number(tcp[1]);
      } else if (/PTY,link=([^,]+)/.test(line)) {
        const link = /PTY,link=([^,]+)/.exec(line)![1];
        await until(
          () => {
            try {
              Deno.lstatSync(link);
              return true;
            } catch {
              return false;
            }
          },
          line,
          job.child,
        );
      } else {
        const port = /(?:TCP-LISTEN:|-accept )(\d+)/.exec(line);
        if (port) {
          await until(() => listening(Number(port[1])), line, job.child);
        }
      }
      return;
    }
    const expected = Number(
      /exit status (\d+)/.exec(command.comment)?.[1] ?? 0,
    );
    const child = new Deno.Command(argv[0], {
      args: argv.slice(1),
      cwd: this.#cwd,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env,
    }).spawn();
    const limit = setTimeout(() => child.kill("SIGKILL"), 120_000);
    const out = await child.output();
    clearTimeout(limit);
    const stderr = decoder.decode(out.stderr);
    assert.equal(
      out.code,
      expected,
      `${command.text}\n(ran: ${line})\nstdout: ${
        decoder.decode(out.stdout).slice(0, 2000)
      }\nstderr: ${stderr.slice(0, 2000)}`,
    );
    assert.doesNotMatch(stderr, /^\s+at .*\.ts:\d+/m, `${line}: a stack trace`);
  }

  async #stop(index: number): Promise<void> {
    const job = this.#jobs[index];
    assert.ok(job, `kill %${index + 1}: no such job`);
    this.#jobs[index] = undefined;
    await stopJob(job);
  }

  async end(): Promise<void> {
    for (const job of this.#jobs) if (job) await stopJob(job);
    for (const job of this.#hidden) await stopJob(job);
  }
}

/** SIGTERM, then it must end (bounded) without a stack trace. */
async function stopJob(job: Job): Promise<void> {
  try {
    job.child.kill("SIGTERM");
  } catch { /* it ended by itself */ }
  const limit = setTimeout(() => {
    try {
      job.child.kill("SIGKILL");
    } catch { /* gone */ }
  }, 30_000);
  const status = await job.child.status;
  clearTimeout(limit);
  await job.stdin.close().catch(() => {});
  assert.ok(
    status.signal !== "SIGKILL",
    `${job.text}: did not stop on SIGTERM`,
  );
  if (job.consolePort !== undefined) {
    // Nothing left behind holding the console's port.
    assert.equal(listening(job.consolePort), false, `${job.text}: port held`);
  }
  assert.doesNotMatch(job.stderr(), /^\s+at .*\.ts:\d+/m, job.text);
}

/** A directory that looks like a fresh clone; what commands write stays in it. */
async function sandbox(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "atsock-docs-" });
  for (
    const name of [
      "packages",
      "tools",
      "examples",
      "docs",
      "deno.lock",
      "node_modules",
      "README.md",
    ]
  ) {
    try {
      await Deno.symlink(`${ROOT}${name}`, `${dir}/${name}`);
    } catch { /* not in this checkout */ }
  }
  // Copied, not linked: deno task runs in the directory of its deno.json.
  await Deno.copyFile(`${ROOT}deno.json`, `${dir}/deno.json`);
  await Deno.copyFile(`${ROOT}.npmrc`, `${dir}/.npmrc`);
  return dir;
}

Deno.test("docs: sh blocks are split into commands as sh would", () => {
  assert.deepEqual(
    commandsOf("a b \\\n  c   # note\n# only a comment\nd 'x # y'\n"),
    [{ text: "a b    c", comment: "note" }, { text: "d 'x # y'", comment: "" }],
  );
  assert.deepEqual(words(`run 'ERROR: 14' --data "a b" x`), [
    "run",
    "ERROR: 14",
    "--data",
    "a b",
    "x",
  ]);
});

for (const file of await documents()) {
  const blocks = shBlocks(file, await Deno.readTextFile(`${ROOT}${file}`));
  if (blocks.length === 0) continue;
  Deno.test(`docs: every command of ${file} runs as written`, async (t) => {
    const dir = await sandbox();
    try {
      for (const block of blocks) {
        await t.step(`${file}:${block.line}`, async () => {
          const run = new BlockRun(dir);
          try {
            for (const command of commandsOf(block.text)) {
              await run.run(command);
            }
          } finally {
            await run.end();
          }
          for (const note of run.log) {
            console.log(`${file}:${block.line}: ${note}`);
          }
        });
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}
