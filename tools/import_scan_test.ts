import assert from "node:assert/strict";
import { importSpecifiers, scan } from "./import_scan.ts";

Deno.test("importSpecifiers: static imports, re-exports and dynamic imports of a literal, with their lines", () => {
  const source = [
    'import assert from "node:assert/strict";',
    'import type { A } from "./a.ts";',
    "import {",
    "  b,",
    "  type C,",
    '} from "@atsock/protocol";',
    'import "./side_effect.ts";',
    'export { d } from "./d.ts";',
    'export * as e from "@atsock/host";',
    "export type * from './f.ts';",
    'const g = await import("@atsock/device");',
    "const h = await import(",
    '  "@atsock/device/pki"',
    ");",
    "const i = await import(`./template.ts`);",
    "type J = typeof import('./j.ts');",
    "export const k = 1;",
  ].join("\n");
  assert.deepEqual(
    importSpecifiers(source).map((s) => [s.line, s.specifier, s.dynamic]),
    [
      [1, "node:assert/strict", false],
      [2, "./a.ts", false],
      [6, "@atsock/protocol", false],
      [7, "./side_effect.ts", false],
      [8, "./d.ts", false],
      [9, "@atsock/host", false],
      [10, "./f.ts", false],
      [11, "@atsock/device", true],
      [13, "@atsock/device/pki", true],
      [15, "./template.ts", true],
      [16, "./j.ts", true],
    ],
  );
});

Deno.test("importSpecifiers: comments, strings, templates, regular expressions and import.meta are not imports", () => {
  const source = [
    "/**",
    " * @example",
    " * ```ts",
    ' * import { main } from "@atsock/cli";',
    " * ```",
    " */",
    '// import { x } from "@atsock/cli";',
    'const code = `import { y } from "@atsock/cli";`;',
    'const nested = `a ${`import "@atsock/cli"`} b ${"}"} import "x"`;',
    "const quoted = 'import \"@atsock/cli\"';",
    'const re = /from "(@atsock\\/[a-z]+)[^"]*"/g;',
    "const half = 6 / 3; const other = 'import(\"@atsock/cli\")' / 2;",
    'const url = new URL("./main.ts", import.meta.url);',
    'const spawned = ["run", "packages/cli/main.ts"];',
    "const notLiteral = await import(`${url}`);",
    'import { z } from "./after.ts";',
  ].join("\n");
  assert.deepEqual(
    importSpecifiers(source).map((s) => [s.line, s.specifier]),
    [[16, "./after.ts"]],
  );
});

Deno.test("scan: the globals that mean I/O or timers, not properties or keys of that name", () => {
  const { globals } = scan(
    [
      "const a = Deno.readFile;",
      "setTimeout(f, 1);",
      "const b = { setTimeout: 1 }.setTimeout;",
      "// fetch in a comment",
      "const c = globalThis.fetch;",
      'const d = "Deno.exit()";',
      "const e = x.performance + y.Date;",
      "const f = performance.now() + Date.now();",
    ].join("\n"),
  );
  assert.deepEqual(globals, [
    { name: "Deno", line: 1 },
    { name: "setTimeout", line: 2 },
    // globalThis.fetch: the way around the rule is caught by its first word.
    { name: "globalThis", line: 5 },
    { name: "performance", line: 8 },
    { name: "Date", line: 8 },
  ]);
});
