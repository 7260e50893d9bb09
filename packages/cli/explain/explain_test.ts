import assert from "node:assert/strict";
import fc from "fast-check";
import {
  COMMAND_NAMES,
  concat,
  encode,
  encodeLatin1,
  formatConnectEvent,
  formatData,
  formatQuery,
  formatRead,
  formatStateLine,
  type LinkState,
  MODULE_FREE_HEAP,
  type ModuleEvent,
  parseCommandLine,
} from "@atsock/protocol";
import { Harness } from "../test_module.ts";
import { explainLine } from "./explain.ts";
import { unescapeLine } from "./escapes.ts";
import type { Explanation } from "./explanation.ts";
import { formatExplanation } from "./explanation.ts";

const explain = (
  text: string,
  options: Parameters<typeof explainLine>[1] = {},
): Explanation => explainLine(unescapeLine(text), options);
const field = (e: Explanation, name: string) => {
  const f = e.fields.find((f) => f.name === name);
  assert.ok(f, `no field ${name} in ${JSON.stringify(e.fields)}`);
  return f;
};

Deno.test("commands: every field named, atoi readings shown, answer and effect", async (t) => {
  await t.step("AT+SKTSERVER type 3", () => {
    const e = explain("AT+SKTSERVER=0,3,1,4433,1");
    assert.equal(e.kind, "command");
    assert.equal(e.command, "SKTSERVER");
    assert.equal(e.valid, true);
    assert.equal(e.error, null);
    assert.equal(e.answer, "OK");
    assert.deepEqual(e.fields.map((f) => [f.name, f.value]), [
      ["link_id", 0],
      ["conn_type", 3],
      ["cert_index", 1],
      ["src_port", 4433],
      ["auto_rcv", 1],
    ]);
    assert.match(
      field(e, "cert_index").meaning,
      /server_cert_1\.crt.*server_ca_1\.crt/,
    );
    assert.match(e.summary, /listens on TLS port 4433 as link 0/);
  });
  await t.step("atoi: trailing junk and empty fields", () => {
    const e = explain("AT+SKTCFG=2000,2000x,,1,60,10,3");
    assert.equal(e.valid, true);
    const rcv = field(e, "so_rcvtimeo");
    assert.equal(rcv.value, 2000);
    assert.equal(rcv.raw, "2000x");
    assert.match(rcv.note!, /trailing "x" ignored/);
    assert.equal(field(e, "tcp_nodelay").value, 0);
    assert.match(field(e, "tcp_nodelay").note!, /empty field, read as 0/);
    assert.equal(field(e, "so_sndtimeo").note, undefined);
    const short = explain("AT+SKTCFG=5");
    assert.equal(short.fields.length, 7);
    assert.match(field(short, "tcp_keepcnt").note!, /absent, read as 0/);
    assert.match(
      explain("AT+SKTDEL=x").fields[0].note!,
      /no leading digits, read as 0/,
    );
    assert.match(
      explain("AT+SKTDEL=99999999999").fields[0].note!,
      /beyond 32 bits/,
    );
  });
  await t.step("ranges: the field and the module's ERROR", () => {
    const e = explain("AT+SKTCFG=0,0,0,0,7201");
    assert.equal(e.valid, false);
    assert.deepEqual(
      { ...e.error },
      {
        code: 1,
        meaning: "Parameter error",
        detail: "tcp_keepidle 7201 is outside 0..7200",
      },
    );
    assert.equal(e.answer, "ERROR: 1");
    assert.match(field(e, "tcp_keepidle").problem!, /outside 0\.\.7200/);
    assert.match(field(e, "tcp_keepidle").meaning, /0\.\.7200/);
  });
  await t.step("ignored fields are said to be ignored", () => {
    const e = explain("AT+SKTCLIENT=1,1,junk,example.com,80,9,0");
    assert.equal(e.valid, true);
    assert.match(
      field(e, "cert_index").meaning,
      /not used by conn_type 1, ignored/,
    );
    assert.equal(field(e, "cert_index").value, "junk");
    assert.match(
      field(e, "src_port").meaning,
      /checked when given, then ignored/,
    );
    assert.match(e.summary, /connects link 1 to example\.com:80 over TCP/);
    // at_sktclient: a src_port given is checked for every type.
    const bad = explain("AT+SKTCLIENT=1,2,,example.com,80,70000,0");
    assert.equal(bad.error?.code, 1);
    assert.match(field(bad, "src_port").problem!, /outside 1\.\.65535/);
  });
  await t.step(
    "at_sktserver, at_sktclient, ...: an empty required field is ERROR: 1, not 0",
    () => {
      const e = explain("AT+SKTDEL=");
      assert.equal(e.error?.code, 1);
      assert.match(e.fields[0].problem!, /link_id is empty: a required field/);
      const server = explain("AT+SKTSERVER=1,1,,8080,");
      assert.equal(server.error?.code, 1);
      assert.match(field(server, "auto_rcv").problem!, /empty/);
      const client = explain("AT+SKTCLIENT=1,,,h,80,,0");
      assert.match(field(client, "conn_type").problem!, /empty/);
      // SKTCFG fields are all optional.
      assert.equal(explain("AT+SKTCFG=,,1").valid, true);
    },
  );
  await t.step(
    "parse_param_advance: escapes only in SKTSEND/SKTSENDRAW; parse_param: a backslash is a byte",
    () => {
      const bad = explain("AT+SKTSEND=0,3,,,a\\qb");
      assert.equal(bad.error?.code, 1);
      assert.match(field(bad, "escape").problem!, /neither ',' nor '\\'/);
      const host = explain("AT+SKTCLIENT=1,1,,a\\\\b,80,,0");
      assert.equal(host.valid, true);
      assert.equal(field(host, "dst_host").value, "a\\\\b");
    },
  );
  await t.step("AT+SKTSEND: data size after unescaping, raw commas", () => {
    const good = explain("AT+SKTSEND=0,4,,,a\\,bc");
    assert.equal(good.valid, true);
    assert.equal(field(good, "data").value, "a,bc");
    const mismatch = explain("AT+SKTSEND=0,5,,,a\\,bc");
    assert.equal(mismatch.error?.code, 1);
    assert.match(
      mismatch.error!.detail!,
      /data_size 5 does not match the 4 bytes/,
    );
    assert.match(
      field(mismatch, "data_size").problem!,
      /does not match the 4 bytes/,
    );
    const comma = explain("AT+SKTSEND=0,4,,,a,bc");
    assert.match(comma.error!.detail!, /expected 5 fields, got 6/);
    assert.match(field(comma, "field 6").problem!, /raw ',' in the data/);
    // at_sktsend: dst fields count on a UDP server only, so the line is kept.
    const udp = explain("AT+SKTSEND=3,2,192.168.1.300,5000,hi");
    assert.equal(udp.valid, true);
    assert.match(
      field(udp, "dst_ip").note!,
      /not an IPv4 address: ERROR: 1 on a UDP server/,
    );
    assert.match(field(udp, "dst_ip").meaning, /every other link ignores it/);
  });
  await t.step(
    "shell_cmd_chk: a line over 1998 bytes runs its first 1999 at once",
    () => {
      const data = "a".repeat(1990);
      const e = explain(`AT+SKTSEND=0,1990,,,${data}`);
      // The first 1999 bytes hold 1979 bytes of data: a size mismatch.
      assert.equal(e.error?.code, 1);
      assert.match(e.error!.detail!, /does not match/);
      assert.ok(e.notes.some((n) => /UART_LOG_CMD_BUFLEN/.test(n)));
      const anonymous = explain("x".repeat(2001));
      assert.notEqual(anonymous.kind, "command");
      assert.ok(anonymous.notes.some((n) => /first 1999 bytes run/.test(n)));
    },
  );
  await t.step("AT+SKTSENDRAW and the console mode", () => {
    const unknown = explain("AT+SKTSENDRAW=0,6");
    assert.equal(unknown.valid, true);
    assert.ok(
      unknown.notes.some((n) => /Manual Test Mode .* ERROR: 4/.test(n)),
    );
    const manual = explain("AT+SKTSENDRAW=0,6", { mode: "manual" });
    assert.equal(manual.valid, false);
    assert.equal(manual.error?.code, 4);
    assert.equal(manual.error?.meaning, "Get data failed in TT mode");
    assert.equal(manual.answer, "ERROR: 4");
    assert.match(manual.notes.join(" "), /Manual Test Mode/);
    assert.match(manual.notes.join(" "), /link is checked first/);
    // at_sktsendraw: a bad field is 1 before the mode is looked at.
    assert.equal(
      explain("AT+SKTSENDRAW=0,0", { mode: "manual" }).error?.code,
      1,
    );
    const host = explain("AT+SKTSENDRAW=0,6", { mode: "host" });
    assert.equal(host.valid, true);
    assert.equal(host.answer, ">>>, then OK after the raw bytes");
    assert.equal(explain("AT+SKTSENDRAW=0,0", { mode: "host" }).error?.code, 1);
  });
  await t.step("unknown lines get no answer", () => {
    for (const line of ["at+sktstate", "AT+SKTFOO=1", "AT", "AT+SKTSTATEX"]) {
      const e = explain(line);
      assert.equal(e.kind, "unknown", line);
      assert.equal(e.answer, null);
      assert.equal(e.valid, false);
      assert.match(e.summary, /no answer/);
    }
    assert.match(
      explain("at+sktstate").notes[0],
      /case-sensitive: write AT\+SKTSTATE/,
    );
  });
  await t.step("query and state take no parameters", () => {
    const q = explain("AT+SKTQUERY=1");
    assert.equal(q.error?.code, 1);
    assert.equal(q.error?.meaning, "No need input Parameter");
    const s = explain("AT+SKTSTATE=whatever");
    assert.equal(s.valid, true);
    assert.match(s.fields[0].meaning, /ignored/);
  });
  await t.step(
    "shell_cmd_chk: only CR LF or NUL inside ends the line; a lone CR is a byte of it",
    () => {
      const e = explain("AT+SKTDEL=1\\r\\nAT+SKTDEL=2\\r\\n");
      assert.equal(e.fields[0].value, 1);
      assert.ok(
        e.notes.some((n) =>
          /ends at the CR LF after 11 bytes.*AT\+SKTDEL=2/.test(n)
        ),
      );
      const nul = explain("AT+SKTDEL=1\\0AT+SKTDEL=2\\r\\n");
      assert.ok(
        nul.notes.some((n) => /ends at the NUL after 11 bytes/.test(n)),
      );
      const lone = explain("AT+SKTDEL=1\\rAT+SKTDEL=2\\r\\n");
      assert.equal(lone.command, "SKTDEL"); // atoi reads the 1 before the CR
      assert.ok(
        lone.notes.some((n) => /lone CR or LF is a byte of the line/.test(n)),
      );
      const lf = explain("AT+SKTSTATE\\n");
      assert.equal(lf.kind, "unknown");
    },
  );
  await t.step(
    "atcmd_service, shell_task_ram: Manual Test Mode's log lines",
    () => {
      const mem = explain(
        "\\n\\r[MEM] After do cmd, available heap 290560\\n\\r",
      );
      assert.equal(mem.kind, "shell");
      assert.equal(mem.fields[0].value, 290560);
      assert.equal(explain("\\r\\n\\n#\\r\\n").kind, "shell");
      const unknown = explain("\\r\\nunknown command 'hello'");
      assert.equal(unknown.kind, "shell");
      assert.equal(unknown.fields[0].value, "hello");
      assert.equal(explain(" <<<Too long cmd string.>>> ").kind, "shell");
    },
  );
});

