/**
 * The fault layer of a virtual module: it watches commands, link data and
 * the clock, fires the faults of a plan when their triggers match, and
 * applies their actions at the module's hook points (command answers,
 * DATA lines, link reads, console bytes both ways). Every random choice
 * comes from a {@linkcode Prng} seeded by the plan, one stream per fault,
 * so the same seed and the same traffic give the same run. Every firing is
 * logged and recorded in the transcript. A module without a plan has no
 * fault layer at all.
 *
 * @module
 */

import { type CommandName, concat, encodeLatin1 } from "@atsock/protocol";
import type { ConsoleOutput, ConsoleSink } from "./output.ts";
import {
  checkFault,
  checkFaultPlan,
  type Fault,
  type FaultAction,
  type FaultPlan,
} from "./fault_plan.ts";
import { Prng, streamSeed } from "./prng.ts";

/** What the fault layer may do to its module. */
export interface FaultHost {
  /** The module's console output. */
  readonly output: ConsoleOutput;
  /** Resets the module. */
  reset(): void;
  /** Ends a TCP/TLS link's connection as if the peer went; false if there is no such link. */
  dropPeer(link: number, how: "close" | "reset"): boolean;
  /** One line for the operator. */
  log(message: string): void;
  /** Records a firing in the transcript, if one is on. */
  record?(index: number, action: string, detail: string): void;
}

/** A fault that fired. */
export interface FiredFault {
  /** Its index in the plan. */
  index: number;
  /** Its action type. */
  action: FaultAction["type"];
  /** What it did. */
  detail: string;
}

/** What a command must do because of faults that fired on it. */
export interface CommandEffects {
  /** Lines to print before the answer. */
  inject?: Uint8Array;
  /** Answer `ERROR: <code>` instead of acting. */
  error?: number;
  /** Hold the answer this long. */
  delayMs?: number;
  /** Reset before answering. */
  reset?: boolean;
  /** `AT+SKTSENDRAW`: reset after this many payload bytes. */
  resetAfterBytes?: number;
}

interface State {
  fault: Fault;
  prng: Prng;
  seen: number;
  fired: number;
}

interface Noise {
  index: number;
  action: Extract<FaultAction, { type: "noise" }>;
  prng: Prng;
  left: number;
}

interface Chunking {
  sizes: number[];
  gapMs: number;
  left: number;
  next: number;
}

interface Stall {
  release: () => void;
  promise: Promise<void>;
  timer?: ReturnType<typeof setTimeout>;
}

const CRLF = "\r\n";

/** The faults of one module; see the module doc. */
export class FaultInjector {
  /** The seed of every random choice. */
  readonly seed: number;
  /** Every firing so far, in order (for tests and reports). */
  readonly fired: FiredFault[] = [];
  #host: FaultHost;
  #states: State[] = [];
  #noise: { h2m: Noise[]; m2h: Noise[] } = { h2m: [], m2h: [] };
  #chunks: Chunking[] = [];
  #stalls = new Map<number, Stall>();
  #timers = new Set<ReturnType<typeof setTimeout>>();
  #sleeps = new Set<() => void>();
  #started = false;
  #closed = false;

  /** Takes a checked plan (see {@linkcode checkFaultPlan}); nothing fires before {@linkcode start}. */
  constructor(plan: FaultPlan, host: FaultHost) {
    const checked = checkFaultPlan(plan);
    this.seed = checked.seed;
    this.#host = host;
    for (const fault of checked.faults) this.#push(fault);
  }

