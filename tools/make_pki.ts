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

export { makePki, type PkiOptions } from "@atsock/device/pki";

if (import.meta.main) {
  const [dir, ...rest] = Deno.args;
  if (!dir || dir === "-h" || dir === "--help") {
    console.error(
      "usage: make_pki.ts DIR [INDEX...]   (creates DIR/CERT/…, suites 1 and 2 by default)",
    );
    Deno.exit(dir ? 0 : 2);
  }
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
