import type { CommandModule } from 'yargs';
import { dataOptions, modelDirOption } from '../options.ts';
import { buildFirmware, formatBuild } from '../../deploy/build.ts';
import { flashArduino } from '../../deploy/flash.ts';
import { checkBoard } from '../../deploy/targets.ts';
import { formatValidationReport, assertValidationPassed } from '../../validate/validate.ts';
import { runValidate } from './validate.ts';
import { boardOptions, resolveRuntime } from './build.ts';

export interface DeployArgs {
  model: string;
  board: string;
  runtime?: string;
  'tflm-dir'?: string;
  port?: string;
  'arduino-cli'?: string;
  samples: number;
  json: boolean;
  'data-dir'?: string;
}

/** build + flash + validate; returns the validation report. */
export async function runDeploy(args: DeployArgs, log: (line: string) => void) {
  const board = checkBoard(args.board);
  const runtime = resolveRuntime(args);
  const built = await buildFirmware({
    modelDir: args.model,
    board,
    runtime,
    tflmDir: args['tflm-dir'],
    arduinoCli: args['arduino-cli'],
    log,
  });
  log(formatBuild(built));
  const common = { model: args.model, samples: args.samples, json: args.json, 'data-dir': args['data-dir'] };
  const options = { log, onProgress: progress(args.json) };
  if (board === 'emulator') {
    // Booting the ELF is the emulator's flashing; validate owns QEMU's lifetime.
    return runValidate({ ...common, board: 'emulator', elf: built.elf! }, options);
  }
  const port = await flashArduino({ modelDir: args.model, runtime, port: args.port, arduinoCli: args['arduino-cli'], log });
  return runValidate({ ...common, port }, options);
}

function progress(json: boolean) {
  if (json || !process.stderr.isTTY) return undefined;
  return (done: number, total: number) => {
    if (done === total || done % 25 === 0) process.stderr.write(`\r${done}/${total}${done === total ? '\n' : ''}`);
  };
}

export const deployCommand: CommandModule<object, DeployArgs> = {
  command: 'deploy',
  describe: 'build + flash + validate: the int8 model on the board, proven sample by sample',
  builder: (y) =>
    y
      .options(modelDirOption)
      .options(boardOptions)
      .option('port', { type: 'string', describe: 'Serial port of the Nano 33 BLE (default: found by its USB ids)' })
      .option('samples', { type: 'number', default: 1000, describe: 'Test images to validate on the device' })
      .option('json', { type: 'boolean', default: false, describe: 'Print the validation report as one JSON object' })
      .option('data-dir', dataOptions['data-dir'])
      .example('$0 deploy --model models/default --board emulator', 'what npm start runs after training')
      .example('$0 deploy --model models/default --board nano33ble --samples 10000', 'TFLM on a real board, the whole test set') as never,
  handler: async (args) => {
    const log = args.json ? () => undefined : (line: string) => process.stderr.write(`${line}\n`);
    const report = await runDeploy(args, log);
    console.log(args.json ? JSON.stringify(report) : formatValidationReport(report));
    assertValidationPassed(report);
  },
};
