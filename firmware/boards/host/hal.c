/* hal.h for the host: an in-memory link (host_link.h) and a counter that
 * steps by a fixed amount, so the portable core runs under gcc in tests. */
#include <string.h>

#include "board.h"
#include "hal.h"
#include "host_link.h"

#define QUEUE_BYTES 65536u

static uint8_t s_rx[QUEUE_BYTES];
static size_t s_rx_head, s_rx_len;
static uint8_t s_tx[QUEUE_BYTES];
static size_t s_tx_len;
static uint32_t s_cycles, s_cycle_step = 1000u;
static uint32_t s_dropped;
static size_t s_tx_room = QUEUE_BYTES; /* host_link_set_tx_room(): a host that stops reading */

static const hal_board_info_t s_board = {
    .name = TML_BOARD_NAME,
    .cpu_hz = TML_BOARD_CPU_HZ,
    .flash_bytes = TML_BOARD_FLASH_BYTES,
    .ram_bytes = TML_BOARD_RAM_BYTES,
    .cycle_unit = HAL_CYCLES_CPU,
};

void hal_init(void) {
  s_rx_head = s_rx_len = s_tx_len = 0;
  s_cycles = 0;
  s_dropped = 0;
  s_tx_room = QUEUE_BYTES;
}

const hal_board_info_t *hal_board_info(void) { return &s_board; }

void hal_serial_write(const uint8_t *data, size_t n) {
  const size_t room = s_tx_room - (s_tx_len < s_tx_room ? s_tx_len : s_tx_room);
  const size_t take = n < room ? n : room;
  memcpy(s_tx + s_tx_len, data, take);
  s_tx_len += take;
  s_dropped += (uint32_t)(n - take);
}

uint32_t hal_serial_dropped(void) { return s_dropped; }

int hal_serial_read_byte(void) {
  if (s_rx_len == 0) return -1;
  const uint8_t b = s_rx[s_rx_head];
  s_rx_head = (s_rx_head + 1u) % QUEUE_BYTES;
  s_rx_len--;
  return b;
}

/* Nothing to wait for: the test feeds the queue before it calls app_poll(). */
void hal_idle(void) {}

uint32_t hal_cycles_now(void) { return s_cycles += s_cycle_step; }

int host_link_feed(const uint8_t *data, size_t n) {
  if (n > QUEUE_BYTES - s_rx_len) return 0;
  for (size_t i = 0; i < n; ++i) s_rx[(s_rx_head + s_rx_len + i) % QUEUE_BYTES] = data[i];
  s_rx_len += n;
  return 1;
}

size_t host_link_take(uint8_t *out, size_t cap) {
  const size_t n = s_tx_len < cap ? s_tx_len : cap;
  memcpy(out, s_tx, n);
  memmove(s_tx, s_tx + n, s_tx_len - n);
  s_tx_len -= n;
  return n;
}

void host_link_set_cycle_step(uint32_t step) { s_cycle_step = step; }

void host_link_set_tx_room(size_t bytes) { s_tx_room = bytes < QUEUE_BYTES ? bytes : QUEUE_BYTES; }
