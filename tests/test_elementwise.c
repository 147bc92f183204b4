/* lipcl tests — elementwise ops (add, mul, scale, axpy, bias_add) and lip_transpose2d against
 * double-precision host references, on awkward sizes, with aliasing and bad arguments. */
#define _POSIX_C_SOURCE 200809L
#include <string.h>

#include "check.h"

static uint64_t rng;

/* A float32 tensor of the given shape filled with uniform values in [lo, hi); host copy in *host. */
static lip_tensor *random_tensor(lip_context *ctx, int ndim, const size_t *shape, double lo, double hi, float **host) {
    lip_tensor *t = NULL;
    REQUIRE_OK(lip_tensor_create(ctx, LIP_FLOAT32, ndim, shape, &t));
    size_t n = lip_tensor_count(t);
    float *h = malloc(n * sizeof *h);
    if (!h) exit(1);
    test_fill_uniform(&rng, h, n, lo, hi);
    REQUIRE_OK(lip_tensor_upload(t, h, n * sizeof *h));
    *host = h;
    return t;
}

static lip_tensor *empty_tensor(lip_context *ctx, lip_dtype dtype, int ndim, const size_t *shape) {
    lip_tensor *t = NULL;
    REQUIRE_OK(lip_tensor_create(ctx, dtype, ndim, shape, &t));
    REQUIRE_OK(lip_tensor_fill(t, 12345.0)); /* a value no result has */
    return t;
}

static float *download(const lip_tensor *t) {
    size_t n = lip_tensor_count(t);
    float *h = malloc(n * sizeof *h);
    if (!h) exit(1);
    REQUIRE_OK(lip_tensor_download(t, h, n * sizeof *h));
    return h;
}

static double *ref_alloc(size_t n) {
    double *r = malloc(n * sizeof *r);
    if (!r) exit(1);
    return r;
}

/* add, mul, scale, axpy on one size, into a fresh out and in place. */
static void test_flat(lip_context *ctx, size_t n) {
    char what[96];
    float *ha, *hb;
    lip_tensor *a = random_tensor(ctx, 1, &n, -2.0, 2.0, &ha);
    lip_tensor *b = random_tensor(ctx, 1, &n, -2.0, 2.0, &hb);
    lip_tensor *out = empty_tensor(ctx, LIP_FLOAT32, 1, &n);
    double *ref = ref_alloc(n);
    const float alpha = -1.75f;

    CHECK_OK(lip_add(ctx, a, b, out));
    for (size_t i = 0; i < n; i++) ref[i] = (double)ha[i] + hb[i];
    float *got = download(out);
    snprintf(what, sizeof what, "add n=%zu", n);
    test_compare(what, got, ref, n, 1e-12, 1e-6);
    free(got);

    CHECK_OK(lip_mul(ctx, a, b, out));
    for (size_t i = 0; i < n; i++) ref[i] = (double)ha[i] * hb[i];
    got = download(out);
    snprintf(what, sizeof what, "mul n=%zu", n);
    test_compare(what, got, ref, n, 1e-12, 1e-6);
    free(got);

    CHECK_OK(lip_scale(ctx, alpha, a, out));
    for (size_t i = 0; i < n; i++) ref[i] = (double)alpha * ha[i];
    got = download(out);
    snprintf(what, sizeof what, "scale n=%zu", n);
    test_compare(what, got, ref, n, 1e-12, 1e-6);
    free(got);

    /* axpy: out currently holds alpha·a; y = alpha·b + y. Two roundings: tolerance relative to the
     * operands (|alpha·b| + |y| ≤ 7), not to a result that may cancel. */
    float *y0 = download(out);
    CHECK_OK(lip_axpy(ctx, alpha, b, out));
    for (size_t i = 0; i < n; i++) ref[i] = (double)alpha * hb[i] + y0[i];
    got = download(out);
    snprintf(what, sizeof what, "axpy n=%zu", n);
    test_compare(what, got, ref, n, 2e-6, 1e-6);
    free(got);
    free(y0);

    /* Aliasing: out is an input. */
    CHECK_OK(lip_add(ctx, a, b, a)); /* a ← a + b */
    for (size_t i = 0; i < n; i++) ref[i] = (double)ha[i] + hb[i];
    got = download(a);
    snprintf(what, sizeof what, "add in place (out == a) n=%zu", n);
    test_compare(what, got, ref, n, 1e-12, 1e-6);
    for (size_t i = 0; i < n; i++) ha[i] = got[i];
    free(got);

    CHECK_OK(lip_mul(ctx, a, a, a)); /* a ← a² */
    for (size_t i = 0; i < n; i++) ref[i] = (double)ha[i] * ha[i];
    got = download(a);
    snprintf(what, sizeof what, "mul in place (out == a == b) n=%zu", n);
    test_compare(what, got, ref, n, 1e-12, 1e-6);
    free(got);

    CHECK_OK(lip_scale(ctx, 0.5f, b, b)); /* b ← b / 2 */
    CHECK_OK(lip_mul(ctx, a, b, b));      /* out == b */
    got = download(b);
    for (size_t i = 0; i < n; i++) ref[i] = (double)(float)((double)ha[i] * ha[i]) * (0.5 * hb[i]);
    snprintf(what, sizeof what, "scale and mul in place (out == b) n=%zu", n);
    test_compare(what, got, ref, n, 1e-12, 1e-6);
    free(got);

    CHECK_OK(lip_axpy(ctx, 2.0f, b, b)); /* y == x: b ← 3b */
    float *prev = malloc(n * sizeof *prev);
    if (!prev) exit(1);
    for (size_t i = 0; i < n; i++) prev[i] = (float)ref[i];
    got = download(b);
    for (size_t i = 0; i < n; i++) ref[i] = 3.0 * prev[i];
    snprintf(what, sizeof what, "axpy in place (y == x) n=%zu", n);
    test_compare(what, got, ref, n, 1e-12, 1e-6);
    free(got);
    free(prev);

    lip_tensor_free(a);
    lip_tensor_free(b);
    lip_tensor_free(out);
    free(ha);
    free(hb);
    free(ref);
}

