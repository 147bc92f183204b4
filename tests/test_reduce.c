/* lipcl tests — deterministic reductions (sum, sum of squares, max, column sums, argmax per row)
 * against double-precision host references: awkward sizes, accuracy, ties, determinism, bad input. */
#define _POSIX_C_SOURCE 200809L
#include <string.h>

#include "check.h"

static uint64_t rng;

/* Reduction tolerance: a few float ulps of Σ|x| (Kahan per work-item, then a short tree). */
#define SUM_ULPS 16.0
#define FLT_ULP (1.0 / 16777216.0)

static lip_tensor *upload_tensor(lip_context *ctx, int ndim, const size_t *shape, const float *h) {
    lip_tensor *t = NULL;
    REQUIRE_OK(lip_tensor_create(ctx, LIP_FLOAT32, ndim, shape, &t));
    REQUIRE_OK(lip_tensor_upload(t, h, lip_tensor_count(t) * sizeof *h));
    return t;
}

static lip_tensor *new_tensor(lip_context *ctx, lip_dtype dtype, int ndim, const size_t *shape) {
    lip_tensor *t = NULL;
    REQUIRE_OK(lip_tensor_create(ctx, dtype, ndim, shape, &t));
    REQUIRE_OK(lip_tensor_fill(t, 12345.0));
    return t;
}

static float *host_floats(size_t n) {
    float *h = malloc(n * sizeof *h);
    if (!h) exit(1);
    return h;
}

static float read_scalar(const lip_tensor *t) {
    float v = 0.0f;
    REQUIRE_OK(lip_tensor_download(t, &v, sizeof v));
    return v;
}

/* sum, sum of squares and max of n values in [lo, hi). */
static void test_full(lip_context *ctx, size_t n, double lo, double hi) {
    float *h = host_floats(n);
    test_fill_uniform(&rng, h, n, lo, hi);
    lip_tensor *x = upload_tensor(ctx, 1, &n, h);
    size_t one = 1;
    lip_tensor *out = new_tensor(ctx, LIP_FLOAT32, 1, &one);
    double sum = 0.0, abs_sum = 0.0, sq = 0.0, mx = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        sum += h[i];
        abs_sum += fabs((double)h[i]);
        sq += (double)h[i] * h[i];
        if (h[i] > mx) mx = h[i];
    }
    char what[96];
    float got;

    CHECK_OK(lip_reduce_sum(ctx, x, out));
    got = read_scalar(out);
    snprintf(what, sizeof what, "sum n=%zu in [%g, %g)", n, lo, hi);
    test_compare(what, &got, &sum, 1, SUM_ULPS * FLT_ULP * abs_sum, 0.0);

    CHECK_OK(lip_reduce_sum_squares(ctx, x, out));
    got = read_scalar(out);
    snprintf(what, sizeof what, "sum of squares n=%zu in [%g, %g)", n, lo, hi);
    test_compare(what, &got, &sq, 1, 0.0, SUM_ULPS * FLT_ULP);

    CHECK_OK(lip_reduce_max(ctx, x, out));
    got = read_scalar(out);
    snprintf(what, sizeof what, "max n=%zu in [%g, %g)", n, lo, hi);
    test_compare(what, &got, &mx, 1, 0.0, 0.0);

    lip_tensor_free(x);
    lip_tensor_free(out);
    free(h);
}

/* Accuracy of a long positive sum (relative 1e-6 asked; Kahan gives far better), a max at either
 * end, a 4-D input and an all-equal input. */
