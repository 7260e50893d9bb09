/**
 * Fuzzes the host's side of the UART: the `OutputParser` fed valid module
 * output mixed with garbage, split at random (no throw, bounded memory,
 * every valid item parsed as when alone: it resynchronises after garbage),
 * and the `AtDriver` against a fake module that prints garbage before its
 * answers, or instead of one.
 *
 * @module
 */

import fc from "fast-check";
import {
  ATCMD_READY,
  COMMAND_NAMES,
  COMMANDS,
  concat,
  DEFAULT_CONFIG,
  encode,
  field,
  formatConnectEvent,
  formatData,
  formatError,
  formatQuery,
  formatRead,
  formatState,
  HIGH_WATERMARK,
  LINK_COUNT,
  type LinkState,
  LOW_WATERMARK,
  MAX_PAYLOAD_LENGTH,
  type ModuleEvent,
  OK,
  OutputParser,
  type SocketConfig,
  TT_PROMPT,
} from "@atsock/protocol";
import { AtDriver, CommandTimeoutError, memoryPair } from "@atsock/host";
import {
  chunks,
  FuzzFailure,
  type HostFuzzOptions,
  type HostFuzzReport,
  mulberry32,
} from "./runner.ts";
import { inRange } from "./requests.ts";

const CRLF = encode("\r\n");

const ip = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map(
  (p) => p.join("."),
);
const port = inRange(field("SKTCLIENT", "dst_port"));
const endpoint = fc.record({ ip, port });
const linkId = inRange(field("SKTDEL", "link_id"));
/** Every error code of the catalogue, of any command. */
const errorCodes = [
  ...new Set(
    COMMAND_NAMES.flatMap((c) => Object.keys(COMMANDS[c].errors).map(Number)),
  ),
];

/** A valid piece of module output. */
const validOutput: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.constantFrom(OK, ATCMD_READY, TT_PROMPT, HIGH_WATERMARK, LOW_WATERMARK),
  fc.constantFrom(...errorCodes).map(formatError),
  fc.record(
    Object.fromEntries(
      COMMANDS.SKTCFG.fields.map((spec) => [
        spec.key,
        spec.kind === "flag" ? fc.boolean() : inRange(spec),
      ]),
    ),
  ).map((c) => formatQuery(c as unknown as SocketConfig)),
  fc.array(
    fc.record({
      linkId,
      role: fc.constantFrom("server", "client", "seed") as fc.Arbitrary<
        LinkState["role"]
      >,
      protocol: fc.constantFrom("tcp", "udp", "ssl") as fc.Arbitrary<
        LinkState["protocol"]
      >,
      source: endpoint,
      destination: endpoint,
      // -1: no socket; else an fd of lwIP's table (one per link id).
      socketFd: fc.integer({ min: -1, max: LINK_COUNT - 1 }),
    }),
    { maxLength: 5 },
  ).map(formatState),
  fc.tuple(
    linkId,
    fc.uint8Array({ maxLength: 300 }).map((b) =>
      b.map((x) => (x === 0 || x === 13 || x === 10 ? 0x61 : x))
    ),
  ).map(([id, data]) => formatRead(id, data)),
  fc.tuple(linkId, fc.uint8Array({ maxLength: 2000 }), fc.option(endpoint))
    .map(([id, data, from]) => formatData(id, data, from ?? undefined)),
  fc.record({
    linkId,
    protocol: fc.constantFrom("tcp", "tls") as fc.Arbitrary<"tcp" | "tls">,
    peer: endpoint,
    serverId: linkId,
  }).map(formatConnectEvent),
);

/** Garbage: random bytes, overlong lines, NULs, lone CRs; never a result or a payload header. */
const garbageOutput: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.uint8Array({ minLength: 1, maxLength: 200 }),
  fc.integer({ min: 4097, max: 20000 }).map((n) =>
    new Uint8Array(n).fill(0x7a)
  ),
  fc.uint8Array({ minLength: 1, maxLength: 50 }).map((b) =>
    b.map((x, i) => (i % 5 === 0 ? 0 : x))
  ),
  fc.uint8Array({ minLength: 1, maxLength: 50 }).map((b) =>
    b.map((x, i) => (i % 7 === 3 ? 13 : x))
  ),
).map((b) => {
  // No "+", "[", ">" (payload-announcing or prompt lines) and no letters of OK/ERROR.
  const out = b.map((x) =>
    x === 0x2b || x === 0x5b || x === 0x3e || x === 0x4f || x === 0x45
      ? 0x7a
      : x
  );
  return concat([out, CRLF]);
});

/** The events a piece of output gives when parsed alone, in one chunk. */
function alone(bytes: Uint8Array): ModuleEvent[] {
  return new OutputParser().push(bytes);
}

/**
 * Fuzzes the host side; throws {@linkcode FuzzFailure} when a valid piece
 * is not parsed as when alone, the parser throws or holds too much, or the
 * driver does not recover.
 */
