/**
 * `atsock certs check`: what a module-style certificate directory holds,
 * suite by suite, and which TLS connection types each suite can serve.
 *
 * What is checked, for each suite 1..10 with at least one file, and for
 * each side (server, client):
 *
 * - which of `<side>_ca_<i>.crt`, `<side>_cert_<i>.crt` and
 *   `<side>_key_<i>.key` exist;
 * - that each parses and that the key matches its certificate, with the
 *   module's own checks (`checkSuite` of the device: what gives `ERROR: 9`
 *   and `ERROR: 10`);
 * - that the certificate is signed by the CA a peer holding the same suite
 *   verifies it with. A module never verifies its own certificate: as a
 *   server it verifies *clients* with `server_ca_<i>`, as a client it
 *   verifies *servers* with `client_ca_<i>`. So `server_cert_<i>` is checked
 *   against `client_ca_<i>` and `client_cert_<i>` against `server_ca_<i>`:
 *   two ends of one suite (two modules, or the emulator and a test peer)
 *   then accept each other. `certs make` makes every suite this way.
 * - the validity dates of every certificate: a warning when one has expired,
 *   is not yet valid, or expires within 30 days (peers that check dates
 *   refuse it; the module may have no clock).
 *
 * A suite is complete when all six files exist. Private keys are read only
 * to match them; nothing of them is ever printed.
 *
 * @module
 */

import { X509Certificate } from "node:crypto";
import {
  CERT_KINDS,
  CERT_SIDES,
  certFileName,
  type CertKind,
  type CertSide,
  checkSuite,
  needsFor,
  type Suite,
  TlsFailure,
} from "@atsock/device/pki";
import { CERT_INDEX_MAX, CERT_INDEX_MIN } from "@atsock/protocol";

/** Days before expiry that give a warning. */
export const EXPIRY_WARNING_DAYS = 30;

/** One file of a suite. */
export interface FileReport {
  /** Its name in the directory, e.g. `CERT/server_cert_1.crt`. */
  name: string;
  /** Whether it exists. */
  present: boolean;
  /** Whether it passed every check made on it (false when absent). */
  ok: boolean;
  /** What is wrong with it, when something is. */
  problem: string | null;
  /** Certificates: the subject. */
  subject?: string;
  /** Certificates: the issuer. */
  issuer?: string;
  /** Certificates: first valid day (ISO 8601). */
  validFrom?: string;
  /** Certificates: last valid moment (ISO 8601). */
  validTo?: string;
}

/** One side (server or client) of a suite. */
export interface SideReport {
  /** `server` or `client`. */
  side: "server" | "client";
  /** The CA that verifies the peer. */
  ca: FileReport;
  /** The own certificate. */
  cert: FileReport;
  /** The own private key (its contents are never reported). */
  key: FileReport;
  /** The CA file the certificate was checked against (the other side's CA). */
  verifiedWith: string;
  /** Whether that CA signed the certificate; null when either is missing or broken. */
  signed: boolean | null;
  /** The connection types of this side the suite can serve. */
  types: number[];
}

/** One suite index. */
export interface SuiteReport {
  /** The index 1..10. */
  index: number;
  /** All six files exist. */
  complete: boolean;
  /** Complete and nothing broken. */
  ok: boolean;
  /** The server side. */
  server: SideReport;
  /** The client side. */
  client: SideReport;
  /** What is missing or broken, one line each. */
  problems: string[];
  /** Date warnings, one line each. */
  warnings: string[];
}

/** The whole directory. */
export interface CheckReport {
  /** The directory checked (holding `CERT/`). */
  dir: string;
  /** Suites with at least one file, by index. */
  suites: SuiteReport[];
  /** At least one suite, and every suite ok. */
  ok: boolean;
}

