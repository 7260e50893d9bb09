/**
 * Fault plans: what may go wrong on a virtual module, when, and with which
 * seed. A plan is plain data (JSON, see `docs/fault-injection.md`); this
 * file holds its types and its validation, with errors that name the field.
 *
 * @module
 */

import { COMMAND_NAMES, type CommandName } from "@atsock/protocol";

/** What makes a fault fire. */
export interface FaultTrigger {
  /**
   * `command`: when a command line is taken (before it acts); `data`: when
   * a TCP/TLS link receives data from its peer; `time`: `atMs` after the
   * module starts.
   */
  on: "command" | "data" | "time";
  /** `command`: only this command (e.g. `SKTSEND`); any command if absent. */
  command?: CommandName;
  /** `data`: only this link id; any link if absent. */
  link?: number;
  /** `time`: ms after the module starts (0: at once, before any byte). */
  atMs?: number;
  /** `command`/`data`: the first matching event that may fire it, 1-based (default 1). */
  nth?: number;
  /** Chance (0..1) that a matching event from `nth` on fires it (default 1). */
  probability?: number;
  /** How many times it may fire (default 1; 0: no limit). */
  times?: number;
}

/** What a fault does when it fires. */
export type FaultAction =
  | {
    /** `command`: delay the answer; `data`: delay the DATA line (or the data, for `AT+SKTREAD`). */
    type: "delay";
    /** How long, in ms. */
    ms: number;
  }
  | {
    /** Write the next console output in chunks of these sizes, with gaps. */
    type: "chunk";
    /** Chunk sizes in bytes, used in turn (the last one repeats). */
    sizes: number[];
    /** Pause after each chunk, in ms (default 0: separate writes, no pause). */
    gapMs?: number;
    /** How many output bytes are chunked (default 4096). */
    bytes?: number;
  }
  | {
    /**
     * Print unsolicited lines (CR LF added to each): on a command, between
     * the command line and its answer; otherwise at the next line boundary.
     */
    type: "inject";
    /** The lines, as text (characters 0..255 are bytes). */
    lines: string[];
  }
  | {
    /** Answer the command with `ERROR: <code>` instead of acting (commands only). */
    type: "error";
    /** The error code. */
    code: number;
  }
  | {
    /**
     * Reset the module (links gone, options back to defaults, `ATCMD READY`
     * in Host Control Mode): on a command before it answers; with
     * `afterBytes` on `AT+SKTSENDRAW`, after that many payload bytes.
     */
    type: "reset";
    /** `AT+SKTSENDRAW`: payload bytes taken before the reset. */
    afterBytes?: number;
  }
  | {
    /** Drop, duplicate or corrupt console bytes, as a noisy UART. */
    type: "noise";
    /** `h2m`: bytes from the host; `m2h`: bytes to the host. */
    dir: "h2m" | "m2h";
    /** Chance that a byte is dropped. */
    drop?: number;
    /** Chance that a byte is sent twice. */
    duplicate?: number;
    /** Chance that a byte is replaced by another value. */
    corrupt?: number;
    /** How many bytes in that direction it touches (default: no limit). */
    bytes?: number;
  }
  | {
    /** Act on a link's peer side. */
    type: "peer";
    /** The link id (on a `data` trigger, default: the link that received). */
    link?: number;
    /**
     * `close`: as if the peer closed (data received stays readable);
     * `reset`: as if the peer reset (data not yet read is lost); `stall`:
     * stop reading the socket so the peer's TCP window fills.
     */
    do: "close" | "reset" | "stall";
    /** `stall`: for how long, in ms (default: until the link closes). */
    ms?: number;
  };

/** One fault: a trigger and an action. */
export type Fault = FaultTrigger & {
  /** What it does. */
  action: FaultAction;
};

/** A fault plan: a seed and faults. */
export interface FaultPlan {
  /** Seed of every random choice (probabilities, noise). */
  seed: number;
  /** The faults, by index. */
  faults: Fault[];
}

/** A fault plan that cannot be used: names the field and why. */
export class FaultPlanError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "FaultPlanError";
  }
}

