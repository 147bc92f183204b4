/* lipcl — pooling layers on NHWC images (scaled L2-norm and average, their global versions, max):
 * settings checks, output shapes, Lipschitz bounds, launches of kernels/pooling.cl, and the layers. */
#include <math.h>
#include <stdio.h>

#include "layers/layer.h"
#include "layers/pooling.h"

/* Work-group size of every pooling launch and the most groups launched (grid-stride kernels). */
#define POOL_LOCAL 64
#define POOL_MAX_GROUPS 131072

/* A 1-D grid-stride launch over n items. */
static lip_status launch1d(lip_context *ctx, cl_kernel k, const char *label, size_t n, size_t nargs,
                           const lip_karg *args) {
    size_t groups = (n + POOL_LOCAL - 1) / POOL_LOCAL;
    if (groups > POOL_MAX_GROUPS) groups = POOL_MAX_GROUPS;
    if (groups == 0) groups = 1;
    size_t global = groups * POOL_LOCAL, local = POOL_LOCAL;
    return lip_launch(ctx, k, label, 1, &global, &local, nargs, args);
}

lip_pool2d_params lip_pool2d_params_default(lip_pool_kind kind) {
    lip_pool2d_params p;
    p.kind = kind;
    p.pool_h = p.pool_w = 2;
    p.stride_h = p.stride_w = 0;
    p.padding = LIP_POOL_VALID;
    p.k_coef_lip = 1.0f;
    p.eps_grad_sqrt = 1e-6f;
    return p;
}

const char *lip_pool2d_name(lip_pool_kind kind) {
    switch (kind) {
    case LIP_POOL_SCALED_L2: return "ScaledL2NormPooling2D";
    case LIP_POOL_SCALED_AVG: return "ScaledAveragePooling2D";
    case LIP_POOL_SCALED_GLOBAL_L2: return "ScaledGlobalL2NormPooling2D";
    case LIP_POOL_SCALED_GLOBAL_AVG: return "ScaledGlobalAveragePooling2D";
    case LIP_POOL_MAX: return "MaxPooling2D";
    }
    return "pooling";
}

/* The kinds that pool the whole image into (batch, C). */
static int is_global(lip_pool_kind kind) {
    return kind == LIP_POOL_SCALED_GLOBAL_L2 || kind == LIP_POOL_SCALED_GLOBAL_AVG;
}

/* The kinds with deel-lip's ε square-root gradient. */
static int is_l2(lip_pool_kind kind) { return kind == LIP_POOL_SCALED_L2 || kind == LIP_POOL_SCALED_GLOBAL_L2; }

/* The resolved geometry of one op. */
typedef struct pool_geom {
    size_t b, h, w, c;        /* input */
    size_t oh, ow;            /* output (local kinds) */
    size_t ph, pw, sh, sw;    /* window and strides (0 strides resolved) */
    size_t pad_t, pad_l;      /* padding before (TF 'same') */
} pool_geom;

/* Check the settings (not the shapes). */
static lip_status check_params(lip_context *ctx, const lip_pool2d_params *p) {
    LIP_CHECK(ctx, p, LIP_ERR_NULL, "pooling: params is NULL");
    const char *op = lip_pool2d_name(p->kind);
    LIP_CHECK(ctx, (int)p->kind >= (int)LIP_POOL_SCALED_L2 && (int)p->kind <= (int)LIP_POOL_MAX, LIP_ERR_INVALID_ARGUMENT,
              "pooling: unknown kind %d", (int)p->kind);
    if (p->kind != LIP_POOL_MAX)
        LIP_CHECK(ctx, isfinite(p->k_coef_lip) && p->k_coef_lip > 0.0f, LIP_ERR_INVALID_ARGUMENT,
                  "%s: k_coef_lip must be finite and > 0 (got %g)", op, (double)p->k_coef_lip);
    if (is_l2(p->kind))
        LIP_CHECK(ctx, isfinite(p->eps_grad_sqrt) && p->eps_grad_sqrt >= 0.0f, LIP_ERR_INVALID_ARGUMENT,
                  "%s: eps_grad_sqrt must be finite and >= 0 (got %g)", op, (double)p->eps_grad_sqrt);
    if (is_global(p->kind)) return LIP_OK;
    LIP_CHECK(ctx, p->pool_h >= 1 && p->pool_w >= 1, LIP_ERR_INVALID_ARGUMENT, "%s: pool size %zux%zu must be >= 1",
              op, p->pool_h, p->pool_w);
    LIP_CHECK(ctx, p->padding == LIP_POOL_VALID || p->padding == LIP_POOL_SAME, LIP_ERR_INVALID_ARGUMENT,
              "%s: unknown padding %d", op, (int)p->padding);
    size_t sh = p->stride_h ? p->stride_h : p->pool_h, sw = p->stride_w ? p->stride_w : p->pool_w;
    if (p->kind != LIP_POOL_MAX) {
        /* deel-lip raises on these: overlapping or padded windows would break the k bound. */
        LIP_CHECK(ctx, sh == p->pool_h && sw == p->pool_w, LIP_ERR_UNSUPPORTED,
                  "%s: strides %zux%zu must equal the pool size %zux%zu (non-overlapping windows, as deel-lip)", op,
                  sh, sw, p->pool_h, p->pool_w);
        LIP_CHECK(ctx, p->padding == LIP_POOL_VALID, LIP_ERR_UNSUPPORTED,
                  "%s: only padding 'valid' is supported (as deel-lip)", op);
    }
    return LIP_OK;
}

