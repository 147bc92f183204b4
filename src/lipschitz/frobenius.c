/* lipcl — Frobenius normalization (deel-lip FrobeniusDense / FrobeniusConv2D), forward and backward:
 * W̄ = k·W/‖W‖_F over the whole kernel, or per output column for disjoint neurons. */
#include <stdio.h>

#include "lipschitz/normalizers.h"

#define FROB_COLUMNS_LOCAL 64

static lip_status check(lip_context *ctx, const char *op, const lip_tensor *w, const lip_tensor *a, const char *an,
                        const lip_tensor *b, const char *bn) {
    char what[96];
    snprintf(what, sizeof what, "%s: w", op);
    LIP_TRY(lip_check_tensor(ctx, w, LIP_FLOAT32, what));
    const lip_tensor *t[2] = {a, b};
    const char *names[2] = {an, bn};
    for (int i = 0; i < 2; i++) {
        if (!names[i]) continue;
        snprintf(what, sizeof what, "%s: %s", op, names[i]);
        LIP_TRY(lip_check_tensor(ctx, t[i], LIP_FLOAT32, what));
        char ws[64], ts[64];
        LIP_CHECK(ctx, t[i]->count == w->count, LIP_ERR_SHAPE, "%s: %s %s must have the %zu elements of w %s", op,
                  names[i], lip_shape_string(t[i], ts, sizeof ts), w->count, lip_shape_string(w, ws, sizeof ws));
    }
    return LIP_OK;
}

/* The work-group size the global kernels were compiled with. */
static lip_status global_wg(lip_context *ctx, cl_kernel k, size_t *wg) {
    size_t req[3] = {0, 0, 0};
    LIP_CL(ctx, clGetKernelWorkGroupInfo(k, ctx->device, CL_KERNEL_COMPILE_WORK_GROUP_SIZE, sizeof req, req, NULL));
    *wg = req[0] ? req[0] : 1;
    return LIP_OK;
}

lip_status lip_frobenius_forward(lip_context *ctx, const lip_tensor *w, int disjoint, float k, lip_tensor *out) {
    if (!ctx) return LIP_ERR_NULL;
    LIP_TRY(check(ctx, "lip_frobenius_forward", w, out, "out", NULL, NULL));
    cl_uint wo = (cl_uint)w->offset, oo = (cl_uint)out->offset;
    cl_kernel kern;
    if (disjoint) {
        cl_uint cols = (cl_uint)w->shape[w->ndim - 1], rows = (cl_uint)(w->count / cols);
        LIP_TRY(lip_kernel_get(ctx, "frobenius", "lip_frobenius_columns", NULL, &kern));
        size_t global = cols, local = FROB_COLUMNS_LOCAL;
        return lip_launch(ctx, kern, "frobenius/columns", 1, &global, &local,
                          LIP_KARGS(LIP_KARG(w->mem), LIP_KARG(wo), LIP_KARG(out->mem), LIP_KARG(oo), LIP_KARG(rows),
                                    LIP_KARG(cols), LIP_KARG(k)));
    }
    LIP_TRY(lip_kernel_get(ctx, "frobenius", "lip_frobenius_global", NULL, &kern));
    size_t wg = 0;
    LIP_TRY(global_wg(ctx, kern, &wg));
    cl_uint n = (cl_uint)w->count;
    return lip_launch(ctx, kern, "frobenius/global", 1, &wg, &wg,
                      LIP_KARGS(LIP_KARG(w->mem), LIP_KARG(wo), LIP_KARG(out->mem), LIP_KARG(oo), LIP_KARG(n),
                                LIP_KARG(k)));
}

lip_status lip_frobenius_backward(lip_context *ctx, const lip_tensor *w, int disjoint, float k,
                                  const lip_tensor *grad_out, lip_tensor *grad_w, int accumulate) {
    if (!ctx) return LIP_ERR_NULL;
    LIP_TRY(check(ctx, "lip_frobenius_backward", w, grad_out, "grad_out", grad_w, "grad_w"));
    cl_uint wo = (cl_uint)w->offset, go = (cl_uint)grad_out->offset, dof = (cl_uint)grad_w->offset;
    cl_int acc = accumulate != 0;
    cl_kernel kern;
    if (disjoint) {
        cl_uint cols = (cl_uint)w->shape[w->ndim - 1], rows = (cl_uint)(w->count / cols);
        LIP_TRY(lip_kernel_get(ctx, "frobenius", "lip_frobenius_columns_backward", NULL, &kern));
        size_t global = cols, local = FROB_COLUMNS_LOCAL;
        return lip_launch(ctx, kern, "frobenius/columns_backward", 1, &global, &local,
                          LIP_KARGS(LIP_KARG(w->mem), LIP_KARG(wo), LIP_KARG(grad_out->mem), LIP_KARG(go),
                                    LIP_KARG(grad_w->mem), LIP_KARG(dof), LIP_KARG(rows), LIP_KARG(cols), LIP_KARG(k),
                                    LIP_KARG(acc)));
    }
    LIP_TRY(lip_kernel_get(ctx, "frobenius", "lip_frobenius_global_backward", NULL, &kern));
    size_t wg = 0;
    LIP_TRY(global_wg(ctx, kern, &wg));
    cl_uint n = (cl_uint)w->count;
    return lip_launch(ctx, kern, "frobenius/global_backward", 1, &wg, &wg,
                      LIP_KARGS(LIP_KARG(w->mem), LIP_KARG(wo), LIP_KARG(grad_out->mem), LIP_KARG(go),
                                LIP_KARG(grad_w->mem), LIP_KARG(dof), LIP_KARG(n), LIP_KARG(k), LIP_KARG(acc)));
}
