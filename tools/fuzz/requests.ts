/**
 * The command-line grammar fuzz: requests of every command, with fields the
 * module can act on safely (ports of the loopback world, ids in range), and
 * the error codes a well-formed request may answer.
 *
 * @module
 */

import fc from "fast-check";
import type {
  ClientRequest,
  Endpoint,
  Request,
  SocketConfig,
} from "@atsock/protocol";

/** The loopback world the module may reach: the ports a request names. */
export interface World {
  /** A TCP echo peer. */
  echoPort: number;
  /** A UDP echo peer. */
  udpPeerPort: number;
  /** Free ports for the module's TCP and TLS servers. */
  serverPorts: number[];
  /** Free ports for the module's UDP servers and clients' source ports. */
  udpPorts: number[];
  /** A port nothing listens on. */
  closedPort: number;
}

/** Error codes a well-formed command may answer, by command (and type). */
export function allowedCodes(request: Request): number[] {
  switch (request.command) {
    case "SKTCFG":
    case "SKTQUERY":
    case "SKTSTATE":
      return [0];
    case "SKTDEL":
      return [0, 1];
    case "SKTSERVER":
      return request.type === 0
        ? [0, 1, 4]
        : request.type === 1
        ? [0, 1, 2]
        : [0, 1, 6, 9, 11];
    case "SKTCLIENT":
      return request.type === 0
        ? [0, 1, 4]
        : request.type === 1
        ? [0, 1, 2]
        : [0, 1, 6, 9, 13, 14];
    case "SKTSEND":
      return [0, 1, 2];
    case "SKTREAD":
      return [0, 1, 4];
    case "SKTSENDRAW":
      return [1]; // before the prompt; after it see the payload's answer
  }
}

/** Codes the payload after an `AT+SKTSENDRAW` prompt may answer. */
export function payloadCodes(): number[] {
  return [0, 2];
}

/** The code of an `AT+SKTSENDRAW` payload aborted with `<<<`. */
export const SENDRAW_ABORT = 4;

/** A request of any command, with fields the module can act on safely. */
export function requestArb(world: World): fc.Arbitrary<Request> {
  const id = fc.integer({ min: 0, max: 19 });
  const cert = fc.integer({ min: 1, max: 10 });
  const bytes = (max: number) =>
    fc.uint8Array({ minLength: 1, maxLength: max }).map((b) =>
      b.map((x) => (x === 13 || x === 10 ? 32 : x))
    );
  const remote = fc.constantFrom(
    world.echoPort,
    world.udpPeerPort,
    world.closedPort,
    ...world.serverPorts,
    ...world.udpPorts,
  );
  const destination: fc.Arbitrary<Endpoint | undefined> = fc.option(
    fc.record({
      ip: fc.constant("127.0.0.1"),
      port: fc.constantFrom(world.udpPeerPort, ...world.udpPorts),
    }),
    { nil: undefined },
  );
  const config: fc.Arbitrary<SocketConfig> = fc.record({
    sendTimeout: fc.constantFrom(0, 0, 100, 2000),
    receiveTimeout: fc.constantFrom(0, 100),
    noDelay: fc.boolean(),
    keepAlive: fc.boolean(),
    keepIdle: fc.integer({ min: 0, max: 7200 }),
    keepInterval: fc.integer({ min: 0, max: 75 }),
    keepCount: fc.integer({ min: 0, max: 10 }),
  });
  return fc.oneof(
    config.map((c): Request => ({ command: "SKTCFG", config: c })),
    fc.constant<Request>({ command: "SKTQUERY" }),
    fc.constant<Request>({ command: "SKTSTATE" }),
    {
      arbitrary: id.map((linkId): Request => ({ command: "SKTDEL", linkId })),
      weight: 3,
    },
    {
      arbitrary: fc.record({
        linkId: id,
        type: fc.constantFrom(0, 1, 1, 2, 3) as fc.Arbitrary<0 | 1 | 2 | 3>,
        cert,
        port: fc.constantFrom(...world.serverPorts, ...world.udpPorts),
        autoReceive: fc.boolean(),
      }).map(({ cert, ...r }): Request => ({
        command: "SKTSERVER",
        ...r,
        ...(r.type >= 2 ? { certIndex: cert } : {}),
      })),
      weight: 3,
    },
    {
      arbitrary: fc.record({
        linkId: id,
        type: fc.constantFrom(0, 1, 1, 2, 3, 5) as fc.Arbitrary<
          ClientRequest["type"]
        >,
        cert,
        host: fc.constantFrom("127.0.0.1", "127.0.0.1", "localhost"),
        port: remote,
        localPort: fc.constantFrom(...world.udpPorts),
        // at_sktclient takes a src_port for every type (TCP ignores it, TLS shows it).
        givePort: fc.boolean(),
        autoReceive: fc.boolean(),
      }).map(({ cert, localPort, givePort, ...r }): Request => ({
        command: "SKTCLIENT",
        ...r,
        ...(r.type >= 3 ? { certIndex: cert } : {}),
        ...(r.type === 0 || givePort ? { localPort } : {}),
      })),
      weight: 3,
    },
    {
      arbitrary: fc.record({ linkId: id, data: bytes(300), destination }).map(
        ({ destination, ...r }): Request => ({
          command: "SKTSEND",
          ...r,
          ...(destination ? { destination } : {}),
        }),
      ),
      weight: 3,
    },
    {
      arbitrary: fc.record({
        linkId: id,
        size: fc.integer({ min: 1, max: 3000 }),
      }).map((r): Request => ({ command: "SKTREAD", ...r })),
      weight: 2,
    },
    {
      arbitrary: fc.record({
        linkId: id,
        size: fc.integer({ min: 1, max: 3000 }),
        destination,
      }).map(({ destination, ...r }): Request => ({
        command: "SKTSENDRAW",
        ...r,
        ...(destination ? { destination } : {}),
      })),
      weight: 2,
    },
  );
}
