/**
 * Standard input of the stdio emulator when it is a terminal: raw mode, as
 * a serial terminal program is, so the only echo is the module's (Manual
 * Test Mode echoes what it gets). Enter sends CR LF, as a serial terminal
 * set to send CR+LF does (the firmware ends a line at CR LF); Ctrl-C stops
 * the emulator as SIGINT would, Ctrl-D ends the input as the end of a pipe
 * does. The caller restores the terminal with `restore()` on every way out.
 *
 * @module
 */

const CTRL_C = 0x03;
const CTRL_D = 0x04;
const CR = 0x0d;
const LF = 0x0a;

/** A byte source for the stdio console, and how to undo raw mode. */
export interface TerminalInput {
  /** Reads like `Deno.stdin.read`; `null` after Ctrl-D or Ctrl-C. */
  read(p: Uint8Array): Promise<number | null>;
  /** Leaves raw mode (idempotent). */
  restore(): void;
}

/**
 * Turns what a terminal in raw mode sends into what the module gets:
 * CR becomes CR LF (a CR LF already sent stays one), Ctrl-D ends the input
 * and Ctrl-C ends it and calls `interrupt`. Pure: for tests.
 */
export class KeyTranslator {
  #lastCr = false;
  /** True once Ctrl-C or Ctrl-D was seen: later bytes are dropped. */
  ended = false;
  /** Set when the end came from Ctrl-C. */
  interrupted = false;

  /** The bytes for the module from one read of the terminal. */
  push(bytes: Uint8Array): Uint8Array {
    const out: number[] = [];
    for (const byte of bytes) {
      if (this.ended) break;
      if (byte === CTRL_C || byte === CTRL_D) {
        this.ended = true;
        this.interrupted = byte === CTRL_C;
        break;
      }
      if (byte === LF && this.#lastCr) {
        this.#lastCr = false;
        continue; // The LF of a CR LF: already sent.
      }
      this.#lastCr = byte === CR;
      out.push(byte);
      if (byte === CR) out.push(LF);
    }
    return new Uint8Array(out);
  }
}

/**
 * Puts standard input (a terminal) in raw mode and returns it as a byte
 * source; `interrupt` is called on Ctrl-C.
 */
export function terminalInput(interrupt: () => void): TerminalInput {
  Deno.stdin.setRaw(true);
  let raw = true;
  const keys = new KeyTranslator();
  let pending: Uint8Array = new Uint8Array(0);
  const buffer = new Uint8Array(4096);
  return {
    async read(p) {
      while (pending.length === 0) {
        if (keys.ended) return null;
        const n = await Deno.stdin.read(buffer);
        if (n === null) return null;
        pending = keys.push(buffer.subarray(0, n));
        if (keys.interrupted) {
          interrupt();
          return null;
        }
      }
      const n = Math.min(p.length, pending.length);
      p.set(pending.subarray(0, n));
      pending = pending.subarray(n);
      return n;
    },
    restore() {
      if (!raw) return;
      raw = false;
      try {
        Deno.stdin.setRaw(false);
      } catch { /* the terminal has gone */ }
    },
  };
}
