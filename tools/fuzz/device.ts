/**
 * Fuzzes the virtual module's interpreter: command lines of every kind
 * ({@linkcode lineArb}) written in chunks split at random through the
 * console of a module in this process ({@linkcode FuzzConsole}); after every
 * non-grammar line `AT+SKTQUERY` must answer exactly, and at checkpoints
 * the link table, `AT+SKTSTATE` and the host's fds must agree
 * ({@linkcode LinkCheck}). Sockets stay on loopback, on a few ports.
 *
 * @module
 */

import fc from "fast-check";
import { createModule } from "@atsock/device";
import { FuzzConsole } from "./console.ts";
import { lineArb } from "./lines.ts";
import { LinkCheck } from "./links.ts";
import {
  type DeviceFuzzOptions,
  type DeviceFuzzReport,
  deviceReport,
  FuzzFailure,
  mulberry32,
  show,
} from "./runner.ts";
import { startWorld } from "./world.ts";

/**
 * Fuzzes the virtual module's interpreter; throws {@linkcode FuzzFailure}
 * on the first line not answered as the spec says.
 */
export async function fuzzDevice(
  options: DeviceFuzzOptions,
): Promise<DeviceFuzzReport> {
  const log = options.log ?? (() => {});
  const deadline = Date.now() + (options.timeLimitMs ?? 30 * 60_000);
  const checkEvery = options.checkEvery ?? 250;
  const rnd = mulberry32(options.seed);
  const started = performance.now();
  const report = deviceReport();
  const world = await startWorld();
  const module = createModule({ mode: "host", connectTimeoutMs: 1000 });
  const console = new FuzzConsole(
    module,
    rnd,
    options.lineTimeoutMs ?? 5000,
    report,
  );
  const links = new LinkCheck(module, console, world, report);
  try {
    if ((await console.next("power-up")).type !== "ready") {
      throw new FuzzFailure("no ATCMD READY");
    }
    await links.warmUp();
    await links.takeBaseline();
    const arb = lineArb(world);
    let done = 0;
    for (let batch = 0; done < options.lines; batch++) {
      const lines = fc.sample(arb, {
        numRuns: Math.min(500, options.lines - done),
        seed: options.seed + batch,
      });
      for (const line of lines) {
        if (Date.now() > deadline) {
          throw new FuzzFailure(`time limit reached after ${done} lines`);
        }
        report.kinds[line.kind] = (report.kinds[line.kind] ?? 0) + 1;
        done++;
        await console.feed(line.bytes, `${line.kind} line ${done}`);
        if (line.kind !== "grammar") {
          await console.probe(
            `${line.kind} line ${done} "${show(line.bytes)}"`,
          );
        }
        if (done % checkEvery === 0) await links.checkpoint();
        if (done % 2000 === 0) {
          log(
            `${done} lines, ${report.checkpoints} checkpoints, ${module.stats().links} links`,
          );
        }
      }
    }
    await links.checkpoint();
    // Clean up through the console, as a host would.
    await console.flush();
    await links.deleteAll("cleanup");
    await links.checkpoint();
    if (console.pending.length) {
      throw new FuzzFailure(
        `events left over: ${JSON.stringify(console.pending)}`,
      );
    }
  } finally {
    await console.close();
    await module.close();
    await world.close();
  }
  report.elapsedMs = performance.now() - started;
  return report;
}
