/**
 * The model store: a submission puts the .tflite under the SHA-256 of its bytes,
 * a worker gets it back and checks the hash before it builds or flashes. The C
 * array the firmware needs is derived from these bytes, so nothing else is stored.
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { ArtifactError } from './errors.ts';
import { artifactKey } from './queues.ts';

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Stores the bytes (SET NX: a name always means the same bytes); returns their SHA-256. */
export async function putArtifact(redis: Redis, bytes: Uint8Array): Promise<string> {
  const sha = sha256Hex(bytes);
  await redis.set(artifactKey(sha), Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), 'NX');
  return sha;
}

/** @throws ArtifactError when the artifact is missing or its bytes hash to another name */
export async function getArtifact(redis: Redis, sha256: string): Promise<Uint8Array> {
  const bytes = await redis.getBuffer(artifactKey(sha256));
  if (!bytes) throw new ArtifactError(`model artifact ${sha256.slice(0, 12)} is not in Redis: submit the model again`);
  const got = sha256Hex(bytes);
  if (got !== sha256) {
    throw new ArtifactError(`model artifact ${sha256.slice(0, 12)} is corrupt: its bytes hash to ${got.slice(0, 12)}; submit the model again`);
  }
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
