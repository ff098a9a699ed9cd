import type { Argv, CommandModule } from 'yargs';
import { join } from 'node:path';
import { dataOptions } from '../options.ts';
import { UsageError } from '../../errors.ts';
import { loadFashionMnist } from '../../data/fashion-mnist.ts';
import { BACKEND_NAMES, initBackend, type BackendName } from '../../train/backend.ts';
import { hiddenName, parseHidden, presetHidden, PRESET_NAMES, PRESETS } from '../../train/model.ts';
import { saveModel } from '../../train/model-store.ts';
import { trainModel, type TrainMetrics } from '../../train/train.ts';
import { progressPrinter } from '../progress.ts';

export interface TrainArgs {
  preset?: string;
  hidden?: string;
  epochs: number;
  'batch-size': number;
  normalize: boolean;
  'stop-at-accuracy'?: number;
  seed?: number;
  out?: string;
  'data-dir'?: string;
  'limit-train'?: number;
  'limit-test'?: number;
  backend?: BackendName;
}

export interface TrainOutcome {
  readonly name: string;
  readonly dir: string;
  readonly metrics: TrainMetrics;
}

function checkLimit(value: number | undefined, flag: string): void {
  if (value !== undefined && (!Number.isInteger(value) || value < 1)) {
    throw new UsageError(`${flag} ${value} is not a positive whole number; try ${flag} 1000`);
  }
}

/** Trains, saves and returns where; shared with `pipeline`. Progress goes to stderr. */
export async function runTrain(args: TrainArgs, onProgress = progressPrinter()): Promise<TrainOutcome> {
  if (args.preset !== undefined && args.hidden !== undefined) {
    throw new UsageError('--preset and --hidden both set: give one (the preset only names a --hidden value)');
  }
  const hidden = args.hidden !== undefined ? parseHidden(args.hidden) : presetHidden(args.preset ?? 'default');
  const name = args.hidden !== undefined ? hiddenName(hidden) : (args.preset ?? 'default');
  checkLimit(args['limit-train'], '--limit-train');
  checkLimit(args['limit-test'], '--limit-test');
  const dir = args.out ?? join('models', name);

  const backend = await initBackend(args.backend);
  const onDownload = (url: string, dest: string) => process.stderr.write(`downloading ${url} -> ${dest}\n`);
  const train = await loadFashionMnist({ dataDir: args['data-dir'], split: 'train', limit: args['limit-train'], onDownload });
  const test = await loadFashionMnist({ dataDir: args['data-dir'], split: 'test', limit: args['limit-test'], onDownload });
  process.stderr.write(
    `training ${name}: 784 -> ${hidden.join(' -> ')} -> 10 on ${train.count} images from ${train.source} ` +
      `(backend ${backend}, ${args.normalize ? 'inputs /255' : 'raw 0..255 inputs'})\n`,
  );
  const { model, metrics } = await trainModel({
    train,
    test,
    hidden,
    epochs: args.epochs,
    batchSize: args['batch-size'],
    normalize: args.normalize,
    stopAtAccuracy: args['stop-at-accuracy'],
    seed: args.seed,
    onProgress,
  });
  try {
    await saveModel(model, dir, {
      name,
      ...(args.hidden === undefined ? { preset: name } : {}),
      ...metrics,
    });
  } finally {
    model.dispose();
  }
  return { name, dir, metrics };
}

export function formatTrainSummary({ name, dir, metrics: m }: TrainOutcome): string {
  const last = m.epochs[m.epochs.length - 1];
  const stopped = m.stoppedEarly ? `, stopped early after epoch ${last?.epoch} (train accuracy ${last?.accuracy.toFixed(4)} > ${m.stopAtAccuracy})` : '';
  return [
    `model          ${name}: hidden [${m.hidden.join(', ')}], ${m.normalized ? 'inputs /255' : 'raw 0..255 inputs'}, seed ${m.seed}`,
    `test accuracy  ${(100 * m.testAccuracy).toFixed(2)}% on ${m.dataset.test.count} images`,
    `train accuracy ${last ? (100 * last.accuracy).toFixed(2) : '?'}% (last epoch)`,
    `parameters     ${m.params.toLocaleString('en-US')}`,
    `backend        ${m.backend}`,
    `time           ${m.seconds.toFixed(1)} s for ${m.epochs.length} epoch(s) of ${m.dataset.train.count} images, ${Math.round(m.samplesPerSec)} samples/s${stopped}`,
    `written        ${dir}/ (model.json, weights.bin, metrics.json)`,
  ].join('\n');
}

export const trainCommand: CommandModule<object, TrainArgs> = {
  command: 'train',
  describe: 'Train a dense Fashion-MNIST classifier and save it in a model folder',
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
    const outcome = await runTrain(args);
    process.stdout.write(`${formatTrainSummary(outcome)}\n`);
  },
};
