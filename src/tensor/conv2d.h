/* lipcl — internal API of the 2-D convolution ops on NHWC images (kernels/conv2d.cl): forward, the
 * gradient with respect to the input (= the transposed conv) and to the kernel, for every padding mode. */
#ifndef LIPCL_TENSOR_CONV2D_H
#define LIPCL_TENSOR_CONV2D_H

#include "internal.h"
#include "lipcl/layers.h"

/** How the three ops compute: AUTO picks per op by a fixed rule measured with `lipcl-bench conv`
 *  (doc/tuning.md, "Conv2D"); the others force one algorithm for every op (tests, benchmarks). */
typedef enum lip_conv2d_algo {
    LIP_CONV_ALGO_AUTO = 0,
    LIP_CONV_ALGO_DIRECT = 1, /* kernels/conv2d.cl gathers, one work-item per output element (block) */
    LIP_CONV_ALGO_IM2COL = 2  /* im2col (chunked over output rows) + lip_gemm, col2im for backward data */
} lip_conv2d_algo;

/** The three ops (for lip_conv2d_algorithm_for). */
typedef enum lip_conv2d_op {
    LIP_CONV_OP_FORWARD = 0,
    LIP_CONV_OP_BACKWARD_DATA = 1,
    LIP_CONV_OP_BACKWARD_FILTER = 2
} lip_conv2d_op;

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
    lip_conv2d_algo algo;   /* LIP_CONV_ALGO_AUTO (the rule of lip_conv2d_algorithm), or one forced */
} lip_conv2d_geom;

/**
 * Fill g for a Keras-style layer: padding SAME with LIP_PAD_ZEROS is TF's SAME (out ⌈n/s⌉,
 * pad_total = max((out−1)·s + k − n, 0), pad_total/2 before); SAME with another pad mode is deel-lip's
 * PadConv2D (pad k/2 on each side, then VALID: out = ⌊(n + 2·(k/2) − k)/s⌋ + 1); VALID: out =
 * ⌊(n − k)/s⌋ + 1, no padding (k > n is LIP_ERR_SHAPE). Reflect needs pad < n, symmetric and circular
 * pad ≤ n (else LIP_ERR_SHAPE with a message naming `who`). VALID stores pad_mode ZEROS (it reads
 * no padding). Kernel or stride 0 and unknown enums are LIP_ERR_INVALID_ARGUMENT, an empty input
 * LIP_ERR_SHAPE; every tensor must stay under 2^31 elements (32-bit kernel indices).
 * g->algo is LIP_CONV_ALGO_AUTO unless the environment variable LIPCL_CONV_ALGO, read here, says
 * `direct` or `im2col` (`auto` or empty: the rule; anything else: LIP_ERR_INVALID_ARGUMENT); a caller
 * may also set g->algo after this call. The choice never depends on timing (DESIGN.md "Determinism").
 */
lip_status lip_conv2d_geom_make(lip_context *ctx, const char *who, size_t batch, size_t in_h, size_t in_w, size_t cin,
                                size_t kh, size_t kw, size_t cout, size_t stride_h, size_t stride_w,
                                lip_padding padding, lip_pad_mode pad_mode, lip_conv2d_geom *g);

/*
 * The three ops check g, then every tensor: float32, of ctx, with exactly the element count of its
 * role (any shape with that count is accepted: x and dx batch·in_h·in_w·cin, y and dy
 * batch·out_h·out_w·cout, kernels kh·kw·cin·cout, bias cout); LIP_ERR_NULL / LIP_ERR_SHAPE with the
 * expected shape in the message otherwise. They are asynchronous (enqueue only). Temporary device
 * buffers are made per call and released when the queued work is done: the im2col path's column
 * buffer, chunked over output rows (≤ 1 MiB on CPU devices, where a cache-sized chunk is fastest;
 * ≤ 64 MiB elsewhere; at least one row; none for 1×1 stride-1 convs), a copy of the kernel
 * (transposed, or with the bias appended), and the direct backward filter's partial sums (≤ 64 MiB).
 * Results are deterministic (summation orders fixed by the shape and the device type).
 */

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

/** The algorithm op uses for g: "im2col" or "direct" (g->algo when forced, else the rule measured
 *  with `lipcl-bench conv`, see doc/tuning.md "Conv2D"). */
const char *lip_conv2d_algorithm_for(lip_context *ctx, const lip_conv2d_geom *g, lip_conv2d_op op);

/** The algorithm of the forward op for g (for benchmarks and tests): "im2col" or "direct". The
 *  backward ops may use the other one under AUTO: ask lip_conv2d_algorithm_for. */
const char *lip_conv2d_algorithm(lip_context *ctx, const lip_conv2d_geom *g);

#endif
