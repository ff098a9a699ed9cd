/* Board facts for the Arduino Nano 33 BLE Sense (nRF52840: Cortex-M4F at 64 MHz,
 * 1 MB flash, 256 KB RAM), built with arduino-cli for fqbn arduino:mbed_nano:nano33ble.
 * Only hal.cpp reads these; the portable core gets them through hal_board_info(). */
#ifndef TINYML_BOARD_NANO33BLE_H
#define TINYML_BOARD_NANO33BLE_H

#define TML_BOARD_NAME "Arduino Nano 33 BLE Sense"
#define TML_BOARD_CPU_HZ 64000000u
#define TML_BOARD_FLASH_BYTES (1024u * 1024u) /* chip capacity; a sketch may use 983040 (bootloader) */
#define TML_BOARD_RAM_BYTES (256u * 1024u)
#define TML_BOARD_CYCLE_UNIT HAL_CYCLES_CPU   /* DWT CYCCNT, see hal.cpp */

/* USB CDC ignores the rate, but docs/protocol.md fixes 115200 8N1; never 1200, the
 * rate at which the board resets into its bootloader. */
#define TML_BOARD_SERIAL_BAUD 115200

/* hal_serial_write() drops the rest of a frame when USB has taken nothing for
 * this long: the host keeps the port open but has stopped reading. A reading
 * host empties the 64-byte endpoint buffer every USB frame (1 ms). */
#define TML_BOARD_TX_STALL_US 100000u

#endif
