/*
 * The host application: what a product's firmware does with the module.
 * Configure; open a TCP client to a peer, ask it for bytes (DATA lines),
 * send it a payload with AT+SKTSENDRAW and check its checksum; open a UDP
 * client and exchange a datagram; read a third link with AT+SKTREAD until
 * the peer closes. Every step survives a module reset, an ERROR answer and
 * a slow peer by redoing what was lost. The report goes out on semihosting.
 *
 * QEMU's -append gives the peers: "<peer_ip> <tcp_port> <udp_port> <udp_src_port>".
 */
#include "at_driver.h"
#include "board.h"

#include <string.h>

#define CMD_MS 5000
#define WAIT_QUANTUM_MS 1000 /* a reply that takes longer is reported as slow */
#define WAIT_QUANTA 15
#define GET_BYTES 1500
#define PUT_BYTES 4096
#define TXT_BYTES 200
#define ATTEMPTS 5

static char peer[16];
static unsigned tcp_port, udp_port, udp_src;
static bool link_open[3];
static uint32_t recovered, slow_waits;
static char udp_reply[64];

/* Bytes received on links 0 and 1 through DATA lines. */
static struct { uint8_t buf[2048]; size_t n; } inbox[2];

static void on_data(int link, const uint8_t *bytes, size_t n)
{
	if (link < 0 || link > 1) return;
	for (size_t i = 0; i < n && inbox[link].n < sizeof inbox[link].buf; i++)
		inbox[link].buf[inbox[link].n++] = bytes[i];
}

static uint32_t fnv1a(const uint8_t *p, size_t n)
{
	uint32_t h = 2166136261u;
	while (n--) h = (h ^ *p++) * 16777619u;
	return h;
}

/* A tiny formatter: %s, %u, %x (8 digits) only. */
static char out[256];
static size_t out_n;
static void add(const char *s) { while (*s && out_n < sizeof out - 1) out[out_n++] = *s++; }
static void add_u(uint32_t v)
{
	char d[11];
	int i = 0;
	do d[i++] = (char)('0' + v % 10); while (v /= 10);
	while (i && out_n < sizeof out - 1) out[out_n++] = d[--i];
}
static void add_x(uint32_t v)
{
	char d[9] = { 0 };
	for (int i = 0; i < 8; i++) d[i] = "0123456789abcdef"[(v >> (28 - 4 * i)) & 15];
	add(d);
}
static void say(void) { out[out_n] = 0; board_print(out); out_n = 0; }
static void begin(const char *s) { out_n = 0; add("fil: "); add(s); }

static unsigned parse_uint(const char **p)
{
	unsigned v = 0;
	while (**p == ' ') (*p)++;
	while (**p >= '0' && **p <= '9') v = v * 10 + (unsigned)(*(*p)++ - '0');
	return v;
}

static void on_urc(const char *line)
{
	begin("event: unsolicited line: "); add(line); add("\n"); say();
}

static at_result client(int link, int type, unsigned port, unsigned src, int auto_rcv)
{
	out_n = 0;
	add("AT+SKTCLIENT="); add_u((uint32_t)link); add(","); add_u((uint32_t)type); add(",,");
	add(peer); add(","); add_u(port); add(",");
	if (src) add_u(src);
	add(","); add_u((uint32_t)auto_rcv);
	char cmd[80]; /* out is reused by reports while the command waits */
	memcpy(cmd, out, out_n);
	cmd[out_n] = 0;
	out_n = 0;
	return at_command(cmd, CMD_MS);
}

static at_result send_text(int link, const char *text)
{
	return at_send(link, (const uint8_t *)text, strlen(text), CMD_MS);
}

/* Waits until inbox[link] holds want bytes; a reset or a very long wait gives up. */
static at_result wait_bytes(int link, size_t want)
{
	bool slow = false;
	for (int q = 0; q < WAIT_QUANTA && inbox[link].n < want; q++) {
		uint32_t until = board_ms() + WAIT_QUANTUM_MS;
		while (inbox[link].n < want && (int32_t)(board_ms() - until) < 0 && !at_reset_seen)
			at_poll(10);
		if (at_reset_seen) return AT_RESET;
		if (inbox[link].n < want) {
			slow_waits++;
			if (!slow) {
				begin("event: link "); add_u((uint32_t)link); add(" slow: ");
				add_u(inbox[link].n); add(" of "); add_u(want); add(" bytes after 1 s; waiting\n"); say();
			}
			slow = true;
		}
	}
	return inbox[link].n >= want ? AT_OK : AT_TIMEOUT;
}

