/**
 * Finds, downloads (when it must) and loads Fashion-MNIST.
 *
 * Where the four IDX files (`.gz` or raw) are looked for, first hit wins:
 *   1. `dataDir` (the --data-dir flag): used alone; no files there is an error.
 *   2. $TINYML_DATA_DIR: likewise used alone, since the user asked for it.
 *   3. the per-user cache, $XDG_CACHE_HOME (or ~/.cache)/tinyml-deploy/fashion-mnist;
 *   4. /usr/share/datasets/fashion-mnist (Debian package dataset-fashion-mnist);
 *   5. otherwise the split's two files are downloaded from the official location
 *      ($TINYML_DATA_URL overrides it) into the cache, checked against the MD5s the
 *      Fashion-MNIST README publishes, and only then written (atomically). A file
 *      that fails the check is rejected and nothing is written.
 */
import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, join } from 'node:path';
import { DataFormatError, DatasetNotFoundError, UsageError } from '../errors.ts';
import { writeFileAtomic } from '../util/atomic-write.ts';
import { checkSameCount, maybeGunzip, readIdxImages, readIdxLabels, type IdxImages, type IdxLabels } from './idx.ts';

export type Split = 'train' | 'test';

/** One split of Fashion-MNIST, in file order (the first `count` samples). */
export interface Dataset {
  /** count*28*28 raw pixels 0..255, row-major; owns its buffer (byteOffset 0). */
  readonly images: Uint8Array;
  /** count labels 0..9 (see FASHION_MNIST_CLASSES). */
  readonly labels: Uint8Array;
  readonly count: number;
  readonly rows: 28;
  readonly cols: 28;
  /** Folder the files were read from. */
  readonly source: string;
  /** Hex SHA-256 of `images` followed by `labels` (the bytes used, after the limit). */
  readonly sha256: string;
}

/** MD5s a downloaded file may have: of the .gz as published, or of its gunzipped content. */
export interface FileChecksums {
  readonly gzMd5: string;
  readonly rawMd5: string;
}

/** Base names (without `.gz`) of the two files of each split. */
export const FASHION_MNIST_FILES: Readonly<Record<Split, { readonly images: string; readonly labels: string }>> = {
  train: { images: 'train-images-idx3-ubyte', labels: 'train-labels-idx1-ubyte' },
  test: { images: 't10k-images-idx3-ubyte', labels: 't10k-labels-idx1-ubyte' },
};

/** Where zalandoresearch/fashion-mnist's README points its download links. */
export const FASHION_MNIST_BASE_URL = 'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/';

/**
 * gzMd5: the README's "MD5 Checksum" column. rawMd5: MD5 of the gunzipped file; the
 * Debian package ships recompressed .gz files (different gzip header, so a different
 * .gz MD5) whose content has these MD5s, the same as torchvision's raw_data table.
 */
export const FASHION_MNIST_CHECKSUMS: Readonly<Record<string, FileChecksums>> = {
  'train-images-idx3-ubyte': { gzMd5: '8d4fb7e6c68d591d4c3dfef9ec88bf0d', rawMd5: 'f4a8712d7a061bf5bd6d2ca38dc4d50a' },
  'train-labels-idx1-ubyte': { gzMd5: '25c81989df183df01b3e8a0aad5dffbe', rawMd5: '9018921c3c673c538a1fc5bad174d6f9' },
  't10k-images-idx3-ubyte': { gzMd5: 'bef4ecab320f06d8554ea6380940ec79', rawMd5: '8181f5470baa50b63fa0f6fddb340f0a' },
  't10k-labels-idx1-ubyte': { gzMd5: 'bb300cfdad3c16e7a12a480ee83cd310', rawMd5: '15d484375f8d13e6eb1aabb0c3f46965' },
};

export const SYSTEM_DATA_DIR = '/usr/share/datasets/fashion-mnist';

export interface LoadFashionMnistOptions {
  /** Explicit folder (--data-dir); when set, nothing else is tried. */
  readonly dataDir?: string;
  readonly split: Split;
  /** Use only the first N samples; a positive integer no larger than the split. */
  readonly limit?: number;
  /** Environment to read TINYML_DATA_DIR, TINYML_DATA_URL, XDG_CACHE_HOME from. Default process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Override of the per-user cache folder (tests). */
  readonly cacheDir?: string;
  /** Override of the system folders searched after the cache. Default [SYSTEM_DATA_DIR]. */
  readonly systemDirs?: readonly string[];
  /** Override of the download base URL (else $TINYML_DATA_URL, else FASHION_MNIST_BASE_URL). */
  readonly baseUrl?: string;
  /** Override of the expected checksums, keyed by base name (tests serving their own files). */
  readonly checksums?: Readonly<Record<string, FileChecksums>>;
  /** Set false to fail instead of downloading. Default true. */
  readonly download?: boolean;
  /** Told before each download starts (the CLI prints it). */
  readonly onDownload?: (url: string, dest: string) => void;
}

