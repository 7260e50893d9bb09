/**
 * Command-line flags of the tools (`fuzz`, `load`, `soak`, `conformance`,
 * `measure_*`, `compile`, `make_pki`), read one way: a table of options, from
 * which `node:util`'s `parseArgs` reads the flags and {@linkcode helpText}
 * writes the `--help` text. An unknown flag, a missing value, a number out of
 * its bounds or a bad duration is an {@linkcode ArgsError} naming the flag.
 *
 * Kinds: `string`, `boolean`, `integer` (whole number within `min`..`max`),
 * `duration` (a number in the option's `unit`, or with its own unit: `500ms`,
 * `30s`, `5m`, `1h`; read as milliseconds, bounds in milliseconds) and
 * `choice` (one of `choices`, or with `list` a comma-separated list of them).
 *
 * @module
 */

import { parseArgs } from "node:util";

/** A bad command line: an unknown flag, a missing or bad value. */
export class ArgsError extends Error {
  /** Creates an error with a one-line message. */
  constructor(message: string) {
    super(message);
    this.name = "ArgsError";
  }
}

/** One flag of a tool. */
export type ToolOption =
  & {
    /** The help line. */
    help: string;
    /** A one-letter alias (`-h`). */
    short?: string;
    /** The value's name in the help (`N`, `DIR`, `SECONDS`). */
    value?: string;
    /** The default in the help, for one not given here (`the time`). */
    defaultHelp?: string;
  }
  & (
    | { kind: "boolean" }
    | { kind: "string"; default?: string; multiple?: boolean }
    | { kind: "integer"; default?: number; min: number; max: number }
    | {
      kind: "duration";
      /** Milliseconds. */
      default?: number;
      /** The unit of a bare number. */
      unit: "ms" | "s";
      /** Bounds, in milliseconds. */
      min: number;
      max: number;
    }
    | {
      kind: "choice";
      choices: readonly string[];
      default?: string | readonly string[];
      /** A comma-separated list of choices (read as an array). */
      list?: boolean;
    }
  );

/** A tool's command line: its name, what it does, its flags and positionals. */
export interface ToolSpec<O extends Record<string, ToolOption>> {
  /** The name printed before a message (`load`). */
  name: string;
  /** What the tool does, one line. */
  summary: string;
  /** The usage lines (without "Usage:"). */
  usage: string;
  /** The flags, by long name (without `--`). `help` is added. */
  options: O;
  /**
   * Positional arguments taken: at least `min`, at most `max` (default
   * none), each one of `choices` when given.
   */
  positionals?: { min: number; max: number; choices?: readonly string[] };
  /** Text after the options (exit status, notes). */
  epilogue?: string;
}

/** The value a flag of option `T` is read as. */
export type Value<T extends ToolOption> = T extends { kind: "boolean" }
  ? boolean
  : T extends { kind: "string"; multiple: true } ? string[]
  : T extends { kind: "string" } ? string
  : T extends { kind: "choice"; list: true } ? T["choices"][number][]
  : T extends { kind: "choice" } ? T["choices"][number]
  : number;

/** Whether a flag of option `T` always has a value (a default, a list, a boolean). */
export type Defaulted<T extends ToolOption> = T extends { kind: "boolean" }
  ? true
  : T extends { multiple: true } ? true
  : T extends { default: unknown } ? true
  : false;

/** The values read: defaulted flags always present, others maybe undefined. */
export type ToolValues<O extends Record<string, ToolOption>> =
  & { [K in keyof O as Defaulted<O[K]> extends true ? K : never]: Value<O[K]> }
  & {
    [K in keyof O as Defaulted<O[K]> extends true ? never : K]?: Value<O[K]>;
  };

/** What {@linkcode parseToolArgs} read. */
export interface ToolArgs<O extends Record<string, ToolOption>> {
  /** The flags' values, checked and converted. */
  values: ToolValues<O>;
  /** The positional arguments. */
  positionals: string[];
}

const UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** Reads a duration (`1800` in `unit`, or `500ms`, `30s`, `5m`, `1h`) as milliseconds. */
export function parseDuration(text: string, unit: "ms" | "s"): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw new ArgsError(`"${text}" is not a duration`);
  return Math.round(Number(m[1]) * UNITS[m[2] ?? unit]);
}

/** A duration in the help: `1800 s`, `5000 ms`. */
function showDuration(ms: number, unit: "ms" | "s"): string {
  return unit === "s" ? `${ms / 1000} s` : `${ms} ms`;
}

function convert(name: string, option: ToolOption, text: string): unknown {
  const flag = `--${name}`;
  switch (option.kind) {
    case "integer": {
      const n = Number(text);
      if (
        !/^-?\d+$/.test(text.trim()) || !Number.isSafeInteger(n) ||
        n < option.min || n > option.max
      ) {
        throw new ArgsError(
          `${flag} takes a whole number ${option.min}..${option.max}, not "${text}"`,
        );
      }
      return n;
    }
    case "duration": {
      let ms: number;
      try {
        ms = parseDuration(text, option.unit);
      } catch {
        ms = NaN;
      }
      if (!(ms >= option.min && ms <= option.max)) {
        throw new ArgsError(
          `${flag} takes a duration ${showDuration(option.min, option.unit)}..${
            showDuration(option.max, option.unit)
          } (a number in ${option.unit}, or with ms, s, m or h), not "${text}"`,
        );
      }
      return ms;
    }
    case "choice": {
      const picked = option.list ? text.split(",") : [text];
      const bad = picked.filter((p) => !option.choices.includes(p));
      if (bad.length || picked.length === 0) {
        throw new ArgsError(
          `${flag} takes ${option.list ? "a list of " : ""}${
            option.choices.join(", ")
          }, not "${text}"`,
        );
      }
      return option.list ? picked : text;
    }
    default:
      return text;
  }
}

/**
 * Reads `args` by the spec. Returns `"help"` for `-h`/`--help`; throws
 * {@linkcode ArgsError} on an unknown flag, a missing or bad value, or the
 * wrong number of positionals.
 */
export function parseToolArgs<O extends Record<string, ToolOption>>(
  spec: ToolSpec<O>,
  args: string[],
): ToolArgs<O> | "help" {
  const options: Record<
    string,
    { type: "string" | "boolean"; short?: string; multiple?: boolean }
  > = { help: { type: "boolean", short: "h" } };
  for (const [name, o] of Object.entries(spec.options)) {
    options[name] = {
      type: o.kind === "boolean" ? "boolean" : "string",
      ...(o.short ? { short: o.short } : {}),
      ...(o.kind === "string" && o.multiple ? { multiple: true } : {}),
    };
  }
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options,
      strict: true,
      allowPositionals: true,
    });
  } catch (e) {
    const error = e as Error & { code?: string };
    const flag = /'(-[^' ]+)/.exec(error.message)?.[1] ?? "";
    throw new ArgsError(
      error.code === "ERR_PARSE_ARGS_UNKNOWN_OPTION"
        ? `unknown option ${flag}; the options are ${
          Object.keys(options).map((o) => `--${o}`).join(", ")
        }`
        : error.code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE"
        ? `${flag} ${
          options[flag.replace(/^-+/, "")]?.type === "boolean"
            ? "takes no value"
            : "needs a value"
        }${
          /ambiguous/.test(error.message)
            ? ` (a value that starts with "-" is written ${flag}=VALUE)`
            : ""
        }`
        : error.message,
    );
  }
  const raw = parsed.values as Record<string, string | boolean | string[]>;
  if (raw.help) return "help";
  const { min = 0, max = 0 } = spec.positionals ?? {};
  const count = parsed.positionals.length;
  if (count < min || count > max) {
    throw new ArgsError(
      max === 0
        ? `unexpected argument "${parsed.positionals[0]}"`
        : count < min
        ? `expected ${min === max ? min : `at least ${min}`} argument${
          min === 1 ? "" : "s"
        }`
        : `unexpected argument "${parsed.positionals[max]}"`,
    );
  }
  const choices = spec.positionals?.choices;
  const unknown = parsed.positionals.find((p) =>
    choices && !choices.includes(p)
  );
  if (choices && unknown !== undefined) {
    throw new ArgsError(
      `unknown argument "${unknown}"; one of ${choices.join(", ")}`,
    );
  }
  const values: Record<string, unknown> = {};
  for (const [name, o] of Object.entries(spec.options)) {
    const given = raw[name];
    if (o.kind === "boolean") values[name] = given === true;
    else if (o.kind === "string" && o.multiple) {
      values[name] = (given as string[] | undefined) ?? [];
    } else if (given !== undefined) {
      values[name] = convert(name, o, given as string);
    } else if (o.default !== undefined) {
      values[name] = Array.isArray(o.default) ? [...o.default] : o.default;
    }
  }
  return { values: values as ToolValues<O>, positionals: parsed.positionals };
}