/* TF output size and padding before, along one axis. */
static void axis_geom(size_t n, size_t k, size_t s, lip_pool_padding padding, size_t *out, size_t *pad_before) {
    if (padding == LIP_POOL_SAME) {
        size_t o = (n + s - 1) / s;
        size_t need = (o - 1) * s + k;
        size_t total = need > n ? need - n : 0;
        *out = o;
        *pad_before = total / 2;
    } else {
        *out = n >= k ? (n - k) / s + 1 : 0;
        *pad_before = 0;
    }
}

/* Settings and the input shape → geometry. */
static lip_status geometry(lip_context *ctx, const lip_pool2d_params *p, int ndim, const size_t *in, pool_geom *g) {
    LIP_TRY(check_params(ctx, p));
    const char *op = lip_pool2d_name(p->kind);
    LIP_CHECK(ctx, in, LIP_ERR_NULL, "%s: input shape is NULL", op);
    LIP_CHECK(ctx, ndim == 4, LIP_ERR_SHAPE, "%s: the input must be 4-D NHWC (batch, height, width, channels), got %d-D",
              op, ndim);
    g->b = in[0];
    g->h = in[1];
    g->w = in[2];
    g->c = in[3];
    g->oh = g->ow = 1;
    g->ph = g->pw = g->sh = g->sw = 1;
    g->pad_t = g->pad_l = 0;
    if (is_global(p->kind)) return LIP_OK;
    g->ph = p->pool_h;
    g->pw = p->pool_w;
    g->sh = p->stride_h ? p->stride_h : p->pool_h;
    g->sw = p->stride_w ? p->stride_w : p->pool_w;
    if (p->padding == LIP_POOL_VALID)
        LIP_CHECK(ctx, g->ph <= g->h && g->pw <= g->w, LIP_ERR_SHAPE,
                  "%s: pool %zux%zu larger than the input %zux%zu (padding 'valid')", op, g->ph, g->pw, g->h, g->w);
    axis_geom(g->h, g->ph, g->sh, p->padding, &g->oh, &g->pad_t);
    axis_geom(g->w, g->pw, g->sw, p->padding, &g->ow, &g->pad_l);
    return LIP_OK;
}

lip_status lip_pool2d_output_shape(lip_context *ctx, const lip_pool2d_params *p, int ndim, const size_t *in,
                                   int *out_ndim, size_t *out) {
    if (!ctx) return LIP_ERR_NULL;
    pool_geom g = {0};
    LIP_TRY(geometry(ctx, p, ndim, in, &g));
    LIP_CHECK(ctx, out_ndim && out, LIP_ERR_NULL, "%s: output shape pointer is NULL", lip_pool2d_name(p->kind));
    if (is_global(p->kind)) {
        *out_ndim = 2;
        out[0] = g.b;
        out[1] = g.c;
    } else {
        *out_ndim = 4;
        out[0] = g.b;
        out[1] = g.oh;
        out[2] = g.ow;
        out[3] = g.c;
    }
    return LIP_OK;
}

double lip_pool2d_lipschitz_bound(const lip_pool2d_params *p) {
    if (!p) return NAN;
    if (p->kind != LIP_POOL_MAX) return (double)p->k_coef_lip;
    size_t sh = p->stride_h ? p->stride_h : p->pool_h, sw = p->stride_w ? p->stride_w : p->pool_w;
    if (!sh || !sw) return NAN;
    size_t nh = (p->pool_h + sh - 1) / sh, nw = (p->pool_w + sw - 1) / sw;
    if (nh < 1) nh = 1;
    if (nw < 1) nw = 1;
    return sqrt((double)(nh * nw));
}

