/** A throwaway redis-server on a free loopback port, for the farm's test and bench. */
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa, type ResultPromise } from 'execa';
import { connect, parseRedisUrl } from '../../src/farm/redis.ts';

export interface LocalRedis {
  readonly url: string;
  readonly server: ResultPromise;
  /** Stops the server and waits for it to exit. */
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

/** Starts redis-server (no persistence, files in `dir`) and waits until it answers PING. */
export async function startLocalRedis(dir: string): Promise<LocalRedis> {
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  const server = execa('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
    reject: false,
    stdin: 'ignore',
  });
  const redis = connect(parseRedisUrl(url));
  try {
    for (let i = 0; (await redis.ping().catch(() => null)) !== 'PONG'; i++) {
      if (i > 100) throw new Error('redis-server did not start');
      await sleep(50);
    }
  } catch (err) {
    server.kill('SIGTERM');
    throw err;
  } finally {
    redis.disconnect();
  }
  return {
    url,
    server,
    stop: async () => {
      server.kill('SIGTERM');
      await server;
    },
  };
}
