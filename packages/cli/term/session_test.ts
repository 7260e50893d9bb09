import assert from "node:assert/strict";
import { type SessionAction, TermSession } from "./session.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** The actions in a compact form: "send:...", "payload:...", "show:<kind>:<text>[ -> hint]". */
function brief(actions: SessionAction[]): string[] {
  return actions.map((a) => {
    switch (a.type) {
      case "send":
        return `send:${dec.decode(a.bytes)}:${a.expect}`;
      case "send-payload":
        return `payload:${dec.decode(a.bytes)}`;
      case "show":
        return `show:${a.line.kind}:${a.line.text}${
          a.line.hint ? ` -> ${a.line.hint}` : ""
        }`;
      case "read-file":
        return `read-file:${a.path}`;
      case "sleep":
        return `sleep:${a.ms}`;
      case "flow":
        return `flow:${a.paused}`;
      default:
        return a.type;
    }
  });
}

function receive(session: TermSession, text: string): string[] {
  return brief(session.receive(enc.encode(text)));
}

Deno.test("session: a command is sent with CR LF and its echo is not shown twice", () => {
  const session = new TermSession();
  assert.deepEqual(brief(session.submit("AT+SKTQUERY")), [
    "show:sent:AT+SKTQUERY",
    "send:AT+SKTQUERY\r\n:answer",
  ]);
  assert.equal(session.busy, true);
  assert.equal(session.inFlight, "AT+SKTQUERY");
  assert.deepEqual(
    receive(session, "AT+SKTQUERY\r\n\r\nGlobal SOCKET configuration:\r\n"),
    ["show:answer:Global SOCKET configuration:"],
  );
  assert.deepEqual(receive(session, "so_sndtimeo: 0\r\n\r\nOK\r\n"), [
    "show:answer:so_sndtimeo: 0",
    "show:ok:OK",
  ]);
  assert.equal(session.busy, false);
  // A line that is not a command: echoed by the module, not shown again.
  assert.deepEqual(brief(session.submit("hello")), [
    "show:sent:hello",
    "send:hello\r\n:nothing",
  ]);
  assert.deepEqual(receive(session, "hello\r\n"), []);
  // An echo nobody typed is shown, dimmed.
  assert.deepEqual(receive(session, "AT+SKTSTATE\r\n"), [
    "show:echo:AT+SKTSTATE",
  ]);
  assert.deepEqual(brief(session.submit("")), []);
});

Deno.test("session: ERROR gets the meaning for the command in flight, with the reason when known", () => {
  const session = new TermSession();
  session.submit("AT+SKTDEL=20");
  session.submit("AT+SKTREAD=3,10");
  session.submit("AT+SKTCLIENT=0,3,1,example.com,443,,1");
  assert.deepEqual(receive(session, "\r\nERROR: 1\r\n"), [
    "show:error:ERROR: 1 -> AT+SKTDEL: Parameter error (link_id 20 is outside 0..19)",
  ]);
  assert.deepEqual(receive(session, "\r\nERROR: 4\r\n"), [
    "show:error:ERROR: 4 -> AT+SKTREAD: Failed to read data (the peer closed and all its data was read; AT+SKTDEL frees it)",
  ]);
  assert.deepEqual(receive(session, "\r\nERROR: 14\r\n"), [
    "show:error:ERROR: 14 -> AT+SKTCLIENT: mbedtls_ssl_handshake() failed (TLS handshake or certificate verification failed)",
  ]);
  // A code the reference does not list for the command, and no command in flight.
  session.submit("AT+SKTSTATE");
  assert.deepEqual(receive(session, "\r\nERROR: 3\r\n"), [
    "show:error:ERROR: 3 -> AT+SKTSTATE has no code 3 in the reference",
  ]);
  assert.deepEqual(receive(session, "\r\nERROR: 1\r\n"), [
    "show:error:ERROR: 1",
  ]);
  // A line longer than the module's buffer is not sent (shell_cmd_chk
  // would run its first 1999 bytes and take the rest as another line).
  const long = brief(session.submit("x".repeat(1999)));
  assert.equal(long.length, 1);
  assert.match(long[0], /1998 bytes before CR LF.*nothing sent/);
  assert.equal(brief(session.submit("x".repeat(1998))).length, 2);
});

