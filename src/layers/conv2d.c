/* lipcl — the conv layer family on NHWC images: Conv2D and Conv2DTranspose (unconstrained), SpectralConv2D,
 * FrobeniusConv2D and SpectralConv2DTranspose (W̄ = k·c_conv·normalized kernel, differentiated exactly). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layers/conv2d.h"
#include "lipschitz/conv_coef.h"
#include "lipschitz/rko.h"
#include "tensor/conv2d.h"

typedef enum { KIND_CONV, KIND_SPECTRAL, KIND_FROBENIUS, KIND_TRANSPOSE, KIND_SPECTRAL_TRANSPOSE } conv_kind;

/*
 * A transposed layer is the adjoint of a conv A whose input is the layer's output (filters channels)
 * and whose output is the layer's input (cin channels): the Keras kernel (kh, kw, filters, cin) is A's
 * kernel in conv layout. So forward = A's backward_data, dx = A's forward, dK = A's backward_filter with
 * the roles of x and dy swapped; `geom` below is A's geometry for the transposed kinds.
 */
typedef struct conv_priv {
    lip_conv2d_config config;
    conv_kind kind;
    size_t kshape[4];          /* the kernel parameter's shape (Keras layout of the layer) */
    size_t kernel, bias, u;    /* parameter indices */
    lip_conv2d_geom geom;      /* batch 1; the conv, or the adjoint conv A of a transposed kind */
    double coef;               /* c_conv (1 for the unconstrained kinds) */
    lip_tensor *bias_scratch;  /* (filters,) column sums before accumulation */
    lip_rko rko;               /* spectral kinds */
    lip_tensor *w_bar;         /* FrobeniusConv2D's W̄; deel-lip transposed: W̄ back in the layer's layout */
    lip_tensor *grad_w_bar;    /* dL/dW̄ (Lipschitz kinds), kernel-shaped */
    /* SpectralConv2DTranspose in DEEL_LIP mode: deel-lip normalizes the kernel with its last two axes
     * swapped, (kh, kw, cin, filters) viewed as (kh·kw·cin, filters). */
    int swap;
    lip_tensor *swapped_kernel, *swapped_grad, *swapped_dk, *eye;
    size_t eye_n;
} conv_priv;

lip_conv2d_config lip_conv2d_config_default(size_t filters, size_t kernel_h, size_t kernel_w) {
    lip_conv2d_config c;
    memset(&c, 0, sizeof c);
    c.filters = filters;
    c.kernel_h = kernel_h;
    c.kernel_w = kernel_w;
    c.stride_h = c.stride_w = 1;
    c.padding = LIP_PADDING_SAME;
    c.pad_mode = LIP_PAD_ZEROS;
    c.use_bias = 1;
    c.k_coef_lip = 1.0f;
    c.kernel_init = LIP_INIT_DEFAULT;
    c.bias_init = LIP_INIT_DEFAULT;
    c.eps_spectral = 1e-3f;
    c.maxiter_spectral = 10;
    c.eps_bjorck = 1e-3f;
    c.beta_bjorck = 0.5f;
    c.maxiter_bjorck = 15;
    c.coef_mode = LIP_CONV_COEF_STRICT;
    return c;
}

static int is_transposed(conv_kind k) { return k == KIND_TRANSPOSE || k == KIND_SPECTRAL_TRANSPOSE; }
static int is_spectral(conv_kind k) { return k == KIND_SPECTRAL || k == KIND_SPECTRAL_TRANSPOSE; }
static int is_lipschitz(conv_kind k) { return k != KIND_CONV && k != KIND_TRANSPOSE; }

static lip_tensor *effective_kernel(const lip_layer *l) {
    const conv_priv *p = l->priv;
    if (p->kind == KIND_FROBENIUS || p->swap) return p->w_bar;
    if (is_spectral(p->kind)) return p->rko.w_bar;
    return l->params[p->kernel].value;
}

static lip_rko_config rko_config(const lip_conv2d_config *c, float coef) {
    lip_rko_config r = {coef, c->eps_spectral, c->maxiter_spectral, c->eps_bjorck, c->beta_bjorck, c->maxiter_bjorck};
    return r;
}

/* The geometry of one call: the build-time one with this batch. */
static lip_conv2d_geom geom_for(const conv_priv *p, size_t batch) {
    lip_conv2d_geom g = p->geom;
    g.batch = batch;
    return g;
}

