/* Reader for the golden vector files of scripts/golden-vectors.ts (format in
 * that script's header): whitespace-separated tokens, `#` comment lines. */
#ifndef TINYML_TESTS_VECTORS_H
#define TINYML_TESTS_VECTORS_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int vec_failures;

#define CHECK(cond, ...)                                     \
  do {                                                       \
    if (!(cond)) {                                           \
      vec_failures++;                                        \
      fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);   \
      fprintf(stderr, __VA_ARGS__);                          \
      fprintf(stderr, "\n");                                 \
    }                                                        \
  } while (0)

/* Next token into buf (skipping # lines); 0 at end of file. */
static inline int vec_token(FILE *f, char *buf, size_t cap) {
  int c;
  for (;;) {
    c = fgetc(f);
    if (c == EOF) return 0;
    if (c == '#') {
      while (c != '\n' && c != EOF) c = fgetc(f);
      continue;
    }
    if (c != ' ' && c != '\n' && c != '\r' && c != '\t') break;
  }
  size_t n = 0;
  while (c != EOF && c != ' ' && c != '\n' && c != '\r' && c != '\t') {
    if (n + 1 < cap) buf[n++] = (char)c;
    c = fgetc(f);
  }
  buf[n] = 0;
  return 1;
}

static inline long long vec_int(FILE *f) {
  char buf[64];
  if (!vec_token(f, buf, sizeof buf)) {
    fprintf(stderr, "vectors: unexpected end of file\n");
    exit(2);
  }
  char *end = NULL;
  const long long v = strtoll(buf, &end, 10);
  if (end == buf || *end != 0) {
    fprintf(stderr, "vectors: '%s' is not an integer\n", buf);
    exit(2);
  }
  return v;
}

static inline float vec_f32(FILE *f) {
  const uint32_t bits = (uint32_t)vec_int(f);
  float x;
  memcpy(&x, &bits, sizeof x);
  return x;
}

static inline void *vec_alloc(size_t n) {
  void *p = calloc(n > 0 ? n : 1, 1);
  if (p == NULL) {
    fprintf(stderr, "out of memory\n");
    exit(2);
  }
  return p;
}

static inline int8_t *vec_i8s(FILE *f, size_t n) {
  int8_t *p = (int8_t *)vec_alloc(n);
  for (size_t i = 0; i < n; ++i) p[i] = (int8_t)vec_int(f);
  return p;
}

static inline uint8_t *vec_u8s(FILE *f, size_t n) {
  uint8_t *p = (uint8_t *)vec_alloc(n);
  for (size_t i = 0; i < n; ++i) p[i] = (uint8_t)vec_int(f);
  return p;
}

static inline int32_t *vec_i32s(FILE *f, size_t n) {
  int32_t *p = (int32_t *)vec_alloc(4 * n);
  for (size_t i = 0; i < n; ++i) p[i] = (int32_t)vec_int(f);
  return p;
}

/* First index where a and b differ, or -1. */
static inline long vec_diff(const int8_t *a, const int8_t *b, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (a[i] != b[i]) return (long)i;
  }
  return -1;
}

static inline FILE *vec_open(const char *path) {
  FILE *f = fopen(path, "r");
  if (f == NULL) {
    fprintf(stderr, "cannot open %s\n", path);
    exit(2);
  }
  return f;
}

/* One kind of record in a vector file and the function that reads and checks it. */
typedef struct {
  const char *kind;
  void (*read)(FILE *f);
} vec_record_t;

/* Hands each record of the file to the reader for its kind, until the `end`
 * record. Returns 2 (after saying so) for an unknown kind, else 0; a file
 * without its end record counts as a failure (it was cut short). */
static inline int vec_read_all(const char *path, const vec_record_t *records, size_t count) {
  FILE *f = vec_open(path);
  char kind[32];
  int ended = 0;
  while (vec_token(f, kind, sizeof kind)) {
    if (strcmp(kind, "end") == 0) {
      ended = 1;
      break;
    }
    size_t i = 0;
    while (i < count && strcmp(kind, records[i].kind) != 0) i++;
    if (i == count) {
      fprintf(stderr, "vectors: unknown record '%s'\n", kind);
      fclose(f);
      return 2;
    }
    records[i].read(f);
  }
  fclose(f);
  CHECK(ended, "vectors: no end record (truncated file?)");
  return 0;
}

#endif
