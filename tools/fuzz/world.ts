/**
 * The link and network side of the interpreter fuzz: the loopback world the
 * module's links reach (a TCP echo peer, a UDP echo peer, free ports for its
 * servers and UDP sockets, a closed port).
 *
 * @module
 */

import { createSocket } from "node:dgram";
import { echoPeer, freePort } from "../loopback.ts";
import type { World } from "./requests.ts";

/** A running {@linkcode World}. */
export interface LoopbackWorld extends World {
  /** The TCP echo peer's connections open now (each holds a host fd). */
  echoConns: ReadonlySet<Deno.Conn>;
  /** Stops both peers. */
  close(): Promise<void>;
}

/** Starts the peers and picks the ports. */
export async function startWorld(): Promise<LoopbackWorld> {
  const echo = echoPeer("fuzz echo peer");
  const udpPeer = createSocket("udp4");
  await new Promise<void>((r) => udpPeer.bind(0, "127.0.0.1", () => r()));
  udpPeer.on("message", (msg, from) => {
    udpPeer.send(msg, from.port, from.address);
  });
  return {
    echoPort: echo.port,
    udpPeerPort: udpPeer.address().port,
    serverPorts: [freePort(), freePort(), freePort()],
    udpPorts: [freePort(), freePort(), freePort()],
    closedPort: freePort(),
    echoConns: echo.conns,
    async close() {
      await echo.close();
      udpPeer.close();
    },
  };
}