/* x is 4-D float32 and `t` (named `tname`) has exactly the shape `want` of `want_ndim` axes. */
static lip_status check_tensor_shape(lip_context *ctx, const char *op, const char *tname, const lip_tensor *t,
                                     int want_ndim, const size_t *want, const char *why) {
    char what[96];
    snprintf(what, sizeof what, "%s: %s", op, tname);
    LIP_TRY(lip_check_tensor(ctx, t, LIP_FLOAT32, what));
    int same = t->ndim == want_ndim;
    for (int i = 0; same && i < want_ndim; i++) same = t->shape[i] == want[i];
    if (!same) {
        char ts[64], ws[64];
        size_t used = (size_t)snprintf(ws, sizeof ws, "(");
        for (int i = 0; i < want_ndim && used < sizeof ws; i++)
            used += (size_t)snprintf(ws + used, sizeof ws - used, i ? ", %zu" : "%zu", want[i]);
        if (used < sizeof ws) snprintf(ws + used, sizeof ws - used, ")");
        return lip_set_error(ctx, LIP_ERR_SHAPE, "%s: %s %s must be %s (%s)", op, tname,
                             lip_shape_string(t, ts, sizeof ts), ws, why);
    }
    return LIP_OK;
}

/* Checks shared by forward and backward: x and the pooled tensor (y or dy). */
static lip_status check_io(lip_context *ctx, const lip_pool2d_params *p, const lip_tensor *x, const char *yname,
                           const lip_tensor *y, pool_geom *g) {
    LIP_CHECK(ctx, p, LIP_ERR_NULL, "pooling: params is NULL");
    const char *op = lip_pool2d_name(p->kind);
    char what[96];
    snprintf(what, sizeof what, "%s: x", op);
    LIP_TRY(lip_check_tensor(ctx, x, LIP_FLOAT32, what));
    LIP_TRY(geometry(ctx, p, x->ndim, x->shape, g));
    int ondim;
    size_t oshape[4];
    LIP_TRY(lip_pool2d_output_shape(ctx, p, x->ndim, x->shape, &ondim, oshape));
    char xs[64], why[96];
    snprintf(why, sizeof why, "the pooled shape of x %s", lip_shape_string(x, xs, sizeof xs));
    return check_tensor_shape(ctx, op, yname, y, ondim, oshape, why);
}

