/**
 * Drive a Realtek Ameba module (real, or the atsock virtual one) from
 * TypeScript: a transport (serial device, TCP bridge or in-memory), a driver
 * with a typed method per Socket AT command and typed unsolicited events,
 * and socket-like links with Web Streams.
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
