/**
 * Golden data from REAL TensorFlow Lite Micro, for test/tflm-golden.test.ts.
 *
 *   node --import tsx scripts/tflm-golden.ts --tflm-dir DIR [--out test/golden/tflm]
 *        [--tflm-commit SHA] [--build-dir build/tflm-golden]
 *
 * DIR is the user's copy of the tflite-micro-arduino-examples library (this
 * script never downloads it, and nothing built from it is committed). TFLM is
 * compiled with its CMSIS-NN kernels for Cortex-M4 (arm-none-eabi-g++, the
 * flags of our emulator firmware) into the golden runner
 * (firmware/tests/tflm_golden/), which runs every case of
 * tflm-golden-cases.ts in one boot of QEMU mps2-an386: the Nano 33 BLE's
 * kernels on the Nano's core. The first build compiles TFLM (about 10 minutes
 * on 2 cores); later ones reuse the objects in --build-dir.
 *
 * Writes DIR_OUT/manifest.json (provenance: TFLM commit and tree hash, compiler
 * and flags, emulator, command, date; one entry per case) and DIR_OUT/cases.bin,
 * then prints what the data covers and how our TypeScript reference compares.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { TinymlError, ToolError, UsageError } from '../src/errors.ts';
import { REPO_ROOT } from '../src/firmware-build/paths.ts';
import { tflmBuildInputs } from '../src/firmware-build/tflm-tree.ts';
import { runTool } from '../src/firmware-build/toolchain.ts';
import { allCases, caseTflite } from './tflm-golden-cases.ts';
import { compareWithTflm, countTies, coverage, describeDisagreements, referenceAnswers } from './tflm-golden-check.ts';
import { encodeGolden, loadGolden, writeGolden, type Provenance } from './tflm-golden-data.ts';
import { buildArmRunner, runArmJob, writeJob } from './tflm-golden-runner.ts';

export interface GenerateOptions {
  readonly tflmDir: string;
  readonly outDir: string;
  readonly buildDir: string;
  /** The library's commit, when DIR is not a git checkout. */
  readonly tflmCommit?: string;
  readonly log?: (line: string) => void;
}

/** A hash of every file under the library's src/, so the tree TFLM came from is identified even without git. */
function treeHash(dir: string): string {
  const hash = createHash('sha256');
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else hash.update(`${relative(dir, p)}\0`).update(readFileSync(p));
    }
  };
  walk(dir);
  return hash.digest('hex');
}

async function tflmSource(tflmDir: string, commit: string | undefined): Promise<Provenance['tflm']> {
  const root = resolve(tflmDir);
  const props = join(root, 'library.properties');
  const version = existsSync(props) ? (readFileSync(props, 'utf8').match(/^version=(.*)$/m)?.[1] ?? 'unknown') : 'unknown';
  let head = commit;
  if (head === undefined) {
    try {
      head = await runTool('git', ['-C', root, 'rev-parse', 'HEAD'], 'reading the TFLM commit');
    } catch {
      throw new UsageError(`--tflm-dir ${tflmDir} is not a git checkout: say which commit it is with --tflm-commit SHA`);
    }
  }
  const src = existsSync(join(root, 'src')) ? join(root, 'src') : root;
  return {
    source: `tensorflow/tflite-micro-arduino-examples (Arduino_TensorFlowLite ${version}), src/ tree SHA-256 ${treeHash(src)}`,
    commit: head,
    version,
  };
}

