/**
 * The fuzzer's end of a virtual module's console: writes bytes split at
 * random, reads the answers, and checks each command line the module runs
 * (as the protocol's own `LineReader` cuts them) is answered as
 * `parseCommandLine` says: silence for an unknown line, exactly the parse
 * error for a malformed one, OK or a code that command can give for a
 * well-formed one, and a `>>>` prompt only for `AT+SKTSENDRAW`.
 *
 * @module
 */

import {
  encode,
  formatQuery,
  LineReader,
  type ModuleEvent,
  OutputParser,
  parseCommandLine,
} from "@atsock/protocol";
import { serveStreams, type VirtualModule } from "@atsock/device";
import { memoryPair } from "@atsock/host";
import { abortCodes, allowedCodes, OK_CODE, PAYLOAD_CODES } from "./codes.ts";
import { chunks, type DeviceFuzzReport, FuzzFailure, show } from "./runner.ts";

const CRLF = encode("\r\n");

/** A final result's code (OK is 0). */
export const codeOf = (e: ModuleEvent): number =>
  e.type === "error" ? e.code : OK_CODE;

/** A final result as the module prints it (`OK`, `ERROR: n`, `prompt`). */
export const text = (e: ModuleEvent): string =>
  e.type === "ok" ? "OK" : e.type === "error" ? `ERROR: ${e.code}` : e.type;

/** The text of the information lines among `events`. */
export const linesOf = (events: ModuleEvent[]): string[] =>
  events.filter((e) => e.type === "line").map((e) =>
    (e as { text: string }).text
  );

/** One answer: its final result (or prompt) and the events before it. */
export interface Answer {
  /** `ok`, `error` or `prompt`. */
  final: ModuleEvent;
  /** Information lines before it. */
  before: ModuleEvent[];
}

/** The console of `module` as the fuzzer drives it; see the module doc. */
export class FuzzConsole {
  readonly #module: VirtualModule;
  readonly #rnd: () => number;
  readonly #lineTimeout: number;
  readonly #report: DeviceFuzzReport;
  readonly #host: ReturnType<typeof memoryPair>[0];
  readonly #console: ReturnType<typeof serveStreams>;
  readonly #events: ModuleEvent[] = [];
  readonly #reading: Promise<void>;
  #wake: (() => void) | undefined;
  /**
   * The oracle's line reader: the same rules (shell_cmd_chk, Host Control
   * Mode), fed the same bytes, says which lines the module runs.
   */
  readonly #oracle = new LineReader();

