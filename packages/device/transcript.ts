/**
 * The transcript recorder: every console byte each way, each link's opens,
 * closes and byte counts, and every fault that fires, as JSON lines (the
 * format is `@atsock/protocol`'s, documented in `docs/transcripts.md`).
 * Recording is cheap: records are encoded at once, joined and written in
 * the background, and memory stays bounded (past `maxBuffered` bytes
 * waiting for the file, records are dropped and a `dropped` record says
 * how many).
 *
 * @module
 */

import {
  formatTranscriptHeader,
  formatTranscriptRecord,
  type NetEvent,
  TRANSCRIPT_VERSION,
  type TranscriptHeader,
  type TranscriptRecord,
} from "@atsock/protocol";

/** Options for {@linkcode TranscriptRecorder}. */
export interface TranscriptRecorderOptions {
  /** Writes bytes to the transcript's file or stream; must write them all. */
  write: (bytes: Uint8Array) => Promise<void>;
  /** Called once by {@linkcode TranscriptRecorder.close} after the last write. */
  close?: () => Promise<void> | void;
  /** Keep network payloads in `rx`/`tx` records (default false: counts only). */
  payloads?: boolean;
  /** Bytes that may wait for the file before records are dropped (default 4 MiB). */
  maxBuffered?: number;
  /** The clock, in ms (default `performance.now`); times are relative to the first reading. */
  now?: () => number;
}

/** Details of a `net` record (see {@linkcode TranscriptRecorder.net}). */
export interface NetDetail {
  /** `rx`/`tx`: the bytes (kept only when the recorder keeps payloads). */
  data?: Uint8Array;
  /** `open`: role and protocol, e.g. `client tcp`. */
  kind?: string;
  /** The remote address `ip:port`. */
  peer?: string;
  /** `close`: `peer` or `module`. */
  by?: string;
}

/** Records batched into one write once this many bytes are waiting. */
const BATCH = 64 * 1024;
/** A partial batch is written after at most this long. */
const FLUSH_MS = 20;

const encoder = new TextEncoder();

/** Records a transcript to a writer; see the module doc. */
export class TranscriptRecorder {
  #write: (bytes: Uint8Array) => Promise<void>;
  #closeFile: (() => Promise<void> | void) | undefined;
  #payloads: boolean;
  #max: number;
  #now: () => number;
  #start: number;
  #pending: string[] = [];
  #pendingBytes = 0;
  #inFlight = 0;
  #writing: Promise<void> | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #dropped = 0;
  #unreported = 0;
  #begun = false;
  #closed = false;
  #failure: unknown;

  /** Creates a recorder; the clock starts now. */
  constructor(options: TranscriptRecorderOptions) {
    this.#write = options.write;
    this.#closeFile = options.close;
    this.#payloads = options.payloads ?? false;
    this.#max = options.maxBuffered ?? 4 * 1024 * 1024;
    this.#now = options.now ?? (() => performance.now());
    this.#start = this.#now();
  }

  /** Records dropped so far because the writer could not keep up. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Writes the header line (once; the module calls it with its mode and address). */
  begin(
    fields: Omit<Partial<TranscriptHeader>, "atsock" | "version"> = {},
  ): void {
    if (this.#begun) return;
    this.#begun = true;
    const header: TranscriptHeader = {
      atsock: "transcript",
      version: TRANSCRIPT_VERSION,
      started: new Date().toISOString(),
      ...fields,
    };
    this.#pending.unshift(formatTranscriptHeader(header) + "\n");
    this.#pendingBytes += this.#pending[0].length;
    this.#schedule();
  }

  /** Console bytes from the host. */
  h2m(data: Uint8Array): void {
    if (data.length > 0) this.#add({ t: this.#t(), dir: "h2m", data });
  }

  /** Console bytes to the host. */
  m2h(data: Uint8Array): void {
    if (data.length > 0) this.#add({ t: this.#t(), dir: "m2h", data });
  }

  /** A link's network event. */
  net(link: number, event: NetEvent, detail: NetDetail = {}): void {
    const record: TranscriptRecord = { t: this.#t(), dir: "net", link, event };
    if (detail.data) {
      record.bytes = detail.data.length;
      if (this.#payloads) record.data = detail.data;
    }
    if (detail.kind) record.kind = detail.kind;
    if (detail.peer) record.peer = detail.peer;
    if (detail.by) record.by = detail.by;
    this.#add(record);
  }

  /** A fault that fired. */
  fault(index: number, action: string, detail: string): void {
    this.#add({ t: this.#t(), dir: "fault", fault: index, action, detail });
  }

  /** Writes everything recorded so far; rejects with the writer's failure, if any. */
  async flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    while (this.#writing || this.#pending.length > 0) {
      if (!this.#writing) this.#startWrite();
      await this.#writing;
    }
    if (this.#failure) throw this.#failure;
  }

  /** Flushes and closes the file; later records are ignored. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    if (!this.#begun) this.begin();
    try {
      await this.flush();
    } finally {
      this.#closed = true;
      await this.#closeFile?.();
    }
  }

  #t(): number {
    return this.#now() - this.#start;
  }

  #add(record: TranscriptRecord): void {
    if (this.#closed || this.#failure) return;
    if (this.#pendingBytes + this.#inFlight >= this.#max) {
      this.#dropped++;
      this.#unreported++;
      return;
    }
    if (this.#unreported > 0) {
      const count = this.#unreported;
      this.#unreported = 0;
      this.#push(
        formatTranscriptRecord({ t: record.t, dir: "dropped", count }),
      );
    }
    this.#push(formatTranscriptRecord(record));
  }

  #push(line: string): void {
    this.#pending.push(line + "\n");
    this.#pendingBytes += line.length + 1;
    if (this.#pendingBytes >= BATCH && !this.#writing) this.#startWrite();
    else this.#schedule();
  }

  #schedule(): void {
    if (this.#timer !== undefined || this.#writing) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (!this.#writing) this.#startWrite();
    }, FLUSH_MS);
  }

  #startWrite(): void {
    if (this.#pending.length === 0 || !this.#begun) return;
    const text = this.#pending.join("");
    this.#pending = [];
    this.#inFlight = this.#pendingBytes;
    this.#pendingBytes = 0;
    this.#writing = this.#write(encoder.encode(text)).catch((e) => {
      this.#failure ??= e;
      this.#pending = [];
      this.#pendingBytes = 0;
    }).finally(() => {
      this.#inFlight = 0;
      this.#writing = undefined;
      if (this.#pending.length > 0 && !this.#failure) {
        if (this.#pendingBytes >= BATCH) this.#startWrite();
        else this.#schedule();
      }
    });
  }
}

/**
 * Opens (creates or truncates) a transcript file and returns its recorder.
 * Needs `--allow-write` for the path.
 */
export async function openTranscriptFile(
  path: string,
  options: Omit<TranscriptRecorderOptions, "write" | "close"> = {},
): Promise<TranscriptRecorder> {
  const file = await Deno.open(path, {
    write: true,
    create: true,
    truncate: true,
  });
  return new TranscriptRecorder({
    ...options,
    write: async (bytes) => {
      let written = 0;
      while (written < bytes.length) {
        written += await file.write(bytes.subarray(written));
      }
    },
    close: () => file.close(),
  });
}
