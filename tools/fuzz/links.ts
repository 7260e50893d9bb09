/**
 * The link side of the interpreter fuzz: at checkpoints `AT+SKTSTATE` must
 * print the module's link table, and the host must hold one fd per link
 * with a socket and per echo connection besides a baseline taken after a
 * warm-up (nothing leaks); the warm-up opens links of every kind first.
 *
 * @module
 */

import {
  CLIENT_TYPE,
  encode,
  formatRequest,
  formatStateLine,
  type LinkState,
  type Request,
  SERVER_TYPE,
  transportOf,
} from "@atsock/protocol";
import type { VirtualModule } from "@atsock/device";
import { fdsWhen, settledFds } from "../loopback.ts";
import { type FuzzConsole, linesOf, text } from "./console.ts";
import { type DeviceFuzzReport, FuzzFailure, show } from "./runner.ts";
import type { LoopbackWorld } from "./world.ts";

/** Checks a module's links against what its console and the host say. */
export class LinkCheck {
  readonly #module: VirtualModule;
  readonly #console: FuzzConsole;
  readonly #world: LoopbackWorld;
  readonly #report: DeviceFuzzReport;
  /**
   * Host fds held besides the links' sockets and the echo connections: set
   * after the warm-up (see `warmUp`), then never to change.
   */
  #baseline: string[] = [];
  readonly #unaccountedSeen: number[] = [];

  /** Checks `module` through `console`; counts into `report`. */
  constructor(
    module: VirtualModule,
    console: FuzzConsole,
    world: LoopbackWorld,
    report: DeviceFuzzReport,
  ) {
    this.#module = module;
    this.#console = console;
    this.#world = world;
    this.#report = report;
  }

  /** Deletes every link through the console, as a host would. */
  async deleteAll(what: string): Promise<void> {
    for (const link of this.#module.state()) {
      await this.#console.command(`AT+SKTDEL=${link.linkId}`, what);
    }
  }

  /**
   * The fds held with no link and no echo connection, once sockets being
   * closed are gone (at most 2 s): the baseline of every checkpoint.
   */
  async takeBaseline(): Promise<void> {
    const least = await settledFds({
      quiet: () => this.#world.echoConns.size === 0,
    });
    if (!least) {
      throw new FuzzFailure("the echo peer's connections never closed");
    }
    this.#baseline = least;
    this.#report.fds.baseline = least.length;
  }

  /** `AT+SKTSTATE` is the link table; the host's fds are accounted for. */
  async checkpoint(): Promise<void> {
    const module = this.#module;
    const report = this.#report;
    const baseline = this.#baseline;
    await this.#console.flush();
    const { final, before } = await this.#console.command(
      "AT+SKTSTATE",
      "AT+SKTSTATE (checkpoint)",
    );
    const table = module.state();
    const expected = table.map(formatStateLine);
    if (
      final.type !== "ok" || linesOf(before).join("|") !== expected.join("|")
    ) {
      throw new FuzzFailure(
        `SKTSTATE ${JSON.stringify(linesOf(before))} is not the link table ${
          JSON.stringify(expected)
        }`,
      );
    }
    if (module.stats().links !== table.length) {
      throw new FuzzFailure(
        `stats say ${module.stats().links} links, SKTSTATE ${table.length}`,
      );
    }
    // Each link with a socket holds one host fd; so does each echo
    // connection; every other fd is one of the baseline's. Sockets close
    // asynchronously: wait (bounded) for the count to settle.
    const echoConns = this.#world.echoConns;
    const accounted = () =>
      module.state().filter((l: LinkState) => l.socketFd >= 0).length +
      echoConns.size;
    const fds = await fdsWhen((fds) =>
      fds.length - accounted() === baseline.length
    );
    const unaccounted = fds.length - accounted();
    this.#unaccountedSeen.push(unaccounted);
    report.fds.min = Math.min(report.fds.min, unaccounted);
    report.fds.max = Math.max(report.fds.max, unaccounted);
    if (unaccounted !== baseline.length) {
      // Which fds came since the baseline, named (socket:[inode], ...): a
      // leak grows from checkpoint to checkpoint, a one-time resource not.
      const fresh = fds.filter((f) => !baseline.includes(f));
      throw new FuzzFailure(
        `${fds.length} host fds open, expected ${
          baseline.length + accounted()
        } (baseline ${baseline.length}, links with sockets ${
          module.state().filter((l) => l.socketFd >= 0).length
        }, echo connections ${echoConns.size}); unaccounted at the checkpoints so far: ${
          this.#unaccountedSeen.slice(-20).join(",")
        }; not in the baseline: ${fresh.join(", ")}`,
      );
    }
    report.maxLinks = Math.max(report.maxLinks, table.length);
    report.checkpoints++;
  }

  /**
   * Links of every kind, with bytes on them, then all deleted: what the
   * runtime makes once on first use (node:dgram, node:tls, the resolver)
   * must exist before the baseline is taken. The TLS client against a
   * silent seed waits out the 1 s handshake timeout, which also covers a
   * pair Deno 2.9 makes once about 0.5 s after start (docs/reliability.md).
   */
  async warmUp(): Promise<void> {
    const world = this.#world;
    const console = this.#console;
    const [tcpServer, udpLocal, udpServer] = [
      world.serverPorts[0],
      world.udpPorts[0],
      world.udpPorts[1],
    ];
    const local = "127.0.0.1";
    const steps: Request[] = [
      {
        command: "SKTSERVER",
        linkId: 0,
        type: SERVER_TYPE.TCP,
        port: tcpServer,
        autoReceive: false,
      },
      {
        command: "SKTCLIENT",
        linkId: 1,
        type: CLIENT_TYPE.TCP,
        host: local,
        port: world.echoPort,
        autoReceive: false,
      },
      { command: "SKTSEND", linkId: 1, data: encode("warm-up") },
      {
        command: "SKTCLIENT",
        linkId: 2,
        type: CLIENT_TYPE.UDP,
        host: "localhost",
        port: world.udpPeerPort,
        localPort: udpLocal,
        autoReceive: true,
      },
      { command: "SKTSEND", linkId: 2, data: encode("warm-up") },
      {
        command: "SKTSERVER",
        linkId: 3,
        type: SERVER_TYPE.UDP,
        port: udpServer,
        autoReceive: false,
      },
      {
        command: "SKTSEND",
        linkId: 3,
        data: encode("warm-up"),
        destination: { ip: local, port: world.udpPeerPort },
      },
      // Type 2 needs no certificate: the echo peer answers the ClientHello
      // with itself, the TCP server's seed never answers (both HANDSHAKE).
      {
        command: "SKTCLIENT",
        linkId: 4,
        type: CLIENT_TYPE.TLS,
        host: local,
        port: world.echoPort,
        autoReceive: false,
      },
      {
        command: "SKTCLIENT",
        linkId: 5,
        type: CLIENT_TYPE.TLS,
        host: local,
        port: tcpServer,
        autoReceive: false,
      },
    ];
    for (const step of steps) {
      await console.write(formatRequest(step));
      const { final } = await console.answer(`warm-up ${step.command}`);
      const tls = step.command === "SKTCLIENT" &&
        transportOf("client", step.type) === "tls";
      if (final.type === "prompt" || (!tls && final.type !== "ok")) {
        throw new FuzzFailure(
          `warm-up ${show(formatRequest(step))} answered ${text(final)}`,
        );
      }
    }
    await this.deleteAll("warm-up AT+SKTDEL");
    await console.probe();
    this.#report.probes--; // not one of the run's
  }
}
