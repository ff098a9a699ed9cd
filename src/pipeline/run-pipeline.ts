/** train (when the folder has no model yet) -> quantize -> export -> evaluate: the flow behind `tinyml pipeline`. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { TrainOptions } from '../train/train.ts';
import { formatTrainSummary, runTrain } from '../train/train-folder.ts';
import { runQuantize } from '../quantize/quantize-folder.ts';
import { runExport } from '../export/export-folder.ts';
import { runEvaluate } from '../evaluate/evaluate-folder.ts';

export interface PipelineArgs {
  preset: string;
  model?: string;
  retrain: boolean;
  epochs: number;
  seed: number;
  'calibration-samples': number;
  'per-channel': boolean;
  limit?: number;
  json: boolean;
  'data-dir'?: string;
}

/**
 * train (when the folder has no model yet) -> quantize -> export -> evaluate.
 * Each step is the same function its own command runs.
 */
export async function runPipeline(args: PipelineArgs, log: (line: string) => void, onProgress?: TrainOptions['onProgress']) {
  const dir = args.model ?? join('models', args.preset);
  if (args.retrain || !existsSync(join(dir, 'model.json'))) {
    const trained = await runTrain({
      preset: args.preset,
      epochs: args.epochs,
      'batch-size': 32,
      normalize: true,
      seed: args.seed,
      out: dir,
      'data-dir': args['data-dir'],
    }, onProgress);
    log(formatTrainSummary(trained));
  } else {
    log(`using the trained model in ${dir} (--retrain trains it again)`);
  }
  const q = await runQuantize({
    model: dir,
    'calibration-samples': args['calibration-samples'],
    'per-channel': args['per-channel'],
    float: true,
    'data-dir': args['data-dir'],
  });
  log(`wrote ${q.int8Path} (${q.int8Bytes} bytes) and ${q.floatPath} (${q.floatBytes} bytes)`);
  const e = await runExport({ model: dir, symbol: 'g_model' });
  log(`wrote ${e.header} and ${e.source}`);
  return runEvaluate({ model: dir, limit: args.limit, json: args.json, 'data-dir': args['data-dir'] });
}

