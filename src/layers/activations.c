/* lipcl — Lipschitz activations (GroupSort family, MaxMin, Householder, PReLUlip, ReLU): argument checks,
 * launches of kernels/sort_activations.cl and kernels/activations.cl (forward, backward), and the layers. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "layers/activations.h"
#include "layers/layer.h"

/* Work-group size of the 1-D launches and the most groups launched (the kernels loop with a grid
 * stride, so the cap only bounds the grid; one element per work-item below 8M elements). */
#define ACT_LOCAL 64
#define ACT_MAX_GROUPS 131072
/* Parameter gradients: cols × S grid in groups of ACT_COLS_LOCAL × 1; S row splits of at least
 * ACT_ROWS_PER_SPLIT rows, at most ACT_MAX_SPLITS, and S·cols near ACT_TARGET_ITEMS. */
#define ACT_COLS_LOCAL 32
#define ACT_ROWS_PER_SPLIT 32
#define ACT_MAX_SPLITS 256
#define ACT_TARGET_ITEMS 16384

/* Global size of a 1-D launch over n items (whole groups, capped). */
static size_t grid1d(size_t n) {
    size_t groups = (n + ACT_LOCAL - 1) / ACT_LOCAL;
    if (groups > ACT_MAX_GROUPS) groups = ACT_MAX_GROUPS;
    if (groups == 0) groups = 1;
    return groups * ACT_LOCAL;
}

/* A 1-D grid-stride launch over n items. */
static lip_status launch1d(lip_context *ctx, cl_kernel k, const char *label, size_t n, size_t nargs,
                           const lip_karg *args) {
    size_t global = grid1d(n), local = ACT_LOCAL;
    return lip_launch(ctx, k, label, 1, &global, &local, nargs, args);
}

/* Row splits for a parameter gradient over rows × cols. */
static size_t row_splits(size_t rows, size_t cols) {
    size_t s = rows / ACT_ROWS_PER_SPLIT;
    if (s > ACT_MAX_SPLITS) s = ACT_MAX_SPLITS;
    size_t by_cols = ACT_TARGET_ITEMS / cols;
    if (s > by_cols) s = by_cols;
    return s < 1 ? 1 : s;
}

/* `t` is a tensor of ctx of this dtype; `op: name` in messages. */
static lip_status check_t(lip_context *ctx, const char *op, const char *name, const lip_tensor *t, lip_dtype dtype) {
    char what[96];
    snprintf(what, sizeof what, "%s: %s", op, name);
    return lip_check_tensor(ctx, t, dtype, what);
}

/* b has exactly a's shape. */
static lip_status check_same_shape(lip_context *ctx, const char *op, const char *aname, const lip_tensor *a,
                                   const char *bname, const lip_tensor *b) {
    int same = a->ndim == b->ndim;
    for (int i = 0; same && i < a->ndim; i++) same = a->shape[i] == b->shape[i];
    if (!same) {
        char as[64], bs[64];
        return lip_set_error(ctx, LIP_ERR_SHAPE, "%s: %s %s must have the shape of %s %s", op, bname,
                             lip_shape_string(b, bs, sizeof bs), aname, lip_shape_string(a, as, sizeof as));
    }
    return LIP_OK;
}

/* An output that must not share its buffer with an input. */
static lip_status check_distinct(lip_context *ctx, const char *op, const char *oname, const lip_tensor *out,
                                 const char *iname, const lip_tensor *in) {
    LIP_CHECK(ctx, !in || out->mem != in->mem, LIP_ERR_INVALID_ARGUMENT, "%s: %s must not be the same tensor as %s",
              op, oname, iname);
    return LIP_OK;
}

/* k_coef_lip is finite and > 0. */
static lip_status check_k(lip_context *ctx, const char *op, float k) {
    LIP_CHECK(ctx, isfinite(k) && k > 0.0f, LIP_ERR_INVALID_ARGUMENT, "%s: k_coef_lip must be finite and > 0 (got %g)",
              op, (double)k);
    return LIP_OK;
}

/* ---- GroupSort -------------------------------------------------------------------------------- */

/* "FullSort" (n = 0) or "GroupSort(n)", for messages. */
static void groupsort_name(size_t n, char *buf, size_t size) {
    if (n == 0)
        snprintf(buf, size, "FullSort");
    else
        snprintf(buf, size, "GroupSort(%zu)", n);
}

lip_status lip_groupsort_group_size(lip_context *ctx, size_t n, int ndim, const size_t *shape, size_t *group) {
    if (!ctx) return LIP_ERR_NULL;
    char op[48];
    groupsort_name(n, op, sizeof op);
    LIP_CHECK(ctx, shape && group, LIP_ERR_NULL, "%s: shape or result pointer is NULL", op);
    LIP_CHECK(ctx, ndim >= 1 && ndim <= LIP_MAX_DIMS, LIP_ERR_SHAPE, "%s: input rank %d outside 1..%d", op, ndim,
              LIP_MAX_DIMS);
    size_t c = shape[ndim - 1];
    LIP_CHECK(ctx, c >= 1, LIP_ERR_SHAPE, "%s: the input has 0 channels", op);
    size_t g = (n == 0 || n > c) ? c : n;
    LIP_CHECK(ctx, c % g == 0, LIP_ERR_SHAPE, "%s: %zu channels is not a multiple of %zu", op, c, g);
    *group = g;
    return LIP_OK;
}

