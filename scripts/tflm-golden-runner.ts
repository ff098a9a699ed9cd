/**
 * Builds and runs the golden runner (firmware/tests/tflm_golden/): one program
 * that reads a job of int8 models and inputs and prints every output, linked
 * with one runtime.h implementation:
 *
 * - 'tflm' on Cortex-M4 (QEMU mps2-an386): TensorFlow Lite Micro from a user's
 *   tflite-micro-arduino-examples tree, with its CMSIS-NN kernels, as the Nano
 *   33 BLE runs it (scripts/tflm-golden.ts, never in CI);
 * - 'native' on Cortex-M4: our runtime with the Cortex-M4 kernel ports
 *   (firmware/ports/cortex-m4/), as our firmware runs it;
 * - 'native' on the host (gcc): our runtime with the portable kernels.
 *
 * The Cortex-M4 builds read the job and write their output through ARM
 * semihosting, so QEMU needs no serial link and one boot runs every case.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { execa } from 'execa';
import { DataFormatError, ToolError, UsageError } from '../src/errors.ts';
import { CORTEX_M4F_FLAGS } from '../src/firmware-build/build-emulator.ts';
import { dependencyFlags, isUpToDate, recordCommand } from '../src/firmware-build/compile-cache.ts';
import { HOST_CFLAGS } from '../src/firmware-build/host-build.ts';
import { FIRMWARE_DIR } from '../src/firmware-build/paths.ts';
import { tflmBuildInputs } from '../src/firmware-build/tflm-tree.ts';
import { mapLimit, missingToolError, runTool } from '../src/firmware-build/toolchain.ts';
import { modelSoftmaxExpTable, softmaxExpTableWords } from '../src/export/softmax-exp-table.ts';
import { readTflite } from '../src/tflite/reader.ts';

const RUNNER_DIR = join(FIRMWARE_DIR, 'tests', 'tflm_golden');
/** Both runtimes' static arena: room for the 784-1024-10 model's activations and TFLM's bookkeeping. */
export const RUNNER_ARENA_BYTES = 64 * 1024;
/** The runner's status for a runtime that called abort() (golden_runner.h). */
export const STATUS_ABORTED = 255;

function cFiles(dir: string): string[] {
  return readdirSync(dir).filter((f) => f.endsWith('.c')).sort().map((f) => join(dir, f));
}

/** Our native runtime's sources; with `ports`, a same-named file there replaces a kernel (as build-emulator.ts does). */
function nativeSources(portsDir?: string): string[] {
  const core = ['model.c', 'runtime_native.c'].map((f) => join(FIRMWARE_DIR, 'core', f));
  const ports = new Map(portsDir && existsSync(portsDir) ? cFiles(portsDir).map((f) => [basename(f), f] as const) : []);
  return [...core, ...cFiles(join(FIRMWARE_DIR, 'core', 'kernels')).map((f) => ports.get(basename(f)) ?? f)];
}

/** The host runner on our native runtime and portable kernels; returns its path. */
export async function buildHostRunner(outDir: string, cc = 'gcc'): Promise<string> {
  await mkdir(outDir, { recursive: true });
  const exe = join(outDir, 'golden_runner_host');
  const includes = ['include', 'core', 'boards/host', 'tests/tflm_golden'].map((d) => `-I${join(FIRMWARE_DIR, d)}`);
  await runTool(
    cc,
    [...HOST_CFLAGS, `-DTML_ARENA_BYTES=${RUNNER_ARENA_BYTES}u`, ...includes, join(RUNNER_DIR, 'runner.c'), join(RUNNER_DIR, 'main_host.c'),
      ...nativeSources(), join(FIRMWARE_DIR, 'boards', 'host', 'hal.c'), '-lm', '-o', exe],
    'compiling the host golden runner',
  );
  return exe;
}

export interface ArmRunnerOptions {
  runtime: 'native' | 'tflm';
  /** The tflite-micro-arduino-examples library folder, for 'tflm'. */
  tflmDir?: string;
  /** Objects and the ELF go here; objects are reused while their command and inputs are unchanged. */
  outDir: string;
  /**
   * 'native': the .tflite models the jobs will load. The Cortex-M4 softmax reads
   * its exponentials from tables built in with the model array
   * (src/export/softmax-exp-table.ts), so the runner is built with theirs.
   */
  models?: readonly Uint8Array[];
}

export interface ArmRunner {
  elf: string;
  /** The compiler's --version first line, and the flags every source was compiled with. */
  compiler: string;
  flags: string[];
  defines: string[];
  /** Every C and C++ source compiled in (absolute paths). */
  sources: string[];
}

