/* lipcl — internal API of the 2-D convolution ops on NHWC images (kernels/conv2d.cl): forward, the
 * gradient with respect to the input (= the transposed conv) and to the kernel, for every padding mode. */
#ifndef LIPCL_TENSOR_CONV2D_H
#define LIPCL_TENSOR_CONV2D_H

#include "internal.h"
#include "lipcl/layers.h"

/*
 * Geometry of one convolution y = conv(x, K):
 *   x (batch, in_h, in_w, cin), K (kh, kw, cin, cout) Keras layout, y (batch, out_h, out_w, cout),
 *   y[b, oy, ox, o] = Σ_{i,j,c} xpad[b, oy·sh + i − pad_top, ox·sw + j − pad_left, c] · K[i, j, c, o]
 * where xpad reads x inside the image and, outside, 0 (LIP_PAD_ZEROS) or the pixel the pad mode maps
 * to (reflect, symmetric, circular: see lip_pad_mode). Rows/columns past the bottom/right are padding
 * too (TF SAME puts the odd pixel after).
 */
typedef struct lip_conv2d_geom {
    size_t batch, in_h, in_w, cin;
    size_t kh, kw, cout;
    size_t stride_h, stride_w;
    size_t pad_top, pad_left;
    size_t out_h, out_w;
    lip_pad_mode pad_mode;
} lip_conv2d_geom;

/**
 * Fill g for a Keras-style layer: padding SAME with LIP_PAD_ZEROS is TF's SAME (out ⌈n/s⌉,
 * pad_total = max((out−1)·s + k − n, 0), pad_total/2 before); SAME with another pad mode is deel-lip's
 * PadConv2D (pad k/2 on each side, then VALID: out = ⌊(n + 2·(k/2) − k)/s⌋ + 1); VALID: out =
 * ⌊(n − k)/s⌋ + 1, no padding (k > n is LIP_ERR_SHAPE). Reflect needs pad < n, symmetric and circular
 * pad ≤ n (else LIP_ERR_SHAPE with a message naming `who`).
 */
lip_status lip_conv2d_geom_make(lip_context *ctx, const char *who, size_t batch, size_t in_h, size_t in_w, size_t cin,
                                size_t kh, size_t kw, size_t cout, size_t stride_h, size_t stride_w,
                                lip_padding padding, lip_pad_mode pad_mode, lip_conv2d_geom *g);

/** y = conv(x, K) (+ bias when bias is not NULL: (cout,)). y must not alias x. */
lip_status lip_conv2d_forward(lip_context *ctx, const lip_conv2d_geom *g, const lip_tensor *x, const lip_tensor *kernel,
                              const lip_tensor *bias, lip_tensor *y);

/** dx = (or += when accumulate) the gradient of Σ y·dy with respect to x: the adjoint of the conv,
 *  i.e. the transposed convolution of dy (padding folded back onto the pixels it copies). */
lip_status lip_conv2d_backward_data(lip_context *ctx, const lip_conv2d_geom *g, const lip_tensor *dy,
                                    const lip_tensor *kernel, lip_tensor *dx, int accumulate);

/** dK = (or += when accumulate) the gradient of Σ y·dy with respect to the kernel (kh, kw, cin, cout). */
lip_status lip_conv2d_backward_filter(lip_context *ctx, const lip_conv2d_geom *g, const lip_tensor *x,
                                      const lip_tensor *dy, lip_tensor *dkernel, int accumulate);

/** The algorithm the three calls above use for g (for benchmarks and tests): "im2col" or "direct". */
const char *lip_conv2d_algorithm(lip_context *ctx, const lip_conv2d_geom *g);

#endif
