/**
 * The loop every byte writer needs: `Deno.Conn.write` and its kin may write
 * only part of what they are given.
 *
 * @module
 */

/** Something that writes some of the bytes it is given and says how many. */
export interface PartialWriter {
  /** Writes a prefix of `p`; resolves to its length (at least 1 unless `p` is empty). */
  write(p: Uint8Array): Promise<number>;
}

/**
 * Writes every byte, looping over partial writes.
 *
 * @example
 * ```ts ignore
 * import { writeAll } from "@atsock/tty";
 * const conn = await Deno.connect({ port: 8080 });
 * await writeAll(conn, new TextEncoder().encode("AT+SKTSTATE\r\n"));
 * ```
 */
export async function writeAll(
  writer: PartialWriter,
  bytes: Uint8Array,
): Promise<void> {
  let written = 0;
  while (written < bytes.length) {
    written += await writer.write(bytes.subarray(written));
  }
}
