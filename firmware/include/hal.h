/* The hardware layer: everything the portable core needs from a board.
 * Declared once here; one implementation per board in boards/<board>/ (the
 * build picks the folder). Board facts (clock, memory sizes, name) live in that
 * folder's board.h, never in the core. */
#ifndef TINYML_HAL_H
#define TINYML_HAL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What hal_cycles_now() counts. */
typedef enum {
  HAL_CYCLES_CPU = 0,         /* real CPU cycles (DWT CYCCNT) */
  HAL_CYCLES_INSTRUCTIONS = 1 /* emulated instructions (QEMU -icount shift=0) */
} hal_cycle_unit_t;

typedef struct {
  const char *name;          /* e.g. "mps2-an386 (QEMU, stands in for nRF52840)" */
  uint32_t cpu_hz;           /* nominal CPU clock of the board stood in for, for converting cycles to time */
  uint32_t flash_bytes;      /* capacity, for reporting */
  uint32_t ram_bytes;
  hal_cycle_unit_t cycle_unit;
} hal_board_info_t;

/* Clocks, UART and cycle counter ready to use. Called once, first. */
void hal_init(void);

/* Board facts; the pointer stays valid forever. */
const hal_board_info_t *hal_board_info(void);

/* Queues n bytes for the host link. Never waits long for a host that does not
 * read: what the link cannot take within a short, board-defined time (or at all,
 * with no host attached) is dropped and counted. The protocol survives a drop
 * (the host resynchronizes at the next 0x00 and resends what it misses). */
void hal_serial_write(const uint8_t *data, size_t n);

/* Bytes hal_serial_write() has dropped since hal_init(); reported in INFO. */
uint32_t hal_serial_dropped(void);

/* The next byte from the host link, or -1 when none has arrived yet. Never blocks. */
int hal_serial_read_byte(void);

/* Waits, without burning the CPU, until a byte from the host link may have
 * arrived; returns at once when one is waiting, and may return early (any
 * interrupt). A board's main loop calls it each time app_poll() returns (all
 * input handled), so never during an inference. */
void hal_idle(void);

/* A free-running 32-bit counter in hal_board_info()->cycle_unit units. Differences
 * of two readings are exact across one wrap (unsigned subtraction). */
uint32_t hal_cycles_now(void);

#ifdef __cplusplus
}
#endif

#endif
