import assert from "node:assert/strict";
import fc from "fast-check";
import {
  encode,
  formatTranscriptHeader,
  formatTranscriptRecord,
  parseTranscript,
  parseTranscriptRecord,
  TRANSCRIPT_VERSION,
  TranscriptError,
  type TranscriptRecord,
} from "./mod.ts";

const HEADER = formatTranscriptHeader({
  atsock: "transcript",
  version: TRANSCRIPT_VERSION,
  mode: "host",
  ip: "127.0.0.1",
});

Deno.test("transcript records: printable bytes as text, others as base64", () => {
  assert.equal(
    formatTranscriptRecord({ t: 1.23456, dir: "h2m", data: encode("AT\r\n") }),
    '{"t":1.235,"dir":"h2m","text":"AT\\r\\n"}',
  );
  assert.equal(
    formatTranscriptRecord({
      t: 2,
      dir: "m2h",
      data: new Uint8Array([0, 255, 65]),
    }),
    '{"t":2,"dir":"m2h","b64":"AP9B"}',
  );
  assert.equal(
    formatTranscriptRecord({
      t: 3,
      dir: "net",
      link: 0,
      event: "rx",
      bytes: 2,
      data: encode("hi"),
    }),
    '{"t":3,"dir":"net","link":0,"event":"rx","bytes":2,"text":"hi"}',
  );
});

Deno.test("transcript records: every byte survives a round trip", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 300 }),
      fc.constantFrom("h2m", "m2h"),
      (data, dir) => {
        const line = formatTranscriptRecord({
          t: 5,
          dir: dir as "h2m",
          data,
        });
        const back = parseTranscriptRecord(line, 2) as TranscriptRecord & {
          data: Uint8Array;
        };
        assert.deepEqual([...back.data], [...data]);
        assert.equal(back.dir, dir);
      },
    ),
  );
});

Deno.test("parseTranscript: header, records with their line numbers", () => {
  const text = [
    HEADER,
    '{"t":0.5,"dir":"h2m","text":"AT+SKTSTATE\\r\\n"}',
    "",
    '{"t":1,"dir":"net","link":2,"event":"open","kind":"client tcp","peer":"127.0.0.1:80"}',
    '{"t":1.5,"dir":"fault","fault":0,"action":"error","detail":"ERROR: 4"}',
  ].join("\n") + "\n";
  const transcript = parseTranscript(text);
  assert.equal(transcript.header.mode, "host");
  assert.deepEqual(transcript.lines, [2, 4, 5]);
  assert.deepEqual(transcript.records[1], {
    t: 1,
    dir: "net",
    link: 2,
    event: "open",
    kind: "client tcp",
    peer: "127.0.0.1:80",
  });
});

Deno.test("parseTranscript: a broken file names its line", () => {
  const cases: [string, RegExp][] = [
    ["", /line 1: the file is empty/],
    ["hello", /line 1: not a JSON object/],
    ['{"atsock":"other"}', /line 1: not an atsock transcript/],
    [
      '{"atsock":"transcript","version":99}',
      /line 1: transcript version 99 is not supported/,
    ],
    [HEADER + '\n{"t":-1,"dir":"h2m","text":""}', /line 2: "t" must be/],
    [HEADER + '\n{"t":1,"dir":"sideways"}', /line 2: "dir" must be/],
    [HEADER + '\n{"t":1,"dir":"m2h"}', /line 2: needs "text" or "b64"/],
    [HEADER + '\n{"t":1,"dir":"m2h","b64":"!!"}', /line 2: "b64" is not/],
    [HEADER + '\n{"t":1,"dir":"m2h","text":"\u20ac"}', /above 0xff/],
    [HEADER + '\n{"t":1,"dir":"net","link":-1}', /line 2: "link"/],
    [HEADER + '\n{"t":1,"dir":"net","link":1,"event":"x"}', /"event"/],
    [HEADER + "\n\n[1,2]", /line 3: not a JSON object/],
  ];
  for (const [text, message] of cases) {
    assert.throws(() => parseTranscript(text), (e: unknown) => {
      assert.ok(e instanceof TranscriptError, text);
      assert.match(e.message, message);
      return true;
    });
  }
});

Deno.test("parseTranscript: peer records, checked field by field, and back", () => {
  const header = '{"atsock":"transcript","version":1,"peer":"10.0.0.2"}';
  const parsed = parseTranscript(
    header +
      '\n{"t":0,"dir":"peer","do":"connect","name":"C","proto":"tls","to":4433,"from":49946}\n{"t":0,"dir":"peer","do":"expect","name":"C","b64":"AAE="}\n',
  );
  assert.equal(parsed.header.peer, "10.0.0.2");
  assert.deepEqual(parsed.records[0], {
    t: 0,
    dir: "peer",
    do: "connect",
    name: "C",
    proto: "tls",
    to: 4433,
    from: 49946,
  });
  assert.deepEqual(
    parseTranscriptRecord(formatTranscriptRecord(parsed.records[1]), 3),
    parsed.records[1],
  );
  const bad: [string, RegExp][] = [
    ['{"t":0,"dir":"peer","do":"dance","name":"C"}', /"do" must be listen/],
    ['{"t":0,"dir":"peer","do":"close"}', /needs a "name"/],
    ['{"t":0,"dir":"peer","do":"listen","name":"S","port":1}', /"proto"/],
    [
      '{"t":0,"dir":"peer","do":"listen","name":"S","proto":"tcp","port":70000}',
      /"port" must be a port/,
    ],
    [
      '{"t":0,"dir":"peer","do":"connect","name":"C","proto":"tcp","to":1}',
      /"from" must be a port/,
    ],
    ['{"t":0,"dir":"peer","do":"send","name":"C"}', /needs "text" or "b64"/],
  ];
  for (const [line, message] of bad) {
    assert.throws(
      () => parseTranscript(`${header}\n${line}\n`),
      (e: Error) => e instanceof TranscriptError && message.test(e.message),
      line,
    );
  }
});