static void test_bias(lip_context *ctx, int ndim, const size_t *shape, int in_place) {
    char what[96];
    float *hx, *hb;
    size_t cols = shape[ndim - 1];
    lip_tensor *x = random_tensor(ctx, ndim, shape, -3.0, 3.0, &hx);
    lip_tensor *bias = random_tensor(ctx, 1, &cols, -1.0, 1.0, &hb);
    lip_tensor *out = in_place ? x : empty_tensor(ctx, LIP_FLOAT32, ndim, shape);
    size_t n = lip_tensor_count(x);
    double *ref = ref_alloc(n);
    for (size_t i = 0; i < n; i++) ref[i] = (double)hx[i] + hb[i % cols];
    CHECK_OK(lip_bias_add(ctx, x, bias, out));
    float *got = download(out);
    snprintf(what, sizeof what, "bias_add %d-D, last axis %zu, %zu elements%s", ndim, cols, n,
             in_place ? ", in place" : "");
    test_compare(what, got, ref, n, 1e-12, 1e-6);
    free(got);
    if (!in_place) lip_tensor_free(out);
    lip_tensor_free(x);
    lip_tensor_free(bias);
    free(hx);
    free(hb);
    free(ref);
}

static void test_transpose(lip_context *ctx, size_t m, size_t n) {
    float *hx;
    size_t xs[2] = {m, n}, os[2] = {n, m};
    lip_tensor *x = random_tensor(ctx, 2, xs, -5.0, 5.0, &hx);
    lip_tensor *out = empty_tensor(ctx, LIP_FLOAT32, 2, os);
    CHECK_OK(lip_transpose2d(ctx, x, out));
    float *got = download(out);
    double *ref = ref_alloc(m * n);
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) ref[j * m + i] = hx[i * n + j];
    char what[64];
    snprintf(what, sizeof what, "transpose %zux%zu", m, n);
    test_compare(what, got, ref, m * n, 0.0, 0.0); /* a copy: exact */
    free(got);
    free(ref);
    free(hx);
    lip_tensor_free(x);
    lip_tensor_free(out);
}

