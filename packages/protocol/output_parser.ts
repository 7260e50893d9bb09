/**
 * The host's side of the UART: a streaming, binary-safe parser that turns a
 * module's output into events: final results, information lines, `+SKTREAD`
 * answers with their data, and unsolicited lines with binary payloads.
 *
 * @module
 */

import { concat, decodeLatin1, encode } from "./bytes.ts";
import { ByteBuffer } from "./byte_buffer.ts";
import { classify, type ModuleEvent } from "./output_lines.ts";
import type { Endpoint } from "./types.ts";

export type { ModuleEvent };

const CR = 0x0d;
const LF = 0x0a;
const COLON = 0x3a;
const COMMA = 0x2c;
const OK_TAIL = encode("\r\nOK\r\n");

/**
 * The default longest payload of one `[$][SKT][DATA]` line or `+SKTREAD`
 * answer (1 MiB). A real module prints what one socket read returns (a few
 * KiB), the virtual module at most 64 KiB; a longer announced length is
 * taken as garbage rather than buffered.
 */
export const MAX_PAYLOAD_LENGTH = 1024 * 1024;

/** Options for {@linkcode OutputParser}. */
export interface OutputParserOptions {
  /** Longest line kept before it is reported as garbage (default 4096). */
  maxLineLength?: number;
  /**
   * Longest payload a DATA line or `+SKTREAD` answer may announce (default
   * {@linkcode MAX_PAYLOAD_LENGTH}); a longer one is reported as garbage and
   * the parser resynchronises at the next line end.
   */
  maxPayloadLength?: number;
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
  | ReadMode;

/** Inside a `+SKTREAD` answer, after its `+SKTREAD:<id>,<n>,` header. */
interface ReadMode {
  kind: "read";
  linkId: number;
  size: number;
  sender?: Endpoint;
  /** Whether a UDP sender prefix has been looked for (and removed). */
  decided: boolean;
  /** Bytes at the start of the read buffer that came before the chunk being parsed. */
  old: number;
  /** Tail positions before this one have been searched. */
  scan: number;
}

/** The most bytes a `<ip>,<port>,` sender prefix needs to be recognised. */
const SENDER_WINDOW = 24;
/** No CR (or LF) left in the chunk. */
const NONE = -1;
/** Not searched for yet. */
const UNKNOWN = -2;

const DATA_HEADER =
  /^\[\$\]\[SKT\]\[DATA\]\[(\d+)\]\[(\d+)\](?:\[(\d+\.\d+\.\d+\.\d+)\]\[(\d+)\])?:$/;
const READ_HEADER = /^\+SKTREAD:(\d+),(\d+),$/;
const UDP_PREFIX = /^(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}),(\d{1,5}),/;
const UDP_MAYBE = /^\d{0,3}(\.\d{0,3}(\.\d{0,3}(\.\d{0,3}(,\d{0,5})?)?)?)?$/;
const OPEN_BRACKET = 0x5b;
const HASH = 0x23;
const PLUS = 0x2b;

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
  #maxPayload: number;
  #line = new ByteBuffer();
  #mode: Mode = { kind: "line" };
  #readHint: "udp" | "tcp" | undefined;
  #skipLf = false;
  #read = new ByteBuffer();

  /** Creates a parser. */
  constructor(options: OutputParserOptions = {}) {
    this.#max = options.maxLineLength ?? 4096;
    this.#maxPayload = options.maxPayloadLength ?? MAX_PAYLOAD_LENGTH;
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

  /**
   * Parses a chunk and returns the events it completes.
   *
   * A `+SKTREAD` answer ends at `\r\nOK\r\n` right after its `<n>` bytes
   * of data. When the module cut the data at a NUL byte, it printed fewer:
   * the answer then ends at the earliest `\r\nOK\r\n` before offset
   * `<n>`. Which of the two it is shows only once the bytes up to offset
   * `<n>` + 6 are in, so a shorter answer is taken as cut when the chunk
   * that completes it holds no more bytes (the module prints an answer in
   * one go; waiting longer could hold a cut answer back forever).
   */
  push(chunk: Uint8Array): ModuleEvent[] {
    const events: ModuleEvent[] = [];
    this.#parse(chunk, events, true);
    return events;
  }

  #parse(chunk: Uint8Array, events: ModuleEvent[], last: boolean): void {
    if (this.#mode.kind === "read") this.#mode.old = this.#read.length;
    // The next CR and LF in the chunk at or after some earlier position:
    // searched for again only once passed, so the chunk is scanned once.
    let cr = UNKNOWN;
    let lf = UNKNOWN;
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
              data: mode.parts.length === 1
                ? mode.parts[0]
                : concat(mode.parts),
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
        case "read":
          i = this.#readStep(mode, chunk, i, last, events);
          break;
        case "line": {
          if (this.#skipLf) {
            this.#skipLf = false;
            if (chunk[i] === LF) {
              i++;
              break;
            }
          }
          // The prompt `\r#` after an empty line (Manual Test Mode) has no
          // line end: a DATA line or a `+SKTREAD` answer may follow right on.
          if (
            this.#line.length === 1 && this.#line.bytes[0] === HASH &&
            (chunk[i] === OPEN_BRACKET || chunk[i] === PLUS)
          ) {
            this.#line.clear();
            events.push({ type: "shell", text: "#" });
          } else if (this.#line.length === 0 && chunk[i] === HASH) {
            if (i + 1 === chunk.length) {
              this.#line.push(HASH); // Decided by the next byte.
              i++;
              break;
            }
            if (chunk[i + 1] === OPEN_BRACKET || chunk[i + 1] === PLUS) {
              events.push({ type: "shell", text: "#" });
              i++;
              break;
            }
          }
          const first = this.#line.length > 0 ? this.#line.bytes[0] : chunk[i];
          if (first !== OPEN_BRACKET && first !== PLUS) {
            // Plain line: take everything up to the line end at once.
            if (cr !== NONE && cr < i) cr = chunk.indexOf(CR, i);
            if (lf !== NONE && lf < i) lf = chunk.indexOf(LF, i);
            const end = cr < 0 ? lf : lf < 0 ? cr : cr < lf ? cr : lf;
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
          else if (byte === COMMA && first === PLUS) this.#checkRead(events);
          else this.#checkOverlong(events);
          break;
        }
      }
    }
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
    const length = Number(m[2]);
    if (length > this.#maxPayload) {
      events.push(this.#payloadTooLong("DATA line", length));
      return;
    }
    this.#line.clear();
    const linkId = Number(m[1]);
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

  /** The header of a payload longer than the limit, as garbage: what follows is read as lines. */
  #payloadTooLong(what: string, length: number): ModuleEvent {
    this.#readHint = undefined;
    return {
      type: "garbage",
      bytes: this.#line.take(),
      reason:
        `${what} announces ${length} bytes, more than the ${this.#maxPayload}-byte limit`,
    };
  }

  #checkRead(events: ModuleEvent[]): void {
    if (this.#line.length > 32) return;
    const m = READ_HEADER.exec(decodeLatin1(this.#line.view()));
    if (!m) return;
    const size = Number(m[2]);
    if (size > this.#maxPayload) {
      events.push(this.#payloadTooLong("+SKTREAD answer", size));
      return;
    }
    this.#line.clear();
    this.#read.clear();
    this.#mode = {
      kind: "read",
      linkId: Number(m[1]),
      size,
      // A UDP read always names the sender, 0.0.0.0,0 when nothing came
      // (at_sktread): even an empty one may have the prefix.
      decided: this.#readHint === "tcp",
      old: 0,
      scan: 0,
    };
  }

  /**
   * Takes the bytes of a `+SKTREAD` answer from `chunk` at `i` and, once
   * its end shows, yields it. Returns where parsing goes on in `chunk`.
   */
  #readStep(
    mode: ReadMode,
    chunk: Uint8Array,
    i: number,
    last: boolean,
    events: ModuleEvent[],
  ): number {
    const read = this.#read;
    // Never take more than the answer can hold: data, tail, sender prefix.
    const limit = mode.decided ? mode.size + OK_TAIL.length : SENDER_WINDOW;
    const take = Math.min(limit - read.length, chunk.length - i);
    if (take > 0) {
      read.append(chunk.subarray(i, i + take));
      i += take;
    }
    if (!mode.decided) {
      this.#settleSender(mode);
      if (!mode.decided) return i;
    }
    const n = mode.size;
    let end: number;
    if (read.length >= n + OK_TAIL.length) {
      // All the bytes that can belong to the answer are in.
      end = isTail(read.bytes, n) ? n : this.#earliestTail(mode);
      if (end < 0) {
        const garbage = read.bytes.slice(0, n + OK_TAIL.length);
        return this.#endRead(mode, n + OK_TAIL.length, i, events, {
          type: "garbage",
          bytes: garbage,
          reason: `+SKTREAD data of ${n} bytes not followed by OK`,
        });
      }
    } else if (i < chunk.length || !last) {
      return i; // More of this chunk to take, or more input to come.
    } else {
      // The push is used up before offset n: a NUL cut, or more to come.
      end = this.#earliestTail(mode);
      if (end < 0) return i;
    }
    const data = read.bytes.slice(0, end);
    const event: ModuleEvent = {
      type: "read",
      linkId: mode.linkId,
      size: n,
      data,
      truncated: end < n,
    };
    if (mode.sender) event.sender = mode.sender;
    return this.#endRead(mode, end + OK_TAIL.length, i, events, event);
  }

  /**
   * Ends a `+SKTREAD` answer whose bytes in the read buffer stop at
   * `answerEnd`, with `event` (then OK, unless it is garbage). Bytes beyond
   * go back to line parsing. Returns where parsing goes on in the chunk
   * (that ends its bytes at `i`).
   */
  #endRead(
    mode: ReadMode,
    answerEnd: number,
    i: number,
    events: ModuleEvent[],
    event: ModuleEvent,
  ): number {
    const read = this.#read;
    // The read buffer is `old` bytes from earlier chunks, then bytes that
    // end at chunk[i - 1].
    const fromChunk = read.length - Math.max(answerEnd, mode.old);
    const replay = answerEnd < mode.old
      ? read.bytes.slice(answerEnd, mode.old)
      : undefined;
    events.push(event);
    if (event.type === "read") events.push({ type: "ok" });
    read.clear();
    this.#readHint = undefined;
    this.#mode = { kind: "line" };
    if (replay !== undefined) {
      this.#parse(replay, events, false);
      // Whatever the replay started is continued by the rest of the chunk.
      const after = this.#mode as Mode;
      if (after.kind === "read") after.old = this.#read.length;
    }
    return i - fromChunk;
  }

  /** The earliest complete `\r\nOK\r\n` starting before offset `size`, or -1. */
  #earliestTail(mode: ReadMode): number {
    const bytes = this.#read.view(); // Not the spare capacity beyond.
    const last = Math.min(mode.size - 1, bytes.length - OK_TAIL.length);
    for (let at = bytes.indexOf(CR, mode.scan); at >= 0 && at <= last;) {
      if (isTail(bytes, at)) return at;
      at = bytes.indexOf(CR, at + 1);
    }
    mode.scan = Math.max(mode.scan, last + 1);
    return -1;
  }

  #settleSender(mode: ReadMode): void {
    const text = decodeLatin1(
      this.#read.bytes.subarray(0, Math.min(this.#read.length, SENDER_WINDOW)),
    );
    const m = UDP_PREFIX.exec(text);
    if (m) {
      mode.sender = { ip: m[1], port: Number(m[2]) };
      const rest = this.#read.bytes.slice(m[0].length, this.#read.length);
      this.#read.clear();
      this.#read.append(rest);
      mode.old = Math.max(0, mode.old - m[0].length);
      mode.decided = true;
    } else if (
      !(UDP_MAYBE.test(text) && this.#read.length < SENDER_WINDOW)
    ) {
      mode.decided = true;
    }
  }

  #endLine(events: ModuleEvent[]): void {
    if (this.#line.length === 0) return;
    if (this.#line.length > this.#max) return this.#checkOverlong(events);
    let text = decodeLatin1(this.#line.take());
    if (text.length > 1 && text.startsWith("#")) {
      // The prompt `\r#` after an empty line has no line end of its own.
      events.push({ type: "shell", text: "#" });
      text = text.slice(1);
    }
    events.push(classify(text));
  }
}

/** Whether `\r\nOK\r\n` starts at `at` in `bytes`. */
function isTail(bytes: Uint8Array, at: number): boolean {
  for (let k = 0; k < OK_TAIL.length; k++) {
    if (bytes[at + k] !== OK_TAIL[k]) return false;
  }
  return true;
}
