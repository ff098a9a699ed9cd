/**
 * One model's summary row (a stage of the exercise table, and `--json`'s
 * `stages`), from what the stage functions wrote into its folder. Pure.
 */
import type { BuildResult } from '../deploy/build.ts';
import type { Budget } from '../firmware-build/budget.ts';
import type { Percentiles } from '../validate/validate.ts';
import type { ModelEvidence } from './evidence.ts';

/** What the exercise's notebook itself reports for a stage, where it gives a figure. */
export interface NotebookFigures {
  readonly trainAccuracy: number | null;
  readonly testAccuracy: number | null;
}

/** What the row says about the model itself (an exercise stage, or read from metrics.json). */
export interface RowSpec {
  readonly name: string;
  readonly title: string;
  readonly hidden: readonly number[];
  readonly normalize: boolean;
  readonly stopAtAccuracy: number | null;
  readonly notebook: NotebookFigures | null;
}

export interface StageRow {
  readonly name: string;
  readonly title: string;
  readonly dir: string;
  readonly hidden: readonly number[];
  readonly normalize: boolean;
  readonly stopAtAccuracy: number | null;
  readonly epochsRun: number | null;
  readonly trainSeconds: number | null;
  /** Training accuracy of the last epoch run. */
  readonly trainAccuracy: number | null;
  /** The float model on the test images (training's own pass, --limit-test of them). */
  readonly testAccuracy: number | null;
  /** Host evaluation on the same test images. */
  readonly floatAccuracy: number | null;
  readonly int8Accuracy: number | null;
  readonly tfliteAccuracy: number | null;
  /** Device columns: null when the stage did not run on a device. */
  readonly deviceAccuracy: number | null;
  readonly samples: number | null;
  /** Device outputs byte-identical to the reference's, fraction of samples. */
  readonly exactAgreement: number | null;
  readonly passed: boolean | null;
  readonly tfliteBytes: number;
  readonly modelCrc32: string;
  /** Flash and RAM: measured by the build when the stage was built, else the budget's estimate. */
  readonly flashBytes: number;
  readonly ramBytes: number;
  readonly memorySource: 'build' | 'budget';
  readonly fits: boolean;
  /** Why there are no device figures, or null. */
  readonly note: string | null;
  readonly latencyCycles: Percentiles | null;
  readonly latencyMicros: Percentiles | null;
  readonly cycleUnit: string | null;
  readonly notebook: NotebookFigures | null;
  /** True when this run took the stage from an earlier run's folder. */
  readonly reused: boolean;
}

export interface RowInput {
  readonly spec: RowSpec;
  readonly dir: string;
  /** validation.json counts only when it is for this .tflite (readModelEvidence checks the CRC). */
  readonly evidence: ModelEvidence;
  /** The budget on the chosen board and runtime. */
  readonly budget: Budget;
  /** The firmware build, when this run built one (its sizes are measured), or a farm worker's build's sizes. */
  readonly build: Pick<BuildResult, 'flash' | 'ram'> | null;
}

export function stageRow({ spec, dir, evidence, budget, build }: RowInput): StageRow {
  const m = evidence.metrics;
  const e = evidence.evaluation;
  const v = evidence.validation;
  const last = m?.epochs?.[m.epochs.length - 1];
  return {
    name: spec.name,
    title: spec.title,
    dir,
    hidden: [...spec.hidden],
    normalize: spec.normalize,
    stopAtAccuracy: spec.stopAtAccuracy,
    epochsRun: m?.epochs?.length ?? null,
    trainSeconds: m?.seconds ?? null,
    trainAccuracy: last?.accuracy ?? null,
    testAccuracy: m?.testAccuracy ?? null,
    floatAccuracy: e?.floatAccuracy ?? null,
    int8Accuracy: e?.int8Accuracy ?? null,
    tfliteAccuracy: e?.tfliteAccuracy ?? null,
    deviceAccuracy: v?.deviceAccuracy ?? null,
    samples: v?.samples ?? null,
    exactAgreement: v?.exactAgreement ?? null,
    passed: v ? v.passed : null,
    tfliteBytes: evidence.tfliteBytes,
    modelCrc32: evidence.modelCrc32,
    flashBytes: build?.flash ? build.flash.used : budget.flash.used,
    ramBytes: build?.ram ? build.ram.used : budget.ram.used,
    memorySource: build?.flash ? 'build' : 'budget',
    fits: budget.fits,
    note: budget.fits
      ? null
      : `does not fit the ${budget.board.name} with the ${budget.runtime} runtime: flash ${budget.flash.used} of ${budget.flash.max} bytes, RAM ${budget.ram.used} of ${budget.ram.max}`,
    latencyCycles: v?.latencyCycles ?? null,
    latencyMicros: v?.latencyMicros ?? null,
    cycleUnit: v?.cycleUnit ?? null,
    notebook: spec.notebook,
    reused: false,
  };
}
