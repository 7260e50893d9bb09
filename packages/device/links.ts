/**
 * The links behind link ids: TCP (and TLS) byte streams and TCP listeners
 * (UDP sockets are `udp_link.ts`), each with the firmware's receive behaviour: `auto_rcv=1`
 * prints DATA lines as data arrives (holding the peer back while the
 * console is slow), `auto_rcv=0` keeps at most a TCP window or six
 * datagrams for `AT+SKTREAD`.
 *
 * @module
 */

import {
  encodeLatin1,
  type Endpoint,
  type LinkRole,
  type LinkState,
  type NetEvent,
  READ_WAIT_MS,
  TCP_WINDOW,
} from "@atsock/protocol";
import type { ConsoleOutput } from "./output.ts";
import type { LowestFree } from "./link_table.ts";
import type { ByteConn } from "./node_conn.ts";
import type { NetGuard } from "./net_guard.ts";
import type { NetDetail } from "./transcript.ts";

export const ANY: Endpoint = { ip: "0.0.0.0", port: 0 };
const CRLF = new Uint8Array([13, 10]);

/**
 * Bytes an auto-receive link reads at once: one `[$][SKT][DATA]` line
 * carries at most this (`AT_SOCKET_RECEIVE_BUFFER_SIZE`, 16 KiB).
 */
// firmware rule data-line-size
export const AUTO_READ = 16 * 1024;
/** What an auto-receive TCP/TLS link asks of its host socket at once. */
const STREAM_READ = 4 * AUTO_READ;

/**
 * `data` as consecutive DATA lines of at most {@linkcode AUTO_READ} bytes
 * each, in one buffer (one console write).
 */
function dataLines(id: number, data: Uint8Array): Uint8Array {
  const heads: Uint8Array[] = [];
  let size = 0;
  for (let at = 0; at < data.length; at += AUTO_READ) {
    const n = Math.min(AUTO_READ, data.length - at);
    const head = encodeLatin1(`[$][SKT][DATA][${id}][${n}]:`);
    heads.push(head);
    size += head.length + n + CRLF.length;
  }
  const out = new Uint8Array(size);
  let offset = 0;
  heads.forEach((head, i) => {
    const piece = data.subarray(i * AUTO_READ, (i + 1) * AUTO_READ);
    out.set(head, offset);
    out.set(piece, offset += head.length);
    out.set(CRLF, offset += piece.length);
    offset += CRLF.length;
  });
  return out;
}

/** What links share with their module. */
export interface LinkContext {
  /** The console output, for DATA lines. */
  output: ConsoleOutput;
  /** lwIP-style socket numbers. */
  fds: LowestFree;
  /** What UDP sends may reach (default: anything Deno allows). */
  guard?: NetGuard;
  /** Records network events (a transcript is on), or nothing. */
  net?: NetRecorder;
  /** The fault layer's hooks (a fault plan is in use), or nothing. */
  faults?: LinkFaults;
}

/** Where links report their network events (the transcript recorder). */
export interface NetRecorder {
  /** One event on a link. */
  net(link: number, event: NetEvent, detail?: NetDetail): void;
}

/** What the fault layer may do to a link's receive side. */
export interface LinkFaults {
  /** Before a TCP/TLS link reads its socket: a stall to wait out, or undefined. */
  beforeRead(link: number): Promise<void> | undefined;
  /**
   * A TCP/TLS link has received data, not yet printed (DATA line) or kept
   * (for `AT+SKTREAD`): a delay to wait out, or undefined.
   */
  onData(link: number, bytes: number): Promise<void> | undefined;
}

export function endpoint(e: Endpoint): string {
  return `${e.ip}:${e.port}`;
}

/** What `AT+SKTREAD` gets from a link. */
export type ReadResult =
  | { data: Uint8Array; sender?: Endpoint }
  | "closed";

/** Why a send failed (answered `ERROR: 2`). */
export class SendError extends Error {
  /** Creates a send error. */
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "SendError";
  }
}

/** Common state of every link. */
export abstract class Link {
  /** The link id. */
  readonly id: number;
  /** server, client or seed. */
  abstract readonly role: LinkRole;
  /** tcp, udp or tls. */
  abstract readonly protocol: "tcp" | "udp" | "tls";
  /** Whether received data is printed as DATA lines. */
  readonly autoReceive: boolean;
  /** The lwIP-style socket number, -1 once the socket has gone. */
  fd: number;
  protected readonly context: LinkContext;

  /** Creates a link and takes a socket number for it. */
  constructor(id: number, autoReceive: boolean, context: LinkContext) {
    this.id = id;
    this.autoReceive = autoReceive;
    this.context = context;
    this.fd = context.fds.take() ?? -1;
  }

  /** The line `AT+SKTSTATE` prints for this link. */
  abstract state(): LinkState;

  /** Frees the socket number: the socket is gone but the id stays in use. */
  protected gone(): void {
    if (this.fd >= 0) this.context.fds.release(this.fd);
    this.fd = -1;
  }

  /** Closes the socket and frees its number (SKTDEL). */
  abstract close(): void;
}

