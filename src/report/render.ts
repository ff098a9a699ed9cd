/**
 * The HTML report of one or more model folders (an exercise's stages, or the one
 * model of `tinyml report`): a summary table, charts rendered to inline SVG, the
 * first disagreeing test images, and provenance. One self-contained file.
 */
import { FASHION_MNIST_CLASSES } from '../model/types.ts';
import { BOARDS } from '../firmware-build/budget.ts';
import type { ValidationDetail, SampleExample } from '../validate/detail.ts';
import type { ModelEvidence } from './evidence.ts';
import type { Provenance } from './provenance.ts';
import type { StageRow } from './row.ts';
import { el, Html, page, table, type Content } from './html.ts';
import { grayPngDataUri } from './png.ts';
import { vegaLiteToSvg } from './svg.ts';
import {
  accuracyChart,
  confusionChart,
  latencyChart,
  memoryChart,
  perClassChart,
  trainingCurvesChart,
  type AccuracyPoint,
  type ClassAccuracyPoint,
  type EpochPoint,
} from './charts.ts';
import type { TopLevelSpec } from 'vega-lite';

export interface ReportStage {
  readonly row: StageRow;
  readonly evidence: ModelEvidence;
}

export interface ReportInput {
  readonly title: string;
  readonly subtitle: string;
  readonly stages: readonly ReportStage[];
  readonly provenance: Provenance;
}

const pct = (x: number | null | undefined) => (x === null || x === undefined ? '—' : `${(100 * x).toFixed(2)}%`);
const int = (x: number | null | undefined) => (x === null || x === undefined ? '—' : Math.round(x).toLocaleString('en-US'));

async function chart(spec: TopLevelSpec): Promise<Html> {
  return el('div', { class: 'chart' }, new Html(await vegaLiteToSvg(spec)));
}

function withNotebook(ours: number | null, notebook: number | null | undefined): Content {
  if (notebook === null || notebook === undefined) return pct(ours);
  return [pct(ours), el('br', {}), el('span', { class: 'muted' }, `notebook ~${(100 * notebook).toFixed(1)}%`)];
}

function stageTable(stages: readonly ReportStage[]): Html {
  const head = [
    'stage', 'layers', 'epochs', 'train s', 'train acc', 'test acc (float)', 'float', 'int8 (ref)', 'TFLite', 'device',
    'samples', 'exact', '.tflite bytes', 'flash bytes', 'RAM bytes', 'fits', 'cycles p50', 'µs p50',
  ];
  const rows = stages.map(({ row: r }) => [
    [el('b', {}, r.name), r.reused ? el('span', { class: 'muted' }, ' (reused)') : null],
    `784-${r.hidden.join('-')}-10${r.normalize ? '' : ', raw pixels'}${r.stopAtAccuracy !== null ? `, stop > ${r.stopAtAccuracy}` : ''}`,
    int(r.epochsRun),
    r.trainSeconds === null ? '—' : r.trainSeconds.toFixed(1),
    withNotebook(r.trainAccuracy, r.notebook?.trainAccuracy),
    withNotebook(r.testAccuracy, r.notebook?.testAccuracy),
    pct(r.floatAccuracy),
    pct(r.int8Accuracy),
    pct(r.tfliteAccuracy),
    pct(r.deviceAccuracy),
    int(r.samples),
    r.exactAgreement === null ? '—' : el('span', { class: r.passed ? 'pass' : 'fail' }, pct(r.exactAgreement)),
    int(r.tfliteBytes),
    [int(r.flashBytes), r.memorySource === 'budget' ? el('span', { class: 'muted' }, ' (est.)') : null],
    [int(r.ramBytes), r.memorySource === 'budget' ? el('span', { class: 'muted' }, ' (est.)') : null],
    r.fits ? 'yes' : el('span', { class: 'note' }, 'no'),
    int(r.latencyCycles?.p50),
    r.latencyMicros ? r.latencyMicros.p50.toFixed(1) : '—',
  ]);
  const notes = stages
    .filter(({ row }) => row.note)
    .map(({ row }) => el('p', { class: 'note' }, `${row.name}: ${row.note}; the device columns are empty.`));
  return el('div', {}, table(head, rows), notes);
}

