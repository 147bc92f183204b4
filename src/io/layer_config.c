/* lipcl — recreate a layer from its type name and its creation options (what a model file stores),
 * through the public create functions of each family, which check every value again. */
#include <math.h>
#include <string.h>

#include "layers/layer.h"

typedef struct cfg_reader {
    lip_context *ctx;
    const lip_layer_config *cfg;
    const char *type;
    lip_status st;
} cfg_reader;

/* The value of `key`, or 0 with r->st set (a missing option or a value no number of that kind takes). */
static double get(cfg_reader *r, const char *key) {
    double v = 0;
    if (r->st != LIP_OK) return 0;
    if (lip_layer_config_get(r->ctx, r->cfg, r->type, key, &v) != LIP_OK || !isfinite(v)) {
        r->st = lip_set_error(r->ctx, LIP_ERR_FORMAT, "%s: option '%s' is missing or not finite", r->type, key);
        return 0;
    }
    return v;
}

/* A count or enum: a whole number in [0, 2^31). */
static size_t get_count(cfg_reader *r, const char *key) {
    double v = get(r, key);
    if (r->st == LIP_OK && !(v >= 0 && v < 2147483648.0 && v == floor(v))) {
        r->st = lip_set_error(r->ctx, LIP_ERR_FORMAT, "%s: option '%s' = %g is not a count", r->type, key, v);
        return 0;
    }
    return (size_t)v;
}

static int get_int(cfg_reader *r, const char *key) { return (int)get_count(r, key); }
static float get_float(cfg_reader *r, const char *key) { return (float)get(r, key); }

static lip_dense_config dense_config(cfg_reader *r) {
    lip_dense_config c = lip_dense_config_default(get_count(r, "units"));
    c.use_bias = get_int(r, "use_bias");
    c.k_coef_lip = get_float(r, "k_coef_lip");
    c.kernel_init = (lip_init)get_int(r, "kernel_init");
    c.bias_init = (lip_init)get_int(r, "bias_init");
    c.eps_spectral = get_float(r, "eps_spectral");
    c.maxiter_spectral = get_int(r, "maxiter_spectral");
    c.eps_bjorck = get_float(r, "eps_bjorck");
    c.beta_bjorck = get_float(r, "beta_bjorck");
    c.maxiter_bjorck = get_int(r, "maxiter_bjorck");
    c.disjoint_neurons = get_int(r, "disjoint_neurons");
    return c;
}

static lip_conv2d_config conv_config(cfg_reader *r) {
    lip_conv2d_config c = lip_conv2d_config_default(get_count(r, "filters"), get_count(r, "kernel_h"),
                                                    get_count(r, "kernel_w"));
    c.stride_h = get_count(r, "stride_h");
    c.stride_w = get_count(r, "stride_w");
    c.padding = (lip_padding)get_int(r, "padding");
    c.pad_mode = (lip_pad_mode)get_int(r, "pad_mode");
    c.use_bias = get_int(r, "use_bias");
    c.k_coef_lip = get_float(r, "k_coef_lip");
    c.kernel_init = (lip_init)get_int(r, "kernel_init");
    c.bias_init = (lip_init)get_int(r, "bias_init");
    c.eps_spectral = get_float(r, "eps_spectral");
    c.maxiter_spectral = get_int(r, "maxiter_spectral");
    c.eps_bjorck = get_float(r, "eps_bjorck");
    c.beta_bjorck = get_float(r, "beta_bjorck");
    c.maxiter_bjorck = get_int(r, "maxiter_bjorck");
    c.coef_mode = (lip_conv_coef_mode)get_int(r, "coef_mode");
    return c;
}

static lip_pool2d_config pool_config(cfg_reader *r) {
    lip_pool2d_config c = lip_pool2d_config_default();
    c.pool_h = get_count(r, "pool_h");
    c.pool_w = get_count(r, "pool_w");
    c.stride_h = get_count(r, "stride_h");
    c.stride_w = get_count(r, "stride_w");
    c.padding = (lip_padding)get_int(r, "padding");
    c.k_coef_lip = get_float(r, "k_coef_lip");
    c.eps_grad_sqrt = get_float(r, "eps_grad_sqrt");
    return c;
}

