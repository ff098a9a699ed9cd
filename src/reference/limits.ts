/**
 * Bounds an int8 model must meet before our kernels run it, checked once when
 * the model is read (src/tflite/reader.ts) or prepared (Int8Interpreter). The
 * firmware's reader checks the same bounds (firmware/core/model.h, status
 * TML_ERR_MODEL_LIMIT), so host and device accept and refuse the same models.
 *
 * - FULLY_CONNECTED: QuantizeMultiplier(input_scale * weight_scale / output_scale)
 *   must be finite with a shift of at most 30, TFLM's own bound in
 *   MultiplyByQuantizedMultiplier: past it, x * (1 << shift) leaves int32 (undefined
 *   in C; JavaScript's `1 << shift` silently takes the shift modulo 32).
 * - SOFTMAX: at most 511 values per row. Each tied maximum adds 2^19 to the Q12.19
 *   sum of exponentials; from 512 ties on the final rounding shift reaches 32.
 * - The serial link (checkLinkLimits): one input row and one output row must fit
 *   in one frame body (1,024 bytes; a RESULT body spends 8 of them on its header).
 */
import { ModelLimitError } from '../errors.ts';
import type { Int8Dense, Int8Model } from '../model/types.ts';
import { MAX_BODY } from '../protocol/frames.ts';
import { quantizeMultiplier } from './fixed-point.ts';
import { effectiveOutputScale } from './fully-connected.ts';

/** Largest requantization shift (firmware TML_MAX_FC_SHIFT). */
export const MAX_FC_SHIFT = 30;
/** Largest softmax row (firmware TML_MAX_SOFTMAX_DEPTH). */
export const MAX_SOFTMAX_DEPTH = 511;
/** Largest input row, in int8 values (firmware TML_MAX_INPUT_BYTES). */
export const MAX_INPUT_BYTES = MAX_BODY;
/** Largest output row (firmware TML_MAX_OUTPUT_COUNT): a RESULT body holds 8 bytes, then the outputs. */
export const MAX_OUTPUT_COUNT = MAX_BODY - 8;

/**
 * The requantization shift of every output channel of `layer`, as prepare
 * computes it; throws ModelLimitError when one is not finite or exceeds MAX_FC_SHIFT.
 */
export function checkLayerLimits(layer: Int8Dense, index: number): void {
  for (let c = 0; c < layer.weightScales.length; c++) {
    const real = effectiveOutputScale(layer, c);
    const where = `layer ${index} (${layer.name})`;
    const hint = `input scale ${layer.input.scale} x weight scale ${layer.weightScales[c]} / output scale ${layer.output.scale}`;
    if (!Number.isFinite(real)) {
      throw new ModelLimitError(`${where}: requantization multiplier ${hint} is not finite; re-quantize the model`);
    }
    const { shift } = quantizeMultiplier(real);
    if (shift > MAX_FC_SHIFT) {
      throw new ModelLimitError(
        `${where}: requantization multiplier ${hint} = ${real.toPrecision(4)} needs a shift of ${shift}, ` +
          `over ${MAX_FC_SHIFT} (it must stay below 2^${MAX_FC_SHIFT}); re-quantize the model`,
      );
    }
  }
}

/** The arithmetic bounds of the int8 kernels (both runtimes); throws ModelLimitError. */
export function checkInt8ModelLimits(model: Int8Model): void {
  model.layers.forEach(checkLayerLimits);
  const last = model.layers[model.layers.length - 1];
  if (model.softmax && last && last.outputSize > MAX_SOFTMAX_DEPTH) {
    throw new ModelLimitError(
      `model ${model.name}: softmax over ${last.outputSize} classes, more than the ${MAX_SOFTMAX_DEPTH} ` +
        'the int8 softmax sums without overflow',
    );
  }
}

/**
 * What the serial link can carry: one input row and one output row per frame.
 * The validate flow calls it before it opens the device, so an oversized model
 * is refused with this one line instead of failing while frames are built.
 */
export function checkLinkLimits(model: Int8Model): void {
  const input = model.layers[0]?.inputSize ?? 0;
  const output = model.layers[model.layers.length - 1]?.outputSize ?? 0;
  if (input > MAX_INPUT_BYTES) {
    throw new ModelLimitError(
      `model ${model.name}: input of ${input} bytes does not fit in one frame (at most ${MAX_INPUT_BYTES})`,
    );
  }
  if (output > MAX_OUTPUT_COUNT) {
    throw new ModelLimitError(
      `model ${model.name}: output of ${output} values does not fit in one frame (at most ${MAX_OUTPUT_COUNT})`,
    );
  }
}
