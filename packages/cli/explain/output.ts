/**
 * Explains one line a module prints: final results, the `AT+SKTQUERY` and
 * `AT+SKTSTATE` lines, `+SKTREAD` answers, connect events, DATA lines, the
 * `>>>` prompt, `ATCMD READY` and the TT watermarks.
 *
 * @module
 */

import {
  COMMAND_NAMES,
  type CommandName,
  COMMANDS,
  decodeLatin1,
  ERR,
  ERROR_MEANINGS,
  type FieldSpec,
  PARAMETER_ERROR,
  rangeProblem,
  rangeText,
  TT_BUFFER_SIZE,
} from "@atsock/protocol";
import { practice } from "../practice.ts";
import { showBytes } from "./escapes.ts";
import type {
  ExplainedError,
  ExplainedField,
  Explanation,
} from "./explanation.ts";
import { dataLine, readLine } from "./output_data.ts";
import { result } from "./output_fields.ts";
import { connectLine, stateLine } from "./output_links.ts";

/** Options for {@linkcode explainOutput}. */
export interface OutputExplainOptions {
  /** The command an `ERROR: <n>` answers, when known. */
  command?: CommandName;
}

/** What a line too long for the line buffer does. */
const OVERLONG_NOTE =
  `a line longer than 1998 bytes is not rejected as a whole: its first 1999 bytes run as a command at once (shell_cmd_chk), so a long AT+SKTSEND is usually ERROR: ${ERR.SKTSEND.PARAMETER} for its data size`;

/** The `AT+SKTQUERY` lines: one per `AT+SKTCFG` field, by the same name. */
const QUERY_FIELDS: ReadonlyMap<string, FieldSpec> = new Map(
  COMMANDS.SKTCFG.fields.map((f) => [f.name, f]),
);

/** The log service's lines of Manual Test Mode (`atcmd_service`, `shell_task_ram`, `shell_cmd_chk`). */
function shellLine(shown: string, text: string): Explanation | undefined {
  const mem = /^\[MEM\] After do cmd, available heap (\d+)$/.exec(text);
  if (mem) {
    return result(
      shown,
      "shell",
      "Manual Test Mode: the shell's line after every command the module knew, whatever it answered (atcmd_service); it is printed as \\n\\r[MEM] ...\\n\\r, then the # prompt; never part of an answer",
      [{
        name: "available heap",
        value: Number(mem[1]),
        meaning:
          "free heap in bytes after the command (the virtual module always prints 290560)",
      }],
      {
        notes: ["Host Control Mode prints it on the log UART, not the AT UART"],
      },
    );
  }
  if (text === "#") {
    return result(
      shown,
      "shell",
      "Manual Test Mode: the shell's prompt, printed as \\r\\n\\n#\\r\\n after every line it ran (and as \\r# alone after an empty line)",
    );
  }
  const unknown = /^unknown command '(.*)'$/s.exec(text);
  if (unknown) {
    return result(
      shown,
      "shell",
      "Manual Test Mode: the shell knew no command for the line (shell_task_ram): it shows the line up to its first space; no [MEM] line follows, only the # prompt. Host Control Mode gives nothing for such a line",
      [{
        name: "word",
        value: unknown[1],
        meaning: "the line up to its first space",
      }],
    );
  }
  if (text.trim() === "<<<Too long cmd string.>>>") {
    return result(
      shown,
      "shell",
      "Manual Test Mode: the line buffer (UART_LOG_CMD_BUFLEN, 2000) filled up (shell_cmd_chk): the shell prints this, then the line it runs at once (its first 1999 bytes); the byte that did not fit is lost",
    );
  }
  return undefined;
}

/**
 * Explains an output line. DATA and `+SKTREAD` lines are given with their
 * payload (which may hold CR and LF) and may end with their CR LF (and, for
 * `+SKTREAD`, the CR LF OK CR LF that follows); other lines without the line end.
 */
