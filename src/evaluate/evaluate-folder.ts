/** `tinyml evaluate`'s flow on a model folder: float, int8 and TFLite on the test set; writes evaluation.json. */
import { UsageError } from '../errors.ts';
import { loadFashionMnist } from '../data/fashion-mnist.ts';
import { initBackend } from '../train/backend.ts';
import { loadFloatModel, predictFloat } from '../train/float-model.ts';
import { modelPaths } from '../model/model-dir.ts';
import { evaluateInt8, type EvaluationReport } from './evaluate.ts';
import { writeJsonAtomic } from '../util/atomic-write.ts';
import { readInt8Model } from '../model/int8-file.ts';

export interface EvaluateArgs {
  model: string;
  limit?: number;
  json: boolean;
  'data-dir'?: string;
}

export async function runEvaluate(args: EvaluateArgs): Promise<EvaluationReport> {
  if (args.limit !== undefined && (!Number.isInteger(args.limit) || args.limit < 1)) {
    throw new UsageError(`--limit ${args.limit} is not a positive whole number; try --limit 1000`);
  }
  const paths = modelPaths(args.model);
  const { model, bytes } = await readInt8Model(args.model);
  await initBackend();
  const { tfModel, floatModel } = await loadFloatModel(args.model);
  const test = await loadFashionMnist({ dataDir: args['data-dir'], split: 'test', limit: args.limit });
  const float = await predictFloat(tfModel, test.images, floatModel.normalized);
  tfModel.dispose();
  const report = evaluateInt8({
    model,
    tflite: bytes,
    images: test.images,
    labels: test.labels,
    count: test.count,
    normalized: floatModel.normalized,
    floatTop1: float.top1,
  });
  await writeJsonAtomic(paths.evaluation, { ...report, testDataSha256: test.sha256 });
  return report;
}

const pct = (x: number | null) => (x === null ? 'n/a' : `${(100 * x).toFixed(2)}%`);

export function formatReport(r: EvaluationReport): string {
  const lines = [
    `samples                       ${r.samples}`,
    `float accuracy                ${pct(r.floatAccuracy)}`,
    `int8 accuracy (TFLM reference) ${pct(r.int8Accuracy)}`,
  ];
  if (r.tfliteSkipped || !r.output || !r.logits || !r.ties) {
    lines.push(`TFLite comparison skipped: ${r.tfliteSkipped}`);
    return lines.join('\n');
  }
  lines.push(
    `int8 accuracy (TFLite ${r.tfliteVersion})   ${pct(r.tfliteAccuracy)}`,
    `top-1 agreement ref/TFLite    ${pct(r.top1Agreement)}`,
    `exact output agreement        ${pct(r.exactAgreement)} (${r.output.differingOutputs} outputs differ, max ${r.output.maxAbsDiff} step)`,
    `exact logits agreement        ${pct(r.logits.exactAgreement)} (${r.logits.differingOutputs} logits differ, max ${r.logits.maxAbsDiff} step)`,
    `negative ties (TFLM vs x86)   ${r.ties.negativeTies} in ${r.ties.samplesWithTies} samples; differences without a tie: ${r.ties.unexplainedLogitDiffs}`,
    `ref with TFLite's tie rule    ${pct(r.ties.tfliteRuleLogitsAgreement)} of samples have TFLite's logits exactly`,
    `softmax-only differences      ${r.ties.softmaxOnlyDiffs} samples (TFLite's lookup-table softmax vs TFLM's fixed point)`,
  );
  return lines.join('\n');
}
