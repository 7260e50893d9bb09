/**
 * Help paragraphs the one-shot subcommands share.
 *
 * @module
 */

/** The options every one-shot subcommand takes, as help lines. */
export function commonHelp(timeoutSeconds = 10): string {
  return `  --baud N        serial speed (default 38400, the module's default)
  --timeout S     how long to wait for each answer (default ${timeoutSeconds} s)
  -h, --help      this help

Target:
  DEVICE          a serial device, e.g. /dev/ttyUSB0 (8N1, raw)
  tcp:HOST:PORT   a serial-to-TCP bridge or atsock emulate --console tcp:...

The module keeps its links when the command ends: connect in one command,
send and read in the next ones.

Exit status: 0 done, 1 the module answered ERROR (shown with its meaning),
did not answer in time or could not be reached, 2 bad arguments.
`;
}

/** The permissions paragraph; `extra` adds the subcommand's own. */
export function permissionsHelp(extra = ""): string {
  return `Permissions: --allow-net for tcp: (narrow it: --allow-net=127.0.0.1:3333),
--allow-ffi for a serial device (libc opens it)${extra}.
`;
}

/** The permissions paragraph of a subcommand that reads and writes no files. */
export const PERMISSIONS_HELP: string = permissionsHelp();
