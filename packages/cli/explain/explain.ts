/**
 * `atsock explain`: what a command line or a line of module output means,
 * field by field, and what the module answers. Pure: no permissions.
 *
 * @module
 */

import {
  COMMAND_NAMES,
  type CommandName,
  decodeLatin1,
  ERR,
  MAX_LINE_LENGTH,
} from "@atsock/protocol";
import {
  type DeclaredSubcommand,
  defineSubcommand,
  type OptionTable,
  type ParsedWords,
} from "../command.ts";
import { parseMode, UsageError } from "../usage.ts";
import { explainCommand } from "./command.ts";
import { EscapeError, showBytes, unescapeLine } from "./escapes.ts";
import { type Explanation, formatExplanation } from "./explanation.ts";
import { explainOutput } from "./output.ts";

/** Help text of `atsock explain`. */
export const EXPLAIN_HELP =
  `atsock explain: what a command or a line of module output means

Usage:
  atsock explain [--json] [--mode manual|host] [--command NAME] LINE
  atsock explain [--json] [--mode manual|host] [--command NAME] -

A command (a line starting with AT) is read as the module reads it: every
parameter with its name from the reference, the number read from it (like
C atoi: an empty field is 0, trailing junk is ignored; both are shown), its
meaning and range, and what the module answers and does, or exactly why it
answers ERROR: n. A line that is not a socket command gets no answer at all.

Any other line is read as module output: OK, ERROR: n (with its meaning for
each command, or for the one named by --command), the AT+SKTQUERY and
AT+SKTSTATE lines, +SKTREAD answers (TCP and UDP form), connect events,
[$][SKT][DATA] lines (TCP/TLS and UDP, length checked), >>>, ATCMD READY
and the [$][TT] watermarks.

Escapes: write control bytes as \\r, \\n, \\t, \\0 or \\xNN (two hex digits),
so binary DATA lines can be typed. A pair \\\\ and a backslash before
anything else are kept as typed, so the module's own escapes in AT+SKTSEND
data (\\, for a comma, \\\\ for a backslash) are written as they are sent.
A single backslash byte before r, n, t, 0 or x is \\x5c. One trailing CR LF
is ignored; a CR LF or NUL inside a line ends it as on the module (the rest
is reported as another line), except inside DATA and +SKTREAD payloads; a
lone CR or LF is a byte of the line, as on the module (shell_cmd_chk).

With -, lines are read from standard input, one explanation per line
(split at LF, a CR before it dropped, empty lines skipped).

Options:
  --json       one JSON document on stdout: for one LINE an object
               {line, kind, command, summary, fields: [{name, value, meaning,
               raw?, note?, problem?}], error: {code, meaning, detail} | null,
               answer, notes, valid}; with - an array of them
  --mode       the module's console mode: manual (Manual Test Mode, where
               AT+SKTSENDRAW is ERROR: ${ERR.SKTSENDRAW.TT_DATA}) or host (Host Control Mode);
               default: say what each mode does
  --command    the command an ERROR: n line answers (e.g. SKTCLIENT)
  -h, --help   this help

Examples:
  atsock explain 'AT+SKTSERVER=0,3,1,4433,1'
  atsock explain 'AT+SKTCFG=2000,2000x,,1,60,10,3'
  atsock explain 'AT+SKTSEND=0,4,,,a\\,bc'
  atsock explain --mode manual 'AT+SKTSENDRAW=0,6'
  atsock explain --command SKTCLIENT 'ERROR: 14'
  atsock explain '[$][SKT][DATA][1][4]:\\r\\n\\x00\\xff'
  atsock explain 'link_id:3,seed,tcp,src_address:0.0.0.0,src_port:0,dst_address:192.168.0.103,dst_port:49941,socket_fd:-1'
  atsock explain --json - < captured-lines.txt

Permissions: none (it reads only its arguments and standard input).

Exit status: 0 when every line is valid (a well-formed command or output
line), 1 when a command would be rejected or gets no answer, or an output
line is not one a module prints, 2 bad usage.
`;

/** Parsed `atsock explain` arguments. */
export interface ExplainOptions {
  /** The line as typed, or `-` for standard input. */
  line: string;
  /** JSON output. */
  json: boolean;
  /** The module's console mode, when given. */
  mode?: "manual" | "host";
  /** The command an `ERROR: <n>` answers, when given. */
  command?: CommandName;
}

/** The options of `atsock explain`. */
const EXPLAIN_OPTIONS = {
  json: { type: "boolean", default: false },
  mode: { type: "string" },
  command: { type: "string" },
} as const satisfies OptionTable;

/** Parses `atsock explain` arguments; throws {@linkcode UsageError}. */
export function parseExplainArgs(args: string[]): ExplainOptions | "help" {
  return explainSubcommand.parse(args);
}

/** Checks the parsed options of `atsock explain`. */
function explainOptions(
  { values, positionals }: ParsedWords<typeof EXPLAIN_OPTIONS>,
): ExplainOptions {
  if (positionals.length !== 1) {
    throw new UsageError(
      positionals.length === 0
        ? "give one line to explain (or - to read lines from stdin)"
        : `give one line to explain, not ${positionals.length} (quote it)`,
    );
  }
  const mode = values.mode === undefined ? undefined : parseMode(values.mode);
  let command: CommandName | undefined;
  if (values.command !== undefined) {
    const name = values.command.toUpperCase().replace(/^AT\+/, "");
    if (!(COMMAND_NAMES as readonly string[]).includes(name)) {
      throw new UsageError(
        `--command must be one of ${
          COMMAND_NAMES.join(", ")
        }, not "${values.command}"`,
      );
    }
    command = name as CommandName;
  }
  return { line: positionals[0], json: values.json!, mode, command };
}

