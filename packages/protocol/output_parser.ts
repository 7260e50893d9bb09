/**
 * The host's side of the UART: a streaming, binary-safe parser that turns a
 * module's output into events: final results, information lines, `+SKTREAD`
 * answers with their data, and unsolicited lines with binary payloads.
 *
 * @module
 */

import { bytesEqual, decodeLatin1, encode } from "./bytes.ts";
import type { Endpoint } from "./types.ts";

const CR = 0x0d;
const LF = 0x0a;
const COLON = 0x3a;
const COMMA = 0x2c;
const OK_TAIL = encode("\r\nOK\r\n");

/** What a module's output is made of. */
export type ModuleEvent =
  | {
    /** `OK`: the command in flight succeeded. */
    type: "ok";
  }
  | {
    /** `ERROR: <code>`: the command in flight failed. */
    type: "error";
    /** The code. */
    code: number;
  }
  | {
    /** An information line of an answer (SKTQUERY, SKTSTATE lines), not empty. */
    type: "line";
    /** The line's text. */
    text: string;
  }
  | {
    /** A command line echoed back in Manual Test Mode. */
    type: "echo";
    /** The echoed text. */
    text: string;
  }
  | {
    /** `+SKTREAD`: an answer's data (the OK follows as its own event). */
    type: "read";
    /** The link read. */
    linkId: number;
    /** Bytes the module read (may exceed `data.length`, see `truncated`). */
    size: number;
    /** The bytes printed. */
    data: Uint8Array;
    /** True when the module cut the printed data at a NUL byte. */
    truncated: boolean;
    /** The UDP sender, for UDP reads. */
    sender?: Endpoint;
  }
  | {
    /** `>>>`: the module waits for the raw bytes of `AT+SKTSENDRAW`. */
    type: "prompt";
  }
  | {
    /** `ATCMD READY`: the module (re)started in Host Control Mode. */
    type: "ready";
  }
  | {
    /** A client connected to a server: a new seed. */
    type: "connect";
    /** The seed's link id. */
    linkId: number;
    /** `tcp` or `tls`. */
    protocol: "tcp" | "tls";
    /** The remote client. */
    peer: Endpoint;
    /** The server's link id. */
    serverId: number;
  }
  | {
    /** Data received on an `auto_rcv=1` link. */
    type: "data";
    /** The link. */
    linkId: number;
    /** The bytes. */
    data: Uint8Array;
    /** The UDP sender, for UDP links. */
    sender?: Endpoint;
  }
  | {
    /** The TT buffer filled (`high`: pause) or drained (`low`: go on). */
    type: "watermark";
    /** Which watermark. */
    level: "high" | "low";
  }
  | {
    /** Another `[$]` line this parser does not know. */
    type: "urc";
    /** Its text. */
    text: string;
  }
  | {
    /** Bytes that could not be parsed; the parser resynchronised after them. */
    type: "garbage";
    /** The bytes (at most the line limit). */
    bytes: Uint8Array;
    /** Why they were dropped. */
    reason: string;
  };

/** Options for {@linkcode OutputParser}. */
export interface OutputParserOptions {
  /** Longest line kept before it is reported as garbage (default 4096). */
  maxLineLength?: number;
}

type Mode =
  | { kind: "line" }
  | {
    kind: "data";
    linkId: number;
    remaining: number;
    parts: Uint8Array[];
    sender?: Endpoint;
  }
  | { kind: "data-end"; seen: number }
  | {
    kind: "read";
    linkId: number;
    size: number;
    sender?: Endpoint;
    decided: boolean;
  };

const DATA_HEADER =
  /^\[\$\]\[SKT\]\[DATA\]\[(\d+)\]\[(\d+)\](?:\[(\d+\.\d+\.\d+\.\d+)\]\[(\d+)\])?:$/;
