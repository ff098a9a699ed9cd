import type { CommandModule } from 'yargs';
import { dataOptions, modelDirOption, windowOption } from '../options.ts';
import { assertValidationPassed, formatValidationReport } from '../../validate/validate.ts';
import { runValidate, type ValidateArgs } from '../../validate/run-validate.ts';
import { sampleProgress } from '../progress.ts';

export const validateCommand: CommandModule<object, ValidateArgs> = {
  builder: (y) =>
    y
      .options(modelDirOption)
      .option('board', { type: 'string', choices: ['emulator'], describe: 'Boot the firmware in QEMU (mps2-an386) and validate there' })
      .option('port', { type: 'string', describe: 'Serial port of a flashed board, e.g. /dev/ttyACM0' })
      .option('elf', { type: 'string', describe: 'Firmware ELF for --board emulator (default build/emulator/<model folder>/firmware.elf)' })
      .option('samples', { type: 'number', default: 1000, describe: 'Test images to run' })
      .options(windowOption)
      .option('encoding', {
        type: 'string',
        choices: ['best', 'raw'],
        default: 'best',
        describe: "How inputs travel: best = the shortest encoding the device offers (COMPACT for images), raw = the tensor's bytes (to compare on a fast link)",
      })
      .option('timeout', { type: 'number', default: 2000, describe: 'Milliseconds to wait for an answer before sending a request again' })
      .option('handshake-timeout', { type: 'number', default: 15000, describe: 'Milliseconds to wait for the device to answer HELLO' })
      .option('reconnect-timeout', { type: 'number', default: 15, describe: 'Seconds to keep reopening the port when it is lost mid-run (0: do not reconnect)' })
      .option('results', { type: 'string', describe: 'Results file, one JSON line per answered sample (default <model dir>/validation-results.jsonl)' })
      .option('resume', { type: 'boolean', default: false, describe: 'Continue the run in the results file: send only the samples not answered yet' })
      .option('json', { type: 'boolean', default: false, describe: 'Print one JSON object instead of a table' })
      .option('data-dir', dataOptions['data-dir'])
      .conflicts('board', 'port')
      .example('$0 validate --model models/default --board emulator', '1000 test images on the emulator')
      .example('$0 validate --model models/default --port /dev/ttyACM0 --json', 'on a flashed board') as never,
  handler: async (args) => {
    const report = await runValidate(args, {
      log: args.json ? undefined : (line) => process.stderr.write(`${line}\n`),
      // Device log lines go to stderr with --json too: stdout holds only the JSON (which lists them as deviceLog).
      onDeviceLog: (line) => process.stderr.write(`device: ${line}\n`),
      onProgress: sampleProgress(args.json),
    });
    console.log(args.json ? JSON.stringify(report) : formatValidationReport(report));
    assertValidationPassed(report);
  },
};
