/**
 * The `atsock run` script language: a line-based list of commands and
 * expectations, parsed and checked as a whole before anything is sent. Pure:
 * no I/O (files named by `sendraw` are checked by the caller).
 *
 * ```text
 * # a comment
 * default PEER=127.0.0.1                # a variable, unless --var sets it
 * AT+SKTCFG=2000,2000,,1,60,10,3        # a command alone: expect OK
 * send AT+SKTQUERY                      # "send" is optional before AT
 * expect line "so_sndtimeo: 2000"       # an information line of the answer
 * expect OK within 2s                   # the final result, and its time
 * AT+SKTCLIENT=0,1,,${PEER},9,,1
 * expect ERROR: 2
 * expect urc /connected to server/ within 5s
 * sendraw 0 file fw.bin                 # AT+SKTSENDRAW with the file
 * wait 100ms
 * ```
 *
 * @module
 */

import {
  decodeLatin1,
  encode,
  encodeLatin1,
  type Endpoint,
  isIPv4,
  LINK_COUNT,
  parseCommandLine,
  type Request,
} from "@atsock/protocol";

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

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** True for a valid variable name. */
export function isVariableName(name: string): boolean {
  return NAME.test(name);
}

class LineError extends Error {}

/**
 * Parses a script. `vars` (from `--var`) override the script's own
 * `default` lines. Every line is checked; problems are collected, not thrown.
 */
export function parseScript(
  text: string,
  vars: Readonly<Record<string, string>> = {},
): Script {
  const values = new Map(Object.entries(vars));
  const steps: Step[] = [];
  const problems: ScriptProblem[] = [];
  // The command or sendraw that expect OK/ERROR/line lines attach to.
  let open: CommandStep | SendRawStep | undefined;
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const number = i + 1;
    try {
      const raw = substitute(lines[i].replace(/\r$/, ""), values);
      const body = raw.trim();
      if (body === "" || body.startsWith("#")) continue;
      const word = /^\S+/.exec(body)![0];
      if (isCommandLine(body)) {
        const command = stripAtComment(body.replace(/^send\s+/, ""));
        open = commandStep(number, command, encode(command));
        steps.push(open);
        continue;
      }
      const tokens = tokenize(body);
      const text = tokens.map((t) => t.source).join(" ");
      switch (word) {
        case "send": {
          if (tokens.length !== 2 || tokens[1].kind !== "string") {
            throw new LineError(
              'send takes a command line: send AT+... or send "AT+..."',
            );
          }
          open = commandStep(
            number,
            tokens[1].text,
            encodeLatin1(tokens[1].text),
          );
          steps.push(open);
          break;
        }
        case "expect": {
          const step = expectation(number, text, tokens, open);
          if (step) {
            steps.push(step);
            open = undefined;
          }
          break;
        }
        case "sendraw":
          open = sendRawStep(number, text, tokens);
          steps.push(open);
          break;
        case "wait":
          if (tokens.length !== 2) throw new LineError("wait takes one time");
          steps.push({
            kind: "wait",
            line: number,
            text,
            ms: parseTime(tokens[1].text),
          });
          open = undefined;
          break;
        case "default": {
          const m = /^default\s+([^=\s]+)=(.*)$/.exec(stripAtComment(body));
          if (!m || !NAME.test(m[1])) {
            throw new LineError("expected default NAME=VALUE");
          }
          if (!Object.hasOwn(vars, m[1])) {
            values.set(m[1], unquote(m[2].trim()));
          }
          break;
        }
        default:
          throw new LineError(
            /^at/i.test(word)
              ? `"${word}" is not a command: commands start with AT+ in capitals`
              : `unknown keyword "${word}" (expected AT+..., send, expect, sendraw, wait or default)`,
          );
      }
    } catch (e) {
      if (!(e instanceof LineError)) throw e;
      problems.push({ line: number, message: e.message });
      if (!/^\s*expect\b/.test(lines[i])) open = undefined;
    }
  }
  if (steps.length === 0 && problems.length === 0) {
    problems.push({ line: 0, message: "the script has no steps" });
  }
  return { steps, problems };
}

