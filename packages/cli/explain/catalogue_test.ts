// `atsock explain` sees every field of the command catalogue: for every
// command and field it names the field, reports a value just outside the
// field's range as a problem (where the module checks it on every link) and
// a value at each end of the range as fine, and agrees with the parser.

import assert from "node:assert/strict";
import {
  CLIENT_TYPE,
  COMMAND_NAMES,
  type CommandName,
  COMMANDS,
  encodeLatin1,
  type FieldSpec,
  INT_MAX,
  parseCommandLine,
  rangeText,
  SERVER_TYPE,
} from "@atsock/protocol";
import { explainLine } from "./explain.ts";
import type { Explanation } from "./explanation.ts";

/** The connection type a line uses to exercise `field`: one that reads it. */
function typeFor(command: CommandName, field: FieldSpec): number | undefined {
  const side = COMMANDS[command].connTypes;
  if (side === undefined) return undefined;
  if (field.usedBy !== undefined) return field.usedBy[0];
  return side === "server" ? SERVER_TYPE.TCP : CLIENT_TYPE.TCP;
}

/** A value every field of the command takes, with `conn_type` set to `type`. */
function goodValue(spec: FieldSpec, type: number | undefined): string {
  if (spec.name === "conn_type" && type !== undefined) return String(type);
  switch (spec.kind) {
    case "text":
      return "example.com";
    case "ip":
      return "127.0.0.1";
    case "data":
      return "x";
    default:
      return spec.key === "data.length" ? "1" : String(spec.min);
  }
}

/** The command line with `value` in `target` and good values elsewhere. */
function line(command: CommandName, target: FieldSpec, value: string): string {
  const type = typeFor(command, target);
  const values = COMMANDS[command].fields.map((f) =>
    f === target ? value : goodValue(f, type)
  );
  return `AT+${command}=${values.join(",")}`;
}

function explain(text: string): Explanation {
  return explainLine(encodeLatin1(text), { mode: "host" });
}

function named(e: Explanation, spec: FieldSpec, text: string) {
  const found = e.fields.find((f) => f.name === spec.name);
  assert.ok(found, `${text}: explain names ${spec.name}`);
  return found;
}

/** Values at the ends of the field's range and just outside it. */
function edges(spec: FieldSpec): { inside: string[]; outside: string[] } {
  if (spec.kind === "text") {
    return {
      inside: ["a".repeat(spec.min), "a".repeat(spec.max)],
      outside: ["a".repeat(spec.max + 1)],
    };
  }
  const inside = [String(spec.min)];
  if (spec.max !== INT_MAX) inside.push(String(spec.max));
  const outside = [String(spec.min - 1)];
  if (spec.max !== INT_MAX) outside.push(String(spec.max + 1));
  return { inside, outside };
}

/** Fields only a UDP server reads: the line alone cannot make them wrong. */
const dependsOnLink = (spec: FieldSpec) => spec.key.startsWith("destination.");

for (const command of COMMAND_NAMES) {
  Deno.test(`catalogue: explain sees every field of AT+${command}`, async (t) => {
    const spec = COMMANDS[command];
    if (spec.fields.length === 0) {
      const e = explain(`AT+${command}`);
      assert.equal(e.command, command);
      assert.equal(e.valid, true);
      assert.match(e.summary, new RegExp(spec.purpose.replace(/[()/]/g, ".")));
      assert.deepEqual(e.fields, []);
      return;
    }
    for (const field of spec.fields) {
      await t.step(`${field.name} (${rangeText(field)})`, () => {
        if (field.kind === "ip" || field.kind === "data") {
          const text = line(command, field, goodValue(field, undefined));
          const e = explain(text);
          assert.equal(e.valid, true, text);
          assert.equal(named(e, field, text).problem, undefined, text);
          return;
        }
        const { inside, outside } = edges(field);
        for (const value of inside) {
          // AT+SKTSEND's data_size must count the data.
          const text = field.key === "data.length"
            ? line(command, field, value).replace(
              /,x$/,
              `,${"x".repeat(Number(value))}`,
            )
            : line(command, field, value);
          const e = explain(text);
          assert.equal(
            parseCommandLine(encodeLatin1(text)).kind,
            "request",
            text,
          );
          assert.equal(e.valid, true, `${text}: ${JSON.stringify(e.fields)}`);
          assert.equal(named(e, field, text).problem, undefined, text);
        }
        for (const value of outside) {
          const text = line(command, field, value);
          const e = explain(text);
          const explained = named(e, field, text);
          if (dependsOnLink(field)) {
            assert.match(explained.note ?? "", /on a UDP server/, text);
            continue;
          }
          assert.equal(
            parseCommandLine(encodeLatin1(text)).kind,
            "error",
            text,
          );
          assert.equal(e.valid, false, text);
          assert.ok(explained.problem, `${text}: ${field.name} is a problem`);
        }
      });
    }
  });
}
