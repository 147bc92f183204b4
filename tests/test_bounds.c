/* lipcl tests — the guard-band debug mode: a deliberately out-of-bounds test kernel is caught
 * (after and before the data), named in the message, and in-bounds kernels pass. */
#include <string.h>

#include "check.h"
#include "internal.h"

static const char *source =
    "__kernel void lip_boundstest_write(__global float *x, const uint off, const int n, const int shift) {\n"
    "    int i = (int)get_global_id(0);\n"
    "    if (i < n) x[(int)off + i + shift] = 1.0f;\n"
    "}\n";

static lip_status run(lip_context *ctx, lip_tensor *t, int n, int shift) {
    cl_kernel k = NULL;
    LIP_TRY(lip_kernel_get_source(ctx, "boundstest", source, "lip_boundstest_write", NULL, &k));
    cl_mem m;
    size_t off = 0;
    lip_tensor_cl(t, &m, &off);
    cl_uint offu = (cl_uint)off;
    size_t g[1] = {(size_t)n}, l[1] = {1};
    return lip_launch(ctx, k, "boundstest/write", 1, g, l,
                      LIP_KARGS(LIP_KARG(m), LIP_KARG(offu), LIP_KARG(n), LIP_KARG(shift)));
}

int main(void) {
    lip_context_config cfg = lip_context_config_default();
    cfg.debug_bounds = 1;
    lip_context *ctx = test_context_with(&cfg);
    size_t shape[1] = {10};
    lip_tensor *t = NULL, *other = NULL;
    REQUIRE_OK(lip_tensor_create(ctx, LIP_FLOAT32, 1, shape, &t));
    REQUIRE_OK(lip_tensor_create(ctx, LIP_FLOAT32, 1, shape, &other));
    size_t off = 0;
    lip_tensor_cl(t, NULL, &off);
    CHECK(off > 0); /* the guard band sits before the data */
    CHECK_OK(run(ctx, t, 10, 0));
    float v[10];
    CHECK_OK(lip_tensor_download(t, v, sizeof v));
    CHECK(v[0] == 1.0f && v[9] == 1.0f);
    /* One element past the end. */
    CHECK_STATUS(run(ctx, t, 11, 0), LIP_ERR_BOUNDS);
    CHECK_MESSAGE(ctx, "boundstest/write");
    CHECK_MESSAGE(ctx, "after");
    CHECK_MESSAGE(ctx, "(10,)");
    /* One element before the start. */
    CHECK_STATUS(run(ctx, t, 1, -1), LIP_ERR_BOUNDS);
    CHECK_MESSAGE(ctx, "before");
    /* The band was restored: a correct kernel passes again, and so does the sync check. */
    CHECK_OK(run(ctx, t, 10, 0));
    CHECK_OK(lip_context_finish(ctx));
    lip_tensor_free(t);
    lip_tensor_free(other);
    test_context_free(ctx);

    /* Without the debug mode there is no band and no check. */
    cfg.debug_bounds = 0;
    ctx = test_context_with(&cfg);
    REQUIRE_OK(lip_tensor_create(ctx, LIP_FLOAT32, 1, shape, &t));
    lip_tensor_cl(t, NULL, &off);
    CHECK(off == 0);
    CHECK_OK(run(ctx, t, 10, 0));
    lip_tensor_free(t);
    test_context_free(ctx);
    return test_finish("test_bounds");
}
