/**
 * Fuzzes both sides of the UART (`deno task fuzz`); the fuzzers live in
 * `tools/fuzz/`, by what they fuzz:
 *
 * - `requests.ts`: the command-line grammar from the catalogue (requests
 *   of every command and connection type, and boundary lines at each
 *   field's range limits); `codes.ts`: the codes each may answer, named
 *   from the catalogue; `lines.ts`: the console byte stream
 *   (mutated lines, random bytes, overlong lines, NUL bytes, lone CRs and
 *   LFs); `console.ts`: the console of a virtual module in this process,
 *   where every line must get the answer the protocol's own
 *   `parseCommandLine` says; `links.ts` and `world.ts`: the links on
 *   loopback, the link table at checkpoints and the host's fds;
 *   `device.ts`: the interpreter run ({@linkcode fuzzDevice}).
 * - `host.ts`: the `OutputParser` fed valid output mixed with garbage, and
 *   the `AtDriver` against a garbage-printing module ({@linkcode fuzzHost}).
 * - `runner.ts`: the failure, the seeded chunking and the reports.
 *
 *   deno run --allow-net=127.0.0.1,localhost --allow-run=ls --allow-read \
 *     --allow-sys tools/fuzz_device.ts [--lines 100000] [--host-items 100000]
 *     [--driver-rounds 2000] [--seed N] [--time-limit 1800]
 *
 * Prints the figures; exits 1 on the first failure, naming the line.
 *
 * @module
 */

import { toolArgs } from "./args.ts";
import { fuzzDevice } from "./fuzz/device.ts";
import { fuzzHost } from "./fuzz/host.ts";
import { FuzzFailure } from "./fuzz/runner.ts";

export { fuzzDevice } from "./fuzz/device.ts";
export { fuzzHost } from "./fuzz/host.ts";
export {
  type DeviceFuzzOptions,
  type DeviceFuzzReport,
  FuzzFailure,
  type HostFuzzOptions,
  type HostFuzzReport,
} from "./fuzz/runner.ts";

const COUNT = { kind: "integer", min: 0, max: 1_000_000_000 } as const;

/** The command line of `deno task fuzz`. */
export const FUZZ_ARGS = {
  name: "fuzz_device",
  summary: "fuzz the virtual module's interpreter and the host's parser",
  usage:
    `deno run --allow-net=127.0.0.1,localhost --allow-run=ls --allow-read --allow-sys \\
  tools/fuzz_device.ts [--lines N] [--host-items N] [--driver-rounds N]
                       [--seed N] [--time-limit SECONDS]`,
  options: {
    lines: {
      ...COUNT,
      help: "command lines for the interpreter",
      default: 100_000,
    },
    "host-items": {
      ...COUNT,
      help: "module output items for the host parser",
      default: 100_000,
    },
    "driver-rounds": {
      ...COUNT,
      help: "driver commands against a garbage-printing module",
      default: 2000,
    },
    seed: {
      kind: "integer",
      help: "seed of every random choice",
      defaultHelp: "the time",
      min: 0,
      max: 2 ** 32 - 1,
    },
    "time-limit": {
      kind: "duration",
      help: "give up after this long",
      unit: "s",
      default: 1_800_000,
      min: 0,
      max: 7 * 86_400_000,
    },
  },
  epilogue: "Exit status: 0 no failure, 1 a failure (seed and line named), " +
    "2 bad arguments.",
} as const;

if (import.meta.main) {
  const { values } = toolArgs(FUZZ_ARGS);
  const seed = values.seed ?? Date.now() % 2 ** 31;
  const log = (line: string) => console.error(`fuzz_device: ${line}`);
  try {
    log(`seed ${seed}`);
    const device = await fuzzDevice({
      lines: values.lines,
      seed,
      timeLimitMs: values["time-limit"],
      log,
    });
    console.log(`interpreter: ${JSON.stringify(device)}`);
    const host = await fuzzHost({
      items: values["host-items"],
      driverRounds: values["driver-rounds"],
      seed,
      log,
    });
    console.log(`host: ${JSON.stringify(host)}`);
  } catch (e) {
    if (e instanceof FuzzFailure) {
      console.error(`fuzz_device: FAILED (seed ${seed}): ${e.message}`);
      Deno.exit(1);
    }
    throw e;
  }
}