function accuracyPoints(stages: readonly ReportStage[]): { points: AccuracyPoint[]; kinds: string[] } {
  const kinds = ['float', 'int8 (reference)', 'TFLite', 'device', 'notebook (test)'];
  const points: AccuracyPoint[] = [];
  for (const { row: r } of stages) {
    const add = (kind: string, v: number | null | undefined) => {
      if (v !== null && v !== undefined) points.push({ stage: r.name, kind, accuracy: v });
    };
    add('float', r.floatAccuracy);
    add('int8 (reference)', r.int8Accuracy);
    add('TFLite', r.tfliteAccuracy);
    add('device', r.deviceAccuracy);
    add('notebook (test)', r.notebook?.testAccuracy);
  }
  return { points, kinds: kinds.filter((k) => points.some((p) => p.kind === k)) };
}

function classAccuracy(labels: readonly number[], predicted: readonly number[]): number[] {
  const n = FASHION_MNIST_CLASSES.length;
  const right = new Array<number>(n).fill(0);
  const all = new Array<number>(n).fill(0);
  for (let s = 0; s < labels.length; s++) {
    all[labels[s]!]! += 1;
    if (predicted[s] === labels[s]) right[labels[s]!]! += 1;
  }
  return all.map((a, c) => (a ? right[c]! / a : 0));
}

function sampleFigure(x: SampleExample, hostName: string): Html {
  const pixels = Buffer.from(x.pixels, 'base64');
  const side = Math.round(Math.sqrt(pixels.length));
  const img = side * side === pixels.length ? el('img', { src: grayPngDataUri(new Uint8Array(pixels), side, side), alt: `test image ${x.index}` }) : null;
  const top = (v: readonly number[]) => v.indexOf(Math.max(...v));
  const rows = FASHION_MNIST_CLASSES.map((name, c) => {
    const mark = (v: readonly number[]) => (top(v) === c ? el('b', {}, v[c]) : String(v[c]));
    return [name, mark(x.device), mark(x.host)];
  });
  return el(
    'div',
    { class: 'sample' },
    img,
    el('div', {}, `#${x.index}, label ${FASHION_MNIST_CLASSES[x.label] ?? x.label}`),
    table(['class', 'device', hostName], rows),
  );
}

async function deviceSection(s: ReportStage): Promise<Html | null> {
  const v = s.evidence.validation;
  const d: ValidationDetail | null | undefined = v?.detail;
  if (!v || !d) return null;
  const hostName = d.host === 'tflite' ? 'host TFLite' : 'host reference';
  const kinds = [...(d.floatTop1 ? ['float'] : []), `${hostName} int8`, 'device'];
  const perClass: ClassAccuracyPoint[] = [];
  const push = (kind: string, acc: number[]) => acc.forEach((a, c) => perClass.push({ className: FASHION_MNIST_CLASSES[c]!, kind, accuracy: a }));
  if (d.floatTop1) push('float', classAccuracy(d.labels, d.floatTop1));
  push(`${hostName} int8`, classAccuracy(d.labels, d.hostTop1));
  push('device', classAccuracy(d.labels, d.deviceTop1));
  const unit = v.cycleUnit === 'emulated-instructions' ? 'emulated instructions per inference' : 'CPU cycles per inference';
  const examples = d.differing.length
    ? [el('p', {}, `The first samples whose device outputs differ from the ${hostName}'s in any byte (int8 outputs; the larger of each pair is the top-1):`), d.differing.map((x) => sampleFigure(x, hostName))]
    : [
        el('p', {}, `No sample's device outputs differ from the ${hostName}'s. The first samples the device classifies wrongly (the ${hostName} agrees unless shown otherwise):`),
        d.misclassified.map((x) => sampleFigure(x, hostName)),
      ];
  return el(
    'section',
    {},
    el('h3', {}, `${s.row.name}: on the device (${v.board}, ${v.runtime} runtime, ${v.samples} samples)`),
    el(
      'p',
      { class: v.passed ? 'pass' : 'fail' },
      v.passed
        ? `PASS: the device's outputs equal the reference's on ${pct(v.exactAgreement)} of samples.`
        : `FAIL: the device's outputs equal the reference's on only ${pct(v.exactAgreement)} of samples.`,
    ),
    el(
      'p',
      {},
      `On these ${v.samples} test images (the first of the test set): device ${pct(v.deviceAccuracy)}, host int8 (TFLite) ${pct(v.hostInt8Accuracy)}, ` +
        `reference ${pct(v.referenceAccuracy)}, float ${pct(v.hostFloatAccuracy)}; latency p50/p90/p99/max ${int(v.latencyCycles.p50)} / ${int(v.latencyCycles.p90)} / ` +
        `${int(v.latencyCycles.p99)} / ${int(v.latencyCycles.max)} ${v.cycleUnit === 'emulated-instructions' ? 'emulated instructions' : 'cycles'}` +
        (v.latencyMicros ? ` (${v.latencyMicros.p50.toFixed(1)} µs p50${v.cycleUnit === 'emulated-instructions' ? ', estimated at one instruction per cycle' : ''})` : '') + '.',
    ),
    el(
      'div',
      { class: 'charts' },
      await chart(confusionChart(`Confusion matrix: ${hostName} int8`, d.labels, d.hostTop1)),
      await chart(confusionChart('Confusion matrix: device', d.labels, d.deviceTop1)),
    ),
    el(
      'div',
      { class: 'charts' },
      await chart(perClassChart('Accuracy per class', perClass, kinds)),
      await chart(latencyChart(`Latency (${v.cycleUnit === 'emulated-instructions' ? 'QEMU -icount' : 'DWT'}), p50 ${int(v.latencyCycles.p50)}`, d.cycles, unit)),
    ),
    examples,
  );
}

