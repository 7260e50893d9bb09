/**
 * How a one-shot subcommand runs: open the target, drive it through an
 * `AtDriver`, print one result (text, or one JSON document with `--json`),
 * and turn every failure the module or the link can produce into one line
 * on stderr and exit status 1. Bad arguments, an unreachable target and a
 * denied permission go up to `main`, which prints them as one line too.
 *
 * @module
 */

import {
  AtDriver,
  AtError,
  CommandTimeoutError,
  type LinkState,
  ModuleResetError,
  TransportClosedError,
} from "@atsock/host";
import { PARAMETER_ERROR } from "@atsock/protocol";
import { practice } from "../practice.ts";
import { firstLine, openTarget } from "../target.ts";
import type { CommonOptions } from "./options.ts";

/** A failure of a one-shot command that is not the module's `ERROR: n`: one line, exit 1. */
export class OneShotError extends Error {
  /** Creates the error with a one-line message. */
  constructor(message: string) {
    super(message);
    this.name = "OneShotError";
  }
}

/** What a one-shot action reports when it is done. */
export interface Outcome {
  /** Text for stdout (a trailing line end is added when missing; empty: nothing). */
  text: string;
  /** The JSON document for `--json`. */
  json: unknown;
  /** Exit status (default 0). */
  status?: number;
  /** One line for stderr (with `atsock: ` in front), shown also under `--json`. */
  warning?: string;
}

const encoder = new TextEncoder();

/** Writes all of `text` to stdout. */
export async function writeStdout(bytes: Uint8Array | string): Promise<void> {
  const data = typeof bytes === "string" ? encoder.encode(bytes) : bytes;
  let written = 0;
  while (written < data.length) {
    written += await Deno.stdout.write(data.subarray(written));
  }
}

/** Prints one line on stderr with the command's name in front. */
export function complain(message: string): void {
  console.error(`atsock: ${message}`);
}

/**
 * Opens the target, runs `action` with a driver on it, prints its outcome
 * and closes the target. Module errors, timeouts, a restart, a closed
 * connection and {@linkcode OneShotError} become one line and status 1.
 */
export async function withDriver(
  common: CommonOptions,
  action: (driver: AtDriver) => Promise<Outcome>,
): Promise<number> {
  const transport = await openTarget(common.target, { baud: common.baud });
  const driver = new AtDriver(transport, { timeoutMs: common.timeoutMs });
  let outcome: Outcome;
  try {
    outcome = await action(driver);
  } catch (e) {
    if (e instanceof TransportClosedError && common.target.kind === "tcp") {
      // A bridge or an emulator's TCP console takes one client at a time.
      return await reportFailure(
        common,
        new OneShotError(
          `${e.message} (is another client connected to ${transport.name}?)`,
        ),
      );
    }
    return await reportFailure(common, e);
  } finally {
    await driver.close();
  }
  if (outcome.warning) complain(outcome.warning);
  if (common.json) {
    await writeStdout(JSON.stringify(outcome.json) + "\n");
  } else if (outcome.text) {
    await writeStdout(
      outcome.text.endsWith("\n") ? outcome.text : outcome.text + "\n",
    );
  }
  return outcome.status ?? 0;
}

/**
 * Prints an expected failure as one line (and, with `--json`, as
 * `{"ok": false, "error": {...}}` on stdout); returns exit status 1.
 * Anything else is rethrown.
 */
export async function reportFailure(
  common: { json: boolean },
  e: unknown,
): Promise<number> {
  const failure = describeFailure(e);
  if (!failure) throw e;
  complain(failure.message);
  if (common.json) {
    await writeStdout(JSON.stringify({ ok: false, error: failure }) + "\n");
  }
  return 1;
}

/** A failure as one line, plus the module's code and meaning when it gave one. */
export interface Failure {
  /** The line printed (without `atsock: `). */
  message: string;
  /** `AT+SKT...` when the module answered `ERROR: n`. */
  command?: string;
  /** The module's error code. */
  code?: number;
  /** The reference's meaning of the code. */
  meaning?: string;
}

/**
 * The one line for an error a one-shot command expects, or `undefined` for
 * anything else (bugs, usage, permissions), which the caller rethrows.
 */
export function describeFailure(e: unknown): Failure | undefined {
  if (e instanceof AtError) {
    const command = e.command === undefined ? "AT" : `AT+${e.command}`;
    const detail = e.detail?.startsWith("answer to ") ? "" : e.detail;
    // Code 1 has many causes: its hint only when nothing more precise is known.
    const hint = e.command && !(e.code === PARAMETER_ERROR && detail)
      ? practice(e.command, e.code)?.hint
      : undefined;
    return {
      message: `${command}: ERROR: ${e.code} (${e.meaning})${
        detail ? `: ${detail}` : ""
      }${hint ? `: ${hint}` : ""}`,
      command,
      code: e.code,
      meaning: e.meaning,
    };
  }
  if (
    e instanceof OneShotError || e instanceof CommandTimeoutError ||
    e instanceof ModuleResetError || e instanceof TransportClosedError
  ) {
    return { message: firstLine(e.message) };
  }
  if (
    e instanceof Deno.errors.BrokenPipe ||
    e instanceof Deno.errors.ConnectionReset ||
    e instanceof Deno.errors.UnexpectedEof
  ) {
    return { message: `the connection to the module broke: ${e.message}` };
  }
  return undefined;
}

/**
 * The module's link table entry for `linkId`, or a {@linkcode OneShotError}
 * saying the link is not in use.
 */
export async function linkInUse(
  driver: AtDriver,
  linkId: number,
): Promise<LinkState> {
  const link = (await driver.state()).find((l) => l.linkId === linkId);
  if (!link) {
    throw new OneShotError(
      `link ${linkId} is not in use (see atsock state)`,
    );
  }
  if (link.socketFd === -1) {
    // at_sktread/at_sktsend: a link without its socket is PARAMETER.
    throw new OneShotError(
      `link ${linkId}'s peer has gone and the module has closed its socket (socket_fd:-1): reads and sends are ERROR: ${PARAMETER_ERROR}; AT+SKTDEL=${linkId} frees the id`,
    );
  }
  return link;
}

/** A link in a few words: `tcp client of 10.0.0.2:80`. */
export function describeLink(link: LinkState): string {
  const proto = link.protocol === "ssl" ? "tls" : link.protocol;
  const where = link.role === "server"
    ? `on port ${link.source.port}`
    : `${
      link.role === "seed" ? "from" : "of"
    } ${link.destination.ip}:${link.destination.port}`;
  return `${proto} ${link.role} ${where}${
    link.socketFd < 0 ? " (peer gone)" : ""
  }`;
}

/**
 * After `ERROR: 1` (PARAMETER_ERROR) from a command that creates a link: if the id is taken,
 * the same error with what takes it; otherwise the error as it was.
 */
export async function explainTaken(
  driver: AtDriver,
  linkId: number,
  error: unknown,
): Promise<never> {
  if (error instanceof AtError && error.code === PARAMETER_ERROR) {
    // Only a hint: if the table cannot be read, the module's error stands.
    const links = await driver.state().catch(() => []);
    const link = links.find((l) => l.linkId === linkId);
    if (link) {
      throw new AtError(error.command, PARAMETER_ERROR, {
        detail: `link ${linkId} is already in use (${
          describeLink(link)
        }); AT+SKTDEL=${linkId} frees it`,
        cause: error,
      });
    }
  }
  throw error;
}
