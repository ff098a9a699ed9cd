/**
 * What the stages wrote into a model folder, read back for a report:
 * metrics.json (train), quantization.json, evaluation.json (evaluate),
 * validation.json (validate) and the .tflite itself. Each file but the .tflite is
 * optional: a report shows what exists.
 */
import { readFile } from 'node:fs/promises';
import { DataFormatError } from '../errors.ts';
import { modelPaths } from '../model/model-dir.ts';
import { crc32, crc32Hex } from '../protocol/crc32.ts';
import { BOARDS, planBudget, type Budget, type RuntimeKind } from '../firmware-build/budget.ts';
import { readInt8Model } from '../model/int8-file.ts';
import type { TrainMetrics } from '../train/train.ts';
import type { EvaluationReport } from '../evaluate/evaluate.ts';
import type { ValidationReport } from '../validate/validate.ts';
import type { ValidationDetail } from '../validate/detail.ts';

export type SavedMetrics = Partial<TrainMetrics> & { readonly name?: string };
export type SavedEvaluation = EvaluationReport & { readonly testDataSha256?: string };
export type SavedValidation = ValidationReport & { readonly testDataSha256?: string; readonly detail: ValidationDetail | null };

export interface ModelEvidence {
  readonly dir: string;
  readonly tfliteBytes: number;
  readonly modelCrc32: string;
  readonly metrics: SavedMetrics | null;
  readonly evaluation: SavedEvaluation | null;
  readonly validation: SavedValidation | null;
  /** The model's budget on the Nano 33 BLE with the runtime that was validated (TFLM when none was). */
  readonly nanoBudget: Budget;
}

async function readJson<T>(path: string): Promise<T | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new DataFormatError(`${path}: cannot read: ${(err as Error).message}`, { cause: err });
  }
  try {
    const value = JSON.parse(text) as unknown;
    if (!value || typeof value !== 'object' || Array.isArray(value)) throw new Error('expected a JSON object');
    return value as T;
  } catch (err) {
    throw new DataFormatError(`${path}: not a report this version reads: ${(err as Error).message}; run the stage that writes it again`, {
      cause: err,
    });
  }
}

/** Reads a model folder that has at least model_int8.tflite (tinyml quantize). */
export async function readModelEvidence(dir: string): Promise<ModelEvidence> {
  const paths = modelPaths(dir);
  const { model, bytes } = await readInt8Model(dir);
  const [metrics, evaluation, validation] = await Promise.all([
    readJson<SavedMetrics>(paths.metrics),
    readJson<SavedEvaluation>(paths.evaluation),
    readJson<SavedValidation>(paths.validation),
  ]);
  const crc = crc32Hex(crc32(bytes));
  // A validation.json from an older .tflite describes another model: leave it out.
  const current = validation && validation.modelCrc32 === crc ? validation : null;
  const runtime: RuntimeKind = current?.runtime ?? 'tflm';
  return {
    dir,
    tfliteBytes: bytes.length,
    modelCrc32: crc,
    metrics,
    evaluation,
    validation: current,
    nanoBudget: planBudget({ model, modelBytes: bytes.length, runtime, board: BOARDS.nano33ble.id }),
  };
}
