/* The host board's in-memory serial link, for tests: bytes fed here are what
 * hal_serial_read_byte() returns; what the core writes is collected. */
#ifndef TINYML_HOST_LINK_H
#define TINYML_HOST_LINK_H

#include <stddef.h>
#include <stdint.h>

/* Queues n bytes for the device to read (up to 64 KiB pending; returns 0 when full). */
int host_link_feed(const uint8_t *data, size_t n);

/* Moves up to cap written bytes into out and returns how many. */
size_t host_link_take(uint8_t *out, size_t cap);

/* hal_cycles_now() advances by this much on every call (default 1000), so
 * RESULT's cycle field is predictable in tests. */
void host_link_set_cycle_step(uint32_t step);

/* Caps the bytes written and not yet taken (default and most 64 KiB): a host
 * that stops reading. Beyond it hal_serial_write() drops and counts. */
void host_link_set_tx_room(size_t bytes);

#endif
