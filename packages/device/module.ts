/**
 * The virtual module: reads AT command lines from a console and acts on
 * real sockets as the Ameba firmware does. Parsing and formatting come from
 * `@atsock/protocol`; this file holds the state and the I/O.
 *
 * @module
 */

import { acceptLoop } from "./accept_loop.ts";
import { inetAton } from "@atsock/protocol";
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { lookup } from "node:dns/promises";
import {
  ATCMD_READY,
  AtError,
  checkLineBufferSize,
  type ClientRequest,
  CommandFramer,
  type CommandName,
  commandNameOf,
  type ConsoleEvent,
  DEFAULT_CONFIG,
  type Endpoint,
  formatConnectEvent,
  formatError,
  formatQuery,
  formatRead,
  formatState,
  LINE_BUFFER_SIZE,
  type LinkState,
  MODULE_FREE_HEAP,
  OK,
  parseCommandLine,
  type ReadRequest,
  type Request,
  type SendRawRequest,
  type SendRequest,
  type ServerRequest,
  type SocketConfig,
  TT_PROMPT,
} from "@atsock/protocol";
import { LinkTable, LowestFree } from "./link_table.ts";
import {
  type Link,
  type LinkContext,
  ListenerLink,
  SendError,
  StreamLink,
  UdpLink,
} from "./links.ts";
import { ConsoleOutput, type ConsoleSink } from "./output.ts";
import {
  afterCommand,
  dispatchedLine,
  emptyLine,
  unknownCommand,
} from "./log_service.ts";
import { type ConnectRule, NetGuard, parseConnectRules } from "./net_guard.ts";
import type { TranscriptRecorder } from "./transcript.ts";
import type { FaultPlan } from "./fault_plan.ts";
import { type CommandEffects, FaultInjector } from "./fault_layer.ts";
import type { ByteConn } from "./node_conn.ts";
import { type FlowControl, RawTransfer, TtGlobals } from "./raw_transfer.ts";
import {
  findSocketFd,
  setSocketOptions,
  setWindow,
  type SocketKey,
  type SocketOptions,
  socketOptionsSupported,
  type WindowOptions,
} from "./sockopt.ts";
import {
  CertStore,
  connectTls,
  listenTls,
  needsFor,
  TlsFailure,
} from "./tls.ts";

/** Manual Test Mode (a person on a terminal) or Host Control Mode (a host MCU). */
export type ConsoleMode = "manual" | "host";

/** Options for {@linkcode createModule}. */
export interface ModuleOptions {
  /** Console mode (default `manual`, as the default firmware build). */
  mode?: ConsoleMode;
  /**
   * The console line buffer, `UART_LOG_CMD_BUFLEN` (default 2000, from 8 to
   * 65535): a line ending in CR LF holds at most this less 2 bytes. Throws
   * a RangeError on anything else.
   */
  lineBuffer?: number;
  /** Local address servers listen on (default `127.0.0.1`). */
  bindAddress?: string;
  /** The address the module reports as its own (default: the bind address, or the first external IPv4 address when binding to 0.0.0.0). */
  ip?: string;
  /** Pace console output at this baud rate (default: unpaced). */
  baud?: number;
  /** How long a TCP connect may take before `ERROR: 2` (default 10000 ms). */
  connectTimeoutMs?: number;
  /** Certificate directory holding `CERT/<side>_<ca|cert|key>_<i>.*` (TLS types). */
  certs?: string;
  /** Called with a one-line notice for the operator (stderr in the CLI). Never gets key material. */
  log?: (message: string) => void;
  /**
   * Outgoing connections and datagrams allowed, as `HOST[:PORT]` entries
   * (an IPv4 address or a host name; no port: any). Anything else answers
   * the command's error code and says why in the log. Default: every
   * destination Deno's permissions allow. Throws `ConnectRuleError` on a
   * malformed entry.
   */
  allowConnect?: readonly string[];
  /**
   * Records the console both ways and each link's network events (see
   * `docs/transcripts.md`). The module writes the header; its owner closes it.
   */
  transcript?: TranscriptRecorder;
  /**
   * A fault plan (see `docs/fault-injection.md`): what goes wrong, when,
   * with which seed. Without one the module is the faithful one.
   */
  faults?: FaultPlan;
  /**
   * The AT UART's flow control (default `none`, as the firmware's default
   * wiring): `none` prints watermarks in `AT+SKTSENDRAW` and drops console
   * bytes that find the 80 KiB TT buffer full; `rts` prints none and holds
   * the console back instead.
   */
  flowControl?: FlowControl;
  /**
   * The mbedtls major version of the firmware build (default 2). The
   * firmware never sets a host name: with 2 a verifying TLS client (types
   * 3 and 5) checks the server's chain only; with 3 (3.6.3 and later)
   * their handshake fails (`ERROR: 14`). No SNI is sent either way.
   */
  mbedtls?: 2 | 3;
}

/** Memory a module holds, from {@linkcode VirtualModule.stats}. */
export interface ModuleStats {
  /** Link ids in use. */
  links: number;
  /** Bytes queued for the console (answers, held unsolicited lines). */
  consoleOutput: number;
  /** Console bytes received and not yet processed. */
  consoleInput: number;
  /** Bytes held on TCP links for `AT+SKTREAD`. */
  received: number;
  /** Datagrams held on UDP links for `AT+SKTREAD`. */
  datagrams: number;
  /** TCP/TLS links whose peer has ended the stream (shown or not as `socket_fd:-1`). */
  ended: number;
  /** Bytes of an `AT+SKTSENDRAW` payload taken in (the TT buffer and the piece being gathered), not yet sent. */
  transparent: number;
  /** Console bytes dropped since start because the TT buffer was full (flow control `none`). */
  transparentDropped: number;
}

/** A failure the module answers with `ERROR: <code>`. */
class CommandFailure extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
  }
}

const INPUT_HIGH_WATER = 64 * 1024;

