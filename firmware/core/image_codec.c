/* image_codec.h: the input encodings a device understands. COMPACT follows
 * docs/image-encoding.md; src/protocol/image-codec.ts is its encoder and the
 * oracle this decoder is tested against. */
#include "image_codec.h"

#include <string.h>

enum {
  QMAX = 16,    /* this many zeros before the 1: escape, 8 raw bits follow */
  CONTEXTS = 8, /* 7 gradient contexts, then the run-interruption one */
  INTERRUPT = 7,
  A_INIT = 16,
  N_RESET = 32,
  K_MAX = 7,
};

/* JPEG-LS's run-length table J[] (ITU-T T.87, A.7.1.2), 0 0 0 0 1 1 1 1 ...
 * 7 7 8 9 ... 15: a run step is 2^J[index]. */
static unsigned run_j(unsigned index) {
  return index < 16 ? index >> 2 : index < 24 ? (index - 8) >> 1 : index - 16;
}

/* The stream's bits, most significant first, through a 32-bit window: after
 * refill() it holds at least 25 unread bits, enough for one code. Past the end
 * it is fed zero bytes, counted in past_end; zeros end no code, so a stream cut
 * short fails within a code or two, and the final check refuses it anyway. */
typedef struct {
  const uint8_t *next, *end;
  uint32_t window; /* unread bits from the top, `have` of them; zeros below */
  unsigned have;
  size_t past_end;
} bit_reader;

static void refill(bit_reader *r) {
  while (r->have <= 24u) {
    uint32_t byte = 0;
    if (r->next < r->end) {
      byte = *r->next++;
    } else {
      r->past_end++;
    }
    r->window |= byte << (24u - r->have);
    r->have += 8u;
  }
}

/* The next `count` (0..25) bits; the caller has refilled. */
static unsigned take(bit_reader *r, unsigned count) {
  const unsigned v = (unsigned)((r->window >> 1) >> (31u - count));
  r->window <<= count;
  r->have -= count;
  return v;
}

/* Undoes the encoder's fold of x - p into 0..255 (both signs alternate while
 * both are possible, then the one sign left counts on). */
static int unfold(int f, int p) {
  const int m = p < 255 - p ? p : 255 - p;
  if (f <= 2 * m) return (f & 1) ? p - ((f + 1) >> 1) : p + (f >> 1);
  return p == m ? p + (f - m) : p - (f - m);
}

static int decode_compact(const uint8_t *src, size_t n, int8_t *dst, size_t len) {
  if (n < 1) return -1;
  const size_t width = src[0];
  bit_reader r = {src + 1, src + n, 0, 0, 0};
  /* Per context: sum of folded errors (A) and their count (N), halved together. */
  struct {
    unsigned a, n;
  } st[CONTEXTS];
  for (unsigned c = 0; c < CONTEXTS; c++) {
    st[c].a = A_INIT;
    st[c].n = 1;
  }
  unsigned run_index = 0;
  size_t i = 0;
  while (i < len) {
    /* Causal neighbours as pixels 0..255 (int8 + 128); 0 outside the image. */
    const size_t x = width ? i % width : i;
    const int up = width && i >= width;
    const int a = x ? dst[i - 1] + 128 : 0;
    const int b = up ? dst[i - width] + 128 : 0;
    const int c = up && x ? dst[i - width - 1] + 128 : 0;
    const int d = up && x + 1 < width ? dst[i - width + 1] + 128 : 0;
    unsigned ctx;
    int pred;
    if (a == b && b == c && c == d) {
      /* Run mode: each 1 is a full step of a's value (or the rest of the
       * image); a 0 ends the run with J bits of a shorter step, then a pixel
       * that is not a. */
      unsigned full;
      do {
        const unsigned j = run_j(run_index);
        size_t step = (size_t)1 << j;
        refill(&r);
        full = take(&r, 1);
        if (!full) {
          step = take(&r, j);
          if (step >= len - i) return -1;
          if (run_index > 0) run_index--;
        } else {
          if (step > len - i) step = len - i;
          if (run_index < 31) run_index++;
        }
        while (step-- > 0) dst[i++] = (int8_t)(a - 128);
      } while (full && i < len);
      if (full) break;
      ctx = INTERRUPT;
      pred = a;
    } else {
      const int g1 = d - b, g2 = b - c, g3 = c - a;
      unsigned g = (unsigned)((g1 < 0 ? -g1 : g1) + (g2 < 0 ? -g2 : g2) + (g3 < 0 ? -g3 : g3)) >> 1;
      for (ctx = 0; g != 0 && ctx < INTERRUPT - 1; ctx++) g >>= 1;
      /* LOCO-I's median edge detector. */
      const int hi = a > b ? a : b, lo = a > b ? b : a;
      pred = c >= hi ? lo : c <= lo ? hi : a + b - c;
    }
    /* Limited-length Golomb-Rice, k from the context's mean folded error. */
    unsigned k = 0;
    while (k < K_MAX && (st[ctx].n << (k + 1)) < st[ctx].a) k++;
    refill(&r);
    if ((r.window >> (31u - QMAX)) == 0) return -1; /* QMAX + 1 zeros */
    unsigned q = 0;
    while ((r.window & 0x80000000u) == 0) {
      q++;
      r.window <<= 1;
    }
    r.window <<= 1;
    r.have -= q + 1;
    const unsigned m = q == QMAX ? take(&r, 8) : (q << k) | take(&r, k);
    /* An interruption is never the run's value: its fold skips 0, so 255 is out of range. */
    if (m > 255u - (ctx == INTERRUPT)) return -1;
    st[ctx].a += m;
    if (st[ctx].n == N_RESET) {
      st[ctx].a >>= 1;
      st[ctx].n >>= 1;
    }
    st[ctx].n++;
    dst[i] = (int8_t)(unfold((int)m + (ctx == INTERRUPT), pred) - 128);
    i++;
  }
  /* Every byte read, fewer than 8 of its bits left, and those zero. */
  if (r.next != r.end || r.have < 8u * r.past_end || r.have - 8u * r.past_end >= 8u || r.window != 0) return -1;
  return 0;
}

int image_decode(uint8_t encoding, const uint8_t *src, size_t n, int8_t *dst, size_t dst_len) {
  switch (encoding) {
    case IMAGE_ENCODING_RAW:
      if (n != dst_len) return -1;
      if (n != 0) memcpy(dst, src, n);
      return 0;
    case IMAGE_ENCODING_COMPACT:
      return decode_compact(src, n, dst, dst_len);
    default:
      return -1;
  }
}