/** Parses a JSON fault plan; throws {@linkcode FaultPlanError}. */
export function parseFaultPlan(text: string): FaultPlan {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new FaultPlanError(
      `not JSON: ${e instanceof Error ? e.message : e}`,
    );
  }
  return checkFaultPlan(value);
}

/** Checks a plan given as data; throws {@linkcode FaultPlanError}. */
export function checkFaultPlan(value: unknown): FaultPlan {
  const plan = object(value, "the plan");
  known(plan, ["seed", "faults"], "the plan");
  const seed = plan.seed ?? 1;
  whole(seed, "seed", 0, 0xffffffff);
  if (!Array.isArray(plan.faults)) {
    throw new FaultPlanError("faults: must be a list");
  }
  return {
    seed: seed as number,
    faults: plan.faults.map((f, i) => checkFault(f, `faults[${i}]`)),
  };
}

const TRIGGER_KEYS = [
  "on",
  "command",
  "link",
  "atMs",
  "nth",
  "probability",
  "times",
  "action",
];

const ACTION_KEYS: Record<FaultAction["type"], string[]> = {
  delay: ["ms"],
  chunk: ["sizes", "gapMs", "bytes"],
  inject: ["lines"],
  error: ["code"],
  reset: ["afterBytes"],
  noise: ["dir", "drop", "duplicate", "corrupt", "bytes"],
  peer: ["link", "do", "ms"],
};

/** Which actions each trigger allows. */
const ALLOWED: Record<FaultTrigger["on"], FaultAction["type"][]> = {
  command: ["delay", "chunk", "inject", "error", "reset", "noise", "peer"],
  data: ["delay", "chunk", "inject", "reset", "noise", "peer"],
  time: ["chunk", "inject", "reset", "noise", "peer"],
};

/** Checks one fault; `where` names it in errors. */
export function checkFault(value: unknown, where = "fault"): Fault {
  const f = object(value, where);
  known(f, TRIGGER_KEYS, where);
  const on = f.on;
  if (on !== "command" && on !== "data" && on !== "time") {
    throw new FaultPlanError(`${where}.on: must be command, data or time`);
  }
  const fault = { on } as Fault;
  if (f.command !== undefined) {
    if (on !== "command") only(where, "command", "command");
    if (!COMMAND_NAMES.includes(f.command as CommandName)) {
      throw new FaultPlanError(
        `${where}.command: must be one of ${COMMAND_NAMES.join(", ")}`,
      );
    }
    fault.command = f.command as CommandName;
  }
  if (f.link !== undefined) {
    if (on !== "data") only(where, "link", "data");
    fault.link = whole(f.link, `${where}.link`, 0, 19);
  }
  if (on === "time") {
    fault.atMs = whole(f.atMs, `${where}.atMs`, 0, 86400000);
  } else if (f.atMs !== undefined) only(where, "atMs", "time");
  if (f.nth !== undefined) {
    if (on === "time") only(where, "nth", "command or data");
    fault.nth = whole(f.nth, `${where}.nth`, 1, 1e9);
  }
  if (f.probability !== undefined) {
    if (on === "time") only(where, "probability", "command or data");
    fault.probability = rate(f.probability, `${where}.probability`);
  }
  if (f.times !== undefined) {
    fault.times = whole(f.times, `${where}.times`, 0, 1e9);
  }
  fault.action = checkAction(f.action, `${where}.action`, on);
  return fault;
}

