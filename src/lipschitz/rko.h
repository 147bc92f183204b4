/* lipcl — reshaped kernel orthogonalization (RKO), the reparametrization of every spectral layer:
 * W̄ = coef·Björck(W/(σ + ε)) on the kernel viewed as (rows, cols), forward and exact backward. */
#ifndef LIPCL_RKO_H
#define LIPCL_RKO_H

#include "lipschitz/normalizers.h"

/*
 * One RKO instance per layer: it owns the effective kernel, σ, the normalizers' device-side
 * iteration states and the workspaces the backward replays. The raw kernel and the persisted u
 * stay with the layer (they are its parameters). Rows × cols is the matrix deel-lip normalizes:
 * (in, units) for dense kernels, (kh·kw·cin, cout) for convs; the strict transposed conv uses
 * (kh·kw·filters, cin) (the caller permutes the kernel into that layout).
 */
typedef struct lip_rko {
    size_t rows, cols;
    float coef;               /* k_coef_lip × the layer's Lipschitz coefficient (c_conv for convs) */
    int bjorck;               /* 0: spectral step only (deel-lip's eps_bjorck=None) */
    lip_power_iteration_config pi;
    lip_bjorck_config bj;
    lip_tensor *w_bar;        /* (rows, cols): the effective kernel */
    lip_tensor *sigma;        /* (1,) */
    lip_tensor *pi_state, *bj_state, *pi_ws, *bj_ws, *grad_scratch;
} lip_rko;

/** Settings of lip_rko_create (deel-lip's names; bounds are checked there). */
typedef struct lip_rko_config {
    float coef;
    float eps_spectral;
    int maxiter_spectral;
    float eps_bjorck, beta_bjorck;
    int maxiter_bjorck; /* 0 = no Björck */
} lip_rko_config;

/** Check an RKO configuration; the message names `type` and `name` (the layer). */
lip_status lip_rko_check_config(lip_context *ctx, const char *type, const char *name, const lip_rko_config *c);

/** Allocate the tensors of an RKO on a rows × cols kernel (w_bar zero until the first forward). */
lip_status lip_rko_create(lip_context *ctx, size_t rows, size_t cols, const lip_rko_config *c, lip_rko *rko);
/** Release the tensors (NULL-safe; the struct is zeroed). */
void lip_rko_destroy(lip_rko *rko);

/** w_bar = coef·Björck(W/(σ + ε)), advancing u by the power iteration (no host sync). `kernel` has
 *  rows·cols elements (any shape), u has cols. */
lip_status lip_rko_forward(lip_context *ctx, lip_rko *rko, const lip_tensor *kernel, lip_tensor *u);

/** grad_kernel = (or += when accumulate) dL/dW from grad_w_bar = dL/dW̄, through every Björck
 *  iteration the forward ran and the division by σ + ε, u held constant. grad_w_bar is used as scratch
 *  (its content is lost). */
lip_status lip_rko_backward(lip_context *ctx, lip_rko *rko, const lip_tensor *kernel, const lip_tensor *u,
                            lip_tensor *grad_w_bar, lip_tensor *grad_kernel, int accumulate);

#endif
