/* lipcl — deel-lip's constraints (weight clip, auto weight clip, Frobenius, spectral RKO with a stored u)
 * and regularizers (OrthDense on the smaller Gram matrix, Lorth2D): checks, plans and launches. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "lipcl/constraints.h"
#include "lipschitz/rko.h"

#define CON_LOCAL 128
#define CON_MAX_GROUPS 65536

static size_t grid(size_t n) {
    size_t groups = (n + CON_LOCAL - 1) / CON_LOCAL;
    if (groups > CON_MAX_GROUPS) groups = CON_MAX_GROUPS;
    if (groups == 0) groups = 1;
    return groups * CON_LOCAL;
}

/* ---- constraints ------------------------------------------------------------------------------ */

struct lip_constraint {
    lip_context *ctx;
    lip_constraint_config cfg;
    lip_tensor *sumsq; /* Frobenius: Σw² (1 element) */
    /* spectral */
    int planned;
    size_t rows, cols;
    lip_rko rko;
    lip_tensor *u;
};

static const char *constraint_name(lip_constraint_kind k) {
    switch (k) {
    case LIP_CONSTRAINT_WEIGHT_CLIP: return "WeightClip";
    case LIP_CONSTRAINT_AUTO_WEIGHT_CLIP: return "AutoWeightClip";
    case LIP_CONSTRAINT_FROBENIUS: return "FrobeniusConstraint";
    case LIP_CONSTRAINT_SPECTRAL: return "SpectralConstraint";
    }
    return "constraint";
}

lip_constraint_config lip_constraint_config_default(lip_constraint_kind kind) {
    lip_constraint_config c;
    memset(&c, 0, sizeof c);
    c.kind = kind;
    c.c = 2.0f;
    c.scale = 1.0f;
    c.eps = 1e-7f;
    c.k_coef_lip = 1.0f;
    c.eps_spectral = 1e-3f;
    c.maxiter_spectral = 10;
    c.eps_bjorck = 1e-3f;
    c.beta_bjorck = 0.5f;
    c.maxiter_bjorck = 15;
    return c;
}

static lip_rko_config rko_config(const lip_constraint_config *c) {
    lip_rko_config r;
    r.coef = c->k_coef_lip;
    r.eps_spectral = c->eps_spectral;
    r.maxiter_spectral = c->maxiter_spectral;
    r.eps_bjorck = c->eps_bjorck;
    r.beta_bjorck = c->beta_bjorck;
    r.maxiter_bjorck = c->maxiter_bjorck;
    return r;
}

lip_status lip_constraint_create(lip_context *ctx, const lip_constraint_config *config, lip_constraint **out) {
    if (!ctx) return LIP_ERR_NULL;
    LIP_CHECK(ctx, out, LIP_ERR_NULL, "lip_constraint_create: out is NULL");
    *out = NULL;
    LIP_CHECK(ctx, config, LIP_ERR_NULL, "lip_constraint_create: config is NULL");
    const lip_constraint_config *c = config;
    switch (c->kind) {
    case LIP_CONSTRAINT_WEIGHT_CLIP:
        LIP_CHECK(ctx, isfinite(c->c) && c->c > 0, LIP_ERR_INVALID_ARGUMENT,
                  "WeightClip: c must be finite and > 0, got %g", (double)c->c);
        break;
    case LIP_CONSTRAINT_AUTO_WEIGHT_CLIP:
        LIP_CHECK(ctx, isfinite(c->scale) && c->scale > 0, LIP_ERR_INVALID_ARGUMENT,
                  "AutoWeightClip: scale must be finite and > 0, got %g", (double)c->scale);
        break;
    case LIP_CONSTRAINT_FROBENIUS:
        LIP_CHECK(ctx, isfinite(c->eps) && c->eps >= 0, LIP_ERR_INVALID_ARGUMENT,
                  "FrobeniusConstraint: eps must be finite and >= 0, got %g", (double)c->eps);
        break;
    case LIP_CONSTRAINT_SPECTRAL: {
        lip_rko_config r = rko_config(c);
        LIP_TRY(lip_rko_check_config(ctx, "SpectralConstraint", "", &r));
        break;
    }
    default:
        return lip_set_error(ctx, LIP_ERR_INVALID_ARGUMENT, "lip_constraint_create: unknown constraint kind %d",
                             (int)c->kind);
    }
    lip_constraint *k = calloc(1, sizeof *k);
    if (!k) return lip_set_error(ctx, LIP_ERR_OUT_OF_HOST_MEMORY, "lip_constraint_create: out of host memory");
    k->ctx = ctx;
    k->cfg = *c;
    ctx->live_objects++;
    *out = k;
    return LIP_OK;
}

