/**
 * Firmware in the loop, in CI: the example C firmware is built, run in
 * QEMU against `atsock emulate`, plain and under `faults.json`, and its
 * own report is checked. Without the toolchain the tests are ignored and
 * say why in one line (never counted as passed).
 */

import assert from "node:assert/strict";
import {
  atsock,
  buildFirmware,
  buildNative,
  CFLAGS,
  FAULT_PLAN,
  fnv1a,
  getReply,
  type LoopResult,
  nativeCompiler,
  putPayload,
  runLoop,
  seen,
  stallGate,
  startPeers,
  toolchainMissing,
  txtReply,
} from "./fil.ts";

const missing = toolchainMissing();
if (missing) {
  console.log(`firmware in the loop: skipped: ${missing}`);
}
const ignore = missing !== undefined;

const hex = (n: number) => n.toString(16).padStart(8, "0");
const GET_REQUEST = new TextEncoder().encode("GET 1500 id=a,b\\c;");

/** Builds once for every test in this file. */
let elf: Promise<string> | undefined;
let buildDir: string | undefined;
globalThis.addEventListener("unload", () => {
  if (buildDir) Deno.removeSync(buildDir, { recursive: true });
});
function firmware(): Promise<string> {
  elf ??= Deno.makeTempDir({ prefix: "fil-test-" }).then((dir) => {
    buildDir = dir;
    return buildFirmware(dir);
  });
  return elf;
}

/** What the report must say whatever happened on the way. */
function assertDelivered(result: LoopResult): void {
  const text = result.report.join("\n");
  const why = `${text}\n--- module:\n${
    result.emulator.join("\n")
  }\n--- qemu:\n${result.qemu}`;
  assert.equal(result.status, 0, why);
  assert.ok(result.report.includes("result: PASS"), why);
  assert.ok(
    result.report.includes(
      `tcp get: bytes=1500 fnv1a=${hex(fnv1a(getReply(GET_REQUEST, 1500)))}`,
    ),
    why,
  );
  assert.ok(
    result.report.includes(
      `tcp put: bytes=4096 fnv1a=${hex(fnv1a(putPayload()))} peer=agrees`,
    ),
    why,
  );
  assert.ok(result.report.includes("udp: reply=PONG PING 1,2\\3"), why);
  // After the peer closed: ERROR: 4 for the read that meets the end, then
  // ERROR: 1 (the firmware; older virtual modules answered 4 again).
  assert.match(
    text,
    new RegExp(
      `tcp read: bytes=200 fnv1a=${hex(fnv1a(txtReply(200)))} close=4,[14]`,
    ),
    why,
  );
}

