/**
 * The README's two ways to start the virtual module, spawned exactly as
 * written (`deno` is this Deno) and stopped with SIGTERM or SIGINT sent to
 * the process the user started: everything must stop, every socket closed
 * and the port free, with no process left behind holding the output.
 */
import assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url).pathname;
const encoder = new TextEncoder();

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

function portFree(port: number): boolean {
  try {
    Deno.listen({ hostname: "127.0.0.1", port }).close();
    return true;
  } catch {
    return false;
  }
}

function hasNpx(): boolean {
  try {
    return new Deno.Command("npx", { args: ["--version"], stdout: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

async function startAndStop(command: string[], signal: Deno.Signal) {
  const port = freePort();
  const child = new Deno.Command(command[0], {
    args: command.slice(1),
    cwd: ROOT,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", RUST_BACKTRACE: "0" },
  }).spawn();
  // Bounded: a cold npx downloads Deno first; anything left running is killed.
  const limit = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  }, 180_000);
  const writer = child.stdin.getWriter();
  await writer.write(encoder.encode(`AT+SKTSERVER=0,1,,${port},1\r\n`));
  // stdin stays open: the module runs until the signal.
  const reader = child.stdout.getReader();
  let out = "";
  while (!out.includes("OK\r\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    out += new TextDecoder().decode(value);
  }
  assert.match(out, /OK\r\n/, "the server was not made");
  assert.equal(portFree(port), false, "the module's server listens");
  child.kill(signal);
  // The output ends only when every process holding it has gone.
  const drained = (async () => {
    while (!(await reader.read()).done);
    return "ended" as const;
  })();
  let wait: ReturnType<typeof setTimeout> | undefined;
  const ended = await Promise.race([
    drained,
    new Promise<"running">((r) => (wait = setTimeout(r, 30_000, "running"))),
  ]);
  clearTimeout(wait);
  // Ends the stdio module of a failed run too (the end of its input).
  await writer.close().catch(() => {});
  await drained;
  const status = await child.status;
  clearTimeout(limit);
  const err = new TextDecoder().decode(
    await new Response(child.stderr).arrayBuffer(),
  );
  assert.equal(ended, "ended", `a process outlived the ${signal}: ${err}`);
  assert.match(err, /closed every socket/, err);
  assert.ok(portFree(port), "the port is free again");
  return status;
}

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  Deno.test(`deno task start stops on ${signal}: every socket closed, the port free`, async () => {
    await startAndStop([Deno.execPath(), "task", "start"], signal);
  });

  Deno.test({
    name:
      `npx -y deno@2.9.6 task start stops on ${signal} sent to npx: nothing left running`,
    ignore: !hasNpx(),
    async fn() {
      await startAndStop(["npx", "-y", "deno@2.9.6", "task", "start"], signal);
    },
  });
}