/* dst (blocks, b, a) = src (blocks, a, b) with the last two axes swapped (dst += that when accumulate):
 * one GEMM with the identity per block, which is exact (each output is one product by 1 plus zeros). */
static lip_status swap_last_axes(lip_context *ctx, const conv_priv *p, const lip_tensor *src, lip_tensor *dst,
                                 size_t a, size_t b, int accumulate) {
    size_t blocks = p->config.kernel_h * p->config.kernel_w;
    for (size_t blk = 0; blk < blocks; blk++)
        LIP_TRY(lip_gemm(ctx, LIP_TRANS, LIP_NO_TRANS, b, a, a, 1.0f, src, blk * a * b, b, p->eye, 0, p->eye_n,
                         accumulate ? 1.0f : 0.0f, dst, blk * a * b, a));
    return LIP_OK;
}

/* "Type 'name'" for messages. */
static const char *who(const lip_layer *l, char *buf, size_t size) {
    snprintf(buf, size, "%s '%s'", l->vt->type, l->name);
    return buf;
}

static lip_status spectral_init(lip_layer *l, const char *w) {
    conv_priv *p = l->priv;
    const lip_conv2d_config *c = &p->config;
    size_t kh = c->kernel_h, kw = c->kernel_w, f = c->filters;
    size_t cin = is_transposed(p->kind) ? p->kshape[3] : p->kshape[2];
    /* The matrix the RKO normalizes, (rows, cols), and u of shape (1, cols). */
    size_t rows = kh * kw * cin, cols = f;   /* SpectralConv2D; deel-lip's transposed reshape */
    if (p->kind == KIND_SPECTRAL_TRANSPOSE && !p->swap) {
        rows = kh * kw * f; /* the adjoint conv's own matrix: the kernel as it is, (kh·kw·filters, cin) */
        cols = cin;
    }
    size_t ushape[2] = {1, cols};
    LIP_TRY(lip_layer_add_param(l, "u", 2, ushape, 0, &p->u));
    LIP_TRY(lip_random_normal(l->ctx, l->params[p->u].value, 0.0f, 1.0f)); /* deel-lip: u ~ N(0, 1) */
    lip_rko_config rc = rko_config(c, (float)((double)c->k_coef_lip * p->coef));
    LIP_TRY(lip_rko_check_config(l->ctx, l->vt->type, l->name, &rc));
    LIP_TRY(lip_rko_create(l->ctx, rows, cols, &rc, &p->rko));
    if (!p->swap) return lip_tensor_reshape(p->rko.w_bar, 4, p->kshape); /* same elements, kernel-shaped */
    size_t sshape[4] = {kh, kw, cin, f};
    LIP_TRY(lip_tensor_create(l->ctx, LIP_FLOAT32, 4, sshape, &p->swapped_kernel));
    LIP_TRY(lip_tensor_create(l->ctx, LIP_FLOAT32, 4, sshape, &p->swapped_grad));
    LIP_TRY(lip_tensor_create(l->ctx, LIP_FLOAT32, 4, sshape, &p->swapped_dk));
    LIP_TRY(lip_tensor_create(l->ctx, LIP_FLOAT32, 4, p->kshape, &p->w_bar));
    p->eye_n = f > cin ? f : cin;
    size_t eshape[2] = {p->eye_n, p->eye_n};
    float *eye = calloc(p->eye_n * p->eye_n, sizeof *eye);
    LIP_CHECK(l->ctx, eye, LIP_ERR_OUT_OF_HOST_MEMORY, "%s: out of host memory", w);
    for (size_t i = 0; i < p->eye_n; i++) eye[i * p->eye_n + i] = 1.0f;
    lip_status st = lip_tensor_create(l->ctx, LIP_FLOAT32, 2, eshape, &p->eye);
    if (st == LIP_OK) st = lip_tensor_upload(p->eye, eye, p->eye_n * p->eye_n * sizeof *eye);
    free(eye);
    return st;
}