/* Configuration and links: only what a reset took away is redone. */
static at_result setup(void)
{
	at_result r;
	if (at_reset_seen) {
		at_reset_seen = false;
		memset(link_open, 0, sizeof link_open);
		board_putc('\r'); /* end any half line the reset left */
		board_putc('\n');
	}
	if (!link_open[0]) {
		if ((r = at_command("AT+SKTCFG=0,0,1,0,0,0,0", CMD_MS)) != AT_OK) return r;
		if ((r = client(0, 1, tcp_port, 0, 1)) != AT_OK) return r;
		link_open[0] = true;
	}
	if (!link_open[1]) {
		if ((r = client(1, 0, udp_port, udp_src, 1)) != AT_OK) return r;
		link_open[1] = true;
	}
	if (!link_open[2]) {
		if ((r = client(2, 1, tcp_port, 0, 0)) != AT_OK) return r;
		link_open[2] = true;
		/* Asked now, read at the end: the peer's bytes wait in the module. */
		if ((r = send_text(2, "TXT 200;")) != AT_OK) return r;
	}
	return AT_OK;
}

static uint32_t get_sum;
static at_result step_get(void)
{
	static const char request[] = "GET 1500 id=a,b\\c;";
	inbox[0].n = 0;
	at_result r = send_text(0, request);
	if (r != AT_OK) return r;
	if ((r = wait_bytes(0, GET_BYTES)) != AT_OK) return r;
	if (memcmp(inbox[0].buf, request, sizeof request - 1) != 0) {
		begin("event: the peer did not echo the request: escaping broken\n"); say();
		return AT_ERROR;
	}
	get_sum = fnv1a(inbox[0].buf, GET_BYTES);
	return AT_OK;
}

static uint8_t payload[PUT_BYTES];
static at_result step_put(void)
{
	for (size_t i = 0; i < PUT_BYTES; i++) payload[i] = (uint8_t)(i * 7 + i / 256);
	inbox[0].n = 0;
	at_result r = send_text(0, "PUT 4096;");
	if (r != AT_OK) return r;
	if ((r = at_send_raw(0, payload, PUT_BYTES, CMD_MS)) != AT_OK) return r;
	/* The peer answers "SUM 4096 <fnv1a hex>;" */
	out_n = 0;
	add("SUM 4096 "); add_x(fnv1a(payload, PUT_BYTES)); add(";");
	size_t n = out_n;
	char expect[32];
	memcpy(expect, out, n);
	out_n = 0;
	if ((r = wait_bytes(0, n)) != AT_OK) return r;
	if (memcmp(inbox[0].buf, expect, n) != 0) {
		begin("event: the peer's checksum differs from ours\n"); say();
		return AT_ERROR;
	}
	return AT_OK;
}

static at_result step_udp(void)
{
	static const char ping[] = "PING 1,2\\3";
	inbox[1].n = 0;
	at_result r = send_text(1, ping);
	if (r != AT_OK) return r;
	if ((r = wait_bytes(1, 5 + sizeof ping - 1)) != AT_OK) return r;
	memcpy(udp_reply, inbox[1].buf, inbox[1].n < sizeof udp_reply - 1 ? inbox[1].n : sizeof udp_reply - 1);
	return memcmp(inbox[1].buf, "PONG PING 1,2\\3", 15) == 0 ? AT_OK : AT_ERROR;
}

