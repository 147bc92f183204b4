/* lipcl — 2-D convolution ops on NHWC images (forward, backward data, backward filter, every pad mode):
 * geometry, argument checks, and the two algorithms of kernels/conv2d.cl (direct, im2col + lip_gemm). */
#define _POSIX_C_SOURCE 200809L
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tensor/conv2d.h"

/* Work-group size of every conv launch and the most groups launched (grid-stride kernels). */
#define CONV_LOCAL 64
#define CONV_MAX_GROUPS 65536
/* The im2col column buffer of one chunk stays under this (rows of one image at least)... */
#define CONV_WORKSPACE_BYTES ((size_t)64 << 20)
/* ... and under this on CPU devices, where a cache-sized chunk is faster (doc/tuning.md). */
#define CONV_CHUNK_BYTES_CPU ((size_t)1 << 20)
/* Direct backward filter: slices of output rows so that about this many work-items run, each slice
 * at least CONV_FILTER_MIN_ROWS rows; the partial sums (slices × kernel elements) stay ≤ 16 Mi floats. */
#define CONV_FILTER_TARGET_ITEMS 16384
#define CONV_FILTER_MIN_ROWS 32
#define CONV_FILTER_MAX_PART ((size_t)16 << 20)

static const char *pad_mode_name(lip_pad_mode m) {
    switch (m) {
    case LIP_PAD_ZEROS: return "zeros";
    case LIP_PAD_REFLECT: return "reflect";
    case LIP_PAD_SYMMETRIC: return "symmetric";
    case LIP_PAD_CIRCULAR: return "circular";
    }
    return "unknown";
}

static const char *algo_name(lip_conv2d_algo a) { return a == LIP_CONV_ALGO_IM2COL ? "im2col" : "direct"; }

/* ---- geometry ------------------------------------------------------------------------------ */

/* Output size and padding before along one axis (see lip_conv2d_geom_make). */
static void axis_geom(size_t n, size_t k, size_t s, lip_padding padding, lip_pad_mode mode, size_t *out,
                      size_t *pad_before) {
    if (padding == LIP_PADDING_VALID) {
        *out = (n - k) / s + 1; /* k ≤ n checked by the caller */
        *pad_before = 0;
    } else if (mode == LIP_PAD_ZEROS) {
        size_t o = (n + s - 1) / s, need = (o - 1) * s + k;
        *out = o;
        *pad_before = need > n ? (need - n) / 2 : 0;
    } else {
        size_t p = k / 2;
        *out = (n + 2 * p - k) / s + 1;
        *pad_before = p;
    }
}

/* The most a pad may reach past the image for a mode: one reflection must land inside. */
static size_t pad_limit(size_t n, lip_pad_mode mode) { return mode == LIP_PAD_REFLECT ? n - 1 : n; }

