/* lipcl — internal API of the two weight normalizers of the reparametrization (never installed):
 * spectral normalization by power iteration and Björck orthonormalization, forward and backward. */
#ifndef LIPCL_NORMALIZERS_H
#define LIPCL_NORMALIZERS_H

#include "internal.h"

/*
 * Semantics are deel-lip 1.5.1's (normalizers.py), see doc of each function. Matrices: any float32
 * tensor viewed as rows × cols with cols = its last axis (a dense kernel (in, out) is itself; a conv
 * kernel (kh, kw, cin, cout) is deel-lip's reshape (kh·kw·cin, cout)).
 *
 * No host sync: each forward enqueues `maxiter` iterations. After every iteration a small kernel
 * computes the stopping norm and updates a device-side state (an int32 tensor of at least
 * LIP_NORMALIZER_STATE_INTS elements that the caller owns: [0] iterations executed, [1] done flag);
 * the kernels of the later iterations read the flag first and return at once. The count stays on the
 * device (Björck's backward replays exactly the iterations that ran, reading it there); the host reads
 * it only through lip_normalizer_iterations. Everything here is asynchronous (enqueued on the context's
 * in-order queue), deterministic (fixed reduction trees, no atomics), and checks its arguments first:
 * LIP_ERR_INVALID_ARGUMENT for hyper-parameters out of range, LIP_ERR_SHAPE / LIP_ERR_DTYPE / LIP_ERR_NULL
 * for tensors, each with a message in lip_context_last_error.
 */

#define LIP_NORMALIZER_STATE_INTS 2
#define LIP_NORMALIZER_MAX_ITER 1000 /* upper bound of maxiter (both normalizers) */

/** Stopping rule of an iteration. */
typedef enum lip_stopping {
    LIP_STOPPING_EPS = 0,  /* deel-lip: iterate while i < maxiter and the change is ≥ eps */
    LIP_STOPPING_FIXED = 1 /* exactly maxiter iterations; the change is never tested */
} lip_stopping;

/* ---- spectral normalization (power iteration) --------------------------------------------- */

typedef struct lip_power_iteration_config {
    float eps;             /* stopping threshold on ‖u − u_old‖₂ and the ε of W/(σ + ε): finite, > 0
                              (also with LIP_STOPPING_FIXED, where it still enters σ + ε) */
    int maxiter;           /* 1..LIP_NORMALIZER_MAX_ITER */
    lip_stopping stopping; /* LIP_STOPPING_EPS */
} lip_power_iteration_config;

/** deel-lip's defaults: eps 1e-3, maxiter 10, stopping LIP_STOPPING_EPS. */
lip_power_iteration_config lip_power_iteration_config_default(void);

/** float32 elements of the scratch workspace of both power-iteration calls for a rows×cols matrix. */
size_t lip_power_iteration_workspace_floats(size_t rows, size_t cols);

/**
 * Spectral normalization (deel-lip `spectral_normalization` with STOP_GRAD_SPECTRAL):
 *   u ← u/√max(Σu², 1e-12); repeat (at least once, at most maxiter times; `eps` rule: until
 *   ‖u − u_old‖ < eps): v = u Wᵀ, u ← l2_normalize(v W); then σ = ‖u Wᵀ‖ and w_bar = W/(σ + eps).
 * @param w          the matrix W (rows × cols view), float32; not modified.
 * @param u          in: the persisted vector (cols elements, need not be normalized); out: the
 *                   updated u (keep it for the next call and for the backward).
 * @param sigma      out: σ (1 element).
 * @param w_bar      out: W/(σ + eps), same element count as w; NULL skips it. May alias w, but the
 *                   backward needs the original W.
 * @param state      int32, ≥ 2 elements: out, the device-side iteration count and done flag.
 * @param workspace  float32 scratch of ≥ lip_power_iteration_workspace_floats(rows, cols) elements,
 *                   or NULL (a temporary is allocated and released).
 */
lip_status lip_power_iteration_forward(lip_context *ctx, const lip_power_iteration_config *cfg, const lip_tensor *w,
                                       lip_tensor *u, lip_tensor *sigma, lip_tensor *w_bar, lip_tensor *state,
                                       lip_tensor *workspace);

/**
 * Gradient of the forward with u held constant (deel-lip stops it) and the iteration count frozen:
 * σ = ‖W u‖ gives ∂σ/∂W = v uᵀ/σ (v = W u, recomputed from the final u), so with G = dL/dw_bar and
 * gσ = dL/dσ (NULL: 0)
 *   dL/dW = G/(σ + eps) + (gσ − ⟨G, W⟩/(σ + eps)²) · v uᵀ/σ      (σ = 0: the second term is 0).
 * @param w, u, sigma  the forward's input W and its outputs u and σ (unchanged since).
 * @param grad_w_bar   dL/dw_bar, same element count as w. @param grad_sigma 1 element or NULL.
 * @param grad_w       out: dL/dW, same element count as w (written, not accumulated); may alias grad_w_bar.
 * @param workspace    as for the forward (scratch), or NULL.
 */
