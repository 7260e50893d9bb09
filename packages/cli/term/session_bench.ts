/**
 * What showing a module's output costs the terminal: the session (parse,
 * classify, escape or hex-dump payloads) and the styling, against the bare
 * protocol parser on the same bytes as the baseline. Input: 1 MiB of DATA
 * lines with random binary payloads of 1 KiB, and answer lines.
 *
 * Run: deno bench packages/cli/term/session_bench.ts
 */

import { OutputParser } from "@atsock/protocol";
import { type SessionAction, TermSession } from "./session.ts";
import { styleLine } from "./display.ts";

const enc = new TextEncoder();

function input(): Uint8Array {
  const parts: Uint8Array[] = [];
  let seed = 1;
  const random = () => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24;
  let size = 0;
  while (size < 1 << 20) {
    const payload = new Uint8Array(1024).map(random);
    const header = enc.encode(`[$][SKT][DATA][1][${payload.length}]:`);
    const state = enc.encode(
      "link_id:1,seed,tcp,src_address:0.0.0.0,src_port:0,dst_address:127.0.0.1,dst_port:40000,socket_fd:1\r\n",
    );
    for (const part of [header, payload, enc.encode("\r\n"), state]) {
      parts.push(part);
      size += part.length;
    }
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const part of parts) {
    all.set(part, at);
    at += part.length;
  }
  return all;
}

const BYTES = input();
const CHUNK = 4096;

function feed(push: (chunk: Uint8Array) => unknown): void {
  for (let at = 0; at < BYTES.length; at += CHUNK) {
    push(BYTES.subarray(at, at + CHUNK));
  }
}

function styleAll(actions: SessionAction[]): number {
  let n = 0;
  for (const action of actions) {
    if (action.type === "show") {
      n += styleLine(action.line, { colour: true, time: "12:00:00.000" })
        .length;
    }
  }
  return n;
}

Deno.bench({
  name: "baseline: OutputParser alone, 1 MiB",
  group: "display",
  baseline: true,
  fn() {
    const parser = new OutputParser();
    feed((chunk) => parser.push(chunk));
  },
});

Deno.bench({
  name: "session: escaped payloads, 1 MiB",
  group: "display",
  fn() {
    const session = new TermSession();
    feed((chunk) => session.receive(chunk));
  },
});

Deno.bench({
  name: "session: hex dumps, 1 MiB",
  group: "display",
  fn() {
    const session = new TermSession({ hex: true });
    feed((chunk) => session.receive(chunk));
  },
});

Deno.bench({
  name: "session + colour and timestamps, 1 MiB",
  group: "display",
  fn() {
    const session = new TermSession();
    feed((chunk) => styleAll(session.receive(chunk)));
  },
});
