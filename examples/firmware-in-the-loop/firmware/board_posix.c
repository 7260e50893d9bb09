/*
 * The same board.h on Linux: the module's UART is a serial device or pty
 * (FIL_TTY, e.g. the /dev/pts/N that `atsock emulate --console pty`
 * prints), the peers come from FIL_ARGS, the report goes to stdout.
 * Build: cc -Wall -Wextra -Werror -o fil-native board_posix.c at_driver.c main.c
 */
#define _DEFAULT_SOURCE
#include "board.h"

#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static int fd = -1;
static struct timespec start;

void board_init(void)
{
	const char *path = getenv("FIL_TTY");
	clock_gettime(CLOCK_MONOTONIC, &start);
	fd = path ? open(path, O_RDWR | O_NOCTTY) : -1;
	if (fd < 0) {
		fprintf(stderr, "fil: cannot open FIL_TTY=%s\n", path ? path : "(unset)");
		exit(2);
	}
	struct termios t;
	if (tcgetattr(fd, &t) == 0) {
		cfmakeraw(&t);
		cfsetspeed(&t, B38400);
		tcsetattr(fd, TCSANOW, &t);
	}
}

uint32_t board_ms(void)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint32_t)((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000);
}

void board_putc(uint8_t byte)
{
	while (write(fd, &byte, 1) != 1) {
	}
}

int board_getc(uint32_t deadline)
{
	static uint8_t buf[4096];
	static size_t have, next;
	while (next == have) {
		int32_t left = (int32_t)(deadline - board_ms());
		if (left <= 0) return -1;
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, left) <= 0) continue;
		ssize_t n = read(fd, buf, sizeof buf);
		if (n <= 0) {
			usleep(10000); /* the other end is not there (yet) */
			continue;
		}
		have = (size_t)n;
		next = 0;
	}
	return buf[next++];
}

void board_print(const char *text)
{
	fputs(text, stdout);
	fflush(stdout);
}

const char *board_cmdline(void)
{
	/* main.c skips the first word (QEMU puts the kernel file there). */
	static char line[128];
	const char *args = getenv("FIL_ARGS");
	snprintf(line, sizeof line, "fil %s", args ? args : "");
	return line;
}

void board_exit(int status)
{
	exit(status);
}
