/**
 * The module's console input: bytes from the console framed into command
 * lines and raw payload ({@linkcode CommandFramer}: echo and line editing
 * in Manual Test Mode), acted on one at a time, in order, with the input
 * held back while the console output is full; the shell's handling of a
 * line that names no command; and what happens when the console that sent
 * the input hangs up.
 *
 * @module
 */

import {
  CommandFramer,
  type CommandName,
  commandNameOf,
  type ConsoleEvent,
} from "@atsock/protocol";
import { dispatchedLine, emptyLine, unknownCommand } from "./log_service.ts";
import type { ConsoleOutput } from "./output.ts";

/** Console input held before the module stops taking more. */
const INPUT_HIGH_WATER = 64 * 1024;

/** What the module does with the console's input. */
export interface InputHandler {
  /** A line naming a command (after the shell's dispatch). */
  command(name: CommandName, line: Uint8Array): Promise<void>;
  /** Raw payload bytes (the framer is in raw mode). */
  raw(data: Uint8Array): Promise<void>;
  /** The console that sent the current input, in raw mode, has gone. */
  hangUp(): Promise<void>;
}

/** Options for {@linkcode ConsoleInput}. */
export interface ConsoleInputOptions {
  /** Manual Test Mode echoes and drops ESC; Host Control Mode does not. */
  mode: "manual" | "host";
  /** The line buffer, `UART_LOG_CMD_BUFLEN` (checked by `checkLineBufferSize`). */
  lineBuffer: number;
  /** Where echo and the shell's answers go. */
  output: ConsoleOutput;
  /** One-line notices for the operator. */
  log: (message: string) => void;
  /** What acts on the input. */
  handler: InputHandler;
  /** Keeps work the module waits for when it closes. */
  track: <T>(work: Promise<T>) => Promise<T>;
}

/** The console input of one module. */
export class ConsoleInput {
  readonly #mode: "manual" | "host";
  readonly #lineBuffer: number;
  readonly #output: ConsoleOutput;
  readonly #log: (message: string) => void;
  readonly #handler: InputHandler;
  readonly #track: <T>(work: Promise<T>) => Promise<T>;
  /** Console input being acted on. */
  #framer: CommandFramer;
  /** Input from consoles attached after the last one went, in order. */
  #laterInput: CommandFramer[] = [];
  #running = false;
  /** The loop acting on console input, while it runs. */
  #processing: Promise<void> | undefined;
  #closed = false;
  #waiters: (() => void)[] = [];
  #warnedStuck = false;

  /** Input as after power-up. */
  constructor(options: ConsoleInputOptions) {
    this.#mode = options.mode;
    this.#lineBuffer = options.lineBuffer;
    this.#output = options.output;
    this.#log = options.log;
    this.#handler = options.handler;
    this.#track = options.track;
    this.#framer = this.#newFramer();
  }

  /** The framer whose input is being acted on. */
  get current(): CommandFramer {
    return this.#framer;
  }

  /** Bytes of console input not yet processed. */
  get buffered(): number {
    let n = this.#framer.buffered;
    for (const framer of this.#laterInput) n += framer.buffered;
    return n;
  }

  /** Where new console input goes. */
  get #input(): CommandFramer {
    return this.#laterInput.at(-1) ?? this.#framer;
  }

  /**
   * Takes console bytes (kept: the caller must not reuse the buffer);
   * resolves when more may come.
   */
  push(bytes: Uint8Array): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#input.push(bytes);
    this.kick();
    if (this.buffered < INPUT_HIGH_WATER) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /**
   * The console has gone: once its whole lines are acted on, its partial
   * line is dropped (and a raw payload it left is hung up on). Input from
   * the next console starts afresh.
   */
  detach(): void {
    const input = this.#input;
    if (input.buffered > 0 || input.raw) {
      this.#laterInput.push(this.#newFramer());
      this.kick();
    }
  }

  /** Drops every byte not yet acted on (a module reset). */
  reset(): void {
    this.#framer = this.#newFramer();
    this.#warnedStuck = false;
    this.#laterInput = [];
    this.#release();
  }

  /** Takes no more input. */
  close(): void {
    this.#closed = true;
    this.#release();
  }

  /** Resolves once every complete command received so far has been acted on. */
  async idle(): Promise<void> {
    while (this.#processing && !this.#closed) {
      await this.#processing.catch(() => {}); // Its failure is reported where it happens.
    }
  }

  /** Acts on the input, unless that is already under way. */
  kick(): void {
    if (this.#running || this.#closed) return;
    this.#running = true;
    const processing = this.#track(this.#process());
    this.#processing = processing;
    processing.finally(() => {
      if (this.#processing === processing) this.#processing = undefined;
    }).catch(() => {});
  }

  /**
   * A framer for console input. In Manual Test Mode the console is the log
   * UART: the shell echoes what it reads and ESC never reaches it.
   */
  #newFramer(): CommandFramer {
    const manual = this.#mode === "manual";
    return new CommandFramer({
      lineBuffer: this.#lineBuffer,
      // firmware rule console-echo
      echo: manual ? (bytes) => this.#output.unsolicited(bytes) : undefined,
      dropEsc: manual,
    });
  }

  #release(): void {
    for (const resolve of this.#waiters.splice(0)) resolve();
  }

  async #process(): Promise<void> {
    try {
      while (true) {
        const event = this.#framer.next();
        if (event === undefined && this.#framer.stuck && !this.#warnedStuck) {
          // firmware rule console-stuck
          this.#warnedStuck = true;
          this.#log(
            `console: an LF (not after CR) filled the last place of the ${this.#lineBuffer}-byte line buffer: as the firmware, the console now ignores every byte until the module restarts (or a new TCP console client connects)`,
          );
        }
        if (event === undefined) {
          // Input from a console that has gone ends here.
          const next = this.#laterInput.shift();
          if (next === undefined) break;
          if (this.#framer.raw) await this.#handler.hangUp();
          if (this.#closed) return;
          this.#framer = next;
          this.#warnedStuck = false;
          continue;
        }
        await this.#handle(event);
        if (this.#closed) return;
        // A UART whose transmit buffer is full stalls the module: no more
        // input is taken until the console has read enough of the output,
        // so a console that never reads cannot make it grow without bound.
        await this.#output.waitForDrain();
        if (this.#closed) return;
        if (this.buffered < INPUT_HIGH_WATER) this.#release();
      }
    } finally {
      this.#running = false;
      this.#release();
    }
  }

  #handle(event: ConsoleEvent): Promise<void> | undefined {
    switch (event.type) {
      case "line":
        if (event.overflow) {
          // firmware rule console-overflow
          this.#log(
            `console: the ${this.#lineBuffer}-byte line buffer filled up; its ${event.line.length} bytes run as a command, the next byte is lost`,
          );
        }
        return this.#line(event.line);
      case "raw":
        return this.#handler.raw(event.data);
    }
  }

  /** A line: the shell's dispatch, then the command it names. */
  #line(line: Uint8Array): Promise<void> | undefined {
    const manual = this.#mode === "manual";
    // firmware rule console-manual-dispatch
    if (manual) line = dispatchedLine(line);
    const name = commandNameOf(line);
    if (name !== undefined) return this.#handler.command(name, line);
    // firmware rule console-unknown
    if (!manual) return; // Host Control Mode: the log UART says it.
    this.#output.beginAnswer();
    if (line.length === 0) this.#output.answer(emptyLine());
    else for (const part of unknownCommand(line)) this.#output.answer(part);
    this.#output.endAnswer();
  }
}
