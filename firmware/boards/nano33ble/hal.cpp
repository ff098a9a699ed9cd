/* hal.h for the Arduino Nano 33 BLE Sense on the Arduino mbed core
 * (arduino:mbed_nano). The host link is `Serial`, which on this board is the USB
 * CDC port (the variant defines SERIAL_CDC); the cycle counter is the Cortex-M4's
 * DWT CYCCNT, counting CPU cycles at 64 MHz. */
#include <Arduino.h>
/* From the mbed core's include path (targets/.../TARGET_MCU_NRF52840/device): pulls
 * in nrf.h and CMSIS core_cm4.h, which define CoreDebug, DWT and their bit masks. */
#include "cmsis.h"
/* _SerialUSB, the USBSerial behind Serial on this board (SERIAL_CDC). */
#include "USB/PluggableUSBSerial.h"

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

/* Serial.write() on this core (UART::write -> USBSerial::write -> USBCDC::send)
 * waits until the host has taken every packet, forever if the host keeps the
 * port open and stops reading. Serial.availableForWrite() cannot help: neither
 * arduino::UART nor USBSerial overrides it, so it is Print's default, 0. What
 * the core offers is USBCDC::send_nb(): it copies what fits in the endpoint's
 * 64-byte buffer when no transfer is in progress, else nothing, and never waits.
 * So: take what it accepts, and drop the rest (counted, reported in INFO) when
 * no host is attached or nothing has been accepted for TML_BOARD_TX_STALL_US. */
static uint32_t s_dropped;

void hal_serial_write(const uint8_t *data, size_t n) {
  uint32_t last_progress = micros();
  while (n > 0) {
    if (!_SerialUSB.connected()) break;
    uint32_t taken = 0;
    _SerialUSB.send_nb(const_cast<uint8_t *>(data), static_cast<uint32_t>(n), &taken, true);
    if (taken > 0) {
      data += taken;
      n -= taken;
      last_progress = micros();
    } else if (micros() - last_progress > TML_BOARD_TX_STALL_US) {
      break;
    } else {
      yield(); /* lets the mbed RTOS run the USB stack's other threads */
    }
  }
  s_dropped += static_cast<uint32_t>(n);
}

uint32_t hal_serial_dropped(void) { return s_dropped; }

int hal_serial_read_byte(void) {
  if (Serial.available() <= 0) return -1;
  return Serial.read();
}

/* A no-op: on the board nothing competes with the CPU for the link (Serial is
 * USB CDC, serviced by mbed's interrupts and threads), so polling costs no
 * throughput; a WFI here would first have to be checked on hardware. */
void hal_idle(void) {}

uint32_t hal_cycles_now(void) { return DWT->CYCCNT; }
