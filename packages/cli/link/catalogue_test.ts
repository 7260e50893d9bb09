// The one-shot commands' options come from the command catalogue: every
// field of a command is set by one option (or computed, and said so), each
// option names a real field and is in the help, and a number option takes
// the ends of its field's range and refuses a value just outside.

import assert from "node:assert/strict";
import { COMMANDS, field, INT_MAX } from "@atsock/protocol";
import { UsageError } from "../usage.ts";
import { connectCommand } from "./connect.ts";
import type { LinkSubcommand } from "./declare.ts";
import { delCommand } from "./del.ts";
import { listenCommand } from "./listen.ts";
import { readCommand } from "./read.ts";
import { sendCommand } from "./send.ts";
import { stateCommand } from "./state.ts";

interface Case {
  command: LinkSubcommand<unknown>;
  /** Options every line gives (a valid line with them alone). */
  base: Record<string, string>;
  /** Options a line needs to use the option under test (its connection type). */
  context?: Record<string, Record<string, string>>;
}

const CASES: Case[] = [
  { command: stateCommand, base: {} },
  {
    command: connectCommand,
    base: { link: "0", host: "example.com", port: "80" },
    context: {
      cert: { type: "tls-verify" },
      "src-port": { type: "udp" },
    },
  },
  {
    command: listenCommand,
    base: { link: "0", port: "80" },
    context: { cert: { type: "tls" } },
  },
  { command: delCommand, base: { link: "0" } },
  { command: readCommand, base: { link: "0" } },
  {
    command: sendCommand,
    base: { link: "0", data: "x" },
    context: { port: { ip: "10.0.0.1" }, ip: { port: "9" } },
  },
];

function args(options: Record<string, string>): string[] {
  return [
    "tcp:127.0.0.1:3333",
    ...Object.entries(options).flatMap(([k, v]) => [`--${k}`, v]),
  ];
}

for (const c of CASES) {
  Deno.test(`catalogue: atsock ${c.command.name} has an option for every field`, async (t) => {
    const spec = COMMANDS[c.command.fields.command];
    const set = Object.values(c.command.fields.options);
    const computed = Object.keys(c.command.fields.computed ?? {});
    assert.deepEqual(
      spec.fields.map((f) => f.name).sort(),
      [...set, ...computed].sort(),
      `AT+${spec.name}: every field set once (by an option or computed)`,
    );
    for (const [option, wire] of Object.entries(c.command.fields.options)) {
      const f = field(c.command.fields.command, wire);
      assert.match(c.command.help, new RegExp(`--${option}\\b`));
      if (f.kind !== "number" || f.name === "conn_type") continue;
      await t.step(`--${option} (${wire} ${f.min}..${f.max})`, () => {
        const context = c.context?.[option] ?? {};
        const inside = f.max === INT_MAX ? [f.min] : [f.min, f.max];
        for (const value of inside) {
          const parsed = c.command.parse(
            args({ ...c.base, ...context, [option]: String(value) }),
          );
          assert.notEqual(parsed, "help");
        }
        const outside = f.max === INT_MAX
          ? [f.min - 1]
          : [f.min - 1, f.max + 1];
        for (const value of outside) {
          assert.throws(
            () =>
              c.command.parse(
                args({ ...c.base, ...context, [option]: String(value) }),
              ),
            (e: unknown) =>
              e instanceof UsageError && e.message.includes(`--${option}`),
            `--${option} ${value}`,
          );
        }
      });
    }
  });
}
