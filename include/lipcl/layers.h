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
    LIP_INIT_ZEROS = 3,
    LIP_INIT_SPECTRAL = 4 /* deel-lip SpectralInitializer() with its defaults: orthogonal, then one RKO of the
                             tensor viewed as (count/last axis, last axis) from a random u ~ U[0, 1) (eps 1e-3,
                             ≤ 10 power iterations, Björck β 0.5, eps 1e-3, ≤ 15 iterations, k 1; not the
                             layer's own settings, as in deel-lip): every singular value within 1e-5 of 1.
                             Needs rank ≥ 2. The default of the spectral and Frobenius layers */
} lip_init;

/** Options of the dense families (Dense; SpectralDense and FrobeniusDense use the same struct). */
typedef struct lip_dense_config {
    size_t units;          /* output features, ≥ 1 */
    int use_bias;          /* 1 (default): add a bias vector */
    float k_coef_lip;      /* Lipschitz layers: the constant k > 0 (default 1) */
    lip_init kernel_init;  /* Dense: Glorot uniform (Keras' default); SpectralDense, FrobeniusDense:
                              LIP_INIT_SPECTRAL (deel-lip's default) */
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

/* ---- convolutions (NHWC images, kernel (kh, kw, cin, cout)) ---------------------------------- */

/** Keras padding: SAME (output ⌈n/s⌉, TF's split: the extra pixel after) or VALID (⌊(n − k)/s⌋ + 1). */
typedef enum lip_padding {
    LIP_PADDING_SAME = 0,
    LIP_PADDING_VALID = 1
} lip_padding;

/** What a SAME-padded conv reads outside the image (deel-lip PadConv2D's modes; non-zero modes pad
 *  (kh/2, kw/2) pixels on each side and run a VALID conv, as deel-lip does). */
typedef enum lip_pad_mode {
    LIP_PAD_ZEROS = 0,
    LIP_PAD_REFLECT = 1,   /* mirror without the edge pixel: x1 | x0 x1 ... */
    LIP_PAD_SYMMETRIC = 2, /* mirror with the edge pixel: x0 | x0 x1 ... */
    LIP_PAD_CIRCULAR = 3   /* wrap around: x_{n-1} | x0 ... */
} lip_pad_mode;

/** How a spectral/Frobenius conv turns an orthonormal reshaped kernel into a k-Lipschitz operator. */
typedef enum lip_conv_coef_mode {
    LIP_CONV_COEF_STRICT = 0,  /* 1/√(R_h·R_w), R = the most times one pixel is read along an axis (at least
                                  ⌈k/s⌉): 1/√(⌈kh/sh⌉·⌈kw/sw⌉) for zero padding and VALID; pad modes that
                                  read border pixels more often (reflect; symmetric or circular with an even
                                  kernel or a stride) get their exact count, so every mode stays a proof
                                  (src/lipschitz/conv_coef.h) */
    LIP_CONV_COEF_DEEL_LIP = 1 /* deel-lip 1.5.1 exactly: stride 1 uses its input-size dependent SAME
                                  factor (an average, up to ≈1.6 % above 1-Lipschitz); SAME only */
} lip_conv_coef_mode;

/** Options of the conv families (Conv2D, SpectralConv2D, FrobeniusConv2D, and the transposed ones). */
typedef struct lip_conv2d_config {
    size_t filters;              /* output channels, ≥ 1 */
    size_t kernel_h, kernel_w;   /* ≥ 1 */
    size_t stride_h, stride_w;   /* ≥ 1 (1) */
    lip_padding padding;         /* SAME (deel-lip's only choice for its Lipschitz convs) */
    lip_pad_mode pad_mode;       /* ZEROS (the only mode of the transposed layers and of DEEL_LIP mode) */
    int use_bias;                /* 1 */
    float k_coef_lip;            /* > 0 (1) */
    lip_init kernel_init;        /* Conv2D: Glorot uniform; Lipschitz convs: LIP_INIT_SPECTRAL */
    lip_init bias_init;          /* zeros */
    float eps_spectral;          /* as lip_dense_config */
    int maxiter_spectral;
    float eps_bjorck;
    float beta_bjorck;
    int maxiter_bjorck;
    lip_conv_coef_mode coef_mode; /* STRICT */
} lip_conv2d_config;

/** Defaults for `filters` outputs and a kh × kw kernel. */
LIP_API lip_conv2d_config lip_conv2d_config_default(size_t filters, size_t kernel_h, size_t kernel_w);

/** Keras Conv2D / deel-lip PadConv2D (unconstrained): y = conv(x, W) + b. */
LIP_API lip_status lip_conv2d_create(lip_context *ctx, const lip_conv2d_config *config, const char *name,
                                     lip_layer **out);
/** deel-lip SpectralConv2D: W̄ = k·c_conv·Björck(W/(σ + ε)) on the kernel reshaped to (kh·kw·cin, cout),
 *  u of shape (1, filters); c_conv per config.coef_mode (computed at build from the input shape). */
LIP_API lip_status lip_spectral_conv2d_create(lip_context *ctx, const lip_conv2d_config *config, const char *name,
                                              lip_layer **out);
/** deel-lip FrobeniusConv2D: W̄ = k·c_conv·W/‖W‖_F (whole kernel); strides 1 in DEEL_LIP mode (as deel-lip),
 *  any in STRICT mode. */
LIP_API lip_status lip_frobenius_conv2d_create(lip_context *ctx, const lip_conv2d_config *config, const char *name,
                                               lip_layer **out);
/** Keras Conv2DTranspose (unconstrained, zero padding): kernel (kh, kw, filters, cin), the adjoint of the conv
 *  with that kernel; SAME output = input·stride, VALID output = input·stride + max(k − stride, 0). */
LIP_API lip_status lip_conv2d_transpose_create(lip_context *ctx, const lip_conv2d_config *config, const char *name,
                                               lip_layer **out);
/** deel-lip SpectralConv2DTranspose (SAME, zero padding). Strict mode orthonormalizes the matrix of the
 *  strided conv it is the adjoint of, the kernel as (kh·kw·filters, cin) with u of shape (1, cin), so
 *  the layer is k-Lipschitz; DEEL_LIP mode uses deel-lip's (kh·kw·cin, filters) reshape and u (1, filters). */
LIP_API lip_status lip_spectral_conv2d_transpose_create(lip_context *ctx, const lip_conv2d_config *config,
                                                        const char *name, lip_layer **out);

/* ---- pooling, resampling, reshaping --------------------------------------------------------- */

/** Options of the local pooling layers. Images are (H, W, C) per sample; with VALID padding the
 *  trailing rows/columns no window covers are dropped (Keras), and a window larger than the image is
 *  refused at build (LIP_ERR_SHAPE). */
typedef struct lip_pool2d_config {
    size_t pool_h, pool_w;     /* ≥ 1 (2, 2) */
    size_t stride_h, stride_w; /* 0 = the pool size; scaled kinds accept only that (else LIP_ERR_UNSUPPORTED:
                                  overlapping windows would break the k bound, deel-lip refuses them too) */
    lip_padding padding;       /* VALID; SAME only for MaxPooling2D (scaled kinds: LIP_ERR_UNSUPPORTED) */
    float k_coef_lip;          /* scaled kinds: > 0 (1) */
    float eps_grad_sqrt;       /* L2 kinds: ≥ 0 (1e-6), ε of the square root's gradient */
} lip_pool2d_config;

/** deel-lip's defaults: 2×2, strides = pool, VALID, k 1, eps_grad_sqrt 1e-6. */
LIP_API lip_pool2d_config lip_pool2d_config_default(void);

/** deel-lip ScaledL2NormPooling2D: k·‖window‖₂ per channel (k-Lipschitz). */
LIP_API lip_status lip_scaled_l2norm_pooling2d_create(lip_context *ctx, const lip_pool2d_config *config,
                                                      const char *name, lip_layer **out);
/** deel-lip ScaledAveragePooling2D: k·Σ_window/√area (k-Lipschitz). */
LIP_API lip_status lip_scaled_average_pooling2d_create(lip_context *ctx, const lip_pool2d_config *config,
                                                       const char *name, lip_layer **out);
/** Keras MaxPooling2D (1-Lipschitz with non-overlapping windows, √(⌈ph/sh⌉·⌈pw/sw⌉) in general; k is
 *  ignored). The gradient goes to the first maximum of each window in row-major order. */
LIP_API lip_status lip_max_pooling2d_create(lip_context *ctx, const lip_pool2d_config *config, const char *name,
                                            lip_layer **out);
/** deel-lip ScaledGlobalL2NormPooling2D: (H, W, C) → (C), k·‖x[:, :, c]‖₂; eps_grad_sqrt ≥ 0 (1e-6). */
LIP_API lip_status lip_scaled_global_l2norm_pooling2d_create(lip_context *ctx, float k_coef_lip, float eps_grad_sqrt,
                                                             const char *name, lip_layer **out);
/** deel-lip ScaledGlobalAveragePooling2D: (H, W, C) → (C), k·Σ/√(H·W). */
LIP_API lip_status lip_scaled_global_average_pooling2d_create(lip_context *ctx, float k_coef_lip, const char *name,
                                                              lip_layer **out);
/** deel-lip InvertibleDownSampling (space to depth, PixelUnshuffle order): (H, W, C) → (H/p0, W/p1, C·p0·p1);
 *  H and W must be multiples of the pool (1..65535 each). A permutation: exactly isometric, no k. */
LIP_API lip_status lip_invertible_downsampling_create(lip_context *ctx, size_t pool_h, size_t pool_w,
                                                      const char *name, lip_layer **out);
/** deel-lip InvertibleUpSampling (depth to space, PixelShuffle order; correct for H ≠ W):
 *  (H, W, C) → (H·p0, W·p1, C/(p0·p1)), C a multiple of p0·p1; the exact inverse of the down-sampling. */
LIP_API lip_status lip_invertible_upsampling_create(lip_context *ctx, size_t pool_h, size_t pool_w,
                                                    const char *name, lip_layer **out);
/** Keras Flatten: (d1, ..., dn) → (d1·...·dn). The elements keep their row-major order: forward and
 *  backward are one device copy, or nothing when the output is the input's own memory. */
LIP_API lip_status lip_flatten_create(lip_context *ctx, const char *name, lip_layer **out);
/** Keras Reshape to a per-sample shape of ndim 1..3 (one entry may be 0 = inferred, Keras' −1); the
 *  element count must be kept (checked at build). Moves data as Flatten does. */
LIP_API lip_status lip_reshape_create(lip_context *ctx, int ndim, const size_t *shape, const char *name,
                                      lip_layer **out);

/* ---- parametrized activations ----------------------------------------------------------------- */

/** deel-lip Householder: a learned reflection of each channel pair (i, i + C/2) by θ_i (trainable,
 *  "theta", (C/2,), initialized to theta_init: π/2 gives GroupSort2 on those pairs), times k (deel-lip
 *  ignores k; lipcl honours it, so the layer is k-Lipschitz and gradient-norm preserving up to k).
 *  C (the last axis) must be even. */
LIP_API lip_status lip_householder_create(lip_context *ctx, float k_coef_lip, float theta_init, const char *name,
                                          lip_layer **out);
/** deel-lip PReLUlip: max(0, x) + α·min(0, x) (α trainable, "alpha", of the per-sample input shape as
 *  Keras' PReLU without shared axes, initialized to 0). lip_layer_reparametrize (after each optimizer
 *  step, where Keras applies constraints) applies deel-lip's MinMaxNorm(−k, k) on α's axis 0: each
 *  column of α viewed as (shape[0], rest) is scaled to a norm ≤ k, so |α| ≤ k and the layer is
 *  max(1, k)-Lipschitz (not before the first reparametrize if α was set by hand). */
LIP_API lip_status lip_prelu_lip_create(lip_context *ctx, float k_coef_lip, const char *name, lip_layer **out);

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

/** The L2 Lipschitz constant a built layer guarantees: k for the spectral/Frobenius dense and conv
 *  layers, the scaled pools, GroupSort/FullSort/MaxMin/Householder; max(1, k) for PReLUlip; 1 for ReLU,
 *  the resampling and reshaping layers; √(⌈ph/sh⌉·⌈pw/sw⌉) for MaxPooling2D. *per_neuron (may be
 *  NULL) is 1 when the bound holds only for each output neuron on its own (FrobeniusDense with
 *  disjoint_neurons). Unconstrained Dense, Conv2D and Conv2DTranspose: LIP_ERR_UNSUPPORTED. */
LIP_API lip_status lip_layer_lipschitz_bound(const lip_layer *layer, double *bound, int *per_neuron);

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
