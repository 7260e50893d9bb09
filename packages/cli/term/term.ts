/**
 * `atsock term`: an interactive terminal to a real or virtual module, on a
 * serial device or a TCP bridge. This file is the I/O shell: it opens the
 * target and the log, puts the console in raw mode and joins the line
 * editor, the session logic and the module's byte stream. With standard
 * input not a terminal it reads commands line by line instead, so it can be
 * scripted.
 *
 * @module
 */

import type { FlowControl } from "@atsock/protocol";

import type { Transport } from "@atsock/host";
import {
  type DeclaredSubcommand,
  defineSubcommand,
  type OptionTable,
  type ParsedWords,
} from "../command.ts";
import {
  firstLine,
  isPermissionError,
  oneTarget,
  openTarget,
  parseBaud,
  parseTarget,
  type Target,
} from "../target.ts";
import { parseFlowControl, parseSeconds, UsageError } from "../usage.ts";
import { Terminal } from "./terminal.ts";

/** Where the module is. */
export type TermTarget = Target;

export { parseTarget };

/** Parsed options of `atsock term`. */
export interface TermOptions {
  /** The module: a serial device or a TCP bridge. */
  target: TermTarget;
  /** Serial speed (default 38400). */
  baud: number;
  /** Payloads as hex dumps. */
  hex: boolean;
  /** A time in front of every line. */
  timestamps: boolean;
  /** Session log file, when given. */
  log?: string;
  /** How long to wait for an answer when reading commands from a pipe, in ms. */
  timeoutMs: number;
  /** The module's UART flow control (`rts`: payloads are written without pauses). */
  flowControl: FlowControl;
}

/** Help text of `atsock term`. */
export const TERM_HELP = `atsock term: an interactive terminal to a module

Usage:
  atsock term <DEVICE | tcp:HOST:PORT> [--baud N] [--hex] [--timestamps]
              [--log FILE] [--timeout SECONDS] [--flow-control none|rts]

Type AT commands; answers, unsolicited lines ([$]...) and the terminal's own
notes (# ...) are told apart by colour (not with NO_COLOR or when the output
is not a terminal: then by a prefix: "> " sent, "< " answer, "* " unsolicited,
"# " note). An ERROR: n is followed by "-> " and what the code means for the
command in flight. Binary payloads are shown escaped (\\r \\n \\xNN), or as a
hex dump with --hex. In Manual Test Mode the module's echo is not shown twice.

Target:
  DEVICE          a serial device, e.g. /dev/ttyUSB0, or the pty that
                  atsock emulate --console pty prints (8N1, raw)
  tcp:HOST:PORT   a serial-to-TCP bridge or atsock emulate --console tcp:...

Options:
  --baud N        serial speed (default 38400, the module's default)
  --hex           show payloads as a hex dump (:hex on|off switches)
  --timestamps    a time in front of every line (:timestamps on|off)
  --log FILE      append the session, both directions with ISO times, to FILE
  --timeout S     when reading commands from a pipe: how long the module
                  may stay silent before an answer is given up (default 10)
  --flow-control none|rts
                  the module's UART flow control (default none, the
                  firmware's): with rts, a serial device is opened with
                  RTS/CTS, and payloads over TCP are written without the
                  pause before each 8 KiB step that none needs so that no
                  byte is dropped; give it only when the module has RTS
                  (atsock emulate --flow-control rts)
  -h, --help      this help

Keys: Left/Right, Home/End, Ctrl-A/E, Backspace/Delete, Ctrl-U/K/W, Up/Down
history, Tab completes command names (twice: the choices; on a whole name:
its syntax), Ctrl-L clears the screen, Ctrl-C clears the line (twice on an
empty line: quit), Ctrl-D on an empty line quits.

Local commands:
  :help               the local commands and keys
  :quit               leave
  :hex on|off         payloads as hex dump or escaped text
  :timestamps on|off  a time in front of every line
  :sendfile PATH      after >>>: send the file's bytes as the payload
  :sendfile ID PATH   AT+SKTSENDRAW=ID,<size of the file>, then the file
                      (ID,IP,PORT for a UDP server)
  :abort              after >>>: abort the transfer (<<< then silence)
  :sleep MS           wait before the next line (for scripts)

After AT+SKTSENDRAW=<link_id>,<size> the module answers >>> and the prompt
counts the bytes left: type them (escapes \\r \\n \\t \\\\ \\xNN; Enter sends
no line end; a line starting with ":" is a local command, so write \\x3a for
a leading colon) or use :sendfile. More than announced is refused; sending
pauses between [$][TT]:High Watermark and Low Watermark.

Not a terminal: with standard input from a pipe or file, each line is sent
in turn once the previous one is answered; the command exits when input
ends and the last answer came (status 0; 1 if an answer timed out or the
connection closed, or input ended in the middle of a transfer).

Permissions: --allow-net for tcp: (narrow it: --allow-net=127.0.0.1),
--allow-ffi for a serial device (libc opens it), --allow-write=FILE for
--log, --allow-read=PATH for :sendfile.

Examples:
  atsock term /dev/ttyUSB0
  atsock term /dev/ttyUSB0 --baud 115200 --timestamps --log bench.log
  atsock term tcp:127.0.0.1:3333 --hex
  printf 'AT+SKTQUERY\\nAT+SKTSTATE\\n' | atsock term tcp:127.0.0.1:3333
`;

