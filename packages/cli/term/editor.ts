/**
 * The line editor of the interactive terminal: a prompt and one line of
 * input with a cursor, history and completion. Pure: keys (or raw input
 * bytes) in, the text to write to the screen and editing events out. It
 * draws on one screen row and scrolls the line sideways when it is wider
 * than the terminal, so redrawing never depends on where lines wrapped.
 *
 * @module
 */

import { type EditKey, type Key, KeyDecoder } from "./keys.ts";

/** What Tab can offer for the text before the cursor. */
export interface Completion {
  /** Whole replacements for the text before the cursor. */
  matches: string[];
  /** A line of help to show when there is nothing to complete (e.g. a command's syntax). */
  help?: string;
}

/** Options for {@linkcode LineEditor}. */
export interface LineEditorOptions {
  /** The prompt (plain text; default `"> "`). */
  prompt?: string;
  /** Terminal width in columns (default 80). */
  columns?: number;
  /** Lines kept in the history (default 500). */
  historySize?: number;
  /** Completion for Tab; without it Tab does nothing. */
  complete?: (before: string) => Completion;
  /** Wraps the prompt for display (e.g. in colour); must not change its width. */
  stylePrompt?: (prompt: string) => string;
}

/** What the user did that the caller must act on. */
export type EditorEvent =
  | {
    /** Enter: the line typed (already added to the history). */
    type: "submit";
    line: string;
  }
  | {
    /** Ctrl-D on an empty line, or Ctrl-C twice on an empty line. */
    type: "quit";
  }
  | {
    /** Ctrl-C on an empty line: the caller may say how to quit. */
    type: "interrupt";
  }
  | {
    /** Ctrl-L: the caller clears the screen and redraws. */
    type: "clear-screen";
  };

/** The result of handling input: screen output and events, in order. */
export interface EditorOutput {
  /** Text to write to the terminal (ANSI sequences included). */
  screen: string;
  /** Events, in the order they happened. */
  events: EditorEvent[];
}

/** Clears the row the editor draws on. */
const CLEAR_ROW = "\r\x1b[K";

/**
 * A line editor with readline-style keys: Left/Right, Home/End, Ctrl-A/E,
 * Backspace/Delete, Ctrl-U/K/W, Up/Down history, Tab completion, Ctrl-C to
 * clear the line (twice on an empty line to quit) and Ctrl-D to quit on an
 * empty line.
 *
 * @example
 * ```ts
 * import { LineEditor } from "./editor.ts";
 * const editor = new LineEditor({ prompt: "> " });
 * const out = editor.feed(new TextEncoder().encode("AT+SKTSTATE\r"));
 * // out.events: [{ type: "submit", line: "AT+SKTSTATE" }]
 * ```
 */
export class LineEditor {
  #chars: string[] = [];
  #cursor = 0;
  #prompt: string;
  #columns: number;
  #history: string[] = [];
  #historySize: number;
  /** Position in the history while browsing; `history.length` is the line being typed. */
  #browse = 0;
  #draft: string[] = [];
  #complete?: (before: string) => Completion;
  #stylePrompt: (prompt: string) => string;
  #lastKey: EditKey | undefined;
  #decoder = new KeyDecoder();

  /** Creates an editor with an empty line. */
  constructor(options: LineEditorOptions = {}) {
    this.#prompt = options.prompt ?? "> ";
    this.#columns = Math.max(options.columns ?? 80, 10);
    this.#historySize = options.historySize ?? 500;
    this.#complete = options.complete;
    this.#stylePrompt = options.stylePrompt ?? ((p) => p);
  }

  /** The text being edited. */
  get line(): string {
    return this.#chars.join("");
  }

  /** The cursor position, in characters from the start of the line. */
  get cursor(): number {
    return this.#cursor;
  }

  /** Lines entered so far, oldest first. */
  get history(): readonly string[] {
    return this.#history;
  }

  /** The prompt. */
  get prompt(): string {
    return this.#prompt;
  }

  /** Changes the prompt; returns the screen update. */
  setPrompt(prompt: string): string {
    this.#prompt = prompt;
    return this.render();
  }

  /** Changes the width (on a terminal resize); returns the screen update. */
  setColumns(columns: number): string {
    this.#columns = Math.max(columns, 10);
    return this.render();
  }

  /** Bytes held back by the key decoder (an incomplete escape sequence). */
  get pending(): number {
    return this.#decoder.pending;
  }

  /** Handles raw input bytes from a terminal in raw mode. */
  feed(bytes: Uint8Array): EditorOutput {
    return this.#handleAll(this.#decoder.push(bytes));
  }

  /** Gives up on a held escape sequence (a lone Escape key). */
  flush(): EditorOutput {
    return this.#handleAll(this.#decoder.flush());
  }

