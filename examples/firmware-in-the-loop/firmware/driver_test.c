/*
 * Unit tests of at_driver.c on the build machine, with a scripted module
 * in place of board.c: each step puts bytes on the "UART" once the driver
 * has sent some text (and, if given, once the fake clock reaches a time).
 * The fake clock moves 1 ms whenever the driver waits with nothing to read.
 * Build: cc -Wall -Wextra -Werror -o driver_test driver_test.c at_driver.c
 */
#include "at_driver.h"
#include "board.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the fake board ---- */
struct step { const char *after; uint32_t at_ms; const char *bytes; size_t n; };
static struct step script[8];
static int steps, fired;
static char sent[8192];
static size_t sent_n, sent_at_low = (size_t)-1;
static uint8_t rx[4096];
static size_t rx_n, rx_next;
static uint32_t now;

void board_init(void) {}
uint32_t board_ms(void) { return now; }
void board_print(const char *text) { fputs(text, stdout); }
const char *board_cmdline(void) { return ""; }
void board_exit(int status) { exit(status); }

void board_putc(uint8_t byte)
{
	if (sent_n < sizeof sent - 1) sent[sent_n++] = (char)byte;
	sent[sent_n] = 0;
}

int board_getc(uint32_t deadline)
{
	while (rx_next == rx_n) {
		if (fired < steps && strstr(sent, script[fired].after) && now >= script[fired].at_ms) {
			memcpy(rx + rx_n, script[fired].bytes, script[fired].n);
			rx_n += script[fired].n;
			if (strstr(script[fired].bytes, "Low Watermark")) sent_at_low = sent_n;
			fired++;
			continue;
		}
		if ((int32_t)(now - deadline) >= 0) return -1;
		now++;
	}
	return rx[rx_next++];
}

/* ---- the test helpers ---- */
static int failures;
static uint8_t data[64];
static size_t data_n;
static int data_link = -1;
static char urc[64];

static void on_data(int link, const uint8_t *bytes, size_t n)
{
	data_link = link;
	memcpy(data + data_n, bytes, n);
	data_n += n;
}

static void on_urc(const char *line) { snprintf(urc, sizeof urc, "%s", line); }

static void reset(void)
{
	steps = fired = 0;
	sent_n = rx_n = rx_next = data_n = 0;
	sent[0] = 0;
	now = 0;
	data_link = -1;
	urc[0] = 0;
	sent_at_low = (size_t)-1;
	memset(&at_stats, 0, sizeof at_stats);
	at_init(on_data, on_urc);
}

/* Adds a step; bytes may hold NULs, so the length is given. */
#define STEP(after_, at_, lit_) (script[steps++] = (struct step){ after_, at_, lit_, sizeof(lit_) - 1 })

static void check(int ok, const char *what)
{
	printf("%s %s\n", ok ? "ok  " : "FAIL", what);
	if (!ok) failures++;
}

