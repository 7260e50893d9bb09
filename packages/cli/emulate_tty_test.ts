/**
 * The stdio emulator on a real terminal (a tmux pane): raw mode as a serial
 * terminal, so Manual Test Mode shows each typed line once (the module's
 * echo only); Ctrl-C, Ctrl-D and SIGTERM stop it and the terminal is back
 * in canonical mode with echo after every one of them.
 */
import assert from "node:assert/strict";
import { KeyTranslator } from "./tty_input.ts";
import { CLI_MAIN, LOOPBACK_ALL } from "./test_cli.ts";

const decoder = new TextDecoder();
const hasTmux = (() => {
  try {
    return new Deno.Command("tmux", { args: ["-V"], stdout: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
})();

/** A private tmux server running the emulator, then printing its status and the tty mode. */
class Pane {
  #socket = `atsock-emu-${Deno.pid}-${Math.random().toString(36).slice(2)}`;
  #pidFile = Deno.makeTempFileSync({ prefix: "atsock-emu-pid-" });

  #tmux(...args: string[]): string {
    const out = new Deno.Command("tmux", {
      args: ["-L", this.#socket, "-f", "/dev/null", ...args],
      clearEnv: true,
      env: {
        PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
        HOME: Deno.env.get("HOME") ?? "/tmp",
        TERM: "xterm-256color",
        RUST_BACKTRACE: "0",
        NO_COLOR: "1",
      },
      stdout: "piped",
      stderr: "piped",
    }).outputSync();
    if (!out.success) throw new Error(decoder.decode(out.stderr));
    return decoder.decode(out.stdout);
  }

  start(): void {
    const command = [
      Deno.execPath(),
      "run",
      ...LOOPBACK_ALL,
      CLI_MAIN,
      "emulate",
    ]
      .map((a) => `'${a}'`).join(" ");
    this.#tmux(
      "new-session",
      "-d",
      "-x",
      "150",
      "-y",
      "40",
      `sh -c 'echo $$ > ${this.#pidFile}; exec "$@"' sh ${command}; ` +
        `echo "EXIT $?"; stty -a | tr ' ;' '\\n\\n' | grep -xE -e '-?icanon' -e '-?echo'; sleep 60`,
    );
  }

  send(...keys: string[]): void {
    for (const key of keys) {
      if (key.startsWith("key:")) this.#tmux("send-keys", key.slice(4));
      else this.#tmux("send-keys", "-l", key);
    }
  }

  screen(): string {
    return this.#tmux("capture-pane", "-p", "-J");
  }

  async waitFor(pattern: RegExp): Promise<string> {
    for (let i = 0; i < 1200; i++) { // 60 s: a loaded machine starts Deno slowly
      const screen = this.screen();
      if (pattern.test(screen)) return screen;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`screen never matched ${pattern}:\n${this.screen()}`);
  }

  pid(): number {
    return Number(Deno.readTextFileSync(this.#pidFile).trim());
  }

  kill(): void {
    try {
      this.#tmux("kill-server");
    } catch { /* gone */ }
    Deno.removeSync(this.#pidFile);
  }
}

Deno.test("emulate on a terminal: each key sequence becomes what a serial terminal sends", () => {
  const keys = new KeyTranslator();
  assert.deepEqual(
    keys.push(new TextEncoder().encode("AT\r")),
    new TextEncoder().encode("AT\r\n"),
  );
  assert.deepEqual(
    keys.push(new Uint8Array([13, 10, 65])),
    new Uint8Array([13, 10, 65]),
  );
  assert.deepEqual(
    keys.push(new Uint8Array([66, 4, 67])),
    new Uint8Array([66]),
  );
  assert.equal(keys.ended, true);
  assert.equal(keys.interrupted, false);
  const c = new KeyTranslator();
  assert.deepEqual(c.push(new Uint8Array([65, 3, 66])), new Uint8Array([65]));
  assert.equal(c.interrupted, true);
});

for (const stop of ["Ctrl-C", "Ctrl-D", "SIGTERM"] as const) {
  Deno.test({
    name:
      `shell_cmd_chk echo on a terminal: Manual Test Mode shows a typed line once; ${stop} stops it and restores the terminal`,
    ignore: !hasTmux,
    async fn() {
      const pane = new Pane();
      try {
        pane.start();
        await pane.waitFor(/permissions: /);
        pane.send("AT+SKTQUERY", "key:Enter");
        const screen = await pane.waitFor(/tcp_keepcnt: 0\s+OK/);
        assert.equal(
          screen.split("\n").filter((l) => l.includes("AT+SKTQUERY")).length,
          1,
          screen,
        );
        if (stop === "Ctrl-C") pane.send("key:C-c");
        if (stop === "Ctrl-D") pane.send("key:C-d");
        if (stop === "SIGTERM") Deno.kill(pane.pid(), "SIGTERM");
        const end = await pane.waitFor(/EXIT \d+\s+icanon\s+echo/);
        assert.match(end, /closed every socket\s+EXIT 0/);
      } finally {
        pane.kill();
      }
    },
  });
}