/** The per-user cache folder for Fashion-MNIST. */
export function defaultCacheDir(env: Readonly<Record<string, string | undefined>> = process.env): string {
  const base = env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'tinyml-deploy', 'fashion-mnist');
}

interface FoundFiles {
  readonly images: string;
  readonly labels: string;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** Looks for `<base>.gz` then `<base>` in dir; returns the paths or the missing names. */
export async function findSplitFiles(dir: string, split: Split): Promise<FoundFiles | { missing: string[] }> {
  const names = FASHION_MNIST_FILES[split];
  const found: Partial<Record<'images' | 'labels', string>> = {};
  const missing: string[] = [];
  for (const key of ['images', 'labels'] as const) {
    const gz = join(dir, `${names[key]}.gz`);
    const raw = join(dir, names[key]);
    if (await isFile(gz)) found[key] = gz;
    else if (await isFile(raw)) found[key] = raw;
    else missing.push(`${names[key]}.gz`);
  }
  if (found.images && found.labels) return { images: found.images, labels: found.labels };
  return { missing };
}

const HOW_TO_FIX = 'install the Debian package (apt-get install dataset-fashion-mnist) or pass --data-dir DIR with the IDX files';

function checkLimit(limit: number | undefined): void {
  if (limit === undefined) return;
  if (!Number.isInteger(limit) || limit <= 0) {
    throw new UsageError(`limit must be a positive integer, got ${limit}`);
  }
}

/**
 * Loads one split. Throws UsageError for a bad limit, DatasetNotFoundError when the
 * files are nowhere and cannot be downloaded, DataFormatError for malformed files
 * or a download that fails its checksum.
 */
export async function loadFashionMnist(options: LoadFashionMnistOptions): Promise<Dataset> {
  const { split, limit } = options;
  if (split !== 'train' && split !== 'test') throw new UsageError(`split must be 'train' or 'test', got '${split}'`);
  checkLimit(limit);
  const env = options.env ?? process.env;
  const files = await locate(options, env);
  const [images, labels] = await Promise.all([readIdxImages(files.images), readIdxLabels(files.labels)]);
  return toDataset(images, labels, files, limit, split);
}

/** Where the files are looked for: a pinned folder alone (--data-dir, TINYML_DATA_DIR), else these folders in order. */
export type DataSearchOrder =
  | { readonly pinned: { readonly dir: string; readonly how: '--data-dir' | 'TINYML_DATA_DIR' } }
  | { readonly pinned?: undefined; readonly dirs: readonly string[] };

export function dataSearchOrder(
  options: Pick<LoadFashionMnistOptions, 'dataDir' | 'cacheDir' | 'systemDirs'>,
  env: Readonly<Record<string, string | undefined>> = process.env,
): DataSearchOrder {
  if (options.dataDir !== undefined) return { pinned: { dir: options.dataDir, how: '--data-dir' } };
  if (env.TINYML_DATA_DIR) return { pinned: { dir: env.TINYML_DATA_DIR, how: 'TINYML_DATA_DIR' } };
  return { dirs: [options.cacheDir ?? defaultCacheDir(env), ...(options.systemDirs ?? [SYSTEM_DATA_DIR])] };
}

async function locate(options: LoadFashionMnistOptions, env: Readonly<Record<string, string | undefined>>): Promise<FoundFiles & { dir: string }> {
  const { split } = options;
  const order = dataSearchOrder(options, env);
  const pinned = order.pinned;
  if (pinned) {
    const hit = await findSplitFiles(pinned.dir, split);
    if ('missing' in hit) {
      throw new DatasetNotFoundError(
        `Fashion-MNIST ${split} files not found in ${pinned.dir} (from ${pinned.how}): missing ${hit.missing.join(', ')}; ` +
          `fix the path, or ${HOW_TO_FIX}`,
      );
    }
    return { ...hit, dir: pinned.dir };
  }

  const dirs = 'dirs' in order ? order.dirs : [];
  const cacheDir = dirs[0]!;
  for (const dir of dirs) {
    const hit = await findSplitFiles(dir, split);
    if (!('missing' in hit)) return { ...hit, dir };
  }

  const baseUrl = options.baseUrl ?? env.TINYML_DATA_URL ?? FASHION_MNIST_BASE_URL;
  if (options.download === false) {
    throw new DatasetNotFoundError(
      `Fashion-MNIST ${split} files not found in ${dirs.join(', ')} and downloading is off; ${HOW_TO_FIX}`,
    );
  }
  await downloadSplit(split, cacheDir, baseUrl, options.checksums ?? FASHION_MNIST_CHECKSUMS, dirs, options.onDownload);
  const hit = await findSplitFiles(cacheDir, split);
  if ('missing' in hit) {
    // Cannot happen unless something removes the files between write and read.
    throw new DatasetNotFoundError(`Fashion-MNIST ${split} files vanished from ${cacheDir} right after download`);
  }
  return { ...hit, dir: cacheDir };
}

function md5(bytes: Uint8Array): string {
  return createHash('md5').update(bytes).digest('hex');
}

/**
 * Downloads the split's two .gz files into memory, verifies both, then writes both
 * atomically; so a failed or corrupt download leaves nothing in the cache.
 */
async function downloadSplit(
  split: Split,
  cacheDir: string,
  baseUrl: string,
  checksums: Readonly<Record<string, FileChecksums>>,
  searched: readonly string[],
  onDownload?: (url: string, dest: string) => void,
): Promise<void> {
  const base = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
  const names = FASHION_MNIST_FILES[split];
  const verified: { dest: string; bytes: Uint8Array }[] = [];
  for (const name of [names.images, names.labels]) {
    const fileName = `${name}.gz`;
    const url = new URL(fileName, base).href;
    const dest = join(cacheDir, fileName);
    onDownload?.(url, dest);
    let bytes: Uint8Array;
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(10 * 60_000) });
      if (!res.ok) throw new Error(`HTTP ${res.status} ${res.statusText}`);
      bytes = new Uint8Array(await res.arrayBuffer());
    } catch (err) {
      const why = err instanceof Error ? (err.cause instanceof Error ? `${err.message}: ${err.cause.message}` : err.message) : String(err);
      throw new DatasetNotFoundError(
        `Fashion-MNIST ${split} files not found in ${searched.join(', ')}, and downloading ${url} failed (${why}); ` +
          `${HOW_TO_FIX}, or set TINYML_DATA_URL to a reachable mirror`,
        { cause: err },
      );
    }
    const expected = checksums[name];
    if (!expected) throw new DataFormatError(`${fileName}: no expected checksum known, refusing to use the download from ${url}`);
    const gotGz = md5(bytes);
    if (gotGz !== expected.gzMd5) {
      // A mirror may recompress: accept when the gunzipped content is the expected one.
      let gotRaw = '(not gzip)';
      try {
        gotRaw = md5(maybeGunzip(bytes, fileName));
      } catch {
        gotRaw = '(corrupt gzip)';
      }
      if (gotRaw !== expected.rawMd5) {
        throw new DataFormatError(
          `${fileName}: checksum mismatch for ${url}: MD5 ${gotGz}, expected ${expected.gzMd5} ` +
            `(content MD5 ${gotRaw}, expected ${expected.rawMd5}); nothing was written to ${cacheDir}`,
        );
      }
    }
    verified.push({ dest, bytes });
  }
  for (const { dest, bytes } of verified) await writeFileAtomic(dest, bytes);
}

