/**
 * Runs a parsed script against a module through the host driver, one step
 * after another, and reports every check with its script line: what was
 * expected and what came.
 *
 * @module
 */

import {
  type AtDriver,
  AtError,
  CommandTimeoutError,
  ModuleResetError,
  TransportClosedError,
} from "@atsock/host";
import { decodeLatin1, PARAMETER_ERROR, type Request } from "@atsock/protocol";
import {
  type CommandStep,
  describePattern,
  type FinalCheck,
  matches,
  type SendRawStep,
  type Step,
  type UrcStep,
} from "./steps.ts";
import { UrcBuffer } from "./urc_buffer.ts";

/** The result of one script line. */
export interface StepResult {
  /** The script line. */
  line: number;
  /** Its text (variables replaced, comment removed). */
  text: string;
  /** Whether it passed. */
  ok: boolean;
  /** What it expected, in words. */
  expected: string;
  /** The lines that came (answer lines and final result, or unsolicited lines). */
  got: string[];
  /** How long it took, in ms. */
  ms: number;
  /** Why nothing (or not all) came: a timeout, a closed connection, a file error. */
  note?: string;
}

/** The whole run. */
export interface ScriptReport {
  /** Checks that passed. */
  passed: number;
  /** Checks that failed. */
  failed: number;
  /** Checks not run (after a failure, or after the connection closed). */
  notRun: number;
  /** Every check run, in order. */
  steps: StepResult[];
}

/** A payload to stream: its size and bytes. */
export interface OpenedPayload {
  /** Bytes in the payload. */
  size: number;
  /** The bytes. */
  stream: ReadableStream<Uint8Array>;
}

/** Options for {@linkcode executeScript}. */
export interface ExecuteOptions {
  /** Time for an answer or unsolicited line when the script gives none, in ms. */
  timeoutMs: number;
  /** Go on after a failed check (default: stop at the first). */
  keepGoing?: boolean;
  /**
   * Bytes per second the link to the module carries at worst: a sendraw
   * without `within` may take the timeout plus its size at this rate.
   */
  bytesPerSecond: number;
  /** Opens a `sendraw ... file` payload (path as written in the script). */
  openFile(path: string): Promise<OpenedPayload>;
  /** Called before each step (1-based index of `total`). */
  onStep?(index: number, total: number, step: Step): void;
  /** Called after each check. */
  onResult?(result: StepResult): void;
  /** Bytes of a sendraw payload written so far. */
  onBytes?(sent: number, total: number): void;
  /** Quiet time awaited before the first step, in ms (default 150, at most 1 s). */
  settleMs?: number;
}

/** Checks in a step: the step's own line and each of its expect lines. */
export function checkCount(step: Step): number {
  if (step.kind === "command") {
    return 1 + step.lines.length + (step.final ? 1 : 0);
  }
  if (step.kind === "sendraw") return 1 + (step.final ? 1 : 0);
  return 1;
}

/** The connection closed: nothing more can run. */
class Closed extends Error {}

/** Runs `steps` on `driver`; resolves the report (never rejects for a module's answer). */
export async function executeScript(
  driver: AtDriver,
  steps: readonly Step[],
  options: ExecuteOptions,
): Promise<ScriptReport> {
  const urcs = new UrcBuffer(driver);
  const settle = options.settleMs ?? 150;
  if (settle > 0) await urcs.settle(settle, 1000);
  const total = steps.reduce((n, s) => n + checkCount(s), 0);
  const results: StepResult[] = [];
  const record = (result: StepResult) => {
    results.push(result);
    options.onResult?.(result);
  };
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i];
    options.onStep?.(i + 1, steps.length, step);
    const before = results.length;
    try {
      switch (step.kind) {
        case "command":
          await executeCommand(driver, step, options, record);
          break;
        case "sendraw":
          await executeSendRaw(driver, step, options, record);
          break;
        case "urc":
          await awaitUrc(urcs, step, options, record);
          break;
        case "wait":
          await new Promise((resolve) => setTimeout(resolve, step.ms));
          record({
            line: step.line,
            text: step.text,
            ok: true,
            expected: `${step.ms} ms pass`,
            got: [],
            ms: step.ms,
          });
          break;
      }
    } catch (e) {
      if (!(e instanceof Closed)) throw e;
      break;
    }
    const failed = results.slice(before).some((r) => !r.ok);
    if (failed && !options.keepGoing) break;
  }
  const failed = results.filter((r) => !r.ok).length;
  return {
    passed: results.length - failed,
    failed,
    notRun: total - results.length,
    steps: results,
  };
}