static void test_full_special(lip_context *ctx) {
    size_t n = 1000003, one = 1;
    float *h = host_floats(n);
    test_fill_uniform(&rng, h, n, 0.0, 1.0);
    lip_tensor *x = upload_tensor(ctx, 1, &n, h);
    lip_tensor *out = new_tensor(ctx, LIP_FLOAT32, 1, &one);
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) sum += h[i];
    CHECK_OK(lip_reduce_sum(ctx, x, out));
    float got = read_scalar(out);
    printf("sum of %zu values in [0, 1): relative error %.3g\n", n, fabs((double)got - sum) / sum);
    test_compare("sum 1e6 positive values, rtol 1e-6", &got, &sum, 1, 0.0, 1e-6);

    /* The max at the last and at the first index. */
    h[n - 1] = 7.5f;
    REQUIRE_OK(lip_tensor_upload(x, h, n * sizeof *h));
    CHECK_OK(lip_reduce_max(ctx, x, out));
    CHECK(read_scalar(out) == 7.5f);
    h[n - 1] = 0.25f;
    h[0] = 9.25f;
    REQUIRE_OK(lip_tensor_upload(x, h, n * sizeof *h));
    CHECK_OK(lip_reduce_max(ctx, x, out));
    CHECK(read_scalar(out) == 9.25f);

    /* 1.0 a million times: exact. */
    REQUIRE_OK(lip_tensor_fill(x, 1.0));
    CHECK_OK(lip_reduce_sum(ctx, x, out));
    CHECK(read_scalar(out) == (float)n);
    CHECK_OK(lip_reduce_sum_squares(ctx, x, out));
    CHECK(read_scalar(out) == (float)n);
    REQUIRE_OK(lip_tensor_fill(x, -3.0));
    CHECK_OK(lip_reduce_max(ctx, x, out));
    CHECK(read_scalar(out) == -3.0f);

    /* 4-D input, and out of any shape with one element; out aliasing a 1-element x. */
    size_t s4[4] = {2, 3, 5, 7}, o4[3] = {1, 1, 1};
    size_t n4 = 2 * 3 * 5 * 7;
    test_fill_uniform(&rng, h, n4, -4.0, -1.0);
    lip_tensor *x4 = upload_tensor(ctx, 4, s4, h);
    lip_tensor *out3 = new_tensor(ctx, LIP_FLOAT32, 3, o4);
    double s = 0.0, mx = -INFINITY, abs_sum = 0.0;
    for (size_t i = 0; i < n4; i++) {
        s += h[i];
        abs_sum += fabs((double)h[i]);
        if (h[i] > mx) mx = h[i];
    }
    CHECK_OK(lip_reduce_sum(ctx, x4, out3));
    got = read_scalar(out3);
    test_compare("sum 4-D", &got, &s, 1, SUM_ULPS * FLT_ULP * abs_sum, 0.0);
    CHECK_OK(lip_reduce_max(ctx, x4, out3));
    got = read_scalar(out3);
    test_compare("max 4-D negative", &got, &mx, 1, 0.0, 0.0);
    float v = -2.5f;
    REQUIRE_OK(lip_tensor_upload(out, &v, sizeof v));
    CHECK_OK(lip_reduce_sum_squares(ctx, out, out));
    CHECK(read_scalar(out) == 6.25f);

    lip_tensor_free(x4);
    lip_tensor_free(out3);
    lip_tensor_free(x);
    lip_tensor_free(out);
    free(h);
}

/* Column sums of x viewed as rows × cols (cols = last axis). */
static void test_sum_rows(lip_context *ctx, int ndim, const size_t *shape) {
    size_t n = 1;
    for (int d = 0; d < ndim; d++) n *= shape[d];
    size_t cols = shape[ndim - 1], rows = n / cols;
    float *h = host_floats(n);
    test_fill_uniform(&rng, h, n, -1.0, 1.0);
    lip_tensor *x = upload_tensor(ctx, ndim, shape, h);
    lip_tensor *out = new_tensor(ctx, LIP_FLOAT32, 1, &cols);
    double *ref = calloc(cols, sizeof *ref), *abs_sum = calloc(cols, sizeof *abs_sum);
    if (!ref || !abs_sum) exit(1);
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++) {
            ref[j] += h[i * cols + j];
            abs_sum[j] += fabs((double)h[i * cols + j]);
        }
    CHECK_OK(lip_reduce_sum_rows(ctx, x, out));
    float *got = host_floats(cols);
    REQUIRE_OK(lip_tensor_download(out, got, cols * sizeof *got));
    size_t bad = 0, worst = 0;
    double worst_ratio = 0.0;
    for (size_t j = 0; j < cols; j++) {
        double err = fabs((double)got[j] - ref[j]), tol = SUM_ULPS * FLT_ULP * abs_sum[j];
        if (!(err <= tol)) bad++;
        if (err / (tol > 0 ? tol : 1e-300) > worst_ratio) {
            worst_ratio = err / (tol > 0 ? tol : 1e-300);
            worst = j;
        }
    }
    if (bad) {
        fprintf(stderr, "sum_rows %zux%zu (%d-D): %zu of %zu columns out of tolerance; worst [%zu]: got %.9g, expected "
                        "%.9g\n",
                rows, cols, ndim, bad, cols, worst, (double)got[worst], ref[worst]);
        test_failures++;
    }
    free(got);
    free(ref);
    free(abs_sum);
    free(h);
    lip_tensor_free(x);
    lip_tensor_free(out);
}

