/* Board facts for the host build (gcc on the development machine), used by the
 * C tests: the core runs unchanged, the link is in memory (host_link.h). */
#ifndef TINYML_BOARD_HOST_H
#define TINYML_BOARD_HOST_H

#define TML_BOARD_NAME "host"
#define TML_BOARD_CPU_HZ 1000000000u
#define TML_BOARD_FLASH_BYTES 0u
#define TML_BOARD_RAM_BYTES 0u

#endif
