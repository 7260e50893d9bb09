/**
 * The serial transport: a real module on a USB-serial cable (or the
 * virtual module's pty), opened raw, 8N1, at a baud rate. Linux; needs
 * `--allow-ffi`.
 *
 * @module
 */

import { openSerial, type SerialOptions } from "@atsock/tty";
import type { Transport } from "./transport.ts";

export {
  SerialError,
  type SerialErrorKind,
  type SerialOptions,
} from "@atsock/tty";

/** A serial transport, with the line settings read back from the device. */
export interface SerialTransport extends Transport {
  /** The baud rate in force. */
  readonly baud: number;
  /** Whether RTS/CTS flow control is on. */
  readonly rtscts: boolean;
}

/**
 * Opens a serial device as a transport. Throws `SerialError` with `kind`
 * `not-found`, `busy`, `permission` or `not-a-tty` and a message that says
 * what to do. When the device goes away (unplugged), the readable ends (a
 * driver then fails commands with `TransportClosedError`) and writes throw
 * a `SerialError` of kind `disconnected`.
 */
export function openSerialTransport(
  path: string,
  options: SerialOptions = {},
): SerialTransport {
  const port = openSerial(path, options);
  return {
    name: `${path}@${port.baud}`,
    baud: port.baud,
    rtscts: port.rtscts,
    readable: port.readable,
    write: (bytes) => port.write(bytes),
    close: () => port.close(),
  };
}