lip_status lip_groupsort_forward(lip_context *ctx, size_t n, float k, const lip_tensor *x, lip_tensor *y,
                                 lip_tensor *ranks) {
    if (!ctx) return LIP_ERR_NULL;
    char op[48];
    groupsort_name(n, op, sizeof op);
    LIP_TRY(check_k(ctx, op, k));
    LIP_TRY(check_t(ctx, op, "x", x, LIP_FLOAT32));
    LIP_TRY(check_t(ctx, op, "y", y, LIP_FLOAT32));
    LIP_TRY(check_same_shape(ctx, op, "x", x, "y", y));
    LIP_TRY(check_distinct(ctx, op, "y", y, "x", x));
    size_t group;
    LIP_TRY(lip_groupsort_group_size(ctx, n, x->ndim, x->shape, &group));
    if (ranks) {
        LIP_TRY(check_t(ctx, op, "ranks", ranks, LIP_INT32));
        LIP_TRY(check_same_shape(ctx, op, "x", x, "ranks", ranks));
        LIP_TRY(check_distinct(ctx, op, "ranks", ranks, "x", x));
        LIP_TRY(check_distinct(ctx, op, "ranks", ranks, "y", y));
    }
    cl_mem r_mem = ranks ? ranks->mem : y->mem; /* unused by the kernel without ranks */
    cl_uint r_off = ranks ? (cl_uint)ranks->offset : 0, store = ranks ? 1 : 0;
    cl_uint x_off = (cl_uint)x->offset, y_off = (cl_uint)y->offset;
    cl_float kf = k;
    cl_kernel kern;
    if (group == 2) {
        cl_uint pairs = (cl_uint)(x->count / 2);
        LIP_TRY(lip_kernel_get(ctx, "sort_activations", "lip_sort_activations_groupsort2", NULL, &kern));
        return launch1d(ctx, kern, "activations/groupsort2", pairs,
                        LIP_KARGS(LIP_KARG(x->mem), LIP_KARG(x_off), LIP_KARG(y->mem), LIP_KARG(y_off),
                                  LIP_KARG(r_mem), LIP_KARG(r_off), LIP_KARG(store), LIP_KARG(pairs), LIP_KARG(kf)));
    }
    cl_uint gn = (cl_uint)group, count = (cl_uint)x->count;
    LIP_TRY(lip_kernel_get(ctx, "sort_activations", "lip_sort_activations_groupsort", NULL, &kern));
    return launch1d(ctx, kern, "activations/groupsort", count,
                    LIP_KARGS(LIP_KARG(x->mem), LIP_KARG(x_off), LIP_KARG(y->mem), LIP_KARG(y_off), LIP_KARG(r_mem),
                              LIP_KARG(r_off), LIP_KARG(store), LIP_KARG(gn), LIP_KARG(count), LIP_KARG(kf)));
}

lip_status lip_groupsort_backward(lip_context *ctx, size_t n, float k, const lip_tensor *x,
                                  const lip_tensor *ranks, const lip_tensor *dy, lip_tensor *dx) {
    if (!ctx) return LIP_ERR_NULL;
    char op[48];
    groupsort_name(n, op, sizeof op);
    LIP_TRY(check_k(ctx, op, k));
    LIP_CHECK(ctx, x || ranks, LIP_ERR_NULL, "%s backward: needs x or the ranks written by the forward", op);
    LIP_TRY(check_t(ctx, op, "dy", dy, LIP_FLOAT32));
    LIP_TRY(check_t(ctx, op, "dx", dx, LIP_FLOAT32));
    LIP_TRY(check_same_shape(ctx, op, "dy", dy, "dx", dx));
    LIP_TRY(check_distinct(ctx, op, "dx", dx, "dy", dy));
    if (x) {
        LIP_TRY(check_t(ctx, op, "x", x, LIP_FLOAT32));
        LIP_TRY(check_same_shape(ctx, op, "x", x, "dy", dy));
        LIP_TRY(check_distinct(ctx, op, "dx", dx, "x", x));
    }
    if (ranks) {
        LIP_TRY(check_t(ctx, op, "ranks", ranks, LIP_INT32));
        LIP_TRY(check_same_shape(ctx, op, "dy", dy, "ranks", ranks));
        LIP_TRY(check_distinct(ctx, op, "dx", dx, "ranks", ranks));
    }
    size_t group;
    LIP_TRY(lip_groupsort_group_size(ctx, n, dy->ndim, dy->shape, &group));
    /* Unused buffers get a valid stand-in (the kernel does not read them). */
    cl_mem x_mem = x ? x->mem : dy->mem, r_mem = ranks ? ranks->mem : dy->mem;
    cl_uint x_off = x ? (cl_uint)x->offset : 0, r_off = ranks ? (cl_uint)ranks->offset : 0, use = ranks ? 1 : 0;
    cl_uint dy_off = (cl_uint)dy->offset, dx_off = (cl_uint)dx->offset;
    cl_float kf = k;
    cl_kernel kern;
    if (group == 2) {
        cl_uint pairs = (cl_uint)(dy->count / 2);
        LIP_TRY(lip_kernel_get(ctx, "sort_activations", "lip_sort_activations_groupsort2_backward", NULL, &kern));
        return launch1d(ctx, kern, "activations/groupsort2_backward", pairs,
                        LIP_KARGS(LIP_KARG(x_mem), LIP_KARG(x_off), LIP_KARG(r_mem), LIP_KARG(r_off), LIP_KARG(use),
                                  LIP_KARG(dy->mem), LIP_KARG(dy_off), LIP_KARG(dx->mem), LIP_KARG(dx_off),
                                  LIP_KARG(pairs), LIP_KARG(kf)));
    }
    cl_uint gn = (cl_uint)group, count = (cl_uint)dy->count;
    LIP_TRY(lip_kernel_get(ctx, "sort_activations", "lip_sort_activations_groupsort_backward", NULL, &kern));
    return launch1d(ctx, kern, "activations/groupsort_backward", count,
                    LIP_KARGS(LIP_KARG(x_mem), LIP_KARG(x_off), LIP_KARG(r_mem), LIP_KARG(r_off), LIP_KARG(use),
                              LIP_KARG(dy->mem), LIP_KARG(dy_off), LIP_KARG(dx->mem), LIP_KARG(dx_off), LIP_KARG(gn),
                              LIP_KARG(count), LIP_KARG(kf)));
}

/* ---- MaxMin ----------------------------------------------------------------------------------- */

