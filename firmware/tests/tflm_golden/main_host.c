/* Host side of the golden runner: the job is a file, the output goes to
 * stdout. Usage: golden_runner <job.bin> */
#include <stdio.h>

#include "golden_runner.h"
#include "hal.h"

static FILE *s_job;

bool golden_read(void *buf, size_t n) { return fread(buf, 1, n, s_job) == n; }

void golden_write(const char *text, size_t n) { fwrite(text, 1, n, stdout); }

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: golden_runner <job.bin>\n");
    return 2;
  }
  s_job = fopen(argv[1], "rb");
  if (s_job == NULL) {
    perror(argv[1]);
    return 2;
  }
  hal_init();
  const int status = golden_run();
  fclose(s_job);
  if (status != 0) fprintf(stderr, "golden_runner: malformed job %s\n", argv[1]);
  return status;
}