int main(void)
{
	reset();
	STEP("AT+SKTCFG=0,0,1,0,0,0,0\r\n", 0, "[$][SKT][EVENT]: x\r\n\r\nOK\r\n");
	check(at_command("AT+SKTCFG=0,0,1,0,0,0,0", 100) == AT_OK && at_stats.other_urcs == 1 &&
	      strcmp(urc, "[$][SKT][EVENT]: x") == 0,
	      "at_command: a [$] line between the command and OK is handled, OK taken");

	reset();
	STEP("\r\n", 0, "\r\nERROR: 14\r\n");
	check(at_command("AT+SKTDEL=3", 100) == AT_ERROR && at_error == 14 && at_stats.errors == 1,
	      "at_command: ERROR: <n> gives AT_ERROR and the code");

	reset();
	STEP("\r\n", 0, "ATCMD READY\r\n");
	check(at_command("AT+SKTQUERY", 100) == AT_RESET && at_reset_seen,
	      "at_command: ATCMD READY instead of the answer is a reset");

	reset();
	check(at_command("AT+SKTQUERY", 100) == AT_TIMEOUT && now >= 100 && at_stats.timeouts == 1,
	      "at_command: no answer is a timeout, at the deadline");

	reset();
	STEP("", 0, "[$][SKT][DATA][1][6][127.0.0.1][5000]:a\r\n\0b,\r\n[$]lone\rCR\r\n");
	at_poll(50);
	check(data_link == 1 && data_n == 6 && memcmp(data, "a\r\n\0b,", 6) == 0 && at_stats.data_lines == 1,
	      "DATA line: the payload is read by its length (CR LF and NUL inside), UDP header");
	check(strcmp(urc, "[$]lone\rCR") == 0, "a lone CR is a byte of the line; only CR LF ends it");

	reset();
	STEP("\r\n", 0, "\r\nOK\r\n");
	check(at_send(0, (const uint8_t *)"a,b\\c", 5, 100) == AT_OK &&
	      strcmp(sent, "AT+SKTSEND=0,5,,,a\\,b\\\\c\r\n") == 0,
	      "at_send: comma and backslash escaped, data_size counts the bytes unescaped");
	check(at_send(0, (const uint8_t *)"a\rb", 3, 100) == AT_REFUSED &&
	      at_send(0, (const uint8_t *)"a\0b", 3, 100) == AT_REFUSED,
	      "at_send: bytes the line reader would take (CR, LF, NUL, ...) are refused");

	reset();
	static uint8_t payload[300];
	memset(payload, 'x', sizeof payload);
	STEP("AT+SKTSENDRAW=0,300\r\n", 0, ">>>\r\n[$][TT]:High Watermark\r\n");
	STEP("", 500, "[$][TT]:Low Watermark\r\n");
	static char full[400];
	snprintf(full, sizeof full, "AT+SKTSENDRAW=0,300\r\n%.300s", (const char *)payload);
	script[steps++] = (struct step){ full, 0, "\r\nOK\r\n", 6 };
	at_result r = at_send_raw(0, payload, sizeof payload, 2000);
	check(r == AT_OK && at_stats.high_watermarks == 1 && at_stats.watermark_timeouts == 0 &&
	      sent_at_low == strlen("AT+SKTSENDRAW=0,300\r\n") && sent_n == sent_at_low + 300,
	      "at_send_raw: nothing sent between High and Low Watermark, all of it after");

	reset();
	STEP("AT+SKTSENDRAW=0,300\r\n", 0, ">>>\r\n[$][TT]:High Watermark\r\n");
	script[steps++] = (struct step){ full, 0, "\r\nOK\r\n", 6 };
	r = at_send_raw(0, payload, sizeof payload, 5000);
	check(r == AT_OK && at_stats.watermark_timeouts == 1 && now >= 3000,
	      "at_send_raw: no Low Watermark in 3 s: goes on");

	reset();
	STEP("AT+SKTREAD=2,64\r\n", 0, "+SKTREAD:2,3,xyz\r\nOK\r\n");
	uint8_t buf[64];
	size_t got = 0;
	check(at_read(2, buf, sizeof buf, &got, 100) == AT_OK && got == 3 && memcmp(buf, "xyz", 3) == 0,
	      "at_read: +SKTREAD:<id>,<n>, then n bytes, then OK");

	reset();
	STEP("AT+SKTREAD=2,64\r\n", 0, "+SKTREAD:2,5,ab\r\nOK\r\n");
	check(at_read(2, buf, sizeof buf, &got, 100) == AT_OK && got == 2 && memcmp(buf, "ab", 2) == 0,
	      "at_read: data cut at a NUL (n counts all of it) ends at OK");

	reset();
	STEP("AT+SKTREAD=2,64\r\n", 0, "+SKTREAD:2,9,ab\r\nOK\r\n");
	check(at_read(2, buf, sizeof buf, &got, 100) == AT_OK && got == 2 && rx_next == rx_n,
	      "at_read: data cut at a NUL, its OK within the n bytes");

	reset();
	STEP("AT+SKTREAD=2,64\r\n", 0, "+SKTREAD:2,4,ab\r\n\r\nOK\r\n");
	check(at_read(2, buf, sizeof buf, &got, 100) == AT_OK && got == 4 && memcmp(buf, "ab\r\n", 4) == 0,
	      "at_read: data that ends like the start of OK is data");

	printf("%s\n", failures ? "driver_test: FAIL" : "driver_test: PASS");
	return failures ? 1 : 0;
}
