/**
 * Serial devices and pseudo-terminals on Linux, through libc (Deno FFI,
 * needs `--allow-ffi`): {@linkcode openSerial} opens a real tty (a module on
 * a USB-serial cable) raw, 8N1, at a baud rate, exclusively;
 * {@linkcode openPty} makes a pseudo-terminal whose slave path (`/dev/pts/N`)
 * other programs open as if it were a UART. Both give a Web Streams
 * readable and a `write` that writes every byte. `@atsock/device` serves
 * the virtual module on a pty with it, and `@atsock/host` opens real
 * modules with it.
 *
 * @example Talk to a module on a cable
 * ```ts ignore
 * import { openSerial, SerialError } from "@atsock/tty";
 *
 * try {
 *   const port = openSerial("/dev/ttyUSB0", { baud: 38400 });
 *   await port.write(new TextEncoder().encode("AT+SKTSTATE\r\n"));
 *   for await (const chunk of port.readable) {
 *     console.log(new TextDecoder().decode(chunk));
 *   }
 * } catch (e) {
 *   if (e instanceof SerialError) console.error(e.kind, e.message);
 *   else throw e;
 * }
 * ```
 *
 * @example A pty that another program opens
 * ```ts ignore
 * import { openPty } from "@atsock/tty";
 *
 * const pty = openPty({ onPeer: (present) => console.log({ present }) });
 * console.log(`open ${pty.path} with picocom, tio or socat`);
 * for await (const chunk of pty.readable) await pty.write(chunk); // echo
 * ```
 *
 * @module
 */

export {
  openPty,
  openSerial,
  type Pty,
  type PtyOptions,
  SerialError,
  type SerialErrorKind,
  serialErrorKind,
  type SerialOptions,
  type SerialPort,
} from "./tty.ts";
export { type PartialWriter, writeAll } from "./write_all.ts";
