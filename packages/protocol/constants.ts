/**
 * Limits of the Ameba firmware that the grammar depends on.
 *
 * @module
 */

/**
 * Longest command line a host can send, in bytes without its CR LF: the
 * line buffer (`UART_LOG_CMD_BUFLEN`, 2000) less the CR and one place
 * (`shell_cmd_chk` takes the CR LF only while it holds at most BUFLEN - 1
 * bytes, CR included).
 */
export const MAX_LINE_LENGTH = 1998;

/**
 * The firmware's `at_printf` prints nothing for a formatted string of this
 * many bytes or more (`MAX_BUF_LEN`, `atcmd_service.c`).
 */
export const AT_PRINTF_LIMIT = 20000;

/**
 * Size of the module's transparent-transmission ring buffer for payloads of
 * `TT_BUFFER_SIZE - 1` bytes or more (MAX_TT_HEAP_SIZE, 80 KiB); smaller
 * payloads get `size + 1`. The ring holds one byte less than its size.
 */
export const TT_BUFFER_SIZE = 80 * 1024;

/** Largest piece of an `AT+SKTSENDRAW` payload sent at once (MAX_TT_BUF_LEN, 10 KiB): one UDP datagram. */
export const TT_PIECE_SIZE = 10 * 1024;

/**
 * `[$][TT]:High Watermark` is printed when the free space left after bytes
 * arrive is at most this many bytes (30% of {@linkcode TT_BUFFER_SIZE}).
 */
export const TT_HIGH_WATERMARK_FREE = 24576;

/**
 * `[$][TT]:Low Watermark` is printed when the bytes held fall under this
 * (20% of {@linkcode TT_BUFFER_SIZE}).
 */
export const TT_LOW_WATERMARK_HELD = 16384;

/** Silence after `<<<` that aborts transparent transmission, in milliseconds. */
export const TT_ABORT_SILENCE_MS = 30;

/**
 * The module's free heap in bytes: the figure a real module prints after a
 * command in Manual Test Mode (`[MEM] After do cmd, available heap 290560`,
 * `rtos_mem_get_free_heap_size()`). `AT+SKTREAD` allocates `data_size + 1`
 * bytes (`at_sktread`); more than this is `ERROR: 2`. A real module's heap
 * moves with every allocation, so reads near the figure can fail there too.
 */
export const MODULE_FREE_HEAP = 290560;

/** How long `AT+SKTREAD` waits for data, in milliseconds. */
export const READ_WAIT_MS = 20;

/** Bytes an `auto_rcv=0` TCP link holds before the peer is held back (one lwIP TCP window). */
export const TCP_WINDOW = 7300;

/** Datagrams an `auto_rcv=0` UDP link holds before further ones are dropped. */
export const UDP_QUEUE_DATAGRAMS = 6;

/** The default AT UART speed of a real module. */
export const DEFAULT_BAUD = 38400;

/**
 * How a module's AT UART is wired: `none` (the firmware default, no RTS
 * pin): the module prints TT watermarks and drops bytes that find its TT
 * buffer full, so a host paces raw payloads; `rts`: no watermarks, the
 * module holds the host back while the buffer is full, and a host writes
 * at full speed.
 */
export type FlowControl = "none" | "rts";
