/* lipcl — internal ops of the invertible resampling layers on NHWC images: InvertibleDownSampling
 * (space to depth) and InvertibleUpSampling (depth to space), deel-lip 1.5.1's channel order. */
#ifndef LIPCL_LAYERS_RESAMPLING_H
#define LIPCL_LAYERS_RESAMPLING_H

#include "internal.h"

typedef enum lip_resample_dir {
    LIP_RESAMPLE_DOWN = 0, /* InvertibleDownSampling: (B, H, W, C) → (B, H/p0, W/p1, C·p0·p1) */
    LIP_RESAMPLE_UP = 1    /* InvertibleUpSampling: (B, H, W, C) → (B, H·p0, W·p1, C/(p0·p1)) */
} lip_resample_dir;

/*
 * Index map (deel-lip 1.5.1 = torch pixel_unshuffle / pixel_shuffle, for any H and W):
 *     small[b, y, x, c·p0·p1 + i·p1 + j] = large[b, y·p0 + i, x·p1 + j, c],  i < p0, j < p1,
 * where "large" is the down-sampling input / up-sampling output. Both are permutations: exactly
 * 1-Lipschitz (isometries), no k. deel-lip's own up-sampling is wrong for H ≠ W; this one is the
 * exact inverse of the down-sampling for every shape.
 * Down needs H % p0 == 0 and W % p1 == 0; up needs C % (p0·p1) == 0 (else LIP_ERR_SHAPE).
 * Everything is asynchronous and deterministic; the output must not be the input tensor.
 */

/** The layer's name ("InvertibleDownSampling" / "InvertibleUpSampling"). */
const char *lip_resample_name(lip_resample_dir dir);

/** Output shape for a 4-D NHWC input shape; pool p0 × p1 with p0, p1 ≥ 1. */
lip_status lip_resample_output_shape(lip_context *ctx, lip_resample_dir dir, size_t p0, size_t p1, int ndim,
                                     const size_t *in, size_t *out);

/** y = down(x) or up(x); y has lip_resample_output_shape's shape. */
lip_status lip_resample_forward(lip_context *ctx, lip_resample_dir dir, size_t p0, size_t p1, const lip_tensor *x,
                                lip_tensor *y);

/** dx = the gradient of Σ y·dy: the inverse permutation of dy (up(dy) for down, down(dy) for up). */
lip_status lip_resample_backward(lip_context *ctx, lip_resample_dir dir, size_t p0, size_t p1, const lip_tensor *dy,
                                 lip_tensor *dx);

#endif
