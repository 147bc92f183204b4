/* lipcl — internal ops of the Lipschitz activations (GroupSort(n), GroupSort2, FullSort, MaxMin,
 * Householder, PReLUlip, ReLU): shape rules, forward and backward; the layer objects wrap these. */
#ifndef LIPCL_LAYERS_ACTIVATIONS_H
#define LIPCL_LAYERS_ACTIVATIONS_H

#include "internal.h"

/*
 * Conventions of every op here (deel-lip 1.5.1, Keras channels_last):
 *  - activations act on the LAST axis of a float32 tensor of any rank (1..4): (batch, features) or
 *    NHWC images; "rows" below are all the other axes together;
 *  - everything is enqueued asynchronously on the context's queue (no host sync, no readback) and
 *    is deterministic (fixed summation orders, no atomics);
 *  - k is k_coef_lip: finite and > 0 where an op takes it;
 *  - outputs must not be the same tensor as an input unless the function says it may;
 *  - errors come back as LIP_ERR_* with a message naming the layer and the shapes
 *    (lip_context_last_error), e.g. "GroupSort(4): 6 channels is not a multiple of 4".
 * Lipschitz constants (L2): GroupSort/FullSort/GroupSort2 k (a permutation times k); MaxMin k (it
 * preserves the norm); Householder 1 (an orthogonal map per pair; the op has no k, as in deel-lip, and
 * the Householder layer multiplies its output by k);
 * ReLU 1; PReLU max(1, max|α|), i.e. max(1, k) once lip_prelu_constrain has run.
 */

/* ---- GroupSort(n), GroupSort2 (n = 2), FullSort (n = 0) ---------------------------------------- */

/**
 * The group size GroupSort(n) uses on inputs of this shape (last axis = C channels): n = 0 (FullSort)
 * or n > C give C (deel-lip clamps n to C); otherwise n, which must divide C (LIP_ERR_SHAPE).
 * The output shape is the input shape.
 */
lip_status lip_groupsort_group_size(lip_context *ctx, size_t n, int ndim, const size_t *shape, size_t *group);

/**
 * y = k · sort(x) inside each group of `group` contiguous channels, ascending (groups of 2 as
 * (min, max) pairs). Ties and NaNs: a stable sort in the order "numbers ascending, NaNs last", so
 * y is always k times a permutation of x. y has the shape of x. `ranks` (NULL, or int32 with x's
 * element count) receives each input's position inside its sorted group for the backward.
 */
lip_status lip_groupsort_forward(lip_context *ctx, size_t n, float k, const lip_tensor *x, lip_tensor *y,
                                 lip_tensor *ranks);

/**
 * dx = the gradient of Σ y·dy: dx[i] = k · dy[position of x[i] in the sorted group]. The positions
 * come from `ranks` (written by the forward) when given, else are recomputed from x (the same
 * order as the forward); at least one of x and ranks is needed. dy and dx have x's shape.
 */
lip_status lip_groupsort_backward(lip_context *ctx, size_t n, float k, const lip_tensor *x,
                                  const lip_tensor *ranks, const lip_tensor *dy, lip_tensor *dx);

/* ---- MaxMin ----------------------------------------------------------------------------------- */

/** Output shape of MaxMin: the input shape with the last axis doubled. */
lip_status lip_maxmin_output_shape(lip_context *ctx, int ndim, const size_t *in, size_t *out);

/** y = k · concat([relu(x), relu(−x)], last axis) (two blocks, as deel-lip); y is (..., 2C). */
lip_status lip_maxmin_forward(lip_context *ctx, float k, const lip_tensor *x, lip_tensor *y);

/** dx = k · (dy[..., :C]·[x > 0] − dy[..., C:]·[x < 0]) (relu'(0) = 0); dx has x's shape. */
lip_status lip_maxmin_backward(lip_context *ctx, float k, const lip_tensor *x, const lip_tensor *dy,
                               lip_tensor *dx);

/* ---- Householder -------------------------------------------------------------------------------- */

/**
 * Householder reflection of the channel pairs (i, i + C/2), θ with C/2 elements (C even):
 * z1 = x[..., :C/2], z2 = x[..., C/2:], s = z1 sin(θ/2) − z2 cos(θ/2); where s ≤ 0 y = x, else
 * y = (z1 cos θ + z2 sin θ, z1 sin θ − z2 cos θ). No k (deel-lip ignores k_coef_lip here).
 * y has x's shape and may be x.
 */
lip_status lip_householder_forward(lip_context *ctx, const lip_tensor *theta, const lip_tensor *x, lip_tensor *y);

/**
 * Gradients of Σ y·dy: dx (NULL: not wanted; may be dy) and dθ (NULL: not wanted; C/2 elements;
 * accumulate ≠ 0 adds to it instead of overwriting). The reflection test is not differentiated
 * (tf.where). dθ is a fixed-order sum over all rows: deterministic.
 */
lip_status lip_householder_backward(lip_context *ctx, const lip_tensor *theta, const lip_tensor *x,
                                    const lip_tensor *dy, lip_tensor *dx, lip_tensor *dtheta, int accumulate);

/* ---- PReLUlip (Keras PReLU with deel-lip's slope constraint) ----------------------------------- */

/**
 * y = x for x ≥ 0, α·x for x < 0, where element i of x (flat index) uses α[i mod A], A = α's
 * element count, which must be the product of x's trailing axes (1: one shared slope; C: one per
 * channel; H·W·C: Keras' default PReLU, one per position, i.e. α of shape input_shape[1:]).
 * y has x's shape and may be x.
 */
lip_status lip_prelu_forward(lip_context *ctx, const lip_tensor *alpha, const lip_tensor *x, lip_tensor *y);

/**
 * Gradients of Σ y·dy: dx = dy·(1 if x > 0, α if x < 0, 0 at 0) (NULL: not wanted; may be dy) and
 * dα = Σ over the rows of dy·min(x, 0) (NULL: not wanted; accumulate ≠ 0 adds to it).
 */
lip_status lip_prelu_backward(lip_context *ctx, const lip_tensor *alpha, const lip_tensor *x, const lip_tensor *dy,
                              lip_tensor *dx, lip_tensor *dalpha, int accumulate);

/**
 * deel-lip's PReLUlip constraint, Keras MinMaxNorm(min_value = −k, max_value = k) on α's axis 0,
 * applied in place (after each optimizer step, as Keras applies constraints): α viewed as
 * (α.shape[0], rest); each column j is multiplied by min(‖α[:, j]‖, k) / (1e-7 + ‖α[:, j]‖). Every
 * |α| element then is ≤ k, so PReLU is max(1, k)-Lipschitz.
 */
lip_status lip_prelu_constrain(lip_context *ctx, float k, lip_tensor *alpha);

/* ---- ReLU ------------------------------------------------------------------------------------- */

/** y = max(x, 0) (a NaN propagates); y has x's shape and may be x. */
lip_status lip_relu_forward(lip_context *ctx, const lip_tensor *x, lip_tensor *y);

/** dx = dy·[x > 0] (relu'(0) = 0); dx has x's shape and may be dy. */
lip_status lip_relu_backward(lip_context *ctx, const lip_tensor *x, const lip_tensor *dy, lip_tensor *dx);

#endif