static void test_errors(lip_context *ctx) {
    size_t s6 = 6, s4 = 4, s23[2] = {2, 3}, s32[2] = {3, 2}, s234[3] = {2, 3, 4};
    lip_tensor *a = empty_tensor(ctx, LIP_FLOAT32, 2, s23);
    lip_tensor *b = empty_tensor(ctx, LIP_FLOAT32, 1, &s4);
    lip_tensor *flat6 = empty_tensor(ctx, LIP_FLOAT32, 1, &s6);
    lip_tensor *i6 = empty_tensor(ctx, LIP_INT32, 1, &s6);
    lip_tensor *t32 = empty_tensor(ctx, LIP_FLOAT32, 2, s32);
    lip_tensor *t234 = empty_tensor(ctx, LIP_FLOAT32, 3, s234);
    lip_tensor *b3 = empty_tensor(ctx, LIP_FLOAT32, 1, s23 + 1);

    CHECK_STATUS(lip_add(NULL, a, a, a), LIP_ERR_NULL);
    CHECK_STATUS(lip_add(ctx, NULL, a, a), LIP_ERR_NULL);
    CHECK_MESSAGE(ctx, "lip_add: a is NULL");
    CHECK_STATUS(lip_add(ctx, a, NULL, a), LIP_ERR_NULL);
    CHECK_MESSAGE(ctx, "lip_add: b is NULL");
    CHECK_STATUS(lip_add(ctx, a, a, NULL), LIP_ERR_NULL);
    CHECK_MESSAGE(ctx, "lip_add: out is NULL");
    CHECK_STATUS(lip_add(ctx, a, b, a), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "lip_add: a (2, 3) and b (4,) differ in element count");
    CHECK_STATUS(lip_add(ctx, a, a, b), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "lip_add: a (2, 3) and out (4,) differ in element count");
    CHECK_STATUS(lip_add(ctx, a, i6, a), LIP_ERR_DTYPE);
    CHECK_MESSAGE(ctx, "lip_add: b is int32, expected float32");
    CHECK_OK(lip_add(ctx, a, flat6, t32)); /* same count, different shapes: fine */
    CHECK_STATUS(lip_mul(ctx, i6, a, a), LIP_ERR_DTYPE);
    CHECK_MESSAGE(ctx, "lip_mul: a is int32");
    CHECK_STATUS(lip_mul(ctx, a, b, a), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "lip_mul:");
    CHECK_STATUS(lip_scale(ctx, 2.0f, NULL, a), LIP_ERR_NULL);
    CHECK_MESSAGE(ctx, "lip_scale: x is NULL");
    CHECK_STATUS(lip_scale(ctx, 2.0f, a, i6), LIP_ERR_DTYPE);
    CHECK_MESSAGE(ctx, "lip_scale: out is int32");
    CHECK_STATUS(lip_scale(ctx, 2.0f, a, b), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "lip_scale: x (2, 3) and out (4,) differ in element count");
    CHECK_STATUS(lip_axpy(ctx, 2.0f, a, NULL), LIP_ERR_NULL);
    CHECK_MESSAGE(ctx, "lip_axpy: y is NULL");
    CHECK_STATUS(lip_axpy(ctx, 2.0f, a, b), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "lip_axpy: x (2, 3) and y (4,)");
    CHECK_STATUS(lip_axpy(NULL, 2.0f, a, a), LIP_ERR_NULL);

    CHECK_STATUS(lip_bias_add(ctx, a, NULL, a), LIP_ERR_NULL);
    CHECK_MESSAGE(ctx, "lip_bias_add: bias is NULL");
    CHECK_STATUS(lip_bias_add(ctx, a, b, a), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "lip_bias_add: bias (4,) must be 1-D with the size of x (2, 3)'s last axis (3)");
    CHECK_STATUS(lip_bias_add(ctx, a, a, a), LIP_ERR_SHAPE); /* 2-D bias */
    CHECK_MESSAGE(ctx, "bias (2, 3) must be 1-D");
    CHECK_STATUS(lip_bias_add(ctx, a, b3, b), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "lip_bias_add: x (2, 3) and out (4,) differ in element count");
    CHECK_STATUS(lip_bias_add(ctx, i6, b3, a), LIP_ERR_DTYPE);
    CHECK_MESSAGE(ctx, "lip_bias_add: x is int32");
    CHECK_OK(lip_bias_add(ctx, a, b3, flat6));

    CHECK_STATUS(lip_transpose2d(NULL, a, t32), LIP_ERR_NULL);
    CHECK_STATUS(lip_transpose2d(ctx, NULL, t32), LIP_ERR_NULL);
    CHECK_MESSAGE(ctx, "lip_transpose2d: x is NULL");
    CHECK_STATUS(lip_transpose2d(ctx, a, NULL), LIP_ERR_NULL);
    CHECK_MESSAGE(ctx, "lip_transpose2d: out is NULL");
    CHECK_STATUS(lip_transpose2d(ctx, i6, t32), LIP_ERR_DTYPE);
    CHECK_MESSAGE(ctx, "lip_transpose2d: x is int32");
    CHECK_STATUS(lip_transpose2d(ctx, a, a), LIP_ERR_SHAPE); /* (2, 3) → needs (3, 2) */
    CHECK_MESSAGE(ctx, "lip_transpose2d: out (2, 3) must be (3, 2) for x (2, 3)");
    CHECK_STATUS(lip_transpose2d(ctx, a, flat6), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "must be (3, 2)");
    CHECK_STATUS(lip_transpose2d(ctx, t234, t32), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "lip_transpose2d: x (2, 3, 4) must be 2-D");
    size_t sq[2] = {3, 3};
    lip_tensor *square = empty_tensor(ctx, LIP_FLOAT32, 2, sq);
    CHECK_STATUS(lip_transpose2d(ctx, square, square), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "in-place");
    CHECK_OK(lip_transpose2d(ctx, a, t32));

    /* A tensor of another context is refused. */
    lip_context_config cfg = lip_context_config_default();
    lip_context *other = NULL;
    if (lip_context_create(&other, &cfg) == LIP_OK) {
        lip_tensor *foreign = NULL;
        REQUIRE_OK(lip_tensor_create(other, LIP_FLOAT32, 2, s23, &foreign));
        CHECK_STATUS(lip_add(ctx, a, foreign, a), LIP_ERR_INVALID_ARGUMENT);
        CHECK_MESSAGE(ctx, "lip_add: b belongs to another context");
        lip_tensor_free(foreign);
        CHECK_OK(lip_context_free(other));
    }

    lip_tensor_free(square);
    lip_tensor_free(a);
    lip_tensor_free(b);
    lip_tensor_free(flat6);
    lip_tensor_free(i6);
    lip_tensor_free(t32);
    lip_tensor_free(t234);
    lip_tensor_free(b3);
}