lip_status lip_conv2d_geom_make(lip_context *ctx, const char *who, size_t batch, size_t in_h, size_t in_w, size_t cin,
                                size_t kh, size_t kw, size_t cout, size_t stride_h, size_t stride_w,
                                lip_padding padding, lip_pad_mode pad_mode, lip_conv2d_geom *g) {
    if (!ctx) return LIP_ERR_NULL;
    if (!who) who = "conv2d";
    LIP_CHECK(ctx, g, LIP_ERR_NULL, "%s: geometry pointer is NULL", who);
    memset(g, 0, sizeof *g);
    LIP_CHECK(ctx, padding == LIP_PADDING_SAME || padding == LIP_PADDING_VALID, LIP_ERR_INVALID_ARGUMENT,
              "%s: unknown padding %d (expected SAME or VALID)", who, (int)padding);
    LIP_CHECK(ctx, (int)pad_mode >= (int)LIP_PAD_ZEROS && (int)pad_mode <= (int)LIP_PAD_CIRCULAR,
              LIP_ERR_INVALID_ARGUMENT, "%s: unknown pad mode %d (expected zeros, reflect, symmetric or circular)",
              who, (int)pad_mode);
    LIP_CHECK(ctx, kh >= 1 && kw >= 1, LIP_ERR_INVALID_ARGUMENT, "%s: kernel size %zux%zu must be at least 1x1", who,
              kh, kw);
    LIP_CHECK(ctx, stride_h >= 1 && stride_w >= 1, LIP_ERR_INVALID_ARGUMENT, "%s: strides %zux%zu must be >= 1", who,
              stride_h, stride_w);
    LIP_CHECK(ctx, cout >= 1, LIP_ERR_INVALID_ARGUMENT, "%s: filters (output channels) is 0, must be >= 1", who);
    LIP_CHECK(ctx, batch >= 1 && in_h >= 1 && in_w >= 1 && cin >= 1, LIP_ERR_SHAPE,
              "%s: input (batch %zu, %zux%zu, %zu channels) has an empty dimension", who, batch, in_h, in_w, cin);
    const size_t lim = (size_t)INT_MAX;
    LIP_CHECK(ctx, in_h <= lim / in_w && in_h * in_w <= lim / cin && in_h * in_w * cin <= lim / batch, LIP_ERR_SHAPE,
              "%s: input (%zu, %zu, %zu, %zu) exceeds the 2^31-element limit of the conv kernels", who, batch, in_h,
              in_w, cin);
    LIP_CHECK(ctx, kh <= 65536 && kw <= 65536 && stride_h <= 65536 && stride_w <= 65536 && kh * kw <= lim / cin &&
                       kh * kw * cin <= lim / cout,
              LIP_ERR_SHAPE, "%s: kernel (%zu, %zu, %zu, %zu) or strides %zux%zu too large", who, kh, kw, cin, cout,
              stride_h, stride_w);
    if (padding == LIP_PADDING_VALID)
        LIP_CHECK(ctx, kh <= in_h && kw <= in_w, LIP_ERR_SHAPE,
                  "%s: kernel %zux%zu larger than the input %zux%zu (padding VALID)", who, kh, kw, in_h, in_w);
    if (padding == LIP_PADDING_SAME && pad_mode != LIP_PAD_ZEROS) {
        const size_t ph = kh / 2, pw = kw / 2;
        LIP_CHECK(ctx, ph <= pad_limit(in_h, pad_mode) && pw <= pad_limit(in_w, pad_mode), LIP_ERR_SHAPE,
                  "%s: %s padding of %zux%zu (kernel %zux%zu) needs an input of at least %zux%zu, got %zux%zu", who,
                  pad_mode_name(pad_mode), ph, pw, kh, kw, ph + (pad_mode == LIP_PAD_REFLECT),
                  pw + (pad_mode == LIP_PAD_REFLECT), in_h, in_w);
    }
    g->batch = batch;
    g->in_h = in_h;
    g->in_w = in_w;
    g->cin = cin;
    g->kh = kh;
    g->kw = kw;
    g->cout = cout;
    g->stride_h = stride_h;
    g->stride_w = stride_w;
    g->pad_mode = padding == LIP_PADDING_VALID ? LIP_PAD_ZEROS : pad_mode; /* VALID reads no padding */
    axis_geom(in_h, kh, stride_h, padding, pad_mode, &g->out_h, &g->pad_top);
    axis_geom(in_w, kw, stride_w, padding, pad_mode, &g->out_w, &g->pad_left);
    LIP_CHECK(ctx, g->out_h <= lim / g->out_w && g->out_h * g->out_w <= lim / cout &&
                       g->out_h * g->out_w * cout <= lim / batch,
              LIP_ERR_SHAPE, "%s: output (%zu, %zu, %zu, %zu) exceeds the 2^31-element limit of the conv kernels", who,
              batch, g->out_h, g->out_w, cout);
    /* LIPCL_CONV_ALGO forces an algorithm (tests, benchmarks); read here, once per geometry. */
    const char *env = getenv("LIPCL_CONV_ALGO");
    g->algo = LIP_CONV_ALGO_AUTO;
    if (env && *env) {
        if (strcmp(env, "direct") == 0)
            g->algo = LIP_CONV_ALGO_DIRECT;
        else if (strcmp(env, "im2col") == 0)
            g->algo = LIP_CONV_ALGO_IM2COL;
        else
            LIP_CHECK(ctx, strcmp(env, "auto") == 0, LIP_ERR_INVALID_ARGUMENT,
                      "%s: LIPCL_CONV_ALGO='%s' is not one of im2col, direct, auto", who, env);
    }
    return LIP_OK;
}

/* A geometry handed to an op: the fields must be consistent enough for the kernels to stay in bounds
 * (geom_make's output always is; this guards hand-made ones). */
static lip_status check_geom(lip_context *ctx, const char *fn, const lip_conv2d_geom *g) {
    LIP_CHECK(ctx, g, LIP_ERR_NULL, "%s: geometry is NULL", fn);
    const size_t lim = (size_t)INT_MAX;
    LIP_CHECK(ctx, g->batch >= 1 && g->in_h >= 1 && g->in_w >= 1 && g->cin >= 1 && g->kh >= 1 && g->kw >= 1 &&
                       g->cout >= 1 && g->stride_h >= 1 && g->stride_w >= 1 && g->out_h >= 1 && g->out_w >= 1,
              LIP_ERR_INVALID_ARGUMENT,
              "%s: geometry has a zero size (batch %zu, input %zux%zux%zu, kernel %zux%zu, cout %zu, strides "
              "%zux%zu, output %zux%zu)",
              fn, g->batch, g->in_h, g->in_w, g->cin, g->kh, g->kw, g->cout, g->stride_h, g->stride_w, g->out_h,
              g->out_w);
    LIP_CHECK(ctx, (int)g->pad_mode >= (int)LIP_PAD_ZEROS && (int)g->pad_mode <= (int)LIP_PAD_CIRCULAR &&
                       (int)g->algo >= (int)LIP_CONV_ALGO_AUTO && (int)g->algo <= (int)LIP_CONV_ALGO_IM2COL,
              LIP_ERR_INVALID_ARGUMENT, "%s: geometry has an unknown pad mode %d or algorithm %d", fn,
              (int)g->pad_mode, (int)g->algo);
    /* Everything the kernels compute in int stays below 2^31. */
    LIP_CHECK(ctx, g->kh <= 65536 && g->kw <= 65536 && g->stride_h <= 65536 && g->stride_w <= 65536 &&
                       g->pad_top <= 65536 && g->pad_left <= 65536 && g->out_h <= lim / g->stride_h &&
                       g->out_w <= lim / g->stride_w && g->in_h <= lim / g->in_w &&
                       g->in_h * g->in_w <= lim / g->cin && g->in_h * g->in_w * g->cin <= lim / g->batch &&
                       g->out_h <= lim / g->out_w && g->out_h * g->out_w <= lim / g->cout &&
                       g->out_h * g->out_w * g->cout <= lim / g->batch && g->kh * g->kw <= lim / g->cin &&
                       g->kh * g->kw * g->cin <= lim / g->cout && g->out_h * g->out_w <= lim / g->batch,
              LIP_ERR_SHAPE, "%s: geometry exceeds the 2^31 limits of the conv kernels", fn);
    if (g->pad_mode != LIP_PAD_ZEROS) {
        /* Rows read: −pad_top .. (out_h − 1)·s + kh − 1 − pad_top; one reflection must land inside. */
        const size_t lh = pad_limit(g->in_h, g->pad_mode), lw = pad_limit(g->in_w, g->pad_mode);
        const size_t last_h = (g->out_h - 1) * g->stride_h + g->kh, last_w = (g->out_w - 1) * g->stride_w + g->kw;
        LIP_CHECK(ctx, g->pad_top <= lh && g->pad_left <= lw && last_h <= g->in_h + g->pad_top + lh &&
                           last_w <= g->in_w + g->pad_left + lw,
                  LIP_ERR_SHAPE, "%s: %s padding (top %zu, left %zu) reaches too far past the %zux%zu input", fn,
                  pad_mode_name(g->pad_mode), g->pad_top, g->pad_left, g->in_h, g->in_w);
    }
    return LIP_OK;
}

