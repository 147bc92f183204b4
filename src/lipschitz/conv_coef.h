/* lipcl — the conv Lipschitz coefficient c_conv: the factor that turns a conv whose reshaped kernel has
 * spectral norm ≤ 1 into a 1-Lipschitz operator (strict, proven bound; or deel-lip's own formula). */
#ifndef LIPCL_CONV_COEF_H
#define LIPCL_CONV_COEF_H

#include "tensor/conv2d.h"

/*
 * Why a coefficient, and the proof behind the strict one. A conv is y = P(x)·W: P(x) (im2col) has
 * one row per output pixel holding the kh·kw·cin values its window reads, W is the kernel reshaped to
 * (kh·kw·cin, cout). So ‖y‖ ≤ ‖P(x)‖_F·‖W‖₂, and ‖P(x)‖_F² = Σ_pixels reads(p)·‖x_p‖² ≤ R·‖x‖², where
 * reads(p) counts the entries of P(x) that hold pixel p (a window that sees p twice, through the
 * padding, counts twice). Hence ‖conv‖ ≤ √R·‖W‖₂, and c = 1/√R makes the layer 1-Lipschitz for every
 * W with ‖W‖₂ ≤ 1 (after the spectral step and Björck, or W/‖W‖_F). Windows are products of a row
 * range and a column range, and every pad mode maps rows and columns separately, so
 * reads(y, x) = reads_h(y)·reads_w(x) and R = R_h·R_w with R_a the maximum over one axis.
 *
 *  - zeros (TF SAME, deel-lip PadConv2D's "constant") and VALID: padded positions read nothing, and a
 *    real index is covered by at most ⌈k/s⌉ windows: R_a ≤ ⌈k/s⌉.
 *  - circular at stride 1 with an odd kernel: the conv is circulant, every index is read exactly k
 *    times. But PadConv2D pads k/2 on both sides, so an even kernel gives n + 1 windows over n pixels
 *    (some index read k + 1 times), and a stride that does not divide the padded length lets the
 *    last window wrap onto indices the first ones read: ⌈k/s⌉ is then not a bound (n = 4, k = 5,
 *    s = 3: pixel 1 is read 3 > 2 times; n = 7 as well).
 *  - symmetric (x0 | x0 x1 ...): at stride 1 with an odd kernel and n ≥ k every index is read exactly
 *    k times (the mirrored copies land on windows that miss the original), but with a stride the edge pixel
 *    can be read twice by one window (k = 2, s = 2: 2 > ⌈2/2⌉ = 1), and even kernels exceed too.
 *  - reflect (x1 | x0 x1 ...): x1 is read by the windows of its own position and of its mirror, k + 1
 *    times at stride 1 for k = 3: ⌈k/s⌉ is never a bound.
 *
 * So the strict coefficient counts: R_a = max(⌈k/s⌉, the exact maximum of reads over the axis for
 * this geometry, pad mode included). For zeros and VALID it is exactly 1/√(⌈kh/sh⌉·⌈kw/sw⌉); where
 * a pad mode duplicates pixels it is smaller, and still a proof (e.g. reflect 3×3 stride 1: 1/4
 * instead of 1/3). The ⌈k/s⌉ floor keeps the documented value on small images too (an image
 * smaller than the kernel has fewer reads; deel-lip and torchlip use ⌈k/s⌉ there as well).
 */

/** Largest number of reads of one index of an axis of `n` pixels by `out` windows of `k` taps at
 *  stride `s`, the first starting `pad_before` pixels before the image, outside indices mapped by
 *  `mode` (zeros: not read). Window o reads o·s + i − pad_before for i < k. 0 when nothing is read. */
size_t lip_conv_axis_max_reads(size_t n, size_t k, size_t s, size_t pad_before, size_t out, lip_pad_mode mode);

/** The strict coefficient of the conv of geometry g (its kernel, strides, padding, pad mode and
 *  sizes): 1/√(max(⌈kh/sh⌉, R_h)·max(⌈kw/sw⌉, R_w)), see above. Always > 0. */
double lip_conv_coef_strict(const lip_conv2d_geom *g);

/** deel-lip 1.5.1's _compute_conv_lip_factor for a layer input of h × w: stride 1 (sh·sw = 1):
 *  √(h·w / ((kh·h − a(a+1))·(kw·w − b(b+1)))), a = (kh−1)/2, b = (kw−1)/2 (real division); else
 *  1/√(⌈kh/sh⌉·⌈kw/sw⌉). NaN where deel-lip's formula is undefined (a non-positive denominator: a
 *  kernel far larger than the image). */
double lip_conv_coef_deel_lip(size_t h, size_t w, size_t kh, size_t kw, size_t sh, size_t sw);

/**
 * c_conv of a layer in `mode`: the strict coefficient of the conv geometry g, or deel-lip's formula for
 * the layer input size h × w (for a transposed conv, the input of the layer, i.e. the output of the
 * conv g it is the adjoint of). LIP_ERR_INVALID_ARGUMENT, with a message naming `who`, when deel-lip's
 * formula is undefined for that size or the mode is unknown.
 */
lip_status lip_conv_coef(lip_context *ctx, const char *who, lip_conv_coef_mode mode, const lip_conv2d_geom *g,
                         size_t h, size_t w, double *coef);

#endif
