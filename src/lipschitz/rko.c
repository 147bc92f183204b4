/* lipcl — reshaped kernel orthogonalization: power iteration, Björck and the coefficient chained for
 * the spectral layers (dense, conv, transposed conv), with the backward through the whole chain. */
#include <math.h>
#include <string.h>

#include "lipschitz/rko.h"

lip_status lip_rko_check_config(lip_context *ctx, const char *type, const char *name, const lip_rko_config *c) {
    const char *n = name ? name : "";
    LIP_CHECK(ctx, c->coef > 0 && isfinite(c->coef), LIP_ERR_INVALID_ARGUMENT,
              "%s '%s': k_coef_lip must be finite and > 0, got %g", type, n, (double)c->coef);
    LIP_CHECK(ctx, c->eps_spectral > 0 && isfinite(c->eps_spectral), LIP_ERR_INVALID_ARGUMENT,
              "%s '%s': eps_spectral must be finite and > 0, got %g", type, n, (double)c->eps_spectral);
    LIP_CHECK(ctx, c->maxiter_spectral >= 1 && c->maxiter_spectral <= LIP_NORMALIZER_MAX_ITER,
              LIP_ERR_INVALID_ARGUMENT, "%s '%s': maxiter_spectral %d outside 1..%d", type, n, c->maxiter_spectral,
              LIP_NORMALIZER_MAX_ITER);
    LIP_CHECK(ctx, c->maxiter_bjorck >= 0 && c->maxiter_bjorck <= LIP_NORMALIZER_MAX_ITER, LIP_ERR_INVALID_ARGUMENT,
              "%s '%s': maxiter_bjorck %d outside 0..%d (0: no Björck)", type, n, c->maxiter_bjorck,
              LIP_NORMALIZER_MAX_ITER);
    if (c->maxiter_bjorck > 0) {
        LIP_CHECK(ctx, c->beta_bjorck > 0 && c->beta_bjorck <= 0.5f, LIP_ERR_INVALID_ARGUMENT,
                  "%s '%s': beta_bjorck must be in (0, 0.5], got %g", type, n, (double)c->beta_bjorck);
        LIP_CHECK(ctx, c->eps_bjorck > 0 && isfinite(c->eps_bjorck), LIP_ERR_INVALID_ARGUMENT,
                  "%s '%s': eps_bjorck must be finite and > 0, got %g", type, n, (double)c->eps_bjorck);
    }
    return LIP_OK;
}

lip_status lip_rko_create(lip_context *ctx, size_t rows, size_t cols, const lip_rko_config *c, lip_rko *rko) {
    memset(rko, 0, sizeof *rko);
    rko->rows = rows;
    rko->cols = cols;
    rko->coef = c->coef;
    rko->bjorck = c->maxiter_bjorck > 0;
    rko->pi = lip_power_iteration_config_default();
    rko->pi.eps = c->eps_spectral;
    rko->pi.maxiter = c->maxiter_spectral;
    rko->bj = lip_bjorck_config_default();
    rko->bj.beta = c->beta_bjorck;
    rko->bj.eps = c->eps_bjorck;
    rko->bj.maxiter = c->maxiter_bjorck > 0 ? c->maxiter_bjorck : 1;
    size_t kshape[2] = {rows, cols}, one = 1, two = LIP_NORMALIZER_STATE_INTS;
    LIP_TRY(lip_tensor_create(ctx, LIP_FLOAT32, 2, kshape, &rko->w_bar));
    LIP_TRY(lip_tensor_create(ctx, LIP_FLOAT32, 2, kshape, &rko->grad_scratch));
    LIP_TRY(lip_tensor_create(ctx, LIP_FLOAT32, 1, &one, &rko->sigma));
    LIP_TRY(lip_tensor_create(ctx, LIP_INT32, 1, &two, &rko->pi_state));
    LIP_TRY(lip_tensor_create(ctx, LIP_INT32, 1, &two, &rko->bj_state));
    LIP_TRY(lip_tensor_fill(rko->w_bar, 0));
    LIP_TRY(lip_tensor_fill(rko->pi_state, 0));
    LIP_TRY(lip_tensor_fill(rko->bj_state, 0));
    size_t pi_floats = lip_power_iteration_workspace_floats(rows, cols);
    LIP_TRY(lip_tensor_create(ctx, LIP_FLOAT32, 1, &pi_floats, &rko->pi_ws));
    if (rko->bjorck) {
        size_t bj_floats = lip_bjorck_workspace_floats(rows, cols, rko->bj.maxiter);
        LIP_TRY(lip_tensor_create(ctx, LIP_FLOAT32, 1, &bj_floats, &rko->bj_ws));
    }
    return LIP_OK;
}

