/**
 * The link table: 20 link ids and the lwIP-style socket numbers behind
 * them, both allocated lowest-free-first as the firmware does.
 *
 * @module
 */

import { LINK_COUNT } from "@atsock/protocol";

/** Lowest-free allocator for small non-negative numbers. */
export class LowestFree {
  #used = new Set<number>();
  #limit: number;

  /** Numbers 0..limit-1 (Infinity: unbounded). */
  constructor(limit = Infinity) {
    this.#limit = limit;
  }

  /** Takes the lowest free number, or `undefined` when all are taken. */
  take(): number | undefined {
    for (let n = 0; n < this.#limit; n++) {
      if (!this.#used.has(n)) {
        this.#used.add(n);
        return n;
      }
    }
    return undefined;
  }

  /** Takes a given number; false if it is already taken or out of range. */
  claim(n: number): boolean {
    if (n < 0 || n >= this.#limit || this.#used.has(n)) return false;
    this.#used.add(n);
    return true;
  }

  /** Frees a number (no-op when it was free). */
  release(n: number): void {
    this.#used.delete(n);
  }

  /** Whether a number is taken. */
  has(n: number): boolean {
    return this.#used.has(n);
  }

  /** How many numbers are taken. */
  get size(): number {
    return this.#used.size;
  }
}

/** A table of `LINK_COUNT` slots holding links of type `T`. */
export class LinkTable<T> {
  #slots: (T | undefined)[] = new Array(LINK_COUNT).fill(undefined);
  #reserved = new Set<number>();

  /** The link on `id`, if any. */
  get(id: number): T | undefined {
    return this.#slots[id];
  }

  /** Puts a link on a free id (ending its reservation); false if the id is in use. */
  put(id: number, link: T): boolean {
    if (this.#slots[id] !== undefined) return false;
    this.#slots[id] = link;
    this.#reserved.delete(id);
    return true;
  }

  /**
   * Reserves a free id for a command that is still opening its socket:
   * {@linkcode lowestFree} skips it until {@linkcode put} or
   * {@linkcode unreserve}. False if the id is in use or reserved.
   */
  reserve(id: number): boolean {
    if (this.#slots[id] !== undefined || this.#reserved.has(id)) return false;
    this.#reserved.add(id);
    return true;
  }

  /** Whether `id` is reserved (and not yet in use). */
  reserved(id: number): boolean {
    return this.#reserved.has(id);
  }

  /** Ends a reservation (no-op when there is none). */
  unreserve(id: number): void {
    this.#reserved.delete(id);
  }

  /** Ends every reservation. */
  unreserveAll(): void {
    this.#reserved.clear();
  }

  /** The lowest id neither in use nor reserved, or `undefined` when there is none. */
  lowestFree(): number | undefined {
    for (let id = 0; id < LINK_COUNT; id++) {
      if (this.#slots[id] === undefined && !this.#reserved.has(id)) return id;
    }
    return undefined;
  }

  /** Frees an id. */
  remove(id: number): void {
    this.#slots[id] = undefined;
  }

  /** Every link with its id, in id order. */
  *entries(): IterableIterator<[number, T]> {
    for (let id = 0; id < LINK_COUNT; id++) {
      const link = this.#slots[id];
      if (link !== undefined) yield [id, link];
    }
  }

  /** How many ids are in use. */
  get size(): number {
    return this.#slots.filter((link) => link !== undefined).length;
  }
}
