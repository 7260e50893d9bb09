/**
 * The driver's mirror of the module's links: the read side of every link
 * id it holds streams for, the servers made by `AtDriver.listen` with
 * their seeds, and which links end once the next answer is in.
 *
 * @module
 */

import type {
  ClientRequest,
  HostSession,
  LinkState,
  ModuleEvent,
  ServerRequest,
} from "@atsock/protocol";
import { isUdp } from "./args.ts";
import type { AtDriver } from "./driver.ts";
import { ModuleResetError } from "./errors.ts";
import {
  type HostLink,
  type HostServer,
  LinkCore,
  type LinkStreamOptions,
  linkView,
} from "./link.ts";

/** A server made by {@linkcode AtDriver.listen}: its seeds wait here. */
interface ServerEntry {
  core: LinkCore | undefined;
  options: LinkStreamOptions;
  mode: "auto" | "poll";
  seeds: Set<number>;
  queue: HostLink[];
  waiters: {
    resolve: (link: HostLink) => void;
    reject: (e: unknown) => void;
  }[];
  ended: unknown;
}

/** What the table needs from the driver. */
export interface TableHooks {
  /** The driver the links' views act through. */
  readonly driver: AtDriver;
  /** The session whose UDP mirror follows the links. */
  readonly session: HostSession;
  /** A link's `full` or `starved` may have changed (or one went). */
  changed(): void;
  /**
   * How long an `auto` reader waits with nothing to read before the
   * driver checks the peers (`AtDriver.checkLinks`); 0: never.
   */
  readonly quietMs: number;
  /** Whether the driver has closed. */
  closed(): boolean;
}

/** The links and servers of one driver. */
export class LinkTable {
  #hooks: TableHooks;
  #links = new Map<number, LinkCore>();
  #servers = new Map<number, ServerEntry>();
  #endAfterAnswer: LinkCore[] = [];
  #closeCheck: Promise<unknown> | undefined;

  /** An empty table. */
  constructor(hooks: TableHooks) {
    this.#hooks = hooks;
  }

  /** The read side of a link id, if held. */
  get(linkId: number): LinkCore | undefined {
    return this.#links.get(linkId);
  }

  /** Whether the driver should stop reading the module: see `AtDriver.paused`. */
  get paused(): boolean {
    let full = false;
    for (const core of this.#links.values()) {
      if (core.starved) return false;
      full ||= core.full;
    }
    return full;
  }

