/**
 * The committed TFLM golden data (test/golden/tflm/): manifest.json (provenance
 * and one entry per case) and cases.bin (the bytes the manifest points into:
 * the small cases' .tflite files, every input, every TFLM output). The large
 * models are not stored: their entry names the seed that regenerates them
 * (tflm-golden-cases.ts modelCase) and the SHA-256 the regenerated file must have.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataFormatError } from '../src/errors.ts';
import { writeFileAtomic, writeJsonAtomic } from '../src/util/atomic-write.ts';
import { caseTflite, modelCase, type CaseKind, type GoldenCase, type TieKind } from './tflm-golden-cases.ts';

export const GOLDEN_FORMAT = 'tinyml-deploy TFLM golden data 1';
export const MANIFEST = 'manifest.json';
export const DATA = 'cases.bin';

export interface Provenance {
  readonly tflm: { readonly source: string; readonly commit: string; readonly version: string };
  readonly target: string;
  readonly kernels: string;
  readonly compiler: string;
  readonly compilerFlags: readonly string[];
  readonly defines: readonly string[];
  readonly emulator: string;
  readonly command: string;
  readonly generator: string;
  readonly date: string;
}

interface Span {
  readonly offset: number;
  readonly length: number;
}

export interface ManifestCase {
  readonly id: string;
  readonly kind: CaseKind;
  readonly description: string;
  /** Stored: the .tflite's span in cases.bin. Generated: modelCase(hidden, seed). */
  readonly tflite: (Span | { readonly generate: { readonly hidden: readonly number[]; readonly seed: number } }) & { readonly sha256: string };
  readonly inputLength: number;
  readonly inputCount: number;
  readonly inputs: Span;
  readonly ties?: ReadonlyArray<ReadonlyArray<TieKind>>;
  /** TFLM's runtime_init status (0 = loaded; 255 = abort()), and its outputs when it loaded. */
  readonly tflm: { readonly init: number; readonly outputCount: number; readonly outputs?: Span };
}

export interface Manifest {
  readonly format: string;
  readonly provenance: Provenance;
  readonly data: { readonly file: string; readonly bytes: number; readonly sha256: string };
  readonly cases: readonly ManifestCase[];
}

/** TFLM's answer for one case. */
export interface TflmResult {
  readonly init: number;
  readonly outputCount: number;
  readonly outputs: readonly Int8Array[];
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** Lays out cases.bin and the manifest; pure. */
export function encodeGolden(cases: readonly GoldenCase[], tflites: readonly Uint8Array[], results: readonly TflmResult[], provenance: Provenance): { manifest: Manifest; data: Buffer } {
  const parts: Buffer[] = [];
  let offset = 0;
  const put = (bytes: Uint8Array): Span => {
    const span = { offset, length: bytes.length };
    parts.push(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length));
    offset += bytes.length;
    return span;
  };
  const entries = cases.map((c, i): ManifestCase => {
    const tflite = tflites[i]!;
    const r = results[i]!;
    const model = c.generate ? { generate: c.generate, sha256: sha256(tflite) } : { ...put(tflite), sha256: sha256(tflite) };
    const inputs = put(Buffer.concat(c.inputs.map((x) => Buffer.from(x.buffer, x.byteOffset, x.length))));
    const outputs = r.init === 0 ? put(Buffer.concat(r.outputs.map((x) => Buffer.from(x.buffer, x.byteOffset, x.length)))) : undefined;
    return {
      id: c.id,
      kind: c.kind,
      description: c.description,
      tflite: model,
      inputLength: c.inputs[0]!.length,
      inputCount: c.inputs.length,
      inputs,
      ...(c.ties ? { ties: c.ties } : {}),
      tflm: { init: r.init, outputCount: r.outputCount, ...(outputs ? { outputs } : {}) },
    };
  });
  const data = Buffer.concat(parts);
  return { manifest: { format: GOLDEN_FORMAT, provenance, data: { file: DATA, bytes: data.length, sha256: sha256(data) }, cases: entries }, data };
}

export async function writeGolden(dir: string, golden: { manifest: Manifest; data: Buffer }): Promise<void> {
  await writeFileAtomic(join(dir, DATA), golden.data);
  await writeJsonAtomic(join(dir, MANIFEST), golden.manifest);
}

/** One case as read back: the .tflite, its inputs and what TFLM computed. */
export interface LoadedCase {
  readonly entry: ManifestCase;
  readonly tflite: Uint8Array;
  readonly inputs: Int8Array[];
  /** One per input when TFLM loaded the model; empty otherwise. */
  readonly expected: Int8Array[];
}

/**
 * Reads test/golden/tflm back, regenerating the large models from their seeds.
 * @throws DataFormatError when a file is missing or does not match its checksum
 */
export function loadGolden(dir: string): { manifest: Manifest; cases: LoadedCase[] } {
  let manifest: Manifest;
  let data: Buffer;
  try {
    manifest = JSON.parse(readFileSync(join(dir, MANIFEST), 'utf8')) as Manifest;
    data = readFileSync(join(dir, DATA));
  } catch (err) {
    throw new DataFormatError(`${dir}: cannot read the TFLM golden data (${(err as Error).message}): regenerate it with scripts/tflm-golden.ts`, { cause: err });
  }
  if (manifest.format !== GOLDEN_FORMAT) throw new DataFormatError(`${join(dir, MANIFEST)}: format '${manifest.format}', expected '${GOLDEN_FORMAT}'`);
  if (sha256(data) !== manifest.data.sha256) throw new DataFormatError(`${join(dir, DATA)}: SHA-256 differs from the manifest's`);
  const slice = (s: Span): Uint8Array => new Uint8Array(data.buffer, data.byteOffset + s.offset, s.length);
  const rows = (bytes: Uint8Array, n: number, len: number): Int8Array[] =>
    Array.from({ length: n }, (_, i) => new Int8Array(bytes.slice(i * len, (i + 1) * len).buffer));
  const cases = manifest.cases.map((entry): LoadedCase => {
    const t = entry.tflite;
    const tflite = 'generate' in t ? caseTflite(modelCase(t.generate.hidden, t.generate.seed)) : slice(t).slice();
    if (sha256(tflite) !== t.sha256) {
      throw new DataFormatError(`${entry.id}: the .tflite ${'generate' in t ? 'regenerated from its seed' : 'stored'} has another SHA-256 than the one TFLM ran: regenerate the golden data with scripts/tflm-golden.ts`);
    }
    const out = entry.tflm.outputs;
    return {
      entry,
      tflite,
      inputs: rows(slice(entry.inputs), entry.inputCount, entry.inputLength),
      expected: out ? rows(slice(out), entry.inputCount, entry.tflm.outputCount) : [],
    };
  });
  return { manifest, cases };
}