static lip_status conv_init(lip_layer *l) {
    conv_priv *p = l->priv;
    const lip_conv2d_config *c = &p->config;
    lip_context *ctx = l->ctx;
    char wb[128];
    const char *w = who(l, wb, sizeof wb);
    LIP_CHECK(ctx, l->in_ndim == 3, LIP_ERR_SHAPE,
              "%s: the per-sample input must be 3-D (height, width, channels), got %d-D", w, l->in_ndim);
    size_t h = l->in_shape[0], wd = l->in_shape[1], cin = l->in_shape[2];
    size_t kh = c->kernel_h, kw = c->kernel_w, f = c->filters, sh = c->stride_h, sw = c->stride_w;
    size_t oh, ow;
    if (!is_transposed(p->kind)) {
        if (c->padding == LIP_PADDING_VALID)
            LIP_CHECK(ctx, kh <= h && kw <= wd, LIP_ERR_SHAPE,
                      "%s: kernel %zux%zu larger than the input %zux%zu (padding 'valid')", w, kh, kw, h, wd);
        LIP_TRY(lip_conv2d_geom_make(ctx, w, 1, h, wd, cin, kh, kw, f, sh, sw, c->padding, c->pad_mode, &p->geom));
        oh = p->geom.out_h;
        ow = p->geom.out_w;
        size_t ks[4] = {kh, kw, cin, f};
        memcpy(p->kshape, ks, sizeof ks);
    } else {
        /* Keras deconv_output_length: SAME n·s, VALID n·s + max(k − s, 0). */
        oh = h * sh + (c->padding == LIP_PADDING_VALID && kh > sh ? kh - sh : 0);
        ow = wd * sw + (c->padding == LIP_PADDING_VALID && kw > sw ? kw - sw : 0);
        LIP_TRY(lip_conv2d_geom_make(ctx, w, 1, oh, ow, f, kh, kw, cin, sh, sw, c->padding, LIP_PAD_ZEROS, &p->geom));
        LIP_CHECK(ctx, p->geom.out_h == h && p->geom.out_w == wd, LIP_ERR_INTERNAL,
                  "%s: the adjoint conv of a %zux%zu output gives %zux%zu, not the input %zux%zu", w, oh, ow,
                  p->geom.out_h, p->geom.out_w, h, wd);
        size_t ks[4] = {kh, kw, f, cin};
        memcpy(p->kshape, ks, sizeof ks);
    }
    LIP_CHECK(ctx, oh >= 1 && ow >= 1, LIP_ERR_SHAPE, "%s: empty output %zux%zu for the input %zux%zu", w, oh, ow, h,
              wd);
    l->out_ndim = 3;
    l->out_shape[0] = oh;
    l->out_shape[1] = ow;
    l->out_shape[2] = f;
    p->coef = 1.0;
    /* c_conv from the layer's input size (deel-lip's formula) or the conv geometry (strict). */
    if (is_lipschitz(p->kind)) LIP_TRY(lip_conv_coef(ctx, w, c->coef_mode, &p->geom, h, wd, &p->coef));

    LIP_TRY(lip_layer_add_param(l, "kernel", 4, p->kshape, 1, &p->kernel));
    lip_init ki = c->kernel_init;
    if (ki == LIP_INIT_DEFAULT) ki = is_lipschitz(p->kind) ? LIP_INIT_SPECTRAL : LIP_INIT_GLOROT_UNIFORM;
    LIP_TRY(lip_layer_init_param(l, l->params[p->kernel].value, ki));
    if (c->use_bias) {
        size_t bshape[1] = {f};
        LIP_TRY(lip_layer_add_param(l, "bias", 1, bshape, 1, &p->bias));
        lip_init bi = c->bias_init == LIP_INIT_DEFAULT ? LIP_INIT_ZEROS : c->bias_init;
        LIP_TRY(lip_layer_init_param(l, l->params[p->bias].value, bi));
        LIP_TRY(lip_tensor_create(ctx, LIP_FLOAT32, 1, bshape, &p->bias_scratch));
    }
    if (!is_lipschitz(p->kind)) return LIP_OK;
    LIP_TRY(lip_tensor_create(ctx, LIP_FLOAT32, 4, p->kshape, &p->grad_w_bar));
    LIP_TRY(lip_tensor_fill(p->grad_w_bar, 0.0));
    if (p->kind == KIND_FROBENIUS) return lip_tensor_create(ctx, LIP_FLOAT32, 4, p->kshape, &p->w_bar);
    p->swap = p->kind == KIND_SPECTRAL_TRANSPOSE && c->coef_mode == LIP_CONV_COEF_DEEL_LIP;
    return spectral_init(l, w);
}

