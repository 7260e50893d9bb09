/**
 * The host driver: sends typed requests to a module one at a time, matches
 * each answer with the protocol package, and delivers unsolicited lines as
 * typed events, never mixed into answers.
 *
 * @module
 */

import {
  AtError,
  type ClientType,
  type CommandName,
  DEFAULT_CONFIG,
  type Endpoint,
  formatRequest,
  type LinkState,
  MAX_LINE_LENGTH,
  type ModuleEvent,
  OutputParser,
  type Request,
  type ServerType,
  type SocketConfig,
} from "@atsock/protocol";
import {
  CommandTimeoutError,
  ModuleResetError,
  TransportClosedError,
} from "./errors.ts";
import type { Transport } from "./transport.ts";

/** An unsolicited event: connect, DATA, watermark, ready, other `[$]` lines, garbage. */
export type UnsolicitedEvent = Extract<
  ModuleEvent,
  { type: "connect" | "data" | "watermark" | "ready" | "urc" | "garbage" }
>;

/** What an answer carried besides its final OK. */
export interface Answer {
  /** Information lines (SKTQUERY, SKTSTATE). */
  lines: string[];
  /** The `+SKTREAD` data, if any. */
  read?: Extract<ModuleEvent, { type: "read" }>;
}

/** Options for one command. */
export interface CommandOptions {
  /** How long to wait for the final result (default: the driver's). */
  timeoutMs?: number;
  /** Cancels the wait (the module may still act on the command). */
  signal?: AbortSignal;
}

/** Options for {@linkcode AtDriver}. */
export interface DriverOptions {
  /** Default time limit per command in ms (default 10000; connects can take long). */
  timeoutMs?: number;
}

/** The `AT+SKTSENDRAW` flow-control state, for {@linkcode AtDriver.sendRaw}. */
interface RawFlow {
  paused: boolean;
  resume: (() => void)[];
}

/** The event type dispatched on the driver for every unsolicited line. */
export class UnsolicitedEventEvent extends Event {
  /** The parsed event. */
  readonly detail: UnsolicitedEvent;
  /** Creates the DOM event for `detail`. */
  constructor(detail: UnsolicitedEvent) {
    super(detail.type);
    this.detail = detail;
  }
}

type Pending = {
  name: string;
  answer: Answer;
  resolve: (answer: Answer) => void;
  reject: (error: unknown) => void;
  command: CommandName | undefined;
  onPrompt?: () => void;
};

/**
 * Bytes written between two looks at the watermarks in `AT+SKTSENDRAW`: a
 * quarter of the module's 80 KiB TT buffer, so a High Watermark is obeyed
 * long before the buffer could overflow.
 */
const RAW_PIECE = 20 * 1024;

/** Payload size that fits one `AT+SKTSEND` line in the worst case of escaping. */
const SEND_CHUNK = 900;

/**
 * Drives a module over a transport. Unsolicited events are dispatched on the
 * driver (an `EventTarget`: `connect`, `data`, `watermark`, `ready`, `urc`,
 * `garbage`) and can also be iterated with {@linkcode AtDriver.events}.
 *
 * @example
 * ```ts ignore
 * import { AtDriver, connectTcp } from "@atsock/host";
 * const driver = new AtDriver(await connectTcp({ port: 3333 }));
 * await driver.connect({ linkId: 0, type: 1, host: "example.com", port: 80 });
 * await driver.send(0, new TextEncoder().encode("GET / HTTP/1.0\r\n\r\n"));
 * ```
 */
export class AtDriver extends EventTarget {
  #transport: Transport;
  #parser = new OutputParser();
  #queue: Promise<unknown> = Promise.resolve();
  #pending: Pending | undefined;
  #timeout: number;
  #closed = false;
  #reading: Promise<void>;
  #listeners = new Set<(event: UnsolicitedEvent) => void>();
  #raw: RawFlow = { paused: false, resume: [] };
  #readyWaiters: (() => void)[] = [];
  /** Whether the module has printed anything yet on this transport. */
  #heard = false;

  /** Starts reading the transport. */
  constructor(transport: Transport, options: DriverOptions = {}) {
    super();
    this.#transport = transport;
    this.#timeout = options.timeoutMs ?? 10000;
    this.#reading = this.#read();
  }

  #holds: (() => Promise<void>)[] = [];

