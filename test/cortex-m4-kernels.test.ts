/**
 * The Cortex-M4 kernel ports (firmware/ports/cortex-m4) on the emulated M4,
 * byte for byte against the TypeScript reference, on the shapes that take
 * their less travelled paths: per-channel multipliers, input lengths that are
 * not a multiple of 4 or of the 8-word unroll, row counts with a short last
 * 4-row pass or under 4 rows, input zero points other than -128 (the input
 * offset added by SXTAB16), with and without softmax. The benchmark's 784-h-10
 * models cover the common path.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomInt8Model } from '../scripts/golden-vectors.ts';
import { buildEmulatorFirmware } from '../src/firmware-build/build-emulator.ts';
import { arenaBytesFor } from '../src/firmware-build/budget.ts';
import { Int8Interpreter } from '../src/reference/int8-interpreter.ts';
import { writeTflite } from '../src/tflite/writer.ts';
import type { Int8Model } from '../src/model/types.ts';
import { withEmulatorLink } from '../src/device/emulator-link.ts';

const has = (cmd: string) => spawnSync(cmd, ['--version'], { stdio: 'ignore' }).status === 0;
const skip = !has('arm-none-eabi-gcc') || !has('qemu-system-arm') ? 'needs arm-none-eabi-gcc and qemu-system-arm' : false;

/** `model` with its input zero point moved to `zeroPoint` (the first layer reads the input). */
function withInputZeroPoint(model: Int8Model, zeroPoint: number): Int8Model {
  const input = { ...model.input, zeroPoint };
  const [first, ...rest] = model.layers;
  return { ...model, input, layers: [{ ...first!, input }, ...rest] };
}

const cases: [string, Int8Model][] = [
  // per-channel; n = 30 (a 2-byte tail), 7 rows (a short last pass), then 3 rows (under 4)
  ['per-channel 30-7-3', withInputZeroPoint(randomInt8Model('pc', [30, 7, 3], 4101, { perChannel: true, softmax: false }), 5)],
  // per-tensor; n = 200 (3 unrolled blocks + 2 words), 20 rows; then n = 20, 5 rows (one group + a 1-row pass)
  ['per-tensor 200-20-5 softmax', withInputZeroPoint(randomInt8Model('pt', [200, 20, 5], 4102), -3)],
  // per-tensor, input zero point 127 (offset -127), a 4-row layer then 10 rows
  ['per-tensor 64-4-10', withInputZeroPoint(randomInt8Model('pz', [64, 4, 10], 4103), 127)],
];

test('Cortex-M4 kernel ports equal the reference on the emulator', { skip, timeout: 10 * 60_000 }, async () => {
  for (const [label, model] of cases) {
    const out = await mkdtemp(join(tmpdir(), 'tinyml-m4-kernels-'));
    try {
      const fw = await buildEmulatorFirmware({
        tflite: writeTflite(model),
        outDir: out,
        runtime: 'native',
        arenaBytes: Math.max(256, arenaBytesFor(model, 'native')),
      });
      await withEmulatorLink(fw.elf, async (link) => {
        const info = await link.handshake({ timeoutMs: 15_000 });
        assert.equal(info.modelStatus, 0, label);
        const n = model.layers[0]!.inputSize;
        const inputs = Array.from({ length: 12 }, (_, s) => Int8Array.from({ length: n }, (_, i) => ((i * (s + 3) * 97 + s * 31) % 256) - 128));
        inputs[0]!.fill(127); // the largest accumulators the input can give
        inputs[1]!.fill(-128);
        const got = await link.infer(inputs);
        const interp = new Int8Interpreter(model);
        const width = got.outputs.length / inputs.length;
        inputs.forEach((input, s) => {
          assert.deepEqual(Array.from(got.outputs.subarray(s * width, (s + 1) * width)), Array.from(interp.run(input).output), `${label}, input ${s}`);
        });
      });
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  }
});
