/**
 * Compares an implementation's answers with TFLM's golden ones, byte for byte:
 * our TypeScript reference (src/reference/) directly, and the C runtimes
 * through the golden runner's output (tflm-golden-runner.ts).
 */
import { prepareFullyConnected } from '../src/reference/fully-connected.ts';
import { Int8Interpreter } from '../src/reference/int8-interpreter.ts';
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
    let interpreter: Int8Interpreter;
    try {
      // The reader refuses some models TFLM refuses (the bias-scale rule), the interpreter others.
      interpreter = new Int8Interpreter(readTflite(c.tflite) as Int8Model);
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

/** Counts of what the data covers, for reports (`placed` ties: where tflm-golden-cases.ts aimed the accumulators; countTies counts what they hit). */
export function coverage(cases: readonly LoadedCase[]): Record<string, number> {
  const counts: Record<string, number> = { cases: cases.length, rows: 0, outputs: 0, refused: 0, 'placed final+': 0, 'placed final-': 0, 'placed srdhm+': 0, 'placed srdhm-': 0 };
  for (const c of cases) {
    counts[c.entry.kind] = (counts[c.entry.kind] ?? 0) + 1;
    if (c.entry.tflm.init !== 0) counts.refused! += 1;
    counts.rows! += c.expected.length;
    counts.outputs! += c.expected.reduce((n, r) => n + r.length, 0);
    for (const row of c.entry.ties ?? []) for (const t of row) if (t !== 'none') counts[`placed ${t}`]! += 1;
  }
  return counts;
}

/**
 * Exact rounding ties met by every FULLY_CONNECTED output of the fc-tie cases,
 * recomputed with BigInt from the stored model and inputs (independent of the
 * reference's own tie bookkeeping): `srdhm` where acc * 2^left * multiplier is
 * an odd multiple of 2^30 (the doubling high multiply's nudge decides), `final`
 * where the high product's remainder is exactly half of the final shift's divisor.
 */
export function countTies(cases: readonly LoadedCase[]): { finalPositive: number; finalNegative: number; srdhmPositive: number; srdhmNegative: number } {
  const n = { finalPositive: 0, finalNegative: 0, srdhmPositive: 0, srdhmNegative: 0 };
  for (const c of cases.filter((k) => k.entry.kind === 'fc-tie')) {
    const layer = prepareFullyConnected((readTflite(c.tflite) as Int8Model).layers[0]!);
    for (const x of c.inputs) {
      for (let o = 0; o < layer.outputSize; o++) {
        let acc = BigInt(layer.bias[o]!);
        for (let i = 0; i < layer.inputSize; i++) acc += BigInt(layer.weights[o * layer.inputSize + i]!) * BigInt(x[i]! + layer.inputOffset);
        acc = BigInt.asIntN(32, acc);
        const shift = layer.shifts[o]!;
        const product = BigInt.asIntN(32, acc << BigInt(Math.max(0, shift))) * BigInt(layer.multipliers[o]!);
        if (product % (1n << 31n) === (product > 0n ? 1n : -1n) << 30n) n[product > 0n ? 'srdhmPositive' : 'srdhmNegative']++;
        const high = (product + (product >= 0n ? 1n << 30n : 1n - (1n << 30n))) / (1n << 31n); // truncates, as C does
        const right = BigInt(Math.max(0, -shift));
        if (right > 0n && BigInt.asUintN(Number(right), high) === 1n << (right - 1n)) n[high > 0n ? 'finalPositive' : 'finalNegative']++;
      }
    }
  }
  return n;
}
