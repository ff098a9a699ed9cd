/**
 * Host CPU per sample of the device link (src/device/link.ts): encoding each
 * input for the link, chunk and run frames, answers parsed and matched, against
 * the in-process mock device answering at once (no timers, fixed outputs, no
 * interpreter). Prints ms of process CPU per sample (user + system), which
 * includes the mock's own framing and decoding: an upper bound on the host's
 * share. Inputs are Fashion-MNIST test images when the dataset is found
 * (else seeded random ones, which the compact encoding cannot shrink).
 *
 *   node --import tsx scripts/bench-link.ts [samples=5000] [--json]
 */
import { DeviceLink } from '../src/device/link.ts';
import { loadFashionMnist } from '../src/data/fashion-mnist.ts';
import { quantizeInput } from '../src/reference/int8-interpreter.ts';
import { mulberry32 } from '../src/util/prng.ts';
import { MockDevice } from '../test/helpers/mock-device.ts';
import { randomInt8Model } from './golden-vectors.ts';

const args = process.argv.slice(2);
const json = args.includes('--json');
const count = Number(args.find((a) => !a.startsWith('--')) ?? 5000);
if (!Number.isInteger(count) || count < 1) {
  console.error(`error: samples must be a whole number >= 1, got ${args[0]}`);
  process.exit(2);
}

const model = randomInt8Model('bench-link', [784, 16, 10], 41, { inputShape: [28, 28] });
let source = 'Fashion-MNIST test images';
let inputs: Int8Array[];
try {
  const data = await loadFashionMnist({ split: 'test', limit: Math.min(count, 10_000), download: false });
  inputs = Array.from({ length: count }, (_, i) => quantizeInput(data.images, (i % data.count) * 784, model.input, true));
} catch {
  source = 'random inputs (no Fashion-MNIST found)';
  const rand = mulberry32(42);
  inputs = Array.from({ length: count }, () => Int8Array.from({ length: 784 }, () => Math.floor(rand() * 256) - 128));
}

const outputs = Int8Array.of(-128, -100, 20, 127, -128, -128, 0, 1, 2, 3);
const device = new MockDevice({ model, modelCrc32: 1, synchronous: true, compute: () => outputs.slice(), cycles: () => 1 });
await device.open();
const link = new DeviceLink(device);
await link.handshake();
// Warm up the JIT on a few samples, then measure.
await link.infer(inputs.slice(0, Math.min(200, count)));
const before = process.cpuUsage();
const wallStart = performance.now();
const r = await link.infer(inputs);
const cpu = process.cpuUsage(before);
const wallMs = performance.now() - wallStart;
await link.close();
const msPerSample = (cpu.user + cpu.system) / 1000 / count;
const framesPerSample = device.stats.framesReceived / (count + Math.min(200, count));
if (json) {
  console.log(JSON.stringify({ samples: count, source, cpuMsPerSample: msPerSample, wallMsPerSample: wallMs / count, framesPerSample, resends: r.resends }));
} else {
  console.log(
    `link host CPU: ${msPerSample.toFixed(3)} ms/sample over ${count} samples (${source}; ` +
      `${framesPerSample.toFixed(2)} frames to the device per sample, wall ${(wallMs / count).toFixed(3)} ms/sample, ${r.resends} resends)`,
  );
}
