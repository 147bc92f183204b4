/* lipcl — internal ops of the pooling layers on NHWC images: ScaledL2NormPooling2D, ScaledAveragePooling2D,
 * their global versions and MaxPooling2D; output shapes, Lipschitz bounds, forward and backward. */
#ifndef LIPCL_LAYERS_POOLING_H
#define LIPCL_LAYERS_POOLING_H

#include "internal.h"

typedef enum lip_pool_kind {
    LIP_POOL_SCALED_L2 = 0,         /* ScaledL2NormPooling2D: k·‖window‖₂ = √(avgpool(x²))·√(ph·pw)·k */
    LIP_POOL_SCALED_AVG = 1,        /* ScaledAveragePooling2D: avgpool(x)·√(ph·pw)·k = k·Σ_window/√(ph·pw) */
    LIP_POOL_SCALED_GLOBAL_L2 = 2,  /* ScaledGlobalL2NormPooling2D: k·√(Σ_{h,w} x²), output (batch, C) */
    LIP_POOL_SCALED_GLOBAL_AVG = 3, /* ScaledGlobalAveragePooling2D: mean_{h,w}·√(H·W)·k, output (batch, C) */
    LIP_POOL_MAX = 4                /* MaxPooling2D (Keras, unconstrained) */
} lip_pool_kind;

typedef enum lip_pool_padding {
    LIP_POOL_VALID = 0, /* no padding; trailing rows/columns no window fills are dropped */
    LIP_POOL_SAME = 1   /* TF 'same': output ceil(n/s); pad_total = max((ceil(n/s)−1)·s + p − n, 0),
                           pad_total/2 before, the rest after; padded positions are ignored */
} lip_pool_padding;

/*
 * Settings of a pooling op. Bounds, checked by every function below:
 *  - pool_h, pool_w ≥ 1 (local kinds; ignored by the global ones);
 *  - stride_h, stride_w: 0 means the pool size; ≥ 1 otherwise;
 *  - the scaled local kinds take only strides == pool size and 'valid' padding (deel-lip raises on
 *    anything else: overlapping or padded windows break the k bound), MaxPooling2D takes any;
 *  - k_coef_lip finite and > 0 (scaled kinds; MaxPooling2D has no k);
 *  - eps_grad_sqrt ≥ 0 (L2 kinds): the square root's backward is dy / (2(√a + eps_grad_sqrt)),
 *    deel-lip's custom gradient (1e-6 by default); where √a + eps is 0 the gradient is 0.
 */
typedef struct lip_pool2d_params {
    lip_pool_kind kind;
    size_t pool_h, pool_w;
    size_t stride_h, stride_w;
    lip_pool_padding padding;
    float k_coef_lip;
    float eps_grad_sqrt;
} lip_pool2d_params;

/** deel-lip's defaults for `kind`: pool 2×2, strides = pool, 'valid', k 1, eps_grad_sqrt 1e-6. */
lip_pool2d_params lip_pool2d_params_default(lip_pool_kind kind);

/** The layer's name as deel-lip/Keras spell it ("ScaledL2NormPooling2D", ..., "MaxPooling2D"). */
const char *lip_pool2d_name(lip_pool_kind kind);

/**
 * Output shape for an NHWC input (ndim must be 4): local kinds (batch, OH, OW, C) with 'valid'
 * OH = floor((H − ph)/sh) + 1 (a window larger than the input is an error) and 'same' OH = ceil(H/sh);
 * global kinds (batch, C) (*out_ndim = 2). Checks the settings.
 */
lip_status lip_pool2d_output_shape(lip_context *ctx, const lip_pool2d_params *p, int ndim, const size_t *in,
                                   int *out_ndim, size_t *out);

/**
 * The L2 Lipschitz constant the op guarantees: k for the four scaled kinds (non-overlapping
 * windows: each input enters one window; the sum of a window divided by √area, and the window's L2
 * norm, are 1-Lipschitz in the window); for MaxPooling2D √(ceil(ph/sh)·ceil(pw/sw)) — 1 with
 * non-overlapping windows — since each input lies in at most that many windows and
 * |max a − max b| ≤ max |a − b|.
 */
double lip_pool2d_lipschitz_bound(const lip_pool2d_params *p);

/** y = pool(x): x (batch, H, W, C), y of lip_pool2d_output_shape. */
lip_status lip_pool2d_forward(lip_context *ctx, const lip_pool2d_params *p, const lip_tensor *x, lip_tensor *y);

/**
 * dx = the gradient of Σ y·dy with respect to x (x is read by the L2 kinds and MaxPooling2D, which
 * routes each window's gradient to its first maximum in row-major order; the average kinds only
 * need its shape). dx has x's shape and must not be x or dy.
 */
lip_status lip_pool2d_backward(lip_context *ctx, const lip_pool2d_params *p, const lip_tensor *x,
                               const lip_tensor *dy, lip_tensor *dx);

/** lip_pool2d_backward given also the forward's output y (NULL: recomputed): ScaledL2NormPooling2D
 *  then reads √a from y instead of summing each window again (same gradient up to rounding). */
lip_status lip_pool2d_backward_y(lip_context *ctx, const lip_pool2d_params *p, const lip_tensor *x,
                                 const lip_tensor *y, const lip_tensor *dy, lip_tensor *dx);

#endif
