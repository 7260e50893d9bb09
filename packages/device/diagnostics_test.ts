import assert from "node:assert/strict";
import { Harness } from "./test_util.ts";

Deno.test("at_sktserver, at_sktclient, at_sktsend, at_sktread, at_sktdel: every ERROR the module answers is logged once, with its reason", async () => {
  const log: string[] = [];
  const h = await Harness.start({ mode: "host", log: (m) => log.push(m) });
  try {
    const bad = [
      "AT+SKTSERVER=0,0",
      "AT+SKTSERVER=20,1,,4000,1",
      "AT+SKTSERVER=0,1,,70000,1",
      "AT+SKTSERVER=0,9,,4000,1",
      "AT+SKTCLIENT=1,1,,127.0.0.1,99999,,1",
      "AT+SKTCLIENT=1,1,,,80,,1",
      "AT+SKTCLIENT=1",
      "AT+SKTSEND=0,x,,,hi",
      "AT+SKTSEND=7,2,,,hi",
      "AT+SKTREAD=0",
      "AT+SKTREAD=3,10",
      "AT+SKTDEL=",
      "AT+SKTDEL=5",
      "AT+SKTSENDRAW=0",
    ];
    let errors = 0;
    for (const line of bad) {
      const before = log.length;
      const code = await h.code(line);
      assert.notEqual(code, 0, line);
      errors++;
      const logged = log.slice(before).filter((m) => m.includes("ERROR:"));
      assert.equal(logged.length, 1, `${line}: ${JSON.stringify(logged)}`);
      const name = /^AT\+(\w+)/.exec(line)![1];
      assert.match(
        logged[0],
        new RegExp(`^AT\\+${name}: ERROR: ${code}: \\S`),
        line,
      );
    }
    assert.equal(log.filter((m) => m.includes("ERROR:")).length, errors);
  } finally {
    await h.close();
  }
});
