/**
 * The command-line grammar fuzz, from the catalogue (`COMMANDS` of
 * `@atsock/protocol`): requests of every command and connection type with
 * fields in their ranges that the module can act on safely (ports of the
 * loopback world), and boundary lines that put one field of one command at
 * `min - 1`, `min`, `max` or `max + 1` of its catalogue range.
 *
 * @module
 */

import fc from "fast-check";
import {
  CLIENT_TYPE,
  CLIENT_TYPES,
  type ClientType,
  COMMAND_NAMES,
  type CommandName,
  COMMANDS,
  decodeLatin1,
  DEFAULT_CONFIG,
  type Endpoint,
  field,
  fieldRequiredFor,
  type FieldSpec,
  formatRequest,
  INT_MAX,
  rangeProblem,
  type Request,
  SERVER_TYPE,
  SERVER_TYPES,
  type ServerType,
  type SocketConfig,
  usesCert,
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

const LINK_ID = field("SKTDEL", "link_id");
const CERT = field("SKTSERVER", "cert_index");
const CLIENT_SRC_PORT = field("SKTCLIENT", "src_port");

/** Integers of a catalogue field's range (at most `top`: what the world can act on). */
export function inRange(spec: FieldSpec, top = spec.max): fc.Arbitrary<number> {
  return fc.integer({ min: spec.min, max: Math.min(spec.max, top) });
}

/**
 * The SKTREAD and SKTSENDRAW sizes of the random requests: at most this
 * (a link holds a few KiB; the boundary lines try the catalogue's maximum).
 */
const SAFE_SIZE = 3000;

/** A request of any command, with fields the module can act on safely. */
export function requestArb(world: World): fc.Arbitrary<Request> {
  const id = inRange(LINK_ID);
  const cert = inRange(CERT);
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
  // Every SKTCFG field of the catalogue: flags either way, ranges whole;
  // the open-ended timeouts only at values the run can wait out (the
  // boundary lines try the rest).
  const config = fc.record(
    Object.fromEntries(
      COMMANDS.SKTCFG.fields.map((spec) => [
        spec.key,
        spec.kind === "flag"
          ? fc.boolean()
          : spec.max === INT_MAX
          ? fc.constantFrom(0, 0, 100, 2000)
          : inRange(spec),
      ]),
    ),
  ) as unknown as fc.Arbitrary<SocketConfig>;
  // Every connection type of the catalogue, TCP twice as often.
  const serverType = fc.constantFrom(
    ...SERVER_TYPES.map((t) => t.value as ServerType),
    SERVER_TYPE.TCP,
  );
  const clientType = fc.constantFrom(
    ...CLIENT_TYPES.map((t) => t.value as ClientType),
    CLIENT_TYPE.TCP,
  );
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
        type: serverType,
        cert,
        port: fc.constantFrom(...world.serverPorts, ...world.udpPorts),
        autoReceive: fc.boolean(),
      }).map(({ cert, ...r }): Request => ({
        command: "SKTSERVER",
        ...r,
        ...(usesCert("server", r.type) ? { certIndex: cert } : {}),
      })),
      weight: 3,
    },
    {
      arbitrary: fc.record({
        linkId: id,
        type: clientType,
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
        ...(usesCert("client", r.type) ? { certIndex: cert } : {}),
        ...(fieldRequiredFor(CLIENT_SRC_PORT, r.type) || givePort
          ? { localPort }
          : {}),
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
        size: inRange(field("SKTREAD", "data_size"), SAFE_SIZE),
      }).map((r): Request => ({ command: "SKTREAD", ...r })),
      weight: 2,
    },
    {
      arbitrary: fc.record({
        linkId: id,
        size: inRange(field("SKTSENDRAW", "data_size"), SAFE_SIZE),
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

/** One boundary line: which field of which command, at what value. */
export interface BoundaryCase {
  /** The command. */
  command: CommandName;
  /** The field's wire name. */
  field: string;
  /** The value written (for a `text` field, its length in characters). */
  value: number;
  /**
   * The value as the module reads it: C `atoi` saturates at the C `int`
   * range, so `INT_MAX + 1` reads as `INT_MAX` (in range of an open-ended
   * field).
   */
  read: number;
  /** Whether the value read is inside the catalogue's range. */
  inRange: boolean;
  /** The command line, without its line end. */
  line: string;
}

/** Kinds of field whose range the boundary lines try (`ip` and `data` have none of their own). */
export const RANGED_KINDS: readonly FieldSpec["kind"][] = [
  "number",
  "flag",
  "text",
];

/**
 * A host name of `length` characters that needs no name lookup: 127.0.0.1
 * with its last part padded with zeros (octal, as inet_aton reads it), or
 * under 9 characters a number form (`0.0.0.N`).
 */
function hostOfLength(length: number): string {
  if (length < 1) return "";
  if (length < 9) return "1".repeat(length);
  return `127.0.0.${"0".repeat(length - 9)}1`;
}

/** The well-formed request each command's boundary lines start from. */
function baseRequest(
  command: CommandName,
  world: World,
  spec: FieldSpec,
  value: number,
): Request {
  // A field some types use only: the first type that uses it; conn_type
  // itself: the type tried, when it is one (its cert_index given).
  const typed = (fallback: number, count: number) =>
    spec.name === "conn_type" && value >= 0 && value < count
      ? value
      : spec.usedBy?.[0] ?? fallback;
  const destination = { ip: "127.0.0.1", port: world.udpPeerPort };
  switch (command) {
    case "SKTCFG":
      return { command, config: { ...DEFAULT_CONFIG } };
    case "SKTQUERY":
    case "SKTSTATE":
      return { command };
    case "SKTDEL":
      return { command, linkId: LINK_ID.min };
    case "SKTSERVER": {
      const type = typed(SERVER_TYPE.TCP, SERVER_TYPES.length) as ServerType;
      return {
        command,
        linkId: LINK_ID.min,
        type,
        ...(usesCert("server", type) ? { certIndex: CERT.min } : {}),
        port: world.serverPorts[0],
        autoReceive: false,
      };
    }
    case "SKTCLIENT": {
      const type = typed(CLIENT_TYPE.TCP, CLIENT_TYPES.length) as ClientType;
      return {
        command,
        linkId: LINK_ID.min,
        type,
        ...(usesCert("client", type) ? { certIndex: CERT.min } : {}),
        host: "127.0.0.1",
        port: world.echoPort,
        localPort: world.udpPorts[0],
        autoReceive: false,
      };
    }
    case "SKTSEND":
      return {
        command,
        linkId: LINK_ID.min,
        data: new Uint8Array([0x78]),
        destination,
      };
    case "SKTREAD":
      return { command, linkId: LINK_ID.min, size: 1 };
    case "SKTSENDRAW":
      return { command, linkId: LINK_ID.min, size: 1, destination };
  }
}

/**
 * Every boundary line: for each command, each field of a ranged kind, the
 * values `min - 1`, `min`, `max` and `max + 1` written into an otherwise
 * well-formed line (a `text` field gets a value of that many characters).
 */
export function boundaryCases(world: World): BoundaryCase[] {
  const cases: BoundaryCase[] = [];
  for (const command of COMMAND_NAMES) {
    const fields = COMMANDS[command].fields;
    for (const [index, spec] of fields.entries()) {
      if (!RANGED_KINDS.includes(spec.kind)) continue;
      for (const value of [spec.min - 1, spec.min, spec.max, spec.max + 1]) {
        const base = decodeLatin1(
          formatRequest(baseRequest(command, world, spec, value)),
        ).slice(0, -2);
        const equals = base.indexOf("=");
        const wire = base.slice(equals + 1).split(",");
        wire[index] = spec.kind === "text" ? hostOfLength(value) : `${value}`;
        const read = spec.kind === "text"
          ? value
          : Math.max(-INT_MAX - 1, Math.min(INT_MAX, value));
        cases.push({
          command,
          field: spec.name,
          value,
          read,
          inRange: rangeProblem(spec, read) === undefined,
          line: `${base.slice(0, equals + 1)}${wire.join(",")}`,
        });
      }
    }
  }
  return cases;
}