lip_status lip_maxmin_output_shape(lip_context *ctx, int ndim, const size_t *in, size_t *out) {
    if (!ctx) return LIP_ERR_NULL;
    LIP_CHECK(ctx, in && out, LIP_ERR_NULL, "MaxMin: shape pointer is NULL");
    LIP_CHECK(ctx, ndim >= 1 && ndim <= LIP_MAX_DIMS, LIP_ERR_SHAPE, "MaxMin: input rank %d outside 1..%d", ndim,
              LIP_MAX_DIMS);
    for (int i = 0; i < ndim; i++) out[i] = in[i];
    out[ndim - 1] = 2 * in[ndim - 1];
    return LIP_OK;
}

/* y (or dy) is x's shape with the last axis doubled. */
static lip_status check_maxmin_pair(lip_context *ctx, const char *yname, const lip_tensor *x, const lip_tensor *y) {
    size_t want[LIP_MAX_DIMS];
    LIP_TRY(lip_maxmin_output_shape(ctx, x->ndim, x->shape, want));
    int same = y->ndim == x->ndim;
    for (int i = 0; same && i < x->ndim; i++) same = y->shape[i] == want[i];
    if (!same) {
        char xs[64], ys[64];
        return lip_set_error(ctx, LIP_ERR_SHAPE, "MaxMin: %s %s must be x %s with the last axis doubled (%zu)", yname,
                             lip_shape_string(y, ys, sizeof ys), lip_shape_string(x, xs, sizeof xs),
                             want[x->ndim - 1]);
    }
    return LIP_OK;
}

lip_status lip_maxmin_forward(lip_context *ctx, float k, const lip_tensor *x, lip_tensor *y) {
    if (!ctx) return LIP_ERR_NULL;
    const char *op = "MaxMin";
    LIP_TRY(check_k(ctx, op, k));
    LIP_TRY(check_t(ctx, op, "x", x, LIP_FLOAT32));
    LIP_TRY(check_t(ctx, op, "y", y, LIP_FLOAT32));
    LIP_TRY(check_maxmin_pair(ctx, "y", x, y));
    LIP_TRY(check_distinct(ctx, op, "y", y, "x", x));
    cl_kernel kern;
    LIP_TRY(lip_kernel_get(ctx, "sort_activations", "lip_sort_activations_maxmin", NULL, &kern));
    cl_uint x_off = (cl_uint)x->offset, y_off = (cl_uint)y->offset, c = (cl_uint)x->shape[x->ndim - 1];
    cl_uint count = (cl_uint)x->count;
    cl_float kf = k;
    return launch1d(ctx, kern, "activations/maxmin", count,
                    LIP_KARGS(LIP_KARG(x->mem), LIP_KARG(x_off), LIP_KARG(y->mem), LIP_KARG(y_off), LIP_KARG(c),
                              LIP_KARG(count), LIP_KARG(kf)));
}

lip_status lip_maxmin_backward(lip_context *ctx, float k, const lip_tensor *x, const lip_tensor *dy,
                               lip_tensor *dx) {
    if (!ctx) return LIP_ERR_NULL;
    const char *op = "MaxMin";
    LIP_TRY(check_k(ctx, op, k));
    LIP_TRY(check_t(ctx, op, "x", x, LIP_FLOAT32));
    LIP_TRY(check_t(ctx, op, "dy", dy, LIP_FLOAT32));
    LIP_TRY(check_t(ctx, op, "dx", dx, LIP_FLOAT32));
    LIP_TRY(check_maxmin_pair(ctx, "dy", x, dy));
    LIP_TRY(check_same_shape(ctx, op, "x", x, "dx", dx));
    LIP_TRY(check_distinct(ctx, op, "dx", dx, "dy", dy));
    cl_kernel kern;
    LIP_TRY(lip_kernel_get(ctx, "sort_activations", "lip_sort_activations_maxmin_backward", NULL, &kern));
    cl_uint x_off = (cl_uint)x->offset, dy_off = (cl_uint)dy->offset, dx_off = (cl_uint)dx->offset;
    cl_uint c = (cl_uint)x->shape[x->ndim - 1], count = (cl_uint)x->count;
    cl_float kf = k;
    return launch1d(ctx, kern, "activations/maxmin_backward", count,
                    LIP_KARGS(LIP_KARG(x->mem), LIP_KARG(x_off), LIP_KARG(dy->mem), LIP_KARG(dy_off),
                              LIP_KARG(dx->mem), LIP_KARG(dx_off), LIP_KARG(c), LIP_KARG(count), LIP_KARG(kf)));
}

/* ---- parameter-gradient launches shared by Householder and PReLU ------------------------------ */

/*
 * Launch a "*_backward" kernel of activations.cl whose arguments are `head` (the op's own leading
 * arguments) followed by dx, dx_off, write_dx, partial, partial_off, write_grad, accumulate, rows,
 * cols, splits; then, when the gradient is split, sum the partials into `grad`. dx or grad may be
 * NULL (not written); `standin` is a valid buffer passed in their place.
 */
