import assert from "node:assert/strict";
import { createModule } from "./module.ts";
import { serveTcp, TOKEN_WAITING_MAX } from "./consoles.ts";
import { stalledConnections } from "./attacks.ts";
import { AttemptGuard, MAX_PENALTY_MS, RefusalLog } from "./console_guard.ts";

const TOKEN = "s3cret";
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Sends `text` (if any) and reads until the console closes (bounded: 20 s). */
async function exchange(
  port: number,
  text?: string,
  until?: RegExp,
): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  let seen = "";
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"late">((resolve) => {
    timer = setTimeout(() => resolve("late"), 20000);
  });
  try {
    if (text !== undefined) await conn.write(encoder.encode(text));
    const buffer = new Uint8Array(4096);
    while (!until?.test(seen)) {
      const n = await Promise.race([conn.read(buffer), late]).catch(() => null);
      if (n === "late") throw new Error(`nothing in 20 s; got ${seen}`);
      if (n === null) break;
      seen += decoder.decode(buffer.subarray(0, n));
    }
    return seen;
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch { /* closed */ }
  }
}

async function withConsole(
  fn: (port: number, logs: string[]) => Promise<void>,
  tokenTimeoutMs = 60000,
) {
  const module = createModule({ mode: "manual" });
  const logs: string[] = [];
  const con = serveTcp(module, {
    port: 0,
    token: TOKEN,
    tokenTimeoutMs,
    log: (m) => logs.push(m),
  });
  try {
    await fn(con.port, logs);
  } finally {
    await con.close();
    await module.close();
  }
}

Deno.test("shell_cmd_chk: a token line ended by a lone CR is refused at once or after a short grace, never the whole token timeout", async () => {
  await withConsole(async (port) => {
    // A lone CR then nothing: refused within TOKEN_CR_GRACE_MS (the token
    // timeout here is 60 s; the read is bounded at 20 s).
    assert.match(await exchange(port, TOKEN + "\r"), /lone CR or LF/);
  });
  await withConsole(async (port) => {
    // A lone LF: the line can never be the token.
    assert.match(await exchange(port, TOKEN + "\n"), /lone CR or LF/);
  });
  await withConsole(async (port) => {
    // NUL ends a line too (shell_cmd_chk), so the token ends with it.
    assert.match(
      await exchange(port, TOKEN + "\0AT+SKTSTATE\r\n", /OK\r\n/),
      /^AT\+SKTSTATE\r\n\r\nOK\r\n/,
    );
  });
});

Deno.test("token console: a client that has not sent the token locks nobody out; the first with the right token wins", async () => {
  await withConsole(async (port) => {
    const idle = await stalledConnections(port, 3);
    try {
      assert.equal(idle.opened, 3);
      const text = await exchange(
        port,
        TOKEN + "\r\nAT+SKTSTATE\r\n",
        /OK\r\n/,
      );
      assert.equal(text, "AT+SKTSTATE\r\n\r\nOK\r\n");
    } finally {
      idle.close();
    }
  });
});

Deno.test("token console: one waiting client too many closes the one that waited longest", async () => {
  await withConsole(async (port) => {
    const first = await Deno.connect({ hostname: "127.0.0.1", port });
    const more = await stalledConnections(port, TOKEN_WAITING_MAX);
    try {
      const buffer = new Uint8Array(200);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const n = await Promise.race([
        first.read(buffer),
        new Promise<null>((resolve) => {
          timer = setTimeout(() => resolve(null), 20000);
        }),
      ]);
      clearTimeout(timer);
      assert.match(
        decoder.decode(buffer.subarray(0, n ?? 0)),
        /too many clients waiting/,
      );
    } finally {
      first.close();
      more.close();
    }
  });
});

Deno.test("token console: wrong tokens lock their address out, guesses are rate-limited and refusals logged in summary", async () => {
  await withConsole(async (port, logs) => {
    const told: string[] = [];
    for (let i = 0; i < 40; i++) told.push(await exchange(port, "guess\r\n"));
    const checked = told.filter((t) => /refused: wrong token/.test(t)).length;
    const locked = told.filter((t) => /too many wrong tokens/.test(t)).length;
    assert.equal(checked + locked, 40);
    // 40 quick guesses: the first is checked, then the address waits
    // 250 ms, 500 ms, ... before another is read.
    assert.ok(checked < 10, `${checked} guesses were checked`);
    // Even the right token waits out the lock-out.
    assert.match(await exchange(port, TOKEN + "\r\n"), /too many wrong tokens/);
    // One line per reason, not one per refusal.
    assert.ok(logs.length <= 3, logs.join("\n"));
  });
});

Deno.test("AttemptGuard: the lock-out doubles from 250 ms to at most 30 s; the right token clears it", () => {
  const guard = new AttemptGuard();
  assert.equal(guard.lockedFor("a", 0), 0);
  assert.equal(guard.fail("a", 0), 250);
  assert.equal(guard.lockedFor("a", 100), 150);
  assert.equal(guard.lockedFor("b", 100), 0);
  assert.equal(guard.fail("a", 300), 500);
  let penalty = 0;
  for (let i = 0; i < 20; i++) penalty = guard.fail("a", 1000);
  assert.equal(penalty, MAX_PENALTY_MS);
  guard.succeed("a");
  assert.equal(guard.lockedFor("a", 1000), 0);
});

Deno.test("RefusalLog: each reason once per window, then one summary line", () => {
  const lines: string[] = [];
  const log = new RefusalLog((m) => lines.push(m));
  for (let i = 0; i < 1000; i++) log.refuse("127.0.0.1:1", "wrong token", i);
  log.refuse("127.0.0.1:2", "no token in time", 500);
  assert.equal(lines.length, 2);
  log.refuse("127.0.0.1:3", "wrong token", 20000); // a new window
  assert.equal(lines.length, 4);
  assert.match(lines[2], /also refused in the last 10 s: 999 wrong token/);
  log.flush();
  assert.equal(lines.length, 4);
});
