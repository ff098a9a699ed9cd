/**
 * npm run bench: throughput and timing figures, printed as a table and written
 * to build/bench.json. Speed goals live here, never in timed tests.
 *
 * For each preset: training throughput over one epoch (samples/s, s/epoch, the
 * tfjs backend that ran) beside the same epoch in PyTorch trained the Keras way
 * (scripts/torch-reference.py, when a python3 with torch is found; the table says
 * so when not, and which python3 it used), with wall and CPU seconds of both and
 * their ratios (vsTorch: wall, vsTorchCpu: CPU, all threads); then quantize +
 * export time, and per-image inference time of the TypeScript int8 reference and of
 * the TFLite interpreter over the test set. BENCH_TRAIN_LIMIT (default 60000) and
 * BENCH_PRESETS (comma list) shrink the run; BENCH_TORCH=0 skips PyTorch and
 * BENCH_TORCH_THREADS (default 2) sets its thread count; BENCH_TRAIN_THREADS (1, 2 or
 * auto) sets ours (default auto: the step splits large products with a worker thread
 * when timing shows it faster; splitShare is the share of steps that did).
 *
 * Then, for hidden sizes 4, 20, 128 and 512 (784-h-10 models, weights quantized
 * from a random float model: the kernels' instruction counts do not depend on
 * the weights' values), the emulator firmware: emulated instructions per
 * inference (median; QEMU -icount shift=0, read from SysTick) and per
 * multiply-accumulate, arena used, flash and RAM, the native runtime's code
 * bytes and those of the library members only it pulls in (both from the link
 * map), whether every output equals the reference; then a least-squares fit
 * instructions = a * MACs + b over the models (b: the fixed cost per
 * inference). With --tflm-dir DIR (or TINYML_TFLM_DIR) set to a
 * tflite-micro-arduino-examples tree, the same models on real TFLM (CMSIS-NN
 * kernels) side by side, with the native/TFLM ratio. BENCH_FIRMWARE_SAMPLES
 * (default 300) test images each; BENCH_FIRMWARE_HIDDEN (comma list) changes
 * the sizes; empty skips them. BENCH_PRESETS= (empty) skips the training part.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { execa } from 'execa';
import { basename, join } from 'node:path';
import { loadFashionMnist } from '../src/data/fashion-mnist.ts';
import { initBackend } from '../src/train/backend.ts';
import { presetHidden, PRESET_NAMES } from '../src/train/model.ts';
import { trainModel } from '../src/train/train.ts';
import { toFloatModel } from '../src/train/float-model.ts';
import { quantizeModel } from '../src/quantize/quantize.ts';
import { writeTflite } from '../src/tflite/writer.ts';
import { renderCArray } from '../src/export/c-array.ts';
import { Int8Interpreter, quantizeInput } from '../src/reference/int8-interpreter.ts';
import { TfliteInterpreter } from '../src/tflite/tflite-runtime.ts';
import { FASHION_MNIST_CLASSES } from '../src/model/types.ts';
import { writeJsonAtomic } from '../src/util/atomic-write.ts';
import { randomFloatModel } from '../test/helpers/random-model.ts';
import { buildEmulatorFirmware } from '../src/firmware-build/build-emulator.ts';
import { arenaBytesFor } from '../src/firmware-build/budget.ts';
import { tflmArenaBytes } from '../src/firmware-build/tflm-arena.ts';
import { tflmBuildInputs } from '../src/firmware-build/tflm-tree.ts';
import { withEmulatorLink } from '../src/device/emulator-link.ts';
import { validateOnDevice } from '../src/validate/validate.ts';

const trainLimit = Number(process.env.BENCH_TRAIN_LIMIT ?? 60000);
const presets = (process.env.BENCH_PRESETS ?? PRESET_NAMES.join(',')).split(',').filter(Boolean);

/**
 * The first python3 that imports torch, with torch's version, or undefined. `python3` on
 * PATH may be a pyenv or venv without torch; Debian's python3-torch is for /usr/bin/python3.
 */
async function findTorchPython(): Promise<{ python: string; version: string } | undefined> {
  if (process.env.BENCH_TORCH === '0') return undefined;
  for (const python of ['python3', '/usr/bin/python3']) {
    const r = await execa(python, ['-c', 'import torch; print(torch.__version__)'], { reject: false });
    if (r.exitCode === 0) return { python, version: String(r.stdout).trim() };
  }
  return undefined;
}

