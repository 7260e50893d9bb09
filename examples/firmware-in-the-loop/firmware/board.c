/*
 * MPS2 AN385 support: start-up code, vector table, UART0 with a receive
 * ring filled by its interrupt, SysTick, semihosting.
 */
#include "board.h"

#define REG(addr) (*(volatile uint32_t *)(addr))

/* CMSDK APB UART0 */
#define UART0_DATA REG(0x40004000u)
#define UART0_STATE REG(0x40004004u)
#define UART0_CTRL REG(0x40004008u)
#define UART0_INTCLEAR REG(0x4000400Cu)
#define UART0_BAUDDIV REG(0x40004010u)
#define STATE_TXFULL 1u
#define STATE_RXFULL 2u
#define CTRL_TXEN 1u
#define CTRL_RXEN 2u
#define CTRL_RXIRQ 8u
#define UART0_RX_IRQ 0

/* Cortex-M3 SysTick and NVIC */
#define SYST_CSR REG(0xE000E010u)
#define SYST_RVR REG(0xE000E014u)
#define SYST_CVR REG(0xE000E018u)
#define NVIC_ISER0 REG(0xE000E100u)
#define NVIC_ISPR0 REG(0xE000E200u)

#define SYSCLK_HZ 25000000u
#define BAUD 38400u

/* Bytes from the module wait here until the driver reads them. */
#define RX_RING 4096u
static volatile uint8_t rx_ring[RX_RING];
static volatile uint32_t rx_head, rx_tail; /* head: ISR writes; tail: reader */
static volatile uint32_t ticks;

void UART0_RX_Handler(void)
{
	/* Clear first: a byte that lands while we drain raises it again. */
	UART0_INTCLEAR = 2u;
	while ((UART0_STATE & STATE_RXFULL) && rx_head - rx_tail < RX_RING) {
		rx_ring[rx_head % RX_RING] = (uint8_t)UART0_DATA;
		rx_head++;
	}
	/* Ring full: stop taking bytes; QEMU holds the rest back (flow control). */
	if (rx_head - rx_tail >= RX_RING) UART0_CTRL &= ~CTRL_RXIRQ;
}

void SysTick_Handler(void) { ticks++; }

uint32_t board_ms(void) { return ticks; }

void board_init(void)
{
	SYST_RVR = SYSCLK_HZ / 1000u - 1u;
	SYST_CVR = 0;
	SYST_CSR = 7u; /* processor clock, interrupt, enable */
	UART0_BAUDDIV = SYSCLK_HZ / BAUD;
	UART0_CTRL = CTRL_TXEN | CTRL_RXEN | CTRL_RXIRQ;
	NVIC_ISER0 = 1u << UART0_RX_IRQ;
}

void board_putc(uint8_t byte)
{
	while (UART0_STATE & STATE_TXFULL) {
	}
	UART0_DATA = byte;
}

int board_getc(uint32_t deadline)
{
	while (rx_head == rx_tail) {
		if ((int32_t)(board_ms() - deadline) >= 0) return -1;
		__asm volatile("wfi"); /* sleep until a byte or a tick */
	}
	uint8_t byte = rx_ring[rx_tail % RX_RING];
	rx_tail++;
	if (!(UART0_CTRL & CTRL_RXIRQ)) {
		UART0_CTRL |= CTRL_RXIRQ; /* room again: take what waited */
		NVIC_ISPR0 = 1u << UART0_RX_IRQ;
	}
	return byte;
}

/* Semihosting: operation in r0, argument in r1, result in r0. */
static int semihost(int op, const void *arg)
{
	register int r0 __asm("r0") = op;
	register const void *r1 __asm("r1") = arg;
	__asm volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
	return r0;
}

void board_print(const char *text) { semihost(0x04, text); /* SYS_WRITE0 */ }

const char *board_cmdline(void)
{
	static char line[128];
	struct { char *buffer; int size; } args = { line, (int)sizeof line };
	if (semihost(0x15, &args) != 0) line[0] = 0; /* SYS_GET_CMDLINE */
	return line;
}

void board_exit(int status)
{
	/* SYS_EXIT_EXTENDED: ADP_Stopped_ApplicationExit with the status */
	uint32_t block[2] = { 0x20026u, (uint32_t)status };
	semihost(0x20, block);
	for (;;) {
	}
}

/* Start-up: copy .data, clear .bss, run main. */
extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _estack;
int main(void);

void Reset_Handler(void)
{
	uint32_t *src = &_sidata, *dst = &_sdata;
	while (dst < &_edata) *dst++ = *src++;
	for (dst = &_sbss; dst < &_ebss;) *dst++ = 0;
	board_exit(main());
}

static void Default_Handler(void)
{
	board_print("fil: fault: unexpected exception\n");
	board_exit(3);
}

__attribute__((section(".vectors"), used)) static void (*const vectors[])(void) = {
	(void (*)(void))&_estack,
	Reset_Handler,
	Default_Handler, /* NMI */
	Default_Handler, /* HardFault */
	Default_Handler, /* MemManage */
	Default_Handler, /* BusFault */
	Default_Handler, /* UsageFault */
	0, 0, 0, 0,
	Default_Handler, /* SVCall */
	Default_Handler, /* DebugMon */
	0,
	Default_Handler, /* PendSV */
	SysTick_Handler,
	UART0_RX_Handler, /* IRQ 0: UART0 receive */
};
