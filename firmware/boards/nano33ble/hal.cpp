/* hal.h for the Arduino Nano 33 BLE Sense on the Arduino mbed core
 * (arduino:mbed_nano). The host link is `Serial`, which on this board is the USB
 * CDC port (the variant defines SERIAL_CDC); the cycle counter is the Cortex-M4's
 * DWT CYCCNT, counting CPU cycles at 64 MHz. */
#include <Arduino.h>
/* From the mbed core's include path (targets/.../TARGET_MCU_NRF52840/device): pulls
 * in nrf.h and CMSIS core_cm4.h, which define CoreDebug, DWT and their bit masks. */
#include "cmsis.h"

#include "board.h"
#include "hal.h"

static const hal_board_info_t k_board_info = {
    TML_BOARD_NAME, TML_BOARD_CPU_HZ, TML_BOARD_FLASH_BYTES, TML_BOARD_RAM_BYTES, TML_BOARD_CYCLE_UNIT,
};

void hal_init(void) {
  /* The core's main() has already started USB CDC; begin() again is harmless. No
   * wait for the host: nothing is sent unprompted (docs/protocol.md). */
  Serial.begin(TML_BOARD_SERIAL_BAUD);

  /* DWT is powered only while trace is enabled: DEMCR.TRCENA (0xE000EDFC bit 24)
   * first, then zero CYCCNT (0xE0001004) and set DWT_CTRL.CYCCNTENA (0xE0001000 bit 0). */
  CoreDebug->DEMCR |= CoreDebug_DEMCR_TRCENA_Msk;
  DWT->CYCCNT = 0;
  DWT->CTRL |= DWT_CTRL_CYCCNTENA_Msk;
}

const hal_board_info_t *hal_board_info(void) { return &k_board_info; }

void hal_serial_write(const uint8_t *data, size_t n) {
  while (n > 0) {
    size_t written = Serial.write(data, n);
    if (written == 0) {
      /* USB CDC accepts nothing while no host has the port open; the protocol expects
       * such output to be lost, so drop it rather than spin forever. */
      if (!Serial) return;
      continue;
    }
    data += written;
    n -= written;
  }
}

int hal_serial_read_byte(void) {
  if (Serial.available() <= 0) return -1;
  return Serial.read();
}

uint32_t hal_cycles_now(void) { return DWT->CYCCNT; }
