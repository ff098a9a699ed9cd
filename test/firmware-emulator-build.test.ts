/**
 * Builds the mps2-an386 firmware (our native C runtime) for a small random
 * model, checks the sizes it reports, then boots it in QEMU and talks protocol
 * v2 to it over the emulated UART: HELLO -> INFO with the model's CRC, INFER
 * with a known input -> RESULT equal to the TypeScript reference byte for byte.
 * With models/default present (run `npm start`), the same for the real model,
 * reporting instructions per inference and per MAC.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { execa } from 'execa';
import { ToolError } from '../src/errors.ts';
import { buildEmulatorFirmware, NRF52840_FLASH_BYTES, NRF52840_RAM_BYTES } from '../src/firmware-build/build-emulator.ts';
import { decodeFrame, encodeFrame, type DeviceInfo, type Message } from '../src/protocol/frames.ts';
import { Int8Interpreter } from '../src/reference/int8-interpreter.ts';
import { readTflite } from '../src/tflite/reader.ts';
import { writeTflite } from '../src/tflite/writer.ts';
import type { Int8Model } from '../src/model/types.ts';
import { randomInt8Model } from '../scripts/golden-vectors.ts';
import { QEMU_ICOUNT } from '../src/device/qemu.ts';

const QEMU_ARGS = ['-M', 'mps2-an386', '-icount', QEMU_ICOUNT, '-display', 'none', '-monitor', 'none',
  '-chardev', 'stdio,id=uart0,signal=off', '-serial', 'chardev:uart0'];

/** QEMU running `elf`, its UART0 on our pipes; frames in and out. */
async function withEmulator<T>(elf: string, fn: (send: (m: Message) => void, next: (ms: number) => Promise<Message>) => Promise<T>): Promise<T> {
  const qemu = execa('qemu-system-arm', [...QEMU_ARGS, '-kernel', elf], { stdin: 'pipe', stdout: 'pipe', stderr: 'pipe', buffer: false, reject: false });
  let pending = Buffer.alloc(0);
  const frames: Message[] = [];
  let wake: (() => void) | null = null;
  let stderr = '';
  qemu.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  qemu.stdout!.on('data', (d: Buffer) => {
    pending = Buffer.concat([pending, d]);
    let zero: number;
    while ((zero = pending.indexOf(0)) >= 0) {
      const block = pending.subarray(0, zero);
      pending = pending.subarray(zero + 1);
      if (block.length > 0) frames.push(decodeFrame(new Uint8Array(block)));
    }
    wake?.();
  });
  const send = (m: Message) => qemu.stdin!.write(encodeFrame(m));
  const next = async (ms: number): Promise<Message> => {
    const deadline = Date.now() + ms;
    while (frames.length === 0) {
      if (Date.now() > deadline) throw new Error(`no frame from the emulator within ${ms} ms; qemu stderr: ${stderr}`);
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 50);
      });
    }
    return frames.shift()!;
  };
  try {
    return await fn(send, next);
  } finally {
    qemu.kill();
    await qemu;
  }
}

/** HELLO, repeated until INFO arrives (QEMU may drop output before the pipe is read). */
async function hello(send: (m: Message) => void, next: (ms: number) => Promise<Message>): Promise<DeviceInfo> {
  for (let attempt = 0; attempt < 20; attempt++) {
    send({ type: 'hello', seq: attempt, nonce: attempt });
    try {
      let m = await next(500);
      while (m.type === 'log') m = await next(500); // the device log's lines come before INFO
      if (m.type === 'info') return m.info;
    } catch {
      // try again
    }
  }
  throw new Error('no INFO from the emulator');
}

async function checkModelOnEmulator(elf: string, tflite: Uint8Array, model: Int8Model, inputs: Int8Array[]): Promise<number[]> {
  const interp = new Int8Interpreter(model);
  return withEmulator(elf, async (send, next) => {
    const info = await hello(send, next);
    assert.equal(info.modelStatus, 0);
    assert.equal(info.modelCrc32, crc32(tflite));
    assert.equal(info.modelBytes, tflite.length);
    assert.equal(info.runtime, 'native');
    assert.equal(info.cycleUnit, 'emulated-instructions');
    assert.equal(info.board, 'mps2-an386 (QEMU)');
    assert.match(info.runtimeVersion, /^native \(tinyml-deploy \d+\.\d+\.\d+\)$/, 'TML_RUNTIME_VERSION from the build');
    assert.equal(info.txDroppedBytes, 0);
    assert.equal(info.cpuHz, 64_000_000);
    assert.equal(info.inputBytes, model.layers[0]!.inputSize);
    assert.equal(info.outputCount, model.layers[model.layers.length - 1]!.outputSize);
    assert.ok(info.arenaUsed > 0 && info.arenaUsed <= info.arenaSize);
    const cycles: number[] = [];
    for (const [i, input] of inputs.entries()) {
      // The input in chunks of INFO's size, raw, then INFER_RUN (docs/protocol.md).
      const raw = new Uint8Array(input.buffer, input.byteOffset, input.length);
      for (let offset = 0; offset < raw.length; offset += info.chunkBytes) {
        send({ type: 'infer-chunk', seq: 2000 + offset, slot: 0, offset, data: raw.subarray(offset, offset + info.chunkBytes) });
      }
      send({ type: 'infer-run', seq: 1000 + i, slot: 0, encoding: 0, length: raw.length, crc32: crc32(raw) });
      let m = await next(10_000);
      while (m.type === 'info' || m.type === 'log' || m.type === 'chunk-ack') m = await next(10_000); // late answers to a repeated HELLO
      assert.equal(m.type, 'result', JSON.stringify(m));
      if (m.type !== 'result') continue;
      assert.equal(m.seq, 1000 + i);
      const want = interp.run(input).output;
      assert.deepEqual(Array.from(m.outputs), Array.from(want));
      assert.equal(m.top1, Array.from(want).indexOf(Math.max(...want)));
      cycles.push(m.cycles);
    }
    return cycles;
  });
}

