/**
 * How `AtDriver.sendRaw` paces a payload against a module without flow
 * control (the firmware default), so that no byte is dropped.
 *
 * The firmware (`at_intf_uart.c` `atio_uart_handler`) drops console bytes
 * that find its 80 KiB TT buffer full. It prints `[$][TT]:High Watermark`
 * when a piece of at most 1 KiB leaves 24576 bytes or fewer free, so at
 * least 23553 bytes are free when High goes out. The driver writes pieces
 * of {@linkcode RAW_PIECE} bytes and lets the event loop turn once before
 * each piece (so a High read from the transport is handled before the
 * next piece), and after a High writes nothing until `[$][TT]:Low
 * Watermark`. So at most one piece plus what the transport holds in flight
 * reaches the module after High: lossless while the transport holds less
 * than 23553 - 8192 = 15361 bytes between the driver and the module's
 * UART (a UART's FIFO and a serial driver's buffer hold a few KiB; the
 * virtual module takes its console's bytes as soon as they come).
 *
 * Payloads under 81919 bytes get no watermarks and fit the buffer the
 * module makes for them (`size + 1`), so they cannot overflow.
 *
 * @module
 */

/** Bytes the driver writes between two looks at the watermarks. */
export const RAW_PIECE = 8 * 1024;

/** One event-loop turn at a time, without the 4 ms clamp of nested timers. */
export class Turns {
  #channel: MessageChannel | undefined;
  #waiting: (() => void) | undefined;

  /** Resolves after one turn of the event loop (I/O included). */
  next(): Promise<void> {
    if (!this.#channel) {
      this.#channel = new MessageChannel();
      this.#channel.port1.onmessage = () => {
        const resolve = this.#waiting;
        this.#waiting = undefined;
        resolve?.();
      };
    }
    const channel = this.#channel;
    return new Promise<void>((resolve) => {
      this.#waiting = resolve;
      channel.port2.postMessage(0);
    });
  }

  /** Releases the channel (it would keep the process alive). */
  close(): void {
    this.#channel?.port1.close();
    this.#channel?.port2.close();
    this.#channel = undefined;
    this.#waiting?.();
    this.#waiting = undefined;
  }
}
