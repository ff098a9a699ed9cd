/**
 * The TinyML course exercise's five runs, and the plan of one exercise: which
 * stages, in which folders, and the fingerprints that say whether a stage already
 * in the output folder was made with the same settings (so it is reused, not
 * trained again). Pure: no I/O.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { UsageError } from '../errors.ts';
import type { BoardName } from '../deploy/targets.ts';
import type { RuntimeKind } from '../firmware-build/budget.ts';
import type { NotebookFigures } from '../report/row.ts';

export type StageName = 'base' | 'wide' | 'deep' | 'unnormalized' | 'early-stop';

export interface StageSpec {
  readonly name: StageName;
  readonly title: string;
  readonly hidden: readonly number[];
  readonly normalize: boolean;
  /** The notebook's callback: stop once training accuracy passes this (never before epoch 2 ends). */
  readonly stopAtAccuracy: number | null;
  readonly notebook: NotebookFigures | null;
}

export const STAGES: readonly StageSpec[] = [
  {
    name: 'base',
    title: 'Dense(20)',
    hidden: [20],
    normalize: true,
    stopAtAccuracy: null,
    // The notebook's printed run: about 0.866 training and 0.85 test accuracy after 5 epochs.
    notebook: { trainAccuracy: 0.866, testAccuracy: 0.85 },
  },
  { name: 'wide', title: 'Dense(1024)', hidden: [1024], normalize: true, stopAtAccuracy: null, notebook: null },
  { name: 'deep', title: 'Dense(512), Dense(512)', hidden: [512, 512], normalize: true, stopAtAccuracy: null, notebook: null },
  { name: 'unnormalized', title: 'deep, raw 0..255 pixels', hidden: [512, 512], normalize: false, stopAtAccuracy: null, notebook: null },
  { name: 'early-stop', title: 'deep, stop at 86% training accuracy', hidden: [512, 512], normalize: true, stopAtAccuracy: 0.86, notebook: null },
];

export const STAGE_NAMES: readonly StageName[] = STAGES.map((s) => s.name);

/** `base,wide` -> their specs in the exercise's order; every stage when `list` is absent. */
export function parseStages(list: string | undefined): StageSpec[] {
  if (list === undefined) return [...STAGES];
  const names = list.split(',').map((s) => s.trim()).filter(Boolean);
  if (names.length === 0) throw new UsageError(`--stages '${list}' names no stage: use some of ${STAGE_NAMES.join(',')}`);
  for (const n of names) {
    if (!(STAGE_NAMES as readonly string[]).includes(n)) {
      throw new UsageError(`--stages: '${n}' is not a stage of the exercise: use some of ${STAGE_NAMES.join(',')}`);
    }
  }
  return STAGES.filter((s) => names.includes(s.name));
}

/** Everything that decides what a stage produces. */
export interface ExerciseSettings {
  readonly epochs: number;
  readonly batchSize: number;
  readonly seed: number;
  readonly calibrationSamples: number;
  /** Device samples to validate. */
  readonly samples: number;
  readonly board: BoardName;
  readonly runtime: RuntimeKind;
  /** SHA-256 of the training and test data actually used (after --limit-train / --limit-test). */
  readonly trainDataSha256: string;
  readonly testDataSha256: string;
}

export interface StagePlan {
  readonly spec: StageSpec;
  /** The stage's model folder. */
  readonly dir: string;
  /** Same key: the trained model in `dir` can be reused. */
  readonly trainKey: string;
  /** Same key: the whole stage (quantized, evaluated, validated) can be reused. */
  readonly stageKey: string;
}

/** A short stable hash of a JSON value (keys sorted), to compare settings across runs. */
export function fingerprint(value: unknown): string {
  const canonical = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(canonical)
      : v && typeof v === 'object'
        ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical((v as Record<string, unknown>)[k])]))
        : v;
  return createHash('sha256').update(JSON.stringify(canonical(value))).digest('hex').slice(0, 16);
}

/** Bumped when what a stage records changes, so old folders are redone rather than misread. */
const RECORD_VERSION = 1;

export function planStages(specs: readonly StageSpec[], settings: ExerciseSettings, outDir: string): StagePlan[] {
  return specs.map((spec) => {
    const trainKey = fingerprint({
      v: RECORD_VERSION,
      hidden: spec.hidden,
      normalize: spec.normalize,
      stopAtAccuracy: spec.stopAtAccuracy,
      epochs: settings.epochs,
      batchSize: settings.batchSize,
      seed: settings.seed,
      train: settings.trainDataSha256,
      test: settings.testDataSha256,
    });
    const stageKey = fingerprint({
      trainKey,
      calibrationSamples: settings.calibrationSamples,
      samples: settings.samples,
      board: settings.board,
      runtime: settings.runtime,
    });
    return { spec, dir: join(outDir, spec.name), trainKey, stageKey };
  });
}
