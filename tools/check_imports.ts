/**
 * The import check: reads every `.ts` file of `packages/`, `tools/` and
 * `examples/`, takes its import specifiers (static `import` and
 * `export ... from`, and dynamic `import("...")` of a literal; comments,
 * strings and template literals are skipped, so an example in a doc comment
 * or generated code in a string is not an import), and reports every
 * import that breaks a rule of the package graph, as `file:line: rule`.
 *
 *   deno run --allow-read tools/check_imports.ts [ROOT]
 *
 * The rules:
 * - a library imports only the libraries below it: protocol nothing (and
 *   no Node.js, npm or `Deno` API, no timers, no clock), tty at most protocol, device
 *   and host protocol and tty (never each other), and no library imports
 *   the CLI;
 * - another package is imported by its name (`@atsock/x` or a subpath its
 *   `deno.json` exports), never by a path to one of its files;
 * - a test (`*_test.ts`, `*_bench.ts`, `test_*.ts`) may import the files
 *   of its own package (its test utilities), never another package's files;
 *   tests of device and host may import each other's public entry points
 *   (the virtual module is the host's test peer), the CLI's tests any
 *   library; protocol's and tty's tests follow their package's rule;
 * - tools and examples import libraries only (by name, never the CLI; the
 *   CLI runs as a program), plus files of their own directory tree;
 * - no package imports `tools/` or `examples/`.
 *
 * Exit status: 0 no forbidden import, 1 some (each listed), 2 bad usage.
 *
 * @module
 */

import { dirname, join, relative, resolve, sep } from "node:path";
import { scan } from "./import_scan.ts";

export { importSpecifiers, type Specifier } from "./import_scan.ts";

/** What each library may import (besides itself), from the bottom up. */
export const LIBRARY_DEPENDENCIES: Readonly<Record<string, readonly string[]>> =
  {
    protocol: [],
    tty: ["protocol"],
    device: ["protocol", "tty"],
    host: ["protocol", "tty"],
  };

/** What each library's tests may import besides: the other side of the UART. */
export const TEST_PEERS: Readonly<Record<string, readonly string[]>> = {
  device: ["host"],
  host: ["device"],
};

/** The program that composes the libraries; no library imports it. */
export const CLI = "cli";

/** A forbidden import. */
export interface Violation {
  /** The file, relative to the root, with `/` separators. */
  file: string;
  /** 1-based line. */
  line: number;
  /** The specifier as written. */
  specifier: string;
  /** The rule broken, in words. */
  rule: string;
}

/** Whether a file is a test, a benchmark or a test utility. */
export function isTestFile(path: string): boolean {
  const name = path.split("/").pop() ?? "";
  return /_test\.ts$|_bench\.ts$|^test_[\w]*\.ts$/.test(name);
}

/** Where a file is: a package's, or an area of scripts (tools, examples). */
type Place =
  | { kind: "package"; name: string }
  | { kind: "scripts"; name: string }
  | { kind: "other" };

function placeOf(relativePath: string): Place {
  const parts = relativePath.split("/");
  if (parts[0] === "packages" && parts.length > 2) {
    return { kind: "package", name: parts[1] };
  }
  if ((parts[0] === "tools" || parts[0] === "examples") && parts.length > 1) {
    return { kind: "scripts", name: parts[0] };
  }
  return { kind: "other" };
}

/** A package's name and the subpaths its deno.json exports. */
interface PackageInfo {
  exports: Set<string>;
}

async function readPackages(root: string): Promise<Map<string, PackageInfo>> {
  const packages = new Map<string, PackageInfo>();
  for await (const entry of Deno.readDir(join(root, "packages"))) {
    if (!entry.isDirectory) continue;
    let config: { name?: string; exports?: string | Record<string, string> };
    try {
      config = JSON.parse(
        await Deno.readTextFile(
          join(root, "packages", entry.name, "deno.json"),
        ),
      );
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) continue;
      throw e;
    }
    const exports = typeof config.exports === "string"
      ? ["."]
      : Object.keys(config.exports ?? { ".": "" });
    packages.set(entry.name, { exports: new Set(exports) });
  }
  return packages;
}

async function* sourceFiles(dir: string): AsyncGenerator<string> {
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(dir));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return;
    throw e;
  }
  entries.sort((a, b) => a.name < b.name ? -1 : 1);
  for (const entry of entries) {
    if (entry.name === "node_modules" || entry.name.startsWith(".")) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory) yield* sourceFiles(path);
    else if (entry.isFile && /\.(ts|tsx|mts)$/.test(entry.name)) yield path;
  }
}

/** What a specifier points at. */
type Target =
  | { kind: "package"; name: string; subpath: string }
  | { kind: "file"; place: Place; path: string }
  | { kind: "external"; scheme: string };