const READ_HEADER = /^\+SKTREAD:(\d+),(\d+),$/;
const UDP_PREFIX = /^(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}),(\d{1,5}),/;
const UDP_MAYBE = /^\d{0,3}(\.\d{0,3}(\.\d{0,3}(\.\d{0,3}(,\d{0,5})?)?)?)?$/;
const CONNECT =
  /^\[\$\]\[SKT\]\[EVENT\]: A client\[link_id:(\d+),seed,(tcp|tls),dst_address:([^,\]]*),dst_port:(\d+)\] connected to server\[link_id:(\d+)\]$/;
const ERROR_LINE = /^ERROR: (\d+)$/;
const OPEN_BRACKET = 0x5b;
const PLUS = 0x2b;

/** A growable byte buffer. */
class ByteBuffer {
  bytes = new Uint8Array(256);
  length = 0;
  append(src: Uint8Array): void {
    const need = this.length + src.length;
    if (need > this.bytes.length) {
      const grown = new Uint8Array(Math.max(need, this.bytes.length * 2));
      grown.set(this.bytes.subarray(0, this.length));
      this.bytes = grown;
    }
    this.bytes.set(src, this.length);
    this.length = need;
  }
  push(byte: number): void {
    if (this.length === this.bytes.length) {
      const grown = new Uint8Array(this.bytes.length * 2);
      grown.set(this.bytes);
      this.bytes = grown;
    }
    this.bytes[this.length++] = byte;
  }
  view(): Uint8Array {
    return this.bytes.subarray(0, this.length);
  }
  take(from = 0): Uint8Array {
    const out = this.bytes.slice(from, this.length);
    this.clear();
    return out;
  }
  clear(): void {
    this.length = 0;
    if (this.bytes.length > 65536) this.bytes = new Uint8Array(256);
  }
}

/**
 * Streaming parser for bytes going from a module to a host. Feed any chunks;
 * the events are the same however the bytes were split.
 *
 * @example
 * ```ts
 * import { encode, OutputParser } from "@atsock/protocol";
 * const parser = new OutputParser();
 * const events = parser.push(encode("[$][SKT][DATA][1][2]:\r\n\r\n"));
 * // [{ type: "data", linkId: 1, data: Uint8Array [13, 10] }]
 * ```
 */
export class OutputParser {
  #max: number;
  #line = new ByteBuffer();
  #mode: Mode = { kind: "line" };
  #readHint: "udp" | "tcp" | undefined;
  #skipLf = false;
  #read = new ByteBuffer();

  /** Creates a parser. */
  constructor(options: OutputParserOptions = {}) {
    this.#max = options.maxLineLength ?? 4096;
  }

  /**
   * Says whether the next `+SKTREAD` answer is from a UDP link (it then
   * names the sender). Without a hint the parser recognises the sender
   * fields by their shape.
   */
  hintRead(protocol: "udp" | "tcp"): void {
    this.#readHint = protocol;
  }

