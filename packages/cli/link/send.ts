/**
 * `atsock send`: sends text or a file on a link. Files go with
 * `AT+SKTSENDRAW` in Host Control Mode (paused between the module's
 * watermarks, as `AtDriver.sendRaw` does); in Manual Test Mode, where that
 * command is `ERROR: 4` (TT_DATA), a payload AT+SKTSEND can carry goes as
 * `AT+SKTSEND` pieces that fit the command buffer, and anything else is
 * refused with the reason.
 *
 * @module
 */

import { ERR, rangeText } from "@atsock/protocol";
import { type AtDriver, AtError, type Endpoint } from "@atsock/host";
import { defineLinkCommand, type LinkSubcommand } from "./declare.ts";
import { firstLine, isPermissionError } from "../target.ts";
import { unescapePayload } from "../term/display.ts";
import { UsageError } from "../usage.ts";
import { commonHelp, permissionsHelp } from "./help.ts";
import {
  type CommonOptions,
  LINK_ID,
  parseIPv4,
  parseLinkId,
  parsePort,
  required,
} from "./options.ts";
import { hasLineEnd, pieceEnd, sendPieces, sendRoom } from "./pieces.ts";
import { formatBytes, formatRate, rate } from "../transfer.ts";
import { ProgressBar } from "./progress.ts";
import {
  describeLink,
  linkInUse,
  OneShotError,
  reportFailure,
  withDriver,
} from "./drive.ts";

/** Help text of `atsock send`. */
export const SEND_HELP = `atsock send: send text or a file on a link

Usage:
  atsock send <DEVICE | tcp:HOST:PORT> --link N (--data TEXT | --file PATH)
              [--ip A --port P] [--progress] [--json]

--data is sent with AT+SKTSEND when it can be (no NUL, BS, TAB, DEL, 0xFF
or CR LF bytes, which the module's line reader changes; on UDP, one
command), else with AT+SKTSENDRAW. --file is sent with AT+SKTSENDRAW,
pausing between the module's High and Low Watermark lines. In Manual Test
Mode, where AT+SKTSENDRAW is ERROR: ${ERR.SKTSENDRAW.TT_DATA}, the payload goes as AT+SKTSEND pieces
of up to 1998 bytes a command (',' and '\\' escaped) if it has none of
those bytes; on a UDP link it must fit one command (one datagram), else it
is refused, as it is when it holds them: those need Host Control Mode.
Prints the bytes sent, the time and the rate.

Options:
  --link N        the link to send on, ${
  rangeText(LINK_ID)
} (a client or a seed; a UDP
                  server with --ip and --port)
  --data TEXT     the bytes to send, as UTF-8, with escapes \\r \\n \\t \\\\
                  and \\xNN (a backslash is written \\\\)
  --file PATH     send the file's bytes
  --ip A          receiver's IPv4 address, for a UDP server link
  --port P        receiver's port, for a UDP server link
  --progress      draw the progress bar on stderr, also for --data and when
                  stderr is not a terminal (by default: for --file, on a
                  terminal, unless --json)
  --json          {"ok": true, "linkId", "bytes", "seconds",
                  "bytesPerSecond", "method"}
${commonHelp()}
With AT+SKTSENDRAW the time limit is --timeout plus twice the time the bytes
take at --baud (38400 unless given, also for tcp:, where a bridge usually
feeds a UART of that speed).

${permissionsHelp(", --allow-read=PATH for --file")}
Examples:
  atsock send tcp:127.0.0.1:3333 --link 0 --file fw.bin
  atsock send /dev/ttyUSB0 --link 1 --data 'GET / HTTP/1.0\\r\\n\\r\\n'
  atsock send /dev/ttyUSB0 --link 3 --ip 192.168.1.20 --port 5000 \\
              --data hello --json
`;

/** Parsed options of `atsock send`. */
export interface SendOptions {
  /** The link. */
  linkId: number;
  /** What to send: bytes given, or a file. */
  payload: { kind: "data"; data: Uint8Array } | { kind: "file"; path: string };
  /** The receiver, for a UDP server. */
  destination?: Endpoint;
  /** Draw the progress bar even when stderr is not a terminal. */
  progress: boolean;
}

