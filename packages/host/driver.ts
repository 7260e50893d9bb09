/**
 * The host driver: sends typed requests to a module one at a time, matches
 * each answer with the protocol package's {@linkcode HostSession}, and
 * delivers unsolicited lines as typed events, never mixed into answers.
 * The queue and its recovery are in `command_queue.ts`, the link mirror in
 * `link_table.ts`, the raw transfer in `raw_send.ts`, the argument checks
 * in `args.ts`; this module reads the transport and routes what it reads.
 *
 * @module
 */

import {
  type Answer,
  AtError,
  DEFAULT_CONFIG,
  type Endpoint,
  type FlowControl,
  HostSession,
  type HostSessionEvent,
  type LinkState,
  type Request,
  type SocketConfig,
  type UnsolicitedEvent,
} from "@atsock/protocol";
import {
  check,
  checkConfig,
  checkLink,
  checkReadSize,
  type ClientArgs,
  clientRequest,
  driverSettings,
  NO_SUCH_LINK,
  rawRequest,
  sendRequests,
  type ServerArgs,
  serverRequest,
} from "./args.ts";
import {
  parseQuery,
  parseStateLine,
  type ReadResult,
  readResult,
} from "./answers.ts";
import { CommandQueue } from "./command_queue.ts";
import { Deadline } from "./deadline.ts";
import {
  type CommandOptions,
  DEFAULT_TIMEOUT_MS,
  type DriverOptions,
  type WatchOptions,
} from "./options.ts";
import { ModuleResetError, TransportClosedError } from "./errors.ts";
import {
  type DroppedEvents,
  EventFeed,
  ReadySignal,
  UnresponsiveEvent,
  UnsolicitedEventEvent,
  watchModule,
} from "./events.ts";
import {
  type HostLink,
  type HostServer,
  type LinkStreamOptions,
  linkView,
} from "./link.ts";
import { LinkTable } from "./link_table.ts";
import {
  type RawData,
  type RawOptions,
  sendRaw,
  Watermarks,
} from "./raw_send.ts";
import type { Transport } from "./transport.ts";

export type {
  Answer,
  CommandOptions,
  DriverOptions,
  DroppedEvents,
  UnsolicitedEvent,
  WatchOptions,
};
export { parseQuery, parseStateLine, UnresponsiveEvent, UnsolicitedEventEvent };

/**
 * Drives a module over a transport. Unsolicited events are dispatched on the
 * driver (an `EventTarget`: `connect`, `data`, `watermark`, `ready`, `urc`,
 * `garbage`, and `unresponsive` as an {@linkcode UnresponsiveEvent}) and can
 * also be iterated with {@linkcode AtDriver.events}.
 *
 * @example
 * ```ts ignore
 * import { AtDriver, connectTcp } from "@atsock/host";
 * const driver = new AtDriver(await connectTcp({ port: 3333 }));
 * const link = await driver.connect({ linkId: 0, host: "example.com", port: 80 });
 * const writer = link.writable.getWriter();
 * await writer.write(new TextEncoder().encode("GET / HTTP/1.0\r\n\r\n"));
 * ```
 */
export class AtDriver extends EventTarget {
  #transport: Transport;
  #session = new HostSession();
  #queue: CommandQueue;
  #links: LinkTable;
  #watermarks = new Watermarks();
  #feed = new EventFeed();
  #closed = false;
  #reading: Promise<void>;
  #ready = new ReadySignal();
  #inputWake: (() => void) | undefined;
  #watchers = new Set<() => void>();
  #flowControl: FlowControl;

