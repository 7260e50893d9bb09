/**
 * Where a module is, as a person writes it: a serial device or a TCP
 * bridge (`tcp:HOST:PORT`). Parsing gives a {@linkcode UsageError}; opening
 * gives a {@linkcode TargetError} with one line for the user, and lets
 * Deno's permission errors through so that a program can name the flag to
 * add.
 *
 * @module
 */

import { openSerialTransport, SerialError } from "./serial.ts";
import { connectTcp, type Transport } from "./transport.ts";
import { UsageError } from "./usage_error.ts";

/** Where the module is. */
export type Target =
  | { kind: "tcp"; hostname: string; port: number }
  | { kind: "serial"; path: string };

/** A module that could not be reached: one line for the user, exit status 1. */
export class TargetError extends Error {
  /** Creates the error with a one-line message. */
  constructor(message: string) {
    super(message);
    this.name = "TargetError";
  }
}

/** The default speed of the module's AT UART (8N1). */
export const DEFAULT_BAUD = 38400;

/** `tcp:HOST:PORT` (HOST may be `[v6]`, empty means 127.0.0.1) or a device path. */
export function parseTarget(text: string): Target {
  if (text.startsWith("tcp:")) {
    const m = /^tcp:(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(text);
    if (!m) throw new UsageError(`expected tcp:HOST:PORT, not "${text}"`);
    const port = Number(m[3]);
    if (port < 1 || port > 65535) {
      throw new UsageError(`port ${port} is not 1..65535`);
    }
    return { kind: "tcp", hostname: m[1] ?? (m[2] || "127.0.0.1"), port };
  }
  if (text === "") throw new UsageError("the target is empty");
  if (/^[\w.-]+:\d+$/.test(text)) {
    throw new UsageError(
      `"${text}" is not a device; did you mean tcp:${text}?`,
    );
  }
  return { kind: "serial", path: text };
}

/** The target as the user wrote it. */
export function targetName(target: Target): string {
  return target.kind === "tcp"
    ? `tcp:${target.hostname}:${target.port}`
    : target.path;
}

/**
 * Opens the target (a serial device at `baud`, default
 * {@linkcode DEFAULT_BAUD}, with RTS/CTS flow control when `rtscts`). A missing device or a refused connection is a
 * {@linkcode TargetError}, an unsupported baud rate a
 * {@linkcode UsageError}; permission errors are rethrown as they are.
 */
export async function openTarget(
  target: Target,
  options: { baud?: number; rtscts?: boolean } = {},
): Promise<Transport> {
  const name = targetName(target);
  if (target.kind === "tcp") {
    try {
      return await connectTcp({ hostname: target.hostname, port: target.port });
    } catch (e) {
      if (isPermissionError(e)) throw e;
      if (e instanceof Deno.errors.ConnectionRefused) {
        throw new TargetError(
          `${name}: connection refused (is the bridge or emulator running?)`,
        );
      }
      throw new TargetError(`${name}: ${firstLine(e)}`);
    }
  }
  try {
    return openSerialTransport(target.path, {
      baud: options.baud ?? DEFAULT_BAUD,
      rtscts: options.rtscts ?? false,
    });
  } catch (e) {
    if (isPermissionError(e)) throw e;
    if (e instanceof RangeError) throw new UsageError(e.message);
    if (e instanceof SerialError) throw new TargetError(e.message);
    throw new TargetError(`${name}: ${firstLine(e)}`);
  }
}

/**
 * True for Deno's permission errors, which {@linkcode openTarget} and
 * `readTranscript` let through as they are (a program names the
 * flag to add).
 */
export function isPermissionError(e: unknown): boolean {
  return e instanceof Deno.errors.NotCapable ||
    e instanceof Deno.errors.PermissionDenied;
}

/** The first line of an error's message. */
export function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split("\n")[0];
}
