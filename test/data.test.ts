import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { existsSync } from 'node:fs';
import { mkdtemp, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync, gunzipSync } from 'node:zlib';
import { DataFormatError, DatasetNotFoundError, UsageError } from '../src/errors.ts';
import { parseIdxImages, parseIdxLabels, readIdxImages, readIdxLabels } from '../src/data/idx.ts';
import {
  FASHION_MNIST_CHECKSUMS,
  FASHION_MNIST_FILES,
  SYSTEM_DATA_DIR,
  loadFashionMnist,
  type FileChecksums,
} from '../src/data/fashion-mnist.ts';

// ---- fixtures -------------------------------------------------------------

function idxImages(count: number, opts: { rows?: number; cols?: number; magic?: number; headerCount?: number; extra?: number; seed?: number } = {}): Uint8Array {
  const rows = opts.rows ?? 28;
  const cols = opts.cols ?? 28;
  const bytes = new Uint8Array(16 + count * rows * cols + (opts.extra ?? 0));
  const view = new DataView(bytes.buffer);
  view.setUint32(0, opts.magic ?? 0x803);
  view.setUint32(4, opts.headerCount ?? count);
  view.setUint32(8, rows);
  view.setUint32(12, cols);
  const seed = opts.seed ?? 0;
  for (let i = 16; i < bytes.length; i++) bytes[i] = (i * 31 + seed * 7) & 0xff;
  return bytes;
}

function idxLabels(count: number, opts: { magic?: number; headerCount?: number; seed?: number } = {}): Uint8Array {
  const bytes = new Uint8Array(8 + count);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, opts.magic ?? 0x801);
  view.setUint32(4, opts.headerCount ?? count);
  for (let i = 0; i < count; i++) bytes[8 + i] = (i + (opts.seed ?? 0)) % 10;
  return bytes;
}

const md5 = (b: Uint8Array) => createHash('md5').update(b).digest('hex');
const gz = (b: Uint8Array) => new Uint8Array(gzipSync(b));

let root: string;
let n = 0;
async function freshDir(): Promise<string> {
  const dir = join(root, `d${n++}`);
  await mkdir(dir, { recursive: true });
  return dir;
}

/** Writes a complete split (images + labels) into dir, gzipped or raw. */
async function writeSplit(dir: string, split: 'train' | 'test', count: number, opts: { gzip?: boolean; seed?: number } = {}) {
  const names = FASHION_MNIST_FILES[split];
  const suffix = opts.gzip === false ? '' : '.gz';
  const wrap = opts.gzip === false ? (b: Uint8Array) => b : gz;
  await writeFile(join(dir, names.images + suffix), wrap(idxImages(count, { seed: opts.seed })));
  await writeFile(join(dir, names.labels + suffix), wrap(idxLabels(count, { seed: opts.seed })));
}

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'tinyml-data-test-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Options that keep tests away from the real cache, system folder and network. */
const isolated = (cacheDir: string) => ({ env: {}, cacheDir, systemDirs: [] as string[], download: false });

// ---- IDX ------------------------------------------------------------------

describe('idx', () => {
  test('parses gzipped and raw files to the same content', async () => {
    const dir = await freshDir();
    const images = idxImages(5);
    const labels = idxLabels(5);
    await writeFile(join(dir, 'a-images'), images);
    await writeFile(join(dir, 'a-images.gz'), gz(images));
    await writeFile(join(dir, 'a-labels'), labels);
    await writeFile(join(dir, 'a-labels.gz'), gz(labels));
    const raw = await readIdxImages(join(dir, 'a-images'));
    const zipped = await readIdxImages(join(dir, 'a-images.gz'));
    assert.equal(raw.count, 5);
    assert.equal(raw.rows, 28);
    assert.equal(raw.cols, 28);
    assert.deepEqual(zipped.pixels, raw.pixels);
    assert.deepEqual(raw.pixels, images.subarray(16));
    const l1 = await readIdxLabels(join(dir, 'a-labels'));
    const l2 = await readIdxLabels(join(dir, 'a-labels.gz'));
    assert.deepEqual(l1.labels, l2.labels);
    assert.deepEqual([...l1.labels], [0, 1, 2, 3, 4]);
  });

  test('rejects a bad magic number, naming the file', () => {
    assert.throws(() => parseIdxImages(idxImages(2, { magic: 0x801 }), 'x-images'), (err: Error) => {
      assert.ok(err instanceof DataFormatError);
      assert.equal(err.message, 'x-images: bad magic number 0x00000801, expected 0x00000803 (IDX images file)');
      return true;
    });
    assert.throws(() => parseIdxLabels(idxImages(1), 'y-labels'), /^DataFormatError: y-labels: bad magic number 0x00000803, expected 0x00000801/);
  });

  test('reports a truncated label file on one line', async () => {
    const dir = await freshDir();
    const full = idxLabels(10000);
    const cut = full.subarray(0, 8 + 9000);
    const path = join(dir, 't10k-labels-idx1-ubyte.gz');
    await writeFile(path, gz(cut));
    await assert.rejects(readIdxLabels(path), {
      name: 'DataFormatError',
      message: 't10k-labels-idx1-ubyte.gz: truncated: header says 10000 labels, file holds 9000',
    });
  });

  test('reports truncated images, trailing bytes, short headers, broken gzip', async () => {
    const imgs = idxImages(3);
    assert.throws(() => parseIdxImages(imgs.subarray(0, 16 + 2 * 784 + 5), 'i'), {
      message: 'i: truncated: header says 3 images of 28x28, file holds 2 and 5 bytes of another',
    });
    assert.throws(() => parseIdxImages(idxImages(3, { extra: 4 }), 'i'), {
      message: 'i: 4 unexpected bytes after the 3 images of 28x28 the header announces',
    });
    assert.throws(() => parseIdxImages(imgs.subarray(0, 10), 'i'), { message: 'i: truncated: 10 bytes, the IDX header needs 16' });
    assert.throws(() => parseIdxLabels(new Uint8Array([0, 0]), 'l'), /l: truncated: 2 bytes/);
    const dir = await freshDir();
    const path = join(dir, 'broken.gz');
    const zipped = gz(imgs);
    await writeFile(path, zipped.subarray(0, zipped.length - 20));
    await assert.rejects(readIdxImages(path), (err: Error) => {
      assert.ok(err instanceof DataFormatError);
      assert.match(err.message, /^broken\.gz: not a valid gzip file: /);
      assert.ok(!err.message.includes('\n'));
      return true;
    });
  });
});