function targetOf(specifier: string, from: string, root: string): Target {
  const named = /^(?:jsr:)?@atsock\/([\w-]+)(?:@[^/]*)?(\/.*)?$/.exec(
    specifier,
  );
  if (named) {
    return {
      kind: "package",
      name: named[1],
      subpath: named[2] ? `.${named[2]}` : ".",
    };
  }
  let path: string | undefined;
  if (specifier.startsWith("./") || specifier.startsWith("../")) {
    path = resolve(dirname(from), specifier);
  } else if (specifier.startsWith("file://")) {
    path = new URL(specifier).pathname;
  } else if (specifier.startsWith("/")) path = specifier;
  if (path !== undefined) {
    const rel = relative(root, path).split(sep).join("/");
    return { kind: "file", place: placeOf(rel), path: rel };
  }
  const scheme = /^([a-z]+):/.exec(specifier)?.[1] ?? "bare";
  return { kind: "external", scheme };
}

/** The rule an import breaks, or undefined. */
function ruleBroken(
  file: string,
  specifier: string,
  target: Target,
  packages: Map<string, PackageInfo>,
): string | undefined {
  const place = placeOf(file);
  const test = isTestFile(file);
  if (target.kind === "package") {
    const info = packages.get(target.name);
    if (!info) return `@atsock/${target.name} is not a package of packages/`;
    if (!info.exports.has(target.subpath)) {
      return `@atsock/${target.name} does not export "${target.subpath}" (see its deno.json)`;
    }
  }
  if (place.kind === "scripts") {
    if (target.kind === "package" && target.name === CLI) {
      return `${place.name} import libraries only, not the CLI (run packages/cli/main.ts as a program instead)`;
    }
    if (target.kind === "file" && target.place.kind === "package") {
      return `${place.name} import libraries only, by name (@atsock/${target.place.name} or a subpath it exports), not ${target.path}`;
    }
    return undefined;
  }
  if (place.kind !== "package") return undefined;
  const own = place.name;
  if (target.kind === "file") {
    if (target.place.kind === "scripts") {
      return `packages never import ${target.place.name}/ (${target.path})`;
    }
    if (target.place.kind === "package" && target.place.name !== own) {
      return `${own} imports a file of ${target.place.name} (${target.path}): another package is imported by its name and exports only${
        isTestFile(target.path)
          ? "; a test imports the test utilities of its own package only"
          : ""
      }`;
    }
    return undefined;
  }
  if (target.kind === "external") {
    if (own === "protocol" && !test) {
      return `protocol imports nothing (no ${
        target.scheme === "bare" ? specifier : target.scheme + ":"
      } modules: it does no I/O)`;
    }
    return undefined;
  }
  if (target.name === own) return undefined;
  if (target.name === CLI) {
    return `no library imports the CLI (${own} imports @atsock/cli)`;
  }
  const allowed = LIBRARY_DEPENDENCIES[own];
  if (allowed === undefined) return undefined; // the CLI: any library
  if (allowed.includes(target.name)) return undefined;
  if (test && TEST_PEERS[own]?.includes(target.name)) return undefined;
  if (
    (own === "device" && target.name === "host") ||
    (own === "host" && target.name === "device")
  ) {
    return `device and host never import each other (${own} imports @atsock/${target.name})`;
  }
  return `${own} may import only ${
    allowed.length ? allowed.join(", ") : "itself"
  }, not @atsock/${target.name}`;
}

/** Checks every source file under `root`; returns the forbidden imports. */
export async function checkImports(root: string): Promise<Violation[]> {
  const absolute = resolve(root);
  const packages = await readPackages(absolute);
  const violations: Violation[] = [];
  for (const area of ["packages", "tools", "examples"]) {
    for await (const path of sourceFiles(join(absolute, area))) {
      const file = relative(absolute, path).split(sep).join("/");
      const { specifiers, globals } = scan(await Deno.readTextFile(path));
      for (const s of specifiers) {
        const target = targetOf(s.specifier, path, absolute);
        const rule = ruleBroken(file, s.specifier, target, packages);
        if (rule) {
          violations.push({ file, line: s.line, specifier: s.specifier, rule });
        }
      }
      const place = placeOf(file);
      if (
        place.kind === "package" && place.name === "protocol" &&
        !isTestFile(file)
      ) {
        for (const g of globals) {
          violations.push({
            file,
            line: g.line,
            specifier: g.name,
            rule: `protocol does no I/O and sets no timers (uses ${g.name})`,
          });
        }
      }
    }
  }
  return violations;
}

/** One line per violation: `file:line: rule ("specifier")`. */
export function formatViolation(v: Violation): string {
  return `${v.file}:${v.line}: ${v.rule} ("${v.specifier}")`;
}

if (import.meta.main) {
  const args = Deno.args;
  if (args.length > 1 || args[0] === "-h" || args[0] === "--help") {
    console.error("usage: check_imports.ts [ROOT]   (default: the repository)");
    Deno.exit(args[0] === "-h" || args[0] === "--help" ? 0 : 2);
  }
  const root = args[0] ?? new URL("..", import.meta.url).pathname;
  const violations = await checkImports(root);
  for (const v of violations) console.error(formatViolation(v));
  if (violations.length) {
    console.error(
      `check_imports: ${violations.length} forbidden import(s); the rules are at the top of tools/check_imports.ts`,
    );
    Deno.exit(1);
  }
  console.log("check_imports: the package graph holds");
}
