/* lipcl — layers: constructors of every layer family and the calls common to all of them
 * (build from an input shape, forward, backward, parameters). Keras conventions throughout. */
#ifndef LIPCL_LAYERS_H
#define LIPCL_LAYERS_H

#include "lipcl/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Life of a layer: create (hyper-parameters only) → lip_layer_build with the per-sample input
 * shape (no batch axis; NHWC images give (h, w, c)) which allocates and initializes the
 * parameters → forward / backward on batches (axis 0 = batch) → lip_layer_free.
 * A layer is one of the context's objects: lip_context_free refuses while it lives (a model
 * owns and frees the layers added to it).
 */
typedef struct lip_layer lip_layer;

/** Weight initializers (Keras names). DEFAULT picks the layer family's own default. */
typedef enum lip_init {
    LIP_INIT_DEFAULT = 0,
    LIP_INIT_GLOROT_UNIFORM = 1,
    LIP_INIT_ORTHOGONAL = 2,
    LIP_INIT_ZEROS = 3
} lip_init;

/** Options of the dense families (Dense; SpectralDense and FrobeniusDense use the same struct). */
typedef struct lip_dense_config {
    size_t units;          /* output features, ≥ 1 */
    int use_bias;          /* 1 (default): add a bias vector */
    float k_coef_lip;      /* Lipschitz layers: the constant k > 0 (default 1) */
    lip_init kernel_init;  /* Dense: Glorot uniform (Keras' default); SpectralDense: orthogonal */
    lip_init bias_init;    /* zeros */
    /* SpectralDense only (deel-lip's defaults): */
    float eps_spectral;    /* power-iteration stopping threshold and the ε of W/(σ + ε): > 0 (1e-3) */
    int maxiter_spectral;  /* power iterations at most: 1..1000 (10) */
    float eps_bjorck;      /* Björck stopping threshold: > 0 (1e-3) */
    float beta_bjorck;     /* Björck β: (0, 0.5] (0.5) */
    int maxiter_bjorck;    /* Björck iterations at most: 0..1000 (15); 0 = no Björck (deel-lip's
                              eps_bjorck=None): the layer is then only ≤ k-Lipschitz */
    /* FrobeniusDense only: */
    int disjoint_neurons;  /* 1 (default): normalize each output column, so each output neuron is
                              k-Lipschitz on its own (the vector map is not); 0: the whole kernel */
} lip_dense_config;

/** Defaults for `units` outputs. */
LIP_API lip_dense_config lip_dense_config_default(size_t units);

/** Keras Dense (unconstrained, for vanilla models): y = x·W + b on the last axis, W of shape
 *  (in, units). `name` (may be NULL) names the layer in messages, summaries and files. */
LIP_API lip_status lip_dense_create(lip_context *ctx, const lip_dense_config *config, const char *name,
                                    lip_layer **out);

/** deel-lip SpectralDense: y = x·W̄ + b with W̄ = k·Björck(W/(σ + ε)), σ by power iteration from
 *  the stored vector u (non-trainable parameter "u", (1, units)), so every singular value of W̄ is
 *  ≈ k (exactly ≤ k·(1 + 1e-5) after Björck with β = 0.5). W̄ is recomputed at build and by
 *  lip_layer_reparametrize (after each optimizer step); gradients flow through every Björck
 *  iteration back to the raw kernel, with u held constant. */
LIP_API lip_status lip_spectral_dense_create(lip_context *ctx, const lip_dense_config *config, const char *name,
                                             lip_layer **out);

/** deel-lip FrobeniusDense: y = x·W̄ + b with W̄ = k·W/‖W‖_F (whole kernel: k-Lipschitz), or each
 *  output column divided by its own norm when config.disjoint_neurons (each output k-Lipschitz).
 *  For one output unit it equals SpectralDense and is cheaper. */
LIP_API lip_status lip_frobenius_dense_create(lip_context *ctx, const lip_dense_config *config, const char *name,
                                              lip_layer **out);

/** deel-lip GroupSort(n): sorts contiguous groups of n channels (last axis) ascending, times k
 *  (k-Lipschitz, gradient-norm preserving). n = 0 sorts all channels (FullSort); the channel count
 *  must be a multiple of n. */
LIP_API lip_status lip_groupsort_create(lip_context *ctx, size_t n, float k_coef_lip, const char *name,
                                        lip_layer **out);
/** GroupSort2: GroupSort with n = 2 (min/max of channel pairs). */
LIP_API lip_status lip_groupsort2_create(lip_context *ctx, float k_coef_lip, const char *name, lip_layer **out);
/** FullSort: GroupSort over all channels. */
LIP_API lip_status lip_fullsort_create(lip_context *ctx, float k_coef_lip, const char *name, lip_layer **out);
/** deel-lip MaxMin: k·concat([relu(x), relu(−x)]) on the last axis, which doubles the channels. */
LIP_API lip_status lip_maxmin_create(lip_context *ctx, float k_coef_lip, const char *name, lip_layer **out);
/** ReLU (1-Lipschitz, not gradient-norm preserving). */
LIP_API lip_status lip_relu_create(lip_context *ctx, const char *name, lip_layer **out);

/** Fix the per-sample input shape (ndim 1..3, no batch axis); allocates and initializes the
 *  parameters from the context's random stream. A layer is built once. */
LIP_API lip_status lip_layer_build(lip_layer *layer, int ndim, const size_t *input_shape);
/** Per-sample output shape (after build). */
LIP_API lip_status lip_layer_output_shape(const lip_layer *layer, int *ndim, size_t shape[LIP_MAX_DIMS]);

/** y = layer(x) for a batch: x of shape (batch, input_shape...), y of shape (batch, output_shape...)
 *  (any shapes with those element counts are accepted). Asynchronous. */
LIP_API lip_status lip_layer_forward(lip_layer *layer, const lip_tensor *x, lip_tensor *y);
/** Given x, y = layer(x) and dy = dL/dy: dx = dL/dx (skipped when dx is NULL) and the gradient of
 *  every trainable parameter, written (accumulate 0) or added (accumulate 1) to its grad tensor. */
LIP_API lip_status lip_layer_backward(lip_layer *layer, const lip_tensor *x, const lip_tensor *y,
                                      const lip_tensor *dy, lip_tensor *dx, int accumulate);

/** Recompute the effective weights from the raw parameters (Lipschitz layers: power iteration,
 *  Björck, scaling; u advances one step). Call after changing parameters; a model does it after
 *  every optimizer step. A no-op for layers without a reparametrization. */
LIP_API lip_status lip_layer_reparametrize(lip_layer *layer);

/** Number of parameter tensors (trainable and not). */
LIP_API size_t lip_layer_param_count(const lip_layer *layer);
/** Parameter `index`: its value and gradient tensors (borrowed; grad NULL when not trainable) and
 *  its name ("kernel", "bias", ...). Any output pointer may be NULL. */
LIP_API lip_status lip_layer_param(lip_layer *layer, size_t index, lip_tensor **value, lip_tensor **grad,
                                   const char **name);
/** The layer's name and family ("Dense"). */
LIP_API const char *lip_layer_name(const lip_layer *layer);
LIP_API const char *lip_layer_type(const lip_layer *layer);
/** Release the layer and its tensors. NULL is accepted. */
LIP_API void lip_layer_free(lip_layer *layer);

#ifdef __cplusplus
}
#endif
#endif