  /** Starts reading the transport. */
  constructor(transport: Transport, options: DriverOptions = {}) {
    super();
    this.#transport = transport;
    const settings = driverSettings(options);
    this.#flowControl = settings.flowControl;
    this.#queue = new CommandQueue(
      this.#session,
      transport,
      options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      {
        closed: () => this.#closed,
        unresponsive: (e) => this.dispatchEvent(new UnresponsiveEvent(e)),
        busy: this.#wakeInput,
      },
    );
    this.#links = new LinkTable({
      driver: this,
      session: this.#session,
      changed: this.#wakeInput,
      quietMs: settings.closeCheckMs,
      closed: () => this.#closed,
    });
    this.#reading = this.#read();
  }

  /** Whether the transport has closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * True while the driver has stopped reading the module on purpose: a
   * claimed `auto_rcv=1` link's reader is behind and nothing else needs
   * the module (see `link.ts`).
   */
  get paused(): boolean {
    if (this.#closed || this.#queue.inFlight > 0) return false;
    return this.#links.paused;
  }

  #wakeInput = (): void => {
    const wake = this.#inputWake;
    this.#inputWake = undefined;
    wake?.();
  };

  async #read(): Promise<void> {
    const reader = this.#transport.readable.getReader();
    let failure: unknown;
    try {
      while (true) {
        while (this.paused) {
          await new Promise<void>((resolve) => (this.#inputWake = resolve));
        }
        const { value, done } = await reader.read();
        if (done) break;
        for (const event of this.#session.receive(value)) this.#route(event);
        // A reader behind: let it run before the next read (the module
        // may have to be read on for a command, but not ahead of readers).
        if (this.#links.anyFull()) await new Promise((r) => setTimeout(r, 0));
      }
    } catch (e) {
      failure = e; // Reported as the cause of every TransportClosedError below.
    } finally {
      reader.releaseLock();
      this.#closed = true;
      const closed = (what: string) =>
        new TransportClosedError(what, { cause: failure });
      this.#queue.close(closed);
      this.#watermarks.release();
      this.#ready.fail(closed("ATCMD READY"));
      this.#links.dropAll(closed(this.#transport.name));
      for (const stop of this.#watchers) stop();
      this.#feed.end();
    }
  }

  #route(event: HostSessionEvent): void {
    switch (event.type) {
      case "settled":
      case "prompt":
        this.#queue.handle(event);
        return;
      case "final":
        this.#links.answered();
        return;
      case "ready":
        this.#watermarks.reset();
        this.#links.dropAll(new ModuleResetError("link"));
        this.#ready.fire();
        break;
      case "watermark":
        this.#watermarks.level(event.level);
        break;
      case "data":
        this.#links.push(event.linkId, event.data);
        break;
      case "connect":
        this.#links.seed(event);
        break;
    }
    this.#feed.emit(event);
    this.dispatchEvent(new UnsolicitedEventEvent(event));
  }

  /**
   * Iterates unsolicited events from now on. While the iterator is not
   * consumed, at most `maxBuffered` events (default 4096) holding at most
   * `maxBufferedBytes` of DATA and garbage bytes (default 4 MiB) are kept:
   * older ones are dropped and a {@linkcode DroppedEvents} with their count
   * is yielded before the next event. Ends when the transport closes.
   */
  events(
    options: { maxBuffered?: number; maxBufferedBytes?: number } = {},
  ): AsyncGenerator<UnsolicitedEvent | DroppedEvents> {
    return this.#feed.iterate(() => this.#closed, options);
  }

  /**
   * Waits for `ATCMD READY` (a module starting in Host Control Mode). A
   * READY that arrived while nobody waited is remembered: the first call
   * after it returns at once.
   */
  async waitReady(options: CommandOptions = {}): Promise<void> {
    if (this.#ready.claim()) return;
    if (this.#closed) throw new TransportClosedError("ATCMD READY");
    options.signal?.throwIfAborted();
    // Registered before the timer: making one can let a pending read run.
    const ready = this.#ready.next();
    const limit = new Deadline(
      "ATCMD READY",
      options.timeoutMs ?? this.#queue.timeoutMs,
      options.signal,
    );
    try {
      await limit.race(ready.promise);
    } finally {
      ready.cancel();
      limit.dispose();
    }
  }

  /**
   * Probes the module with `AT+SKTSTATE` every `intervalMs` while the
   * driver is idle (not while a link holds the module back on purpose). A
   * probe without an answer dispatches `unresponsive` (as does any command
   * that times out); probes also notice peers gone from `auto_rcv=1` links.
   * Returns a function that stops the probing; closing the driver stops it.
   */
  watch(options: WatchOptions): () => void {
    check(
      Number.isFinite(options.intervalMs) && options.intervalMs > 0,
      "intervalMs must be > 0",
    );
    const stopProbing = watchModule(options.intervalMs, {
      closed: () => this.#closed,
      idle: () => this.#queue.inFlight === 0 && !this.paused,
      probe: () => this.state({ timeoutMs: options.timeoutMs }),
    });
    const stop = () => {
      stopProbing();
      this.#watchers.delete(stop);
    };
    this.#watchers.add(stop);
    return stop;
  }

  /**
   * Sends one request and waits for its final result. Commands queue behind
   * each other: one is in flight at a time.
   */
  command(request: Request, options: CommandOptions = {}): Promise<Answer> {
    return this.#queue.enqueue(() => this.#queue.exchange(request, options));
  }

  /**
   * Streams for a link id. Views of the same id share one read side (made
   * by {@linkcode connect} or {@linkcode listen}, or here on first use);
   * each view has its own writable with its own `write` mode.
   */
  link(linkId: number, options: LinkStreamOptions = {}): HostLink {
    checkLink(linkId, "AtDriver.link");
    return linkView(this.#links.use(linkId, options), this, options);
  }

  /** Whether the driver holds streams for a link id. */
  hasLink(linkId: number): boolean {
    return this.#links.get(linkId) !== undefined;
  }

  /** `AT+SKTCFG`: sets all seven options (missing fields take the defaults). */
  async configure(
    config: Partial<SocketConfig>,
    options?: CommandOptions,
  ): Promise<void> {
    const full = { ...DEFAULT_CONFIG, ...config };
    checkConfig(full);
    await this.command({ command: "SKTCFG", config: full }, options);
  }

  /** `AT+SKTQUERY`: the global options. */
  async query(options?: CommandOptions): Promise<SocketConfig> {
    const answer = await this.command({ command: "SKTQUERY" }, options);
    return parseQuery(answer.lines);
  }

  /**
   * `AT+SKTSERVER`: starts a server on a link. The result gives its seeds
   * as links (`for await (const link of server)`), each read the way the
   * server's `autoReceive` says and written as `streams.write` says. A UDP
   * server (type 0) has no seeds: use {@linkcode link} on its id.
   */
  listen(
    server: ServerArgs & {
      /** Stream options for the seeds (and a UDP server's own link). */
      streams?: LinkStreamOptions;
    },
    options?: CommandOptions,
  ): Promise<HostServer> {
    const request = serverRequest(server);
    const streams = server.streams ?? {};
    return this.#queue.enqueue(() =>
      this.#links.open(
        request,
        streams,
        (core) => this.#links.addServer(request.linkId, core, streams),
        () => this.#queue.exchange(request, options ?? {}),
      )
    );
  }

  /**
   * `AT+SKTCLIENT`: connects a link to a remote server and returns it as a
   * link. Its read side exists before the command is written, so data that
   * arrives with the OK is kept; it is read the way `autoReceive` says
   * (`auto` DATA lines, or `poll` with `AT+SKTREAD`).
   */
  connect(
    client: ClientArgs & {
      /** Stream options for the link (write mode, buffer bounds). */
      streams?: LinkStreamOptions;
    },
    options?: CommandOptions,
  ): Promise<HostLink> {
    const request = clientRequest(client);
    const streams = client.streams ?? {};
    return this.#queue.enqueue(() =>
      this.#links.open(
        request,
        streams,
        (core) => linkView(core, this, streams),
        () => this.#queue.exchange(request, options ?? {}),
      )
    );
  }

  /**
   * `AT+SKTSEND`: sends bytes, split over as many commands as the 2000-byte
   * command buffer needs. Data may hold a lone CR or LF, but not bytes the
   * module's line reader changes (NUL, BS, TAB, DEL, 0xFF, CR LF); use
   * {@linkcode sendRaw} for those in Host Control Mode.
   */
  async send(
    linkId: number,
    data: Uint8Array,
    destination?: Endpoint,
    options?: CommandOptions,
  ): Promise<void> {
    const udp = this.#session.isUdp(linkId);
    for (const request of sendRequests(linkId, data, destination, udp)) {
      await this.command(request, options);
    }
  }

  /**
   * `AT+SKTREAD`: reads up to `size` buffered bytes (waits about 20 ms on
   * the module). `sender` is the UDP sender of the datagram read, also of
   * an empty (0-byte) one (`size` 0); it is absent when nothing came (the
   * module prints `0.0.0.0,0` then) and on TCP and TLS links.
   *
   * After a peer has closed, the read that meets the end throws the
   * module's `AtError` 4 (the module closes the socket), and every later
   * read throws `AtError` 1 (the link has no socket: `socket_fd:-1`);
   * both mean the end of the stream. A link's `readable` ends on either.
   */
  async read(
    linkId: number,
    size: number,
    options?: CommandOptions,
  ): Promise<ReadResult> {
    checkLink(linkId, "SKTREAD");
    checkReadSize(size);
    const request = { command: "SKTREAD" as const, linkId, size };
    return readResult(await this.command(request, options));
  }

  /**
   * `AT+SKTSENDRAW` (Host Control Mode): sends raw bytes of any value, from
   * a buffer or a stream of known total size, in pieces of 8 KiB, pausing
   * between the module's High and Low Watermark lines, so that a module
   * without flow control (which drops bytes its full TT buffer cannot take)
   * loses none; the rule and its limits are in `raw_pace.ts` and
   * `docs/getting-started-host-library.md`; with RTS flow control (the
   * driver's `flowControl`, or this call's) it writes at full speed.
   *
   * The default time limit is the driver's plus the time the bytes take at
   * 9600 baud. If the transfer fails after the module's `>>>` (timeout,
   * abort, a stream shorter than `size`), the driver ends raw mode with
   * `<`,`<`,`<` and 30 ms of silence and waits for the module's final
   * result before the next command: the peer has then received the bytes
   * written before the failure followed by the `<` bytes (the firmware
   * sends them with the payload), and the module answers `OK` for a
   * payload of at most 10 KiB, `ERROR: 4` for a larger one.
   */
  sendRaw(
    linkId: number,
    data: RawData,
    destination?: Endpoint,
    options: RawOptions = {},
  ): Promise<void> {
    const request = rawRequest(linkId, data, destination);
    const context = {
      queue: this.#queue,
      watermarks: this.#watermarks,
      closed: () => this.#closed,
      flowControl: this.#flowControl,
    };
    return this.#queue.enqueue(() => sendRaw(context, request, data, options));
  }

  /**
   * `AT+SKTSTATE`: every link, parsed. Links of this driver that show
   * `socket_fd:-1` (the peer has gone) end their readable once the data
   * printed before that is delivered; links that are missing end at once.
   * The driver also learns from it which links are UDP, so that a later
   * `AT+SKTREAD` on a link this driver did not create is parsed with its
   * sender fields.
   */
  async state(options?: CommandOptions): Promise<LinkState[]> {
    const answer = await this.command({ command: "SKTSTATE" }, options);
    const states = answer.lines.flatMap((line) => parseStateLine(line) ?? []);
    this.#session.learnStates(states);
    this.#links.learn(states);
    return states;
  }

  /**
   * Finds out now which links' peers have gone (the module prints nothing
   * when one closes): `AT+SKTSTATE`, and the readable of every link that
   * shows `socket_fd:-1` ends, once the data printed before is delivered
   * (a second `AT+SKTSTATE` lets any DATA line held back by the first
   * answer out first). The driver does this by itself when an `auto_rcv=1`
   * reader has waited `closeCheckMs`.
   */
  async checkLinks(options?: CommandOptions): Promise<void> {
    await this.state(options);
    if (this.#links.ending > 0) await this.state(options);
  }

  /**
   * `AT+SKTDEL`: deletes a link (a server with its seeds); its streams end.
   * An `ERROR: 1` (no such link) also ends them, then is thrown.
   */
  async remove(linkId: number, options?: CommandOptions): Promise<void> {
    checkLink(linkId, "SKTDEL");
    await this.command({ command: "SKTDEL", linkId }, options).catch((e) => {
      if (e instanceof AtError && e.code === NO_SUCH_LINK) {
        this.#links.forget(linkId);
      }
      throw e;
    });
    this.#links.forget(linkId);
  }

  /** Closes the transport; queued commands fail with {@linkcode TransportClosedError}. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const stop of this.#watchers) stop();
    this.#wakeInput();
    await this.#transport.close();
    await this.#reading;
  }
}
