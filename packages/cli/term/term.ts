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
  TargetError,
} from "../target.ts";
import { parseSeconds, UsageError } from "../usage.ts";
import { clock, logLine, type Shown, styleLine } from "./display.ts";
import { LineEditor } from "./editor.ts";
import { type SessionAction, TermSession } from "./session.ts";

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
}

/** Help text of `atsock term`. */
export const TERM_HELP = `atsock term: an interactive terminal to a module

Usage:
  atsock term <DEVICE | tcp:HOST:PORT> [--baud N] [--hex] [--timestamps]
              [--log FILE] [--timeout SECONDS]

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
  };
}

/** Opens the target; a missing device or refused connection is one line and `undefined`. */
async function open(
  options: TermOptions,
  fail: (message: string) => void,
): Promise<Transport | undefined> {
  try {
    return await openTarget(options.target, { baud: options.baud });
  } catch (e) {
    if (e instanceof TargetError) fail(e.message);
    else throw e;
    return undefined;
  }
}

const encoder = new TextEncoder();

function writeAllSync(
  file: { writeSync(p: Uint8Array): number },
  text: string,
) {
  const bytes = encoder.encode(text);
  let written = 0;
  while (written < bytes.length) {
    written += file.writeSync(bytes.subarray(written));
  }
}

/**
 * Payload bytes written per step. A High Watermark pauses sending after the
 * step in progress: on a serial line 256 bytes take 67 ms at 38400 baud.
 * Over TCP a module without flow control drops what its full buffer cannot
 * take, so steps are 8 KiB with an event-loop turn before each (the rule of
 * `AtDriver.sendRaw`, `packages/host/raw_pace.ts`).
 */
const SERIAL_CHUNK = 256;
const TCP_CHUNK = 8 * 1024;
/** Quiet time after a line that gets no known answer, in script mode. */
const SETTLE_MS = 300;
/** Quiet time awaited after connecting, and its bound. */
const STARTUP_QUIET_MS = 150;
const STARTUP_MAX_MS = 1000;

/**
 * Writes to the module in order: command lines, payload chunks (held while
 * the module's TT buffer is full) and the `<<<` abort.
 */
class Sender {
  #transport: Transport;
  #chain: Promise<void> = Promise.resolve();
  #paused = false;
  #resume: (() => void)[] = [];
  #onError: (e: unknown) => void;
  #chunk: number;

  constructor(
    transport: Transport,
    chunk: number,
    onError: (e: unknown) => void,
  ) {
    this.#transport = transport;
    this.#chunk = chunk;
    this.#onError = onError;
  }

  set paused(value: boolean) {
    this.#paused = value;
    if (!value) { for (const resume of this.#resume.splice(0)) resume(); }
  }

  /** Resolves when everything queued so far is written. */
  get idle(): Promise<void> {
    return this.#chain;
  }

  line(bytes: Uint8Array): void {
    this.#enqueue(() => this.#transport.write(bytes));
  }

  payload(bytes: Uint8Array): void {
    this.#enqueue(async () => {
      for (let at = 0; at < bytes.length; at += this.#chunk) {
        // A turn with its I/O poll, so a High Watermark is read first.
        if (at > 0) await delay(0);
        while (this.#paused) {
          await new Promise<void>((r) => this.#resume.push(r));
        }
        await this.#transport.write(bytes.subarray(at, at + this.#chunk));
      }
    });
  }

  abort(): void {
    this.#enqueue(async () => {
      // Three '<' one by one, each arriving alone (a pause before each),
      // then silence (the module waits for 30 ms of it).
      for (let i = 0; i < 3; i++) {
        await delay(20);
        await this.#transport.write(new Uint8Array([0x3c]));
      }
      await delay(60);
    });
  }

  #enqueue(job: () => Promise<void>): void {
    this.#chain = this.#chain.then(job).catch(this.#onError);
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
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
  let transport: Transport | undefined;
  let failed = false;
  try {
    transport = await open(options, (message) => {
      complain(message);
      failed = true;
    });
  } finally {
    if (!transport) log?.close();
  }
  if (!transport || failed) return 1;
  const interactive = Deno.stdin.isTerminal() && Deno.stdout.isTerminal();
  const shell = new Shell(options, transport, log, interactive);
  try {
    return await shell.run();
  } finally {
    await transport.close();
    try {
      log?.close();
    } catch { /* closed already, after a write error */ }
  }
}

/** The running session: one instance per `atsock term`. */
class Shell {
  #options: TermOptions;
  #transport: Transport;
  #log: Deno.FsFile | undefined;
  #interactive: boolean;
  #colour: boolean;
  #session: TermSession;
  #sender: Sender;
  #editor: LineEditor | undefined;
  #finish!: (status: number) => void;
  #finished: Promise<number>;
  #over = false;
  #closed = false;
  #status = 0;
  #changed: (() => void)[] = [];
  #lastInput = 0;
  #screenGone = false;

  constructor(
    options: TermOptions,
    transport: Transport,
    log: Deno.FsFile | undefined,
    interactive: boolean,
  ) {
    this.#options = options;
    this.#transport = transport;
    this.#log = log;
    this.#interactive = interactive;
    this.#colour = Deno.stdout.isTerminal() && !Deno.noColor;
    this.#session = new TermSession({
      hex: options.hex,
      timestamps: options.timestamps,
    });
    const chunk = options.target.kind === "tcp" ? TCP_CHUNK : SERIAL_CHUNK;
    this.#sender = new Sender(transport, chunk, (e) => {
      if (this.#over) return;
      this.#show([{
        kind: "warning",
        text: `writing to ${transport.name} failed: ${firstLine(e)}`,
      }]);
      this.#end(1);
    });
    this.#finished = new Promise((resolve) => (this.#finish = resolve));
  }

  async run(): Promise<number> {
    const reading = this.#readModule();
    this.#logOnly({
      kind: "note",
      text: `session on ${this.#transport.name} started`,
    });
    // Killed or hung up: end cleanly (the console leaves raw mode).
    const stops = ([["SIGTERM", 143], ["SIGHUP", 129]] as const).map(
      ([signal, status]) => {
        const stop = () => this.#end(status);
        Deno.addSignalListener(signal, stop);
        return () => Deno.removeSignalListener(signal, stop);
      },
    );
    // Let what the module prints on connection (ATCMD READY) come first, so
    // it is not taken for a restart while the first command is in flight.
    await this.#settle(STARTUP_QUIET_MS, STARTUP_MAX_MS);
    let status: number;
    try {
      if (this.#interactive) {
        status = await this.#runInteractive();
      } else {
        console.error(
          `atsock: connected to ${this.#transport.name}; reading commands from standard input`,
        );
        status = await this.#runScript();
      }
    } finally {
      for (const remove of stops) remove();
    }
    this.#over = true;
    this.#logOnly({ kind: "note", text: "session ended" });
    await this.#transport.close();
    await reading;
    return status;
  }

  /** Reads the module until the transport ends. */
  async #readModule(): Promise<void> {
    try {
      for await (const chunk of this.#transport.readable) {
        this.#lastInput = Date.now();
        this.#perform(this.#session.receive(chunk));
        this.#wake();
      }
    } catch (e) {
      if (!this.#over) {
        this.#show([{ kind: "warning", text: `read failed: ${firstLine(e)}` }]);
      }
    }
    this.#closed = true;
    this.#wake();
    if (!this.#over) {
      this.#show([{
        kind: "warning",
        text: `${this.#transport.name}: the connection closed`,
      }]);
      this.#end(1);
    }
  }

  /** Ends the session; its status is the highest of the reasons given. */
  #end(status: number): void {
    this.#over = true;
    this.#status = Math.max(this.#status, status);
    this.#finish(this.#status);
  }

  // ---- output ----

  #style(line: Shown): string {
    const time = this.#session.display.timestamps
      ? clock(new Date())
      : undefined;
    return styleLine(line, { colour: this.#colour, time });
  }

  #logOnly(line: Shown): void {
    if (!this.#log) return;
    try {
      writeAllSync(this.#log, logLine(line, new Date()) + "\n");
    } catch (e) {
      // Disk full or the like: say so once, and go on without the log.
      const log = this.#log;
      this.#log = undefined;
      log.close();
      this.#show([{
        kind: "warning",
        text: `the log file stopped: ${firstLine(e)}`,
      }]);
    }
  }

  /** Writes to the screen; if it is gone (a closed pipe), the session ends. */
  #out(text: string): void {
    if (this.#screenGone) return;
    try {
      writeAllSync(Deno.stdout, text);
    } catch {
      this.#screenGone = true;
      this.#end(1);
    }
  }

  #show(lines: Shown[]): void {
    if (lines.length === 0) return;
    for (const line of lines) this.#logOnly(line);
    const text = lines.map((line) => this.#style(line));
    if (this.#editor) {
      this.#out(
        this.#editor.hide() + text.map((t) => t + "\r\n").join("") +
          this.#editor.render(),
      );
    } else {
      this.#out(text.map((t) => t + "\n").join(""));
    }
  }

  /** Carries out the actions that need no waiting; returns those that do. */
  #perform(actions: SessionAction[]): SessionAction[] {
    const later: SessionAction[] = [];
    let lines: Shown[] = [];
    const flush = () => {
      this.#show(lines);
      lines = [];
    };
    for (const action of actions) {
      switch (action.type) {
        case "show":
          lines.push(action.line);
          break;
        case "send":
          this.#sender.line(action.bytes);
          break;
        case "send-payload":
          this.#sender.payload(action.bytes);
          break;
        case "abort-raw":
          this.#sender.abort();
          break;
        case "flow":
          this.#sender.paused = action.paused;
          break;
        default:
          later.push(action);
      }
    }
    flush();
    const prompt = this.#session.prompt;
    if (this.#editor && this.#editor.prompt !== prompt) {
      this.#out(this.#editor.setPrompt(prompt));
    }
    return later;
  }

  /** Carries out a line's actions, including reading files and sleeping. */
  async #performAll(actions: SessionAction[]): Promise<void> {
    for (const action of this.#perform(actions)) {
      switch (action.type) {
        case "quit":
          this.#end(0);
          return;
        case "sleep":
          await Promise.race([delay(action.ms), this.#finished]);
          break;
        case "read-file": {
          let bytes: Uint8Array;
          try {
            bytes = await Deno.readFile(action.path);
          } catch (e) {
            const why = isPermissionError(e)
              ? `permission denied (run with --allow-read=${action.path})`
              : e instanceof Deno.errors.NotFound
              ? "no such file"
              : firstLine(e);
            this.#show([{
              kind: "warning",
              text: `cannot read ${action.path}: ${why}`,
            }]);
            break;
          }
          await this.#performAll(
            action.link === undefined
              ? this.#session.payload(bytes, action.path)
              : this.#session.sendFile(action.link, bytes, action.path),
          );
          break;
        }
      }
    }
  }

  // ---- interactive ----

  async #runInteractive(): Promise<number> {
    const editor = new LineEditor({
      prompt: this.#session.prompt,
      columns: Deno.consoleSize().columns,
      complete: (before) => this.#session.complete(before),
      stylePrompt: this.#colour ? (p) => `\x1b[1m${p}\x1b[0m` : undefined,
    });
    Deno.stdin.setRaw(true);
    const resize = () => {
      try {
        this.#out(editor.setColumns(Deno.consoleSize().columns));
      } catch { /* not a terminal any more */ }
    };
    Deno.addSignalListener("SIGWINCH", resize);
    try {
      this.#show([{
        kind: "note",
        text:
          `connected to ${this.#transport.name}; :help for help, Ctrl-D to quit`,
      }]);
      this.#editor = editor;
      this.#out(editor.render());
      this.#readKeys(editor).catch((e) => {
        this.#show([{ kind: "warning", text: `input: ${firstLine(e)}` }]);
        this.#end(1);
      });
      await this.#finished;
      return this.#status;
    } finally {
      this.#editor = undefined;
      Deno.removeSignalListener("SIGWINCH", resize);
      this.#out(editor.hide());
      Deno.stdin.setRaw(false);
    }
  }

  async #readKeys(editor: LineEditor): Promise<void> {
    let flushTimer: ReturnType<typeof setTimeout> | undefined;
    try {
      await this.#keyLoop(editor, (timer) => {
        clearTimeout(flushTimer);
        flushTimer = timer;
      });
    } finally {
      clearTimeout(flushTimer);
    }
  }

  async #keyLoop(
    editor: LineEditor,
    setFlushTimer: (timer: ReturnType<typeof setTimeout> | undefined) => void,
  ): Promise<void> {
    const buf = new Uint8Array(4096);
    const over = this.#finished.then(() => "over" as const);
    while (!this.#over) {
      const n = await Promise.race([Deno.stdin.read(buf), over]);
      if (n === "over" || this.#over) return;
      if (n === null) {
        this.#end(0);
        return;
      }
      setFlushTimer(undefined);
      const out = editor.feed(buf.slice(0, n));
      this.#out(out.screen);
      for (const event of out.events) {
        switch (event.type) {
          case "submit":
            await this.#performAll(this.#session.submit(event.line));
            break;
          case "interrupt":
            this.#show([{
              kind: "note",
              text: "Ctrl-C again or Ctrl-D to quit",
            }]);
            break;
          case "quit":
            this.#end(0);
            return;
          case "clear-screen":
            break;
        }
        if (this.#over) return;
      }
      if (editor.pending > 0) {
        // A lone Escape: no more bytes will complete it.
        setFlushTimer(setTimeout(() => this.#out(editor.flush().screen), 50));
      }
    }
  }

  // ---- script ----

  async #runScript(): Promise<number> {
    const stop = () => this.#end(130);
    Deno.addSignalListener("SIGINT", stop);
    try {
      await Promise.race([this.#readScript(), this.#finished]);
      // Whatever ended the input, let the last writes go out.
      await this.#sender.idle;
      this.#end(0);
      return this.#status;
    } finally {
      Deno.removeSignalListener("SIGINT", stop);
    }
  }

  async #readScript(): Promise<void> {
    const lines = Deno.stdin.readable.pipeThrough(new TextDecoderStream())
      .pipeThrough(splitLines());
    for await (const line of lines) {
      if (this.#over || this.#closed) return;
      const actions = this.#session.submit(line);
      const expectsAnswer = actions.some((a) =>
        a.type === "send" && a.expect === "answer"
      );
      const sends = actions.some((a) => a.type === "send");
      await this.#performAll(actions);
      if (this.#over) return;
      await this.#sender.idle;
      if (expectsAnswer || this.#session.busy) await this.#waitAnswers();
      else if (sends) await this.#settle(SETTLE_MS, this.#options.timeoutMs);
    }
    await this.#waitAnswers();
    if (this.#session.inRaw && !this.#over) {
      this.#show([{
        kind: "warning",
        text: `input ended during AT+SKTSENDRAW: the module still waits for ${
          this.#session.rawLeft ?? "more"
        } bytes`,
      }]);
      this.#status = 1;
    }
  }

  /** Waits until no answer is awaited (or a payload is), timing out each. */
  async #waitAnswers(): Promise<void> {
    while (this.#session.busy && !this.#closed && !this.#over) {
      const waiting = this.#session.inFlight;
      const changed = await this.#waitChange(this.#options.timeoutMs);
      if (!changed && this.#session.inFlight === waiting) {
        this.#perform(this.#session.timeout(this.#options.timeoutMs / 1000));
        this.#status = 1;
      }
    }
  }

  /** Waits until the module has been quiet for `quietMs` (at most `maxMs`). */
  async #settle(quietMs: number, maxMs: number): Promise<void> {
    const start = Date.now();
    while (!this.#closed && !this.#over) {
      const now = Date.now();
      const quiet = now - Math.max(this.#lastInput, start);
      if (quiet >= quietMs || now - start >= maxMs) return;
      await delay(quietMs - quiet + 5);
    }
  }

  /** Resolves true when something arrives from the module, false after `ms`. */
  #waitChange(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        const at = this.#changed.indexOf(done);
        if (at >= 0) this.#changed.splice(at, 1);
        resolve(false);
      }, ms);
      const done = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.#changed.push(done);
    });
  }

  #wake(): void {
    for (const done of this.#changed.splice(0)) done();
  }
}

/** Splits text into lines on LF, dropping a CR before it. */
function splitLines(): TransformStream<string, string> {
  let rest = "";
  return new TransformStream({
    transform(chunk, controller) {
      rest += chunk;
      const lines = rest.split("\n");
      rest = lines.pop()!;
      for (const line of lines) controller.enqueue(line.replace(/\r$/, ""));
    },
    flush(controller) {
      if (rest) controller.enqueue(rest.replace(/\r$/, ""));
    },
  });
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