const torchThreads = process.env.BENCH_TORCH_THREADS ?? '2';
/** Threads for our training step: 1, 2 or auto (unset: its default, auto on 2+ CPUs). */
const trainThreadsEnv = process.env.BENCH_TRAIN_THREADS;
const trainThreads = !trainThreadsEnv ? undefined : trainThreadsEnv === 'auto' ? 'auto' : Number(trainThreadsEnv);

interface TorchEpoch { readonly seconds: number; readonly cpuSeconds: number; readonly accuracy: number }

/**
 * One epoch of the same network in PyTorch, the Keras way (2 threads by default). glibc's mmap
 * threshold is raised for that process only: otherwise every step's buffers are
 * mapped and zero-filled afresh (4-5x slower); OpenBLAS is left to detect the CPU.
 */
async function torchEpoch(python: string, hidden: readonly number[], limit: number): Promise<TorchEpoch> {
  const env: NodeJS.ProcessEnv = { ...process.env, MALLOC_MMAP_THRESHOLD_: '1073741824' };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  const args = ['scripts/torch-reference.py', '--hidden', hidden.join(','), '--epochs', '1', '--seed', '1', '--threads', torchThreads];
  if (limit < 60000) args.push('--limit-train', String(limit));
  const r = await execa(python, args, { env, extendEnv: false });
  const stage = JSON.parse(r.stdout.trim().split('\n').pop()!) as { epochs: TorchEpoch[] };
  return stage.epochs[0]!;
}

const backend = await initBackend();
const torchFound = await findTorchPython();
const torchPython = torchFound?.python;
process.stderr.write(
  torchFound
    ? `bench: PyTorch ${torchFound.version} from ${torchFound.python}, ${torchThreads} threads\n`
    : 'bench: no python3 with torch found (tried python3, /usr/bin/python3; Debian: python3-torch); the PyTorch columns are left empty\n',
);
const train = await loadFashionMnist({ split: 'train', limit: trainLimit });
const test = await loadFashionMnist({ split: 'test' });
const rows: Record<string, unknown>[] = [];

for (const preset of presets) {
  const hidden = presetHidden(preset);
  process.stderr.write(`bench ${preset} [${hidden}]: training 1 epoch on ${train.count} images (${backend})\n`);
  const load = loadavg()[0]!;
  const { model, metrics } = await trainModel({ train, test, hidden, epochs: 1, seed: 1, threads: trainThreads });
  let torch: TorchEpoch | undefined;
  if (torchPython) {
    process.stderr.write(`bench ${preset}: the same epoch in PyTorch (Keras way, ${torchThreads} threads)\n`);
    torch = await torchEpoch(torchPython, hidden, train.count);
  }
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
    threads: metrics.trainThreads,
    splitShare: metrics.splitStepShare,
    trainSamplesPerSec: Math.round(metrics.samplesPerSec),
    secondsPerEpoch: +metrics.seconds.toFixed(2),
    cpuSecondsPerEpoch: +(metrics.epochs[0]!.cpuSeconds ?? NaN).toFixed(2),
    torchSecondsPerEpoch: torch ? +torch.seconds.toFixed(2) : 'no torch',
    torchCpuSecondsPerEpoch: torch ? +torch.cpuSeconds.toFixed(2) : 'no torch',
    vsTorch: torch ? +(metrics.seconds / torch.seconds).toFixed(2) : 'no torch',
    vsTorchCpu: torch ? +((metrics.epochs[0]!.cpuSeconds ?? NaN) / torch.cpuSeconds).toFixed(2) : 'no torch',
    torchThreads: torch ? Number(torchThreads) : 'no torch',
    loadAvg: +load.toFixed(1),
    quantizeExportMs: Math.round(quantizeExportMs),
    tfliteBytes: bytes.length,
    macsPerImage: macs,
    referenceUsPerImage: +referenceUs.toFixed(1),
    tfliteUsPerImage: +tfliteUs.toFixed(1),
  });
}

if (rows.length > 0) console.table(rows);

