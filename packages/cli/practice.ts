/**
 * What an `ERROR: <n>` means in practice on real firmware, beyond the
 * reference's words (which the protocol package's catalogue holds): one
 * table, by command and error name, with the words each subcommand shows.
 * `atsock term` adds a few words after the meaning, the one-shot commands
 * (`connect`, `send`, ...) a hint for a technician, and `atsock explain` the
 * full account.
 *
 * @module
 */

import {
  CLIENT_TYPE,
  type CommandName,
  ERR,
  MODULE_FREE_HEAP,
  SERVER_TYPE,
} from "@atsock/protocol";

/** One code's practical meaning, in the length each subcommand shows. */
export interface PracticeNote {
  /** A few words after the meaning, in `atsock term`. */
  readonly term?: string;
  /** The one-shot commands' hint. */
  readonly hint?: string;
  /** `atsock explain`'s account. */
  readonly explain?: string;
}

const SERVER = ERR.SKTSERVER;
const CLIENT = ERR.SKTCLIENT;
const SEND = ERR.SKTSEND;
const READ = ERR.SKTREAD;
const RAW = ERR.SKTSENDRAW;

const LINK_BROKE = "the link's connection failed (reset by the peer?)";

/** Practical meanings by command and code. */
const PRACTICE: {
  readonly [C in CommandName]?: Readonly<Record<number, PracticeNote>>;
} = {
  SKTQUERY: {
    [ERR.SKTQUERY.PARAMETER]: {
      explain: "given when anything follows AT+SKTQUERY (an '=')",
    },
  },
  SKTSERVER: {
    [SERVER.PARAMETER]: {
      term: "bad field, or the link id is in use",
      hint:
        "a field, the link id, or a certificate file missing from the module's flash",
      explain:
        "also: the link id is in use, a required field is empty or out of range, or a certificate file the type needs does not exist",
    },
    [SERVER.TCP_CREATE]: {
      hint: "the port may be in use",
      explain: "the TCP port cannot be bound (in use?)",
    },
    [SERVER.UDP_CREATE]: {
      hint: "the port may be in use",
      explain:
        "the UDP port cannot be bound: a UDP client or another program holds it (UDP servers may share a port: SO_REUSEADDR)",
    },
    [SERVER.CERT_FLASH]: {
      hint: "a certificate file of the suite cannot be read",
      explain:
        `a file the type needs exists but cannot be read: CERT/server_cert_<i>.crt, server_key_<i>.key (type ${SERVER_TYPE.TLS_VERIFY_CLIENT} also server_ca_<i>.crt); one that does not exist is ${SERVER.PARAMETER}`,
    },
    [SERVER.CRT_PARSE]: {
      explain: "a certificate or key file of the suite does not parse",
    },
    [SERVER.OWN_CERT]: {
      explain:
        "never given for a key that does not match its certificate: the server is made and its handshakes fail",
    },
    [SERVER.NET_BIND]: {
      explain: "the TLS port cannot be bound (in use?)",
    },
  },
  SKTCLIENT: {
    [CLIENT.PARAMETER]: {
      term: "bad field, or the link id is in use",
      hint:
        "a field, the link id, a host name not found or a certificate file missing from the module's flash",
      explain:
        "also: the link id is in use, a required field is empty or out of range, a host name is not found (every type), or a certificate file the type needs does not exist",
    },
    [CLIENT.TCP_CREATE]: {
      term: "the peer refused or cannot be reached",
      hint: "nothing accepted the connection (is the server up?)",
      explain: "a refused or unreachable TCP peer",
    },
    [CLIENT.UDP_CREATE]: {
      hint: "the UDP socket could not be made (source port in use?)",
      explain: "the UDP socket cannot be bound",
    },
    [CLIENT.CERT_FLASH]: {
      hint: "a certificate file of the suite cannot be read",
      explain:
        `a file the type needs exists but cannot be read: CERT/client_ca_<i>.crt (types ${CLIENT_TYPE.TLS_VERIFY_SERVER}, ${CLIENT_TYPE.TLS_MUTUAL}), client_cert_<i>.crt and client_key_<i>.key (types ${CLIENT_TYPE.TLS_CLIENT_CERT}, ${CLIENT_TYPE.TLS_MUTUAL}); one that does not exist is ${CLIENT.PARAMETER}`,
    },
    [CLIENT.CRT_PARSE]: {
      explain: "a certificate or key file of the suite does not parse",
    },
    [CLIENT.OWN_CERT]: {
      explain:
        `never given for a key that does not match its certificate: the handshake fails instead (${CLIENT.HANDSHAKE}) when the server asks for the certificate`,
    },
    [CLIENT.NET_CONNECT]: {
      term: "the peer refused or cannot be reached",
      hint: "the TLS server could not be reached",
      explain: "the TCP connect under TLS failed",
    },
    [CLIENT.HANDSHAKE]: {
      term: "TLS handshake or certificate verification failed",
      hint: "the TLS handshake or the certificate check failed",
      explain:
        `the TLS handshake failed, or the server's chain was refused (types ${CLIENT_TYPE.TLS_VERIFY_SERVER}, ${CLIENT_TYPE.TLS_MUTUAL}; its name is not checked: the firmware sets no host name; with mbedtls 3 these types always fail)`,
    },
  },
  SKTSEND: {
    [SEND.PARAMETER]: {
      term: "bad field, size differs from the data, or no such link",
      explain:
        "also: the link is not in use, its socket has gone (socket_fd:-1: its peer closed an auto_rcv=1 link, or a read met the end), it is a listening TCP/TLS server, data_size does not match the data, a raw ',' in the data, or a '\\' not followed by ',' or '\\'",
    },
    [SEND.SEND]: {
      hint: LINK_BROKE,
      explain:
        "the send failed: the connection was reset, or so_sndtimeo passed",
    },
  },
  SKTREAD: {
    [READ.PARAMETER]: {
      term: "bad field, or no such link",
      explain:
        "also: the link is not in use, or its socket has gone (socket_fd:-1): after the read that met the end, or an auto_rcv=1 link whose peer closed",
    },
    [READ.NO_MEMORY]: {
      explain:
        `the buffer of data_size + 1 bytes could not be allocated (at_sktread): data_size larger than the module's free heap (the virtual module: ${MODULE_FREE_HEAP} bytes or more); nothing was read, read less at a time`,
    },
    [READ.READ]: {
      term: "the peer closed and all its data was read; AT+SKTDEL frees it",
      hint:
        "the peer has closed the link and everything was read; the module closed the socket",
      explain:
        `the read met the peer's close (everything buffered had been read): the module closes the socket, later reads are ERROR: ${READ.PARAMETER}`,
    },
  },
  SKTSENDRAW: {
    [RAW.PARAMETER]: {
      term: "bad field, or no such link",
      explain:
        "also: the link is not in use or its socket has gone (socket_fd:-1); checked before the mode, and before any >>>",
    },
    [RAW.SEND]: { hint: LINK_BROKE },
    [RAW.TT_DATA]: {
      term: "needs Host Control Mode; or the transfer was aborted with <<<",
      explain:
        "also in Manual Test Mode (AT+SKTSENDRAW needs Host Control Mode), and after the host aborts with <<< and 30 ms of silence",
    },
  },
  SKTDEL: {
    [ERR.SKTDEL.PARAMETER]: {
      term: "bad link id, or the link is not in use",
      hint: "the link is not in use (see atsock state)",
      explain: "also: the link id is not in use",
    },
  },
};

/** What `code` from `command` means in practice, when more is known than the reference says. */
export function practice(
  command: CommandName,
  code: number,
): PracticeNote | undefined {
  return PRACTICE[command]?.[code];
}
