/* The runner loop (see golden_runner.h). */
#include "golden_runner.h"

#include <string.h>

#include "runtime.h"

/* Large enough for the exercise's 784-1024-10 model (819 KB as int8). */
#define MODEL_CAPACITY (1024u * 1024u)
#define ROW_CAPACITY 65536u

jmp_buf golden_abort_jump;
volatile bool golden_abort_armed;

/* Two model buffers, used in turn: runtime.h lets a runtime keep reading the
 * model it loaded until the next runtime_init() returns (TFLM's interpreter
 * destructor walks the old model's operators), so the next model must not be
 * read over it. */
static uint8_t s_models[2][MODEL_CAPACITY] __attribute__((aligned(16)));
static int8_t s_input[ROW_CAPACITY];
static int8_t s_output[ROW_CAPACITY];
static char s_line[2 * ROW_CAPACITY + 64];

static bool read_u32(uint32_t *v) {
  uint8_t b[4];
  if (!golden_read(b, 4)) return false;
  *v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
  return true;
}

static size_t put_text(char *p, const char *s) {
  const size_t n = strlen(s);
  memcpy(p, s, n);
  return n;
}

static size_t put_uint(char *p, uint32_t v) {
  char tmp[10];
  size_t n = 0;
  do {
    tmp[n++] = (char)('0' + v % 10u);
    v /= 10u;
  } while (v != 0u);
  for (size_t i = 0; i < n; ++i) p[i] = tmp[n - 1 - i];
  return n;
}

static void write_line(size_t n) {
  s_line[n++] = '\n';
  golden_write(s_line, n);
}

/* runtime_init / runtime_invoke under the abort catcher; GOLDEN_ABORTED if the runtime aborted. */
static int guarded_init(const uint8_t *model, uint32_t len, runtime_info_t *info) {
  if (setjmp(golden_abort_jump) != 0) {
    golden_abort_armed = false;
    return GOLDEN_ABORTED;
  }
  golden_abort_armed = true;
  const int st = (int)runtime_init(model, len, info);
  golden_abort_armed = false;
  return st;
}

static int guarded_invoke(void) {
  if (setjmp(golden_abort_jump) != 0) {
    golden_abort_armed = false;
    return GOLDEN_ABORTED;
  }
  golden_abort_armed = true;
  uint32_t cycles = 0;
  const int st = (int)runtime_invoke(s_input, s_output, &cycles);
  golden_abort_armed = false;
  return st;
}

int golden_run(void) {
  static const char hex[] = "0123456789abcdef";
  char magic[4];
  uint32_t cases = 0;
  if (!golden_read(magic, 4) || memcmp(magic, "TGJ1", 4) != 0 || !read_u32(&cases)) return 1;
  for (uint32_t k = 0; k < cases; ++k) {
    uint32_t model_len = 0, input_len = 0, count = 0;
    uint8_t *model = s_models[k & 1u];
    if (!read_u32(&model_len) || model_len > MODEL_CAPACITY || !golden_read(model, model_len)) return 1;
    if (!read_u32(&input_len) || input_len > ROW_CAPACITY || !read_u32(&count)) return 1;
    runtime_info_t info;
    memset(&info, 0, sizeof info);
    const int init = guarded_init(model, model_len, &info);
    size_t n = put_text(s_line, "case ");
    n += put_uint(s_line + n, k);
    n += put_text(s_line + n, " init ");
    n += put_uint(s_line + n, (uint32_t)init);
    n += put_text(s_line + n, " in ");
    n += put_uint(s_line + n, info.input_bytes);
    n += put_text(s_line + n, " out ");
    n += put_uint(s_line + n, info.output_count);
    write_line(n);
    for (uint32_t i = 0; i < count; ++i) {
      if (!golden_read(s_input, input_len)) return 1;
      int st = init;
      if (init == 0) st = input_len == info.input_bytes ? guarded_invoke() : (int)TML_ERR_SHAPE;
      if (st != 0) {
        n = put_text(s_line, "e ");
        n += put_uint(s_line + n, (uint32_t)st);
      } else {
        n = put_text(s_line, "y ");
        for (uint32_t j = 0; j < info.output_count; ++j) {
          const uint8_t b = (uint8_t)s_output[j];
          s_line[n++] = hex[b >> 4];
          s_line[n++] = hex[b & 15u];
        }
      }
      write_line(n);
    }
  }
  size_t n = put_text(s_line, "done ");
  n += put_uint(s_line + n, cases);
  write_line(n);
  return 0;
}