lip_status lip_pool2d_forward(lip_context *ctx, const lip_pool2d_params *p, const lip_tensor *x, lip_tensor *y) {
    if (!ctx) return LIP_ERR_NULL;
    pool_geom g = {0};
    LIP_TRY(check_io(ctx, p, x, "y", y, &g));
    const char *op = lip_pool2d_name(p->kind);
    LIP_CHECK(ctx, y->mem != x->mem, LIP_ERR_INVALID_ARGUMENT, "%s: y must not be the same tensor as x", op);
    cl_uint x_off = (cl_uint)x->offset, y_off = (cl_uint)y->offset, count = (cl_uint)y->count;
    cl_int H = (cl_int)g.h, W = (cl_int)g.w, C = (cl_int)g.c, OH = (cl_int)g.oh, OW = (cl_int)g.ow;
    cl_int ph = (cl_int)g.ph, pw = (cl_int)g.pw, sh = (cl_int)g.sh, sw = (cl_int)g.sw;
    cl_int pad_t = (cl_int)g.pad_t, pad_l = (cl_int)g.pad_l;
    double k = p->k_coef_lip, area = (double)(g.ph * g.pw), hw = (double)(g.h * g.w);
    cl_uint uhw = (cl_uint)(g.h * g.w), uc = (cl_uint)g.c;
    cl_kernel kern;
    switch (p->kind) {
    case LIP_POOL_SCALED_AVG: {
        cl_float coef = (cl_float)(k * sqrt(area) / area);
        LIP_TRY(lip_kernel_get(ctx, "pooling", "lip_pooling_avg", NULL, &kern));
        return launch1d(ctx, kern, "pooling/scaled_avg", count,
                        LIP_KARGS(LIP_KARG(x->mem), LIP_KARG(x_off), LIP_KARG(y->mem), LIP_KARG(y_off), LIP_KARG(H),
                                  LIP_KARG(W), LIP_KARG(C), LIP_KARG(OH), LIP_KARG(OW), LIP_KARG(ph), LIP_KARG(pw),
                                  LIP_KARG(sh), LIP_KARG(sw), LIP_KARG(count), LIP_KARG(coef)));
    }
    case LIP_POOL_SCALED_L2: {
        cl_float farea = (cl_float)area, c_out = (cl_float)(sqrt(area) * k);
        LIP_TRY(lip_kernel_get(ctx, "pooling", "lip_pooling_l2", NULL, &kern));
        return launch1d(ctx, kern, "pooling/scaled_l2", count,
                        LIP_KARGS(LIP_KARG(x->mem), LIP_KARG(x_off), LIP_KARG(y->mem), LIP_KARG(y_off), LIP_KARG(H),
                                  LIP_KARG(W), LIP_KARG(C), LIP_KARG(OH), LIP_KARG(OW), LIP_KARG(ph), LIP_KARG(pw),
                                  LIP_KARG(sh), LIP_KARG(sw), LIP_KARG(count), LIP_KARG(farea), LIP_KARG(c_out)));
    }
    case LIP_POOL_MAX:
        LIP_TRY(lip_kernel_get(ctx, "pooling", "lip_pooling_max", NULL, &kern));
        return launch1d(ctx, kern, "pooling/max", count,
                        LIP_KARGS(LIP_KARG(x->mem), LIP_KARG(x_off), LIP_KARG(y->mem), LIP_KARG(y_off), LIP_KARG(H),
                                  LIP_KARG(W), LIP_KARG(C), LIP_KARG(OH), LIP_KARG(OW), LIP_KARG(ph), LIP_KARG(pw),
                                  LIP_KARG(sh), LIP_KARG(sw), LIP_KARG(pad_t), LIP_KARG(pad_l), LIP_KARG(count)));
    case LIP_POOL_SCALED_GLOBAL_AVG: {
        cl_float coef = (cl_float)(k / sqrt(hw));
        LIP_TRY(lip_kernel_get(ctx, "pooling", "lip_pooling_global_avg", NULL, &kern));
        return launch1d(ctx, kern, "pooling/scaled_global_avg", count,
                        LIP_KARGS(LIP_KARG(x->mem), LIP_KARG(x_off), LIP_KARG(y->mem), LIP_KARG(y_off),
                                  LIP_KARG(uhw), LIP_KARG(uc), LIP_KARG(count), LIP_KARG(coef)));
    }
    case LIP_POOL_SCALED_GLOBAL_L2: {
        cl_float kf = (cl_float)k;
        LIP_TRY(lip_kernel_get(ctx, "pooling", "lip_pooling_global_l2", NULL, &kern));
        return launch1d(ctx, kern, "pooling/scaled_global_l2", count,
                        LIP_KARGS(LIP_KARG(x->mem), LIP_KARG(x_off), LIP_KARG(y->mem), LIP_KARG(y_off),
                                  LIP_KARG(uhw), LIP_KARG(uc), LIP_KARG(count), LIP_KARG(kf)));
    }
    }
    return lip_set_error(ctx, LIP_ERR_INTERNAL, "pooling: unhandled kind %d", (int)p->kind);
}