static lip_status param_backward(lip_context *ctx, const char *entry, const char *label, const char *sum_label,
                                 size_t nhead, const lip_karg *head, cl_mem standin, lip_tensor *dx, lip_tensor *grad,
                                 int accumulate, size_t rows, size_t cols) {
    cl_kernel kern;
    LIP_TRY(lip_kernel_get(ctx, "activations", entry, NULL, &kern));
    size_t splits = grad ? row_splits(rows, cols) : 1;
    lip_tensor *scratch = NULL;
    if (grad && splits > 1) {
        size_t shape[2] = {splits, cols};
        LIP_TRY(lip_tensor_create(ctx, LIP_FLOAT32, 2, shape, &scratch));
    }
    lip_tensor *partial = scratch ? scratch : grad;
    /* Stand-ins for what is not written (the kernel does not touch them). */
    cl_mem dx_mem = dx ? dx->mem : standin;
    cl_mem p_mem = partial ? partial->mem : dx_mem;
    cl_uint dx_off = dx ? (cl_uint)dx->offset : 0, write_dx = dx ? 1 : 0;
    cl_uint p_off = partial ? (cl_uint)partial->offset : 0, write_grad = grad ? 1 : 0;
    cl_uint acc = (grad && !scratch && accumulate) ? 1 : 0;
    cl_uint r = (cl_uint)rows, c = (cl_uint)cols, s = (cl_uint)splits;
    lip_karg args[24];
    size_t nargs = 0;
    for (size_t i = 0; i < nhead; i++) args[nargs++] = head[i];
    args[nargs++] = LIP_KARG(dx_mem);
    args[nargs++] = LIP_KARG(dx_off);
    args[nargs++] = LIP_KARG(write_dx);
    args[nargs++] = LIP_KARG(p_mem);
    args[nargs++] = LIP_KARG(p_off);
    args[nargs++] = LIP_KARG(write_grad);
    args[nargs++] = LIP_KARG(acc);
    args[nargs++] = LIP_KARG(r);
    args[nargs++] = LIP_KARG(c);
    args[nargs++] = LIP_KARG(s);
    size_t global[2] = {cols, splits}, local[2] = {ACT_COLS_LOCAL, 1};
    lip_status st;
    LIP_TRY_GOTO(st, lip_launch(ctx, kern, label, 2, global, local, nargs, args));
    if (scratch) {
        cl_kernel ksum;
        LIP_TRY_GOTO(st, lip_kernel_get(ctx, "activations", "lip_activations_sum_partials", NULL, &ksum));
        cl_uint g_off = (cl_uint)grad->offset, acc2 = accumulate ? 1 : 0;
        LIP_TRY_GOTO(st, launch1d(ctx, ksum, sum_label, cols,
                                  LIP_KARGS(LIP_KARG(scratch->mem), LIP_KARG(p_off), LIP_KARG(s), LIP_KARG(c),
                                            LIP_KARG(grad->mem), LIP_KARG(g_off), LIP_KARG(acc2))));
    }
fail:
    /* Safe with the kernels still queued: OpenCL keeps the buffer until its commands finish. */
    lip_tensor_free(scratch);
    return st;
}

/* Operands of the backward of an activation with a trainable parameter (Householder θ, PReLU α):
 * dy like x; dx (optional) like x and distinct from x and the parameter; dparam (optional) with
 * the parameter's element count and distinct from it. */
static lip_status check_param_backward(lip_context *ctx, const char *op, const lip_tensor *x, const lip_tensor *param,
                                       const char *pname, const lip_tensor *dy, const lip_tensor *dx,
                                       const lip_tensor *dparam, const char *dpname) {
    LIP_TRY(check_t(ctx, op, "dy", dy, LIP_FLOAT32));
    LIP_TRY(check_same_shape(ctx, op, "x", x, "dy", dy));
    if (dx) {
        LIP_TRY(check_t(ctx, op, "dx", dx, LIP_FLOAT32));
        LIP_TRY(check_same_shape(ctx, op, "x", x, "dx", dx));
        LIP_TRY(check_distinct(ctx, op, "dx", dx, "x", x));
        LIP_TRY(check_distinct(ctx, op, "dx", dx, pname, param));
    }
    if (dparam) {
        LIP_TRY(check_t(ctx, op, dpname, dparam, LIP_FLOAT32));
        char ps[64], gs[64];
        LIP_CHECK(ctx, dparam->count == param->count, LIP_ERR_SHAPE, "%s: %s %s must have the %zu elements of %s %s",
                  op, dpname, lip_shape_string(dparam, gs, sizeof gs), param->count, pname,
                  lip_shape_string(param, ps, sizeof ps));
        LIP_TRY(check_distinct(ctx, op, dpname, dparam, pname, param));
    }
    return LIP_OK;
}

/* ---- Householder ------------------------------------------------------------------------------ */

/* x has an even number C of channels and θ C/2 elements. */
static lip_status check_householder(lip_context *ctx, const lip_tensor *theta, const lip_tensor *x) {
    const char *op = "Householder";
    LIP_TRY(check_t(ctx, op, "x", x, LIP_FLOAT32));
    LIP_TRY(check_t(ctx, op, "theta", theta, LIP_FLOAT32));
    size_t c = x->shape[x->ndim - 1];
    char xs[64], ts[64];
    LIP_CHECK(ctx, c % 2 == 0, LIP_ERR_SHAPE, "Householder: x %s has %zu channels, which is not even",
              lip_shape_string(x, xs, sizeof xs), c);
    LIP_CHECK(ctx, theta->count == c / 2, LIP_ERR_SHAPE,
              "Householder: theta %s must have %zu elements (half the %zu channels of x %s)",
              lip_shape_string(theta, ts, sizeof ts), c / 2, c, lip_shape_string(x, xs, sizeof xs));
    return LIP_OK;
}

lip_status lip_householder_forward(lip_context *ctx, const lip_tensor *theta, const lip_tensor *x, lip_tensor *y) {
    if (!ctx) return LIP_ERR_NULL;
    const char *op = "Householder";
    LIP_TRY(check_householder(ctx, theta, x));
    LIP_TRY(check_t(ctx, op, "y", y, LIP_FLOAT32));
    LIP_TRY(check_same_shape(ctx, op, "x", x, "y", y));
    cl_kernel kern;
    LIP_TRY(lip_kernel_get(ctx, "activations", "lip_activations_householder", NULL, &kern));
    cl_uint x_off = (cl_uint)x->offset, t_off = (cl_uint)theta->offset, y_off = (cl_uint)y->offset;
    cl_uint h = (cl_uint)(x->shape[x->ndim - 1] / 2), pairs = (cl_uint)(x->count / 2);
    return launch1d(ctx, kern, "activations/householder", pairs,
                    LIP_KARGS(LIP_KARG(x->mem), LIP_KARG(x_off), LIP_KARG(theta->mem), LIP_KARG(t_off),
                              LIP_KARG(y->mem), LIP_KARG(y_off), LIP_KARG(h), LIP_KARG(pairs)));
}

