/**
 * The transcript format (JSON lines) that the virtual module records and
 * `atsock replay` / `atsock transcript show` read: a header line, then one
 * record a line with a time in ms since the start and a direction. Pure:
 * text in, records out (and back); the file I/O is the recorder's and the
 * CLI's. See `docs/transcripts.md`.
 *
 * @module
 */

import { decodeLatin1, encodeLatin1 } from "./bytes.ts";

/** The transcript format version this code writes and reads. */
export const TRANSCRIPT_VERSION = 1;

/** The first line of a transcript. */
export interface TranscriptHeader {
  /** Always `"transcript"`: marks the file as an atsock transcript. */
  atsock: "transcript";
  /** The format version ({@linkcode TRANSCRIPT_VERSION}). */
  version: number;
  /** Wall-clock start time, ISO 8601 (for people; times in records are relative). */
  started?: string;
  /** The module's console mode, when the recorder knew it. */
  mode?: "manual" | "host";
  /** The address the module reported as its own (abstracted as `${IP}` by replay). */
  ip?: string;
  /** The fault plan's seed, when one was in use. */
  seed?: number;
  /**
   * The address the network peers have in the transcript (abstracted as
   * `${PEER}` by replay); conformance transcripts set it.
   */
  peer?: string;
  /** What the transcript pins, in words (conformance transcripts). */
  title?: string;
  /** The reference lines the transcript pins, quoted (conformance transcripts). */
  quote?: string[];
}

/** What a network peer does in a conformance transcript (see `docs/conformance.md`). */
export type PeerAction =
  | "listen"
  | "connect"
  | "send"
  | "expect"
  | "expect-close"
  | "close";

/** The peer actions, for checks and help. */
export const PEER_ACTIONS: readonly PeerAction[] = [
  "listen",
  "connect",
  "send",
  "expect",
  "expect-close",
  "close",
];

/**
 * A `peer` record: a network peer the runner of a conformance transcript
 * provides acts. The recorder never writes one; people do.
 */
export interface PeerRecord {
  /** ms since the start (0 in hand-written transcripts). */
  t: number;
  /** A network peer acts. */
  dir: "peer";
  /** What it does. */
  do: PeerAction;
  /** The peer's name: later records refer to it. */
  name: string;
  /** `listen`, `connect`: the protocol. */
  proto?: "tcp" | "udp" | "tls";
  /** `listen`: the port as the transcript has it (the runner's port takes its placeholder). */
  port?: number;
  /** `connect`: the module's port as the transcript has it. */
  to?: number;
  /** `connect`: the peer's own port as the transcript has it (the runner's port takes its placeholder). */
  from?: number;
  /** `send`, `expect`: the bytes. */
  data?: Uint8Array;
  /** `send`: the module keeps the bytes (auto_rcv=0); the runner waits until it holds them. */
  held?: boolean;
}

/** Where a network event happened on a link. */
export type NetEvent = "open" | "close" | "rx" | "tx";

/** One transcript record after the header. */
export type TranscriptRecord =
  | {
    /** ms since the start (monotonic). */
    t: number;
    /** Console bytes: `h2m` host to module, `m2h` module to host. */
    dir: "h2m" | "m2h";
    /** The bytes. */
    data: Uint8Array;
  }
  | {
    /** ms since the start. */
    t: number;
    /** The network side of a link. */
    dir: "net";
    /** The link id. */
    link: number;
    /** `open`, `close`, `rx` (from the peer) or `tx` (to the peer). */
    event: NetEvent;
    /** `rx`/`tx`: the byte count. */
    bytes?: number;
    /** `rx`/`tx`: the payload, when the recorder keeps payloads. */
    data?: Uint8Array;
    /** `open`: the role and protocol (`client tcp`, `seed tls`, `server udp`...). */
    kind?: string;
    /** The remote address `ip:port`, when there is one. */
    peer?: string;
    /** `close`: who closed (`peer`, `module`). */
    by?: string;
  }
  | {
    /** ms since the start. */
    t: number;
    /** A fault that fired. */
    dir: "fault";
    /** The fault's index in its plan. */
    fault: number;
    /** The action's type. */
    action: string;
    /** What it did, in words. */
    detail: string;
  }
  | {
    /** ms since the start. */
    t: number;
    /** Records the recorder dropped because the file could not keep up. */
    dir: "dropped";
    /** How many. */
    count: number;
  }
  | PeerRecord;