lip_status lip_pool2d_backward_y(lip_context *ctx, const lip_pool2d_params *p, const lip_tensor *x,
                                const lip_tensor *y,
                               const lip_tensor *dy, lip_tensor *dx) {
    if (!ctx) return LIP_ERR_NULL;
    pool_geom g = {0};
    LIP_TRY(check_io(ctx, p, x, "dy", dy, &g));
    const char *op = lip_pool2d_name(p->kind);
    char xs[64], why[96];
    snprintf(why, sizeof why, "the shape of x %s", lip_shape_string(x, xs, sizeof xs));
    LIP_TRY(check_tensor_shape(ctx, op, "dx", dx, x->ndim, x->shape, why));
    LIP_CHECK(ctx, dx->mem != x->mem && dx->mem != dy->mem, LIP_ERR_INVALID_ARGUMENT,
              "%s: dx must not be the same tensor as x or dy", op);
    cl_uint x_off = (cl_uint)x->offset, dy_off = (cl_uint)dy->offset, dx_off = (cl_uint)dx->offset;
    cl_uint in_count = (cl_uint)dx->count, out_count = (cl_uint)dy->count;
    cl_int H = (cl_int)g.h, W = (cl_int)g.w, C = (cl_int)g.c, OH = (cl_int)g.oh, OW = (cl_int)g.ow;
    cl_int ph = (cl_int)g.ph, pw = (cl_int)g.pw, sh = (cl_int)g.sh, sw = (cl_int)g.sw;
    cl_int pad_t = (cl_int)g.pad_t, pad_l = (cl_int)g.pad_l;
    double k = p->k_coef_lip, area = (double)(g.ph * g.pw), hw = (double)(g.h * g.w);
    cl_uint uhw = (cl_uint)(g.h * g.w), uc = (cl_uint)g.c;
    cl_float eps = p->eps_grad_sqrt;
    cl_kernel kern;
    switch (p->kind) {
    case LIP_POOL_SCALED_AVG: {
        cl_float coef = (cl_float)(k * sqrt(area) / area);
        LIP_TRY(lip_kernel_get(ctx, "pooling", "lip_pooling_avg_backward", NULL, &kern));
        return launch1d(ctx, kern, "pooling/scaled_avg_backward", in_count,
                        LIP_KARGS(LIP_KARG(dy->mem), LIP_KARG(dy_off), LIP_KARG(dx->mem), LIP_KARG(dx_off),
                                  LIP_KARG(H), LIP_KARG(W), LIP_KARG(C), LIP_KARG(OH), LIP_KARG(OW), LIP_KARG(ph),
                                  LIP_KARG(pw), LIP_KARG(sh), LIP_KARG(sw), LIP_KARG(in_count), LIP_KARG(coef)));
    }
    case LIP_POOL_SCALED_L2: {
        cl_float farea = (cl_float)area, c_out = (cl_float)(sqrt(area) * k);
        if (y) {
            LIP_TRY(check_tensor_shape(ctx, op, "y", y, dy->ndim, dy->shape, "the shape of dy"));
            cl_uint y_off = (cl_uint)y->offset;
            if (g.oh * g.ph != g.h || g.ow * g.pw != g.w) LIP_TRY(lip_tensor_fill(dx, 0.0)); /* rows in no window */
            LIP_TRY(lip_kernel_get(ctx, "pooling", "lip_pooling_l2_backward_y", NULL, &kern));
            return launch1d(ctx, kern, "pooling/scaled_l2_backward", out_count,
                            LIP_KARGS(LIP_KARG(x->mem), LIP_KARG(x_off), LIP_KARG(y->mem), LIP_KARG(y_off),
                                      LIP_KARG(dy->mem), LIP_KARG(dy_off), LIP_KARG(dx->mem), LIP_KARG(dx_off),
                                      LIP_KARG(H), LIP_KARG(W), LIP_KARG(C), LIP_KARG(OH), LIP_KARG(OW), LIP_KARG(ph),
                                      LIP_KARG(pw), LIP_KARG(out_count), LIP_KARG(farea), LIP_KARG(c_out),
                                      LIP_KARG(eps)));
        }
        LIP_TRY(lip_kernel_get(ctx, "pooling", "lip_pooling_l2_backward", NULL, &kern));
        return launch1d(ctx, kern, "pooling/scaled_l2_backward", in_count,
                        LIP_KARGS(LIP_KARG(x->mem), LIP_KARG(x_off), LIP_KARG(dy->mem), LIP_KARG(dy_off),
                                  LIP_KARG(dx->mem), LIP_KARG(dx_off), LIP_KARG(H), LIP_KARG(W), LIP_KARG(C),
                                  LIP_KARG(OH), LIP_KARG(OW), LIP_KARG(ph), LIP_KARG(pw), LIP_KARG(sh), LIP_KARG(sw),
                                  LIP_KARG(in_count), LIP_KARG(farea), LIP_KARG(c_out), LIP_KARG(eps)));
    }
    case LIP_POOL_MAX:
        LIP_TRY(lip_kernel_get(ctx, "pooling", "lip_pooling_max_backward", NULL, &kern));
        return launch1d(ctx, kern, "pooling/max_backward", in_count,
                        LIP_KARGS(LIP_KARG(x->mem), LIP_KARG(x_off), LIP_KARG(dy->mem), LIP_KARG(dy_off),
                                  LIP_KARG(dx->mem), LIP_KARG(dx_off), LIP_KARG(H), LIP_KARG(W), LIP_KARG(C),
                                  LIP_KARG(OH), LIP_KARG(OW), LIP_KARG(ph), LIP_KARG(pw), LIP_KARG(sh), LIP_KARG(sw),
                                  LIP_KARG(pad_t), LIP_KARG(pad_l), LIP_KARG(in_count)));
    case LIP_POOL_SCALED_GLOBAL_AVG: {
        cl_float coef = (cl_float)(k / sqrt(hw));
        LIP_TRY(lip_kernel_get(ctx, "pooling", "lip_pooling_global_avg_backward", NULL, &kern));
        return launch1d(ctx, kern, "pooling/scaled_global_avg_backward", in_count,
                        LIP_KARGS(LIP_KARG(dy->mem), LIP_KARG(dy_off), LIP_KARG(dx->mem), LIP_KARG(dx_off),
                                  LIP_KARG(uhw), LIP_KARG(uc), LIP_KARG(in_count), LIP_KARG(coef)));
    }
    case LIP_POOL_SCALED_GLOBAL_L2: {
        cl_float kf = (cl_float)k;
        LIP_TRY(lip_kernel_get(ctx, "pooling", "lip_pooling_global_l2_backward", NULL, &kern));
        return launch1d(ctx, kern, "pooling/scaled_global_l2_backward", out_count,
                        LIP_KARGS(LIP_KARG(x->mem), LIP_KARG(x_off), LIP_KARG(dy->mem), LIP_KARG(dy_off),
                                  LIP_KARG(dx->mem), LIP_KARG(dx_off), LIP_KARG(uhw), LIP_KARG(uc),
                                  LIP_KARG(out_count), LIP_KARG(kf), LIP_KARG(eps)));
    }
    }
    return lip_set_error(ctx, LIP_ERR_INTERNAL, "pooling: unhandled kind %d", (int)p->kind);
}