/* W̄ = k·c_conv·Björck(W/(σ + ε)) (u advanced one power-iteration run), or k·c_conv·W/‖W‖_F. */
static lip_status conv_reparam_forward(lip_layer *l) {
    conv_priv *p = l->priv;
    lip_context *ctx = l->ctx;
    const lip_tensor *kernel = l->params[p->kernel].value;
    if (p->kind == KIND_FROBENIUS)
        return lip_frobenius_forward(ctx, kernel, 0, (float)((double)p->config.k_coef_lip * p->coef), p->w_bar);
    lip_tensor *u = l->params[p->u].value;
    if (!p->swap) return lip_rko_forward(ctx, &p->rko, kernel, u);
    size_t f = p->kshape[2], cin = p->kshape[3];
    LIP_TRY(swap_last_axes(ctx, p, kernel, p->swapped_kernel, f, cin, 0));
    LIP_TRY(lip_rko_forward(ctx, &p->rko, p->swapped_kernel, u));
    return swap_last_axes(ctx, p, p->rko.w_bar, p->w_bar, cin, f, 0);
}

/* dL/dW from dL/dW̄ (in grad_w_bar), written or accumulated into the kernel's gradient. */
static lip_status reparam_backward(lip_layer *l, int accumulate) {
    conv_priv *p = l->priv;
    lip_context *ctx = l->ctx;
    const lip_tensor *kernel = l->params[p->kernel].value;
    lip_tensor *gk = l->params[p->kernel].grad;
    if (p->kind == KIND_FROBENIUS)
        return lip_frobenius_backward(ctx, kernel, 0, (float)((double)p->config.k_coef_lip * p->coef), p->grad_w_bar,
                                      gk, accumulate);
    const lip_tensor *u = l->params[p->u].value;
    if (!p->swap) return lip_rko_backward(ctx, &p->rko, kernel, u, p->grad_w_bar, gk, accumulate);
    size_t f = p->kshape[2], cin = p->kshape[3];
    LIP_TRY(swap_last_axes(ctx, p, p->grad_w_bar, p->swapped_grad, f, cin, 0));
    LIP_TRY(lip_rko_backward(ctx, &p->rko, p->swapped_kernel, u, p->swapped_grad, p->swapped_dk, 0));
    return swap_last_axes(ctx, p, p->swapped_dk, gk, cin, f, accumulate);
}

/* Add the bias to t viewed as (rows, filters). */
static lip_status add_bias(lip_layer *l, lip_tensor *t) {
    conv_priv *p = l->priv;
    size_t m[2] = {t->count / p->config.filters, p->config.filters};
    tensor_view v = lip_tensor_view(t, 2, m);
    lip_status st = lip_bias_add(l->ctx, t, l->params[p->bias].value, t);
    lip_tensor_view_restore(v);
    return st;
}

static lip_status conv_forward(lip_layer *l, const lip_tensor *x, lip_tensor *y, size_t batch) {
    conv_priv *p = l->priv;
    lip_context *ctx = l->ctx;
    lip_conv2d_geom g = geom_for(p, batch);
    const lip_tensor *w = effective_kernel(l);
    if (!is_transposed(p->kind))
        return lip_conv2d_forward(ctx, &g, x, w, p->config.use_bias ? l->params[p->bias].value : NULL, y);
    LIP_TRY(lip_conv2d_backward_data(ctx, &g, x, w, y, 0));
    return p->config.use_bias ? add_bias(l, y) : LIP_OK;
}

