/**
 * The command catalogue: the one place that says what each of the nine
 * socket commands takes and answers. Per command: its fields (wire name,
 * request property, kind, range, which connection types use it, required
 * or not, meaning), how many fields a line may give, whether its fields
 * take escapes, and the error codes it can give with the reference's
 * meaning. The connection types are named here, and so are the error codes.
 *
 * Everything that checks, builds, explains or generates a command derives
 * from this table: the parser (`parseCommandLine`), `formatRequest`, the
 * CLI's `explain`, `term` help and completion and one-shot options, the host
 * library's argument checks and the fuzzer's generators. Adding a field is
 * one edit here plus its behaviour.
 *
 * @example
 * ```ts
 * import { COMMANDS, ERR, field, SERVER_TYPE } from "@atsock/protocol";
 *
 * COMMANDS.SKTSERVER.syntax;
 * // "AT+SKTSERVER=<link_id>,<conn_type>,[cert_index],<src_port>,<auto_rcv>"
 * field("SKTSERVER", "cert_index").usedBy; // [2, 3]
 * SERVER_TYPE.TLS; // 2
 * ERR.SKTCLIENT.NET_CONNECT; // 13
 * ```
 *
 * @module
 */

export * from "./conn_types.ts";
export * from "./error_codes.ts";
import {
  CLIENT_TYPE,
  CLIENT_TYPES,
  type ConnTypeSpec,
  type LinkSide,
  SERVER_TYPES,
} from "./conn_types.ts";

/** The nine socket commands, named without the `AT+` prefix. */
export type CommandName =
  | "SKTCFG"
  | "SKTQUERY"
  | "SKTSERVER"
  | "SKTCLIENT"
  | "SKTSEND"
  | "SKTREAD"
  | "SKTSENDRAW"
  | "SKTSTATE"
  | "SKTDEL";

/** All command names, in the reference's order. */
export const COMMAND_NAMES: readonly CommandName[] = [
  "SKTCFG",
  "SKTQUERY",
  "SKTSERVER",
  "SKTCLIENT",
  "SKTSEND",
  "SKTREAD",
  "SKTSENDRAW",
  "SKTSTATE",
  "SKTDEL",
];

/** The largest C `int`: the top of the open-ended number ranges. */
export const INT_MAX = 2147483647;

/** Number of link ids (MEMP_NUM_NETCONN in the lwIP configuration): ids are 0..19. */
export const LINK_COUNT = 20;

/** Lowest certificate suite index. */
export const CERT_INDEX_MIN = 1;
/** Highest certificate suite index. */
export const CERT_INDEX_MAX = 10;

/** Longest host name accepted by `AT+SKTCLIENT`. */
export const MAX_HOST_LENGTH = 255;

// ---------------------------------------------------------------------------
// Fields

/**
 * How a field is read: `number` with C `atoi` and a range, `flag` a number
 * 0 or 1, `text` as bytes (its range counts characters), `ip` an IPv4
 * address as `inet_aton` reads it, `data` the payload bytes.
 */
export type FieldKind = "number" | "flag" | "text" | "ip" | "data";

/** One field of a command line. */
export interface FieldSpec {
  /** Its name in the reference, as in `<link_id>`. */
  readonly name: string;
  /**
   * The property of the typed request that holds it (for `AT+SKTCFG`, of
   * its `config`). `conn_type` is `type`; `data_size` of `AT+SKTSEND` is
   * the length of `data`; `dst_ip`/`dst_port` are `destination.ip`/`.port`.
   */
  readonly key: string;
  /** How the field is read. */
  readonly kind: FieldKind;
  /** Lowest value (for `text`: fewest characters). */
  readonly min: number;
  /** Highest value (for `text`: most characters). */
  readonly max: number;
  /**
   * Whether an empty field is `ERROR: 1` before any number is read (the
   * handler checks `strlen(argv[n]) == 0`). An optional number field that
   * is given is still range-checked.
   */
  readonly required: boolean;
  /**
   * The connection types that read this field; on the others it is
   * ignored. Absent: every type (or the command has no `conn_type`).
   */
  readonly usedBy?: readonly number[];
  /** The connection types for which it must be given (absent: as `required`). */
  readonly requiredFor?: readonly number[];
  /** What the field means. */
  readonly meaning: string;
  /** The meaning of each value, for fields with a few named values. */
  readonly values?: Readonly<Record<number, string>>;
}