/** A transcript that cannot be read: the line number (1-based) and why. */
export class TranscriptError extends Error {
  /** The line (1-based) at fault. */
  readonly line: number;
  /** Creates the error. */
  constructor(line: number, message: string) {
    super(`line ${line}: ${message}`);
    this.name = "TranscriptError";
    this.line = line;
  }
}

/** A parsed transcript. */
export interface Transcript {
  /** The header. */
  header: TranscriptHeader;
  /** The records, in file order. */
  records: TranscriptRecord[];
  /** The file line (1-based) of each record. */
  lines: number[];
}

/** Whether bytes can be written as JSON text: printable ASCII, tab, CR and LF. */
export function isPrintable(data: Uint8Array): boolean {
  for (let i = 0; i < data.length; i++) {
    const b = data[i];
    if ((b < 0x20 || b > 0x7e) && b !== 13 && b !== 10 && b !== 9) {
      return false;
    }
  }
  return true;
}

function payload(data: Uint8Array): { text: string } | { b64: string } {
  if (isPrintable(data)) return { text: decodeLatin1(data) };
  return { b64: btoa(decodeLatin1(data)) };
}

/** The header line (without its line end). */
export function formatTranscriptHeader(header: TranscriptHeader): string {
  return JSON.stringify(header);
}

/** One record as a JSON line (without its line end); times keep 3 decimals. */
export function formatTranscriptRecord(record: TranscriptRecord): string {
  const t = Math.round(record.t * 1000) / 1000;
  switch (record.dir) {
    case "h2m":
    case "m2h":
      return JSON.stringify({ t, dir: record.dir, ...payload(record.data) });
    case "net": {
      const { data, ...rest } = record;
      return JSON.stringify({
        ...rest,
        t,
        ...(data ? payload(data) : {}),
      });
    }
    case "peer": {
      const { data, ...rest } = record;
      return JSON.stringify({ ...rest, t, ...(data ? payload(data) : {}) });
    }
    default:
      return JSON.stringify({ ...record, t });
  }
}

/** Parses the header line; throws {@linkcode TranscriptError}. */
export function parseTranscriptHeader(text: string): TranscriptHeader {
  const value = json(text, 1);
  if (value.atsock !== "transcript") {
    throw new TranscriptError(
      1,
      'not an atsock transcript (the first line must be {"atsock":"transcript",...})',
    );
  }
  if (value.version !== TRANSCRIPT_VERSION) {
    throw new TranscriptError(
      1,
      `transcript version ${
        JSON.stringify(value.version)
      } is not supported (this atsock reads version ${TRANSCRIPT_VERSION})`,
    );
  }
  return value as unknown as TranscriptHeader;
}

