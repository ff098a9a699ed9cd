/**
 * Validation throughput, part of npm run bench (or alone: node --import tsx
 * scripts/bench-validation.ts). Boots the emulator firmware for a 784-128-10
 * model (the default model's shape; BENCH_VALIDATION_HIDDEN changes the 128; weights random, which does not change the
 * link's traffic) and runs BENCH_VALIDATION_SAMPLES Fashion-MNIST test images
 * (default 1000) over QEMU's pty twice, side by side: inputs sent raw, then in
 * the shortest encoding the device offers (compact for images). Prints
 * samples/s of each, their ratio, the mean bytes of an input as sent, and checks
 * every output against the reference. Then the host's own CPU per sample
 * against an instant in-process mock device (scripts/bench-link.ts). Writes
 * build/bench-validation.json.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { buildEmulatorFirmware } from '../src/firmware-build/build-emulator.ts';
import { withEmulatorLink } from '../src/device/emulator-link.ts';
import { writeTflite } from '../src/tflite/writer.ts';
import { Int8Interpreter, quantizeInput } from '../src/reference/int8-interpreter.ts';
import { loadFashionMnist } from '../src/data/fashion-mnist.ts';
import { encodeForLink, ImageEncoding } from '../src/protocol/image-codec.ts';
import { writeJsonAtomic } from '../src/util/atomic-write.ts';
import { randomInt8Model } from './golden-vectors.ts';

const REPO = resolve(import.meta.dirname, '..');

interface Run {
  readonly encodings: string;
  readonly samplesPerSec: number;
  readonly meanInputBytes: number;
  readonly exact: boolean;
}

export async function benchValidation(): Promise<void> {
  const count = Number(process.env.BENCH_VALIDATION_SAMPLES ?? 1000);
  const hidden = Number(process.env.BENCH_VALIDATION_HIDDEN ?? 128);
  const model = randomInt8Model('bench-validation', [784, hidden, 10], 5, { inputShape: [28, 28] });
  const data = await loadFashionMnist({ split: 'test', limit: count, download: false });
  const inputs = Array.from({ length: data.count }, (_, i) => quantizeInput(data.images, i * 784, model.input, true));
  const interp = new Int8Interpreter(model);
  const expected = inputs.map((x) => interp.run(x).output);
  const dir = await mkdtemp(join(tmpdir(), 'tinyml-bench-validation-'));
  const runs: Run[] = [];
  try {
    const { elf } = await buildEmulatorFirmware({ tflite: writeTflite(model), outDir: dir, runtime: 'native' });
    for (const c of [
      { encodings: 'raw', mask: 1 << ImageEncoding.RAW },
      { encodings: 'offered (compact)', mask: ~0 },
    ]) {
      const r = await withEmulatorLink(elf, async (link) => {
        const info = await link.handshake({ timeoutMs: 10_000 });
        const bytes = inputs.reduce((n, x) => n + encodeForLink(x, info.encodings & c.mask).bytes.length, 0);
        const result = await link.infer(inputs, { encodings: c.mask });
        const exact = expected.every((e, i) => e.every((v, k) => v === result.outputs[i * e.length + k]));
        return { samplesPerSec: inputs.length / (result.wallMs / 1000), meanInputBytes: bytes / inputs.length, exact };
      });
      runs.push({ encodings: c.encodings, ...r, samplesPerSec: +r.samplesPerSec.toFixed(1), meanInputBytes: Math.round(r.meanInputBytes) });
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  console.log(`validation on the emulator, 784-${hidden}-10, ${inputs.length} Fashion-MNIST test images:`);
  console.table(runs);
  const ratio = runs[1]!.samplesPerSec / runs[0]!.samplesPerSec;
  console.log(`compact / raw throughput: ${ratio.toFixed(2)}x`);
  const host = JSON.parse((await execa(process.execPath, ['--import', 'tsx', join(REPO, 'scripts', 'bench-link.ts'), '5000', '--json'], { cwd: REPO })).stdout) as {
    cpuMsPerSample: number;
    source: string;
  };
  console.log(`link host CPU: ${host.cpuMsPerSample.toFixed(3)} ms/sample against an instant mock device (${host.source})`);
  await mkdir(join(REPO, 'build'), { recursive: true });
  await writeJsonAtomic(join(REPO, 'build', 'bench-validation.json'), { date: new Date().toISOString(), samples: inputs.length, runs, compactOverRaw: +ratio.toFixed(2), hostCpuMsPerSample: host.cpuMsPerSample });
}

if (import.meta.url === `file://${process.argv[1]}`) await benchValidation();
