/* lipcl — the dense layer family: y = x·W̄ + b over the last axis with W̄ = W (Dense), k·Björck(W/(σ + ε))
 * (SpectralDense) or k·W/‖W‖ (FrobeniusDense); the reparametrizations are differentiated exactly. */
#include <math.h>
#include <string.h>

#include "layers/dense.h"
#include "lipschitz/rko.h"

typedef enum { KIND_DENSE, KIND_SPECTRAL, KIND_FROBENIUS } dense_kind;

typedef struct dense_priv {
    lip_dense_config config;
    dense_kind kind;
    size_t in_features;
    size_t kernel, bias, u;   /* parameter indices */
    lip_tensor *bias_scratch; /* (units,) column sums before accumulation */
    lip_rko rko;              /* SpectralDense: W̄ = k·Björck(W/(σ+ε)) */
    lip_tensor *w_bar, *grad_w_bar; /* FrobeniusDense's W̄; dL/dW̄ of both */
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
    if (p->kind == KIND_SPECTRAL) return p->rko.w_bar;
    return p->kind == KIND_FROBENIUS ? p->w_bar : l->params[p->kernel].value;
}

static lip_rko_config rko_config(const lip_dense_config *c) {
    lip_rko_config r = {c->k_coef_lip, c->eps_spectral, c->maxiter_spectral, c->eps_bjorck, c->beta_bjorck,
                        c->maxiter_bjorck};
    return r;
}

static lip_status spectral_init(lip_layer *l) {
    dense_priv *p = l->priv;
    size_t ushape[2] = {1, p->config.units}, kshape[2] = {p->in_features, p->config.units};
    LIP_TRY(lip_layer_add_param(l, "u", 2, ushape, 0, &p->u));
    LIP_TRY(lip_random_normal(l->ctx, l->params[p->u].value, 0.0f, 1.0f)); /* deel-lip: u ~ N(0, 1) */
    LIP_TRY(lip_tensor_create(l->ctx, LIP_FLOAT32, 2, kshape, &p->grad_w_bar));
    lip_rko_config rc = rko_config(&p->config);
    return lip_rko_create(l->ctx, p->in_features, p->config.units, &rc, &p->rko);
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
    if (ki == LIP_INIT_DEFAULT) ki = p->kind != KIND_DENSE ? LIP_INIT_SPECTRAL : LIP_INIT_GLOROT_UNIFORM;
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
    return lip_rko_forward(l->ctx, &p->rko, l->params[p->kernel].value, l->params[p->u].value);
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
            LIP_TRY(lip_rko_backward(ctx, &p->rko, l->params[p->kernel].value, l->params[p->u].value, p->grad_w_bar,
                                     l->params[p->kernel].grad, accumulate));
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
    lip_tensor **owned[] = {&p->bias_scratch, &p->w_bar, &p->grad_w_bar};
    for (size_t i = 0; i < sizeof owned / sizeof owned[0]; i++) {
        lip_tensor_free(*owned[i]);
        *owned[i] = NULL; /* a failed build may be retried */
    }
    lip_rko_destroy(&p->rko);
}

/* ---- Lipschitz bound, creation options, vanilla export ------------------------------------------- */

static lip_status dense_lipschitz_bound(const lip_layer *l, double *bound, int *per_neuron) {
    const dense_priv *p = l->priv;
    *bound = (double)p->config.k_coef_lip;
    *per_neuron = p->kind == KIND_FROBENIUS && p->config.disjoint_neurons;
    return LIP_OK;
}

static lip_status dense_get_config(const lip_layer *l, lip_layer_config *cfg) {
    const dense_priv *p = l->priv;
    const lip_dense_config *c = &p->config;
    lip_context *ctx = l->ctx;
    LIP_TRY(lip_layer_config_add(ctx, cfg, "units", (double)c->units));
    LIP_TRY(lip_layer_config_add(ctx, cfg, "use_bias", c->use_bias));
    LIP_TRY(lip_layer_config_add(ctx, cfg, "k_coef_lip", c->k_coef_lip));
    LIP_TRY(lip_layer_config_add(ctx, cfg, "kernel_init", c->kernel_init));
    LIP_TRY(lip_layer_config_add(ctx, cfg, "bias_init", c->bias_init));
    LIP_TRY(lip_layer_config_add(ctx, cfg, "eps_spectral", c->eps_spectral));
    LIP_TRY(lip_layer_config_add(ctx, cfg, "maxiter_spectral", c->maxiter_spectral));
    LIP_TRY(lip_layer_config_add(ctx, cfg, "eps_bjorck", c->eps_bjorck));
    LIP_TRY(lip_layer_config_add(ctx, cfg, "beta_bjorck", c->beta_bjorck));
    LIP_TRY(lip_layer_config_add(ctx, cfg, "maxiter_bjorck", c->maxiter_bjorck));
    return lip_layer_config_add(ctx, cfg, "disjoint_neurons", c->disjoint_neurons);
}