/** One command: its syntax, fields and errors. */
export interface CommandSpec {
  /** The name without `AT+`. */
  readonly name: CommandName;
  /** The reference's "Function Description". */
  readonly purpose: string;
  /** The syntax line, with `<required>` and `[optional]` fields. */
  readonly syntax: string;
  /** The fields after `=`, in order. */
  readonly fields: readonly FieldSpec[];
  /**
   * The field counts a line may give (0: no `=` at all); `undefined` when
   * any is taken and ignored (`AT+SKTSTATE`).
   */
  readonly fieldCounts: readonly number[] | undefined;
  /** Whether fields take `\,` and `\\` escapes (`parse_param_advance`). */
  readonly escapes: boolean;
  /** Which side's connection types `conn_type` holds, for the two that have one. */
  readonly connTypes?: LinkSide;
  /** Every error code it can give, with the reference's meaning. */
  readonly errors: Readonly<Record<number, string>>;
}

const FLAG = { kind: "flag", min: 0, max: 1 } as const;
const PORT = { kind: "number", min: 1, max: 65535 } as const;
const SIZE = { kind: "number", min: 1, max: INT_MAX } as const;

const LINK_ID: FieldSpec = {
  name: "link_id",
  key: "linkId",
  kind: "number",
  min: 0,
  max: LINK_COUNT - 1,
  required: true,
  meaning: "link id",
};

const AUTO_RCV: FieldSpec = {
  name: "auto_rcv",
  key: "autoReceive",
  ...FLAG,
  required: true,
  meaning: "how received data is delivered",
  values: {
    0: "received data is kept for AT+SKTREAD",
    1: "received data is printed as [$][SKT][DATA] lines",
  },
};

function certIndex(side: LinkSide, usedBy: readonly number[]): FieldSpec {
  return {
    name: "cert_index",
    key: "certIndex",
    kind: "number",
    min: CERT_INDEX_MIN,
    max: CERT_INDEX_MAX,
    required: false,
    usedBy,
    requiredFor: usedBy,
    meaning: `certificate suite (CERT/${side}_*_<i>)`,
  };
}

function typesOf(list: readonly ConnTypeSpec[]): Record<number, string> {
  return Object.fromEntries(list.map((t) => [t.value, t.meaning]));
}

function connTypeField(side: LinkSide): FieldSpec {
  const list = side === "server" ? SERVER_TYPES : CLIENT_TYPES;
  return {
    name: "conn_type",
    key: "type",
    kind: "number",
    min: 0,
    max: list.length - 1,
    required: true,
    meaning: "connection type",
    values: typesOf(list),
  };
}

const DESTINATION_NOTE =
  "needed on a UDP server only; every other link ignores it";

function destinationFields(): FieldSpec[] {
  return [
    {
      name: "dst_ip",
      key: "destination.ip",
      kind: "ip",
      min: 0,
      max: 0,
      required: false,
      meaning: `destination IPv4 address (${DESTINATION_NOTE})`,
    },
    {
      name: "dst_port",
      key: "destination.port",
      ...PORT,
      required: false,
      meaning: `destination port (${DESTINATION_NOTE})`,
    },
  ];
}

const SERVER_CERT_TYPES = SERVER_TYPES.filter((t) => t.usesCert).map((t) =>
  t.value
);
const CLIENT_CERT_TYPES = CLIENT_TYPES.filter((t) => t.usesCert).map((t) =>
  t.value
);