/* ---- algorithm choice ------------------------------------------------------------------------ */

/* The algorithm of one op: forced by the geometry, else the measured rule (doc/tuning.md "Conv2D"). */
static lip_conv2d_algo choose_algo(const lip_conv2d_geom *g, lip_conv2d_op op) {
    if (g->algo == LIP_CONV_ALGO_DIRECT || g->algo == LIP_CONV_ALGO_IM2COL) return g->algo;
    const size_t kk = g->kh * g->kw * g->cin;
    switch (op) {
    case LIP_CONV_OP_FORWARD:
        /* With ≤ 16 output channels the GEMM fills at most half of its 32-column blocks and the column
         * buffer's traffic weighs more per flop: the direct kernel ties or wins (conv1, 1x1). */
        return g->cout <= 16 ? LIP_CONV_ALGO_DIRECT : LIP_CONV_ALGO_IM2COL;
    case LIP_CONV_OP_BACKWARD_DATA:
        return LIP_CONV_ALGO_IM2COL; /* 3–10x faster than the direct gather on every measured shape */
    case LIP_CONV_OP_BACKWARD_FILTER:
        /* dK = colᵀ·dy runs as a GEMM of ⌈kk/8⌉·⌈cout/32⌉ work-items: under 4 it cannot use the
         * device, and the direct kernel (split over output rows) ties or wins (conv1). */
        return ((kk + 7) / 8) * ((g->cout + 31) / 32) < 4 ? LIP_CONV_ALGO_DIRECT : LIP_CONV_ALGO_IM2COL;
    }
    return LIP_CONV_ALGO_IM2COL;
}

const char *lip_conv2d_algorithm_for(lip_context *ctx, const lip_conv2d_geom *g, lip_conv2d_op op) {
    (void)ctx;
    if (!g) return "direct";
    return algo_name(choose_algo(g, op));
}

const char *lip_conv2d_algorithm(lip_context *ctx, const lip_conv2d_geom *g) {
    return lip_conv2d_algorithm_for(ctx, g, LIP_CONV_OP_FORWARD);
}

/* ---- argument checks ------------------------------------------------------------------------- */

/* t is a float32 tensor of this context with exactly `count` elements (any shape): "(b, h, w, c)". */
static lip_status check_sized(lip_context *ctx, const char *fn, const char *name, const lip_tensor *t, size_t count,
                              const char *want) {
    char what[96];
    snprintf(what, sizeof what, "%s: %s", fn, name);
    LIP_TRY(lip_check_tensor(ctx, t, LIP_FLOAT32, what));
    char ts[64];
    LIP_CHECK(ctx, t->count == count, LIP_ERR_SHAPE, "%s: %s %s has %zu elements, expected %s = %zu", fn, name,
              lip_shape_string(t, ts, sizeof ts), t->count, want, count);
    return LIP_OK;
}

static lip_status check_x(lip_context *ctx, const char *fn, const char *name, const lip_conv2d_geom *g,
                          const lip_tensor *t) {
    char want[128];
    snprintf(want, sizeof want, "(batch %zu, %zu, %zu, cin %zu)", g->batch, g->in_h, g->in_w, g->cin);
    return check_sized(ctx, fn, name, t, g->batch * g->in_h * g->in_w * g->cin, want);
}

static lip_status check_y(lip_context *ctx, const char *fn, const char *name, const lip_conv2d_geom *g,
                          const lip_tensor *t) {
    char want[128];
    snprintf(want, sizeof want, "(batch %zu, %zu, %zu, cout %zu)", g->batch, g->out_h, g->out_w, g->cout);
    return check_sized(ctx, fn, name, t, g->batch * g->out_h * g->out_w * g->cout, want);
}

