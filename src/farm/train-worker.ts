/**
 * `tinyml worker --train`: takes training jobs (`tinyml exercise --redis`) on a
 * host with no board, trains each as `tinyml train` does, and returns the model's
 * files (train.ts). One job at a time: training takes the CPU. It keeps a
 * heartbeat for `tinyml farm status` like a board worker (board "train").
 *
 * Ctrl-C lets the training in hand finish and return its result (a second
 * Ctrl-C exits at once: the job's lock then lapses and another worker trains it).
 */
import { hostname } from 'node:os';
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import { TinymlError, UsageError } from '../errors.ts';
import { loadFashionMnist, type Dataset } from '../data/fashion-mnist.ts';
import { initBackend } from '../train/backend.ts';
import { connectChecked, parseRedisUrl } from './redis.ts';
import { heartbeatKey, TRAIN_QUEUE } from './queues.ts';
import { HEARTBEAT_EVERY_MS, writeHeartbeat } from './heartbeat.ts';
import { parseTrainJobData } from './schema.ts';
import { trainFiles, trainJobResult, type TrainJobProgress, type TrainJobResult } from './train.ts';
import type { TrainProgress } from '../train/train.ts';
import type { WorkerArgs, WorkerSummary } from './worker.ts';


export async function runTrainWorker(args: WorkerArgs, log: (line: string) => void = () => undefined): Promise<WorkerSummary> {
  const target = parseRedisUrl(args.redis);
  if (args.board || args.port || args.runtime || args['tflm-dir']) throw new UsageError('--train takes no --board, --port, --runtime or --tflm-dir: run a board worker beside it');
  const lockMs = args['lock-ms'] ?? 30_000;
  if (!Number.isInteger(lockMs) || lockMs < 1000) throw new UsageError(`--lock-ms ${args['lock-ms']} must be a whole number of at least 1000`);
  const id = args.name ?? `${hostname()}-train-${process.pid}`;
  const backend = await initBackend();
  const redis = await connectChecked(target);
  const stats = { jobs: 0, images: 0, busyMs: 0, current: '' };
  const beat = () =>
    writeHeartbeat(redis, id, {
      board: 'train',
      runtime: backend,
      port: '',
      modelCrc32: '',
      modelSha256: '',
      job: stats.current,
      jobs: stats.jobs,
      samples: stats.images,
      busyMs: stats.busyMs,
    });
  const beatSafe = () => void beat().catch((err: unknown) => log(`heartbeat failed: ${(err as Error).message}`));
  let timer: NodeJS.Timeout | undefined;
  let worker: Worker | undefined;
  let stopping = false;
  let resolveStop = () => undefined as void;
  const onSignal = () => {
    if (stopping) process.exit(130);
    stopping = true;
    log(`worker ${id}: stopping (the training in hand finishes first)`);
    resolveStop();
  };
  try {
    await beat();
    timer = setInterval(beatSafe, HEARTBEAT_EVERY_MS);
    // Data sets by (split, limit): a worker trains many stages on the same few.
    const sets = new Map<string, Promise<Dataset>>();
    const dataset = (split: 'train' | 'test', limit: number | null) => {
      const key = `${split}:${limit}`;
      if (!sets.has(key)) sets.set(key, loadFashionMnist({ dataDir: args['data-dir'], split, limit: limit ?? undefined }));
      return sets.get(key)!;
    };
    const processTrain = async (job: Job): Promise<TrainJobResult> => {
      let data;
      try {
        data = parseTrainJobData(job.data, `job ${job.id}`);
      } catch (err) {
        throw new UnrecoverableError((err as Error).message);
      }
      stats.current = `${job.id}`;
      beatSafe();
      const started = Date.now();
      log(`job ${job.id}: training ${data.name} (784 -> ${data.hidden.join(' -> ')} -> 10, ${data.epochs} epochs)`);
      let last = 0;
      // Every epoch's line, and the latest event: a submitter polling now and then misses no epoch.
      const epochs: TrainProgress[] = [];
      try {
        const [train, test] = await Promise.all([dataset('train', data.limitTrain), dataset('test', data.limitTest)]);
        const files = await trainFiles(data, train, test, (p) => {
          if (p.kind === 'epoch') epochs.push(p);
          else if (p.kind === 'batch' && Date.now() - last < 1000) return;
          last = Date.now();
          const progress: TrainJobProgress = { epochs, current: p };
          void job.updateProgress(progress).catch(() => undefined);
        });
        stats.jobs++;
        stats.images += train.count;
        return await trainJobResult(redis, files, id);
      } catch (err) {
        // Our errors (data that differs, a bad setting) fail the same way on every try.
        if (err instanceof TinymlError) throw new UnrecoverableError(err.message);
        throw err;
      } finally {
        stats.busyMs += Date.now() - started;
        stats.current = '';
        beatSafe();
      }
    };
    worker = new Worker(TRAIN_QUEUE, processTrain, { connection: redis, concurrency: 1, lockDuration: lockMs, stalledInterval: lockMs, maxStalledCount: 2 });
    worker.on('error', (err) => log(`queue error: ${err.message}`));
    worker.on('failed', (job, err) => {
      if (job) log(`job ${job.id} failed: ${err.message}`);
    });
    log(`worker ${id}: training (${backend} backend) on ${target.display}, taking ${TRAIN_QUEUE}`);
    await new Promise<void>((resolve) => {
      resolveStop = resolve;
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
    });
    // close() waits for the job in hand.
    await worker.close();
    return { worker: id, jobs: stats.jobs, samples: stats.images };
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    clearInterval(timer);
    await worker?.close().catch(() => undefined);
    await redis.del(heartbeatKey(id)).catch(() => undefined);
    await redis.quit().catch(() => redis.disconnect());
  }
}
