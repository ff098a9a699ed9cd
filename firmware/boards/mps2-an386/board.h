/* Board facts for QEMU's mps2-an386 (Cortex-M4F), standing in for the
 * nRF52840 (Cortex-M4F, 64 MHz, 1 MB flash, 256 KB RAM). The one place these
 * numbers live; link.ld repeats the memory sizes (the linker cannot include C).
 *
 * Memory map, from QEMU's hw/arm/mps2.c (AN385/AN386/AN500 share it):
 *   0x00000000..0x003fffff  ZBT SSRAM1, 4 MB (code; QEMU loads the ELF here, VTOR = 0)
 *   0x20000000..0x203fffff  ZBT SSRAM2&3, 4 MB (data)
 *   0x21000000..0x21ffffff  PSRAM, 16 MB (unused)
 * We use only the nRF52840's sizes of them: 1 MB at 0x00000000 as "flash" and
 * 256 KB at 0x20000000 as RAM, which are also the nRF52840's own addresses, so a
 * firmware that does not fit the real board does not link for the emulator either. */
#ifndef TINYML_BOARD_MPS2_AN386_H
#define TINYML_BOARD_MPS2_AN386_H

#define TML_BOARD_NAME "mps2-an386 (QEMU)"
#define TML_BOARD_CPU_HZ 64000000u        /* nominal: the nRF52840's clock, for converting cycles to time */
#define TML_BOARD_FLASH_BYTES (1024u * 1024u)
#define TML_BOARD_RAM_BYTES (256u * 1024u)

/* CMSDK APB UART0 (QEMU wires it to the first -serial / chardev). */
#define TML_BOARD_UART0_BASE 0x40004000u
#define TML_BOARD_UART_BAUDDIV 16u        /* minimum legal value; QEMU ignores the rate */
#define TML_BOARD_UART0_RX_IRQ 0u         /* hw/arm/mps2.c: UART n's RX is IRQ 2n, its TX 2n+1 */

/* SysTick runs from the 25 MHz system clock; under -icount shift=0 one
 * instruction takes 1 ns of virtual time, so one tick is 40 instructions. */
#define TML_BOARD_SYSCLK_HZ 25000000u
#define TML_BOARD_INSTRUCTIONS_PER_TICK 40u
/* hal_serial_write() gives up on a byte the UART has not taken after this many
 * instructions (2 s at the nominal clock): QEMU keeps TXFULL set while the pty's
 * reader has stopped reading. */
#define TML_BOARD_TX_STALL_CYCLES (2u * TML_BOARD_CPU_HZ)

#endif