void lip_constraint_free(lip_constraint *constraint) {
    if (!constraint) return;
    lip_tensor_free(constraint->sumsq);
    lip_tensor_free(constraint->u);
    if (constraint->planned) lip_rko_destroy(&constraint->rko);
    constraint->ctx->live_objects--;
    free(constraint);
}

static lip_status launch_clip(lip_context *ctx, lip_tensor *w, float c) {
    cl_kernel k;
    LIP_TRY(lip_kernel_get(ctx, "constraints", "lip_constraints_clip", NULL, &k));
    cl_uint off = (cl_uint)w->offset, n = (cl_uint)w->count;
    cl_float cc = c;
    size_t global = grid(w->count), local = CON_LOCAL;
    return lip_launch(ctx, k, "constraints/clip", 1, &global, &local,
                      LIP_KARGS(LIP_KARG(w->mem), LIP_KARG(off), LIP_KARG(cc), LIP_KARG(n)));
}

static lip_status apply_frobenius(lip_constraint *con, lip_tensor *w) {
    lip_context *ctx = con->ctx;
    if (!con->sumsq) {
        size_t one = 1;
        LIP_TRY(lip_tensor_create(ctx, LIP_FLOAT32, 1, &one, &con->sumsq));
    }
    LIP_TRY(lip_reduce_sum_squares(ctx, w, con->sumsq));
    cl_kernel k;
    LIP_TRY(lip_kernel_get(ctx, "constraints", "lip_constraints_div_norm", NULL, &k));
    cl_uint off = (cl_uint)w->offset, n = (cl_uint)w->count, so = (cl_uint)con->sumsq->offset;
    cl_float eps = con->cfg.eps;
    size_t global = grid(w->count), local = CON_LOCAL;
    return lip_launch(ctx, k, "constraints/frobenius", 1, &global, &local,
                      LIP_KARGS(LIP_KARG(w->mem), LIP_KARG(off), LIP_KARG(con->sumsq->mem), LIP_KARG(so),
                                LIP_KARG(eps), LIP_KARG(n)));
}

/* The stored u for `cols` columns: created (U[0, 1)) when absent. */
static lip_status ensure_u(lip_constraint *con, size_t cols) {
    if (con->u) return LIP_OK;
    size_t shape[2] = {1, cols};
    LIP_TRY(lip_tensor_create(con->ctx, LIP_FLOAT32, 2, shape, &con->u));
    return lip_random_uniform(con->ctx, con->u, 0.0f, 1.0f);
}

static lip_status apply_spectral(lip_constraint *con, lip_tensor *w) {
    lip_context *ctx = con->ctx;
    size_t cols = w->shape[w->ndim - 1], rows = w->count / cols;
    char ws[64];
    if (con->planned) {
        LIP_CHECK(ctx, rows == con->rows && cols == con->cols, LIP_ERR_SHAPE,
                  "SpectralConstraint: kernel %s viewed as %zu x %zu, but this constraint (and its u) serves a "
                  "%zu x %zu kernel: use one constraint per kernel",
                  lip_shape_string(w, ws, sizeof ws), rows, cols, con->rows, con->cols);
    } else {
        LIP_CHECK(ctx, !con->u || con->u->count == cols, LIP_ERR_SHAPE,
                  "SpectralConstraint: kernel %s has %zu columns (last axis) but the u given by "
                  "lip_constraint_set_u has %zu elements",
                  lip_shape_string(w, ws, sizeof ws), cols, con->u ? con->u->count : 0);
        lip_rko_config r = rko_config(&con->cfg);
        lip_status st = lip_rko_create(ctx, rows, cols, &r, &con->rko);
        if (st != LIP_OK) {
            lip_rko_destroy(&con->rko);
            return st;
        }
        con->planned = 1;
        con->rows = rows;
        con->cols = cols;
        LIP_TRY(ensure_u(con, cols));
    }
    LIP_TRY(lip_rko_forward(ctx, &con->rko, w, con->u));
    return lip_tensor_copy(w, con->rko.w_bar);
}

