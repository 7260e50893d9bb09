/**
 * Entry point of the `atsock` command.
 *
 * @module
 */

import { main } from "./mod.ts";

if (import.meta.main) Deno.exit(await main(Deno.args));
