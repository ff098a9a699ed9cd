/**
 * Differential fuzzer: the same mutated model through the TypeScript side (the
 * reader, the link limits and the reference interpreter) and the C side (the
 * firmware's reader and native runtime, host build with ASan and UBSan). Both
 * must accept or both refuse; where both accept, their outputs must be equal on
 * every input given. All mutants of a run go to the C program in one batch file.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { TinymlError } from '../../src/errors.ts';
import { FIRMWARE_DIR } from '../../src/firmware-build/paths.ts';
import { runTool } from '../../src/firmware-build/toolchain.ts';
import type { Int8Model } from '../../src/model/types.ts';
import { Int8Interpreter } from '../../src/reference/int8-interpreter.ts';
import { checkLinkLimits, MAX_INPUT_BYTES } from '../../src/reference/limits.ts';
import { readTfliteGraph } from '../../src/tflite/reader.ts';
import { mulberry32 } from '../../src/util/prng.ts';
import { mutate } from './mutate.ts';

/** The native runtime's build for this comparison (firmware default arena). */
export const DIFF_ARENA_BYTES = 32768;
/** firmware/core/model.h TML_MAX_LAYERS. */
const MAX_OPERATORS = 8;

const cIn = (dir: string): string[] => readdirSync(dir).filter((f) => f.endsWith('.c')).sort().map((f) => join(dir, f));

/** Builds firmware/tests/fuzz/model_run.c with gcc, ASan and UBSan (every report fatal). */
export async function buildModelRun(outDir: string, cc = 'gcc'): Promise<string> {
  await mkdir(outDir, { recursive: true });
  const fw = FIRMWARE_DIR;
  const out = join(outDir, 'model_run');
  await runTool(
    cc,
    ['-std=c11', '-Wall', '-Wextra', '-Werror', '-O1', '-g', '-fsanitize=address,undefined', '-fno-sanitize-recover=all',
      `-DTML_ARENA_BYTES=${DIFF_ARENA_BYTES}u`, ...['include', 'core', 'boards/host'].map((d) => `-I${join(fw, d)}`),
      join(fw, 'tests', 'fuzz', 'model_run.c'), join(fw, 'core', 'model.c'), join(fw, 'core', 'runtime_native.c'),
      ...cIn(join(fw, 'core', 'kernels')), join(fw, 'boards', 'host', 'hal.c'), '-lm', '-o', out],
    'compiling firmware/tests/fuzz/model_run.c',
  );
  return out;
}

/** Bytes of the native runtime's arena for `model`, as runtime_native.c plans it. */
export function nativeArenaBytes(model: Int8Model): number {
  const align4 = (n: number) => (n + 3) & ~3;
  let persistent = 0;
  const act = [model.layers[0]!.inputSize, 0];
  let op = 0;
  for (const l of model.layers) {
    persistent += 4 * l.outputSize + 8 * l.weightScales.length;
    act[(op + 1) & 1] = Math.max(act[(op + 1) & 1]!, l.outputSize);
    op++;
  }
  if (model.softmax) act[(op + 1) & 1] = Math.max(act[(op + 1) & 1]!, model.layers[model.layers.length - 1]!.outputSize);
  return persistent + align4(act[0]!) + align4(act[1]!);
}

export type TsVerdict = { ok: true; interpreter: Int8Interpreter } | { ok: false; reason: string };

/** What the TypeScript side says of a model the device would load. */
export function tsVerdict(bytes: Uint8Array): TsVerdict {
  try {
    const model = readTfliteGraph(bytes);
    if (model.kind !== 'int8') return { ok: false, reason: 'float model' };
    checkLinkLimits(model);
    if (model.layers.length + (model.softmax ? 1 : 0) > MAX_OPERATORS) return { ok: false, reason: 'too many operators' };
    if (nativeArenaBytes(model) > DIFF_ARENA_BYTES) return { ok: false, reason: 'arena too small' };
    return { ok: true, interpreter: new Int8Interpreter(model) };
  } catch (err) {
    if (err instanceof TinymlError) return { ok: false, reason: err.message };
    throw err; // an untyped error is itself a finding
  }
}

const u32 = (n: number): Uint8Array => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
};

