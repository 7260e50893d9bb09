/**
 * The virtual module: reads AT command lines from a console and acts on
 * real sockets as the Ameba firmware does. What a command answers is the
 * session's (`@atsock/protocol` {@linkcode ModuleSession}); this file
 * carries out the actions it asks for on the link table, and holds the
 * console, the fault layer and the transcript together.
 *
 * @module
 */

import {
  ATCMD_READY,
  AtError,
  checkLineBufferSize,
  type CommandName,
  deleteOrder,
  formatError,
  LINE_BUFFER_SIZE,
  type LinkState,
  linkStates,
  type ModuleAction,
  type ModuleAnswer,
  ModuleSession,
  PARAMETER_ERROR,
  parseCommandLine,
  type SocketConfig,
} from "@atsock/protocol";
import { ConsoleInput } from "./console_input.ts";
import type { FaultPlan } from "./fault_plan.ts";
import { FaultInjector } from "./fault_layer.ts";
import { LinkOpener } from "./link_opener.ts";
import { LinkTable, LowestFree } from "./link_table.ts";
import {
  type Link,
  type LinkContext,
  ListenerLink,
  SendError,
  StreamLink,
} from "./links.ts";
import { afterCommand } from "./log_service.ts";
import type {
  ConsoleMode,
  ModuleOptions,
  ModuleStats,
} from "./module_options.ts";
import { type ConnectRule, NetGuard, parseConnectRules } from "./net_guard.ts";
import { ConsoleOutput, type ConsoleSink } from "./output.ts";
import { SendRaw } from "./sendraw.ts";
import { message, reportedAddress, SocketFailure, Sockets } from "./sockets.ts";
import { TlsSockets } from "./tls_sockets.ts";
import type { TranscriptRecorder } from "./transcript.ts";
import { UdpLink } from "./udp_link.ts";