void lip_rko_destroy(lip_rko *rko) {
    if (!rko) return;
    lip_tensor *owned[] = {rko->w_bar, rko->sigma, rko->pi_state, rko->bj_state,
                           rko->pi_ws, rko->bj_ws, rko->grad_scratch};
    for (size_t i = 0; i < sizeof owned / sizeof owned[0]; i++) lip_tensor_free(owned[i]);
    memset(rko, 0, sizeof *rko);
}

/* The kernel seen as the rows × cols matrix, whatever its own shape (a conv kernel is 4-D). */
static tensor_view view_rko(const lip_rko *rko, const lip_tensor *t) {
    size_t m[2] = {rko->rows, rko->cols};
    return lip_tensor_view(t, 2, m);
}

lip_status lip_rko_forward(lip_context *ctx, lip_rko *rko, const lip_tensor *kernel, lip_tensor *u) {
    LIP_CHECK(ctx, kernel && kernel->count == rko->rows * rko->cols, LIP_ERR_SHAPE,
              "lip_rko_forward: kernel must have %zu x %zu elements", rko->rows, rko->cols);
    tensor_view v = view_rko(rko, kernel);
    lip_status st = lip_power_iteration_forward(ctx, &rko->pi, kernel, u, rko->sigma, rko->w_bar, rko->pi_state,
                                                rko->pi_ws);
    lip_tensor_view_restore(v);
    LIP_TRY(st);
    if (rko->bjorck) LIP_TRY(lip_bjorck_forward(ctx, &rko->bj, rko->w_bar, rko->w_bar, rko->bj_state, rko->bj_ws));
    return lip_scale(ctx, rko->coef, rko->w_bar, rko->w_bar);
}

lip_status lip_rko_backward(lip_context *ctx, lip_rko *rko, const lip_tensor *kernel, const lip_tensor *u,
                            lip_tensor *grad_w_bar, lip_tensor *grad_kernel, int accumulate) {
    LIP_CHECK(ctx, kernel && grad_w_bar && grad_kernel && kernel->count == rko->rows * rko->cols &&
                       grad_w_bar->count == kernel->count && grad_kernel->count == kernel->count,
              LIP_ERR_SHAPE, "lip_rko_backward: kernel and gradients must have %zu x %zu elements", rko->rows,
              rko->cols);
    lip_tensor *g = rko->grad_scratch;
    tensor_view vg = view_rko(rko, grad_w_bar);
    lip_status st = lip_scale(ctx, rko->coef, grad_w_bar, g);
    lip_tensor_view_restore(vg);
    LIP_TRY(st);
    if (rko->bjorck) LIP_TRY(lip_bjorck_backward(ctx, &rko->bj, rko->bj_state, rko->bj_ws, g, g));
    /* Accumulating needs a temporary: grad_w_bar is free once scaled into g. */
    lip_tensor *dst = accumulate ? grad_w_bar : grad_kernel;
    tensor_view vk = view_rko(rko, kernel), vd = view_rko(rko, dst);
    st = lip_power_iteration_backward(ctx, &rko->pi, kernel, u, rko->sigma, g, NULL, dst, rko->pi_ws);
    lip_tensor_view_restore(vd);
    lip_tensor_view_restore(vk);
    LIP_TRY(st);
    return accumulate ? lip_axpy(ctx, 1.0f, dst, grad_kernel) : LIP_OK;
}
