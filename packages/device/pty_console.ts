/**
 * The serial console: a pseudo-terminal whose slave path (`/dev/pts/N`)
 * tio, picocom, minicom, socat or host firmware under test can open as if it
 * were the module's UART. Needs `--allow-ffi` (Linux).
 *
 * @module
 */

import type { Console } from "./consoles.ts";
import type { VirtualModule } from "./module.ts";
import { openPty } from "./tty.ts";

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
  const reading = (async () => {
    const reader = pty.readable.getReader();
    try {
      while (true) {
        const { value, done } = await reader.read();
        if (done) break;
        await module.receive(value);
      }
    } catch {
      /* closed */
    } finally {
      reader.releaseLock();
    }
  })();
  return {
    address: pty.path,
    close: async () => {
      module.detach();
      await pty.close();
      await reading;
    },
  };
}