static lip_status check_k(lip_context *ctx, const char *fn, const char *name, const lip_conv2d_geom *g,
                          const lip_tensor *t) {
    char want[128];
    snprintf(want, sizeof want, "(kh %zu, kw %zu, cin %zu, cout %zu)", g->kh, g->kw, g->cin, g->cout);
    return check_sized(ctx, fn, name, t, g->kh * g->kw * g->cin * g->cout, want);
}

/* ---- launches -------------------------------------------------------------------------------- */

/* A 1-D grid-stride launch over n items. */
static lip_status launch1d(lip_context *ctx, cl_kernel k, const char *label, size_t n, size_t nargs,
                           const lip_karg *args) {
    size_t groups = (n + CONV_LOCAL - 1) / CONV_LOCAL;
    if (groups > CONV_MAX_GROUPS) groups = CONV_MAX_GROUPS;
    if (groups == 0) groups = 1;
    size_t global = groups * CONV_LOCAL, local = CONV_LOCAL;
    return lip_launch(ctx, k, label, 1, &global, &local, nargs, args);
}

/* The geometry as the 14 kernel arguments of LIP_CONV_GEOM (values live in `v`). */
typedef struct geom_args {
    cl_int v[14];
} geom_args;

static geom_args make_args(const lip_conv2d_geom *g) {
    geom_args a;
    const size_t f[14] = {g->batch,    g->in_h,     g->in_w,  g->cin,   g->kh,    g->kw,    g->cout,
                          g->stride_h, g->stride_w, g->pad_top, g->pad_left, g->out_h, g->out_w, (size_t)g->pad_mode};
    for (int i = 0; i < 14; i++) a.v[i] = (cl_int)f[i];
    return a;
}

/* Append the geometry arguments to args at *n. */
static void push_geom(lip_karg *args, size_t *n, const geom_args *a) {
    for (int i = 0; i < 14; i++) args[(*n)++] = (lip_karg){sizeof(cl_int), &a->v[i]};
}

/* Whether the patches of g are x itself (1×1, stride 1, no padding): im2col is the identity. */
static int im2col_identity(const lip_conv2d_geom *g) {
    return g->kh == 1 && g->kw == 1 && g->stride_h == 1 && g->stride_w == 1 && g->pad_top == 0 &&
           g->pad_left == 0 && g->out_h == g->in_h && g->out_w == g->in_w;
}

/* Output rows per im2col chunk: whole images when one fits. On CPU devices the column buffer of a
 * chunk stays cache-sized (CONV_CHUNK_BYTES_CPU: im2col writes it and the GEMM reads it back from
 * cache; measured in doc/tuning.md), elsewhere under CONV_WORKSPACE_BYTES. A fixed function of the
 * shape and device type: the summation order of the backward filter never depends on timing. */
static size_t chunk_rows(const lip_context *ctx, const lip_conv2d_geom *g) {
    const size_t kk = g->kh * g->kw * g->cin + 1, img = g->out_h * g->out_w, m = g->batch * img;
    size_t ws = ctx->info.is_cpu ? CONV_CHUNK_BYTES_CPU : CONV_WORKSPACE_BYTES;
    size_t rows = ws / (kk * sizeof(float));
    if (rows < 1) rows = 1;
    if (rows >= img) rows -= rows % img;
    return rows < m ? rows : m;
}

/* col rows 0 .. rows − 1 (row length ld: kh·kw·cin, or one more for a column of ones) = the patches
 * of output rows m0 .. m0 + rows − 1. */
static lip_status im2col(lip_context *ctx, const geom_args *ga, const lip_tensor *x, lip_tensor *col, size_t m0,
                         size_t rows, size_t ld) {
    cl_kernel k;
    LIP_TRY(lip_kernel_get(ctx, "conv2d", "lip_conv2d_im2col", NULL, &k));
    cl_uint x_off = (cl_uint)x->offset, c_off = (cl_uint)col->offset, um0 = (cl_uint)m0, urows = (cl_uint)rows;
    cl_uint uld = (cl_uint)ld;
    lip_karg args[32];
    size_t n = 0;
    args[n++] = LIP_KARG(x->mem);
    args[n++] = LIP_KARG(x_off);
    args[n++] = LIP_KARG(col->mem);
    args[n++] = LIP_KARG(c_off);
    push_geom(args, &n, ga);
    args[n++] = LIP_KARG(um0);
    args[n++] = LIP_KARG(urows);
    args[n++] = LIP_KARG(uld);
    return launch1d(ctx, k, "conv2d/im2col", rows, n, args);
}

/* ---- forward --------------------------------------------------------------------------------- */

