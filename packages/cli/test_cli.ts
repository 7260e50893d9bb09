/**
 * The `atsock` entry point that tests spawn: `packages/cli/main.ts`, or the
 * single-file bundle named by `ATSOCK_CLI` (CI runs the CLI tests a second
 * time against `dist/atsock.js`, so the bundle is tested as users run it).
 *
 * @module
 */

/** Path of the CLI entry to spawn with `deno run`. */
export const CLI_MAIN: string = Deno.env.get("ATSOCK_CLI") ??
  new URL("./main.ts", import.meta.url).pathname;

/**
 * The net permission of the CLI processes tests spawn: loopback only, as
 * `deno task test` grants the tests themselves (deno.json), so a spawned
 * emulator told by mistake to reach another network is refused by Deno
 * instead of sending a packet.
 */
export const LOOPBACK_NET = "--allow-net=127.0.0.1,localhost";

/** What `-A` grants, with net access to loopback only ({@linkcode LOOPBACK_NET}). */
export const LOOPBACK_ALL: readonly string[] = [
  LOOPBACK_NET,
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-run",
  "--allow-ffi",
  "--allow-sys",
];
