/**
 * npm run bench: throughput and timing figures, printed as a table and written
 * to build/bench.json. Speed goals live here, never in timed tests.
 *
 * For each preset: training throughput over one epoch (samples/s, s/epoch, the
 * tfjs backend that ran), quantize + export time, and per-image inference time
 * of the TypeScript int8 reference and of the TFLite interpreter over the test
 * set. BENCH_TRAIN_LIMIT (default 60000) and BENCH_PRESETS (comma list) shrink
 * the run.
 *
 * Then, for hidden sizes 20, 128 and 512 (784-h-10 models, weights quantized from
 * a random float model: the kernels' instruction counts do not depend on the
 * weights' values), the emulator firmware: flash and RAM, emulated instructions
 * per inference and per multiply-accumulate (QEMU -icount, read from SysTick),
 * and validation throughput over the pty. BENCH_FIRMWARE_SAMPLES (default 300)
 * test images each; BENCH_FIRMWARE_HIDDEN (comma list) changes the sizes.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadFashionMnist } from '../src/data/fashion-mnist.ts';
import { initBackend } from '../src/train/backend.ts';
import { presetHidden, PRESET_NAMES } from '../src/train/model.ts';
import { trainModel } from '../src/train/train.ts';
import { toFloatModel } from '../src/train/float-model.ts';
import { quantizeModel } from '../src/quantize/quantize.ts';
import { writeTflite } from '../src/tflite/writer.ts';
import { renderCArray } from '../src/export/c-array.ts';
import { Int8Interpreter, quantizeInput } from '../src/reference/interpreter.ts';
import { TfliteInterpreter } from '../src/tflite/interpreter.ts';
import { FASHION_MNIST_CLASSES } from '../src/model/types.ts';
import { writeJsonAtomic } from '../src/util/atomic-write.ts';
import { randomFloatModel } from '../test/helpers/random-model.ts';
import { buildEmulatorFirmware } from '../src/firmware/build-emulator.ts';
import { arenaBytesFor } from '../src/firmware/budget.ts';
import { startQemu } from '../src/device/qemu.ts';
import { SerialTransport } from '../src/device/serial-transport.ts';
import { DeviceLink } from '../src/device/link.ts';
import { validateOnDevice } from '../src/validate/validate.ts';

const trainLimit = Number(process.env.BENCH_TRAIN_LIMIT ?? 60000);
const presets = (process.env.BENCH_PRESETS ?? PRESET_NAMES.join(',')).split(',').filter(Boolean);

const backend = await initBackend();
const train = await loadFashionMnist({ split: 'train', limit: trainLimit });
const test = await loadFashionMnist({ split: 'test' });
const rows: Record<string, unknown>[] = [];

for (const preset of presets) {
  const hidden = presetHidden(preset);
  process.stderr.write(`bench ${preset} [${hidden}]: training 1 epoch on ${train.count} images (${backend})\n`);
  const { model, metrics } = await trainModel({ train, test, hidden, epochs: 1, seed: 1 });
  const float = toFloatModel(model, { name: preset, classNames: FASHION_MNIST_CLASSES, normalized: true });
  model.dispose();

  let t = performance.now();
  const int8 = quantizeModel(float, { images: train.images, count: 500 });
  const bytes = writeTflite(int8);
  renderCArray(bytes, int8, {});
  const quantizeExportMs = performance.now() - t;

  const inSize = int8.layers[0].inputSize;
  const inputs = new Int8Array(test.count * inSize);
  for (let s = 0; s < test.count; s++) inputs.set(quantizeInput(test.images, s * inSize, int8.input, true, inSize), s * inSize);

  const reference = new Int8Interpreter(int8);
  t = performance.now();
  for (let s = 0; s < test.count; s++) reference.run(inputs.subarray(s * inSize, (s + 1) * inSize));
  const referenceUs = ((performance.now() - t) * 1000) / test.count;

  const tflite = TfliteInterpreter.load(bytes, { threads: 1 });
  t = performance.now();
  tflite.runBatch(inputs);
  const tfliteUs = ((performance.now() - t) * 1000) / test.count;
  tflite.close();

  const macs = int8.layers.reduce((n, l) => n + l.inputSize * l.outputSize, 0);
  rows.push({
    preset,
    hidden,
    params: metrics.params,
    backend: metrics.backend,
    trainSamplesPerSec: Math.round(metrics.samplesPerSec),
    secondsPerEpoch: +metrics.seconds.toFixed(1),
    quantizeExportMs: Math.round(quantizeExportMs),
    tfliteBytes: bytes.length,
    macsPerImage: macs,
    referenceUsPerImage: +referenceUs.toFixed(1),
    tfliteUsPerImage: +tfliteUs.toFixed(1),
  });
}

console.table(rows);

const firmwareSamples = Number(process.env.BENCH_FIRMWARE_SAMPLES ?? 300);
const firmwareHidden = (process.env.BENCH_FIRMWARE_HIDDEN ?? '20,128,512').split(',').map(Number);
const firmware: Record<string, unknown>[] = [];
for (const h of firmwareHidden) {
  process.stderr.write(`bench firmware 784-${h}-10: build, boot QEMU, validate ${firmwareSamples} images\n`);
  const float = randomFloatModel([h], 1);
  const int8 = quantizeModel(float, { images: train.images, count: 500 });
  const bytes = writeTflite(int8);
  const out = await mkdtemp(join(tmpdir(), 'tinyml-bench-fw-'));
  try {
    const fw = await buildEmulatorFirmware({ tflite: bytes, outDir: out, runtime: 'native', arenaBytes: arenaBytesFor(int8, 'native') });
    const qemu = await startQemu({ elf: fw.elf });
    const transport = new SerialTransport({ path: qemu.ptyPath });
    const link = new DeviceLink(transport);
    try {
      await transport.open();
      const info = await link.handshake({ timeoutMs: 15_000 });
      const r = await validateOnDevice({
        link,
        info,
        model: int8,
        tfliteBytes: bytes,
        images: test.images,
        labels: test.labels,
        count: firmwareSamples,
        normalized: true,
        board: 'emulator',
      });
      const macs = int8.layers.reduce((n, l) => n + l.inputSize * l.outputSize, 0);
      firmware.push({
        model: `784-${h}-10`,
        flashBytes: fw.flash.used,
        ramBytes: fw.ram.used,
        arenaUsed: info.arenaUsed,
        macs,
        instructionsP50: r.latencyCycles.p50,
        instructionsMax: r.latencyCycles.max,
        instructionsPerMac: +(r.latencyCycles.p50 / macs).toFixed(2),
        validateSamplesPerSec: +r.throughputSamplesPerSec.toFixed(1),
        deviceEqualsReference: r.exactAgreement === 1,
      });
    } finally {
      await link.close();
      await qemu.stop();
    }
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}
console.table(firmware);

await mkdir('build', { recursive: true });
await writeJsonAtomic('build/bench.json', {
  date: new Date().toISOString(),
  trainLimit,
  testImages: test.count,
  rows,
  firmwareSamples,
  firmware,
});
console.log('wrote build/bench.json');

// Farm scaling with 1, 2 and 3 emulator workers (BENCH_FARM=0 skips it).
if (process.env.BENCH_FARM !== '0') await (await import('./bench-farm.ts')).benchFarm();
