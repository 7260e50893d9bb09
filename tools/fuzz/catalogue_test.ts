import assert from "node:assert/strict";
import fc from "fast-check";
import {
  CLIENT_TYPES,
  COMMAND_NAMES,
  COMMANDS,
  ERR,
  PARAMETER_ERROR,
  parseCommandLine,
  rangeProblem,
  type Request,
  SERVER_TYPES,
} from "@atsock/protocol";
import { accountedCodes, allowedCodes, NEVER, OK_CODE } from "./codes.ts";
import {
  boundaryCases,
  RANGED_KINDS,
  requestArb,
  type World,
} from "./requests.ts";

const WORLD: World = {
  echoPort: 40001,
  udpPeerPort: 40002,
  serverPorts: [40003, 40004, 40005],
  udpPorts: [40006, 40007, 40008],
  closedPort: 40009,
};

/** A request's value of a catalogue field (`key` may be a path; `text` is a length). */
function valueOf(request: Request, key: string): unknown {
  const holder = request.command === "SKTCFG" ? request.config : request;
  let value: unknown = holder;
  for (const part of key.split(".")) {
    value = (value as Record<string, unknown> | undefined)?.[part];
  }
  return value;
}

Deno.test("fuzz and catalogue: every ranged field of every command gets min-1, min, max and max+1, and the parser agrees on each", () => {
  const cases = boundaryCases(WORLD);
  let fields = 0;
  for (const command of COMMAND_NAMES) {
    for (const spec of COMMANDS[command].fields) {
      if (!RANGED_KINDS.includes(spec.kind)) continue;
      fields++;
      const mine = cases.filter((c) =>
        c.command === command && c.field === spec.name
      );
      assert.deepEqual(
        mine.map((c) => c.value),
        [spec.min - 1, spec.min, spec.max, spec.max + 1],
        `${command} ${spec.name}`,
      );
      for (const c of mine) {
        const parsed = parseCommandLine(new TextEncoder().encode(c.line));
        const what = `${
          c.line.slice(0, 80)
        } (${command} ${spec.name} ${c.value})`;
        if (!c.inRange) {
          // Out of the catalogue's range: the parser refuses the line, or
          // (dst_ip/dst_port, read at run time by a UDP server only: firmware
          // rule send-destination) the request carries the range problem.
          if (parsed.kind === "request") {
            assert.equal(
              (parsed.request as { badDestination?: string }).badDestination,
              rangeProblem(spec, c.read),
              what,
            );
            continue;
          }
          assert.equal(parsed.kind, "error", what);
          if (parsed.kind === "error") {
            assert.equal(parsed.error.code, PARAMETER_ERROR, what);
          }
          continue;
        }
        if (spec.key === "data.length" && c.read !== 1) {
          // data_size must also equal the data's length (one byte here).
          assert.equal(parsed.kind, "error", what);
          continue;
        }
        assert.equal(parsed.kind, "request", what);
        if (parsed.kind !== "request") continue;
        const got = valueOf(parsed.request, spec.key);
        const want = spec.kind === "flag" ? c.read === 1 : c.read;
        assert.equal(
          spec.kind === "text" ? (got as string).length : got,
          want,
          what,
        );
        assert.equal(rangeProblem(spec, c.read), undefined, what);
      }
    }
  }
  // Each command with fields has ranged ones; the count pins the catalogue.
  assert.equal(cases.length, 4 * fields);
  assert.ok(fields >= 20, `${fields} ranged fields`);
});

Deno.test("fuzz and catalogue: random requests stay in every range and cover every command and connection type", () => {
  const requests = fc.sample(requestArb(WORLD), { numRuns: 4000, seed: 1 });
  const commands = new Set<string>();
  const serverTypes = new Set<number>();
  const clientTypes = new Set<number>();
  for (const request of requests) {
    commands.add(request.command);
    if (request.command === "SKTSERVER") serverTypes.add(request.type);
    if (request.command === "SKTCLIENT") clientTypes.add(request.type);
    for (const spec of COMMANDS[request.command].fields) {
      const value = valueOf(request, spec.key);
      if (typeof value !== "number") continue;
      assert.equal(
        rangeProblem(spec, value),
        undefined,
        JSON.stringify(request),
      );
    }
  }
  assert.deepEqual([...commands].sort(), [...COMMAND_NAMES].sort());
  assert.deepEqual(
    [...serverTypes].sort(),
    SERVER_TYPES.map((t) => t.value),
  );
  assert.deepEqual(
    [...clientTypes].sort(),
    CLIENT_TYPES.map((t) => t.value),
  );
});

Deno.test("fuzz and catalogue: the codes the fuzzer accounts for are the catalogue's codes of each command", () => {
  for (const command of COMMAND_NAMES) {
    const catalogue = Object.keys(COMMANDS[command].errors).map(Number);
    assert.deepEqual(accountedCodes(command), catalogue, command);
    // A code is accepted or never expected, not both.
    const never = Object.keys(NEVER[command]).map(Number);
    for (const code of never) {
      assert.ok(catalogue.includes(code), `${command} ${code}`);
    }
  }
  // Per connection type: OK and codes of that command only, none of NEVER.
  const lines: Request[] = fc.sample(requestArb(WORLD), {
    numRuns: 2000,
    seed: 2,
  });
  for (const request of lines) {
    const allowed = allowedCodes(request);
    const catalogue = Object.keys(COMMANDS[request.command].errors).map(
      Number,
    );
    const never = Object.keys(NEVER[request.command]).map(Number);
    for (const code of allowed) {
      if (code === OK_CODE) continue;
      assert.ok(catalogue.includes(code), `${request.command} ${code}`);
      assert.ok(!never.includes(code), `${request.command} ${code}`);
    }
  }
  // The connection types by transport, named: a UDP client may not fail a TLS handshake.
  assert.ok(
    !allowedCodes({
      command: "SKTCLIENT",
      linkId: 0,
      type: 0,
      host: "127.0.0.1",
      port: 1,
      localPort: 2,
      autoReceive: false,
    }).includes(ERR.SKTCLIENT.HANDSHAKE),
  );
  assert.deepEqual(
    allowedCodes({ command: "SKTSENDRAW", linkId: 0, size: 1 }),
    [ERR.SKTSENDRAW.PARAMETER],
  );
});