function provenanceSection(input: ReportInput): Html {
  const p = input.provenance;
  const facts: [string, Content][] = [
    ['tinyml-deploy', p.tinyml],
    ['Node.js', p.node],
    ['TensorFlow.js', `${p.tfjs}, backend ${p.backend}`],
    ['host TFLite interpreter', p.tflite],
    ['board', `${p.board}, ${p.runtime} runtime`],
    ['training data SHA-256', p.trainDataSha256 ?? '—'],
    ['test data SHA-256', p.testDataSha256 ?? '—'],
    ['generated', p.generated],
  ];
  const models = input.stages.map(({ row, evidence: e }) => [
    row.name,
    e.dir,
    e.modelCrc32,
    int(e.tfliteBytes),
    e.validation ? `${e.validation.info.board} (${e.validation.runtime}), CRC ${e.validation.modelCrc32}` : '—',
    e.metrics?.seed ?? '—',
    e.metrics?.backend ?? '—',
  ]);
  return el(
    'section',
    {},
    el('h2', {}, 'Provenance'),
    table(['what', 'value'], facts),
    table(['model', 'folder', '.tflite CRC-32', 'bytes', 'validated on', 'seed', 'trained on'], models),
  );
}

export async function renderReport(input: ReportInput): Promise<string> {
  const { stages } = input;
  const acc = accuracyPoints(stages);
  const epochs: EpochPoint[] = stages.flatMap(({ row, evidence }) =>
    (evidence.metrics?.epochs ?? []).map((e) => ({ stage: row.name, epoch: e.epoch, loss: e.loss, accuracy: e.accuracy })),
  );
  const nano = BOARDS.nano33ble;
  const memory = stages.map(({ row, evidence }) => ({ stage: row.name, flash: evidence.nanoBudget.flash.used, ram: evidence.nanoBudget.ram.used }));
  const device = (await Promise.all(stages.map(deviceSection))).filter((x): x is Html => x !== null);

  const body: Content = [
    el('h1', {}, input.title),
    el('p', { class: 'sub' }, input.subtitle),
    el('h2', {}, 'Stages'),
    stageTable(stages),
    el(
      'p',
      { class: 'muted' },
      'Accuracies are on the test images: "test acc (float)" from training\'s own pass, float / int8 (our reference, TFLM\'s arithmetic) / TFLite from the host evaluation, device from the on-device validation. Flash and RAM are measured by the firmware build for the chosen board, or the budget\'s estimate (est.) when nothing was built.',
    ),
    el('h2', {}, 'Accuracy'),
    acc.points.length ? await chart(accuracyChart(acc.points, acc.kinds)) : el('p', {}, 'No accuracy figures.'),
    el('h2', {}, 'Training'),
    epochs.length ? await chart(trainingCurvesChart(epochs)) : el('p', {}, 'No training history (metrics.json has no epochs).'),
    el('h2', {}, 'Memory on the Arduino Nano 33 BLE Sense'),
    el(
      'p',
      { class: 'muted' },
      `The budget of each model on the Nano 33 BLE Sense (the runtime validated, TFLM otherwise): the .tflite bytes are exact, the runtime and mbed core shares are estimates. Limits: ${nano.flashMax.toLocaleString('en-US')} bytes of flash for a sketch, ${nano.ramMax.toLocaleString('en-US')} bytes of RAM.`,
    ),
    await chart(memoryChart('Flash and RAM against the Nano 33 BLE Sense', memory, nano.flashMax, nano.ramMax)),
    el('h2', {}, 'On the device'),
    device.length ? device : el('p', {}, 'No stage ran on a device.'),
    provenanceSection(input),
  ];
  return page(input.title, body);
}
