/* Firmware entry for mps2-an386: the model comes from the generated
 * model_data.h/.cc of the model being built (build-emulator.ts adds its folder). */
#include "app.h"
#include "hal.h"
#include "model_data.h"

int main(void) {
  hal_init();
  app_init(g_model, g_model_len);
  for (;;) {
    app_poll(); /* returns when no byte is waiting */
    hal_idle();
  }
}
