/**
 * Drive a Realtek Ameba module (real, or the atsock virtual one) from
 * TypeScript: a transport (serial device, TCP bridge or in-memory), a driver
 * with a typed method per Socket AT command and typed unsolicited events,
 * and socket-like links with Web Streams.
 *
 * @example Connect through a TCP bridge and fetch a page
 * ```ts ignore
 * import { AtDriver, connectTcp, linkStreams } from "@atsock/host";
 *
 * const driver = new AtDriver(await connectTcp({ port: 3333 }));
 * await driver.connect({ linkId: 0, host: "example.com", port: 80 });
 * const link = linkStreams(driver, 0, { write: "send" });
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
  parseQuery,
  parseStateLine,
  type UnsolicitedEvent,
  UnsolicitedEventEvent,
} from "./driver.ts";
export {
  CommandTimeoutError,
  ModuleResetError,
  TransportClosedError,
} from "./errors.ts";
export {
  connectTcp,
  memoryPair,
  type TcpTransportOptions,
  type Transport,
} from "./transport.ts";
export { type HostLink, type LinkStreamOptions, linkStreams } from "./link.ts";
export { AtError } from "@atsock/protocol";
export type * from "@atsock/protocol";
export {
  openSerialTransport,
  SerialError,
  type SerialErrorKind,
  type SerialOptions,
} from "./serial.ts";