/** Parses one record line; `line` is its number for errors. */
export function parseTranscriptRecord(
  text: string,
  line: number,
): TranscriptRecord {
  const value = json(text, line);
  const t = value.t;
  if (typeof t !== "number" || !Number.isFinite(t) || t < 0) {
    throw new TranscriptError(line, '"t" must be a number of ms >= 0');
  }
  const bytes = (required: boolean): Uint8Array | undefined => {
    if (typeof value.text === "string") {
      for (let i = 0; i < value.text.length; i++) {
        if (value.text.charCodeAt(i) > 0xff) {
          throw new TranscriptError(
            line,
            '"text" holds a character above 0xff (use "b64")',
          );
        }
      }
      return encodeLatin1(value.text);
    }
    if (typeof value.b64 === "string") {
      try {
        return encodeLatin1(atob(value.b64));
      } catch {
        throw new TranscriptError(line, '"b64" is not valid base64');
      }
    }
    if (required) {
      throw new TranscriptError(line, 'needs "text" or "b64"');
    }
    return undefined;
  };
  switch (value.dir) {
    case "h2m":
    case "m2h":
      return { t, dir: value.dir, data: bytes(true)! };
    case "net": {
      const link = value.link;
      if (typeof link !== "number" || !Number.isInteger(link) || link < 0) {
        throw new TranscriptError(line, '"link" must be a link id');
      }
      const event = value.event;
      if (
        event !== "open" && event !== "close" && event !== "rx" &&
        event !== "tx"
      ) {
        throw new TranscriptError(
          line,
          '"event" must be open, close, rx or tx',
        );
      }
      const record: TranscriptRecord = { t, dir: "net", link, event };
      if (typeof value.bytes === "number") record.bytes = value.bytes;
      if (typeof value.kind === "string") record.kind = value.kind;
      if (typeof value.peer === "string") record.peer = value.peer;
      if (typeof value.by === "string") record.by = value.by;
      const data = bytes(false);
      if (data) record.data = data;
      return record;
    }
    case "fault":
      return {
        t,
        dir: "fault",
        fault: Number(value.fault),
        action: String(value.action),
        detail: String(value.detail ?? ""),
      };
    case "dropped":
      return { t, dir: "dropped", count: Number(value.count) };
    case "peer":
      return peerRecord(value, t, line, bytes(false));
    default:
      throw new TranscriptError(
        line,
        `"dir" must be h2m, m2h, net, fault, dropped or peer, not ${
          JSON.stringify(value.dir)
        }`,
      );
  }
}

/** Parses a whole transcript; throws {@linkcode TranscriptError} at the first bad line. */
export function parseTranscript(text: string): Transcript {
  const all = text.split("\n");
  if (all.length > 0 && all[all.length - 1] === "") all.pop();
  if (all.length === 0) throw new TranscriptError(1, "the file is empty");
  const header = parseTranscriptHeader(all[0]);
  const records: TranscriptRecord[] = [];
  const lines: number[] = [];
  for (let i = 1; i < all.length; i++) {
    if (all[i].trim() === "") continue;
    records.push(parseTranscriptRecord(all[i], i + 1));
    lines.push(i + 1);
  }
  return { header, records, lines };
}

function peerRecord(
  value: Record<string, unknown>,
  t: number,
  line: number,
  data: Uint8Array | undefined,
): PeerRecord {
  const action = value.do;
  if (!PEER_ACTIONS.includes(action as PeerAction)) {
    throw new TranscriptError(
      line,
      `"do" must be ${PEER_ACTIONS.join(", ")}, not ${JSON.stringify(action)}`,
    );
  }
  if (typeof value.name !== "string" || value.name === "") {
    throw new TranscriptError(line, 'a peer record needs a "name"');
  }
  const record: PeerRecord = {
    t,
    dir: "peer",
    do: action as PeerAction,
    name: value.name,
  };
  if (action === "listen" || action === "connect") {
    const proto = value.proto;
    if (proto !== "tcp" && proto !== "udp" && proto !== "tls") {
      throw new TranscriptError(line, '"proto" must be tcp, udp or tls');
    }
    record.proto = proto;
  }
  const port = (key: "port" | "to" | "from", required: boolean) => {
    const v = value[key];
    if (v === undefined && !required) return;
    if (typeof v !== "number" || !Number.isInteger(v) || v < 1 || v > 65535) {
      throw new TranscriptError(line, `"${key}" must be a port (1..65535)`);
    }
    record[key] = v;
  };
  if (action === "listen") port("port", true);
  if (action === "connect") {
    port("to", true);
    port("from", true);
  }
  if (action === "send" || action === "expect") {
    if (!data) throw new TranscriptError(line, 'needs "text" or "b64"');
    record.data = data;
  }
  if (value.held === true) record.held = true;
  return record;
}

function json(text: string, line: number): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new TranscriptError(line, "not a JSON object");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TranscriptError(line, "not a JSON object");
  }
  return value as Record<string, unknown>;
}