/** An answer: information lines and the final result line (none on a timeout). */
interface Outcome {
  lines: string[];
  /** The final result; `meaning` says what an error code means for the command. */
  final?: { kind: "ok" } | { kind: "error"; code: number; meaning: string };
  note?: string;
  closed?: boolean;
}

async function executeCommand(
  driver: AtDriver,
  step: CommandStep,
  options: ExecuteOptions,
  record: (result: StepResult) => void,
): Promise<void> {
  const timeoutMs = step.final?.withinMs ?? options.timeoutMs;
  const start = Date.now();
  const outcome = await attempt(() =>
    exchange(driver, step.request, timeoutMs)
  );
  const ms = Date.now() - start;
  const got = gotLines(outcome);
  if (outcome.final?.kind === "error" && step.final === undefined) {
    // The step failed: say why, as the emulator's log would.
    const why = await diagnose(driver, step.request, outcome.final.code);
    if (why) outcome.final.meaning += `: ${why}`;
  }
  // The command's own line: an answer, or OK when no expect line names one.
  record({
    line: step.line,
    text: step.text,
    ok: outcome.final !== undefined &&
      (step.final !== undefined || outcome.final.kind === "ok"),
    expected: `${step.final ? "an answer" : "OK"} within ${seconds(timeoutMs)}`,
    got,
    ms,
    ...(note(outcome) ? { note: note(outcome) } : {}),
  });
  if (outcome.closed) throw new Closed();
  if (!outcome.final) return;
  const checks: StepResult[] = step.lines.map((check) => {
    const found = outcome.lines.find((line) => matches(check.pattern, line));
    return {
      line: check.line,
      text: check.text,
      ok: found !== undefined,
      expected: `a line ${describePattern(check.pattern)}`,
      got: found !== undefined ? [found] : got,
      ms: 0,
    };
  });
  if (step.final) checks.push(finalResult(step.final, outcome, got));
  for (const check of checks.sort((a, b) => a.line - b.line)) record(check);
}

function finalResult(
  check: FinalCheck,
  outcome: Outcome,
  got: string[],
): StepResult {
  const final = outcome.final!;
  const ok = check.kind === final.kind &&
    (check.kind === "ok" || check.code === undefined ||
      (final.kind === "error" && final.code === check.code));
  return {
    line: check.line,
    text: check.text,
    ok,
    expected: check.kind === "ok"
      ? "OK"
      : check.code === undefined
      ? "ERROR: any code"
      : `ERROR: ${check.code}`,
    got: ok ? got.slice(-1) : got,
    ms: 0,
    ...(final.kind === "error" ? { note: final.meaning } : {}),
  };
}

/**
 * Why a command got `ERROR: 1` (or a closed link's error), found out the
 * way a technician would: from the module's link table (`AT+SKTSTATE`).
 * Only after a failure, so a passing script sends nothing extra.
 */
async function diagnose(
  driver: AtDriver,
  request: Request,
  code: number,
): Promise<string | undefined> {
  if (!("linkId" in request)) return;
  const id = request.linkId;
  let states;
  try {
    states = await driver.state({ timeoutMs: 2000 });
  } catch {
    return;
  }
  const link = states.find((s) => s.linkId === id);
  const creates = request.command === "SKTSERVER" ||
    request.command === "SKTCLIENT";
  if (code === PARAMETER_ERROR && creates && link) {
    return `link ${id} is already in use (AT+SKTDEL=${id} frees it)`;
  }
  if (code === PARAMETER_ERROR && !creates && !link) {
    return `link ${id} is not in use`;
  }
  if (link && link.socketFd === -1 && !creates) {
    return `the peer of link ${id} has closed`;
  }
  return;
}

/** Why nothing came, or what an ERROR code means. */
function note(outcome: Outcome): string | undefined {
  return outcome.note ??
    (outcome.final?.kind === "error" ? outcome.final.meaning : undefined);
}

function gotLines(outcome: Outcome): string[] {
  const got = [...outcome.lines];
  if (outcome.final?.kind === "ok") got.push("OK");
  if (outcome.final?.kind === "error") {
    got.push(`ERROR: ${outcome.final.code}`);
  }
  return got;
}