static lip_status forward_direct(lip_context *ctx, const lip_conv2d_geom *g, const lip_tensor *x,
                                 const lip_tensor *kernel, const lip_tensor *bias, lip_tensor *y) {
    cl_kernel k;
    LIP_TRY(lip_kernel_get(ctx, "conv2d", "lip_conv2d_forward_direct", NULL, &k));
    const geom_args ga = make_args(g);
    /* Work-items: (row, block of 4 pixels, block of 8 channels): LIP_CONV_PX = 4, LIP_CONV_OB = 8. */
    const size_t count = g->batch * g->out_h * ((g->out_w + 3) / 4) * ((g->cout + 7) / 8);
    cl_uint x_off = (cl_uint)x->offset, k_off = (cl_uint)kernel->offset, y_off = (cl_uint)y->offset;
    cl_uint b_off = bias ? (cl_uint)bias->offset : 0, ucount = (cl_uint)count;
    cl_int has_bias = bias != NULL;
    cl_mem bmem = bias ? bias->mem : kernel->mem; /* any valid buffer when there is no bias (not read) */
    lip_karg args[32];
    size_t n = 0;
    args[n++] = LIP_KARG(x->mem);
    args[n++] = LIP_KARG(x_off);
    args[n++] = LIP_KARG(kernel->mem);
    args[n++] = LIP_KARG(k_off);
    args[n++] = LIP_KARG(bmem);
    args[n++] = LIP_KARG(b_off);
    args[n++] = LIP_KARG(has_bias);
    args[n++] = LIP_KARG(y->mem);
    args[n++] = LIP_KARG(y_off);
    push_geom(args, &n, &ga);
    args[n++] = LIP_KARG(ucount);
    return launch1d(ctx, k, "conv2d/forward_direct", count, n, args);
}

static lip_status forward_im2col(lip_context *ctx, const lip_conv2d_geom *g, const lip_tensor *x,
                                 const lip_tensor *kernel, const lip_tensor *bias, lip_tensor *y) {
    const size_t kk = g->kh * g->kw * g->cin, m = g->batch * g->out_h * g->out_w;
    if (im2col_identity(g)) { /* y = x · K (+ bias: filled first, then the GEMM adds) */
        float beta = 0.0f;
        if (bias) {
            cl_kernel k;
            LIP_TRY(lip_kernel_get(ctx, "conv2d", "lip_conv2d_bias_fill", NULL, &k));
            cl_uint b_off = (cl_uint)bias->offset, y_off = (cl_uint)y->offset, ucount = (cl_uint)(m * g->cout);
            cl_int co = (cl_int)g->cout;
            LIP_TRY(launch1d(ctx, k, "conv2d/bias_fill", m * g->cout,
                             LIP_KARGS(LIP_KARG(bias->mem), LIP_KARG(b_off), LIP_KARG(y->mem), LIP_KARG(y_off),
                                       LIP_KARG(co), LIP_KARG(ucount))));
            beta = 1.0f;
        }
        return lip_gemm(ctx, LIP_NO_TRANS, LIP_NO_TRANS, m, g->cout, kk, 1.0f, x, 0, kk, kernel, 0, g->cout, beta, y,
                        0, g->cout);
    }
    /* With a bias, col gets a column of ones and the kernel the bias as a last row: y = col · [K; b]. */
    const size_t ld = bias ? kk + 1 : kk;
    const geom_args ga = make_args(g);
    const size_t rows = chunk_rows(ctx, g);
    lip_tensor *col = NULL, *kb = NULL;
    const lip_tensor *kmat = kernel;
    size_t shape[1] = {rows * ld}, kshape[1] = {ld * g->cout};
    lip_status st;
    if (bias) {
        cl_kernel k;
        LIP_TRY_GOTO(st, lip_kernel_get(ctx, "conv2d", "lip_conv2d_kernel_bias", NULL, &k));
        LIP_TRY_GOTO(st, lip_tensor_create(ctx, LIP_FLOAT32, 1, kshape, &kb));
        cl_uint k_off = (cl_uint)kernel->offset, b_off = (cl_uint)bias->offset, kb_off = (cl_uint)kb->offset;
        cl_uint ukk = (cl_uint)kk, uco = (cl_uint)g->cout;
        LIP_TRY_GOTO(st, launch1d(ctx, k, "conv2d/kernel_bias", ld * g->cout,
                                  LIP_KARGS(LIP_KARG(kernel->mem), LIP_KARG(k_off), LIP_KARG(bias->mem),
                                            LIP_KARG(b_off), LIP_KARG(kb->mem), LIP_KARG(kb_off), LIP_KARG(ukk),
                                            LIP_KARG(uco))));
        kmat = kb;
    }
    LIP_TRY_GOTO(st, lip_tensor_create(ctx, LIP_FLOAT32, 1, shape, &col));
    for (size_t m0 = 0; m0 < m; m0 += rows) {
        const size_t mc = m - m0 < rows ? m - m0 : rows;
        LIP_TRY_GOTO(st, im2col(ctx, &ga, x, col, m0, mc, ld));
        LIP_TRY_GOTO(st, lip_gemm(ctx, LIP_NO_TRANS, LIP_NO_TRANS, mc, g->cout, ld, 1.0f, col, 0, ld, kmat, 0,
                                  g->cout, 0.0f, y, m0 * g->cout, g->cout));
    }
fail:
    lip_tensor_free(col); /* released once the queued kernels are done (OpenCL keeps it alive) */
    lip_tensor_free(kb);
    return st;
}

