/**
 * npm run fuzz: every fuzzer of the project, at full count, failing on any finding.
 *
 * 1. libFuzzer (clang-14, ASan + UBSan, -fno-sanitize-recover=all) on the frame
 *    decoder and request loop, COBS, the model reader + native runtime, and the
 *    link's input decoder (image_decode):
 *    FUZZ_RUNS executions each (default 1,000,000). Corpora grow in build/fuzz/corpus.
 * 2. The differential fuzzer: FUZZ_DIFF mutated models (default 20,000) through
 *    the TypeScript reader + reference and the C reader + runtime (gcc, ASan + UBSan).
 * 3. Mutations of valid .tflite and IDX files and encoded inputs against the TypeScript readers:
 *    FUZZ_READERS per reader (default 10,000).
 * FUZZ_SEED changes the mutation seed of 2 and 3. Prints a table and writes
 * build/fuzz/report.json; mismatching or crashing inputs are saved under build/fuzz/.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO_ROOT } from '../src/firmware-build/paths.ts';
import { buildModelRun, runDifferential, saveMismatches, type DifferentialReport } from './fuzz/differential.ts';
import { buildFuzzTargets, findFuzzCompiler, FUZZ_TARGETS, runFuzzTarget, writeSeedCorpora, type FuzzRun } from './fuzz/libfuzzer.ts';
import { readerTargets, runReaderMutations, type ReaderReport } from './fuzz/readers.ts';
import { FUZZ_SEED, seedModels } from './fuzz/seeds.ts';

const count = (name: string, dflt: number): number => {
  const v = process.env[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) {
    console.error(`error: ${name}=${v} is not a whole number of iterations`);
    process.exit(2);
  }
  return n;
};

const runs = count('FUZZ_RUNS', 1_000_000);
const diffIterations = count('FUZZ_DIFF', 20_000);
const readerIterations = count('FUZZ_READERS', 10_000);
const seed = count('FUZZ_SEED', FUZZ_SEED);
const out = join(REPO_ROOT, 'build', 'fuzz');
await mkdir(out, { recursive: true });
let findings = 0;

// 1. libFuzzer
const libfuzzer: FuzzRun[] = [];
const compiler = await findFuzzCompiler();
if (compiler.cc === null) {
  console.error(`error: ${compiler.reason}`);
  process.exit(1);
}
console.log(`libFuzzer targets (${compiler.cc}, -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all), ${runs.toLocaleString('en-US')} runs each`);
const bins = await buildFuzzTargets(join(out, 'bin'), compiler.cc);
const seeds = await writeSeedCorpora(join(out, 'seeds'));
for (const target of FUZZ_TARGETS) {
  const r = await runFuzzTarget(target, bins[target], {
    corpusDir: join(out, 'corpus', target),
    seedDir: seeds[target],
    artifactDir: join(out, 'artifacts', target),
    runs,
  });
  libfuzzer.push(r);
  console.log(
    `  ${target.padEnd(6)} ${r.execs.toLocaleString('en-US').padStart(11)} execs  cov ${r.cov}  ft ${r.ft}  corpus ${r.corpus}  ` +
      `${r.seconds.toFixed(0)} s  ${r.finding ? 'FINDING' : 'no findings'}`,
  );
  if (r.finding) {
    findings++;
    console.log(r.finding.replace(/^/gm, '    '));
  }
}

// 2. differential
const models = seedModels().map((m) => m.bytes);
const modelRun = await buildModelRun(join(out, 'bin'));
const diff: DifferentialReport = { iterations: 0, bothAccept: 0, bothRefuse: 0, outputsCompared: 0, refusedByStatus: {}, mismatches: [] };
const BATCH = 5000;
for (let done = 0; done < diffIterations; done += BATCH) {
  const r = await runDifferential({
    seeds: models,
    iterations: Math.min(BATCH, diffIterations - done),
    seed: seed + done,
    workDir: join(out, 'diff'),
    modelRun,
  });
  diff.iterations += r.iterations;
  diff.bothAccept += r.bothAccept;
  diff.bothRefuse += r.bothRefuse;
  diff.outputsCompared += r.outputsCompared;
  for (const [k, v] of Object.entries(r.refusedByStatus)) diff.refusedByStatus[Number(k)] = (diff.refusedByStatus[Number(k)] ?? 0) + v;
  diff.mismatches.push(...r.mismatches.map((m) => ({ ...m, iteration: m.iteration + done })));
}
console.log(
  `differential (TS reader + reference vs C reader + runtime, ASan + UBSan): ${diff.iterations.toLocaleString('en-US')} mutants, ` +
    `${diff.bothAccept} accepted by both (${diff.outputsCompared} outputs compared), ${diff.bothRefuse} refused by both, ` +
    `${diff.mismatches.length} mismatches`,
);
console.log(`  C refusals by status: ${JSON.stringify(diff.refusedByStatus)}`);
if (diff.mismatches.length > 0) {
  findings++;
  const saved = await saveMismatches(join(out, 'mismatches'), diff.mismatches);
  for (const m of diff.mismatches.slice(0, 10)) console.log(`  ${m.kind} #${m.iteration}: ${m.detail.split('\n')[0]}`);
  console.log(`  saved ${saved.length} under ${join(out, 'mismatches')}`);
}

// 3. TypeScript readers
const readers: ReaderReport[] = [];
for (const target of readerTargets(models)) {
  const r = runReaderMutations(target, readerIterations, seed);
  readers.push(r);
  console.log(
    `reader ${target.name.padEnd(10)} ${r.iterations.toLocaleString('en-US')} mutants: ${r.parsed} parsed, ${r.refused} refused ` +
      `${JSON.stringify(r.errors)}, slowest ${r.maxMs.toFixed(1)} ms, ${r.findings.length} findings`,
  );
  if (r.findings.length > 0) {
    findings++;
    for (const f of r.findings.slice(0, 5)) console.log(`  #${f.iteration}: ${f.problem}`);
  }
}

await writeFile(
  join(out, 'report.json'),
  JSON.stringify({ runs, seed, libfuzzer, differential: { ...diff, mismatches: diff.mismatches.length }, readers: readers.map((r) => ({ ...r, findings: r.findings.length })) }, null, 2),
);
console.log(findings === 0 ? 'fuzz: no findings' : `fuzz: ${findings} fuzzer(s) reported findings`);
process.exit(findings === 0 ? 0 : 1);
