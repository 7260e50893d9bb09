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
  encode,
  encodeLatin1,
  field,
  isIPv4,
  parseCommandLine,
  rangeProblem,
  rangeText,
} from "@atsock/protocol";
import {
  type CommandStep,
  type FinalCheck,
  MAX_TIME_MS,
  type Pattern,
  type Script,
  type ScriptProblem,
  type SendRawStep,
  type Step,
  type UrcStep,
} from "./steps.ts";
import { LineError, type Token, tokenize, unquote } from "./tokens.ts";

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** True for a valid variable name. */
export function isVariableName(name: string): boolean {
  return NAME.test(name);
}

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

/** The catalogue's `AT+SKTSENDRAW` link id and destination port. */
const LINK_ID = field("SKTSENDRAW", "link_id");
const PORT = field("SKTSENDRAW", "dst_port");

function sendRawStep(line: number, text: string, tokens: Token[]): SendRawStep {
  const usage =
    'expected sendraw LINK[,IP,PORT] file PATH or sendraw LINK[,IP,PORT] text "..."';
  if (tokens.length !== 4) throw new LineError(usage);
  const where = tokens[1].text.split(",");
  if (where.length !== 1 && where.length !== 3) throw new LineError(usage);
  if (!/^\d{1,2}$/.test(where[0]) || rangeProblem(LINK_ID, Number(where[0]))) {
    throw new LineError(`link id "${where[0]}" is not ${rangeText(LINK_ID)}`);
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
    if (!/^\d{1,5}$/.test(where[2]) || rangeProblem(PORT, port)) {
      throw new LineError(`port "${where[2]}" is not ${rangeText(PORT)}`);
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

function short(text: string): string {
  return text.length > 40 ? text.slice(0, 37) + "..." : text;
}
