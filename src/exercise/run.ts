/**
 * `tinyml exercise`: the course exercise's stages end to end. For each stage:
 * train (trainModel), quantize, export, evaluate on the host, then, when the model
 * fits the board's budget, build + flash + validate on the device. Each stage is
 * the same function its own command runs; this file only sequences them, reuses
 * stages already done with the same settings, and writes report.json and
 * report.html into the output folder. With a farm (--redis), training and the
 * device run go to the farm's workers instead (farm.ts); the rest is the same.
 */
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { UsageError } from '../errors.ts';
import { ValidationFailedError } from '../validate/validate.ts';
import { loadFashionMnist, type Dataset } from '../data/fashion-mnist.ts';
import { initBackend } from '../train/backend.ts';
import { trainModel, type TrainProgress } from '../train/train.ts';
import { saveModel } from '../train/model-store.ts';
import { runQuantize } from '../quantize/quantize-folder.ts';
import { runExport } from '../export/export-folder.ts';
import { runEvaluate } from '../evaluate/evaluate-folder.ts';
import { runDeploy } from '../deploy/deploy.ts';
import type { BuildResult } from '../deploy/build.ts';
import { connectExerciseFarm, stageTrainJob, trainStageOnFarm, validateStageOnFarm, type ExerciseFarm } from './farm.ts';
import { budgetBoard, checkBoard, defaultRuntime, type BoardName } from '../deploy/targets.ts';
import { planBudget, RUNTIME_KINDS, type RuntimeKind } from '../firmware-build/budget.ts';
import { readInt8Model } from '../model/int8-file.ts';
import { modelPaths } from '../model/model-dir.ts';
import { writeFileAtomic, writeJsonAtomic } from '../util/atomic-write.ts';
import { readModelEvidence } from '../report/evidence.ts';
import { renderReport } from '../report/render.ts';
import { provenance } from '../report/provenance.ts';
import { parseStages, planStages, type ExerciseSettings, type StagePlan } from './stages.ts';
import { stageRow, type StageRow } from '../report/row.ts';

export interface ExerciseOptions {
  readonly out: string;
  readonly epochs: number;
  readonly limitTrain?: number;
  readonly limitTest?: number;
  readonly samples: number;
  readonly board: string;
  readonly port?: string;
  readonly runtime?: string;
  readonly tflmDir?: string;
  readonly arduinoCli?: string;
  /** Comma-separated stage names; all five when absent. */
  readonly stages?: string;
  readonly seed: number;
  readonly force: boolean;
  readonly dataDir?: string;
  readonly calibrationSamples?: number;
  /** A board farm's Redis: training goes to `tinyml worker --train`, device runs to board workers. */
  readonly redis?: string;
  /** With redis: shards per device run (default 1). */
  readonly shards?: number;
  /** The memory budget; default planBudget. Tests pass a stricter one to see a stage that does not fit. */
  readonly planBudget?: typeof planBudget;
}

export type ExerciseEvent =
  | { readonly kind: 'stage'; readonly index: number; readonly total: number; readonly name: string; readonly title: string }
  | { readonly kind: 'step'; readonly line: string }
  | { readonly kind: 'train'; readonly progress: TrainProgress }
  | { readonly kind: 'samples'; readonly done: number; readonly total: number };

export interface ExerciseResult {
  readonly out: string;
  readonly settings: ExerciseSettings;
  readonly stages: readonly StageRow[];
  /** Path of report.html. */
  readonly report: string;
  readonly reportJson: string;
}

/** What a finished stage leaves in its folder, so a later run can reuse it. */
interface StageRecord {
  readonly trainKey: string;
  readonly stageKey: string;
  readonly row: StageRow;
}
const STAGE_RECORD = 'exercise-stage.json';

function wholeNumber(value: number | undefined, flag: string): void {
  if (value !== undefined && (!Number.isInteger(value) || value < 1)) {
    throw new UsageError(`${flag} ${value} is not a positive whole number; try ${flag} 1000`);
  }
}

async function readRecord(dir: string): Promise<StageRecord | null> {
  try {
    return JSON.parse(await readFile(join(dir, STAGE_RECORD), 'utf8')) as StageRecord;
  } catch {
    // Missing or unreadable: the stage is simply done again.
    return null;
  }
}