function toDataset(
  images: IdxImages,
  labels: IdxLabels,
  files: FoundFiles & { dir: string },
  limit: number | undefined,
  split: Split,
): Dataset {
  const imagesName = basename(files.images);
  const labelsName = basename(files.labels);
  checkSameCount(images, imagesName, labels, labelsName);
  if (images.rows !== 28 || images.cols !== 28) {
    throw new DataFormatError(`${imagesName}: images are ${images.rows}x${images.cols}, Fashion-MNIST images are 28x28`);
  }
  if (limit !== undefined && limit > images.count) {
    throw new UsageError(`limit ${limit} is more than the ${images.count} images of the ${split} split in ${files.dir}`);
  }
  const count = limit ?? images.count;
  const labelBytes = labels.labels.slice(0, count);
  for (let i = 0; i < count; i++) {
    if (labelBytes[i]! > 9) {
      throw new DataFormatError(`${labelsName}: label ${labelBytes[i]} of sample ${i} is outside 0..9`);
    }
  }
  const imageBytes = images.pixels.slice(0, count * 28 * 28);
  const sha256 = createHash('sha256').update(imageBytes).update(labelBytes).digest('hex');
  return { images: imageBytes, labels: labelBytes, count, rows: 28, cols: 28, source: files.dir, sha256 };
}