function isCommandLine(body: string): boolean {
  return /^(send\s+)?AT/.test(body) && !/^send\s+"/.test(body);
}

/** Replaces `${NAME}`; an unknown name is a problem of the line. */
function substitute(line: string, values: Map<string, string>): string {
  return line.replace(/\$\{([^}]*)\}/g, (_, name: string) => {
    if (!NAME.test(name)) {
      throw new LineError(`"\${${name}}" is not a variable name`);
    }
    const value = values.get(name);
    if (value === undefined) {
      throw new LineError(
        `\${${name}} is not set (give --var ${name}=VALUE or a default line)`,
      );
    }
    return value;
  });
}

/** A command line ends at a `#` that follows a space or tab. */
function stripAtComment(body: string): string {
  const m = /\s#/.exec(body);
  return (m ? body.slice(0, m.index) : body).trimEnd();
}

function commandStep(
  line: number,
  text: string,
  bytes: Uint8Array,
): CommandStep {
  if (bytes.includes(13) || bytes.includes(10)) {
    throw new LineError("a command line cannot contain CR or LF");
  }
  const parsed = parseCommandLine(bytes);
  if (parsed.kind === "unknown") {
    throw new LineError(
      `"${short(text)}" is not one of the nine Socket AT commands`,
    );
  }
  if (parsed.kind === "error") {
    throw new LineError(
      `${
        short(text)
      }: ${parsed.error.detail} (the module would answer ERROR: ${parsed.error.code})`,
    );
  }
  if (parsed.request.command === "SKTSENDRAW") {
    throw new LineError(
      'AT+SKTSENDRAW needs its payload: write sendraw LINK file PATH or sendraw LINK text "..."',
    );
  }
  return {
    kind: "command",
    line,
    text,
    request: parsed.request,
    final: undefined,
    lines: [],
  };
}

function expectation(
  line: number,
  text: string,
  tokens: Token[],
  open: CommandStep | SendRawStep | undefined,
): UrcStep | undefined {
  const what = tokens[1]?.text;
  const rest = tokens.slice(2);
  const within = takeWithin(rest);
  if (what === "urc") {
    if (rest.length !== 1) {
      throw new LineError('expected expect urc "TEXT" or /REGEX/');
    }
    return {
      kind: "urc",
      line,
      text,
      pattern: pattern(rest[0]),
      ...(within === undefined ? {} : { withinMs: within }),
    };
  }
  if (what === "line") {
    if (rest.length !== 1) {
      throw new LineError('expected expect line "TEXT" or /REGEX/');
    }
    if (within !== undefined) {
      throw new LineError(
        "lines come with the answer: put within on expect OK or ERROR",
      );
    }
    if (!open || open.kind !== "command") {
      throw new LineError(
        open
          ? "sendraw answers no information lines"
          : "expect line must follow a command line",
      );
    }
    open.lines.push({ line, text, pattern: pattern(rest[0]) });
    return undefined;
  }
  let final: FinalCheck;
  if (what === "OK" && rest.length === 0) {
    final = { line, text, kind: "ok" };
  } else if (
    what === "ERROR" || what === "ERROR:" || /^ERROR:\d+$/.test(what ?? "")
  ) {
    const codeText = what.length > 6 ? what.slice(6) : rest[0]?.text;
    if (rest.length > (what.length > 6 ? 0 : 1)) {
      throw new LineError("expected expect ERROR or expect ERROR: N");
    }
    final = { line, text, kind: "error" };
    if (codeText !== undefined) {
      if (!/^\d{1,4}$/.test(codeText)) {
        throw new LineError(`error code "${codeText}" is not a number`);
      }
      final.code = Number(codeText);
    } else if (what === "ERROR:") {
      throw new LineError("expect ERROR: needs a code (or write expect ERROR)");
    }
  } else {
    throw new LineError(
      "expected expect OK, expect ERROR[: N], expect line ... or expect urc ...",
    );
  }
  if (within !== undefined) final.withinMs = within;
  if (!open) {
    throw new LineError(
      `expect ${what} must follow a command line (or its expect line lines)`,
    );
  }
  if (open.final) {
    throw new LineError(
      `the command on line ${open.line} already expects ${
        open.final.text.slice(7)
      }`,
    );
  }
  open.final = final;
  return undefined;
}

