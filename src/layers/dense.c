/* lipcl — the dense layer family: y = x·W̄ + b over the last axis with W̄ = W (Dense), k·Björck(W/(σ + ε))
 * (SpectralDense) or k·W/‖W‖ (FrobeniusDense); the reparametrizations are differentiated exactly. */
#include <math.h>
#include <string.h>

#include "layers/dense.h"
#include "lipschitz/normalizers.h"

typedef enum { KIND_DENSE, KIND_SPECTRAL, KIND_FROBENIUS } dense_kind;

typedef struct dense_priv {
    lip_dense_config config;
    dense_kind kind;
    size_t in_features;
    size_t kernel, bias, u;   /* parameter indices */
    lip_tensor *bias_scratch; /* (units,) column sums before accumulation */
    /* SpectralDense reparametrization: W → (power iteration) W/(σ+ε) → (Björck) → ×k = W̄ */
    lip_power_iteration_config pi;
    lip_bjorck_config bj;
    lip_tensor *w_bar, *grad_w_bar, *grad_scratch, *sigma;
    lip_tensor *pi_state, *bj_state, *pi_ws, *bj_ws;
} dense_priv;

lip_dense_config lip_dense_config_default(size_t units) {
    lip_dense_config c;
    memset(&c, 0, sizeof c);
    c.units = units;
    c.use_bias = 1;
    c.k_coef_lip = 1.0f;
    c.kernel_init = LIP_INIT_DEFAULT;
    c.bias_init = LIP_INIT_DEFAULT;
    c.eps_spectral = 1e-3f;
    c.maxiter_spectral = 10;
    c.eps_bjorck = 1e-3f;
    c.beta_bjorck = 0.5f;
    c.maxiter_bjorck = 15;
    c.disjoint_neurons = 1;
    return c;
}

/* View `t` as a rows×cols matrix for the duration of one call. */
static tensor_view view_matrix(const lip_tensor *t, size_t cols) {
    size_t m[2] = {t->count / cols, cols};
    return lip_tensor_view(t, 2, m);
}

static lip_tensor *effective_kernel(const lip_layer *l) {
    const dense_priv *p = l->priv;
    return p->kind != KIND_DENSE ? p->w_bar : l->params[p->kernel].value;
}

static lip_status spectral_init(lip_layer *l) {
    dense_priv *p = l->priv;
    lip_context *ctx = l->ctx;
    size_t rows = p->in_features, cols = p->config.units;
    size_t kshape[2] = {rows, cols}, ushape[2] = {1, cols}, one = 1, two = LIP_NORMALIZER_STATE_INTS;
    LIP_TRY(lip_layer_add_param(l, "u", 2, ushape, 0, &p->u));
    LIP_TRY(lip_random_normal(ctx, l->params[p->u].value, 0.0f, 1.0f)); /* deel-lip: u ~ N(0, 1) */
    LIP_TRY(lip_tensor_create(ctx, LIP_FLOAT32, 2, kshape, &p->w_bar));
    LIP_TRY(lip_tensor_create(ctx, LIP_FLOAT32, 2, kshape, &p->grad_w_bar));
    LIP_TRY(lip_tensor_create(ctx, LIP_FLOAT32, 2, kshape, &p->grad_scratch));
    LIP_TRY(lip_tensor_create(ctx, LIP_FLOAT32, 1, &one, &p->sigma));
    LIP_TRY(lip_tensor_create(ctx, LIP_INT32, 1, &two, &p->pi_state));
    LIP_TRY(lip_tensor_create(ctx, LIP_INT32, 1, &two, &p->bj_state));
    LIP_TRY(lip_tensor_fill(p->pi_state, 0));
    LIP_TRY(lip_tensor_fill(p->bj_state, 0));
    size_t pi_floats = lip_power_iteration_workspace_floats(rows, cols);
    LIP_TRY(lip_tensor_create(ctx, LIP_FLOAT32, 1, &pi_floats, &p->pi_ws));
    if (p->config.maxiter_bjorck > 0) {
        size_t bj_floats = lip_bjorck_workspace_floats(rows, cols, p->config.maxiter_bjorck);
        LIP_TRY(lip_tensor_create(ctx, LIP_FLOAT32, 1, &bj_floats, &p->bj_ws));
    }
    return LIP_OK;
}