/** The Cortex-M4 runner for QEMU mps2-an386. */
export async function buildArmRunner(options: ArmRunnerOptions): Promise<ArmRunner> {
  const outDir = resolve(options.outDir);
  const objDir = join(outDir, 'obj');
  await mkdir(objDir, { recursive: true });
  const board = join(FIRMWARE_DIR, 'boards', 'mps2-an386');
  const tflm = options.runtime === 'tflm' ? tflmInputs(options.tflmDir) : null;
  const includeDirs = [join(FIRMWARE_DIR, 'include'), join(FIRMWARE_DIR, 'core'), board, RUNNER_DIR, ...(tflm?.includeDirs ?? [])];
  const defines = [`TML_ARENA_BYTES=${RUNNER_ARENA_BYTES}u`, ...(tflm?.defines ?? [])];
  const common = [...CORTEX_M4F_FLAGS, ...includeDirs.map((d) => `-I${d}`), ...defines.map((d) => `-D${d}`)];
  const cSources = [
    join(RUNNER_DIR, 'runner.c'),
    join(RUNNER_DIR, 'main_semihost.c'),
    join(board, 'startup.c'),
    join(board, 'hal.c'),
    ...(tflm ? tflm.cSources : [...nativeSources(join(FIRMWARE_DIR, 'ports', 'cortex-m4')), await writeSoftmaxTables(outDir, options.models ?? [])]),
  ];
  const jobs = [
    ...cSources.map((src) => ({ src, tool: 'arm-none-eabi-gcc', flags: ['-std=c11', '-Wall', '-Wextra'] })),
    ...(tflm?.cxxSources ?? []).map((src) => ({ src, tool: 'arm-none-eabi-g++', flags: tflm!.cxxFlags })),
  ];
  const objects = await mapLimit(jobs, Math.max(1, availableParallelism()), async (job) => {
    const tag = createHash('sha1').update(resolve(job.src)).digest('hex').slice(0, 8);
    const obj = join(objDir, `${basename(job.src).replace(/[^A-Za-z0-9_.-]/g, '_')}-${tag}.o`);
    const command = [job.tool, ...common, ...job.flags, '-c', job.src, '-o', obj];
    if (await isUpToDate(obj, command)) return obj;
    await runTool(job.tool, [...command.slice(1), ...dependencyFlags(obj)], `compiling ${job.src}`);
    await recordCommand(obj, command);
    return obj;
  });
  const elf = join(outDir, `golden_runner_${options.runtime}.elf`);
  await runTool(
    'arm-none-eabi-g++',
    [...CORTEX_M4F_FLAGS, '-nostartfiles', '--specs=nano.specs', '--specs=nosys.specs', '-Wl,--gc-sections',
      '-T', join(RUNNER_DIR, 'link.ld'), ...objects, '-lm', '-o', elf],
    'linking the golden runner',
  );
  const compiler = (await runTool('arm-none-eabi-g++', ['--version'], 'asking the compiler its version')).split('\n')[0]!;
  return { elf, compiler, flags: [...CORTEX_M4F_FLAGS], defines, sources: jobs.map((j) => j.src) };
}

/** g_model_softmax_exp with the tables of every model that has a valid softmax (the rest are refused before it is read). */
async function writeSoftmaxTables(outDir: string, models: readonly Uint8Array[]): Promise<string> {
  const tables = models.map((bytes) => {
    try {
      const model = readTflite(bytes);
      return model.kind === 'int8' ? modelSoftmaxExpTable(model) : null;
    } catch {
      return null;
    }
  });
  const words = softmaxExpTableWords(tables);
  const file = join(outDir, 'softmax_tables.c');
  await writeFile(file, `#include <stdint.h>\nconst int32_t g_model_softmax_exp[${words.length}] = {${Array.from(words).join(', ')}};\n`);
  return file;
}

function tflmInputs(tflmDir: string | undefined) {
  if (tflmDir === undefined) throw new UsageError('--tflm-dir is required for the TFLM runner: point it at the tflite-micro-arduino-examples library folder');
  return tflmBuildInputs(tflmDir);
}

/** One model of a job, with the inputs to run through it. */
export interface JobCase {
  readonly model: Uint8Array;
  readonly inputLength: number;
  readonly inputs: readonly Int8Array[];
}

