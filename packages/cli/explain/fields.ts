/**
 * The fields of a command line, explained from the command catalogue
 * (`COMMANDS` of `@atsock/protocol`): each field's name, the value the
 * module reads from it (`atoi` for numbers), its meaning and range, whether
 * the connection type uses it, and what is wrong with it. Nothing here
 * repeats a field, a range or a connection type: a field added to the
 * catalogue is explained here without an edit.
 *
 * @module
 */

import {
  atoi,
  badEscape,
  type CommandName,
  COMMANDS,
  type CommandSpec,
  connType,
  decodeLatin1,
  fieldRequiredFor,
  type FieldSpec,
  fieldUsedBy,
  INT_MAX,
  isIPv4,
  PARAMETER_ERROR,
  rangeProblem,
  rangeText,
  splitFields,
  splitParams,
} from "@atsock/protocol";
import { showBytes } from "./escapes.ts";
import type { ExplainedField } from "./explanation.ts";

/** Longest value shown for a text field. */
const SHOW_LIMIT = 64;

/** A number field as `atoi` reads it. */
interface NumberRead {
  value: number;
  note?: string;
}

/** Reads a field as the firmware does, and says how when it is not plain. */
export function readNumber(raw: Uint8Array): NumberRead {
  const value = atoi(raw);
  const text = decodeLatin1(raw);
  if (text === "") return { value, note: "empty field, read as 0" };
  if (/^(0|-?[1-9][0-9]*)$/.test(text) && String(value) === text) {
    return { value };
  }
  const m = /^[ \t\n\v\f\r]*[+-]?([0-9]*)/.exec(text)!;
  const shown = showBytes(raw);
  if (m[1] === "") {
    return { value, note: `"${shown}" has no leading digits, read as 0` };
  }
  const parts: string[] = [];
  const rest = raw.subarray(m[0].length);
  if (rest.length > 0) parts.push(`trailing "${showBytes(rest)}" ignored`);
  if (Math.abs(value) === INT_MAX || value === -INT_MAX - 1) {
    const digits = m[1].replace(/^0+/, "");
    if (digits.length > 10 || BigInt(digits || "0") > BigInt(INT_MAX)) {
      parts.push("beyond 32 bits, saturated");
    }
  }
  return {
    value,
    note: `"${shown}" read as ${value}${
      parts.length ? ` (${parts.join("; ")})` : ""
    }`,
  };
}

/** What is known of the line while its fields are read in order. */
interface Context {
  /** The command's catalogue entry. */
  command: CommandSpec;
  /** `conn_type` as read, once it was read and is in range. */
  type?: number;
  /** Whether `conn_type` has been read (in range or not). */
  typeRead: boolean;
}

/**
 * The words of a number field before it is read: its meaning, its range,
 * and its named values (a connection type's name, a flag's two meanings).
 */
function numberMeaning(spec: FieldSpec, context: Context): string {
  const range = rangeText(spec);
  const side = context.command.connTypes;
  if (spec.name === "conn_type" && side) {
    const names = Array.from(
      { length: spec.max - spec.min + 1 },
      (_, i) => `${spec.min + i} ${connType(side, spec.min + i)!.name}`,
    );
    return `${spec.meaning} (${range}): ${names.join(", ")}`;
  }
  if (spec.values) {
    const values = Object.entries(spec.values).map(([v, m]) => `${v} ${m}`);
    return `${spec.meaning} (${range}): ${values.join(", ")}`;
  }
  const types = spec.usedBy === undefined
    ? ""
    : `, for types ${listed(spec.usedBy)}`;
  return `${spec.meaning} (${range})${types}`;
}

/** `1`, `2 and 3`, `3, 4 and 5`. */
function listed(values: readonly number[]): string {
  return values.length < 2
    ? values.join("")
    : `${values.slice(0, -1).join(", ")} and ${values[values.length - 1]}`;
}

/** What a time limit of `AT+SKTCFG` does at a value (0 is none). */
const TIME_LIMITS: Readonly<Record<string, [string, string]>> = {
  so_sndtimeo: ["sends", "SO_SNDTIMEO"],
  so_rcvtimeo: ["receives", "SO_RCVTIMEO"],
};