lip_status lip_householder_backward(lip_context *ctx, const lip_tensor *theta, const lip_tensor *x,
                                    const lip_tensor *dy, lip_tensor *dx, lip_tensor *dtheta, int accumulate) {
    if (!ctx) return LIP_ERR_NULL;
    const char *op = "Householder";
    LIP_TRY(check_householder(ctx, theta, x));
    LIP_TRY(check_param_backward(ctx, op, x, theta, "theta", dy, dx, dtheta, "dtheta"));
    if (!dx && !dtheta) return LIP_OK;
    size_t h = x->shape[x->ndim - 1] / 2, rows = x->count / (2 * h);
    cl_uint x_off = (cl_uint)x->offset, t_off = (cl_uint)theta->offset, dy_off = (cl_uint)dy->offset;
    lip_karg head[] = {LIP_KARG(x->mem),  LIP_KARG(x_off),   LIP_KARG(theta->mem),
                       LIP_KARG(t_off),   LIP_KARG(dy->mem), LIP_KARG(dy_off)};
    return param_backward(ctx, "lip_activations_householder_backward", "activations/householder_backward",
                          "activations/householder_dtheta", sizeof head / sizeof head[0], head, x->mem, dx, dtheta,
                          accumulate, rows, h);
}

/* ---- PReLU ------------------------------------------------------------------------------------ */

/* α's element count is the product of x's trailing axes. */
static lip_status check_prelu(lip_context *ctx, const lip_tensor *alpha, const lip_tensor *x) {
    const char *op = "PReLUlip";
    LIP_TRY(check_t(ctx, op, "x", x, LIP_FLOAT32));
    LIP_TRY(check_t(ctx, op, "alpha", alpha, LIP_FLOAT32));
    size_t p = 1;
    int d = x->ndim;
    while (p < alpha->count && d > 0) p *= x->shape[--d];
    if (p != alpha->count) {
        char xs[64], as[64];
        return lip_set_error(ctx, LIP_ERR_SHAPE,
                             "PReLUlip: alpha %s has %zu elements; it must match trailing axes of x %s (1, %zu, ...)",
                             lip_shape_string(alpha, as, sizeof as), alpha->count, lip_shape_string(x, xs, sizeof xs),
                             x->shape[x->ndim - 1]);
    }
    return LIP_OK;
}

lip_status lip_prelu_forward(lip_context *ctx, const lip_tensor *alpha, const lip_tensor *x, lip_tensor *y) {
    if (!ctx) return LIP_ERR_NULL;
    const char *op = "PReLUlip";
    LIP_TRY(check_prelu(ctx, alpha, x));
    LIP_TRY(check_t(ctx, op, "y", y, LIP_FLOAT32));
    LIP_TRY(check_same_shape(ctx, op, "x", x, "y", y));
    LIP_TRY(check_distinct(ctx, op, "y", y, "alpha", alpha));
    cl_kernel kern;
    LIP_TRY(lip_kernel_get(ctx, "activations", "lip_activations_prelu", NULL, &kern));
    cl_uint x_off = (cl_uint)x->offset, a_off = (cl_uint)alpha->offset, y_off = (cl_uint)y->offset;
    cl_uint cols = (cl_uint)alpha->count, count = (cl_uint)x->count;
    return launch1d(ctx, kern, "activations/prelu", count,
                    LIP_KARGS(LIP_KARG(x->mem), LIP_KARG(x_off), LIP_KARG(alpha->mem), LIP_KARG(a_off),
                              LIP_KARG(y->mem), LIP_KARG(y_off), LIP_KARG(cols), LIP_KARG(count)));
}

lip_status lip_prelu_backward(lip_context *ctx, const lip_tensor *alpha, const lip_tensor *x, const lip_tensor *dy,
                              lip_tensor *dx, lip_tensor *dalpha, int accumulate) {
    if (!ctx) return LIP_ERR_NULL;
    const char *op = "PReLUlip";
    LIP_TRY(check_prelu(ctx, alpha, x));
    LIP_TRY(check_param_backward(ctx, op, x, alpha, "alpha", dy, dx, dalpha, "dalpha"));
    if (!dx && !dalpha) return LIP_OK;
    size_t cols = alpha->count, rows = x->count / cols;
    cl_uint x_off = (cl_uint)x->offset, a_off = (cl_uint)alpha->offset, dy_off = (cl_uint)dy->offset;
    lip_karg head[] = {LIP_KARG(x->mem),  LIP_KARG(x_off),   LIP_KARG(alpha->mem),
                       LIP_KARG(a_off),   LIP_KARG(dy->mem), LIP_KARG(dy_off)};
    return param_backward(ctx, "lip_activations_prelu_backward", "activations/prelu_backward",
                          "activations/prelu_dalpha", sizeof head / sizeof head[0], head, x->mem, dx, dalpha,
                          accumulate, rows, cols);
}

lip_status lip_prelu_constrain(lip_context *ctx, float k, lip_tensor *alpha) {
    if (!ctx) return LIP_ERR_NULL;
    const char *op = "PReLUlip";
    LIP_TRY(check_k(ctx, op, k));
    LIP_TRY(check_t(ctx, op, "alpha", alpha, LIP_FLOAT32));
    cl_kernel kern;
    LIP_TRY(lip_kernel_get(ctx, "activations", "lip_activations_prelu_constrain", NULL, &kern));
    cl_uint a_off = (cl_uint)alpha->offset, rows = (cl_uint)alpha->shape[0];
    cl_uint cols = (cl_uint)(alpha->count / alpha->shape[0]);
    cl_float kf = k;
    return launch1d(ctx, kern, "activations/prelu_constrain", cols,
                    LIP_KARGS(LIP_KARG(alpha->mem), LIP_KARG(a_off), LIP_KARG(rows), LIP_KARG(cols), LIP_KARG(kf)));
}

/* ---- ReLU ------------------------------------------------------------------------------------- */