/* First maximum of each row; `ties` plants equal maxima (first one must win). */
static void test_argmax(lip_context *ctx, size_t rows, size_t cols, int ties) {
    size_t n = rows * cols, shape[2] = {rows, cols};
    float *h = host_floats(n);
    test_fill_uniform(&rng, h, n, -100.0, -1.0);
    for (size_t r = 0; ties && r < rows; r++) {
        float *row = h + r * cols;
        switch (r % 4) {
        case 0: /* all equal */
            for (size_t j = 0; j < cols; j++) row[j] = -5.0f;
            break;
        case 1: /* two maxima far apart (different work-items in the group kernel) */
            row[cols / 2] = -0.5f;
            row[cols - 1] = -0.5f;
            break;
        case 2: /* same work-item stride (j and j + 128) and a later one */
            row[(3 + r) % cols] = -0.25f;
            row[(3 + r + 128) % cols] = -0.25f;
            row[cols - 1] = -0.25f;
            break;
        default: /* the maximum at the end only */
            row[cols - 1] = -0.125f;
        }
    }
    lip_tensor *x = upload_tensor(ctx, 2, shape, h);
    lip_tensor *out = new_tensor(ctx, LIP_INT32, 1, &rows);
    if (rows % 2 == 0) { /* the same data as 3-D: rows are everything but the last axis */
        size_t s3[3] = {2, rows / 2, cols};
        REQUIRE_OK(lip_tensor_reshape(x, 3, s3));
    }
    CHECK_OK(lip_argmax_rows(ctx, x, out));
    int32_t *got = malloc(rows * sizeof *got);
    if (!got) exit(1);
    REQUIRE_OK(lip_tensor_download(out, got, rows * sizeof *got));
    size_t bad = 0;
    for (size_t r = 0; r < rows; r++) {
        size_t best = 0;
        for (size_t j = 1; j < cols; j++)
            if (h[r * cols + j] > h[r * cols + best]) best = j;
        if ((size_t)got[r] != best && bad++ < 5)
            fprintf(stderr, "argmax %zux%zu%s row %zu: got %d, expected %zu\n", rows, cols, ties ? " (ties)" : "", r,
                    (int)got[r], best);
    }
    if (bad) test_failures++;
    free(got);
    free(h);
    lip_tensor_free(x);
    lip_tensor_free(out);
}

