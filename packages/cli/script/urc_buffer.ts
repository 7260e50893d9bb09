/**
 * Unsolicited lines kept for `expect urc`: every line the module printed on
 * its own since the run began, each matched at most once.
 *
 * @module
 */

import type { AtDriver, UnsolicitedEvent } from "@atsock/host";
import {
  decodeLatin1,
  formatConnectEvent,
  formatData,
  HIGH_WATERMARK,
  LOW_WATERMARK,
} from "@atsock/protocol";
import { matches, type Pattern } from "./steps.ts";

/** How often a wait looks whether the connection has closed, in ms. */
const CLOSED_POLL_MS = 100;

/** Lines kept at most; the oldest go first. */
export const URC_LIMIT = 1000;

/** The line an unsolicited event was printed as (without CR LF); none for garbage. */
export function urcText(event: UnsolicitedEvent): string | undefined {
  switch (event.type) {
    case "connect":
      return chomp(decodeLatin1(formatConnectEvent(event)));
    case "data":
      return chomp(
        decodeLatin1(formatData(event.linkId, event.data, event.sender)),
      );
    case "watermark":
      return chomp(
        decodeLatin1(event.level === "high" ? HIGH_WATERMARK : LOW_WATERMARK),
      );
    case "ready":
      return "ATCMD READY";
    case "urc":
      return event.text;
    case "garbage":
      return undefined;
  }
}

function chomp(line: string): string {
  return line.endsWith("\r\n") ? line.slice(0, -2) : line;
}

/** What a wait for an unsolicited line found. */
export interface UrcMatch {
  /** The line that matched, if one did. */
  line?: string;
  /** Unmatched lines kept at the end of the wait (newest last, at most 20). */
  seen: string[];
  /** Set when the connection closed before a match. */
  closed: boolean;
}

/** Collects a driver's unsolicited lines from its creation on. */
export class UrcBuffer {
  #lines: string[] = [];
  #wake: (() => void)[] = [];
  #closed = false;
  #last = Date.now();
  #pump: Promise<void>;
  #driver: AtDriver;
  /** Unsolicited lines the driver dropped before they were taken in. */
  dropped = 0;

  /** Starts collecting. */
  constructor(driver: AtDriver) {
    this.#driver = driver;
    const events = driver.events();
    this.#pump = (async () => {
      for await (const event of events) {
        if (event.type === "dropped") {
          // The driver keeps thousands; losing some means nobody read for long.
          this.dropped += event.count;
          continue;
        }
        const text = urcText(event);
        this.#last = Date.now();
        if (text === undefined) continue;
        this.#lines.push(text);
        if (this.#lines.length > URC_LIMIT) this.#lines.shift();
        for (const wake of this.#wake.splice(0)) wake();
      }
      this.#closed = true;
      for (const wake of this.#wake.splice(0)) wake();
    })();
  }

  /** Resolves once the connection has closed and every line was taken in. */
  get done(): Promise<void> {
    return this.#pump;
  }

  /**
   * Waits until the module has printed nothing unsolicited for `quietMs`,
   * at most `maxMs`: a greeting such as `ATCMD READY` is then kept here
   * instead of ending the first command.
   */
  async settle(quietMs: number, maxMs: number): Promise<void> {
    const start = Date.now();
    this.#last = start;
    while (!this.#closed && !this.#driver.closed) {
      const now = Date.now();
      const quiet = now - this.#last;
      if (quiet >= quietMs || now - start >= maxMs) return;
      await sleep(Math.min(quietMs - quiet, maxMs - (now - start)) + 1);
    }
  }

  /**
   * Takes the oldest kept line that fits `pattern`, waiting up to `ms` for
   * one to come.
   */
  async take(pattern: Pattern, ms: number): Promise<UrcMatch> {
    const deadline = Date.now() + ms;
    while (true) {
      const at = this.#lines.findIndex((line) => matches(pattern, line));
      if (at >= 0) {
        const [line] = this.#lines.splice(at, 1);
        return { line, seen: [], closed: false };
      }
      const left = deadline - Date.now();
      const closed = this.#closed || this.#driver.closed;
      if (left <= 0 || closed) {
        return { seen: this.#lines.slice(-20), closed };
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#wake.push(resolve);
        // The driver's events() does not end when the connection closes
        // (it waits for one more event): look at driver.closed now and then.
        timer = setTimeout(resolve, Math.min(left, CLOSED_POLL_MS));
      });
      clearTimeout(timer);
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
