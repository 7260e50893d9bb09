/**
 * Opening links: the `open` action of `AT+SKTSERVER` and `AT+SKTCLIENT`
 * carried out on host sockets ({@linkcode Sockets}, {@linkcode TlsSockets}),
 * the link put on its id, and the seeds a server accepts.
 *
 * @module
 */

import {
  type ClientRequest,
  type Endpoint,
  formatConnectEvent,
  type OpenAction,
  type ServerRequest,
  type SocketConfig,
} from "@atsock/protocol";
import type { LinkTable } from "./link_table.ts";
import {
  type Link,
  type LinkContext,
  ListenerLink,
  StreamLink,
} from "./links.ts";
import type { ByteConn } from "./node_conn.ts";
import { SocketFailure, type Sockets, unmapIPv4 } from "./sockets.ts";
import type { TlsSockets } from "./tls_sockets.ts";
import { UdpLink } from "./udp_link.ts";

/** What the opener needs of its module. */
export interface OpenerHost {
  /** The link table. */
  readonly links: LinkTable<Link>;
  /** What links share with the module. */
  readonly context: LinkContext;
  /** The address the module reports as its own. */
  readonly ip: string;
  /** Whether the module has closed. */
  closed(): boolean;
  /** Keeps work the module waits for when it closes. */
  track<T>(work: Promise<T>): Promise<T>;
  /** One-line notices for the operator. */
  log(message: string): void;
}

/** Opens the links of one module. */
export class LinkOpener {
  #host: OpenerHost;
  #sockets: Sockets;
  #tls: TlsSockets;

  /** An opener for `host`'s links. */
  constructor(host: OpenerHost, sockets: Sockets, tls: TlsSockets) {
    this.#host = host;
    this.#sockets = sockets;
    this.#tls = tls;
  }

  /**
   * Opens the link of `action` on its id, reserved meanwhile: seeds
   * accepted while it waits for a lookup, bind, connect or handshake skip
   * the id, and a failure frees it again. Throws {@linkcode SocketFailure}.
   */
  async open(action: OpenAction): Promise<void> {
    const links = this.#host.links;
    // firmware rule link-reserved-while-opening
    // at_sktserver/at_sktclient set node_pool[link_id].link_id before
    // create_socket_server/client, so search_available_node skips it;
    // init_single_node frees it when the socket cannot be made.
    links.reserve(action.linkId);
    try {
      const request = action.request;
      if (request.command === "SKTSERVER") {
        await this.#server(request, action);
      } else await this.#client(request, action);
    } finally {
      links.unreserve(action.linkId);
    }
  }

  /**
   * After an await: the module may have closed or been reset meanwhile
   * (the reservation has gone). Then what was opened is closed and the
   * command fails (`gone`).
   */
  #stillFree(id: number, dispose: () => void): void {
    if (this.#host.links.reserved(id) && !this.#host.closed()) return;
    try {
      dispose();
    } catch { /* already closed */ }
    throw new SocketFailure(
      "gone",
      `link ${id}: the module closed or was reset`,
    );
  }

  #put(link: Link): void {
    this.#host.links.put(link.id, link);
    if (link instanceof StreamLink) this.#host.track(link.done);
  }

  async #server(request: ServerRequest, action: OpenAction): Promise<void> {
    const id = request.linkId;
    const context = this.#host.context;
    const address: Endpoint = { ip: this.#host.ip, port: request.port };
    const autoReceive = request.autoReceive;
    switch (action.transport) {
      case "udp": {
        const socket = await this.#sockets.bindUdp(
          request.port,
          action.config,
          "server",
        );
        this.#stillFree(id, () => socket.close());
        this.#put(
          new UdpLink(id, {
            role: "server",
            socket,
            address,
            autoReceive,
          }, context),
        );
        return;
      }
      case "tcp": {
        const listener = this.#sockets.listenTcp(
          request.port,
          action.config,
          autoReceive,
        );
        const link = new ListenerLink(id, {
          protocol: "tcp",
          address,
          autoReceive,
          close: () => listener.close(),
        }, context);
        this.#put(link);
        this.#host.track(this.#accept(link, listener, action.config));
        return;
      }
      case "tls": {
        const server: { link?: ListenerLink } = {};
        const listener = await this.#tls.listen(request, (conn, peer) => {
          if (server.link) this.addSeed(server.link, conn, peer);
          else conn.close();
        });
        this.#stillFree(id, () => listener.close());
        const link = new ListenerLink(id, {
          protocol: "tls",
          address,
          autoReceive,
          close: () => listener.close(),
        }, context);
        server.link = link;
        this.#put(link);
      }
    }
  }

  async #accept(
    server: ListenerLink,
    listener: Deno.TcpListener,
    config: SocketConfig,
  ): Promise<void> {
    // Ends when SKTDEL closes the listener; survives every other error.
    await this.#sockets.acceptTcp(
      listener,
      config,
      (conn, peer) => this.addSeed(server, conn, peer),
      {
        name: `link ${server.id} (TCP server)`,
        closed: () =>
          this.#host.closed() || this.#host.links.get(server.id) !== server,
      },
    );
  }

  /** Makes an accepted connection a seed on the lowest free id, or refuses it silently. */
  addSeed(server: ListenerLink, conn: ByteConn, peer: Endpoint): void {
    const links = this.#host.links;
    const id = links.lowestFree();
    if (id === undefined || this.#host.closed() || !links.get(server.id)) {
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
    }, this.#host.context);
    this.#put(seed);
    server.seeds.add(id);
    this.#host.context.output.unsolicited(formatConnectEvent({
      linkId: id,
      protocol: server.protocol,
      peer: seed.peer,
      serverId: server.id,
    }));
  }

  async #client(request: ClientRequest, action: OpenAction): Promise<void> {
    const id = request.linkId;
    const context = this.#host.context;
    const autoReceive = request.autoReceive;
    if (action.transport === "tls") {
      const { conn, ip } = await this.#tls.connect(request);
      this.#stillFree(id, () => conn.close());
      // TLS links take no AT+SKTCFG option (BEHAVIOUR.md): no send timeout.
      this.#put(
        new StreamLink(id, {
          role: "client",
          protocol: "tls",
          conn,
          peer: { ip, port: request.port },
          autoReceive,
          // firmware rule sktstate-client-source
          // mbedtls_net_connect binds nothing: the src_port field as given.
          source: { ip: "0.0.0.0", port: request.localPort ?? 0 },
        }, context),
      );
      return;
    }
    // Options are those in force when the socket is made (BEHAVIOUR.md).
    const config = action.config;
    const ip = await this.#sockets.resolve(request.host);
    const peer = { ip, port: request.port };
    if (action.transport === "udp") {
      this.#sockets.mayConnect(ip, request.port, request.host);
      const socket = await this.#sockets.bindUdp(
        request.localPort!,
        config,
        "client",
      );
      this.#stillFree(id, () => socket.close());
      this.#put(
        new UdpLink(id, {
          role: "client",
          socket,
          address: peer,
          autoReceive,
          sourcePort: request.localPort,
        }, context),
      );
      return;
    }
    const { conn, source } = await this.#sockets.connectTcp(
      ip,
      request.port,
      request.host,
      config,
    );
    this.#stillFree(id, () => conn.close());
    this.#put(
      new StreamLink(id, {
        role: "client",
        protocol: "tcp",
        conn,
        peer,
        autoReceive,
        sendTimeoutMs: config.sendTimeout,
        // lwip_getsockname: the local address and ephemeral port.
        source,
      }, context),
    );
  }
}
