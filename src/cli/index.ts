import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { reportError } from './run.ts';
import { COMMANDS } from './commands.ts';
import { UsageError } from '../errors.ts';

const nameOf = (command: string): string => command.split(' ')[0]!;
const args = hideBin(process.argv);
const named = args.find((a) => COMMANDS.some((c) => nameOf(c.command) === a));

const cli = yargs(args)
  .scriptName('tinyml')
  .usage('$0 <command> [options]\n\nTrain a dense Fashion-MNIST classifier, quantize it to int8 TFLite, run it on a microcontroller and prove it.')
  .demandCommand(1, 'name a command: tinyml --help lists them')
  .strict()
  .recommendCommands()
  .help()
  .alias('h', 'help')
  .version(false)
  .wrap(Math.min(110, process.stdout.columns || 110))
  .fail((msg, err, y) => {
    if (err) throw err;
    process.stderr.write(`error: ${msg} (tinyml ${named ? `${named} ` : ''}--help shows the options)\n`);
    process.exit(2);
  });

// Only the command that runs is loaded; the others are listed by name and line.
for (const entry of COMMANDS) {
  if (nameOf(entry.command) === named) {
    cli.command({ ...(await entry.load()), command: entry.command, describe: entry.describe });
  } else {
    cli.command(entry.command, entry.describe, {}, () => {
      throw new UsageError(`put the command first: tinyml ${nameOf(entry.command)} [options]`);
    });
  }
}

try {
  await cli.parseAsync();
} catch (err) {
  process.exitCode = reportError(err);
}
