/**
 * Where the shipped firmware differs from a plain reading of the vendor's
 * reference, in one table a reader can check against the source
 * (Ameba-AIoT/ameba-rtos, `component/at_cmd/`). Each row names the firmware
 * function the rule comes from and the atsock code that follows it; the
 * code carries the same rule id in a comment (`// firmware rule <id>`).
 *
 * @module
 */

/** One rule of the shipped firmware that the reference leaves unsaid or says otherwise. */
export interface FirmwareRule {
  /** A short stable id, cited in code comments and tests as `firmware rule <id>`. */
  readonly id: string;
  /** What the firmware does, in one sentence. */
  readonly rule: string;
  /** The firmware file and function it comes from. */
  readonly source: string;
  /** Where atsock follows it (package-relative file and symbol). */
  readonly code: string;
}

/** Every firmware rule atsock follows beyond the reference, by area. */
export const FIRMWARE_RULES: readonly FirmwareRule[] = [
  // --- console input and output (shell_cmd_chk, atcmd_service, log_service) ---
  // (console rows)
  {
    id: "console-line-end",
    rule:
      "A line ends only with LF right after CR (the CR is dropped) or with a NUL byte; a lone CR or LF is a byte of the line, also when CR and LF come in two writes.",
    source: "shell_rom_patch.c shell_cmd_chk",
    code: "protocol/line_reader.ts",
  },
  {
    id: "console-edit-keys",
    rule:
      "BS and DEL delete the previous byte (if any), TAB is stored as one space, 0xFF is dropped, on every line (AT+SKTSEND data too).",
    source: "shell_rom_patch.c shell_cmd_chk",
    code: "protocol/line_reader.ts",
  },
  {
    id: "console-overflow",
    rule:
      "With BUFLEN-1 bytes held, any byte but LF, NUL, BS or DEL runs the held bytes as a command at once and is itself lost; the shell prints <<<Too long cmd string.>>> and the line on the log UART.",
    source: "shell_rom_patch.c shell_cmd_chk",
    code: "protocol/line_reader.ts",
  },
  {
    id: "console-stuck",
    rule:
      "An LF (not after CR) arriving with BUFLEN-1 bytes held fills the last place: the buffer count passes its limit and every later byte is ignored until a restart.",
    source: "shell_rom_patch.c shell_cmd_chk",
    code: "protocol/line_reader.ts",
  },
  {
    id: "console-esc",
    rule:
      "The log UART's interrupt handler drops ESC bytes before the line reader (Manual Test Mode); the AT UART's handler passes them on.",
    source:
      "shell_rom_patch.c shell_uart_irq_rom, at_intf_uart.c atio_uart_handler",
    code: "protocol/line_reader.ts",
  },
  {
    id: "console-line-buffer",
    rule:
      "The line buffer is UART_LOG_CMD_BUFLEN bytes (2000 by default, other builds differ): a line ending in CR LF holds at most BUFLEN-2 bytes.",
    source: "shell_rom_patch.c shell_cmd_chk (UART_LOG_CMD_BUFLEN)",
    code: "device/module.ts",
  },
  {
    id: "console-echo",
    rule:
      "Manual Test Mode echoes each byte as typed, TAB as a space, BS/DEL as \\b \\b, and CR LF at a line end (a typed CR LF comes back as \\r\\r\\n); Host Control Mode echoes on the log UART, not the AT UART.",
    source: "shell_rom_patch.c shell_cmd_chk (pfEcho = DiagPrintf)",
    code: "device/module.ts",
  },
  {
    id: "console-manual-dispatch",
    rule:
      "Manual Test Mode removes leading spaces before the command runs; an empty (or all-space) line prints only the prompt \\r#.",
    source: "shell_ram.c shell_loguartRx_dispatch",
    code: "device/module.ts",
  },
  {
    id: "console-mem-line",
    rule:
      "Manual Test Mode: after every command atcmd_handler knew, whatever it answered, \\n\\r[MEM] After do cmd, available heap <n>\\n\\r then \\r\\n\\n#\\r\\n; Host Control Mode prints them on the log UART only.",
    source: "atcmd_service.c atcmd_service",
    code: "device/module.ts",
  },
  {
    id: "console-unknown",
    rule:
      "A line atcmd_handler does not know (not starting with AT, name of 3 bytes or less, unknown name) gets \\r\\nunknown command '<first word>' then \\r\\n\\n#\\r\\n in Manual Test Mode, nothing on the AT UART in Host Control Mode.",
    source: "shell_ram.c shell_task_ram, atcmd_service.c atcmd_handler",
    code: "device/module.ts",
  },
  // --- fields, errors, links, SKTREAD, SKTSTATE, DATA lines, TLS ---
  // (sockets rows)

  // --- transparent transmission (atcmd_tt_mode_*, at_intf_uart.c) ---
  // (tt rows)

  // --- reliability: accept loops, addresses ---
  // (reliability rows)
];
