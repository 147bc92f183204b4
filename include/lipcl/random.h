/* lipcl — the context's seedable random numbers and the weight initializers built on them
 * (Keras conventions). Runs with the same seed give the same numbers on every device. */
#ifndef LIPCL_RANDOM_H
#define LIPCL_RANDOM_H

#include "lipcl/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The generator is xoshiro256** on the host, seeded from lip_context_config.seed through
 * splitmix64; numbers are drawn on the host and uploaded (initialization is rare, and this keeps
 * the values independent of the device). Every function below consumes the context's stream.
 */

/** Restart the context's stream from `seed`. */
LIP_API lip_status lip_random_seed(lip_context *ctx, uint64_t seed);
/** The generator state (4 words), to save and restore a run exactly. */
LIP_API lip_status lip_random_get_state(const lip_context *ctx, uint64_t state[4]);
LIP_API lip_status lip_random_set_state(lip_context *ctx, const uint64_t state[4]);
/** Next raw 64-bit number of the stream (for host-side shuffles). */
LIP_API lip_status lip_random_next(lip_context *ctx, uint64_t *value);

/** Fill a float32 tensor with U[lo, hi). lo < hi. */
LIP_API lip_status lip_random_uniform(lip_context *ctx, lip_tensor *t, float lo, float hi);
/** Fill a float32 tensor with N(mean, std²). std ≥ 0. */
LIP_API lip_status lip_random_normal(lip_context *ctx, lip_tensor *t, float mean, float std);

/** Keras GlorotUniform: U[−l, l], l = √(6 / (fan_in + fan_out)), with the fans of the tensor's
 *  shape as Keras computes them (dense (in, out); conv (kh, kw, cin, cout): receptive field × cin,
 *  receptive field × cout). */
LIP_API lip_status lip_init_glorot_uniform(lip_context *ctx, lip_tensor *t);
/** Keras Orthogonal(gain): the tensor viewed as (∏ shape[:-1], shape[-1]) gets orthonormal
 *  columns (tall) or rows (wide), times gain — QR of a Gaussian matrix with the signs of R's
 *  diagonal folded in, computed in double on the host. */
LIP_API lip_status lip_init_orthogonal(lip_context *ctx, lip_tensor *t, float gain);
/** All zeros. */
LIP_API lip_status lip_init_zeros(lip_context *ctx, lip_tensor *t);

#ifdef __cplusplus
}
#endif
#endif