lip_status lip_conv2d_forward(lip_context *ctx, const lip_conv2d_geom *g, const lip_tensor *x, const lip_tensor *kernel,
                              const lip_tensor *bias, lip_tensor *y) {
    if (!ctx) return LIP_ERR_NULL;
    const char *fn = "lip_conv2d_forward";
    LIP_TRY(check_geom(ctx, fn, g));
    LIP_TRY(check_x(ctx, fn, "x", g, x));
    LIP_TRY(check_k(ctx, fn, "kernel", g, kernel));
    if (bias) LIP_TRY(check_sized(ctx, fn, "bias", bias, g->cout, "(cout)"));
    LIP_TRY(check_y(ctx, fn, "y", g, y));
    LIP_CHECK(ctx, y->mem != x->mem && y->mem != kernel->mem && (!bias || y->mem != bias->mem),
              LIP_ERR_INVALID_ARGUMENT, "%s: y must not be the same tensor as x, the kernel or the bias", fn);
    if (choose_algo(g, LIP_CONV_OP_FORWARD) == LIP_CONV_ALGO_IM2COL) return forward_im2col(ctx, g, x, kernel, bias, y);
    return forward_direct(ctx, g, x, kernel, bias, y);
}

/* ---- backward data --------------------------------------------------------------------------- */

static lip_status backward_data_direct(lip_context *ctx, const lip_conv2d_geom *g, const lip_tensor *dy,
                                       const lip_tensor *kernel, lip_tensor *dx, int accumulate) {
    cl_kernel kswap, k;
    LIP_TRY(lip_kernel_get(ctx, "conv2d", "lip_conv2d_kernel_swap", NULL, &kswap));
    LIP_TRY(lip_kernel_get(ctx, "conv2d", "lip_conv2d_backward_data_direct", NULL, &k));
    const size_t nk = g->kh * g->kw * g->cin * g->cout;
    lip_tensor *ks = NULL;
    size_t shape[1] = {nk};
    lip_status st;
    LIP_TRY_GOTO(st, lip_tensor_create(ctx, LIP_FLOAT32, 1, shape, &ks));
    {
        cl_uint k_off = (cl_uint)kernel->offset, ks_off = (cl_uint)ks->offset, taps = (cl_uint)(g->kh * g->kw);
        cl_uint uc = (cl_uint)g->cin, uco = (cl_uint)g->cout;
        LIP_TRY_GOTO(st, launch1d(ctx, kswap, "conv2d/kernel_swap", nk,
                                  LIP_KARGS(LIP_KARG(kernel->mem), LIP_KARG(k_off), LIP_KARG(ks->mem), LIP_KARG(ks_off),
                                            LIP_KARG(taps), LIP_KARG(uc), LIP_KARG(uco))));
    }
    {
        const geom_args ga = make_args(g);
        const size_t count = g->batch * g->in_h * g->in_w * ((g->cin + 7) / 8); /* 8 = LIP_CONV_CB */
        cl_uint dy_off = (cl_uint)dy->offset, ks_off = (cl_uint)ks->offset, dx_off = (cl_uint)dx->offset;
        cl_uint ucount = (cl_uint)count;
        cl_int acc = accumulate != 0;
        lip_karg args[32];
        size_t n = 0;
        args[n++] = LIP_KARG(dy->mem);
        args[n++] = LIP_KARG(dy_off);
        args[n++] = LIP_KARG(ks->mem);
        args[n++] = LIP_KARG(ks_off);
        args[n++] = LIP_KARG(dx->mem);
        args[n++] = LIP_KARG(dx_off);
        args[n++] = LIP_KARG(acc);
        push_geom(args, &n, &ga);
        args[n++] = LIP_KARG(ucount);
        st = launch1d(ctx, k, "conv2d/backward_data_direct", count, n, args);
    }
fail:
    lip_tensor_free(ks);
    return st;
}

static lip_status col2im(lip_context *ctx, const lip_conv2d_geom *g, const geom_args *ga, const lip_tensor *col,
                         lip_tensor *dx, size_t m0, size_t rows, int add) {
    cl_kernel k;
    LIP_TRY(lip_kernel_get(ctx, "conv2d", "lip_conv2d_col2im", NULL, &k));
    const size_t img = g->out_h * g->out_w, b_first = m0 / img, b_last = (m0 + rows - 1) / img;
    const size_t count = (b_last - b_first + 1) * g->in_h * g->in_w * ((g->cin + 7) / 8); /* 8 = LIP_CONV_CB */
    cl_uint c_off = (cl_uint)col->offset, dx_off = (cl_uint)dx->offset, um0 = (cl_uint)m0, urows = (cl_uint)rows;
    cl_uint ub = (cl_uint)b_first, ucount = (cl_uint)count;
    cl_int uadd = add != 0;
    lip_karg args[32];
    size_t n = 0;
    args[n++] = LIP_KARG(col->mem);
    args[n++] = LIP_KARG(c_off);
    args[n++] = LIP_KARG(dx->mem);
    args[n++] = LIP_KARG(dx_off);
    push_geom(args, &n, ga);
    args[n++] = LIP_KARG(um0);
    args[n++] = LIP_KARG(urows);
    args[n++] = LIP_KARG(ub);
    args[n++] = LIP_KARG(uadd);
    args[n++] = LIP_KARG(ucount);
    return launch1d(ctx, k, "conv2d/col2im", count, n, args);
}

/* kt (cout × kh·kw·cin) = the kernel transposed, so that the backward-data GEMMs run as NN
 * (measured ~3x faster than NT with k = cout on PoCL: doc/tuning.md). */
