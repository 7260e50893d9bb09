/**
 * Replaying a transcript, the pure part: the host side becomes a script of
 * sends and expected answers, with the ports and the module's address
 * abstracted as placeholders (`${PORT0}`, `${IP}`), and the module's
 * output is matched against the expected answers line by line. No I/O:
 * `atsock replay` and the conformance suite drive the bytes.
 *
 * @module
 */

import { decodeLatin1, encodeLatin1 } from "./bytes.ts";
import { parseCommandLine } from "./parse.ts";
import type { PeerAction, PeerRecord, Transcript } from "./transcript.ts";

/** Text with placeholders: literal strings and named variables. */
export type Template = (string | { name: string })[];

/** A network peer's action in a replay, its ports named by placeholder. */
export interface PeerStep {
  /** What the peer does. */
  do: PeerAction;
  /** The peer's name. */
  name: string;
  /** `listen`, `connect`: the protocol. */
  proto?: "tcp" | "udp" | "tls";
  /** `listen`: the placeholder the peer's listening port binds. */
  port?: string;
  /** `connect`: the placeholder of the module's port. */
  to?: string;
  /** `connect`: the placeholder the peer's own port binds. */
  from?: string;
  /** `send`, `expect`: the bytes. */
  data?: Uint8Array;
  /** `send`: the module keeps the bytes; wait until it holds them. */
  held?: boolean;
}

/** One step of a replay. */
export interface ReplayStep {
  /** `send`: the host writes; `expect`: the module must print; `peer`: a network peer acts. */
  kind: "send" | "expect" | "peer";
  /** The bytes (latin1 text) with placeholders (empty for `peer`). */
  template: Template;
  /** The transcript line (1-based) where the step starts. */
  line: number;
  /** `peer`: the action. */
  peer?: PeerStep;
}

/** The host side of a transcript, ready to replay. */
export interface ReplayScript {
  /** Sends and expected answers, in order. */
  steps: ReplayStep[];
  /** Each placeholder's recorded value (the default for sends). */
  recorded: Record<string, string>;
}

/** Port numbers below this are never abstracted (link ids, sizes and codes look like them). */
const MIN_PORT = 1024;

const M2H_PORTS = [
  /(?:src_port|dst_port):(\d+)/g,
  /\+SKTREAD:\d+,\d+,[\d.]+,(\d+),/g,
  /\[\$\]\[SKT\]\[DATA\]\[\d+\]\[\d+\]\[[\d.]+\]\[(\d+)\]/g,
];

/**
 * Turns a transcript into a replay script: console records and peer
 * actions, runs of one direction joined, ports (from the host's commands,
 * the module's state lines, events and reads, and the peers' records)
 * named `PORT0`, `PORT1`... in order of first appearance, the module's own
 * address (header `ip`) named `IP` where the module prints it as its own
 * (`src_address:`), and the peers' address (header `peer`) named `PEER`.
 */
export function replayScript(transcript: Transcript): ReplayScript {
  const runs: {
    kind: "send" | "expect" | "peer";
    text: string;
    line: number;
    peer?: PeerRecord;
  }[] = [];
  transcript.records.forEach((record, i) => {
    if (record.dir === "peer") {
      runs.push({
        kind: "peer",
        text: "",
        line: transcript.lines[i],
        peer: record,
      });
      return;
    }
    if (record.dir !== "h2m" && record.dir !== "m2h") return;
    const kind = record.dir === "h2m" ? "send" : "expect";
    const text = decodeLatin1(record.data);
    const last = runs[runs.length - 1];
    if (last?.kind === kind) last.text += text;
    else runs.push({ kind, text, line: transcript.lines[i] });
  });
  const ports: string[] = [];
  const see = (port: number | string | undefined) => {
    const text = String(port ?? "");
    if (
      /^\d+$/.test(text) && Number(text) >= MIN_PORT && !ports.includes(text)
    ) {
      ports.push(text);
    }
  };
  for (const run of runs) {
    if (run.peer) {
      see(run.peer.port);
      see(run.peer.to);
      see(run.peer.from);
    } else if (run.kind === "send") {
      for (const line of run.text.split(/\r\n|\r|\n/)) {
        const parsed = parseCommandLine(encodeLatin1(line));
        if (parsed.kind !== "request") continue;
        const r = parsed.request;
        if (r.command === "SKTSERVER") see(r.port);
        if (r.command === "SKTCLIENT") {
          see(r.port);
          see(r.localPort);
        }
        if (r.command === "SKTSEND" || r.command === "SKTSENDRAW") {
          see(r.destination?.port);
        }
      }
    } else {
      for (const pattern of M2H_PORTS) {
        for (const m of run.text.matchAll(pattern)) see(m[1]);
      }
    }
  }
  const recorded: Record<string, string> = {};
  ports.forEach((port, i) => (recorded[`PORT${i}`] = port));
  const ip = transcript.header.ip;
  if (ip && runHas(runs, `src_address:${ip}`)) recorded.IP = ip;
  const peer = transcript.header.peer;
  if (peer) recorded.PEER = peer;
  const name = (port: number | undefined) =>
    port === undefined ? undefined : `PORT${ports.indexOf(String(port))}`;
  const steps = runs.map((run): ReplayStep => {
    if (run.peer) {
      const { t: _t, dir: _dir, port, to, from, ...rest } = run.peer;
      const step: PeerStep = { ...rest };
      if (port !== undefined) step.port = name(port);
      if (to !== undefined) step.to = name(to);
      if (from !== undefined) step.from = name(from);
      return { kind: "peer", line: run.line, template: [], peer: step };
    }
    return {
      kind: run.kind,
      line: run.line,
      template: abstract(
        run.text,
        ports,
        run.kind === "expect" ? ip : undefined,
        peer,
      ),
    };
  });
  return { steps, recorded };
}

