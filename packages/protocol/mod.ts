/**
 * The pure protocol core of atsock: the grammar of the nine Socket AT
 * commands of Realtek Ameba modules (`AT+SKTCFG`, `AT+SKTQUERY`,
 * `AT+SKTSERVER`, `AT+SKTCLIENT`, `AT+SKTSEND`, `AT+SKTREAD`,
 * `AT+SKTSENDRAW`, `AT+SKTSTATE`, `AT+SKTDEL`), their typed requests and
 * errors, every output line a module prints, and streaming framers for both
 * directions of the UART. It does no I/O and uses no timers: it turns bytes
 * into events and requests into bytes, so the virtual module, the host
 * library and every test share it.
 *
 * @example Parse a command line as the module does
 * ```ts
 * import { encode, parseCommandLine } from "@atsock/protocol";
 *
 * const parsed = parseCommandLine(encode("AT+SKTSERVER=1,1,,1234,1"));
 * if (parsed.kind === "request") console.log(parsed.request);
 * // { command: "SKTSERVER", linkId: 1, type: 1, port: 1234, autoReceive: true }
 * const bad = parseCommandLine(encode("AT+SKTDEL=20"));
 * if (bad.kind === "error") console.log(bad.error.code, bad.error.meaning);
 * // 1 "Parameter error"
 * ```
 *
 * @example Build a command and read a module's answer as a host does
 * ```ts
 * import { encode, formatRequest, OutputParser } from "@atsock/protocol";
 *
 * const line = formatRequest({
 *   command: "SKTSEND",
 *   linkId: 0,
 *   data: encode("a,b"),
 * }); // AT+SKTSEND=0,3,,,a\,b\r\n
 * const parser = new OutputParser();
 * parser.push(encode("\r\nOK\r\n")); // [{ type: "ok" }]
 * ```
 *
 * @module
 */

export * from "./bytes.ts";
export * from "./commands.ts";
export * from "./field_checks.ts";
export * from "./constants.ts";
export * from "./firmware_rules.ts";
export * from "./errors.ts";
export * from "./types.ts";
export * from "./fields.ts";
export * from "./ipv4.ts";
export * from "./parse.ts";
export * from "./format_request.ts";
export * from "./format_output.ts";
export * from "./command_framer.ts";
export * from "./line_reader.ts";
export * from "./output_parser.ts";
export * from "./host_session.ts";
export * from "./transcript.ts";
export * from "./transcript_match.ts";
export * from "./module_session.ts";
