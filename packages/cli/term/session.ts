/**
 * The terminal's session logic, without I/O: what to send for each line the
 * user enters (a command, a raw payload after `>>>`, or a local `:` command),
 * and what to show for each byte the module prints. It tracks the commands in
 * flight so that an `ERROR: <n>` is explained with the meaning of that code
 * for that command, hides the echo of Manual Test Mode (the user already sees
 * the line), and counts the bytes of an `AT+SKTSENDRAW` payload so that
 * exactly the announced number goes out.
 *
 * @module
 */

import {
  type CommandName,
  decodeLatin1,
  encode,
  MAX_LINE_LENGTH,
  type ModuleEvent,
  OutputParser,
  parseCommandLine,
  type ParsedLine,
} from "@atsock/protocol";
import type { Completion } from "./editor.ts";
import { complete, hintFor, LOCAL_COMMANDS } from "./reference.ts";
import {
  describeEvent,
  escapeBytes,
  escapeText,
  type Shown,
  unescapePayload,
} from "./display.ts";

/** Something the I/O shell must do, in order. */
export type SessionAction =
  | {
    /** Write a command line to the module. */
    type: "send";
    /** The bytes, line end included. */
    bytes: Uint8Array;
    /** `answer`: an OK or ERROR will come; `nothing`: none may come. */
    expect: "answer" | "nothing";
  }
  | {
    /** Write raw payload bytes (pause while the module says High Watermark). */
    type: "send-payload";
    /** The bytes. */
    bytes: Uint8Array;
  }
  | {
    /** Abort the raw transfer: `<<<`, then at least 30 ms of silence. */
    type: "abort-raw";
  }
  | {
    /** Show (and log) a line. */
    type: "show";
    /** The line. */
    line: Shown;
  }
  | {
    /**
     * Read a file and pass its bytes to {@linkcode TermSession.payload}, or
     * with `link` to {@linkcode TermSession.sendFile}.
     */
    type: "read-file";
    /** The path the user gave. */
    path: string;
    /** `<link_id>[,<dst_ip>,<dst_port>]` when the terminal starts the transfer itself. */
    link?: string;
  }
  | {
    /** Wait before reading the next line (scripts waiting for data). */
    type: "sleep";
    /** How long. */
    ms: number;
  }
  | {
    /** The module's TT buffer filled (`true`) or drained (`false`). */
    type: "flow";
    /** Whether payload writing must pause. */
    paused: boolean;
  }
  | {
    /** The user asked to leave. */
    type: "quit";
  };

/** Display settings the user can change with local commands. */
export interface DisplaySettings {
  /** Payloads as a hex dump instead of escaped text. */
  hex: boolean;
  /** A time in front of every line. */
  timestamps: boolean;
}

interface Pending {
  /** The command, or undefined for a line too long for the module's buffer. */
  command: CommandName | undefined;
  line: string;
  parsed: ParsedLine;
}

interface RawState {
  /** Bytes still to send, if the announced size is known. */
  remaining: number | undefined;
  total: number | undefined;
  aborting: boolean;
}

/** Most lines of expected echo kept (a module that never echoes leaves them). */
const MAX_ECHOES = 32;

/**
 * The state of one terminal session.
 *
 * @example
 * ```ts
 * import { TermSession } from "./session.ts";
 * const session = new TermSession();
 * session.submit("AT+SKTDEL=3"); // [send "AT+SKTDEL=3\r\n", show "> AT+SKTDEL=3"]
 * session.receive(new TextEncoder().encode("\r\nERROR: 1\r\n"));
 * // [show { kind: "error", text: "ERROR: 1", hint: "Parameter error (...)" }]
 * ```
 */
export class TermSession {
  /** Display settings (local commands change them). */
  readonly display: DisplaySettings;
  #parser = new OutputParser();
  #pending: Pending[] = [];
  #echoes: string[] = [];
  #hostMode = false;
  #raw: RawState | undefined;
  #paused = false;
  /** A file to send as soon as `>>>` comes (`:sendfile <link_id> PATH`). */
  #queued: { bytes: Uint8Array; path: string } | undefined;