static lip_status conv_backward(lip_layer *l, const lip_tensor *x, const lip_tensor *y, const lip_tensor *dy,
                                lip_tensor *dx, size_t batch, int accumulate) {
    (void)y;
    conv_priv *p = l->priv;
    lip_context *ctx = l->ctx;
    lip_conv2d_geom g = geom_for(p, batch);
    const lip_tensor *w = effective_kernel(l);
    int lip = is_lipschitz(p->kind);
    /* dL/dW̄ straight into the kernel's gradient when W̄ = W, else into grad_w_bar for the chain. */
    lip_tensor *dw = lip ? p->grad_w_bar : l->params[p->kernel].grad;
    int acc_w = lip ? 0 : accumulate;
    if (!is_transposed(p->kind)) {
        if (dx) LIP_TRY(lip_conv2d_backward_data(ctx, &g, dy, w, dx, 0));
        LIP_TRY(lip_conv2d_backward_filter(ctx, &g, x, dy, dw, acc_w));
    } else { /* the adjoint of A: dx = A·dy, dW from A's filter gradient with x as A's output gradient */
        if (dx) LIP_TRY(lip_conv2d_forward(ctx, &g, dy, w, NULL, dx));
        LIP_TRY(lip_conv2d_backward_filter(ctx, &g, dy, x, dw, acc_w));
    }
    if (lip) LIP_TRY(reparam_backward(l, accumulate));
    if (!p->config.use_bias) return LIP_OK;
    size_t m[2] = {dy->count / p->config.filters, p->config.filters};
    tensor_view v = lip_tensor_view(dy, 2, m);
    lip_status st = lip_reduce_sum_rows(ctx, dy, p->bias_scratch);
    lip_tensor_view_restore(v);
    LIP_TRY(st);
    return lip_accumulate(ctx, l->params[p->bias].grad, p->bias_scratch, accumulate);
}

static void conv_destroy(lip_layer *l) {
    conv_priv *p = l->priv;
    lip_tensor **owned[] = {&p->bias_scratch, &p->w_bar, &p->grad_w_bar, &p->swapped_kernel, &p->swapped_grad,
                            &p->swapped_dk, &p->eye};
    for (size_t i = 0; i < sizeof owned / sizeof owned[0]; i++) {
        lip_tensor_free(*owned[i]);
        *owned[i] = NULL; /* a failed build may be retried */
    }
    lip_rko_destroy(&p->rko);
    p->swap = 0;
}

/* ---- Lipschitz bound, creation options, vanilla export ------------------------------------------- */

/* W̄ = k·c·Q with ‖Q reshaped‖₂ ≤ 1 (Björck or Frobenius), and the conv of such a kernel is at most
 * 1/c_strict-Lipschitz: k in STRICT mode, k·c_deel/c_strict in DEEL_LIP mode (deel-lip's average
 * factor). DEEL_LIP's transposed reshape is not the adjoint conv's matrix: no proof, no bound. */
static lip_status conv_lipschitz_bound(const lip_layer *l, double *bound, int *per_neuron) {
    const conv_priv *p = l->priv;
    *per_neuron = 0;
    if (p->config.coef_mode == LIP_CONV_COEF_STRICT) {
        *bound = (double)p->config.k_coef_lip;
        return LIP_OK;
    }
    LIP_CHECK(l->ctx, !p->swap && !is_transposed(p->kind), LIP_ERR_UNSUPPORTED,
              "%s '%s': coef_mode DEEL_LIP of a transposed conv has no proven Lipschitz bound (use STRICT)",
              l->vt->type, l->name);
    *bound = (double)p->config.k_coef_lip * p->coef / lip_conv_coef_strict(&p->geom);
    return LIP_OK;
}

static lip_status conv_get_config(const lip_layer *l, lip_layer_config *cfg) {
    const conv_priv *p = l->priv;
    const lip_conv2d_config *c = &p->config;
    lip_context *ctx = l->ctx;
    LIP_TRY(lip_layer_config_add(ctx, cfg, "filters", (double)c->filters));
    LIP_TRY(lip_layer_config_add(ctx, cfg, "kernel_h", (double)c->kernel_h));
    LIP_TRY(lip_layer_config_add(ctx, cfg, "kernel_w", (double)c->kernel_w));
    LIP_TRY(lip_layer_config_add(ctx, cfg, "stride_h", (double)c->stride_h));
    LIP_TRY(lip_layer_config_add(ctx, cfg, "stride_w", (double)c->stride_w));
    LIP_TRY(lip_layer_config_add(ctx, cfg, "padding", c->padding));
    LIP_TRY(lip_layer_config_add(ctx, cfg, "pad_mode", c->pad_mode));
    LIP_TRY(lip_layer_config_add(ctx, cfg, "use_bias", c->use_bias));
    LIP_TRY(lip_layer_config_add(ctx, cfg, "k_coef_lip", c->k_coef_lip));
    LIP_TRY(lip_layer_config_add(ctx, cfg, "kernel_init", c->kernel_init));
    LIP_TRY(lip_layer_config_add(ctx, cfg, "bias_init", c->bias_init));
    LIP_TRY(lip_layer_config_add(ctx, cfg, "eps_spectral", c->eps_spectral));
    LIP_TRY(lip_layer_config_add(ctx, cfg, "maxiter_spectral", c->maxiter_spectral));
    LIP_TRY(lip_layer_config_add(ctx, cfg, "eps_bjorck", c->eps_bjorck));
    LIP_TRY(lip_layer_config_add(ctx, cfg, "beta_bjorck", c->beta_bjorck));
    LIP_TRY(lip_layer_config_add(ctx, cfg, "maxiter_bjorck", c->maxiter_bjorck));
    return lip_layer_config_add(ctx, cfg, "coef_mode", c->coef_mode);
}

