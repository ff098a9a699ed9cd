/**
 * Reader for the IDX format of MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/):
 * a big-endian header `00 00 <type> <rank>`, then `rank` uint32 dimensions, then the
 * data, row-major. Only unsigned-byte data (type 0x08) is supported, which is what
 * the image (rank 3, magic 0x00000803) and label (rank 1, magic 0x00000801) files hold.
 *
 * Pure functions over bytes plus one reader; every failure is a one-line
 * DataFormatError that starts with the file name and says what is wrong.
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { DataFormatError } from '../errors.ts';

export const IDX_IMAGES_MAGIC = 0x00000803;
export const IDX_LABELS_MAGIC = 0x00000801;

/** Images of an IDX3 file: `pixels` is count*rows*cols bytes, row-major, one byte a pixel. */
export interface IdxImages {
  readonly count: number;
  readonly rows: number;
  readonly cols: number;
  readonly pixels: Uint8Array;
}

/** Labels of an IDX1 file: one byte a sample. */
export interface IdxLabels {
  readonly count: number;
  readonly labels: Uint8Array;
}

/** True when the bytes start with the gzip magic 1f 8b. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Gunzips when the bytes are gzip, else returns them as they are. `name` is for messages. */
export function maybeGunzip(bytes: Uint8Array, name: string): Uint8Array {
  if (!isGzip(bytes)) return bytes;
  try {
    const out = gunzipSync(bytes);
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new DataFormatError(`${name}: not a valid gzip file: ${why}`, { cause: err });
  }
}

function hex(n: number): string {
  return '0x' + n.toString(16).padStart(8, '0');
}

/** Reads the magic and dimensions; checks the magic and that the header is complete. */
function readHeader(bytes: Uint8Array, name: string, magic: number, what: string): number[] {
  if (bytes.length < 4) {
    throw new DataFormatError(`${name}: truncated: ${bytes.length} bytes, too short for an IDX header`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const got = view.getUint32(0, false);
  if (got !== magic) {
    throw new DataFormatError(
      `${name}: bad magic number ${hex(got)}, expected ${hex(magic)} (IDX ${what} file)`,
    );
  }
  const rank = magic & 0xff;
  const headerBytes = 4 + 4 * rank;
  if (bytes.length < headerBytes) {
    throw new DataFormatError(
      `${name}: truncated: ${bytes.length} bytes, the IDX header needs ${headerBytes}`,
    );
  }
  const dims: number[] = [];
  for (let i = 0; i < rank; i++) dims.push(view.getUint32(4 + 4 * i, false));
  return dims;
}

/** Parses an IDX3 unsigned-byte image file (already gunzipped). */
export function parseIdxImages(bytes: Uint8Array, name: string): IdxImages {
  const [count, rows, cols] = readHeader(bytes, name, IDX_IMAGES_MAGIC, 'images') as [number, number, number];
  if (rows === 0 || cols === 0) {
    throw new DataFormatError(`${name}: bad dimensions: images of ${rows}x${cols}`);
  }
  const size = rows * cols;
  const body = bytes.length - 16;
  const expected = count * size;
  if (body < expected) {
    const whole = Math.floor(body / size);
    const part = body % size;
    throw new DataFormatError(
      `${name}: truncated: header says ${count} images of ${rows}x${cols}, file holds ${whole}` +
        (part ? ` and ${part} bytes of another` : ''),
    );
  }
  if (body > expected) {
    throw new DataFormatError(
      `${name}: ${body - expected} unexpected bytes after the ${count} images of ${rows}x${cols} the header announces`,
    );
  }
  return { count, rows, cols, pixels: bytes.subarray(16) };
}

/** Parses an IDX1 unsigned-byte label file (already gunzipped). */
export function parseIdxLabels(bytes: Uint8Array, name: string): IdxLabels {
  const [count] = readHeader(bytes, name, IDX_LABELS_MAGIC, 'labels') as [number];
  const body = bytes.length - 8;
  if (body < count) {
    throw new DataFormatError(`${name}: truncated: header says ${count} labels, file holds ${body}`);
  }
  if (body > count) {
    throw new DataFormatError(
      `${name}: ${body - count} unexpected bytes after the ${count} labels the header announces`,
    );
  }
  return { count, labels: bytes.subarray(8) };
}

/** Checks that an image file and its label file describe the same number of samples. */
export function checkSameCount(images: IdxImages, imagesName: string, labels: IdxLabels, labelsName: string): void {
  if (images.count !== labels.count) {
    throw new DataFormatError(
      `${labelsName}: count mismatch: ${labels.count} labels but ${imagesName} holds ${images.count} images`,
    );
  }
}

async function readBytes(path: string): Promise<Uint8Array> {
  try {
    const buf = await readFile(path);
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new DataFormatError(`${basename(path)}: cannot read ${path}: ${why}`, { cause: err });
  }
}

/** Reads and parses an IDX3 image file, gzipped or raw. Messages name the file's base name. */
export async function readIdxImages(path: string): Promise<IdxImages> {
  const name = basename(path);
  return parseIdxImages(maybeGunzip(await readBytes(path), name), name);
}

/** Reads and parses an IDX1 label file, gzipped or raw. */
export async function readIdxLabels(path: string): Promise<IdxLabels> {
  const name = basename(path);
  return parseIdxLabels(maybeGunzip(await readBytes(path), name), name);
}