/* A plain Dense with W̄ as its kernel and the same bias and name (deel-lip's vanilla_export). */
static lip_status dense_vanilla_export(lip_layer *l, lip_layer **out) {
    const dense_priv *p = l->priv;
    lip_dense_config c = p->config;
    c.kernel_init = c.bias_init = LIP_INIT_ZEROS; /* overwritten below; zeros draws no random numbers */
    lip_layer *d = NULL;
    LIP_TRY(lip_dense_create(l->ctx, &c, l->name, &d));
    return lip_layer_export_weights(l, d, effective_kernel(l), c.use_bias ? l->params[p->bias].value : NULL, out);
}

/* Sequential(k_coef_lip): the RKO object carries its own copy of k once built. */
static lip_status lipschitz_set_k(lip_layer *l, float k) {
    dense_priv *p = l->priv;
    p->config.k_coef_lip = k;
    if (l->built && p->kind == KIND_SPECTRAL) p->rko.coef = k;
    return LIP_OK;
}

static const lip_layer_vtable dense_vtable = {
    .type = "Dense",
    .init = dense_init,
    .forward = dense_forward,
    .backward = dense_backward,
    .destroy = dense_destroy,
    .get_config = dense_get_config,
    .vanilla_export = dense_vanilla_export,
};

static const lip_layer_vtable spectral_dense_vtable = {
    .type = "SpectralDense",
    .init = dense_init,
    .reparam_forward = spectral_reparam_forward,
    .forward = dense_forward,
    .backward = dense_backward,
    .destroy = dense_destroy,
    .lipschitz_bound = dense_lipschitz_bound,
    .get_config = dense_get_config,
    .vanilla_export = dense_vanilla_export,
    .set_k_coef_lip = lipschitz_set_k,
};

static const lip_layer_vtable frobenius_dense_vtable = {
    .type = "FrobeniusDense",
    .init = dense_init,
    .reparam_forward = frobenius_reparam_forward,
    .forward = dense_forward,
    .backward = dense_backward,
    .destroy = dense_destroy,
    .lipschitz_bound = dense_lipschitz_bound,
    .get_config = dense_get_config,
    .vanilla_export = dense_vanilla_export,
    .set_k_coef_lip = lipschitz_set_k,
};

static lip_status check_config(lip_context *ctx, const char *type, const lip_dense_config *c, const char *name,
                               dense_kind kind) {
    const char *n = name ? name : "";
    LIP_CHECK(ctx, c, LIP_ERR_NULL, "%s: config is NULL (use lip_dense_config_default)", type);
    LIP_CHECK(ctx, c->units >= 1 && c->units <= 0x7fffffff, LIP_ERR_INVALID_ARGUMENT,
              "%s '%s': units must be >= 1, got %zu", type, n, c->units);
    LIP_CHECK(ctx, c->kernel_init >= LIP_INIT_DEFAULT && c->kernel_init <= LIP_INIT_SPECTRAL &&
                       c->bias_init >= LIP_INIT_DEFAULT && c->bias_init <= LIP_INIT_SPECTRAL,
              LIP_ERR_INVALID_ARGUMENT, "%s '%s': unknown initializer", type, n);
    if (kind == KIND_DENSE) return LIP_OK;
    LIP_CHECK(ctx, c->k_coef_lip > 0 && isfinite(c->k_coef_lip), LIP_ERR_INVALID_ARGUMENT,
              "%s '%s': k_coef_lip must be finite and > 0, got %g", type, n, (double)c->k_coef_lip);
    if (kind == KIND_FROBENIUS) return LIP_OK;
    lip_rko_config rc = rko_config(c);
    return lip_rko_check_config(ctx, type, n, &rc);
}

static lip_status create(lip_context *ctx, const lip_layer_vtable *vt, const lip_dense_config *config,
                         const char *name, dense_kind kind, lip_layer **out) {
    if (!ctx) return LIP_ERR_NULL;
    LIP_TRY(check_config(ctx, vt->type, config, name, kind));
    LIP_TRY(lip_layer_alloc(ctx, vt, name, sizeof(dense_priv), out));
    dense_priv *p = (*out)->priv;
    p->config = *config;
    p->kind = kind;
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
        out->sigma = p->rko.sigma;
        out->spectral_state = p->rko.pi_state;
        out->bjorck_state = p->rko.bj_state;
    }
    return LIP_OK;
}
