/**
 * A one-shot subcommand (`state`, `connect`, `listen`, `send`, `read`,
 * `del`) as a declaration: its own options on top of the common ones
 * (target, `--baud`, `--timeout`, `--json`), a function that checks them
 * into a request, and the action that carries the request out on the
 * module. The subcommand shell does `--help` and the parsing.
 *
 * @module
 */

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

/** The declaration of a one-shot subcommand. */
export interface LinkCommandDeclaration<O extends OptionTable, R> {
  /** The word that selects it. */
  readonly name: string;
  /** One line for the top-level help. */
  readonly summary: string;
  /** The full `--help` text. */
  readonly help: string;
  /** Its own options (the common ones are added). */
  readonly options: O;
  /** How long to wait for each answer unless `--timeout` says, in ms. */
  readonly timeoutMs: number;
  /** Checks its own options; throws `UsageError`. */
  request(values: OptionValues<O>, common: CommonOptions): R;
  /** Carries the request out; resolves the exit status. */
  action(common: CommonOptions, request: R): Promise<number>;
}

/** Makes a one-shot declaration a subcommand. */
export function defineLinkCommand<O extends OptionTable, R>(
  declaration: LinkCommandDeclaration<O, R>,
): DeclaredSubcommand<LinkCall<R>> {
  return defineSubcommand({
    name: declaration.name,
    summary: declaration.summary,
    help: declaration.help,
    options: { ...declaration.options, ...COMMON_SPECS },
    parse({ values, positionals }) {
      const common = commonOptions(values, positionals, declaration);
      return {
        common,
        request: declaration.request(values as OptionValues<O>, common),
      };
    },
    action: ({ common, request }) => declaration.action(common, request),
  });
}
