import assert from "node:assert/strict";
import fc from "fast-check";
import { decodeLatin1 as decode, encode } from "./bytes.ts";
import { MODULE_FREE_HEAP } from "./constants.ts";
import {
  formatError,
  formatQuery,
  formatRead,
  formatState,
  OK,
  TT_PROMPT,
} from "./format_output.ts";
import {
  type ActionOutcome,
  failureCode,
  linkStates,
  type ModuleAction,
  type ModuleFailure,
  ModuleSession,
  type ModuleStep,
  type SessionLink,
  type SessionLinks,
} from "./module_session.ts";
import { COMMANDS, ERR, PARAMETER_ERROR, transportOf } from "./commands.ts";
import { parseCommandLine } from "./parse.ts";
import type {
  Endpoint,
  LinkRole,
  LinkState,
  Request,
  SocketConfig,
} from "./types.ts";

/** A link in the fake runtime's table. */
class FakeLink implements SessionLink {
  fd = 0;
  readonly seeds: Set<number> | undefined;
  constructor(
    readonly id: number,
    readonly role: LinkRole,
    readonly protocol: "tcp" | "udp" | "tls",
    readonly serverId?: number,
  ) {
    this.seeds = role === "server" && protocol !== "udp"
      ? new Set()
      : undefined;
  }
  state(): LinkState {
    return {
      linkId: this.id,
      role: this.role,
      protocol: this.protocol === "tls" ? "ssl" : this.protocol,
      source: { ip: "0.0.0.0", port: 0 },
      destination: { ip: "0.0.0.0", port: 0 },
      socketFd: this.fd,
    };
  }
}

/** The fake runtime's link table. */
class FakeTable implements SessionLinks {
  readonly slots = new Map<number, FakeLink>();
  get(id: number): FakeLink | undefined {
    return this.slots.get(id);
  }
  *entries(): IterableIterator<[number, FakeLink]> {
    for (let id = 0; id < 20; id++) {
      const link = this.slots.get(id);
      if (link) yield [id, link];
    }
  }
  lowestFree(): number | undefined {
    for (let id = 0; id < 20; id++) if (!this.slots.has(id)) return id;
    return undefined;
  }
  /** Every seed's server lists it and every listed seed is a seed of it. */
  check(): void {
    for (const [id, link] of this.entries()) {
      assert.equal(link.id, id);
      if (link.role === "seed") {
        const server = this.get(link.serverId!);
        assert.ok(server?.seeds?.has(id), `seed ${id} has no server`);
      }
      for (const seed of link.seeds ?? []) {
        assert.equal(this.get(seed)?.serverId, id, `server ${id} seed ${seed}`);
      }
    }
  }
}

/** The codes each command may answer, from the catalogue. */
function allowed(command: Request["command"]): number[] {
  return Object.keys(COMMANDS[command].errors).map(Number);
}

const linkId = fc.integer({ min: 0, max: 19 });
const port = fc.integer({ min: 1, max: 65535 });
const endpoint: fc.Arbitrary<Endpoint> = fc.record({
  ip: fc.constantFrom("127.0.0.1", "10.0.0.2"),
  port,
});
const config: fc.Arbitrary<SocketConfig> = fc.record({
  sendTimeout: fc.integer({ min: 0, max: 60000 }),
  receiveTimeout: fc.integer({ min: 0, max: 60000 }),
  noDelay: fc.boolean(),
  keepAlive: fc.boolean(),
  keepIdle: fc.integer({ min: 0, max: 7200 }),
  keepInterval: fc.integer({ min: 0, max: 75 }),
  keepCount: fc.integer({ min: 0, max: 10 }),
});
const bytes = fc.uint8Array({ minLength: 1, maxLength: 8 });

