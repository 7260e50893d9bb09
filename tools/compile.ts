/**
 * Builds single-file `atsock` binaries for technicians with `deno compile`,
 * one per target (Linux, macOS, Windows). `deno compile` downloads the Deno
 * runtime for each target from dl.deno.land; where that cannot be reached
 * this says so in one line per target and points at `deno task bundle`.
 *
 * Usage: deno run --allow-run --allow-read --allow-write --allow-env tools/compile.ts [TARGET...]
 *
 * @module
 */

import { toolArgs } from "./args.ts";

/** Targets built when none is named. */
export const TARGETS: readonly string[] = [
  "x86_64-unknown-linux-gnu",
  "aarch64-unknown-linux-gnu",
  "x86_64-apple-darwin",
  "aarch64-apple-darwin",
  "x86_64-pc-windows-msvc",
];

/**
 * Permissions baked into the binaries: those of `deno task atsock` (net for
 * consoles, bridges and links, ffi for ptys and serial ports, read for cert
 * directories and scripts, sys for the module's own address).
 */
export const PERMISSIONS: readonly string[] = [
  "--allow-net",
  "--allow-sys=networkInterfaces",
  "--allow-read",
  "--allow-ffi",
];

/** The file name of the binary for a target. */
export function outputFor(target: string): string {
  return `dist/atsock-${target}${target.includes("windows") ? ".exe" : ""}`;
}

/** A one-line explanation of a failed compile, from its stderr. */
export function explainFailure(target: string, stderr: string): string {
  if (/dl\.deno\.land|error sending request|dns error/i.test(stderr)) {
    return `${target}: deno compile must download the Deno runtime for this target from dl.deno.land, which this machine cannot reach; build on a machine with internet access (or set DENORT_BIN to a local denort binary), or use "deno task bundle" and run dist/atsock.js with deno run`;
  }
  const line = stderr.split("\n").find((l) => /error/i.test(l)) ??
    stderr.split("\n")[0];
  return `${target}: deno compile failed: ${line.trim()}`;
}

/** The command line of `deno task compile`. */
export const COMPILE_ARGS = {
  name: "compile",
  summary: "single-file atsock binaries with deno compile, one per target",
  usage:
    "deno run --allow-run --allow-read --allow-write --allow-env tools/compile.ts [TARGET...]",
  options: {},
  positionals: { min: 0, max: Infinity },
  epilogue: `Targets (all when none is named): ${TARGETS.join(", ")}.
Exit status: 0 all built, 1 one failed, 2 bad arguments.`,
} as const;

async function main(args: string[]): Promise<number> {
  const { positionals } = toolArgs(COMPILE_ARGS, args);
  const targets = positionals.length > 0 ? positionals : TARGETS;
  const unknown = targets.filter((t) => !TARGETS.includes(t));
  if (unknown.length > 0) {
    console.error(
      `compile: unknown target ${unknown.join(", ")}; known: ${
        TARGETS.join(", ")
      }`,
    );
    return 2;
  }
  let failed = 0;
  for (const target of targets) {
    const output = outputFor(target);
    console.error(`compile: ${target} -> ${output}`);
    const { code, stderr } = await new Deno.Command(Deno.execPath(), {
      args: [
        "compile",
        "--quiet",
        ...PERMISSIONS,
        "--target",
        target,
        "--output",
        output,
        "packages/cli/main.ts",
      ],
      env: { RUST_BACKTRACE: "0", NO_COLOR: "1" },
      stdout: "null",
      stderr: "piped",
    }).output();
    if (code === 0) continue;
    failed++;
    console.error(
      `compile: ${explainFailure(target, new TextDecoder().decode(stderr))}`,
    );
  }
  console.error(
    `compile: ${targets.length - failed} of ${targets.length} built`,
  );
  return failed === 0 ? 0 : 1;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