lip_status lip_constraint_apply(lip_constraint *constraint, lip_tensor *kernel) {
    if (!constraint) return LIP_ERR_NULL;
    lip_constraint *con = constraint;
    lip_context *ctx = con->ctx;
    char what[64];
    snprintf(what, sizeof what, "%s: kernel", constraint_name(con->cfg.kind));
    LIP_TRY(lip_check_tensor(ctx, kernel, LIP_FLOAT32, what));
    LIP_CHECK(ctx, kernel->count <= 0xffffffffu, LIP_ERR_SHAPE, "%s: kernel of %zu elements is too large",
              constraint_name(con->cfg.kind), kernel->count);
    switch (con->cfg.kind) {
    case LIP_CONSTRAINT_WEIGHT_CLIP: return launch_clip(ctx, kernel, con->cfg.c);
    case LIP_CONSTRAINT_AUTO_WEIGHT_CLIP: {
        /* deel-lip computes c in float64 before clipping float32 weights. */
        double c = 1.0 / (sqrt((double)kernel->count) * (double)con->cfg.scale);
        return launch_clip(ctx, kernel, (float)c);
    }
    case LIP_CONSTRAINT_FROBENIUS: return apply_frobenius(con, kernel);
    case LIP_CONSTRAINT_SPECTRAL: return apply_spectral(con, kernel);
    }
    return lip_set_error(ctx, LIP_ERR_INTERNAL, "lip_constraint_apply: unknown kind");
}

lip_status lip_constraint_u(const lip_constraint *constraint, lip_tensor **u) {
    if (!constraint) return LIP_ERR_NULL;
    LIP_CHECK(constraint->ctx, u, LIP_ERR_NULL, "lip_constraint_u: u is NULL");
    LIP_CHECK(constraint->ctx, constraint->cfg.kind == LIP_CONSTRAINT_SPECTRAL, LIP_ERR_INVALID_ARGUMENT,
              "lip_constraint_u: a %s has no u (only SpectralConstraint)", constraint_name(constraint->cfg.kind));
    *u = constraint->u;
    return LIP_OK;
}

lip_status lip_constraint_set_u(lip_constraint *constraint, const lip_tensor *u) {
    if (!constraint) return LIP_ERR_NULL;
    lip_constraint *con = constraint;
    lip_context *ctx = con->ctx;
    LIP_CHECK(ctx, con->cfg.kind == LIP_CONSTRAINT_SPECTRAL, LIP_ERR_INVALID_ARGUMENT,
              "lip_constraint_set_u: a %s has no u (only SpectralConstraint)", constraint_name(con->cfg.kind));
    LIP_TRY(lip_check_tensor(ctx, u, LIP_FLOAT32, "lip_constraint_set_u: u"));
    size_t want = con->u ? con->u->count : u->count;
    LIP_CHECK(ctx, u->count == want, LIP_ERR_SHAPE,
              "lip_constraint_set_u: u has %zu elements, the kernel this constraint serves has %zu columns", u->count,
              want);
    if (!con->u) LIP_TRY(ensure_u(con, u->count));
    return lip_tensor_copy(con->u, u);
}

/* ---- regularizers ----------------------------------------------------------------------------- */

struct lip_regularizer {
    lip_context *ctx;
    lip_regularizer_config cfg;
    lip_tensor *scratch; /* OrthDense: G − I (n×n); Lorth2D: conv_kk − target (M, o, o, M) */
    lip_tensor *sumsq;   /* Σ scratch² (1 element) */
    size_t warned_shape[4]; /* Lorth2D: the kernel shape last warned about (warn once, not every step) */
};

static const char *regularizer_name(lip_regularizer_kind k) {
    return k == LIP_REGULARIZER_LORTH2D ? "LorthRegularizer" : "OrthDenseRegularizer";
}

lip_regularizer_config lip_regularizer_config_default(lip_regularizer_kind kind) {
    lip_regularizer_config c;
    memset(&c, 0, sizeof c);
    c.kind = kind;
    c.lambda = 1.0f;
    c.stride = 1;
    c.conv_transpose = 0;
    return c;
}

