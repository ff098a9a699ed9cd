import type { CommandModule } from 'yargs';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { dataOptions } from '../options.ts';
import { PRESET_NAMES } from '../../train/model.ts';
import { formatTrainSummary, runTrain } from './train.ts';
import { runQuantize } from '../../quantize/quantize-folder.ts';
import { runExport } from '../../export/export-folder.ts';
import { formatReport, runEvaluate } from '../../evaluate/evaluate-folder.ts';

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
export async function runPipeline(args: PipelineArgs, log: (line: string) => void) {
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
    });
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

export const pipelineCommand: CommandModule<object, PipelineArgs> = {
  command: 'pipeline',
  describe: 'Train (if needed), quantize, export and evaluate a model in one go',
  builder: (y) =>
    y
      .option('preset', { type: 'string', default: 'default', choices: PRESET_NAMES, describe: 'Model to train when missing' })
      .option('model', { type: 'string', describe: 'Model folder (default: models/<preset>)' })
      .option('retrain', { type: 'boolean', default: false, describe: 'Train again even if the folder has a model' })
      .option('epochs', { type: 'number', default: 5, describe: 'Training epochs' })
      .option('seed', { type: 'number', default: 1, describe: 'Training seed, so a rerun gives the same model' })
      .option('calibration-samples', { type: 'number', default: 500, describe: 'Calibration images for quantization' })
      .option('per-channel', { type: 'boolean', default: false, describe: 'Per-channel weight scales' })
      .option('limit', { type: 'number', describe: 'Evaluate on the first N test images (default: all)' })
      .option('json', { type: 'boolean', default: false, describe: 'Print the evaluation as one JSON object' })
      .option('data-dir', dataOptions['data-dir'])
      .example('$0 pipeline', 'what npm start runs: the default model, end to end')
      .example('$0 pipeline --preset seed-base --retrain', 'the 20-unit exercise model, trained afresh') as never,
  handler: async (args) => {
    const log = (line: string) => process.stderr.write(`${line}\n`);
    const report = await runPipeline(args, log);
    console.log(args.json ? JSON.stringify(report) : formatReport(report));
  },
};
