/**
 * Replay: plays the host side of a transcript (its console input, as
 * recorded) on a {@linkcode Transport} to a module, checks the module's
 * output against the recorded output (placeholders for ports and
 * addresses, through `@atsock/protocol`'s `replayScript` and
 * `matchExpected`), and reports the first difference. `atsock replay` and
 * the conformance suite (`tools/conformance.ts`, which also acts the
 * transcript's network peers) run it.
 *
 * @module
 */

import {
  decodeLatin1,
  encodeLatin1,
  matchExpected,
  parseTranscript,
  type PeerStep,
  renderTemplate,
  type ReplayScript,
  splitLines,
  templateNames,
  type Transcript,
  TranscriptError,
} from "@atsock/protocol";
import { firstLine, isPermissionError } from "./target.ts";
import type { Transport } from "./transport.ts";
import { UsageError } from "./usage_error.ts";

/** The outcome of a replay. */
export type ReplayResult =
  | {
    /** Every expected answer matched. */
    result: "match";
    /** Steps played. */
    steps: number;
    /** Placeholder values in the end. */
    vars: Record<string, string>;
  }
  | {
    /** The module's output differs. */
    result: "differs";
    /** Transcript line (1-based) of the expected output. */
    line: number;
    /** Index of the first differing line within that step's output. */
    index: number;
    /** Why, in words. */
    reason: string;
    /** Expected lines. */
    expected: string[];
    /** Lines the module printed. */
    got: string[];
    /** Placeholder values when it differed. */
    vars: Record<string, string>;
  };

/** Reads and parses a transcript file; a bad one is a {@linkcode UsageError}. */
export async function readTranscript(path: string): Promise<Transcript> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (isPermissionError(e)) throw e;
    throw new UsageError(`${path}: ${firstLine(e)}`);
  }
  try {
    return parseTranscript(text);
  } catch (e) {
    if (e instanceof TranscriptError) {
      throw new UsageError(`${path}: ${e.message}`);
    }
    throw e;
  }
}

/** Collects a transport's output as latin1 text, waking waiters as it grows. */
class Output {
  text = "";
  ended = false;
  #wake: (() => void)[] = [];
  readonly done: Promise<void>;

  constructor(readable: ReadableStream<Uint8Array>) {
    this.done = (async () => {
      try {
        for await (const chunk of readable) {
          this.text += decodeLatin1(chunk);
          for (const wake of this.#wake.splice(0)) wake();
        }
      } catch { /* the transport failed: treated as its end */ }
      this.ended = true;
      for (const wake of this.#wake.splice(0)) wake();
    })();
  }

  /** Resolves when more output arrives, the stream ends, or at `deadline`. */
  changed(deadline: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(wake, Math.max(0, deadline - Date.now()));
      function wake() {
        clearTimeout(timer);
        resolve();
      }
      this.#wake.push(wake);
    });
  }
}

const READY = "ATCMD READY\r\n";

/**
 * What a network peer's action came to: placeholders it bound (its own
 * ports), or a difference (the peer did not get what the transcript says).
 */
export type PeerOutcome =
  | {
    /** Placeholders the action bound. */
    bound?: Record<string, string>;
  }
  | {
    /** Why the peer's side differs, in words. */
    differs: string;
    /** What the peer should have got (lines). */
    expected: string[];
    /** What it got (lines). */
    got: string[];
  };

/** Acts a transcript's `peer` steps (the conformance suite provides peers). */
export type PeerHandler = (
  step: PeerStep,
  vars: Readonly<Record<string, string>>,
) => Promise<PeerOutcome>;

/** Options of {@linkcode replay}. */
export interface ReplayRunOptions {
  /** Placeholder values bound beforehand. */
  vars?: Record<string, string>;
  /** Wait per expected answer, in ms (default 5000). */
  timeoutMs?: number;
  /** Acts `peer` steps; without it a transcript with peers differs at its first. */
  peers?: PeerHandler;
}