/** The options of `atsock term`. */
const TERM_OPTIONS = {
  baud: { type: "string" },
  hex: { type: "boolean", default: false },
  timestamps: { type: "boolean", default: false },
  log: { type: "string" },
  timeout: { type: "string" },
  "flow-control": { type: "string" },
} as const satisfies OptionTable;

/** Parses `atsock term` arguments; throws {@linkcode UsageError}. */
export function parseTermArgs(args: string[]): TermOptions | "help" {
  return termCommand.parse(args);
}

/** Checks the parsed options of `atsock term`. */
function termOptions(
  { values, positionals }: ParsedWords<typeof TERM_OPTIONS>,
): TermOptions {
  const target = oneTarget(positionals);
  const baud = parseBaud(values.baud, target);
  const timeoutMs = values.timeout === undefined
    ? 10000
    : Math.round(parseSeconds(values.timeout, "--timeout", 3600) * 1000);
  if (values.log === "") throw new UsageError("--log needs a file name");
  return {
    target,
    baud,
    hex: values.hex!,
    timestamps: values.timestamps!,
    log: values.log,
    timeoutMs,
    flowControl: parseFlowControl(values["flow-control"]) ?? "none",
  };
}

/** Runs the terminal; resolves the exit status. */
export async function term(options: TermOptions): Promise<number> {
  const complain = (message: string) => console.error(`atsock: ${message}`);
  let log: Deno.FsFile | undefined;
  if (options.log) {
    try {
      log = await Deno.open(options.log, {
        write: true,
        append: true,
        create: true,
      });
    } catch (e) {
      if (isPermissionError(e)) throw e;
      complain(`cannot open the log file ${options.log}: ${firstLine(e)}`);
      return 1;
    }
  }
  // A target that cannot be opened goes up to main as one line, status 1.
  let transport: Transport;
  try {
    transport = await openTarget(options.target, {
      baud: options.baud,
      rtscts: options.flowControl === "rts",
    });
  } catch (e) {
    log?.close();
    throw e;
  }
  const interactive = Deno.stdin.isTerminal() && Deno.stdout.isTerminal();
  const terminal = new Terminal(options, transport, log, interactive);
  try {
    return await terminal.start();
  } finally {
    await transport.close();
    try {
      log?.close();
    } catch { /* closed already, after a write error */ }
  }
}

/** `atsock term`. */
export const termCommand: DeclaredSubcommand<TermOptions> = defineSubcommand({
  name: "term",
  summary: "an interactive terminal to a module (serial device or tcp:)",
  help: TERM_HELP,
  options: TERM_OPTIONS,
  parse: termOptions,
  action: term,
});
