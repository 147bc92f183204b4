/* lipcl — elementwise float32 ops (add, mul, scale, axpy, bias_add): argument checks and launches
 * of kernels/elementwise.cl. Operands are flat arrays of equal element count; out may alias an input. */
#include <stdio.h>

#include "internal.h"

/* Work-group size of every elementwise launch, and the most groups launched. The kernels loop
 * (grid stride) so any grid covers any n, but one element per work-item is fastest on PoCL
 * (a 1M-element add: 0.54 ms with 8192 groups of 128, 0.73 ms with 1024, 2.1 ms with 256), so the
 * cap only matters beyond 8M elements. */
#define EW_LOCAL 128
#define EW_MAX_GROUPS 65536

static size_t ew_global(size_t n) {
    size_t groups = (n + EW_LOCAL - 1) / EW_LOCAL;
    if (groups > EW_MAX_GROUPS) groups = EW_MAX_GROUPS;
    return groups * EW_LOCAL;
}

/* `t` is a float32 tensor of ctx with `count` elements (count 0: any). */
static lip_status check_operand(lip_context *ctx, const char *op, const char *name, const lip_tensor *t,
                                const lip_tensor *ref, const char *ref_name) {
    char what[64];
    snprintf(what, sizeof what, "%s: %s", op, name);
    LIP_TRY(lip_check_tensor(ctx, t, LIP_FLOAT32, what));
    if (ref && t->count != ref->count) {
        char a[64], b[64];
        return lip_set_error(ctx, LIP_ERR_SHAPE, "%s: %s %s and %s %s differ in element count (%zu vs %zu)", op,
                             ref_name, lip_shape_string(ref, a, sizeof a), name, lip_shape_string(t, b, sizeof b),
                             ref->count, t->count);
    }
    return LIP_OK;
}

static lip_status binary(lip_context *ctx, const char *op, const char *entry, const char *label, const lip_tensor *a,
                         const lip_tensor *b, lip_tensor *out) {
    if (!ctx) return LIP_ERR_NULL;
    LIP_TRY(check_operand(ctx, op, "a", a, NULL, NULL));
    LIP_TRY(check_operand(ctx, op, "b", b, a, "a"));
    LIP_TRY(check_operand(ctx, op, "out", out, a, "a"));
    cl_kernel k;
    LIP_TRY(lip_kernel_get(ctx, "elementwise", entry, NULL, &k));
    cl_uint out_off = (cl_uint)out->offset, a_off = (cl_uint)a->offset, b_off = (cl_uint)b->offset;
    cl_uint n = (cl_uint)a->count;
    size_t global = ew_global(a->count), local = EW_LOCAL;
    return lip_launch(ctx, k, label, 1, &global, &local,
                      LIP_KARGS(LIP_KARG(out->mem), LIP_KARG(out_off), LIP_KARG(a->mem), LIP_KARG(a_off),
                                LIP_KARG(b->mem), LIP_KARG(b_off), LIP_KARG(n)));
}

lip_status lip_add(lip_context *ctx, const lip_tensor *a, const lip_tensor *b, lip_tensor *out) {
    return binary(ctx, "lip_add", "lip_elementwise_add", "elementwise/add", a, b, out);
}

lip_status lip_mul(lip_context *ctx, const lip_tensor *a, const lip_tensor *b, lip_tensor *out) {
    return binary(ctx, "lip_mul", "lip_elementwise_mul", "elementwise/mul", a, b, out);
}

lip_status lip_scale(lip_context *ctx, float alpha, const lip_tensor *x, lip_tensor *out) {
    if (!ctx) return LIP_ERR_NULL;
    LIP_TRY(check_operand(ctx, "lip_scale", "x", x, NULL, NULL));
    LIP_TRY(check_operand(ctx, "lip_scale", "out", out, x, "x"));
    cl_kernel k;
    LIP_TRY(lip_kernel_get(ctx, "elementwise", "lip_elementwise_scale", NULL, &k));
    cl_uint out_off = (cl_uint)out->offset, x_off = (cl_uint)x->offset, n = (cl_uint)x->count;
    cl_float a = alpha;
    size_t global = ew_global(x->count), local = EW_LOCAL;
    return lip_launch(ctx, k, "elementwise/scale", 1, &global, &local,
                      LIP_KARGS(LIP_KARG(out->mem), LIP_KARG(out_off), LIP_KARG(x->mem), LIP_KARG(x_off), LIP_KARG(a),
                                LIP_KARG(n)));
}

lip_status lip_axpy(lip_context *ctx, float alpha, const lip_tensor *x, lip_tensor *y) {
    if (!ctx) return LIP_ERR_NULL;
    LIP_TRY(check_operand(ctx, "lip_axpy", "x", x, NULL, NULL));
    LIP_TRY(check_operand(ctx, "lip_axpy", "y", y, x, "x"));
    cl_kernel k;
    LIP_TRY(lip_kernel_get(ctx, "elementwise", "lip_elementwise_axpy", NULL, &k));
    cl_uint y_off = (cl_uint)y->offset, x_off = (cl_uint)x->offset, n = (cl_uint)x->count;
    cl_float a = alpha;
    size_t global = ew_global(x->count), local = EW_LOCAL;
    return lip_launch(ctx, k, "elementwise/axpy", 1, &global, &local,
                      LIP_KARGS(LIP_KARG(y->mem), LIP_KARG(y_off), LIP_KARG(x->mem), LIP_KARG(x_off), LIP_KARG(a),
                                LIP_KARG(n)));
}

lip_status lip_bias_add(lip_context *ctx, const lip_tensor *x, const lip_tensor *bias, lip_tensor *out) {
    if (!ctx) return LIP_ERR_NULL;
    LIP_TRY(check_operand(ctx, "lip_bias_add", "x", x, NULL, NULL));
    LIP_TRY(check_operand(ctx, "lip_bias_add", "bias", bias, NULL, NULL));
    LIP_TRY(check_operand(ctx, "lip_bias_add", "out", out, x, "x"));
    size_t cols = x->shape[x->ndim - 1];
    char xs[64], bs[64];
    LIP_CHECK(ctx, bias->ndim == 1 && bias->shape[0] == cols, LIP_ERR_SHAPE,
              "lip_bias_add: bias %s must be 1-D with the size of x %s's last axis (%zu)",
              lip_shape_string(bias, bs, sizeof bs), lip_shape_string(x, xs, sizeof xs), cols);
    cl_kernel k;
    LIP_TRY(lip_kernel_get(ctx, "elementwise", "lip_elementwise_bias_add", NULL, &k));
    cl_uint out_off = (cl_uint)out->offset, x_off = (cl_uint)x->offset, b_off = (cl_uint)bias->offset;
    cl_uint c = (cl_uint)cols, n = (cl_uint)x->count;
    size_t global = ew_global(x->count), local = EW_LOCAL;
    return lip_launch(ctx, k, "elementwise/bias_add", 1, &global, &local,
                      LIP_KARGS(LIP_KARG(out->mem), LIP_KARG(out_off), LIP_KARG(x->mem), LIP_KARG(x_off),
                                LIP_KARG(bias->mem), LIP_KARG(b_off), LIP_KARG(c), LIP_KARG(n)));
}
