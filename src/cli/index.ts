import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { reportError } from './run.ts';
import { trainCommand } from './commands/train.ts';
import { predictCommand } from './commands/predict.ts';
import { quantizeCommand } from './commands/quantize.ts';
import { exportCommand } from './commands/export.ts';
import { evaluateCommand } from './commands/evaluate.ts';
import { pipelineCommand } from './commands/pipeline.ts';
import { buildCommand } from './commands/build.ts';
import { flashCommand } from './commands/flash.ts';
import { validateCommand } from './commands/validate.ts';
import { deployCommand } from './commands/deploy.ts';
import { doctorCommand } from './commands/doctor.ts';
import { exerciseCommand } from './commands/exercise.ts';
import { reportCommand } from './commands/report.ts';
import { workerCommand } from './commands/worker.ts';
import { submitCommand } from './commands/submit.ts';
import { farmCommand } from './commands/farm.ts';

const cli = yargs(hideBin(process.argv))
  .scriptName('tinyml')
  .usage('$0 <command> [options]\n\nTrain a dense Fashion-MNIST classifier, quantize it to int8 TFLite, run it on a microcontroller and prove it.')
  .command(trainCommand)
  .command(predictCommand)
  .command(quantizeCommand)
  .command(exportCommand)
  .command(evaluateCommand)
  .command(pipelineCommand)
  .command(buildCommand)
  .command(flashCommand)
  .command(validateCommand)
  .command(deployCommand)
  .command(doctorCommand)
  .command(exerciseCommand)
  .command(reportCommand)
  .command(workerCommand)
  .command(submitCommand)
  .command(farmCommand)
  .demandCommand(1, 'name a command: tinyml --help lists them')
  .strict()
  .recommendCommands()
  .help()
  .alias('h', 'help')
  .version(false)
  .wrap(Math.min(110, process.stdout.columns || 110))
  .fail((msg, err, y) => {
    if (err) throw err;
    process.stderr.write(`error: ${msg} (tinyml ${process.argv[2] ?? ''} --help shows the options)\n`);
    process.exit(2);
  });

try {
  await cli.parseAsync();
} catch (err) {
  process.exitCode = reportError(err);
}
