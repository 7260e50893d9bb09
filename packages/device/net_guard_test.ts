import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { NetGuard } from "./net_guard.ts";

/** Calls `fn` with `Deno.permissions.querySync` counting the descriptors asked about. */
function countingQueries(fn: () => void): string[] {
  const asked: string[] = [];
  const original = Deno.permissions.querySync;
  Deno.permissions.querySync = function (desc) {
    asked.push(JSON.stringify(desc));
    return original.call(this, desc);
  };
  try {
    fn();
  } finally {
    delete (Deno.permissions as { querySync?: unknown }).querySync;
  }
  assert.equal(Deno.permissions.querySync, original);
  return asked;
}

Deno.test("NetGuard under a full --allow-net: one permission question for every port (Deno keeps one status per distinct question)", () => {
  assert.equal(Deno.permissions.querySync({ name: "net" }).state, "granted");
  const guard = new NetGuard();
  const asked = countingQueries(() => {
    for (let port = 1; port <= 2000; port++) {
      assert.equal(guard.connect("127.0.0.1", port), undefined);
      assert.equal(guard.bind("0.0.0.0", port), undefined);
    }
  });
  assert.equal(asked.length, 4000);
  assert.deepEqual([...new Set(asked)], [JSON.stringify({ name: "net" })]);
});

const PROBE = `
import { deniedByDeno } from ${
  JSON.stringify(new URL("./net_guard.ts", import.meta.url).href)
};
console.log(JSON.stringify([
  deniedByDeno("127.0.0.1", 9) ?? null,
  deniedByDeno("127.0.0.1", 8) ?? null,
  deniedByDeno("127.0.0.2", 9) ?? null,
]));
`;

Deno.test("deniedByDeno: a --deny-net port under --allow-net is still denied, its neighbours granted", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-prompt",
      `--allow-read=${fileURLToPath(new URL("../..", import.meta.url))}`,
      "--allow-net",
      "--deny-net=127.0.0.1:9",
      "-",
    ],
    cwd: fileURLToPath(new URL(".", import.meta.url)),
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(PROBE));
  await writer.close();
  const out = await child.output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const [nine, eight, other] = JSON.parse(new TextDecoder().decode(out.stdout));
  assert.match(nine, /^Deno's permissions deny net access to 127\.0\.0\.1:9/);
  assert.equal(eight, null);
  assert.equal(other, null);
});
