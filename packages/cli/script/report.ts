/**
 * How `atsock run` shows results: a line per check (with what was expected
 * and what came when it failed), a summary naming the failed lines, and the
 * `--json` document.
 *
 * @module
 */

import type { ScriptReport, StepResult } from "./execute.ts";

/** Lines of `got` shown for one failure; the JSON report keeps them all. */
const SHOWN = 20;

/** Makes control and non-ASCII bytes visible: `\r`, `\n`, `\t`, `\xNN`. */
export function visible(text: string): string {
  // deno-lint-ignore no-control-regex -- control bytes are what it escapes
  return text.replace(/[\x00-\x1f\x7f-\xff]/g, (c) => {
    if (c === "\r") return "\\r";
    if (c === "\n") return "\\n";
    if (c === "\t") return "\\t";
    return `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`;
  });
}

/** One check in human words (several lines when it failed). */
export function formatResult(result: StepResult): string {
  const head = `${result.ok ? "ok  " : "FAIL"}  line ${
    String(result.line).padEnd(4)
  } ${visible(result.text)}`;
  const extra = [
    ...(result.ms > 0 ? [`${result.ms} ms`] : []),
    ...(result.note && result.ok ? [result.note] : []),
  ];
  const first = extra.length ? `${head}  (${extra.join("; ")})` : head;
  if (result.ok) return first;
  const indent = "        ";
  const got = result.got.length === 0
    ? ["(nothing)"]
    : result.got.slice(0, SHOWN).map(visible);
  if (result.got.length > SHOWN) {
    got.push(`... ${result.got.length - SHOWN} more (see --json)`);
  }
  return [
    first,
    `${indent}expected: ${result.expected}`,
    `${indent}got:      ${got[0]}`,
    ...got.slice(1).map((line) => `${indent}          ${line}`),
    ...(result.note ? [`${indent}note:     ${result.note}`] : []),
  ].join("\n");
}

/** The last line: PASS, or FAIL naming the lines that failed. */
export function formatSummary(report: ScriptReport, script: string): string {
  const total = report.passed + report.failed + report.notRun;
  if (report.failed === 0 && report.notRun === 0) {
    return `PASS: all ${total} checks passed (${script})`;
  }
  const lines = [
    ...new Set(report.steps.filter((s) => !s.ok).map((s) => s.line)),
  ];
  const named = lines.length === 0
    ? "nothing failed"
    : `${lines.length === 1 ? "line" : "lines"} ${lines.join(", ")} failed`;
  return `FAIL: ${script}: ${named} (${report.passed} passed, ${report.failed} failed, ${report.notRun} not run)`;
}

/** The `--json` document: `{passed, failed, notRun, steps: [...]}`. */
export function formatJson(report: ScriptReport): string {
  return JSON.stringify(
    {
      passed: report.passed,
      failed: report.failed,
      notRun: report.notRun,
      steps: report.steps,
    },
    null,
    2,
  );
}
