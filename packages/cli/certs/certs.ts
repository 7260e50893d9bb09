/**
 * `atsock certs`: make a test PKI laid out as a module's flash, and check a
 * certificate directory suite by suite.
 *
 * @module
 */

import {
  CERT_KINDS,
  CERT_SIDES,
  certFileName,
  makePki,
  PkiError,
} from "@atsock/device/pki";
import { CERT_INDEX_MAX, CERT_INDEX_MIN, ERR } from "@atsock/protocol";
import {
  type DeclaredSubcommand,
  defineSubcommand,
  type OptionTable,
  type ParsedWords,
} from "../command.ts";
import { firstLine, isPermissionError } from "../target.ts";
import { UsageError } from "../usage.ts";
import { checkCertDir, formatCheckReport } from "./check.ts";

/** Help text of `atsock certs`. */
export const CERTS_HELP =
  `atsock certs: make and check module certificate directories

Usage:
  atsock certs make DIR [--suites 1,2] [--hosts NAME,...] [--force] [--json]
                        [--progress]
  atsock certs check DIR [--json]

A module keeps its certificates in flash as CERT/<side>_<kind>_<i>.<ext>
for suite i = ${CERT_INDEX_MIN}..${CERT_INDEX_MAX}: server_ca_<i>.crt, server_cert_<i>.crt,
server_key_<i>.key, client_ca_<i>.crt, client_cert_<i>.crt,
client_key_<i>.key. The emulator reads the same layout (emulate --certs DIR).

make    creates a test PKI in DIR/CERT with openssl: for each suite its own
        CA (so a peer of one suite is refused by another), a server
        certificate for localhost, 127.0.0.1 and ::1, and a client
        certificate, P-256 keys, valid 10 years. server_ca and client_ca of
        a suite are the same CA. Existing files are never replaced unless
        --force is given. Keys get mode 0600 and are never printed.
check   reports, for each suite present and each side: which files exist,
        whether each parses and the key matches its certificate (the
        module's own checks: ERROR: ${ERR.SKTSERVER.CRT_PARSE} and ${ERR.SKTSERVER.OWN_CERT}), whether the certificate is
        signed by the CA that a peer holding the same suite verifies it with
        (server_cert_<i> by client_ca_<i>, client_cert_<i> by
        server_ca_<i>: a module verifies its peer, never itself), expiry
        dates (a warning when expired or expiring within 30 days), and which
        connection types the suite serves (AT+SKTSERVER 2/3,
        AT+SKTCLIENT 3/4/5; client type 2 needs no file). Exit status 1 when
        a suite present is incomplete (not all six files) or broken.

Options:
  --suites    suite indexes to make, comma-separated, ${CERT_INDEX_MIN}..${CERT_INDEX_MAX} (default 1,2)
  --hosts     names and IPv4/IPv6 addresses the server certificates are for,
              comma-separated (default localhost,127.0.0.1,::1); add the
              address a TLS client will dial, e.g. the emulator's --ip
  --force     replace existing files of those suites
  --json      one JSON document on stdout
  --progress  progress lines on stderr even when it is not a terminal
  -h, --help  this help

Examples:
  atsock certs make ./pki
  atsock certs make ./pki --suites 1,2,3 --force
  atsock certs make ./pki --hosts localhost,127.0.0.1,192.168.1.50
  atsock certs check ./pki
  atsock certs check ./pki --json | jq '.suites[] | {index, ok}'
  atsock emulate --certs ./pki --mode host

Permissions: make needs --allow-run=openssl and --allow-write=DIR; check
needs --allow-read=DIR. Nothing else.

Exit status: 0 success (check: every suite complete and sound), 1 failure
(check: a suite incomplete or broken, or no suite at all), 2 bad usage.
`;

/** Parsed `atsock certs` arguments. */
export type CertsOptions =
  | {
    /** Make a PKI. */
    action: "make";
    /** Directory that receives `CERT/`. */
    dir: string;
    /** Suite indexes. */
    suites: number[];
    /** Names and addresses of the server certificates (default: makePki's). */
    hosts?: string[];
    /** Replace existing files. */
    force: boolean;
    /** JSON output. */
    json: boolean;
    /** Progress on stderr even when it is not a terminal. */
    progress: boolean;
  }
  | {
    /** Check a directory. */
    action: "check";
    /** Directory that holds `CERT/`. */
    dir: string;
    /** JSON output. */
    json: boolean;
  };

/** The options of `atsock certs`. */
const CERTS_OPTIONS = {
  suites: { type: "string" },
  hosts: { type: "string" },
  force: { type: "boolean", default: false },
  json: { type: "boolean", default: false },
  progress: { type: "boolean", default: false },
} as const satisfies OptionTable;