/* The same reduction twice gives the same bits. */
static void test_determinism(lip_context *ctx) {
    size_t n = 1000000, one = 1, shape[2] = {100000, 10}, ten = 10;
    float *h = host_floats(n);
    test_fill_uniform(&rng, h, n, -1.0, 1.0);
    lip_tensor *x = upload_tensor(ctx, 1, &n, h);
    lip_tensor *x2 = upload_tensor(ctx, 2, shape, h);
    lip_tensor *o1 = new_tensor(ctx, LIP_FLOAT32, 1, &one), *o2 = new_tensor(ctx, LIP_FLOAT32, 1, &one);
    lip_tensor *c1 = new_tensor(ctx, LIP_FLOAT32, 1, &ten), *c2 = new_tensor(ctx, LIP_FLOAT32, 1, &ten);
    float a, b, ca[10], cb[10];
    CHECK_OK(lip_reduce_sum(ctx, x, o1));
    CHECK_OK(lip_reduce_sum(ctx, x, o2));
    a = read_scalar(o1);
    b = read_scalar(o2);
    CHECK(memcmp(&a, &b, sizeof a) == 0);
    CHECK_OK(lip_reduce_sum_squares(ctx, x, o1));
    CHECK_OK(lip_reduce_sum_squares(ctx, x, o2));
    a = read_scalar(o1);
    b = read_scalar(o2);
    CHECK(memcmp(&a, &b, sizeof a) == 0);
    CHECK_OK(lip_reduce_sum_rows(ctx, x2, c1));
    CHECK_OK(lip_reduce_sum_rows(ctx, x2, c2));
    REQUIRE_OK(lip_tensor_download(c1, ca, sizeof ca));
    REQUIRE_OK(lip_tensor_download(c2, cb, sizeof cb));
    CHECK(memcmp(ca, cb, sizeof ca) == 0);
    free(h);
    lip_tensor_free(x);
    lip_tensor_free(x2);
    lip_tensor_free(o1);
    lip_tensor_free(o2);
    lip_tensor_free(c1);
    lip_tensor_free(c2);
}

static void test_errors(lip_context *ctx) {
    size_t one = 1, two = 2, three = 3, s23[2] = {2, 3};
    lip_tensor *x = new_tensor(ctx, LIP_FLOAT32, 2, s23);
    lip_tensor *xi = new_tensor(ctx, LIP_INT32, 2, s23);
    lip_tensor *o1 = new_tensor(ctx, LIP_FLOAT32, 1, &one);
    lip_tensor *o2 = new_tensor(ctx, LIP_FLOAT32, 1, &two);
    lip_tensor *o3 = new_tensor(ctx, LIP_FLOAT32, 1, &three);
    lip_tensor *i1 = new_tensor(ctx, LIP_INT32, 1, &one);
    lip_tensor *i2 = new_tensor(ctx, LIP_INT32, 1, &two);
    lip_tensor *i3 = new_tensor(ctx, LIP_INT32, 1, &three);

    lip_status (*full[3])(lip_context *, const lip_tensor *, lip_tensor *) = {lip_reduce_sum, lip_reduce_sum_squares,
                                                                             lip_reduce_max};
    const char *names[3] = {"lip_reduce_sum: ", "lip_reduce_sum_squares: ", "lip_reduce_max: "};
    char msg[128];
    for (int f = 0; f < 3; f++) {
        CHECK_STATUS(full[f](NULL, x, o1), LIP_ERR_NULL);
        CHECK_STATUS(full[f](ctx, NULL, o1), LIP_ERR_NULL);
        snprintf(msg, sizeof msg, "%sx is NULL", names[f]);
        CHECK_MESSAGE(ctx, msg);
        CHECK_STATUS(full[f](ctx, x, NULL), LIP_ERR_NULL);
        snprintf(msg, sizeof msg, "%sout is NULL", names[f]);
        CHECK_MESSAGE(ctx, msg);
        CHECK_STATUS(full[f](ctx, xi, o1), LIP_ERR_DTYPE);
        snprintf(msg, sizeof msg, "%sx is int32, expected float32", names[f]);
        CHECK_MESSAGE(ctx, msg);
        CHECK_STATUS(full[f](ctx, x, i1), LIP_ERR_DTYPE);
        snprintf(msg, sizeof msg, "%sout is int32, expected float32", names[f]);
        CHECK_MESSAGE(ctx, msg);
        CHECK_STATUS(full[f](ctx, x, o2), LIP_ERR_SHAPE);
        snprintf(msg, sizeof msg, "%sout (2,) must hold 1 element (one value for x (2, 3))", names[f]);
        CHECK_MESSAGE(ctx, msg);
        CHECK_OK(full[f](ctx, x, o1));
    }

    CHECK_STATUS(lip_reduce_sum_rows(NULL, x, o3), LIP_ERR_NULL);
    CHECK_STATUS(lip_reduce_sum_rows(ctx, NULL, o3), LIP_ERR_NULL);
    CHECK_MESSAGE(ctx, "lip_reduce_sum_rows: x is NULL");
    CHECK_STATUS(lip_reduce_sum_rows(ctx, xi, o3), LIP_ERR_DTYPE);
    CHECK_MESSAGE(ctx, "lip_reduce_sum_rows: x is int32");
    CHECK_STATUS(lip_reduce_sum_rows(ctx, x, i3), LIP_ERR_DTYPE);
    CHECK_MESSAGE(ctx, "lip_reduce_sum_rows: out is int32");
    CHECK_STATUS(lip_reduce_sum_rows(ctx, x, o2), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "lip_reduce_sum_rows: out (2,) must hold 3 elements (one per column for x (2, 3))");
    CHECK_OK(lip_reduce_sum_rows(ctx, x, o3));

    CHECK_STATUS(lip_argmax_rows(NULL, x, i2), LIP_ERR_NULL);
    CHECK_STATUS(lip_argmax_rows(ctx, x, NULL), LIP_ERR_NULL);
    CHECK_MESSAGE(ctx, "lip_argmax_rows: out is NULL");
    CHECK_STATUS(lip_argmax_rows(ctx, xi, i2), LIP_ERR_DTYPE);
    CHECK_MESSAGE(ctx, "lip_argmax_rows: x is int32");
    CHECK_STATUS(lip_argmax_rows(ctx, x, o2), LIP_ERR_DTYPE);
    CHECK_MESSAGE(ctx, "lip_argmax_rows: out is float32, expected int32");
    CHECK_STATUS(lip_argmax_rows(ctx, x, i3), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "lip_argmax_rows: out (3,) must hold 2 elements (one per row for x (2, 3))");
    CHECK_OK(lip_argmax_rows(ctx, x, i2));

    lip_tensor_free(x);
    lip_tensor_free(xi);
    lip_tensor_free(o1);
    lip_tensor_free(o2);
    lip_tensor_free(o3);
    lip_tensor_free(i1);
    lip_tensor_free(i2);
    lip_tensor_free(i3);
}

