/**
 * Redis connections from a URL. Only redis:// and rediss:// (TLS) are accepted;
 * a password in the URL is used and never printed (redactUrl).
 */
import { Redis } from 'ioredis';
import { RedisUnreachableError, RedisUrlError } from './errors.ts';

export interface RedisTarget {
  readonly url: string;
  /** The URL with its password replaced by ***, for messages. */
  readonly display: string;
  readonly tls: boolean;
}

/** @throws RedisUrlError for anything but a redis:// or rediss:// URL with a host */
export function parseRedisUrl(url: string | undefined): RedisTarget {
  if (!url) throw new RedisUrlError('--redis is missing: give the farm\'s Redis as redis://[:password@]host:port or rediss://...');
  let u: URL;
  try {
    u = new URL(url);
  } catch (err) {
    throw new RedisUrlError(`--redis ${redactUrl(url)} is not a URL: write redis://[:password@]host:port`, { cause: err });
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') {
    throw new RedisUrlError(`--redis ${redactUrl(url)}: the scheme must be redis:// or rediss:// (TLS)`);
  }
  if (!u.hostname) throw new RedisUrlError(`--redis ${redactUrl(url)} names no host`);
  if (u.pathname && u.pathname !== '/' && !/^\/\d{1,2}$/.test(u.pathname)) {
    throw new RedisUrlError(`--redis ${redactUrl(url)}: the path must be a database number (/0../15)`);
  }
  return { url, display: redactUrl(url), tls: u.protocol === 'rediss:' };
}

export function redactUrl(url: string): string {
  return url.replace(/^([a-z]+:\/\/)([^@/]*)@/i, (_m, scheme: string, auth: string) => {
    const user = auth.includes(':') ? auth.slice(0, auth.indexOf(':')) : auth;
    return `${scheme}${user}:***@`;
  });
}

/**
 * A connection as BullMQ wants it (maxRetriesPerRequest null: blocking commands
 * wait through reconnects instead of failing).
 */
export function connect(target: RedisTarget, options: { lazy?: boolean } = {}): Redis {
  const redis = new Redis(target.url, { maxRetriesPerRequest: null, lazyConnect: options.lazy ?? false, connectionName: 'tinyml' });
  // Errors surface through the commands that fail; without a listener ioredis logs each reconnect.
  redis.on('error', () => undefined);
  return redis;
}

/** Fails fast with one line (RedisUnreachableError) when Redis cannot be reached or refuses the password. */
export async function ping(redis: Redis, target: RedisTarget, timeoutMs = 5000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  let last: Error | null = null;
  const onError = (err: Error) => {
    last = err;
  };
  redis.on('error', onError);
  try {
    await Promise.race([
      redis.ping(),
      new Promise((_r, reject) => {
        timer = setTimeout(() => reject(last ?? new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } catch (err) {
    throw new RedisUnreachableError(`cannot reach Redis at ${target.display}: ${(err as Error).message}`, { cause: err });
  } finally {
    clearTimeout(timer);
    redis.off('error', onError);
  }
}

/** connect + ping: a client that answered, or RedisUrlError with the client closed (nothing left retrying). */
export async function connectChecked(target: RedisTarget): Promise<Redis> {
  const redis = connect(target);
  try {
    await ping(redis, target);
    return redis;
  } catch (err) {
    redis.disconnect();
    throw err;
  }
}
