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