static lip_status kernel_transpose(lip_context *ctx, const lip_conv2d_geom *g, const lip_tensor *kernel,
                                   lip_tensor *kt) {
    cl_kernel k;
    LIP_TRY(lip_kernel_get(ctx, "conv2d", "lip_conv2d_kernel_transpose", NULL, &k));
    const size_t kk = g->kh * g->kw * g->cin;
    cl_uint k_off = (cl_uint)kernel->offset, kt_off = (cl_uint)kt->offset, ukk = (cl_uint)kk, uco = (cl_uint)g->cout;
    return launch1d(ctx, k, "conv2d/kernel_transpose", kk * g->cout,
                    LIP_KARGS(LIP_KARG(kernel->mem), LIP_KARG(k_off), LIP_KARG(kt->mem), LIP_KARG(kt_off),
                              LIP_KARG(ukk), LIP_KARG(uco)));
}

static lip_status backward_data_im2col(lip_context *ctx, const lip_conv2d_geom *g, const lip_tensor *dy,
                                       const lip_tensor *kernel, lip_tensor *dx, int accumulate) {
    const size_t kk = g->kh * g->kw * g->cin, img = g->out_h * g->out_w, m = g->batch * img;
    const int identity = im2col_identity(g);
    const size_t rows = chunk_rows(ctx, g);
    /* Chunks of whole images touch disjoint pixels: col2im writes (or adds for accumulate). Chunks
     * that split images add into a zeroed dx. */
    const int aligned = rows % img == 0;
    lip_tensor *col = NULL, *kt = NULL;
    size_t shape[1] = {rows * kk}, kshape[1] = {kk * g->cout};
    lip_status st;
    LIP_TRY_GOTO(st, lip_tensor_create(ctx, LIP_FLOAT32, 1, kshape, &kt));
    LIP_TRY_GOTO(st, kernel_transpose(ctx, g, kernel, kt));
    if (identity) { /* dx = dy · Kᵀ */
        st = lip_gemm(ctx, LIP_NO_TRANS, LIP_NO_TRANS, m, kk, g->cout, 1.0f, dy, 0, g->cout, kt, 0, kk,
                      accumulate ? 1.0f : 0.0f, dx, 0, kk);
        goto fail;
    }
    if (!aligned && !accumulate) LIP_TRY_GOTO(st, lip_tensor_fill(dx, 0.0));
    const geom_args ga = make_args(g);
    LIP_TRY_GOTO(st, lip_tensor_create(ctx, LIP_FLOAT32, 1, shape, &col));
    for (size_t m0 = 0; m0 < m; m0 += rows) {
        const size_t mc = m - m0 < rows ? m - m0 : rows;
        LIP_TRY_GOTO(st, lip_gemm(ctx, LIP_NO_TRANS, LIP_NO_TRANS, mc, kk, g->cout, 1.0f, dy, m0 * g->cout, g->cout,
                                  kt, 0, kk, 0.0f, col, 0, kk));
        LIP_TRY_GOTO(st, col2im(ctx, g, &ga, col, dx, m0, mc, accumulate || !aligned));
    }
fail:
    lip_tensor_free(col);
    lip_tensor_free(kt);
    return st;
}

lip_status lip_conv2d_backward_data(lip_context *ctx, const lip_conv2d_geom *g, const lip_tensor *dy,
                                    const lip_tensor *kernel, lip_tensor *dx, int accumulate) {
    if (!ctx) return LIP_ERR_NULL;
    const char *fn = "lip_conv2d_backward_data";
    LIP_TRY(check_geom(ctx, fn, g));
    LIP_TRY(check_y(ctx, fn, "dy", g, dy));
    LIP_TRY(check_k(ctx, fn, "kernel", g, kernel));
    LIP_TRY(check_x(ctx, fn, "dx", g, dx));
    LIP_CHECK(ctx, dx->mem != dy->mem && dx->mem != kernel->mem, LIP_ERR_INVALID_ARGUMENT,
              "%s: dx must not be the same tensor as dy or the kernel", fn);
    if (choose_algo(g, LIP_CONV_OP_BACKWARD_DATA) == LIP_CONV_ALGO_IM2COL)
        return backward_data_im2col(ctx, g, dy, kernel, dx, accumulate);
    return backward_data_direct(ctx, g, dy, kernel, dx, accumulate);
}

/* ---- backward filter ------------------------------------------------------------------------- */

