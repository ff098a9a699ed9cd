/* The few double-precision operations the prepare steps take from TFLM
 * (QuantizeMultiplier's inputs, the softmax scaling, the bias-scale check),
 * done on the IEEE-754 bits with integer arithmetic, rounded to nearest even
 * exactly as a double FPU rounds. The Cortex-M4F has a single-precision FPU
 * only, so plain C doubles there link libgcc's soft-float routines (2.2 KB of
 * flash for four calls at init); these take about a fifth of that.
 *
 * Values are positive finite doubles as their bits (tml_f64_t). Every operand
 * here is a float, a product of two floats or a quotient of those: far from
 * the double range's ends (2^-300 .. 2^410), so results are never subnormal,
 * infinite or NaN, and positive doubles compare as their bits do. */
#ifndef TINYML_KERNELS_EXACT_F64_H
#define TINYML_KERNELS_EXACT_F64_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef uint64_t tml_f64_t;

#define TML_F64_ONE 0x3FF0000000000000ull /* 1.0 */

/* (double)f for a finite f >= 0 (subnormals included). */
tml_f64_t tml_f64_from_f32(float f);

/* (double)a * (double)b for finite a, b >= 0: exact (at most 48 significant bits). */
tml_f64_t tml_f64_mul_f32(float a, float b);

/* a / b rounded to nearest even; a >= 0, b > 0. */
tml_f64_t tml_f64_div(tml_f64_t a, tml_f64_t b);

/* |a - b| (subtract) or a + b, rounded to nearest even; a, b >= 0. */
tml_f64_t tml_f64_sum(tml_f64_t a, tml_f64_t b, bool subtract);

/* The double whose bits these are (for QuantizeMultiplier's signature). */
double tml_f64_value(tml_f64_t bits);

#ifdef __cplusplus
}
#endif

#endif