int main(void) {
    rng = test_seed(20240611);
    lip_context *ctx = test_context();

    const size_t sizes[] = {1, 7, 13, 129, 257, 1000003};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) test_flat(ctx, sizes[i]);

    const size_t s11[2] = {1, 1}, s713[2] = {7, 13}, s257[2] = {257, 129}, s3k[2] = {3, 1000};
    const size_t nhwc[4] = {2, 5, 7, 3}, nhwc2[4] = {3, 9, 11, 16}, s13 = 13, s3d[3] = {4, 1, 17};
    test_bias(ctx, 2, s11, 0);
    test_bias(ctx, 2, s713, 0);
    test_bias(ctx, 2, s257, 0);
    test_bias(ctx, 2, s3k, 1);
    test_bias(ctx, 4, nhwc, 0);
    test_bias(ctx, 4, nhwc2, 1);
    test_bias(ctx, 1, &s13, 0);
    test_bias(ctx, 3, s3d, 0);

    const size_t shapes[][2] = {{1, 1}, {7, 13}, {13, 7}, {257, 129}, {3, 1000}, {1000, 3}, {1, 17}, {17, 1},
                                {16, 16}, {1024, 1024}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) test_transpose(ctx, shapes[i][0], shapes[i][1]);

    test_errors(ctx);
    CHECK_OK(lip_context_finish(ctx));
    test_context_free(ctx);
    return test_finish("test_elementwise");
}
