/**
 * The module's certificate store, laid out as on a real module's flash
 * (`CERT/<side>_<ca|cert|key>_<i>.*`), and the checks the firmware makes of
 * a suite's files (`at_sktserver`/`at_sktclient` and the TLS socket makers).
 *
 * @module
 */

import { createPrivateKey, X509Certificate } from "node:crypto";
import { connType, ERR, field, rangeProblem } from "@atsock/protocol";

/** The codes of certificate failures (1..10 are the same for `AT+SKTCLIENT`). */
const CODE = ERR.SKTSERVER;

/** A TLS setup failure with the code the command answers. */
export class TlsFailure extends Error {
  /** The `ERROR: <n>` code. */
  readonly code: number;
  /** Creates a failure (the message never holds key material). */
  constructor(code: number, message: string) {
    super(message);
    this.name = "TlsFailure";
    this.code = code;
  }
}

/** The PEM texts one connection needs. */
export interface Suite {
  /** CA to verify the peer with. */
  ca?: string;
  /** Own certificate. */
  cert?: string;
  /** Own private key (never logged). */
  key?: string;
  /**
   * The key does not match the certificate. The firmware does not check
   * this up front (`mbedtls_ssl_conf_own_cert` only stores the pair): the
   * handshakes that need the key fail instead.
   */
  mismatch?: boolean;
}

/** Which files a side needs: `ca`, `cert` (with its key). */
export interface SuiteNeeds {
  /** The CA file. */
  ca: boolean;
  /** The certificate and key files. */
  cert: boolean;
}

/**
 * The module's certificate store: `DIR/CERT/<side>_<ca|cert|key>_<i>.*`.
 * File names are built from a side and a number 1..10 only, so AT input can
 * never name a path outside the directory.
 */
export class CertStore {
  readonly #dir: string | undefined;
  /** Suites already checked, by their exact file contents (the files are read every time). */
  readonly #checked = new Map<string, Suite>();

  /** A store on `dir` (undefined: no store, every TLS type needing files fails with 6). */
  constructor(dir: string | undefined) {
    this.#dir = dir;
  }

  /**
   * Throws {@linkcode TlsFailure} 1 when a file the connection needs does
   * not exist or is empty, as `at_sktserver`/`at_sktclient` check with
   * `atcmd_get_ssl_certificate_size` before anything else.
   */
  exist(side: "server" | "client", index: number, needs: SuiteNeeds): void {
    if (!needs.ca && !needs.cert) return;
    checkIndex(index);
    const names: string[] = [];
    if (needs.ca) names.push(`CERT/${side}_ca_${index}.crt`);
    if (needs.cert) {
      names.push(`CERT/${side}_cert_${index}.crt`);
      names.push(`CERT/${side}_key_${index}.key`);
    }
    for (const name of names) {
      if (this.#dir === undefined) {
        throw new TlsFailure(
          CODE.PARAMETER,
          `${name} does not exist: no certificate directory (start the emulator with --certs DIR)`,
        );
      }
      let size: number;
      try {
        size = Deno.lstatSync(`${this.#dir}/${name}`).size;
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) {
          throw new TlsFailure(CODE.PARAMETER, `${name} does not exist`);
        }
        // Cannot look (permissions): reading it will say so (6).
        continue;
      }
      if (size === 0) throw new TlsFailure(CODE.PARAMETER, `${name} is empty`);
    }
  }

  /**
   * Loads and checks what a connection needs; throws {@linkcode TlsFailure}
   * 6 or 9. Synchronous: the files are a few KiB each.
   */
  load(
    side: "server" | "client",
    index: number,
    needs: SuiteNeeds,
  ): Suite {
    checkIndex(index);
    const suite: Suite = {};
    if (needs.ca) suite.ca = this.#read(side, "ca", index, "crt");
    if (needs.cert) {
      suite.cert = this.#read(side, "cert", index, "crt");
      suite.key = this.#read(side, "key", index, "key");
    }
    // Parsing and matching cost more than reading: do them once per content.
    const identity = [side, index, suite.ca, suite.cert, suite.key].join("\0");
    const known = this.#checked.get(identity);
    if (known) return known;
    this.#check(side, index, suite);
    if (this.#checked.size >= CHECKED_LIMIT) {
      this.#checked.delete(this.#checked.keys().next().value!);
    }
    this.#checked.set(identity, suite);
    return suite;
  }

  /** Parses the certificates and the key (9); marks a key that does not match. */
  #check(side: string, index: number, suite: Suite): void {
    try {
      checkSuite(side, index, suite);
    } catch (e) {
      // firmware rule tls-key-mismatch
      if (!(e instanceof TlsFailure) || e.code !== CODE.OWN_CERT) throw e;
      suite.mismatch = true;
    }
  }

  #read(
    side: string,
    kind: string,
    index: number,
    ext: string,
  ): string {
    const name = `CERT/${side}_${kind}_${index}.${ext}`;
    if (this.#dir === undefined) {
      throw new TlsFailure(
        CODE.CERT_FLASH,
        `${name}: no certificate directory (start the emulator with --certs DIR)`,
      );
    }
    try {
      return readPlainFile(`${this.#dir}/${name}`, name);
    } catch (e) {
      if (e instanceof TlsFailure) throw e;
      if (e instanceof Deno.errors.NotFound) {
        throw new TlsFailure(CODE.CERT_FLASH, `${name} is missing`);
      }
      if (
        e instanceof Deno.errors.NotCapable ||
        e instanceof Deno.errors.PermissionDenied
      ) {
        throw new TlsFailure(
          CODE.CERT_FLASH,
          `${name} cannot be read: Deno's read permission is not granted for the cert directory (deno task emulate grants it; with deno run, --allow-read=DIR)`,
        );
      }
      if (e instanceof TypeError) {
        throw new TlsFailure(CODE.CRT_PARSE, `${name} is not text`);
      }
      throw new TlsFailure(
        CODE.CERT_FLASH,
        `${name} cannot be read (${(e as Error).name})`,
      );
    }
  }
}

