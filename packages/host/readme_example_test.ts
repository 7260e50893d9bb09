/**
 * Runs README.md's "Driving a module from TypeScript" example as a user
 * would (its own process, `@atsock/host` from the workspace) against a
 * virtual module and a peer that answers and closes: it must end by itself.
 * Only the console port and the peer's address are replaced.
 */
import assert from "node:assert/strict";
import { createModule, serveTcp } from "@atsock/device";

const ROOT = new URL("../../", import.meta.url);

/** The first ```ts block after `heading` in README.md. */
async function readmeBlock(heading: string): Promise<string> {
  const readme = await Deno.readTextFile(new URL("README.md", ROOT));
  const at = readme.indexOf(`\n${heading}\n`);
  assert.ok(at >= 0, `README.md has no "${heading}"`);
  const m = /```ts\n([\s\S]*?)```/.exec(readme.slice(at));
  assert.ok(m, `no ts block after "${heading}"`);
  return m[1];
}

Deno.test("README's TypeScript example ends by itself when the peer closes (at_sktstate socket_fd -1)", async () => {
  const example = await readmeBlock("## Driving a module from TypeScript");
  const response = "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n";
  const peer = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const serving = (async () => {
    const conn = await peer.accept();
    const buffer = new Uint8Array(1024);
    let request = "";
    while (!request.endsWith("\r\n\r\n")) {
      const n = await conn.read(buffer);
      if (n === null) break;
      request += new TextDecoder().decode(buffer.subarray(0, n));
    }
    await conn.write(new TextEncoder().encode(response));
    conn.close(); // HTTP/1.0: the server closes.
    return request;
  })();
  const module = createModule({ mode: "host" });
  const console = serveTcp(module, { port: 0 });
  const peerPort = (peer.addr as Deno.NetAddr).port;
  const code = example
    .replace("port: 3333", `port: ${console.port}`)
    .replace(
      'host: "example.com", port: 80',
      `host: "127.0.0.1", port: ${peerPort}`,
    );
  assert.notEqual(code, example);
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net=127.0.0.1", "-"],
    cwd: ROOT,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(code));
  await writer.close();
  // Bounded: an example that never ends is killed and fails the test.
  const limit = setTimeout(() => child.kill("SIGKILL"), 60_000);
  try {
    const out = await child.output();
    const stdout = new TextDecoder().decode(out.stdout);
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    const lengths = stdout.trim().split("\n").map(Number);
    assert.equal(lengths.reduce((a, b) => a + b, 0), response.length);
    assert.equal(await serving, "HEAD / HTTP/1.0\r\n\r\n");
    assert.equal(module.stats().links, 0, "the example deletes its link");
  } finally {
    clearTimeout(limit);
    peer.close();
    await console.close();
    await module.close();
  }
});
