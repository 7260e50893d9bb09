/**
 * A one-shot subcommand (`state`, `connect`, `listen`, `send`, `read`,
 * `del`) as a declaration: its own options on top of the common ones
 * (target, `--baud`, `--timeout`, `--json`), a function that checks them
 * into a request, and the action that carries the request out on the
 * module. The subcommand shell does `--help` and the parsing.
 *
 * @module
 */

import { type CommandName, field } from "@atsock/protocol";
import {
  type DeclaredSubcommand,
  defineSubcommand,
  type OptionTable,
  type OptionValues,
} from "../command.ts";
import { COMMON_SPECS, type CommonOptions, commonOptions } from "./options.ts";

/** A parsed one-shot command line: the common options and the command's request. */
export interface LinkCall<R> {
  /** Target, speed, output form and answer timeout. */
  common: CommonOptions;
  /** What the command's own options ask for. */
  request: R;
}

/**
 * The options that set fields of a command, by option name: each names the
 * catalogue field it sets (`{ link: "link_id" }`), and its `node:util`
 * type comes from the field's kind (a flag is a boolean option).
 */
export interface FieldOptions {
  /** The command whose fields the options set. */
  readonly command: CommandName;
  /** Option name to the field's wire name. */
  readonly options: Readonly<Record<string, string>>;
  /**
   * Fields no option sets, and why (the CLI computes them), e.g.
   * `AT+SKTSEND`'s `data_size`, the length of the data.
   */
  readonly computed?: Readonly<Record<string, string>>;
}

/** The option table of the options that set a command's fields. */
export function fieldOptionTable(
  fields: FieldOptions,
): Record<string, { type: "string" } | { type: "boolean"; default: false }> {
  return Object.fromEntries(
    Object.entries(fields.options).map(([option, wire]) => [
      option,
      field(fields.command, wire).kind === "flag"
        ? { type: "boolean", default: false }
        : { type: "string" },
    ]),
  );
}

/** The declaration of a one-shot subcommand. */
export interface LinkCommandDeclaration<O extends OptionTable, R> {
  /** The word that selects it. */
  readonly name: string;
  /** One line for the top-level help. */
  readonly summary: string;
  /** The full `--help` text. */
  readonly help: string;
  /** The options that set fields of its command. */
  readonly fields: FieldOptions;
  /** Its other options (the common ones are added). */
  readonly options: O;
  /** How long to wait for each answer unless `--timeout` says, in ms. */
  readonly timeoutMs: number;
  /** Checks its own options (field options as strings, flags as booleans); throws `UsageError`. */
  request(
    values: OptionValues<O> & Record<string, string | boolean | undefined>,
    common: CommonOptions,
  ): R;
  /** Carries the request out; resolves the exit status. */
  action(common: CommonOptions, request: R): Promise<number>;
}

/** A one-shot subcommand, with the catalogue fields its options set. */
export interface LinkSubcommand<R> extends DeclaredSubcommand<LinkCall<R>> {
  /** The options that set fields of its command. */
  readonly fields: FieldOptions;
}

/** Makes a one-shot declaration a subcommand. */
export function defineLinkCommand<O extends OptionTable, R>(
  declaration: LinkCommandDeclaration<O, R>,
): LinkSubcommand<R> {
  const subcommand = defineSubcommand({
    name: declaration.name,
    summary: declaration.summary,
    help: declaration.help,
    options: {
      ...fieldOptionTable(declaration.fields),
      ...declaration.options,
      ...COMMON_SPECS,
    },
    parse({ values, positionals }) {
      const common = commonOptions(values, positionals, declaration);
      return {
        common,
        request: declaration.request(
          values as OptionValues<O> & Record<string, string | boolean>,
          common,
        ),
      };
    },
    action: ({ common, request }) => declaration.action(common, request),
  });
  return { ...subcommand, fields: declaration.fields };
}