/** The job file the runner reads (format in golden_runner.h). */
export function encodeJob(cases: readonly JobCase[]): Buffer {
  const parts: Buffer[] = [];
  const u32 = (v: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v);
    return b;
  };
  parts.push(Buffer.from('TGJ1'), u32(cases.length));
  for (const c of cases) {
    parts.push(u32(c.model.length), Buffer.from(c.model), u32(c.inputLength), u32(c.inputs.length));
    for (const x of c.inputs) {
      if (x.length !== c.inputLength) throw new RangeError(`job: input of ${x.length} bytes, case says ${c.inputLength}`);
      parts.push(Buffer.from(x.buffer, x.byteOffset, x.length));
    }
  }
  return Buffer.concat(parts);
}

/** What the runner printed for one case. */
export interface CaseResult {
  /** runtime_init's tml_status_t, or STATUS_ABORTED. */
  readonly init: number;
  readonly inputBytes: number;
  readonly outputCount: number;
  /** One per input: the output bytes, or the status of a failed run. */
  readonly outputs: ReadonlyArray<Int8Array | { status: number }>;
}

/** Parses the runner's output; throws DataFormatError when it is cut short or garbled. */
export function parseRunnerOutput(text: string, expectedCases: number): CaseResult[] {
  const results: Array<CaseResult & { outputs: Array<Int8Array | { status: number }> }> = [];
  let done = false;
  for (const line of text.split('\n')) {
    let m: RegExpMatchArray | null;
    if ((m = line.match(/^case (\d+) init (\d+) in (\d+) out (\d+)$/))) {
      if (Number(m[1]) !== results.length) throw new DataFormatError(`golden runner: case ${m[1]} out of order`);
      results.push({ init: Number(m[2]), inputBytes: Number(m[3]), outputCount: Number(m[4]), outputs: [] });
    } else if ((m = line.match(/^y ([0-9a-f]*)$/)) && results.length > 0) {
      results.at(-1)!.outputs.push(new Int8Array(Buffer.from(m[1]!, 'hex')));
    } else if ((m = line.match(/^e (\d+)$/)) && results.length > 0) {
      results.at(-1)!.outputs.push({ status: Number(m[1]) });
    } else if ((m = line.match(/^done (\d+)$/))) {
      done = Number(m[1]) === expectedCases;
    }
  }
  if (!done || results.length !== expectedCases) {
    throw new DataFormatError(`golden runner: output ends after ${results.length} of ${expectedCases} cases:\n${text.slice(-2000)}`);
  }
  return results;
}

/** Runs a job on the host runner. */
export async function runHostJob(exe: string, jobPath: string, cases: number): Promise<CaseResult[]> {
  const r = await execa(exe, [jobPath], { reject: false, maxBuffer: 256 << 20 });
  if (r.exitCode !== 0) throw new ToolError(`golden runner exited with ${r.exitCode}`, exe, `${r.stderr}`);
  return parseRunnerOutput(r.stdout, cases);
}

/** The QEMU command line that runs `elf` on `jobPath` (which must not contain spaces or commas). */
export function qemuRunnerArgs(elf: string, jobPath: string): string[] {
  if (/[\s,]/.test(jobPath) || /[\s,]/.test(elf)) {
    throw new UsageError(`${jobPath}: the job and runner paths must not contain spaces or commas (QEMU's -semihosting-config)`);
  }
  return ['-M', 'mps2-an386', '-nographic', '-monitor', 'none', '-serial', 'none',
    '-semihosting-config', `enable=on,target=native,arg=${elf},arg=${jobPath}`, '-kernel', elf];
}

/** Runs a job on a Cortex-M4 runner in QEMU; no QEMU outlives the call. */
export async function runArmJob(elf: string, jobPath: string, cases: number, timeoutMs = 120_000): Promise<CaseResult[]> {
  const args = qemuRunnerArgs(elf, jobPath);
  let r;
  try {
    r = await execa('qemu-system-arm', args, { reject: false, timeout: timeoutMs, maxBuffer: 256 << 20, stdin: 'ignore' });
  } catch (err) {
    throw missingToolError('qemu-system-arm', err);
  }
  if ((r as { code?: string }).code === 'ENOENT') throw missingToolError('qemu-system-arm', r);
  if (r.timedOut) throw new ToolError(`golden runner timed out after ${timeoutMs} ms in QEMU`, 'qemu-system-arm', r.stdout.slice(-2000));
  if (r.exitCode !== 0) throw new ToolError(`golden runner exited with ${r.exitCode} in QEMU`, 'qemu-system-arm', `${r.stdout.slice(-2000)}\n${r.stderr}`);
  return parseRunnerOutput(r.stdout, cases);
}

/** Writes a job to `dir/name` and returns the path. */
export async function writeJob(dir: string, name: string, cases: readonly JobCase[]): Promise<string> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, name);
  await writeFile(path, encodeJob(cases));
  return path;
}
