/* The request loop: reads frames from the host link, answers HELLO with INFO and
 * INFER with RESULT, reports errors with ERROR. Portable: it talks to the board
 * only through hal.h and to the model only through runtime.h. */
#ifndef TINYML_APP_H
#define TINYML_APP_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Loads the model (checking it, planning the arena) and computes its CRC-32.
 * A model that fails to load still lets the app answer HELLO, with the status in
 * INFO, so the host can say what is wrong. Call after hal_init(). */
void app_init(const uint8_t *model, uint32_t model_len);

/* Handles every byte that has arrived; returns when none is waiting. Call it
 * forever (from main's loop or Arduino's loop()). */
void app_poll(void);

#ifdef __cplusplus
}
#endif

#endif