  /** Serves `module`'s console on a memory pair; counts into `report`. */
  constructor(
    module: VirtualModule,
    rnd: () => number,
    lineTimeoutMs: number,
    report: DeviceFuzzReport,
  ) {
    this.#module = module;
    this.#rnd = rnd;
    this.#lineTimeout = lineTimeoutMs;
    this.#report = report;
    const [hostSide, moduleSide] = memoryPair();
    this.#host = hostSide;
    this.#console = serveStreams(module, moduleSide);
    const parser = new OutputParser();
    this.#reading = (async () => {
      for await (const chunk of hostSide.readable) {
        for (const e of parser.push(chunk)) {
          if (e.type === "data" || e.type === "connect") continue; // URCs
          if (e.type === "watermark") continue;
          this.#events.push(e);
        }
        this.#wake?.();
      }
    })();
  }

  /** Events read and not yet taken (URCs left out). */
  get pending(): readonly ModuleEvent[] {
    return this.#events;
  }

  /** The next event, within the line timeout. */
  async next(what: string): Promise<ModuleEvent> {
    const until = Date.now() + this.#lineTimeout;
    while (this.#events.length === 0) {
      const left = until - Date.now();
      if (left <= 0) {
        throw new FuzzFailure(
          `no answer within ${this.#lineTimeout} ms to ${what}`,
        );
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((r) => {
        this.#wake = r;
        timer = setTimeout(r, left);
      });
      clearTimeout(timer);
    }
    return this.#events.shift()!;
  }

  /** Writes bytes, split at random. */
  async write(bytes: Uint8Array): Promise<void> {
    for (const piece of chunks(bytes, this.#rnd)) await this.#host.write(piece);
  }

  #count(result: string): void {
    const results = this.#report.results;
    results[result] = (results[result] ?? 0) + 1;
  }

  /** Reads one answer's events up to its final result (or a prompt). */
  async answer(what: string): Promise<Answer> {
    const t0 = performance.now();
    const before: ModuleEvent[] = [];
    while (true) {
      const e = await this.next(what);
      if (e.type === "ok" || e.type === "error" || e.type === "prompt") {
        this.#report.maxAnswerMs = Math.max(
          this.#report.maxAnswerMs,
          performance.now() - t0,
        );
        return { final: e, before };
      }
      if (e.type === "garbage") {
        throw new FuzzFailure(
          `garbage from the module after ${what}: ${JSON.stringify(e)}`,
        );
      }
      before.push(e);
    }
  }

  /** Writes a command line and reads its answer. */
  async command(line: string, what: string): Promise<Answer> {
    await this.write(encode(`${line}\r\n`));
    return await this.answer(what);
  }

  /**
   * Where writing `bytes` ahead of the answers must stop: after the line end
   * of the first `AT+SKTSENDRAW` line followed by more bytes than its
   * payload (from `from`, read as the oracle would with nothing held).
   * Bytes that reach the module in one console read with the end of the
   * payload would not fit its TT ring and be dropped whole (firmware rule
   * tt-drop-when-full), so a host sends them only after the answer. With a
   * partial line held, where lines end is not known ahead: all of `bytes`.
   */
  #writeAheadEnd(bytes: Uint8Array, from: number): number {
    if (this.#oracle.length > 0) return bytes.length;
    const reader = new LineReader();
    for (let at = from; at < bytes.length;) {
      const { next, read } = reader.feed(bytes, at, bytes.length);
      at = next;
      if (read === undefined) continue;
      const parsed = parseCommandLine(read.line.slice());
      if (
        parsed.kind === "request" && parsed.request.command === "SKTSENDRAW" &&
        bytes.length - at > parsed.request.size
      ) return at;
    }
    return bytes.length;
  }

  /**
   * Writes bytes (split at random, ahead of the answers as far as
   * {@linkcode FuzzConsole.#writeAheadEnd} allows), and reads the answers
   * in order: the framer must see lines as the oracle does, each answered
   * as `parseCommandLine` says.
   */
  async feed(bytes: Uint8Array, where: string): Promise<void> {
    const report = this.#report;
    let written = 0;
    /** Writes `bytes` up to `end` (what is not written yet). */
    const writeTo = async (end: number) => {
      if (end > written) await this.write(bytes.subarray(written, end));
      written = Math.max(written, end);
    };
    await writeTo(this.#writeAheadEnd(bytes, 0));
    let at = 0;
    while (at < bytes.length) {
      // Lines end where the oracle says: what is read must have been written.
      if (written <= at) await writeTo(this.#writeAheadEnd(bytes, at));
      const { next, read } = this.#oracle.feed(bytes, at, written);
      at = next;
      if (read === undefined) {
        if (at >= written) await writeTo(bytes.length);
        continue;
      }
      const line = read.line.slice();
      report.commandLines++;
      const parsed = parseCommandLine(line);
      const what = `"${show(line)}" (${where})`;
      if (parsed.kind === "unknown") {
        report.silent++;
        continue;
      }
      const { final } = await this.answer(what);
      this.#count(text(final));
      if (parsed.kind === "error") {
        if (codeOf(final) !== parsed.error.code) {
          throw new FuzzFailure(
            `${what} answered ${
              text(final)
            }, expected ERROR: ${parsed.error.code}`,
          );
        }
        continue;
      }
      const request = parsed.request;
      if (final.type === "prompt") {
        if (request.command !== "SKTSENDRAW") {
          throw new FuzzFailure(`${what} answered >>>`);
        }
        at = await this.#payload(request.size, bytes, at, writeTo, what);
        written = Math.max(written, at);
        continue;
      }
      if (!allowedCodes(request).includes(codeOf(final))) {
        throw new FuzzFailure(
          `${what} answered ${text(final)}, not one of ${
            allowedCodes(request)
          }`,
        );
      }
    }
  }

  /**
   * After a `>>>` prompt: the payload (what followed the command's line
   * end in `bytes` first), or, for more than 4096 bytes, `<<<` to abort
   * (what followed the line end, as written, is in the payload aborted).
   * Returns where `bytes` goes on.
   */
  async #payload(
    size: number,
    bytes: Uint8Array,
    at: number,
    writeTo: (end: number) => Promise<void>,
    what: string,
  ): Promise<number> {
    this.#report.prompts++;
    if (size <= 4096) {
      // The payload starts with what followed the command's line end.
      const inLine = Math.min(bytes.length - at, size);
      await writeTo(at + inLine);
      const payload = new Uint8Array(size - inLine);
      crypto.getRandomValues(payload);
      for (let i = 0; i < payload.length; i++) {
        if (payload[i] === 0x3c) payload[i] = 0x3d; // no stray <<<
      }
      await this.write(payload);
      this.#report.rawBytes += size;
      const end = await this.answer(`${what} payload`);
      this.#count(text(end.final));
      if (
        !PAYLOAD_CODES.includes(codeOf(end.final)) ||
        end.final.type === "prompt"
      ) {
        throw new FuzzFailure(`${what} payload answered ${text(end.final)}`);
      }
      return at + inLine;
    }
    for (const b of "<<<") await this.#host.write(encode(b));
    const end = await this.answer(`${what} abort`);
    this.#count(text(end.final));
    if (
      end.final.type === "prompt" ||
      !abortCodes(size).includes(codeOf(end.final))
    ) {
      throw new FuzzFailure(`${what} abort answered ${text(end.final)}`);
    }
    return bytes.length;
  }

  /** Ends a partial line the module holds (as its reader does), so the next command is read whole. */
  async flush(): Promise<void> {
    if (this.#oracle.length > 0) await this.feed(CRLF, "flush");
  }

  /** `AT+SKTQUERY` must answer exactly the module's configuration (`after`: the line it follows, for messages). */
  async probe(after = ""): Promise<void> {
    await this.flush();
    const { final, before } = await this.command(
      "AT+SKTQUERY",
      `AT+SKTQUERY (probe${after ? ` after ${after}` : ""})`,
    );
    const expected = new TextDecoder().decode(formatQuery(this.#module.config))
      .split("\r\n").filter((l) => l && l !== "OK");
    if (
      final.type !== "ok" || linesOf(before).join("|") !== expected.join("|")
    ) {
      throw new FuzzFailure(
        `probe AT+SKTQUERY answered ${text(final)} ${
          JSON.stringify(linesOf(before))
        }`,
      );
    }
    this.#report.probes++;
  }

  /** Closes the console and the host's end. */
  async close(): Promise<void> {
    await this.#console.close();
    await this.#host.close();
    await this.#reading.catch(() => {});
  }
}