/** `text` in lines of at most `width` characters (a longer word stands alone). */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line && line.length + 1 + word.length > Math.max(width, 20)) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  return [...lines, line];
}

/** The `--help` text: summary, usage, one line per option with its default. */
export function helpText<O extends Record<string, ToolOption>>(
  spec: ToolSpec<O>,
): string {
  const rows: [string, string][] = [];
  for (const [name, o] of Object.entries(spec.options)) {
    const short = o.short ? `-${o.short}, ` : "";
    const value = o.kind === "boolean"
      ? ""
      : ` ${
        o.value ?? (o.kind === "integer"
          ? "N"
          : o.kind === "duration"
          ? (o.unit === "s" ? "SECONDS" : "MS")
          : "VALUE")
      }`;
    let help = o.help;
    if (o.kind === "integer") help += ` (${o.min}..${o.max}`;
    else if (o.kind === "duration") {
      help += ` (${showDuration(o.min, o.unit)}..${
        showDuration(o.max, o.unit)
      }`;
    } else if (o.kind === "choice") help += ` (${o.choices.join(", ")}`;
    else help += " (";
    const fallback = o.kind === "boolean" || o.kind === "string" && o.multiple
      ? o.defaultHelp
      : o.default ?? o.defaultHelp;
    if (fallback !== undefined) {
      const shown = o.kind === "duration" && typeof fallback === "number"
        ? showDuration(fallback as number, o.unit)
        : Array.isArray(fallback)
        ? fallback.join(",")
        : String(fallback);
      help += `${help.endsWith("(") ? "" : "; "}default ${shown}`;
    }
    help = help.endsWith(" (") ? help.slice(0, -2) : `${help})`;
    rows.push([`${short}--${name}${value}`, help]);
  }
  rows.push(["-h, --help", "this help"]);
  const width = Math.max(...rows.map(([flag]) => flag.length)) + 2;
  const lines = [
    `${spec.name}: ${spec.summary}`,
    "",
    "Usage:",
    ...spec.usage.split("\n").map((l) => l ? `  ${l}` : l),
    "",
    "Options:",
    ...rows.flatMap(([flag, help]) =>
      wrap(help, 78 - 2 - width).map((line, i) =>
        `  ${(i === 0 ? flag : "").padEnd(width)}${line}`
      )
    ),
  ];
  if (spec.epilogue) lines.push("", spec.epilogue);
  return lines.join("\n") + "\n";
}

/** Prints `NAME: message (see --help)` and exits 2: a bad command line. */
export function usageExit(name: string, message: string): never {
  console.error(`${name}: ${message} (see --help)`);
  Deno.exit(2);
}

/**
 * Reads a tool's command line in its `import.meta.main`: prints the help and
 * exits 0 on `--help`; prints `NAME: message (see --help)` and exits 2 on an
 * {@linkcode ArgsError}.
 */
export function toolArgs<O extends Record<string, ToolOption>>(
  spec: ToolSpec<O>,
  args: string[] = Deno.args,
): ToolArgs<O> {
  let parsed;
  try {
    parsed = parseToolArgs(spec, args);
  } catch (e) {
    if (!(e instanceof ArgsError)) throw e;
    usageExit(spec.name, e.message);
  }
  if (parsed === "help") {
    console.log(helpText(spec));
    Deno.exit(0);
  }
  return parsed;
}
