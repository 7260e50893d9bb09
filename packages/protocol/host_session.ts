/**
 * The host's side of a conversation with a module, without I/O (in the
 * manner of h11 and quinn-proto): bytes from the module go in with
 * {@linkcode HostSession.receive}, events come out; a command to send goes
 * in with {@linkcode HostSession.send} and its line comes out to be
 * written. The session matches answer lines to the command in flight,
 * handles a module restart (`ATCMD READY`), keeps the mirror of which
 * links are UDP (a `+SKTREAD` answer of a UDP link names the sender), and
 * bounds what a pending answer may hold. It never sets a timer: the
 * command in flight carries a deadline ({@linkcode HostSession.deadline}),
 * and the caller reports the time with {@linkcode HostSession.timeout}.
 *
 * @module
 */

import type { CommandName } from "./commands.ts";
import { formatRequest } from "./format_request.ts";
import {
  type ModuleEvent,
  OutputParser,
  type OutputParserOptions,
} from "./output_parser.ts";
import type { LinkState, Request } from "./types.ts";

/**
 * The most bytes of information lines and unparsable bytes a pending
 * answer may collect (64 KiB). The longest real answer, `AT+SKTSTATE` with
 * all 20 links, is about 2 KiB; a `+SKTREAD` answer's data is bounded
 * separately by the parser (`MAX_PAYLOAD_LENGTH`).
 */
export const MAX_ANSWER_BYTES = 64 * 1024;

/** The first information line of the `AT+SKTQUERY` block: what a resync waits for. */
export const QUERY_BLOCK_TITLE = "Global SOCKET configuration:";

/** An unsolicited event: connect, DATA, watermark, ready, other `[$]` lines, garbage. */
export type UnsolicitedEvent = Extract<
  ModuleEvent,
  { type: "connect" | "data" | "watermark" | "ready" | "urc" | "garbage" }
>;

/** What an answer carried besides its final OK. */
export interface Answer {
  /** Information lines (SKTQUERY, SKTSTATE). */
  lines: string[];
  /** The `+SKTREAD` data, if any. */
  read?: Extract<ModuleEvent, { type: "read" }>;
}

/** The command in flight, as the session tracks it. */
export interface PendingCommand {
  /** The command line sent, shortened (or `resync`, `<<<`): names it in errors. */
  readonly name: string;
  /** The command, when it is one of the nine. */
  readonly command: CommandName | undefined;
  /** Whether this is a resync (`AT+SKTQUERY` waiting for its block). */
  readonly resync: boolean;
}

/** How a command in flight ended. */
export type Settlement =
  | {
    /** `OK` (for a resync: the `AT+SKTQUERY` block and its OK). */
    kind: "ok";
    /** The answer. */
    answer: Answer;
  }
  | {
    /** `ERROR: <code>`. */
    kind: "error";
    /** The code. */
    code: number;
  }
  | {
    /** `ATCMD READY`: the module restarted; every link is gone. */
    kind: "reset";
  }
  | {
    /** The answer held more than the limit: the module prints garbage. */
    kind: "too-large";
    /** The limit in bytes. */
    limit: number;
  };

/** What {@linkcode HostSession.receive} gives out. */
export type HostSessionEvent =
  | UnsolicitedEvent
  | {
    /** The command in flight ended; the session no longer holds it. */
    type: "settled";
    /** The command. */
    pending: PendingCommand;
    /** How it ended. */
    result: Settlement;
  }
  | {
    /** `>>>`: the module waits for the raw bytes of the command in flight. */
    type: "prompt";
    /** The command (an `AT+SKTSENDRAW`). */
    pending: PendingCommand;
  }
  | {
    /**
     * A final result (OK or ERROR) came, matched or not: unsolicited lines
     * printed before it are all out.
     */
    type: "final";
  };

/** Options for {@linkcode HostSession}. */
export interface HostSessionOptions {
  /** Bytes a pending answer may hold (default {@linkcode MAX_ANSWER_BYTES}). */
  maxAnswerBytes?: number;
  /** Options for the output parser. */
  parser?: OutputParserOptions;
}