int main(void) {
    rng = test_seed(20240612);
    lip_context *ctx = test_context();

    const size_t sizes[] = {1, 7, 13, 129, 257, 1000003};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        test_full(ctx, sizes[i], -1.0, 1.0);
        test_full(ctx, sizes[i], -50.0, -0.5); /* all negative: max < 0 */
    }
    test_full_special(ctx);

    const size_t r11[2] = {1, 1}, r713[2] = {7, 13}, r257[2] = {257, 129}, r3k[2] = {3, 1000}, rk3[2] = {1000, 3};
    const size_t rtall[2] = {100000, 7}, rwide[2] = {1, 100003}, r4d[4] = {2, 3, 4, 5}, r4d2[4] = {8, 16, 16, 3};
    const size_t r1d = 13, r1k[2] = {1000003, 1};
    test_sum_rows(ctx, 2, r11);
    test_sum_rows(ctx, 2, r713);
    test_sum_rows(ctx, 2, r257);
    test_sum_rows(ctx, 2, r3k);
    test_sum_rows(ctx, 2, rk3);
    test_sum_rows(ctx, 2, rtall);
    test_sum_rows(ctx, 2, rwide);
    test_sum_rows(ctx, 2, r1k);
    test_sum_rows(ctx, 4, r4d);
    test_sum_rows(ctx, 4, r4d2);
    test_sum_rows(ctx, 1, &r1d);

    const size_t am[][2] = {{1, 1}, {7, 13}, {257, 129}, {3, 1000}, {1000, 3}, {1, 100003}, {300, 700}, {5, 257}};
    for (size_t i = 0; i < sizeof am / sizeof am[0]; i++) {
        test_argmax(ctx, am[i][0], am[i][1], 0);
        test_argmax(ctx, am[i][0], am[i][1], 1);
    }

    test_determinism(ctx);
    test_errors(ctx);
    CHECK_OK(lip_context_finish(ctx));
    test_context_free(ctx);
    return test_finish("test_reduce");
}
