/**
 * A `node:net`/`node:tls` socket seen as a `Deno.Conn`-like byte
 * connection (`read`, `write`, `close`), so TLS links share the TCP link's
 * code. Reading pauses the socket while 64 KiB wait unread, so a slow
 * reader holds the peer back.
 *
 * @module
 */

import type { Socket } from "node:net";

/** The part of `Deno.Conn` that links use. */
export interface ByteConn {
  /** Reads into `p`; resolves the count, or null at the end of the stream. */
  read(p: Uint8Array): Promise<number | null>;
  /** Writes from `p`; resolves the count written. */
  write(p: Uint8Array): Promise<number>;
  /** Closes the connection. */
  close(): void;
}

const PAUSE_AT = 64 * 1024;

/** Adapts a connected node socket. */
export function nodeConn(socket: Socket): ByteConn {
  const chunks: Uint8Array[] = [];
  let buffered = 0;
  let ended = false;
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  socket.on("data", (data: Uint8Array) => {
    chunks.push(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    buffered += data.byteLength;
    if (buffered >= PAUSE_AT) socket.pause();
    notify();
  });
  socket.on("end", () => {
    ended = true;
    notify();
  });
  socket.on("close", () => {
    ended = true;
    notify();
  });
  socket.on("error", (e: Error) => {
    failure = e;
    ended = true;
    notify();
  });
  return {
    async read(p) {
      while (buffered === 0) {
        if (ended) {
          if (failure) throw failure;
          return null;
        }
        await new Promise<void>((resolve) => (wake = resolve));
      }
      let n = 0;
      while (n < p.length && chunks.length > 0) {
        const head = chunks[0];
        const take = Math.min(head.length, p.length - n);
        p.set(head.subarray(0, take), n);
        n += take;
        if (take === head.length) chunks.shift();
        else chunks[0] = head.subarray(take);
      }
      buffered -= n;
      if (buffered < PAUSE_AT && socket.isPaused()) socket.resume();
      return n;
    },
    write(p) {
      if (ended || socket.destroyed) {
        return Promise.reject(failure ?? new Error("connection closed"));
      }
      // The callback comes once the bytes are handed on, so `p` is free
      // again when the promise settles, as with `Deno.Conn.write`.
      return new Promise((resolve, reject) => {
        socket.write(p, (error?: Error | null) => {
          if (error) reject(error);
          else resolve(p.length);
        });
      });
    },
    close() {
      ended = true;
      socket.destroy();
      notify();
    },
  };
}