/* A plain Conv2D / Conv2DTranspose with W̄ (c_conv and k included) as its kernel, the same geometry,
 * padding mode, bias and name (deel-lip's vanilla_export). */
static lip_status conv_vanilla_export(lip_layer *l, lip_layer **out) {
    const conv_priv *p = l->priv;
    lip_conv2d_config c = p->config;
    c.kernel_init = c.bias_init = LIP_INIT_ZEROS; /* overwritten below; zeros draws no random numbers */
    lip_layer *d = NULL;
    if (is_transposed(p->kind))
        LIP_TRY(lip_conv2d_transpose_create(l->ctx, &c, l->name, &d));
    else
        LIP_TRY(lip_conv2d_create(l->ctx, &c, l->name, &d));
    return lip_layer_export_weights(l, d, effective_kernel(l), c.use_bias ? l->params[p->bias].value : NULL, out);
}

/* Sequential(k_coef_lip): the RKO object carries its own copy of k·c_conv once built. */
static lip_status conv_set_k(lip_layer *l, float k) {
    conv_priv *p = l->priv;
    p->config.k_coef_lip = k;
    if (l->built && is_spectral(p->kind)) p->rko.coef = (float)((double)k * p->coef);
    return LIP_OK;
}

static const lip_layer_vtable conv_vtable = {
    .type = "Conv2D",
    .init = conv_init,
    .forward = conv_forward,
    .backward = conv_backward,
    .destroy = conv_destroy,
    .get_config = conv_get_config,
    .vanilla_export = conv_vanilla_export,
};

static const lip_layer_vtable spectral_conv_vtable = {
    .type = "SpectralConv2D",
    .init = conv_init,
    .reparam_forward = conv_reparam_forward,
    .forward = conv_forward,
    .backward = conv_backward,
    .destroy = conv_destroy,
    .lipschitz_bound = conv_lipschitz_bound,
    .get_config = conv_get_config,
    .vanilla_export = conv_vanilla_export,
    .set_k_coef_lip = conv_set_k,
};

static const lip_layer_vtable frobenius_conv_vtable = {
    .type = "FrobeniusConv2D",
    .init = conv_init,
    .reparam_forward = conv_reparam_forward,
    .forward = conv_forward,
    .backward = conv_backward,
    .destroy = conv_destroy,
    .lipschitz_bound = conv_lipschitz_bound,
    .get_config = conv_get_config,
    .vanilla_export = conv_vanilla_export,
    .set_k_coef_lip = conv_set_k,
};

static const lip_layer_vtable conv_transpose_vtable = {
    .type = "Conv2DTranspose",
    .init = conv_init,
    .forward = conv_forward,
    .backward = conv_backward,
    .destroy = conv_destroy,
    .get_config = conv_get_config,
    .vanilla_export = conv_vanilla_export,
};

static const lip_layer_vtable spectral_conv_transpose_vtable = {
    .type = "SpectralConv2DTranspose",
    .init = conv_init,
    .reparam_forward = conv_reparam_forward,
    .forward = conv_forward,
    .backward = conv_backward,
    .destroy = conv_destroy,
    .lipschitz_bound = conv_lipschitz_bound,
    .get_config = conv_get_config,
    .vanilla_export = conv_vanilla_export,
    .set_k_coef_lip = conv_set_k,
};