function macs(model: Int8Model): number {
  return model.layers.reduce((n, l) => n + l.inputSize * l.outputSize, 0);
}

test('emulator firmware for a random model: sizes, INFO and a RESULT equal to the reference', async () => {
  const model = randomInt8Model('emu', [784, 32, 10], 4242, { perChannel: true, inputShape: [28, 28] });
  const tflite = writeTflite(model);
  const outDir = await mkdtemp(join(tmpdir(), 'tinyml-emu-'));
  const fw = await buildEmulatorFirmware({ tflite, outDir, runtime: 'native' });
  assert.ok(existsSync(fw.elf) && fw.bin && existsSync(fw.bin));
  assert.equal(fw.flash.capacity, NRF52840_FLASH_BYTES);
  assert.equal(fw.ram.capacity, NRF52840_RAM_BYTES);
  assert.equal(fw.flash.used, fw.sizes.text + fw.sizes.data);
  assert.equal(fw.ram.used, fw.sizes.data + fw.sizes.bss);
  assert.ok(fw.flash.used > tflite.length && fw.flash.used < tflite.length + 64 * 1024, `flash ${fw.flash.used}`);
  assert.ok(fw.ram.used >= 32 * 1024 && fw.ram.used < 64 * 1024, `ram ${fw.ram.used}`);

  const inputs = [Int8Array.from({ length: 784 }, (_, i) => ((i * 37) % 256) - 128), new Int8Array(784).fill(-128)];
  const cycles = await checkModelOnEmulator(fw.elf, tflite, model, inputs);
  const perMac = cycles[0]! / macs(model);
  assert.ok(perMac > 1 && perMac < 6, `${perMac} instructions per MAC`);
});

test('emulator firmware runs the Cortex-M4 kernel port on odd sizes (row pairs, input tails) bit-exactly', async () => {
  const model = randomInt8Model('odd', [50, 7, 3], 99, { softmax: true });
  const tflite = writeTflite(model);
  const fw = await buildEmulatorFirmware({ tflite, outDir: await mkdtemp(join(tmpdir(), 'tinyml-emu-')), runtime: 'native' });
  const inputs = [1, 2, 3].map((s) => Int8Array.from({ length: 50 }, (_, i) => ((i * s * 53 + s) % 256) - 128));
  await checkModelOnEmulator(fw.elf, tflite, model, inputs);
});

test('a model too big for the nRF52840 fails to link with a one-line error', async () => {
  const model = randomInt8Model('huge', [784, 1400, 10], 7, { softmax: false });
  const outDir = await mkdtemp(join(tmpdir(), 'tinyml-emu-'));
  await assert.rejects(buildEmulatorFirmware({ tflite: writeTflite(model), outDir, runtime: 'native' }), (err: unknown) => {
    assert.ok(err instanceof ToolError);
    assert.match(err.message, /^firmware for model 'huge' does not fit the 1 MB flash of the nRF52840: region FLASH overflowed by \d+ bytes$/);
    return true;
  });
});

test('a missing toolchain gives the apt-get line', async () => {
  const path = process.env.PATH;
  process.env.PATH = '/nonexistent';
  try {
    await assert.rejects(
      buildEmulatorFirmware({ tflite: writeTflite(randomInt8Model('t', [4, 2], 1)), outDir: await mkdtemp(join(tmpdir(), 'tinyml-emu-')), runtime: 'native' }),
      /^ToolError: arm-none-eabi-(gcc|g\+\+) not found: install it with: sudo apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc\+\+-arm-none-eabi-newlib$/,
    );
  } finally {
    process.env.PATH = path;
  }
});

const DEFAULT_MODEL = new URL('../models/default/', import.meta.url).pathname;
test('the default model on the emulator: bit-exact, instructions per inference and per MAC', { skip: !existsSync(join(DEFAULT_MODEL, 'model_data.cc')) && 'run `npm start` first' }, async (t) => {
  const tflite = new Uint8Array(readFileSync(join(DEFAULT_MODEL, 'model_int8.tflite')));
  const model = readTflite(tflite);
  assert.equal(model.kind, 'int8');
  if (model.kind !== 'int8') return;
  const fw = await buildEmulatorFirmware({ modelDir: DEFAULT_MODEL, outDir: await mkdtemp(join(tmpdir(), 'tinyml-emu-')), runtime: 'native' });
  const inputs = Array.from({ length: 4 }, (_, s) => Int8Array.from({ length: 784 }, (_, i) => ((i * (s + 3) * 7919) % 256) - 128));
  const cycles = await checkModelOnEmulator(fw.elf, tflite, model, inputs);
  const n = macs(model);
  t.diagnostic(`flash ${fw.flash.used} / ${fw.flash.capacity} bytes, RAM ${fw.ram.used} / ${fw.ram.capacity} bytes`);
  t.diagnostic(`instructions per inference ${cycles.join(', ')}; ${n} MACs; ${(cycles[0]! / n).toFixed(3)} instructions per MAC`);
});