/** Parses `atsock certs` arguments; throws {@linkcode UsageError}. */
export function parseCertsArgs(args: string[]): CertsOptions | "help" {
  return certsCommand.parse(args);
}

/** Checks the parsed options of `atsock certs`. */
function certsOptions(
  { values, positionals }: ParsedWords<typeof CERTS_OPTIONS>,
): CertsOptions {
  const [action, dir, ...extra] = positionals;
  if (action !== "make" && action !== "check") {
    throw new UsageError(
      action === undefined
        ? "say make or check"
        : `unknown action "${action}": say make or check`,
    );
  }
  if (dir === undefined || dir === "") {
    throw new UsageError(`certs ${action} needs a directory`);
  }
  if (extra.length > 0) {
    throw new UsageError(`unexpected argument "${extra[0]}"`);
  }
  if (action === "check") {
    for (const flag of ["suites", "hosts", "force", "progress"] as const) {
      if (values[flag] !== undefined && values[flag] !== false) {
        throw new UsageError(`--${flag} is for certs make`);
      }
    }
    return { action, dir, json: values.json! };
  }
  return {
    action,
    dir,
    suites: parseSuites(values.suites ?? "1,2"),
    hosts: values.hosts === undefined ? undefined : parseHosts(values.hosts),
    force: values.force!,
    json: values.json!,
    progress: values.progress!,
  };
}

function parseHosts(text: string): string[] {
  const hosts = text.split(",").map((h) => h.trim());
  for (const host of hosts) {
    if (!/^[A-Za-z0-9.:-]+$/.test(host)) {
      throw new UsageError(
        `--hosts takes host names and addresses separated by commas, not "${text}"`,
      );
    }
  }
  return hosts;
}

function parseSuites(text: string): number[] {
  const suites = text.split(",").map((part) => {
    if (!/^\d{1,2}$/.test(part.trim())) {
      throw new UsageError(
        `--suites takes indexes ${CERT_INDEX_MIN}..${CERT_INDEX_MAX} separated by commas, not "${text}"`,
      );
    }
    const n = Number(part);
    if (n < CERT_INDEX_MIN || n > CERT_INDEX_MAX) {
      throw new UsageError(
        `suite index ${n} is outside ${CERT_INDEX_MIN}..${CERT_INDEX_MAX}`,
      );
    }
    return n;
  });
  return [...new Set(suites)].sort((a, b) => a - b);
}

/** Runs `certs make`; returns the exit status. */
async function make(options: CertsOptions & { action: "make" }) {
  const show = !options.json &&
    (options.progress || Deno.stderr.isTerminal());
  const cert = await makePki(options.dir, {
    suites: options.suites,
    serverHosts: options.hosts,
    force: options.force,
    progress: show ? (line) => console.error(`atsock: ${line}`) : undefined,
  });
  const files = options.suites.flatMap((i) =>
    CERT_SIDES.flatMap((side) =>
      CERT_KINDS.map((kind) => certFileName(side, kind, i))
    )
  );
  if (options.json) {
    console.log(
      JSON.stringify({ dir: options.dir, cert, suites: options.suites, files }),
    );
  } else {
    console.log(
      `wrote suite${options.suites.length === 1 ? "" : "s"} ${
        options.suites.join(", ")
      } to ${cert} (${files.length} files, keys mode 0600)`,
    );
  }
  return 0;
}

/** Runs `certs check`; returns the exit status. */
async function check(options: CertsOptions & { action: "check" }) {
  const report = await checkCertDir(options.dir);
  if (options.json) console.log(JSON.stringify(report, null, 2));
  else console.log(formatCheckReport(report).trimEnd());
  return report.ok ? 0 : 1;
}

/** Runs `atsock certs make` or `check`; returns the exit status. */
async function certs(options: CertsOptions): Promise<number> {
  try {
    return options.action === "make"
      ? await make(options)
      : await check(options);
  } catch (e) {
    if (isPermissionError(e)) throw e;
    if (e instanceof PkiError) {
      console.error(`atsock: certs ${options.action}: ${e.message}`);
      return 1;
    }
    if (e instanceof Error && e.name in Deno.errors) {
      console.error(
        `atsock: certs ${options.action}: ${firstLine(e)}`,
      );
      return 1;
    }
    throw e;
  }
}

/** `atsock certs`. */
export const certsCommand: DeclaredSubcommand<CertsOptions> = defineSubcommand({
  name: "certs",
  summary: "make a test PKI as a module's flash names it, or check one",
  help: CERTS_HELP,
  options: CERTS_OPTIONS,
  parse: certsOptions,
  action: certs,
});