static lip_status check_config(lip_context *ctx, const char *type, const lip_conv2d_config *c, const char *name,
                               conv_kind kind) {
    const char *n = name ? name : "";
    LIP_CHECK(ctx, c, LIP_ERR_NULL, "%s: config is NULL (use lip_conv2d_config_default)", type);
    LIP_CHECK(ctx, c->filters >= 1 && c->filters <= 0x7fffffff, LIP_ERR_INVALID_ARGUMENT,
              "%s '%s': filters must be >= 1, got %zu", type, n, c->filters);
    LIP_CHECK(ctx, c->kernel_h >= 1 && c->kernel_w >= 1 && c->kernel_h <= 0xffff && c->kernel_w <= 0xffff,
              LIP_ERR_INVALID_ARGUMENT, "%s '%s': kernel size %zux%zu must be >= 1", type, n, c->kernel_h,
              c->kernel_w);
    LIP_CHECK(ctx, c->stride_h >= 1 && c->stride_w >= 1 && c->stride_h <= 0xffff && c->stride_w <= 0xffff,
              LIP_ERR_INVALID_ARGUMENT, "%s '%s': strides %zux%zu must be >= 1", type, n, c->stride_h, c->stride_w);
    LIP_CHECK(ctx, c->padding == LIP_PADDING_SAME || c->padding == LIP_PADDING_VALID, LIP_ERR_INVALID_ARGUMENT,
              "%s '%s': unknown padding %d (LIP_PADDING_SAME or LIP_PADDING_VALID)", type, n, (int)c->padding);
    LIP_CHECK(ctx, (int)c->pad_mode >= (int)LIP_PAD_ZEROS && (int)c->pad_mode <= (int)LIP_PAD_CIRCULAR,
              LIP_ERR_INVALID_ARGUMENT, "%s '%s': unknown pad_mode %d", type, n, (int)c->pad_mode);
    LIP_CHECK(ctx, c->padding == LIP_PADDING_SAME || c->pad_mode == LIP_PAD_ZEROS, LIP_ERR_INVALID_ARGUMENT,
              "%s '%s': pad_mode applies to padding SAME only (VALID reads no padding)", type, n);
    LIP_CHECK(ctx, (int)c->kernel_init >= (int)LIP_INIT_DEFAULT && (int)c->kernel_init <= (int)LIP_INIT_SPECTRAL &&
                       (int)c->bias_init >= (int)LIP_INIT_DEFAULT && (int)c->bias_init <= (int)LIP_INIT_ZEROS,
              LIP_ERR_INVALID_ARGUMENT, "%s '%s': unknown initializer", type, n);
    if (is_transposed(kind))
        LIP_CHECK(ctx, c->pad_mode == LIP_PAD_ZEROS, LIP_ERR_UNSUPPORTED,
                  "%s '%s': only pad_mode LIP_PAD_ZEROS (as Keras' Conv2DTranspose)", type, n);
    if (!is_lipschitz(kind)) return LIP_OK;
    LIP_CHECK(ctx, c->k_coef_lip > 0 && isfinite(c->k_coef_lip), LIP_ERR_INVALID_ARGUMENT,
              "%s '%s': k_coef_lip must be finite and > 0, got %g", type, n, (double)c->k_coef_lip);
    LIP_CHECK(ctx, c->coef_mode == LIP_CONV_COEF_STRICT || c->coef_mode == LIP_CONV_COEF_DEEL_LIP,
              LIP_ERR_INVALID_ARGUMENT,
              "%s '%s': unknown coef_mode %d (LIP_CONV_COEF_STRICT or LIP_CONV_COEF_DEEL_LIP)", type, n,
              (int)c->coef_mode);
    if (c->coef_mode == LIP_CONV_COEF_DEEL_LIP) {
        /* deel-lip's layers refuse these; its coefficient formula assumes 'same' zero padding. */
        LIP_CHECK(ctx, c->padding == LIP_PADDING_SAME, LIP_ERR_UNSUPPORTED,
                  "%s '%s': coef_mode DEEL_LIP supports padding SAME only (as deel-lip); use LIP_CONV_COEF_STRICT "
                  "for VALID",
                  type, n);
        LIP_CHECK(ctx, c->pad_mode == LIP_PAD_ZEROS, LIP_ERR_UNSUPPORTED,
                  "%s '%s': coef_mode DEEL_LIP supports pad_mode LIP_PAD_ZEROS only (deel-lip's Lipschitz convs "
                  "pad with zeros); use LIP_CONV_COEF_STRICT",
                  type, n);
        if (kind == KIND_FROBENIUS)
            LIP_CHECK(ctx, c->stride_h == 1 && c->stride_w == 1, LIP_ERR_UNSUPPORTED,
                      "%s '%s': coef_mode DEEL_LIP supports strides 1x1 only (as deel-lip), got %zux%zu", type, n,
                      c->stride_h, c->stride_w);
    }
    if (kind == KIND_SPECTRAL_TRANSPOSE)
        LIP_CHECK(ctx, c->padding == LIP_PADDING_SAME, LIP_ERR_UNSUPPORTED,
                  "%s '%s': padding SAME only (as deel-lip)", type, n);
    if (kind == KIND_FROBENIUS) return LIP_OK;
    lip_rko_config rc = rko_config(c, c->k_coef_lip);
    return lip_rko_check_config(ctx, type, n, &rc);
}

