/**
 * A growable byte buffer: how the output parser accumulates a line or a
 * `+SKTREAD` answer.
 *
 * @module
 */

/** A growable byte buffer. */
export class ByteBuffer {
  bytes = new Uint8Array(256);
  length = 0;
  append(src: Uint8Array): void {
    const need = this.length + src.length;
    if (need > this.bytes.length) {
      const grown = new Uint8Array(Math.max(need, this.bytes.length * 2));
      grown.set(this.bytes.subarray(0, this.length));
      this.bytes = grown;
    }
    this.bytes.set(src, this.length);
    this.length = need;
  }
  push(byte: number): void {
    if (this.length === this.bytes.length) {
      const grown = new Uint8Array(this.bytes.length * 2);
      grown.set(this.bytes);
      this.bytes = grown;
    }
    this.bytes[this.length++] = byte;
  }
  view(): Uint8Array {
    return this.bytes.subarray(0, this.length);
  }
  take(from = 0): Uint8Array {
    const out = this.bytes.slice(from, this.length);
    this.clear();
    return out;
  }
  clear(): void {
    this.length = 0;
    if (this.bytes.length > 65536) this.bytes = new Uint8Array(256);
  }
}
