/* lipcl — the dense layer family. Dense (Keras, unconstrained): y = x·W + b over the last axis,
 * W of shape (in, units); forward and backward are GEMMs plus a bias add / column sum. */
#include <string.h>

#include "layers/layer.h"

typedef struct dense_priv {
    lip_dense_config config;
    size_t in_features;
    size_t kernel, bias;      /* parameter indices */
    lip_tensor *bias_scratch; /* (units,) column sums before accumulation */
} dense_priv;

lip_dense_config lip_dense_config_default(size_t units) {
    lip_dense_config c;
    memset(&c, 0, sizeof c);
    c.units = units;
    c.use_bias = 1;
    c.k_coef_lip = 1.0f;
    c.kernel_init = LIP_INIT_DEFAULT;
    c.bias_init = LIP_INIT_DEFAULT;
    return c;
}

/* View `t` as a rows×cols matrix for the duration of one call (shape metadata only). */
typedef struct {
    lip_tensor *t;
    int ndim;
    size_t shape[LIP_MAX_DIMS];
} saved_shape;

static saved_shape view_matrix(const lip_tensor *t, size_t cols) {
    saved_shape s;
    s.t = (lip_tensor *)t; /* restored by restore_shape before returning */
    s.ndim = t->ndim;
    memcpy(s.shape, t->shape, sizeof s.shape);
    size_t m[2] = {t->count / cols, cols};
    lip_tensor_reshape(s.t, 2, m);
    return s;
}

static void restore_shape(saved_shape s) { lip_tensor_reshape(s.t, s.ndim, s.shape); }

static lip_status dense_init(lip_layer *l) {
    dense_priv *p = l->priv;
    p->in_features = l->in_shape[l->in_ndim - 1];
    l->out_ndim = l->in_ndim;
    memcpy(l->out_shape, l->in_shape, sizeof l->out_shape);
    l->out_shape[l->out_ndim - 1] = p->config.units;
    size_t kshape[2] = {p->in_features, p->config.units};
    LIP_TRY(lip_layer_add_param(l, "kernel", 2, kshape, 1, &p->kernel));
    lip_init ki = p->config.kernel_init == LIP_INIT_DEFAULT ? LIP_INIT_GLOROT_UNIFORM : p->config.kernel_init;
    LIP_TRY(lip_layer_init_param(l, l->params[p->kernel].value, ki));
    if (p->config.use_bias) {
        size_t bshape[1] = {p->config.units};
        LIP_TRY(lip_layer_add_param(l, "bias", 1, bshape, 1, &p->bias));
        lip_init bi = p->config.bias_init == LIP_INIT_DEFAULT ? LIP_INIT_ZEROS : p->config.bias_init;
        LIP_TRY(lip_layer_init_param(l, l->params[p->bias].value, bi));
        LIP_TRY(lip_tensor_create(l->ctx, LIP_FLOAT32, 1, bshape, &p->bias_scratch));
    }
    return LIP_OK;
}

static lip_status dense_forward(lip_layer *l, const lip_tensor *x, lip_tensor *y, size_t batch) {
    dense_priv *p = l->priv;
    size_t rows = batch * (l->in_count / p->in_features), units = p->config.units;
    lip_context *ctx = l->ctx;
    LIP_TRY(lip_gemm(ctx, LIP_NO_TRANS, LIP_NO_TRANS, rows, units, p->in_features, 1.0f, x, 0, p->in_features,
                     l->params[p->kernel].value, 0, units, 0.0f, y, 0, units));
    if (!p->config.use_bias) return LIP_OK;
    saved_shape s = view_matrix(y, units);
    lip_status st = lip_bias_add(ctx, y, l->params[p->bias].value, y);
    restore_shape(s);
    return st;
}

static lip_status dense_backward(lip_layer *l, const lip_tensor *x, const lip_tensor *y, const lip_tensor *dy,
                                 lip_tensor *dx, size_t batch, int accumulate) {
    (void)y;
    dense_priv *p = l->priv;
    lip_context *ctx = l->ctx;
    size_t rows = batch * (l->in_count / p->in_features), units = p->config.units, in = p->in_features;
    /* dW (+)= xᵀ·dy ; dx = dy·Wᵀ ; db (+)= Σ_rows dy */
    LIP_TRY(lip_gemm(ctx, LIP_TRANS, LIP_NO_TRANS, in, units, rows, 1.0f, x, 0, in, dy, 0, units,
                     accumulate ? 1.0f : 0.0f, l->params[p->kernel].grad, 0, units));
    if (dx)
        LIP_TRY(lip_gemm(ctx, LIP_NO_TRANS, LIP_TRANS, rows, in, units, 1.0f, dy, 0, units,
                         l->params[p->kernel].value, 0, units, 0.0f, dx, 0, in));
    if (!p->config.use_bias) return LIP_OK;
    saved_shape s = view_matrix(dy, units);
    lip_status st = lip_reduce_sum_rows(ctx, dy, p->bias_scratch);
    restore_shape(s);
    LIP_TRY(st);
    return lip_accumulate(ctx, l->params[p->bias].grad, p->bias_scratch, accumulate);
}

static void dense_destroy(lip_layer *l) {
    dense_priv *p = l->priv;
    lip_tensor_free(p->bias_scratch);
}

static const lip_layer_vtable dense_vtable = {
    .type = "Dense",
    .init = dense_init,
    .forward = dense_forward,
    .backward = dense_backward,
    .destroy = dense_destroy,
};

lip_status lip_dense_create(lip_context *ctx, const lip_dense_config *config, const char *name, lip_layer **out) {
    if (!ctx) return LIP_ERR_NULL;
    LIP_CHECK(ctx, config, LIP_ERR_NULL, "Dense: config is NULL (use lip_dense_config_default)");
    LIP_CHECK(ctx, config->units >= 1 && config->units <= 0x7fffffff, LIP_ERR_INVALID_ARGUMENT,
              "Dense '%s': units must be >= 1, got %zu", name ? name : "", config->units);
    LIP_CHECK(ctx, config->kernel_init >= LIP_INIT_DEFAULT && config->kernel_init <= LIP_INIT_ZEROS &&
                       config->bias_init >= LIP_INIT_DEFAULT && config->bias_init <= LIP_INIT_ZEROS,
              LIP_ERR_INVALID_ARGUMENT, "Dense '%s': unknown initializer", name ? name : "");
    LIP_TRY(lip_layer_alloc(ctx, &dense_vtable, name, sizeof(dense_priv), out));
    ((dense_priv *)(*out)->priv)->config = *config;
    return LIP_OK;
}