lip_status lip_power_iteration_backward(lip_context *ctx, const lip_power_iteration_config *cfg, const lip_tensor *w,
                                        const lip_tensor *u, const lip_tensor *sigma, const lip_tensor *grad_w_bar,
                                        const lip_tensor *grad_sigma, lip_tensor *grad_w, lip_tensor *workspace);

/* ---- Björck orthonormalization -------------------------------------------------------------- */

typedef struct lip_bjorck_config {
    float beta;            /* (0, 0.5] */
    float eps;             /* threshold on ‖W_{k+1} − W_k‖_F: finite, > 0 for LIP_STOPPING_EPS (unused with
                              LIP_STOPPING_FIXED) */
    int maxiter;           /* 1..LIP_NORMALIZER_MAX_ITER */
    lip_stopping stopping; /* LIP_STOPPING_EPS */
} lip_bjorck_config;

/** deel-lip's defaults: beta 0.5, eps 1e-3, maxiter 15, stopping LIP_STOPPING_EPS. */
lip_bjorck_config lip_bjorck_config_default(void);

/** float32 elements of the workspace that a forward followed by a backward needs (it holds every
 *  iterate and its Gram matrix: (maxiter+1)·R·C + maxiter·C·C + 2·R·C + C·C + partials, R = max and
 *  C = min of rows, cols). */
size_t lip_bjorck_workspace_floats(size_t rows, size_t cols, int maxiter);

/**
 * Björck orthonormalization (deel-lip `bjorck_normalization`):
 *   `eps` rule: old = 10·W; i = 0; while i < maxiter and ‖W − old‖_F ≥ eps: old = W; W = f(W); i++
 *   `fixed`:   W = f(W) exactly maxiter times,
 * with f(W) = (1+β)W − β·W(WᵀW) when rows > cols, (1+β)W − β·(WWᵀ)W otherwise. (Under the `eps`
 * rule, 9‖W‖_F < eps runs no iteration, exactly as deel-lip.)
 * @param w_in       the input matrix (rows × cols view), float32; not modified unless aliased.
 * @param w_out      out: the result, same element count as w_in; may alias w_in.
 * @param state      int32, ≥ 2 elements: out, the device-side iteration count and done flag.
 * @param workspace  ≥ lip_bjorck_workspace_floats(rows, cols, maxiter) floats: keeps what the backward
 *                   replays (leave it untouched until then); NULL: a small temporary, no backward.
 */
lip_status lip_bjorck_forward(lip_context *ctx, const lip_bjorck_config *cfg, const lip_tensor *w_in,
                              lip_tensor *w_out, lip_tensor *state, lip_tensor *workspace);

/**
 * Backward through every iteration the forward executed (the count is read on the device from
 * `state`), exactly as automatic differentiation of the forward: per iteration, with G = dL/dW_{k+1},
 *   dL/dW_k = (1+β)G − β(G·WᵀW + W·(GᵀW + WᵀG))   (tall; the transposed form for wide).
 * @param cfg, state, workspace  those of the forward (same beta and maxiter), unchanged since.
 * @param grad_out   dL/dw_out, with the shape of the forward's w_in (it gives rows × cols).
 * @param grad_in    out: dL/dw_in, same element count (written, not accumulated); may alias grad_out.
 */
lip_status lip_bjorck_backward(lip_context *ctx, const lip_bjorck_config *cfg, const lip_tensor *state,
                               lip_tensor *workspace, const lip_tensor *grad_out, lip_tensor *grad_in);

/* ---- shared --------------------------------------------------------------------------------- */

/** Iterations the last forward with this state executed: downloads state[0] (blocking: waits for
 *  the queue). For tests and monitors; the training path never calls it. */
/** `state` is an int32 tensor of at least LIP_NORMALIZER_STATE_INTS elements (message names `op`). */
lip_status lip_normalizer_check_state(lip_context *ctx, const char *op, const lip_tensor *state);

lip_status lip_normalizer_iterations(lip_context *ctx, const lip_tensor *state, int *iterations);

/* ---- Frobenius normalization (src/lipschitz/frobenius.c) ---------------------------------------- */

/** out = k·w/‖w‖_F, or, when `disjoint`, each column of w (viewed as (count/last axis) × last axis)
 *  divided by its own norm, times k. A zero norm gives zeros (deel-lip has no ε and would give NaN).
 *  out must not alias w. */
lip_status lip_frobenius_forward(lip_context *ctx, const lip_tensor *w, int disjoint, float k, lip_tensor *out);
/** grad_w = (or += when accumulate) the gradient of ⟨grad_out, k·w/‖w‖⟩ with respect to w. */
lip_status lip_frobenius_backward(lip_context *ctx, const lip_tensor *w, int disjoint, float k,
                                  const lip_tensor *grad_out, lip_tensor *grad_w, int accumulate);

#endif