/** The meaning of a value in range, where the catalogue names it or the files it selects. */
function describeValue(
  spec: FieldSpec,
  value: number,
  context: Context,
): string | undefined {
  const side = context.command.connTypes;
  if (spec.name === "cert_index" && side && context.type !== undefined) {
    return certificateSuite(side, context.type, value);
  }
  // A connection type says what it is; another named value says its field.
  if (spec.name === "conn_type" && side) return connType(side, value)?.meaning;
  const limit = TIME_LIMITS[spec.name];
  if (limit) {
    const [what, option] = limit;
    return value
      ? `${what} give up after ${value} ms (${option})`
      : `no ${what.slice(0, -1)} time limit (${option} 0)`;
  }
  const named = spec.values?.[value];
  return named === undefined ? undefined : `${spec.name} ${value}: ${named}`;
}

/** The certificate files suite `index` names for a connection type. */
function certificateSuite(
  side: "server" | "client",
  type: number,
  index: number,
): string {
  const conn = connType(side, type)!;
  const files: string[] = [];
  if (side === "server") {
    if (conn.presentsCert) {
      files.push(`CERT/server_cert_${index}.crt and server_key_${index}.key`);
    }
    if (conn.verifiesPeer) {
      files.push(`clients verified with server_ca_${index}.crt`);
    }
  } else {
    if (conn.verifiesPeer) {
      files.push(`verifies the server with CERT/client_ca_${index}.crt`);
    }
    if (conn.presentsCert) {
      files.push(
        `presents CERT/client_cert_${index}.crt with client_key_${index}.key`,
      );
    }
  }
  return `certificate suite ${index}: ${files.join(", ")}`;
}

/** `AT+SKTCLIENT`'s `src_port` by transport: what the module does with it. */
function localPortMeaning(spec: FieldSpec, context: Context): string {
  const transport = context.type === undefined
    ? undefined
    : connType("client", context.type)?.transport;
  const range = rangeText(spec);
  if (transport === "udp") {
    return `local port the UDP client binds (required for UDP) (${range})`;
  }
  if (transport === "tcp") {
    return `local port: checked when given, then ignored (TCP takes an ephemeral port) (${range})`;
  }
  if (transport === "tls") {
    return `local port: checked when given, shown by AT+SKTSTATE (TLS binds none) (${range})`;
  }
  return `${spec.meaning} (${range})`;
}

/** A number or flag field. */
function numberField(
  raw: Uint8Array | undefined,
  spec: FieldSpec,
  context: Context,
): { field: ExplainedField; value: number | undefined } {
  const meaning =
    context.command.connTypes === "client" && spec.key === "localPort"
      ? localPortMeaning(spec, context)
      : numberMeaning(spec, context);
  if (raw === undefined) {
    return {
      field: { name: spec.name, value: null, meaning, problem: "missing" },
      value: undefined,
    };
  }
  const read = readNumber(raw);
  const field: ExplainedField = { name: spec.name, value: read.value, meaning };
  // A field only some connection types read.
  if (spec.usedBy !== undefined) {
    const ignored = !context.typeRead || context.type === undefined
      ? "depends on conn_type"
      : !fieldUsedBy(spec, context.type)
      ? `not used by conn_type ${context.type}`
      : undefined;
    if (ignored) {
      field.value = showBytes(raw, SHOW_LIMIT);
      field.meaning = `${spec.meaning}: ${ignored}, ignored`;
      return { field, value: undefined };
    }
  }
  const required = context.type === undefined
    ? spec.required
    : fieldRequiredFor(spec, context.type);
  // An empty field is refused as such where the handler checks it
  // (`strlen`): a required one, or one every type reads but only some
  // need (`src_port`). A field only some types read (`cert_index`) is
  // read with `atoi` there: empty is 0, then out of range.
  const checkedEmpty = spec.required ||
    (required && spec.usedBy === undefined);
  // A field required only for some types is left out by an empty one.
  if (raw.length === 0 && spec.requiredFor && !required) {
    field.value = showBytes(raw, SHOW_LIMIT);
    field.meaning = `${meaning}: not given, ignored`;
    return { field, value: undefined };
  }
  if (read.note) {
    field.raw = decodeLatin1(raw);
    field.note = read.note;
  }
  const outside = rangeProblem(spec, read.value) !== undefined;
  if (raw.length === 0 && checkedEmpty) {
    field.value = null;
    field.note = undefined;
    field.problem =
      `${spec.name} is empty: a required field (ERROR: ${PARAMETER_ERROR}, not the number 0)`;
  } else if (outside) {
    field.problem = `${spec.name} ${read.value} is outside ${rangeText(spec)}`;
  } else {
    const described = describeValue(spec, read.value, context);
    if (described) field.meaning = described;
  }
  return { field, value: field.problem ? undefined : read.value };
}