lip_status lip_relu_forward(lip_context *ctx, const lip_tensor *x, lip_tensor *y) {
    if (!ctx) return LIP_ERR_NULL;
    const char *op = "ReLU";
    LIP_TRY(check_t(ctx, op, "x", x, LIP_FLOAT32));
    LIP_TRY(check_t(ctx, op, "y", y, LIP_FLOAT32));
    LIP_TRY(check_same_shape(ctx, op, "x", x, "y", y));
    cl_kernel kern;
    LIP_TRY(lip_kernel_get(ctx, "activations", "lip_activations_relu", NULL, &kern));
    cl_uint x_off = (cl_uint)x->offset, y_off = (cl_uint)y->offset, count = (cl_uint)x->count;
    return launch1d(ctx, kern, "activations/relu", count,
                    LIP_KARGS(LIP_KARG(x->mem), LIP_KARG(x_off), LIP_KARG(y->mem), LIP_KARG(y_off), LIP_KARG(count)));
}

lip_status lip_relu_backward(lip_context *ctx, const lip_tensor *x, const lip_tensor *dy, lip_tensor *dx) {
    if (!ctx) return LIP_ERR_NULL;
    const char *op = "ReLU";
    LIP_TRY(check_t(ctx, op, "x", x, LIP_FLOAT32));
    LIP_TRY(check_t(ctx, op, "dy", dy, LIP_FLOAT32));
    LIP_TRY(check_t(ctx, op, "dx", dx, LIP_FLOAT32));
    LIP_TRY(check_same_shape(ctx, op, "x", x, "dy", dy));
    LIP_TRY(check_same_shape(ctx, op, "x", x, "dx", dx));
    LIP_TRY(check_distinct(ctx, op, "dx", dx, "x", x));
    cl_kernel kern;
    LIP_TRY(lip_kernel_get(ctx, "activations", "lip_activations_relu_backward", NULL, &kern));
    cl_uint x_off = (cl_uint)x->offset, dy_off = (cl_uint)dy->offset, dx_off = (cl_uint)dx->offset;
    cl_uint count = (cl_uint)x->count;
    return launch1d(ctx, kern, "activations/relu_backward", count,
                    LIP_KARGS(LIP_KARG(x->mem), LIP_KARG(x_off), LIP_KARG(dy->mem), LIP_KARG(dy_off),
                              LIP_KARG(dx->mem), LIP_KARG(dx_off), LIP_KARG(count)));
}

/* ---- layers: GroupSort(n) / GroupSort2 / FullSort, MaxMin, ReLU --------------------------------- */


typedef enum { ACT_GROUPSORT, ACT_MAXMIN, ACT_RELU } act_kind;

typedef struct act_priv {
    act_kind kind;
    size_t n; /* GroupSort group size (0: all channels) */
    float k;
} act_priv;

static lip_status act_init(lip_layer *l) {
    act_priv *p = l->priv;
    l->out_ndim = l->in_ndim;
    memcpy(l->out_shape, l->in_shape, sizeof l->out_shape);
    if (p->kind == ACT_MAXMIN) {
        l->out_shape[l->out_ndim - 1] *= 2;
        return LIP_OK;
    }
    if (p->kind == ACT_GROUPSORT) {
        size_t group = 0; /* checks that the channels divide into groups, with a message naming n */
        return lip_groupsort_group_size(l->ctx, p->n, l->in_ndim, l->in_shape, &group);
    }
    return LIP_OK;
}

static lip_status act_forward(lip_layer *l, const lip_tensor *x, lip_tensor *y, size_t batch) {
    (void)batch;
    act_priv *p = l->priv;
    switch (p->kind) {
    case ACT_GROUPSORT:
        return lip_groupsort_forward(l->ctx, p->n, p->k, x, y, NULL);
    case ACT_MAXMIN:
        return lip_maxmin_forward(l->ctx, p->k, x, y);
    case ACT_RELU:
        break;
    }
    return lip_relu_forward(l->ctx, x, y);
}

static lip_status act_backward(lip_layer *l, const lip_tensor *x, const lip_tensor *y, const lip_tensor *dy,
                               lip_tensor *dx, size_t batch, int accumulate) {
    (void)y, (void)batch, (void)accumulate; /* no parameters */
    act_priv *p = l->priv;
    if (!dx) return LIP_OK;
    switch (p->kind) {
    case ACT_GROUPSORT:
        return lip_groupsort_backward(l->ctx, p->n, p->k, x, NULL, dy, dx);
    case ACT_MAXMIN:
        return lip_maxmin_backward(l->ctx, p->k, x, dy, dx);
    case ACT_RELU:
        break;
    }
    return lip_relu_backward(l->ctx, x, dy, dx);
}

/* GroupSort, MaxMin: k (k times a permutation, a norm-preserving split); ReLU: 1 (k is 1). */
static lip_status act_lipschitz_bound(const lip_layer *l, double *bound, int *per_neuron) {
    *bound = (double)((const act_priv *)l->priv)->k;
    *per_neuron = 0;
    return LIP_OK;
}

static lip_status act_get_config(const lip_layer *l, lip_layer_config *cfg) {
    const act_priv *p = l->priv;
    LIP_TRY(lip_layer_config_add(l->ctx, cfg, "n", (double)p->n));
    return lip_layer_config_add(l->ctx, cfg, "k_coef_lip", p->k);
}

/* Sequential(k_coef_lip): GroupSort and MaxMin read k at every forward. */
static lip_status act_set_k(lip_layer *l, float k) {
    ((act_priv *)l->priv)->k = k;
    return LIP_OK;
}

static lip_status act_vanilla_export(lip_layer *l, lip_layer **out) {
    return lip_layer_export_copy(l, sizeof(act_priv), out);
}

#define ACT_VTABLE(var, name, set_k)                                                                              \
    static const lip_layer_vtable var = {.type = name,                                                            \
                                         .init = act_init,                                                        \
                                         .forward = act_forward,                                                  \
                                         .backward = act_backward,                                                \
                                         .lipschitz_bound = act_lipschitz_bound,                                  \
                                         .get_config = act_get_config,                                            \
                                         .vanilla_export = act_vanilla_export,                                    \
                                         .set_k_coef_lip = set_k}
ACT_VTABLE(groupsort_vtable, "GroupSort", act_set_k);
ACT_VTABLE(maxmin_vtable, "MaxMin", act_set_k);
ACT_VTABLE(relu_vtable, "ReLU", NULL); /* a Keras layer in deel-lip, not a LipschitzLayer */
#undef ACT_VTABLE

