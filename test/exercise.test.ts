/**
 * `tinyml exercise`: the planner (pure), then the real CLI on small stages: two
 * stages end to end on the emulator with their report, a second run that reuses
 * them, `tinyml report` on one stage, and a stage that does not fit its board
 * reported as such without failing the run.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../src/errors.ts';
import { fingerprint, parseStages, planStages, STAGE_NAMES, type ExerciseSettings } from '../src/exercise/stages.ts';
import { decodePng, pictureStats } from './helpers/png-decode.ts';
import { CHROMIUM, screenshot } from './helpers/chromium.ts';
import { assertOneLineError, tinyml } from './helpers/cli.ts';
import { emulatorSkipReason, hasCommand, qemuUnder } from './helpers/processes.ts';
import { startLocalRedis } from './helpers/local-redis.ts';
import { execa } from 'execa';

const BIN = join(import.meta.dirname, '..', 'bin', 'tinyml.js');

const settings: ExerciseSettings = {
  epochs: 5,
  batchSize: 32,
  seed: 1,
  calibrationSamples: 500,
  samples: 1000,
  board: 'emulator',
  runtime: 'native',
  trainDataSha256: 'a'.repeat(64),
  testDataSha256: 'b'.repeat(64),
};

test('the five stages, in the exercise order, with the notebook callback on early-stop only', () => {
  assert.deepEqual(STAGE_NAMES, ['base', 'wide', 'deep', 'unnormalized', 'early-stop']);
  const all = parseStages(undefined);
  assert.deepEqual(all.map((s) => s.hidden), [[20], [1024], [512, 512], [512, 512], [512, 512]]);
  assert.deepEqual(all.map((s) => s.normalize), [true, true, true, false, true]);
  assert.deepEqual(all.map((s) => s.stopAtAccuracy), [null, null, null, null, 0.86]);
  assert.deepEqual(parseStages('early-stop, base').map((s) => s.name), ['base', 'early-stop']);
  assert.throws(() => parseStages('base,huge'), (e: Error) => e instanceof UsageError && /'huge' is not a stage/.test(e.message));
  assert.throws(() => parseStages(','), UsageError);
});

test('fingerprints: training settings decide reuse of the model, device settings of the whole stage', () => {
  const [a] = planStages(parseStages('base'), settings, 'out');
  assert.equal(a!.dir, join('out', 'base'));
  const [b] = planStages(parseStages('base'), { ...settings, samples: 50, board: 'nano33ble', runtime: 'tflm' }, 'out');
  assert.equal(b!.trainKey, a!.trainKey);
  assert.notEqual(b!.stageKey, a!.stageKey);
  for (const change of [{ epochs: 4 }, { seed: 2 }, { trainDataSha256: 'c'.repeat(64) }, { testDataSha256: 'c'.repeat(64) }]) {
    const [c] = planStages(parseStages('base'), { ...settings, ...change }, 'out');
    assert.notEqual(c!.trainKey, a!.trainKey, JSON.stringify(change));
    assert.notEqual(c!.stageKey, a!.stageKey);
  }
  const keys = planStages(parseStages(undefined), settings, 'out').map((p) => p.trainKey);
  assert.equal(new Set(keys).size, 5, 'every stage trains something different');
  assert.equal(fingerprint({ x: 1, y: [2, { z: 3, w: 4 }] }), fingerprint({ y: [2, { w: 4, z: 3 }], x: 1 }));
});

const skip = emulatorSkipReason();

const ROW_FIELDS = [
  'name', 'hidden', 'normalize', 'stopAtAccuracy', 'epochsRun', 'trainSeconds', 'trainAccuracy', 'floatAccuracy', 'int8Accuracy',
  'tfliteAccuracy', 'deviceAccuracy', 'samples', 'exactAgreement', 'tfliteBytes', 'flashBytes', 'ramBytes', 'fits', 'latencyCycles', 'latencyMicros',
];

describe('tinyml exercise', { skip }, () => {
  let work: string;
  let out: string;
  const quick = ['--stages', 'base,early-stop', '--limit-train', '2000', '--limit-test', '500', '--epochs', '2', '--samples', '50', '--json'];
  let first: { stages: Record<string, unknown>[]; report: string };

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'tinyml-exercise-'));
    out = join(work, 'ex');
  });

  test('two stages end to end on the emulator: JSON row per stage, report.json and report.html', { timeout: 900_000 }, async () => {
    const r = await tinyml(['exercise', '--out', out, ...quick], { cwd: work });
    assert.equal(r.code, 0, r.stderr);
    first = JSON.parse(r.stdout);
    assert.deepEqual(first.stages.map((s) => s.name), ['base', 'early-stop']);
    for (const s of first.stages) {
      for (const f of ROW_FIELDS) assert.ok(f in s, `stage ${s.name} lacks ${f}`);
      assert.equal(s.fits, true);
      assert.equal(s.samples, 50);
      assert.equal(s.exactAgreement, 1, `device differs from the reference in ${s.name}`);
      assert.equal(s.epochsRun, 2);
      for (const f of ['trainAccuracy', 'floatAccuracy', 'int8Accuracy', 'tfliteAccuracy', 'deviceAccuracy']) {
        assert.ok(typeof s[f] === 'number' && s[f] > 0.3 && s[f] <= 1, `${s.name}.${f} = ${s[f]}`);
      }
      const l = s.latencyCycles as { p50: number; p90: number; p99: number; max: number };
      assert.ok(l.p50 > 0 && l.p50 <= l.p90 && l.p90 <= l.p99 && l.p99 <= l.max);
      assert.equal(s.memorySource, 'build');
    }
    const [base, early] = first.stages as { hidden: number[]; stopAtAccuracy: number | null; tfliteBytes: number; latencyCycles: { p50: number } }[];
    assert.deepEqual(base!.hidden, [20]);
    assert.deepEqual(early!.hidden, [512, 512]);
    assert.equal(early!.stopAtAccuracy, 0.86);
    assert.ok(early!.tfliteBytes > 20 * base!.tfliteBytes);
    assert.ok(early!.latencyCycles.p50 > 10 * base!.latencyCycles.p50, 'the deep model takes longer per inference');
    assert.equal(first.report, join(out, 'report.html'));
    const saved = JSON.parse(await readFile(join(out, 'report.json'), 'utf8'));
    assert.deepEqual(saved.stages, first.stages);
    // Progress: stage k of n, epochs and batches with an ETA, device samples.
    assert.match(r.stderr, /stage 1\/2 base/);
    assert.match(r.stderr, /stage 2\/2 early-stop/);
    assert.match(r.stderr, /stage 2\/2 early-stop: epoch 2\/2 +batch \d+\/63 .*ETA/);
    assert.match(r.stderr, /device samples 50\/50/);
    assert.deepEqual(qemuUnder(work), [], 'QEMU left running');
  });

  test('on a farm (one train worker, one emulator worker): the same stage row as the local run; a rerun with --force runs nothing new', { skip: hasCommand('redis-server') ? false : 'needs redis-server', timeout: 900_000 }, async (t) => {
    const local = await startLocalRedis(work);
    const worker = (args: string[]) =>
      execa(process.execPath, [BIN, 'worker', '--redis', local.url, ...args, '--cache-dir', join(work, 'farm-cache')], { cwd: work, reject: false, all: true, stdin: 'ignore' });
    const workers = [worker(['--train', '--name', 'trainer']), worker(['--board', 'emulator', '--name', 'board'])];
    const farmOut = join(work, 'farm-ex');
    const args = ['exercise', '--out', farmOut, '--redis', local.url, ...quick.slice(2), '--stages', 'base', '--shards', '2'];
    try {
      const t0 = Date.now();
      const r = await tinyml(args, { cwd: work });
      assert.equal(r.code, 0, r.stderr);
      t.diagnostic(`base on the farm: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      assert.match(r.stderr, /base: trained by trainer/);
      assert.match(r.stderr, /submitted to the farm: 2 shard\(s\) of 50 samples on emulator/);
      assert.match(r.stderr, /stage 1\/1 base: epoch 2\/2/, 'training progress relayed from the train worker');
      const [farmRow] = JSON.parse(r.stdout).stages as Record<string, unknown>[];
      const localRow = first.stages[0]!;
      for (const f of ROW_FIELDS.filter((f) => !['trainSeconds', 'latencyCycles', 'latencyMicros'].includes(f))) assert.deepEqual(farmRow![f], localRow[f], f);
      assert.equal(farmRow!.memorySource, 'build');
      // Instruction counts vary by a few dozen between runs (UART interrupts land at different points).
      const p50 = (row: Record<string, unknown>) => (row.latencyCycles as { p50: number }).p50;
      assert.ok(Math.abs(p50(farmRow!) - p50(localRow)) <= 0.01 * p50(localRow), `p50 ${p50(farmRow!)} vs ${p50(localRow)}`);
      const validation = JSON.parse(await readFile(join(farmOut, 'base', 'validation.json'), 'utf8'));
      assert.equal(validation.detail.deviceTop1.length, 50);
      assert.equal(typeof validation.hostFloatAccuracy, 'number');
      assert.deepEqual(validation.farm.shards.map((s: { count: number }) => s.count), [25, 25]);
      assert.ok(existsSync(join(farmOut, 'report.html')));

      // Exactly once: the same training and the same submission are found, not run again.
      const again = await tinyml([...args, '--force'], { cwd: work });
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stderr, /base: training already queued or done on the farm/);
      assert.match(again.stderr, /already on the farm: 2 shard/);
      assert.doesNotMatch(again.stderr, /trainer: job|epoch 1\//);
      const [rerun] = JSON.parse(again.stdout).stages as Record<string, unknown>[];
      assert.equal(rerun!.deviceAccuracy, farmRow!.deviceAccuracy);
      const status = JSON.parse((await tinyml(['farm', 'status', '--redis', local.url, '--json'], { cwd: work })).stdout);
      const counts = Object.fromEntries(status.queues.map((q: { queue: string; completed: number }) => [q.queue, q.completed]));
      assert.deepEqual([counts['tinyml-train'], counts['tinyml-shards-emulator'], counts['tinyml-merge']], [1, 2, 1]);
      assert.deepEqual(status.workers.map((w: { worker: string; board: string }) => `${w.worker}:${w.board}`).sort(), ['board:emulator', 'trainer:train']);
    } finally {
      for (const w of workers) w.kill('SIGTERM');
      const ends = await Promise.all(workers);
      await local.stop();
      for (const e of ends) assert.equal(e.exitCode, 0, e.all);
    }
    assert.deepEqual(qemuUnder(work), [], 'QEMU left running');
  });

  test('the report shows both stages and renders in Chromium', { skip: CHROMIUM ? false : 'needs chromium', timeout: 120_000 }, async () => {
    const html = await readFile(join(out, 'report.html'), 'utf8');
    assert.ok(html.includes('base: on the device') && html.includes('early-stop: on the device'));
    assert.ok(html.includes('notebook ~86.6%') && html.includes('notebook ~85.0%'), "the notebook's figures beside ours");
    const shot = await screenshot(join(out, 'report.html'));
    assert.deepEqual(shot.console, []);
    const stats = pictureStats(decodePng(shot.png));
    assert.ok(stats.nonWhite > 50_000 && stats.colours > 50, JSON.stringify(stats));
  });

  test('a second run reuses both stages and trains nothing; --samples changes redo the device part only', { timeout: 900_000 }, async () => {
    const weights = join(out, 'base', 'weights.bin');
    const before = statSync(weights).mtimeMs;
    const r = await tinyml(['exercise', '--out', out, ...quick], { cwd: work });
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /epoch \d/, 'nothing trained');
    assert.match(r.stderr, /base: reused/);
    const again = JSON.parse(r.stdout);
    assert.deepEqual(again.stages.map((s: { reused: boolean }) => s.reused), [true, true]);
    assert.deepEqual(
      again.stages.map((s: { deviceAccuracy: number }) => s.deviceAccuracy),
      first.stages.map((s) => s.deviceAccuracy),
    );
    assert.equal(statSync(weights).mtimeMs, before);

    const more = await tinyml(['exercise', '--out', out, ...quick.slice(2, 8), '--stages', 'base', '--samples', '20', '--json'], { cwd: work });
    assert.equal(more.code, 0, more.stderr);
    assert.doesNotMatch(more.stderr, /epoch \d/);
    assert.match(more.stderr, /base: the trained model in .* is reused/);
    assert.equal(JSON.parse(more.stdout).stages[0].samples, 20);
    assert.equal(statSync(weights).mtimeMs, before);
  });

  test('tinyml report --model on a stage folder', { timeout: 120_000 }, async () => {
    const r = await tinyml(['report', '--model', join(out, 'early-stop'), '--json'], { cwd: work });
    assert.equal(r.code, 0, r.stderr);
    const row = JSON.parse(r.stdout);
    assert.deepEqual(row.found, { metrics: true, evaluation: true, validation: true });
    assert.equal(row.deviceAccuracy, first.stages[1]!.deviceAccuracy);
    assert.match(await readFile(join(out, 'early-stop', 'report.html'), 'utf8'), /Confusion matrix: device/);
  });

  test('a stage that does not fit the board is reported, not failed', { timeout: 900_000 }, async () => {
    // Every stage fits the Nano 33 BLE at int8 (wide with TFLM by about 13 KB), so the budget here is the real one
    // with 100 KB less flash: wide is refused before anything would be built, and the run goes on.
    const { runExercise } = await import('../src/exercise/run.ts');
    const { planBudget } = await import('../src/firmware-build/budget.ts');
    const tighter: typeof planBudget = (o) => {
      const b = planBudget(o);
      const max = b.flash.max - 100_000;
      return { ...b, flash: { ...b.flash, max, free: max - b.flash.used }, fits: b.fits && b.flash.used <= max };
    };
    const result = await runExercise({
      out: join(work, 'nano'), board: 'nano33ble', runtime: 'tflm', stages: 'wide', limitTrain: 300, limitTest: 200,
      epochs: 1, samples: 10, seed: 1, force: false, planBudget: tighter,
    });
    const [wide] = result.stages as unknown as Array<Record<string, unknown>>;
    assert.equal(wide!.name, 'wide');
    assert.equal(wide!.fits, false);
    assert.match(String(wide!.note), /does not fit the Arduino Nano 33 BLE Sense with the tflm runtime/);
    for (const f of ['deviceAccuracy', 'samples', 'exactAgreement', 'latencyCycles', 'latencyMicros']) assert.equal(wide![f], null, f);
    assert.equal(typeof wide!.int8Accuracy, 'number');
    assert.equal(wide!.memorySource, 'budget');
    assert.ok(Number(wide!.flashBytes) > 983_040 - 100_000);
    assert.ok(existsSync(join(work, 'nano', 'report.html')));
  });

  test('bad input: one error line, nothing written', async () => {
    assertOneLineError(await tinyml(['exercise', '--out', join(work, 'bad'), '--stages', 'base,huge'], { cwd: work }), /--stages: 'huge' is not a stage/);
    assertOneLineError(await tinyml(['exercise', '--out', join(work, 'bad'), '--epochs', '0'], { cwd: work }), /--epochs 0 is not a positive whole number/);
    assertOneLineError(await tinyml(['exercise', '--out', join(work, 'bad'), '--port', '/dev/ttyACM0'], { cwd: work }), /--port is for --board nano33ble/);
    assertOneLineError(await tinyml(['exercise', '--out', join(work, 'bad'), '--shards', '2'], { cwd: work }), /--shards splits the device run over a farm: give --redis too/);
    assertOneLineError(await tinyml(['exercise', '--out', join(work, 'bad'), '--redis', 'http://:pw@h:1'], { cwd: work }), /--redis http:\/\/:\*\*\*@h:1: the scheme must be redis:\/\/ or rediss:\/\//);
    assertOneLineError(await tinyml(['exercise', '--out', join(work, 'bad'), '--redis', 'redis://127.0.0.1:1', '--board', 'nano33ble', '--port', '/dev/ttyACM0'], { cwd: work }), /--port, --tflm-dir and --arduino-cli are for a local board/);
    assert.equal(existsSync(join(work, 'bad')), false);
  });
});
