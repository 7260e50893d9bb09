/**
 * Drive a Realtek Ameba module (real, or the atsock virtual one) from
 * TypeScript: a transport (serial device, TCP bridge or in-memory), a driver
 * with a typed method per Socket AT command and typed unsolicited events,
 * and socket-like links with Web Streams. Also: a module found by its
 * address as a person writes it (`openTarget(parseTarget("tcp:HOST:PORT"))`),
 * and the replay of a transcript's host side against a module, which reports
 * the first difference.
 *
 * @example Connect through a TCP bridge and fetch a page
 * ```ts ignore
 * import { AtDriver, connectTcp } from "@atsock/host";
 *
 * const driver = new AtDriver(await connectTcp({ port: 3333 }));
 * const link = await driver.connect({
 *   linkId: 0,
 *   host: "example.com",
 *   port: 80,
 *   streams: { write: "send" },
 * });
 * const writer = link.writable.getWriter();
 * await writer.write(new TextEncoder().encode("HEAD / HTTP/1.0 "));
 * for await (const chunk of link.readable) console.log(chunk.length);
 * ```
 *
 * @example Replay a recorded session against a module on a cable
 * ```ts ignore
 * import { replayScript } from "@atsock/protocol";
 * import {
 *   formatDiff,
 *   openTarget,
 *   parseTarget,
 *   readTranscript,
 *   replay,
 * } from "@atsock/host";
 *
 * const script = replayScript(await readTranscript("session.jsonl"));
 * const result = await replay(script, await openTarget(parseTarget("/dev/ttyUSB0")));
 * console.log(result.result === "match" ? "same" : formatDiff(result));
 * ```
 *
 * @module
 */

export {
  type Answer,
  AtDriver,
  type CommandOptions,
  type DriverOptions,
  type DroppedEvents,
  parseQuery,
  parseStateLine,
  UnresponsiveEvent,
  type UnsolicitedEvent,
  UnsolicitedEventEvent,
  type WatchOptions,
} from "./driver.ts";
export type { ClientArgs, ServerArgs } from "./args.ts";
export type { ReadResult } from "./answers.ts";
export type { RawData, RawOptions } from "./raw_send.ts";
export {
  CommandTimeoutError,
  LinkOverflowError,
  ModuleResetError,
  TransportClosedError,
  UnexpectedAnswerError,
} from "./errors.ts";
export { AnswerTooLargeError, MAX_ANSWER_BYTES } from "./pending_answer.ts";
export {
  connectTcp,
  memoryPair,
  type TcpTransportOptions,
  type Transport,
} from "./transport.ts";
export {
  type HostLink,
  type HostServer,
  type LinkStreamOptions,
  linkStreams,
} from "./link.ts";
export { AtError } from "@atsock/protocol";
export type * from "@atsock/protocol";
export {
  openSerialTransport,
  SerialError,
  type SerialErrorKind,
  type SerialOptions,
  type SerialTransport,
} from "./serial.ts";
export {
  DEFAULT_BAUD,
  isPermissionError,
  openTarget,
  parseTarget,
  type Target,
  TargetError,
  targetName,
} from "./target.ts";
export {
  formatDiff,
  type PeerHandler,
  type PeerOutcome,
  readTranscript,
  replay,
  type ReplayResult,
  type ReplayRunOptions,
  showLine,
} from "./replay.ts";
export { UsageError } from "./usage_error.ts";
