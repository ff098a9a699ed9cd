/**
 * `tinyml report --model DIR`: DIR/report.html for one model, from what train,
 * quantize, evaluate and validate wrote into the folder.
 */
import { basename, resolve } from 'node:path';
import { UsageError } from '../errors.ts';
import { existsSync } from 'node:fs';
import { modelPaths } from '../model/model-dir.ts';
import { readInt8Model } from '../model/int8-file.ts';
import { planBudget } from '../firmware-build/budget.ts';
import { writeFileAtomic } from '../util/atomic-write.ts';
import { readModelEvidence } from './evidence.ts';
import { provenance } from './provenance.ts';
import { renderReport } from './render.ts';
import { stageRow, type StageRow } from './row.ts';

export interface ModelReportResult {
  readonly report: string;
  readonly row: StageRow;
  /** Which of the stage files were there to report on. */
  readonly found: { readonly metrics: boolean; readonly evaluation: boolean; readonly validation: boolean };
}

export async function writeModelReport(dir: string): Promise<ModelReportResult> {
  const paths = modelPaths(dir);
  if (!existsSync(paths.int8Tflite)) {
    throw new UsageError(`${paths.int8Tflite} is missing: run tinyml quantize --model ${dir} (and evaluate, deploy) first`);
  }
  const evidence = await readModelEvidence(dir);
  const { model, bytes } = await readInt8Model(dir);
  const m = evidence.metrics;
  const v = evidence.validation;
  const hidden = m?.hidden ?? model.layers.slice(0, -1).map((l) => l.outputSize);
  const name = m?.name ?? basename(resolve(dir));
  const onEmulator = v?.board === 'emulator';
  const runtime = v?.runtime ?? 'tflm';
  const budget = planBudget({ model, modelBytes: bytes.length, runtime, board: onEmulator ? 'mps2-an386' : 'nano33ble' });
  const row = stageRow({
    spec: {
      name,
      title: `784-${hidden.join('-')}-10`,
      hidden,
      normalize: m?.normalized ?? true,
      stopAtAccuracy: m?.stopAtAccuracy ?? null,
      notebook: null,
    },
    dir,
    evidence,
    budget,
    build: null,
  });
  const prov = await provenance({
    backend: m?.backend ?? 'unknown',
    board: v ? `${v.board} (${v.info.board})` : 'not validated on a device',
    runtime: v?.runtime ?? '—',
    trainDataSha256: m?.dataset?.train.sha256 ?? null,
    testDataSha256: evidence.evaluation?.testDataSha256 ?? m?.dataset?.test.sha256 ?? null,
  });
  const html = await renderReport({
    title: `Model ${name}`,
    subtitle: `${dir}: 784 -> ${hidden.join(' -> ')} -> 10, .tflite CRC-32 ${evidence.modelCrc32}`,
    stages: [{ row, evidence }],
    provenance: prov,
  });
  await writeFileAtomic(paths.report, html);
  return { report: paths.report, row, found: { metrics: m !== null, evaluation: evidence.evaluation !== null, validation: v !== null } };
}
