import { TinymlError, UsageError } from '../errors.ts';

/** Job data that is not what a farm job holds (wrong type, range, board kind). */
export class FarmJobDataError extends TinymlError {}

/** A Redis URL we will not connect to. */
export class RedisUrlError extends UsageError {}

/** A model artifact missing from Redis or whose bytes do not hash to its name. */
export class ArtifactError extends TinymlError {}

/** Shard results that do not add up to every sample exactly once. */
export class MergeError extends TinymlError {}

/** A submission whose flow failed; the message is the failing shard's reason. */
export class FarmJobFailedError extends TinymlError {}

/** The board a worker drives stopped answering and cannot be reconnected. */
export class BoardGoneError extends TinymlError {}

/** Redis did not answer, or refused the password. */
export class RedisUnreachableError extends TinymlError {}