static lip_status dense_init(lip_layer *l) {
    dense_priv *p = l->priv;
    p->in_features = l->in_shape[l->in_ndim - 1];
    l->out_ndim = l->in_ndim;
    memcpy(l->out_shape, l->in_shape, sizeof l->out_shape);
    l->out_shape[l->out_ndim - 1] = p->config.units;
    size_t kshape[2] = {p->in_features, p->config.units};
    LIP_TRY(lip_layer_add_param(l, "kernel", 2, kshape, 1, &p->kernel));
    lip_init ki = p->config.kernel_init;
    if (ki == LIP_INIT_DEFAULT) ki = p->kind != KIND_DENSE ? LIP_INIT_ORTHOGONAL : LIP_INIT_GLOROT_UNIFORM;
    LIP_TRY(lip_layer_init_param(l, l->params[p->kernel].value, ki));
    if (p->config.use_bias) {
        size_t bshape[1] = {p->config.units};
        LIP_TRY(lip_layer_add_param(l, "bias", 1, bshape, 1, &p->bias));
        lip_init bi = p->config.bias_init == LIP_INIT_DEFAULT ? LIP_INIT_ZEROS : p->config.bias_init;
        LIP_TRY(lip_layer_init_param(l, l->params[p->bias].value, bi));
        LIP_TRY(lip_tensor_create(l->ctx, LIP_FLOAT32, 1, bshape, &p->bias_scratch));
    }
    if (p->kind == KIND_SPECTRAL) return spectral_init(l);
    if (p->kind == KIND_FROBENIUS) {
        LIP_TRY(lip_tensor_create(l->ctx, LIP_FLOAT32, 2, kshape, &p->w_bar));
        LIP_TRY(lip_tensor_create(l->ctx, LIP_FLOAT32, 2, kshape, &p->grad_w_bar));
    }
    return LIP_OK;
}

static lip_status frobenius_reparam_forward(lip_layer *l) {
    dense_priv *p = l->priv;
    return lip_frobenius_forward(l->ctx, l->params[p->kernel].value, p->config.disjoint_neurons,
                                 p->config.k_coef_lip, p->w_bar);
}

/* W̄ = k·Björck(W/(σ + ε)), u advanced by the power iteration; no host sync. */
static lip_status spectral_reparam_forward(lip_layer *l) {
    dense_priv *p = l->priv;
    lip_context *ctx = l->ctx;
    LIP_TRY(lip_power_iteration_forward(ctx, &p->pi, l->params[p->kernel].value, l->params[p->u].value, p->sigma,
                                        p->w_bar, p->pi_state, p->pi_ws));
    if (p->config.maxiter_bjorck > 0) LIP_TRY(lip_bjorck_forward(ctx, &p->bj, p->w_bar, p->w_bar, p->bj_state, p->bj_ws));
    return lip_scale(ctx, p->config.k_coef_lip, p->w_bar, p->w_bar);
}

/* dL/dW from dL/dW̄ (in grad_w_bar): ×k, back through Björck, back through W/(σ + ε) with u fixed. */
static lip_status spectral_reparam_backward(lip_layer *l, int accumulate) {
    dense_priv *p = l->priv;
    lip_context *ctx = l->ctx;
    lip_tensor *g = p->grad_scratch;
    LIP_TRY(lip_scale(ctx, p->config.k_coef_lip, p->grad_w_bar, g));
    if (p->config.maxiter_bjorck > 0) LIP_TRY(lip_bjorck_backward(ctx, &p->bj, p->bj_state, p->bj_ws, g, g));
    /* Accumulating needs a temporary: grad_w_bar is free once scaled into g. */
    lip_tensor *dst = accumulate ? p->grad_w_bar : l->params[p->kernel].grad;
    LIP_TRY(lip_power_iteration_backward(ctx, &p->pi, l->params[p->kernel].value, l->params[p->u].value, p->sigma, g,
                                         NULL, dst, p->pi_ws));
    return accumulate ? lip_axpy(ctx, 1.0f, dst, l->params[p->kernel].grad) : LIP_OK;
}