const request: fc.Arbitrary<Request> = fc.oneof(
  config.map((c) => ({ command: "SKTCFG", config: c }) as const),
  fc.constant({ command: "SKTQUERY" } as const),
  fc.constant({ command: "SKTSTATE" } as const),
  linkId.map((id) => ({ command: "SKTDEL", linkId: id }) as const),
  fc.record({
    command: fc.constant("SKTSERVER" as const),
    linkId,
    type: fc.constantFrom(0 as const, 1 as const, 2 as const, 3 as const),
    port,
    autoReceive: fc.boolean(),
  }).map((r) => r.type >= 2 ? { ...r, certIndex: 1 } : r),
  fc.record({
    command: fc.constant("SKTCLIENT" as const),
    linkId,
    type: fc.constantFrom(
      0 as const,
      1 as const,
      2 as const,
      3 as const,
      4 as const,
      5 as const,
    ),
    host: fc.constantFrom("127.0.0.1", "example.invalid"),
    port,
    localPort: port,
    autoReceive: fc.boolean(),
  }),
  fc.record({
    command: fc.constant("SKTSEND" as const),
    linkId,
    data: bytes,
    destination: fc.option(endpoint, { nil: undefined }),
    badDestination: fc.option(fc.constant("dst_ip is not an address"), {
      nil: undefined,
      freq: 8,
    }),
  }),
  fc.record({
    command: fc.constant("SKTREAD" as const),
    linkId,
    size: fc.oneof(
      fc.integer({ min: 1, max: 4096 }),
      fc.integer({ min: MODULE_FREE_HEAP - 2, max: MODULE_FREE_HEAP + 2 }),
    ),
  }),
  fc.record({
    command: fc.constant("SKTSENDRAW" as const),
    linkId,
    size: fc.integer({ min: 1, max: 100 }),
    destination: fc.option(endpoint, { nil: undefined }),
  }),
);

/** What the fake runtime makes of an action (and what happens meanwhile). */
interface Turn {
  request: Request;
  /** The action fails (with this failure) or succeeds (undefined). */
  failure: ModuleFailure | undefined;
  /** A certificate failure's code. */
  certCode: number;
  /** Seeds accepted after the command, on listening servers. */
  accepts: number;
  /** A link whose peer goes (its socket with it) after the command. */
  peerGone: number | undefined;
}

const turn: fc.Arbitrary<Turn> = fc.record({
  request,
  failure: fc.option(
    fc.constantFrom<ModuleFailure>(
      "not-found",
      "refused",
      "bind",
      "connect",
      "handshake",
      "gone",
      "send",
      "closed",
      "stopped",
      "certificate",
    ),
    { nil: undefined, freq: 3 },
  ),
  certCode: fc.constantFrom(
    ERR.SKTCLIENT.PARAMETER,
    ERR.SKTCLIENT.CERT_FLASH,
    ERR.SKTCLIENT.CRT_PARSE,
    ERR.SKTCLIENT.OWN_CERT,
  ),
  accepts: fc.integer({ min: 0, max: 2 }),
  peerGone: fc.option(linkId, { nil: undefined, freq: 4 }),
});

/** Failures an action of this kind can meet on a real runtime. */
function possible(action: ModuleAction): readonly ModuleFailure[] {
  switch (action.kind) {
    case "open":
      if (action.transport === "tls") {
        return action.request.command === "SKTSERVER"
          ? ["refused", "bind", "gone", "certificate"]
          : [
            "not-found",
            "refused",
            "connect",
            "handshake",
            "gone",
            "certificate",
          ];
      }
      return action.request.command === "SKTSERVER"
        ? ["refused", "bind", "gone"]
        : ["not-found", "refused", "bind", "connect", "gone"];
    case "send":
      return ["send"];
    case "read":
      return ["closed"];
    case "send-raw":
      return ["send", "stopped"];
    case "delete":
      return [];
  }
}