/** Options for {@linkcode HostSession.begin}. */
export interface BeginOptions {
  /** When the caller stops waiting (any clock the caller uses). */
  deadline?: number;
  /** For `AT+SKTREAD`: the link read (its UDP-ness tells the parser). */
  readLink?: number;
}

interface Slot extends PendingCommand {
  answer: Answer;
  used: number;
  deadline: number | undefined;
}

const UTF8 = new TextDecoder();

/**
 * Names a command line in errors: the line as text without its line end,
 * cut at 60 characters.
 */
export function describeLine(line: Uint8Array): string {
  // 60 characters take at most 240 bytes: decode no more of a long line.
  const text = UTF8.decode(line.length > 240 ? line.subarray(0, 240) : line)
    .trimEnd();
  return text.length > 60 ? text.slice(0, 57) + "..." : text;
}

/**
 * The host's session with one module: one command in flight at a time.
 *
 * @example
 * ```ts
 * import { encode, HostSession } from "@atsock/protocol";
 * const session = new HostSession();
 * const line = session.send({ command: "SKTDEL", linkId: 1 }); // write it
 * session.receive(encode("\r\nOK\r\n"));
 * // [{ type: "settled", pending, result: { kind: "ok", answer } }, { type: "final" }]
 * ```
 */
export class HostSession {
  #parser: OutputParser;
  #parserOptions: OutputParserOptions | undefined;
  #limit: number;
  #pending: Slot | undefined;
  #expired = false;
  #heard = false;
  #udp = new Set<number>();

  /** Creates a session. */
  constructor(options: HostSessionOptions = {}) {
    this.#parserOptions = options.parser;
    this.#parser = new OutputParser(options.parser);
    this.#limit = options.maxAnswerBytes ?? MAX_ANSWER_BYTES;
  }

  /** The command in flight, if any. */
  get pending(): PendingCommand | undefined {
    return this.#pending;
  }

  /** Whether the module has printed anything yet. */
  get heard(): boolean {
    return this.#heard;
  }

  /** Bytes held by the parser (a partial line or payload). */
  get buffered(): number {
    return this.#parser.buffered;
  }

  /**
   * Makes `request` the command in flight; returns its line, to be written.
   * A command still in flight is replaced (the caller gave it up).
   */
  send(request: Request, deadline?: number): Uint8Array {
    const line = formatRequest(request);
    this.begin(describeLine(line), request.command, {
      deadline,
      readLink: request.command === "SKTREAD" ? request.linkId : undefined,
    });
    return line;
  }

  /**
   * Makes a command the caller writes itself the command in flight (or
   * none: after a raw transfer's `<<<`, its final result).
   */
  begin(
    name: string,
    command: CommandName | undefined,
    options: BeginOptions = {},
  ): PendingCommand {
    return this.#begin(name, command, false, options);
  }

  /**
   * Starts a resync: `AT+SKTQUERY`, and every line up to the end of its
   * block is dropped (late answers, errors and garbage included), so that
   * nothing printed for an abandoned command is taken for the next one's.
   * Returns the line to write; it settles `ok` once the block is in.
   */
  resync(deadline?: number): Uint8Array {
    this.#begin("resync", "SKTQUERY", true, { deadline });
    return formatRequest({ command: "SKTQUERY" });
  }

