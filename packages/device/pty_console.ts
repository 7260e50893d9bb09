/**
 * The serial console: a pseudo-terminal whose slave path (`/dev/pts/N`)
 * tio, picocom, minicom, socat or host firmware under test can open as if it
 * were the module's UART. Needs `--allow-ffi` (Linux).
 *
 * @module
 */

import { type Console, serveStreams } from "./consoles.ts";
import type { VirtualModule } from "./module.ts";
import { openPty } from "@atsock/tty";

/**
 * Serves the module on a new pseudo-terminal; `address` is its slave path.
 * The console is attached while a client has the pty open: output with
 * nobody there is discarded, a client that opens it gets `ATCMD READY` in
 * Host Control Mode (the module comes up), and one that closes it leaves no
 * partial command behind.
 */
export function servePty(module: VirtualModule): Console {
  const pty = openPty({
    onPeer: (present) => {
      if (present) module.attach((bytes) => pty.write(bytes));
      else module.detach();
    },
  });
  const console = serveStreams(module, pty, pty.path);
  return {
    address: pty.path,
    close: async () => {
      await console.close();
      await pty.close();
    },
  };
}