lip_status lip_regularizer_create(lip_context *ctx, const lip_regularizer_config *config, lip_regularizer **out) {
    if (!ctx) return LIP_ERR_NULL;
    LIP_CHECK(ctx, out, LIP_ERR_NULL, "lip_regularizer_create: out is NULL");
    *out = NULL;
    LIP_CHECK(ctx, config, LIP_ERR_NULL, "lip_regularizer_create: config is NULL");
    const lip_regularizer_config *c = config;
    LIP_CHECK(ctx, c->kind == LIP_REGULARIZER_ORTH_DENSE || c->kind == LIP_REGULARIZER_LORTH2D,
              LIP_ERR_INVALID_ARGUMENT, "lip_regularizer_create: unknown regularizer kind %d", (int)c->kind);
    const char *name = regularizer_name(c->kind);
    LIP_CHECK(ctx, isfinite(c->lambda) && c->lambda >= 0, LIP_ERR_INVALID_ARGUMENT,
              "%s: lambda must be finite and >= 0, got %g", name, (double)c->lambda);
    if (c->kind == LIP_REGULARIZER_LORTH2D) {
        LIP_CHECK(ctx, c->stride >= 1, LIP_ERR_INVALID_ARGUMENT, "%s: stride must be >= 1, got %d", name, c->stride);
        LIP_CHECK(ctx, c->conv_transpose == 0 || c->conv_transpose == 1, LIP_ERR_INVALID_ARGUMENT,
                  "%s: conv_transpose must be 0 or 1, got %d", name, c->conv_transpose);
    }
    lip_regularizer *r = calloc(1, sizeof *r);
    if (!r) return lip_set_error(ctx, LIP_ERR_OUT_OF_HOST_MEMORY, "lip_regularizer_create: out of host memory");
    r->ctx = ctx;
    r->cfg = *c;
    ctx->live_objects++;
    *out = r;
    return LIP_OK;
}

void lip_regularizer_free(lip_regularizer *regularizer) {
    if (!regularizer) return;
    lip_tensor_free(regularizer->scratch);
    lip_tensor_free(regularizer->sumsq);
    regularizer->ctx->live_objects--;
    free(regularizer);
}

/* Scratch of exactly `count` floats (re-planned when the kernel's shape changes) and the sum. */
static lip_status ensure_scratch(lip_regularizer *r, size_t count) {
    if (r->scratch && r->scratch->count != count) {
        lip_tensor_free(r->scratch);
        r->scratch = NULL;
    }
    if (!r->scratch) LIP_TRY(lip_tensor_create(r->ctx, LIP_FLOAT32, 1, &count, &r->scratch));
    if (!r->sumsq) {
        size_t one = 1;
        LIP_TRY(lip_tensor_create(r->ctx, LIP_FLOAT32, 1, &one, &r->sumsq));
    }
    return LIP_OK;
}

/* value (+)= λ·(Σ scratch² − δ) */
static lip_status write_value(lip_regularizer *r, lip_tensor *value, int accumulate, float delta) {
    lip_context *ctx = r->ctx;
    LIP_TRY(lip_reduce_sum_squares(ctx, r->scratch, r->sumsq));
    cl_kernel k;
    LIP_TRY(lip_kernel_get(ctx, "constraints", "lip_constraints_value", NULL, &k));
    cl_uint vo = (cl_uint)value->offset, so = (cl_uint)r->sumsq->offset;
    cl_float lambda = r->cfg.lambda, d = delta;
    cl_int acc = accumulate != 0;
    size_t one = 1;
    return lip_launch(ctx, k, "constraints/value", 1, &one, &one,
                      LIP_KARGS(LIP_KARG(value->mem), LIP_KARG(vo), LIP_KARG(r->sumsq->mem), LIP_KARG(so),
                                LIP_KARG(lambda), LIP_KARG(d), LIP_KARG(acc)));
}

