/**
 * The command reference in `docs/commands/` against the catalogue: each
 * page's parameter table lists the command's fields in order with the
 * catalogue's range, its connection-type table names every type, and its
 * error table gives every code with the reference's meaning. Prose does not
 * follow a catalogue edit by itself; this test says which page to edit.
 */

import assert from "node:assert/strict";
import {
  CLIENT_TYPES,
  COMMAND_NAMES,
  type CommandName,
  COMMANDS,
  type FieldSpec,
  INT_MAX,
  SERVER_TYPES,
} from "@atsock/protocol";

const DOCS = new URL("../docs/commands/", import.meta.url);

/** The rows of the Markdown table whose header starts with `header`. */
function table(text: string, header: string): string[][] {
  const lines = text.split("\n");
  const start = lines.findIndex((l) => l.startsWith(header));
  if (start < 0) return [];
  const rows: string[][] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith("|")) break;
    rows.push(line.split("|").slice(1, -1).map((cell) => cell.trim()));
  }
  return rows;
}

/** How a page may write a field's range, by the catalogue. */
function rangeForms(spec: FieldSpec): string[] {
  if (spec.kind === "flag") return ["0 or 1"];
  if (spec.kind === "text") return [`${spec.min}..${spec.max} characters`];
  if (spec.max === INT_MAX) {
    return [`${spec.min}..${spec.max}`, `at least ${spec.min}`];
  }
  return [`${spec.min}..${spec.max}`];
}

for (const command of COMMAND_NAMES) {
  Deno.test(`docs/commands/${command}.md agrees with the catalogue`, async () => {
    const spec = COMMANDS[command];
    const text = await Deno.readTextFile(new URL(`${command}.md`, DOCS));
    // The parameter table: one row per field, in order, with its range.
    const params = table(text, "| # | field |");
    assert.equal(params.length, spec.fields.length, `${command}: rows`);
    params.forEach((row, i) => {
      const field = spec.fields[i];
      assert.equal(row[0], String(i + 1), `${command} row ${i + 1}`);
      assert.equal(row[1], `\`${field.name}\``, `${command} row ${i + 1}`);
      if (field.kind === "ip" || field.kind === "data") return;
      const accepted = command === "SKTCFG" ? row[3] : row[2];
      assert.ok(
        rangeForms(field).some((form) => accepted.startsWith(form)),
        `${command} ${field.name}: "${accepted}" should start with ${
          rangeForms(field).join(" or ")
        }`,
      );
    });
    // The error table: every code, with the reference's meaning.
    const errors = table(text, "| code | reference meaning |");
    assert.deepEqual(
      Object.fromEntries(errors.map((row) => [row[0], row[1]])),
      Object.fromEntries(
        Object.entries(spec.errors).map(([code, meaning]) => [code, meaning]),
      ),
      `${command}: error table`,
    );
  });
}

Deno.test("docs/commands: the connection-type tables name every type of the catalogue", async () => {
  for (
    const [command, types] of [
      ["SKTSERVER", SERVER_TYPES],
      ["SKTCLIENT", CLIENT_TYPES],
    ] as [CommandName, typeof SERVER_TYPES][]
  ) {
    const text = await Deno.readTextFile(new URL(`${command}.md`, DOCS));
    const rows = table(text, "| `conn_type` |");
    assert.deepEqual(
      rows.map((row) => row[0]),
      types.map((t) => String(t.value)),
      `${command}: type rows`,
    );
    for (const [i, row] of rows.entries()) {
      assert.match(row[1], new RegExp(`^${types[i].transport}`, "i"));
    }
  }
});
