import type { CommandModule } from 'yargs';
import { modelDirOption } from '../options.ts';
import { RUNTIME_KINDS } from '../../firmware-build/budget.ts';
import { buildFirmware, buildJson, formatBuild } from '../../deploy/build.ts';
import { BOARD_NAMES, checkBoard, resolveRuntime } from '../../deploy/targets.ts';

export interface BuildArgs {
  model: string;
  board: string;
  runtime?: string;
  'tflm-dir'?: string;
  'arduino-cli'?: string;
  'sketch-only': boolean;
  json: boolean;
}

export const boardOptions = {
  board: { type: 'string', demandOption: true, choices: BOARD_NAMES, describe: 'emulator (QEMU mps2-an386) or nano33ble (Arduino Nano 33 BLE Sense)' },
  runtime: {
    type: 'string',
    choices: RUNTIME_KINDS,
    describe: 'tflm (TensorFlow Lite Micro; the Nano 33 BLE default) or native (our C core; the emulator default)',
  },
  'tflm-dir': { type: 'string', describe: 'TFLM source tree (tflite-micro-arduino-examples) for --runtime tflm on the emulator' },
  'arduino-cli': { type: 'string', describe: 'Path of the arduino-cli executable (default: found on PATH)' },
} as const;

export const buildCommand: CommandModule<object, BuildArgs> = {
  builder: (y) =>
    y
      .options(modelDirOption)
      .options(boardOptions)
      .option('sketch-only', {
        type: 'boolean',
        default: false,
        describe: 'Nano 33 BLE: write the sketch folder (for the Arduino IDE or arduino-cli) and stop; prints its path',
      })
      .option('json', { type: 'boolean', default: false, describe: 'Print the result as one JSON object' })
      .example('$0 build --model models/default --board emulator', 'native C runtime for QEMU, with arm-none-eabi-gcc')
      .example('$0 build --model models/default --board emulator --tflm-dir ~/Arduino/libraries/Arduino_TensorFlowLite', 'TFLM in QEMU')
      .example('$0 build --model models/default --board nano33ble', 'TFLM sketch for the Nano 33 BLE Sense, with arduino-cli')
      .example('$0 build --model models/default --board nano33ble --sketch-only', 'just the sketch folder, to open in the Arduino IDE') as never,
  handler: async (args) => {
    const board = checkBoard(args.board);
    const result = await buildFirmware({
      modelDir: args.model,
      board,
      runtime: resolveRuntime(args),
      tflmDir: args['tflm-dir'],
      arduinoCli: args['arduino-cli'],
      sketchOnly: args['sketch-only'],
      log: (line) => process.stderr.write(`${line}\n`),
    });
    console.log(args.json ? JSON.stringify(buildJson(result)) : formatBuild(result));
  },
};
