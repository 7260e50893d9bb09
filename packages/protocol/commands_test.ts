import assert from "node:assert/strict";
import {
  CLIENT_TYPE,
  CLIENT_TYPES,
  COMMAND_NAMES,
  type CommandName,
  COMMANDS,
  connType,
  ERR,
  ERROR_MEANINGS,
  field,
  fieldRequiredFor,
  type FieldSpec,
  formatRequest,
  INT_MAX,
  PARAMETER_ERROR,
  parseCommandLine,
  rangeProblem,
  type Request,
  SERVER_TYPE,
  SERVER_TYPES,
  type SocketConfig,
  usesCert,
} from "./mod.ts";
import { encodeLatin1 } from "./bytes.ts";

/** A valid line's fields per command, with every field in use. */
const SAMPLE_FIELDS: Record<CommandName, string[]> = {
  SKTCFG: COMMANDS.SKTCFG.fields.map((f) => String(f.min)),
  SKTQUERY: [],
  SKTSERVER: ["1", String(SERVER_TYPE.TLS_VERIFY_CLIENT), "1", "5000", "0"],
  SKTCLIENT: [
    "1",
    String(CLIENT_TYPE.TLS_MUTUAL),
    "1",
    "example.test",
    "80",
    "1000",
    "0",
  ],
  SKTSEND: ["0", "1", "1.2.3.4", "9", "x"],
  SKTREAD: ["0", "1"],
  SKTSENDRAW: ["0", "1", "1.2.3.4", "9"],
  SKTSTATE: [],
  SKTDEL: ["0"],
};

/** A valid request per command, with every field in use. */
const SAMPLE_REQUESTS: Record<CommandName, Request> = {
  SKTCFG: {
    command: "SKTCFG",
    // Every option of the catalogue at its lowest (a flag off).
    config: Object.fromEntries(
      COMMANDS.SKTCFG.fields.map((
        f,
      ) => [f.key, f.kind === "flag" ? f.min === 1 : f.min]),
    ) as unknown as SocketConfig,
  },
  SKTQUERY: { command: "SKTQUERY" },
  SKTSERVER: {
    command: "SKTSERVER",
    linkId: 1,
    type: SERVER_TYPE.TLS_VERIFY_CLIENT,
    certIndex: 1,
    port: 5000,
    autoReceive: false,
  },
  SKTCLIENT: {
    command: "SKTCLIENT",
    linkId: 1,
    type: CLIENT_TYPE.TLS_MUTUAL,
    certIndex: 1,
    host: "example.test",
    port: 80,
    localPort: 1000,
    autoReceive: false,
  },
  SKTSEND: {
    command: "SKTSEND",
    linkId: 0,
    data: new Uint8Array([0x78]),
    destination: { ip: "1.2.3.4", port: 9 },
  },
  SKTREAD: { command: "SKTREAD", linkId: 0, size: 1 },
  SKTSENDRAW: {
    command: "SKTSENDRAW",
    linkId: 0,
    size: 1,
    destination: { ip: "1.2.3.4", port: 9 },
  },
  SKTSTATE: { command: "SKTSTATE" },
  SKTDEL: { command: "SKTDEL", linkId: 0 },
};

function line(command: CommandName, fields: string[]): Uint8Array {
  return encodeLatin1(
    `AT+${command}${fields.length ? `=${fields.join(",")}` : ""}`,
  );
}

/** The values at and just beyond each end of a field's range. */
function edges(spec: FieldSpec): [number, boolean][] {
  return [
    [spec.min - 1, false],
    [spec.min, true],
    [spec.max, true],
    [spec.max + 1, false],
  ];
}

