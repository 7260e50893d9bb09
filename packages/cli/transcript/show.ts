/**
 * `atsock transcript show FILE`: a transcript as a person reads it: one
 * line a record with its time, its direction (coloured on a terminal),
 * console bytes with CR and LF shown, binary as hex, filters by link and
 * direction.
 *
 * @module
 */

import {
  decodeLatin1,
  field,
  isPrintable,
  rangeProblem,
  rangeText,
  type TranscriptRecord,
} from "@atsock/protocol";
import { readTranscript } from "@atsock/host";
import {
  type DeclaredSubcommand,
  defineSubcommand,
  type OptionTable,
  type ParsedWords,
  parseWords,
} from "../command.ts";
import { UsageError } from "../usage.ts";

/** Help text of `atsock transcript`. */
export const TRANSCRIPT_HELP = `atsock transcript: read transcripts

Usage:
  atsock transcript show FILE [--link N] [--dir h2m|m2h|net|fault] [--hex]
                              [--no-color]

show prints one line a record: the time in ms since the start, the time
since the previous record shown, the direction (h2m host to module, m2h
module to host, net a link's network event, fault a fault that fired) and
what happened. Console bytes are shown with \\r and \\n; bytes that are not
printable ASCII are shown as hex.

Options:
  --link N    only link N: its network events, the console lines that name
              it, and the faults that act on it
  --dir D     only records of this direction
  --hex       show every payload as hex
  --no-color  no colours (also without a terminal, or with NO_COLOR set)
  -h, --help  this help

Examples:
  atsock transcript show session.jsonl
  atsock transcript show session.jsonl --link 0 --dir net
`;

/** Parsed options of `atsock transcript show`. */
export interface ShowOptions {
  /** The transcript file. */
  file: string;
  /** Only this link. */
  link?: number;
  /** Only this direction. */
  dir?: "h2m" | "m2h" | "net" | "fault";
  /** Payloads as hex. */
  hex: boolean;
  /** Colours. */
  color: boolean;
}

/** The catalogue's link id: the range of `--link`. */
const LINK_ID = field("SKTDEL", "link_id");

/** The options of `atsock transcript`. */
const TRANSCRIPT_OPTIONS = {
  link: { type: "string" },
  dir: { type: "string" },
  hex: { type: "boolean" },
  "no-color": { type: "boolean" },
} as const satisfies OptionTable;

/** Parses `atsock transcript ...` arguments; throws {@linkcode UsageError}. */
export function parseTranscriptArgs(
  args: string[],
  terminal = false,
): ShowOptions | "help" {
  const words = parseWords(args, TRANSCRIPT_OPTIONS);
  return words === "help" ? "help" : showOptions(words, terminal);
}

/** Checks the parsed options of `atsock transcript`; colours only on a `terminal`. */
function showOptions(
  { values, positionals }: ParsedWords<typeof TRANSCRIPT_OPTIONS>,
  terminal: boolean,
): ShowOptions {
  const [verb, file, ...rest] = positionals;
  if (verb !== "show") {
    throw new UsageError(
      verb === undefined
        ? "expected show FILE"
        : `unknown transcript command "${verb}" (expected show)`,
    );
  }
  if (file === undefined || rest.length > 0) {
    throw new UsageError("expected one transcript FILE");
  }
  const options: ShowOptions = {
    file,
    hex: values.hex ?? false,
    color: terminal && !values["no-color"] && !Deno.noColor,
  };
  if (values.link !== undefined) {
    if (
      !/^\d{1,2}$/.test(values.link) ||
      rangeProblem(LINK_ID, Number(values.link))
    ) {
      throw new UsageError(
        `--link must be a link id ${rangeText(LINK_ID)}, not "${values.link}"`,
      );
    }
    options.link = Number(values.link);
  }
  if (values.dir !== undefined) {
    const dir = values.dir;
    if (dir !== "h2m" && dir !== "m2h" && dir !== "net" && dir !== "fault") {
      throw new UsageError(
        `--dir must be h2m, m2h, net or fault, not "${dir}"`,
      );
    }
    options.dir = dir;
  }
  return options;
}

const COLORS: Record<string, string> = {
  h2m: "\x1b[36m",
  m2h: "\x1b[32m",
  net: "\x1b[33m",
  fault: "\x1b[1;31m",
  dropped: "\x1b[1;31m",
  peer: "\x1b[35m",
};
const DIM = "\x1b[2m";
const RESET = "\x1b[0m";

const LINK_PATTERNS = [
  /^AT\+SKT(?:SERVER|CLIENT|SEND|READ|SENDRAW|DEL)=(\d+)/,
  /\[\$\]\[SKT\]\[DATA\]\[(\d+)\]/,
  /^\+SKTREAD:(\d+),/,
  /link_id:(\d+)/,
];