lip_status lip_pool2d_backward(lip_context *ctx, const lip_pool2d_params *p, const lip_tensor *x,
                               const lip_tensor *dy, lip_tensor *dx) {
    return lip_pool2d_backward_y(ctx, p, x, NULL, dy, dx);
}

/* ---- layers: ScaledL2NormPooling2D, ScaledAveragePooling2D, MaxPooling2D and the global ones ----- */

typedef struct pool_layer_priv {
    lip_pool2d_params p;
} pool_layer_priv;

lip_pool2d_config lip_pool2d_config_default(void) {
    lip_pool2d_config c;
    c.pool_h = c.pool_w = 2;
    c.stride_h = c.stride_w = 0;
    c.padding = LIP_PADDING_VALID;
    c.k_coef_lip = 1.0f;
    c.eps_grad_sqrt = 1e-6f;
    return c;
}

/* The image (H, W, C) → the per-sample output shape. Everything the op would refuse is checked
 * here first, so that the message names the layer. */
static lip_status pool_layer_init(lip_layer *l) {
    lip_context *ctx = l->ctx;
    const pool_layer_priv *q = l->priv;
    const char *type = l->vt->type;
    LIP_CHECK(ctx, l->in_ndim == 3, LIP_ERR_SHAPE,
              "%s '%s': the input must be an image (height, width, channels), got a per-sample rank of %d", type,
              l->name, l->in_ndim);
    size_t h = l->in_shape[0], w = l->in_shape[1];
    if (!is_global(q->p.kind) && q->p.padding == LIP_POOL_VALID)
        LIP_CHECK(ctx, q->p.pool_h <= h && q->p.pool_w <= w, LIP_ERR_SHAPE,
                  "%s '%s': window %zux%zu larger than input %zux%zu (padding 'valid')", type, l->name, q->p.pool_h,
                  q->p.pool_w, h, w);
    size_t in4[4] = {1, h, w, l->in_shape[2]}, out4[4];
    int ond = 0;
    LIP_TRY(lip_pool2d_output_shape(ctx, &q->p, 4, in4, &ond, out4));
    l->out_ndim = ond - 1;
    for (int i = 1; i < ond; i++) l->out_shape[i - 1] = out4[i];
    return LIP_OK;
}

static lip_status pool_layer_forward(lip_layer *l, const lip_tensor *x, lip_tensor *y, size_t batch) {
    (void)batch;
    const pool_layer_priv *q = l->priv;
    return lip_pool2d_forward(l->ctx, &q->p, x, y);
}

static lip_status pool_layer_backward(lip_layer *l, const lip_tensor *x, const lip_tensor *y, const lip_tensor *dy,
                                      lip_tensor *dx, size_t batch, int accumulate) {
    (void)y, (void)batch, (void)accumulate; /* no parameters */
    const pool_layer_priv *q = l->priv;
    return dx ? lip_pool2d_backward_y(l->ctx, &q->p, x, y, dy, dx) : LIP_OK;
}

