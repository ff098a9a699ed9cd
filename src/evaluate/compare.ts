/**
 * Pure statistics for comparing two runs of the same model over the same
 * samples: accuracy, top-1 agreement, exact output agreement, and where they
 * first differ. Used by `evaluate` (host vs host) and by on-device validation.
 */

/** Index of the largest value; the first one on ties, as numpy's argmax. */
export function argmax(values: ArrayLike<number>, offset = 0, length = values.length - offset): number {
  let best = 0;
  for (let i = 1; i < length; i++) if (values[offset + i] > values[offset + best]) best = i;
  return best;
}

export function accuracy(predicted: ArrayLike<number>, labels: ArrayLike<number>): number {
  if (predicted.length === 0) return 0;
  let right = 0;
  for (let i = 0; i < predicted.length; i++) if (predicted[i] === labels[i]) right++;
  return right / predicted.length;
}

export interface OutputComparison {
  readonly samples: number;
  /** Fraction of samples whose top-1 classes are the same. */
  readonly top1Agreement: number;
  /** Fraction of samples whose whole output vectors are equal. */
  readonly exactAgreement: number;
  /** Number of single output values that differ, over all samples. */
  readonly differingOutputs: number;
  /** Largest |a - b| over all outputs (in quantized steps for int8). */
  readonly maxAbsDiff: number;
  /** The first (up to 10) sample indices whose outputs differ. */
  readonly firstMismatches: readonly number[];
}

/**
 * Compares two output matrices of `samples` rows of `width` values each (for
 * int8 models the values are the quantized outputs, so differences are steps).
 */
export function compareOutputs(a: ArrayLike<number>, b: ArrayLike<number>, samples: number, width: number): OutputComparison {
  if (a.length !== samples * width || b.length !== samples * width) {
    throw new RangeError(`compareOutputs: expected ${samples * width} values, got ${a.length} and ${b.length}`);
  }
  let sameTop1 = 0;
  let exact = 0;
  let differingOutputs = 0;
  let maxAbsDiff = 0;
  const firstMismatches: number[] = [];
  for (let s = 0; s < samples; s++) {
    const off = s * width;
    if (argmax(a, off, width) === argmax(b, off, width)) sameTop1++;
    let differs = false;
    for (let i = off; i < off + width; i++) {
      const d = Math.abs(a[i] - b[i]);
      if (d !== 0) {
        differs = true;
        differingOutputs++;
        if (d > maxAbsDiff) maxAbsDiff = d;
      }
    }
    if (differs) {
      if (firstMismatches.length < 10) firstMismatches.push(s);
    } else {
      exact++;
    }
  }
  return {
    samples,
    top1Agreement: samples ? sameTop1 / samples : 0,
    exactAgreement: samples ? exact / samples : 0,
    differingOutputs,
    maxAbsDiff,
    firstMismatches,
  };
}

/** Top-1 class of every row. */
export function top1All(outputs: ArrayLike<number>, samples: number, width: number): Uint8Array {
  const out = new Uint8Array(samples);
  for (let s = 0; s < samples; s++) out[s] = argmax(outputs, s * width, width);
  return out;
}
