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
 *   deno run --allow-run=openssl --allow-read --allow-write tools/make_pki.ts DIR [INDEX...]
 *
 * Keys are written with mode 0600 and never printed.
 */

/** Options for {@linkcode makePki}. */
export interface PkiOptions {
  /** Suite indexes to create (1..10). */
  suites?: number[];
  /** Names and addresses the server certificates are for (default localhost, 127.0.0.1, ::1). */
  serverHosts?: string[];
  /** Days of validity (default 3650). */
  days?: number;
  /** Called with a progress line. */
  progress?: (line: string) => void;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  let output;
  try {
    output = await new Deno.Command("openssl", {
      args,
      cwd,
      stdout: "null",
      stderr: "piped",
    }).output();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new Error(
        "openssl is not installed (Debian: apt-get install openssl)",
      );
    }
    throw e;
  }
  if (!output.success) {
    // openssl's stderr names files, never key material.
    throw new Error(
      `openssl ${args[0]} failed: ${
        new TextDecoder().decode(output.stderr).trim()
      }`,
    );
  }
}

/** Creates the PKI; returns the CERT directory's path. */
export async function makePki(
  dir: string,
  options: PkiOptions = {},
): Promise<string> {
  const suites = options.suites ?? [1, 2];
  const days = String(options.days ?? 3650);
  const progress = options.progress ?? (() => {});
  const hosts = options.serverHosts ?? ["localhost", "127.0.0.1", "::1"];
  for (const host of hosts) {
    if (!/^[A-Za-z0-9.:-]+$/.test(host)) {
      throw new RangeError(
        `server host ${JSON.stringify(host)} is not a name or address`,
      );
    }
  }
  const altNames = hosts.map((h) =>
    /^[\d.]+$|:/.test(h) ? `IP:${h}` : `DNS:${h}`
  ).join(",");
  for (const i of suites) {
    if (!Number.isInteger(i) || i < 1 || i > 10) {
      throw new RangeError(`suite index ${i} is outside 1..10`);
    }
  }
  const cert = `${dir}/CERT`;
  await Deno.mkdir(cert, { recursive: true });
  const work = await Deno.makeTempDir({ prefix: "atsock-pki-" });
  try {
    await Deno.writeTextFile(
      `${work}/server.ext`,
      `basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=${altNames}\n`,
    );
    await Deno.writeTextFile(
      `${work}/client.ext`,
      "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n",
    );
    await Deno.writeTextFile(
      `${work}/ca.ext`,
      "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n",
    );
    for (const i of suites) {
      progress(`suite ${i}: CA, server and client certificates`);
      const ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
      ];
      await openssl([
        "req",
        "-x509",
        ...ec,
        "-keyout",
        `ca${i}.key`,
        "-out",
        `ca${i}.crt`,
        "-days",
        days,
        "-subj",
        `/CN=atsock test CA ${i}`,
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
      ], work);
      for (const role of ["server", "client"]) {
        await openssl([
          "req",
          ...ec,
          "-keyout",
          `${role}${i}.key`,
          "-out",
          `${role}${i}.csr`,
          "-subj",
          `/CN=atsock test ${role} ${i}`,
        ], work);
        await openssl([
          "x509",
          "-req",
          "-in",
          `${role}${i}.csr`,
          "-CA",
          `ca${i}.crt`,
          "-CAkey",
          `ca${i}.key`,
          "-CAcreateserial",
          "-out",
          `${role}${i}.crt`,
          "-days",
          days,
          "-extfile",
          `${role}.ext`,
        ], work);
        await Deno.copyFile(
          `${work}/ca${i}.crt`,
          `${cert}/${role}_ca_${i}.crt`,
        );
        await Deno.copyFile(
          `${work}/${role}${i}.crt`,
          `${cert}/${role}_cert_${i}.crt`,
        );
        await Deno.copyFile(
          `${work}/${role}${i}.key`,
          `${cert}/${role}_key_${i}.key`,
        );
        await Deno.chmod(`${cert}/${role}_key_${i}.key`, 0o600);
      }
    }
  } finally {
    await Deno.remove(work, { recursive: true });
  }
  return cert;
}

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
      progress: (line) => console.error(`make_pki: ${line}`),
    });
    console.error(`make_pki: wrote ${cert}`);
  } catch (e) {
    console.error(`make_pki: ${e instanceof Error ? e.message : e}`);
    Deno.exit(1);
  }
}
