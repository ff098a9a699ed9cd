/**
 * firmware/core/kernels/exact_f64.c (double-precision steps on IEEE bits, so
 * the Cortex-M4F links no soft-float library) against the host's own double
 * arithmetic, bit for bit, on millions of random operands: floats of every
 * exponent (subnormals included), products of floats, and near-equal pairs
 * where a difference cancels most bits or a quotient sits on a rounding tie.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const HARNESS = String.raw`
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "kernels/exact_f64.h"

static unsigned long long s = 88172645463325252ull;
static unsigned long long next(void) { s ^= s << 13; s ^= s >> 7; s ^= s << 17; return s; }
static unsigned long long bits(double d) { unsigned long long b; memcpy(&b, &d, 8); return b; }
/* A finite float >= 0: any bit pattern below infinity, or near 1 (scales' usual range). */
static float rand_f32(void) {
  unsigned int b = (unsigned int)next();
  b = (next() & 1) ? (b & 0x7FFFFFFFu) % 0x7F800000u : 0x3C000000u + (b % 0x07000000u);
  float f; memcpy(&f, &b, 4); return f;
}
static long fails;
#define CHECK(what, got, want) do { if ((got) != (want)) { if (fails++ < 5) printf("%s: got %016llx want %016llx\n", what, (unsigned long long)(got), (unsigned long long)(want)); } } while (0)

int main(void) {
  long n = 0;
  for (int i = 0; i < 2000000; ++i, ++n) {
    const float a = rand_f32(), b = rand_f32(), c = rand_f32(), d = rand_f32();
    CHECK("from_f32", tml_f64_from_f32(a), bits((double)a));
    const double p = (double)a * (double)b, q = (double)c * (double)d;
    CHECK("mul_f32", tml_f64_mul_f32(a, b), bits(p));
    if (c > 0.0f) CHECK("div", tml_f64_div(bits(p), tml_f64_from_f32(c)), bits(p / (double)c));
    if (q > 0.0) CHECK("div products", tml_f64_div(bits(p), bits(q)), bits(p / q));
    CHECK("sub", tml_f64_sum(bits(p), bits(q), true), bits(fabs(p - q)));
    CHECK("add", tml_f64_sum(bits(p), bits(q), false), bits(p + q));
    /* near-equal: the product against floats around it, and a difference against its neighbours */
    const float near = (float)p; /* may round to infinity: then skipped */
    if (!isinf(near)) CHECK("sub near", tml_f64_sum(bits(p), tml_f64_from_f32(near), true), bits(fabs(p - (double)near)));
    const double pn = nextafter(p, INFINITY);
    CHECK("sub ulp", tml_f64_sum(bits(p), bits(pn), true), bits(fabs(p - pn)));
    const float ac = a * c; /* a ratio a * c / c: ties and exact quotients */
    if (c > 0.0f && !isinf(ac)) {
      const double t = (double)ac;
      CHECK("div exact", tml_f64_div(bits(t), tml_f64_from_f32(c)), bits(t / (double)c));
    }
  }
  printf("%ld cases, %ld failures\n", n, fails);
  return fails != 0;
}
`;

const hasGcc = spawnSync('gcc', ['--version'], { stdio: 'ignore' }).status === 0;

test('exact_f64.c equals the host double arithmetic bit for bit', { skip: !hasGcc && 'needs gcc' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'tinyml-f64-'));
  try {
    writeFileSync(join(dir, 'harness.c'), HARNESS);
    const exe = join(dir, 'f64');
    execFileSync('gcc', ['-std=c11', '-O2', '-Wall', '-Wextra', '-Werror', '-fno-fast-math', '-ffp-contract=off', '-I', 'firmware/core',
      join(dir, 'harness.c'), 'firmware/core/kernels/exact_f64.c', '-lm', '-o', exe]);
    const r = spawnSync(exe, { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^2000000 cases, 0 failures/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