/** Whether a console line names link `link`. */
function namesLink(line: string, link: number): boolean {
  return LINK_PATTERNS.some((pattern) => {
    const m = pattern.exec(line);
    return m !== null && Number(m[1]) === link;
  });
}

function hex(data: Uint8Array): string {
  return [...data].map((b) => b.toString(16).padStart(2, "0")).join(" ");
}

function bytes(data: Uint8Array, asHex: boolean): string {
  if (asHex || !isPrintable(data)) return `[${data.length} bytes] ${hex(data)}`;
  return JSON.stringify(decodeLatin1(data)).slice(1, -1);
}

/** The records to show, console records cut into lines when filtering by link. */
function select(
  records: TranscriptRecord[],
  options: ShowOptions,
): TranscriptRecord[] {
  const out: TranscriptRecord[] = [];
  for (const record of records) {
    if (options.dir && record.dir !== options.dir) continue;
    if (options.link === undefined) {
      out.push(record);
      continue;
    }
    const link = options.link;
    if (record.dir === "net") {
      if (record.link === link) out.push(record);
    } else if (record.dir === "fault") {
      if (new RegExp(`\\blink ${link}\\b`).test(record.detail)) {
        out.push(record);
      }
    } else if (record.dir === "h2m" || record.dir === "m2h") {
      const text = decodeLatin1(record.data);
      if (text.split("\n").some((line) => namesLink(line, link))) {
        out.push(record);
      }
    }
  }
  return out;
}

/** Formats one record for a person. */
export function formatRecord(
  record: TranscriptRecord,
  previous: number,
  options: Pick<ShowOptions, "hex" | "color">,
): string {
  const time = `${record.t.toFixed(3).padStart(10)} ${
    ("+" + (record.t - previous).toFixed(3)).padStart(10)
  }`;
  let body: string;
  switch (record.dir) {
    case "h2m":
    case "m2h":
      body = bytes(record.data, options.hex);
      break;
    case "net": {
      const parts = [`link ${record.link} ${record.event}`];
      if (record.kind) parts.push(record.kind);
      if (record.peer) parts.push(record.peer);
      if (record.by) parts.push(`by ${record.by}`);
      if (record.bytes !== undefined) parts.push(`${record.bytes} bytes`);
      if (record.data) parts.push(bytes(record.data, options.hex));
      body = parts.join(" ");
      break;
    }
    case "fault":
      body = `#${record.fault} ${record.action}: ${record.detail}`;
      break;
    case "dropped":
      body = `${record.count} records lost (the file could not keep up)`;
      break;
    case "peer": {
      const parts = [`${record.name} ${record.do}`];
      if (record.proto) parts.push(record.proto);
      if (record.port !== undefined) parts.push(`port ${record.port}`);
      if (record.to !== undefined) parts.push(`to ${record.to}`);
      if (record.from !== undefined) parts.push(`from ${record.from}`);
      if (record.data) parts.push(bytes(record.data, options.hex));
      if (record.held) parts.push("(held)");
      body = parts.join(" ");
      break;
    }
  }
  const dir = record.dir.padEnd(5);
  if (!options.color) return `${time}  ${dir} ${body}`;
  return `${DIM}${time}${RESET}  ${COLORS[record.dir]}${dir} ${body}${RESET}`;
}

/** Runs `atsock transcript show`; resolves the exit status. */
async function show(options: ShowOptions): Promise<number> {
  const transcript = await readTranscript(options.file);
  const h = transcript.header;
  const about = [
    `transcript v${h.version}`,
    h.started ? `started ${h.started}` : undefined,
    h.mode ? `mode ${h.mode}` : undefined,
    h.ip ? `ip ${h.ip}` : undefined,
    h.seed !== undefined ? `fault seed ${h.seed}` : undefined,
  ].filter((x) => x !== undefined);
  const lines = [about.join(", ")];
  let previous = 0;
  for (const record of select(transcript.records, options)) {
    lines.push(formatRecord(record, previous, options));
    previous = record.t;
  }
  console.log(lines.join("\n"));
  return 0;
}

/** `atsock transcript`. */
export const transcriptCommand: DeclaredSubcommand<ShowOptions> =
  defineSubcommand({
    name: "transcript",
    summary: "show a transcript recorded with emulate --transcript",
    help: TRANSCRIPT_HELP,
    options: TRANSCRIPT_OPTIONS,
    parse: (words) => showOptions(words, Deno.stdout.isTerminal()),
    action: show,
  });
