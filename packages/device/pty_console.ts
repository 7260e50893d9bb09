/**
 * The serial console: a pseudo-terminal whose slave path (`/dev/pts/N`)
 * tio, picocom, minicom, socat or host firmware under test can open as if it
 * were the module's UART. Needs `--allow-ffi` (Linux).
 *
 * @module
 */

import { type Console, serveStreams } from "./consoles.ts";
import type { VirtualModule } from "./module.ts";
import { openPty } from "./tty.ts";

/** Serves the module on a new pseudo-terminal; `address` is its slave path. */
export function servePty(module: VirtualModule): Console {
  const pty = openPty();
  const console = serveStreams(module, pty, pty.path);
  return {
    address: pty.path,
    close: async () => {
      await console.close();
      await pty.close();
    },
  };
}