static lip_status orth_dense(lip_regularizer *r, const lip_tensor *w, lip_tensor *value, int accumulate,
                             lip_tensor *grad) {
    lip_context *ctx = r->ctx;
    size_t cols = w->shape[w->ndim - 1], rows = w->count / cols;
    int wide = rows <= cols; /* deel-lip: G = W·Wᵀ when rows ≤ cols, else Wᵀ·W */
    size_t n = wide ? rows : cols;
    LIP_TRY(ensure_scratch(r, n * n));
    lip_tensor *g = r->scratch;
    if (wide)
        LIP_TRY(lip_gemm(ctx, LIP_NO_TRANS, LIP_TRANS, n, n, cols, 1.0f, w, 0, cols, w, 0, cols, 0.0f, g, 0, n));
    else
        LIP_TRY(lip_gemm(ctx, LIP_TRANS, LIP_NO_TRANS, n, n, rows, 1.0f, w, 0, cols, w, 0, cols, 0.0f, g, 0, n));
    cl_kernel k;
    LIP_TRY(lip_kernel_get(ctx, "constraints", "lip_constraints_sub_identity", NULL, &k));
    cl_uint go = (cl_uint)g->offset, cn = (cl_uint)n;
    size_t global = ((n + CON_LOCAL - 1) / CON_LOCAL) * CON_LOCAL, local = CON_LOCAL;
    LIP_TRY(lip_launch(ctx, k, "constraints/sub_identity", 1, &global, &local,
                       LIP_KARGS(LIP_KARG(g->mem), LIP_KARG(go), LIP_KARG(cn))));
    if (value) LIP_TRY(write_value(r, value, accumulate, 0.0f));
    if (grad) {
        /* ∇‖G − I‖² = 4·D·W (wide) or 4·W·D (tall), D = G − I symmetric. */
        float alpha = 4.0f * r->cfg.lambda;
        if (wide)
            LIP_TRY(lip_gemm(ctx, LIP_NO_TRANS, LIP_NO_TRANS, rows, cols, rows, alpha, g, 0, n, w, 0, cols, 1.0f, grad,
                             0, cols));
        else
            LIP_TRY(lip_gemm(ctx, LIP_NO_TRANS, LIP_NO_TRANS, rows, cols, cols, alpha, w, 0, cols, g, 0, n, 1.0f, grad,
                             0, cols));
    }
    return LIP_OK;
}