export async function fuzzHost(
  options: HostFuzzOptions,
): Promise<HostFuzzReport> {
  const log = options.log ?? (() => {});
  const started = performance.now();
  const rnd = mulberry32(options.seed ^ 0x5eed);
  const report: HostFuzzReport = {
    valid: 0,
    garbage: 0,
    bytes: 0,
    maxBuffered: 0,
    driverAnswers: 0,
    driverTimeouts: 0,
    elapsedMs: 0,
  };
  const bound = MAX_PAYLOAD_LENGTH + 4096 + 64;
  const item = fc.oneof(
    { arbitrary: validOutput.map((b) => ({ valid: true, b })), weight: 3 },
    { arbitrary: garbageOutput.map((b) => ({ valid: false, b })), weight: 1 },
  );
  const parser = new OutputParser();
  const ignorable = new Set(["garbage", "line", "urc", "echo", "shell"]);
  let done = 0;
  for (let batch = 0; done < options.items; batch++) {
    const items = fc.sample(item, {
      numRuns: Math.min(1000, options.items - done),
      seed: options.seed + 7 * batch,
    });
    const stream = concat(items.map((i) => i.b));
    const expected = items.filter((i) => i.valid).map((i) => alone(i.b));
    let got: ModuleEvent[] = [];
    for (const piece of chunks(stream, rnd)) {
      try {
        got.push(...parser.push(piece.slice()));
      } catch (e) {
        throw new FuzzFailure(`OutputParser threw ${e} in batch ${batch}`);
      }
      report.maxBuffered = Math.max(report.maxBuffered, parser.buffered);
      if (parser.buffered > bound) {
        throw new FuzzFailure(`OutputParser holds ${parser.buffered} bytes`);
      }
    }
    report.bytes += stream.length;
    // Every valid piece's events, in order; between them only garbage-ish events.
    for (const [k, want] of expected.entries()) {
      while (
        got.length && ignorable.has(got[0].type) &&
        !(want.length && JSON.stringify(got[0]) === JSON.stringify(want[0]))
      ) {
        got.shift();
      }
      const head = got.slice(0, want.length);
      if (JSON.stringify(head) !== JSON.stringify(want)) {
        throw new FuzzFailure(
          `batch ${batch} item ${k}: parsed ${
            JSON.stringify(head).slice(0, 300)
          }, alone ${JSON.stringify(want).slice(0, 300)}`,
        );
      }
      got = got.slice(want.length);
      report.valid++;
    }
    report.garbage += items.length - expected.length;
    done += items.length;
    if (done % 20000 === 0) log(`${done} output items`);
  }

  // The driver against a fake module: garbage before each answer, and now
  // and then garbage instead of one (the driver times out, resynchronises).
  const [host, fake] = memoryPair();
  const driver = new AtDriver(host, { timeoutMs: 2000 });
  const fakeReader = fake.readable.getReader();
  const garbage = fc.sample(garbageOutput, {
    numRuns: Math.max(1, options.driverRounds),
    seed: options.seed,
  });
  let silentNext = false;
  const serving = (async () => {
    let pending: Uint8Array = new Uint8Array();
    let round = 0;
    while (true) {
      const { value, done } = await fakeReader.read();
      if (done) return;
      pending = concat([pending, value]);
      for (let end; (end = pending.indexOf(10)) >= 0;) {
        const line = pending.subarray(0, end + 1);
        pending = pending.slice(end + 1);
        const junk = garbage[round++ % garbage.length];
        const text = new TextDecoder().decode(line);
        if (text.startsWith("AT+SKTQUERY")) {
          // The driver's resynchronisation after a timeout: answered, after
          // garbage, so the next command may go.
          const answer = concat([junk, formatQuery(DEFAULT_CONFIG)]);
          for (const piece of chunks(answer, rnd)) await fake.write(piece);
          continue;
        }
        if (!text.startsWith("AT+SKTSTATE")) continue;
        const answer = silentNext ? junk : concat([
          junk,
          formatState([{
            linkId: round % LINK_COUNT,
            role: "client",
            protocol: "tcp",
            source: { ip: "0.0.0.0", port: 0 },
            destination: { ip: "127.0.0.1", port: 1 + round },
            socketFd: 0,
          }]),
        ]);
        for (const piece of chunks(answer, rnd)) await fake.write(piece);
      }
    }
  })();
  try {
    await fake.write(ATCMD_READY);
    for (let round = 0; round < options.driverRounds; round++) {
      silentNext = round % 50 === 49;
      try {
        const links = await driver.state({
          timeoutMs: silentNext ? 100 : 2000,
        });
        if (
          silentNext || links.length !== 1 ||
          links[0].destination.ip !== "127.0.0.1"
        ) {
          throw new FuzzFailure(
            `driver round ${round}: ${JSON.stringify(links)}`,
          );
        }
        report.driverAnswers++;
      } catch (e) {
        if (!(silentNext && e instanceof CommandTimeoutError)) {
          throw e instanceof FuzzFailure
            ? e
            : new FuzzFailure(`driver round ${round}: ${e}`);
        }
        report.driverTimeouts++;
      }
    }
  } finally {
    await driver.close();
    await fake.close();
    await serving.catch(() => {});
  }
  report.elapsedMs = performance.now() - started;
  return report;
}
