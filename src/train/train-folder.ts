/** Training into a model folder: the flow behind `tinyml train` (and pipeline's first step). */
import { join } from 'node:path';
import { UsageError } from '../errors.ts';
import { loadFashionMnist } from '../data/fashion-mnist.ts';
import { initBackend, type BackendName } from './backend.ts';
import { hiddenName, parseHidden, presetHidden } from './model.ts';
import { saveModel } from './model-store.ts';
import { trainModel, type TrainMetrics, type TrainOptions } from './train.ts';

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

/**
 * `tinyml train`'s flow: checks the flags, loads the data, trains, saves the
 * model folder and says where. Shared with `pipeline`; status lines go to stderr.
 */
export async function runTrain(args: TrainArgs, onProgress?: TrainOptions['onProgress']): Promise<TrainOutcome> {
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