  /** Arms the time triggers (`atMs` counts from here); `atMs: 0` fires now. */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#states.forEach((_, index) => this.#arm(index));
  }

  /**
   * Adds a fault at run time (checked like a plan's; throws
   * `FaultPlanError`); a time trigger counts from now. Returns its index.
   */
  add(fault: Fault): number {
    const index = this.#push(checkFault(fault, `fault ${this.#states.length}`));
    if (this.#started) this.#arm(index);
    return index;
  }

  /** Stops every timer and releases every stall and delay. */
  close(): void {
    this.#closed = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    for (const wake of this.#sleeps) wake();
    this.#sleeps.clear();
    for (const link of [...this.#stalls.keys()]) this.#unstall(link);
  }

  #push(fault: Fault): number {
    const index = this.#states.length;
    this.#states.push({
      fault,
      prng: new Prng(streamSeed(this.seed, index)),
      seen: 0,
      fired: 0,
    });
    return index;
  }

  #arm(index: number): void {
    const { fault } = this.#states[index];
    if (fault.on !== "time") return;
    const fire = () => {
      if (this.#closed) return;
      this.#states[index].fired++;
      this.#apply(index, "time", undefined);
    };
    if (fault.atMs === 0) return fire();
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      fire();
    }, fault.atMs);
    this.#timers.add(timer);
  }

  /** Whether fault `index` fires on this matching event (counts it, draws its chance). */
  #fires(index: number): boolean {
    const state = this.#states[index];
    const { fault } = state;
    state.seen++;
    if (state.seen < (fault.nth ?? 1)) return false;
    const times = fault.times ?? 1;
    if (times > 0 && state.fired >= times) return false;
    const p = fault.probability ?? 1;
    if (p < 1 && state.prng.next() >= p) return false;
    state.fired++;
    return true;
  }

  #report(index: number, action: FaultAction["type"], detail: string): void {
    const fault = this.#states[index].fault;
    const when = fault.on === "command"
      ? `on ${fault.command ? "AT+" + fault.command : "a command"}`
      : fault.on === "data"
      ? `on data${fault.link === undefined ? "" : ` of link ${fault.link}`}`
      : `at ${fault.atMs} ms`;
    this.fired.push({ index, action, detail });
    this.#host.log(`fault #${index} (${action} ${when}): ${detail}`);
    this.#host.record?.(index, action, detail);
  }

  /** Called when a command line naming `command` is taken, before it acts. */
  onCommand(command: CommandName): CommandEffects | undefined {
    let effects: CommandEffects | undefined;
    for (let i = 0; i < this.#states.length; i++) {
      const { fault } = this.#states[i];
      if (fault.on !== "command") continue;
      if (fault.command !== undefined && fault.command !== command) continue;
      if (!this.#fires(i)) continue;
      effects ??= {};
      this.#apply(i, `AT+${command}`, effects);
    }
    return effects;
  }

  /**
   * Called when a TCP/TLS link has received `bytes` bytes, before they are
   * printed or kept: a delay to wait out, or undefined.
   */
  onData(link: number, bytes: number): Promise<void> | undefined {
    let wait: Promise<void> | undefined;
    for (let i = 0; i < this.#states.length; i++) {
      const { fault } = this.#states[i];
      if (fault.on !== "data") continue;
      if (fault.link !== undefined && fault.link !== link) continue;
      if (!this.#fires(i)) continue;
      const delay = this.#apply(i, `${bytes} bytes on link ${link}`, {}, link);
      if (delay) wait = this.sleep(delay);
    }
    return wait;
  }

  /** Called before a TCP/TLS link reads its socket: a stall to wait out, or undefined. */
  beforeRead(link: number): Promise<void> | undefined {
    return this.#stalls.get(link)?.promise;
  }

  /**
   * Applies fault `index`'s action. On a command, effects for the command
   * go into `effects`; returns a delay in ms for data triggers.
   */
  #apply(
    index: number,
    where: string,
    effects: CommandEffects | undefined,
    dataLink?: number,
  ): number | undefined {
    const action = this.#states[index].fault.action;
    const onCommand = effects !== undefined && dataLink === undefined;
    switch (action.type) {
      case "delay":
        this.#report(index, "delay", `${where}: held ${action.ms} ms`);
        if (onCommand) effects.delayMs = (effects.delayMs ?? 0) + action.ms;
        return action.ms;
      case "chunk": {
        const bytes = action.bytes ?? 4096;
        this.#chunks.push({
          sizes: action.sizes,
          gapMs: action.gapMs ?? 0,
          left: bytes,
          next: 0,
        });
        this.#report(
          index,
          "chunk",
          `${where}: next ${bytes} output bytes in chunks of ${
            action.sizes.join(",")
          } with ${action.gapMs ?? 0} ms gaps`,
        );
        return;
      }
      case "inject": {
        const bytes = encodeLatin1(action.lines.map((l) => l + CRLF).join(""));
        this.#report(
          index,
          "inject",
          `${where}: printed ${JSON.stringify(action.lines)}`,
        );
        if (onCommand) {
          effects.inject = effects.inject
            ? concat([effects.inject, bytes])
            : bytes;
        } else this.#host.output.unsolicited(bytes);
        return;
      }
      case "error":
        this.#report(
          index,
          "error",
          `${where}: answered ERROR: ${action.code}`,
        );
        if (onCommand) effects.error = action.code;
        return;
      case "reset":
        if (onCommand && action.afterBytes !== undefined) {
          this.#report(
            index,
            "reset",
            `${where}: reset after ${action.afterBytes} payload bytes`,
          );
          effects.resetAfterBytes = action.afterBytes;
        } else if (onCommand) {
          this.#report(index, "reset", `${where}: reset before answering`);
          effects.reset = true;
        } else {
          this.#report(index, "reset", `${where}: reset`);
          this.#host.reset();
        }
        return;
      case "noise": {
        const noise: Noise = {
          index,
          action,
          prng: new Prng(streamSeed(this.seed, index + 0x10000)),
          left: action.bytes ?? Infinity,
        };
        this.#noise[action.dir].push(noise);
        this.#report(
          index,
          "noise",
          `${where}: ${action.dir} noise on (drop ${
            action.drop ?? 0
          }, duplicate ${action.duplicate ?? 0}, corrupt ${
            action.corrupt ?? 0
          }) for ${action.bytes === undefined ? "every" : action.bytes} bytes`,
        );
        return;
      }
      case "peer": {
        const link = action.link ?? dataLink!;
        if (action.do === "stall") {
          this.#stall(link, action.ms);
          this.#report(
            index,
            "peer",
            `${where}: link ${link} stops reading its socket${
              action.ms === undefined ? "" : ` for ${action.ms} ms`
            }`,
          );
          return;
        }
        const done = this.#host.dropPeer(link, action.do);
        this.#unstall(link);
        this.#report(
          index,
          "peer",
          done
            ? `${where}: link ${link}'s peer ${
              action.do === "close" ? "closed" : "reset"
            }`
            : `${where}: link ${link} has no connected peer; nothing done`,
        );
        return;
      }
    }
  }

  #stall(link: number, ms: number | undefined): void {
    if (this.#stalls.has(link)) this.#unstall(link);
    let release!: () => void;
    const promise = new Promise<void>((resolve) => (release = resolve));
    const stall: Stall = { release, promise };
    if (ms !== undefined) {
      stall.timer = setTimeout(() => {
        this.#timers.delete(stall.timer!);
        if (this.#stalls.get(link) === stall) this.#unstall(link);
      }, ms);
      this.#timers.add(stall.timer);
    }
    this.#stalls.set(link, stall);
  }

  #unstall(link: number): void {
    const stall = this.#stalls.get(link);
    if (!stall) return;
    this.#stalls.delete(link);
    clearTimeout(stall.timer);
    stall.release();
  }

  /** A link closed: its stall ends. */
  linkClosed(link: number): void {
    this.#unstall(link);
  }

  /** Waits `ms` (cut short by {@linkcode close}). */
  sleep(ms: number): Promise<void> {
    if (this.#closed || ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.#sleeps.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.#sleeps.add(wake);
    });
  }

  /** Console bytes from the host, after any h2m noise. */
  h2m(bytes: Uint8Array): Uint8Array {
    return this.#noise.h2m.length > 0 ? this.#noisy("h2m", bytes) : bytes;
  }

  /**
   * Wraps the console's writer: m2h noise, then chunks with gaps. Without
   * active output faults, bytes pass straight through.
   */
  wrapSink(sink: ConsoleSink): ConsoleSink {
    return async (bytes) => {
      if (this.#noise.m2h.length > 0) bytes = this.#noisy("m2h", bytes);
      let offset = 0;
      while (offset < bytes.length && this.#chunks.length > 0) {
        const chunk = this.#chunks[0];
        const size = Math.min(
          chunk.sizes[chunk.next++ % chunk.sizes.length],
          chunk.left,
          bytes.length - offset,
        );
        await sink(bytes.subarray(offset, offset + size));
        offset += size;
        chunk.left -= size;
        if (chunk.left === 0) this.#chunks.shift();
        if (chunk.gapMs > 0) await this.sleep(chunk.gapMs);
      }
      if (offset < bytes.length) await sink(bytes.subarray(offset));
    };
  }

  /** One draw per byte for each active noise of that direction. */
  #noisy(dir: "h2m" | "m2h", bytes: Uint8Array): Uint8Array {
    let data = bytes;
    for (const noise of this.#noise[dir]) {
      const { drop = 0, duplicate = 0, corrupt = 0 } = noise.action;
      const out: number[] = [];
      const changes: string[] = [];
      const n = Math.min(data.length, noise.left);
      for (let i = 0; i < n; i++) {
        const r = noise.prng.next();
        const b = data[i];
        if (r < drop) changes.push(`dropped ${hex(b)}`);
        else if (r < drop + duplicate) {
          out.push(b, b);
          changes.push(`duplicated ${hex(b)}`);
        } else if (r < drop + duplicate + corrupt) {
          const c = b ^ (1 + noise.prng.below(255));
          out.push(c);
          changes.push(`corrupted ${hex(b)} to ${hex(c)}`);
        } else out.push(b);
      }
      for (let i = n; i < data.length; i++) out.push(data[i]);
      noise.left -= n;
      if (changes.length > 0) {
        this.#report(
          noise.index,
          "noise",
          `${dir}: ${changes.join(", ")} in ${data.length} bytes`,
        );
      }
      data = new Uint8Array(out);
    }
    this.#noise[dir] = this.#noise[dir].filter((noise) => noise.left > 0);
    return data;
  }
}

function hex(b: number): string {
  return "0x" + b.toString(16).padStart(2, "0");
}
