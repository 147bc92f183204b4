/* lipcl — 2-D float32 transpose: argument checks and the launch of kernels/transpose.cl
 * (local-memory tiles: both the reads of x and the writes of out run along rows). */
#include "internal.h"

lip_status lip_transpose2d(lip_context *ctx, const lip_tensor *x, lip_tensor *out) {
    if (!ctx) return LIP_ERR_NULL;
    LIP_TRY(lip_check_tensor(ctx, x, LIP_FLOAT32, "lip_transpose2d: x"));
    LIP_TRY(lip_check_tensor(ctx, out, LIP_FLOAT32, "lip_transpose2d: out"));
    char xs[64], os[64];
    LIP_CHECK(ctx, x->ndim == 2, LIP_ERR_SHAPE, "lip_transpose2d: x %s must be 2-D",
              lip_shape_string(x, xs, sizeof xs));
    size_t m = x->shape[0], n = x->shape[1];
    LIP_CHECK(ctx, out->ndim == 2 && out->shape[0] == n && out->shape[1] == m, LIP_ERR_SHAPE,
              "lip_transpose2d: out %s must be (%zu, %zu) for x %s", lip_shape_string(out, os, sizeof os), n, m,
              lip_shape_string(x, xs, sizeof xs));
    LIP_CHECK(ctx, out != x, LIP_ERR_INVALID_ARGUMENT, "lip_transpose2d: out must not be x (no in-place transpose)");
    cl_kernel k;
    LIP_TRY(lip_kernel_get(ctx, "transpose", "lip_transpose_2d", NULL, &k));
    size_t req[3] = {0, 0, 0};
    LIP_CL(ctx, clGetKernelWorkGroupInfo(k, ctx->device, CL_KERNEL_COMPILE_WORK_GROUP_SIZE, sizeof req, req, NULL));
    LIP_CHECK(ctx, req[0] >= 1 && req[1] >= 1, LIP_ERR_INTERNAL, "lip_transpose_2d has no required work-group size");
    cl_uint out_off = (cl_uint)out->offset, x_off = (cl_uint)x->offset, cm = (cl_uint)m, cn = (cl_uint)n;
    size_t global[2] = {n, m}, local[2] = {req[0], req[1]};
    return lip_launch(ctx, k, "transpose/2d", 2, global, local,
                      LIP_KARGS(LIP_KARG(out->mem), LIP_KARG(out_off), LIP_KARG(x->mem), LIP_KARG(x_off), LIP_KARG(cm),
                                LIP_KARG(cn)));
}
