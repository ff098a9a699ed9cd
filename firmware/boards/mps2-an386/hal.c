/* hal.h for QEMU mps2-an386: CMSDK UART0 for the host link, SysTick for the
 * cycle counter (emulated instructions under -icount shift=0). */
#include "hal.h"

#include "board.h"

#define REG32(addr) (*(volatile uint32_t *)(addr))

#define UART_DATA REG32(TML_BOARD_UART0_BASE + 0x00u)
#define UART_STATE REG32(TML_BOARD_UART0_BASE + 0x04u)
#define UART_CTRL REG32(TML_BOARD_UART0_BASE + 0x08u)
#define UART_INTSTATUS REG32(TML_BOARD_UART0_BASE + 0x0Cu)
#define UART_BAUDDIV REG32(TML_BOARD_UART0_BASE + 0x10u)
#define UART_STATE_TX_FULL 0x1u
#define UART_STATE_RX_FULL 0x2u
#define UART_CTRL_TX_EN 0x1u
#define UART_CTRL_RX_EN 0x2u
#define UART_CTRL_RX_INTEN 0x8u
#define UART_INTSTATUS_RX 0x2u

#define NVIC_ISER0 REG32(0xE000E100u)
#define NVIC_ICPR0 REG32(0xE000E280u)

#define SYST_CSR REG32(0xE000E010u)
#define SYST_RVR REG32(0xE000E014u)
#define SYST_CVR REG32(0xE000E018u)
#define SYST_CSR_ENABLE 0x1u
#define SYST_CSR_TICKINT 0x2u
#define SYST_CSR_CLKSOURCE_CPU 0x4u
#define SCB_ICSR REG32(0xE000ED04u)
#define SCB_ICSR_PENDSTSET (1u << 26)
/* Full 24 bits: one wrap per 2^24 ticks. firmware/tests/cycles_wrap_test.c
 * builds with fewer bits, to cross thousands of wraps in a second. */
#ifndef TML_SYSTICK_BITS
#define TML_SYSTICK_BITS 24u
#endif
#define SYSTICK_RELOAD ((1u << TML_SYSTICK_BITS) - 1u)

/* SysTick wraps since hal_init; incremented by SysTick_Handler. */
static volatile uint32_t s_wraps;
/* Bytes hal_serial_write() gave up on. */
static uint32_t s_dropped;

static const hal_board_info_t s_board = {
    .name = TML_BOARD_NAME,
    .cpu_hz = TML_BOARD_CPU_HZ,
    .flash_bytes = TML_BOARD_FLASH_BYTES,
    .ram_bytes = TML_BOARD_RAM_BYTES,
    .cycle_unit = HAL_CYCLES_INSTRUCTIONS,
};

void SysTick_Handler(void) { s_wraps = s_wraps + 1u; }

void hal_init(void) {
  UART_BAUDDIV = TML_BOARD_UART_BAUDDIV;
  UART_CTRL = UART_CTRL_TX_EN | UART_CTRL_RX_EN;
  s_wraps = 0;
  s_dropped = 0;
  SYST_RVR = SYSTICK_RELOAD;
  SYST_CVR = 0; /* any write clears it; counting starts from the reload value */
  SYST_CSR = SYST_CSR_CLKSOURCE_CPU | SYST_CSR_TICKINT | SYST_CSR_ENABLE;
  /* Enabled in the NVIC but raised by the UART only inside hal_idle(), and
   * then only with PRIMASK set: it wakes WFI and is never taken (no handler). */
  NVIC_ISER0 = 1u << TML_BOARD_UART0_RX_IRQ;
}

const hal_board_info_t *hal_board_info(void) { return &s_board; }

/* QEMU drops what it cannot hand to a pty nobody has open, but holds TXFULL while
 * an open pty's reader does not read: then the rest of the frame is dropped after
 * TML_BOARD_TX_STALL_CYCLES, and the host resynchronizes at the next 0x00. */
void hal_serial_write(const uint8_t *data, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if ((UART_STATE & UART_STATE_TX_FULL) != 0u) {
      const uint32_t start = hal_cycles_now();
      while ((UART_STATE & UART_STATE_TX_FULL) != 0u) {
        if (hal_cycles_now() - start > TML_BOARD_TX_STALL_CYCLES) {
          s_dropped += (uint32_t)(n - i);
          return;
        }
      }
    }
    UART_DATA = data[i];
  }
}

uint32_t hal_serial_dropped(void) { return s_dropped; }

int hal_serial_read_byte(void) {
  if ((UART_STATE & UART_STATE_RX_FULL) == 0u) return -1;
  return (int)(UART_DATA & 0xFFu);
}

/* Sleeps in WFI until the UART holds a byte (or SysTick wraps), so QEMU's vCPU
 * thread stops polling UART_STATE and its main loop, which moves host bytes into
 * the UART one at a time, gets the CPU. PRIMASK stays set throughout: WFI wakes
 * on a pending interrupt even when PRIMASK masks it, and the RX interrupt is
 * cleared before PRIMASK is restored, so no handler ever runs for it (and none
 * runs during an inference: latency counts stay exact). QEMU must run with
 * -icount sleep=on (src/device/qemu.ts): with sleep=off it jumps virtual time
 * to the next SysTick wrap instead of sleeping, and wakes the vCPU at once. */
void hal_idle(void) {
  __asm volatile("cpsid i" ::: "memory");
  UART_CTRL = UART_CTRL_TX_EN | UART_CTRL_RX_EN | UART_CTRL_RX_INTEN;
  if ((UART_STATE & UART_STATE_RX_FULL) == 0u) __asm volatile("wfi" ::: "memory");
  UART_CTRL = UART_CTRL_TX_EN | UART_CTRL_RX_EN;
  UART_INTSTATUS = UART_INTSTATUS_RX; /* write-one-to-clear; lowers the IRQ line */
  NVIC_ICPR0 = 1u << TML_BOARD_UART0_RX_IRQ;
  __asm volatile("cpsie i" ::: "memory");
}

/* ticks = wraps * 2^24 + ticks into the current period, read with interrupts
 * masked. SysTick (QEMU's as the Arm ARM's) counts reload, ..., 1, 0: the wrap
 * (exception pending, COUNTFLAG) happens as it reaches 0, and it reloads only a
 * tick later. So CVR 0 is the first tick of a period whose wrap is already
 * counted (by the handler, or below when still pending), or the first tick
 * after hal_init() cleared CVR; ticks into the period are (2^24 - CVR) mod
 * 2^24. Taking reload - CVR read that tick as the last of the previous period,
 * one wrap too high.
 * A wrap pending (ICSR.PENDSTSET) but not yet counted by the handler is
 * counted here, with CVR re-read, which is then surely past the wrap.
 * The result, ticks * 40 in uint32, wraps every 2^32 instructions (4.3 s of
 * virtual time), so differences are exact across one wrap as hal.h promises. */
uint32_t hal_cycles_now(void) {
  uint32_t primask;
  __asm volatile("mrs %0, primask\n cpsid i" : "=r"(primask)::"memory");
  uint32_t wraps = s_wraps;
  uint32_t cvr = SYST_CVR;
  if ((SCB_ICSR & SCB_ICSR_PENDSTSET) != 0u) {
    cvr = SYST_CVR;
    wraps += 1u;
  }
  __asm volatile("msr primask, %0" ::"r"(primask) : "memory");
  const uint32_t ticks = (wraps << TML_SYSTICK_BITS) + ((0u - cvr) & SYSTICK_RELOAD);
  return ticks * TML_BOARD_INSTRUCTIONS_PER_TICK;
}