/** A connected byte stream: a TCP or TLS client or seed. */
export class StreamLink extends Link {
  /** client or seed. */
  readonly role: "client" | "seed";
  /** tcp or tls. */
  readonly protocol: "tcp" | "tls";
  /** The remote peer. */
  readonly peer: Endpoint;
  /** The server link id, for seeds. */
  readonly serverId: number | undefined;
  /** What `AT+SKTSTATE` shows as its source (`0.0.0.0:0` for seeds). */
  readonly source: Endpoint;
  /** so_sndtimeo in force when the link was made (0: none). */
  readonly sendTimeoutMs: number;
  #conn: ByteConn;
  #buffer: Uint8Array[] = [];
  #buffered = 0;
  #eof = false;
  #closed = false;
  #peerDropped = false;
  #dataWaiters: (() => void)[] = [];
  #roomWaiters: (() => void)[] = [];
  #writing: Promise<void> = Promise.resolve();
  /** Settles when the receive loop has ended. */
  readonly done: Promise<void>;

  /** Wraps a connected socket and starts receiving. */
  constructor(
    id: number,
    options: {
      role: "client" | "seed";
      protocol: "tcp" | "tls";
      conn: ByteConn;
      peer: Endpoint;
      autoReceive: boolean;
      serverId?: number;
      /** so_sndtimeo for sends on this link (default 0: none). */
      sendTimeoutMs?: number;
      /** The source `AT+SKTSTATE` shows (default `0.0.0.0:0`). */
      source?: Endpoint;
    },
    context: LinkContext,
  ) {
    super(id, options.autoReceive, context);
    this.role = options.role;
    this.protocol = options.protocol;
    this.#conn = options.conn;
    this.peer = options.peer;
    this.serverId = options.serverId;
    this.source = options.source ?? ANY;
    this.sendTimeoutMs = options.sendTimeoutMs ?? 0;
    context.net?.net(id, "open", {
      kind: `${this.role} ${this.protocol}`,
      peer: endpoint(this.peer),
    });
    this.done = this.#receive();
  }

  /** The underlying connection. */
  get conn(): ByteConn {
    return this.#conn;
  }

  /** Bytes held for `AT+SKTREAD`. */
  get buffered(): number {
    return this.#buffered;
  }

  /** Whether the peer has ended the stream (closed, half-closed or reset). */
  get ended(): boolean {
    return this.#eof;
  }

  state(): LinkState {
    return {
      linkId: this.id,
      role: this.role,
      protocol: this.protocol === "tls" ? "ssl" : "tcp",
      source: this.source,
      destination: this.peer,
      socketFd: this.fd,
    };
  }

