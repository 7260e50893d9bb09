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

  // --- fields, errors, links, SKTREAD, SKTSTATE, DATA lines, TLS ---
  // (sockets rows)

  // --- transparent transmission (atcmd_tt_mode_*, at_intf_uart.c) ---
  // (tt rows)
  {
    id: "tt-ring-size",
    rule:
      "The TT ring buffer is min(size + 1, 80 KiB) and holds one byte less; watermarks only when it is 80 KiB (a payload of 81919 bytes or more) on a UART without RTS.",
    source:
      "atcmd_service.c atcmd_tt_mode_start; ringbuffer.c RingBuffer_Space",
    code: "device/raw_transfer.ts RawTransfer",
  },
  {
    id: "tt-pieces",
    rule:
      "The payload is taken out in pieces of at most 10 KiB (MAX_TT_BUF_LEN) and each piece is sent at once: on UDP one datagram per piece.",
    source: "atcmd_sockets.c atcmd_lwip_start_tt_handle",
    code: "device/raw_transfer.ts RawTransfer",
  },
  {
    id: "tt-high-watermark",
    rule:
      "[$][TT]:High Watermark is printed once when a piece read from the UART leaves 24576 bytes or fewer free (never for a piece that does not fit); again only after a Low.",
    source: "at_intf_uart.c atio_uart_handler",
    code: "device/raw_transfer.ts RawTransfer",
  },
  {
    id: "tt-low-watermark",
    rule:
      "[$][TT]:Low Watermark is printed once when the sender finds fewer than 16384 bytes held (before taking them); the flags outlive the transfer.",
    source: "atcmd_service.c atcmd_tt_mode_get",
    code: "device/raw_transfer.ts RawTransfer",
  },
  {
    id: "tt-drop-when-full",
    rule:
      "A piece of at most 1 KiB read from the UART that does not fit in the ring is dropped whole (no RTS handling in the handler).",
    source: "at_intf_uart.c atio_uart_handler",
    code: "device/raw_transfer.ts RawTransfer",
  },
  {
    id: "tt-abort-chars",
    rule:
      "Three UART reads of one '<' each start a 30 ms timer (any other read cancels it); the '<' bytes are payload and go into the ring like any other.",
    source: "at_intf_uart.c atio_uart_handler",
    code: "device/raw_transfer.ts RawTransfer",
  },
  {
    id: "tt-abort-timer",
    rule:
      "The timer sets the stop flag: the sender sends what is held; a payload of at most 10 KiB then answers OK (ERROR: 4 if nothing came), a larger one ERROR: 4. A timer firing after the transfer ended leaves the flag set, and the next SKTSENDRAW that finds its ring empty answers ERROR: 4 at once.",
    source:
      "atcmd_service.c tt_mode_timeout_handler, atcmd_tt_mode_get; atcmd_sockets.c atcmd_lwip_start_tt_handle",
    code: "device/raw_transfer.ts TtGlobals",
  },
  // --- reliability: accept loops, addresses ---
  // (reliability rows)
];
