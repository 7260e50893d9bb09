/**
 * The shape of an explanation of one line, shared by the command and the
 * output explainers, and its text form for a person.
 *
 * @module
 */

import type { CommandName } from "@atsock/protocol";

/** What a line is. */
export type ExplanationKind =
  | "command"
  | "unknown"
  | "blank"
  | "ok"
  | "error"
  | "query"
  | "state"
  | "read"
  | "connect"
  | "data"
  | "prompt"
  | "ready"
  | "watermark"
  | "shell"
  | "unrecognised";

/** One field of a line. */
export interface ExplainedField {
  /** The field's name, from the reference where it names one. */
  name: string;
  /** The value read (numbers as the module reads them; text as shown). */
  value: string | number | null;
  /** What the value means. */
  meaning: string;
  /** The field's text, when the value read differs from it. */
  raw?: string;
  /** How the value was read (an empty field read as 0, trailing junk ignored). */
  note?: string;
  /** What is wrong with it. */
  problem?: string;
}

/** An `ERROR: <n>` the module gives, or that an output line shows. */
export interface ExplainedError {
  /** The code. */
  code: number;
  /** The reference's meaning (for an output line without a command: every command's, joined). */
  meaning: string;
  /** Why, when known. */
  detail: string | null;
  /** Output lines: the meaning for each command that has the code. */
  meanings?: { command: CommandName; meaning: string }[];
}

/** The explanation of one line. */
export interface Explanation {
  /** The line as bytes shown safely (escapes for control bytes). */
  line: string;
  /** What it is. */
  kind: ExplanationKind;
  /** The command it is or answers, when known. */
  command: CommandName | null;
  /** One sentence: what it is and what the module does. */
  summary: string;
  /** Every field. */
  fields: ExplainedField[];
  /** The error the module answers (commands) or the error line shows. */
  error: ExplainedError | null;
  /** Commands: what the module answers (`null`: no answer at all). Output lines: null. */
  answer: string | null;
  /** Further remarks. */
  notes: string[];
  /** A well-formed command or a well-formed output line. */
  valid: boolean;
}

/** An explanation as text for a person: the line, then one line per field. */
export function formatExplanation(e: Explanation): string {
  const lines = [e.line, `  ${e.summary}`];
  const width = Math.max(0, ...e.fields.map((f) => f.name.length));
  const shown = e.fields.map((f) => show(f.value));
  const valueWidth = Math.min(
    24,
    Math.max(0, ...shown.map((v) => v.length)),
  );
  e.fields.forEach((f, i) => {
    const value = shown[i].padEnd(valueWidth);
    lines.push(`  ${f.name.padEnd(width)}  ${value}  ${f.meaning}`);
    const indent = " ".repeat(width + 4);
    if (f.note) lines.push(`${indent}read: ${f.note}`);
    if (f.problem) lines.push(`${indent}WRONG: ${f.problem}`);
  });
  if (e.error) {
    const detail = e.error.detail ? `: ${e.error.detail}` : "";
    if (e.error.meanings && e.error.meanings.length > 1) {
      lines.push(`  ERROR: ${e.error.code} means, by command:`);
      for (const m of e.error.meanings) {
        lines.push(`    AT+${m.command}: ${m.meaning}`);
      }
    } else {
      lines.push(
        `  error: ERROR: ${e.error.code} (${e.error.meaning})${detail}`,
      );
    }
  }
  if (e.kind === "command" || e.kind === "unknown") {
    lines.push(`  answer: ${e.answer ?? "none (the module gives no answer)"}`);
  }
  for (const note of e.notes) lines.push(`  note: ${note}`);
  return lines.join("\n");
}

function show(value: string | number | null): string {
  if (value === null) return "-";
  if (value === "") return "(empty)";
  return String(value);
}