static lip_status dense_forward(lip_layer *l, const lip_tensor *x, lip_tensor *y, size_t batch) {
    dense_priv *p = l->priv;
    size_t rows = batch * (l->in_count / p->in_features), units = p->config.units;
    lip_context *ctx = l->ctx;
    LIP_TRY(lip_gemm(ctx, LIP_NO_TRANS, LIP_NO_TRANS, rows, units, p->in_features, 1.0f, x, 0, p->in_features,
                     effective_kernel(l), 0, units, 0.0f, y, 0, units));
    if (!p->config.use_bias) return LIP_OK;
    tensor_view s = view_matrix(y, units);
    lip_status st = lip_bias_add(ctx, y, l->params[p->bias].value, y);
    lip_tensor_view_restore(s);
    return st;
}

static lip_status dense_backward(lip_layer *l, const lip_tensor *x, const lip_tensor *y, const lip_tensor *dy,
                                 lip_tensor *dx, size_t batch, int accumulate) {
    (void)y;
    dense_priv *p = l->priv;
    lip_context *ctx = l->ctx;
    size_t rows = batch * (l->in_count / p->in_features), units = p->config.units, in = p->in_features;
    /* dx = dy·W̄ᵀ first: the reparametrization backward below may reuse scratch tensors. */
    if (dx)
        LIP_TRY(lip_gemm(ctx, LIP_NO_TRANS, LIP_TRANS, rows, in, units, 1.0f, dy, 0, units, effective_kernel(l), 0,
                         units, 0.0f, dx, 0, in));
    /* dW̄ = xᵀ·dy: straight into the kernel's gradient for Dense, through the chain for SpectralDense. */
    if (p->kind != KIND_DENSE) {
        LIP_TRY(lip_gemm(ctx, LIP_TRANS, LIP_NO_TRANS, in, units, rows, 1.0f, x, 0, in, dy, 0, units, 0.0f,
                         p->grad_w_bar, 0, units));
        if (p->kind == KIND_SPECTRAL)
            LIP_TRY(spectral_reparam_backward(l, accumulate));
        else
            LIP_TRY(lip_frobenius_backward(ctx, l->params[p->kernel].value, p->config.disjoint_neurons,
                                           p->config.k_coef_lip, p->grad_w_bar, l->params[p->kernel].grad,
                                           accumulate));
    } else {
        LIP_TRY(lip_gemm(ctx, LIP_TRANS, LIP_NO_TRANS, in, units, rows, 1.0f, x, 0, in, dy, 0, units,
                         accumulate ? 1.0f : 0.0f, l->params[p->kernel].grad, 0, units));
    }
    if (!p->config.use_bias) return LIP_OK;
    tensor_view s = view_matrix(dy, units);
    lip_status st = lip_reduce_sum_rows(ctx, dy, p->bias_scratch);
    lip_tensor_view_restore(s);
    LIP_TRY(st);
    return lip_accumulate(ctx, l->params[p->bias].grad, p->bias_scratch, accumulate);
}

static void dense_destroy(lip_layer *l) {
    dense_priv *p = l->priv;
    lip_tensor **owned[] = {&p->bias_scratch, &p->w_bar, &p->grad_w_bar, &p->grad_scratch, &p->sigma,
                            &p->pi_state,     &p->bj_state, &p->pi_ws,   &p->bj_ws};
    for (size_t i = 0; i < sizeof owned / sizeof owned[0]; i++) {
        lip_tensor_free(*owned[i]);
        *owned[i] = NULL; /* a failed build may be retried */
    }
}

static const lip_layer_vtable dense_vtable = {
    .type = "Dense",
    .init = dense_init,
    .forward = dense_forward,
    .backward = dense_backward,
    .destroy = dense_destroy,
};

static const lip_layer_vtable spectral_dense_vtable = {
    .type = "SpectralDense",
    .init = dense_init,
    .reparam_forward = spectral_reparam_forward,
    .forward = dense_forward,
    .backward = dense_backward,
    .destroy = dense_destroy,
};

static const lip_layer_vtable frobenius_dense_vtable = {
    .type = "FrobeniusDense",
    .init = dense_init,
    .reparam_forward = frobenius_reparam_forward,
    .forward = dense_forward,
    .backward = dense_backward,
    .destroy = dense_destroy,
};

