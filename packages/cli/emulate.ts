/**
 * `atsock emulate`: the virtual module on a console.
 *
 * @module
 */

import {
  ConnectRuleError,
  type Console,
  createModule,
  type FaultPlan,
  FaultPlanError,
  openTranscriptFile,
  parseConnectRules,
  parseFaultPlan,
  serveStdio,
  serveTcp,
  type TranscriptRecorder,
  type VirtualModule,
} from "@atsock/device";
import {
  CLIENT_TYPE,
  ERR,
  type FlowControl,
  LINE_BUFFER_MAX,
  LINE_BUFFER_MIN,
  LINE_BUFFER_SIZE,
  PARAMETER_ERROR,
} from "@atsock/protocol";
import { firstLine, isPermissionError, TargetError } from "./target.ts";
import { type TerminalInput, terminalInput } from "./tty_input.ts";
import {
  type DeclaredSubcommand,
  defineSubcommand,
  type OptionTable,
  type ParsedWords,
} from "./command.ts";
import { parseFlowControl, parseMode, UsageError } from "./usage.ts";

/** Parsed options of `atsock emulate`. */
export interface EmulateOptions {
  /** `stdio`, `pty` or a TCP address. */
  console:
    | { kind: "stdio" }
    | { kind: "pty" }
    | { kind: "tcp"; hostname: string; port: number };
  /** Console mode. */
  mode: "manual" | "host";
  /** Baud rate for pacing (0: unpaced). */
  baud: number;
  /** The console line buffer, `UART_LOG_CMD_BUFLEN` (default 2000). */
  lineBuffer: number;
  /** The AT UART's flow control (default `none`, as the firmware). */
  flowControl?: FlowControl;
  /** The reported IP address, when given. */
  ip?: string;
  /** Address the module's servers bind to. */
  bind: string;
  /** Certificate directory, when given. */
  certs?: string;
  /** `--allow-connect` entries (`HOST[:PORT]`), when given. */
  allowConnect?: string[];
  /** Where the TCP console's token comes from, when one is required. */
  token?: { kind: "text"; value: string } | { kind: "file"; path: string };
  /** Transcript file to record to, when given. */
  transcript?: string;
  /** Keep network payloads in the transcript. */
  payloads?: boolean;
  /** Fault plan file (JSON), when given. */
  faults?: string;
  /** The firmware build's mbedtls major version (default 2). */
  mbedtls: 2 | 3;
}

