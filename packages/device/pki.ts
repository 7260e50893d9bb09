/**
 * A complete test PKI in a module-style certificate directory:
 *
 *   DIR/CERT/{client,server}_ca_<i>.crt, {client,server}_cert_<i>.crt,
 *   {client,server}_key_<i>.key
 *
 * for each suite index given (default 1 and 2), each suite with its own CA,
 * so that a peer of one suite is refused by the other. Server certificates
 * name localhost, 127.0.0.1 and ::1 (or `serverHosts`). P-256 keys, made by
 * `openssl`.
 *
 * Every file is written by `openssl` itself into files created beforehand
 * (keys with mode 0600, so no key is ever readable by others, not even for
 * a moment); the CA keys and requests live in a scratch directory inside
 * DIR that is removed afterwards. So the only permissions needed are
 * `--allow-run=openssl` and `--allow-write` for DIR. Key contents are never
 * read, printed or logged.
 *
 * The module's own checks of a suite (`checkSuite`, `needsFor`) are
 * exported here too, for tools that inspect a certificate directory.
 *
 * @example
 * ```ts ignore
 * import { makePki } from "@atsock/device/pki";
 * const cert = await makePki("/tmp/pki", { suites: [1] }); // "/tmp/pki/CERT"
 * ```
 *
 * @module
 */

import { CERT_INDEX_MAX, CERT_INDEX_MIN } from "@atsock/protocol";

export {
  checkSuite,
  needsFor,
  type Suite,
  type SuiteNeeds,
  TlsFailure,
} from "./tls.ts";

/** Options for {@linkcode makePki}. */
export interface PkiOptions {
  /** Suite indexes to create (1..10; default 1 and 2). */
  suites?: number[];
  /** Names and addresses the server certificates are for (default localhost, 127.0.0.1, ::1). */
  serverHosts?: string[];
  /** Days of validity (default 3650). */
  days?: number;
  /** Replace files that already exist (default: refuse with {@linkcode PkiError}). */
  force?: boolean;
  /** Called with a progress line. */
  progress?: (line: string) => void;
}

/** Why a PKI could not be made: a missing openssl, a failing openssl, or files in the way. */
export class PkiError extends Error {
  /** Creates an error with a one-line message (never holding key material). */
  constructor(message: string) {
    super(message);
    this.name = "PkiError";
  }
}

/** A side of a TLS connection as the module's store names it. */
export type CertSide = "server" | "client";

/** A file of a suite: the CA that verifies the peer, the own certificate, or its key. */
export type CertKind = "ca" | "cert" | "key";

/** The sides, in the order tools list them. */
export const CERT_SIDES: readonly CertSide[] = ["server", "client"];

/** The kinds, in the order tools list them. */
export const CERT_KINDS: readonly CertKind[] = ["ca", "cert", "key"];

/**
 * A store file's name relative to the certificate directory, as on a real
 * module's flash: `CERT/server_cert_1.crt`, `CERT/client_key_2.key`, ...
 */
export function certFileName(
  side: CertSide,
  kind: CertKind,
  index: number,
): string {
  return `CERT/${side}_${kind}_${index}.${kind === "key" ? "key" : "crt"}`;
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
      throw new PkiError(
        "openssl is not installed or not on PATH (Debian: apt-get install openssl)",
      );
    }
    throw e;
  }
  if (!output.success) {
    // openssl's stderr names files, never key material.
    const reason =
      new TextDecoder().decode(output.stderr).trim().split("\n")[0];
    throw new PkiError(`openssl ${args[0]} failed: ${reason}`);
  }
}

/** Creates an empty file that must not exist yet (mode 0600 for keys). */
async function createEmpty(path: string, mode: number): Promise<void> {
  const file = await Deno.open(path, { write: true, createNew: true, mode });
  file.close();
  // The umask may only remove bits; make the mode exact.
  await Deno.chmod(path, mode);
}

/**
 * Creates the PKI; returns the CERT directory's path. Refuses (with
 * {@linkcode PkiError}, before creating anything) when a file it would
 * write exists, unless `force` is set. On failure, the files it created
 * are removed again.
 */
export async function makePki(
  dir: string,
  options: PkiOptions = {},
): Promise<string> {
  const suites = [...new Set(options.suites ?? [1, 2])];
  const days = String(options.days ?? 3650);
  const progress = options.progress ?? (() => {});
  for (const i of suites) {
    if (!Number.isInteger(i) || i < CERT_INDEX_MIN || i > CERT_INDEX_MAX) {
      throw new RangeError(
        `suite index ${i} is outside ${CERT_INDEX_MIN}..${CERT_INDEX_MAX}`,
      );
    }
  }
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
  )
    .join(",");
  const cert = `${dir}/CERT`;
  await Deno.mkdir(cert, { recursive: true });
  const targets = suites.flatMap((i) =>
    CERT_SIDES.flatMap((side) =>
      CERT_KINDS.map((kind) => `${dir}/${certFileName(side, kind, i)}`)
    )
  );
  const created: string[] = [];
  let done = false;
  try {
    for (const path of targets) {
      if (options.force) {
        await Deno.remove(path).catch((e) => {
          if (!(e instanceof Deno.errors.NotFound)) throw e;
        });
      }
      try {
        await createEmpty(path, path.endsWith(".key") ? 0o600 : 0o644);
      } catch (e) {
        if (e instanceof Deno.errors.AlreadyExists) {
          throw new PkiError(
            `${path} exists: use --force to replace the suite's files`,
          );
        }
        throw e;
      }
      created.push(path);
    }
    await writeSuites(dir, suites, days, altNames, progress);
    done = true;
  } finally {
    if (!done) {
      for (const path of created) await Deno.remove(path).catch(() => {});
    }
  }
  return cert;
}

async function writeSuites(
  dir: string,
  suites: number[],
  days: string,
  altNames: string,
  progress: (line: string) => void,
): Promise<void> {
  const work = await Deno.makeTempDir({ dir, prefix: ".atsock-pki-" });
  const out = (side: CertSide, kind: CertKind, i: number) =>
    `../${certFileName(side, kind, i)}`;
  try {
    await Deno.writeTextFile(
      `${work}/server.ext`,
      `basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=${altNames}\n`,
    );
    await Deno.writeTextFile(
      `${work}/client.ext`,
      "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n",
    );
    const ec = [
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
    ];
    for (const i of suites) {
      progress(`suite ${i}: CA, server and client certificates`);
      await openssl([
        "req",
        "-x509",
        ...ec,
        "-keyout",
        `ca${i}.key`,
        "-out",
        out("server", "ca", i),
        "-days",
        days,
        "-subj",
        `/CN=atsock test CA ${i}`,
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
      ], work);
      // One CA per suite: it verifies the peer on either side.
      await openssl(
        ["x509", "-in", out("server", "ca", i), "-out", out("client", "ca", i)],
        work,
      );
      for (const side of CERT_SIDES) {
        await openssl([
          "req",
          ...ec,
          "-keyout",
          out(side, "key", i),
          "-out",
          `${side}${i}.csr`,
          "-subj",
          `/CN=atsock test ${side} ${i}`,
        ], work);
        await openssl([
          "x509",
          "-req",
          "-in",
          `${side}${i}.csr`,
          "-CA",
          out("server", "ca", i),
          "-CAkey",
          `ca${i}.key`,
          "-CAcreateserial",
          "-CAserial",
          `ca${i}.srl`,
          "-out",
          out(side, "cert", i),
          "-days",
          days,
          "-extfile",
          `${side}.ext`,
        ], work);
      }
    }
  } finally {
    await Deno.remove(work, { recursive: true });
  }
}