static lip_status backward_filter_direct(lip_context *ctx, const lip_conv2d_geom *g, const lip_tensor *x,
                                         const lip_tensor *dy, lip_tensor *dk, int accumulate) {
    const size_t nk = g->kh * g->kw * g->cin * g->cout, m = g->batch * g->out_h * g->out_w;
    /* Slices of output rows: a fixed function of the shape (never of timing), so results are
     * reproducible; stage 2 adds the slices in order. */
    const size_t items = g->kh * g->kw * g->cin * ((g->cout + 7) / 8); /* work-items per slice (8 = LIP_CONV_OB) */
    size_t slices = (CONV_FILTER_TARGET_ITEMS + items - 1) / items;
    const size_t max_slices = (m + CONV_FILTER_MIN_ROWS - 1) / CONV_FILTER_MIN_ROWS;
    if (slices > max_slices) slices = max_slices;
    if (slices > CONV_FILTER_MAX_PART / nk) slices = CONV_FILTER_MAX_PART / nk;
    if (slices < 1) slices = 1;
    const size_t rows = (m + slices - 1) / slices;
    slices = (m + rows - 1) / rows;
    cl_kernel kp, kr;
    LIP_TRY(lip_kernel_get(ctx, "conv2d", "lip_conv2d_filter_partial", NULL, &kp));
    LIP_TRY(lip_kernel_get(ctx, "conv2d", "lip_conv2d_filter_reduce", NULL, &kr));
    lip_tensor *part = NULL;
    size_t shape[1] = {slices * nk};
    lip_status st;
    LIP_TRY_GOTO(st, lip_tensor_create(ctx, LIP_FLOAT32, 1, shape, &part));
    {
        const geom_args ga = make_args(g);
        cl_uint x_off = (cl_uint)x->offset, dy_off = (cl_uint)dy->offset, p_off = (cl_uint)part->offset;
        cl_uint urows = (cl_uint)rows, ucount = (cl_uint)(slices * items);
        lip_karg args[32];
        size_t n = 0;
        args[n++] = LIP_KARG(x->mem);
        args[n++] = LIP_KARG(x_off);
        args[n++] = LIP_KARG(dy->mem);
        args[n++] = LIP_KARG(dy_off);
        args[n++] = LIP_KARG(part->mem);
        args[n++] = LIP_KARG(p_off);
        push_geom(args, &n, &ga);
        args[n++] = LIP_KARG(urows);
        args[n++] = LIP_KARG(ucount);
        LIP_TRY_GOTO(st, launch1d(ctx, kp, "conv2d/filter_partial", slices * items, n, args));
    }
    {
        cl_uint p_off = (cl_uint)part->offset, dk_off = (cl_uint)dk->offset, un = (cl_uint)nk, us = (cl_uint)slices;
        cl_int acc = accumulate != 0;
        LIP_TRY_GOTO(st, launch1d(ctx, kr, "conv2d/filter_reduce", nk,
                                  LIP_KARGS(LIP_KARG(part->mem), LIP_KARG(p_off), LIP_KARG(dk->mem), LIP_KARG(dk_off), LIP_KARG(un),
                                            LIP_KARG(us), LIP_KARG(acc))));
    }
fail:
    lip_tensor_free(part);
    return st;
}

static lip_status backward_filter_im2col(lip_context *ctx, const lip_conv2d_geom *g, const lip_tensor *x,
                                         const lip_tensor *dy, lip_tensor *dk, int accumulate) {
    const size_t kk = g->kh * g->kw * g->cin, m = g->batch * g->out_h * g->out_w;
    if (im2col_identity(g)) /* dK = xᵀ · dy */
        return lip_gemm(ctx, LIP_TRANS, LIP_NO_TRANS, kk, g->cout, m, 1.0f, x, 0, kk, dy, 0, g->cout,
                        accumulate ? 1.0f : 0.0f, dk, 0, g->cout);
    const geom_args ga = make_args(g);
    const size_t rows = chunk_rows(ctx, g);
    lip_tensor *col = NULL;
    size_t shape[1] = {rows * kk};
    lip_status st;
    LIP_TRY_GOTO(st, lip_tensor_create(ctx, LIP_FLOAT32, 1, shape, &col));
    for (size_t m0 = 0; m0 < m; m0 += rows) {
        const size_t mc = m - m0 < rows ? m - m0 : rows;
        LIP_TRY_GOTO(st, im2col(ctx, &ga, x, col, m0, mc, kk));
        const float beta = (m0 == 0 && !accumulate) ? 0.0f : 1.0f;
        LIP_TRY_GOTO(st, lip_gemm(ctx, LIP_TRANS, LIP_NO_TRANS, kk, g->cout, mc, 1.0f, col, 0, kk, dy, m0 * g->cout,
                                  g->cout, beta, dk, 0, g->cout));
    }
fail:
    lip_tensor_free(col);
    return st;
}

lip_status lip_conv2d_backward_filter(lip_context *ctx, const lip_conv2d_geom *g, const lip_tensor *x,
                                      const lip_tensor *dy, lip_tensor *dkernel, int accumulate) {
    if (!ctx) return LIP_ERR_NULL;
    const char *fn = "lip_conv2d_backward_filter";
    LIP_TRY(check_geom(ctx, fn, g));
    LIP_TRY(check_x(ctx, fn, "x", g, x));
    LIP_TRY(check_y(ctx, fn, "dy", g, dy));
    LIP_TRY(check_k(ctx, fn, "dkernel", g, dkernel));
    LIP_CHECK(ctx, dkernel->mem != x->mem && dkernel->mem != dy->mem, LIP_ERR_INVALID_ARGUMENT,
              "%s: dkernel must not be the same tensor as x or dy", fn);
    if (choose_algo(g, LIP_CONV_OP_BACKWARD_FILTER) == LIP_CONV_ALGO_IM2COL)
        return backward_filter_im2col(ctx, g, x, dy, dkernel, accumulate);
    return backward_filter_direct(ctx, g, x, dy, dkernel, accumulate);
}