const CR = 0x0d;
const LF = 0x0a;

function startsWith(bytes: Uint8Array, prefix: string): boolean {
  if (bytes.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) {
    if (bytes[i] !== prefix.charCodeAt(i)) return false;
  }
  return true;
}

/**
 * Explains one line given as bytes: a command (starting with `AT`, in any
 * case) or a line of module output.
 */
export function explainLine(
  line: Uint8Array,
  options: Pick<ExplainOptions, "mode" | "command"> = {},
): Explanation {
  let bytes = line;
  while (bytes.length > 0 && (bytes[0] === CR || bytes[0] === LF)) {
    bytes = bytes.subarray(1);
  }
  // Payload lines carry their own length and may hold CR and LF.
  if (startsWith(bytes, "[$][SKT][DATA]") || startsWith(bytes, "+SKTREAD:")) {
    return explainOutput(bytes, options);
  }
  if (bytes.length >= 2 && bytes.at(-2) === CR && bytes.at(-1) === LF) {
    bytes = bytes.subarray(0, -2);
  } else if (bytes.length >= 2 && bytes.at(-2) === LF && bytes.at(-1) === CR) {
    bytes = bytes.subarray(0, -2); // The shell's [MEM] line ends in LF CR.
  }
  const notes: string[] = [];
  // shell_cmd_chk: only CR LF or NUL ends a line; a lone CR or LF is a byte of it.
  let cut = -1;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] === 0 || (bytes[i] === CR && bytes[i + 1] === LF)) {
      cut = i;
      break;
    }
  }
  if (cut >= 0) {
    const end = bytes[cut] === 0 ? 1 : 2;
    notes.push(
      `the line ends at the ${
        end === 1 ? "NUL" : "CR LF"
      } after ${cut} bytes, as on the module; "${
        showBytes(bytes.subarray(cut + end), 60)
      }" after it is another line`,
    );
    bytes = bytes.subarray(0, cut);
  }
  if (bytes.length > MAX_LINE_LENGTH + 1) {
    notes.push(
      `the line buffer holds ${
        MAX_LINE_LENGTH + 2
      } bytes (UART_LOG_CMD_BUFLEN): its first ${
        MAX_LINE_LENGTH + 1
      } bytes run as a command as soon as the next byte comes, that byte is lost, and "${
        showBytes(bytes.subarray(MAX_LINE_LENGTH + 2), 60)
      }" is another line (explained here: the first ${
        MAX_LINE_LENGTH + 1
      } bytes)`,
    );
    bytes = bytes.subarray(0, MAX_LINE_LENGTH + 1);
  }
  if (bytes.includes(CR) || bytes.includes(LF)) {
    notes.push(
      "a lone CR or LF is a byte of the line (shell_cmd_chk): only CR LF or a NUL ends a line",
    );
  }
  let explanation: Explanation;
  if (bytes.length === 0) {
    explanation = {
      line: "",
      kind: "blank",
      command: null,
      summary:
        "an empty line: no command (Manual Test Mode prints the prompt \\r#, Host Control Mode nothing); in output, empty lines frame answers (\\r\\nOK\\r\\n)",
      fields: [],
      error: null,
      answer: null,
      notes: [],
      valid: true,
    };
  } else if (/^at(\+|$)/i.test(decodeLatin1(bytes.subarray(0, 3)))) {
    // AT+ lines (any case) and a bare AT.
    explanation = explainCommand(bytes, options);
  } else {
    explanation = explainOutput(bytes, options);
  }
  explanation.notes.push(...notes);
  return explanation;
}

/** Reads standard input as lines (LF-separated, a CR before the LF dropped, empty lines skipped). */
async function stdinLines(): Promise<string[]> {
  const text = await new Response(Deno.stdin.readable).text();
  return text.split("\n").map((l) => l.endsWith("\r") ? l.slice(0, -1) : l)
    .filter((l) => l.length > 0);
}

function unescapeOrThrow(text: string, where: string): Uint8Array {
  try {
    return unescapeLine(text);
  } catch (e) {
    if (e instanceof EscapeError) throw new UsageError(`${where}${e.message}`);
    throw e;
  }
}

/** Runs `atsock explain`; returns the exit status. */
export async function explain(options: ExplainOptions): Promise<number> {
  const fromStdin = options.line === "-";
  const texts = fromStdin ? await stdinLines() : [options.line];
  const lines = texts.map((text, i) =>
    unescapeOrThrow(text, fromStdin ? `line ${i + 1}: ` : "")
  );
  const explanations = lines.map((line) => explainLine(line, options));
  if (options.json) {
    console.log(
      JSON.stringify(fromStdin ? explanations : explanations[0], null, 2),
    );
  } else {
    console.log(explanations.map(formatExplanation).join("\n\n"));
  }
  return explanations.every((e) => e.valid) ? 0 : 1;
}

/** `atsock explain`. */
export const explainSubcommand: DeclaredSubcommand<ExplainOptions> =
  defineSubcommand({
    name: "explain",
    summary: "explain a command or a line of module output, field by field",
    help: EXPLAIN_HELP,
    options: EXPLAIN_OPTIONS,
    parse: explainOptions,
    action: explain,
  });