/** A field shown as its bytes. */
function textField(
  name: string,
  raw: Uint8Array | undefined,
  meaning: string,
): ExplainedField {
  if (raw === undefined) {
    return { name, value: null, meaning, problem: "missing" };
  }
  return { name, value: showBytes(raw, SHOW_LIMIT), meaning };
}

/** A host name or address (`text`): its length is its range. */
function hostField(raw: Uint8Array | undefined, spec: FieldSpec) {
  const field = textField(
    spec.name,
    raw,
    `${spec.meaning} (resolved to IPv4; a name not found is ERROR: ${PARAMETER_ERROR})`,
  );
  if (raw !== undefined) {
    const problem = rangeProblem(spec, raw.length);
    if (problem) field.problem = problem;
  }
  return field;
}

/**
 * `dst_ip` and `dst_port` of `AT+SKTSEND`/`AT+SKTSENDRAW`: required on a
 * UDP server, ignored on every other link (which the line alone cannot tell).
 */
function destinationFields(
  ipRaw: Uint8Array | undefined,
  portRaw: Uint8Array | undefined,
  ipSpec: FieldSpec,
  portSpec: FieldSpec,
): ExplainedField[] {
  const given = (ipRaw?.length ?? 0) > 0 || (portRaw?.length ?? 0) > 0;
  const ip = textField(ipSpec.name, ipRaw, ipSpec.meaning);
  const port = textField(portSpec.name, portRaw, portSpec.meaning);
  if (given && ipRaw !== undefined && portRaw !== undefined) {
    const address = decodeLatin1(ipRaw);
    const value = atoi(portRaw);
    const onUdpServer = `ERROR: ${PARAMETER_ERROR} on a UDP server`;
    if (!isIPv4(address)) {
      ip.note = `"${showBytes(ipRaw)}" is not an IPv4 address: ${onUdpServer}`;
    }
    const problem = rangeProblem(portSpec, value);
    if (problem) {
      port.note = `${value} is outside ${rangeText(portSpec)}: ${onUdpServer}`;
    } else port.value = value;
  }
  return [ip, port];
}

/** Fields beyond those the command takes. */
function extraFields(fields: Uint8Array[], from: number): ExplainedField[] {
  return fields.slice(from).map((raw, i) => ({
    name: `field ${from + i + 1}`,
    value: showBytes(raw, SHOW_LIMIT),
    meaning: "a field the command does not take",
    problem: "one field too many",
  }));
}

