/** The merged report for people: `validate`'s table, then shards and per-board figures. */
import { formatValidationReport } from '../validate/validate.ts';
import type { FarmReport } from './merge.ts';

const num = (x: number) => Math.round(x).toLocaleString('en-US');

export function formatFarmReport(r: FarmReport, reused: boolean): string {
  const lines = [formatValidationReport(r), `farm                           ${r.shards.length} shards on ${r.workers.length} workers${reused ? ' (already run: stored result)' : ''}`];
  for (const s of r.shards) {
    const retry = s.attempt > 1 || s.stalls > 0 ? ` (attempt ${s.attempt}, ${s.stalls} stalls)` : '';
    lines.push(`  shard ${String(s.first).padStart(5)}..${String(s.first + s.count - 1).padEnd(5)} ${s.worker}, ${s.wallSeconds.toFixed(2)} s${retry}`);
  }
  for (const w of r.workers) {
    const c = w.latencyCycles;
    lines.push(
      `  worker ${w.worker} (${w.board}, ${w.runtime}, ${w.port}): ${w.samples} samples, ${w.samplesPerSec.toFixed(1)} samples/s, ` +
        `cycles p50/p90/p99/max ${num(c.p50)} / ${num(c.p90)} / ${num(c.p99)} / ${num(c.max)}`,
    );
  }
  lines.push(`outputs SHA-256                ${r.outputsSha256}`);
  return lines.join('\n');
}