  /** Whether any claimed reader is `highWater` or more behind. */
  anyFull(): boolean {
    for (const core of this.#links.values()) if (core.full) return true;
    return false;
  }

  /** Links that end at the next final result. */
  get ending(): number {
    return this.#endAfterAnswer.length;
  }

  /** A new read side (not yet registered). */
  newCore(
    linkId: number,
    mode: "auto" | "poll",
    options: LinkStreamOptions,
  ): LinkCore {
    return new LinkCore(linkId, mode, {
      driver: this.#hooks.driver,
      changed: this.#hooks.changed,
      quietMs: this.#hooks.quietMs,
      quiet: this.#checkClosed,
    }, options);
  }

  /** An `auto` reader has waited a while: has its peer gone? (One check at a time.) */
  #checkClosed = (): void => {
    if (this.#hooks.closed() || this.#closeCheck) return;
    this.#closeCheck = this.#hooks.driver.checkLinks().catch(() => {
      // A timeout is dispatched as `unresponsive`; a reset or a closed
      // transport ends the links by itself.
    }).finally(() => (this.#closeCheck = undefined));
  };

  /** The read side of `linkId`, made on first use. */
  use(linkId: number, options: LinkStreamOptions): LinkCore {
    let core = this.#links.get(linkId);
    if (!core) {
      core = this.newCore(linkId, options.read ?? "auto", options);
      this.#links.set(linkId, core);
    }
    return core;
  }

  /** Registers a new read side before the command that makes the link is written. */
  claim(linkId: number, core: LinkCore): void {
    const prior = this.#links.get(linkId);
    if (prior && !prior.ended) {
      throw new RangeError(
        `link id ${linkId} is in use by this driver (close it first)`,
      );
    }
    if (prior) this.forget(linkId);
    this.#links.set(linkId, core);
  }

  /**
   * Makes and claims the read side of the link `request` makes (so that no
   * byte that comes with the answer is missed), then runs `exchange` (the
   * command); if it fails, the link is forgotten. Returns `view(core)`.
   */
  async open<T>(
    request: ServerRequest | ClientRequest,
    streams: LinkStreamOptions,
    view: (core: LinkCore) => T,
    exchange: () => Promise<unknown>,
  ): Promise<T> {
    const id = request.linkId;
    const mode = request.autoReceive ? "auto" : "poll";
    const core = this.newCore(id, mode, streams);
    this.claim(id, core);
    const made = view(core);
    if (isUdp(request)) this.#hooks.session.markUdp(id);
    try {
      await exchange();
    } catch (e) {
      if (this.#links.get(id) === core) this.forget(id);
      throw e;
    }
    return made;
  }

  /** Registers a server whose read side `core` was claimed; returns its view. */
  addServer(
    linkId: number,
    core: LinkCore,
    options: LinkStreamOptions,
  ): HostServer {
    const entry: ServerEntry = {
      core,
      options,
      mode: core.mode,
      seeds: new Set(),
      queue: [],
      waiters: [],
      ended: undefined,
    };
    this.#servers.set(linkId, entry);
    return serverView(this.#hooks.driver, linkId, entry, core);
  }

  /** Ends a link's streams (a server's with its seeds) and forgets it. */
  forget(linkId: number, error?: unknown): void {
    const core = this.#links.get(linkId);
    if (core) {
      this.#links.delete(linkId);
      core.detached = true;
      core.end(error);
    }
    const server = this.#servers.get(linkId);
    if (server) {
      this.#servers.delete(linkId);
      for (const seed of server.seeds) this.forget(seed, error);
      server.ended = error ??
        new Error(`server link ${linkId} was deleted`);
      for (const waiter of server.waiters.splice(0)) {
        waiter.reject(server.ended);
      }
    }
    this.#hooks.session.forgetLink(linkId);
    this.#hooks.changed();
  }

  /** Ends every link with `error`. */
  dropAll(error: unknown): void {
    for (const id of [...this.#servers.keys(), ...this.#links.keys()]) {
      this.forget(id, error);
    }
  }

  /** `[$][SKT][DATA]`: bytes for a link. */
  push(linkId: number, data: Uint8Array): void {
    this.#links.get(linkId)?.push(data);
  }

  /** A client connected to one of this driver's servers: a new seed. */
  seed(event: Extract<ModuleEvent, { type: "connect" }>): void {
    const server = this.#servers.get(event.serverId);
    if (!server) return;
    if (this.#links.has(event.linkId)) this.forget(event.linkId);
    const core = this.newCore(event.linkId, server.mode, server.options);
    this.#links.set(event.linkId, core);
    server.seeds.add(event.linkId);
    const link = linkView(core, this.#hooks.driver, server.options);
    const waiter = server.waiters.shift();
    if (waiter) waiter.resolve(link);
    else server.queue.push(link);
  }

  /**
   * An `AT+SKTSTATE` answer: links that are missing end at once; links
   * showing `socket_fd:-1` end after the next final result.
   */
  learn(states: readonly LinkState[]): void {
    const listed = new Map(states.map((s) => [s.linkId, s]));
    for (const [id, core] of this.#links) {
      const state = listed.get(id);
      if (!state) this.forget(id);
      else if (state.socketFd === -1) {
        // auto_rcv=1: DATA lines held back by this answer follow it, so end
        // after the next one. auto_rcv=0: -1 only once a read met the end.
        this.#endAfterAnswer.push(core);
      }
    }
  }

  /** A final result: unsolicited lines held during earlier answers are all out. */
  answered(): void {
    for (const core of this.#endAfterAnswer.splice(0)) core.end();
  }
}

/** The server object {@linkcode AtDriver.listen} returns. */
function serverView(
  driver: AtDriver,
  linkId: number,
  entry: ServerEntry,
  core: LinkCore,
): HostServer {
  const accept = (): Promise<HostLink> => {
    const link = entry.queue.shift();
    if (link) return Promise.resolve(link);
    if (entry.ended !== undefined) return Promise.reject(entry.ended);
    return new Promise((resolve, reject) =>
      entry.waiters.push({ resolve, reject })
    );
  };
  return {
    linkId,
    accept,
    async *[Symbol.asyncIterator]() {
      while (true) {
        let link: HostLink;
        try {
          link = await accept();
        } catch (e) {
          if (e instanceof ModuleResetError) throw e;
          return; // Deleted: the iteration ends.
        }
        yield link;
      }
    },
    async close() {
      if (core.detached) return;
      await driver.remove(linkId);
    },
  };
}