  async #receive(): Promise<void> {
    const chunk = new Uint8Array(16 * 1024);
    try {
      while (!this.#closed && !this.#peerDropped) {
        if (this.autoReceive) {
          await this.context.output.waitForRoom();
          if (this.#closed) break;
          const stall = this.context.faults?.beforeRead(this.id);
          if (stall) await stall;
          if (this.#closed || this.#peerDropped) break;
          // One host read of up to four module reads' worth: what the task
          // would read in four turns in a row, each its own DATA line of at
          // most 16 KiB (AUTO_READ), for one system call instead of four.
          const data = new Uint8Array(STREAM_READ);
          const n = await this.#conn.read(data);
          if (n === null) break;
          const got = data.subarray(0, n);
          this.context.net?.net(this.id, "rx", { data: got });
          const wait = this.context.faults?.onData(this.id, n);
          if (wait) await wait;
          if (this.#closed) break;
          this.context.output.unsolicited(dataLines(this.id, got));
          continue;
        }
        // Hold the peer back once a window is buffered, as lwIP does.
        while (
          this.#buffered >= TCP_WINDOW && !this.#closed && !this.#peerDropped
        ) {
          await new Promise<void>((resolve) => this.#roomWaiters.push(resolve));
        }
        if (this.#closed) break;
        const stall = this.context.faults?.beforeRead(this.id);
        if (stall) await stall;
        if (this.#closed || this.#peerDropped) break;
        const room = Math.min(chunk.length, TCP_WINDOW - this.#buffered);
        const n = await this.#conn.read(chunk.subarray(0, room));
        if (n === null) break;
        this.context.net?.net(this.id, "rx", { data: chunk.subarray(0, n) });
        const data = chunk.slice(0, n);
        const wait = this.context.faults?.onData(this.id, n);
        if (wait) await wait;
        if (this.#closed) break;
        this.#buffer.push(data);
        this.#buffered += n;
        this.#notifyData();
      }
    } catch {
      // Reset, or closed under the read: the peer is gone either way.
    }
    this.#eof = true;
    this.#notifyData();
    if (this.#closed) return;
    this.context.net?.net(this.id, "close", { by: "peer" });
    // firmware rule peer-gone-fd
    // An auto-receive task closes the socket as soon as its read() gives 0
    // or fails; an auto_rcv=0 socket stays open (socket_fd set, sends
    // still go out) until the AT+SKTREAD that meets the end closes it.
    if (this.autoReceive) this.#shut();
  }

  #shut(): void {
    try {
      this.#conn.close();
    } catch { /* already closed */ }
    this.gone();
  }

  #notifyData(): void {
    for (const resolve of this.#dataWaiters.splice(0)) resolve();
  }

  /**
   * Reads up to `size` buffered bytes, waiting up to `waitMs` (default
   * `READ_WAIT_MS`, 20 ms) when none are there. `"closed"` once the peer has gone and everything was read: that
   * read closes the socket (`atcmd_lwip_receive_data`), so the link shows
   * `socket_fd:-1` and takes no more reads or sends.
   */
  async read(size: number, waitMs = READ_WAIT_MS): Promise<ReadResult> {
    if (this.#buffered === 0 && !this.#eof) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#dataWaiters.push(resolve);
        timer = setTimeout(resolve, waitMs);
      });
      clearTimeout(timer);
    }
    if (this.#buffered === 0) {
      if (!this.#eof) return { data: new Uint8Array() };
      if (!this.#closed && this.fd >= 0) {
        this.context.net?.net(this.id, "close", { by: "module" });
      }
      this.#shut();
      return "closed";
    }
    const out = new Uint8Array(Math.min(size, this.#buffered));
    let filled = 0;
    while (filled < out.length) {
      const head = this.#buffer[0];
      const take = Math.min(head.length, out.length - filled);
      out.set(head.subarray(0, take), filled);
      filled += take;
      if (take === head.length) this.#buffer.shift();
      else this.#buffer[0] = head.subarray(take);
    }
    this.#buffered -= filled;
    for (const resolve of this.#roomWaiters.splice(0)) resolve();
    return { data: out };
  }

  /**
   * Sends all bytes, in order with earlier sends, within the link's
   * {@linkcode StreamLink.sendTimeoutMs}; throws {@linkcode SendError}.
   */
  send(data: Uint8Array): Promise<void> {
    this.context.net?.net(this.id, "tx", { data });
    const run = this.#writing.then(() => this.#write(data, this.sendTimeoutMs));
    this.#writing = run.catch(() => {});
    return run;
  }

  async #write(data: Uint8Array, timeoutMs: number): Promise<void> {
    if (this.fd < 0 || this.#closed) {
      throw new SendError("the peer has gone");
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = timeoutMs > 0
      ? new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new SendError(`send timed out after ${timeoutMs} ms`)),
          timeoutMs,
        );
      })
      : undefined;
    try {
      let written = 0;
      while (written < data.length) {
        const write = this.#conn.write(data.subarray(written));
        written += deadline
          ? await Promise.race([write, deadline])
          : await write;
      }
    } catch (e) {
      throw e instanceof SendError ? e : new SendError(String(e), { cause: e });
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Ends the connection as if the peer had gone (fault injection):
   * `close` keeps what was received for `AT+SKTREAD`, `reset` drops it.
   * False when the peer is already gone.
   */
  dropPeer(how: "close" | "reset"): boolean {
    if (this.#closed || this.#eof || this.#peerDropped) return false;
    this.#peerDropped = true;
    if (how === "reset") {
      this.#buffer = [];
      this.#buffered = 0;
    }
    try {
      this.#conn.close();
    } catch { /* already closed */ }
    for (const resolve of this.#roomWaiters.splice(0)) resolve();
    return true;
  }

  close(): void {
    if (this.#closed) return;
    if (this.fd >= 0) this.context.net?.net(this.id, "close", { by: "module" });
    this.#closed = true;
    try {
      this.#conn.close();
    } catch { /* already closed by the receive loop */ }
    this.gone();
    this.#notifyData();
    for (const resolve of this.#roomWaiters.splice(0)) resolve();
  }
}

/** A TCP listener: its accepted connections become seeds. */
export class ListenerLink extends Link {
  /** Always server. */
  readonly role = "server" as const;
  /** tcp or tls. */
  readonly protocol: "tcp" | "tls";
  /** The address this server reports as its own. */
  readonly address: Endpoint;
  /** Ids of this server's seeds. */
  readonly seeds: Set<number> = new Set();
  #close: () => void;
  #closed = false;

  /** Wraps a listener; `close` stops it. Accepting is the module's job. */
  constructor(
    id: number,
    options: {
      protocol: "tcp" | "tls";
      address: Endpoint;
      autoReceive: boolean;
      close: () => void;
    },
    context: LinkContext,
  ) {
    super(id, options.autoReceive, context);
    this.protocol = options.protocol;
    this.address = options.address;
    this.#close = options.close;
    context.net?.net(id, "open", {
      kind: `server ${this.protocol}`,
      peer: endpoint(this.address),
    });
  }

  state(): LinkState {
    return {
      linkId: this.id,
      role: "server",
      protocol: this.protocol === "tls" ? "ssl" : "tcp",
      source: this.address,
      destination: ANY,
      socketFd: this.fd,
    };
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.context.net?.net(this.id, "close", { by: "module" });
    try {
      this.#close();
    } catch { /* already closed */ }
    this.gone();
  }
}