static lip_status pool_layer_lipschitz_bound(const lip_layer *l, double *bound, int *per_neuron) {
    *bound = lip_pool2d_lipschitz_bound(&((const pool_layer_priv *)l->priv)->p);
    *per_neuron = 0;
    return LIP_OK;
}

static lip_status pool_layer_get_config(const lip_layer *l, lip_layer_config *cfg) {
    const lip_pool2d_params *p = &((const pool_layer_priv *)l->priv)->p;
    lip_context *ctx = l->ctx;
    LIP_TRY(lip_layer_config_add(ctx, cfg, "pool_h", (double)p->pool_h));
    LIP_TRY(lip_layer_config_add(ctx, cfg, "pool_w", (double)p->pool_w));
    LIP_TRY(lip_layer_config_add(ctx, cfg, "stride_h", (double)p->stride_h));
    LIP_TRY(lip_layer_config_add(ctx, cfg, "stride_w", (double)p->stride_w));
    LIP_TRY(lip_layer_config_add(ctx, cfg, "padding", p->padding == LIP_POOL_SAME ? LIP_PADDING_SAME : LIP_PADDING_VALID));
    LIP_TRY(lip_layer_config_add(ctx, cfg, "k_coef_lip", p->k_coef_lip));
    return lip_layer_config_add(ctx, cfg, "eps_grad_sqrt", p->eps_grad_sqrt);
}

/* Sequential(k_coef_lip): the scaled pools read k at every forward. */
static lip_status pool_layer_set_k(lip_layer *l, float k) {
    ((pool_layer_priv *)l->priv)->p.k_coef_lip = k;
    return LIP_OK;
}

/* Pools have no weights: the export is a fresh copy (deel-lip keeps its scaled pools as they are). */
static lip_status pool_layer_vanilla_export(lip_layer *l, lip_layer **out) {
    return lip_layer_export_copy(l, sizeof(pool_layer_priv), out);
}

#define POOL_VTABLE(var, kind, set_k)                                                                             \
    static const lip_layer_vtable var = {.type = kind,                                                            \
                                         .init = pool_layer_init,                                                 \
                                         .forward = pool_layer_forward,                                           \
                                         .backward = pool_layer_backward,                                         \
                                         .lipschitz_bound = pool_layer_lipschitz_bound,                           \
                                         .get_config = pool_layer_get_config,                                     \
                                         .vanilla_export = pool_layer_vanilla_export,                             \
                                         .set_k_coef_lip = set_k}
POOL_VTABLE(scaled_l2_vtable, "ScaledL2NormPooling2D", pool_layer_set_k);
POOL_VTABLE(scaled_avg_vtable, "ScaledAveragePooling2D", pool_layer_set_k);
POOL_VTABLE(max_vtable, "MaxPooling2D", NULL); /* a Keras layer in deel-lip, not a LipschitzLayer */
POOL_VTABLE(scaled_global_l2_vtable, "ScaledGlobalL2NormPooling2D", pool_layer_set_k);
POOL_VTABLE(scaled_global_avg_vtable, "ScaledGlobalAveragePooling2D", pool_layer_set_k);
#undef POOL_VTABLE

/* Check the settings with the layer named, then allocate it. */
static lip_status pool_layer_create(lip_context *ctx, const lip_layer_vtable *vt, const lip_pool2d_params *p,
                                    const char *name, lip_layer **out) {
    const char *type = vt->type, *n = name ? name : "";
    if (p->kind != LIP_POOL_MAX)
        LIP_CHECK(ctx, isfinite(p->k_coef_lip) && p->k_coef_lip > 0.0f, LIP_ERR_INVALID_ARGUMENT,
                  "%s '%s': k_coef_lip must be finite and > 0, got %g", type, n, (double)p->k_coef_lip);
    if (is_l2(p->kind))
        LIP_CHECK(ctx, isfinite(p->eps_grad_sqrt) && p->eps_grad_sqrt >= 0.0f, LIP_ERR_INVALID_ARGUMENT,
                  "%s '%s': eps_grad_sqrt must be finite and >= 0, got %g", type, n, (double)p->eps_grad_sqrt);
    if (!is_global(p->kind)) {
        LIP_CHECK(ctx, p->pool_h >= 1 && p->pool_w >= 1, LIP_ERR_INVALID_ARGUMENT,
                  "%s '%s': pool size %zux%zu must be >= 1", type, n, p->pool_h, p->pool_w);
        size_t sh = p->stride_h ? p->stride_h : p->pool_h, sw = p->stride_w ? p->stride_w : p->pool_w;
        if (p->kind != LIP_POOL_MAX) {
            LIP_CHECK(ctx, sh == p->pool_h && sw == p->pool_w, LIP_ERR_UNSUPPORTED,
                      "%s '%s': strides %zux%zu must equal the pool size %zux%zu (non-overlapping windows keep the "
                      "layer k-Lipschitz; deel-lip refuses the same)",
                      type, n, sh, sw, p->pool_h, p->pool_w);
            LIP_CHECK(ctx, p->padding == LIP_POOL_VALID, LIP_ERR_UNSUPPORTED,
                      "%s '%s': only padding VALID is supported (padded windows would break the k bound; as deel-lip)",
                      type, n);
        }
    }
    LIP_TRY(lip_layer_alloc(ctx, vt, name, sizeof(pool_layer_priv), out));
    ((pool_layer_priv *)(*out)->priv)->p = *p;
    return LIP_OK;
}

