/**
 * What the terminal tells the user about the commands: the syntax shown by
 * Tab on a whole command name, the local `:` commands for `:help`,
 * completion, and the hint after an `ERROR: <n>`.
 *
 * @module
 */

import {
  COMMAND_NAMES,
  type CommandName,
  errorMeaning,
  type ParsedLine,
} from "@atsock/protocol";
import { practice } from "../practice.ts";
import type { Completion } from "./editor.ts";

/** The command names with what follows them when completed. */
const COMMAND_COMPLETIONS: readonly string[] = COMMAND_NAMES.map((name) =>
  name === "SKTQUERY" || name === "SKTSTATE" ? `AT+${name}` : `AT+${name}=`
);

/** Each command's syntax, for Tab on a complete command name. */
export const SYNTAX: Readonly<Record<CommandName, string>> = {
  SKTCFG:
    "AT+SKTCFG=[<so_sndtimeo>],[<so_rcvtimeo>],[<tcp_nodelay>],[<so_keepalive>],[<tcp_keepidle>],[<tcp_keepintvl>],[<tcp_keepcnt>]",
  SKTQUERY: "AT+SKTQUERY",
  SKTSERVER:
    "AT+SKTSERVER=<link_id>,<conn_type 0 udp|1 tcp|2,3 tls>,[<cert_index>],<src_port>,<auto_rcv 0|1>",
  SKTCLIENT:
    "AT+SKTCLIENT=<link_id>,<conn_type 0 udp|1 tcp|2-5 tls>,[<cert_index>],<dst_host>,<dst_port>,[<src_port>],<auto_rcv 0|1>",
  SKTSEND:
    "AT+SKTSEND=<link_id>,<data_size>,[<dst_ip>],[<dst_port>],<data>   (\\, is a comma, \\\\ a backslash)",
  SKTREAD: "AT+SKTREAD=<link_id>,<data_size>",
  SKTSENDRAW:
    "AT+SKTSENDRAW=<link_id>,<data_size>[,<dst_ip>,<dst_port>]   (Host Control Mode; then >>> and the bytes)",
  SKTSTATE: "AT+SKTSTATE",
  SKTDEL: "AT+SKTDEL=<link_id>",
};

/** Local commands, for `:help` and completion. */
export const LOCAL_COMMANDS: readonly [string, string][] = [
  [":help", "this list"],
  [":quit", "leave (also Ctrl-D on an empty line, or Ctrl-C twice)"],
  [":hex on|off", "show payloads as a hex dump or as escaped text"],
  [":timestamps on|off", "a time in front of every line"],
  [":sendfile PATH", "after >>>: send the file's bytes as the payload"],
  [
    ":sendfile ID PATH",
    "AT+SKTSENDRAW=ID,<the file's size>, then the file (ID,IP,PORT on a UDP server)",
  ],
  [":abort", "after >>>: abort the transfer (<<< then silence)"],
  [":sleep MS", "wait before the next line (for scripts)"],
];

const LOCAL_COMPLETIONS: readonly string[] = [
  ":help",
  ":quit",
  ":hex on",
  ":hex off",
  ":timestamps on",
  ":timestamps off",
  ":sendfile ",
  ":abort",
  ":sleep ",
];

/**
 * Completion of the text before the cursor: local commands after `:`,
 * command names (nothing while a raw payload is being typed), and a whole
 * name's syntax.
 */
export function complete(before: string, raw: boolean): Completion {
  if (before.startsWith(":")) {
    return {
      matches: LOCAL_COMPLETIONS.filter((c) => c.startsWith(before)),
    };
  }
  if (raw) return { matches: [] };
  const upper = before.toUpperCase();
  const matches = COMMAND_COMPLETIONS.filter((c) => c.startsWith(upper));
  if (matches.length > 1 || (matches.length === 1 && matches[0] !== upper)) {
    return { matches };
  }
  // A whole name, with or without fields: show its syntax.
  const named = COMMAND_NAMES.find((n) =>
    upper === `AT+${n}` || upper.startsWith(`AT+${n}=`)
  );
  return { matches: [], help: named && SYNTAX[named] };
}

/** The hint after an `ERROR: <n>`: the reference's meaning for the command in flight, and why when known. */
export function hintFor(
  pending:
    | { command: CommandName | undefined; parsed: ParsedLine }
    | undefined,
  code: number,
): string | undefined {
  if (!pending) return undefined;
  if (pending.command === undefined) {
    // A line longer than the command buffer, whatever it named.
    const error = pending.parsed.kind === "error"
      ? pending.parsed.error
      : undefined;
    return error && error.code === code
      ? `${error.meaning} (${error.detail})`
      : undefined;
  }
  const name = `AT+${pending.command}`;
  const meaning = errorMeaning(pending.command, code);
  if (meaning === undefined) {
    return `${name} has no code ${code} in the reference`;
  }
  const local = pending.parsed.kind === "error" &&
      pending.parsed.error.code === code
    ? pending.parsed.error.detail
    : undefined;
  const why = local ?? practice(pending.command, code)?.term;
  return `${name}: ${meaning}${why ? ` (${why})` : ""}`;
}
