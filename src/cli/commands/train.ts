import type { Argv, CommandModule } from 'yargs';
import { dataOptions } from '../options.ts';
import { BACKEND_NAMES } from '../../train/backend.ts';
import { PRESET_NAMES, PRESETS } from '../../train/model.ts';
import { formatTrainSummary, runTrain, type TrainArgs } from '../../train/train-folder.ts';
import { progressPrinter } from '../progress.ts';

export const trainCommand: CommandModule<object, TrainArgs> = {
  builder: (y: Argv) =>
    y
      .option('preset', {
        type: 'string',
        describe: `Layer sizes by name: ${PRESET_NAMES.map((p) => `${p} [${PRESETS[p].join(',')}]`).join(', ')}. Default: default`,
      })
      .option('hidden', { type: 'string', describe: 'Hidden layer sizes, e.g. 128 or 512,512 (instead of --preset)' })
      .option('epochs', { type: 'number', default: 5, describe: 'Passes over the training set' })
      .option('batch-size', { type: 'number', default: 32, describe: 'Samples per gradient step' })
      .option('normalize', {
        type: 'boolean',
        default: true,
        describe: 'Divide pixels by 255; --no-normalize trains on raw 0..255 values',
      })
      .option('stop-at-accuracy', {
        type: 'number',
        describe: 'Stop after an epoch (2 or later) whose training accuracy exceeds this, e.g. 0.86',
      })
      .option('seed', { type: 'number', describe: 'Seed for weight init and shuffling (default: random, recorded)' })
      .option('out', { type: 'string', describe: 'Model folder to write (default: models/<preset> or models/h<sizes>)' })
      .options(dataOptions)
      .option('backend', {
        type: 'string',
        choices: BACKEND_NAMES,
        describe: 'TensorFlow.js backend (default: tensorflow if @tensorflow/tfjs-node loads, else wasm, else cpu)',
      })
      .example('$0 train', 'the default 128-unit model, 5 epochs, into models/default/')
      .example('$0 train --preset seed-deep --epochs 5 --stop-at-accuracy 0.86', 'the course exercise with its callback')
      .example('$0 train --hidden 64,32 --seed 1 --out models/small', 'two hidden layers, repeatable')
      .example('$0 train --preset seed-base --no-normalize', 'the exercise run on unnormalized pixels')
      .example('$0 train --limit-train 6000 --limit-test 1000 --epochs 1', 'a quick smoke run') as never,
  handler: async (args) => {
    const outcome = await runTrain(args, progressPrinter());
    process.stdout.write(`${formatTrainSummary(outcome)}\n`);
  },
};