/** Whether the parser takes the line with field `i` set to `text`. */
function parserTakes(
  command: CommandName,
  i: number,
  text: string,
): boolean {
  const fields = [...SAMPLE_FIELDS[command]];
  fields[i] = text;
  const spec = COMMANDS[command].fields[i];
  if (spec.name === "data_size" && command === "SKTSEND") {
    // data_size must match the data: give that many bytes.
    const size = Number(text);
    fields[4] = size > 0 && size < 4000 ? "x".repeat(size) : "x";
  }
  const parsed = parseCommandLine(line(command, fields));
  if (parsed.kind !== "request") return false;
  // A bad destination keeps the line: the module refuses it on a UDP server.
  const request = parsed.request as { badDestination?: string };
  return request.badDestination === undefined;
}

/** Sets a request property named by a catalogue key (`a.b` for nested). */
function withValue(request: Request, spec: FieldSpec, value: unknown): Request {
  const copy = structuredClone(request) as unknown as Record<string, unknown>;
  const target = request.command === "SKTCFG"
    ? copy.config as Record<string, unknown>
    : copy;
  const path = spec.key.split(".");
  let at = target;
  for (const key of path.slice(0, -1)) at = at[key] as Record<string, unknown>;
  at[path[path.length - 1]] = value;
  // A type that takes no certificate suite is given none.
  const side = COMMANDS[request.command].connTypes;
  if (spec.name === "conn_type" && side && !usesCert(side, value as number)) {
    delete copy.certIndex;
  }
  return copy as unknown as Request;
}

function formatTakes(request: Request): boolean {
  try {
    formatRequest(request);
    return true;
  } catch (e) {
    if (e instanceof RangeError) return false;
    throw e;
  }
}

Deno.test("catalogue: the sample lines and requests are valid", () => {
  for (const command of COMMAND_NAMES) {
    const parsed = parseCommandLine(line(command, SAMPLE_FIELDS[command]));
    assert.equal(parsed.kind, "request", command);
    assert.ok(formatTakes(SAMPLE_REQUESTS[command]), command);
    // What formatRequest builds, the parser reads back to the same request.
    const back = parseCommandLine(
      formatRequest(SAMPLE_REQUESTS[command]).subarray(0, -2),
    );
    assert.equal(back.kind, "request");
    if (back.kind === "request") {
      assert.deepEqual(back.request, SAMPLE_REQUESTS[command], command);
    }
  }
});

Deno.test("catalogue: the parser and formatRequest agree with every field's range", () => {
  let checked = 0;
  for (const command of COMMAND_NAMES) {
    COMMANDS[command].fields.forEach((spec, i) => {
      if (spec.kind === "number" || spec.kind === "flag") {
        for (const [value, inRange] of edges(spec)) {
          // SKTSEND's data_size must be the data's length, which a line
          // bounds long before INT_MAX: only its low end is a range.
          if (spec.key === "data.length" && value > 1) continue;
          const where = `AT+${command} ${spec.name}=${value}`;
          assert.equal(rangeProblem(spec, value) === undefined, inRange, where);
          // atoi saturates at INT_MAX (as strtol does): past the top of an
          // open range the line reads as INT_MAX itself.
          const saturates = value > INT_MAX;
          assert.equal(
            parserTakes(command, i, String(value)),
            inRange || saturates,
            where,
          );
          if (spec.key === "data.length") continue; // the data's own length
          const v: number | boolean = spec.kind === "flag"
            ? value === 1
            : value;
          if (spec.kind === "flag" && (value < 0 || value > 1)) continue;
          assert.equal(
            formatTakes(withValue(SAMPLE_REQUESTS[command], spec, v)),
            inRange,
            `formatRequest ${where}`,
          );
          checked++;
        }
      } else if (spec.kind === "text") {
        for (const [length, inRange] of edges(spec)) {
          const text = "h".repeat(Math.max(length, 0));
          const where = `AT+${command} ${spec.name} of ${length} characters`;
          assert.equal(parserTakes(command, i, text), inRange, where);
          assert.equal(
            formatTakes(withValue(SAMPLE_REQUESTS[command], spec, text)),
            inRange,
            `formatRequest ${where}`,
          );
          checked++;
        }
      }
    });
  }
  assert.ok(checked > 60, `${checked} checks`);
});

