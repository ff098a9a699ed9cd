/* A batch runner for golden data: reads a job (models and inputs), runs each
 * model on whichever runtime.h implementation is linked (our native runtime,
 * or TensorFlow Lite Micro), and writes every output as text. The same runner
 * is built for the host (stdio) and for QEMU mps2-an386 (semihosting), so one
 * build serves every case. Used by scripts/tflm-golden*.ts.
 *
 * Job (little-endian): "TGJ1", u32 case count, then per case
 *   u32 model_len, model bytes, u32 input_len, u32 input_count, inputs.
 * Output lines:
 *   case <index> init <status> in <input_bytes> out <output_count>
 *   y <hex bytes of one output>        (one per input, when init was TML_OK)
 *   e <status>                         (one per input otherwise, or a failed invoke)
 *   done <case count>
 * A status of 255 (GOLDEN_ABORTED) means the runtime called abort(), as TFLM's
 * TFLITE_CHECK does on parameters it refuses. */
#ifndef TINYML_TESTS_GOLDEN_RUNNER_H
#define TINYML_TESTS_GOLDEN_RUNNER_H

#include <setjmp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GOLDEN_ABORTED 255

/* Platform side: exactly `n` bytes of the job, false at its end or on error. */
bool golden_read(void *buf, size_t n);
/* Platform side: text out. */
void golden_write(const char *text, size_t n);

/* Where abort() returns to while a runtime call is in flight (platforms that
 * can override abort() jump here; others never do). */
extern jmp_buf golden_abort_jump;
extern volatile bool golden_abort_armed;

/* Runs the whole job; 0 when it was read to its end, 1 on a malformed job. */
int golden_run(void);

#endif
