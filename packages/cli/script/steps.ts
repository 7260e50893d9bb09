/**
 * What an `atsock run` script is once parsed: its steps (commands with
 * their expected answers, raw sends, waits for unsolicited lines, pauses),
 * the patterns lines are matched against, and the problems found.
 *
 * @module
 */

import type { Endpoint, Request } from "@atsock/protocol";

/** What a line of the answer or an unsolicited line must be. */
export type Pattern =
  | {
    /** The whole line, exactly. */
    kind: "text";
    /** The text. */
    text: string;
  }
  | {
    /** A regular expression found anywhere in the line. */
    kind: "regex";
    /** The expression (never with the stateful g or y flags). */
    regex: RegExp;
  };

/** The final result a command must get. */
export interface FinalCheck {
  /** The script line of the `expect`. */
  line: number;
  /** That line's text (variables replaced, comment removed). */
  text: string;
  /** `ok`, or `error` with an optional code (any code without one). */
  kind: "ok" | "error";
  /** The code `expect ERROR: n` asks for. */
  code?: number;
  /** How long the answer may take (default: `--timeout`). */
  withinMs?: number;
}

/** An information line the answer must contain. */
export interface LineCheck {
  /** The script line of the `expect line`. */
  line: number;
  /** That line's text. */
  text: string;
  /** What the line must be. */
  pattern: Pattern;
}

/** A command line sent to the module, with what its answer must be. */
export interface CommandStep {
  /** Step kind. */
  kind: "command";
  /** The script line. */
  line: number;
  /** The command line as sent (variables replaced). */
  text: string;
  /** The parsed request. */
  request: Request;
  /** The final result expected; `undefined`: OK, checked on the command's own line. */
  final: FinalCheck | undefined;
  /** Information lines expected. */
  lines: LineCheck[];
}

/** `AT+SKTSENDRAW` with a payload from a file or the script. */
export interface SendRawStep {
  /** Step kind. */
  kind: "sendraw";
  /** The script line. */
  line: number;
  /** The `sendraw` line (variables replaced). */
  text: string;
  /** The link. */
  linkId: number;
  /** Destination on a UDP server. */
  destination?: Endpoint;
  /** The payload: a file (path as written) or bytes from the script. */
  payload: { kind: "file"; path: string } | {
    kind: "bytes";
    data: Uint8Array;
  };
  /** The final result expected; `undefined`: OK. */
  final: FinalCheck | undefined;
}

/** Waits for an unsolicited line. */
export interface UrcStep {
  /** Step kind. */
  kind: "urc";
  /** The script line. */
  line: number;
  /** The line's text. */
  text: string;
  /** What the unsolicited line must be. */
  pattern: Pattern;
  /** How long to wait (default: `--timeout`). */
  withinMs?: number;
}

/** Waits a fixed time. */
export interface WaitStep {
  /** Step kind. */
  kind: "wait";
  /** The script line. */
  line: number;
  /** The line's text. */
  text: string;
  /** How long, in ms. */
  ms: number;
}

/** One step of a script. */
export type Step = CommandStep | SendRawStep | UrcStep | WaitStep;

/** A broken line: where and why. */
export interface ScriptProblem {
  /** The line (0: the script as a whole). */
  line: number;
  /** One line saying what is wrong. */
  message: string;
}

/** A parsed script. */
export interface Script {
  /** The steps, in order. */
  steps: Step[];
  /** What is wrong with it; steps must not be run unless this is empty. */
  problems: ScriptProblem[];
}

/** Longest time a `within` or `wait` may give. */
export const MAX_TIME_MS = 3600 * 1000;

/** Describes a pattern for reports: `"text"` or `/regex/flags`. */
export function describePattern(p: Pattern): string {
  return p.kind === "text" ? JSON.stringify(p.text) : String(p.regex);
}

/** Whether a line fits a pattern (text: the whole line; regex: anywhere). */
export function matches(p: Pattern, line: string): boolean {
  return p.kind === "text" ? p.text === line : p.regex.test(line);
}
