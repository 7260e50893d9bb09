/**
 * The running `atsock term` session: joins the line editor (or, when
 * standard input is not a terminal, lines read from it), the session logic
 * and the module's byte stream; shows and logs what happens.
 *
 * @module
 */

import type { Transport } from "@atsock/host";
import { firstLine, isPermissionError } from "../target.ts";
import { clock, logLine, type Shown, styleLine } from "./display.ts";
import { LineEditor } from "./editor.ts";
import { delay, Sender, SERIAL_CHUNK, TCP_CHUNK } from "./sender.ts";
import { type SessionAction, TermSession } from "./session.ts";
import type { TermOptions } from "./term.ts";

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

/** Quiet time after a line that gets no known answer, in script mode. */
const SETTLE_MS = 300;
/** Quiet time awaited after connecting, and its bound. */
const STARTUP_QUIET_MS = 150;
const STARTUP_MAX_MS = 1000;

/** The running session: one instance per `atsock term`. */
export class Terminal {
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
    const paced = options.flowControl !== "rts";
    this.#sender = new Sender(transport, chunk, paced, (e) => {
      if (this.#over) return;
      this.#show([{
        kind: "warning",
        text: `writing to ${transport.name} failed: ${firstLine(e)}`,
      }]);
      this.#end(1);
    });
    this.#finished = new Promise((resolve) => (this.#finish = resolve));
  }

  /** Runs the session until the user quits or the connection ends; resolves the exit status. */
  async start(): Promise<number> {
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
        status = await this.#withKeys();
      } else {
        console.error(
          `atsock: connected to ${this.#transport.name}; reading commands from standard input`,
        );
        status = await this.#piped();
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

  // ---- interactive: keys through the line editor ----

  async #withKeys(): Promise<number> {
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

  // ---- commands from a pipe (standard input not a terminal) ----

  async #piped(): Promise<number> {
    const stop = () => this.#end(130);
    Deno.addSignalListener("SIGINT", stop);
    try {
      await Promise.race([this.#readPipedLines(), this.#finished]);
      // Whatever ended the input, let the last writes go out.
      await this.#sender.idle;
      this.#end(0);
      return this.#status;
    } finally {
      Deno.removeSignalListener("SIGINT", stop);
    }
  }

  async #readPipedLines(): Promise<void> {
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
