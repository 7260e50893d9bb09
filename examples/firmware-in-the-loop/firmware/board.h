/*
 * The board: an ARM MPS2 with the AN385 FPGA image (Cortex-M3), as
 * qemu-system-arm -M mps2-an385 emulates it. UART0 is wired to the module,
 * SysTick counts milliseconds, semihosting prints the report and exits.
 * A real board replaces this file and keeps at_driver.c as it is.
 */
#ifndef BOARD_H
#define BOARD_H

#include <stddef.h>
#include <stdint.h>

/* Sets up the clock and the module's UART (38400 baud). */
void board_init(void);
/* Milliseconds since board_init. */
uint32_t board_ms(void);
/* Sends one byte to the module (waits while the UART is busy). */
void board_putc(uint8_t byte);
/* The next byte from the module, or -1 if none came before board_ms() reaches deadline. */
int board_getc(uint32_t deadline);
/* Prints text on the host's console (semihosting). */
void board_print(const char *text);
/* The command line QEMU was given with -append (semihosting), "" if none. */
const char *board_cmdline(void);
/* Ends the program with an exit status (semihosting). */
void board_exit(int status) __attribute__((noreturn));

#endif
