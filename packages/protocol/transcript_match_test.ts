import assert from "node:assert/strict";
import {
  encode,
  matchExpected,
  parseTranscript,
  renderTemplate,
  replayScript,
  splitLines,
} from "./mod.ts";

const transcript = parseTranscript(
  [
    '{"atsock":"transcript","version":1,"mode":"host","ip":"127.0.0.1"}',
    '{"t":0,"dir":"m2h","text":"ATCMD READY\\r\\n"}',
    '{"t":1,"dir":"h2m","text":"AT+SKTSERVER=0,1,,40123,0\\r\\n"}',
    '{"t":2,"dir":"m2h","text":"\\r\\nOK"}',
    '{"t":3,"dir":"m2h","text":"\\r\\n"}',
    '{"t":3.5,"dir":"net","link":0,"event":"open","kind":"server tcp"}',
    '{"t":4,"dir":"h2m","text":"AT+SKTSTATE\\r\\n"}',
    '{"t":5,"dir":"m2h","text":"link_id:0,server,tcp,src_address:127.0.0.1,src_port:40123,dst_address:0.0.0.0,dst_port:0,socket_fd:0\\r\\nlink_id:1,seed,tcp,src_address:0.0.0.0,src_port:0,dst_address:127.0.0.1,dst_port:51000,socket_fd:1\\r\\n\\r\\nOK\\r\\n"}',
  ].join("\n"),
);

Deno.test("replayScript: console runs joined, ports and the module's address abstracted", () => {
  const script = replayScript(transcript);
  assert.deepEqual(script.recorded, {
    PORT0: "40123",
    PORT1: "51000",
    IP: "127.0.0.1",
  });
  assert.deepEqual(script.steps.map((s) => [s.kind, s.line]), [
    ["expect", 2],
    ["send", 3],
    ["expect", 4],
    ["send", 7],
    ["expect", 8],
  ]);
  assert.equal(
    renderTemplate(script.steps[1].template),
    "AT+SKTSERVER=0,1,,${PORT0},0\r\n",
  );
  assert.equal(renderTemplate(script.steps[2].template), "\r\nOK\r\n");
  assert.equal(
    renderTemplate(script.steps[4].template),
    "link_id:0,server,tcp,src_address:${IP},src_port:${PORT0},dst_address:0.0.0.0,dst_port:0,socket_fd:0\r\n" +
      "link_id:1,seed,tcp,src_address:0.0.0.0,src_port:0,dst_address:127.0.0.1,dst_port:${PORT1},socket_fd:1\r\n\r\nOK\r\n",
  );
  assert.equal(
    renderTemplate(script.steps[1].template, { PORT0: "5000" }),
    "AT+SKTSERVER=0,1,,5000,0\r\n",
  );
});

Deno.test("matchExpected: binds free placeholders, waits for more, finds the first differing line", () => {
  const expected = replayScript(transcript).steps[4].template;
  const state = (port: number, peer: number, fd = 0) =>
    `link_id:0,server,tcp,src_address:10.0.0.5,src_port:${port},dst_address:0.0.0.0,dst_port:0,socket_fd:${fd}\r\n` +
    `link_id:1,seed,tcp,src_address:0.0.0.0,src_port:0,dst_address:127.0.0.1,dst_port:${peer},socket_fd:1\r\n\r\nOK\r\n`;
  assert.deepEqual(
    matchExpected(expected, state(6000, 7000) + "extra", { PORT0: "6000" }),
    {
      status: "match",
      consumed: state(6000, 7000).length,
      bound: { IP: "10.0.0.5", PORT1: "7000" },
    },
  );
  assert.deepEqual(
    matchExpected(expected, state(6000, 7000).slice(0, 50), {}),
    { status: "more" },
  );
  const wrongPort = matchExpected(expected, state(6001, 7000), {
    PORT0: "6000",
  });
  assert.equal(wrongPort.status, "differ");
  assert.equal(wrongPort.status === "differ" && wrongPort.index, 0);
  const wrongFd = matchExpected(expected, state(6000, 7000, 3), {});
  assert.equal(wrongFd.status === "differ" && wrongFd.index, 0);
  const error = matchExpected(
    replayScript(transcript).steps[2].template,
    "\r\nERROR: 2\r\n",
  );
  assert.deepEqual(error, {
    status: "differ",
    index: 1,
    expected: ["\r\n", "OK\r\n"],
    got: ["\r\n", "ERROR: 2\r\n"],
  });
  assert.deepEqual(splitLines("a\r\nb"), ["a\r\n", "b"]);
  assert.ok(encode("x").length === 1);
});

Deno.test("replayScript: peer records are steps of their own, their ports and the peers' address placeholders", () => {
  const script = replayScript(parseTranscript(
    [
      '{"atsock":"transcript","version":1,"mode":"host","ip":"192.168.0.109","peer":"192.168.0.100"}',
      '{"t":0,"dir":"peer","do":"listen","name":"S","proto":"tcp","port":6666}',
      '{"t":0,"dir":"h2m","text":"AT+SKTCLIENT=1,1,,192.168.0.100,6666,,1\\r\\n"}',
      '{"t":0,"dir":"m2h","text":"\\r\\nOK\\r\\n"}',
      '{"t":0,"dir":"peer","do":"send","name":"S","text":"Hi","held":true}',
      '{"t":0,"dir":"m2h","text":"[$][SKT][DATA][1][2]:Hi\\r\\n"}',
      '{"t":0,"dir":"peer","do":"connect","name":"C","proto":"udp","to":4321,"from":61409}',
    ].join("\n"),
  ));
  assert.deepEqual(script.steps.map((s) => [s.kind, s.line]), [
    ["peer", 2],
    ["send", 3],
    ["expect", 4],
    ["peer", 5],
    ["expect", 6],
    ["peer", 7],
  ]);
  assert.deepEqual(script.steps[0].peer, {
    do: "listen",
    name: "S",
    proto: "tcp",
    port: "PORT0",
  });
  assert.equal(
    renderTemplate(script.steps[1].template),
    "AT+SKTCLIENT=1,1,,${PEER},${PORT0},,1\r\n",
  );
  assert.deepEqual(script.steps[3].peer?.data, encode("Hi"));
  assert.equal(script.steps[3].peer?.held, true);
  assert.deepEqual(script.steps[5].peer, {
    do: "connect",
    name: "C",
    proto: "udp",
    to: "PORT1",
    from: "PORT2",
  });
  assert.deepEqual(script.recorded, {
    PORT0: "6666",
    PORT1: "4321",
    PORT2: "61409",
    PEER: "192.168.0.100",
  });
});