static lip_status act_create(lip_context *ctx, const lip_layer_vtable *vt, act_kind kind, size_t n, float k,
                             const char *name, lip_layer **out) {
    if (!ctx) return LIP_ERR_NULL;
    LIP_CHECK(ctx, k > 0 && isfinite(k), LIP_ERR_INVALID_ARGUMENT, "%s '%s': k_coef_lip must be finite and > 0, got %g",
              vt->type, name ? name : "", (double)k);
    LIP_TRY(lip_layer_alloc(ctx, vt, name, sizeof(act_priv), out));
    act_priv *p = (*out)->priv;
    p->kind = kind;
    p->n = n;
    p->k = k;
    return LIP_OK;
}

lip_status lip_groupsort_create(lip_context *ctx, size_t n, float k_coef_lip, const char *name, lip_layer **out) {
    return act_create(ctx, &groupsort_vtable, ACT_GROUPSORT, n, k_coef_lip, name, out);
}

lip_status lip_groupsort2_create(lip_context *ctx, float k_coef_lip, const char *name, lip_layer **out) {
    return act_create(ctx, &groupsort_vtable, ACT_GROUPSORT, 2, k_coef_lip, name, out);
}

lip_status lip_fullsort_create(lip_context *ctx, float k_coef_lip, const char *name, lip_layer **out) {
    return act_create(ctx, &groupsort_vtable, ACT_GROUPSORT, 0, k_coef_lip, name, out);
}

lip_status lip_maxmin_create(lip_context *ctx, float k_coef_lip, const char *name, lip_layer **out) {
    return act_create(ctx, &maxmin_vtable, ACT_MAXMIN, 0, k_coef_lip, name, out);
}

lip_status lip_relu_create(lip_context *ctx, const char *name, lip_layer **out) {
    return act_create(ctx, &relu_vtable, ACT_RELU, 0, 1.0f, name, out);
}

/* ---- layers: Householder, PReLUlip ------------------------------------------------------------ */

typedef struct param_act_priv {
    float k;
    float theta_init;     /* Householder */
    size_t param;         /* index of θ or α */
    lip_tensor *scratch;  /* Householder with k ≠ 1: dθ before it is scaled into an accumulated grad */
} param_act_priv;

static lip_status householder_layer_init(lip_layer *l) {
    param_act_priv *p = l->priv;
    size_t c = l->in_shape[l->in_ndim - 1], half = c / 2;
    LIP_CHECK(l->ctx, c % 2 == 0, LIP_ERR_SHAPE,
              "%s '%s': %zu channels, must be even (channel i pairs with channel i + C/2)", l->vt->type, l->name, c);
    l->out_ndim = l->in_ndim;
    memcpy(l->out_shape, l->in_shape, sizeof l->out_shape);
    LIP_TRY(lip_layer_add_param(l, "theta", 1, &half, 1, &p->param));
    LIP_TRY(lip_tensor_fill(l->params[p->param].value, (double)p->theta_init));
    if (p->k != 1.0f) LIP_TRY(lip_tensor_create(l->ctx, LIP_FLOAT32, 1, &half, &p->scratch));
    return LIP_OK;
}

/* y = k·H_θ(x) (deel-lip ignores k; lipcl honours it, so the layer is k-Lipschitz). */
static lip_status householder_layer_forward(lip_layer *l, const lip_tensor *x, lip_tensor *y, size_t batch) {
    (void)batch;
    const param_act_priv *p = l->priv;
    LIP_TRY(lip_householder_forward(l->ctx, l->params[p->param].value, x, y));
    return p->k != 1.0f ? lip_scale(l->ctx, p->k, y, y) : LIP_OK;
}

/* The op's gradients are those of H_θ; both are scaled by k afterwards. An accumulated dθ goes
 * through the small scratch so that only the new part is scaled. */
static lip_status householder_layer_backward(lip_layer *l, const lip_tensor *x, const lip_tensor *y,
                                             const lip_tensor *dy, lip_tensor *dx, size_t batch, int accumulate) {
    (void)y, (void)batch;
    param_act_priv *p = l->priv;
    lip_context *ctx = l->ctx;
    const lip_param *theta = &l->params[p->param];
    if (p->k == 1.0f) return lip_householder_backward(ctx, theta->value, x, dy, dx, theta->grad, accumulate);
    lip_tensor *dtheta = accumulate ? p->scratch : theta->grad;
    LIP_TRY(lip_householder_backward(ctx, theta->value, x, dy, dx, dtheta, 0));
    if (dx) LIP_TRY(lip_scale(ctx, p->k, dx, dx));
    return accumulate ? lip_axpy(ctx, p->k, dtheta, theta->grad) : lip_scale(ctx, p->k, dtheta, dtheta);
}

static void householder_layer_destroy(lip_layer *l) {
    param_act_priv *p = l->priv;
    lip_tensor_free(p->scratch);
    p->scratch = NULL; /* a failed build may be retried */
}

/* α of the per-sample input shape (Keras PReLU without shared axes), initialized to 0. */
static lip_status prelu_layer_init(lip_layer *l) {
    param_act_priv *p = l->priv;
    l->out_ndim = l->in_ndim;
    memcpy(l->out_shape, l->in_shape, sizeof l->out_shape);
    LIP_TRY(lip_layer_add_param(l, "alpha", l->in_ndim, l->in_shape, 1, &p->param));
    return lip_tensor_fill(l->params[p->param].value, 0.0);
}

/* deel-lip's MinMaxNorm(−k, k) constraint on α, applied where Keras applies constraints (after each
 * optimizer step): then |α| ≤ k and the layer is max(1, k)-Lipschitz. */
static lip_status prelu_layer_reparam(lip_layer *l) {
    const param_act_priv *p = l->priv;
    return lip_prelu_constrain(l->ctx, p->k, l->params[p->param].value);
}