/** Reads the `atsock send` options (after the common ones were parsed). */
export function sendOptions(
  values: Record<string, string | boolean | undefined>,
): SendOptions {
  const linkId = parseLinkId(required(values.link, "--link"));
  const text = values.data as string | undefined;
  const path = values.file as string | undefined;
  if ((text === undefined) === (path === undefined)) {
    throw new UsageError("give one of --data TEXT or --file PATH");
  }
  let payload: SendOptions["payload"];
  if (text !== undefined) {
    let data: Uint8Array;
    try {
      data = unescapePayload(text);
    } catch (e) {
      throw new UsageError(`--data: ${(e as Error).message}`);
    }
    if (data.length === 0) throw new UsageError("--data is empty");
    payload = { kind: "data", data };
  } else {
    if (path === "") throw new UsageError("--file needs a file name");
    payload = { kind: "file", path: path! };
  }
  const ip = values.ip as string | undefined;
  const port = values.port as string | undefined;
  if ((ip === undefined) !== (port === undefined)) {
    throw new UsageError(
      "--ip and --port go together (a UDP server's receiver)",
    );
  }
  return {
    linkId,
    payload,
    ...(ip !== undefined
      ? { destination: { ip: parseIPv4(ip), port: parsePort(port!) } }
      : {}),
    progress: values.progress === true,
  };
}

/** What was sent, and how. */
interface Sent {
  bytes: number;
  method: "AT+SKTSENDRAW" | "AT+SKTSEND";
}

/** A payload the command can read more than once (a file, or bytes). */
interface Source {
  size: number;
  /** The bytes in order, in chunks. */
  chunks(): AsyncGenerator<Uint8Array>;
  /** What to call it in messages. */
  name: string;
}

const FILE_CHUNK = 64 * 1024;

function bytesSource(data: Uint8Array): Source {
  return {
    size: data.length,
    name: "the data",
    async *chunks() {
      yield data;
    },
  };
}

function fileSource(path: string, size: number): Source {
  return {
    size,
    name: path,
    async *chunks() {
      using file = await Deno.open(path, { read: true });
      let left = size;
      while (left > 0) {
        const buffer = new Uint8Array(Math.min(FILE_CHUNK, left));
        const n = await file.read(buffer);
        if (n === null) break;
        left -= n;
        yield buffer.subarray(0, n);
      }
      if (left > 0) {
        throw new OneShotError(
          `${path} shrank while it was sent: ${size - left} of ${size} bytes`,
        );
      }
    },
  };
}

/** A stream over a source's chunks, for `AtDriver.sendRaw`. */
function streamOf(source: Source): ReadableStream<Uint8Array> {
  const chunks = source.chunks();
  return new ReadableStream({
    async pull(controller) {
      const { value, done } = await chunks.next();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    async cancel() {
      await chunks.return(undefined);
    },
  });
}

/** Whether any chunk holds bytes AT+SKTSEND cannot carry (see `hasLineEnd`). */
async function sourceHasLineEnd(source: Source): Promise<boolean> {
  for await (const chunk of source.chunks()) {
    if (hasLineEnd(chunk)) return true;
  }
  return false;
}

/** Sends a source on a link; see the module documentation for the choice of command. */
async function sendSource(
  driver: AtDriver,
  options: SendOptions,
  source: Source,
  udp: boolean,
  bar: ProgressBar,
  rawTimeoutMs: number,
): Promise<Sent> {
  const { linkId, destination } = options;
  const room = sendRoom(linkId, destination);
  const data = options.payload.kind === "data" ? options.payload.data : null;
  // Short text goes as AT+SKTSEND, which both console modes take.
  if (
    data && !hasLineEnd(data) &&
    (!udp || pieceEnd(data, 0, room) === data.length)
  ) {
    return await bySend(driver, options, source, room, bar);
  }
  let started = false;
  try {
    await driver.sendRaw(
      linkId,
      data ?? { size: source.size, stream: streamOf(source) },
      destination,
      {
        timeoutMs: rawTimeoutMs,
        onProgress: (sent) => {
          started = true;
          bar.update(sent);
        },
      },
    );
    return { bytes: source.size, method: "AT+SKTSENDRAW" };
  } catch (e) {
    const manual = e instanceof AtError && e.command === "SKTSENDRAW" &&
      e.code === ERR.SKTSENDRAW.TT_DATA && !started;
    if (!manual) throw e;
  }
  // Manual Test Mode: AT+SKTSEND pieces, if the payload allows.
  const refuse = (why: string) =>
    new OneShotError(
      `the module is in Manual Test Mode (AT+SKTSENDRAW is ERROR: ${ERR.SKTSENDRAW.TT_DATA}) and ${source.name} ${why}: use a module in Host Control Mode`,
    );
  if (udp && source.size > room) {
    throw refuse(
      `has ${source.size} bytes, more than one AT+SKTSEND (one datagram) carries`,
    );
  }
  if (await sourceHasLineEnd(source)) {
    throw refuse(
      "holds NUL, BS, TAB, DEL, 0xFF or CR LF bytes, which AT+SKTSEND cannot carry",
    );
  }
  if (udp) {
    const whole = data ?? (await Deno.readFile(source.name));
    if (pieceEnd(whole, 0, room) !== whole.length) {
      throw refuse(
        "does not fit one AT+SKTSEND (one datagram) once ',' and '\\' are escaped",
      );
    }
  }
  return await bySend(driver, options, source, room, bar);
}

/** Sends a source as `AT+SKTSEND` commands that each fit the command buffer. */
async function bySend(
  driver: AtDriver,
  options: SendOptions,
  source: Source,
  room: number,
  bar: ProgressBar,
): Promise<Sent> {
  let sent = 0;
  for await (const chunk of source.chunks()) {
    if (hasLineEnd(chunk)) {
      throw new OneShotError(
        `${source.name} changed while it was sent: it now holds bytes AT+SKTSEND cannot carry`,
      );
    }
    for (const piece of sendPieces(chunk, room)) {
      await driver.command({
        command: "SKTSEND",
        linkId: options.linkId,
        data: piece,
        ...(options.destination ? { destination: options.destination } : {}),
      });
      sent += piece.length;
      bar.update(sent);
    }
  }
  return { bytes: sent, method: "AT+SKTSEND" };
}

/** The size of the file to send, or a one-line failure. */
async function fileSize(path: string): Promise<number> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (e) {
    if (isPermissionError(e)) throw e;
    if (e instanceof Deno.errors.NotFound) {
      throw new OneShotError(`${path}: no such file`);
    }
    throw new OneShotError(`${path}: ${firstLine(e)}`);
  }
  if (!info.isFile) throw new OneShotError(`${path} is not a file`);
  if (info.size === 0) {
    throw new OneShotError(`${path} is empty: nothing to send`);
  }
  return info.size;
}