function spec(
  name: CommandName,
  purpose: string,
  fields: FieldSpec[],
  fieldCounts: readonly number[] | undefined,
  rest: { escapes?: boolean; connTypes?: LinkSide; errors: string[] },
): CommandSpec {
  const shown = fields.map((f) =>
    f.required && f.usedBy === undefined ? `<${f.name}>` : `[${f.name}]`
  );
  return {
    name,
    purpose,
    syntax: fieldCounts?.length === 1 && fieldCounts[0] === 0
      ? `AT+${name}`
      : `AT+${name}${fields.length ? `=${shown.join(",")}` : ""}`,
    fields,
    fieldCounts,
    escapes: rest.escapes ?? false,
    connTypes: rest.connTypes,
    errors: Object.fromEntries(rest.errors.map((m, i) => [i + 1, m])),
  };
}

const PARAMETER = "Parameter error";

/** Every command, by name: the catalogue. */
export const COMMANDS: Readonly<Record<CommandName, CommandSpec>> = {
  SKTCFG: spec(
    "SKTCFG",
    "configure the global socket options for TCP/UDP/SSL",
    [
      {
        name: "so_sndtimeo",
        key: "sendTimeout",
        kind: "number",
        min: 0,
        max: INT_MAX,
        required: false,
        meaning: "SO_SNDTIMEO: send time limit in ms, 0 none",
      },
      {
        name: "so_rcvtimeo",
        key: "receiveTimeout",
        kind: "number",
        min: 0,
        max: INT_MAX,
        required: false,
        meaning: "SO_RCVTIMEO: receive time limit in ms, 0 none",
      },
      {
        name: "tcp_nodelay",
        key: "noDelay",
        ...FLAG,
        required: false,
        meaning: "TCP_NODELAY",
        values: {
          0: "Nagle's algorithm on",
          1: "Nagle's algorithm off",
        },
      },
      {
        name: "so_keepalive",
        key: "keepAlive",
        ...FLAG,
        required: false,
        meaning: "SO_KEEPALIVE",
        values: { 0: "no keepalive", 1: "keepalive probes on idle links" },
      },
      {
        name: "tcp_keepidle",
        key: "keepIdle",
        kind: "number",
        min: 0,
        max: 7200,
        required: false,
        meaning: "TCP_KEEPIDLE: idle seconds before the first keepalive probe",
      },
      {
        name: "tcp_keepintvl",
        key: "keepInterval",
        kind: "number",
        min: 0,
        max: 75,
        required: false,
        meaning: "TCP_KEEPINTVL: seconds between keepalive probes",
      },
      {
        name: "tcp_keepcnt",
        key: "keepCount",
        kind: "number",
        min: 0,
        max: 10,
        required: false,
        meaning: "TCP_KEEPCNT: unanswered probes before the link is dead",
      },
    ],
    [1, 2, 3, 4, 5, 6, 7],
    { errors: [PARAMETER] },
  ),
  SKTQUERY: spec(
    "SKTQUERY",
    "query the global socket option configuration",
    [],
    [0],
    { errors: ["No need input Parameter"] },
  ),
  SKTSERVER: spec(
    "SKTSERVER",
    "create a TCP/UDP/SSL server listening service",
    [
      { ...LINK_ID, meaning: "link id the server gets" },
      connTypeField("server"),
      certIndex("server", SERVER_CERT_TYPES),
      {
        name: "src_port",
        key: "port",
        ...PORT,
        required: true,
        meaning: "local port the server listens on",
      },
      AUTO_RCV,
    ],
    [5],
    {
      connTypes: "server",
      errors: [
        PARAMETER,
        "Failed to create TCP server",
        "Failed to create the task that auto-receives the TCP client and TCP data",
        "Failed to create UDP server",
        "Failed to create the task that auto-receives UDP client and its data",
        "Failed to get SERVER_CERT/SERVER_KEY/SERVER_CA from flash",
        "Memory allocation failed",
        "mbedtls_ssl_config_defaults() failed",
        "mbedtls_x509_crt_parse() failed",
        "mbedtls_ssl_conf_own_cert() failed",
        "mbedtls_net_bind() failed",
        "Failed to create the task that auto-receives the TLS client and TLS data",
      ],
    },
  ),
  SKTCLIENT: spec(
    "SKTCLIENT",
    "establish a TCP/UDP/SSL client connection",
    [
      { ...LINK_ID, meaning: "link id the client gets" },
      connTypeField("client"),
      certIndex("client", CLIENT_CERT_TYPES),
      {
        name: "dst_host",
        key: "host",
        kind: "text",
        min: 1,
        max: MAX_HOST_LENGTH,
        required: true,
        meaning: "remote server: IPv4 address or host name",
      },
      {
        name: "dst_port",
        key: "port",
        ...PORT,
        required: true,
        meaning: "remote server port",
      },
      {
        name: "src_port",
        key: "localPort",
        ...PORT,
        required: false,
        requiredFor: [CLIENT_TYPE.UDP],
        meaning:
          "local port: required for UDP (bound), optional for the others (range-checked when given)",
      },
      AUTO_RCV,
    ],
    [7],
    {
      connTypes: "client",
      errors: [
        PARAMETER,
        "Failed to create TCP client",
        "Failed to create the task that auto-receives TCP data as TCP client",
        "Failed to create UDP client",
        "Failed to create the task that auto-receives UDP data as UDP client",
        "Failed to get CLIENT_CERT/CLIENT_KEY/CLIENT_CA from flash",
        "Memory allocation failed",
        "mbedtls_ssl_config_defaults() failed",
        "mbedtls_x509_crt_parse() failed",
        "mbedtls_ssl_conf_own_cert() failed",
        "mbedtls_ssl_setup() failed",
        "inet_ntoa_r() failed",
        "mbedtls_net_connect() failed",
        "mbedtls_ssl_handshake() failed",
        "Failed to create the task that auto-receives TLS data as TLS client",
      ],
    },
  ),
  SKTSEND: spec(
    "SKTSEND",
    "send data through a link",
    [
      { ...LINK_ID, meaning: "link to send on" },
      {
        name: "data_size",
        key: "data.length",
        ...SIZE,
        required: true,
        meaning: "bytes of data, counted after unescaping \\, and \\\\",
      },
      ...destinationFields(),
      {
        name: "data",
        key: "data",
        kind: "data",
        min: 1,
        max: INT_MAX,
        required: true,
        meaning: "the bytes to send (`,` escaped as `\\,`, `\\` as `\\\\`)",
      },
    ],
    [5],
    { escapes: true, errors: [PARAMETER, "Failed to send data"] },
  ),
  SKTREAD: spec(
    "SKTREAD",
    "read buffered data from a link",
    [
      { ...LINK_ID, meaning: "link to read" },
      {
        name: "data_size",
        key: "size",
        ...SIZE,
        required: true,
        meaning: "most bytes to read",
      },
    ],
    [2],
    {
      errors: [
        PARAMETER,
        "Memory allocation failed",
        "select() failed",
        "Failed to read data",
      ],
    },
  ),
  SKTSENDRAW: spec(
    "SKTSENDRAW",
    "send data through a link in Transparent Transmission mode (Host Control Mode only)",
    [
      { ...LINK_ID, meaning: "link to send on" },
      {
        name: "data_size",
        key: "size",
        ...SIZE,
        required: true,
        meaning: "raw bytes that follow the >>> prompt",
      },
      ...destinationFields(),
    ],
    [2, 4],
    {
      escapes: true,
      errors: [
        PARAMETER,
        "Failed to send data",
        "Memory allocation failed",
        "Get data failed in TT mode",
      ],
    },
  ),
  SKTSTATE: spec(
    "SKTSTATE",
    "query the status of every active link",
    [],
    undefined,
    { errors: [] },
  ),
  SKTDEL: spec(
    "SKTDEL",
    "delete a link (a server with all its seeds)",
    [{ ...LINK_ID, meaning: "link to delete" }],
    [1],
    { errors: [PARAMETER] },
  ),
};

/**
 * A command's field by its wire name.
 *
 * @throws {RangeError} when the command has no such field.
 */
export function field(command: CommandName, name: string): FieldSpec {
  const found = COMMANDS[command].fields.find((f) => f.name === name);
  if (found === undefined) {
    throw new RangeError(`AT+${command} has no field ${name}`);
  }
  return found;
}