/** Carries an action out on the fake table: what a runtime would do. */
function carryOut(
  action: ModuleAction,
  table: FakeTable,
  t: Turn,
  mode: "manual" | "host",
): ActionOutcome {
  switch (action.kind) {
    case "open":
      assert.equal(table.get(action.linkId), undefined, "open on a used id");
      assert.equal(
        action.transport,
        transportOf(
          action.request.command === "SKTSERVER" ? "server" : "client",
          action.request.type,
        ),
      );
      break;
    case "delete":
      assert.equal(action.ids.at(-1), action.linkId);
      assert.equal(new Set(action.ids).size, action.ids.length);
      for (const id of action.ids) assert.ok(table.get(id), `delete ${id}`);
      break;
    case "send":
    case "read":
    case "send-raw": {
      const link = table.get(action.linkId);
      assert.ok(link && link.fd >= 0, "acts on an established link");
      assert.ok(!link.seeds, "a listening server takes no send or read");
      const udpServer = link.role === "server" && link.protocol === "udp";
      if (action.kind !== "read") {
        assert.equal(action.destination !== undefined, udpServer);
      } else assert.ok(action.size < MODULE_FREE_HEAP);
      if (action.kind === "send-raw") {
        assert.equal(mode, "host");
        assert.deepEqual(action.prompt, TT_PROMPT);
      }
    }
  }
  const failure = t.failure;
  if (failure !== undefined && possible(action).includes(failure)) {
    return { ok: false, failure, code: t.certCode };
  }
  switch (action.kind) {
    case "open": {
      const r = action.request;
      const role = r.command === "SKTSERVER" ? "server" : "client";
      table.slots.set(
        action.linkId,
        new FakeLink(action.linkId, role, action.transport),
      );
      return { ok: true };
    }
    case "delete":
      for (const id of action.ids) {
        const link = table.get(id)!;
        if (link.serverId !== undefined) {
          table.get(link.serverId)?.seeds?.delete(id);
        }
        table.slots.delete(id);
      }
      return { ok: true };
    case "read":
      return { ok: true, data: encode("x") };
    default:
      return { ok: true };
  }
}

/** What happens on the network between commands. */
function meanwhile(table: FakeTable, t: Turn): void {
  for (let n = 0; n < t.accepts; n++) {
    const server = [...table.slots.values()].find((l) => l.seeds && l.fd >= 0);
    const id = table.lowestFree();
    if (!server || id === undefined) break;
    const protocol = server.protocol as "tcp" | "tls";
    table.slots.set(id, new FakeLink(id, "seed", protocol, server.id));
    server.seeds!.add(id);
  }
  const gone = t.peerGone === undefined ? undefined : table.get(t.peerGone);
  if (gone && gone.role !== "server") gone.fd = -1;
}

function codeOf(step: ModuleStep): number | undefined {
  return step.kind === "error" ? step.code : undefined;
}