  /**
   * Stops reading the module until `until` settles: a slow consumer holds
   * the module (and through it the peer) back instead of growing memory.
   * Answers wait too, so do not await a command inside `until`.
   */
  holdInput(until: () => Promise<void>): void {
    this.#holds.push(until);
  }

  /** Whether the transport has closed. */
  get closed(): boolean {
    return this.#closed;
  }

  async #read(): Promise<void> {
    const reader = this.#transport.readable.getReader();
    try {
      while (true) {
        while (this.#holds.length > 0) await this.#holds.shift()!();
        const { value, done } = await reader.read();
        if (done) break;
        for (const event of this.#parser.push(value)) this.#route(event);
      }
    } catch {
      /* transport failed */
    } finally {
      reader.releaseLock();
      this.#closed = true;
      this.#pending?.reject(new TransportClosedError(this.#pending.name));
      this.#pending = undefined;
      for (const resolve of this.#raw.resume.splice(0)) resolve();
    }
  }

  #route(event: ModuleEvent): void {
    const pending = this.#pending;
    const first = !this.#heard;
    this.#heard = true;
    switch (event.type) {
      case "ok":
        if (pending) {
          this.#pending = undefined;
          pending.resolve(pending.answer);
        }
        return;
      case "error":
        if (pending) {
          this.#pending = undefined;
          pending.reject(
            new AtError(pending.command, event.code, {
              detail: `answer to ${pending.name}`,
            }),
          );
        }
        return;
      case "line":
        pending?.answer.lines.push(event.text);
        return;
      case "read":
        if (pending) pending.answer.read = event;
        return;
      case "prompt":
        pending?.onPrompt?.();
        return;
      case "echo":
        return;
      case "ready":
        // The very first thing a module prints on a fresh transport is its
        // greeting (a TCP console greets every new client), not a restart
        // in the middle of the command just sent.
        if (pending && !first) {
          this.#pending = undefined;
          pending.reject(new ModuleResetError(pending.name));
        }
        for (const resolve of this.#readyWaiters.splice(0)) resolve();
        break;
      case "watermark":
        this.#raw.paused = event.level === "high";
        if (!this.#raw.paused) {
          for (const resolve of this.#raw.resume.splice(0)) resolve();
        }
        break;
    }
    this.#emit(event as UnsolicitedEvent);
  }

  #emit(event: UnsolicitedEvent): void {
    for (const listener of this.#listeners) listener(event);
    this.dispatchEvent(new UnsolicitedEventEvent(event));
  }

  /**
   * Iterates unsolicited events from now on (buffered without limit while
   * the iterator is not consumed: read it promptly or break out of it).
   */
  async *events(): AsyncGenerator<UnsolicitedEvent> {
    const buffer: UnsolicitedEvent[] = [];
    let wake: (() => void) | undefined;
    const listener = (event: UnsolicitedEvent) => {
      buffer.push(event);
      wake?.();
    };
    this.#listeners.add(listener);
    try {
      while (true) {
        while (buffer.length > 0) yield buffer.shift()!;
        if (this.#closed) return;
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
    } finally {
      this.#listeners.delete(listener);
    }
  }

  /** Waits for `ATCMD READY` (a module starting in Host Control Mode). */
  waitReady(options: CommandOptions = {}): Promise<void> {
    const ms = options.timeoutMs ?? this.#timeout;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new CommandTimeoutError("ATCMD READY", ms)),
        ms,
      );
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      this.#readyWaiters.push(done);
      options.signal?.addEventListener("abort", () => {
        clearTimeout(timer);
        reject(options.signal!.reason);
      }, { once: true });
    });
  }

  /**
   * Sends one request and waits for its final result. Commands queue behind
   * each other: one is in flight at a time.
   */
  command(request: Request, options: CommandOptions = {}): Promise<Answer> {
    const run = this.#queue.then(() => this.#exchange(request, options));
    this.#queue = run.catch(() => {});
    return run;
  }

  async #exchange(
    request: Request,
    options: CommandOptions,
    onPrompt?: () => void,
  ): Promise<Answer> {
    const line = formatRequest(request);
    const name = describe(request);
    if (this.#closed) throw new TransportClosedError(name);
    options.signal?.throwIfAborted();
    const ms = options.timeoutMs ?? this.#timeout;
    if (request.command === "SKTREAD") {
      this.#parser.hintRead(this.#udp.has(request.linkId) ? "udp" : "tcp");
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const answer = new Promise<Answer>((resolve, reject) => {
      this.#pending = {
        name,
        command: request.command,
        answer: { lines: [] },
        resolve,
        reject,
        onPrompt,
      };
      timer = setTimeout(() => {
        if (this.#pending?.name === name) this.#pending = undefined;
        reject(new CommandTimeoutError(name, ms));
      }, ms);
      options.signal?.addEventListener("abort", () => {
        if (this.#pending?.name === name) this.#pending = undefined;
        reject(options.signal!.reason);
      }, { once: true });
    });
    try {
      await this.#transport.write(line);
      return await answer;
    } catch (e) {
      if (e instanceof CommandTimeoutError) await this.#resync();
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Link ids known to be UDP (for the `+SKTREAD` sender fields). */
  #udp = new Set<number>();

  /**
   * After a timeout a late answer could be taken for the next command's:
   * ask for the options block, whose shape nothing else has, and drop
   * everything up to its end.
   */
  async #resync(): Promise<void> {
    if (this.#closed) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        const wait = (): Pending => ({
          name: "resync",
          command: "SKTQUERY",
          answer: { lines: [] },
          resolve: (answer) => {
            if (answer.lines.includes("Global SOCKET configuration:")) {
              resolve();
            } else this.#pending = wait(); // A late answer: keep waiting.
          },
          reject: () => (this.#pending = wait()),
        });
        this.#pending = wait();
        timer = setTimeout(
          () => reject(new Error("resync timed out")),
          this.#timeout,
        );
        this.#transport.write(formatRequest({ command: "SKTQUERY" })).catch(
          reject,
        );
      });
    } catch {
      /* still silent: the next command will say so */
    } finally {
      clearTimeout(timer);
      this.#pending = undefined;
    }
  }

  // ---- typed commands ----

  /** `AT+SKTCFG`: sets all seven options (missing fields take the defaults). */
  async configure(
    config: Partial<SocketConfig>,
    options?: CommandOptions,
  ): Promise<void> {
    const full = { ...DEFAULT_CONFIG, ...config };
    check(
      Number.isInteger(full.sendTimeout) && full.sendTimeout >= 0,
      "sendTimeout must be a whole number of ms >= 0",
    );
    check(
      Number.isInteger(full.receiveTimeout) && full.receiveTimeout >= 0,
      "receiveTimeout must be a whole number of ms >= 0",
    );
    check(
      Number.isInteger(full.keepIdle) && full.keepIdle >= 0 &&
        full.keepIdle <= 7200,
      "keepIdle must be 0..7200 s",
    );
    check(
      Number.isInteger(full.keepInterval) && full.keepInterval >= 0 &&
        full.keepInterval <= 75,
      "keepInterval must be 0..75 s",
    );
    check(
      Number.isInteger(full.keepCount) && full.keepCount >= 0 &&
        full.keepCount <= 10,
      "keepCount must be 0..10",
    );
    await this.command({ command: "SKTCFG", config: full }, options);
  }

  /** `AT+SKTQUERY`: the global options. */
  async query(options?: CommandOptions): Promise<SocketConfig> {
    const answer = await this.command({ command: "SKTQUERY" }, options);
    return parseQuery(answer.lines);
  }

  /** `AT+SKTSERVER`: starts a server on a link. */
  async listen(
    server: {
      linkId: number;
      type?: ServerType;
      port: number;
      certIndex?: number;
      autoReceive?: boolean;
    },
    options?: CommandOptions,
  ): Promise<void> {
    const type = server.type ?? 1;
    checkLink(server.linkId);
    checkPort(server.port);
    if (type >= 2) checkCert(server.certIndex);
    await this.command({
      command: "SKTSERVER",
      linkId: server.linkId,
      type,
      ...(type >= 2 ? { certIndex: server.certIndex } : {}),
      port: server.port,
      autoReceive: server.autoReceive ?? true,
    }, options);
    if (type === 0) this.#udp.add(server.linkId);
    else this.#udp.delete(server.linkId);
  }

  /** `AT+SKTCLIENT`: connects a link to a remote server. */
  async connect(
    client: {
      linkId: number;
      type?: ClientType;
      host: string;
      port: number;
      localPort?: number;
      certIndex?: number;
      autoReceive?: boolean;
    },
    options?: CommandOptions,
  ): Promise<void> {
    const type = client.type ?? 1;
    checkLink(client.linkId);
    checkPort(client.port);
    check(
      client.host.length > 0 && client.host.length <= 255 &&
        !/[,\r\n]/.test(client.host),
      "host must be 1..255 characters without commas or line ends",
    );
    if (type === 0) checkPort(client.localPort ?? 0, "localPort");
    if (type >= 3) checkCert(client.certIndex);
    await this.command({
      command: "SKTCLIENT",
      linkId: client.linkId,
      type,
      ...(type >= 3 ? { certIndex: client.certIndex } : {}),
      host: client.host,
      port: client.port,
      ...(type === 0 ? { localPort: client.localPort } : {}),
      autoReceive: client.autoReceive ?? true,
    }, options);
    if (type === 0) this.#udp.add(client.linkId);
    else this.#udp.delete(client.linkId);
  }

  /**
   * `AT+SKTSEND`: sends bytes, split over as many commands as the 2000-byte
   * command buffer needs. Data may hold any byte but CR and LF (they end a
   * command line); use {@linkcode sendRaw} for those in Host Control Mode.
   */
  async send(
    linkId: number,
    data: Uint8Array,
    destination?: Endpoint,
    options?: CommandOptions,
  ): Promise<void> {
    checkLink(linkId);
    check(data.length > 0, "data is empty");
    check(
      !data.includes(13) && !data.includes(10),
      "AT+SKTSEND cannot carry CR or LF bytes: use sendRaw (Host Control Mode)",
    );
    if (destination) checkEndpoint(destination);
    for (let i = 0; i < data.length; i += SEND_CHUNK) {
      const request: Request = {
        command: "SKTSEND",
        linkId,
        data: data.subarray(i, i + SEND_CHUNK),
      };
      if (destination) request.destination = destination;
      if (formatRequest(request).length - 2 > MAX_LINE_LENGTH) {
        throw new RangeError(
          "internal: SKTSEND chunk exceeds the command buffer",
        );
      }
      await this.command(request, options);
    }
  }

  /** `AT+SKTREAD`: reads up to `size` buffered bytes (waits about 20 ms on the module). */
  async read(linkId: number, size: number, options?: CommandOptions): Promise<{
    data: Uint8Array;
    size: number;
    truncated: boolean;
    sender?: Endpoint;
  }> {
    checkLink(linkId);
    check(
      Number.isInteger(size) && size >= 1,
      "size must be a whole number >= 1",
    );
    const answer = await this.command(
      { command: "SKTREAD", linkId, size },
      options,
    );
    const read = answer.read;
    if (!read) return { data: new Uint8Array(), size: 0, truncated: false };
    return {
      data: read.data,
      size: read.size,
      truncated: read.truncated,
      ...(read.sender ? { sender: read.sender } : {}),
    };
  }

  /**
   * `AT+SKTSENDRAW` (Host Control Mode): sends raw bytes of any value, from
   * a buffer or a stream of known total size, pausing between the module's
   * High and Low Watermark lines.
   */
  sendRaw(
    linkId: number,
    data: Uint8Array | { size: number; stream: ReadableStream<Uint8Array> },
    destination?: Endpoint,
    options: CommandOptions & {
      onProgress?: (sent: number, total: number) => void;
    } = {},
  ): Promise<void> {
    checkLink(linkId);
    const size = data instanceof Uint8Array ? data.length : data.size;
    check(Number.isInteger(size) && size >= 1, "size must be >= 1");
    if (destination) checkEndpoint(destination);
    const request: Request = { command: "SKTSENDRAW", linkId, size };
    if (destination) request.destination = destination;
    const run = this.#queue.then(async () => {
      let promptSeen!: () => void;
      const prompt = new Promise<void>((resolve) => (promptSeen = resolve));
      const answer = this.#exchange(request, {
        ...options,
        timeoutMs: options.timeoutMs ?? 24 * 3600 * 1000,
      }, () => promptSeen());
      await Promise.race([prompt, answer]);
      let sent = 0;
      const push = async (chunk: Uint8Array) => {
        for (let i = 0; i < chunk.length; i += RAW_PIECE) {
          while (this.#raw.paused && !this.#closed) {
            await new Promise<void>((resolve) =>
              this.#raw.resume.push(resolve)
            );
          }
          const piece = chunk.subarray(i, i + RAW_PIECE);
          await this.#transport.write(piece);
          sent += piece.length;
          options.onProgress?.(sent, size);
        }
      };
      if (data instanceof Uint8Array) await push(data);
      else {
        for await (const chunk of data.stream) {
          const room = size - sent;
          if (room <= 0) break;
          await push(chunk.subarray(0, room));
        }
        if (sent < size) {
          throw new RangeError(
            `the stream ended after ${sent} of ${size} bytes`,
          );
        }
      }
      await answer;
    });
    this.#queue = run.catch(() => {});
    return run;
  }

  /**
   * `AT+SKTSTATE`: every link, parsed. The driver also learns from it which
   * links are UDP, so that a later `AT+SKTREAD` on a link this driver did
   * not create is parsed with its sender fields.
   */
  async state(options?: CommandOptions): Promise<LinkState[]> {
    const answer = await this.command({ command: "SKTSTATE" }, options);
    const links = answer.lines.map(parseStateLine).filter((
      s,
    ): s is LinkState => s !== undefined);
    this.#udp.clear();
    for (const link of links) {
      if (link.protocol === "udp") this.#udp.add(link.linkId);
    }
    return links;
  }

  /** `AT+SKTDEL`: deletes a link (a server with its seeds). */
  async remove(linkId: number, options?: CommandOptions): Promise<void> {
    checkLink(linkId);
    await this.command({ command: "SKTDEL", linkId }, options);
    this.#udp.delete(linkId);
  }

  /** Closes the transport; queued commands fail with {@linkcode TransportClosedError}. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#transport.close();
    await this.#reading;
  }
}

function check(ok: boolean, message: string): asserts ok {
  if (!ok) throw new RangeError(message);
}

function checkLink(id: number): void {
  check(
    Number.isInteger(id) && id >= 0 && id <= 19,
    `link id must be 0..19, not ${id}`,
  );
}

function checkPort(port: number, name = "port"): void {
  check(
    Number.isInteger(port) && port >= 1 && port <= 65535,
    `${name} must be 1..65535, not ${port}`,
  );
}

function checkCert(index: number | undefined): void {
  check(
    index !== undefined && Number.isInteger(index) && index >= 1 && index <= 10,
    `certIndex must be 1..10 for this type`,
  );
}

function checkEndpoint(endpoint: Endpoint): void {
  check(
    /^\d{1,3}(\.\d{1,3}){3}$/.test(endpoint.ip),
    `destination ip must be IPv4, not ${endpoint.ip}`,
  );
  checkPort(endpoint.port, "destination port");
}

function describe(request: Request): string {
  const line = new TextDecoder().decode(formatRequest(request)).trimEnd();
  return line.length > 60 ? line.slice(0, 57) + "..." : line;
}

/** Parses the `AT+SKTQUERY` block. */
export function parseQuery(lines: readonly string[]): SocketConfig {
  const value = (name: string) => {
    const line = lines.find((l) => l.startsWith(`${name}: `));
    if (line === undefined) throw new Error(`AT+SKTQUERY answer lacks ${name}`);
    return Number(line.slice(name.length + 2));
  };
  return {
    sendTimeout: value("so_sndtimeo"),
    receiveTimeout: value("so_rcvtimeo"),
    noDelay: value("tcp_nodelay") === 1,
    keepAlive: value("so_keepalive") === 1,
    keepIdle: value("tcp_keepidle"),
    keepInterval: value("tcp_keepintvl"),
    keepCount: value("tcp_keepcnt"),
  };
}

const STATE_LINE =
  /^link_id:(\d+),(server|client|seed),(tcp|udp|ssl),src_address:([^,]*),src_port:(\d+),dst_address:([^,]*),dst_port:(\d+),socket_fd:(-?\d+)$/;

/** Parses one `AT+SKTSTATE` line (undefined if it is not one). */
export function parseStateLine(line: string): LinkState | undefined {
  const m = STATE_LINE.exec(line);
  if (!m) return undefined;
  return {
    linkId: Number(m[1]),
    role: m[2] as LinkState["role"],
    protocol: m[3] as LinkState["protocol"],
    source: { ip: m[4], port: Number(m[5]) },
    destination: { ip: m[6], port: Number(m[7]) },
    socketFd: Number(m[8]),
  };
}
