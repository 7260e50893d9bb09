/**
 * `atsock read`: reads what a link has received (`AT+SKTREAD`), once or
 * repeatedly, and shows it safely: escaped text or a hex dump on a
 * terminal, exact bytes into a file with `--out` or to a pipe with `--raw`,
 * base64 in JSON.
 *
 * @module
 */

import { concat, ERR, rangeText } from "@atsock/protocol";
import { Buffer } from "node:buffer";
import { type AtDriver, AtError, type Endpoint } from "@atsock/host";
import { defineLinkCommand, type LinkSubcommand } from "./declare.ts";
import { firstLine, isPermissionError } from "../target.ts";
import { escapeBytes, hexDump } from "../term/display.ts";
import { parseSeconds, UsageError } from "../usage.ts";
import { commonHelp, permissionsHelp } from "./help.ts";
import {
  type CommonOptions,
  LINK_ID,
  parseLinkId,
  parseWhole,
  required,
} from "./options.ts";
import { linkInUse, OneShotError, withDriver, writeStdout } from "./drive.ts";

/** Bytes one `AT+SKTREAD` asks for at most (a TCP window fits; small enough for a module's heap). */
export const READ_CHUNK = 8192;

/** Help text of `atsock read`. */
export const READ_HELP =
  `atsock read: read what a link has received (AT+SKTREAD)

Usage:
  atsock read <DEVICE | tcp:HOST:PORT> --link N [--size N] [--wait S]
              [--out FILE | --hex | --raw] [--json]

Reads once by default: one AT+SKTREAD of up to ${READ_CHUNK} bytes (the module
waits about 20 ms for data). With --size, reads again until N bytes came or
nothing more is waiting; with --wait, until N bytes came or S seconds passed.
Each AT+SKTREAD asks for at most ${READ_CHUNK} bytes; a longer UDP datagram is cut.
Works on links made without --auto-rcv (with it, the module prints data as
it comes instead of keeping it).

Output: on stdout, bytes are shown escaped (printable ASCII as is, \\r \\n \\t
\\\\ and \\xNN for the rest), so nothing received can disturb the terminal;
UDP datagrams one a line after their sender. --hex shows a hex dump, --out
writes the exact bytes to FILE, --raw writes them to stdout, which must then
be a pipe or a file.

The firmware prints read data as a C string: a NUL byte cuts it, the rest
is lost. The command then says so and exits with status 1 (after showing or
writing what came). Use an --auto-rcv link for binary data.

Options:
  --link N        the link to read, ${rangeText(LINK_ID)}
  --size N        bytes to read in all (1..1073741824)
  --wait S        keep reading for up to S seconds
  --out FILE      write the bytes to FILE (created or replaced)
  --hex           show a hex dump
  --raw           write the bytes as they are to stdout (not a terminal)
  --json          {"ok": true, "linkId", "protocol", "bytes", "closed",
                  "truncated", "data": base64} (UDP: "datagrams": [{"from":
                  {"ip", "port"}, "data"}]; no data with --out)
${commonHelp()}
A link whose peer closed, once all was read, is ERROR: ${ERR.SKTREAD.READ} (and the module
closes its socket: later reads are ERROR: ${ERR.SKTREAD.PARAMETER}): after some data that ends the
reading (status 0, "closed": true); before any, status 1.

${permissionsHelp(", --allow-write=FILE for --out")}
Examples:
  atsock read tcp:127.0.0.1:3333 --link 0
  atsock read /dev/ttyUSB0 --link 1 --size 1024 --wait 5 --hex
  atsock read /dev/ttyUSB0 --link 1 --wait 30 --out capture.bin
  atsock read tcp:127.0.0.1:3333 --link 0 --raw | sha256sum
`;

/** How `atsock read` shows the bytes. */
export type ReadOutput =
  | { kind: "text" }
  | { kind: "hex" }
  | { kind: "raw" }
  | { kind: "file"; path: string }
  | { kind: "json" };

/** Parsed options of `atsock read`. */
export interface ReadOptions {
  /** The link. */
  linkId: number;
  /** Bytes to read in all, when given. */
  size?: number;
  /** How long to keep reading, in ms, when given. */
  waitMs?: number;
  /** Where the bytes go. */
  output: ReadOutput;
}