/**
 * What the listener of an `auto_rcv=0` TCP server takes, so that its seeds
 * have a window like lwIP's (TCP_MSS 1460, TCP_WND 7300): the smallest
 * kernel receive buffer (asking 1 byte gets the kernel's minimum) and a
 * 1460-byte segment size advertised to peers, which also keeps the peer's
 * own send buffer small.
 */
const LWIP_WINDOW: WindowOptions = { receiveBuffer: 1, maxSegment: 1460 };

/** The options AT+SKTCFG gives a socket of this kind (BEHAVIOUR.md). */
function sktcfgOptions(c: SocketConfig, kind: "udp" | "tcp"): SocketOptions {
  const timeouts = {
    sendTimeoutMs: c.sendTimeout,
    receiveTimeoutMs: c.receiveTimeout,
  };
  if (kind === "udp") return timeouts;
  return {
    ...timeouts,
    noDelay: c.noDelay,
    keepAlive: c.keepAlive,
    keepIdle: c.keepIdle,
    keepInterval: c.keepInterval,
    keepCount: c.keepCount,
  };
}

/**
 * One virtual Ameba module: its link table, its global socket options and
 * its console. Feed console input with {@linkcode VirtualModule.receive};
 * attach the console's writer with {@linkcode VirtualModule.attach}.
 */
export class VirtualModule {
  /** The console mode. */
  readonly mode: ConsoleMode;
  /** The console output (ordered, paced, back-pressured). */
  readonly output: ConsoleOutput;
  /** The address the module reports as its own. */
  readonly ip: string;
  #bindAddress: string;
  #connectTimeout: number;
  #certs: CertStore;
  #mbedtls: 2 | 3;
  #guard: NetGuard;
  #log: (message: string) => void;
  #config: SocketConfig = { ...DEFAULT_CONFIG };
  #links = new LinkTable<Link>();
  #fds = new LowestFree();
  #context: LinkContext;
  #lineBuffer: number;
  /** Console input being acted on. */
  #framer: CommandFramer;
  /** Input from consoles attached after the last one went, in order. */
  #laterInput: CommandFramer[] = [];
  #running = false;
  /** The loop acting on console input, while it runs. */
  #processing: Promise<void> | undefined;
  #closed = false;
  #inputWaiters: (() => void)[] = [];
  #raw: RawTransfer | undefined;
  #flowControl: FlowControl;
  /** The firmware's TT globals (watermark flags, stop flag, stop timer). */
  #tt = new TtGlobals();
  #ttDropped = 0;
  #pendingWork: Set<Promise<unknown>> = new Set();
  /** Bumped by {@linkcode reset}: a command from before it stays silent. */
  #generation = 0;
  #transcript: TranscriptRecorder | undefined;
  #faults: FaultInjector | undefined;
  #sink: ConsoleSink | undefined;
  /** `AT+SKTSENDRAW` payload bytes left before a fault resets the module. */
  #rawResetLeft: number | undefined;