static lip_status prelu_layer_forward(lip_layer *l, const lip_tensor *x, lip_tensor *y, size_t batch) {
    (void)batch;
    const param_act_priv *p = l->priv;
    return lip_prelu_forward(l->ctx, l->params[p->param].value, x, y);
}

static lip_status prelu_layer_backward(lip_layer *l, const lip_tensor *x, const lip_tensor *y, const lip_tensor *dy,
                                       lip_tensor *dx, size_t batch, int accumulate) {
    (void)y, (void)batch;
    const param_act_priv *p = l->priv;
    const lip_param *alpha = &l->params[p->param];
    return lip_prelu_backward(l->ctx, alpha->value, x, dy, dx, alpha->grad, accumulate);
}

/* Householder: k (k times an orthogonal map per pair); PReLUlip: max(1, k) (|α| ≤ k once constrained). */
static lip_status householder_layer_lipschitz_bound(const lip_layer *l, double *bound, int *per_neuron) {
    *bound = (double)((const param_act_priv *)l->priv)->k;
    *per_neuron = 0;
    return LIP_OK;
}

static lip_status prelu_layer_lipschitz_bound(const lip_layer *l, double *bound, int *per_neuron) {
    double k = (double)((const param_act_priv *)l->priv)->k;
    *bound = k > 1.0 ? k : 1.0;
    *per_neuron = 0;
    return LIP_OK;
}

static lip_status param_act_get_config(const lip_layer *l, lip_layer_config *cfg) {
    const param_act_priv *p = l->priv;
    LIP_TRY(lip_layer_config_add(l->ctx, cfg, "k_coef_lip", p->k));
    return lip_layer_config_add(l->ctx, cfg, "theta_init", p->theta_init);
}

/* A fresh copy with the same θ / α (through the create functions: priv holds a tensor). */
static lip_status param_act_vanilla_export(lip_layer *l, lip_layer **out) {
    const param_act_priv *p = l->priv;
    lip_layer *d = NULL;
    if (strcmp(l->vt->type, "Householder") == 0)
        LIP_TRY(lip_householder_create(l->ctx, p->k, p->theta_init, l->name, &d));
    else
        LIP_TRY(lip_prelu_lip_create(l->ctx, p->k, l->name, &d));
    lip_status st = lip_layer_build(d, l->in_ndim, l->in_shape);
    if (st == LIP_OK) st = lip_tensor_copy(d->params[0].value, l->params[p->param].value);
    if (st != LIP_OK) {
        lip_layer_free(d);
        return st;
    }
    *out = d;
    return LIP_OK;
}

/* Sequential(k_coef_lip) reaches Householder (a LipschitzLayer in deel-lip, which then ignores k; lipcl
 * honours it). The scratch for an accumulated dθ exists only when k ≠ 1: create it when k leaves 1. */
static lip_status householder_set_k(lip_layer *l, float k) {
    param_act_priv *p = l->priv;
    if (l->built && k != 1.0f && !p->scratch) {
        size_t half = l->in_shape[l->in_ndim - 1] / 2;
        LIP_TRY(lip_tensor_create(l->ctx, LIP_FLOAT32, 1, &half, &p->scratch));
    }
    p->k = k;
    return LIP_OK;
}

static const lip_layer_vtable householder_vtable = {.type = "Householder",
                                                    .init = householder_layer_init,
                                                    .forward = householder_layer_forward,
                                                    .backward = householder_layer_backward,
                                                    .destroy = householder_layer_destroy,
                                                    .lipschitz_bound = householder_layer_lipschitz_bound,
                                                    .get_config = param_act_get_config,
                                                    .vanilla_export = param_act_vanilla_export,
                                                    .set_k_coef_lip = householder_set_k};
static const lip_layer_vtable prelu_lip_vtable = {.type = "PReLUlip",
                                                  .init = prelu_layer_init,
                                                  .reparam_forward = prelu_layer_reparam,
                                                  .forward = prelu_layer_forward,
                                                  .backward = prelu_layer_backward,
                                                  .lipschitz_bound = prelu_layer_lipschitz_bound,
                                                  .get_config = param_act_get_config,
                                                  .vanilla_export = param_act_vanilla_export};

lip_status lip_householder_create(lip_context *ctx, float k_coef_lip, float theta_init, const char *name,
                                  lip_layer **out) {
    if (!ctx) return LIP_ERR_NULL;
    const char *type = householder_vtable.type, *n = name ? name : "";
    LIP_CHECK(ctx, out, LIP_ERR_NULL, "%s '%s': out is NULL", type, n);
    *out = NULL;
    LIP_CHECK(ctx, k_coef_lip > 0 && isfinite(k_coef_lip), LIP_ERR_INVALID_ARGUMENT,
              "%s '%s': k_coef_lip must be finite and > 0, got %g", type, n, (double)k_coef_lip);
    LIP_CHECK(ctx, isfinite(theta_init), LIP_ERR_INVALID_ARGUMENT, "%s '%s': theta_init must be finite, got %g",
              type, n, (double)theta_init);
    LIP_TRY(lip_layer_alloc(ctx, &householder_vtable, name, sizeof(param_act_priv), out));
    param_act_priv *p = (*out)->priv;
    p->k = k_coef_lip;
    p->theta_init = theta_init;
    return LIP_OK;
}

lip_status lip_prelu_lip_create(lip_context *ctx, float k_coef_lip, const char *name, lip_layer **out) {
    if (!ctx) return LIP_ERR_NULL;
    const char *type = prelu_lip_vtable.type, *n = name ? name : "";
    LIP_CHECK(ctx, out, LIP_ERR_NULL, "%s '%s': out is NULL", type, n);
    *out = NULL;
    LIP_CHECK(ctx, k_coef_lip > 0 && isfinite(k_coef_lip), LIP_ERR_INVALID_ARGUMENT,
              "%s '%s': k_coef_lip must be finite and > 0, got %g", type, n, (double)k_coef_lip);
    LIP_TRY(lip_layer_alloc(ctx, &prelu_lip_vtable, name, sizeof(param_act_priv), out));
    ((param_act_priv *)(*out)->priv)->k = k_coef_lip;
    return LIP_OK;
}