/** Help text of `atsock emulate`. */
export const EMULATE_HELP = `atsock emulate: run a virtual Ameba module

Usage:
  atsock emulate [--console stdio|pty|tcp:HOST:PORT] [--mode manual|host]
                 [--baud N] [--flow-control none|rts] [--line-buffer N]
                 [--ip ADDR] [--bind ADDR] [--certs DIR]
                 [--allow-connect HOST[:PORT],...] [--mbedtls 2|3]
                 [--token TOKEN | --token-file FILE]
                 [--transcript FILE [--payloads]] [--faults PLAN.json]

Options:
  --console   where the module's UART is (default stdio):
                stdio            standard input and output (typed on
                                 a terminal, Enter is sent as CR LF:
                                 only CR LF ends a module's line)
                tcp:HOST:PORT    a TCP console, one client at a time
                                 (HOST defaults to 127.0.0.1: tcp::3333)
                pty              a serial pseudo-terminal; its /dev/pts/N
                                 path is printed (open it with tio, picocom,
                                 minicom, socat or your host firmware)
  --mode      manual (default: echoes, no AT+SKTSENDRAW) or host
              (Host Control Mode: ATCMD READY, no echo, AT+SKTSENDRAW)
  --baud      pace console output like a UART at N baud (default: unpaced)
  --line-buffer N
              the firmware's console line buffer, UART_LOG_CMD_BUFLEN, in
              bytes (default 2000, from 8 to 65535): a line ending in
              CR LF holds at most N-2 bytes; with N-1 bytes held and no
              line end, the next byte runs them as a command at once
  --flow-control none|rts
              the AT UART's wiring, for AT+SKTSENDRAW (default none, as
              the firmware): none prints [$][TT]:High/Low Watermark and
              drops console bytes that find the 80 KiB TT buffer full (a
              host must pause at High; the count dropped is logged here);
              rts prints no watermarks and holds the console back instead
  --ip        the address the module reports as its own
              (default: the --bind address)
  --bind      address the module's servers listen on (default 127.0.0.1)
  --certs     certificate directory for TLS (CERT/server_cert_1.crt, ...)
  --mbedtls 2|3
              the mbedtls of the firmware build (default 2). The firmware
              never sets a host name: no SNI is sent either way; with 2
              a verifying TLS client (AT+SKTCLIENT types ${CLIENT_TYPE.TLS_VERIFY_SERVER} and ${CLIENT_TYPE.TLS_MUTUAL}) checks
              the server's chain but not its name, with 3 (3.6.3 and
              later) those types fail the handshake (ERROR: ${ERR.SKTCLIENT.HANDSHAKE}). TLS is
              1.2 and the chain is verified either way
  --allow-connect HOST[:PORT],...
              the only destinations the module may connect or send to
              (IPv4 addresses or host names; no port: any port), on top
              of Deno's --allow-net; others answer the command's error
              code and the reason is printed here
  --token TOKEN
              a TCP console client must first send this line, else it is
              told and closed (the line is never echoed or logged)
  --token-file FILE
              the same, with the token on the first line of FILE (keeps
              it out of the process list; grant --allow-read for FILE)
  --transcript FILE
              record the console both ways, each link's opens, closes and
              byte counts, and every fault that fires, as JSON lines
              (docs/transcripts.md; needs --allow-write)
  --payloads  keep network payloads in the transcript, not just counts
  --faults PLAN.json
              inject faults from a plan (docs/fault-injection.md): every
              fault that fires is logged on stderr and in the transcript
  -h, --help  this help

A TCP console listens on loopback unless HOST says otherwise; on any other
address a warning is printed: anyone who reaches it controls the module
(use --token). One client at a time: a second one is told the console is
busy and closed.

Examples:
  atsock emulate                              # stdio, Manual Test Mode
  atsock emulate --console tcp:127.0.0.1:3333 --mode host
  atsock emulate --console pty --baud 115200
`;

/** The options of `atsock emulate`. */
const EMULATE_OPTIONS = {
  console: { type: "string", default: "stdio" },
  mode: { type: "string", default: "manual" },
  baud: { type: "string" },
  "line-buffer": { type: "string" },
  "flow-control": { type: "string" },
  ip: { type: "string" },
  bind: { type: "string", default: "127.0.0.1" },
  certs: { type: "string" },
  "allow-connect": { type: "string" },
  token: { type: "string" },
  "token-file": { type: "string" },
  transcript: { type: "string" },
  payloads: { type: "boolean" },
  faults: { type: "string" },
  mbedtls: { type: "string", default: "2" },
} as const satisfies OptionTable;

/** Parses `atsock emulate` arguments; throws {@linkcode UsageError}. */
export function parseEmulateArgs(args: string[]): EmulateOptions | "help" {
  return emulateCommand.parse(args);
}