Deno.test("output lines: each kind, fields checked", async (t) => {
  await t.step("OK and ERROR with and without a command", () => {
    assert.equal(explain("\\r\\nOK\\r\\n").kind, "ok");
    const any = explain("ERROR: 4");
    assert.equal(any.kind, "error");
    assert.equal(any.valid, true);
    assert.deepEqual(any.error?.meanings?.map((m) => m.command), [
      "SKTSERVER",
      "SKTCLIENT",
      "SKTREAD",
      "SKTSENDRAW",
    ]);
    const one = explain("ERROR: 14", { command: "SKTCLIENT" });
    assert.equal(one.error?.meaning, "mbedtls_ssl_handshake() failed");
    assert.match(one.summary, /AT\+SKTCLIENT failed/);
    const none = explain("ERROR: 2", { command: "SKTDEL" });
    assert.equal(none.valid, false);
    assert.equal(explain("ERROR: 99").valid, false);
    assert.ok(
      explain("ERROR: 4", { command: "SKTSENDRAW" }).notes.some((n) =>
        /Manual Test Mode/.test(n)
      ),
    );
  });
  await t.step("fixed lines", () => {
    assert.equal(explain(">>>").kind, "prompt");
    assert.equal(explain("ATCMD READY").kind, "ready");
    assert.match(explain("[$][TT]:High Watermark").summary, /must pause/);
    assert.match(explain("[$][TT]:Low Watermark").summary, /may send/);
    assert.equal(explain("Global SOCKET configuration:").kind, "query");
    const q = explain("tcp_keepintvl: 76");
    assert.equal(q.valid, false);
    assert.match(q.fields[0].problem!, /0\.\.75/);
    assert.equal(explain("[$][SKT][SOMETHING]").kind, "unrecognised");
    assert.equal(explain("hello").valid, false);
  });
  await t.step("SKTSTATE lines", () => {
    const e = explain(
      "link_id:3,seed,tcp,src_address:0.0.0.0,src_port:0,dst_address:192.168.0.103,dst_port:49941,socket_fd:-1",
    );
    assert.equal(e.kind, "state");
    assert.equal(e.valid, true);
    assert.deepEqual(e.fields.map((f) => f.name), [
      "link_id",
      "role",
      "protocol",
      "src_address",
      "src_port",
      "dst_address",
      "dst_port",
      "socket_fd",
    ]);
    assert.match(field(e, "socket_fd").meaning, /socket has gone/);
    // at_sktstate: a TCP client shows its local address and port.
    const client = explain(
      "link_id:4,client,tcp,src_address:192.168.0.109,src_port:50123,dst_address:192.168.0.100,dst_port:6666,socket_fd:3",
    );
    assert.equal(client.valid, true);
    assert.match(field(client, "src_port").meaning, /ephemeral/);
    const udpClient = explain(
      "link_id:4,client,udp,src_address:192.168.0.109,src_port:5000,dst_address:192.168.0.100,dst_port:6666,socket_fd:3",
    );
    assert.match(field(udpClient, "src_address").problem!, /0\.0\.0\.0/);
    const tls = explain(
      "link_id:2,client,tls,src_address:0.0.0.0,src_port:0,dst_address:10.0.0.1,dst_port:4433,socket_fd:2",
    );
    assert.match(field(tls, "protocol").problem!, /ssl/);
    const server = explain(
      "link_id:0,server,tcp,src_address:192.168.0.109,src_port:6666,dst_address:1.2.3.4,dst_port:0,socket_fd:0",
    );
    assert.equal(server.valid, false);
    assert.equal(explain("link_id:0,server").kind, "unrecognised");
  });
  await t.step("+SKTREAD: TCP, UDP, cut at NUL, too long", () => {
    const tcp = explain("+SKTREAD:1,6,Hello!\\r\\nOK\\r\\n");
    assert.equal(tcp.kind, "read");
    assert.equal(tcp.valid, true);
    assert.equal(field(tcp, "data").value, "Hello!");
    const udp = explain("+SKTREAD:3,5,192.168.1.101,61409,12345");
    assert.equal(field(udp, "udp_dstip").value, "192.168.1.101");
    assert.equal(field(udp, "udp_dstport").value, 61409);
    assert.equal(field(udp, "data").value, "12345");
    const cut = explain("+SKTREAD:1,6,He\\r\\nOK\\r\\n");
    assert.equal(cut.valid, true);
    assert.ok(cut.notes.some((n) => /NUL/.test(n)));
    const long = explain("+SKTREAD:1,2,Hello");
    assert.equal(long.valid, false);
    // Data holding CR LF is counted by the size.
    const crlf = explain("+SKTREAD:0,4,a\\r\\nb\\r\\nOK\\r\\n");
    assert.equal(field(crlf, "data").value, "a\\r\\nb");
    assert.equal(crlf.valid, true);
  });
  await t.step(
    "at_sktread: an empty UDP datagram names its sender; nothing read names 0.0.0.0,0",
    () => {
      const empty = explain("+SKTREAD:4,0,127.0.0.1,47001,");
      assert.equal(empty.kind, "read");
      assert.equal(empty.valid, true, formatExplanation(empty));
      assert.ok(empty.fields.every((f) => !f.problem));
      assert.match(empty.summary, /empty UDP datagram from 127\.0\.0\.1:47001/);
      const nothing = explain("+SKTREAD:4,0,0.0.0.0,0,");
      assert.equal(nothing.valid, true);
      assert.match(nothing.summary, /no data was waiting/);
      assert.ok(nothing.notes.some((n) => /0\.0\.0\.0,0/.test(n)));
    },
  );
  await t.step(
    "at_sktread: ERROR: 2 is the buffer the heap cannot hold",
    () => {
      const e = explain("ERROR: 2", { command: "SKTREAD" });
      assert.equal(e.valid, true);
      assert.equal(e.error?.meaning, "Memory allocation failed");
      assert.ok(e.notes.some((n) => /data_size \+ 1 bytes/.test(n)));
      const big = explain(`AT+SKTREAD=0,${MODULE_FREE_HEAP}`);
      assert.ok(
        big.notes.some((n) => /ERROR: 2/.test(n)),
        big.notes.join("; "),
      );
      const small = explain(`AT+SKTREAD=0,${MODULE_FREE_HEAP - 1}`);
      assert.ok(!small.notes.some((n) => /free heap \(/.test(n)));
      assert.ok(small.notes.some((n) => /2 if the buffer/.test(n)));
    },
  );
  await t.step("connect events", () => {
    const e = explain(
      "[$][SKT][EVENT]: A client[link_id:1,seed,tls,dst_address:192.168.0.103,dst_port:49946] connected to server[link_id:0]",
    );
    assert.equal(e.kind, "connect");
    assert.equal(e.valid, true);
    assert.deepEqual(e.fields.map((f) => f.value), [
      1,
      "tls",
      "192.168.0.103",
      49946,
      0,
    ]);
    assert.equal(explain("[$][SKT][EVENT]: something").kind, "unrecognised");
  });
  await t.step("DATA lines, binary, with a length check", () => {
    const tcp = explain("[$][SKT][DATA][1][4]:\\r\\n\\x00\\xff\\r\\n");
    assert.equal(tcp.kind, "data");
    assert.equal(tcp.valid, true);
    assert.equal(field(tcp, "data").value, "\\r\\n\\0\\xff");
    const udp = explain("[$][SKT][DATA][2][3][10.0.0.2][5000]:abc");
    assert.equal(udp.valid, true);
    assert.equal(field(udp, "ip").value, "10.0.0.2");
    const short = explain("[$][SKT][DATA][1][4]:abc\\r\\n");
    assert.equal(short.valid, false);
    assert.match(
      field(short, "data").problem!,
      /len says 4 bytes but only 3 follow/,
    );
    const long = explain("[$][SKT][DATA][1][2]:abc");
    assert.match(field(long, "data").problem!, /but 3 follow/);
    const empty = explain("[$][SKT][DATA][1][0]:");
    assert.equal(empty.valid, true);
  });
});

// Every line a module prints, built by the protocol's formatters: explained as valid.
Deno.test("every line the formatters produce is explained as valid (property)", () => {
  const ip = fc.tuple(
    fc.integer({ min: 0, max: 255 }),
    fc.integer({ min: 0, max: 255 }),
    fc.integer({ min: 0, max: 255 }),
    fc.integer({ min: 0, max: 255 }),
  ).map((p) => p.join("."));
  const port = fc.integer({ min: 1, max: 65535 });
  const id = fc.integer({ min: 0, max: 19 });
  const check = (bytes: Uint8Array, kind: string) => {
    const e = explainLine(bytes);
    assert.equal(e.kind, kind, formatExplanation(e));
    assert.equal(e.valid, true, formatExplanation(e));
  };
  fc.assert(
    fc.property(
      id,
      fc.uint8Array({ maxLength: 64 }),
      fc.option(fc.record({ ip, port })),
      (linkId, data, sender) => {
        check(formatData(linkId, data, sender ?? undefined), "data");
        // A UDP read names its sender, also for an empty datagram; one of
        // nothing names 0.0.0.0,0 (at_sktread).
        const read = formatRead(linkId, data, sender ?? undefined);
        const e = explainLine(read);
        assert.equal(e.kind, "read");
        // A TCP read whose data looks like <ip>,<port>, is read as UDP: still valid.
        assert.equal(e.valid, true, formatExplanation(e));
      },
    ),
    { numRuns: 500 },
  );
  fc.assert(
    fc.property(
      id,
      id,
      fc.constantFrom("tcp" as const, "tls" as const),
      ip,
      port,
      (a, b, protocol, peerIp, peerPort) => {
        fc.pre(a !== b);
        check(
          formatConnectEvent({
            linkId: a,
            protocol,
            peer: { ip: peerIp, port: peerPort },
            serverId: b,
          })
            .subarray(0, -2),
          "connect",
        );
      },
    ),
    { numRuns: 200 },
  );
  fc.assert(
    fc.property(
      id,
      fc.constantFrom("server", "client", "seed"),
      fc.constantFrom("tcp", "udp", "ssl"),
      ip,
      port,
      fc.integer({ min: -1, max: 19 }),
      (linkId, role, protocol, address, p, fd) => {
        fc.pre(!(role === "seed" && protocol === "udp"));
        const none = { ip: "0.0.0.0", port: 0 };
        const state: LinkState = {
          linkId,
          role: role as LinkState["role"],
          protocol: protocol as LinkState["protocol"],
          source: role === "server" ? { ip: address, port: p } : none,
          destination: role === "server" ? none : { ip: address, port: p },
          socketFd: fd,
        };
        check(encode(formatStateLine(state)), "state");
      },
    ),
    { numRuns: 300 },
  );
  const query = new TextDecoder().decode(
    formatQuery({
      sendTimeout: 2000,
      receiveTimeout: 0,
      noDelay: true,
      keepAlive: true,
      keepIdle: 7200,
      keepInterval: 75,
      keepCount: 10,
    }),
  );
  for (const line of query.split("\r\n").filter((l) => l && l !== "OK")) {
    check(encode(line), "query");
  }
});

// The verdict is parseCommandLine's: fields never contradict it.
Deno.test("commands: the verdict agrees with the grammar, fields agree with the verdict (property)", () => {
  const number = fc.oneof(
    fc.integer({ min: 0, max: 5 }).map(String),
    fc.integer({ min: 0, max: 5 }).map(String),
    fc.integer({ min: -3, max: 70000 }).map(String),
    fc.constantFrom("", "x", "1x", " 2", "+3", "-1", "99999999999", "0"),
  );
  const text = fc.oneof(
    fc.constantFrom("", "127.0.0.1", "example.com", "1.2.3", "a\\,b", "\\\\"),
    fc.string({ maxLength: 6 }).map((s) => s.replace(/[\r\n]/g, "")),
  );
  const fieldArb = fc.oneof(number, number, text);
  const line = fc.tuple(
    fc.constantFrom(...COMMAND_NAMES),
    fc.option(fc.array(fieldArb, { minLength: 0, maxLength: 8 })),
  ).map(([name, fields]) =>
    `AT+${name}${fields ? "=" + fields.join(",") : ""}`
  );
  fc.assert(
    fc.property(line, (text) => {
      const bytes = encodeLatin1(text);
      const parsed = parseCommandLine(bytes);
      const e = explainLine(bytes, { mode: "host" });
      if (parsed.kind === "request") {
        assert.equal(e.valid, true, text);
        assert.equal(e.error, null);
        const wrong = e.fields.filter((f) => f.problem);
        assert.deepEqual(wrong, [], `${text}: ${JSON.stringify(wrong)}`);
      } else if (parsed.kind === "error") {
        assert.equal(e.valid, false, text);
        assert.equal(e.error?.code, parsed.error.code);
        assert.equal(e.error?.detail, parsed.error.detail);
        assert.equal(e.answer, `ERROR: ${parsed.error.code}`);
        // The field at fault is pointed out, unless the count is.
        if (!/fields, got/.test(parsed.error.detail!)) {
          assert.ok(e.fields.some((f) => f.problem), text);
        }
      } else {
        assert.equal(e.kind, "unknown");
      }
    }),
    { numRuns: 3000 },
  );
});

/** The final results the module gives for a line (none for an unknown line). */
async function answersTo(h: Harness, line: Uint8Array): Promise<string[]> {
  // AT+SKTQUERY's first line marks where the line's answer ends.
  await h.write(concat([line, encode("\r\nAT+SKTQUERY\r\n")]));
  const { before } = await h.next(
    (e) => e.type === "line" && e.text === "Global SOCKET configuration:",
  );
  await h.next((e) => e.type === "ok");
  return before.flatMap((e: ModuleEvent) =>
    e.type === "ok" ? ["OK"] : e.type === "error" ? [`ERROR: ${e.code}`] : []
  );
}

Deno.test("explain predicts the virtual module's answer, in both modes", async () => {
  // Lines whose answer does not depend on the module's state.
  const lines = [
    "AT+SKTCFG=2000,2000x,,1,60,10,3",
    "AT+SKTCFG=",
    "AT+SKTCFG=0,0,2",
    "AT+SKTCFG=1,2,0,0,0,0,0,0",
    "AT+SKTQUERY=",
    "AT+SKTSTATE=1,2",
    "AT+SKTDEL=20",
    "AT+SKTDEL",
    "AT+SKTDEL=1,2",
    "AT+SKTSEND=0,5,,,a,bc",
    "AT+SKTSEND=0,0,,,",
    "AT+SKTSEND=0,3,,,a\\,bc",
    "AT+SKTSEND=0,1995,,," + "z".repeat(1995),
    "AT+SKTSERVER=0,2,11,4433,1",
    "AT+SKTSERVER=0,1,,70000,1",
    "AT+SKTSERVER=0,1,,80,2",
    "AT+SKTCLIENT=0,0,,1.2.3.4,80,,1",
    "AT+SKTCLIENT=0,1,,,80,,1",
    "AT+SKTREAD=0",
    "AT+SKTREAD=0,0",
    "AT+SKTSENDRAW=0,0",
    "AT+SKTSENDRAW=0,5,1.2.3.4",
    "at+sktstate",
    "AT+SKTFOO=1",
    "AT",
    "x".repeat(2100),
  ];
  for (const mode of ["host", "manual"] as const) {
    const h = await Harness.start({ mode });
    try {
      if (mode === "host") await h.next((e) => e.type === "ready");
      for (const text of lines) {
        const bytes = unescapeLine(text);
        const e = explainLine(bytes, { mode });
        const actual = await answersTo(h, bytes);
        assert.deepEqual(
          actual,
          // Valid commands: the final result of a longer answer is OK.
          e.answer === null ? [] : [e.answer.endsWith("OK") ? "OK" : e.answer],
          `${mode}: ${text.slice(0, 40)}\n${formatExplanation(e)}`,
        );
      }
    } finally {
      await h.close();
    }
  }
});

Deno.test("explain: an absent optional destination that ends AT+SKTSENDRAW is not shown as missing", () => {
  for (
    const line of ["AT+SKTSENDRAW=0", "AT+SKTSENDRAW=", "AT+SKTSENDRAW=0,5"]
  ) {
    const e = explain(line);
    assert.deepEqual(e.fields.map((f) => f.name), ["link_id", "data_size"]);
  }
  // Given with a wrong count they are shown, and the extra field is wrong.
  const e = explain("AT+SKTSENDRAW=0,5,x,y,z");
  assert.deepEqual(e.fields.map((f) => f.name), [
    "link_id",
    "data_size",
    "dst_ip",
    "dst_port",
    "field 5",
  ]);
  assert.match(
    e.error!.detail!,
    /expected 2 fields \(or 4 with dst_ip and dst_port\), got 5/,
  );
  // AT+SKTSEND's destination comes before its data: missing there is wrong.
  const send = explain("AT+SKTSEND=0");
  assert.equal(
    send.fields.find((f) => f.name === "dst_ip")!.problem,
    "missing",
  );
});

Deno.test("explain: SKTCFG time limits say what they do", () => {
  const e = explain("AT+SKTCFG=1,0,1");
  assert.equal(e.fields[0].meaning, "sends give up after 1 ms (SO_SNDTIMEO)");
  assert.equal(e.fields[1].meaning, "no receive time limit (SO_RCVTIMEO 0)");
  assert.doesNotMatch(e.fields[2].meaning, /TCP_NODELAY.*TCP_NODELAY/);
});