// ---- locating the data ----------------------------------------------------

describe('loadFashionMnist', () => {
  test('images and labels counts must match', async () => {
    const dir = await freshDir();
    const names = FASHION_MNIST_FILES.test;
    await writeFile(join(dir, names.images + '.gz'), gz(idxImages(4)));
    await writeFile(join(dir, names.labels + '.gz'), gz(idxLabels(3)));
    await assert.rejects(loadFashionMnist({ ...isolated(dir), dataDir: dir, split: 'test' }), {
      name: 'DataFormatError',
      message: 't10k-labels-idx1-ubyte.gz: count mismatch: 3 labels but t10k-images-idx3-ubyte.gz holds 4 images',
    });
  });

  test('reads raw (un-gzipped) files and rejects non-28x28 images', async () => {
    const dir = await freshDir();
    await writeSplit(dir, 'train', 6, { gzip: false });
    const ds = await loadFashionMnist({ ...isolated(dir), dataDir: dir, split: 'train' });
    assert.equal(ds.count, 6);
    assert.equal(ds.source, dir);
    const odd = await freshDir();
    const names = FASHION_MNIST_FILES.test;
    await writeFile(join(odd, names.images), idxImages(2, { rows: 20, cols: 20 }));
    await writeFile(join(odd, names.labels), idxLabels(2));
    await assert.rejects(loadFashionMnist({ ...isolated(odd), dataDir: odd, split: 'test' }), {
      name: 'DataFormatError',
      message: 't10k-images-idx3-ubyte: images are 20x20, Fashion-MNIST images are 28x28',
    });
  });

  test('explicit dataDir wins over TINYML_DATA_DIR, which wins over cache and system folders', async () => {
    const explicit = await freshDir();
    const fromEnv = await freshDir();
    const cache = await freshDir();
    const system = await freshDir();
    await writeSplit(explicit, 'test', 3, { seed: 1 });
    await writeSplit(fromEnv, 'test', 4, { seed: 2 });
    await writeSplit(cache, 'test', 5, { seed: 3 });
    await writeSplit(system, 'test', 6, { seed: 4 });
    const base = { cacheDir: cache, systemDirs: [system], download: false, split: 'test' as const };
    const env = { TINYML_DATA_DIR: fromEnv };
    assert.equal((await loadFashionMnist({ ...base, env, dataDir: explicit })).source, explicit);
    assert.equal((await loadFashionMnist({ ...base, env })).source, fromEnv);
    assert.equal((await loadFashionMnist({ ...base, env: {} })).count, 5);
    const emptyCache = await freshDir();
    const sys = await loadFashionMnist({ ...base, env: {}, cacheDir: emptyCache });
    assert.equal(sys.source, system);
    assert.equal(sys.count, 6);
  });

  test('XDG_CACHE_HOME locates the per-user cache', async () => {
    const xdg = await freshDir();
    const cache = join(xdg, 'tinyml-deploy', 'fashion-mnist');
    await mkdir(cache, { recursive: true });
    await writeSplit(cache, 'test', 2);
    const ds = await loadFashionMnist({ env: { XDG_CACHE_HOME: xdg }, systemDirs: [], download: false, split: 'test' });
    assert.equal(ds.source, cache);
  });

  test('an explicit or env folder without the files is DatasetNotFoundError saying how to fix it', async () => {
    const empty = await freshDir();
    const fallback = await freshDir();
    await writeSplit(fallback, 'train', 2);
    const opts = { env: {}, cacheDir: fallback, systemDirs: [fallback], split: 'train' as const, download: false };
    await assert.rejects(loadFashionMnist({ ...opts, dataDir: empty }), (err: Error) => {
      assert.ok(err instanceof DatasetNotFoundError);
      assert.ok(err.message.includes(empty));
      assert.ok(err.message.includes('apt-get install dataset-fashion-mnist'));
      assert.ok(err.message.includes('--data-dir'));
      assert.ok(err.message.includes('train-images-idx3-ubyte.gz'));
      return true;
    });
    await assert.rejects(
      loadFashionMnist({ ...opts, env: { TINYML_DATA_DIR: join(empty, 'nope') } }),
      (err: Error) => err instanceof DatasetNotFoundError && err.message.includes('TINYML_DATA_DIR'),
    );
    // Nowhere at all, downloading off: names every folder searched.
    const other = await freshDir();
    await assert.rejects(loadFashionMnist({ ...isolated(other), split: 'test' }), (err: Error) => {
      assert.ok(err instanceof DatasetNotFoundError);
      assert.ok(err.message.includes(other));
      return true;
    });
  });

  test('limit takes the first N samples; sha256 hashes exactly the bytes used', async () => {
    const dir = await freshDir();
    await writeSplit(dir, 'train', 20);
    const all = await loadFashionMnist({ ...isolated(dir), dataDir: dir, split: 'train' });
    const some = await loadFashionMnist({ ...isolated(dir), dataDir: dir, split: 'train', limit: 7 });
    assert.equal(some.count, 7);
    assert.equal(some.images.length, 7 * 784);
    assert.equal(some.images.byteOffset, 0);
    assert.deepEqual(some.images, all.images.subarray(0, 7 * 784));
    assert.deepEqual(some.labels, all.labels.subarray(0, 7));
    const expected = createHash('sha256').update(some.images).update(some.labels).digest('hex');
    assert.equal(some.sha256, expected);
    assert.notEqual(some.sha256, all.sha256);
    for (const limit of [0, -3, 1.5, Number.NaN]) {
      await assert.rejects(loadFashionMnist({ ...isolated(dir), dataDir: dir, split: 'train', limit }), UsageError);
    }
    await assert.rejects(loadFashionMnist({ ...isolated(dir), dataDir: dir, split: 'train', limit: 21 }), {
      name: 'UsageError',
      message: `limit 21 is more than the 20 images of the train split in ${dir}`,
    });
  });
});

