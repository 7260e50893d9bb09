/**
 * What the terminal tells the user about the commands: the syntax shown by
 * Tab on a whole command name, the local `:` commands for `:help`,
 * completion, and the hint after an `ERROR: <n>`.
 *
 * @module
 */

import {
  COMMAND_NAMES,
  type CommandName,
  COMMANDS,
  connType,
  errorMeaning,
  type ParsedLine,
} from "@atsock/protocol";
import { practice } from "../practice.ts";
import type { Completion } from "./editor.ts";

/** The command names with what follows them when completed. */
const COMMAND_COMPLETIONS: readonly string[] = COMMAND_NAMES.map((name) =>
  COMMANDS[name].fields.length === 0 ? `AT+${name}` : `AT+${name}=`
);

/**
 * A command's syntax, for Tab on a complete command name: the catalogue's
 * syntax line, then what its connection types and flags are, its escapes,
 * and for `AT+SKTSENDRAW` what follows.
 */
export function syntaxOf(name: CommandName): string {
  const spec = COMMANDS[name];
  const notes: string[] = [];
  for (const field of spec.fields) {
    if (field.name === "conn_type" && spec.connTypes) {
      const side = spec.connTypes;
      const types = [];
      for (let t = field.min; t <= field.max; t++) {
        types.push(`${t} ${connType(side, t)!.name.toLowerCase()}`);
      }
      notes.push(`conn_type ${types.join("|")}`);
    } else if (field.kind === "flag") {
      notes.push(`${field.name} ${field.min}|${field.max}`);
    }
  }
  if (spec.escapes && spec.fields.some((f) => f.kind === "data")) {
    notes.push("\\, is a comma, \\\\ a backslash");
  }
  if (name === "SKTSENDRAW") {
    notes.push("Host Control Mode; then >>> and the bytes");
  }
  return notes.length === 0
    ? spec.syntax
    : `${spec.syntax}   (${notes.join("; ")})`;
}

/** Local commands, for `:help` and completion. */
export const LOCAL_COMMANDS: readonly [string, string][] = [
  [":help", "this list"],
  [":quit", "leave (also Ctrl-D on an empty line, or Ctrl-C twice)"],
  [":hex on|off", "show payloads as a hex dump or as escaped text"],
  [":timestamps on|off", "a time in front of every line"],
  [":sendfile PATH", "after >>>: send the file's bytes as the payload"],
  [
    ":sendfile ID PATH",
    "AT+SKTSENDRAW=ID,<the file's size>, then the file (ID,IP,PORT on a UDP server)",
  ],
  [":abort", "after >>>: abort the transfer (<<< then silence)"],
  [":sleep MS", "wait before the next line (for scripts)"],
];

const LOCAL_COMPLETIONS: readonly string[] = [
  ":help",
  ":quit",
  ":hex on",
  ":hex off",
  ":timestamps on",
  ":timestamps off",
  ":sendfile ",
  ":abort",
  ":sleep ",
];

/**
 * Completion of the text before the cursor: local commands after `:`,
 * command names (nothing while a raw payload is being typed), and a whole
 * name's syntax.
 */
export function complete(before: string, raw: boolean): Completion {
  if (before.startsWith(":")) {
    return {
      matches: LOCAL_COMPLETIONS.filter((c) => c.startsWith(before)),
    };
  }
  if (raw) return { matches: [] };
  const upper = before.toUpperCase();
  const matches = COMMAND_COMPLETIONS.filter((c) => c.startsWith(upper));
  if (matches.length > 1 || (matches.length === 1 && matches[0] !== upper)) {
    return { matches };
  }
  // A whole name, with or without fields: show its syntax.
  const named = COMMAND_NAMES.find((n) =>
    upper === `AT+${n}` || upper.startsWith(`AT+${n}=`)
  );
  return { matches: [], help: named && syntaxOf(named) };
}

/** The hint after an `ERROR: <n>`: the reference's meaning for the command in flight, and why when known. */
export function hintFor(
  pending:
    | { command: CommandName | undefined; parsed: ParsedLine }
    | undefined,
  code: number,
): string | undefined {
  if (!pending) return undefined;
  if (pending.command === undefined) {
    // A line longer than the command buffer, whatever it named.
    const error = pending.parsed.kind === "error"
      ? pending.parsed.error
      : undefined;
    return error && error.code === code
      ? `${error.meaning} (${error.detail})`
      : undefined;
  }
  const name = `AT+${pending.command}`;
  const meaning = errorMeaning(pending.command, code);
  if (meaning === undefined) {
    return `${name} has no code ${code} in the reference`;
  }
  const local = pending.parsed.kind === "error" &&
      pending.parsed.error.code === code
    ? pending.parsed.error.detail
    : undefined;
  const why = local ?? practice(pending.command, code)?.term;
  return `${name}: ${meaning}${why ? ` (${why})` : ""}`;
}
