/**
 * model_data.h / model_data.cc: byte-identical array, deterministic text, and it
 * compiles and links with the host g++ (and the header from C with gcc).
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderCArray, cFloat, cString } from '../src/export/c-array.ts';
import { writeTflite } from '../src/tflite/writer.ts';
import { TfliteFormatError, UsageError } from '../src/errors.ts';
import { FASHION_MNIST_CLASSES, type Int8Model } from '../src/model/types.ts';

function model(): Int8Model {
  const n = (k: number, f: (i: number) => number) => Array.from({ length: k }, (_, i) => f(i));
  return {
    kind: 'int8',
    name: 'fashion */ dense',
    classNames: FASHION_MNIST_CLASSES,
    inputShape: [28, 28],
    input: { scale: Math.fround(1 / 255), zeroPoint: -128 },
    layers: [
      {
        name: 'dense',
        inputSize: 784,
        outputSize: 16,
        weights: Int8Array.from(n(784 * 16, (i) => ((i * 7) % 255) - 127)),
        weightScales: new Float32Array([0.01]),
        bias: Int32Array.from(n(16, (i) => i * 10)),
        input: { scale: Math.fround(1 / 255), zeroPoint: -128 },
        output: { scale: Math.fround(0.05), zeroPoint: -128 },
        activation: 'relu',
      },
      {
        name: 'dense_1',
        inputSize: 16,
        outputSize: 10,
        weights: Int8Array.from(n(160, (i) => (i % 50) - 25)),
        weightScales: new Float32Array([0.02]),
        bias: new Int32Array(10),
        input: { scale: Math.fround(0.05), zeroPoint: -128 },
        output: { scale: Math.fround(0.1), zeroPoint: 5 },
        activation: 'linear',
      },
    ],
    softmax: { output: { scale: 1 / 256, zeroPoint: -128 }, beta: 1 },
  };
}

/** Parses the array initializer back into bytes. */
function arrayBytes(source: string, symbol: string): Uint8Array {
  const m = new RegExp(`alignas\\(16\\) const unsigned char ${symbol}\\[\\] = \\{\\n([\\s\\S]*?)\\n\\};`).exec(source);
  assert.ok(m, 'array definition found');
  return Uint8Array.from(m[1]!.split(/[,\s]+/).filter(Boolean).map((h) => parseInt(h, 16)));
}

