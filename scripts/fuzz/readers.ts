/**
 * Mutation runs against the TypeScript readers: the .tflite reader, the IDX
 * image and label parsers (raw and gzipped) and the link's input decoder. Each mutant must either parse or
 * throw one of the project's typed errors with a one-line message; anything else
 * (a RangeError, a TypeError, a multi-line message, a call that takes too long)
 * is a finding. The readers are pure functions of bytes: they write nothing.
 */
import { gzipSync } from 'node:zlib';
import { TinymlError } from '../../src/errors.ts';
import { maybeGunzip, parseIdxImages, parseIdxLabels } from '../../src/data/idx.ts';
import { readTflite } from '../../src/tflite/reader.ts';
import { mulberry32 } from '../../src/util/prng.ts';
import { imageReaderTarget } from './images.ts';
import { mutate } from './mutate.ts';

export interface ReaderTarget {
  name: string;
  seeds: Uint8Array[];
  parse(bytes: Uint8Array): unknown;
}

export interface ReaderReport {
  target: string;
  iterations: number;
  parsed: number;
  refused: number;
  /** Error class name -> count. */
  errors: Record<string, number>;
  /** Slowest single call, milliseconds. */
  maxMs: number;
  findings: Array<{ iteration: number; problem: string; bytes: Uint8Array }>;
}

/** Longest a single parse may take before it counts as a hang. */
export const HANG_MS = 2000;

export function runReaderMutations(target: ReaderTarget, iterations: number, seed: number): ReaderReport {
  const r = mulberry32(seed);
  const report: ReaderReport = { target: target.name, iterations, parsed: 0, refused: 0, errors: {}, maxMs: 0, findings: [] };
  for (let i = 0; i < iterations; i++) {
    const bytes = mutate(target.seeds[i % target.seeds.length]!, r, r() < 0.3 ? 8 : 2);
    const started = performance.now();
    try {
      target.parse(bytes);
      report.parsed++;
    } catch (err) {
      const name = err instanceof Error ? err.constructor.name : typeof err;
      report.errors[name] = (report.errors[name] ?? 0) + 1;
      report.refused++;
      const message = err instanceof Error ? err.message : String(err);
      if (!(err instanceof TinymlError)) {
        report.findings.push({ iteration: i, problem: `untyped ${name}: ${message}`, bytes });
      } else if (message.startsWith('malformed TFLite file: ')) {
        // readTflite's catch-all: a check the reader missed, caught only by the wrapper.
        report.findings.push({ iteration: i, problem: `unchecked error, wrapped: ${message}`, bytes });
      } else if (message.includes('\n') || message.trim() === '') {
        report.findings.push({ iteration: i, problem: `message is not one line: ${JSON.stringify(message)}`, bytes });
      }
    }
    const ms = performance.now() - started;
    if (ms > report.maxMs) report.maxMs = ms;
    if (ms > HANG_MS) report.findings.push({ iteration: i, problem: `took ${ms.toFixed(0)} ms`, bytes });
  }
  return report;
}

function idxFile(magic: number, dims: number[], data: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, magic, false);
  dims.forEach((d, i) => v.setUint32(4 + 4 * i, d, false));
  out.set(data, 4 + 4 * dims.length);
  return out;
}

/** Small valid IDX files (raw and gzipped): 12 images of 28x28 and their labels. */
export function seedIdx(): { images: Uint8Array[]; labels: Uint8Array[] } {
  const r = mulberry32(7);
  const pixels = Uint8Array.from({ length: 12 * 28 * 28 }, () => Math.floor(r() * 256));
  const labels = Uint8Array.from({ length: 12 }, (_, i) => i % 10);
  const images = idxFile(0x00000803, [12, 28, 28], pixels);
  const labelFile = idxFile(0x00000801, [12], labels);
  return {
    images: [images, Uint8Array.from(gzipSync(images))],
    labels: [labelFile, Uint8Array.from(gzipSync(labelFile))],
  };
}

/** The reader targets, seeded with `tfliteSeeds`, generated IDX files and encoded images. */
export function readerTargets(tfliteSeeds: Uint8Array[]): ReaderTarget[] {
  const idx = seedIdx();
  return [
    { name: 'tflite', seeds: tfliteSeeds, parse: (b) => readTflite(b) },
    { name: 'idx-images', seeds: idx.images, parse: (b) => parseIdxImages(maybeGunzip(b, 'images.idx'), 'images.idx') },
    { name: 'idx-labels', seeds: idx.labels, parse: (b) => parseIdxLabels(maybeGunzip(b, 'labels.idx'), 'labels.idx') },
    imageReaderTarget(),
  ];
}
