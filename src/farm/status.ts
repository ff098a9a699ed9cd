/**
 * `tinyml farm status`: the workers alive (their heartbeat hashes, which expire
 * when a worker stops refreshing them), queue depths, and samples finished over
 * the last minutes.
 */
import { Queue } from 'bullmq';
import { connectChecked, parseRedisUrl } from './redis.ts';
import { FARM_BOARDS, HEARTBEAT_PATTERN, MERGE_QUEUE, minuteKey, shardQueueName, TRAIN_QUEUE } from './queues.ts';

export interface WorkerStatus {
  readonly worker: string;
  readonly board: string;
  readonly runtime: string;
  readonly port: string;
  readonly host: string;
  readonly modelCrc32: string;
  readonly job: string;
  readonly jobs: number;
  readonly samples: number;
  /** Samples per second while busy. */
  readonly samplesPerSec: number;
  readonly secondsSinceHeartbeat: number;
}

export interface QueueStatus {
  readonly queue: string;
  readonly waiting: number;
  readonly active: number;
  readonly delayed: number;
  readonly waitingChildren: number;
  readonly completed: number;
  readonly failed: number;
}

export interface FarmStatus {
  readonly redis: string;
  readonly workers: readonly WorkerStatus[];
  readonly queues: readonly QueueStatus[];
  /** Samples finished by all workers in the last minute and last 5 minutes, per second. */
  readonly throughput: { readonly lastMinute: number; readonly last5Minutes: number };
}

export async function farmStatus(args: { redis?: string }): Promise<FarmStatus> {
  const target = parseRedisUrl(args.redis);
  const redis = await connectChecked(target);
  const names = [...FARM_BOARDS.map(shardQueueName), MERGE_QUEUE, TRAIN_QUEUE];
  const queues = names.map((n) => new Queue(n, { connection: redis }));
  for (const q of queues) q.on('error', () => undefined);
  try {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await redis.scan(cursor, 'MATCH', HEARTBEAT_PATTERN, 'COUNT', 200);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== '0');
    const now = Date.now();
    const workers: WorkerStatus[] = [];
    for (const key of keys.sort()) {
      const h = await redis.hgetall(key);
      if (!h.worker) continue;
      const busyMs = Number(h.busyMs) || 0;
      const samples = Number(h.samples) || 0;
      workers.push({
        worker: h.worker,
        board: h.board ?? '',
        runtime: h.runtime ?? '',
        port: h.port ?? '',
        host: h.host ?? '',
        modelCrc32: h.modelCrc32 ?? '',
        job: h.job ?? '',
        jobs: Number(h.jobs) || 0,
        samples,
        samplesPerSec: busyMs > 0 ? samples / (busyMs / 1000) : 0,
        secondsSinceHeartbeat: Math.max(0, (now - (Number(h.updatedAt) || now)) / 1000),
      });
    }
    const queueStatus: QueueStatus[] = [];
    for (const q of queues) {
      const c = await q.getJobCounts('waiting', 'active', 'delayed', 'waiting-children', 'completed', 'failed');
      queueStatus.push({
        queue: q.name,
        waiting: c.waiting ?? 0,
        active: c.active ?? 0,
        delayed: c.delayed ?? 0,
        waitingChildren: c['waiting-children'] ?? 0,
        completed: c.completed ?? 0,
        failed: c.failed ?? 0,
      });
    }
    const minute = Math.floor(now / 60_000);
    const counts = await redis.mget(...Array.from({ length: 6 }, (_, i) => minuteKey(minute - i)));
    const n = counts.map((c) => Number(c) || 0);
    // The current minute is partial: count it with the seconds it has had so far.
    const partial = (now % 60_000) / 1000;
    const lastMinute = (n[0]! + n[1]! * ((60 - partial) / 60)) / 60;
    const last5Minutes = (n.slice(0, 5).reduce((a, b) => a + b, 0) + n[5]! * ((60 - partial) / 60)) / 300;
    return { redis: target.display, workers, queues: queueStatus, throughput: { lastMinute, last5Minutes } };
  } finally {
    for (const q of queues) await q.close().catch(() => undefined);
    await redis.quit().catch(() => redis.disconnect());
  }
}

export function formatFarmStatus(s: FarmStatus): string {
  const lines = [`farm on ${s.redis}`, `workers (${s.workers.length})`];
  if (s.workers.length === 0) lines.push('  none: start one with tinyml worker --redis URL --board emulator');
  for (const w of s.workers) {
    lines.push(
      `  ${w.worker}  ${w.board} ${w.runtime} on ${w.port || '-'}  model ${w.modelCrc32 || '-'}  ${w.job ? `busy: ${w.job.slice(0, 40)}` : 'idle'}  ` +
        `${w.jobs} jobs, ${w.samples} samples, ${w.samplesPerSec.toFixed(1)} samples/s busy  (heartbeat ${w.secondsSinceHeartbeat.toFixed(0)} s ago)`,
    );
  }
  lines.push('queues                     waiting active delayed children completed failed');
  for (const q of s.queues) {
    const c = (x: number) => String(x).padStart(7);
    lines.push(`  ${q.queue.padEnd(24)} ${c(q.waiting)}${c(q.active)}${c(q.delayed)} ${c(q.waitingChildren)}  ${c(q.completed)}${c(q.failed)}`);
  }
  lines.push(`throughput                 ${s.throughput.lastMinute.toFixed(1)} samples/s over the last minute, ${s.throughput.last5Minutes.toFixed(1)} over 5 minutes`);
  return lines.join('\n');
}