/** Runs `atsock send` with checked options; resolves the exit status. */
async function send(
  common: CommonOptions,
  options: SendOptions,
): Promise<number> {
  let source: Source;
  try {
    source = options.payload.kind === "data"
      ? bytesSource(options.payload.data)
      : fileSource(
        options.payload.path,
        await fileSize(options.payload.path),
      );
  } catch (e) {
    return await reportFailure(common, e);
  }
  const showProgress = options.progress ||
    (options.payload.kind === "file" && !common.json &&
      Deno.stderr.isTerminal());
  // Raw bytes cross a UART at baud/10 bytes a second; allow twice that.
  const rawTimeoutMs = common.timeoutMs +
    Math.ceil(source.size * 10 / common.baud * 1000 * 2);
  return await withDriver(common, async (driver) => {
    const link = await linkInUse(driver, options.linkId);
    const udpServer = link.protocol === "udp" && link.role === "server";
    if (link.role === "server" && !udpServer) {
      throw new OneShotError(
        `link ${link.linkId} is a ${
          describeLink(link)
        }: send on one of its seeds (see atsock state)`,
      );
    }
    if (udpServer && !options.destination) {
      throw new OneShotError(
        `link ${link.linkId} is a udp server: give the receiver with --ip and --port`,
      );
    }
    if (!udpServer && options.destination) {
      throw new OneShotError(
        `--ip and --port are for a udp server; link ${link.linkId} is a ${
          describeLink(link)
        }`,
      );
    }
    const bar = new ProgressBar(source.size, showProgress);
    let sent: Sent;
    try {
      sent = await sendSource(
        driver,
        options,
        source,
        link.protocol === "udp",
        bar,
        rawTimeoutMs,
      );
    } finally {
      bar.finish();
    }
    const ms = bar.elapsedMs;
    const bytesPerSecond = Math.round(rate(sent.bytes, ms));
    return {
      text: `sent ${sent.bytes} bytes (${
        formatBytes(sent.bytes)
      }) on link ${options.linkId} in ${(ms / 1000).toFixed(2)} s (${
        formatRate(bytesPerSecond)
      }) with ${sent.method}`,
      json: {
        ok: true,
        linkId: options.linkId,
        bytes: sent.bytes,
        seconds: Number((ms / 1000).toFixed(3)),
        bytesPerSecond,
        method: sent.method,
      },
    };
  });
}

/** `atsock send`. */
export const sendCommand: LinkSubcommand<SendOptions> = defineLinkCommand({
  name: "send",
  summary: "send text or a file on a link (AT+SKTSEND, AT+SKTSENDRAW)",
  help: SEND_HELP,
  fields: {
    command: "SKTSEND",
    options: {
      link: "link_id",
      data: "data",
      ip: "dst_ip",
      port: "dst_port",
    },
    computed: {
      data_size:
        "the length of the data, or AT+SKTSENDRAW with the file's size",
    },
  },
  options: {
    file: { type: "string" },
    progress: { type: "boolean", default: false },
  },
  timeoutMs: 10000,
  request: sendOptions,
  action: send,
});