  /** Bytes held inside the parser (a partial line or payload). */
  get buffered(): number {
    let n = this.#line.length + this.#read.length;
    if (this.#mode.kind === "data") {
      for (const part of this.#mode.parts) n += part.length;
    }
    return n;
  }

  /** Parses a chunk and returns the events it completes. */
  push(chunk: Uint8Array): ModuleEvent[] {
    const events: ModuleEvent[] = [];
    let i = 0;
    while (i < chunk.length) {
      const mode = this.#mode;
      switch (mode.kind) {
        case "data": {
          const take = Math.min(mode.remaining, chunk.length - i);
          mode.parts.push(chunk.slice(i, i + take));
          mode.remaining -= take;
          i += take;
          if (mode.remaining === 0) {
            const event: ModuleEvent = {
              type: "data",
              linkId: mode.linkId,
              data: joinParts(mode.parts),
            };
            if (mode.sender) event.sender = mode.sender;
            events.push(event);
            this.#mode = { kind: "data-end", seen: 0 };
          }
          break;
        }
        case "data-end": {
          // Expect the CR LF that closes a DATA line; resynchronise if absent.
          const want = mode.seen === 0 ? CR : LF;
          if (chunk[i] === want) {
            i++;
            mode.seen++;
            if (mode.seen === 2) this.#mode = { kind: "line" };
          } else {
            this.#mode = { kind: "line" };
          }
          break;
        }
        case "read": {
          const end = this.#readEnd(mode, chunk, i);
          if (end < 0) {
            this.#read.append(chunk.subarray(i));
            i = chunk.length;
            this.#settleSender(mode);
            const overflow = this.#readOverflow(mode);
            if (overflow) events.push(overflow);
          } else {
            this.#read.append(chunk.subarray(i, end));
            i = end;
            this.#settleSender(mode);
            const done = this.#finishRead(mode);
            if (done) events.push(...done);
          }
          break;
        }
        case "line": {
          if (this.#skipLf) {
            this.#skipLf = false;
            if (chunk[i] === LF) {
              i++;
              break;
            }
          }
          const first = this.#line.length > 0 ? this.#line.bytes[0] : chunk[i];
          if (first !== OPEN_BRACKET && first !== PLUS) {
            // Plain line: take everything up to the line end at once.
            let end = chunk.indexOf(CR, i);
            const lf = chunk.indexOf(LF, i);
            if (end < 0 || (lf >= 0 && lf < end)) end = lf;
            const stop = end < 0 ? chunk.length : end;
            this.#line.append(chunk.subarray(i, stop));
            i = stop;
            if (end >= 0) {
              if (chunk[end] === CR) this.#skipLf = true;
              i++;
              this.#endLine(events);
            } else this.#checkOverlong(events);
            break;
          }
          const byte = chunk[i++];
          if (byte === CR || byte === LF) {
            if (byte === CR) this.#skipLf = true;
            this.#endLine(events);
            break;
          }
          this.#line.push(byte);
          if (byte === COLON && first === OPEN_BRACKET) this.#checkData(events);
          else if (byte === COMMA && first === PLUS) this.#checkRead();
          else this.#checkOverlong(events);
          break;
        }
      }
    }
    return events;
  }

  #checkOverlong(events: ModuleEvent[]): void {
    if (this.#line.length <= this.#max) return;
    events.push({
      type: "garbage",
      bytes: this.#line.take(),
      reason: `line longer than ${this.#max} bytes`,
    });
  }

  #checkData(events: ModuleEvent[]): void {
    if (this.#line.length > 64) return;
    const m = DATA_HEADER.exec(decodeLatin1(this.#line.view()));
    if (!m) return;
    this.#line.clear();
    const linkId = Number(m[1]);
    const length = Number(m[2]);
    const sender = m[3] ? { ip: m[3], port: Number(m[4]) } : undefined;
    if (length === 0) {
      const event: ModuleEvent = {
        type: "data",
        linkId,
        data: new Uint8Array(),
      };
      if (sender) event.sender = sender;
      events.push(event);
      this.#mode = { kind: "data-end", seen: 0 };
      return;
    }
    this.#mode = { kind: "data", linkId, remaining: length, parts: [], sender };
  }

  #checkRead(): void {
    if (this.#line.length > 32) return;
    const m = READ_HEADER.exec(decodeLatin1(this.#line.view()));
    if (!m) return;
    this.#line.clear();
    this.#read.clear();
    const size = Number(m[2]);
    this.#mode = {
      kind: "read",
      linkId: Number(m[1]),
      size,
      // An empty read names no sender.
      decided: size === 0 || this.#readHint === "tcp",
    };
  }

  /** Where "\r\nOK\r\n" ends within `chunk`, counting bytes already held; -1 if not yet. */
  #readEnd(
    _mode: { size: number },
    chunk: Uint8Array,
    from: number,
  ): number {
    // Search for the tail across the held bytes and the chunk.
    const held = this.#read;
    const tail = OK_TAIL.length;
    const keep = Math.min(held.length, tail - 1);
    const window = new Uint8Array(keep + chunk.length - from);
    window.set(held.bytes.subarray(held.length - keep, held.length));
    window.set(chunk.subarray(from), keep);
    let at = window.indexOf(CR);
    while (at >= 0 && at + tail <= window.length) {
      if (bytesEqual(window.subarray(at, at + tail), OK_TAIL)) {
        return from + at + tail - keep;
      }
      at = window.indexOf(CR, at + 1);
    }
    return -1;
  }

  #settleSender(mode: Mode & { kind: "read" }): void {
    if (mode.decided) return;
    const text = decodeLatin1(
      this.#read.bytes.subarray(0, Math.min(this.#read.length, 24)),
    );
    const m = UDP_PREFIX.exec(text);
    if (m) {
      mode.sender = { ip: m[1], port: Number(m[2]) };
      const rest = this.#read.bytes.slice(m[0].length, this.#read.length);
      this.#read.clear();
      this.#read.append(rest);
      mode.decided = true;
    } else if (!(UDP_MAYBE.test(text) && this.#read.length < 24)) {
      mode.decided = true;
    }
  }

  #readOverflow(mode: Mode & { kind: "read" }): ModuleEvent | undefined {
    if (!mode.decided) return undefined;
    if (this.#read.length <= mode.size + OK_TAIL.length) return undefined;
    this.#mode = { kind: "line" };
    this.#readHint = undefined;
    return {
      type: "garbage",
      bytes: this.#read.take(),
      reason: `+SKTREAD data longer than its size ${mode.size}`,
    };
  }

  /** Completes a `+SKTREAD` answer whose bytes end in "\r\nOK\r\n". */
  #finishRead(mode: Mode & { kind: "read" }): ModuleEvent[] | undefined {
    if (!mode.decided) {
      // Too short to hold an address: what came is data.
      mode.decided = true;
    }
    const all = this.#read.view();
    const at = all.length - OK_TAIL.length;
    if (at > mode.size) {
      return [this.#readOverflow(mode)!];
    }
    const data = all.slice(0, at);
    this.#read.clear();
    this.#readHint = undefined;
    this.#mode = { kind: "line" };
    const event: ModuleEvent = {
      type: "read",
      linkId: mode.linkId,
      size: mode.size,
      data,
      truncated: data.length < mode.size,
    };
    if (mode.sender) event.sender = mode.sender;
    return [event, { type: "ok" }];
  }

  #endLine(events: ModuleEvent[]): void {
    if (this.#line.length === 0) return;
    if (this.#line.length > this.#max) return this.#checkOverlong(events);
    events.push(classify(decodeLatin1(this.#line.take())));
  }
}

function classify(text: string): ModuleEvent {
  if (text === "OK") return { type: "ok" };
  const error = ERROR_LINE.exec(text);
  if (error) return { type: "error", code: Number(error[1]) };
  if (text === ">>>") return { type: "prompt" };
  if (text === "ATCMD READY") return { type: "ready" };
  if (text.startsWith("[$]")) {
    if (text === "[$][TT]:High Watermark") {
      return { type: "watermark", level: "high" };
    }
    if (text === "[$][TT]:Low Watermark") {
      return { type: "watermark", level: "low" };
    }
    const m = CONNECT.exec(text);
    if (m) {
      return {
        type: "connect",
        linkId: Number(m[1]),
        protocol: m[2] as "tcp" | "tls",
        peer: { ip: m[3], port: Number(m[4]) },
        serverId: Number(m[5]),
      };
    }
    return { type: "urc", text };
  }
  if (text.startsWith("AT")) return { type: "echo", text };
  return { type: "line", text };
}

function joinParts(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0];
  let length = 0;
  for (const part of parts) length += part.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
