import assert from "node:assert/strict";
import { LOOPBACK_NET } from "./test_cli.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

Deno.test("deno bundle gives one file that runs the emulator with the same permissions", async () => {
  const dir = await Deno.makeTempDir({ prefix: "atsock-bundle-" });
  try {
    const out = `${dir}/atsock.js`;
    const bundle = await new Deno.Command(Deno.execPath(), {
      args: [
        "bundle",
        "--quiet",
        "--output",
        out,
        `${ROOT}packages/cli/main.ts`,
      ],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(bundle.code, 0, new TextDecoder().decode(bundle.stderr));
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        LOOPBACK_NET,
        "--allow-sys=networkInterfaces",
        out,
        "emulate",
        "--mode",
        "host",
      ],
      cwd: dir, // away from the workspace: the bundle needs nothing else
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const writer = child.stdin.getWriter();
    await writer.write(
      new TextEncoder().encode(
        "AT+SKTCFG=1,2,1\r\nAT+SKTQUERY\r\nAT+SKTDEL=0\r\n",
      ),
    );
    await writer.close();
    const result = await child.output();
    assert.equal(result.code, 0);
    const text = new TextDecoder().decode(result.stdout);
    assert.match(
      text,
      /^ATCMD READY\r\n\r\nOK\r\n\r\nGlobal SOCKET configuration:\r\nso_sndtimeo: 1\r\nso_rcvtimeo: 2\r\ntcp_nodelay: 1\r\n/,
    );
    assert.match(text, /\r\nERROR: 1\r\n$/);
    const help = await new Deno.Command(Deno.execPath(), {
      args: ["run", out, "emulate", "--help"],
      cwd: dir,
      stdout: "piped",
    }).output();
    assert.match(
      new TextDecoder().decode(help.stdout),
      /atsock emulate: run a virtual Ameba module/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
