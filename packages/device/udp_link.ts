/**
 * UDP links: a server (any peer; sends need a destination) or a client,
 * with the firmware's receive behaviour (`auto_rcv=1` prints DATA lines,
 * dropping datagrams while the console is far behind; `auto_rcv=0` keeps
 * at most six datagrams for `AT+SKTREAD`).
 *
 * @module
 */

import type { Socket as UdpSocket } from "node:dgram";
import {
  type Endpoint,
  formatData,
  inetAton,
  type LinkState,
  READ_WAIT_MS,
  UDP_QUEUE_DATAGRAMS,
} from "@atsock/protocol";
import {
  ANY,
  AUTO_READ,
  endpoint,
  Link,
  type LinkContext,
  type ReadResult,
  SendError,
} from "./links.ts";

/** A UDP socket: a server (any peer, sends need a destination) or a client. */
export class UdpLink extends Link {
  /** server or client. */
  readonly role: "server" | "client";
  /** Always udp. */
  readonly protocol = "udp" as const;
  /** The module's own address (servers) or the destination (clients). */
  readonly address: Endpoint;
  /** A client's source in `AT+SKTSTATE`: `0.0.0.0` and its src_port. */
  readonly source: Endpoint;
  /** Datagrams dropped because the queue was full or the console too slow. */
  dropped = 0;
  #socket: UdpSocket;
  #queue: { data: Uint8Array; sender: Endpoint }[] = [];
  #waiters: (() => void)[] = [];
  #closed = false;
  #release: () => void = () => {};
  /**
   * Resolves once {@linkcode close} has closed the host socket: node:dgram
   * closes it a turn later, and until then it still takes datagrams and
   * holds its port.
   */
  readonly released: Promise<void> = new Promise<void>((resolve) =>
    this.#release = resolve
  );

  /** Wraps a bound dgram socket and starts receiving. */
  constructor(
    id: number,
    options: {
      role: "server" | "client";
      socket: UdpSocket;
      address: Endpoint;
      autoReceive: boolean;
      /** A client's src_port, shown by `AT+SKTSTATE`. */
      sourcePort?: number;
    },
    context: LinkContext,
  ) {
    super(id, options.autoReceive, context);
    this.role = options.role;
    this.#socket = options.socket;
    this.#socket.once("close", () => this.#release());
    this.address = options.address;
    this.source = options.role === "server"
      ? options.address
      : { ip: "0.0.0.0", port: options.sourcePort ?? 0 };
    context.net?.net(id, "open", {
      kind: `${this.role} udp`,
      peer: endpoint(this.address),
    });
    this.#socket.on("message", (msg, rinfo) => {
      const data = new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength)
        .slice();
      const sender = { ip: rinfo.address, port: rinfo.port };
      this.context.net?.net(this.id, "rx", { data, peer: endpoint(sender) });
      if (this.autoReceive) {
        // UDP cannot hold a peer back: past the console's high water, drop.
        // recvfrom() into a 16 KiB buffer: the rest of a longer datagram is lost.
        if (this.context.output.buffered >= 256 * 1024) this.dropped++;
        else {
          this.context.output.unsolicited(
            formatData(this.id, data.subarray(0, AUTO_READ), sender),
          );
        }
      } else if (this.#queue.length >= UDP_QUEUE_DATAGRAMS) {
        this.dropped++;
      } else {
        this.#queue.push({ data, sender });
        for (const resolve of this.#waiters.splice(0)) resolve();
      }
    });
    this.#socket.on("error", () => {});
  }

  /** Datagrams held for `AT+SKTREAD`. */
  get queued(): number {
    return this.#queue.length;
  }

  state(): LinkState {
    return {
      linkId: this.id,
      role: this.role,
      protocol: "udp",
      source: this.source,
      destination: this.role === "server" ? ANY : this.address,
      socketFd: this.fd,
    };
  }

  /** Reads one datagram (cut to `size`), waiting up to `waitMs` when none is there. */
  async read(size: number, waitMs = READ_WAIT_MS): Promise<ReadResult> {
    if (this.#queue.length === 0 && !this.#closed) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        timer = setTimeout(resolve, waitMs);
      });
      clearTimeout(timer);
    }
    const next = this.#queue.shift();
    // firmware rule sktread-udp-address
    if (!next) return { data: new Uint8Array(), sender: ANY };
    return { data: next.data.subarray(0, size), sender: next.sender };
  }

  /** Sends one datagram to `destination` (servers) or the link's peer (clients). */
  send(data: Uint8Array, destination?: Endpoint): Promise<void> {
    // firmware rule ipv4-inet-aton: at_sktsend reads dst_ip with inet_aton.
    const to = destination
      ? {
        ip: inetAton(destination.ip) ?? destination.ip,
        port: destination.port,
      }
      : this.address;
    if (this.#closed) return Promise.reject(new SendError("socket closed"));
    // A client's peer was checked when the link was made; a server's
    // destinations are checked on every send.
    const refused = destination && this.context.guard?.connect(to.ip, to.port);
    if (refused) return Promise.reject(new SendError(refused));
    this.context.net?.net(this.id, "tx", { data, peer: endpoint(to) });
    return new Promise((resolve, reject) => {
      this.#socket.send(data, to.port, to.ip, (error) => {
        if (error) reject(new SendError(error.message, { cause: error }));
        else resolve();
      });
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.context.net?.net(this.id, "close", { by: "module" });
    try {
      this.#socket.close();
    } catch {
      this.#release(); // Already closed.
    }
    this.gone();
    for (const resolve of this.#waiters.splice(0)) resolve();
  }
}
