/**
 * The results file of a validation run (JSON lines): a header line with the
 * model CRC and the settings, then one line per answered sample, appended as
 * the answer arrives, so an interrupted run (Ctrl-C, a crash, a lost board)
 * loses nothing and `--resume` runs only the samples not in the file.
 *
 *   {"kind":"tinyml-validation-results","version":1,"modelCrc32":"1a2b3c4d","samples":1000,"testDataSha256":"...",...}
 *   {"i":0,"top1":9,"cycles":123456,"outputs":[-128,...]}
 */
import { closeSync, existsSync, ftruncateSync, openSync, readFileSync, writeSync } from 'node:fs';
import { UsageError } from '../errors.ts';
import type { SampleAnswer } from './validate.ts';

export const RESULTS_KIND = 'tinyml-validation-results';

export interface ResultsHeader {
  readonly modelCrc32: string;
  readonly samples: number;
  readonly testDataSha256: string;
  /** Settings that do not change the answers (window, timeout, board): recorded, not checked on resume. */
  readonly settings: Readonly<Record<string, unknown>>;
}

export interface ResultsFile {
  readonly path: string;
  /** Answers already in the file (resume), by sample index. */
  readonly previous: ReadonlyMap<number, SampleAnswer>;
  append(index: number, answer: SampleAnswer): void;
  close(): void;
}

/**
 * Starts a results file (truncating any earlier one), or with `resume` reads the
 * one there and appends to it.
 * @throws UsageError when resuming finds no file, or one of another model, sample count or test data
 */
export function openResultsFile(path: string, header: ResultsHeader, resume: boolean): ResultsFile {
  const previous = new Map<number, SampleAnswer>();
  let fd: number;
  if (resume) {
    if (!existsSync(path)) throw new UsageError(`--resume: no results file ${path} to resume; run without --resume to start`);
    const text = readFileSync(path, 'latin1');
    const lines = text.split('\n');
    let keepBytes = 0;
    const first = parseLine(lines[0]);
    if (!first || first.kind !== RESULTS_KIND || first.version !== 1) {
      throw new UsageError(`--resume: ${path} is not a results file of this tool; remove it or pass another --results`);
    }
    for (const key of ['modelCrc32', 'samples', 'testDataSha256'] as const) {
      if (first[key] !== header[key]) {
        throw new UsageError(
          `--resume: ${path} was written for ${key} ${String(first[key])}, this run has ${String(header[key])}: ` +
            'run without --resume to start over, or with the same model and --samples',
        );
      }
    }
    keepBytes = lines[0]!.length + 1;
    for (let l = 1; l < lines.length; l++) {
      const line = lines[l]!;
      // A line cut short by a kill mid-write, and anything after it, is dropped (and cut from the file).
      if (l === lines.length - 1 || !line) break;
      const rec = parseLine(line);
      if (!rec || !Number.isInteger(rec.i) || !Array.isArray(rec.outputs)) break;
      const i = rec.i as number;
      if (i < 0 || i >= header.samples) break;
      previous.set(i, { top1: Number(rec.top1), cycles: Number(rec.cycles), outputs: Int8Array.from(rec.outputs as number[]) });
      keepBytes += line.length + 1;
    }
    fd = openSync(path, 'r+');
    ftruncateSync(fd, keepBytes);
  } else {
    fd = openSync(path, 'w');
    writeSync(fd, `${JSON.stringify({ kind: RESULTS_KIND, version: 1, modelCrc32: header.modelCrc32, samples: header.samples, testDataSha256: header.testDataSha256, ...header.settings })}\n`);
  }
  let at = resume ? (readFileSync(path).length) : -1;
  let open = true;
  return {
    path,
    previous,
    append(index, a) {
      if (!open) return;
      const line = `${JSON.stringify({ i: index, top1: a.top1, cycles: a.cycles, outputs: Array.from(a.outputs) })}\n`;
      if (at >= 0) {
        at += writeSync(fd, line, at);
      } else writeSync(fd, line);
    },
    close() {
      if (!open) return;
      open = false;
      closeSync(fd);
    },
  };
}

function parseLine(line: string | undefined): Record<string, unknown> | null {
  if (!line) return null;
  try {
    const v = JSON.parse(line) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}