/** Removes a trailing `within T` and returns T in ms. */
function takeWithin(tokens: Token[]): number | undefined {
  const at = tokens.findIndex((t) => t.kind === "word" && t.text === "within");
  if (at < 0) return undefined;
  if (at !== tokens.length - 2) {
    throw new LineError("within takes one time and ends the line");
  }
  const ms = parseTime(tokens[at + 1].text);
  tokens.splice(at, 2);
  return ms;
}

function sendRawStep(line: number, text: string, tokens: Token[]): SendRawStep {
  const usage =
    'expected sendraw LINK[,IP,PORT] file PATH or sendraw LINK[,IP,PORT] text "..."';
  if (tokens.length !== 4) throw new LineError(usage);
  const where = tokens[1].text.split(",");
  if (where.length !== 1 && where.length !== 3) throw new LineError(usage);
  if (!/^\d{1,2}$/.test(where[0]) || Number(where[0]) >= LINK_COUNT) {
    throw new LineError(`link id "${where[0]}" is not 0..${LINK_COUNT - 1}`);
  }
  const step: SendRawStep = {
    kind: "sendraw",
    line,
    text,
    linkId: Number(where[0]),
    payload: { kind: "file", path: "" },
    final: undefined,
  };
  if (where.length === 3) {
    const port = Number(where[2]);
    if (!isIPv4(where[1])) {
      throw new LineError(`"${where[1]}" is not an IPv4 address`);
    }
    if (!/^\d{1,5}$/.test(where[2]) || port < 1 || port > 65535) {
      throw new LineError(`port "${where[2]}" is not 1..65535`);
    }
    step.destination = { ip: where[1], port };
  }
  const source = tokens[3];
  if (tokens[2].text === "file" && tokens[2].kind === "word") {
    if (source.kind === "regex" || source.text === "") {
      throw new LineError("sendraw file needs a path");
    }
    step.payload = { kind: "file", path: source.text };
  } else if (tokens[2].text === "text" && tokens[2].kind === "word") {
    if (source.kind !== "string") {
      throw new LineError('sendraw text needs a quoted string: "..."');
    }
    const data = encodeLatin1(source.text);
    if (data.length === 0) {
      throw new LineError("AT+SKTSENDRAW needs at least one byte");
    }
    step.payload = { kind: "bytes", data };
  } else throw new LineError(usage);
  return step;
}

/** Parses `100ms`, `2s`, `1.5s`; throws for anything else. */
export function parseTime(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s)$/.exec(text);
  if (!m) {
    throw new LineError(`"${text}" is not a time (write 500ms or 2s)`);
  }
  const ms = Math.round(Number(m[1]) * (m[2] === "s" ? 1000 : 1));
  if (ms < 1 || ms > MAX_TIME_MS) {
    throw new LineError(`"${text}" is not from 1ms to 3600s`);
  }
  return ms;
}

function pattern(token: Token): Pattern {
  if (token.kind === "regex") return { kind: "regex", regex: token.regex! };
  if (token.kind === "string") return { kind: "text", text: token.text };
  throw new LineError(
    `"${token.text}": write the text in double quotes or a /regex/`,
  );
}

/** Describes a pattern for reports: `"text"` or `/regex/flags`. */
export function describePattern(p: Pattern): string {
  return p.kind === "text" ? JSON.stringify(p.text) : String(p.regex);
}

/** Whether a line fits a pattern (text: the whole line; regex: anywhere). */
export function matches(p: Pattern, line: string): boolean {
  return p.kind === "text" ? p.text === line : p.regex.test(line);
}

interface Token {
  kind: "word" | "string" | "regex";
  /** The value: the word, the unescaped string, or the regex source. */
  text: string;
  /** As written. */
  source: string;
  regex?: RegExp;
}

