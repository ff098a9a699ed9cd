/** The exercise's result as a terminal table. */
import type { StageRow } from '../report/row.ts';
import type { ExerciseResult } from './run.ts';

const pct = (x: number | null) => (x === null ? '-' : `${(100 * x).toFixed(2)}%`);
const int = (x: number | null | undefined) => (x === null || x === undefined ? '-' : Math.round(x).toLocaleString('en-US'));

export function formatExercise(r: ExerciseResult): string {
  const head = ['stage', 'epochs', 'train s', 'train acc', 'float', 'int8', 'TFLite', 'device', 'samples', 'exact', '.tflite B', 'flash B', 'RAM B', 'fits', 'cycles p50', 'us p50'];
  const cells = (s: StageRow) => [
    s.name + (s.reused ? '*' : ''),
    int(s.epochsRun),
    s.trainSeconds === null ? '-' : s.trainSeconds.toFixed(1),
    pct(s.trainAccuracy),
    pct(s.floatAccuracy),
    pct(s.int8Accuracy),
    pct(s.tfliteAccuracy),
    pct(s.deviceAccuracy),
    int(s.samples),
    pct(s.exactAgreement),
    int(s.tfliteBytes),
    int(s.flashBytes) + (s.memorySource === 'budget' ? '~' : ''),
    int(s.ramBytes) + (s.memorySource === 'budget' ? '~' : ''),
    s.fits ? 'yes' : 'no',
    int(s.latencyCycles?.p50),
    s.latencyMicros ? s.latencyMicros.p50.toFixed(1) : '-',
  ];
  const rows = [head, ...r.stages.map(cells)];
  const widths = head.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
  const lines = rows.map((row) => row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  '));
  const notes: string[] = [];
  for (const s of r.stages) {
    if (s.note) notes.push(`${s.name}: ${s.note}`);
    if (s.notebook) {
      notes.push(`${s.name}: the notebook reports about ${pct(s.notebook.trainAccuracy)} training and ${pct(s.notebook.testAccuracy)} test accuracy; here ${pct(s.trainAccuracy)} and ${pct(s.testAccuracy)}`);
    }
    if (s.passed === false) notes.push(`${s.name}: FAIL, the device's outputs differ from the reference's`);
  }
  if (r.stages.some((s) => s.reused)) notes.push('* reused from an earlier run with the same settings (--force redoes it)');
  if (r.stages.some((s) => s.memorySource === 'budget')) notes.push('~ the budget\'s estimate (nothing was built)');
  return [...lines, '', ...notes, `report: ${r.report}`].join('\n');
}