/** One record of model_run's batch file: the model, then each input padded to MAX_INPUT_BYTES. */
export function batchRecord(model: Uint8Array, inputs: readonly Int8Array[]): Uint8Array {
  const parts = [u32(model.length), model, u32(inputs.length)];
  for (const input of inputs) {
    const padded = new Uint8Array(MAX_INPUT_BYTES);
    padded.set(new Uint8Array(input.buffer, input.byteOffset, Math.min(input.length, MAX_INPUT_BYTES)));
    parts.push(padded);
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export interface CResult {
  /** tml_status_t of runtime_init. */
  status: number;
  /** Output bytes per input, hex, when status is 0. */
  outputs: string[];
}

/** Runs model_run on `records` (from batchRecord); one result per record. Throws on a sanitizer report. */
export async function runBatch(modelRun: string, workDir: string, records: readonly Uint8Array[], count = records.length): Promise<CResult[]> {
  await mkdir(workDir, { recursive: true });
  const batch = join(workDir, 'batch.bin');
  await writeFile(batch, Buffer.concat(records));
  const run = await execa('nice', ['-n', '10', modelRun, batch], { reject: false, maxBuffer: 1 << 30 });
  if (run.exitCode !== 0) {
    throw new Error(`model_run failed (exit ${run.exitCode}): a sanitizer or the runtime reported:\n${run.stderr.slice(0, 4000)}`);
  }
  const lines = run.stdout.split('\n');
  return Array.from({ length: count }, (_, i) => {
    const [status, ...outputs] = (lines[i] ?? '').split(' ');
    return { status: Number(status), outputs };
  });
}

export interface Mismatch {
  iteration: number;
  kind: 'ts-accepts' | 'c-accepts' | 'outputs' | 'ts-crash';
  detail: string;
  bytes: Uint8Array;
}

export interface DifferentialReport {
  iterations: number;
  bothAccept: number;
  bothRefuse: number;
  outputsCompared: number;
  /** C status -> count, over the models both refused. */
  refusedByStatus: Record<number, number>;
  mismatches: Mismatch[];
}

/**
 * Mutates the seed models `iterations` times (round robin), runs every mutant
 * through both sides and compares. `casesPerModel` random inputs per accepted model.
 */
export async function runDifferential(options: {
  seeds: readonly Uint8Array[];
  iterations: number;
  seed: number;
  workDir: string;
  modelRun: string;
  casesPerModel?: number;
}): Promise<DifferentialReport> {
  const r = mulberry32(options.seed);
  const cases = options.casesPerModel ?? 3;
  const mutants: Uint8Array[] = [];
  const verdicts: TsVerdict[] = [];
  const inputs: Int8Array[][] = [];
  const mismatches: Mismatch[] = [];
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < options.iterations; i++) {
    // Half the mutants keep the first seed's size classes; 1 edit in 3 is a stack of several.
    const bytes = mutate(options.seeds[i % options.seeds.length]!, r, r() < 0.3 ? 8 : 2);
    let v: TsVerdict;
    try {
      v = tsVerdict(bytes);
    } catch (err) {
      mismatches.push({ iteration: i, kind: 'ts-crash', detail: String((err as Error).stack ?? err), bytes });
      v = { ok: false, reason: 'crash' };
    }
    const rows = Array.from({ length: cases }, () => Int8Array.from({ length: MAX_INPUT_BYTES }, () => Math.floor(r() * 256) - 128));
    mutants.push(bytes);
    verdicts.push(v);
    inputs.push(rows);
    chunks.push(batchRecord(bytes, rows));
  }
  const results = await runBatch(options.modelRun, options.workDir, chunks, options.iterations);
  const report: DifferentialReport = { iterations: options.iterations, bothAccept: 0, bothRefuse: 0, outputsCompared: 0, refusedByStatus: {}, mismatches };
  for (let i = 0; i < options.iterations; i++) {
    const { status, outputs: outs } = results[i]!;
    const v = verdicts[i]!;
    const bytes = mutants[i]!;
    if (status !== 0 && !v.ok) {
      report.bothRefuse++;
      report.refusedByStatus[status] = (report.refusedByStatus[status] ?? 0) + 1;
    } else if (status === 0 && !v.ok) {
      if (v.reason !== 'crash') mismatches.push({ iteration: i, kind: 'c-accepts', detail: `TS refused: ${v.reason}`, bytes });
    } else if (status !== 0 && v.ok) {
      mismatches.push({ iteration: i, kind: 'ts-accepts', detail: `C refused with status ${status}`, bytes });
    } else if (v.ok) {
      report.bothAccept++;
      const interp = v.interpreter;
      inputs[i]!.forEach((row, c) => {
        const expected = Buffer.from(interp.run(row.subarray(0, interp.inputSize)).output.buffer).toString('hex');
        report.outputsCompared++;
        if (outs[c] !== expected) {
          mismatches.push({ iteration: i, kind: 'outputs', detail: `input ${c}: C ${outs[c]} vs TS ${expected}`, bytes });
        }
      });
    }
  }
  return report;
}

/** Saves mismatching models as <dir>/<kind>-<iteration>.tflite for replay. */
export async function saveMismatches(dir: string, mismatches: readonly Mismatch[]): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const paths: string[] = [];
  for (const m of mismatches.slice(0, 50)) {
    const p = join(dir, `${m.kind}-${m.iteration}.tflite`);
    await writeFile(p, m.bytes);
    paths.push(p);
  }
  return paths;
}

