/**
 * What the flood test and the soak share: an emulator in a child process
 * (optionally under a descriptor limit), and a console client that waits
 * for text with a bounded deadline.
 *
 * @module
 */

import { writeAll } from "@atsock/tty";

const MAIN = new URL("../packages/cli/main.ts", import.meta.url).pathname;
const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** A running `atsock emulate` child on a TCP console. */
export interface Emulator {
  /** The console's port. */
  port: number;
  /** Everything the child printed on stderr so far. */
  stderr(): string;
  /** The child's resident set, in bytes (from /proc, else `ps`), or undefined. */
  rss(): Promise<number | undefined>;
  /** Stops the child (SIGTERM, then SIGKILL after 5 s) and waits for it. */
  stop(): Promise<void>;
}

/**
 * Starts `atsock emulate --console tcp:127.0.0.1:0 ARGS...` in a child,
 * with `ulimit -n fdLimit` first when given (through bash), and waits
 * (at most 60 s) for the banner that names the port.
 */
export async function startEmulator(
  args: string[],
  fdLimit?: number,
): Promise<Emulator> {
  const deno = [
    Deno.execPath(),
    "run",
    "--allow-net",
    "--allow-read",
    "--allow-write",
    "--allow-env",
    "--allow-ffi",
    "--allow-sys",
    MAIN,
    "emulate",
    "--console",
    "tcp:127.0.0.1:0",
    ...args,
  ];
  const quote = (a: string) => `'${a.replaceAll("'", `'\\''`)}'`;
  const command = fdLimit === undefined
    ? new Deno.Command(deno[0], {
      args: deno.slice(1),
      stdin: "null",
      stdout: "null",
      stderr: "piped",
      env: { NO_COLOR: "1", RUST_BACKTRACE: "0" },
    })
    : new Deno.Command("bash", {
      args: ["-c", `ulimit -n ${fdLimit} && exec ${deno.map(quote).join(" ")}`],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
      env: { NO_COLOR: "1", RUST_BACKTRACE: "0" },
    });
  const child = command.spawn();
  let err = "";
  const reading = (async () => {
    for await (const chunk of child.stderr) err += decoder.decode(chunk);
  })().catch(() => {});
  const banner = /on tcp:127\.0\.0\.1:(\d+)/;
  const deadline = Date.now() + 60_000;
  while (!banner.test(err)) {
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`the emulator printed no banner: ${err}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const status = child.status;
  return {
    port: Number(banner.exec(err)![1]),
    stderr: () => err,
    async rss() {
      try {
        const text = Deno.readTextFileSync(`/proc/${child.pid}/status`);
        const kb = /VmRSS:\s+(\d+) kB/.exec(text)?.[1];
        if (kb !== undefined) return Number(kb) * 1024;
      } catch {
        // Deno wants --allow-all for /proc: ask ps.
      }
      try {
        const out = await new Deno.Command("ps", {
          args: ["-o", "rss=", "-p", String(child.pid)],
          stdout: "piped",
          stderr: "null",
        }).output();
        const kb = Number(decoder.decode(out.stdout).trim());
        return out.success && kb > 0 ? kb * 1024 : undefined;
      } catch {
        return undefined;
      }
    },
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch { /* gone */ }
      const timer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch { /* gone */ }
      }, 5000);
      await status;
      clearTimeout(timer);
      await reading;
    },
  };
}

/** A TCP console client that collects what the module prints. */
export class ConsoleClient {
  readonly conn: Deno.TcpConn;
  #text = "";
  #reading: Promise<void>;
  #wake: (() => void) | undefined;
  #ended = false;

  private constructor(conn: Deno.TcpConn) {
    this.conn = conn;
    this.#reading = this.#read();
  }

  /** Connects to the console on `port`. */
  static async connect(port: number): Promise<ConsoleClient> {
    return new ConsoleClient(
      await Deno.connect({ hostname: "127.0.0.1", port }),
    );
  }

  async #read(): Promise<void> {
    const buffer = new Uint8Array(16384);
    try {
      while (true) {
        const n = await this.conn.read(buffer);
        if (n === null) break;
        this.#text += decoder.decode(buffer.subarray(0, n), { stream: true });
        this.#wake?.();
      }
    } catch { /* reset */ }
    this.#ended = true;
    this.#wake?.();
  }

  /** Everything printed so far. */
  get text(): string {
    return this.#text;
  }

  /** Drops what was printed so far (the next wait sees only newer text). */
  clear(): void {
    this.#text = "";
  }

  /**
   * Connects and waits for `ATCMD READY` (Host Control Mode), trying again
   * (bounded: 30 s) while the console says it is busy: the previous client
   * may have closed a moment ago.
   */
  static async ready(port: number): Promise<ConsoleClient> {
    const deadline = Date.now() + 30_000;
    while (true) {
      const client = await ConsoleClient.connect(port);
      const m = await client.waitFor(/ATCMD READY\r\n|console busy/);
      if (m[0] !== "console busy") return client;
      await client.close();
      if (Date.now() > deadline) throw new Error("the console stayed busy");
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Sends text. */
  async write(text: string): Promise<void> {
    await writeAll(this.conn, encoder.encode(text));
  }

  /**
   * Waits until the text printed matches `pattern`, at most `ms`; returns
   * the match, or throws with what came.
   */
  async waitFor(pattern: RegExp, ms = 30_000): Promise<RegExpExecArray> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let late = false;
    const limit = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        late = true;
        resolve();
      }, ms);
    });
    try {
      while (true) {
        const m = pattern.exec(this.#text);
        if (m) return m;
        if (late || this.#ended) {
          throw new Error(
            `console: no ${pattern} ${
              late ? `within ${ms} ms` : "before the console closed"
            }; got ${JSON.stringify(this.#text.slice(-400))}`,
          );
        }
        await Promise.race([
          new Promise<void>((resolve) => (this.#wake = resolve)),
          limit,
        ]);
      }
    } finally {
      clearTimeout(timer);
    }
  }

  /** Sends a command line and waits for its final result; returns the answer's text. */
  async command(line: string, ms = 30_000): Promise<string> {
    this.clear();
    await this.write(line + "\r\n");
    const m = await this.waitFor(/\r\n(OK|ERROR: \d+)\r\n/, ms);
    return this.#text.slice(0, m.index + m[0].length);
  }

  /** Closes the connection and waits for the reader. */
  async close(): Promise<void> {
    try {
      this.conn.close();
    } catch { /* closed */ }
    await this.#reading;
  }
}
