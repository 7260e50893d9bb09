import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

/**
 * Runs `source` (a module importing ./net_guard.ts) in a child Deno with
 * `netFlags` and returns what it printed, parsed as JSON. The test task
 * grants net access to loopback only (deno.json), so a question about a
 * full `--allow-net` is asked in a child that has one; the child only asks
 * Deno about permissions and touches no network.
 */
async function probe(netFlags: string[], source: string): Promise<unknown> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-prompt",
      `--allow-read=${fileURLToPath(new URL("../..", import.meta.url))}`,
      ...netFlags,
      "-",
    ],
    cwd: fileURLToPath(new URL(".", import.meta.url)),
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(source));
  await writer.close();
  const out = await child.output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

const GUARD = JSON.stringify(new URL("./net_guard.ts", import.meta.url).href);

/** Counts the descriptors `Deno.permissions.querySync` is asked about. */
const COUNTING = `
import { NetGuard } from ${GUARD};
const asked = [];
const original = Deno.permissions.querySync;
Deno.permissions.querySync = function (desc) {
  asked.push(JSON.stringify(desc));
  return original.call(this, desc);
};
const full = original.call(Deno.permissions, { name: "net" }).state;
const guard = new NetGuard();
const refused = [];
for (let port = 1; port <= 2000; port++) {
  const c = guard.connect("127.0.0.1", port);
  const b = guard.bind("0.0.0.0", port);
  if (c !== undefined || b !== undefined) refused.push(port);
}
console.log(JSON.stringify({ full, refused, count: asked.length, distinct: [...new Set(asked)] }));
`;

Deno.test("NetGuard under a full --allow-net: one permission question for every port (Deno keeps one status per distinct question)", async () => {
  const { full, refused, count, distinct } = await probe(
    ["--allow-net"],
    COUNTING,
  ) as {
    full: string;
    refused: number[];
    count: number;
    distinct: string[];
  };
  assert.equal(full, "granted");
  assert.deepEqual(refused, []);
  assert.equal(count, 4000);
  assert.deepEqual(distinct, [JSON.stringify({ name: "net" })]);
});

const PROBE = `
import { deniedByDeno } from ${GUARD};
console.log(JSON.stringify([
  deniedByDeno("127.0.0.1", 9) ?? null,
  deniedByDeno("127.0.0.1", 8) ?? null,
  deniedByDeno("127.0.0.2", 9) ?? null,
]));
`;

Deno.test("deniedByDeno: a --deny-net port under --allow-net is still denied, its neighbours granted", async () => {
  const [nine, eight, other] = await probe(
    ["--allow-net", "--deny-net=127.0.0.1:9"],
    PROBE,
  ) as [string, null, null];
  assert.match(nine, /^Deno's permissions deny net access to 127\.0\.0\.1:9/);
  assert.equal(eight, null);
  assert.equal(other, null);
});