// ---- download -------------------------------------------------------------

describe('download', () => {
  let server: Server;
  let url: string;
  let served: string; // folder the server serves
  const requests: string[] = [];

  before(async () => {
    served = await freshDir();
    server = createServer(async (req, res) => {
      requests.push(req.url ?? '');
      try {
        const body = await readFile(join(served, decodeURIComponent((req.url ?? '/').slice(1))));
        res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(body);
      } catch {
        res.writeHead(404).end('not found');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const addr = server.address();
    assert.ok(addr && typeof addr === 'object');
    url = `http://127.0.0.1:${addr.port}/`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  async function serve(sub: string, files: Record<string, Uint8Array>): Promise<string> {
    await mkdir(join(served, sub), { recursive: true });
    for (const [name, bytes] of Object.entries(files)) await writeFile(join(served, sub, name), bytes);
    return `${url}${sub}/`;
  }

  const testFiles = () => {
    const images = gz(idxImages(9));
    const labels = gz(idxLabels(9));
    const checksums: Record<string, FileChecksums> = {
      [FASHION_MNIST_FILES.test.images]: { gzMd5: md5(images), rawMd5: md5(gunzipSync(images)) },
      [FASHION_MNIST_FILES.test.labels]: { gzMd5: md5(labels), rawMd5: md5(gunzipSync(labels)) },
    };
    return { images, labels, checksums };
  };

  test('downloads into the cache from TINYML_DATA_URL, verifies, then reads from the cache', async () => {
    const { images, labels, checksums } = testFiles();
    const base = await serve('good', {
      't10k-images-idx3-ubyte.gz': images,
      't10k-labels-idx1-ubyte.gz': labels,
    });
    const cache = join(await freshDir(), 'cache');
    const told: string[] = [];
    const opts = { env: { TINYML_DATA_URL: base }, cacheDir: cache, systemDirs: [], checksums, split: 'test' as const };
    const ds = await loadFashionMnist({ ...opts, onDownload: (u) => told.push(u) });
    assert.equal(ds.count, 9);
    assert.equal(ds.source, cache);
    assert.deepEqual(told, [`${base}t10k-images-idx3-ubyte.gz`, `${base}t10k-labels-idx1-ubyte.gz`]);
    assert.deepEqual((await readdir(cache)).sort(), ['t10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz']);
    assert.deepEqual(new Uint8Array(await readFile(join(cache, 't10k-images-idx3-ubyte.gz'))), images);
    const before = requests.length;
    await loadFashionMnist(opts);
    assert.equal(requests.length, before, 'second load must come from the cache');
  });

  test('a corrupt download is rejected and nothing is left in the cache', async () => {
    const { images, labels, checksums } = testFiles();
    const bad = images.slice();
    bad[bad.length - 9]! ^= 0xff; // flips a CRC byte: still looks like gzip
    const base = await serve('corrupt', {
      't10k-images-idx3-ubyte.gz': bad,
      't10k-labels-idx1-ubyte.gz': labels,
    });
    const cache = join(await freshDir(), 'cache');
    await assert.rejects(
      loadFashionMnist({ env: {}, baseUrl: base, cacheDir: cache, systemDirs: [], checksums, split: 'test' }),
      (err: Error) => {
        assert.ok(err instanceof DataFormatError, String(err));
        assert.match(err.message, /^t10k-images-idx3-ubyte\.gz: checksum mismatch for http:\/\/127\.0\.0\.1:\d+\/corrupt\/t10k-images-idx3-ubyte\.gz: MD5 /);
        assert.ok(err.message.includes('nothing was written'));
        return true;
      },
    );
    const left = existsSync(cache) ? await readdir(cache) : [];
    assert.deepEqual(left, []);
  });

  test('a corrupt second file also leaves nothing behind (both are checked before writing)', async () => {
    const { images, checksums } = testFiles();
    const base = await serve('corrupt2', {
      't10k-images-idx3-ubyte.gz': images,
      't10k-labels-idx1-ubyte.gz': gz(idxLabels(9, { seed: 3 })),
    });
    const cache = join(await freshDir(), 'cache');
    await assert.rejects(
      loadFashionMnist({ env: {}, baseUrl: base, cacheDir: cache, systemDirs: [], checksums, split: 'test' }),
      /t10k-labels-idx1-ubyte\.gz: checksum mismatch/,
    );
    assert.deepEqual(existsSync(cache) ? await readdir(cache) : [], []);
  });

  test('a recompressed file with the right content is accepted (content MD5)', async () => {
    const { images, labels, checksums } = testFiles();
    const recompressed = new Uint8Array(gzipSync(gunzipSync(images), { level: 1 }));
    assert.notEqual(md5(recompressed), md5(images));
    const base = await serve('recompressed', {
      't10k-images-idx3-ubyte.gz': recompressed,
      't10k-labels-idx1-ubyte.gz': labels,
    });
    const cache = join(await freshDir(), 'cache');
    const ds = await loadFashionMnist({ env: {}, baseUrl: base, cacheDir: cache, systemDirs: [], checksums, split: 'test' });
    assert.equal(ds.count, 9);
  });

  test('a missing file on the server is DatasetNotFoundError with the fix', async () => {
    const cache = join(await freshDir(), 'cache');
    await assert.rejects(
      loadFashionMnist({ env: {}, baseUrl: `${url}nothing-here/`, cacheDir: cache, systemDirs: [], split: 'test' }),
      (err: Error) => {
        assert.ok(err instanceof DatasetNotFoundError);
        assert.ok(err.message.includes('HTTP 404'));
        assert.ok(err.message.includes('apt-get install dataset-fashion-mnist'));
        return true;
      },
    );
    assert.ok(!existsSync(cache) || (await readdir(cache)).length === 0);
  });
});

// ---- the real files, when the Debian package is installed ----------------

describe('Debian copy', { skip: !existsSync(join(SYSTEM_DATA_DIR, 't10k-labels-idx1-ubyte.gz')) && 'dataset-fashion-mnist not installed' }, () => {
  test('its content matches the published raw MD5s; the test set starts with an ankle boot', async () => {
    for (const name of Object.keys(FASHION_MNIST_CHECKSUMS)) {
      const raw = gunzipSync(await readFile(join(SYSTEM_DATA_DIR, `${name}.gz`)));
      assert.equal(md5(raw), FASHION_MNIST_CHECKSUMS[name]!.rawMd5, name);
    }
    const ds = await loadFashionMnist({ env: {}, cacheDir: join(root, 'no-cache'), download: false, split: 'test', limit: 10 });
    assert.equal(ds.source, SYSTEM_DATA_DIR);
    assert.deepEqual([...ds.labels], [9, 2, 1, 1, 6, 1, 4, 6, 5, 7]);
  });
});