static lip_status create(lip_context *ctx, const lip_layer_vtable *vt, const lip_conv2d_config *config,
                         const char *name, conv_kind kind, lip_layer **out) {
    if (!ctx) return LIP_ERR_NULL;
    LIP_CHECK(ctx, out, LIP_ERR_NULL, "%s: out is NULL", vt->type);
    *out = NULL;
    LIP_TRY(check_config(ctx, vt->type, config, name, kind));
    LIP_TRY(lip_layer_alloc(ctx, vt, name, sizeof(conv_priv), out));
    conv_priv *p = (*out)->priv;
    p->config = *config;
    p->kind = kind;
    return LIP_OK;
}

lip_status lip_conv2d_create(lip_context *ctx, const lip_conv2d_config *config, const char *name, lip_layer **out) {
    return create(ctx, &conv_vtable, config, name, KIND_CONV, out);
}

lip_status lip_spectral_conv2d_create(lip_context *ctx, const lip_conv2d_config *config, const char *name,
                                      lip_layer **out) {
    return create(ctx, &spectral_conv_vtable, config, name, KIND_SPECTRAL, out);
}

lip_status lip_frobenius_conv2d_create(lip_context *ctx, const lip_conv2d_config *config, const char *name,
                                       lip_layer **out) {
    return create(ctx, &frobenius_conv_vtable, config, name, KIND_FROBENIUS, out);
}

lip_status lip_conv2d_transpose_create(lip_context *ctx, const lip_conv2d_config *config, const char *name,
                                       lip_layer **out) {
    return create(ctx, &conv_transpose_vtable, config, name, KIND_TRANSPOSE, out);
}

lip_status lip_spectral_conv2d_transpose_create(lip_context *ctx, const lip_conv2d_config *config, const char *name,
                                                lip_layer **out) {
    return create(ctx, &spectral_conv_transpose_vtable, config, name, KIND_SPECTRAL_TRANSPOSE, out);
}

lip_status lip_conv2d_internals_get(lip_layer *layer, lip_conv2d_internals *out) {
    if (!layer || !out) return LIP_ERR_NULL;
    const lip_layer_vtable *vt = layer->vt;
    LIP_CHECK(layer->ctx,
              vt == &conv_vtable || vt == &spectral_conv_vtable || vt == &frobenius_conv_vtable ||
                  vt == &conv_transpose_vtable || vt == &spectral_conv_transpose_vtable,
              LIP_ERR_INVALID_ARGUMENT, "lip_conv2d_internals_get: '%s' is a %s, not a conv layer", layer->name,
              vt->type);
    LIP_CHECK(layer->ctx, layer->built, LIP_ERR_INVALID_ARGUMENT, "%s '%s' is not built", vt->type, layer->name);
    conv_priv *p = layer->priv;
    memset(out, 0, sizeof *out);
    out->w_bar = effective_kernel(layer);
    out->grad_w_bar = p->grad_w_bar;
    out->coef = p->coef;
    if (is_spectral(p->kind)) {
        out->sigma = p->rko.sigma;
        out->spectral_state = p->rko.pi_state;
        out->bjorck_state = p->rko.bj_state;
    }
    return LIP_OK;
}

lip_status lip_conv2d_geometry_get(lip_layer *layer, lip_conv2d_geom *geom, int *transposed) {
    if (!layer || !geom || !transposed) return LIP_ERR_NULL;
    lip_conv2d_internals in;
    LIP_TRY(lip_conv2d_internals_get(layer, &in)); /* checks the family and that it is built */
    const conv_priv *p = layer->priv;
    *geom = p->geom;
    *transposed = is_transposed(p->kind);
    return LIP_OK;
}