Deno.test("session: unsolicited lines and binary data are shown apart from answers", () => {
  const session = new TermSession();
  assert.deepEqual(
    receive(
      session,
      "ATCMD READY\r\n[$][SKT][EVENT]: A client[link_id:1,seed,tcp,dst_address:127.0.0.1,dst_port:5000] connected to server[link_id:0]\r\n",
    ),
    [
      "show:urc:ATCMD READY",
      "show:urc:[$][SKT][EVENT]: A client[link_id:1,seed,tcp,dst_address:127.0.0.1,dst_port:5000] connected to server[link_id:0]",
    ],
  );
  assert.deepEqual(receive(session, "[$][SKT][DATA][1][4]:a\x00\r\n\r\n"), [
    "show:urc:[$][SKT][DATA][1][4]:a\\x00\\r\\n",
  ]);
  session.submit(":hex on");
  assert.equal(session.display.hex, true);
  assert.deepEqual(receive(session, "[$][SKT][DATA][1][2]:\x01\x02\r\n"), [
    "show:urc:[$][SKT][DATA][1][2]:",
    "show:urc:  0000  01 02                                             |..|",
  ]);
  // Host Control Mode (ATCMD READY seen): no echo expected, a line like the
  // command is an answer line.
  session.submit("AT+SKTREAD=1,10");
  assert.deepEqual(receive(session, "+SKTREAD:1,3,a\x00\x00\r\nOK\r\n"), [
    "show:answer:+SKTREAD:1,3,",
    "show:answer:  0000  61 00 00                                          |a..|",
    "show:ok:OK",
  ]);
});

Deno.test("session: ATCMD READY while commands are in flight means a restart", () => {
  const session = new TermSession();
  session.submit("AT+SKTSTATE");
  assert.deepEqual(receive(session, "ATCMD READY\r\n"), [
    "show:urc:ATCMD READY",
    "show:warning:the module restarted: no answer will come to AT+SKTSTATE",
  ]);
  assert.equal(session.busy, false);
});

Deno.test("session: AT+SKTSENDRAW payload: counted, escapes, refused beyond the size", () => {
  const session = new TermSession();
  receive(session, "ATCMD READY\r\n");
  session.submit("AT+SKTSENDRAW=0,6");
  assert.equal(session.prompt, "> ");
  assert.deepEqual(receive(session, ">>>\r\n"), ["show:answer:>>>"]);
  assert.equal(session.inRaw, true);
  assert.equal(session.busy, false); // waiting for the user, not the module
  assert.equal(session.prompt, ">>> [6 of 6 bytes] ");
  assert.deepEqual(brief(session.submit("hi\\r\\n")), [
    "show:payload:[4 bytes] hi\\r\\n",
    "payload:hi\r\n",
  ]);
  assert.equal(session.prompt, ">>> [2 of 6 bytes] ");
  assert.equal(session.rawLeft, 2);
  assert.deepEqual(brief(session.submit("abc")), [
    "show:warning:3 bytes, but only 2 are left of the 6 announced; nothing sent",
  ]);
  assert.deepEqual(brief(session.submit("\\q")), [
    "show:warning:unknown escape \\q: use \\r \\n \\t \\\\ or \\xNN; nothing sent",
  ]);
  assert.deepEqual(brief(session.submit("AT")), [
    "show:payload:[2 bytes] AT",
    "payload:AT",
  ]);
  assert.equal(session.inRaw, false);
  assert.equal(session.busy, true);
  assert.equal(session.prompt, "> ");
  assert.deepEqual(receive(session, "\r\nOK\r\n"), ["show:ok:OK"]);
  assert.equal(session.busy, false);
});

Deno.test("session: :sendfile, :abort and watermarks during a transfer", () => {
  const session = new TermSession();
  receive(session, "ATCMD READY\r\n");
  assert.deepEqual(brief(session.submit(":sendfile x.bin")), [
    "show:warning::sendfile <link_id>[,<dst_ip>,<dst_port>] PATH, or :sendfile PATH after >>>",
  ]);
  session.submit("AT+SKTSENDRAW=0,100000");
  receive(session, ">>>\r\n");
  assert.deepEqual(brief(session.submit(":sendfile x.bin")), [
    "read-file:x.bin",
  ]);
  assert.deepEqual(
    brief(session.payload(new Uint8Array(90000), "x.bin")),
    ["show:payload:[90000 bytes from x.bin]", "payload:" + "\0".repeat(90000)],
  );
  assert.deepEqual(receive(session, "[$][TT]:High Watermark\r\n"), [
    "show:urc:[$][TT]:High Watermark",
    "flow:true",
  ]);
  assert.deepEqual(receive(session, "[$][TT]:Low Watermark\r\n"), [
    "show:urc:[$][TT]:Low Watermark",
    "flow:false",
  ]);
  assert.deepEqual(brief(session.submit(":abort")), [
    "show:payload:<<< (abort)",
    "abort-raw",
  ]);
  assert.equal(session.inRaw, false);
  assert.deepEqual(brief(session.submit(":abort")), [
    "show:warning:no transfer in progress to abort",
  ]);
  assert.deepEqual(receive(session, "\r\nERROR: 4\r\n"), [
    "show:error:ERROR: 4 -> AT+SKTSENDRAW: Get data failed in TT mode (needs Host Control Mode; or the transfer was aborted with <<<)",
  ]);
});

