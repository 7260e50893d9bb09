/**
 * The module's command state machine, sans I/O (in the manner of h11 and
 * quinn-proto): a parsed request goes in with a view of the link table,
 * and what comes out is either the answer or one action for the runtime to
 * carry out on real sockets (open a server, send these bytes on link 2,
 * close links 5, 6 and 3). The runtime feeds the action's outcome back and
 * gets the answer: which `ERROR` code a failure is, as the firmware's
 * `at_skt*` handlers choose it, is decided here.
 *
 * The session owns the global socket options (`AT+SKTCFG`); the link table
 * is the runtime's (links change under it as peers come and go), read
 * through {@linkcode SessionLinks}.
 *
 * @example
 * ```ts
 * import { encode, ModuleSession, parseCommandLine } from "@atsock/protocol";
 *
 * const session = new ModuleSession({ mode: "host" });
 * const links = { get: () => undefined, entries: () => [] };
 * const parsed = parseCommandLine(encode("AT+SKTSERVER=3,1,,8080,1"));
 * if (parsed.kind === "request") {
 *   const step = session.command(parsed.request, links);
 *   // { kind: "act", action: { kind: "open", linkId: 3, transport: "tcp", ... } }
 *   if (step.kind === "act") {
 *     const answer = session.outcome(step.action, { ok: true });
 *     // { kind: "answer", bytes: "\r\nOK\r\n" }
 *   }
 * }
 * ```
 *
 * @module
 */

import {
  ERR,
  PARAMETER_ERROR,
  type TransportKind,
  transportOf,
} from "./commands.ts";
import { MODULE_FREE_HEAP, READ_WAIT_MS } from "./constants.ts";
import {
  formatError,
  formatQuery,
  formatRead,
  formatState,
  OK,
  TT_PROMPT,
} from "./format_output.ts";
import {
  type ClientRequest,
  DEFAULT_CONFIG,
  type Endpoint,
  type LinkRole,
  type LinkState,
  type Request,
  type SendRawRequest,
  type SendRequest,
  type ServerRequest,
  type SocketConfig,
} from "./types.ts";

/** A link's transport: what kind of socket the runtime opens for it. */
export type LinkTransport = TransportKind;

/** What the session needs to know of a link in the runtime's table. */
export interface SessionLink {
  /** server, client or seed. */
  readonly role: LinkRole;
  /** tcp, udp or tls. */
  readonly protocol: LinkTransport;
  /** The socket number; -1 once the socket has gone (`socket_fd:-1`). */
  readonly fd: number;
  /** A listening server's seeds, in accept order. */
  readonly seeds?: ReadonlySet<number>;
  /** The line `AT+SKTSTATE` prints for it. */
  state(): LinkState;
}

/** A read-only view of the runtime's link table. */
export interface SessionLinks {
  /** The link on `id`, if any. */
  get(id: number): SessionLink | undefined;
  /** Every link with its id, in id order. */
  entries(): Iterable<[number, SessionLink]>;
}

/** Opens `AT+SKTSERVER`/`AT+SKTCLIENT`'s socket on a free link id. */
export interface OpenAction {
  /** Action discriminator. */
  kind: "open";
  /** The link id to open on (free when the action was given). */
  linkId: number;
  /** The socket kind. */
  transport: LinkTransport;
  /** The command, with every field as parsed. */
  request: ServerRequest | ClientRequest;
  /** The socket options in force (a copy): a socket keeps those of its making. */
  config: Readonly<SocketConfig>;
}

/** Sends `AT+SKTSEND`'s bytes on an established link. */
export interface SendAction {
  /** Action discriminator. */
  kind: "send";
  /** The link to send on. */
  linkId: number;
  /** The bytes. */
  data: Uint8Array;
  /** Where a UDP server sends to; undefined for every other link. */
  destination?: Endpoint;
}

/** Reads at most `size` bytes (or one datagram) held on a link. */
export interface ReadAction {
  /** Action discriminator. */
  kind: "read";
  /** The link to read. */
  linkId: number;
  /** Most bytes. */
  size: number;
  /**
   * How long to wait when nothing is held (`at_sktread`'s 20 ms `select`):
   * a deadline for the runtime's timer, as the session keeps none.
   */
  waitMs: number;
}

/**
 * Starts an `AT+SKTSENDRAW` transfer: print `prompt`, then take `size`
 * console bytes as payload; the outcome comes once the transfer is over.
 */