/** A /regex/ is read only where a pattern goes: after `expect line` or `expect urc`. */
function patternNext(tokens: Token[]): boolean {
  return tokens.length === 2 && tokens[0].text === "expect" &&
    (tokens[1].text === "line" || tokens[1].text === "urc");
}

/** Splits a keyword line into words, "strings" and /regexes/; stops at a comment. */
function tokenize(body: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < body.length) {
    if (/\s/.test(body[i])) {
      i++;
      continue;
    }
    const start = i;
    if (body[i] === "#") break;
    if (body[i] === '"') {
      const { text, end } = readString(body, i);
      i = end;
      tokens.push({ kind: "string", text, source: body.slice(start, i) });
    } else if (body[i] === "/" && patternNext(tokens)) {
      i++;
      let inClass = false;
      while (i < body.length && (inClass || body[i] !== "/")) {
        if (body[i] === "\\") i++;
        else if (body[i] === "[") inClass = true;
        else if (body[i] === "]") inClass = false;
        i++;
      }
      if (i >= body.length) throw new LineError("the /regex/ is not closed");
      const source = body.slice(start + 1, i);
      i++;
      const flagStart = i;
      while (i < body.length && /[a-z]/.test(body[i])) i++;
      const flags = body.slice(flagStart, i);
      if (/[gy]/.test(flags)) {
        throw new LineError("regex flags g and y are not allowed");
      }
      let regex: RegExp;
      try {
        // The module's lines are one character per byte: so is the regex.
        regex = new RegExp(decodeLatin1(encode(source)), flags);
      } catch (e) {
        throw new LineError(
          `bad regex /${source}/${flags}: ${
            (e as Error).message.replace(/^Invalid regular expression: /, "")
          }`,
        );
      }
      tokens.push({
        kind: "regex",
        text: source,
        source: body.slice(start, i),
        regex,
      });
    } else {
      while (i < body.length && !/\s/.test(body[i])) i++;
      const word = body.slice(start, i);
      tokens.push({ kind: "word", text: word, source: word });
      continue;
    }
    if (i < body.length && !/\s/.test(body[i])) {
      throw new LineError(`put a space after ${body.slice(start, i)}`);
    }
  }
  return tokens;
}

const ESCAPES: Record<string, number> = {
  '"': 0x22,
  "\\": 0x5c,
  r: 0x0d,
  n: 0x0a,
  t: 0x09,
  "0": 0x00,
};

/**
 * Reads a double-quoted string with \" \\ \r \n \t \0 \xNN escapes as
 * bytes (UTF-8 for the characters written, one byte per \xNN), returned
 * one character per byte (latin1), as the module's lines are decoded.
 */
function readString(body: string, at: number): { text: string; end: number } {
  let text = "";
  let i = at + 1;
  while (i < body.length && body[i] !== '"') {
    if (body[i] !== "\\") {
      const char = String.fromCodePoint(body.codePointAt(i)!);
      text += decodeLatin1(encode(char));
      i += char.length;
      continue;
    }
    const next = body[i + 1];
    if (next === "x" && /^[0-9a-fA-F]{2}$/.test(body.slice(i + 2, i + 4))) {
      text += String.fromCharCode(parseInt(body.slice(i + 2, i + 4), 16));
      i += 4;
    } else if (next !== undefined && next in ESCAPES) {
      text += String.fromCharCode(ESCAPES[next]);
      i += 2;
    } else {
      throw new LineError(
        `unknown escape \\${next ?? ""} (use \\" \\\\ \\r \\n \\t \\0 \\xNN)`,
      );
    }
  }
  if (i >= body.length) throw new LineError("the quoted string is not closed");
  return { text, end: i + 1 };
}

function unquote(value: string): string {
  if (!value.startsWith('"')) return value;
  const { text, end } = readString(value, 0);
  if (end !== value.length) throw new LineError("text after the quoted value");
  return new TextDecoder().decode(encodeLatin1(text));
}

function short(text: string): string {
  return text.length > 40 ? text.slice(0, 37) + "..." : text;
}
