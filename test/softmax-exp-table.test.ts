/**
 * The softmax exponential table written beside the model array
 * (src/export/softmax-exp-table.ts), which the Cortex-M4 softmax reads instead
 * of computing exponentials: a softmax driven by it, with the port's
 * arithmetic (firmware/ports/cortex-m4/softmax_s8.c), equals the reference on
 * every row, for scales whose table is cut short at the underflow and scales
 * whose table is full, and the table is what the C array declares.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { softmaxExpTable, softmaxExpTableWords, modelSoftmaxExpTable } from '../src/export/softmax-exp-table.ts';
import { renderCArray } from '../src/export/c-array.ts';
import { prepareSoftmaxInt8, softmaxInt8 } from '../src/reference/softmax.ts';
import { getReciprocal, roundingDivideByPOT, saturatingRoundingDoublingHighMul } from '../src/reference/fixed-point.ts';
import { randomInt8Model } from '../scripts/golden-vectors.ts';
import { writeTflite } from '../src/tflite/writer.ts';

/** The port's eval: max, sum of table entries (Rescale<12>), reciprocal, one multiply per output. */
function tableSoftmax(exps: Int32Array, input: Int8Array): Int8Array {
  const max = Math.max(...input);
  let sum = 0;
  for (const x of input) {
    const k = max - x;
    if (k < exps.length) sum = (sum + Math.floor((exps[k]! + 2048) / 4096)) | 0;
  }
  const { scale, numBitsOverUnit } = getReciprocal(sum, 12);
  return Int8Array.from(input, (x) => {
    const k = max - x;
    if (k >= exps.length) return -128;
    const out = roundingDivideByPOT(saturatingRoundingDoublingHighMul(scale, exps[k]!), numBitsOverUnit + 23) - 128;
    return Math.min(127, Math.max(-128, out));
  });
}

let seed = 12345;
const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);

test('a softmax driven by the table equals the reference, cut short or not', () => {
  let cut = 0;
  let full = 0;
  for (const scale of [0.004, 0.02, 0.0541, 0.06, 0.1, 0.17, 0.35, 1, 3.5, 12]) {
    const prepared = prepareSoftmaxInt8({ scale, zeroPoint: 0 }, 1);
    const table = softmaxExpTable(prepared);
    assert.ok(table.exps.length >= 1 && table.exps.length <= Math.min(256, 1 - prepared.diffMin), `scale ${scale}`);
    assert.ok(table.exps[table.exps.length - 1]! >= 2048, 'the last entry kept is not under 2^11');
    if (table.exps.length < Math.min(256, 1 - prepared.diffMin)) cut++;
    else full++;
    for (let r = 0; r < 300; r++) {
      const depth = 1 + Math.floor(rand() * 40);
      // Spreads from tight to the whole int8 range, so rows reach the cut entries.
      const spread = 1 + Math.floor(rand() * 256);
      const base = -128 + Math.floor(rand() * (257 - spread));
      const input = Int8Array.from({ length: depth }, () => base + Math.floor(rand() * spread));
      const want = new Int8Array(depth);
      softmaxInt8(prepared, input, want);
      assert.deepEqual(Array.from(tableSoftmax(table.exps, input)), Array.from(want), `scale ${scale}, row ${Array.from(input)}`);
    }
  }
  assert.ok(cut > 0 && full > 0, `both kinds of table covered (cut ${cut}, full ${full})`);
});

test('model_data.cc holds the table of the model it carries, ended by {0, 0, 0}, which alone stands for no softmax', () => {
  const model = randomInt8Model('t', [30, 12, 10], 77);
  const words = softmaxExpTableWords([modelSoftmaxExpTable(model)]);
  assert.equal(words[2], words.length - 6);
  assert.deepEqual(Array.from(words.subarray(-3)), [0, 0, 0]);
  const { header, source } = renderCArray(writeTflite(model), model);
  assert.match(header, new RegExp(`extern const int32_t g_model_softmax_exp\\[${words.length}\\];`));
  const body = /g_model_softmax_exp\[\d+\] = \{([^}]*)\}/.exec(source)![1]!;
  assert.deepEqual(body.split(',').map((s) => Number(s.trim())), Array.from(words));
  const logits = randomInt8Model('l', [30, 12, 10], 78, { perChannel: false, softmax: false });
  assert.match(renderCArray(writeTflite(logits), logits).source, /g_model_softmax_exp\[3\] = \{\n {2}0, 0, 0\n\};/);
});