export interface SendRawAction {
  /** Action discriminator. */
  kind: "send-raw";
  /** The link to send on. */
  linkId: number;
  /** Payload bytes to take. */
  size: number;
  /** Where a UDP server sends to; undefined for every other link. */
  destination?: Endpoint;
  /** What the console shows before the payload (`>>>`). */
  prompt: Uint8Array;
}

/**
 * Closes links, in this order (`AT+SKTDEL`: a server's seeds, then the
 * server), and frees their ids.
 */
export interface DeleteAction {
  /** Action discriminator. */
  kind: "delete";
  /** The link deleted. */
  linkId: number;
  /** Every id to close, the link last. */
  ids: number[];
}

/** Something the runtime does on real sockets for a command. */
export type ModuleAction =
  | OpenAction
  | SendAction
  | ReadAction
  | SendRawAction
  | DeleteAction;

/**
 * Why an action failed, as the runtime saw it:
 * - `not-found`: the host name did not resolve;
 * - `refused`: the allowlist or the runtime's permissions refuse the address;
 * - `bind`: the local port could not be bound or listened on;
 * - `connect`: the connection was refused or timed out;
 * - `handshake`: the TLS handshake or verification failed;
 * - `gone`: the module was reset or closed while the socket was opening;
 * - `send`: a send failed or timed out;
 * - `closed`: a read met the end of a stream whose peer had gone;
 * - `stopped`: an `AT+SKTSENDRAW` payload was cut short by `<<<`;
 * - `certificate`: a certificate file failed (its code is given: which
 *   file function failed is the runtime's to know).
 */
export type ModuleFailure =
  | "not-found"
  | "refused"
  | "bind"
  | "connect"
  | "handshake"
  | "gone"
  | "send"
  | "closed"
  | "stopped"
  | "certificate";

/** What came of an action, fed back with {@linkcode ModuleSession.outcome}. */
export type ActionOutcome =
  | {
    /** It succeeded. */
    ok: true;
    /** A read's bytes. */
    data?: Uint8Array;
    /** A UDP read's sender. */
    sender?: Endpoint;
  }
  | {
    /** It failed. */
    ok: false;
    /** Why. */
    failure: ModuleFailure;
    /** The code, for `certificate` failures (the firmware's file checks choose it). */
    code?: number;
    /** A reason for the log (never printed on the console). */
    reason?: string;
  };

/** The answer to a command. */
export type ModuleAnswer =
  | {
    /** The command is answered: print `bytes`. */
    kind: "answer";
    /** The answer (`OK`, or the query's lines then `OK`). */
    bytes: Uint8Array;
  }
  | {
    /** The command failed: print `bytes` (`ERROR: <code>`). */
    kind: "error";
    /** The code. */
    code: number;
    /** Why, for the log. */
    reason: string;
    /** The answer. */
    bytes: Uint8Array;
  };

/** What the session says to a command: its answer, or an action to carry out. */
export type ModuleStep =
  | ModuleAnswer
  | {
    /** Carry out `action`, then pass its outcome to {@linkcode ModuleSession.outcome}. */
    kind: "act";
    /** What to do. */
    action: ModuleAction;
  };

/** Options for {@linkcode ModuleSession}. */
export interface ModuleSessionOptions {
  /** Console mode: `AT+SKTSENDRAW` needs Host Control Mode. */
  mode: "manual" | "host";
}

/**
 * What `AT+SKTSTATE` lists, in its order: every link that is not a seed,
 * in id order, each listening server followed by its seeds in accept order.
 */
export function linkStates(links: SessionLinks): LinkState[] {
  const out: LinkState[] = [];
  for (const [, link] of links.entries()) {
    if (link.role === "seed") continue;
    out.push(link.state());
    if (link.seeds) {
      // firmware rule sktstate-seed-order
      // In accept order (hang_seednode appends to the server's chain).
      for (const seedId of link.seeds) {
        const seed = links.get(seedId);
        if (seed) out.push(seed.state());
      }
    }
  }
  return out;
}

/**
 * The ids `AT+SKTDEL` of `id` closes, in order: a listening server's seeds
 * in accept order, then the link itself (none when `id` is free).
 */
export function deleteOrder(links: SessionLinks, id: number): number[] {
  const link = links.get(id);
  if (!link) return [];
  return [...(link.seeds ?? []), id];
}