  /** Creates a module; see {@linkcode createModule}. */
  constructor(options: ModuleOptions = {}) {
    this.mode = options.mode ?? "manual";
    // firmware rule console-line-buffer
    this.#lineBuffer = checkLineBufferSize(
      options.lineBuffer ?? LINE_BUFFER_SIZE,
    );
    this.#framer = this.#newFramer();
    this.#bindAddress = options.bindAddress ?? "127.0.0.1";
    this.ip = options.ip ?? reportedAddress(this.#bindAddress);
    this.#connectTimeout = options.connectTimeoutMs ?? 10000;
    this.#certs = new CertStore(options.certs);
    this.#mbedtls = options.mbedtls ?? 2;
    if (this.#mbedtls !== 2 && this.#mbedtls !== 3) {
      throw new RangeError(`mbedtls must be 2 or 3, not ${options.mbedtls}`);
    }
    this.#log = options.log ?? (() => {});
    this.#flowControl = options.flowControl ?? "none";
    const rules: ConnectRule[] | undefined = options.allowConnect
      ?.flatMap((entry) => parseConnectRules(entry));
    this.#guard = new NetGuard(rules);
    this.output = new ConsoleOutput({ baud: options.baud });
    this.#context = {
      output: this.output,
      fds: this.#fds,
      guard: this.#guard,
    };
    this.#transcript = options.transcript;
    if (this.#transcript) {
      this.#transcript.begin({
        mode: this.mode,
        ip: this.ip,
        ...(options.faults ? { seed: options.faults.seed ?? 1 } : {}),
      });
      this.#context.net = this.#transcript;
    }
    if (options.faults) this.#startFaults(options.faults);
  }

  /**
   * The fault layer: add faults at run time with `module.faults.add(...)`.
   * Made on first use (seed 1) when no plan was given.
   */
  get faults(): FaultInjector {
    return this.#faults ?? this.#startFaults({ seed: 1, faults: [] });
  }

  #startFaults(plan: FaultPlan): FaultInjector {
    const injector = new FaultInjector(plan, {
      output: this.output,
      reset: () => this.reset(),
      dropPeer: (id, how) => {
        const link = this.#links.get(id);
        return link instanceof StreamLink && link.dropPeer(how);
      },
      log: this.#log,
      record: this.#transcript
        ? (index, action, detail) =>
          this.#transcript!.fault(index, action, detail)
        : undefined,
    });
    this.#faults = injector;
    this.#context.faults = injector;
    if (this.#sink) this.output.attach(injector.wrapSink(this.#sink));
    injector.start();
    return injector;
  }

  /** The transcript recorder, when one was given. */
  get transcript(): TranscriptRecorder | undefined {
    return this.#transcript;
  }

  /** The current global socket options. */
  get config(): Readonly<SocketConfig> {
    return { ...this.#config };
  }

  /** What `AT+SKTSTATE` would list, in its order. */
  state(): LinkState[] {
    const out: LinkState[] = [];
    for (const [, link] of this.#links.entries()) {
      if (link.role === "seed") continue;
      out.push(link.state());
      if (link instanceof ListenerLink) {
        // firmware rule sktstate-seed-order
        // In accept order (hang_seednode appends to the server's chain).
        for (const seedId of link.seeds) {
          const seed = this.#links.get(seedId);
          if (seed) out.push(seed.state());
        }
      }
    }
    return out;
  }

  /** Bytes the module holds in memory, for watching that they stay bounded. */
  stats(): ModuleStats {
    let received = 0;
    let datagrams = 0;
    let ended = 0;
    for (const [, link] of this.#links.entries()) {
      if (link instanceof StreamLink) {
        received += link.buffered;
        if (link.ended) ended++;
      }
      if (link instanceof UdpLink) datagrams += link.queued;
    }
    return {
      links: this.#links.size,
      consoleOutput: this.output.buffered,
      consoleInput: this.#inputBuffered(),
      received,
      datagrams,
      ended,
      transparent: this.#raw?.pending ?? 0,
      transparentDropped: this.#ttDropped + (this.#raw?.dropped ?? 0),
    };
  }

  /** Bytes of console input not yet processed. */
  get inputBuffered(): number {
    return this.#inputBuffered();
  }

  #inputBuffered(): number {
    let n = this.#framer.buffered;
    for (const framer of this.#laterInput) n += framer.buffered;
    return n;
  }

  /** Where new console input goes. */
  get #input(): CommandFramer {
    return this.#laterInput.at(-1) ?? this.#framer;
  }

  /**
   * Attaches a console's writer (replacing any other). In Host Control Mode
   * the module announces itself with `ATCMD READY`, as after power-up.
   */
  attach(sink: ConsoleSink): void {
    const transcript = this.#transcript;
    if (transcript) {
      const inner = sink;
      sink = (bytes) => {
        transcript.m2h(bytes);
        return inner(bytes);
      };
    }
    this.#sink = sink;
    this.output.attach(this.#faults ? this.#faults.wrapSink(sink) : sink);
    if (this.mode === "host") this.output.unsolicited(ATCMD_READY);
  }

  /**
   * Restarts the module as a power cycle would: every link is closed, the
   * options return to their defaults, console input not yet processed and
   * a raw transfer under way are dropped, a command under way never
   * answers, and in Host Control Mode `ATCMD READY` is printed again.
   */
  reset(): void {
    if (this.#closed) return;
    this.#generation++;
    for (const [id] of this.#links.entries()) this.#delete(id);
    this.#links.unreserveAll(); // A command under way makes no link.
    this.#config = { ...DEFAULT_CONFIG };
    this.#raw?.abandon();
    this.#raw = undefined;
    this.#tt.reset();
    this.#rawResetLeft = undefined;
    this.#framer = this.#newFramer();
    this.#warnedStuck = false;
    this.#laterInput = [];
    this.output.reset();
    this.#log("reset: all links closed");
    if (this.mode === "host") this.output.unsolicited(ATCMD_READY);
    for (const resolve of this.#inputWaiters.splice(0)) resolve();
  }

  /**
   * Detaches the console: output is discarded, as a UART with nothing on
   * it. The console has gone, so once every whole line it sent has been
   * acted on, its partial line is dropped and an `AT+SKTSENDRAW` payload it
   * left incomplete is abandoned (what arrived was sent; nothing is
   * answered). Input from the next console starts afresh.
   */
  detach(): void {
    this.#sink = undefined;
    this.output.attach(undefined);
    const input = this.#input;
    if (input.buffered > 0 || input.raw) {
      this.#laterInput.push(this.#newFramer());
      this.#kick();
    }
  }

  /**
   * Takes bytes typed or sent on the console; the module keeps them, so the
   * caller must not reuse the buffer (every console here reads into a fresh
   * one). Resolves when the module is ready for more, so a console that
   * awaits it never makes input pile up.
   */
  receive(bytes: Uint8Array): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#transcript?.h2m(bytes);
    if (this.#faults) bytes = this.#faults.h2m(bytes);
    const input = this.#input;
    input.push(bytes);
    this.#kick();
    if (this.#inputBuffered() < INPUT_HIGH_WATER) return Promise.resolve();
    return new Promise((resolve) => this.#inputWaiters.push(resolve));
  }

  /** Closes every socket and stops the console output. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#raw?.abandon();
    this.#tt.reset();
    for (const abort of this.#connecting) abort.abort(new Error("closed"));
    this.#faults?.close();
    for (const [id] of this.#links.entries()) this.#delete(id);
    this.output.close();
    for (const resolve of this.#inputWaiters.splice(0)) resolve();
    await Promise.allSettled([...this.#pendingWork]);
    await this.#transcript?.flush().catch((e) =>
      this.#log(`transcript: ${message(e)}`)
    );
  }

  #track<T>(work: Promise<T>): Promise<T> {
    this.#pendingWork.add(work);
    work.finally(() => this.#pendingWork.delete(work)).catch(() => {});
    return work;
  }

  /**
   * A framer for console input. In Manual Test Mode the console is the log
   * UART: the shell echoes what it reads and ESC never reaches it.
   */
  #newFramer(): CommandFramer {
    const manual = this.mode === "manual";
    return new CommandFramer({
      lineBuffer: this.#lineBuffer,
      // firmware rule console-echo
      echo: manual ? (bytes) => this.output.unsolicited(bytes) : undefined,
      dropEsc: manual,
    });
  }

  #kick(): void {
    if (this.#running || this.#closed) return;
    this.#running = true;
    const processing = this.#track(this.#process());
    this.#processing = processing;
    processing.finally(() => {
      if (this.#processing === processing) this.#processing = undefined;
    }).catch(() => {});
  }

  /**
   * Resolves once every complete command received so far has been acted
   * on (each bounded by its own timeout, as a connect is) and its answer
   * has left the console: what a console waits for when its input ends.
   */
  async idle(): Promise<void> {
    while (this.#processing && !this.#closed) {
      await this.#processing.catch(() => {}); // Its failure is reported where it happens.
    }
    await this.output.flushed();
  }

  async #process(): Promise<void> {
    try {
      while (true) {
        const event = this.#framer.next();
        if (event === undefined && this.#framer.stuck && !this.#warnedStuck) {
          // firmware rule console-stuck
          this.#warnedStuck = true;
          this.#log(
            `console: an LF (not after CR) filled the last place of the ${this.#lineBuffer}-byte line buffer: as the firmware, the console now ignores every byte until the module restarts (or a new TCP console client connects)`,
          );
        }
        if (event === undefined) {
          // Input from a console that has gone ends here.
          const next = this.#laterInput.shift();
          if (next === undefined) break;
          await this.#hangUp();
          if (this.#closed) return;
          this.#framer = next;
          this.#warnedStuck = false;
          continue;
        }
        await this.#handle(event);
        if (this.#closed) return;
        // A UART whose transmit buffer is full stalls the module: no more
        // input is taken until the console has read enough of the output,
        // so a console that never reads cannot make it grow without bound.
        await this.output.waitForDrain();
        if (this.#closed) return;
        if (this.#inputBuffered() < INPUT_HIGH_WATER) {
          for (const resolve of this.#inputWaiters.splice(0)) resolve();
        }
      }
    } finally {
      this.#running = false;
      for (const resolve of this.#inputWaiters.splice(0)) resolve();
    }
  }

  /**
   * The console that sent the current input has gone. A partial line is
   * dropped with its framer; an incomplete `AT+SKTSENDRAW` payload is
   * abandoned: what was sent stays sent, the rest never will be, and
   * there is nobody to answer.
   */
  async #hangUp(): Promise<void> {
    const raw = this.#raw;
    if (!this.#framer.raw || !raw) return;
    this.#raw = undefined;
    raw.hangUp();
    await raw.done;
    this.#ttDropped += raw.dropped;
    this.#log(
      `AT+SKTSENDRAW: the console went away with ${
        raw.size - raw.sent
      } bytes not sent${
        raw.failure ? ` (a send had failed: ${raw.failure})` : ""
      }; nothing answered`,
    );
    this.output.endAnswer();
  }

  async #handle(event: ConsoleEvent): Promise<void> {
    switch (event.type) {
      case "line":
        if (event.overflow) {
          // firmware rule console-overflow
          this.#log(
            `console: the ${this.#lineBuffer}-byte line buffer filled up; its ${event.line.length} bytes run as a command, the next byte is lost`,
          );
        }
        return await this.#command(event.line);
      case "raw":
        if (this.#rawResetLeft !== undefined) {
          return await this.#rawFault(event.data);
        }
        return await this.#raw?.arrive(event.data);
    }
  }

  /** A payload under a reset-after-bytes fault: take what fits, then reset. */
  async #rawFault(data: Uint8Array): Promise<void> {
    const left = this.#rawResetLeft!;
    if (data.length < left) {
      this.#rawResetLeft = left - data.length;
      return await this.#raw?.arrive(data);
    }
    if (left > 0) await this.#raw?.arrive(data.subarray(0, left));
    this.reset();
    // The rest arrives at the restarted module, as console input.
    if (data.length > left) this.#framer.push(data.subarray(left));
  }

  async #command(line: Uint8Array): Promise<void> {
    const manual = this.mode === "manual";
    // firmware rule console-manual-dispatch
    if (manual) line = dispatchedLine(line);
    const name = commandNameOf(line);
    if (name === undefined) {
      // firmware rule console-unknown
      if (!manual) return; // Host Control Mode: the log UART says it.
      this.output.beginAnswer();
      if (line.length === 0) this.output.answer(emptyLine());
      else for (const part of unknownCommand(line)) this.output.answer(part);
      this.output.endAnswer();
      return;
    }
    const generation = this.#generation;
    const live = () => generation === this.#generation;
    const faults: CommandEffects | undefined = name === undefined
      ? undefined
      : this.#faults?.onCommand(name);
    this.output.beginAnswer();
    let answered = false;
    try {
      if (faults) {
        if (faults.inject) this.output.answer(faults.inject);
        if (faults.reset) return this.reset();
        if (faults.error !== undefined) {
          throw new CommandFailure(faults.error, "fault plan");
        }
      }
      const parsed = parseCommandLine(line);
      if (parsed.kind === "unknown") return; // Not reached: the name is known.
      if (parsed.kind === "error") throw parsed.error;
      const result = await this.#execute(parsed.request);
      if (faults?.delayMs) await this.#faults!.sleep(faults.delayMs);
      if (result === "raw") {
        answered = true; // The answer ends with the raw transfer.
        if (faults?.resetAfterBytes === 0) this.reset();
        else if (faults?.resetAfterBytes) {
          this.#rawResetLeft = faults.resetAfterBytes;
        }
        return;
      }
      if (faults?.resetAfterBytes !== undefined) return this.reset();
      if (live()) this.output.answer(result);
    } catch (e) {
      const code = e instanceof CommandFailure || e instanceof AtError
        ? e.code
        : 1;
      if (e instanceof CommandFailure) {
        this.#log(`AT+${name}: ERROR: ${code}: ${e.message}`);
      } else if (e instanceof AtError) {
        // A format error: the firmware says nothing more; the log says why.
        this.#log(`AT+${name}: ERROR: ${code}: ${e.detail ?? e.meaning}`);
      } else {
        this.#log(`AT+${name}: unexpected: ${e}`);
      }
      if (live()) this.output.answer(formatError(code));
    } finally {
      if (!answered && live()) {
        // firmware rule console-mem-line
        if (manual) this.output.answer(afterCommand());
        this.output.endAnswer();
      }
    }
  }

  #execute(request: Request): Promise<Uint8Array | "raw"> | Uint8Array | "raw" {
    switch (request.command) {
      case "SKTCFG":
        this.#config = { ...request.config };
        return OK;
      case "SKTQUERY":
        return formatQuery(this.#config);
      case "SKTSTATE":
        return formatState(this.state());
      case "SKTDEL": {
        const link = this.#links.get(request.linkId);
        if (!link) {
          throw new CommandFailure(1, `link ${request.linkId} is not in use`);
        }
        this.#delete(request.linkId);
        // The answer waits until a UDP port is free again, as lwIP's close
        // is: a datagram right after OK goes to another server on the port.
        if (link instanceof UdpLink) return link.released.then(() => OK);
        return OK;
      }
      case "SKTSERVER":
        return this.#reserving(
          request.linkId,
          "SKTSERVER",
          () => this.#server(request),
        );
      case "SKTCLIENT":
        return this.#reserving(
          request.linkId,
          "SKTCLIENT",
          () => this.#client(request),
        );
      case "SKTSEND":
        return this.#send(request);
      case "SKTREAD":
        return this.#read(request);
      case "SKTSENDRAW":
        return this.#sendRaw(request);
    }
  }

  #warnedStuck = false;
  #warnedOptions = false;
  #warnedWindow = false;

  /**
   * Applies options to a host socket: `options` (what AT+SKTCFG gives this
   * kind of socket) and, with `window`, {@linkcode LWIP_WINDOW} (listeners
   * of `auto_rcv=0` servers). Without FFI (or off Linux) only what Deno
   * offers (nodelay, keepalive) is applied, with one warning for each.
   */
  #applyOptions(key: SocketKey, options: SocketOptions, window = false): void {
    const custom = Object.values(options).some((value) => value);
    if (!custom && !window) return;
    if (!socketOptionsSupported()) {
      if (custom && !this.#warnedOptions) {
        this.#warnedOptions = true;
        this.#log(
          "warning: AT+SKTCFG timeouts and keepalive timers are not applied to host sockets: they need Deno's --allow-ffi (Linux), which deno task emulate grants and deno task start does not",
        );
      }
      if (window && !this.#warnedWindow) {
        this.#warnedWindow = true;
        this.#log(
          "warning: auto_rcv=0 servers keep the host's large TCP window: a peer can send far beyond 7300 bytes before it is held back: the 7300-byte window needs Deno's --allow-ffi (Linux), which deno task emulate grants and deno task start does not",
        );
      }
      return;
    }
    const fd = findSocketFd(key);
    if (fd === undefined) {
      this.#log(
        `warning: socket ${key.transport} ${key.local.hostname}:${key.local.port} not found: options not applied`,
      );
      return;
    }
    try {
      if (custom) setSocketOptions(fd, options);
      if (window) setWindow(fd, LWIP_WINDOW);
    } catch (e) {
      this.#log(`warning: ${message(e)}`);
    }
  }

  /**
   * Runs `AT+SKTSERVER`/`AT+SKTCLIENT` with its link id reserved: seeds
   * accepted while it waits for a lookup, bind, connect or handshake skip
   * the id, and a failure frees it again.
   */
  async #reserving(
    id: number,
    command: CommandName,
    open: () => Promise<Uint8Array>,
  ): Promise<Uint8Array> {
    // firmware rule link-reserved-while-opening
    // at_sktserver/at_sktclient set node_pool[link_id].link_id before
    // create_socket_server/client, so search_available_node skips it;
    // init_single_node frees it when the socket cannot be made.
    this.#free(id, command);
    this.#links.reserve(id);
    try {
      return await open();
    } finally {
      this.#links.unreserve(id);
    }
  }

  /**
   * After an await: the module may have closed or been reset meanwhile
   * (the reservation has gone). Then what was opened is closed and the
   * answer is `ERROR: 1` (a reset one is never printed).
   */
  #stillFree(id: number, dispose: () => void): void {
    if (this.#links.reserved(id) && !this.#closed) return;
    try {
      dispose();
    } catch { /* already closed */ }
    throw new CommandFailure(1, `link ${id}: the module closed or was reset`);
  }

  #resetSeedOptions(conn: Deno.TcpConn, keepAlive: boolean): void {
    if (!socketOptionsSupported()) return;
    const fd = findSocketFd({
      transport: "tcp",
      local: conn.localAddr as Deno.NetAddr,
      remote: conn.remoteAddr as Deno.NetAddr,
    });
    if (fd === undefined) return;
    try {
      setSocketOptions(fd, {
        noDelay: false,
        sendTimeoutMs: 0,
        receiveTimeoutMs: 0,
        keepAlive,
        ...osKeepaliveDefaults(),
      });
    } catch (e) {
      this.#log(`warning: ${message(e)}`);
    }
  }

  #free(id: number, command: CommandName): void {
    if (this.#links.get(id)) {
      throw new CommandFailure(
        1,
        `AT+${command}: link ${id} is already in use`,
      );
    }
  }

  #delete(id: number): void {
    const link = this.#links.get(id);
    if (!link) return;
    if (link instanceof ListenerLink) {
      for (const seed of link.seeds) this.#delete(seed);
    }
    if (link instanceof StreamLink && link.serverId !== undefined) {
      const server = this.#links.get(link.serverId);
      if (server instanceof ListenerLink) server.seeds.delete(id);
    }
    link.close();
    this.#faults?.linkClosed(id);
    this.#links.remove(id);
  }

  async #server(request: ServerRequest): Promise<Uint8Array> {
    if (request.type >= 2) return await this.#tlsServer(request);
    const address: Endpoint = { ip: this.ip, port: request.port };
    // Options are those in force when the socket is made (BEHAVIOUR.md).
    const config = { ...this.#config };
    if (request.type === 0) {
      const socket = await this.#bindUdp(request.port, 4, config, "server");
      this.#stillFree(request.linkId, () => socket.close());
      const link = new UdpLink(request.linkId, {
        role: "server",
        socket,
        address,
        autoReceive: request.autoReceive,
      }, this.#context);
      this.#links.put(request.linkId, link);
      return OK;
    }
    this.#mayBind(request.port, 2, "listen on port");
    let listener: Deno.TcpListener;
    try {
      listener = Deno.listen({
        hostname: this.#bindAddress,
        port: request.port,
        transport: "tcp",
      });
    } catch (e) {
      throw new CommandFailure(
        2,
        `listen on port ${request.port}: ${message(e)}`,
      );
    }
    // Set before any accept: seeds inherit the listener's window.
    this.#applyOptions(
      { transport: "tcp", local: listener.addr as Deno.NetAddr },
      sktcfgOptions(config, "tcp"),
      !request.autoReceive,
    );
    const link = new ListenerLink(request.linkId, {
      protocol: "tcp",
      address,
      autoReceive: request.autoReceive,
      close: () => listener.close(),
    }, this.#context);
    this.#links.put(request.linkId, link);
    this.#track(this.#accept(link, listener, config));
    return OK;
  }

  async #accept(
    server: ListenerLink,
    listener: Deno.TcpListener,
    config: SocketConfig,
  ): Promise<void> {
    const keepAlive = config.keepAlive;
    // Linux copies a listener's options to accepted sockets; lwIP seeds
    // inherit only keepalive, so put the rest back to the defaults.
    const inherited = config.noDelay || config.sendTimeout ||
      config.receiveTimeout || config.keepIdle || config.keepInterval ||
      config.keepCount;
    // Ends when SKTDEL closes the listener; survives every other error.
    await acceptLoop(listener, (conn) => {
      if (keepAlive) conn.setKeepAlive(true);
      if (inherited) this.#resetSeedOptions(conn, keepAlive);
      const remote = conn.remoteAddr as Deno.NetAddr;
      this.#addSeed(server, conn, {
        ip: unmapIPv4(remote.hostname),
        port: remote.port,
      });
    }, {
      name: `link ${server.id} (TCP server)`,
      log: this.#log,
      closed: () => this.#closed || this.#links.get(server.id) !== server,
    });
  }

  /** Makes an accepted connection a seed on the lowest free id, or refuses it silently. */
  #addSeed(server: ListenerLink, conn: ByteConn, peer: Endpoint): void {
    const id = this.#links.lowestFree();
    if (id === undefined || this.#closed || !this.#links.get(server.id)) {
      // No free link id: accepted and closed at once, silently.
      conn.close();
      return;
    }
    const seed = new StreamLink(id, {
      role: "seed",
      protocol: server.protocol,
      conn,
      peer: { ip: unmapIPv4(peer.ip), port: peer.port },
      autoReceive: server.autoReceive,
      serverId: server.id,
    }, this.#context);
    this.#links.put(id, seed);
    server.seeds.add(id);
    this.#track(seed.done);
    this.output.unsolicited(formatConnectEvent({
      linkId: id,
      protocol: server.protocol,
      peer: seed.peer,
      serverId: server.id,
    }));
  }

  async #tlsServer(request: ServerRequest): Promise<Uint8Array> {
    const type = request.type as 2 | 3;
    this.#certsExist("server", request.certIndex!, type);
    const suite = this.#suite("server", request.certIndex!, type);
    this.#mayBind(request.port, 11, "bind TLS port");
    const server: { link?: ListenerLink } = {};
    let listener;
    try {
      listener = await listenTls({
        hostname: this.#bindAddress,
        port: request.port,
        type,
        suite,
        log: this.#log,
      }, (conn, peer) => {
        if (server.link) this.#addSeed(server.link, conn, peer);
        else conn.close();
      });
    } catch (e) {
      throw new CommandFailure(
        11,
        `bind TLS port ${request.port}: ${message(e)}`,
      );
    }
    this.#stillFree(request.linkId, () => listener.close());
    const link = new ListenerLink(request.linkId, {
      protocol: "tls",
      address: { ip: this.ip, port: request.port },
      autoReceive: request.autoReceive,
      close: () => listener.close(),
    }, this.#context);
    server.link = link;
    this.#links.put(request.linkId, link);
    return OK;
  }

  /**
   * `ERROR: 1` when a file the type needs does not exist (or is empty):
   * `at_sktserver`/`at_sktclient` check their sizes before anything else.
   */
  #certsExist(
    side: "server" | "client",
    index: number | undefined,
    type: number,
  ): void {
    // firmware rule tls-cert-missing
    try {
      this.#certs.exist(side, index ?? 0, needsFor(side, type));
    } catch (e) {
      if (e instanceof TlsFailure) throw new CommandFailure(e.code, e.message);
      throw e;
    }
  }

  #suite(
    side: "server" | "client",
    index: number | undefined,
    type: number,
  ) {
    const needs = needsFor(side, type);
    if (!needs.ca && !needs.cert) return {};
    try {
      return this.#certs.load(side, index!, needs);
    } catch (e) {
      if (e instanceof TlsFailure) throw new CommandFailure(e.code, e.message);
      throw e;
    }
  }

  async #tlsClient(request: ClientRequest): Promise<Uint8Array> {
    const type = request.type as 2 | 3 | 4 | 5;
    // at_sktclient: files exist (1), host found (1); then
    // create_socket_client_tls reads them (6) and parses them (9).
    this.#certsExist("client", request.certIndex, type);
    const ip = await this.#resolve(request.host);
    const suite = this.#suite("client", request.certIndex, type);
    this.#mayConnect(ip, request.port, request.host, 13);
    let conn: ByteConn;
    try {
      conn = await connectTls({
        ip,
        port: request.port,
        type,
        suite,
        timeoutMs: this.#connectTimeout,
        mbedtls: this.#mbedtls,
      });
    } catch (e) {
      if (e instanceof TlsFailure) throw new CommandFailure(e.code, e.message);
      throw new CommandFailure(14, message(e));
    }
    this.#stillFree(request.linkId, () => conn.close());
    // TLS links take no AT+SKTCFG option (BEHAVIOUR.md): no send timeout.
    const link = new StreamLink(request.linkId, {
      role: "client",
      protocol: "tls",
      conn,
      peer: { ip, port: request.port },
      autoReceive: request.autoReceive,
      // firmware rule sktstate-client-source
      // mbedtls_net_connect binds nothing: the src_port field as given.
      source: { ip: "0.0.0.0", port: request.localPort ?? 0 },
    }, this.#context);
    this.#links.put(request.linkId, link);
    this.#track(link.done);
    return OK;
  }

  /** The host's IPv4 address; a failed lookup is `ERROR: 1` for every type. */
  async #resolve(host: string): Promise<string> {
    // firmware rule ipv4-inet-aton: at_sktclient tries inet_aton first
    // (127.0.0.010 is 127.0.0.8), then a name lookup.
    const number = inetAton(host);
    if (number !== undefined) return number;
    try {
      const { address } = await lookup(host, { family: 4 });
      return address;
    } catch (e) {
      // firmware rule client-host-not-found
      throw new CommandFailure(1, `resolve ${host}: ${message(e)}`);
    }
  }

  /** Throws `code` when Deno's permissions would refuse binding `port`. */
  #mayBind(port: number, code: number, what: string): void {
    const refused = this.#guard.bind(this.#bindAddress, port);
    if (refused) throw new CommandFailure(code, `${what} ${port}: ${refused}`);
  }

  /** Throws `code` when the allowlist or Deno's permissions refuse `ip:port`. */
  #mayConnect(ip: string, port: number, host: string, code: number): void {
    const refused = this.#guard.connect(ip, port, host);
    if (refused) throw new CommandFailure(code, refused);
  }

  async #bindUdp(
    port: number,
    code: number,
    config: SocketConfig,
    role: "server" | "client",
  ): Promise<UdpSocket> {
    // node:dgram throws a denied permission asynchronously, out of reach of
    // any handler: it must never be asked.
    this.#mayBind(port, code, "bind UDP port");
    // firmware rule udp-server-reuseaddr
    // create_socket_server_udp sets SO_REUSEADDR before bind (lwIP SO_REUSE
    // 1): UDP servers share a port (the last bound gets unicast datagrams,
    // on lwIP as on Linux); create_socket_client_udp does not, so a client
    // on a server's port (or a server on a client's) is ERROR: 4.
    const socket = createSocket({ type: "udp4", reuseAddr: role === "server" });
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once("error", reject);
        socket.bind(
          { port, address: this.#bindAddress, exclusive: true },
          () => {
            socket.off("error", reject);
            resolve();
          },
        );
      });
    } catch (e) {
      try {
        socket.close();
      } catch { /* never bound */ }
      throw new CommandFailure(code, `bind UDP port ${port}: ${message(e)}`);
    }
    // firmware rule udp-broadcast
    // The SO_BROADCAST setsockopt of create_socket_server_udp and
    // create_socket_client_udp is under IP_SOF_BROADCAST, which the
    // firmware's lwipopts.h leaves at lwIP's default 0: no broadcast filter
    // at all, so every UDP link may send to a broadcast address.
    socket.setBroadcast(true);
    const local = socket.address();
    this.#applyOptions({
      transport: "udp",
      local: { hostname: local.address, port: local.port },
    }, sktcfgOptions(config, "udp"));
    return socket;
  }

  async #client(request: ClientRequest): Promise<Uint8Array> {
    if (request.type >= 2) return await this.#tlsClient(request);
    // Options are those in force when the socket is made (BEHAVIOUR.md).
    const config = { ...this.#config };
    const code = request.type === 0 ? 4 : 2;
    const ip = await this.#resolve(request.host);
    this.#mayConnect(ip, request.port, request.host, code);
    const peer = { ip, port: request.port };
    if (request.type === 0) {
      const socket = await this.#bindUdp(
        request.localPort!,
        4,
        config,
        "client",
      );
      this.#stillFree(request.linkId, () => socket.close());
      this.#links.put(
        request.linkId,
        new UdpLink(request.linkId, {
          role: "client",
          socket,
          address: peer,
          autoReceive: request.autoReceive,
          sourcePort: request.localPort,
        }, this.#context),
      );
      return OK;
    }
    const conn = await this.#connect(ip, request.port);
    this.#stillFree(request.linkId, () => conn.close());
    if (config.noDelay) conn.setNoDelay(true);
    if (config.keepAlive) conn.setKeepAlive(true);
    this.#applyOptions({
      transport: "tcp",
      local: conn.localAddr as Deno.NetAddr,
      remote: conn.remoteAddr as Deno.NetAddr,
    }, sktcfgOptions(config, "tcp"));
    const local = conn.localAddr as Deno.NetAddr;
    const link = new StreamLink(request.linkId, {
      role: "client",
      protocol: "tcp",
      conn,
      peer,
      autoReceive: request.autoReceive,
      sendTimeoutMs: config.sendTimeout,
      // lwip_getsockname: the local address and ephemeral port.
      source: { ip: unmapIPv4(local.hostname), port: local.port },
    }, this.#context);
    this.#links.put(request.linkId, link);
    this.#track(link.done);
    return OK;
  }

  #connecting = new Set<AbortController>();

  /** Connects within the connect time limit; closing the module cancels it. */
  async #connect(ip: string, port: number): Promise<Deno.TcpConn> {
    const abort = new AbortController();
    const timer = setTimeout(
      () =>
        abort.abort(new Error(`timed out after ${this.#connectTimeout} ms`)),
      this.#connectTimeout,
    );
    this.#connecting.add(abort);
    try {
      return await Deno.connect({
        hostname: ip,
        port,
        transport: "tcp",
        signal: abort.signal,
      });
    } catch (e) {
      const why = abort.signal.aborted ? abort.signal.reason : e;
      throw new CommandFailure(2, `connect to ${ip}:${port}: ${message(why)}`);
    } finally {
      clearTimeout(timer);
      this.#connecting.delete(abort);
    }
  }

  /**
   * The link a SKTSEND/SKTREAD/SKTSENDRAW acts on, or `ERROR: 1` when the
   * id is free or its socket has gone (`socket_fd:-1`: "does not exist or
   * socket not established").
   */
  #established(id: number): Link {
    const link = this.#links.get(id);
    if (!link) throw new CommandFailure(1, `link ${id} is not in use`);
    // firmware rule link-socket-gone
    if (link.fd < 0) {
      throw new CommandFailure(
        1,
        `link ${id} has no socket (its peer has gone): delete it with AT+SKTDEL`,
      );
    }
    return link;
  }

  /**
   * The link to send on and where a UDP server sends to. The dst_ip and
   * dst_port fields count on a UDP server only (required there); every
   * other link ignores them (`at_sktsend`, `at_sktsendraw`).
   */
  #sendable(
    request: SendRequest | SendRawRequest,
  ): { link: StreamLink | UdpLink; to: Endpoint | undefined } {
    const id = request.linkId;
    const link = this.#established(id);
    if (link instanceof UdpLink && link.role === "server") {
      if (request.badDestination) {
        throw new CommandFailure(1, request.badDestination);
      }
      if (!request.destination) {
        throw new CommandFailure(
          1,
          `link ${id} is a UDP server: give dst_ip and dst_port`,
        );
      }
      return { link, to: request.destination };
    }
    if (link instanceof ListenerLink) {
      throw new CommandFailure(
        1,
        `link ${id} is a listening server: send on a seed`,
      );
    }
    return { link: link as StreamLink | UdpLink, to: undefined };
  }

  async #send(request: SendRequest): Promise<Uint8Array> {
    const { link, to } = this.#sendable(request);
    try {
      if (link instanceof UdpLink) await link.send(request.data, to);
      else await link.send(request.data);
    } catch (e) {
      if (e instanceof SendError) throw new CommandFailure(2, e.message);
      throw e;
    }
    return OK;
  }

  async #read(request: ReadRequest): Promise<Uint8Array> {
    const link = this.#established(request.linkId);
    if (link instanceof ListenerLink) {
      throw new CommandFailure(
        1,
        `link ${request.linkId} is a listening server: read a seed`,
      );
    }
    // firmware rule sktread-heap
    // at_sktread: rx_buffer = rtos_mem_zmalloc(wanted_recv_size + 1), NULL
    // is ERROR: 2 (after the link checks, before any read).
    if (request.size >= MODULE_FREE_HEAP) {
      throw new CommandFailure(
        2,
        `a read of ${request.size} bytes needs a buffer of ${request.size} + 1 bytes: more than the module's free heap (${MODULE_FREE_HEAP})`,
      );
    }
    const result = await (link as StreamLink | UdpLink).read(request.size);
    if (result === "closed") {
      // firmware rule read-end-closes
      throw new CommandFailure(
        4,
        `link ${request.linkId}: the peer has closed and all data was read; the socket is closed`,
      );
    }
    return formatRead(request.linkId, result.data, result.sender);
  }

  #sendRaw(request: SendRawRequest): "raw" {
    const { link, to } = this.#sendable(request);
    // firmware rule sendraw-link-before-mode
    // at_sktsendraw checks the link (1) before atcmd_tt_mode_start fails (4).
    if (this.mode === "manual") {
      throw new CommandFailure(4, "AT+SKTSENDRAW needs Host Control Mode");
    }
    const raw = new RawTransfer({
      size: request.size,
      link,
      destination: to,
      output: this.output,
      flowControl: this.#flowControl,
      globals: this.#tt,
    });
    this.#raw = raw;
    this.output.answer(TT_PROMPT);
    const framer = this.#framer;
    framer.startRaw();
    this.#track(this.#finishRaw(raw, framer, this.#generation));
    return "raw";
  }

  /** Answers once the transfer is over; the console is read as lines again. */
  async #finishRaw(
    raw: RawTransfer,
    framer: CommandFramer,
    generation: number,
  ): Promise<void> {
    const code = await raw.done;
    if (this.#raw !== raw || generation !== this.#generation) return;
    this.#raw = undefined;
    framer.endRaw();
    this.#ttDropped += raw.dropped;
    if (raw.dropped > 0) {
      // firmware rule tt-drop-when-full
      this.#log(
        `AT+SKTSENDRAW: ${raw.dropped} console bytes dropped: the TT buffer was full (no flow control: pause at High Watermark, or --flow-control rts)`,
      );
    }
    if (code === 2) this.#log(`AT+SKTSENDRAW: ERROR: 2: ${raw.failure}`);
    if (code === 4) {
      this.#log(
        `AT+SKTSENDRAW: ERROR: 4: stopped (<<<) after ${raw.sent} bytes were sent`,
      );
    }
    if (this.#closed) return;
    this.output.answer(code ? formatError(code) : OK);
    this.output.endAnswer();
    this.#kick();
  }
}