Deno.test("catalogue: an empty field is refused exactly when the catalogue requires it", () => {
  for (const command of COMMAND_NAMES) {
    COMMANDS[command].fields.forEach((spec, i) => {
      const fields = [...SAMPLE_FIELDS[command]];
      fields[i] = "";
      if (spec.name === "dst_ip" || spec.name === "dst_port") {
        fields[2] = fields[3] = ""; // they go together
      }
      const parsed = parseCommandLine(line(command, fields));
      const refused = parsed.kind === "error" ||
        (parsed.kind === "request" &&
          (parsed.request as { badDestination?: string }).badDestination !==
            undefined);
      // cert_index is needed by the sample's TLS types; src_port by UDP only.
      const type = COMMANDS[command].connTypes
        ? Number(SAMPLE_FIELDS[command][1])
        : -1;
      const expected = fieldRequiredFor(spec, type);
      assert.equal(refused, expected, `AT+${command} empty ${spec.name}`);
      if (expected && spec.required && parsed.kind === "error") {
        assert.equal(parsed.error.code, PARAMETER_ERROR);
      }
    });
  }
});

Deno.test("catalogue: field counts are the parser's", () => {
  for (const command of COMMAND_NAMES) {
    const counts = COMMANDS[command].fieldCounts;
    if (counts === undefined) continue;
    for (let n = 0; n <= 8; n++) {
      const fields = SAMPLE_FIELDS[command].slice(0, n);
      while (fields.length < n) fields.push("0");
      const text = n === 0
        ? `AT+${command}`
        : `AT+${command}=${fields.join(",")}`;
      const parsed = parseCommandLine(encodeLatin1(text));
      if (!counts.includes(n)) assert.equal(parsed.kind, "error", text);
    }
  }
});

Deno.test("catalogue: connection types and cert_index agree", () => {
  for (
    const [side, list, command] of [
      ["server", SERVER_TYPES, "SKTSERVER"],
      ["client", CLIENT_TYPES, "SKTCLIENT"],
    ] as const
  ) {
    const typeField = field(command, "conn_type");
    assert.equal(typeField.max, list.length - 1);
    const cert = field(command, "cert_index");
    for (const t of list) {
      assert.equal(connType(side, t.value), t);
      assert.equal(cert.usedBy!.includes(t.value), t.usesCert, t.name);
      assert.equal(typeField.values![t.value], t.meaning);
      // The parser reads cert_index exactly for these types.
      const fields = [...SAMPLE_FIELDS[command]];
      fields[1] = String(t.value);
      fields[2] = "0"; // out of range: refused only where it is read
      if (t.value === CLIENT_TYPE.UDP && side === "client") fields[5] = "1000";
      const parsed = parseCommandLine(line(command, fields));
      assert.equal(parsed.kind === "error", t.usesCert, `${side} ${t.name}`);
    }
  }
});

Deno.test("catalogue: named error codes are the reference's table", () => {
  for (const command of COMMAND_NAMES) {
    const codes = Object.values(ERR[command]).map(Number).sort((a, b) => a - b);
    assert.deepEqual(
      codes,
      Object.keys(ERROR_MEANINGS[command]).map(Number),
      command,
    );
  }
  assert.equal(ERR.SKTCLIENT.NET_CONNECT, 13);
  assert.equal(
    ERROR_MEANINGS.SKTCLIENT[ERR.SKTCLIENT.HANDSHAKE],
    "mbedtls_ssl_handshake() failed",
  );
});

Deno.test("catalogue: syntax lines", () => {
  assert.equal(
    COMMANDS.SKTSERVER.syntax,
    "AT+SKTSERVER=<link_id>,<conn_type>,[cert_index],<src_port>,<auto_rcv>",
  );
  assert.equal(COMMANDS.SKTQUERY.syntax, "AT+SKTQUERY");
  assert.equal(
    COMMANDS.SKTSEND.syntax,
    "AT+SKTSEND=<link_id>,<data_size>,[dst_ip],[dst_port],<data>",
  );
});
