import type { Argv, CommandModule } from 'yargs';
import { dataOptions, modelDirOption } from '../options.ts';
import { UsageError } from '../../errors.ts';
import { loadFashionMnist } from '../../data/fashion-mnist.ts';
import { BACKEND_NAMES, initBackend, type BackendName } from '../../train/backend.ts';
import { loadFloatModel, predictFloat } from '../../train/float-model.ts';

export interface PredictArgs {
  model: string;
  index: number;
  'data-dir'?: string;
  backend?: BackendName;
}

export interface PredictOutcome {
  readonly index: number;
  readonly classNames: readonly string[];
  /** One value per class: the model's output for the image. */
  readonly probabilities: readonly number[];
  readonly predicted: number;
  readonly label: number;
  readonly backend: string;
}

/** Runs the float model on test image `index`, like the exercise's model.predict(test_images)[index]. */
export async function runPredict(args: PredictArgs): Promise<PredictOutcome> {
  const index = args.index;
  if (!Number.isInteger(index) || index < 0) {
    throw new UsageError(`--index ${index} is not a test image number: use 0..9999`);
  }
  const backend = await initBackend(args.backend);
  const test = await loadFashionMnist({ dataDir: args['data-dir'], split: 'test' });
  if (index >= test.count) {
    throw new UsageError(`--index ${index} is out of range: the test set has ${test.count} images (0..${test.count - 1})`);
  }
  const { tfModel, floatModel } = await loadFloatModel(args.model);
  try {
    const size = 28 * 28;
    const out = predictFloat(tfModel, test.images.subarray(index * size, (index + 1) * size), floatModel.normalized, 1);
    return {
      index,
      classNames: floatModel.classNames,
      probabilities: Array.from(out.probabilities),
      predicted: out.top1[0]!,
      label: test.labels[index]!,
      backend,
    };
  } finally {
    tfModel.dispose();
  }
}

export function formatPrediction(p: PredictOutcome): string {
  const width = Math.max(...p.classNames.map((c) => c.length));
  const rows = p.probabilities.map((v, c) => {
    const mark = c === p.predicted ? '  <- predicted' : '';
    return `  ${String(c).padStart(2)} ${(p.classNames[c] ?? `class ${c}`).padEnd(width)}  ${v.toFixed(6)}${mark}`;
  });
  const name = (c: number) => `${c} ${p.classNames[c] ?? `class ${c}`}`;
  const verdict = p.predicted === p.label ? 'correct' : 'wrong';
  return [
    `test image ${p.index} (backend ${p.backend}):`,
    ...rows,
    `predicted: ${name(p.predicted)} (${(100 * p.probabilities[p.predicted]!).toFixed(2)}%)`,
    `true:      ${name(p.label)} (${verdict})`,
  ].join('\n');
}

export const predictCommand: CommandModule<object, PredictArgs> = {
  builder: (y: Argv) =>
    y
      .options(modelDirOption)
      .option('index', { type: 'number', default: 0, describe: 'Test image number, 0..9999' })
      .option('data-dir', dataOptions['data-dir'])
      .option('backend', {
        type: 'string',
        choices: BACKEND_NAMES,
        describe: 'TensorFlow.js backend (default: tensorflow, else wasm, else cpu)',
      })
      .example('$0 predict --model models/default', 'the first test image (an ankle boot)')
      .example('$0 predict --model models/default --index 42', 'another test image') as never,
  handler: async (args) => {
    process.stdout.write(`${formatPrediction(await runPredict(args))}\n`);
  },
};
