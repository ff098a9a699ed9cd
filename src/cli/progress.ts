/**
 * Progress for people on stderr, shared by the commands: training (epoch, batch,
 * loss, ETA) and samples answered by a device.
 */
import type { TrainProgress } from '../train/train.ts';
import type { ExerciseEvent } from '../exercise/run.ts';

/** Writes progress to a stream: one rewritten line on a TTY, plain lines otherwise. */
export function progressPrinter(stream: NodeJS.WriteStream = process.stderr, prefix = ''): (e: TrainProgress) => void {
  const tty = Boolean(stream.isTTY);
  let lastDraw = 0;
  let lastQuarter = 0;
  const fmtTime = (s: number) => {
    if (!Number.isFinite(s)) return '?';
    const m = Math.floor(s / 60);
    return m > 0 ? `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s` : `${s.toFixed(0)}s`;
  };
  return (e) => {
    if (e.kind === 'batch') {
      const line =
        `${prefix}epoch ${e.epoch}/${e.epochs}  batch ${e.batch}/${e.batches}  loss ${e.loss.toFixed(4)}  ` +
        `acc ${e.accuracy.toFixed(4)}  ${Math.round(e.samplesPerSec)} samples/s  ETA ${fmtTime(e.etaSeconds)}`;
      if (tty) {
        const now = Date.now();
        if (now - lastDraw >= 100 || e.batch === e.batches) {
          lastDraw = now;
          stream.write(`\r\x1b[2K${line}`);
        }
      } else {
        const quarter = Math.floor((4 * e.batch) / e.batches);
        if (e.batch === 1) lastQuarter = 0;
        if (quarter > lastQuarter && e.batch < e.batches) {
          lastQuarter = quarter;
          stream.write(`${line}\n`);
        }
      }
    } else if (e.kind === 'epoch') {
      const line =
        `${prefix}epoch ${e.epoch}/${e.epochs}  loss ${e.loss.toFixed(4)}  acc ${e.accuracy.toFixed(4)}  ` +
        `${e.seconds.toFixed(1)}s  ${Math.round(e.samplesPerSec)} samples/s`;
      stream.write(tty ? `\r\x1b[2K${line}\n` : `${line}\n`);
    } else {
      stream.write(`${prefix}evaluating on ${e.count} test images\n`);
    }
  };
}

/** A sample counter for device runs, on a TTY only (and never with --json). */
export function sampleProgress(json: boolean | undefined, stream: NodeJS.WriteStream = process.stderr) {
  if (json || !stream.isTTY) return undefined;
  return (done: number, total: number) => {
    if (done === total || done % 25 === 0) stream.write(`\r${done}/${total}${done === total ? '\n' : ''}`);
  };
}

/**
 * Progress of `tinyml exercise`: which stage of how many, training as above,
 * the stage's steps, and device samples (a counter on a TTY, quarters otherwise).
 */
export function exercisePrinter(stream: NodeJS.WriteStream = process.stderr): (e: ExerciseEvent) => void {
  let train = progressPrinter(stream);
  const tty = Boolean(stream.isTTY);
  let stage = '';
  let lastQuarter = 0;
  return (e) => {
    if (e.kind === 'stage') {
      stage = `stage ${e.index}/${e.total} ${e.name}`;
      train = progressPrinter(stream, `${stage}: `);
      stream.write(`${stage}: ${e.title}\n`);
    } else if (e.kind === 'step') {
      stream.write(`${e.line}\n`);
    } else if (e.kind === 'train') {
      train(e.progress);
    } else {
      const quarter = Math.floor((4 * e.done) / e.total);
      if (tty) {
        if (e.done === e.total || e.done % 25 === 0) stream.write(`\r\x1b[2K${stage}: device samples ${e.done}/${e.total}${e.done === e.total ? '\n' : ''}`);
      } else if (quarter > lastQuarter || e.done === 1) {
        lastQuarter = e.done === e.total ? 0 : quarter;
        stream.write(`${stage}: device samples ${e.done}/${e.total}\n`);
      }
    }
  };
}
