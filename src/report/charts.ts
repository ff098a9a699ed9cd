/**
 * The report's charts as Vega-Lite specs, built from plain numbers. Pure: svg.ts
 * renders them.
 */
import type { TopLevelSpec } from 'vega-lite';
import { FASHION_MNIST_CLASSES } from '../model/types.ts';

const FONT = 'Helvetica, Arial, sans-serif';
const config = {
  font: FONT,
  view: { stroke: null },
  axis: { labelFontSize: 11, titleFontSize: 12 },
  legend: { labelFontSize: 11, titleFontSize: 12 },
  title: { fontSize: 13, anchor: 'start' as const },
};
const base = { $schema: 'https://vega.github.io/schema/vega-lite/v6.json', config, background: 'white' };

export interface AccuracyPoint {
  readonly stage: string;
  /** 'float', 'int8 (reference)', 'TFLite', 'device', 'notebook'. */
  readonly kind: string;
  readonly accuracy: number;
}

/** Grouped bars: one group per stage, one bar per run of the model. */
export function accuracyChart(points: readonly AccuracyPoint[], kinds: readonly string[]): TopLevelSpec {
  return {
    ...base,
    title: 'Test accuracy per stage',
    width: { step: 16 },
    height: 220,
    data: { values: points.map((p) => ({ ...p })) },
    mark: { type: 'bar', tooltip: true },
    encoding: {
      x: { field: 'stage', type: 'nominal', title: null, sort: null, axis: { labelAngle: 0 } },
      xOffset: { field: 'kind', type: 'nominal', sort: [...kinds] },
      y: { field: 'accuracy', type: 'quantitative', title: 'accuracy', scale: { domain: [0, 1] }, axis: { format: '.0%' } },
      color: { field: 'kind', type: 'nominal', title: 'run', sort: [...kinds] },
    },
  } as TopLevelSpec;
}

export interface EpochPoint {
  readonly stage: string;
  readonly epoch: number;
  readonly loss: number;
  readonly accuracy: number;
}

/** Training loss and accuracy per epoch, one line per stage. */
export function trainingCurvesChart(points: readonly EpochPoint[]): TopLevelSpec {
  const line = (field: 'loss' | 'accuracy', title: string, scale: object, format?: string) => ({
    title,
    width: 300,
    height: 200,
    mark: { type: 'line', point: true, tooltip: true },
    encoding: {
      x: { field: 'epoch', type: 'ordinal', title: 'epoch', axis: { labelAngle: 0 } },
      y: { field, type: 'quantitative', title: field, scale, ...(format ? { axis: { format } } : {}) },
      color: { field: 'stage', type: 'nominal', sort: null },
    },
  });
  return {
    ...base,
    data: { values: points.map((p) => ({ ...p })) },
    hconcat: [line('loss', 'Training loss per epoch', { type: 'log' }), line('accuracy', 'Training accuracy per epoch', { zero: false }, '.0%')],
  } as TopLevelSpec;
}

/** counts[actual][predicted] as a heatmap with the counts written in. */
export function confusionChart(title: string, labels: readonly number[], predicted: readonly number[]): TopLevelSpec {
  const n = FASHION_MNIST_CLASSES.length;
  const counts = Array.from({ length: n * n }, () => 0);
  for (let s = 0; s < labels.length; s++) counts[labels[s]! * n + predicted[s]!]! += 1;
  const values = counts.map((count, k) => ({
    actual: FASHION_MNIST_CLASSES[Math.floor(k / n)]!,
    predicted: FASHION_MNIST_CLASSES[k % n]!,
    count,
  }));
  const order = [...FASHION_MNIST_CLASSES];
  return {
    ...base,
    title,
    width: 260,
    height: 260,
    data: { values },
    encoding: {
      x: { field: 'predicted', type: 'nominal', sort: order, title: 'predicted', axis: { labelAngle: -45 } },
      y: { field: 'actual', type: 'nominal', sort: order, title: 'actual' },
    },
    layer: [
      {
        mark: { type: 'rect', tooltip: true },
        encoding: { color: { field: 'count', type: 'quantitative', scale: { scheme: 'blues' }, legend: null } },
      },
      {
        mark: { type: 'text', fontSize: 10 },
        encoding: {
          text: { field: 'count', type: 'quantitative' },
          color: { condition: { test: `datum.count > ${Math.max(1, Math.max(...counts) / 2)}`, value: 'white' }, value: 'black' },
        },
      },
    ],
  } as TopLevelSpec;
}

export interface ClassAccuracyPoint {
  readonly className: string;
  readonly kind: string;
  readonly accuracy: number;
}

/** Accuracy of each class's samples, per run. */
export function perClassChart(title: string, points: readonly ClassAccuracyPoint[], kinds: readonly string[]): TopLevelSpec {
  return {
    ...base,
    title,
    width: { step: 10 },
    height: 180,
    data: { values: points.map((p) => ({ ...p })) },
    mark: { type: 'bar', tooltip: true },
    encoding: {
      x: { field: 'className', type: 'nominal', sort: [...FASHION_MNIST_CLASSES], title: null, axis: { labelAngle: -45 } },
      xOffset: { field: 'kind', type: 'nominal', sort: [...kinds] },
      y: { field: 'accuracy', type: 'quantitative', scale: { domain: [0, 1] }, axis: { format: '.0%' } },
      color: { field: 'kind', type: 'nominal', title: 'run', sort: [...kinds] },
    },
  } as TopLevelSpec;
}

/** Histogram of per-inference latency. */
export function latencyChart(title: string, cycles: readonly number[], unit: string): TopLevelSpec {
  return {
    ...base,
    title,
    width: 300,
    height: 160,
    data: { values: cycles.map((c) => ({ cycles: c })) },
    mark: { type: 'bar', tooltip: true },
    encoding: {
      x: { field: 'cycles', type: 'quantitative', bin: { maxbins: 30 }, title: unit, axis: { format: '~s' } },
      y: { aggregate: 'count', type: 'quantitative', title: 'samples' },
    },
  } as TopLevelSpec;
}

export interface MemoryPoint {
  readonly stage: string;
  readonly flash: number;
  readonly ram: number;
}

/** Flash and RAM per stage, each with the board's limit as a rule. */
export function memoryChart(title: string, points: readonly MemoryPoint[], flashMax: number, ramMax: number): TopLevelSpec {
  const panel = (field: 'flash' | 'ram', label: string, max: number) => ({
    title: `${label} (limit ${max.toLocaleString('en-US')} bytes)`,
    width: 260,
    height: { step: 22 },
    layer: [
      {
        mark: { type: 'bar', tooltip: true },
        encoding: {
          y: { field: 'stage', type: 'nominal', sort: null, title: null },
          x: { field, type: 'quantitative', title: 'bytes', scale: { domain: [0, Math.max(max, ...points.map((p) => p[field])) * 1.05] }, axis: { format: '~s' } },
          color: { condition: { test: `datum.${field} > ${max}`, value: '#d62728' }, value: '#4c78a8' },
        },
      },
      { mark: { type: 'rule', color: 'black', strokeDash: [4, 3] }, encoding: { x: { datum: max, type: 'quantitative' } } },
    ],
  });
  return {
    ...base,
    title,
    data: { values: points.map((p) => ({ ...p })) },
    hconcat: [panel('flash', 'Flash', flashMax), panel('ram', 'RAM', ramMax)],
  } as TopLevelSpec;
}