const firmwareSamples = Number(process.env.BENCH_FIRMWARE_SAMPLES ?? 300);
const firmwareHidden = (process.env.BENCH_FIRMWARE_HIDDEN ?? '4,20,128,512').split(',').filter(Boolean).map(Number);
const tflmDir = tflmDirArg() ?? process.env.TINYML_TFLM_DIR;
const firmwareModels = firmwareHidden.map((h) => {
  const int8 = quantizeModel(randomFloatModel([h], 1), { images: train.images, count: 500 });
  return { name: `784-${h}-10`, int8, tflite: writeTflite(int8), macs: int8.layers.reduce((n, l) => n + l.inputSize * l.outputSize, 0) };
});
// One arena size for every TFLM model, so its objects (which see TML_ARENA_BYTES) compile once; the size does not change the counts.
const tflmArena = Math.max(...firmwareModels.map((m) => tflmArenaBytes(m.int8)));
const firmware: Record<string, unknown>[] = [];
for (const m of firmwareModels) {
  const native = await runFirmware(m, 'native');
  const row: Record<string, unknown> = {
    model: m.name,
    macs: m.macs,
    nativeInstructions: native.instructions,
    nativePerMac: +(native.instructions / m.macs).toFixed(3),
    nativeArena: native.arenaUsed,
    nativeFlash: native.flash,
    nativeRam: native.ram,
    runtimeCodeBytes: native.runtimeCodeBytes,
    runtimeLibraryBytes: native.runtimeLibraryBytes,
    nativeEqualsReference: native.exact,
  };
  if (tflmDir !== undefined) {
    const tflm = await runFirmware(m, 'tflm');
    Object.assign(row, {
      tflmInstructions: tflm.instructions,
      tflmPerMac: +(tflm.instructions / m.macs).toFixed(3),
      nativeOverTflm: +(native.instructions / tflm.instructions).toFixed(3),
      tflmArena: tflm.arenaUsed,
      tflmFlash: tflm.flash,
      tflmEqualsReference: tflm.exact,
    });
  }
  firmware.push(row);
}
if (firmware.length > 0) console.table(firmware);
// A line through the models: needs two of them.
const fit = firmware.length >= 2 ? linearFit(firmware.map((r) => [r.macs as number, r.nativeInstructions as number])) : null;
const firmwareFit = fit && { instructionsPerMac: +fit.slope.toFixed(3), fixedInstructions: Math.round(fit.intercept) };
if (firmwareFit) {
  console.log(
    `native: ${firmwareFit.instructionsPerMac} instructions per MAC at the margin, ${firmwareFit.fixedInstructions} fixed per inference (least-squares fit over ${firmwareHidden.map((h) => `784-${h}-10`).join(', ')})`,
  );
}

interface FirmwareRun {
  instructions: number;
  arenaUsed: number;
  flash: number;
  ram: number;
  runtimeCodeBytes: number;
  runtimeLibraryBytes: number;
  exact: boolean;
}

/** Builds `m` for the emulator with `runtime`, validates firmwareSamples images and reads the counts (median). */
async function runFirmware(m: (typeof firmwareModels)[number], runtime: 'native' | 'tflm'): Promise<FirmwareRun> {
  process.stderr.write(`bench firmware ${m.name} (${runtime}): build, boot QEMU, validate ${firmwareSamples} images\n`);
  // A fixed folder per runtime: the build reuses its objects (the TFLM sources take minutes to compile).
  const out = join('build', 'bench-firmware', runtime);
  await mkdir(out, { recursive: true });
  const fw = await buildEmulatorFirmware(
    runtime === 'native'
      ? { tflite: m.tflite, outDir: out, runtime, arenaBytes: arenaBytesFor(m.int8, 'native') }
      : { tflite: m.tflite, outDir: out, runtime, extra: tflmBuildInputs(tflmDir!), arenaBytes: tflmArena },
  );
  return withEmulatorLink(fw.elf, async (link) => {
    const info = await link.handshake({ timeoutMs: 15_000 });
    const r = await validateOnDevice({
      link,
      info,
      model: m.int8,
      tfliteBytes: m.tflite,
      images: test.images,
      labels: test.labels,
      count: firmwareSamples,
      normalized: true,
      board: 'emulator',
    });
    return {
      instructions: r.latencyCycles.p50,
      arenaUsed: info.arenaUsed,
      flash: fw.flash.used,
      ram: fw.ram.used,
      runtimeCodeBytes: runtime === 'native' ? nativeRuntimeCodeBytes(await readFile(join(out, 'firmware.map'), 'utf8')) : 0,
      runtimeLibraryBytes: runtime === 'native' ? nativeRuntimeLibraryBytes(await readFile(join(out, 'firmware.map'), 'utf8')) : 0,
      exact: r.exactAgreement === 1,
    };
  });
}

