/**
 * Where the shipped firmware differs from a plain reading of the vendor's
 * reference, in one table a reader can check against the source
 * (Ameba-AIoT/ameba-rtos, `component/at_cmd/`). Each row names the firmware
 * function the rule comes from and the atsock code that follows it; the
 * code carries the same rule id in a comment (`// firmware rule <id>`).
 *
 * @module
 */

/** One rule of the shipped firmware that the reference leaves unsaid or says otherwise. */
export interface FirmwareRule {
  /** A short stable id, cited in code comments and tests as `firmware rule <id>`. */
  readonly id: string;
  /** What the firmware does, in one sentence. */
  readonly rule: string;
  /** The firmware file and function it comes from. */
  readonly source: string;
  /** Where atsock follows it (package-relative file and symbol). */
  readonly code: string;
}

/** Every firmware rule atsock follows beyond the reference, by area. */
export const FIRMWARE_RULES: readonly FirmwareRule[] = [
  // --- console input and output (shell_cmd_chk, atcmd_service, log_service) ---
  // (console rows)

  // --- fields, errors, links, SKTREAD, SKTSTATE, DATA lines, TLS ---
  // (sockets rows)

  // --- transparent transmission (atcmd_tt_mode_*, at_intf_uart.c) ---
  // (tt rows)

  // --- reliability: accept loops, addresses ---
  // (reliability rows)
  {
    id: "ipv4-inet-aton",
    rule:
      "An IPv4 address field is read with lwIP's inet_aton: C number forms (a leading 0 is octal, 0x hex, 8 and 9 still taken), the short forms a, a.b, a.b.c, and a space ends it; 127.0.0.010 is 127.0.0.8, and only a text it rejects is looked up as a host name",
    source:
      "atcmd_sockets.c at_sktclient, at_sktsend; lwip_v2.1.2 ip4_addr.c ip4addr_aton",
    code: "device/ipv4.ts inetAton",
  },
];
