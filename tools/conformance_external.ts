/**
 * An external module under the conformance suite: one connection for the
 * whole suite ({@linkcode SharedTransport}), a clean state before each
 * transcript ({@linkcode resetExternal}), and the pause that stands in for
 * looking at the module's state ({@linkcode externalSettler}).
 *
 * @module
 */

import { TargetError, type Transport } from "@atsock/host";
import {
  decodeLatin1,
  encodeLatin1,
  field,
  formatError,
  PARAMETER_ERROR,
} from "@atsock/protocol";
import type { Settler } from "./conformance_peers.ts";

/** An external module: nothing to look at, so a pause (the only one). */
const PAUSE_MS = 300;
export const externalSettler: Settler = {
  before: () => ({ held: 0, gone: 0 }),
  held: () => new Promise((r) => setTimeout(r, PAUSE_MS)),
  closed: () => new Promise((r) => setTimeout(r, PAUSE_MS)),
};

/** Reads a transport until `done` holds for the text read (bounded). */
async function readUntil(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  done: (text: string) => boolean,
  ms: number,
): Promise<string> {
  let text = "";
  const deadline = Date.now() + ms;
  while (!done(text)) {
    const left = deadline - Date.now();
    if (left <= 0) throw new TargetError("the module did not answer");
    let timer: ReturnType<typeof setTimeout> | undefined;
    const next = await Promise.race([
      reader.read(),
      new Promise<"late">((r) => (timer = setTimeout(() => r("late"), left))),
    ]);
    clearTimeout(timer);
    if (next === "late") continue;
    if (next.done) throw new TargetError("the module's console ended");
    text += decodeLatin1(next.value);
  }
  return text;
}

/**
 * Brings an external module to a clean state before a transcript: every
 * link deleted, AT+SKTCFG back to its defaults. Output it printed is
 * consumed here, not matched.
 */
export async function resetExternal(
  transport: Transport,
  ms: number,
): Promise<void> {
  const reader = transport.readable.getReader();
  const answered = (text: string) => /\r\n(OK|ERROR: \d+)\r\n$/.test(text);
  try {
    // In step first: whatever the module printed before ends at this answer.
    // A link id past the catalogue's range: ERROR: 1 whatever the links.
    const outside = field("SKTDEL", "link_id").max + 1;
    await transport.write(encodeLatin1(`AT+SKTDEL=${outside}\r\n`));
    const invalid = decodeLatin1(formatError(PARAMETER_ERROR));
    await readUntil(reader, (text) => text.endsWith(invalid), ms);
    await transport.write(encodeLatin1("AT+SKTSTATE\r\n"));
    const state = await readUntil(reader, answered, ms);
    for (const m of state.matchAll(/link_id:(\d+),(server|client)/g)) {
      await transport.write(encodeLatin1(`AT+SKTDEL=${m[1]}\r\n`));
      await readUntil(reader, answered, ms);
    }
    await transport.write(encodeLatin1("AT+SKTCFG=0,0,0,0,0,0,0\r\n"));
    await readUntil(reader, answered, ms);
  } finally {
    reader.releaseLock();
  }
}

/**
 * An external module's transport, opened once for the whole suite: each
 * transcript gets a view whose `readable` ends when the view is closed,
 * while the module's connection stays open. Output between views is
 * dropped (the next transcript starts with a reset anyway).
 */
export class SharedTransport {
  readonly #transport: Transport;
  #current?: ReadableStreamDefaultController<Uint8Array>;
  readonly #pump: Promise<void>;

  /** Starts reading `transport`. */
  constructor(transport: Transport) {
    this.#transport = transport;
    this.#pump = (async () => {
      try {
        for await (const chunk of transport.readable) {
          this.#current?.enqueue(chunk);
        }
      } catch { /* the module's connection failed: its end */ }
      this.#detach();
    })();
  }

  #detach(): void {
    try {
      this.#current?.close();
    } catch { /* already closed */ }
    this.#current = undefined;
  }

  /** A view for one transcript; closing it leaves the module's connection open. */
  view(): Transport {
    this.#detach();
    const readable = new ReadableStream<Uint8Array>({
      start: (controller) => {
        this.#current = controller;
      },
    });
    let closed = false;
    return {
      name: this.#transport.name,
      readable,
      write: (bytes) =>
        closed
          ? Promise.reject(new Error("this view is closed"))
          : this.#transport.write(bytes),
      close: () => {
        if (!closed) {
          closed = true;
          this.#detach();
        }
        return Promise.resolve();
      },
    };
  }

  /** Closes the module's connection. */
  async close(): Promise<void> {
    await this.#transport.close();
    await this.#pump;
  }
}
