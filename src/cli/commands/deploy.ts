import type { CommandModule } from 'yargs';
import { dataOptions, modelDirOption } from '../options.ts';
import { formatValidationReport, assertValidationPassed } from '../../validate/validate.ts';
import { runDeploy, type DeployArgs } from '../../deploy/deploy.ts';
import { boardOptions } from './build.ts';
import { sampleProgress } from '../progress.ts';

export const deployCommand: CommandModule<object, DeployArgs> = {
  builder: (y) =>
    y
      .options(modelDirOption)
      .options(boardOptions)
      .option('port', { type: 'string', describe: 'Serial port of the Nano 33 BLE (default: found by its USB ids)' })
      .option('samples', { type: 'number', default: 1000, describe: 'Test images to validate on the device' })
      .option('results', { type: 'string', describe: 'Results file, one JSON line per answered sample (default <model dir>/validation-results.jsonl)' })
      .option('resume', { type: 'boolean', default: false, describe: 'Continue the validation in the results file: send only the samples not answered yet' })
      .option('reconnect-timeout', { type: 'number', default: 15, describe: 'Seconds to keep reopening the port when it is lost mid-run (0: do not reconnect)' })
      .option('json', { type: 'boolean', default: false, describe: 'Print the validation report as one JSON object' })
      .option('data-dir', dataOptions['data-dir'])
      .example('$0 deploy --model models/default --board emulator', 'what npm start runs after training')
      .example('$0 deploy --model models/default --board nano33ble --samples 10000', 'TFLM on a real board, the whole test set') as never,
  handler: async (args) => {
    const log = args.json ? () => undefined : (line: string) => process.stderr.write(`${line}\n`);
    const { validation: report } = await runDeploy(args, log, sampleProgress(args.json));
    console.log(args.json ? JSON.stringify(report) : formatValidationReport(report));
    assertValidationPassed(report);
  },
};
