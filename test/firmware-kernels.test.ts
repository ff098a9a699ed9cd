/**
 * The C kernels, model reader and native runtime (firmware/core) against our
 * TypeScript int8 reference, byte for byte: golden vectors are generated into a
 * temp folder by scripts/golden-vectors.ts, firmware/tests/kernel_test.c is
 * compiled with gcc -std=c11 -Wall -Wextra -Werror, and run on them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { execa } from 'execa';
import { buildHostTests } from '../src/firmware-build/host-build.ts';
import { kernelVectors, writeGoldenVectors } from '../scripts/golden-vectors.ts';

test('golden vectors are deterministic and record their provenance', () => {
  const a = kernelVectors();
  assert.equal(a, kernelVectors());
  assert.match(a, /^# .*\n# generator: scripts\/golden-vectors.ts/);
  assert.match(a, /# reference: src\/reference\//);
  assert.doesNotMatch(a, /20\d\d-\d\d-\d\d/); // no dates
});

test('C int8 kernels, model reader and runtime match the TypeScript reference byte for byte', async () => {
  const programs = await buildHostTests();
  const vectors = writeGoldenVectors(programs.outDir);
  const r = await execa(programs.kernelTest, [vectors.kernels], { reject: false });
  assert.equal(r.exitCode, 0, `${r.stdout}\n${r.stderr}`);
  const m = r.stdout.match(/(\d+) fully-connected, (\d+) softmax, (\d+) model cases; 0 failures/);
  assert.ok(m, r.stdout);
  assert.ok(Number(m[1]) >= 60 && Number(m[2]) >= 50 && Number(m[3]) >= 12, r.stdout);

  // The checker itself must catch a wrong byte.
  const text = readFileSync(vectors.kernels, 'utf8');
  const broken = text.replace(/^(softmax sm_s1 [^\n]*\n(?:[^\n]*\n){1})(-?\d+)/m, (_all, head: string, v: string) => `${head}${Number(v) === 0 ? 1 : 0}`);
  assert.notEqual(broken, text);
  writeFileSync(vectors.kernels, broken);
  const bad = await execa(programs.kernelTest, [vectors.kernels], { reject: false });
  assert.equal(bad.exitCode, 1, bad.stdout);
  assert.match(bad.stderr, /FAIL .*sm_s1/);
});