/**
 * Flash bytes (code and constants: .text*, .rodata*) the linker kept from the
 * native runtime's own objects (runtime_native.c, model.c, the kernels or their
 * Cortex-M4 ports), read from the link map.
 */
function isNativeRuntimeObject(file: string): boolean {
  return /^(runtime_native|model|exact_f64|fully_connected_s8[a-z_]*|softmax_s8[a-z_]*)\.c-[0-9a-f]{8}\.o$/.test(basename(file));
}

function nativeRuntimeCodeBytes(map: string): number {
  let total = 0;
  const re = /^ (\.(?:text|rodata)\S*)\s+0x[0-9a-f]+\s+0x([0-9a-f]+)\s+(\S+)$/gm;
  // Only what was linked: the map lists discarded sections (--gc-sections) first.
  const linked = map.slice(Math.max(0, map.indexOf('Linker script and memory map')));
  const joined = linked.replace(/^ (\.\S+)\n\s+(0x)/gm, ' $1 $2'); // long section names wrap onto the next line
  for (const [, , size, file] of joined.matchAll(re)) {
    if (isNativeRuntimeObject(file!)) total += parseInt(size!, 16);
  }
  return total;
}

/**
 * Flash bytes of the library members (libgcc, libm, newlib) linked in for the
 * native runtime alone: those the map's "Archive member included" section says
 * were pulled in by a runtime object (or by such a member), e.g. the soft-float
 * double routines its prepare code calls. Members the application pulled in
 * first (memcpy, memset) are shared and not counted.
 */
function nativeRuntimeLibraryBytes(map: string): number {
  const section = map.slice(map.indexOf('Archive member included'), map.indexOf('Discarded input sections'));
  const members = new Set<string>();
  for (const [, member, by] of section.matchAll(/^(\S+\.a\(\S+\))\n\s+(\S+)/gm)) {
    if (isNativeRuntimeObject(by!) || members.has(by!)) members.add(member!);
  }
  const linked = map.slice(Math.max(0, map.indexOf('Linker script and memory map'))).replace(/^ (\.\S+)\n\s+(0x)/gm, ' $1 $2');
  let total = 0;
  for (const [, , size, file] of linked.matchAll(/^ (\.(?:text|rodata)\S*)\s+0x[0-9a-f]+\s+0x([0-9a-f]+)\s+(\S+)$/gm)) {
    if (members.has(file!)) total += parseInt(size!, 16);
  }
  return total;
}

function linearFit(points: readonly (readonly [number, number])[]): { slope: number; intercept: number } {
  const n = points.length;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  const sxx = points.reduce((s, [x]) => s + (x - mx) ** 2, 0);
  const slope = n > 1 && sxx > 0 ? points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0) / sxx : 0;
  return { slope, intercept: my - slope * mx };
}

function tflmDirArg(): string | undefined {
  const i = process.argv.indexOf('--tflm-dir');
  return i >= 0 ? process.argv[i + 1] : undefined;
}

await mkdir('build', { recursive: true });
await writeJsonAtomic('build/bench.json', {
  date: new Date().toISOString(),
  trainLimit,
  torch: torchFound ? { python: torchFound.python, version: torchFound.version, threads: Number(torchThreads) } : null,
  testImages: test.count,
  rows,
  firmwareSamples,
  firmware,
  firmwareFit,
});
console.log('wrote build/bench.json');

// Validation throughput on the emulator, raw against compact inputs, and the host's share (BENCH_VALIDATION=0 skips it).
if (process.env.BENCH_VALIDATION !== '0') await (await import('./bench-validation.ts')).benchValidation();

// Farm scaling with 1, 2 and 3 emulator workers (BENCH_FARM=0 skips it).
if (process.env.BENCH_FARM !== '0') await (await import('./bench-farm.ts')).benchFarm();