Deno.test("module session: every command gets one answer (or a prompt and then one), with a code its command may give; the link table stays consistent", () => {
  fc.assert(
    fc.property(
      fc.constantFrom("manual" as const, "host" as const),
      fc.array(turn, { minLength: 1, maxLength: 40 }),
      (mode, turns) => {
        const session = new ModuleSession({ mode });
        const table = new FakeTable();
        let config = session.config;
        for (const t of turns) {
          const r = t.request;
          const before = linkStates(table);
          const step = session.command(r, table);
          let answer: ModuleStep = step;
          if (step.kind === "act") {
            const outcome = carryOut(step.action, table, t, mode);
            answer = session.outcome(step.action, outcome);
            if (!outcome.ok) {
              assert.equal(answer.kind, "error");
              assert.equal(codeOf(answer), failureCode(step.action, outcome));
            }
          }
          assert.notEqual(answer.kind, "act", "one action per command");
          if (answer.kind === "error") {
            assert.ok(
              allowed(r.command).includes(answer.code),
              `${r.command} answered ${answer.code}`,
            );
            assert.deepEqual(answer.bytes, formatError(answer.code));
            assert.ok(answer.reason.length > 0);
          } else if (answer.kind === "answer") {
            const text = decode(answer.bytes);
            assert.ok(text.endsWith(decode(OK)), text);
          }
          // What the pure commands answer.
          if (r.command === "SKTCFG") config = r.config;
          if (r.command === "SKTQUERY") {
            assert.deepEqual(answer, {
              kind: "answer",
              bytes: formatQuery(config),
            });
          }
          if (r.command === "SKTSTATE") {
            assert.deepEqual(answer, {
              kind: "answer",
              bytes: formatState(before),
            });
            const ids = before.map((s) => s.linkId);
            assert.equal(new Set(ids).size, table.slots.size);
            assert.equal(ids.length, table.slots.size);
          }
          if (r.command === "SKTREAD" && answer.kind === "answer") {
            const sender = undefined;
            assert.deepEqual(
              answer.bytes,
              formatRead(r.linkId, encode("x"), sender),
            );
          }
          // An id in use refuses a new link; a free one refuses the rest.
          const used = before.some((s) =>
            s.linkId === (r as { linkId?: number }).linkId
          );
          if (r.command === "SKTSERVER" || r.command === "SKTCLIENT") {
            if (used) assert.equal(codeOf(answer), PARAMETER_ERROR);
          } else if ("linkId" in r && !used) {
            assert.equal(codeOf(answer), PARAMETER_ERROR);
          }
          if (r.command === "SKTSENDRAW" && mode === "manual") {
            assert.equal(answer.kind, "error");
          }
          table.check();
          meanwhile(table, t);
          table.check();
        }
        assert.deepEqual(session.config, { ...config });
        session.reset();
        assert.equal(session.config.sendTimeout, 0);
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("module session: the codes of failed actions, by command and connection type", () => {
  const S = ERR.SKTSERVER;
  const C = ERR.SKTCLIENT;
  const session = new ModuleSession({ mode: "host" });
  const table = new FakeTable();
  const open = (line: string, failure: ModuleFailure, code?: number) => {
    const parsed = parseCommandLine(encode(line));
    assert.equal(parsed.kind, "request");
    if (parsed.kind !== "request") return;
    const step = session.command(parsed.request, table);
    assert.equal(step.kind, "act");
    if (step.kind !== "act") return;
    return codeOf(session.outcome(step.action, { ok: false, failure, code }));
  };
  assert.equal(open("AT+SKTSERVER=0,0,,5000,1", "bind"), S.UDP_CREATE);
  assert.equal(open("AT+SKTSERVER=0,1,,5000,1", "bind"), S.TCP_CREATE);
  assert.equal(open("AT+SKTSERVER=0,2,1,5000,1", "bind"), S.NET_BIND);
  assert.equal(
    open("AT+SKTSERVER=0,2,1,5000,1", "certificate", S.CERT_FLASH),
    S.CERT_FLASH,
  );
  assert.equal(
    open("AT+SKTCLIENT=0,0,,h,5000,5001,1", "refused"),
    C.UDP_CREATE,
  );
  assert.equal(open("AT+SKTCLIENT=0,1,,h,5000,,1", "connect"), C.TCP_CREATE);
  assert.equal(open("AT+SKTCLIENT=0,1,,h,5000,,1", "not-found"), C.PARAMETER);
  assert.equal(open("AT+SKTCLIENT=0,2,,h,5000,,1", "connect"), C.NET_CONNECT);
  assert.equal(open("AT+SKTCLIENT=0,2,,h,5000,,1", "refused"), C.NET_CONNECT);
  assert.equal(open("AT+SKTCLIENT=0,3,1,h,5000,,1", "handshake"), C.HANDSHAKE);
  assert.equal(open("AT+SKTCLIENT=0,1,,h,5000,,1", "gone"), C.PARAMETER);
});

Deno.test("module session: SKTDEL of a server closes its seeds in accept order, then the server", () => {
  const session = new ModuleSession({ mode: "host" });
  const table = new FakeTable();
  const server = new FakeLink(4, "server", "tcp");
  table.slots.set(4, server);
  for (const id of [7, 2, 9]) {
    table.slots.set(id, new FakeLink(id, "seed", "tcp", 4));
    server.seeds!.add(id);
  }
  const step = session.command({ command: "SKTDEL", linkId: 4 }, table);
  assert.deepEqual(step, {
    kind: "act",
    action: { kind: "delete", linkId: 4, ids: [7, 2, 9, 4] },
  });
  // SKTSTATE: the server, then its seeds in accept order.
  assert.deepEqual(linkStates(table).map((s) => s.linkId), [4, 7, 2, 9]);
});
