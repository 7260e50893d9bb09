import assert from "node:assert/strict";
import {
  CLIENT_TYPE,
  CLIENT_TYPES,
  type ClientType,
  COMMANDS,
  DEFAULT_CONFIG,
  field,
  SERVER_TYPES,
  type ServerType,
} from "@atsock/protocol";
import {
  checkConfig,
  checkLink,
  checkReadSize,
  clientRequest,
  isUdp,
  rawRequest,
  sendRequests,
  serverRequest,
} from "./args.ts";

Deno.test("host arguments: link ids, ports and sizes take exactly the catalogue's ranges", () => {
  const link = field("SKTDEL", "link_id");
  checkLink(link.min, "SKTDEL");
  checkLink(link.max, "SKTDEL");
  assert.throws(
    () => checkLink(link.max + 1, "SKTDEL"),
    /^RangeError: AT\+SKTDEL: link id must be a whole number 0\.\.19, not 20$/,
  );
  assert.throws(
    () => checkLink(link.min - 1, "AtDriver.link"),
    /^RangeError: AtDriver\.link: link id must be a whole number 0\.\.19, not -1$/,
  );
  assert.throws(
    () => checkLink(1.5, "SKTREAD"),
    /^RangeError: AT\+SKTREAD: link id must be a whole number/,
  );
  const port = field("SKTSERVER", "src_port");
  const server = { linkId: 0, port: port.max };
  assert.equal(serverRequest(server).port, port.max);
  assert.throws(
    () => serverRequest({ ...server, port: port.max + 1 }),
    /^RangeError: AT\+SKTSERVER: port must be a whole number 1\.\.65535, not 65536$/,
  );
  assert.throws(() => serverRequest({ ...server, port: port.min - 1 }));
  checkReadSize(field("SKTREAD", "data_size").min);
  assert.throws(
    () => checkReadSize(0),
    /^RangeError: AT\+SKTREAD: size must be a whole number 1 or more, not 0$/,
  );
  assert.throws(
    () => rawRequest(0, new Uint8Array(), undefined),
    /^RangeError: AT\+SKTSENDRAW: size must be a whole number 1 or more, not 0$/,
  );
  assert.throws(
    () => sendRequests(0, new Uint8Array(), undefined, false),
    /^RangeError: AT\+SKTSEND: data is empty$/,
  );
});

Deno.test("host arguments: every SKTCFG option is checked against its catalogue range", () => {
  checkConfig({ ...DEFAULT_CONFIG });
  for (const spec of COMMANDS.SKTCFG.fields) {
    if (spec.kind === "flag") continue;
    const key = spec.key as "keepIdle";
    checkConfig({ ...DEFAULT_CONFIG, [key]: spec.max });
    assert.throws(
      () => checkConfig({ ...DEFAULT_CONFIG, [key]: spec.min - 1 }),
      new RegExp(`^RangeError: AT\\+SKTCFG: ${key} must be a whole number`),
    );
    if (spec.max < 2 ** 31 - 1) {
      assert.throws(
        () => checkConfig({ ...DEFAULT_CONFIG, [key]: spec.max + 1 }),
        RangeError,
      );
    }
  }
});

Deno.test("host arguments: cert_index is sent and required exactly for the types the catalogue names", () => {
  const certs = field("SKTSERVER", "cert_index");
  for (const t of SERVER_TYPES) {
    const type = t.value as ServerType;
    const base = { linkId: 1, type, port: 80 };
    if (t.usesCert) {
      assert.throws(
        () => serverRequest(base),
        /^RangeError: AT\+SKTSERVER: certIndex must be a whole number 1\.\.10 for this type, not undefined$/,
      );
      assert.throws(() => serverRequest({ ...base, certIndex: certs.max + 1 }));
      assert.equal(serverRequest({ ...base, certIndex: 2 }).certIndex, 2);
    } else {
      assert.equal(
        serverRequest({ ...base, certIndex: 2 }).certIndex,
        undefined,
      );
    }
    assert.equal(
      isUdp(serverRequest({ ...base, certIndex: 1 })),
      t.transport === "udp",
    );
  }
  for (const t of CLIENT_TYPES) {
    const type = t.value as ClientType;
    const base = { linkId: 1, type, host: "h", port: 80, localPort: 7 };
    if (t.usesCert) {
      assert.throws(
        () => clientRequest(base),
        /^RangeError: AT\+SKTCLIENT: certIndex/,
      );
      assert.equal(clientRequest({ ...base, certIndex: 10 }).certIndex, 10);
    } else {
      assert.equal(
        clientRequest({ ...base, certIndex: 3 }).certIndex,
        undefined,
      );
    }
    const request = clientRequest({ ...base, certIndex: 1 });
    assert.equal(isUdp(request), t.transport === "udp");
    // The local port goes only where the firmware requires it (UDP).
    assert.equal(request.localPort, t.transport === "udp" ? 7 : undefined);
  }
  assert.throws(
    () =>
      clientRequest({ linkId: 1, type: CLIENT_TYPE.UDP, host: "h", port: 80 }),
    /^RangeError: AT\+SKTCLIENT: localPort must be a whole number 1\.\.65535/,
  );
  assert.throws(
    // @ts-expect-error: a type the catalogue does not list
    () => serverRequest({ linkId: 1, type: SERVER_TYPES.length, port: 80 }),
    /^RangeError: AT\+SKTSERVER: type must be a whole number 0\.\.3, not 4$/,
  );
  assert.throws(
    // @ts-expect-error: a name where the type number goes
    () => serverRequest({ linkId: 1, type: "udp", port: 80 }),
    /^RangeError: AT\+SKTSERVER: type must be a whole number 0\.\.3, not udp$/,
  );
});