Deno.test({
  name:
    "firmware in the loop: the C firmware in QEMU gets every byte, and atsock replay of its transcript matches",
  ignore,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "fil-run-" });
    const peers = await startPeers();
    try {
      const transcript = `${dir}/plain.jsonl`;
      const result = await runLoop({
        firmware: { elf: await firmware() },
        peers,
        transcript,
      });
      assertDelivered(result);
      const counts = seen(result.report);
      const why = result.report.join("\n");
      assert.equal(counts.resets, 0, why);
      assert.equal(counts.recovered, 0, why);
      assert.equal(counts.errors, 2, why); // the two reads after the close
      assert.equal(counts.timeouts, 0, why);
      assert.equal(counts.data_lines, 3, why); // GET, SUM, PONG
      assert.match(result.report[0], /^module: /, why); // READY or not (a console opened late)

      // The same console traffic against a fresh module (peers still up).
      const replay = atsock([
        "replay",
        transcript,
        "virtual",
        "--timeout",
        "10000",
      ]);
      const [out, err, status] = await Promise.all([
        new Response(replay.stdout).text(),
        new Response(replay.stderr).text(),
        replay.status,
      ]);
      assert.equal(status.code, 0, `${out}${err}`);
      assert.match(out, /^replay matches: \d+ steps/);
    } finally {
      await peers.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "firmware in the loop: under the fault plan the firmware recovers and says what happened",
  ignore,
  async fn() {
    // The peer sends the second half of its reply once the stall is on.
    const { gate, watch } = stallGate();
    const peers = await startPeers(gate);
    try {
      const result = await runLoop({
        firmware: { elf: await firmware() },
        peers,
        faults: FAULT_PLAN,
        onEmulatorLine: watch,
      });
      assertDelivered(result);
      const why = `${result.report.join("\n")}\n--- module:\n${
        result.emulator.join("\n")
      }`;
      // Every fault in the plan fired.
      for (let i = 0; i < 6; i++) {
        assert.ok(
          result.emulator.some((l) => l.includes(`fault #${i} `)),
          `fault #${i} did not fire\n${why}`,
        );
      }
      const counts = seen(result.report);
      const events = result.report.filter((l) => l.startsWith("event: "));
      // A URC between AT+SKTCFG and its answer: seen, and the answer still taken.
      assert.ok(
        events.some((l) => l.includes("unsolicited line: [$][SKT][EVENT]")),
        why,
      );
      // ERROR: 5 instead of AT+SKTCLIENT: retried.
      assert.ok(
        events.some((l) => /AT\+SKTCLIENT=0,1,.*ERROR 5; again/.test(l)),
        why,
      );
      // The peer's reply held back by the stall: reported, then all of it.
      assert.ok(events.some((l) => /link 0 slow: \d+ of 1500/.test(l)), why);
      assert.ok(counts.slow_waits >= 1, why);
      // A High Watermark with no Low Watermark: paused, then went on.
      assert.equal(counts.high_watermarks, 1, why);
      assert.equal(counts.watermark_timeouts, 1, why);
      // A reset in the middle of AT+SKTSENDRAW: seen, links reopened, done again.
      assert.ok(
        events.some((l) =>
          /put: AT\+SKTSENDRAW=.*reset \(ATCMD READY\); again/.test(l)
        ),
        why,
      );
      assert.equal(counts.resets, 1, why);
      assert.equal(counts.recovered, 2, why); // setup after the ERROR, put after the reset
      assert.equal(counts.errors, 3, why); // ERROR: 5 and the two reads after the close
      assert.ok(peers.connections >= 4, why); // links 0 and 2, twice (reset)
    } finally {
      await peers.close();
    }
  },
});

Deno.test("firmware in the loop: the example driver stays under 400 lines, built with -Wall -Wextra -Werror", async () => {
  const driver = await Deno.readTextFile(
    new URL("./firmware/at_driver.c", import.meta.url),
  );
  assert.ok(driver.split("\n").length < 400);
  for (const flag of ["-Wall", "-Wextra", "-Werror"]) {
    assert.ok(CFLAGS.includes(flag), flag);
  }
});

const nativeMissing = Deno.build.os !== "linux"
  ? "the pty console and board_posix.c are for Linux"
  : nativeCompiler()
  ? undefined
  : "no C compiler (cc) for the native build";
if (nativeMissing) {
  console.log(`firmware in the loop, native build: skipped: ${nativeMissing}`);
}

Deno.test({
  name:
    "firmware in the loop: the same driver built for Linux talks to `atsock emulate --console pty`",
  ignore: nativeMissing !== undefined,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "fil-native-" });
    const peers = await startPeers();
    try {
      const result = await runLoop({
        firmware: { native: await buildNative(dir) },
        peers,
      });
      assertDelivered(result);
      const counts = seen(result.report);
      assert.equal(counts.resets, 0, result.report.join("\n"));
      assert.equal(counts.recovered, 0, result.report.join("\n"));
    } finally {
      await peers.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "firmware in the loop: driver_test.c, the C driver's unit tests against a scripted module",
  ignore: nativeMissing !== undefined,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "fil-unit-" });
    try {
      const exe = `${dir}/driver_test`;
      const src = new URL("./firmware/", import.meta.url).pathname;
      const build = await new Deno.Command("cc", {
        args: [
          "-Wall",
          "-Wextra",
          "-Werror",
          "-o",
          exe,
          `${src}driver_test.c`,
          `${src}at_driver.c`,
        ],
        stderr: "piped",
      }).output();
      assert.ok(build.success, new TextDecoder().decode(build.stderr));
      const run = await new Deno.Command(exe, { stdout: "piped" }).output();
      const out = new TextDecoder().decode(run.stdout);
      assert.ok(run.success, out);
      assert.match(out, /driver_test: PASS/);
      assert.ok(!out.includes("FAIL"), out);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