/** Checks the parsed options of `atsock emulate`. */
function emulateOptions(
  { values }: ParsedWords<typeof EMULATE_OPTIONS>,
): EmulateOptions {
  const mode = parseMode(values.mode!);
  let baud = 0;
  if (values.baud !== undefined) {
    baud = Number(values.baud);
    if (!Number.isInteger(baud) || baud < 300 || baud > 4000000) {
      throw new UsageError(
        `--baud must be a whole number from 300 to 4000000, not "${values.baud}"`,
      );
    }
  }
  let lineBuffer = LINE_BUFFER_SIZE;
  if (values["line-buffer"] !== undefined) {
    const text = values["line-buffer"];
    lineBuffer = /^\d{1,6}$/.test(text) ? Number(text) : NaN;
    if (
      !(lineBuffer >= LINE_BUFFER_MIN && lineBuffer <= LINE_BUFFER_MAX)
    ) {
      throw new UsageError(
        `--line-buffer must be a whole number of bytes from ${LINE_BUFFER_MIN} to ${LINE_BUFFER_MAX}, not "${text}"`,
      );
    }
  }
  const flowControl = parseFlowControl(values["flow-control"]);
  const mbedtls = values.mbedtls;
  if (mbedtls !== "2" && mbedtls !== "3") {
    throw new UsageError(`--mbedtls must be 2 or 3, not "${mbedtls}"`);
  }
  const options: EmulateOptions = {
    console: parseConsole(values.console!),
    mode,
    baud,
    lineBuffer,
    ...(flowControl === undefined ? {} : { flowControl }),
    mbedtls: mbedtls === "3" ? 3 : 2,
    ip: values.ip,
    bind: values.bind!,
    certs: values.certs,
    ...transcriptOptions(values.transcript, values.payloads),
    ...(values.faults === undefined ? {} : { faults: values.faults }),
  };
  const allow = values["allow-connect"];
  if (allow !== undefined) {
    try {
      options.allowConnect = parseConnectRules(allow).map((r) =>
        r.port === undefined ? r.host : `${r.host}:${r.port}`
      );
    } catch (e) {
      if (e instanceof ConnectRuleError) throw new UsageError(e.message);
      throw e;
    }
  }
  const token = values.token;
  const tokenFile = values["token-file"];
  if (token !== undefined && tokenFile !== undefined) {
    throw new UsageError("give --token or --token-file, not both");
  }
  if (token !== undefined || tokenFile !== undefined) {
    if (options.console.kind !== "tcp") {
      throw new UsageError("--token and --token-file need a TCP console");
    }
    if (token !== undefined) {
      if (!validToken(token)) {
        throw new UsageError(
          "--token must be 1 to 1024 characters, no CR, LF or NUL",
        );
      }
      options.token = { kind: "text", value: token };
    } else options.token = { kind: "file", path: tokenFile! };
  }
  return options;
}

function validToken(token: string): boolean {
  return token.length > 0 && new TextEncoder().encode(token).length <= 1024 &&
    !/[\r\n\0]/.test(token);
}

/** Reads the token: the first line of the file; never printed. */
async function readToken(
  source: NonNullable<EmulateOptions["token"]>,
): Promise<string> {
  if (source.kind === "text") return source.value;
  let text: string;
  try {
    text = await Deno.readTextFile(source.path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new UsageError(`--token-file ${source.path} does not exist`);
    }
    throw e;
  }
  const token = text.split(/\r?\n|\r/)[0];
  if (!validToken(token)) {
    throw new UsageError(
      `--token-file ${source.path}: the first line must hold the token (1 to 1024 characters)`,
    );
  }
  return token;
}

/** Reads and checks a fault plan file; a bad one is a {@linkcode UsageError}. */
export async function readFaultPlan(path: string): Promise<FaultPlan> {
  if (/\.ya?ml$/i.test(path)) {
    throw new UsageError(
      `--faults ${path}: YAML plans are not supported; write the plan as JSON`,
    );
  }
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (isPermissionError(e)) throw e;
    throw new UsageError(`--faults ${path}: ${firstLine(e)}`);
  }
  try {
    return parseFaultPlan(text);
  } catch (e) {
    if (e instanceof FaultPlanError) {
      throw new UsageError(`--faults ${path}: ${e.message}`);
    }
    throw e;
  }
}

function transcriptOptions(
  path: string | undefined,
  payloads: boolean | undefined,
): Pick<EmulateOptions, "transcript" | "payloads"> {
  if (path === undefined) {
    if (payloads) throw new UsageError("--payloads needs --transcript FILE");
    return {};
  }
  if (path === "") throw new UsageError("--transcript needs a file name");
  return payloads ? { transcript: path, payloads: true } : { transcript: path };
}

