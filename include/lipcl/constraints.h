/* lipcl — deel-lip's weight constraints (projections applied in place after each optimizer step) and
 * kernel regularizers (a value added to the loss and its gradient added to the kernel's gradient). */
#ifndef LIPCL_CONSTRAINTS_H
#define LIPCL_CONSTRAINTS_H

#include "lipcl/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Both are objects of a context (lip_context_free refuses while one lives), made from a config with
 * defaults and applied to float32 kernel tensors on the device, asynchronously. A kernel of any rank
 * is viewed as deel-lip reshapes it: (count / last axis) × last axis, i.e. (in, out) for a dense
 * kernel and (kh·kw·cin, cout) for a conv kernel. An object keeps per-shape scratch buffers (and the
 * spectral constraint its u), so one object serves one kernel: applying it to a kernel of another
 * shape is refused (spectral) or re-plans its scratch (the others).
 */

typedef struct lip_constraint lip_constraint;

typedef enum lip_constraint_kind {
    LIP_CONSTRAINT_WEIGHT_CLIP = 0,      /* W ← clip(W, −c, c)                                     (WeightClip) */
    LIP_CONSTRAINT_AUTO_WEIGHT_CLIP = 1, /* the same with c = 1/(√size(W)·scale)                 (AutoWeightClip) */
    LIP_CONSTRAINT_FROBENIUS = 2,        /* W ← W/(‖W‖_F + eps)                           (FrobeniusConstraint) */
    LIP_CONSTRAINT_SPECTRAL = 3          /* W ← k·Björck(W/(σ + ε)) (RKO) from the stored u  (SpectralConstraint) */
} lip_constraint_kind;

typedef struct lip_constraint_config {
    lip_constraint_kind kind;
    float c;              /* weight clip: finite, > 0 (2) */
    float scale;          /* auto weight clip: finite, > 0 (1) */
    float eps;            /* Frobenius: finite, ≥ 0 (1e-7) */
    /* spectral (deel-lip's defaults, same bounds as SpectralDense): */
    float k_coef_lip;     /* > 0 (1) */
    float eps_spectral;   /* > 0 (1e-3) */
    int maxiter_spectral; /* 1..1000 (10) */
    float eps_bjorck;     /* > 0 (1e-3) */
    float beta_bjorck;    /* (0, 0.5] (0.5) */
    int maxiter_bjorck;   /* 0..1000 (15); 0 = spectral step only (deel-lip's eps_bjorck=None) */
} lip_constraint_config;

/** deel-lip's defaults for `kind`: c 2, scale 1, eps 1e-7, k 1, eps_spectral 1e-3, maxiter_spectral 10,
 *  eps_bjorck 1e-3, beta 0.5, maxiter_bjorck 15. */
LIP_API lip_constraint_config lip_constraint_config_default(lip_constraint_kind kind);

/** Create a constraint (bounds checked, LIP_ERR_INVALID_ARGUMENT naming the field). Caller frees. */
LIP_API lip_status lip_constraint_create(lip_context *ctx, const lip_constraint_config *config,
                                         lip_constraint **out);
/** Free the constraint and its buffers (u included). NULL is accepted. */
LIP_API void lip_constraint_free(lip_constraint *constraint);

/**
 * Project `kernel` (float32, any shape) in place. Spectral: the first call fixes the kernel's shape,
 * creates u (cols elements, U[0, 1) from the context's random stream, as deel-lip draws a missing u)
 * unless lip_constraint_set_u gave one, and every call runs the power iteration from the stored u and
 * keeps the advanced u (a warm start, as the spectral layers do), then Björck and × k.
 */
LIP_API lip_status lip_constraint_apply(lip_constraint *constraint, lip_tensor *kernel);

/** Spectral: the stored u (borrowed; NULL before the first apply or set_u) — save it with the model. */
LIP_API lip_status lip_constraint_u(const lip_constraint *constraint, lip_tensor **u);
/** Spectral: copy `u` (float32; its element count = the kernel's last axis) into the stored u (resume). */
LIP_API lip_status lip_constraint_set_u(lip_constraint *constraint, const lip_tensor *u);

typedef struct lip_regularizer lip_regularizer;

typedef enum lip_regularizer_kind {
    LIP_REGULARIZER_ORTH_DENSE = 0, /* λ·‖G − I‖²_F, G = W·Wᵀ if rows ≤ cols, else Wᵀ·W   (OrthDenseRegularizer) */
    LIP_REGULARIZER_LORTH2D = 1     /* λ·Lorth(K) on a conv kernel (R, R, C, M), R odd        (LorthRegularizer) */
} lip_regularizer_kind;

/*
 * Lorth2D (deel-lip regularizers.py, dim 2), for a kernel K of shape (R, R, C, M) and stride s:
 *   P = ⌊(R − 1)/s⌋·s, o = 2⌊(R − 1)/s⌋ + 1,
 *   conv_kk[a, y, x, b] = Σ_{i,j,c} K[y·s + i − P, x·s + j − P, c, a]·K[i, j, c, b]   (K = 0 outside),
 *   target[a, y, x, b] = δ_ab at the centre y = x = ⌊o/2⌋, 0 elsewhere,
 *   Lorth = Σ (conv_kk − target)² − δ,  δ = max(0, M − s²·C)   (conv_transpose: max(0, C − s²·M)).
 * Refused (LIP_ERR_INVALID_ARGUMENT, deel-lip's RuntimeError): "impossible RO" when C·s² ≥ M and
 * M > C·R², "impossible CO" when C·s² < M and s > R (roles of C and M swapped for conv_transpose);
 * C·s² = M is accepted with a warning through the log callback ("hard to optimize").
 */
typedef struct lip_regularizer_config {
    lip_regularizer_kind kind;
    float lambda;       /* finite, ≥ 0 (1): lambda_orth / lambda_lorth */
    int stride;         /* Lorth2D: ≥ 1 (1) */
    int conv_transpose; /* Lorth2D: 0 or 1 (0), deel-lip's flag_deconv */
} lip_regularizer_config;

/** Defaults for `kind`: λ 1, stride 1, conv_transpose 0. */
LIP_API lip_regularizer_config lip_regularizer_config_default(lip_regularizer_kind kind);
/** Create a regularizer (bounds checked). Caller frees. */
LIP_API lip_status lip_regularizer_create(lip_context *ctx, const lip_regularizer_config *config,
                                          lip_regularizer **out);
/** Free the regularizer and its scratch. NULL is accepted. */
LIP_API void lip_regularizer_free(lip_regularizer *regularizer);

/**
 * Evaluate on `kernel` (float32; Lorth2D needs 4-D (R, R, C, M)): when `value` (a 1-element float32
 * tensor) is given, value = λ·R(K), or value += λ·R(K) when accumulate_value; when `grad` (same element
 * count as the kernel) is given, grad += λ·∇R(K) (always added: it joins the loss gradient). Either
 * may be NULL. Asynchronous: the value stays on the device.
 */
LIP_API lip_status lip_regularizer_apply(lip_regularizer *regularizer, const lip_tensor *kernel, lip_tensor *value,
                                         int accumulate_value, lip_tensor *grad);

#ifdef __cplusplus
}
#endif
#endif
