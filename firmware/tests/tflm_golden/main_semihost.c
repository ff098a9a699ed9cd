/* QEMU mps2-an386 side of the golden runner: ARM semihosting (QEMU
 * -semihosting-config enable=on,target=native,arg=<elf>,arg=<job.bin>) reads
 * the job file named by the last argument and writes the output to QEMU's
 * stdout; the exit code is the runner's. abort() (TFLM's TFLITE_CHECK) is
 * caught and reported as GOLDEN_ABORTED instead of hanging the core. */
#include <string.h>

#include "golden_runner.h"
#include "hal.h"

enum {
  SYS_OPEN = 0x01,
  SYS_WRITE = 0x05,
  SYS_READ = 0x06,
  SYS_GET_CMDLINE = 0x15,
  SYS_EXIT_EXTENDED = 0x20,
};
#define ADP_STOPPED_APPLICATION_EXIT 0x20026u

static int semihost(int op, void *args) {
  register int r0 __asm("r0") = op;
  register void *r1 __asm("r1") = args;
  __asm volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
  return r0;
}

static int s_job = -1, s_out = -1;

bool golden_read(void *buf, size_t n) {
  uint8_t *p = (uint8_t *)buf;
  while (n > 0) {
    /* Chunks keep each host call short; SYS_READ returns the bytes NOT read. */
    const size_t chunk = n > 65536u ? 65536u : n;
    uint32_t args[3] = {(uint32_t)s_job, (uint32_t)(uintptr_t)p, (uint32_t)chunk};
    const int left = semihost(SYS_READ, args);
    if (left < 0 || (size_t)left >= chunk) return false;
    const size_t got = chunk - (size_t)left;
    p += got;
    n -= got;
  }
  return true;
}

void golden_write(const char *text, size_t n) {
  uint32_t args[3] = {(uint32_t)s_out, (uint32_t)(uintptr_t)text, (uint32_t)n};
  (void)semihost(SYS_WRITE, args);
}

__attribute__((noreturn)) static void exit_with(int code) {
  uint32_t args[2] = {ADP_STOPPED_APPLICATION_EXIT, (uint32_t)code};
  (void)semihost(SYS_EXIT_EXTENDED, args);
  for (;;) {
  }
}

void abort(void) {
  if (golden_abort_armed) longjmp(golden_abort_jump, 1);
  static const char msg[] = "golden_runner: abort() outside a runtime call\n";
  golden_write(msg, sizeof msg - 1);
  exit_with(3);
}

/* A fault would otherwise park the core in startup.c's Default_Handler and
 * leave QEMU running until its timeout: report it and stop. */
static void fault(void) {
  static const char msg[] = "golden_runner: fault\n";
  golden_write(msg, sizeof msg - 1);
  exit_with(4);
}
void HardFault_Handler(void) { fault(); }
void MemManage_Handler(void) { fault(); }
void BusFault_Handler(void) { fault(); }
void UsageFault_Handler(void) { fault(); }

static int open_file(const char *name, uint32_t mode) {
  uint32_t args[3] = {(uint32_t)(uintptr_t)name, mode, (uint32_t)strlen(name)};
  return semihost(SYS_OPEN, args);
}

int main(void) {
  static char cmdline[1024];
  uint32_t args[2] = {(uint32_t)(uintptr_t)cmdline, sizeof cmdline};
  s_out = open_file(":tt", 4u); /* mode 4: "w", i.e. stdout */
  if (semihost(SYS_GET_CMDLINE, args) != 0) exit_with(2);
  const char *path = strrchr(cmdline, ' ');
  path = path != NULL ? path + 1 : cmdline;
  s_job = open_file(path, 1u); /* mode 1: "rb" */
  if (s_job < 0) {
    static const char msg[] = "golden_runner: cannot open the job file\n";
    golden_write(msg, sizeof msg - 1);
    exit_with(2);
  }
  hal_init();
  exit_with(golden_run());
  return 0;
}