lip_status lip_layer_from_config(lip_context *ctx, const char *type, const char *name, const lip_layer_config *config,
                                 lip_layer **out) {
    cfg_reader r = {ctx, config, type, LIP_OK};
    *out = NULL;
#define IS(t) (strcmp(type, t) == 0)
    if (IS("Dense") || IS("SpectralDense") || IS("FrobeniusDense")) {
        lip_dense_config c = dense_config(&r);
        LIP_TRY(r.st);
        if (IS("Dense")) return lip_dense_create(ctx, &c, name, out);
        return IS("SpectralDense") ? lip_spectral_dense_create(ctx, &c, name, out)
                                   : lip_frobenius_dense_create(ctx, &c, name, out);
    }
    if (IS("Conv2D") || IS("SpectralConv2D") || IS("FrobeniusConv2D") || IS("Conv2DTranspose") ||
        IS("SpectralConv2DTranspose")) {
        lip_conv2d_config c = conv_config(&r);
        LIP_TRY(r.st);
        if (IS("Conv2D")) return lip_conv2d_create(ctx, &c, name, out);
        if (IS("SpectralConv2D")) return lip_spectral_conv2d_create(ctx, &c, name, out);
        if (IS("FrobeniusConv2D")) return lip_frobenius_conv2d_create(ctx, &c, name, out);
        if (IS("Conv2DTranspose")) return lip_conv2d_transpose_create(ctx, &c, name, out);
        return lip_spectral_conv2d_transpose_create(ctx, &c, name, out);
    }
    if (IS("ScaledL2NormPooling2D") || IS("ScaledAveragePooling2D") || IS("MaxPooling2D")) {
        lip_pool2d_config c = pool_config(&r);
        LIP_TRY(r.st);
        if (IS("MaxPooling2D")) return lip_max_pooling2d_create(ctx, &c, name, out);
        return IS("ScaledL2NormPooling2D") ? lip_scaled_l2norm_pooling2d_create(ctx, &c, name, out)
                                           : lip_scaled_average_pooling2d_create(ctx, &c, name, out);
    }
    if (IS("ScaledGlobalL2NormPooling2D") || IS("ScaledGlobalAveragePooling2D")) {
        float k = get_float(&r, "k_coef_lip"), eps = get_float(&r, "eps_grad_sqrt");
        LIP_TRY(r.st);
        return IS("ScaledGlobalL2NormPooling2D") ? lip_scaled_global_l2norm_pooling2d_create(ctx, k, eps, name, out)
                                                 : lip_scaled_global_average_pooling2d_create(ctx, k, name, out);
    }
    if (IS("InvertibleDownSampling") || IS("InvertibleUpSampling")) {
        size_t p0 = get_count(&r, "pool_h"), p1 = get_count(&r, "pool_w");
        LIP_TRY(r.st);
        return IS("InvertibleDownSampling") ? lip_invertible_downsampling_create(ctx, p0, p1, name, out)
                                            : lip_invertible_upsampling_create(ctx, p0, p1, name, out);
    }
    if (IS("Flatten")) return lip_flatten_create(ctx, name, out);
    if (IS("Reshape")) {
        int nd = get_int(&r, "ndim");
        LIP_TRY(r.st);
        LIP_CHECK(ctx, nd >= 1 && nd < LIP_MAX_DIMS, LIP_ERR_FORMAT, "Reshape '%s': target rank %d out of range", name,
                  nd);
        static const char *const keys[] = {"shape0", "shape1", "shape2", "shape3"};
        size_t shape[LIP_MAX_DIMS] = {0};
        for (int i = 0; i < nd; i++) shape[i] = get_count(&r, keys[i]);
        LIP_TRY(r.st);
        return lip_reshape_create(ctx, nd, shape, name, out);
    }
    if (IS("GroupSort") || IS("MaxMin") || IS("ReLU")) {
        size_t n = get_count(&r, "n");
        float k = get_float(&r, "k_coef_lip");
        LIP_TRY(r.st);
        if (IS("GroupSort")) return lip_groupsort_create(ctx, n, k, name, out);
        return IS("MaxMin") ? lip_maxmin_create(ctx, k, name, out) : lip_relu_create(ctx, name, out);
    }
    if (IS("Householder") || IS("PReLUlip")) {
        float k = get_float(&r, "k_coef_lip"), theta = get_float(&r, "theta_init");
        LIP_TRY(r.st);
        return IS("Householder") ? lip_householder_create(ctx, k, theta, name, out)
                                 : lip_prelu_lip_create(ctx, k, name, out);
    }
#undef IS
    return lip_set_error(ctx, LIP_ERR_FORMAT, "unknown layer type '%s' (layer '%s')", type, name);
}
