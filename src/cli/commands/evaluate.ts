import type { CommandModule } from 'yargs';
import { dataOptions, modelDirOption } from '../options.ts';
import { formatReport, runEvaluate, type EvaluateArgs } from '../../evaluate/evaluate-folder.ts';

export const evaluateCommand: CommandModule<object, EvaluateArgs> = {
  builder: (y) =>
    y
      .options(modelDirOption)
      .option('limit', { type: 'number', describe: 'Evaluate only the first N test images (default: all 10,000)' })
      .option('json', { type: 'boolean', default: false, describe: 'Print one JSON object instead of a table' })
      .option('data-dir', dataOptions['data-dir'])
      .example('$0 evaluate --model models/default', 'all 10,000 test images')
      .example('$0 evaluate --model models/default --limit 1000 --json', 'a quick check as JSON') as never,
  handler: async (args) => {
    const report = await runEvaluate(args);
    console.log(args.json ? JSON.stringify(report) : formatReport(report));
  },
};