/** Connection types per side, in order. */
const TYPES: Readonly<Record<CertSide, readonly number[]>> = {
  server: [2, 3],
  client: [2, 3, 4, 5],
};

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Checks every suite of `dir` (the directory holding `CERT/`), as of `now`.
 * Lets permission errors through; a `CERT/` that is missing is a suite list
 * that is empty.
 */
export async function checkCertDir(
  dir: string,
  now: Date = new Date(),
): Promise<CheckReport> {
  const suites: SuiteReport[] = [];
  for (let i = CERT_INDEX_MIN; i <= CERT_INDEX_MAX; i++) {
    const texts = new Map<string, string | undefined>();
    for (const side of CERT_SIDES) {
      for (const kind of CERT_KINDS) {
        const name = certFileName(side, kind, i);
        texts.set(name, await readOptional(`${dir}/${name}`));
      }
    }
    if ([...texts.values()].every((t) => t === undefined)) continue;
    suites.push(checkSuiteFiles(i, texts, now));
  }
  return { dir, suites, ok: suites.length > 0 && suites.every((s) => s.ok) };
}

/**
 * Checks one suite from its files' texts (keyed by `certFileName`;
 * undefined: absent). Pure: no I/O.
 */
export function checkSuiteFiles(
  index: number,
  texts: ReadonlyMap<string, string | undefined>,
  now: Date,
): SuiteReport {
  const problems: string[] = [];
  const warnings: string[] = [];
  const text = (side: CertSide, kind: CertKind) =>
    texts.get(certFileName(side, kind, index));
  const sides = {} as Record<CertSide, SideReport>;
  const parsed = new Map<string, X509Certificate>();
  for (const side of CERT_SIDES) {
    const file = (kind: CertKind): FileReport => {
      const name = certFileName(side, kind, index);
      const present = text(side, kind) !== undefined;
      if (!present) problems.push(`${name} is missing`);
      return { name, present, ok: false, problem: present ? null : "missing" };
    };
    const ca = file("ca");
    const cert = file("cert");
    const key = file("key");
    for (const [report, kind] of [[ca, "ca"], [cert, "cert"]] as const) {
      const pem = text(side, kind);
      if (pem === undefined) continue;
      const failure = moduleCheck(side, index, { [kind]: pem });
      if (failure) {
        report.problem = failure;
        problems.push(failure);
        continue;
      }
      const x509 = new X509Certificate(pem);
      parsed.set(report.name, x509);
      report.ok = true;
      report.subject = x509.subject.replaceAll("\n", ", ");
      report.issuer = x509.issuer.replaceAll("\n", ", ");
      report.validFrom = new Date(x509.validFrom).toISOString();
      report.validTo = new Date(x509.validTo).toISOString();
      const warning = dateWarning(report.name, x509, now);
      if (warning) warnings.push(warning);
    }
    const keyText = text(side, "key");
    if (keyText !== undefined) {
      if (!cert.ok) {
        key.problem = `not checked: ${cert.name} is ${
          cert.present ? "broken" : "missing"
        }`;
      } else {
        const failure = moduleCheck(side, index, {
          cert: text(side, "cert"),
          key: keyText,
        });
        key.problem = failure;
        key.ok = failure === null;
        if (failure) problems.push(failure);
      }
    }
    sides[side] = {
      side,
      ca,
      cert,
      key,
      verifiedWith: certFileName(
        side === "server" ? "client" : "server",
        "ca",
        index,
      ),
      signed: null,
      types: [],
    };
  }
  for (const side of CERT_SIDES) {
    const report = sides[side];
    const own = parsed.get(report.cert.name);
    const ca = parsed.get(report.verifiedWith);
    if (own && ca) {
      report.signed = own.checkIssued(ca) && own.verify(ca.publicKey);
      if (!report.signed) {
        report.cert.ok = false;
        report.cert.problem =
          `not signed by ${report.verifiedWith}: a peer of this suite refuses it`;
        problems.push(`${report.cert.name} is ${report.cert.problem}`);
      }
    }
    report.types = TYPES[side].filter((type) => {
      const needs = needsFor(side, type);
      return (!needs.ca || report.ca.ok) && (!needs.cert || report.key.ok);
    });
  }
  const complete = CERT_SIDES.every((side) =>
    CERT_KINDS.every((kind) => text(side, kind) !== undefined)
  );
  return {
    index,
    complete,
    ok: problems.length === 0,
    server: sides.server,
    client: sides.client,
    problems,
    warnings,
  };
}