  /** Creates a session; `display` gives the starting settings. */
  constructor(display: Partial<DisplaySettings> = {}) {
    this.display = {
      hex: display.hex ?? false,
      timestamps: display.timestamps ?? false,
    };
  }

  /** The prompt for the next line: `> `, or during a raw payload the bytes left. */
  get prompt(): string {
    if (!this.#raw || this.#raw.aborting) return "> ";
    if (this.#raw.remaining === undefined) return ">>> ";
    return `>>> [${this.#raw.remaining} of ${this.#raw.total} bytes] `;
  }

  /** True while an answer is awaited (and not a payload from the user). */
  get busy(): boolean {
    if (this.#raw && !this.#raw.aborting) return false;
    return this.#pending.length > 0;
  }

  /** True after `>>>` while payload bytes are still expected from the user. */
  get inRaw(): boolean {
    return this.#raw !== undefined && !this.#raw.aborting;
  }

  /** Payload bytes the module still waits for after `>>>` (undefined: none, or size unknown). */
  get rawLeft(): number | undefined {
    return this.inRaw ? this.#raw!.remaining : undefined;
  }

  /** The command whose answer is awaited, if any. */
  get inFlight(): string | undefined {
    return this.#pending[0]?.line;
  }

  /** A line the user entered. */
  submit(line: string): SessionAction[] {
    const trimmed = line.trim();
    if (trimmed.startsWith(":")) return this.#local(trimmed);
    if (this.#raw) {
      if (line === "") return [];
      let bytes: Uint8Array;
      try {
        bytes = unescapePayload(line);
      } catch (e) {
        return [warn(`${(e as Error).message}; nothing sent`)];
      }
      return this.payload(bytes);
    }
    if (line === "") return [];
    const bytes = encode(line + "\r\n");
    if (bytes.length - 2 > MAX_LINE_LENGTH) {
      // shell_cmd_chk would run its first 1999 bytes at once, lose a byte
      // and take the rest as another line.
      return [
        warn(
          `a line of ${
            bytes.length - 2
          } bytes: the module's line buffer holds ${MAX_LINE_LENGTH} bytes before CR LF (it would run the first ${
            MAX_LINE_LENGTH + 1
          } at once and take the rest as another line); nothing sent`,
        ),
      ];
    }
    const text = decodeLatin1(bytes.subarray(0, bytes.length - 2));
    const actions: SessionAction[] = [
      { type: "show", line: { kind: "sent", text: escapeText(text) } },
    ];
    if (!this.#hostMode) {
      this.#echoes.push(text);
      if (this.#echoes.length > MAX_ECHOES) this.#echoes.shift();
    }
    // One of the nine commands: an answer will come.
    const parsed = parseCommandLine(bytes.subarray(0, bytes.length - 2));
    const answered = parsed.kind !== "unknown";
    if (answered) {
      this.#pending.push({ command: parsed.command, line: text, parsed });
    }
    actions.push({
      type: "send",
      bytes,
      expect: answered ? "answer" : "nothing",
    });
    return actions;
  }

  /**
   * Raw payload bytes for the transfer after `>>>` (typed, or a file's
   * contents read for `:sendfile`). Refuses more than the bytes left.
   */
  payload(bytes: Uint8Array, from?: string): SessionAction[] {
    const raw = this.#raw;
    if (!raw || raw.aborting) {
      return [warn("no transfer in progress: payloads go after >>>")];
    }
    if (raw.remaining !== undefined && bytes.length > raw.remaining) {
      return [
        warn(
          `${bytes.length} bytes, but only ${raw.remaining} are left of the ${raw.total} announced; nothing sent`,
        ),
      ];
    }
    if (bytes.length === 0) return [];
    if (raw.remaining !== undefined) raw.remaining -= bytes.length;
    const text = from === undefined
      ? `[${bytes.length} bytes] ${escapeBytes(bytes)}`
      : `[${bytes.length} bytes from ${escapeText(from)}]`;
    const actions: SessionAction[] = [
      { type: "show", line: { kind: "payload", text } },
      { type: "send-payload", bytes },
    ];
    if (raw.remaining === 0) {
      // All sent: the module answers OK (or ERROR) next.
      this.#raw = { ...raw, aborting: true };
    }
    return actions;
  }

  /**
   * `:sendfile <link_id>[,<ip>,<port>] PATH` once the file is read: sends
   * `AT+SKTSENDRAW` with the file's size, and the file after `>>>`.
   */
  sendFile(link: string, bytes: Uint8Array, path: string): SessionAction[] {
    if (bytes.length === 0) {
      return [warn(`${escapeText(path)} is empty: nothing to send`)];
    }
    const [id, ...address] = link.split(",");
    const actions = this.submit(
      `AT+SKTSENDRAW=${id},${bytes.length}${
        address.length ? "," + address.join(",") : ""
      }`,
    );
    this.#queued = { bytes, path };
    return actions;
  }

  /** Bytes from the module. */
  receive(bytes: Uint8Array): SessionAction[] {
    const actions: SessionAction[] = [];
    for (const event of this.#parser.push(bytes)) {
      actions.push(...this.#event(event));
    }
    return actions;
  }

  /** The answer awaited did not come in time: stop waiting for it. */
  timeout(seconds: number): SessionAction[] {
    const head = this.#pending.shift();
    if (!head) return [];
    this.#raw = undefined;
    return [warn(`no answer to ${escapeText(head.line)} within ${seconds} s`)];
  }

  /** Completion of the text before the cursor: command names and local commands. */
  complete(before: string): Completion {
    return complete(before, this.#raw !== undefined);
  }

  #local(line: string): SessionAction[] {
    const [word, ...rest] = line.split(/\s+/);
    const arg = rest.join(" ");
    switch (word) {
      case ":help":
      case ":h":
      case ":?":
        return [
          ...LOCAL_COMMANDS.map(([cmd, what]) =>
            note(`${cmd.padEnd(20)} ${what}`)
          ),
          note(
            "keys: Left/Right, Home/End, Ctrl-A/E, Ctrl-U/K/W, Up/Down history, Tab completes command names (twice: the choices; on a full name: its syntax)",
          ),
          note(
            "after >>>: type the payload (\\r \\n \\t \\\\ \\xNN escapes; a line end is not sent unless typed as \\r\\n; \\x3a for a leading colon)",
          ),
        ];
      case ":quit":
      case ":q":
      case ":exit":
        return [{ type: "quit" }];
      case ":hex":
      case ":timestamps": {
        const key = word === ":hex" ? "hex" : "timestamps";
        const value = arg === "" ? !this.display[key] : onOff(arg);
        if (value === undefined) {
          return [warn(`${word} takes on or off, not "${escapeText(arg)}"`)];
        }
        this.display[key] = value;
        return [note(`${word.slice(1)} ${value ? "on" : "off"}`)];
      }
      case ":sendfile": {
        if (this.inRaw) {
          if (arg === "") return [warn(":sendfile needs a file path")];
          return [{ type: "read-file", path: arg }];
        }
        // Outside a transfer: :sendfile <link_id>[,<ip>,<port>] PATH
        const m = /^(\d+(?:,[\d.]+,\d+)?)\s+(.+)$/.exec(arg);
        if (!m) {
          return [
            warn(
              ":sendfile <link_id>[,<dst_ip>,<dst_port>] PATH, or :sendfile PATH after >>>",
            ),
          ];
        }
        if (this.#pending.length > 0) {
          return [
            warn(`wait for the answer to ${escapeText(this.#pending[0].line)}`),
          ];
        }
        return [{ type: "read-file", path: m[2], link: m[1] }];
      }
      case ":abort": {
        const raw = this.#raw;
        if (!raw || raw.aborting) {
          return [warn("no transfer in progress to abort")];
        }
        if (raw.remaining !== undefined && raw.remaining < 3) {
          return [
            warn(
              `only ${raw.remaining} bytes left: <<< would complete the payload instead of aborting it`,
            ),
          ];
        }
        raw.aborting = true;
        return [
          { type: "show", line: { kind: "payload", text: "<<< (abort)" } },
          { type: "abort-raw" },
        ];
      }
      case ":sleep": {
        const ms = Number(arg);
        if (!/^\d+$/.test(arg) || ms > 3_600_000) {
          return [warn(":sleep takes milliseconds, 0 to 3600000")];
        }
        return [{ type: "sleep", ms }];
      }
      default:
        return [
          warn(`unknown local command ${escapeText(word)} (see :help)`),
        ];
    }
  }

  #event(event: ModuleEvent): SessionAction[] {
    switch (event.type) {
      case "echo":
      case "line":
        if (this.#takeEcho(event.text)) return [];
        if (event.type === "echo") {
          return [show({ kind: "echo", text: escapeText(event.text) })];
        }
        return describeEvent(event, this.display.hex).map(show);
      case "ok":
      case "error":
        return this.#final(event.type === "ok" ? undefined : event.code);
      case "prompt": {
        const head = this.#pending[0];
        if (head?.command === "SKTSENDRAW") {
          const request = head.parsed.kind === "request"
            ? head.parsed.request
            : undefined;
          const size = request?.command === "SKTSENDRAW"
            ? request.size
            : undefined;
          this.#raw = { remaining: size, total: size, aborting: false };
        }
        const lines = describeEvent(event, this.display.hex).map(show);
        const queued = this.#queued;
        this.#queued = undefined;
        if (queued && this.inRaw) {
          lines.push(...this.payload(queued.bytes, queued.path));
        }
        return lines;
      }
      case "ready": {
        const lines = describeEvent(event, this.display.hex).map(show);
        this.#hostMode = true;
        this.#echoes = [];
        this.#raw = undefined;
        if (this.#pending.length > 0) {
          lines.push(warn(
            `the module restarted: no answer will come to ${
              this.#pending.map((p) => escapeText(p.line)).join(", ")
            }`,
          ));
          this.#pending = [];
        }
        return lines;
      }
      case "watermark": {
        const paused = event.level === "high";
        const lines = describeEvent(event, this.display.hex).map(show);
        if (paused !== this.#paused) {
          this.#paused = paused;
          lines.push({ type: "flow", paused });
        }
        return lines;
      }
      default:
        return describeEvent(event, this.display.hex).map(show);
    }
  }

  /** Drops the expected echo `text` (and any older ones); true if it was expected. */
  #takeEcho(text: string): boolean {
    const at = this.#echoes.indexOf(text);
    if (at < 0) return false;
    this.#echoes.splice(0, at + 1);
    return true;
  }

  #final(code: number | undefined): SessionAction[] {
    const head = this.#pending.shift();
    if (head) {
      // Its echo would have come before the answer: stop expecting it.
      const at = this.#echoes.indexOf(head.line);
      if (at >= 0) this.#echoes.splice(0, at + 1);
    }
    const actions: SessionAction[] = [];
    if (this.#queued) {
      actions.push(warn(`${escapeText(this.#queued.path)} not sent`));
      this.#queued = undefined;
    }
    if (this.#raw) {
      this.#raw = undefined;
      if (this.#paused) {
        this.#paused = false;
        actions.push({ type: "flow", paused: false });
      }
    }
    if (code === undefined) {
      actions.unshift(show({ kind: "ok", text: "OK" }));
      return actions;
    }
    actions.unshift(
      show({
        kind: "error",
        text: `ERROR: ${code}`,
        hint: hintFor(head, code),
      }),
    );
    return actions;
  }
}

function onOff(text: string): boolean | undefined {
  if (text === "on") return true;
  if (text === "off") return false;
  return undefined;
}

function show(line: Shown): SessionAction {
  return { type: "show", line };
}

function note(text: string): SessionAction {
  return show({ kind: "note", text });
}

function warn(text: string): SessionAction {
  return show({ kind: "warning", text });
}