static uint8_t txt[TXT_BYTES + 64];
static size_t txt_n;
static int close_codes[2];
static at_result step_read(void)
{
	txt_n = 0;
	close_codes[0] = close_codes[1] = 0;
	for (int i = 0; i < 50 && !close_codes[0]; i++) {
		size_t got = 0;
		at_result r = at_read(2, txt + txt_n, sizeof txt - txt_n, &got, CMD_MS);
		txt_n += got;
		if (r == AT_ERROR) close_codes[0] = at_error; /* the read that meets the end */
		else if (r != AT_OK) return r;
		else if (got == 0) at_poll(50);
	}
	uint8_t scratch[16];
	size_t got = 0;
	at_result r = at_read(2, scratch, sizeof scratch, &got, CMD_MS);
	if (r == AT_ERROR) close_codes[1] = at_error; /* and every read after it */
	else if (r != AT_OK) return r;
	return txt_n == TXT_BYTES && close_codes[0] && close_codes[1] ? AT_OK : AT_ERROR;
}

static const char *names[] = { "", "ERROR", "timeout", "reset (ATCMD READY)", "refused" };

static bool run(const char *name, at_result (*step)(void))
{
	for (int attempt = 1; attempt <= ATTEMPTS; attempt++) {
		uint32_t stuck = at_stats.watermark_timeouts;
		at_result r = setup();
		if (r == AT_OK) r = step();
		if (at_stats.watermark_timeouts != stuck) {
			begin("event: "); add(name); add(": High Watermark and no Low Watermark in 3 s; went on\n"); say();
		}
		if (r == AT_OK) {
			if (attempt > 1) recovered++;
			return true;
		}
		begin("event: "); add(name); add(": "); add(at_last); add(": "); add(names[r]);
		if (r == AT_ERROR) { add(" "); add_u((uint32_t)at_error); }
		add(attempt < ATTEMPTS ? "; again\n" : "; giving up\n");
		say();
		if (r == AT_ERROR) at_poll(200);
	}
	return false;
}

int main(void)
{
	board_init();
	at_init(on_data, on_urc);
	const char *p = board_cmdline(); /* QEMU gives "<kernel file> <-append text>" */
	size_t i = 0;
	while (*p && *p != ' ') p++;
	while (*p == ' ') p++;
	while (*p && *p != ' ' && i < sizeof peer - 1) peer[i++] = *p++;
	tcp_port = parse_uint(&p);
	udp_port = parse_uint(&p);
	udp_src = parse_uint(&p);
	if (!peer[0] || !tcp_port || !udp_port || !udp_src) {
		board_print("fil: usage: -append \"<peer_ip> <tcp_port> <udp_port> <udp_src_port>\"\n");
		return 2;
	}
	bool ready = at_wait_ready(3000);
	at_reset_seen = false;
	begin(ready ? "module: ATCMD READY\n" : "module: no ATCMD READY in 3 s (started earlier?)\n");
	say();

	bool ok = run("get", step_get) && run("put", step_put) && run("udp", step_udp) && run("read", step_read);

	begin("tcp get: bytes="); add_u(GET_BYTES); add(" fnv1a="); add_x(get_sum); add("\n"); say();
	begin("tcp put: bytes="); add_u(PUT_BYTES); add(" fnv1a="); add_x(fnv1a(payload, PUT_BYTES));
	add(" peer=agrees\n"); say();
	begin("udp: reply="); add(udp_reply); add("\n"); say();
	begin("tcp read: bytes="); add_u(txt_n); add(" fnv1a="); add_x(fnv1a(txt, txt_n));
	add(" close="); add_u((uint32_t)close_codes[0]); add(","); add_u((uint32_t)close_codes[1]); add("\n"); say();
	begin("seen: commands="); add_u(at_stats.commands); add(" errors="); add_u(at_stats.errors);
	add(" timeouts="); add_u(at_stats.timeouts); add(" resets="); add_u(at_stats.resets);
	add(" data_lines="); add_u(at_stats.data_lines); add(" other_urcs="); add_u(at_stats.other_urcs);
	add(" high_watermarks="); add_u(at_stats.high_watermarks);
	add(" watermark_timeouts="); add_u(at_stats.watermark_timeouts);
	add(" slow_waits="); add_u(slow_waits); add(" recovered="); add_u(recovered); add("\n"); say();
	begin(ok ? "result: PASS\n" : "result: FAIL\n"); say();
	return ok ? 0 : 1;
}
