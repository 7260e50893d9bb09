/*
 * Socket AT driver: the rules it relies on are in ../README.md.
 * Output from the module is read a line at a time; a line ends with CR LF
 * only. Two kinds of line carry raw bytes after a header and are read by
 * length, not up to CR LF: "[$][SKT][DATA][id][len]...:" and "+SKTREAD:id,n,".
 */
#include "at_driver.h"
#include "board.h"

#include <string.h>

#define LINE_MAX 256            /* longest line kept; longer ones are cut */
#define SEND_MAX 1900           /* escaped SKTSEND data that fits the 2000-byte line buffer */
#define BYTE_TIMEOUT_MS 1000    /* inside a DATA or SKTREAD payload */
#define WATERMARK_WAIT_MS 3000  /* paused on High Watermark, at most */
#define RAW_PIECE 64            /* SENDRAW bytes sent between looks at the input */

struct at_stats at_stats;
int at_error;
char at_last[40];
bool at_reset_seen;

static at_data_fn data_fn;
static at_urc_fn urc_fn;
static char line[LINE_MAX + 1];
static size_t line_len;
static int prev;                /* the byte before, for CR LF */
static bool paused;             /* between High and Low Watermark */
static int pushed = -1;         /* a byte read too far, to read again */

static int get(uint32_t deadline)
{
	int c = pushed;
	pushed = -1;
	return c >= 0 ? c : board_getc(deadline);
}

/* Internal answers besides at_result. */
enum { EV_NONE = 100, EV_PROMPT, EV_READ_HEADER };

void at_init(at_data_fn on_data, at_urc_fn on_urc)
{
	data_fn = on_data;
	urc_fn = on_urc;
	line_len = 0;
	prev = 0;
	pushed = -1;
	paused = false;
}

static void put_str(const char *s)
{
	while (*s) board_putc((uint8_t)*s++);
}

/* Sends the start of a command and remembers it. */
static void begin_command(const char *s)
{
	at_stats.commands++;
	strncpy(at_last, s, sizeof at_last - 1);
	put_str(s);
}