function parseConsole(text: string): EmulateOptions["console"] {
  if (text === "stdio" || text === "pty") return { kind: text };
  const m = /^tcp:(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(text);
  if (!m) {
    throw new UsageError(
      `--console must be stdio, pty or tcp:HOST:PORT, not "${text}"`,
    );
  }
  const port = Number(m[3]);
  if (port > 65535) throw new UsageError(`console port ${port} is above 65535`);
  return { kind: "tcp", hostname: m[1] ?? (m[2] || "127.0.0.1"), port };
}

const LOOPBACK = /^(127\.|::1$|localhost$)/;

/** Runs the emulator until stdin ends (stdio) or SIGINT/SIGTERM. */
export async function emulate(options: EmulateOptions): Promise<number> {
  let terminal: TerminalInput | undefined;
  try {
    return await serveModule(options, (t) => (terminal = t));
  } finally {
    terminal?.restore(); // On every way out: the terminal is usable again.
  }
}

/** Serves the virtual module on its console until it ends; resolves the exit status. */
async function serveModule(
  options: EmulateOptions,
  rawTerminal: (input: TerminalInput) => void,
): Promise<number> {
  let eol = "\n";
  const log = (message: string) => {
    // In raw mode the terminal no longer turns LF into CR LF.
    Deno.stderr.writeSync(new TextEncoder().encode(`atsock: ${message}${eol}`));
  };
  let stop: () => void = () => {};
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  const token = options.token ? await readToken(options.token) : undefined;
  const faults = options.faults === undefined
    ? undefined
    : await readFaultPlan(options.faults);
  const transcript = options.transcript === undefined
    ? undefined
    : await openTranscript(options.transcript, options.payloads);
  const module: VirtualModule = createModule({
    transcript,
    faults,
    mode: options.mode,
    baud: options.baud || undefined,
    lineBuffer: options.lineBuffer,
    flowControl: options.flowControl,
    ip: options.ip,
    bindAddress: options.bind,
    certs: options.certs,
    allowConnect: options.allowConnect,
    mbedtls: options.mbedtls,
    log,
  });
  let con: Console & { done?: Promise<void> };
  switch (options.console.kind) {
    case "stdio":
      if (Deno.stdin.isTerminal()) {
        // As a serial terminal: no local echo (the module echoes in Manual
        // Test Mode), Enter sends CR LF, Ctrl-C stops, Ctrl-D ends input.
        const input = terminalInput(() => stop());
        rawTerminal(input);
        eol = "\r\n";
        con = serveStdio(module, input);
      } else con = serveStdio(module);
      break;
    case "tcp":
      if (!LOOPBACK.test(options.console.hostname)) {
        log(
          `warning: the console listens on ${options.console.hostname}, not loopback: anyone who can reach it controls the module`,
        );
      }
      try {
        con = serveTcp(module, {
          ...options.console,
          token,
          log,
        });
      } catch (e) {
        await module.close();
        if (e instanceof Deno.errors.AddrInUse) {
          throw new TargetError(
            `address in use: ${
              consoleAddress(options.console)
            } (another emulator or program listens there; pick another port)`,
          );
        }
        throw e;
      }
      break;
    case "pty": {
      const { servePty } = await import("@atsock/device/pty-console");
      con = servePty(module);
      break;
    }
  }
  const banner = [
    `virtual module on ${con.address}`,
    `mode ${
      options.mode === "host" ? "Host Control Mode" : "Manual Test Mode"
    }`,
    options.baud ? `${options.baud} baud` : "unpaced",
    ...(options.lineBuffer === LINE_BUFFER_SIZE
      ? []
      : [`line buffer ${options.lineBuffer}`]),
    `flow control ${options.flowControl ?? "none"}`,
    `servers bind ${options.bind}, report ip ${module.ip}`,
    options.certs ? `certs ${options.certs}` : "no cert directory",
    ...(options.mbedtls === 3 ? ["mbedtls 3 (TLS types 3 and 5 fail)"] : []),
    ...(options.transcript ? [`transcript ${options.transcript}`] : []),
    ...(faults
      ? [
        `${faults.faults.length} faults from ${options.faults}, seed ${faults.seed}`,
      ]
      : []),
  ];
  if (options.allowConnect) {
    banner.push(`connects only to ${options.allowConnect.join(",")}`);
  }
  if (options.token) banner.push("console needs a token");
  log(banner.join(", "));
  if (options.certs !== undefined) {
    const problem = certsProblem(options.certs);
    if (problem) log(`warning: --certs ${options.certs} ${problem}`);
  }
  log(
    `permissions: net ${permission("net")}, read ${permission("read")}, ffi ${
      permission("ffi")
    }`,
  );

  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  for (const signal of signals) Deno.addSignalListener(signal, stop);
  await Promise.race([stopped, con.done ?? new Promise(() => {})]);
  for (const signal of signals) Deno.removeSignalListener(signal, stop);
  await con.close();
  await module.close();
  log("closed every socket");
  if (transcript) {
    try {
      await transcript.close();
      log(`transcript written to ${options.transcript}`);
    } catch (e) {
      log(`transcript ${options.transcript}: ${firstLine(e)}`);
      return 1;
    }
  }
  return 0;
}

async function openTranscript(
  path: string,
  payloads: boolean | undefined,
): Promise<TranscriptRecorder> {
  try {
    return await openTranscriptFile(path, { payloads });
  } catch (e) {
    if (isPermissionError(e)) throw e;
    throw new TargetError(`transcript ${path}: ${firstLine(e)}`);
  }
}

function consoleAddress(c: { hostname: string; port: number }): string {
  return c.hostname.includes(":")
    ? `tcp:[${c.hostname}]:${c.port}`
    : `tcp:${c.hostname}:${c.port}`;
}

/**
 * What is wrong with a certificate directory, in a few words (TLS commands
 * will answer CERT_FLASH), or undefined when it can be read.
 */
function certsProblem(dir: string): string | undefined {
  const tls =
    `TLS commands will fail (ERROR: ${PARAMETER_ERROR} or ${ERR.SKTSERVER.CERT_FLASH})`;
  try {
    if (!Deno.statSync(dir).isDirectory) return `is not a directory: ${tls}`;
    for (const _ of Deno.readDirSync(dir)) break;
    return undefined;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return `does not exist: ${tls}`;
    if (e instanceof Deno.errors.NotCapable) {
      return `cannot be read: Deno's read permission is not granted (deno task emulate grants it; with deno run, --allow-read=${dir}): ${tls}`;
    }
    if (e instanceof Deno.errors.PermissionDenied) {
      return `cannot be read (permission denied): ${tls}`;
    }
    return `cannot be read (${(e as Error).name}): ${tls}`;
  }
}

/** A permission's state in words: "prompt" means it was not granted. */
function permission(name: "net" | "read" | "ffi"): string {
  try {
    const state = Deno.permissions.querySync({ name }).state;
    // --allow-net=HOSTS: not granted as a whole, granted for those hosts.
    if (
      state === "prompt" && name === "net" &&
      Deno.permissions.querySync({ name, host: "127.0.0.1" }).state ===
        "granted"
    ) return "granted for some hosts (loopback among them)";
    return state === "prompt" ? "not granted" : state;
  } catch {
    return "unknown";
  }
}

/** `atsock emulate`. */
export const emulateCommand: DeclaredSubcommand<EmulateOptions> =
  defineSubcommand({
    name: "emulate",
    summary: "run a virtual module on stdio, a TCP console or a pty",
    help: EMULATE_HELP,
    options: EMULATE_OPTIONS,
    positionals: false,
    parse: emulateOptions,
    action: emulate,
  });