/** The first backslash `parse_param_advance` refuses, as a problem. */
function badEscapeField(params: Uint8Array | undefined): ExplainedField[] {
  if (params === undefined) return [];
  const at = badEscape(params);
  if (at < 0) return [];
  return [{
    name: "escape",
    value: showBytes(params.subarray(at, at + 2)),
    meaning: "only \\, (a comma) and \\\\ (a backslash) are escapes",
    problem: `a backslash at byte ${
      at + 1
    } of the parameters is followed by neither ',' nor '\\': ERROR: ${PARAMETER_ERROR}`,
  }];
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/** A command that takes no `=` at all (`fieldCounts` is `[0]`). */
function takesNoFields(spec: CommandSpec): boolean {
  return spec.fieldCounts?.length === 1 && spec.fieldCounts[0] === 0;
}

/** Every field of a command line (the bytes after `=`), explained. */
export function explainFields(
  command: CommandName,
  params: Uint8Array | undefined,
): ExplainedField[] {
  const spec = COMMANDS[command];
  if (takesNoFields(spec)) {
    return params === undefined ? [] : [{
      name: "parameters",
      value: showBytes(params, SHOW_LIMIT),
      meaning: `AT+${command} takes no parameters`,
      problem: `any '=' after AT+${command} is ERROR: ${PARAMETER_ERROR}`,
    }];
  }
  if (spec.fieldCounts === undefined) {
    return params === undefined ? [] : [{
      name: "parameters",
      value: showBytes(params, SHOW_LIMIT),
      meaning: `ignored: AT+${command} takes no parameters`,
    }];
  }
  // parse_param_advance (escapes) for SKTSEND/SKTSENDRAW, parse_param
  // (every comma splits, a backslash is a byte) for the others.
  const fields = params === undefined
    ? undefined
    : spec.escapes
    ? splitFields(params)
    : splitParams(params);
  // A command whose every field is optional says nothing without `=`.
  if (fields === undefined && spec.fields.every((f) => !f.required)) return [];
  const f = fields ?? [];
  // Fewer fields than the command has, in a count it takes.
  const short = f.length < spec.fields.length &&
    spec.fieldCounts.includes(f.length);
  const context: Context = { command: spec, typeRead: false };
  const out: ExplainedField[] = [];
  let sizeField:
    | { field: ExplainedField; value: number | undefined }
    | undefined;
  for (let i = 0; i < spec.fields.length; i++) {
    const field = spec.fields[i];
    const raw = f[i];
    if (field.kind === "ip") {
      const port = spec.fields[i + 1];
      // An absent pair that ends the command (AT+SKTSENDRAW) or that a
      // shorter count leaves out is not shown; one the data follows is.
      const last = i + 2 >= spec.fields.length;
      if (!((short || last) && raw === undefined)) {
        out.push(...destinationFields(raw, f[i + 1], field, port));
      }
      i++;
      continue;
    }
    if (field.kind === "text") {
      out.push(hostField(raw, field));
      continue;
    }
    if (field.kind === "data") {
      out.push(dataField(raw, sizeField));
      continue;
    }
    if (short && raw === undefined) {
      const { field: absent } = numberField(new Uint8Array(), field, context);
      absent.note = "absent, read as 0";
      out.push(absent);
      continue;
    }
    const read = numberField(raw, field, context);
    if (field.name === "conn_type") {
      context.typeRead = true;
      context.type = read.value;
    }
    if (field.key === "data.length") sizeField = read;
    out.push(read.field);
  }
  const extra = extraFields(f, spec.fields.length);
  if (extra.length > 0 && spec.fields.some((x) => x.kind === "data")) {
    extra[0].problem =
      "one field too many: a raw ',' in the data splits it; write it as \\,";
  }
  return [
    ...out,
    ...extra,
    ...(spec.escapes ? badEscapeField(params) : []),
  ];
}

/** The payload of `AT+SKTSEND`; its size field is checked against it. */
function dataField(
  data: Uint8Array | undefined,
  size: { field: ExplainedField; value: number | undefined } | undefined,
): ExplainedField {
  if (
    size?.value !== undefined && data !== undefined &&
    size.value !== data.length
  ) {
    size.field.problem = `${size.field.name} ${size.value} does not match the ${
      plural(data.length, "byte")
    } of data`;
  }
  const field = textField(
    "data",
    data,
    data === undefined
      ? "the bytes to send"
      : `${
        plural(data.length, "byte")
      } to send, as the module reads them (\\, and \\\\ unescaped)`,
  );
  if (data !== undefined && data.length === 0) {
    field.problem =
      `data is empty: a required field (ERROR: ${PARAMETER_ERROR})`;
  }
  return field;
}
