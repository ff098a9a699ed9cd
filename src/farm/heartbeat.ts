/**
 * A worker's heartbeat: one Redis hash per worker that `tinyml farm status`
 * reads, refreshed every HEARTBEAT_EVERY_MS and gone HEARTBEAT_TTL_S after the
 * worker stops refreshing it (a killed worker drops out of the status by itself).
 */
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import { heartbeatKey } from './queues.ts';

export const HEARTBEAT_TTL_S = 15;
export const HEARTBEAT_EVERY_MS = 5000;

/** What a worker says of itself; host, pid and time are added. */
export interface HeartbeatFields {
  readonly board: string;
  readonly runtime: string;
  readonly port: string;
  readonly modelCrc32: string;
  readonly modelSha256: string;
  readonly job: string;
  readonly jobs: number;
  readonly samples: number;
  readonly busyMs: number;
}

export async function writeHeartbeat(redis: Redis, worker: string, f: HeartbeatFields): Promise<void> {
  const key = heartbeatKey(worker);
  await redis
    .multi()
    .hset(key, {
      worker,
      board: f.board,
      runtime: f.runtime,
      port: f.port,
      host: hostname(),
      pid: String(process.pid),
      modelCrc32: f.modelCrc32,
      modelSha256: f.modelSha256,
      job: f.job,
      jobs: String(f.jobs),
      samples: String(f.samples),
      busyMs: String(Math.round(f.busyMs)),
      updatedAt: String(Date.now()),
    })
    .expire(key, HEARTBEAT_TTL_S)
    .exec();
}