export async function runExercise(options: ExerciseOptions, onEvent: (e: ExerciseEvent) => void = () => undefined): Promise<ExerciseResult> {
  wholeNumber(options.epochs, '--epochs');
  wholeNumber(options.limitTrain, '--limit-train');
  wholeNumber(options.limitTest, '--limit-test');
  wholeNumber(options.samples, '--samples');
  if (!Number.isSafeInteger(options.seed) || options.seed < 0) throw new UsageError(`--seed ${options.seed} must be a non-negative whole number`);
  const board: BoardName = checkBoard(options.board);
  if (options.runtime !== undefined && !(RUNTIME_KINDS as readonly string[]).includes(options.runtime)) {
    throw new UsageError(`--runtime ${options.runtime}: use native or tflm`);
  }
  const runtime: RuntimeKind = (options.runtime as RuntimeKind | undefined) ?? defaultRuntime(board, options.tflmDir);
  if (board === 'emulator' && options.port) throw new UsageError('--port is for --board nano33ble; the emulator boots its own');
  if (options.redis !== undefined) {
    if (options.port || options.tflmDir || options.arduinoCli) throw new UsageError('--port, --tflm-dir and --arduino-cli are for a local board: with --redis each farm worker has its own');
  } else if (options.shards !== undefined) {
    throw new UsageError('--shards splits the device run over a farm: give --redis too');
  }
  const specs = parseStages(options.stages);
  const step = (line: string) => onEvent({ kind: 'step', line });
  const farm = options.redis === undefined ? null : await connectExerciseFarm(options.redis, options.shards ?? 1, options.samples);
  try {
    return await runStages(options, { board, runtime, specs, step, onEvent, farm });
  } finally {
    await farm?.close();
  }
}

interface RunInput {
  readonly board: BoardName;
  readonly runtime: RuntimeKind;
  readonly specs: ReturnType<typeof parseStages>;
  readonly step: (line: string) => void;
  readonly onEvent: (e: ExerciseEvent) => void;
  readonly farm: ExerciseFarm | null;
}

async function runStages(options: ExerciseOptions, { board, runtime, specs, step, onEvent, farm }: RunInput): Promise<ExerciseResult> {
  const backend = await initBackend();
  const train = await loadFashionMnist({ dataDir: options.dataDir, split: 'train', limit: options.limitTrain });
  const test = await loadFashionMnist({ dataDir: options.dataDir, split: 'test', limit: options.limitTest });
  const settings: ExerciseSettings = {
    epochs: options.epochs,
    batchSize: 32,
    seed: options.seed,
    calibrationSamples: options.calibrationSamples ?? 500,
    samples: options.samples,
    board,
    runtime,
    trainDataSha256: train.sha256,
    testDataSha256: test.sha256,
  };
  const plans = planStages(specs, settings, options.out);
  step(
    `${plans.length} stage(s) into ${options.out}: ${train.count} training and ${test.count} test images from ${train.source}, ` +
      (farm ? `on the farm at ${farm.display} (training on train workers, ${board} runs on board workers)` : `backend ${backend}, board ${board} (${runtime})`),
  );

  const rows: StageRow[] = [];
  for (const [i, plan] of plans.entries()) {
    onEvent({ kind: 'stage', index: i + 1, total: plans.length, name: plan.spec.name, title: plan.spec.title });
    rows.push(await runStage(plan, { options, settings, train, test, board, runtime, onEvent, step, farm }));
  }

  const out = resolve(options.out);
  const reportPath = join(out, 'report.html');
  const reportJson = join(out, 'report.json');
  const evidence = await Promise.all(plans.map((p) => readModelEvidence(p.dir)));
  const prov = await provenance({ backend, board, runtime, trainDataSha256: train.sha256, testDataSha256: test.sha256 });
  const html = await renderReport({
    title: 'The TinyML course exercise',
    subtitle: `${rows.length} stage(s), ${settings.epochs} epoch(s), ${train.count} training images, seed ${settings.seed}, board ${board} (${runtime} runtime)`,
    stages: rows.map((row, k) => ({ row, evidence: evidence[k]! })),
    provenance: prov,
  });
  await writeJsonAtomic(reportJson, { settings, stages: rows, report: reportPath, provenance: prov });
  await writeFileAtomic(reportPath, html);
  return { out, settings, stages: rows, report: reportPath, reportJson };
}

interface StageContext {
  readonly options: ExerciseOptions;
  readonly settings: ExerciseSettings;
  readonly train: Dataset;
  readonly test: Dataset;
  readonly board: BoardName;
  readonly runtime: RuntimeKind;
  readonly onEvent: (e: ExerciseEvent) => void;
  readonly step: (line: string) => void;
  readonly farm: ExerciseFarm | null;
}

