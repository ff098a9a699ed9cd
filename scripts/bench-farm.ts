/**
 * Farm scaling, part of npm run bench (or alone: node --import tsx scripts/bench-farm.ts).
 * Starts redis-server on a free loopback port in a temp folder, then for 1, 2 and
 * 3 emulator workers (child processes) validates the same random 784-32-10 model
 * on BENCH_FARM_SAMPLES test images (default 300) in 6 shards, and prints the
 * farm's throughput (samples / span from the first shard's start on a link to
 * the last one's end) and its ratio to one worker, side by side. Also measures
 * what Redis holds per shard: MEMORY USAGE of a completed shard job (its result
 * included) and of a job with its result left out. Skipped with a message when
 * redis-server is not installed. Writes build/bench-farm.json.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { writeInt8ModelFolder } from '../test/helpers/random-model.ts';
import { connect, parseRedisUrl } from '../src/farm/redis.ts';
import { runSubmit } from '../src/farm/submit.ts';
import { shardJobId, shardRanges } from '../src/farm/queues.ts';
import { writeJsonAtomic } from '../src/util/atomic-write.ts';
import { startLocalRedis } from '../test/helpers/local-redis.ts';

const REPO = resolve(import.meta.dirname, '..');
const samples = Number(process.env.BENCH_FARM_SAMPLES ?? 300);
const SHARDS = 6;

export async function benchFarm(): Promise<void> {
  if (spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status !== 0) {
    console.log('bench farm: skipped, redis-server is not installed (apt-get install redis-server)');
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), 'tinyml-bench-farm-'));
  const local = await startLocalRedis(dir);
  const url = local.url;
  const redis = connect(parseRedisUrl(url));
  const workers: ResultPromise[] = [];
  const stopWorkers = async () => {
    for (const w of workers) w.kill('SIGTERM');
    await Promise.all(workers.map((w) => w));
    workers.length = 0;
  };
  try {
    const modelDir = join(dir, 'model');
    const { bytes } = await writeInt8ModelFolder(modelDir, [32], 11);
    const rows: { workers: number; samplesPerSec: number; endToEndSeconds: number }[] = [];
    let memory: Record<string, number> = {};
    for (const n of [1, 2, 3]) {
      await redis.flushall();
      for (let i = 0; i < n; i++) {
        workers.push(
          execa(process.execPath, [join(REPO, 'bin', 'tinyml.js'), 'worker', '--redis', url, '--board', 'emulator', '--name', `b${i + 1}`, '--cache-dir', join(dir, 'cache')], {
            cwd: dir,
            reject: false,
            stdin: 'ignore',
          }),
        );
      }
      process.stderr.write(`bench farm: ${samples} samples in ${SHARDS} shards on ${n} emulator worker(s)\n`);
      const t = performance.now();
      const r = await runSubmit({ redis: url, model: modelDir, board: 'emulator', samples, shards: SHARDS, wait: true, timeout: 900 });
      const endToEnd = (performance.now() - t) / 1000;
      const report = r.result!.report;
      if (!report.passed) throw new Error(`bench farm: validation failed with ${n} workers`);
      rows.push({ workers: n, samplesPerSec: report.throughputSamplesPerSec, endToEndSeconds: endToEnd });
      if (n === 1) {
        const { createHash } = await import('node:crypto');
        const sha = createHash('sha256').update(bytes).digest('hex');
        const first = shardRanges(samples, SHARDS)[0]!.count;
        const key = `bull:tinyml-shards-emulator:${shardJobId(sha, 'emulator', 0, first)}`;
        const withResult = Number(await redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0'));
        const resultBytes = (await redis.hget(key, 'returnvalue'))?.length ?? 0;
        memory = { shardSamples: first, shardKeyBytes: withResult, resultBytes, bytesPerSampleResult: resultBytes / first, jobOverheadBytes: withResult - resultBytes };
      }
      await stopWorkers();
    }
    const base = rows[0]!.samplesPerSec;
    const table = rows.map((r) => ({ ...r, ratio: r.samplesPerSec / base }));
    console.table(table.map((r) => ({ workers: r.workers, 'samples/s': r.samplesPerSec.toFixed(1), 'x one worker': r.ratio.toFixed(2), 'end to end s': r.endToEndSeconds.toFixed(1) })));
    console.table([memory]);
    await mkdir('build', { recursive: true });
    await writeJsonAtomic('build/bench-farm.json', { date: new Date().toISOString(), samples, shards: SHARDS, rows: table, memory });
    console.log('wrote build/bench-farm.json');
  } finally {
    await stopWorkers().catch(() => undefined);
    await redis.quit().catch(() => redis.disconnect());
    await local.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await benchFarm();
