/**
 * The subcommand shell: every `atsock` subcommand is a declaration (its
 * name, one-line summary, `--help` text, `node:util` option table, a
 * function that checks the parsed words and one that does the work), and
 * {@linkcode defineSubcommand} gives them all the same `-h`/`--help`, the
 * same strict option parsing and the same usage errors. `main` lists and
 * routes the subcommands and turns what escapes them into one line and an
 * exit status.
 *
 * @module
 */

import type { ParseArgsConfig } from "node:util";
import { parseOptions } from "./usage.ts";

/** A `node:util` `parseArgs` option table (without `help`: the shell adds it). */
export type OptionTable = NonNullable<ParseArgsConfig["options"]>;

/** The value `parseArgs` gives for one option spec. */
export type OptionValue<S> = S extends { type: "boolean"; multiple: true }
  ? boolean[]
  : S extends { type: "boolean" } ? boolean
  : S extends { multiple: true } ? string[]
  : string;

/** The parsed values of an option table, by option name. */
export type OptionValues<O extends OptionTable> = {
  [K in keyof O]?: OptionValue<O[K]>;
};

/** The words of a command line after parsing: option values and the rest. */
export interface ParsedWords<O extends OptionTable> {
  /** Option values by name. */
  values: OptionValues<O>;
  /** The words that are not options, in order. */
  positionals: string[];
}

/** One `atsock` subcommand as `main` routes it. */
export interface Subcommand {
  /** The word that selects it: `atsock <name> ...`. */
  readonly name: string;
  /** One line for the top-level help. */
  readonly summary: string;
  /** The full `--help` text, with examples. */
  readonly help: string;
  /**
   * Runs it with the arguments after its name; resolves the exit status
   * (0 success, 1 failure, 2 bad usage). Throws `UsageError` for bad
   * arguments and lets permission errors through: `main` turns both into
   * one line.
   */
  run(args: string[]): Promise<number>;
}

/** The declaration of a subcommand whose parsed options are `T`. */
export interface SubcommandDeclaration<O extends OptionTable, T> {
  /** The word that selects it. */
  readonly name: string;
  /** One line for the top-level help. */
  readonly summary: string;
  /** The full `--help` text. */
  readonly help: string;
  /** Its options; `-h`/`--help` is added by the shell. */
  readonly options: O;
  /** Whether it takes words that are not options (default true). */
  readonly positionals?: boolean;
  /** Checks the parsed words; throws `UsageError` for a bad one. */
  parse(words: ParsedWords<O>): T;
  /** Does the work; resolves the exit status. */
  action(options: T): Promise<number>;
}

/** A declared subcommand: routable by `main`, and its parser for tests and tools. */
export interface DeclaredSubcommand<T> extends Subcommand {
  /**
   * Parses a command line as `run` does: `"help"` for `-h`/`--help`,
   * the checked options otherwise; throws `UsageError`.
   */
  parse(args: string[]): T | "help";
}

const HELP_OPTION = { help: { type: "boolean", short: "h" } } as const;

/**
 * Parses `args` against `options` (plus `-h`/`--help`) strictly: an unknown
 * option or a missing value is a `UsageError`. `"help"` when help was asked.
 */
export function parseWords<O extends OptionTable>(
  args: string[],
  options: O,
  positionals = true,
): ParsedWords<O> | "help" {
  const parsed = parseOptions({
    args,
    options: { ...options, ...HELP_OPTION },
    strict: true,
    allowPositionals: positionals,
  });
  const values = parsed.values as OptionValues<O> & { help?: boolean };
  if (values.help) return "help";
  return { values, positionals: parsed.positionals };
}

/** Makes a declaration a subcommand: `--help`, option parsing and checks, then `action`. */
export function defineSubcommand<O extends OptionTable, T>(
  declaration: SubcommandDeclaration<O, T>,
): DeclaredSubcommand<T> {
  const parse = (args: string[]): T | "help" => {
    const words = parseWords(
      args,
      declaration.options,
      declaration.positionals ?? true,
    );
    return words === "help" ? "help" : declaration.parse(words);
  };
  return {
    name: declaration.name,
    summary: declaration.summary,
    help: declaration.help,
    parse,
    async run(args) {
      const options = parse(args);
      if (options === "help") {
        console.log(declaration.help);
        return 0;
      }
      return await declaration.action(options);
    },
  };
}