/** The largest certificate or key file read (a module's flash holds far less). */
const MAX_CERT_FILE = 1024 * 1024;

/**
 * Reads a file that must be a regular file, not a symbolic link: a real
 * module's flash has no links, and one inside `CERT/` could point anywhere
 * on the host. The file opened is checked to be the one looked at (same
 * device and inode), so a link swapped in between is refused too.
 */
function readPlainFile(path: string, name: string): string {
  // Certificate files are a few KiB on a local disk: synchronous calls read
  // one in microseconds, where each awaited call costs a turn of the loop.
  const seen = Deno.lstatSync(path);
  if (seen.isSymlink) {
    throw new TlsFailure(
      CODE.CERT_FLASH,
      `${name} is a symbolic link: refused (copy the file into CERT/)`,
    );
  }
  if (!seen.isFile) {
    throw new TlsFailure(CODE.CERT_FLASH, `${name} is not a regular file`);
  }
  if (seen.size > MAX_CERT_FILE) {
    throw new TlsFailure(
      CODE.CRT_PARSE,
      `${name} is larger than ${MAX_CERT_FILE} bytes`,
    );
  }
  const file = Deno.openSync(path, { read: true });
  let bytes: Uint8Array;
  try {
    const opened = file.statSync();
    if (opened.ino !== seen.ino || opened.dev !== seen.dev) {
      throw new TlsFailure(
        CODE.CERT_FLASH,
        `${name} changed while being opened: refused`,
      );
    }
    // One byte more than the size: a file that grew is read to its end.
    let buffer = new Uint8Array(opened.size + 1);
    let length = 0;
    while (true) {
      if (length === buffer.length) {
        if (length > MAX_CERT_FILE) {
          throw new TlsFailure(
            CODE.CRT_PARSE,
            `${name} is larger than ${MAX_CERT_FILE} bytes`,
          );
        }
        const grown = new Uint8Array(buffer.length * 2);
        grown.set(buffer);
        buffer = grown;
      }
      const n = file.readSync(buffer.subarray(length));
      if (n === null) break;
      length += n;
    }
    bytes = buffer.subarray(0, length);
  } finally {
    file.close();
  }
  return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
}

/**
 * The module's checks of a suite's files, as it makes them when a TLS
 * connection needs them: each certificate given must parse (else 9), the
 * key given with a certificate must parse (9) and match it (10). Throws
 * {@linkcode TlsFailure}; its message names the file, never its contents.
 * Pass only the files to check (a suite with just `ca` checks the CA).
 */
export function checkSuite(side: string, index: number, suite: Suite): void {
  let certificate: X509Certificate | undefined;
  for (
    const [name, pem] of [["ca", suite.ca], ["cert", suite.cert]] as const
  ) {
    if (pem === undefined) continue;
    try {
      const parsed = new X509Certificate(pem);
      if (name === "cert") certificate = parsed;
    } catch {
      throw new TlsFailure(
        CODE.CRT_PARSE,
        `CERT/${side}_${name}_${index}.crt does not parse as an X.509 certificate`,
      );
    }
  }
  if (suite.key !== undefined && certificate) {
    let key;
    try {
      key = createPrivateKey(suite.key);
    } catch {
      // Say which file, never what is in it.
      throw new TlsFailure(
        CODE.CRT_PARSE,
        `CERT/${side}_key_${index}.key does not parse as a private key`,
      );
    }
    if (!certificate.checkPrivateKey(key)) {
      throw new TlsFailure(
        CODE.OWN_CERT,
        `CERT/${side}_key_${index}.key does not match CERT/${side}_cert_${index}.crt`,
      );
    }
  }
}

/** How many checked suites a store remembers. */
const CHECKED_LIMIT = 64;

/** What each TLS connection type needs from the store. */
export function needsFor(side: "server" | "client", type: number): SuiteNeeds {
  const spec = connType(side, type);
  return { ca: spec?.verifiesPeer ?? false, cert: spec?.presentsCert ?? false };
}

const CERT_INDEX = field("SKTCLIENT", "cert_index");

/** Throws {@linkcode TlsFailure} 1 for an index outside the catalogue's suites. */
function checkIndex(index: number): void {
  const problem = Number.isInteger(index)
    ? rangeProblem(CERT_INDEX, index)
    : `cert_index ${index} is not a whole number`;
  if (problem !== undefined) throw new TlsFailure(CODE.PARAMETER, problem);
}
