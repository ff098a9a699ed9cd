/**
 * The tensor arena TFLM needs for one of our models (FULLY_CONNECTED chain,
 * optional SOFTMAX), from the model alone, so the firmware can be built with a
 * TML_ARENA_BYTES that fits before it ever runs.
 *
 * Measured with firmware/runtime/tflm/runtime_tflm.cc on TFLM from
 * tflite-micro-arduino-examples 7948b85 (2023-12-21, CMSIS-NN kernels),
 * arm-none-eabi-g++ 12.2, Cortex-M4 (QEMU mps2-an386), arena_used_bytes() after
 * AllocateTensors(), random models from scripts/golden-vectors.ts:
 *
 *   widths                 softmax  tensors  FC  arena_used  predicted
 *   784-20-10              yes      8        2   1476        1476
 *   784-128-10             yes      8        2   1572        1572  (also models/default)
 *   784-128-10             no       7        2   1460        1460
 *   784-1024-10            no       7        2   2356        2356
 *   784-512-512-10         yes      11       3   2100        2100
 *   784-256-128-64-10      yes      14       4   1972        1972
 *   64-300-10              yes      8        2   1028        1028
 *   100-10                 yes      5        1   660         660
 *   784-16-600-10          yes      11       3   1604        1604
 *   200-1000-50-3          yes      11       3   2020        2020
 *   32-8-400-8-10          no       13       4   1236        1220  (16 short)
 *
 * AllocateTensors() needs a little more than arena_used_bytes() (TFLM says up
 * to +16; measured: 784-128-10 fails with 1572 bytes, loads with 1584).
 * used = plan + align16(12 * tensors) + 260 + 96 * FC + 112 * softmax
 *
 *   plan      the activations as TFLM's greedy planner lays them out (each
 *             rounded up to 16; for a chain, the largest in+out pair)
 *   12/tensor one TfLiteEvalTensor per tensor, one array aligned to 16
 *   260       interpreter, allocator and planner bookkeeping
 *   96/FC     node, registration and the CMSIS-NN FULLY_CONNECTED OpData
 *   112       node, registration and the SOFTMAX OpData (lookup tables none: int8)
 *
 * Per-channel weights add nothing here because this TFLM ignores them (its
 * FULLY_CONNECTED uses the first scale only; runtime_tflm.cc refuses such
 * models). Small plans, other TFLM versions and CPUs with a CMSIS-NN scratch
 * buffer (Helium/MVE) differ by some bytes: tflmArenaBytes adds TFLM_ARENA_HEADROOM, and
 * TFLM itself reports the real figure at run time (INFO's arena used).
 */
import type { Int8Model } from '../model/types.ts';

/** Slack over the measured formula, for other TFLM versions and builds. */
export const TFLM_ARENA_HEADROOM = 512;

const TFLM_ARENA_BASE = 260;
const TFLM_ARENA_PER_FC = 96;
const TFLM_ARENA_SOFTMAX = 112;
const TFLM_EVAL_TENSOR_BYTES = 12;

const align16 = (n: number): number => Math.ceil(n / 16) * 16;

/** Bytes of arena TFLM's arena_used_bytes() reports for `model` (the formula above). */
export function tflmArenaUsed(model: Int8Model): number {
  const fcs = model.layers.length;
  if (fcs === 0) return 0;
  const tensors = 1 + 3 * fcs + (model.softmax ? 1 : 0);
  return (
    greedyPlanBytes(activationLifetimes(model)) +
    align16(TFLM_EVAL_TENSOR_BYTES * tensors) +
    TFLM_ARENA_BASE +
    TFLM_ARENA_PER_FC * fcs +
    (model.softmax ? TFLM_ARENA_SOFTMAX : 0)
  );
}

/** TML_ARENA_BYTES for the TFLM runtime: tflmArenaUsed plus headroom, a multiple of 16. */
export function tflmArenaBytes(model: Int8Model): number {
  return align16(tflmArenaUsed(model) + TFLM_ARENA_HEADROOM);
}

interface Lifetime {
  size: number;
  first: number;
  last: number;
}

/** The activation tensors: the input, each op's output; live from the op that writes them to the last that reads them. */
function activationLifetimes(model: Int8Model): Lifetime[] {
  const ops = model.layers.length + (model.softmax ? 1 : 0);
  const sizes = [model.layers[0]!.inputSize, ...model.layers.map((l) => l.outputSize)];
  if (model.softmax) sizes.push(model.layers[model.layers.length - 1]!.outputSize);
  // Tensor i (i >= 1) is written by op i-1 and read by op i; the input is read by op 0;
  // the model output stays live to the end.
  return sizes.map((n, i) => ({ size: align16(n), first: Math.max(0, i - 1), last: Math.min(i, ops - 1) }));
}

/**
 * TFLM's GreedyMemoryPlanner: largest buffer first (ties: earlier first), each at
 * the lowest offset where it overlaps no placed buffer that is live at the same time.
 */
function greedyPlanBytes(buffers: Lifetime[]): number {
  const order = buffers.map((b, i) => ({ ...b, i })).sort((a, b) => b.size - a.size || a.i - b.i);
  const placed: { offset: number; b: Lifetime }[] = [];
  let end = 0;
  for (const b of order) {
    const clashes = placed
      .filter((p) => p.b.first <= b.last && b.first <= p.b.last)
      .sort((x, y) => x.offset - y.offset);
    let offset = 0;
    for (const p of clashes) {
      if (offset + b.size <= p.offset) break;
      offset = Math.max(offset, p.offset + p.b.size);
    }
    placed.push({ offset, b });
    end = Math.max(end, offset + b.size);
  }
  return end;
}
