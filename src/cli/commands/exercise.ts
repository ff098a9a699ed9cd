import type { CommandModule } from 'yargs';
import { dataOptions } from '../options.ts';
import { BOARD_NAMES } from '../../deploy/targets.ts';
import { RUNTIME_KINDS } from '../../firmware-build/budget.ts';
import { STAGE_NAMES } from '../../exercise/stages.ts';
import { formatExercise } from '../../exercise/format.ts';
import { assertExercisePassed, runExercise } from '../../exercise/run.ts';
import { exercisePrinter } from '../progress.ts';

export interface ExerciseArgs {
  out: string;
  epochs: number;
  'limit-train'?: number;
  'limit-test'?: number;
  samples: number;
  board: string;
  port?: string;
  runtime?: string;
  'tflm-dir'?: string;
  'arduino-cli'?: string;
  stages?: string;
  seed: number;
  force: boolean;
  json: boolean;
  'data-dir'?: string;
  redis?: string;
  shards?: number;
}

export const exerciseCommand: CommandModule<object, ExerciseArgs> = {
  builder: (y) =>
    y
      .option('out', { type: 'string', default: 'models/exercise', describe: 'Folder for the stages (one model folder each), report.json and report.html' })
      .option('epochs', { type: 'number', default: 5, describe: 'Training epochs per stage (Adam, batch 32)' })
      .options(dataOptions)
      .option('samples', { type: 'number', default: 1000, describe: 'Test images to validate on the device per stage' })
      .option('board', { type: 'string', default: 'emulator', choices: BOARD_NAMES, describe: 'emulator (QEMU mps2-an386) or nano33ble' })
      .option('port', { type: 'string', describe: 'Serial port of the Nano 33 BLE (default: found by its USB ids)' })
      .option('runtime', { type: 'string', choices: RUNTIME_KINDS, describe: 'native or tflm (default: native on the emulator, tflm on the Nano 33 BLE)' })
      .option('tflm-dir', { type: 'string', describe: 'TFLM source tree for --runtime tflm on the emulator' })
      .option('arduino-cli', { type: 'string', describe: 'Path of the arduino-cli executable (default: found on PATH)' })
      .option('stages', { type: 'string', describe: `Comma-separated stages to run (default: all): ${STAGE_NAMES.join(',')}` })
      .option('seed', { type: 'number', default: 1, describe: 'Training seed, so a rerun gives the same models' })
      .option('force', { type: 'boolean', default: false, describe: 'Redo stages already complete in --out with the same settings' })
      .option('redis', { type: 'string', describe: "A board farm's Redis (redis://[:password@]host:port or rediss://): train on `tinyml worker --train`, run on the farm's board workers" })
      .option('shards', { type: 'number', describe: 'With --redis: jobs to split each device run into (default 1)' })
      .option('json', { type: 'boolean', default: false, describe: 'Print one JSON object instead of a table' })
      .example('$0 exercise', 'all five stages, 5 epochs each, 1000 device samples on the emulator')
      .example('$0 exercise --stages base,early-stop --limit-train 6000 --epochs 2 --samples 100', 'a quick run of two stages')
      .example('$0 exercise --redis redis://:secret@farm.local:6379 --shards 4', 'training on the farm\'s train workers, device runs on its emulator workers')
      .example('$0 exercise --board nano33ble', 'on a real Nano 33 BLE Sense with TFLM (wide does not fit and is reported so)') as never,
  handler: async (args) => {
    const result = await runExercise(
      {
        out: args.out,
        epochs: args.epochs,
        limitTrain: args['limit-train'],
        limitTest: args['limit-test'],
        samples: args.samples,
        board: args.board,
        port: args.port,
        runtime: args.runtime,
        tflmDir: args['tflm-dir'],
        arduinoCli: args['arduino-cli'],
        stages: args.stages,
        seed: args.seed,
        force: args.force,
        dataDir: args['data-dir'],
        redis: args.redis,
        shards: args.shards,
      },
      exercisePrinter(),
    );
    console.log(args.json ? JSON.stringify({ out: result.out, settings: result.settings, stages: result.stages, report: result.report }) : formatExercise(result));
    assertExercisePassed(result);
  },
};
