/**
 * Compares an implementation's answers with TFLM's golden ones, byte for byte:
 * our TypeScript reference (src/reference/) directly, and the C runtimes
 * through the golden runner's output (tflm-golden-runner.ts).
 */
import { Int8Interpreter } from '../src/reference/interpreter.ts';
import { readTflite } from '../src/tflite/reader.ts';
import type { Int8Model } from '../src/model/types.ts';
import type { CaseResult } from './tflm-golden-runner.ts';
import type { LoadedCase } from './tflm-golden-data.ts';

/** An implementation's answer for one case: loaded (init 0) with outputs, or refused (init != 0). */
export interface Answer {
  readonly init: number;
  readonly outputs: ReadonlyArray<Int8Array | { status: number }>;
}

export interface Disagreement {
  readonly caseId: string;
  /** Input index, or -1 when the two disagree on loading the model. */
  readonly input: number;
  /** Output index within the row, or -1. */
  readonly output: number;
  readonly expected: string;
  readonly got: string;
}

/** What our TypeScript reference answers; a refused model (it throws) is init 1, with the reason. */
export function referenceAnswers(cases: readonly LoadedCase[]): Array<Answer & { reason?: string }> {
  return cases.map((c) => {
    const model = readTflite(c.tflite) as Int8Model;
    let interpreter: Int8Interpreter;
    try {
      interpreter = new Int8Interpreter(model);
    } catch (err) {
      return { init: 1, outputs: [], reason: (err as Error).message };
    }
    return { init: 0, outputs: c.inputs.map((x) => interpreter.run(x).output) };
  });
}

/** Every place `answers` differs from TFLM; agreeing on a refusal counts as agreement, whatever the status. */
export function compareWithTflm(cases: readonly LoadedCase[], answers: readonly (Answer | CaseResult)[]): Disagreement[] {
  const out: Disagreement[] = [];
  cases.forEach((c, k) => {
    const a = answers[k]!;
    const tflmLoaded = c.entry.tflm.init === 0;
    if (tflmLoaded !== (a.init === 0)) {
      out.push({ caseId: c.entry.id, input: -1, output: -1, expected: `init ${c.entry.tflm.init}`, got: `init ${a.init}` });
      return;
    }
    if (!tflmLoaded) return;
    c.expected.forEach((want, i) => {
      const got = a.outputs[i];
      if (got === undefined || !(got instanceof Int8Array)) {
        out.push({ caseId: c.entry.id, input: i, output: -1, expected: 'outputs', got: got ? `status ${got.status}` : 'nothing' });
        return;
      }
      if (got.length !== want.length) {
        out.push({ caseId: c.entry.id, input: i, output: -1, expected: `${want.length} outputs`, got: `${got.length}` });
        return;
      }
      for (let j = 0; j < want.length; j++) {
        if (got[j] !== want[j]) out.push({ caseId: c.entry.id, input: i, output: j, expected: String(want[j]), got: String(got[j]) });
      }
    });
  });
  return out;
}

/** One line per disagreement (the first `limit`), for messages. */
export function describeDisagreements(list: readonly Disagreement[], limit = 20): string {
  const lines = list.slice(0, limit).map((d) =>
    d.input < 0 ? `${d.caseId}: TFLM ${d.expected}, got ${d.got}` : `${d.caseId} input ${d.input}${d.output >= 0 ? ` output ${d.output}` : ''}: TFLM ${d.expected}, got ${d.got}`,
  );
  if (list.length > limit) lines.push(`... and ${list.length - limit} more`);
  return lines.join('\n');
}

/** Counts of what the data covers, for reports. */
export function coverage(cases: readonly LoadedCase[]): Record<string, number> {
  const counts: Record<string, number> = { cases: cases.length, rows: 0, outputs: 0, refused: 0, 'final+': 0, 'final-': 0, 'srdhm+': 0, 'srdhm-': 0 };
  for (const c of cases) {
    counts[c.entry.kind] = (counts[c.entry.kind] ?? 0) + 1;
    if (c.entry.tflm.init !== 0) counts.refused! += 1;
    counts.rows! += c.expected.length;
    counts.outputs! += c.expected.reduce((n, r) => n + r.length, 0);
    for (const row of c.entry.ties ?? []) for (const t of row) if (t !== 'none') counts[t]! += 1;
  }
  return counts;
}