Deno.test("session: local commands", () => {
  const session = new TermSession();
  assert.deepEqual(brief(session.submit(":quit")), ["quit"]);
  assert.deepEqual(brief(session.submit(":sleep 250")), ["sleep:250"]);
  assert.deepEqual(brief(session.submit(":sleep soon")), [
    "show:warning::sleep takes milliseconds, 0 to 3600000",
  ]);
  assert.deepEqual(brief(session.submit(":timestamps on")), [
    "show:note:timestamps on",
  ]);
  assert.equal(session.display.timestamps, true);
  assert.deepEqual(brief(session.submit(":hex maybe")), [
    'show:warning::hex takes on or off, not "maybe"',
  ]);
  assert.deepEqual(brief(session.submit(":frob")), [
    "show:warning:unknown local command :frob (see :help)",
  ]);
  const help = brief(session.submit(":help"));
  assert.ok(help.some((l) => l.includes(":sendfile PATH")));
  assert.ok(help.every((l) => l.startsWith("show:note:")));
});

Deno.test("session: completion of command names, local commands and syntax", () => {
  const session = new TermSession();
  assert.deepEqual(session.complete("at+sktq"), { matches: ["AT+SKTQUERY"] });
  assert.deepEqual(session.complete("AT+SKTSE").matches, [
    "AT+SKTSERVER=",
    "AT+SKTSEND=",
    "AT+SKTSENDRAW=",
  ]);
  assert.equal(session.complete("").matches.length, 9);
  assert.match(session.complete("AT+SKTCLIENT=0,1,").help!, /<dst_host>/);
  assert.deepEqual(session.complete("AT+SKTSTATE"), {
    matches: [],
    help: "AT+SKTSTATE",
  });
  assert.deepEqual(session.complete(":h"), {
    matches: [":help", ":hex on", ":hex off"],
  });
  assert.deepEqual(session.complete("xyz"), { matches: [], help: undefined });
});

Deno.test("session: a timed-out answer is dropped with a warning", () => {
  const session = new TermSession();
  session.submit("AT+SKTCLIENT=0,1,,10.255.255.1,80,,0");
  assert.deepEqual(brief(session.timeout(10)), [
    "show:warning:no answer to AT+SKTCLIENT=0,1,,10.255.255.1,80,,0 within 10 s",
  ]);
  assert.equal(session.busy, false);
});

Deno.test("session: :sendfile ID PATH starts the transfer with the file's size", () => {
  const session = new TermSession();
  receive(session, "ATCMD READY\r\n");
  assert.deepEqual(brief(session.submit(":sendfile 3,10.0.0.2,7 f.bin")), [
    "read-file:f.bin",
  ]);
  const [action] = session.submit(":sendfile 3 f.bin");
  assert.deepEqual(action, { type: "read-file", path: "f.bin", link: "3" });
  assert.deepEqual(brief(session.sendFile("3", new Uint8Array(), "f.bin")), [
    "show:warning:f.bin is empty: nothing to send",
  ]);
  assert.deepEqual(
    brief(session.sendFile("3", enc.encode("ab\ncd"), "f.bin")),
    ["show:sent:AT+SKTSENDRAW=3,5", "send:AT+SKTSENDRAW=3,5\r\n:answer"],
  );
  assert.deepEqual(brief(session.submit(":sendfile 4 g.bin")), [
    "show:warning:wait for the answer to AT+SKTSENDRAW=3,5",
  ]);
  // The file goes out as soon as >>> comes.
  assert.deepEqual(receive(session, ">>>\r\n"), [
    "show:answer:>>>",
    "show:payload:[5 bytes from f.bin]",
    "payload:ab\ncd",
  ]);
  assert.equal(session.busy, true);
  assert.deepEqual(receive(session, "\r\nOK\r\n"), ["show:ok:OK"]);
  // A UDP server's destination goes in the command.
  assert.deepEqual(
    brief(session.sendFile("2,10.0.0.2,7", enc.encode("x"), "h.bin"))[0],
    "show:sent:AT+SKTSENDRAW=2,1,10.0.0.2,7",
  );
  // An ERROR instead of >>>: the file is not sent.
  assert.deepEqual(receive(session, "\r\nERROR: 1\r\n"), [
    "show:error:ERROR: 1 -> AT+SKTSENDRAW: Parameter error (bad field, or no such link)",
    "show:warning:h.bin not sent",
  ]);
  assert.equal(session.inRaw, false);
});