/** A command that fails with `code`. */
class Refusal {
  constructor(readonly code: number, readonly reason: string) {}
}

function error(code: number, reason: string): ModuleAnswer {
  return { kind: "error", code, reason, bytes: formatError(code) };
}

const ANSWER_OK: ModuleAnswer = { kind: "answer", bytes: OK };

/**
 * The module's command state machine: the global socket options and every
 * rule of the `at_skt*` handlers that needs no socket.
 */
export class ModuleSession {
  /** The console mode. */
  readonly mode: "manual" | "host";
  #config: SocketConfig = { ...DEFAULT_CONFIG };

  /** A session as after power-up. */
  constructor(options: ModuleSessionOptions) {
    this.mode = options.mode;
  }

  /** The global socket options (`AT+SKTCFG`), a copy. */
  get config(): SocketConfig {
    return { ...this.#config };
  }

  /** Back to power-up: the options return to their defaults. */
  reset(): void {
    this.#config = { ...DEFAULT_CONFIG };
  }

  /** A parsed command: its answer, or the action it needs. */
  command(request: Request, links: SessionLinks): ModuleStep {
    try {
      return this.#command(request, links);
    } catch (e) {
      if (e instanceof Refusal) return error(e.code, e.reason);
      throw e;
    }
  }

  #command(request: Request, links: SessionLinks): ModuleStep {
    switch (request.command) {
      case "SKTCFG":
        this.#config = { ...request.config };
        return ANSWER_OK;
      case "SKTQUERY":
        return { kind: "answer", bytes: formatQuery(this.#config) };
      case "SKTSTATE":
        return { kind: "answer", bytes: formatState(linkStates(links)) };
      case "SKTDEL": {
        const link = links.get(request.linkId);
        if (!link) {
          throw new Refusal(
            ERR.SKTDEL.PARAMETER,
            `link ${request.linkId} is not in use`,
          );
        }
        const ids = deleteOrder(links, request.linkId);
        return {
          kind: "act",
          action: { kind: "delete", linkId: request.linkId, ids },
        };
      }
      case "SKTSERVER":
      case "SKTCLIENT":
        // at_sktserver/at_sktclient refuse an id in use before anything
        // else; the runtime reserves the id until the socket is made.
        if (links.get(request.linkId)) {
          throw new Refusal(
            ERR[request.command].PARAMETER,
            `AT+${request.command}: link ${request.linkId} is already in use`,
          );
        }
        return {
          kind: "act",
          action: {
            kind: "open",
            linkId: request.linkId,
            transport: transportOf(
              request.command === "SKTSERVER" ? "server" : "client",
              request.type,
            )!,
            request,
            config: { ...this.#config },
          },
        };
      case "SKTSEND": {
        const to = sendable(request, links);
        return {
          kind: "act",
          action: {
            kind: "send",
            linkId: request.linkId,
            data: request.data,
            destination: to,
          },
        };
      }
      case "SKTREAD": {
        const link = established(request.linkId, links);
        if (isListener(link)) {
          throw new Refusal(
            ERR.SKTREAD.PARAMETER,
            `link ${request.linkId} is a listening server: read a seed`,
          );
        }
        // firmware rule sktread-heap
        // at_sktread: rx_buffer = rtos_mem_zmalloc(wanted_recv_size + 1),
        // NULL is ERROR: 2 (after the link checks, before any read).
        if (request.size >= MODULE_FREE_HEAP) {
          throw new Refusal(
            ERR.SKTREAD.NO_MEMORY,
            `a read of ${request.size} bytes needs a buffer of ${request.size} + 1 bytes: more than the module's free heap (${MODULE_FREE_HEAP})`,
          );
        }
        return {
          kind: "act",
          action: {
            kind: "read",
            linkId: request.linkId,
            size: request.size,
            waitMs: READ_WAIT_MS,
          },
        };
      }
      case "SKTSENDRAW": {
        const to = sendable(request, links);
        // firmware rule sendraw-link-before-mode
        // at_sktsendraw checks the link (1) before atcmd_tt_mode_start fails (4).
        if (this.mode === "manual") {
          throw new Refusal(
            ERR.SKTSENDRAW.TT_DATA,
            "AT+SKTSENDRAW needs Host Control Mode",
          );
        }
        return {
          kind: "act",
          action: {
            kind: "send-raw",
            linkId: request.linkId,
            size: request.size,
            destination: to,
            prompt: TT_PROMPT,
          },
        };
      }
    }
  }

  /** The answer to a command once its action is over. */
  outcome(action: ModuleAction, outcome: ActionOutcome): ModuleAnswer {
    if (outcome.ok) {
      if (action.kind === "read") {
        return {
          kind: "answer",
          bytes: formatRead(
            action.linkId,
            outcome.data ?? new Uint8Array(),
            outcome.sender,
          ),
        };
      }
      return ANSWER_OK;
    }
    const reason = outcome.reason ?? outcome.failure;
    return error(failureCode(action, outcome), reason);
  }
}

/**
 * The code a failed action answers, as `at_sktserver`, `at_sktclient`,
 * `at_sktsend`, `at_sktread` and `at_sktsendraw` choose it.
 */
export function failureCode(
  action: ModuleAction,
  outcome: { failure: ModuleFailure; code?: number },
): number {
  const failure = outcome.failure;
  // The module closed or was reset under an opening command: the link is
  // not made (a reset one is never printed).
  if (failure === "gone") return PARAMETER_ERROR;
  switch (action.kind) {
    case "open": {
      if (failure === "certificate") return outcome.code ?? PARAMETER_ERROR;
      if (failure === "not-found") return PARAMETER_ERROR; // The host lookup failed.
      const transport = action.transport;
      if (action.request.command === "SKTSERVER") {
        const codes = ERR.SKTSERVER;
        // create_socket_server_udp, _tcp, _tls (bind or listen).
        return transport === "udp"
          ? codes.UDP_CREATE
          : transport === "tcp"
          ? codes.TCP_CREATE
          : codes.NET_BIND;
      }
      const codes = ERR.SKTCLIENT;
      if (transport === "udp") return codes.UDP_CREATE; // create_socket_client_udp
      if (transport === "tcp") return codes.TCP_CREATE; // create_socket_client_tcp
      // create_socket_client_tls: the TCP connect, then the handshake.
      return failure === "handshake" ? codes.HANDSHAKE : codes.NET_CONNECT;
    }
    case "send":
      return ERR.SKTSEND.SEND;
    case "read":
      // firmware rule read-end-closes
      return failure === "closed" ? ERR.SKTREAD.READ : ERR.SKTREAD.NO_MEMORY;
    case "send-raw":
      return failure === "stopped"
        ? ERR.SKTSENDRAW.TT_DATA
        : ERR.SKTSENDRAW.SEND;
    case "delete":
      return ERR.SKTDEL.PARAMETER;
  }
}

function isListener(link: SessionLink): boolean {
  return link.role === "server" && link.protocol !== "udp";
}

/**
 * The link a SKTSEND/SKTREAD/SKTSENDRAW acts on, or `ERROR: 1` when the id
 * is free or its socket has gone (`socket_fd:-1`: "does not exist or socket
 * not established").
 */
function established(id: number, links: SessionLinks): SessionLink {
  const link = links.get(id);
  if (!link) throw new Refusal(PARAMETER_ERROR, `link ${id} is not in use`);
  // firmware rule link-socket-gone
  if (link.fd < 0) {
    throw new Refusal(
      PARAMETER_ERROR,
      `link ${id} has no socket (its peer has gone): delete it with AT+SKTDEL`,
    );
  }
  return link;
}

/**
 * Where a send goes: the dst_ip and dst_port fields count on a UDP server
 * only (required there); every other link ignores them (`at_sktsend`,
 * `at_sktsendraw`). A listening server takes no send.
 */
function sendable(
  request: SendRequest | SendRawRequest,
  links: SessionLinks,
): Endpoint | undefined {
  const id = request.linkId;
  const link = established(id, links);
  if (link.role === "server" && link.protocol === "udp") {
    if (request.badDestination) {
      throw new Refusal(PARAMETER_ERROR, request.badDestination);
    }
    if (!request.destination) {
      throw new Refusal(
        PARAMETER_ERROR,
        `link ${id} is a UDP server: give dst_ip and dst_port`,
      );
    }
    return request.destination;
  }
  if (isListener(link)) {
    throw new Refusal(
      PARAMETER_ERROR,
      `link ${id} is a listening server: send on a seed`,
    );
  }
  return undefined;
}