export function explainOutput(
  line: Uint8Array,
  options: OutputExplainOptions = {},
): Explanation {
  const shown = showBytes(line, 200);
  const text = decodeLatin1(line);
  if (text === "OK") {
    return result(shown, "ok", "OK: the command in flight succeeded", [], {
      command: options.command ?? null,
      notes: ["the module prints it as \\r\\nOK\\r\\n: a blank line, then OK"],
    });
  }
  const error = /^ERROR: (\d+)$/.exec(text);
  if (error) return errorLine(shown, Number(error[1]), options.command);
  if (text === ">>>") {
    return result(
      shown,
      "prompt",
      `the AT+SKTSENDRAW prompt: the module now takes exactly <data_size> raw bytes from the UART, then answers OK (abort: <<< and 30 ms of silence, then ERROR: ${ERR.SKTSENDRAW.TT_DATA})`,
      [],
      { command: "SKTSENDRAW" },
    );
  }
  const shell = shellLine(shown, text);
  if (shell) return shell;
  if (text === "ATCMD READY") {
    return result(
      shown,
      "ready",
      "the module has started in Host Control Mode (no echo; AT+SKTSENDRAW available); a host that sees it again knows the module restarted and every link is gone",
    );
  }
  if (text === "[$][TT]:High Watermark") {
    return result(
      shown,
      "watermark",
      `the module's ${
        TT_BUFFER_SIZE / 1024
      } KiB transparent-transmission buffer is full: the host must pause sending raw bytes until [$][TT]:Low Watermark`,
    );
  }
  if (text === "[$][TT]:Low Watermark") {
    return result(
      shown,
      "watermark",
      "the module's transparent-transmission buffer has drained: the host may send raw bytes again",
    );
  }
  if (text === "Global SOCKET configuration:") {
    return result(
      shown,
      "query",
      "the first line of the AT+SKTQUERY answer; the seven global socket options follow, then OK",
      [],
      { command: "SKTQUERY" },
    );
  }
  const query = /^([a-z_]+): (.*)$/.exec(text);
  const spec = query && QUERY_FIELDS.get(query[1]);
  if (query && spec) {
    const field: ExplainedField = {
      name: query[1],
      value: Number(query[2]),
      meaning: `${spec.meaning}, ${rangeText(spec)}`,
    };
    if (!/^\d+$/.test(query[2]) || rangeProblem(spec, Number(query[2]))) {
      field.value = query[2];
      field.problem = `${query[1]} "${query[2]}" is not a number in ${
        rangeText(spec)
      }`;
    }
    return result(
      shown,
      "query",
      `a line of the AT+SKTQUERY answer: the global option ${
        query[1]
      }, set by AT+SKTCFG`,
      [field],
      { command: "SKTQUERY" },
    );
  }
  if (text.startsWith("link_id:")) return stateLine(shown, text);
  if (text.startsWith("+SKTREAD:")) return readLine(shown, line);
  if (text.startsWith("[$][SKT][DATA]")) return dataLine(shown, line);
  if (text.startsWith("[$][SKT][EVENT]")) return connectLine(shown, text);
  if (text.startsWith("[$]")) {
    return result(
      shown,
      "unrecognised",
      "an unsolicited [$] line that the socket commands do not print",
    );
  }
  return result(
    shown,
    "unrecognised",
    "not a line a module prints for the socket commands, and not a command (commands start with AT+): as a command the module gives no answer",
  );
}

function errorLine(
  shown: string,
  code: number,
  command: CommandName | undefined,
): Explanation {
  const notes: string[] = [];
  const names = command ? [command] : COMMAND_NAMES;
  const meanings = names.flatMap((name) => {
    const meaning = ERROR_MEANINGS[name][code];
    return meaning === undefined ? [] : [{ command: name, meaning }];
  });
  for (const m of meanings) {
    const note = practice(m.command, code)?.explain;
    if (note) notes.push(`AT+${m.command} ERROR: ${code}: ${note}`);
  }
  if (code === PARAMETER_ERROR) notes.push(OVERLONG_NOTE);
  if (meanings.length === 0) {
    const which = command ? `AT+${command}` : "any socket command";
    return result(
      shown,
      "error",
      `ERROR: ${code}: the reference lists no such code for ${which}`,
      [],
      {
        command: command ?? null,
        error: { code, meaning: "not in the reference", detail: null },
        valid: false,
        notes,
      },
    );
  }
  const error: ExplainedError = {
    code,
    meaning: meanings.length === 1
      ? meanings[0].meaning
      : meanings.map((m) => `AT+${m.command}: ${m.meaning}`).join("; "),
    detail: null,
    meanings,
  };
  const summary = command
    ? `ERROR: ${code}: AT+${command} failed: ${meanings[0].meaning}`
    : meanings.length === 1
    ? `ERROR: ${code}: the command in flight failed; only AT+${
      meanings[0].command
    } has this code: ${meanings[0].meaning}`
    : `ERROR: ${code}: the command in flight failed; the meaning depends on the command (say --command NAME to pick one)`;
  return result(shown, "error", summary, [], {
    command: command ?? null,
    error,
    notes,
  });
}