  #handleAll(keys: Key[]): EditorOutput {
    let screen = "";
    const events: EditorEvent[] = [];
    for (const key of keys) {
      const out = this.handle(key);
      screen += out.screen;
      events.push(...out.events);
    }
    return { screen, events };
  }

  /** Handles one key. */
  handle(key: Key): EditorOutput {
    const events: EditorEvent[] = [];
    const last = this.#lastKey;
    this.#lastKey = key.type === "key" ? key.key : undefined;
    if (key.type === "unknown") return { screen: "", events };
    if (key.type === "text") {
      // Control characters never reach the buffer (a paste may hold them).
      const chars = [...key.text].filter((c) => c >= " " && c !== "\x7f");
      this.#chars.splice(this.#cursor, 0, ...chars);
      this.#cursor += chars.length;
      return { screen: this.render(), events };
    }
    const chars = this.#chars;
    switch (key.key) {
      case "enter": {
        const line = this.line;
        this.#remember(line);
        this.#chars = [];
        this.#cursor = 0;
        this.#browse = this.#history.length;
        events.push({ type: "submit", line });
        // The caller replaces the row with what it prints for the line.
        return { screen: "", events };
      }
      case "backspace":
        if (this.#cursor > 0) chars.splice(--this.#cursor, 1);
        break;
      case "delete":
        chars.splice(this.#cursor, 1);
        break;
      case "left":
        this.#cursor = Math.max(0, this.#cursor - 1);
        break;
      case "right":
        this.#cursor = Math.min(chars.length, this.#cursor + 1);
        break;
      case "word-left":
        this.#cursor = this.#wordStart();
        break;
      case "word-right":
        this.#cursor = this.#wordEnd();
        break;
      case "home":
        this.#cursor = 0;
        break;
      case "end":
        this.#cursor = chars.length;
        break;
      case "up":
        this.#browseTo(this.#browse - 1);
        break;
      case "down":
        this.#browseTo(this.#browse + 1);
        break;
      case "kill-before":
        chars.splice(0, this.#cursor);
        this.#cursor = 0;
        break;
      case "kill-after":
        chars.splice(this.#cursor);
        break;
      case "kill-word": {
        const start = this.#wordStart();
        chars.splice(start, this.#cursor - start);
        this.#cursor = start;
        break;
      }
      case "interrupt":
        if (chars.length > 0) {
          this.#chars = [];
          this.#cursor = 0;
          this.#browse = this.#history.length;
          this.#lastKey = undefined; // Ctrl-C twice quits only from an empty line
        } else {
          events.push({ type: last === "interrupt" ? "quit" : "interrupt" });
          if (last === "interrupt") return { screen: "", events };
        }
        break;
      case "eof":
        if (chars.length === 0) {
          events.push({ type: "quit" });
          return { screen: "", events };
        }
        chars.splice(this.#cursor, 1);
        break;
      case "tab":
        return { screen: this.#tab(last === "tab"), events };
      case "clear-screen":
        events.push({ type: "clear-screen" });
        return { screen: "\x1b[H\x1b[2J" + this.render(), events };
    }
    return { screen: this.render(), events };
  }

  /** Replaces the line (e.g. to put back a line the caller refused); returns the screen update. */
  setLine(line: string): string {
    this.#chars = [...line];
    this.#cursor = this.#chars.length;
    return this.render();
  }

  /** The sequence that clears the editor's row, so other output can be printed there. */
  hide(): string {
    return CLEAR_ROW;
  }

  /**
   * Draws the prompt and the line on the current row, scrolled sideways so
   * that the cursor is visible, and puts the terminal cursor in place.
   */
  render(): string {
    const promptWidth = this.#prompt.length;
    const room = Math.max(this.#columns - promptWidth - 1, 4);
    let start = 0;
    if (this.#cursor > room) start = this.#cursor - room;
    const visible = this.#chars.slice(start, start + room);
    const back = start + visible.length - this.#cursor;
    return CLEAR_ROW + this.#stylePrompt(this.#prompt) + visible.join("") +
      (back > 0 ? `\x1b[${back}D` : "");
  }

  #remember(line: string): void {
    if (line.trim() === "") return;
    if (this.#history[this.#history.length - 1] !== line) {
      this.#history.push(line);
      if (this.#history.length > this.#historySize) this.#history.shift();
    }
  }

  #browseTo(index: number): void {
    if (index < 0 || index > this.#history.length) return;
    if (this.#browse === this.#history.length) this.#draft = this.#chars;
    this.#browse = index;
    this.#chars = index === this.#history.length
      ? this.#draft
      : [...this.#history[index]];
    this.#cursor = this.#chars.length;
  }

  #wordStart(): number {
    let i = this.#cursor;
    while (i > 0 && isSeparator(this.#chars[i - 1])) i--;
    while (i > 0 && !isSeparator(this.#chars[i - 1])) i--;
    return i;
  }

  #wordEnd(): number {
    let i = this.#cursor;
    const n = this.#chars.length;
    while (i < n && isSeparator(this.#chars[i])) i++;
    while (i < n && !isSeparator(this.#chars[i])) i++;
    return i;
  }

  #tab(again: boolean): string {
    if (!this.#complete) return "";
    const before = this.#chars.slice(0, this.#cursor).join("");
    const { matches, help } = this.#complete(before);
    if (matches.length === 1 && matches[0] !== before) {
      return this.#replaceBefore(matches[0]);
    }
    if (matches.length > 1) {
      const common = commonPrefix(matches);
      // Longer, or the same letters in the canonical case (at+skts -> AT+SKTS).
      if (common.length >= before.length && common !== before) {
        return this.#replaceBefore(common);
      }
      // Nothing to add: a second Tab lists what would fit.
      if (again) return this.#above(matches.join("  "));
      return "\x07";
    }
    if (help) return this.#above(help);
    return "\x07";
  }

  #replaceBefore(text: string): string {
    const after = this.#chars.slice(this.#cursor);
    const chars = [...text];
    this.#chars = [...chars, ...after];
    this.#cursor = chars.length;
    return this.render();
  }

  /** Prints a line above the prompt and redraws the prompt below it. */
  #above(text: string): string {
    return CLEAR_ROW + text + "\r\n" + this.render();
  }
}

function isSeparator(c: string): boolean {
  return c === " " || c === "," || c === "=" || c === "+";
}

function commonPrefix(items: string[]): string {
  let prefix = items[0];
  for (const item of items) {
    let i = 0;
    while (i < prefix.length && i < item.length && prefix[i] === item[i]) i++;
    prefix = prefix.slice(0, i);
  }
  return prefix;
}
