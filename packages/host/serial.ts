/**
 * The serial transport: a real module on a USB-serial cable (or the
 * virtual module's pty), opened raw, 8N1, at a baud rate. Linux; needs
 * `--allow-ffi`.
 *
 * @module
 */

import { openSerial, type SerialOptions } from "@atsock/device/tty";
import type { Transport } from "./transport.ts";

export {
  SerialError,
  type SerialErrorKind,
  type SerialOptions,
} from "@atsock/device/tty";

/**
 * Opens a serial device as a transport. Throws `SerialError` with `kind`
 * `not-found`, `busy`, `permission` or `not-a-tty` and a message that says
 * what to do.
 */
export function openSerialTransport(
  path: string,
  options: SerialOptions = {},
): Transport {
  const port = openSerial(path, options);
  return {
    name: `${path}@${port.baud}`,
    readable: port.readable,
    write: (bytes) => port.write(bytes),
    close: () => port.close(),
  };
}
