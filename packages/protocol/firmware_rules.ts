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
  {
    id: "console-line-end",
    rule:
      "A line ends only with LF right after CR (the CR is dropped) or with a NUL byte; a lone CR or LF is a byte of the line, also when CR and LF come in two writes.",
    source: "shell_rom_patch.c shell_cmd_chk",
    code: "protocol/line_reader.ts",
  },
  {
    id: "console-edit-keys",
    rule:
      "BS and DEL delete the previous byte (if any), TAB is stored as one space, 0xFF is dropped, on every line (AT+SKTSEND data too).",
    source: "shell_rom_patch.c shell_cmd_chk",
    code: "protocol/line_reader.ts",
  },
  {
    id: "console-overflow",
    rule:
      "With BUFLEN-1 bytes held, any byte but LF, NUL, BS or DEL runs the held bytes as a command at once and is itself lost; the shell prints <<<Too long cmd string.>>> and the line on the log UART.",
    source: "shell_rom_patch.c shell_cmd_chk",
    code: "protocol/line_reader.ts",
  },
  {
    id: "console-stuck",
    rule:
      "An LF (not after CR) arriving with BUFLEN-1 bytes held fills the last place: the buffer count passes its limit and every later byte is ignored until a restart.",
    source: "shell_rom_patch.c shell_cmd_chk",
    code: "protocol/line_reader.ts",
  },
  {
    id: "console-esc",
    rule:
      "The log UART's interrupt handler drops ESC bytes before the line reader (Manual Test Mode); the AT UART's handler passes them on.",
    source:
      "shell_rom_patch.c shell_uart_irq_rom, at_intf_uart.c atio_uart_handler",
    code: "protocol/line_reader.ts",
  },
  {
    id: "console-line-buffer",
    rule:
      "The line buffer is UART_LOG_CMD_BUFLEN bytes (2000 by default, other builds differ): a line ending in CR LF holds at most BUFLEN-2 bytes.",
    source: "shell_rom_patch.c shell_cmd_chk (UART_LOG_CMD_BUFLEN)",
    code: "device/module.ts",
  },
  {
    id: "console-echo",
    rule:
      "Manual Test Mode echoes each byte as typed, TAB as a space, BS/DEL as \\b \\b, and CR LF at a line end (a typed CR LF comes back as \\r\\r\\n); Host Control Mode echoes on the log UART, not the AT UART.",
    source: "shell_rom_patch.c shell_cmd_chk (pfEcho = DiagPrintf)",
    code: "device/console_input.ts",
  },
  {
    id: "console-manual-dispatch",
    rule:
      "Manual Test Mode removes leading spaces before the command runs; an empty (or all-space) line prints only the prompt \\r#.",
    source: "shell_ram.c shell_loguartRx_dispatch",
    code: "device/console_input.ts",
  },
  {
    id: "console-mem-line",
    rule:
      "Manual Test Mode: after every command atcmd_handler knew, whatever it answered, \\n\\r[MEM] After do cmd, available heap <n>\\n\\r then \\r\\n\\n#\\r\\n; Host Control Mode prints them on the log UART only.",
    source: "atcmd_service.c atcmd_service",
    code: "device/module.ts",
  },
  {
    id: "console-unknown",
    rule:
      "A line atcmd_handler does not know (not starting with AT, name of 3 bytes or less, unknown name) gets \\r\\nunknown command '<first word>' then \\r\\n\\n#\\r\\n in Manual Test Mode, nothing on the AT UART in Host Control Mode.",
    source: "shell_ram.c shell_task_ram, atcmd_service.c atcmd_handler",
    code: "device/console_input.ts",
  },
  // --- fields, errors, links, SKTREAD, SKTSTATE, DATA lines, TLS ---
  // (sockets rows)
  {
    id: "udp-broadcast",
    rule:
      "Every UDP link may send to a broadcast address: the SO_BROADCAST setsockopt of the UDP server and client is compiled only under IP_SOF_BROADCAST, which the firmware's lwipopts.h leaves at lwIP's default 0, and then lwIP filters no broadcast at all.",
    source:
      "atcmd_sockets.c create_socket_server_udp, create_socket_client_udp (lwipopts.h)",
    code: "device/sockets.ts Sockets.bindUdp",
  },
  {
    id: "udp-server-reuseaddr",
    rule:
      "A UDP server sets SO_REUSEADDR before bind (lwIP SO_REUSE 1), so two UDP servers can share a port (the last bound gets unicast datagrams); a UDP client sets none, so a client and a server cannot share one (ERROR: 4).",
    source:
      "atcmd_sockets.c create_socket_server_udp, create_socket_client_udp",
    code: "device/sockets.ts Sockets.bindUdp",
  },
  {
    id: "sktread-heap",
    rule:
      "SKTREAD allocates data_size + 1 bytes before it reads (after the link checks); when that cannot be allocated the answer is ERROR: 2. The virtual module's heap is MODULE_FREE_HEAP (290560 bytes, the [MEM] figure of a real module), so data_size 290560 or more is ERROR: 2.",
    source: "atcmd_sockets.c at_sktread (rtos_mem_zmalloc)",
    code: "protocol/module_session.ts ModuleSession",
  },
  {
    id: "link-reserved-while-opening",
    rule:
      "SKTSERVER and SKTCLIENT take their link id (node_pool[link_id].link_id = link_id) before the socket is made, so a seed accepted while they bind, connect or handshake skips it (search_available_node); a failed command frees it again (init_single_node).",
    source: "atcmd_sockets.c at_sktserver, at_sktclient, search_available_node",
    code: "device/link_opener.ts LinkOpener.open",
  },
  {
    id: "fields-empty",
    rule:
      "A required field that is empty is ERROR: 1 (strlen(argv[n]) == 0), not the number 0: SKTSERVER link_id, conn_type, src_port, auto_rcv; SKTCLIENT link_id, conn_type, dst_host, dst_port, auto_rcv; SKTSEND link_id, size, data; SKTREAD link_id, size; SKTSENDRAW link_id, size; SKTDEL link_id.",
    source:
      "atcmd_sockets.c at_sktserver, at_sktclient, at_sktsend, at_sktread, at_sktsendraw, at_sktdel",
    code: "protocol/parse.ts required",
  },
  {
    id: "fields-escapes",
    rule:
      "Only SKTSEND and SKTSENDRAW take escapes (parse_param_advance): \\, and \\\\; a backslash followed by anything else (or by nothing) is ERROR: 1. The other commands split on every comma and keep a backslash as a byte (parse_param).",
    source: "atcmd_service.c parse_param, parse_param_advance",
    code: "protocol/parse.ts fieldsOf",
  },
  {
    id: "send-destination",
    rule:
      "The dst_ip/dst_port fields of SKTSEND and SKTSENDRAW count on a UDP server only (required there, else ERROR: 1); on any other link they are ignored, whatever they hold.",
    source: "atcmd_sockets.c at_sktsend, at_sktsendraw",
    code: "protocol/parse.ts destination",
  },
  {
    id: "client-src-port",
    rule:
      "SKTCLIENT's src_port, when given, must be 1..65535 for every connection type (else ERROR: 1); it is required for UDP.",
    source: "atcmd_sockets.c at_sktclient",
    code: "protocol/parse.ts parseClient",
  },
  {
    id: "sktcfg-missing-fields",
    rule:
      "SKTCFG takes 1 to 7 fields; the fields not given are 0, and every call sets all seven options.",
    source: "atcmd_sockets.c at_sktcfg",
    code: "protocol/parse.ts parseConfig",
  },
  {
    id: "client-host-not-found",
    rule:
      "A dst_host that is not an address and whose lookup (gethostbyname) fails is ERROR: 1 for every connection type, before any socket is made.",
    source: "atcmd_sockets.c at_sktclient",
    code: "device/sockets.ts Sockets.resolve",
  },
  {
    id: "tls-cert-missing",
    rule:
      "A certificate, key or CA file the TLS type needs that does not exist (or is empty) is ERROR: 1, checked before the host lookup and any socket; 6 only when it exists but cannot be read.",
    source:
      "atcmd_sockets.c at_sktserver, at_sktclient (atcmd_get_ssl_certificate_size)",
    code: "device/tls_sockets.ts TlsSockets",
  },
  {
    id: "tls-key-mismatch",
    rule:
      "A key that does not match its certificate is not refused up front (mbedtls_ssl_conf_own_cert only stores the pair): a client fails the handshake when the server asks for its certificate (14); a server is made and its handshakes fail (no seed, no event).",
    source:
      "atcmd_sockets.c create_socket_client_tls, create_socket_server_tls",
    code: "device/certs.ts CertStore",
  },
  {
    id: "tls-no-hostname",
    rule:
      "The TLS client never calls mbedtls_ssl_set_hostname: no SNI is sent and (mbedtls 2) the server certificate's name is not checked, only its chain (types 3, 5); with mbedtls 3.6.3 and later types 3 and 5 fail the handshake (14).",
    source: "atcmd_sockets.c create_socket_client_tls",
    code: "device/tls.ts connectTls",
  },
  {
    id: "peer-gone-fd",
    rule:
      "When a peer ends the stream, an auto_rcv=1 link's task closes the socket at once (socket_fd:-1); an auto_rcv=0 socket stays open, sends still go out, until an AT+SKTREAD meets the end.",
    source:
      "atcmd_sockets.c socket_client_tcp_auto_rcv, socket_server_tcp_auto_rcv_client_and_data, atcmd_lwip_receive_data",
    code: "device/links.ts StreamLink",
  },
  {
    id: "read-end-closes",
    rule:
      "The AT+SKTREAD whose read meets the end of the stream (or an error) is ERROR: 4 and closes the socket (socket_fd:-1).",
    source: "atcmd_sockets.c atcmd_lwip_receive_data, at_sktread",
    code: "protocol/module_session.ts failureCode",
  },
  {
    id: "link-socket-gone",
    rule:
      "SKTREAD, SKTSEND and SKTSENDRAW on a link whose socket has gone (socket_fd:-1) are ERROR: 1 (SENDRAW before any >>>).",
    source: "atcmd_sockets.c at_sktread, at_sktsend, at_sktsendraw",
    code: "protocol/module_session.ts established",
  },
  {
    id: "sendraw-link-before-mode",
    rule:
      "SKTSENDRAW checks its fields and the link (ERROR: 1) before transparent transmission is refused in Manual Test Mode (ERROR: 4).",
    source: "atcmd_sockets.c at_sktsendraw, atcmd_lwip_start_tt_handle",
    code: "protocol/module_session.ts ModuleSession",
  },
  {
    id: "sktread-udp-address",
    rule:
      "A UDP AT+SKTREAD (server or client) always prints the sender: +SKTREAD:<id>,0,0.0.0.0,0, when nothing came.",
    source: "atcmd_sockets.c at_sktread",
    code: "protocol/format_output.ts formatRead",
  },
  {
    id: "sktread-print-limit",
    rule:
      'AT+SKTREAD prints its data with at_printf("%s"), which prints nothing for a string of 20000 bytes or more (MAX_BUF_LEN): the header and OK come, the data does not (a UDP datagram that long).',
    source: "atcmd_service.c at_printf, atcmd_sockets.c at_sktread",
    code: "protocol/format_output.ts formatRead",
  },
  {
    id: "sktstate-client-source",
    rule:
      "AT+SKTSTATE sources: a TCP client its local address and ephemeral port (lwip_getsockname); a UDP client 0.0.0.0 and its src_port; a TLS client 0.0.0.0 and the src_port given, else 0; a seed 0.0.0.0:0.",
    source: "atcmd_sockets.c create_socket_client_tcp, at_sktstate",
    code: "device/link_opener.ts LinkOpener",
  },
  {
    id: "sktstate-seed-order",
    rule:
      "AT+SKTSTATE lists a server's seeds under it in accept order (hang_seednode appends), not by id.",
    source: "atcmd_sockets.c hang_seednode, at_sktstate",
    code: "protocol/module_session.ts linkStates",
  },
  {
    id: "data-line-size",
    rule:
      "An auto_rcv=1 link prints one [$][SKT][DATA] line per read of at most 16 KiB (AT_SOCKET_RECEIVE_BUFFER_SIZE); a longer UDP datagram is cut to 16 KiB.",
    source:
      "atcmd_sockets.c socket_client_tcp_auto_rcv, socket_server_udp_auto_rcv_data",
    code: "device/links.ts AUTO_READ",
  },
  // --- transparent transmission (atcmd_tt_mode_*, at_intf_uart.c) ---
  // (tt rows)
  {
    id: "tt-ring-size",
    rule:
      "The TT ring buffer is min(size + 1, 80 KiB) and holds one byte less; watermarks only when it is 80 KiB (a payload of 81919 bytes or more) on a UART without RTS.",
    source:
      "atcmd_service.c atcmd_tt_mode_start; ringbuffer.c RingBuffer_Space",
    code: "device/raw_transfer.ts RawTransfer",
  },
  {
    id: "tt-pieces",
    rule:
      "The payload is taken out in pieces of at most 10 KiB (MAX_TT_BUF_LEN) and each piece is sent at once: on UDP one datagram per piece.",
    source: "atcmd_sockets.c atcmd_lwip_start_tt_handle",
    code: "device/raw_transfer.ts RawTransfer",
  },
  {
    id: "tt-high-watermark",
    rule:
      "[$][TT]:High Watermark is printed once when a piece read from the UART leaves 24576 bytes or fewer free (never for a piece that does not fit); again only after a Low.",
    source: "at_intf_uart.c atio_uart_handler",
    code: "device/raw_transfer.ts RawTransfer",
  },
  {
    id: "tt-low-watermark",
    rule:
      "[$][TT]:Low Watermark is printed once when the sender finds fewer than 16384 bytes held (before taking them); the flags outlive the transfer.",
    source: "atcmd_service.c atcmd_tt_mode_get",
    code: "device/raw_transfer.ts RawTransfer",
  },
  {
    id: "tt-drop-when-full",
    rule:
      "A piece of at most 1 KiB read from the UART that does not fit in the ring is dropped whole (no RTS handling in the handler).",
    source: "at_intf_uart.c atio_uart_handler",
    code: "device/raw_transfer.ts RawTransfer",
  },
  {
    id: "tt-abort-chars",
    rule:
      "Three UART reads of one '<' each start a 30 ms timer (any other read cancels it); the '<' bytes are payload and go into the ring like any other.",
    source: "at_intf_uart.c atio_uart_handler",
    code: "device/raw_transfer.ts RawTransfer",
  },
  {
    id: "tt-abort-timer",
    rule:
      "The timer sets the stop flag: the sender sends what is held; a payload of at most 10 KiB then answers OK (ERROR: 4 if nothing came), a larger one ERROR: 4. A timer firing after the transfer ended leaves the flag set, and the next SKTSENDRAW that finds its ring empty answers ERROR: 4 at once.",
    source:
      "atcmd_service.c tt_mode_timeout_handler, atcmd_tt_mode_get; atcmd_sockets.c atcmd_lwip_start_tt_handle",
    code: "device/raw_transfer.ts TtGlobals",
  },
  // --- reliability: accept loops, addresses ---
  // (reliability rows)
  {
    id: "ipv4-inet-aton",
    rule:
      "An IPv4 address field is read with lwIP's inet_aton: C number forms (a leading 0 is octal, 0x hex, 8 and 9 still taken), the short forms a, a.b, a.b.c, and a space ends it; 127.0.0.010 is 127.0.0.8, and only a text it rejects is looked up as a host name",
    source:
      "atcmd_sockets.c at_sktclient, at_sktsend; lwip_v2.1.2 ip4_addr.c ip4addr_aton",
    code: "protocol/ipv4.ts inetAton",
  },
];