/** The module's verdict on some files of a suite: null when it accepts them. */
function moduleCheck(
  side: CertSide,
  index: number,
  suite: Suite,
): string | null {
  try {
    checkSuite(side, index, suite);
    return null;
  } catch (e) {
    if (e instanceof TlsFailure) {
      return `${e.message} (the module answers ERROR: ${e.code})`;
    }
    throw e;
  }
}

function dateWarning(
  name: string,
  x509: X509Certificate,
  now: Date,
): string | undefined {
  const from = new Date(x509.validFrom);
  const to = new Date(x509.validTo);
  const day = (d: Date) => d.toISOString().slice(0, 10);
  if (to.getTime() < now.getTime()) {
    return `${name} expired on ${day(to)}`;
  }
  if (from.getTime() > now.getTime()) {
    return `${name} is not valid before ${day(from)}`;
  }
  const left = Math.floor((to.getTime() - now.getTime()) / DAY_MS);
  if (left < EXPIRY_WARNING_DAYS) {
    return `${name} expires on ${day(to)}, in ${left} day${
      left === 1 ? "" : "s"
    }`;
  }
  return undefined;
}

/** A file's text, or undefined when it does not exist. */
async function readOptional(path: string): Promise<string | undefined> {
  try {
    return new TextDecoder().decode(await Deno.readFile(path));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
}

/** The report as text for a person (never any key material). */
export function formatCheckReport(report: CheckReport): string {
  const lines: string[] = [];
  const broken = report.suites.filter((s) => !s.ok).length;
  if (report.suites.length === 0) {
    lines.push(
      `${report.dir}: no certificate suite (expected CERT/server_cert_1.crt and the like)`,
    );
  }
  for (const suite of report.suites) {
    const serves = [
      suite.server.types.length ? `server ${suite.server.types.join(" ")}` : "",
      suite.client.types.length ? `client ${suite.client.types.join(" ")}` : "",
    ].filter((s) => s).join(", ");
    const state = suite.ok ? "ok" : suite.complete ? "BROKEN" : "INCOMPLETE";
    lines.push(`suite ${suite.index}: ${state}, serves ${serves}`);
    for (const side of [suite.server, suite.client]) {
      for (const file of [side.ca, side.cert, side.key]) {
        const name = file.name.padEnd(24);
        if (!file.present) {
          lines.push(`  ${name} missing`);
        } else if (file.problem) {
          lines.push(`  ${name} BAD  ${file.problem}`);
        } else if (file === side.key) {
          lines.push(`  ${name} ok   matches ${side.cert.name}`);
        } else {
          const signed = file === side.cert && side.signed !== null
            ? side.signed
              ? `, signed by ${side.verifiedWith}`
              : `, NOT signed by ${side.verifiedWith}`
            : "";
          lines.push(
            `  ${name} ok   ${file.subject}, valid until ${
              file.validTo!.slice(0, 10)
            }${signed}`,
          );
        }
      }
    }
    for (const problem of suite.problems) lines.push(`  problem: ${problem}`);
    for (const warning of suite.warnings) lines.push(`  warning: ${warning}`);
  }
  if (report.suites.length > 0) {
    lines.push(
      broken === 0
        ? `${report.suites.length} suite${
          report.suites.length === 1 ? "" : "s"
        }, all ok`
        : `${report.suites.length} suite${
          report.suites.length === 1 ? "" : "s"
        }, ${broken} incomplete or broken`,
    );
  }
  return lines.join("\n") + "\n";
}