function runHas(runs: { kind: string; text: string }[], ip: string): boolean {
  return runs.some((run) => run.kind === "expect" && run.text.includes(ip));
}

/** Replaces port numbers (between `,` `:` `[` and `,` `]` or a line end) and the address. */
function abstract(
  text: string,
  ports: string[],
  ip: string | undefined,
  peer: string | undefined,
): Template {
  const out: Template = [];
  let literal = "";
  const pattern = /\d+(?:\.\d+){3}|\d+/g;
  let at = 0;
  for (const m of text.matchAll(pattern)) {
    const token = m[0];
    const start = m.index!;
    const end = start + token.length;
    const before = text[start - 1] ?? "";
    const after = text[end] ?? "";
    let name: string | undefined;
    if (token.includes(".")) {
      const own = text.slice(Math.max(0, start - 12), start) === "src_address:";
      if (ip !== undefined && token === ip && own) name = "IP";
      else if (peer !== undefined && token === peer) name = "PEER";
    } else if (
      ports.includes(token) && /[,:[]/.test(before) &&
      (after === "" || /[,\]\r\n]/.test(after))
    ) name = `PORT${ports.indexOf(token)}`;
    if (name === undefined) continue;
    literal += text.slice(at, start);
    if (literal) out.push(literal);
    literal = "";
    out.push({ name });
    at = end;
  }
  literal += text.slice(at);
  if (literal) out.push(literal);
  return out;
}

/** The template as text: placeholders as given in `values`, else as `${NAME}`. */
export function renderTemplate(
  template: Template,
  values: Record<string, string> = {},
): string {
  return template.map((part) =>
    typeof part === "string" ? part : values[part.name] ?? `\${${part.name}}`
  ).join("");
}

/** The placeholders a template uses. */
export function templateNames(template: Template): string[] {
  return template.flatMap((part) =>
    typeof part === "string" ? [] : [part.name]
  );
}

/** The outcome of matching expected output against what a module printed. */
export type MatchResult =
  | {
    /** Every expected line matched. */
    status: "match";
    /** Characters of `got` the expected output took. */
    consumed: number;
    /** Placeholders bound by this match (to add to the caller's). */
    bound: Record<string, string>;
  }
  | {
    /** So far so good; more output is needed. */
    status: "more";
  }
  | {
    /** A line differs. */
    status: "differ";
    /** Index of the first differing line. */
    index: number;
    /** Expected lines (line ends kept), placeholders rendered with what is bound. */
    expected: string[];
    /** Lines printed (line ends kept). */
    got: string[];
  };

/** Splits text into lines that keep their `\n` (the last one may have none). */
export function splitLines(text: string): string[] {
  const lines: string[] = [];
  let start = 0;
  for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", start)) {
    lines.push(text.slice(start, i + 1));
    start = i + 1;
  }
  if (start < text.length) lines.push(text.slice(start));
  return lines;
}

function templateLines(template: Template): Template[] {
  const lines: Template[] = [[]];
  for (const part of template) {
    if (typeof part !== "string") {
      lines[lines.length - 1].push(part);
      continue;
    }
    const pieces = splitLines(part);
    for (const piece of pieces) {
      lines[lines.length - 1].push(piece);
      if (piece.endsWith("\n")) lines.push([]);
    }
  }
  if (lines[lines.length - 1].length === 0) lines.pop();
  return lines;
}

const CAPTURE: Record<string, string> = {
  IP: "(\\d{1,3}(?:\\.\\d{1,3}){3})",
  PEER: "(\\d{1,3}(?:\\.\\d{1,3}){3})",
};

function lineMatches(
  template: Template,
  got: string,
  bound: Record<string, string>,
): boolean {
  const names: string[] = [];
  let source = "^";
  for (const part of template) {
    if (typeof part === "string") {
      source += part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    } else if (bound[part.name] !== undefined) {
      source += bound[part.name].replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    } else {
      names.push(part.name);
      source += CAPTURE[part.name] ?? "(\\d{1,5})";
    }
  }
  const m = new RegExp(source + "$").exec(got);
  if (!m) return false;
  for (let i = 0; i < names.length; i++) {
    const prior = bound[names[i]];
    if (prior !== undefined && prior !== m[i + 1]) return false;
    bound[names[i]] = m[i + 1];
  }
  return true;
}

/**
 * Matches the expected output of one step against the start of what the
 * module printed since the previous step. Placeholders in `values` must
 * equal their value; others match any port (or address, for `IP`) and are
 * bound by the match, the same value everywhere.
 */
export function matchExpected(
  expected: Template,
  got: string,
  values: Readonly<Record<string, string>> = {},
): MatchResult {
  const bound: Record<string, string> = { ...values };
  const want = templateLines(expected);
  const have = splitLines(got);
  let consumed = 0;
  for (let i = 0; i < want.length; i++) {
    if (i >= have.length) return { status: "more" };
    const line = have[i];
    const last = want[i][want[i].length - 1];
    const wantsEnd = typeof last === "string" && last.endsWith("\n");
    if (!line.endsWith("\n") && wantsEnd) return { status: "more" };
    if (!lineMatches(want[i], line, bound)) {
      if (!line.endsWith("\n")) return { status: "more" };
      return {
        status: "differ",
        index: i,
        expected: want.map((l) => renderTemplate(l, bound)),
        got: have,
      };
    }
    consumed += line.length;
  }
  const added: Record<string, string> = {};
  for (const [name, value] of Object.entries(bound)) {
    if (values[name] === undefined) added[name] = value;
  }
  return { status: "match", consumed, bound: added };
}