/**
 * Creates a virtual module. Many can run side by side in one process, each
 * with its own link table, options and console.
 *
 * @example
 * ```ts ignore
 * import { createModule } from "@atsock/device";
 * const module = createModule({ mode: "host" });
 * module.attach(async (bytes) => void (await Deno.stdout.write(bytes)));
 * await module.receive(new TextEncoder().encode("AT+SKTQUERY\r\n"));
 * await module.close();
 * ```
 */
export function createModule(options: ModuleOptions = {}): VirtualModule {
  return new VirtualModule(options);
}

let keepaliveDefaults:
  | { keepIdle: number; keepInterval: number; keepCount: number }
  | undefined;

/** The kernel's keepalive defaults (what a socket has until told otherwise). */
function osKeepaliveDefaults(): {
  keepIdle: number;
  keepInterval: number;
  keepCount: number;
} {
  const read = (name: string, fallback: number) => {
    try {
      return Number(
        Deno.readTextFileSync(`/proc/sys/net/ipv4/${name}`).trim(),
      ) || fallback;
    } catch {
      return fallback;
    }
  };
  keepaliveDefaults ??= {
    keepIdle: read("tcp_keepalive_time", 7200),
    keepInterval: read("tcp_keepalive_intvl", 75),
    keepCount: read("tcp_keepalive_probes", 9),
  };
  return keepaliveDefaults;
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function unmapIPv4(ip: string): string {
  return ip.startsWith("::ffff:") ? ip.slice(7) : ip;
}

function reportedAddress(bind: string): string {
  if (bind !== "0.0.0.0") return bind;
  try {
    const external = Deno.networkInterfaces().find((i) =>
      i.family === "IPv4" && !i.address.startsWith("127.")
    );
    if (external) return external.address;
  } catch { /* no --allow-sys: fall back */ }
  return "127.0.0.1";
}
