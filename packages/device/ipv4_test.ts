import assert from "node:assert/strict";
import { inetAton, isCanonicalIPv4 } from "@atsock/protocol";
import { ConnectRuleError, NetGuard, parseConnectRules } from "./net_guard.ts";
import { freePort, Harness } from "./test_util.ts";

Deno.test("ip4addr_aton: C number forms, short forms and lwIP's quirks", () => {
  const cases: [string, string | undefined][] = [
    ["127.0.0.1", "127.0.0.1"],
    ["127.0.0.010", "127.0.0.8"], // octal
    ["0177.0.0.1", "127.0.0.1"],
    ["0x7f.0.0.1", "127.0.0.1"],
    ["0X7F.1", "127.0.0.1"], // a.b: b is 24 bits
    ["127.1", "127.0.0.1"],
    ["127.0.1", "127.0.0.1"], // a.b.c: c is 16 bits
    ["2130706433", "127.0.0.1"], // a: 32 bits
    ["09", "0.0.0.9"], // lwIP 2.1.2 takes 8 and 9 in an octal part
    ["127.0.0.1 anything", "127.0.0.1"], // a space ends the address
    ["127.0.0.1\0junk", "127.0.0.1"], // a C string ends at NUL
    ["0x", "0.0.0.0"],
    ["127.0.0.256", undefined],
    ["256.0.0.1", undefined],
    ["1.2.3.4.5", undefined],
    ["127.0.0.1x", undefined],
    ["localhost", undefined],
    ["", undefined],
    [".1.2.3", undefined],
    ["1..2", undefined],
    ["4294967296", "0.0.0.0"], // wraps at 32 bits
  ];
  for (const [text, want] of cases) {
    assert.equal(inetAton(text), want, JSON.stringify(text));
  }
  assert.ok(isCanonicalIPv4("10.0.0.1"));
  assert.ok(!isCanonicalIPv4("10.0.0.01"));
  assert.ok(!isCanonicalIPv4("127.1"));
});

Deno.test("--allow-connect: a numeric entry not in canonical form is refused, naming what lwIP reads", () => {
  assert.throws(
    () => parseConnectRules("127.0.0.010"),
    (e: unknown) =>
      e instanceof ConnectRuleError && /127\.0\.0\.8/.test(e.message),
  );
  assert.throws(() => parseConnectRules("0x7f.1:80"), ConnectRuleError);
  assert.throws(() => parseConnectRules("127.1"), ConnectRuleError);
  assert.deepEqual(parseConnectRules("127.0.0.8:80"), [
    { host: "127.0.0.8", port: 80 },
  ]);
  // A command's host that is a number form is checked as its address only.
  const guard = new NetGuard(parseConnectRules("127.0.0.10"));
  assert.match(
    guard.connect("127.0.0.8", 80, "127.0.0.010") ?? "",
    /not in --allow-connect/,
  );
});

Deno.test("ip4addr_aton: SKTCLIENT to 127.0.0.010 connects to 127.0.0.8 and shows it; the allowlist sees it", async () => {
  const port = freePort();
  const listener = Deno.listen({ hostname: "127.0.0.8", port });
  const h = await Harness.start({
    mode: "host",
    allowConnect: [`127.0.0.8:${port}`],
  });
  try {
    await h.next((e) => e.type === "ready");
    const accepted = listener.accept();
    assert.equal(
      await h.code(`AT+SKTCLIENT=0,1,,127.0.0.010,${port},,0`),
      0,
    );
    const conn = await accepted;
    conn.close();
    const state = await h.command("AT+SKTSTATE");
    assert.match(state.text, /dst_address:127\.0\.0\.8,dst_port:/);
    // Decimal 10 is another address: not in the allowlist.
    assert.equal(
      await h.code(`AT+SKTCLIENT=1,1,,127.0.0.10,${port},,0`),
      2,
    );
  } finally {
    listener.close();
    await h.close();
  }
});