static void put_uint(uint32_t v)
{
	char digits[11];
	int i = 0;
	do {
		digits[i++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (i) board_putc((uint8_t)digits[--i]);
}

static bool starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Reads a decimal number at *p and moves past it; -1 if there is none. */
static long number(const char **p)
{
	long v = -1;
	while (**p >= '0' && **p <= '9') {
		v = (v < 0 ? 0 : v * 10) + (**p - '0');
		(*p)++;
	}
	return v;
}

/* "[$][SKT][DATA][id][len]" or "...[ip][port]" just before ':': read the payload. */
static void read_data_line(void)
{
	const char *p = line + strlen("[$][SKT][DATA][");
	long link = number(&p);
	if (strncmp(p, "][", 2) != 0) return;
	p += 2;
	long len = number(&p);
	if (link < 0 || len < 0) return;
	uint8_t piece[64];
	size_t n = 0;
	for (long i = 0; i < len; i++) {
		int c = get(board_ms() + BYTE_TIMEOUT_MS);
		if (c < 0) { /* the line stopped short: hand over what came */
			at_stats.timeouts++;
			if (n && data_fn) data_fn((int)link, piece, n);
			break;
		}
		piece[n++] = (uint8_t)c;
		if (n == sizeof piece || i == len - 1) {
			if (data_fn) data_fn((int)link, piece, n);
			n = 0;
		}
	}
	at_stats.data_lines++;
	at_stats.data_bytes += (uint32_t)len;
}

/*
 * Collects bytes until a whole line is in `line` (returns true) or the
 * deadline passes (false; a partial line is kept for the next call).
 * A DATA line is handled here and reads as an empty line. With
 * `read_header`, "+SKTREAD:id,n," also ends a line (its data follows).
 */
static bool next_line(uint32_t deadline, bool read_header)
{
	for (;;) {
		int c = get(deadline);
		if (c < 0) return false;
		bool end = c == '\n' && prev == '\r';
		prev = c;
		if (end) {
			if (line_len > 0 && line[line_len - 1] == '\r') line[line_len - 1] = 0;
			line_len = 0;
			return true;
		}
		if (line_len < LINE_MAX) line[line_len++] = (char)c;
		line[line_len] = 0;
		if (c == ':' && line_len > 1 && line[line_len - 2] == ']' &&
		    starts(line, "[$][SKT][DATA][")) {
			read_data_line();
			line_len = 0;
			line[0] = 0;
			return true;
		}
		if (c == ',' && read_header && starts(line, "+SKTREAD:")) {
			const char *comma = strchr(line, ',');
			if (comma && strchr(comma + 1, ',') == line + line_len - 1) {
				line_len = 0;
				return true;
			}
		}
	}
}

/* Acts on a whole line; returns an at_result, EV_PROMPT, EV_READ_HEADER or EV_NONE. */
static int dispatch(void)
{
	if (line[0] == 0) return EV_NONE; /* the CR LF before OK/ERROR, or a DATA line */
	if (strcmp(line, "OK") == 0) return AT_OK;
	if (starts(line, "ERROR: ")) {
		const char *p = line + 7;
		at_error = (int)number(&p);
		return AT_ERROR;
	}
	if (strcmp(line, "ATCMD READY") == 0) {
		at_stats.resets++;
		at_reset_seen = true;
		paused = false;
		return AT_RESET;
	}
	if (strcmp(line, ">>>") == 0) return EV_PROMPT;
	if (starts(line, "+SKTREAD:")) return EV_READ_HEADER;
	if (starts(line, "[$]") && urc_fn) urc_fn(line);
	if (strcmp(line, "[$][TT]:High Watermark") == 0) {
		at_stats.high_watermarks++;
		paused = true;
	} else if (strcmp(line, "[$][TT]:Low Watermark") == 0) {
		paused = false;
	} else if (starts(line, "[$]")) {
		at_stats.other_urcs++; /* events: connects, closes; the app may look */
	} else {
		at_stats.unexpected_lines++; /* SKTQUERY/SKTSTATE text, or noise */
	}
	return EV_NONE;
}

/* Waits for an answer: OK, ERROR, ATCMD READY, or (if asked) >>>. */
static int wait_answer(uint32_t deadline, bool want_prompt)
{
	for (;;) {
		if (!next_line(deadline, false)) {
			at_stats.timeouts++;
			return AT_TIMEOUT;
		}
		int ev = dispatch();
		if (ev == AT_ERROR) at_stats.errors++;
		if (ev == AT_OK || ev == AT_ERROR || ev == AT_RESET) return ev;
		if (ev == EV_PROMPT && want_prompt) return ev;
	}
}

bool at_wait_ready(uint32_t ms)
{
	uint32_t deadline = board_ms() + ms;
	while (next_line(deadline, false)) {
		if (dispatch() == AT_RESET) {
			at_stats.resets = 0; /* the start-up one is not a reset */
			at_reset_seen = false;
			return true;
		}
	}
	return false;
}

void at_poll(uint32_t ms)
{
	uint32_t deadline = board_ms() + ms;
	while (next_line(deadline, false)) {
		int ev = dispatch();
		if (ev == AT_OK || ev == AT_ERROR || ev == EV_PROMPT) at_stats.unexpected_lines++;
	}
}

at_result at_command(const char *cmd, uint32_t timeout_ms)
{
	begin_command(cmd);
	put_str("\r\n");
	return (at_result)wait_answer(board_ms() + timeout_ms, false);
}

at_result at_send(int link, const uint8_t *data, size_t n, uint32_t timeout_ms)
{
	size_t escaped = 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t b = data[i];
		/* The shell's line reader ends or edits the line on these. */
		if (b == 0 || b == '\r' || b == '\n' || b == '\b' || b == '\t' || b == 0x7F || b == 0xFF)
			return AT_REFUSED;
		escaped += (b == ',' || b == '\\') ? 2 : 1;
	}
	if (n == 0 || escaped > SEND_MAX) return AT_REFUSED;
	begin_command("AT+SKTSEND=");
	put_uint((uint32_t)link);
	board_putc(',');
	put_uint((uint32_t)n);
	put_str(",,,");
	for (size_t i = 0; i < n; i++) {
		if (data[i] == ',' || data[i] == '\\') board_putc('\\');
		board_putc(data[i]);
	}
	put_str("\r\n");
	return (at_result)wait_answer(board_ms() + timeout_ms, false);
}

/* Handles lines already here without waiting; returns an answer or EV_NONE. */
static int look(void)
{
	while (next_line(board_ms(), false)) {
		int ev = dispatch();
		if (ev == AT_OK || ev == AT_ERROR || ev == AT_RESET) return ev;
	}
	return EV_NONE;
}

at_result at_send_raw(int link, const uint8_t *data, size_t n, uint32_t timeout_ms)
{
	begin_command("AT+SKTSENDRAW=");
	put_uint((uint32_t)link);
	board_putc(',');
	put_uint((uint32_t)n);
	put_str("\r\n");
	int ev = wait_answer(board_ms() + timeout_ms, true);
	if (ev != EV_PROMPT) return (at_result)ev;
	for (size_t i = 0; i < n; i += RAW_PIECE) {
		ev = look();
		if (ev == AT_ERROR) at_stats.errors++;
		if (ev != EV_NONE) return (at_result)ev;
		if (paused) {
			uint32_t until = board_ms() + WATERMARK_WAIT_MS;
			while (paused && (int32_t)(board_ms() - until) < 0) {
				if (next_line(until, false)) {
					ev = dispatch();
					if (ev == AT_ERROR) at_stats.errors++;
					if (ev == AT_OK || ev == AT_ERROR || ev == AT_RESET) return (at_result)ev;
				}
			}
			if (paused) {
				at_stats.watermark_timeouts++; /* no Low Watermark: go on */
				paused = false;
			}
		}
		for (size_t j = i; j < n && j < i + RAW_PIECE; j++) board_putc(data[j]);
	}
	return (at_result)wait_answer(board_ms() + timeout_ms, false);
}

at_result at_read(int link, uint8_t *buf, size_t cap, size_t *got, uint32_t timeout_ms)
{
	uint32_t deadline = board_ms() + timeout_ms;
	*got = 0;
	begin_command("AT+SKTREAD=");
	put_uint((uint32_t)link);
	board_putc(',');
	put_uint((uint32_t)cap);
	put_str("\r\n");
	for (;;) {
		if (!next_line(deadline, true)) {
			at_stats.timeouts++;
			return AT_TIMEOUT;
		}
		int ev = dispatch();
		if (ev == AT_ERROR) at_stats.errors++;
		if (ev == AT_OK || ev == AT_ERROR || ev == AT_RESET) return (at_result)ev;
		if (ev != EV_READ_HEADER) continue;
		/*
		 * "+SKTREAD:<id>,<n>," then the data as a C string, then \r\nOK\r\n.
		 * A NUL cuts the data short while <n> still counts it, so the
		 * \r\nOK\r\n may come before the n-th byte or straddle it.
		 */
		const char *p = strchr(line, ',') + 1;
		long n = number(&p);
		static const char ok[] = "\r\nOK\r\n";
		size_t matched = 0, kept = 0; /* bytes of a possible OK, and how many went in buf */
		for (long i = 0; i < n || matched > 0; i++) {
			int c = get(board_ms() + BYTE_TIMEOUT_MS);
			if (c < 0) {
				at_stats.timeouts++;
				return AT_TIMEOUT;
			}
			if (i >= n && c != ok[matched]) { /* all n bytes were data */
				pushed = c;
				break;
			}
			if (c == ok[matched]) {
				matched++;
			} else {
				matched = c == ok[0];
				kept = 0;
			}
			if (matched == 6) { /* the data stopped at a NUL: that was the answer */
				*got -= kept;
				return AT_OK;
			}
			if (i < n && *got < cap) {
				buf[(*got)++] = (uint8_t)c;
				kept += matched > 0;
			}
		}
		return (at_result)wait_answer(deadline, false);
	}
}