/** Reads the `atsock read` options (after the common ones were parsed). */
export function readOptions(
  values: Record<string, string | boolean | undefined>,
  json: boolean,
  stdoutIsTerminal: boolean,
): ReadOptions {
  const linkId = parseLinkId(required(values.link, "--link"));
  const size = values.size === undefined
    ? undefined
    : parseWhole(values.size as string, "--size", 1, 1 << 30);
  const waitMs = values.wait === undefined
    ? undefined
    : parseSeconds(values.wait as string, "--wait") * 1000;
  const out = values.out as string | undefined;
  if (out === "") throw new UsageError("--out needs a file name");
  const chosen = [
    out !== undefined && "--out",
    values.hex === true && "--hex",
    values.raw === true && "--raw",
  ].filter((c): c is string => c !== false);
  if (chosen.length > 1) {
    throw new UsageError(`choose one of ${chosen.join(", ")}`);
  }
  if (json && (values.hex === true || values.raw === true)) {
    throw new UsageError(
      `--json carries the bytes as base64: drop ${chosen[0]}`,
    );
  }
  let output: ReadOutput;
  if (out !== undefined) output = { kind: "file", path: out };
  else if (json) output = { kind: "json" };
  else if (values.hex === true) output = { kind: "hex" };
  else if (values.raw === true) {
    if (stdoutIsTerminal) {
      throw new UsageError(
        "--raw writes bytes as they are: redirect stdout to a pipe or file, or use --hex or --out",
      );
    }
    output = { kind: "raw" };
  } else output = { kind: "text" };
  return {
    linkId,
    ...(size !== undefined ? { size } : {}),
    ...(waitMs !== undefined ? { waitMs } : {}),
    output,
  };
}

/** One `AT+SKTREAD` that returned data. */
export interface ReadChunk {
  /** The bytes the module printed. */
  data: Uint8Array;
  /** Bytes the module read (more than `data` when a NUL cut it). */
  size: number;
  /** The sender, for UDP. */
  sender?: Endpoint;
}

/** The result of the reads. */
export interface ReadResult {
  /** Every read that returned data, in order. */
  chunks: ReadChunk[];
  /** Whether the peer had closed the link (`ERR.SKTREAD.READ` after data). */
  closed: boolean;
}

/**
 * Reads as the options say, handing each chunk to `onChunk` as it comes
 * (so a file is written as the data arrives).
 */
export async function readLink(
  driver: AtDriver,
  options: ReadOptions,
  onChunk: (chunk: ReadChunk) => Promise<void>,
): Promise<ReadResult> {
  const chunks: ReadChunk[] = [];
  const deadline = options.waitMs === undefined
    ? undefined
    : performance.now() + options.waitMs;
  let total = 0;
  let closed = false;
  while (true) {
    const left = options.size === undefined ? READ_CHUNK : options.size - total;
    let read;
    try {
      read = await driver.read(options.linkId, Math.min(left, READ_CHUNK));
    } catch (e) {
      // READ: this read met the end (the module closed the socket);
      // PARAMETER after data: an earlier read of someone else's did.
      const gone = e instanceof AtError && e.command === "SKTREAD" &&
        (e.code === ERR.SKTREAD.READ || e.code === ERR.SKTREAD.PARAMETER);
      if (gone && chunks.length > 0) {
        closed = true;
        break;
      }
      throw e;
    }
    if (read.size > 0) {
      const chunk: ReadChunk = {
        data: read.data,
        size: read.size,
        ...(read.sender ? { sender: read.sender } : {}),
      };
      chunks.push(chunk);
      total += read.size;
      await onChunk(chunk);
    }
    if (options.size !== undefined && total >= options.size) break;
    if (deadline === undefined) {
      // Without --wait: once, or (with --size) while data keeps coming.
      if (options.size === undefined || read.size === 0) break;
    } else if (performance.now() >= deadline) break;
  }
  return { chunks, closed };
}

/** The chunks as escaped text lines (UDP: one line per datagram, after its sender). */
export function formatText(chunks: readonly ReadChunk[]): string {
  if (chunks.length === 0) return "";
  if (chunks.every((c) => !c.sender)) {
    return escapeBytes(concat(chunks.map((c) => c.data))) + "\n";
  }
  return chunks.map((c) =>
    `${c.sender ? `${c.sender.ip}:${c.sender.port}: ` : ""}${
      escapeBytes(c.data)
    }\n`
  ).join("");
}