/**
 * Plays `script` on `transport`. A leading expected `ATCMD READY` alone is
 * optional (a module on a cable printed it at power-up, before the replay).
 */
export async function replay(
  script: ReplayScript,
  transport: Transport,
  options: ReplayRunOptions = {},
): Promise<ReplayResult> {
  const timeoutMs = options.timeoutMs ?? 5000;
  const vars: Record<string, string> = { ...options.vars };
  const output = new Output(transport.readable);
  let at = 0;
  try {
    for (let i = 0; i < script.steps.length; i++) {
      const step = script.steps[i];
      if (step.kind === "peer") {
        if (!options.peers || !step.peer) {
          return differs(
            step.line,
            0,
            "the transcript needs network peers (run it with tools/conformance.ts)",
            [],
            [],
            vars,
          );
        }
        const outcome = await options.peers(step.peer, vars);
        if ("differs" in outcome) {
          return differs(
            step.line,
            0,
            outcome.differs,
            outcome.expected,
            outcome.got,
            vars,
          );
        }
        Object.assign(vars, outcome.bound);
        continue;
      }
      if (step.kind === "send") {
        for (const name of templateNames(step.template)) {
          vars[name] ??= script.recorded[name];
        }
        await transport.write(
          encodeLatin1(renderTemplate(step.template, vars)),
        );
        continue;
      }
      const optionalReady = i === 0 &&
        renderTemplate(step.template) === READY;
      const deadline = Date.now() +
        (optionalReady ? Math.min(timeoutMs, 1000) : timeoutMs);
      while (true) {
        const got = output.text.slice(at);
        const result = matchExpected(step.template, got, vars);
        if (result.status === "match") {
          at += result.consumed;
          Object.assign(vars, result.bound);
          break;
        }
        if (result.status === "differ") {
          return differs(
            step.line,
            result.index,
            "the module's output differs",
            result.expected,
            result.got,
            vars,
          );
        }
        if (Date.now() >= deadline || output.ended) {
          if (optionalReady && got === "") break;
          const expected = splitLines(renderTemplate(step.template, vars));
          const have = splitLines(got);
          let index = 0;
          while (index < have.length && have[index] === expected[index]) {
            index++;
          }
          return differs(
            step.line,
            index,
            output.ended
              ? "the connection to the module ended"
              : `no matching output within ${timeoutMs} ms`,
            expected,
            have,
            vars,
          );
        }
        await output.changed(deadline);
      }
    }
    const extra = output.text.slice(at);
    if (extra !== "" && !(extra === READY && at === 0)) {
      const last = script.steps[script.steps.length - 1];
      return differs(
        last?.line ?? 1,
        0,
        "output after the last recorded answer",
        [],
        splitLines(extra),
        vars,
      );
    }
    return { result: "match", steps: script.steps.length, vars };
  } finally {
    await transport.close();
    await output.done;
  }
}

function differs(
  line: number,
  index: number,
  reason: string,
  expected: string[],
  got: string[],
  vars: Record<string, string>,
): ReplayResult {
  return {
    result: "differs",
    line,
    index,
    reason,
    expected,
    got,
    vars: { ...vars },
  };
}

/** A line for a person: CR, LF and other control bytes escaped. */
export function showLine(line: string): string {
  return JSON.stringify(line).slice(1, -1);
}

/** The diff of a difference: context, then `-` expected and `+` got from the first differing line. */
export function formatDiff(
  result: Extract<ReplayResult, { result: "differs" }>,
): string {
  const out = [
    `replay differs at transcript line ${result.line}: ${result.reason}`,
  ];
  for (let i = 0; i < result.index && i < result.got.length; i++) {
    out.push(`  ${showLine(result.got[i])}`);
  }
  for (const line of result.expected.slice(result.index)) {
    out.push(`- ${showLine(line)}`);
  }
  for (const line of result.got.slice(result.index)) {
    out.push(`+ ${showLine(line)}`);
  }
  if (result.got.length <= result.index) out.push("+ (nothing)");
  return out.join("\n");
}
