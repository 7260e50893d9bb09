import assert from "node:assert/strict";
import { openTarget, parseTarget, TargetError } from "./target.ts";
import { freePort } from "./test_util.ts";
import { UsageError } from "./usage_error.ts";
import { openPty } from "@atsock/tty";
import type { SerialTransport } from "./serial.ts";

Deno.test("parseTarget: tcp:HOST:PORT (IPv6 in brackets, empty host is loopback) or a device path", () => {
  assert.deepEqual(parseTarget("tcp:10.0.0.7:3333"), {
    kind: "tcp",
    hostname: "10.0.0.7",
    port: 3333,
  });
  assert.deepEqual(parseTarget("tcp::4000"), {
    kind: "tcp",
    hostname: "127.0.0.1",
    port: 4000,
  });
  assert.deepEqual(parseTarget("tcp:[::1]:4000"), {
    kind: "tcp",
    hostname: "::1",
    port: 4000,
  });
  assert.deepEqual(parseTarget("/dev/ttyUSB0"), {
    kind: "serial",
    path: "/dev/ttyUSB0",
  });
  for (
    const [text, message] of [
      ["tcp:host", /expected tcp:HOST:PORT/],
      ["tcp::0", /port 0 is not 1\.\.65535/],
      ["tcp::70000", /port 70000 is not 1\.\.65535/],
      ["", /the target is empty/],
      ["localhost:3333", /did you mean tcp:localhost:3333\?/],
    ] as const
  ) {
    assert.throws(
      () => parseTarget(text),
      (e: unknown) => e instanceof UsageError && message.test(e.message),
      text,
    );
  }
});

Deno.test("openTarget: a refused connection or a missing device is a TargetError, an unsupported baud rate a UsageError", async () => {
  const port = freePort();
  await assert.rejects(
    openTarget({ kind: "tcp", hostname: "127.0.0.1", port }),
    (e: unknown) =>
      e instanceof TargetError &&
      e.message ===
        `tcp:127.0.0.1:${port}: connection refused (is the bridge or emulator running?)`,
  );
  await assert.rejects(
    openTarget({ kind: "serial", path: "/dev/atsock-no-such-device" }),
    (e: unknown) =>
      e instanceof TargetError && /no such device/.test(e.message),
  );
  await assert.rejects(
    openTarget({ kind: "serial", path: "/dev/null" }, { baud: 12345 }),
    (e: unknown) => e instanceof UsageError && /baud 12345/.test(e.message),
  );
});

Deno.test("openTarget: a TCP target opens as a transport", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const accepted = listener.accept();
  const transport = await openTarget(parseTarget(`tcp::${port}`));
  const conn = await accepted;
  try {
    assert.match(transport.name, new RegExp(`${port}`));
    await transport.write(new TextEncoder().encode("AT\r\n"));
    const buf = new Uint8Array(4);
    let n = 0;
    while (n < 4) n += (await conn.read(buf.subarray(n))) ?? 4;
    assert.equal(new TextDecoder().decode(buf), "AT\r\n");
  } finally {
    await transport.close();
    conn.close();
    listener.close();
  }
});

Deno.test("openTarget: a serial device opens with RTS/CTS only when asked (term --flow-control rts)", async () => {
  const pty = openPty();
  try {
    for (const rtscts of [false, true]) {
      const transport = await openTarget(
        { kind: "serial", path: pty.path },
        { baud: 115200, rtscts },
      ) as SerialTransport;
      try {
        assert.equal(transport.rtscts, rtscts);
        assert.equal(transport.baud, 115200);
      } finally {
        await transport.close();
      }
    }
  } finally {
    await pty.close();
  }
});
