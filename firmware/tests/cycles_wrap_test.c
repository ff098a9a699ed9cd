/* hal_cycles_now() across SysTick wraps on the emulated Cortex-M4 (mps2-an386
 * under QEMU -icount shift=0). Built by test/emulator-cycles.test.ts with the
 * board's hal.c and TML_SYSTICK_BITS=10, so a wrap comes every 2^10 ticks
 * (40,960 instructions) instead of every 2^24: the same code crosses thousands
 * of wraps in a second. Brackets a loop of a fixed instruction count again and
 * again; the loop length varies a little from one bracket to the next, so the
 * readings fall at every phase of a wrap, including the tick that follows it.
 * A bracket reads 2 * spin instructions plus the call's own few dozen, give or
 * take a tick; one wrap off would be 40,960 more or less. Prints
 * "bracket <k> <spin> <instructions>" for the first 10 brackets whose overhead
 * (instructions - 2 * spin) is over OFF, then
 * "summary <brackets> <wraps> <off> <min> <max>" with the min and max overhead
 * of the others, then "done". */
#include <stdio.h>
#include <string.h>

#include "board.h"
#include "hal.h"

#define BRACKETS 100000u
#define SPIN_BASE 400u
/* Far above any overhead, far below a wrap. */
#define OFF 1000

static void print(const char *text) { hal_serial_write((const uint8_t *)text, strlen(text)); }

/* 2 * n instructions (SUBS, BNE) plus the call. */
__attribute__((noinline)) static void spin(uint32_t n) {
  __asm volatile("1: subs %0, %0, #1\n bne 1b" : "+r"(n)::"cc");
}

int main(void) {
  hal_init();
  char line[96];
  const uint32_t t0 = hal_cycles_now();
  int32_t lo = INT32_MAX, hi = INT32_MIN;
  uint32_t off = 0;
  for (uint32_t k = 0; k < BRACKETS; k++) {
    const uint32_t n = SPIN_BASE + (k % 13u);
    const uint32_t a = hal_cycles_now();
    spin(n);
    const uint32_t b = hal_cycles_now();
    /* Signed: a reading is whole ticks, so this can be below zero by under a tick. */
    const int32_t over = (int32_t)(b - a - 2u * n);
    if (over > OFF || over < -OFF) {
      if (++off <= 10u) {
        snprintf(line, sizeof line, "bracket %lu %lu %lu\n", (unsigned long)k, (unsigned long)n, (unsigned long)(b - a));
        print(line);
      }
    } else {
      if (over < lo) lo = over;
      if (over > hi) hi = over;
    }
  }
  const uint32_t wraps = (hal_cycles_now() - t0) / (TML_BOARD_INSTRUCTIONS_PER_TICK << TML_SYSTICK_BITS);
  snprintf(line, sizeof line, "summary %lu %lu %lu %ld %ld\ndone\n", (unsigned long)BRACKETS, (unsigned long)wraps,
           (unsigned long)off, (long)lo, (long)hi);
  print(line);
  for (;;) {
  }
}