/* A local pooling layer from the public config. */
static lip_status local_pool_create(lip_context *ctx, const lip_layer_vtable *vt, lip_pool_kind kind,
                                    const lip_pool2d_config *config, const char *name, lip_layer **out) {
    if (!ctx) return LIP_ERR_NULL;
    LIP_CHECK(ctx, out, LIP_ERR_NULL, "%s: out is NULL", vt->type);
    *out = NULL;
    LIP_CHECK(ctx, config, LIP_ERR_NULL, "%s '%s': config is NULL (use lip_pool2d_config_default)", vt->type,
              name ? name : "");
    LIP_CHECK(ctx, config->padding == LIP_PADDING_SAME || config->padding == LIP_PADDING_VALID,
              LIP_ERR_INVALID_ARGUMENT, "%s '%s': unknown padding %d", vt->type, name ? name : "",
              (int)config->padding);
    lip_pool2d_params p = lip_pool2d_params_default(kind);
    p.pool_h = config->pool_h;
    p.pool_w = config->pool_w;
    p.stride_h = config->stride_h;
    p.stride_w = config->stride_w;
    p.padding = config->padding == LIP_PADDING_SAME ? LIP_POOL_SAME : LIP_POOL_VALID;
    p.k_coef_lip = config->k_coef_lip;
    p.eps_grad_sqrt = config->eps_grad_sqrt;
    return pool_layer_create(ctx, vt, &p, name, out);
}

lip_status lip_scaled_l2norm_pooling2d_create(lip_context *ctx, const lip_pool2d_config *config, const char *name,
                                              lip_layer **out) {
    return local_pool_create(ctx, &scaled_l2_vtable, LIP_POOL_SCALED_L2, config, name, out);
}

lip_status lip_scaled_average_pooling2d_create(lip_context *ctx, const lip_pool2d_config *config, const char *name,
                                               lip_layer **out) {
    return local_pool_create(ctx, &scaled_avg_vtable, LIP_POOL_SCALED_AVG, config, name, out);
}

lip_status lip_max_pooling2d_create(lip_context *ctx, const lip_pool2d_config *config, const char *name,
                                    lip_layer **out) {
    return local_pool_create(ctx, &max_vtable, LIP_POOL_MAX, config, name, out);
}

lip_status lip_scaled_global_l2norm_pooling2d_create(lip_context *ctx, float k_coef_lip, float eps_grad_sqrt,
                                                     const char *name, lip_layer **out) {
    if (!ctx) return LIP_ERR_NULL;
    LIP_CHECK(ctx, out, LIP_ERR_NULL, "%s: out is NULL", scaled_global_l2_vtable.type);
    *out = NULL;
    lip_pool2d_params p = lip_pool2d_params_default(LIP_POOL_SCALED_GLOBAL_L2);
    p.k_coef_lip = k_coef_lip;
    p.eps_grad_sqrt = eps_grad_sqrt;
    return pool_layer_create(ctx, &scaled_global_l2_vtable, &p, name, out);
}

lip_status lip_scaled_global_average_pooling2d_create(lip_context *ctx, float k_coef_lip, const char *name,
                                                      lip_layer **out) {
    if (!ctx) return LIP_ERR_NULL;
    LIP_CHECK(ctx, out, LIP_ERR_NULL, "%s: out is NULL", scaled_global_avg_vtable.type);
    *out = NULL;
    lip_pool2d_params p = lip_pool2d_params_default(LIP_POOL_SCALED_GLOBAL_AVG);
    p.k_coef_lip = k_coef_lip;
    return pool_layer_create(ctx, &scaled_global_avg_vtable, &p, name, out);
}