async function runStage(plan: StagePlan, ctx: StageContext): Promise<StageRow> {
  const { options, settings, step } = ctx;
  const { spec, dir } = plan;
  const paths = modelPaths(dir);
  const record = options.force ? null : await readRecord(dir);
  if (record && record.stageKey === plan.stageKey && existsSync(paths.int8Tflite) && existsSync(paths.evaluation)) {
    step(`${spec.name}: reused from ${dir} (same settings; --force redoes it)`);
    return { ...record.row, dir, reused: true };
  }

  if (record && record.trainKey === plan.trainKey && existsSync(join(dir, 'model.json'))) {
    step(`${spec.name}: the trained model in ${dir} is reused (same training settings)`);
  } else {
    step(`${spec.name}: training 784 -> ${spec.hidden.join(' -> ')} -> 10, ${spec.normalize ? 'inputs /255' : 'raw 0..255 inputs'}` +
      (spec.stopAtAccuracy !== null ? `, stop once training accuracy > ${spec.stopAtAccuracy}` : ''));
    if (ctx.farm) {
      await trainStageOnFarm(ctx.farm, stageTrainJob(spec, settings, options.limitTrain, options.limitTest), dir, (progress) => ctx.onEvent({ kind: 'train', progress }), step);
    } else {
      const { model, metrics } = await trainModel({
        train: ctx.train,
        test: ctx.test,
        hidden: spec.hidden,
        epochs: settings.epochs,
        batchSize: settings.batchSize,
        normalize: spec.normalize,
        stopAtAccuracy: spec.stopAtAccuracy ?? undefined,
        seed: settings.seed,
        onProgress: (progress) => ctx.onEvent({ kind: 'train', progress }),
      });
      try {
        await saveModel(model, dir, { name: spec.name, ...metrics });
      } finally {
        model.dispose();
      }
    }
  }

  const q = await runQuantize({ model: dir, 'calibration-samples': settings.calibrationSamples, 'per-channel': false, float: false, 'data-dir': options.dataDir });
  await runExport({ model: dir, symbol: 'g_model' });
  step(`${spec.name}: quantized (${q.int8Bytes} bytes) and exported; evaluating on ${ctx.test.count} test images`);
  await runEvaluate({ model: dir, limit: options.limitTest, json: true, 'data-dir': options.dataDir });

  const { model, bytes } = await readInt8Model(dir);
  const budget = (options.planBudget ?? planBudget)({ model, modelBytes: bytes.length, runtime: ctx.runtime, board: budgetBoard(ctx.board) });
  let build: Pick<BuildResult, 'flash' | 'ram'> | null = null;
  const onSamples = (done: number, total: number) => ctx.onEvent({ kind: 'samples', done, total });
  if (budget.fits && ctx.farm) {
    step(`${spec.name}: validate ${settings.samples} samples on the farm's ${ctx.board} workers`);
    const run = await validateStageOnFarm(ctx.farm, { dir, board: ctx.board, samples: settings.samples, dataDir: options.dataDir }, onSamples, step);
    if (run.report.runtime !== ctx.runtime) step(`${spec.name}: the farm's workers run the ${run.report.runtime} runtime (the budget was checked for ${ctx.runtime})`);
    build = run.firmware;
  } else if (budget.fits) {
    step(`${spec.name}: build, flash and validate ${settings.samples} samples on ${ctx.board}`);
    const deployed = await runDeploy(
      {
        model: dir,
        board: ctx.board,
        runtime: ctx.runtime,
        'tflm-dir': options.tflmDir,
        port: options.port,
        'arduino-cli': options.arduinoCli,
        samples: settings.samples,
        json: true,
        'data-dir': options.dataDir,
      },
      step,
      onSamples,
    );
    build = deployed.build;
  } else {
    // A validation.json left from an earlier run would describe a run that did not happen now.
    await rm(paths.validation, { force: true });
    step(`${spec.name}: does not fit ${budget.board.name} with the ${ctx.runtime} runtime (flash ${budget.flash.used} of ${budget.flash.max} bytes, RAM ${budget.ram.used} of ${budget.ram.max}); no device run`);
  }
  const evidence = await readModelEvidence(dir);
  const row = stageRow({ spec, dir, evidence, budget, build });
  await writeJsonAtomic(join(dir, STAGE_RECORD), { trainKey: plan.trainKey, stageKey: plan.stageKey, row } satisfies StageRecord);
  return row;
}

/** Throws ValidationFailedError when a stage's device outputs differ from the reference (after the report is written). */
export function assertExercisePassed(result: ExerciseResult): void {
  const failed = result.stages.filter((s) => s.passed === false);
  if (failed.length) {
    throw new ValidationFailedError(
      `the device's outputs differ from the reference in stage(s) ${failed.map((s) => s.name).join(', ')}: see ${result.report}`,
    );
  }
}
