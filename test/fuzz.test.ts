/**
 * Short runs of every fuzzer (`npm run fuzz` runs them at full count):
 * - libFuzzer on the frame decoder + request loop, COBS, and the model reader +
 *   native runtime, a few seconds each under ASan and UBSan (skipped, saying
 *   why, when clang-14 with libFuzzer is not installed);
 * - the differential fuzzer, TypeScript reader + reference against the C reader
 *   + runtime (gcc, ASan + UBSan): both accept or both refuse, equal outputs;
 * - mutated .tflite and IDX files against the TypeScript readers: typed one-line
 *   errors only, nothing slow.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildModelRun, runDifferential } from '../scripts/fuzz/differential.ts';
import { buildFuzzTargets, findFuzzCompiler, FUZZ_TARGETS, runFuzzTarget, writeSeedCorpora } from '../scripts/fuzz/libfuzzer.ts';
import { readerTargets, runReaderMutations } from '../scripts/fuzz/readers.ts';
import { FUZZ_SEED, seedModels } from '../scripts/fuzz/seeds.ts';
import { mutate } from '../scripts/fuzz/mutate.ts';
import { readTflite } from '../src/tflite/reader.ts';
import { mulberry32 } from '../src/util/prng.ts';
import { assertOneLineError, tinyml } from './helpers/cli.ts';

const compiler = await findFuzzCompiler();

describe('libFuzzer smoke run (ASan + UBSan)', () => {
  test(
    'each target runs 20,000 inputs from the seeds with no finding and grows coverage',
    { skip: compiler.cc === null ? `${compiler.reason}; npm run fuzz needs it too` : false },
    async () => {
      const dir = await mkdtemp(join(tmpdir(), 'tinyml-fuzz-'));
      const bins = await buildFuzzTargets(join(dir, 'bin'), compiler.cc!);
      const seeds = await writeSeedCorpora(join(dir, 'seeds'));
      for (const target of FUZZ_TARGETS) {
        assert.ok((await readdir(seeds[target])).length >= 4, `${target}: seed corpus`);
        const r = await runFuzzTarget(target, bins[target], {
          corpusDir: join(dir, 'corpus', target),
          seedDir: seeds[target],
          artifactDir: join(dir, 'artifacts', target),
          runs: 20_000,
          maxSeconds: 60,
        });
        assert.equal(r.finding, null, `${target}: ${r.finding}`);
        assert.ok(r.execs >= 1000, `${target}: ${r.execs} executions`);
        assert.ok(r.cov > 20 && r.ft > r.cov, `${target}: coverage cov ${r.cov} ft ${r.ft}`);
      }
      await rm(dir, { recursive: true, force: true });
    },
  );
});

describe('differential: TypeScript and C readers agree', () => {
  test('600 mutated models: both accept or both refuse; equal outputs where both accept', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tinyml-diff-'));
    const report = await runDifferential({
      seeds: seedModels().map((m) => m.bytes),
      iterations: 600,
      seed: FUZZ_SEED,
      workDir: dir,
      modelRun: await buildModelRun(dir),
    });
    assert.deepEqual(report.mismatches.map((m) => `${m.kind} #${m.iteration}: ${m.detail.split('\n')[0]}`), []);
    // The run must exercise both sides of the question, not just one.
    assert.ok(report.bothAccept >= 50 && report.bothRefuse >= 200, JSON.stringify(report));
    assert.equal(report.outputsCompared, report.bothAccept * 3);
    await rm(dir, { recursive: true, force: true });
  });
});

describe('mutated files against the TypeScript readers', () => {
  for (const target of readerTargets(seedModels().map((m) => m.bytes))) {
    test(`${target.name}: 1,500 mutants give a value or a typed one-line error`, () => {
      const r = runReaderMutations(target, 1500, FUZZ_SEED);
      assert.deepEqual(r.findings.map((f) => `#${f.iteration}: ${f.problem}`), []);
      assert.ok(r.parsed > 0 && r.refused > 100, JSON.stringify(r.errors));
    });
  }
});

describe('a damaged model through the CLI', () => {
  test('tinyml export on mutated .tflite files: one error line, non-zero exit, nothing written', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tinyml-mutant-'));
    const r = mulberry32(FUZZ_SEED);
    const seed = seedModels()[0]!.bytes;
    let tried = 0;
    for (let i = 0; tried < 3 && i < 500; i++) {
      const bad = mutate(seed, r, 4);
      try {
        readTflite(bad);
        continue; // still a valid model: not what this test is about
      } catch {
        tried++;
      }
      const model = join(dir, `m${i}`);
      await mkdir(model);
      await writeFile(join(model, 'model_int8.tflite'), bad);
      const res = await tinyml(['export', '--model', model]);
      assertOneLineError(res, /model_int8|TFLite|tensor|buffer|operator|scale|bias|weights|shape|vtable|truncated|malformed|model/i);
      assert.deepEqual(await readdir(model), ['model_int8.tflite'], 'nothing written beside the model');
    }
    assert.equal(tried, 3);
    await rm(dir, { recursive: true, force: true });
  });
});