/** Builds TFLM, runs every case on it in QEMU and writes the golden data; returns the summary lines. */
export async function generateTflmGolden(options: GenerateOptions): Promise<string[]> {
  const log = options.log ?? (() => {});
  tflmBuildInputs(options.tflmDir); // a UsageError naming what the folder lacks, before any work
  if (options.tflmCommit !== undefined && !/^[0-9a-f]{7,40}$/.test(options.tflmCommit)) {
    throw new UsageError(`--tflm-commit ${options.tflmCommit}: give the commit as 7 to 40 hex digits`);
  }
  const tflm = await tflmSource(options.tflmDir, options.tflmCommit);
  const cases = allCases();
  const tflites = cases.map(caseTflite);
  log(`building TFLM (CMSIS-NN) for Cortex-M4 into ${options.buildDir} ...`);
  const runner = await buildArmRunner({ runtime: 'tflm', tflmDir: options.tflmDir, outDir: join(options.buildDir, 'tflm') });
  const job = await writeJob(options.buildDir, 'job.bin', cases.map((c, i) => ({ model: tflites[i]!, inputLength: c.inputs[0]!.length, inputs: c.inputs })));
  log(`running ${cases.length} cases in QEMU mps2-an386 ...`);
  const results = await runArmJob(runner.elf, job, cases.length);
  results.forEach((r, i) => {
    if (r.init === 0 && !r.outputs.every((o) => o instanceof Int8Array)) {
      throw new ToolError(`TFLM loaded ${cases[i]!.id} but failed to run it`, 'qemu-system-arm', JSON.stringify(r.outputs.filter((o) => !(o instanceof Int8Array))));
    }
  });
  // The CMSIS-NN kernels the Nano runs must be what ran: their entry points are in the ELF.
  const symbols = await runTool('arm-none-eabi-nm', [runner.elf], 'listing the runner\'s symbols');
  const kernels = ['arm_fully_connected_s8', 'arm_nn_vec_mat_mult_t_s8', 'arm_softmax_s8'];
  const missing = kernels.filter((k) => !new RegExp(` T ${k}$`, 'm').test(symbols));
  if (missing.length > 0) throw new ToolError(`the TFLM runner does not link the CMSIS-NN kernels ${missing.join(', ')}`, 'arm-none-eabi-nm', '');
  const qemu = (await runTool('qemu-system-arm', ['--version'], 'asking QEMU its version')).split('\n')[0]!;
  const provenance: Provenance = {
    tflm,
    target: 'Cortex-M4F (QEMU mps2-an386), semihosting; runtime: firmware/runtime/tflm/runtime_tflm.cc',
    kernels: `TFLM cmsis_nn FULLY_CONNECTED and SOFTMAX (Register_*_INT8), CMSIS-NN C sources from the same tree; linked: ${kernels.join(', ')}`,
    compiler: runner.compiler,
    compilerFlags: runner.flags,
    defines: runner.defines,
    emulator: qemu,
    command: 'node --import tsx scripts/tflm-golden.ts --tflm-dir <tflite-micro-arduino-examples>' + (options.tflmCommit ? ` --tflm-commit ${options.tflmCommit}` : ''),
    generator: 'scripts/tflm-golden.ts, cases from scripts/tflm-golden-cases.ts',
    date: new Date().toISOString(),
  };
  const golden = encodeGolden(cases, tflites, results.map((r) => ({ init: r.init, outputCount: r.outputCount, outputs: r.outputs as Int8Array[] })), provenance);
  await writeGolden(options.outDir, golden);

  const loaded = loadGolden(options.outDir);
  const cover = coverage(loaded.cases);
  const refusals = loaded.cases.filter((c) => c.entry.tflm.init !== 0).map((c) => `${c.entry.id} (status ${c.entry.tflm.init})`);
  const reference = compareWithTflm(loaded.cases, referenceAnswers(loaded.cases));
  return [
    `wrote ${join(options.outDir, 'manifest.json')} and cases.bin (${golden.data.length} bytes)`,
    `cases: ${Object.entries(cover).map(([k, v]) => `${k} ${v}`).join(', ')}`,
    `exact rounding ties (BigInt): ${Object.entries(countTies(loaded.cases)).map(([k, v]) => `${k} ${v}`).join(', ')}`,
    `TFLM refused: ${refusals.join(', ') || 'none'}`,
    reference.length === 0
      ? 'TypeScript reference: equal to TFLM on every output'
      : `TypeScript reference differs from TFLM in ${reference.length} places:\n${describeDisagreements(reference)}`,
  ];
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'tflm-dir': { type: 'string' },
      'tflm-commit': { type: 'string' },
      out: { type: 'string', default: join(REPO_ROOT, 'test', 'golden', 'tflm') },
      'build-dir': { type: 'string', default: join(REPO_ROOT, 'build', 'tflm-golden') },
    },
    strict: true,
  });
  if (values['tflm-dir'] === undefined) {
    throw new UsageError('--tflm-dir is required: point it at a tflite-micro-arduino-examples library folder');
  }
  const lines = await generateTflmGolden({
    tflmDir: values['tflm-dir'],
    tflmCommit: values['tflm-commit'],
    outDir: resolve(values.out!),
    buildDir: resolve(values['build-dir']!),
    log: (l) => console.error(l),
  });
  console.log(lines.join('\n'));
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    // As the CLI does (src/cli/run.ts): a TinymlError is one `error:` line (a
    // ToolError adds the tool's output after it); anything else is a bug.
    if (err instanceof TinymlError) {
      process.stderr.write(`error: ${err.message}\n`);
      process.exit(err.exitCode);
    }
    if (err instanceof TypeError && (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`error: ${err.message}: usage: scripts/tflm-golden.ts --tflm-dir DIR [--out DIR] [--tflm-commit SHA] [--build-dir DIR]\n`);
      process.exit(2);
    }
    console.error(err);
    process.exit(1);
  });
}