/** A failure the module answers with `ERROR: <code>`. */
class CommandFailure extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
  }
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
  #session: ModuleSession;
  #log: (message: string) => void;
  #links = new LinkTable<Link>();
  #context: LinkContext;
  #sockets: Sockets;
  #opener: LinkOpener;
  #input: ConsoleInput;
  #sendRaw: SendRaw;
  #closed = false;
  #pendingWork: Set<Promise<unknown>> = new Set();
  /** Bumped by {@linkcode reset}: a command from before it stays silent. */
  #generation = 0;
  #transcript: TranscriptRecorder | undefined;
  #faults: FaultInjector | undefined;
  #sink: ConsoleSink | undefined;

  /** Creates a module; see {@linkcode createModule}. */
  constructor(options: ModuleOptions = {}) {
    this.mode = options.mode ?? "manual";
    // firmware rule console-line-buffer
    const lineBuffer = checkLineBufferSize(
      options.lineBuffer ?? LINE_BUFFER_SIZE,
    );
    const bindAddress = options.bindAddress ?? "127.0.0.1";
    this.ip = options.ip ?? reportedAddress(bindAddress);
    const mbedtls = options.mbedtls ?? 2;
    if (mbedtls !== 2 && mbedtls !== 3) {
      throw new RangeError(`mbedtls must be 2 or 3, not ${options.mbedtls}`);
    }
    const log = this.#log = options.log ?? (() => {});
    const rules: ConnectRule[] | undefined = options.allowConnect
      ?.flatMap((entry) => parseConnectRules(entry));
    const guard = new NetGuard(rules);
    this.#session = new ModuleSession({ mode: this.mode });
    this.output = new ConsoleOutput({ baud: options.baud });
    this.#context = { output: this.output, fds: new LowestFree(), guard };
    this.#sockets = new Sockets({
      bindAddress,
      connectTimeoutMs: options.connectTimeoutMs ?? 10000,
      guard,
      log,
    });
    const tls = new TlsSockets(this.#sockets, {
      certs: options.certs,
      mbedtls,
      log,
    });
    this.#opener = new LinkOpener(
      {
        links: this.#links,
        context: this.#context,
        ip: this.ip,
        closed: () => this.#closed,
        track: (work) => this.#track(work),
        log,
      },
      this.#sockets,
      tls,
    );
    this.#input = new ConsoleInput({
      mode: this.mode,
      lineBuffer,
      output: this.output,
      log,
      track: (work) => this.#track(work),
      handler: {
        command: (name, line) => this.#command(name, line),
        raw: (data) => this.#sendRaw.arrive(data),
        hangUp: () => this.#sendRaw.hangUp(),
      },
    });
    this.#sendRaw = new SendRaw({
      output: this.output,
      log,
      reset: () => this.reset(),
      requeue: (bytes) => this.#input.current.push(bytes),
    }, options.flowControl ?? "none");
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
    return this.#session.config;
  }

  /** What `AT+SKTSTATE` would list, in its order. */
  state(): LinkState[] {
    return linkStates(this.#links);
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
      consoleInput: this.#input.buffered,
      received,
      datagrams,
      ended,
      transparent: this.#sendRaw.pending,
      transparentDropped: this.#sendRaw.dropped,
    };
  }

  /** Bytes of console input not yet processed. */
  get inputBuffered(): number {
    return this.#input.buffered;
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
    this.#deleteAll();
    this.#links.unreserveAll(); // A command under way makes no link.
    this.#session.reset();
    this.#sendRaw.reset();
    this.#input.reset();
    this.output.reset();
    this.#log("reset: all links closed");
    if (this.mode === "host") this.output.unsolicited(ATCMD_READY);
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
    this.#input.detach();
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
    return this.#input.push(bytes);
  }

  /** Closes every socket and stops the console output. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#sendRaw.close();
    this.#sockets.close();
    this.#faults?.close();
    this.#deleteAll();
    this.output.close();
    this.#input.close();
    await Promise.allSettled([...this.#pendingWork]);
    await this.#transcript?.flush().catch((e) =>
      this.#log(`transcript: ${message(e)}`)
    );
  }

  /**
   * Resolves once every complete command received so far has been acted
   * on (each bounded by its own timeout, as a connect is) and its answer
   * has left the console: what a console waits for when its input ends.
   */
  async idle(): Promise<void> {
    await this.#input.idle();
    await this.output.flushed();
  }

  #track<T>(work: Promise<T>): Promise<T> {
    this.#pendingWork.add(work);
    work.finally(() => this.#pendingWork.delete(work)).catch(() => {});
    return work;
  }

  /** A command line: its answer, or the raw transfer it starts. */
  async #command(name: CommandName, line: Uint8Array): Promise<void> {
    const generation = this.#generation;
    const live = () => generation === this.#generation;
    const faults = this.#faults?.onCommand(name);
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
      const step = this.#session.command(parsed.request, this.#links);
      const result = step.kind === "act"
        ? await this.#act(step.action, live)
        : step;
      if (result !== "raw" && result.kind === "error") {
        throw new CommandFailure(result.code, result.reason);
      }
      if (faults?.delayMs) await this.#faults!.sleep(faults.delayMs);
      if (result === "raw") {
        answered = true; // The answer ends with the raw transfer.
        if (faults?.resetAfterBytes === 0) this.reset();
        else if (faults?.resetAfterBytes) {
          this.#sendRaw.resetAfter(faults.resetAfterBytes);
        }
        return;
      }
      if (faults?.resetAfterBytes !== undefined) return this.reset();
      if (live()) this.output.answer(result.bytes);
    } catch (e) {
      const code = e instanceof CommandFailure || e instanceof AtError
        ? e.code
        : PARAMETER_ERROR;
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
        if (this.mode === "manual") this.output.answer(afterCommand());
        this.output.endAnswer();
      }
    }
  }

  /** Carries out what the session asked for; the session says what it answers. */
  async #act(
    action: ModuleAction,
    live: () => boolean,
  ): Promise<ModuleAnswer | "raw"> {
    const session = this.#session;
    switch (action.kind) {
      case "open":
        try {
          await this.#opener.open(action);
        } catch (e) {
          if (!(e instanceof SocketFailure)) throw e;
          return session.outcome(action, {
            ok: false,
            failure: e.failure,
            code: e.code,
            reason: e.message,
          });
        }
        return session.outcome(action, { ok: true });
      case "delete": {
        const link = this.#links.get(action.linkId);
        for (const id of action.ids) this.#delete(id);
        // The answer waits until a UDP port is free again, as lwIP's close
        // is: a datagram right after OK goes to another server on the port.
        if (link instanceof UdpLink) await link.released;
        return session.outcome(action, { ok: true });
      }
      case "send": {
        const link = this.#links.get(action.linkId) as StreamLink | UdpLink;
        try {
          if (link instanceof UdpLink) {
            await link.send(action.data, action.destination);
          } else await link.send(action.data);
        } catch (e) {
          if (!(e instanceof SendError)) throw e;
          return session.outcome(action, {
            ok: false,
            failure: "send",
            reason: e.message,
          });
        }
        return session.outcome(action, { ok: true });
      }
      case "read": {
        const link = this.#links.get(action.linkId) as StreamLink | UdpLink;
        const result = await link.read(action.size, action.waitMs);
        if (result === "closed") {
          return session.outcome(action, {
            ok: false,
            failure: "closed",
            reason:
              `link ${action.linkId}: the peer has closed and all data was read; the socket is closed`,
          });
        }
        return session.outcome(action, { ok: true, ...result });
      }
      case "send-raw": {
        const link = this.#links.get(action.linkId) as StreamLink | UdpLink;
        const framer = this.#input.current;
        this.#track(
          this.#sendRaw.start(action, link, framer, live).then((outcome) => {
            // Answered once the transfer is over; lines are read again.
            if (!outcome || this.#closed) return;
            this.output.answer(session.outcome(action, outcome).bytes);
            this.output.endAnswer();
            this.#input.kick();
          }),
        );
        return "raw";
      }
    }
  }

  /** Closes every link (reset, close), each server's seeds before it. */
  #deleteAll(): void {
    for (const [id] of this.#links.entries()) {
      for (const each of deleteOrder(this.#links, id)) this.#delete(each);
    }
  }

  /** Closes one link and frees its id. */
  #delete(id: number): void {
    const link = this.#links.get(id);
    if (!link) return;
    if (link instanceof StreamLink && link.serverId !== undefined) {
      const server = this.#links.get(link.serverId);
      if (server instanceof ListenerLink) server.seeds.delete(id);
    }
    link.close();
    this.#faults?.linkClosed(id);
    this.#links.remove(id);
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
