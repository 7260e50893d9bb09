/**
 * How `AtDriver.sendRaw` paces a payload against a module without flow
 * control (the firmware default), so that no byte is dropped.
 *
 * The firmware (`at_intf_uart.c` `atio_uart_handler`) drops console bytes
 * that find its 80 KiB TT buffer full. It prints `[$][TT]:High Watermark`
 * when a piece of at most 1 KiB leaves 24576 bytes or fewer free, so at
 * least 23553 bytes are free when High goes out. The driver writes pieces
 * of {@linkcode RAW_PIECE} bytes and lets the event loop turn once before
 * each piece (so a High that has reached the transport is read before
 * the next piece goes), and after a High writes nothing until `[$][TT]:Low
 * Watermark`. So at most one piece plus what the transport holds in flight
 * reaches the module after High: lossless while the transport holds less
 * than 23553 - 8192 = 15361 bytes between the driver and the module's
 * UART (a UART's FIFO and a serial driver's buffer hold a few KiB; the
 * virtual module takes its console's bytes as soon as they come).
 *
 * The turn costs about a millisecond, so a paced payload goes at a few
 * MB/s: far above any UART, far below a virtual module's TCP console. A
 * host whose module has RTS flow control passes `flowControl: "rts"`: the
 * hardware holds it back, so it writes without pausing between pieces.
 *
 * Payloads under 81919 bytes get no watermarks and fit the buffer the
 * module makes for them (`size + 1`), so they cannot overflow.
 *
 * @module
 */

/** Bytes the driver writes between two looks at the watermarks. */
export const RAW_PIECE = 8 * 1024;

/**
 * Waits for one turn of the event loop with its I/O poll (a timer: a
 * MessageChannel message or `setImmediate` does not let pending reads
 * complete first).
 */
export function nextTurn(): Promise<void> {
  return new Promise<void>((resolve) => setTimeout(resolve, 0));
}