/** The chunks as a hex dump (UDP: a header per datagram). */
export function formatHex(chunks: readonly ReadChunk[]): string {
  if (chunks.length === 0) return "";
  const udp = chunks.some((c) => c.sender);
  if (!udp) {
    return hexDump(concat(chunks.map((c) => c.data))).join("\n") + "\n";
  }
  return chunks.map((c) =>
    [
      `${c.sender?.ip}:${c.sender?.port} (${c.data.length} bytes):`,
      ...hexDump(c.data),
    ].join("\n") + "\n"
  ).join("");
}

function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString(
    "base64",
  );
}

/** Opens the `--out` file before anything is read (what is read is gone from the module). */
async function openOut(path: string): Promise<Deno.FsFile> {
  try {
    return await Deno.open(path, { write: true, create: true, truncate: true });
  } catch (e) {
    if (isPermissionError(e)) throw e;
    throw new OneShotError(`cannot write ${path}: ${firstLine(e)}`);
  }
}

async function writeFileAll(file: Deno.FsFile, bytes: Uint8Array) {
  let written = 0;
  while (written < bytes.length) {
    written += await file.write(bytes.subarray(written));
  }
}

/** Runs `atsock read` with checked options; resolves the exit status. */
async function read(
  common: CommonOptions,
  options: ReadOptions,
): Promise<number> {
  const { output } = options;
  return await withDriver(common, async (driver) => {
    const link = await linkInUse(driver, options.linkId);
    const file = output.kind === "file"
      ? await openOut(output.path)
      : undefined;
    let result: ReadResult;
    try {
      result = await readLink(driver, options, async (chunk) => {
        if (file) await writeFileAll(file, chunk.data);
        else if (output.kind === "raw") await writeStdout(chunk.data);
      });
    } finally {
      file?.close();
    }
    const { chunks, closed } = result;
    const shown = chunks.reduce((n, c) => n + c.data.length, 0);
    const size = chunks.reduce((n, c) => n + c.size, 0);
    const truncated = shown < size;
    const udp = link.protocol === "udp";
    const notes: string[] = [];
    if (truncated) {
      notes.push(
        `the module cut the data at a NUL byte: ${shown} of ${size} bytes arrived (use an --auto-rcv link for binary data)`,
      );
    }
    if (closed) notes.push(`the peer has closed link ${options.linkId}`);
    if (chunks.length === 0 && output.kind !== "json") {
      notes.push(`no data waiting on link ${options.linkId}`);
    }
    let text = "";
    switch (output.kind) {
      case "text":
        text = formatText(chunks);
        break;
      case "hex":
        text = formatHex(chunks);
        break;
      case "file":
        text =
          `read ${shown} bytes from link ${options.linkId} into ${output.path}`;
        break;
    }
    return {
      text,
      json: {
        ok: !truncated,
        linkId: options.linkId,
        protocol: link.protocol === "ssl" ? "tls" : link.protocol,
        bytes: shown,
        closed,
        truncated,
        ...(output.kind === "file" ? { file: output.path } : udp
          ? {
            datagrams: chunks.map((c) => ({
              from: c.sender,
              data: base64(c.data),
              ...(c.data.length < c.size ? { size: c.size } : {}),
            })),
          }
          : { data: base64(concat(chunks.map((c) => c.data))) }),
      },
      ...(notes.length > 0 ? { warning: notes.join("; ") } : {}),
      status: truncated ? 1 : 0,
    };
  });
}

/** `atsock read`. */
export const readCommand: LinkSubcommand<ReadOptions> = defineLinkCommand({
  name: "read",
  summary: "read what a link received (AT+SKTREAD)",
  help: READ_HELP,
  fields: {
    command: "SKTREAD",
    options: {
      link: "link_id",
      size: "data_size",
    },
  },
  options: {
    wait: { type: "string" },
    out: { type: "string" },
    hex: { type: "boolean", default: false },
    raw: { type: "boolean", default: false },
  },
  timeoutMs: 10000,
  request: (values, common) =>
    readOptions(values, common.json, Deno.stdout.isTerminal()),
  action: read,
});
