/**
 * Creates a complete test PKI in a module-style certificate directory:
 *
 *   DIR/CERT/{client,server}_ca_<i>.crt, {client,server}_cert_<i>.crt,
 *   {client,server}_key_<i>.key
 *
 * for each suite index given (default 1 and 2), each suite with its own CA,
 * so that a peer of one suite is refused by the other. Server certificates
 * name localhost, 127.0.0.1 and ::1 (or `serverHosts`). Needs `openssl`
 * (Debian: openssl).
 *
 *   deno run --allow-run=openssl --allow-write tools/make_pki.ts DIR [INDEX...]
 *
 * Existing files are replaced. Keys are written with mode 0600 and never
 * printed. The work is done by `makePki` of `@atsock/device/pki`, which
 * `atsock certs make` also uses (it refuses to replace files unless told).
 */

import { makePki } from "@atsock/device/pki";
import { toolArgs } from "./args.ts";

export { makePki, type PkiOptions } from "@atsock/device/pki";

if (import.meta.main) {
  const { positionals } = toolArgs({
    name: "make_pki",
    summary: "a test PKI in a module-style certificate directory",
    usage:
      "deno run --allow-run=openssl --allow-write tools/make_pki.ts DIR [INDEX...]",
    options: {},
    positionals: { min: 1, max: Infinity },
    epilogue:
      "Creates DIR/CERT/..., suites 1 and 2 unless INDEX... names others.",
  });
  const [dir, ...rest] = positionals;
  const suites = rest.length ? rest.map(Number) : undefined;
  try {
    const cert = await makePki(dir, {
      suites,
      force: true,
      progress: (line) => console.error(`make_pki: ${line}`),
    });
    console.error(`make_pki: wrote ${cert}`);
  } catch (e) {
    console.error(`make_pki: ${e instanceof Error ? e.message : e}`);
    Deno.exit(1);
  }
}
