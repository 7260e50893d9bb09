/**
 * What the shell task prints around a command on the log UART, which is the
 * console in Manual Test Mode (`shell_task_ram` in
 * `component/soc/<soc>/app/monitor/ram/shell_ram.c` and `atcmd_service` in
 * `component/at_cmd/atcmd_service.c`, Ameba-AIoT/ameba-rtos). In Host
 * Control Mode all of it goes to the log UART, never to the AT UART.
 *
 * @module
 */

import { encode, encodeLatin1, MODULE_FREE_HEAP } from "@atsock/protocol";

/**
 * The free heap the `[MEM]` line reports. A real module prints
 * `rtos_mem_get_free_heap_size()`, which moves with every allocation; the
 * virtual module prints the constant `MODULE_FREE_HEAP` (a figure seen on
 * real modules) so that transcripts stay byte for byte the same from run
 * to run.
 */
export const REPORTED_FREE_HEAP = MODULE_FREE_HEAP;

const SPACE = 0x20;
const MEM_AND_PROMPT = encode(
  `\n\r[MEM] After do cmd, available heap ${REPORTED_FREE_HEAP}\n\r\r\n\n#\r\n`,
);
const PROMPT_AFTER_UNKNOWN = encode("\r\n\n#\r\n");
const EMPTY_LINE_PROMPT = encode("\r#");

/**
 * The line as the shell task hands it on in Manual Test Mode: leading
 * spaces removed (`shell_loguartRx_dispatch`, "avoid useless space").
 */
export function dispatchedLine(line: Uint8Array): Uint8Array {
  let i = 0;
  while (i < line.length && line[i] === SPACE) i++;
  return i === 0 ? line : line.subarray(i);
}

/**
 * After a command `atcmd_handler` knew (whatever it answered):
 * `\n\r[MEM] After do cmd, available heap <n>\n\r` then `\r\n\n#\r\n`
 * (`atcmd_service`).
 */
export function afterCommand(): Uint8Array {
  return MEM_AND_PROMPT;
}

/**
 * A line nobody knew: `\r\nunknown command '<word>'` then `\r\n\n#\r\n`,
 * no `[MEM]` line (`shell_task_ram`). The word is the line up to its first
 * space: `shell_cmd_exec_ram` has cut the buffer there (`shell_get_argv`)
 * before it is printed.
 */
export function unknownCommand(line: Uint8Array): Uint8Array[] {
  const space = line.indexOf(SPACE);
  const word = space < 0 ? line : line.subarray(0, space);
  // printf("%s") stops at a NUL; the line reader never stores one.
  return [
    encodeLatin1("\r\nunknown command '"),
    word.slice(),
    encodeLatin1("'"),
    PROMPT_AFTER_UNKNOWN,
  ];
}

/** An empty (or all-space) line: only the prompt `\r#` (`CONSOLE_AMEBA`). */
export function emptyLine(): Uint8Array {
  return EMPTY_LINE_PROMPT;
}