static lip_status lorth2d(lip_regularizer *r, const lip_tensor *w, lip_tensor *value, int accumulate,
                          lip_tensor *grad) {
    lip_context *ctx = r->ctx;
    const char *name = "LorthRegularizer";
    char ws[64];
    LIP_CHECK(ctx, w->ndim == 4 && w->shape[0] == w->shape[1], LIP_ERR_SHAPE,
              "%s: needs a conv kernel (R, R, C, M) with a square window, got %s", name,
              lip_shape_string(w, ws, sizeof ws));
    long R = (long)w->shape[0], C = (long)w->shape[2], M = (long)w->shape[3], s = r->cfg.stride;
    LIP_CHECK(ctx, R % 2 == 1, LIP_ERR_SHAPE, "%s: the kernel size must be odd, got %ldx%ld (kernel %s)", name, R, R,
              lip_shape_string(w, ws, sizeof ws));
    /* deel-lip's existence check (roles of C and M swapped for transposed convs). */
    long cin = r->cfg.conv_transpose ? M : C, cout = r->cfg.conv_transpose ? C : M;
    if (cin * s * s >= cout) {
        LIP_CHECK(ctx, cout <= cin * R * R, LIP_ERR_INVALID_ARGUMENT,
                  "%s: impossible RO configuration for an orthogonal convolution: kernel %s, stride %ld "
                  "(%ld outputs > %ld inputs x %ld x %ld)",
                  name, lip_shape_string(w, ws, sizeof ws), s, cout, cin, R, R);
    } else {
        LIP_CHECK(ctx, s <= R, LIP_ERR_INVALID_ARGUMENT,
                  "%s: impossible CO configuration for an orthogonal convolution: kernel %s, stride %ld > "
                  "kernel size %ld",
                  name, lip_shape_string(w, ws, sizeof ws), s, R);
    }
    if (cin * s * s == cout && memcmp(r->warned_shape, w->shape, sizeof r->warned_shape) != 0) {
        lip_log(ctx, LIP_LOG_WARN, "%s: the configuration C*s^2 = M (kernel %s, stride %ld) is hard to optimize",
                name, lip_shape_string(w, ws, sizeof ws), s);
        memcpy(r->warned_shape, w->shape, sizeof r->warned_shape);
    }
    long delta = cout - s * s * cin;
    if (delta < 0) delta = 0;
    long P = ((R - 1) / s) * s, o = 2 * ((R - 1) / s) + 1;
    size_t dcount = (size_t)(M * o * o * M);
    LIP_CHECK(ctx, dcount <= 0xffffffffu && w->count <= 0xffffffffu, LIP_ERR_SHAPE, "%s: kernel %s is too large",
              name, lip_shape_string(w, ws, sizeof ws));
    LIP_TRY(ensure_scratch(r, dcount));
    lip_tensor *d = r->scratch;
    cl_int cr = (cl_int)R, cc = (cl_int)C, cm = (cl_int)M, cs = (cl_int)s, cp = (cl_int)P, co = (cl_int)o;
    cl_uint ko = (cl_uint)w->offset, dof = (cl_uint)d->offset;
    cl_kernel k;
    LIP_TRY(lip_kernel_get(ctx, "constraints", "lip_constraints_lorth_conv", NULL, &k));
    size_t local = 64, global = ((dcount + local - 1) / local) * local;
    LIP_TRY(lip_launch(ctx, k, "constraints/lorth_conv", 1, &global, &local,
                       LIP_KARGS(LIP_KARG(w->mem), LIP_KARG(ko), LIP_KARG(d->mem), LIP_KARG(dof), LIP_KARG(cr),
                                 LIP_KARG(cc), LIP_KARG(cm), LIP_KARG(cs), LIP_KARG(cp), LIP_KARG(co))));
    if (value) LIP_TRY(write_value(r, value, accumulate, (float)delta));
    if (grad) {
        LIP_TRY(lip_kernel_get(ctx, "constraints", "lip_constraints_lorth_grad", NULL, &k));
        cl_uint gof = (cl_uint)grad->offset;
        cl_float lambda = r->cfg.lambda;
        size_t gglobal = ((w->count + local - 1) / local) * local;
        LIP_TRY(lip_launch(ctx, k, "constraints/lorth_grad", 1, &gglobal, &local,
                           LIP_KARGS(LIP_KARG(w->mem), LIP_KARG(ko), LIP_KARG(d->mem), LIP_KARG(dof),
                                     LIP_KARG(grad->mem), LIP_KARG(gof), LIP_KARG(cr), LIP_KARG(cc), LIP_KARG(cm),
                                     LIP_KARG(cs), LIP_KARG(cp), LIP_KARG(co), LIP_KARG(lambda))));
    }
    return LIP_OK;
}

lip_status lip_regularizer_apply(lip_regularizer *regularizer, const lip_tensor *kernel, lip_tensor *value,
                                 int accumulate_value, lip_tensor *grad) {
    if (!regularizer) return LIP_ERR_NULL;
    lip_regularizer *r = regularizer;
    lip_context *ctx = r->ctx;
    const char *name = regularizer_name(r->cfg.kind);
    char what[96], ks[64], gs[64];
    snprintf(what, sizeof what, "%s: kernel", name);
    LIP_TRY(lip_check_tensor(ctx, kernel, LIP_FLOAT32, what));
    if (value) {
        snprintf(what, sizeof what, "%s: value", name);
        LIP_TRY(lip_check_tensor(ctx, value, LIP_FLOAT32, what));
        LIP_CHECK(ctx, value->count == 1, LIP_ERR_SHAPE, "%s: value must have 1 element, got %zu", name,
                  value->count);
    }
    if (grad) {
        snprintf(what, sizeof what, "%s: grad", name);
        LIP_TRY(lip_check_tensor(ctx, grad, LIP_FLOAT32, what));
        LIP_CHECK(ctx, grad->count == kernel->count, LIP_ERR_SHAPE,
                  "%s: grad %s must have the %zu elements of the kernel %s", name, lip_shape_string(grad, gs, sizeof gs),
                  kernel->count, lip_shape_string(kernel, ks, sizeof ks));
    }
    if (r->cfg.kind == LIP_REGULARIZER_LORTH2D) return lorth2d(r, kernel, value, accumulate_value, grad);
    return orth_dense(r, kernel, value, accumulate_value, grad);
}
