/* lipcl tests — shared helpers: the test context, seeded random numbers, comparisons, the summary line. */
#define _POSIX_C_SOURCE 200809L
#include "check.h"

#include <string.h>

int test_failures = 0;
int test_checks = 0;
lip_context *test_ctx_for_messages = NULL;
static int test_compares = 0;

static void test_log(lip_log_level level, const char *text, void *user) {
    (void)user;
    if (level >= LIP_LOG_WARN) fprintf(stderr, "[lipcl] %s\n", text);
}

lip_context *test_context_with(lip_context_config *config) {
    lip_context *ctx = NULL;
    config->log = test_log;
    lip_status st = lip_context_create(&ctx, config);
    if (st == LIP_ERR_NO_DEVICE) {
        fprintf(stderr, "no OpenCL device: skipped\n");
        exit(77);
    }
    if (st != LIP_OK) {
        fprintf(stderr, "lip_context_create: %s\n", lip_status_name(st));
        exit(1);
    }
    test_ctx_for_messages = ctx;
    return ctx;
}

lip_context *test_context(void) {
    lip_context_config c = lip_context_config_default();
    return test_context_with(&c);
}

void test_context_free(lip_context *ctx) {
    lip_status st = lip_context_free(ctx);
    if (st != LIP_OK) {
        fprintf(stderr, "lip_context_free: %s: %s\n", lip_status_name(st), lip_context_last_error(ctx));
        test_failures++;
    }
    if (test_ctx_for_messages == ctx) test_ctx_for_messages = NULL;
}

uint64_t test_seed(uint64_t fallback) {
    const char *s = getenv("LIPCL_TEST_SEED");
    uint64_t seed = s && *s ? strtoull(s, NULL, 10) : fallback;
    static int printed = 0;
    if (!printed) printf("seed %llu (set LIPCL_TEST_SEED to change)\n", (unsigned long long)seed);
    printed = 1;
    return seed;
}

static uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

double test_uniform(uint64_t *state, double lo, double hi) {
    return lo + (hi - lo) * (double)(splitmix64(state) >> 11) * (1.0 / 9007199254740992.0);
}

void test_fill_uniform(uint64_t *state, float *x, size_t n, double lo, double hi) {
    for (size_t i = 0; i < n; i++) x[i] = (float)test_uniform(state, lo, hi);
}

lip_tensor *test_upload(lip_context *ctx, int ndim, const size_t *shape, const float *h) {
    lip_tensor *t = NULL;
    REQUIRE_OK(lip_tensor_create(ctx, LIP_FLOAT32, ndim, shape, &t));
    REQUIRE_OK(lip_tensor_upload(t, h, lip_tensor_count(t) * sizeof *h));
    return t;
}

lip_tensor *test_sentinel(lip_context *ctx, lip_dtype dtype, int ndim, const size_t *shape) {
    lip_tensor *t = NULL;
    REQUIRE_OK(lip_tensor_create(ctx, dtype, ndim, shape, &t));
    REQUIRE_OK(lip_tensor_fill(t, dtype == LIP_INT32 ? 777.0 : 12345.0));
    return t;
}

void test_read(const lip_tensor *t, float *h) {
    REQUIRE_OK(lip_tensor_download(t, h, lip_tensor_count(t) * sizeof *h));
}

float *test_download(const lip_tensor *t) {
    size_t n = lip_tensor_count(t);
    float *h = malloc((n ? n : 1) * sizeof *h);
    if (!h) exit(1);
    REQUIRE_OK(lip_tensor_download(t, h, n * sizeof *h));
    return h;
}

float *test_falloc(size_t n) {
    float *p = calloc(n ? n : 1, sizeof *p);
    if (!p) exit(1);
    return p;
}

double *test_to_double(const float *f, size_t n) {
    double *d = calloc(n ? n : 1, sizeof *d);
    if (!d) exit(1);
    for (size_t i = 0; i < n; i++) d[i] = f[i];
    return d;
}

double test_max_abs(const double *x, size_t n) {
    double m = 0.0;
    for (size_t i = 0; i < n; i++)
        if (fabs(x[i]) > m) m = fabs(x[i]);
    return m;
}

int test_compare(const char *what, const float *got, const double *ref, size_t n, double atol, double rtol) {
    size_t worst = 0, bad = 0;
    double worst_excess = -1.0;
    test_compares++;
    test_checks++;
    for (size_t i = 0; i < n; i++) {
        double err = fabs((double)got[i] - ref[i]);
        double excess = err - (atol + rtol * fabs(ref[i]));
        if (!(excess <= 0.0)) bad++;
        if (excess > worst_excess || excess != excess) {
            worst_excess = excess;
            worst = i;
        }
    }
    if (bad) {
        fprintf(stderr, "%s: %zu of %zu elements out of tolerance (atol %.2g, rtol %.2g); worst [%zu]: got %.9g, "
                        "expected %.9g\n",
                what, bad, n, atol, rtol, worst, (double)got[worst], ref[worst]);
        test_failures++;
        return 0;
    }
    return 1;
}

int test_finish(const char *name) {
    if (test_failures)
        printf("%s: FAILED (%d failed check%s)\n", name, test_failures, test_failures == 1 ? "" : "s");
    else
        printf("%s: all %d checks passed (%d array comparisons)\n", name, test_checks, test_compares);
    return test_failures ? 1 : 0;
}
