/* lipcl tests — profiling: per-label counts and device times through lip_context_profile, the
 * report sent to the log at release, reset, and a clear refusal when profiling is off. */
#include <string.h>

#include "check.h"
#include "internal.h"

static const char *source = "__kernel void lip_proftest_inc(__global float *x, const uint off) { x[off + get_global_id(0)] += 1.0f; }\n";

typedef struct {
    unsigned long count;
    double total;
    int rows;
} seen;

static void on_row(const lip_profile_row *row, void *user) {
    seen *s = user;
    s->rows++;
    if (strcmp(row->name, "proftest/inc") == 0) {
        s->count = row->count;
        s->total = row->total_ms;
        CHECK(row->mean_ms * (double)row->count <= row->total_ms * 1.000001 + 1e-12);
    }
}

static char logged[16384];
static void capture(lip_log_level level, const char *text, void *user) {
    (void)level;
    (void)user;
    size_t used = strlen(logged);
    snprintf(logged + used, sizeof logged - used, "%s\n", text);
}

int main(void) {
    lip_context_config cfg = lip_context_config_default();
    cfg.profile = 1;
    cfg.log = capture;
    lip_context *ctx = NULL;
    REQUIRE_OK(lip_context_create(&ctx, &cfg));
    test_ctx_for_messages = ctx;
    cl_kernel k = NULL;
    REQUIRE_OK(lip_kernel_get_source(ctx, "proftest", source, "lip_proftest_inc", NULL, &k));
    size_t shape[1] = {4096};
    lip_tensor *t = NULL;
    REQUIRE_OK(lip_tensor_create(ctx, LIP_FLOAT32, 1, shape, &t));
    CHECK_OK(lip_tensor_fill(t, 0));
    cl_mem m;
    size_t off = 0;
    lip_tensor_cl(t, &m, &off);
    cl_uint offu = (cl_uint)off;
    size_t g[1] = {4096}, l[1] = {64};
    for (int i = 0; i < 25; i++) CHECK_OK(lip_launch(ctx, k, "proftest/inc", 1, g, l, LIP_KARGS(LIP_KARG(m), LIP_KARG(offu))));
    seen s = {0, 0, 0};
    CHECK_OK(lip_context_profile(ctx, on_row, &s));
    CHECK(s.count == 25);
    CHECK(s.total > 0.0);
    CHECK(s.rows >= 2); /* the fill is a row too */
    float v[4096];
    CHECK_OK(lip_tensor_download(t, v, sizeof v));
    CHECK(v[0] == 25.0f && v[4095] == 25.0f);
    CHECK_OK(lip_context_profile_reset(ctx));
    s = (seen){0, 0, 0};
    CHECK_OK(lip_context_profile(ctx, on_row, &s));
    CHECK(s.rows == 0);
    CHECK_OK(lip_launch(ctx, k, "proftest/inc", 1, g, l, LIP_KARGS(LIP_KARG(m), LIP_KARG(offu))));
    lip_tensor_free(t);
    logged[0] = '\0';
    CHECK_OK(lip_context_free(ctx));
    CHECK(strstr(logged, "proftest/inc") != NULL); /* the release-time report */

    /* Off: refused with a message saying how to turn it on. */
    cfg.profile = 0;
    ctx = test_context_with(&cfg);
    CHECK_STATUS(lip_context_profile(ctx, on_row, &s), LIP_ERR_UNSUPPORTED);
    CHECK_MESSAGE(ctx, "LIPCL_PROFILE");
    test_context_free(ctx);
    return test_finish("test_profile");
}
