/** The doctor's report as an aligned table (pure). */
import type { CheckResult, DoctorReport } from './types.ts';

/**
 *   ok    node                 v20.20.2 (>= 20)
 *   warn  arduino-cli          not on PATH (...)
 *                              fix: curl ... | sh
 */
export function formatReport(report: DoctorReport): string {
  const width = Math.max(...report.checks.map((c) => c.name.length), 4);
  const lines: string[] = [];
  for (const c of report.checks) {
    lines.push(`${c.status.padEnd(4)}  ${c.name.padEnd(width)}  ${c.detail}`);
    if (c.fix && c.status !== 'ok') lines.push(`${' '.repeat(4 + 2 + width + 2)}fix: ${c.fix}`);
  }
  lines.push(summary(report.checks));
  return lines.join('\n');
}

export function summary(checks: readonly CheckResult[]): string {
  const count = (s: CheckResult['status']) => checks.filter((c) => c.status === s).length;
  const [ok, warn, fail] = [count('ok'), count('warn'), count('fail')];
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  return `${plural(checks.length, 'check')}: ${ok} ok, ${plural(warn, 'warning')}, ${plural(fail, 'failure')}`;
}

/** The failing checks' names, for the one-line error. */
export function failedNames(report: DoctorReport): string[] {
  return report.checks.filter((c) => c.status === 'fail').map((c) => c.name);
}