function checkAction(
  value: unknown,
  where: string,
  on: FaultTrigger["on"],
): FaultAction {
  const a = object(value, where);
  const type = a.type as FaultAction["type"];
  if (!(type in ACTION_KEYS)) {
    throw new FaultPlanError(
      `${where}.type: must be one of ${Object.keys(ACTION_KEYS).join(", ")}`,
    );
  }
  if (!ALLOWED[on].includes(type)) {
    throw new FaultPlanError(
      `${where}.type: ${type} cannot fire on ${on} (allowed: ${
        ALLOWED[on].join(", ")
      })`,
    );
  }
  known(a, ["type", ...ACTION_KEYS[type]], where);
  switch (type) {
    case "delay":
      return { type, ms: whole(a.ms, `${where}.ms`, 0, 600000) };
    case "chunk": {
      if (!Array.isArray(a.sizes) || a.sizes.length === 0) {
        throw new FaultPlanError(
          `${where}.sizes: must be a list of chunk sizes`,
        );
      }
      const sizes = a.sizes.map((s, i) =>
        whole(s, `${where}.sizes[${i}]`, 1, 65536)
      );
      const action: FaultAction = { type, sizes };
      if (a.gapMs !== undefined) {
        action.gapMs = whole(a.gapMs, `${where}.gapMs`, 0, 60000);
      }
      if (a.bytes !== undefined) {
        action.bytes = whole(a.bytes, `${where}.bytes`, 1, 1e9);
      }
      return action;
    }
    case "inject": {
      if (!Array.isArray(a.lines) || a.lines.length === 0) {
        throw new FaultPlanError(`${where}.lines: must be a list of lines`);
      }
      const lines = a.lines.map((line, i) => {
        if (typeof line !== "string" || !isLatin1(line)) {
          throw new FaultPlanError(
            `${where}.lines[${i}]: must be text of characters 0..255`,
          );
        }
        return line;
      });
      return { type, lines };
    }
    case "error":
      return { type, code: whole(a.code, `${where}.code`, 0, 99) };
    case "reset": {
      if (a.afterBytes === undefined) return { type };
      if (on !== "command") {
        throw new FaultPlanError(
          `${where}.afterBytes: only on a command trigger (AT+SKTSENDRAW)`,
        );
      }
      return {
        type,
        afterBytes: whole(a.afterBytes, `${where}.afterBytes`, 0, 1e9),
      };
    }
    case "noise": {
      if (a.dir !== "h2m" && a.dir !== "m2h") {
        throw new FaultPlanError(`${where}.dir: must be h2m or m2h`);
      }
      const action: FaultAction = { type, dir: a.dir };
      for (const key of ["drop", "duplicate", "corrupt"] as const) {
        if (a[key] !== undefined) action[key] = rate(a[key], `${where}.${key}`);
      }
      if (!action.drop && !action.duplicate && !action.corrupt) {
        throw new FaultPlanError(
          `${where}: give a drop, duplicate or corrupt rate above 0`,
        );
      }
      if (a.bytes !== undefined) {
        action.bytes = whole(a.bytes, `${where}.bytes`, 1, 1e12);
      }
      return action;
    }
    case "peer": {
      const what = a.do;
      if (what !== "close" && what !== "reset" && what !== "stall") {
        throw new FaultPlanError(`${where}.do: must be close, reset or stall`);
      }
      const action: FaultAction = { type, do: what };
      if (a.link !== undefined) {
        action.link = whole(a.link, `${where}.link`, 0, 19);
      } else if (on !== "data") {
        throw new FaultPlanError(`${where}.link: which link (0..19)?`);
      }
      if (a.ms !== undefined) {
        if (what !== "stall") {
          throw new FaultPlanError(`${where}.ms: only for do: stall`);
        }
        action.ms = whole(a.ms, `${where}.ms`, 1, 86400000);
      }
      return action;
    }
  }
}

function object(value: unknown, where: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new FaultPlanError(`${where}: must be an object`);
  }
  return value as Record<string, unknown>;
}

function known(
  value: Record<string, unknown>,
  keys: string[],
  where: string,
): void {
  for (const key of Object.keys(value)) {
    if (!keys.includes(key)) {
      throw new FaultPlanError(
        `${where}.${key}: unknown field (known: ${keys.join(", ")})`,
      );
    }
  }
}

function only(where: string, key: string, on: string): never {
  throw new FaultPlanError(`${where}.${key}: only for on: ${on}`);
}

function whole(value: unknown, where: string, min: number, max: number) {
  if (
    typeof value !== "number" || !Number.isInteger(value) || value < min ||
    value > max
  ) {
    throw new FaultPlanError(
      `${where}: must be a whole number from ${min} to ${max}`,
    );
  }
  return value;
}

function rate(value: unknown, where: string): number {
  if (typeof value !== "number" || !(value >= 0 && value <= 1)) {
    throw new FaultPlanError(`${where}: must be a number from 0 to 1`);
  }
  return value;
}

function isLatin1(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) > 0xff) return false;
  }
  return true;
}
