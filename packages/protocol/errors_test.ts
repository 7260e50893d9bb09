import assert from "node:assert/strict";
import {
  AtError,
  COMMAND_NAMES,
  type CommandName,
  ERROR_MEANINGS,
  errorMeaning,
} from "./mod.ts";

/**
 * The "Error Codes" lists of the vendor's reference, copied verbatim, one
 * heading per command in the reference's order (AT+SKTSTATE has none).
 */
const REFERENCE_TABLES = `
AT+SKTCFG
  • 1: Parameter error
AT+SKTQUERY
  • 1: No need input Parameter
AT+SKTSERVER
  • 1: Parameter error
  • 2: Failed to create TCP server
  • 3: Failed to create the task that auto-receives the TCP client and TCP data
  • 4: Failed to create UDP server
  • 5: Failed to create the task that auto-receives UDP client and its data
  • 6: Failed to get SERVER_CERT/SERVER_KEY/SERVER_CA from flash
  • 7: Memory allocation failed
  • 8: mbedtls_ssl_config_defaults() failed
  • 9: mbedtls_x509_crt_parse() failed
  • 10: mbedtls_ssl_conf_own_cert() failed
  • 11: mbedtls_net_bind() failed
  • 12: Failed to create the task that auto-receives the TLS client and TLS data
AT+SKTCLIENT
  • 1: Parameter error
  • 2: Failed to create TCP client
  • 3: Failed to create the task that auto-receives TCP data as TCP client
  • 4: Failed to create UDP client
  • 5: Failed to create the task that auto-receives UDP data as UDP client
  • 6: Failed to get CLIENT_CERT/CLIENT_KEY/CLIENT_CA from flash
  • 7: Memory allocation failed
  • 8: mbedtls_ssl_config_defaults() failed
  • 9: mbedtls_x509_crt_parse() failed
  • 10: mbedtls_ssl_conf_own_cert() failed
  • 11: mbedtls_ssl_setup() failed
  • 12: inet_ntoa_r() failed
  • 13: mbedtls_net_connect() failed
  • 14: mbedtls_ssl_handshake() failed
  • 15: Failed to create the task that auto-receives TLS data as TLS client
AT+SKTSEND
  • 1: Parameter error
  • 2: Failed to send data
AT+SKTREAD
  • 1: Parameter error
  • 2: Memory allocation failed
  • 3: select() failed
  • 4: Failed to read data
AT+SKTSENDRAW
  • 1: Parameter error
  • 2: Failed to send data
  • 3: Memory allocation failed
  • 4: Get data failed in TT mode
AT+SKTSTATE
AT+SKTDEL
  • 1: Parameter error
`;

function referenceTables(): Map<string, Map<number, string>> {
  const tables = new Map<string, Map<number, string>>();
  let current: Map<number, string> | undefined;
  for (const line of REFERENCE_TABLES.trim().split("\n")) {
    const heading = /^AT\+(SKT[A-Z]+)$/.exec(line);
    if (heading) {
      current = new Map();
      tables.set(heading[1], current);
      continue;
    }
    const entry = /^ {2}• (\d+): (.+)$/.exec(line);
    assert.ok(entry && current, `unreadable reference line: ${line}`);
    current.set(Number(entry[1]), entry[2]);
  }
  return tables;
}

Deno.test("the error catalogue is the reference's tables, code for code and word for word", () => {
  const tables = referenceTables();
  assert.deepEqual([...tables.keys()], [...COMMAND_NAMES]);
  let codes = 0;
  for (const [name, table] of tables) {
    const command = name as CommandName;
    const ours = Object.entries(ERROR_MEANINGS[command]).map((
      [code, meaning],
    ) => [Number(code), meaning]);
    assert.deepEqual(ours, [...table.entries()], name);
    for (const [code, meaning] of table) {
      codes++;
      assert.equal(errorMeaning(command, code), meaning);
      const error = new AtError(command, code);
      assert.equal(error.meaning, meaning);
      assert.equal(error.code, code);
      assert.equal(error.message, `AT+${name}: ERROR: ${code} (${meaning})`);
    }
    assert.equal(errorMeaning(command, table.size + 1), undefined);
  }
  assert.equal(codes, 1 + 1 + 12 + 15 + 2 + 4 + 4 + 0 + 1);
});

Deno.test("AtError names an unlisted code and keeps detail and cause", () => {
  const cause = new Error("inner");
  const error = new AtError("SKTSTATE", 1, { detail: "why", cause });
  assert.equal(error.meaning, "Unknown error");
  assert.equal(error.message, "AT+SKTSTATE: ERROR: 1 (Unknown error): why");
  assert.equal(error.detail, "why");
  assert.equal(error.cause, cause);
  assert.equal(
    new AtError(undefined, 1).message,
    "AT: ERROR: 1 (Parameter error)",
  );
});