/** Sends a request through the driver's typed method where it keeps state. */
async function exchange(
  driver: AtDriver,
  request: Request,
  timeoutMs: number,
): Promise<string[]> {
  const options = { timeoutMs };
  switch (request.command) {
    case "SKTSERVER":
      await driver.listen(request, options);
      return [];
    case "SKTCLIENT":
      await driver.connect(request, options);
      return [];
    case "SKTDEL":
      await driver.remove(request.linkId, options);
      return [];
    case "SKTREAD": {
      const read = await driver.read(request.linkId, request.size, options);
      const from = read.sender && read.size > 0
        ? `${read.sender.ip},${read.sender.port},`
        : "";
      return [
        `+SKTREAD:${request.linkId},${read.size},${from}${
          decodeLatin1(read.data)
        }`,
      ];
    }
    default:
      return (await driver.command(request, options)).lines;
  }
}

/** Turns the driver's ways of failing into an outcome; a closed connection ends the run. */
async function attempt(send: () => Promise<string[]>): Promise<Outcome> {
  try {
    return { lines: await send(), final: { kind: "ok" } };
  } catch (e) {
    if (e instanceof AtError) {
      return {
        lines: [],
        final: {
          kind: "error",
          code: e.code,
          meaning: `ERROR: ${e.code} of AT+${e.command ?? "?"}: ${e.meaning}`,
        },
      };
    }
    if (e instanceof CommandTimeoutError) {
      return { lines: [], note: "no answer in time" };
    }
    if (e instanceof ModuleResetError) {
      return {
        lines: ["ATCMD READY"],
        note: "the module restarted (ATCMD READY) before answering",
      };
    }
    if (e instanceof TransportClosedError) {
      return {
        lines: [],
        note: "the connection to the module closed",
        closed: true,
      };
    }
    if (e instanceof RangeError || e instanceof PayloadError) {
      return { lines: [], note: e.message };
    }
    throw e;
  }
}

/** A sendraw payload could not be read as announced. */
class PayloadError extends Error {}

async function executeSendRaw(
  driver: AtDriver,
  step: SendRawStep,
  options: ExecuteOptions,
  record: (result: StepResult) => void,
): Promise<void> {
  const start = Date.now();
  let size = 0;
  const outcome = await attempt(async () => {
    let payload: OpenedPayload;
    if (step.payload.kind === "bytes") {
      const data = step.payload.data;
      payload = {
        size: data.length,
        stream: new ReadableStream({
          start(controller) {
            controller.enqueue(data);
            controller.close();
          },
        }),
      };
    } else {
      try {
        payload = await options.openFile(step.payload.path);
      } catch (e) {
        throw new PayloadError(
          `cannot read ${step.payload.path}: ${
            (e instanceof Error ? e.message : String(e)).split("\n")[0]
          }`,
        );
      }
    }
    size = payload.size;
    const timeoutMs = step.final?.withinMs ??
      options.timeoutMs +
        Math.ceil(payload.size / options.bytesPerSecond * 1000);
    try {
      await driver.sendRaw(
        step.linkId,
        payload,
        step.destination,
        {
          timeoutMs,
          onProgress: options.onBytes,
        },
      );
    } finally {
      await payload.stream.cancel().catch(() => {});
    }
    return [];
  });
  const ms = Date.now() - start;
  const got = gotLines(outcome);
  const why = note(outcome) ??
    (outcome.final?.kind === "ok" ? `${size} bytes sent` : undefined);
  record({
    line: step.line,
    text: step.text,
    ok: outcome.final !== undefined &&
      (step.final !== undefined || outcome.final.kind === "ok"),
    expected: step.final ? "an answer" : "OK",
    got,
    ms,
    ...(why ? { note: why } : {}),
  });
  if (outcome.closed) throw new Closed();
  if (outcome.final && step.final) {
    record(finalResult(step.final, outcome, got));
  }
}

async function awaitUrc(
  urcs: UrcBuffer,
  step: UrcStep,
  options: ExecuteOptions,
  record: (result: StepResult) => void,
): Promise<void> {
  const ms = step.withinMs ?? options.timeoutMs;
  const start = Date.now();
  const match = await urcs.take(step.pattern, ms);
  record({
    line: step.line,
    text: step.text,
    ok: match.line !== undefined,
    expected: `an unsolicited line ${describePattern(step.pattern)} within ${
      seconds(ms)
    }`,
    got: match.line !== undefined ? [match.line] : match.seen,
    ms: Date.now() - start,
    ...(match.line === undefined
      ? {
        note: match.closed
          ? "the connection to the module closed"
          : `none came in time (${match.seen.length} other unsolicited lines unmatched)`,
      }
      : {}),
  });
  if (match.closed && match.line === undefined) throw new Closed();
}

/** `1500` -> `1.5 s`, `200` -> `200 ms`. */
export function seconds(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${+(ms / 1000).toFixed(2)} s`;
}
