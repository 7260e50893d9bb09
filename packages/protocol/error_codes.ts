/**
 * Every command's \`ERROR: <n>\` codes by name, with the numbers of the
 * reference's tables. Part of the command catalogue (\`commands.ts\`), which
 * holds their meanings.
 *
 * @module
 */

/** `ERROR: 1`, the code every command gives for a bad parameter. */
export const PARAMETER_ERROR = 1;

/** The codes 1..10 that `AT+SKTSERVER` and `AT+SKTCLIENT` share (meanings differ by side in words only). */
const LINK_SETUP = {
  PARAMETER: 1,
  TCP_CREATE: 2,
  TCP_TASK: 3,
  UDP_CREATE: 4,
  UDP_TASK: 5,
  CERT_FLASH: 6,
  NO_MEMORY: 7,
  SSL_CONFIG: 8,
  CRT_PARSE: 9,
  OWN_CERT: 10,
} as const;

/** Each command's error codes by name (the numbers of the reference's tables). */
export const ERR = {
  /** `AT+SKTCFG`. */
  SKTCFG: { PARAMETER: 1 },
  /** `AT+SKTQUERY`. */
  SKTQUERY: { PARAMETER: 1 },
  /** `AT+SKTSERVER`. */
  SKTSERVER: { ...LINK_SETUP, NET_BIND: 11, TLS_TASK: 12 },
  /** `AT+SKTCLIENT`. */
  SKTCLIENT: {
    ...LINK_SETUP,
    SSL_SETUP: 11,
    INET_NTOA: 12,
    NET_CONNECT: 13,
    HANDSHAKE: 14,
    TLS_TASK: 15,
  },
  /** `AT+SKTSEND`. */
  SKTSEND: { PARAMETER: 1, SEND: 2 },
  /** `AT+SKTREAD`. */
  SKTREAD: { PARAMETER: 1, NO_MEMORY: 2, SELECT: 3, READ: 4 },
  /** `AT+SKTSENDRAW`. */
  SKTSENDRAW: { PARAMETER: 1, SEND: 2, NO_MEMORY: 3, TT_DATA: 4 },
  /** `AT+SKTSTATE` gives no error. */
  SKTSTATE: {},
  /** `AT+SKTDEL`. */
  SKTDEL: { PARAMETER: 1 },
} as const;
