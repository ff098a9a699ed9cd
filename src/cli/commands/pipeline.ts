import type { CommandModule } from 'yargs';
import { dataOptions } from '../options.ts';
import { PRESET_NAMES } from '../../train/model.ts';
import { formatReport } from '../../evaluate/evaluate-folder.ts';
import { runPipeline, type PipelineArgs } from '../../pipeline/run-pipeline.ts';
import { progressPrinter } from '../progress.ts';

export const pipelineCommand: CommandModule<object, PipelineArgs> = {
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
    const report = await runPipeline(args, log, progressPrinter());
    console.log(args.json ? JSON.stringify(report) : formatReport(report));
  },
};
