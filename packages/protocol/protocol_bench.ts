/**
 * Framer + parser throughput against a naive baseline (TextDecoder and a
 * split on CR LF) on a realistic mix, in the same run. Each iteration
 * processes the whole input once, fed in 4 KiB chunks as a UART reader
 * would deliver it.
 */
import {
  CommandFramer,
  concat,
  formatData,
  formatRequest,
  OK,
  OutputParser,
  parseCommandLine,
} from "./mod.ts";

function random(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    out[i] = x >> 16;
  }
  return out;
}

function chunked(bytes: Uint8Array, size = 4096): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += size) {
    out.push(bytes.subarray(i, i + size));
  }
  return out;
}

// Host to module: SKTSEND lines with printable data and commas to escape,
// mixed with reads and state queries.
const commandParts: Uint8Array[] = [];
for (let i = 0; i < 500; i++) {
  const text = random(200 + (i % 7) * 200, i).map((b) => 32 + (b % 95) // printable, includes ',' and '\'
  );
  commandParts.push(
    formatRequest({ command: "SKTSEND", linkId: i % 20, data: text }),
  );
  commandParts.push(
    formatRequest({ command: "SKTREAD", linkId: 1, size: 1460 }),
  );
  if (i % 10 === 0) commandParts.push(formatRequest({ command: "SKTSTATE" }));
}
const commands = chunked(concat(commandParts));

// Module to host: DATA lines with binary payloads, and OK answers.
const outputParts: Uint8Array[] = [];
for (let i = 0; i < 500; i++) {
  outputParts.push(formatData(i % 20, random(1460, i)));
  outputParts.push(OK);
}
const output = chunked(concat(outputParts));
const total = (chunks: Uint8Array[]) =>
  chunks.reduce((n, c) => n + c.length, 0);
console.log(
  `input: commands ${total(commands)} bytes, module output ${
    total(output)
  } bytes`,
);

function naive(chunks: Uint8Array[]): number {
  const decoder = new TextDecoder();
  let rest = "";
  let lines = 0;
  for (const chunk of chunks) {
    const parts = (rest + decoder.decode(chunk, { stream: true })).split(
      "\r\n",
    );
    rest = parts.pop()!;
    lines += parts.length;
  }
  return lines;
}

Deno.bench({
  name: "naive TextDecoder + split (commands)",
  group: "host-to-module",
  baseline: true,
  fn: () => {
    naive(commands);
  },
});

Deno.bench({
  name: "CommandFramer + parseCommandLine",
  group: "host-to-module",
  fn: () => {
    const framer = new CommandFramer();
    let n = 0;
    for (const chunk of commands) {
      framer.push(chunk);
      for (let e = framer.next(); e; e = framer.next()) {
        if (e.type === "line" && parseCommandLine(e.line).kind === "request") {
          n++;
        }
      }
    }
    if (n === 0) throw new Error("nothing parsed");
  },
});

Deno.bench({
  name: "naive TextDecoder + split (output)",
  group: "module-to-host",
  baseline: true,
  fn: () => {
    naive(output);
  },
});

Deno.bench({
  name: "OutputParser (binary-safe DATA lines)",
  group: "module-to-host",
  fn: () => {
    const parser = new OutputParser();
    let n = 0;
    for (const chunk of output) n += parser.push(chunk).length;
    if (n !== 1000) throw new Error(`expected 1000 events, got ${n}`);
  },
});

// The realistic mix the issue names: one UART session's traffic, both
// directions (SKTSEND lines with data going in, DATA lines with binary
// payloads coming out), each side parsed fully by its own parser.
Deno.bench({
  name: "naive TextDecoder + split (both directions)",
  group: "uart-session-mix",
  baseline: true,
  fn: () => {
    naive(commands);
    naive(output);
  },
});

Deno.bench({
  name: "CommandFramer + parseCommandLine and OutputParser",
  group: "uart-session-mix",
  fn: () => {
    const framer = new CommandFramer();
    let n = 0;
    for (const chunk of commands) {
      framer.push(chunk);
      for (let e = framer.next(); e; e = framer.next()) {
        if (e.type === "line" && parseCommandLine(e.line).kind === "request") {
          n++;
        }
      }
    }
    const parser = new OutputParser();
    for (const chunk of output) n += parser.push(chunk).length;
    if (n !== 1050 + 1000) throw new Error(`expected 2050 items, got ${n}`);
  },
});
