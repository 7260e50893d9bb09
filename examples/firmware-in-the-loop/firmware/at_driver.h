/*
 * A minimal driver for the Socket AT commands of a Realtek Ameba module in
 * Host Control Mode, over a UART. One command at a time; unsolicited
 * `[$]` lines are handled wherever they come. Needs only board.h.
 */
#ifndef AT_DRIVER_H
#define AT_DRIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
	AT_OK = 0,      /* \r\nOK\r\n */
	AT_ERROR,       /* \r\nERROR: <n>\r\n: the code is in at_error */
	AT_TIMEOUT,     /* no answer in time */
	AT_RESET,       /* ATCMD READY came instead of the answer: the module restarted */
	AT_REFUSED,     /* the driver would not send it (bytes SKTSEND cannot carry, too long) */
} at_result;

/* What the driver saw, for the report. */
struct at_stats {
	uint32_t commands, errors, timeouts, resets;
	uint32_t data_lines, data_bytes, other_urcs, unexpected_lines;
	uint32_t high_watermarks, watermark_timeouts;
};

/* Called with the bytes of a [$][SKT][DATA] line, in pieces. */
typedef void (*at_data_fn)(int link, const uint8_t *bytes, size_t n);
/* Called with every other [$] line (events, watermarks), CR LF removed. */
typedef void (*at_urc_fn)(const char *line);

extern struct at_stats at_stats;
extern int at_error;   /* <n> of the last ERROR: <n> */
extern char at_last[40]; /* the last command sent (its start), for reports */
extern bool at_reset_seen; /* an ATCMD READY came; the caller clears it */

void at_init(at_data_fn on_data, at_urc_fn on_urc);
/* Waits up to ms for ATCMD READY (sent once at start-up). */
bool at_wait_ready(uint32_t ms);
/* Handles whatever the module prints for ms (DATA lines, events). */
void at_poll(uint32_t ms);
/* Sends "AT..." + CR LF and waits for its answer. */
at_result at_command(const char *line, uint32_t timeout_ms);
/* AT+SKTSEND with \, and \\ escaping; data_size counts the bytes unescaped. */
at_result at_send(int link, const uint8_t *data, size_t n, uint32_t timeout_ms);
/* AT+SKTSENDRAW: waits for >>>, sends the payload, pausing on High Watermark. */
at_result at_send_raw(int link, const uint8_t *data, size_t n, uint32_t timeout_ms);
/* AT+SKTREAD on a TCP link: up to cap bytes into buf, *got = bytes kept. */
at_result at_read(int link, uint8_t *buf, size_t cap, size_t *got, uint32_t timeout_ms);

#endif