Deno.test("host arguments: host names follow the catalogue's hostProblem (length, printable ASCII, no comma or backslash)", () => {
  const host = field("SKTCLIENT", "dst_host");
  const base = { linkId: 0, port: 80 };
  clientRequest({ ...base, host: "x".repeat(host.max) });
  assert.throws(() =>
    clientRequest({ ...base, host: "x".repeat(host.max + 1) })
  );
  assert.throws(() => clientRequest({ ...base, host: "" }));
  assert.throws(() => clientRequest({ ...base, host: "a,b" }));
  assert.throws(() => clientRequest({ ...base, host: "a\nb" }));
  clientRequest({ ...base, host: "bad host" }); // sent: the module answers it
  for (const bad of ["a\\b", "a\tb", "\u00e9"]) {
    assert.throws(
      () => clientRequest({ ...base, host: bad }),
      /^RangeError: AT\+SKTCLIENT: dst_host must/,
    );
  }
});

Deno.test("host arguments: SKTSEND splits TCP data, keeps a UDP datagram whole or refuses it", () => {
  const data = new Uint8Array(2000).fill(0x61);
  const tcp = sendRequests(0, data, undefined, false);
  assert.ok(tcp.length > 1);
  assert.equal(tcp.reduce((n, r) => n + r.data.length, 0), 2000);
  assert.throws(
    () => sendRequests(0, data, undefined, true),
    /^RangeError: AT\+SKTSEND: a UDP datagram must fit one AT\+SKTSEND line/,
  );
  const small = sendRequests(0, data.subarray(0, 10), {
    ip: "1.2.3.4",
    port: 9,
  }, true);
  assert.equal(small.length, 1);
  assert.deepEqual(small[0].destination, { ip: "1.2.3.4", port: 9 });
  assert.throws(
    () => sendRequests(0, new Uint8Array([0]), undefined, false),
    /^RangeError: AT\+SKTSEND: cannot carry NUL.*use sendRaw/,
  );
  assert.throws(
    () => sendRequests(0, data.subarray(0, 1), { ip: "host", port: 9 }, false),
    /^RangeError: AT\+SKTSEND: destination ip must be an IPv4 address, not host$/,
  );
  // protocol's isIPv4: four parts of at most 255.
  assert.throws(
    () => rawRequest(0, data, { ip: "1.2.3.256", port: 9 }),
    /^RangeError: AT\+SKTSENDRAW: destination ip must be an IPv4 address/,
  );
  // The destination port is the command's own dst_port.
  const dstPort = field("SKTSENDRAW", "dst_port");
  assert.equal(
    rawRequest(0, data, { ip: "1.2.3.4", port: dstPort.max }).destination
      ?.port,
    dstPort.max,
  );
  assert.throws(
    () => rawRequest(0, data, { ip: "1.2.3.4", port: dstPort.max + 1 }),
    /^RangeError: AT\+SKTSENDRAW: destination port must be a whole number 1\.\.65535, not 65536$/,
  );
  assert.throws(
    () =>
      sendRequests(0, data.subarray(0, 1), {
        ip: "1.2.3.4",
        port: field("SKTSEND", "dst_port").min - 1,
      }, false),
    /^RangeError: AT\+SKTSEND: destination port must be a whole number/,
  );
});
