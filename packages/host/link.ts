/**
 * Socket-like links over a driver: a `ReadableStream` and a
 * `WritableStream` of bytes per link, like `Deno.Conn`.
 *
 * @module
 */

import type { Endpoint } from "@atsock/protocol";
import type { AtDriver, UnsolicitedEvent } from "./driver.ts";

/** How a link's streams move bytes. */
export interface LinkStreamOptions {
  /**
   * Reading: `auto` takes `[$][SKT][DATA]` lines (the link must have been
   * created with auto_rcv=1; binary-safe); `poll` issues `AT+SKTREAD` when the
   * reader wants data (auto_rcv=0; the module holds the peer back, but the
   * firmware cuts each read at a NUL byte, so it is for text).
   */
  read?: "auto" | "poll";
  /**
   * Writing: `raw` uses `AT+SKTSENDRAW` (Host Control Mode; any byte,
   * honours the watermarks), `send` uses `AT+SKTSEND` (no CR or LF bytes).
   */
  write?: "raw" | "send";
  /** UDP server destination for writes. */
  destination?: Endpoint;
  /** Bytes queued for a slow reader before the driver stops reading the module (default 256 KiB). */
  highWater?: number;
}

/** A link as a pair of byte streams. */
export interface HostLink {
  /** The module's link id. */
  readonly linkId: number;
  /** Bytes from the peer. Ends when the link is closed. */
  readonly readable: ReadableStream<Uint8Array>;
  /** Bytes to the peer. */
  readonly writable: WritableStream<Uint8Array>;
  /** Deletes the link on the module (`AT+SKTDEL`) and ends the streams. */
  close(): Promise<void>;
}

/** Wraps an existing link id of a driver in streams. */
export function linkStreams(
  driver: AtDriver,
  linkId: number,
  options: LinkStreamOptions = {},
): HostLink {
  const readMode = options.read ?? "auto";
  const writeMode = options.write ?? "raw";
  const highWater = options.highWater ?? 256 * 1024;
  let closed = false;
  let stopListening = () => {};

  const readable = new ReadableStream<Uint8Array>(
    readMode === "auto"
      ? {
        start(controller) {
          const onData = (event: Event) => {
            const detail =
              (event as Event & { detail: UnsolicitedEvent }).detail;
            if (detail.type !== "data" || detail.linkId !== linkId) return;
            controller.enqueue(detail.data);
            if ((controller.desiredSize ?? 1) <= 0) {
              // A slow reader: stop reading the module until it catches up.
              driver.holdInput(() =>
                new Promise<void>((resolve) => {
                  const check = () => {
                    if (closed || (controller.desiredSize ?? 1) > 0) resolve();
                    else setTimeout(check, 1);
                  };
                  check();
                })
              );
            }
          };
          driver.addEventListener("data", onData);
          stopListening = () => {
            driver.removeEventListener("data", onData);
            try {
              controller.close();
            } catch { /* already closed */ }
          };
        },
        cancel() {
          stopListening();
        },
      }
      : {
        async pull(controller) {
          while (!closed) {
            const result = await driver.read(linkId, 8192);
            if (result.data.length > 0) {
              controller.enqueue(result.data);
              return;
            }
            await new Promise((r) => setTimeout(r, 5));
          }
          controller.close();
        },
      },
    // Polling reads only when asked: no SKTREAD runs ahead of the reader.
    readMode === "auto"
      ? { highWaterMark: highWater, size: (chunk) => chunk.length }
      : { highWaterMark: 0 },
  );

  const writable = new WritableStream<Uint8Array>({
    async write(chunk) {
      if (chunk.length === 0) return;
      if (writeMode === "raw") {
        await driver.sendRaw(linkId, chunk, options.destination);
      } else await driver.send(linkId, chunk, options.destination);
    },
  });

  return {
    linkId,
    readable,
    writable,
    async close() {
      if (closed) return;
      closed = true;
      stopListening();
      await driver.remove(linkId);
    },
  };
}