describe('renderCArray', () => {
  const m = model();
  const bytes = writeTflite(m);
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tinyml-carray-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('the array is byte-identical to the .tflite, 12 bytes a line, output deterministic', () => {
    const { header, source } = renderCArray(bytes, m, {});
    assert.deepEqual(arrayBytes(source, 'g_model'), bytes);
    const lines = source.split('\n').filter((l) => l.startsWith('  0x'));
    assert.ok(lines.slice(0, -1).every((l) => l.split(',').filter((s) => s.trim()).length === 12));
    assert.match(source, new RegExp(`const unsigned int g_model_len = ${bytes.length};`));
    assert.deepEqual(renderCArray(bytes, m, {}), { header, source });
    assert.match(header, /#ifndef TINYML_G_MODEL_DATA_H_/);
    assert.match(header, /extern const char\* const g_model_class_names\[G_MODEL_NUM_CLASSES\];/);
    assert.ok(!/\d{4}-\d\d-\d\d/.test(header + source), 'no timestamps');
  });

  test('compiles as C++17, links, and the constants hold the model values', () => {
    const { header, source } = renderCArray(bytes, m, { symbol: 'g_model' });
    writeFileSync(join(dir, 'model_data.h'), header);
    writeFileSync(join(dir, 'model_data.cc'), source);
    execFileSync('g++', ['-std=c++17', '-Wall', '-Wextra', '-Werror', '-fsyntax-only', '-x', 'c++', join(dir, 'model_data.h')]);
    writeFileSync(
      join(dir, 'main.cc'),
      `#include <cstdint>
#include <cstdio>
#include <cstring>
#include "model_data.h"
int main() {
  if (g_model_len != ${bytes.length}u || G_MODEL_LEN != ${bytes.length}u) return 1;
  if (std::memcmp(g_model + 4, "TFL3", 4) != 0) return 2;
  if (g_model[${bytes.length - 1}] != ${bytes[bytes.length - 1]}) return 3;
  if (reinterpret_cast<std::uintptr_t>(g_model) % 16 != 0) return 4;
  if (g_model_input_dims[1] != 784 || G_MODEL_INPUT_SIZE != 784 || g_model_sample_dims[0] != 28) return 5;
  if (g_model_input_scale != 1.0f / 255.0f || g_model_input_zero_point != -128) return 6;
  if (g_model_output_scale != 1.0f / 256.0f || g_model_output_zero_point != -128) return 7;
  if (G_MODEL_NUM_CLASSES != 10 || std::strcmp(g_model_class_names[9], "Ankle boot") != 0) return 8;
  std::printf("ok\\n");
  return 0;
}
`,
    );
    const exe = join(dir, 'main');
    execFileSync('g++', ['-std=c++17', '-Wall', '-Wextra', '-Werror', '-I', dir, '-o', exe, join(dir, 'main.cc'), join(dir, 'model_data.cc')]);
    assert.equal(execFileSync(exe).toString(), 'ok\n');
  });

  test('the header is usable from C99 against the C++-compiled data', () => {
    const { header, source } = renderCArray(bytes, m, { symbol: 'fashion_model' });
    writeFileSync(join(dir, 'fashion.h'), header);
    writeFileSync(join(dir, 'fashion.cc'), source.replace('#include "model_data.h"', '#include "fashion.h"'));
    writeFileSync(
      join(dir, 'use.c'),
      `#include <string.h>
#include "fashion.h"
int check(void) {
  return fashion_model_len == FASHION_MODEL_LEN && memcmp(fashion_model + 4, "TFL3", 4) == 0 &&
         strcmp(fashion_model_class_names[0], "T-shirt/top") == 0 ? 0 : 1;
}
int main(void) { return check(); }
`,
    );
    const obj = join(dir, 'use.o');
    execFileSync('gcc', ['-std=c99', '-Wall', '-Wextra', '-Werror', '-pedantic', '-c', '-I', dir, '-o', obj, join(dir, 'use.c')]);
    const exe = join(dir, 'use');
    execFileSync('g++', ['-std=c++11', '-Wall', '-Werror', '-I', dir, '-o', exe, obj, join(dir, 'fashion.cc')]);
    execFileSync(exe); // throws on a non-zero exit
  });

  test('renderCArray with headerName includes that header', () => {
    const { source } = renderCArray(bytes, m, { headerName: 'fashion.h' });
    assert.match(source, /#include "fashion.h"/);
  });

  test('refuses a bad symbol and bytes that are not a .tflite', () => {
    assert.throws(() => renderCArray(bytes, m, { symbol: '9model' }), UsageError);
    assert.throws(() => renderCArray(new Uint8Array(16), m, {}), TfliteFormatError);
  });
});

describe('C literals', () => {
  test('cFloat gives the shortest text that reads back as the same float32', () => {
    assert.equal(cFloat(1 / 256), '0.00390625f');
    assert.equal(cFloat(1), '1.0f');
    assert.equal(cFloat(Math.fround(1 / 255)), '0.003921569f');
    assert.equal(Math.fround(parseFloat(cFloat(Math.fround(0.1)))), Math.fround(0.1));
    assert.equal(cFloat(1e-10), '1e-10f');
  });

  test('cString escapes quotes, backslashes, ? and non-ASCII', () => {
    assert.equal(cString('T-shirt/top'), '"T-shirt/top"');
    assert.equal(cString('a"b\\c?'), '"a\\"b\\\\c\\?"');
    assert.equal(cString('é\n'), '"\\303\\251\\012"');
  });
});