static lip_status check_config(lip_context *ctx, const char *type, const lip_dense_config *c, const char *name,
                               dense_kind kind) {
    const char *n = name ? name : "";
    LIP_CHECK(ctx, c, LIP_ERR_NULL, "%s: config is NULL (use lip_dense_config_default)", type);
    LIP_CHECK(ctx, c->units >= 1 && c->units <= 0x7fffffff, LIP_ERR_INVALID_ARGUMENT,
              "%s '%s': units must be >= 1, got %zu", type, n, c->units);
    LIP_CHECK(ctx, c->kernel_init >= LIP_INIT_DEFAULT && c->kernel_init <= LIP_INIT_ZEROS &&
                       c->bias_init >= LIP_INIT_DEFAULT && c->bias_init <= LIP_INIT_ZEROS,
              LIP_ERR_INVALID_ARGUMENT, "%s '%s': unknown initializer", type, n);
    if (kind == KIND_DENSE) return LIP_OK;
    LIP_CHECK(ctx, c->k_coef_lip > 0 && isfinite(c->k_coef_lip), LIP_ERR_INVALID_ARGUMENT,
              "%s '%s': k_coef_lip must be finite and > 0, got %g", type, n, (double)c->k_coef_lip);
    if (kind == KIND_FROBENIUS) return LIP_OK;
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

static lip_status create(lip_context *ctx, const lip_layer_vtable *vt, const lip_dense_config *config,
                         const char *name, dense_kind kind, lip_layer **out) {
    if (!ctx) return LIP_ERR_NULL;
    LIP_TRY(check_config(ctx, vt->type, config, name, kind));
    LIP_TRY(lip_layer_alloc(ctx, vt, name, sizeof(dense_priv), out));
    dense_priv *p = (*out)->priv;
    p->config = *config;
    p->kind = kind;
    p->pi = lip_power_iteration_config_default();
    p->pi.eps = config->eps_spectral;
    p->pi.maxiter = config->maxiter_spectral;
    p->bj = lip_bjorck_config_default();
    p->bj.beta = config->beta_bjorck;
    p->bj.eps = config->eps_bjorck;
    p->bj.maxiter = config->maxiter_bjorck > 0 ? config->maxiter_bjorck : 1;
    return LIP_OK;
}

lip_status lip_dense_create(lip_context *ctx, const lip_dense_config *config, const char *name, lip_layer **out) {
    return create(ctx, &dense_vtable, config, name, KIND_DENSE, out);
}

lip_status lip_spectral_dense_create(lip_context *ctx, const lip_dense_config *config, const char *name,
                                     lip_layer **out) {
    return create(ctx, &spectral_dense_vtable, config, name, KIND_SPECTRAL, out);
}

lip_status lip_frobenius_dense_create(lip_context *ctx, const lip_dense_config *config, const char *name,
                                      lip_layer **out) {
    return create(ctx, &frobenius_dense_vtable, config, name, KIND_FROBENIUS, out);
}

lip_status lip_dense_internals_get(lip_layer *layer, lip_dense_internals *out) {
    if (!layer || !out) return LIP_ERR_NULL;
    LIP_CHECK(layer->ctx,
              layer->vt == &dense_vtable || layer->vt == &spectral_dense_vtable || layer->vt == &frobenius_dense_vtable,
              LIP_ERR_INVALID_ARGUMENT,
              "lip_dense_internals_get: '%s' is a %s, not a dense layer", layer->name, layer->vt->type);
    LIP_CHECK(layer->ctx, layer->built, LIP_ERR_INVALID_ARGUMENT, "%s '%s' is not built", layer->vt->type,
              layer->name);
    dense_priv *p = layer->priv;
    memset(out, 0, sizeof *out);
    out->w_bar = effective_kernel(layer);
    out->grad_w_bar = p->grad_w_bar;
    if (p->kind == KIND_SPECTRAL) {
        out->sigma = p->sigma;
        out->spectral_state = p->pi_state;
        out->bjorck_state = p->bj_state;
    }
    return LIP_OK;
}