  #begin(
    name: string,
    command: CommandName | undefined,
    resync: boolean,
    options: BeginOptions,
  ): PendingCommand {
    if (options.readLink !== undefined) {
      this.#parser.hintRead(this.#udp.has(options.readLink) ? "udp" : "tcp");
    }
    this.#expired = false;
    this.#pending = {
      name,
      command,
      resync,
      answer: { lines: [] },
      used: 0,
      deadline: options.deadline,
    };
    return this.#pending;
  }

  /** Stops waiting for the command in flight: a late answer is not taken for it. */
  abandon(): void {
    this.#pending = undefined;
    this.#expired = false;
  }

  /** Waits on for the command in flight, until `deadline`. */
  extend(deadline: number | undefined): void {
    if (!this.#pending) return;
    this.#pending.deadline = deadline;
    this.#expired = false;
  }

  /**
   * Starts parsing over, in line mode: the parser may be in the middle of
   * an answer that will never end (a `+SKTREAD` that announced more than
   * it printed).
   */
  restart(): void {
    this.#parser = new OutputParser(this.#parserOptions);
  }

  /** When the command in flight should time out, if it has a deadline not yet reported. */
  deadline(): number | undefined {
    return this.#expired ? undefined : this.#pending?.deadline;
  }

  /**
   * Reports the time: returns the command in flight if `now` is past its
   * deadline (once). The session still holds it: the caller gives it up
   * ({@linkcode HostSession.abandon}) or waits on
   * ({@linkcode HostSession.extend}).
   */
  timeout(now: number): PendingCommand | undefined {
    const pending = this.#pending;
    if (
      !pending || this.#expired || pending.deadline === undefined ||
      now < pending.deadline
    ) return undefined;
    this.#expired = true;
    return pending;
  }

  /** Whether the session knows link `linkId` to be UDP. */
  isUdp(linkId: number): boolean {
    return this.#udp.has(linkId);
  }

  /** Records that link `linkId` is UDP (a UDP client or server was made). */
  markUdp(linkId: number): void {
    this.#udp.add(linkId);
  }

  /** Forgets link `linkId` (deleted). */
  forgetLink(linkId: number): void {
    this.#udp.delete(linkId);
  }

  /** Learns every link's protocol from an `AT+SKTSTATE` answer. */
  learnStates(states: readonly LinkState[]): void {
    this.#udp.clear();
    for (const state of states) {
      if (state.protocol === "udp") this.#udp.add(state.linkId);
    }
  }

  /** Parses bytes from the module; returns the events they complete. */
  receive(chunk: Uint8Array): HostSessionEvent[] {
    const out: HostSessionEvent[] = [];
    for (const event of this.#parser.push(chunk)) this.#route(event, out);
    return out;
  }

  #route(event: ModuleEvent, out: HostSessionEvent[]): void {
    const pending = this.#pending;
    const first = !this.#heard;
    this.#heard = true;
    switch (event.type) {
      case "ok":
        if (pending) {
          if (
            pending.resync && !pending.answer.lines.includes(QUERY_BLOCK_TITLE)
          ) {
            this.#rearm(pending); // A late answer: keep waiting.
          } else this.#settle(out, { kind: "ok", answer: pending.answer });
        }
        out.push({ type: "final" });
        return;
      case "error":
        if (pending) {
          if (pending.resync) this.#rearm(pending); // A late error.
          else this.#settle(out, { kind: "error", code: event.code });
        }
        out.push({ type: "final" });
        return;
      case "line":
        if (pending && this.#hold(pending, event.text.length, out)) {
          pending.answer.lines.push(event.text);
        }
        return;
      case "read":
        if (pending) pending.answer.read = event;
        return;
      case "prompt":
        if (pending) out.push({ type: "prompt", pending });
        return;
      case "echo":
      case "shell":
        return;
      case "ready":
        // The very first thing a module prints on a fresh transport is its
        // greeting (a TCP console greets every new client), not a restart
        // in the middle of the command just sent.
        if (pending && !first) this.#settle(out, { kind: "reset" });
        this.#udp.clear();
        break;
      case "garbage":
        if (pending) this.#hold(pending, event.bytes.length, out);
        break;
    }
    out.push(event);
  }

  /**
   * Counts `bytes` more held for the pending answer; past the limit the
   * command settles `too-large` (a resync starts its count over). Returns
   * whether the bytes may be kept.
   */
  #hold(pending: Slot, bytes: number, out: HostSessionEvent[]): boolean {
    pending.used += bytes;
    if (pending.used <= this.#limit) return true;
    if (pending.resync) this.#rearm(pending); // Garbage: keep waiting.
    else this.#settle(out, { kind: "too-large", limit: this.#limit });
    return false;
  }

  #rearm(pending: Slot): void {
    pending.answer = { lines: [] };
    pending.used = 0;
  }

  #settle(out: HostSessionEvent[], result: Settlement): void {
    const pending = this.#pending!;
    this.#pending = undefined;
    this.#expired = false;
    out.push({ type: "settled", pending, result });
  }
}
