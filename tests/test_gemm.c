/* lipcl tests — GEMM: both paths (kernels/matmul.cl and CLBlast) and AUTO against a double host
 * reference on awkward shapes and all transpositions; bad input; the GEMM tuning table lookup. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "internal.h"

static uint64_t rng;

/* ---- profile rows: which path really ran --------------------------------------------------- */

typedef struct {
    unsigned long own, clblast;
} path_counts;

static void count_rows(const lip_profile_row *row, void *user) {
    path_counts *c = user;
    if (strcmp(row->name, "gemm/own") == 0) c->own += row->count;
    if (strcmp(row->name, "gemm/clblast") == 0) c->clblast += row->count;
}

static path_counts take_counts(lip_context *ctx) {
    path_counts c = {0, 0};
    CHECK_OK(lip_context_profile(ctx, count_rows, &c));
    CHECK_OK(lip_context_profile_reset(ctx));
    return c;
}

/* ---- one GEMM against the host reference --------------------------------------------------- */

typedef struct {
    int ta, tb;
    size_t m, n, k;
    float alpha, beta;
    size_t a_off, a_pad, b_off, b_pad, c_off, c_pad; /* offsets, and leading dimension minus minimum */
    size_t tail; /* elements after the last one of each matrix (0: it ends at the tensor's end, so a
                    write past it hits the guard band in debug-bounds mode) */
} gemm_case;

static const char *path_name(lip_gemm_path p) {
    return p == LIP_GEMM_OWN ? "own" : p == LIP_GEMM_CLBLAST ? "clblast" : "auto";
}

static lip_tensor *make_tensor(lip_context *ctx, size_t count, const float *host) {
    lip_tensor *t = NULL;
    size_t shape[1] = {count};
    REQUIRE_OK(lip_tensor_create(ctx, LIP_FLOAT32, 1, shape, &t));
    REQUIRE_OK(lip_tensor_upload(t, host, count * sizeof(float)));
    return t;
}

/*
 * Tolerance. Float32 rounds each operation with relative error u = 2^-24. A k-term dot product
 * accumulated in float errs by at most about k·u·Σ_p|a_ip·b_pj| (worst case, errors all of one
 * sign), and by about sqrt(k)·u·Σ_p|a_ip·b_pj| for data of random sign (the rounding errors add
 * like a random walk); both kernels and CLBlast sum in blocks of partial sums, which only lowers
 * it. alpha·s + beta·c adds a few u of |alpha·s| + |beta·c|. So each element may differ from the
 * double reference by 8·u·sqrt(k+1)·(|alpha|·Σ_p|a_ip·b_pj| + |beta·c_ij|): a margin of 8 over the
 * typical error, still far below the error of any indexing mistake (an O(1) fraction of |ref|).
 */
static double element_tolerance(double abs_sum, double beta_c, size_t k) {
    return 8.0 * 5.9604644775390625e-08 * sqrt((double)k + 1.0) * (abs_sum + beta_c) + 1e-30;
}

static void run_case(lip_context *ctx, lip_gemm_path path, const gemm_case *g, int use_path_run) {
    const size_t a_rows = g->ta ? g->k : g->m, a_cols = g->ta ? g->m : g->k;
    const size_t b_rows = g->tb ? g->n : g->k, b_cols = g->tb ? g->k : g->n;
    const size_t lda = a_cols + g->a_pad, ldb = b_cols + g->b_pad, ldc = g->n + g->c_pad;
    /* Every tensor ends `tail` elements past its matrix, and holds at least one element (k = 0). */
    size_t na = g->a_off + (a_rows ? (a_rows - 1) * lda + a_cols : 0) + g->tail;
    size_t nb = g->b_off + (b_rows ? (b_rows - 1) * ldb + b_cols : 0) + g->tail;
    const size_t nc = g->c_off + (g->m - 1) * ldc + g->n + g->tail;
    if (na == 0) na = 1;
    if (nb == 0) nb = 1;
    float *ha = malloc(na * sizeof *ha), *hb = malloc(nb * sizeof *hb), *hc = malloc(nc * sizeof *hc),
          *got = malloc(nc * sizeof *got);
    double *ref = malloc(g->m * g->n * sizeof *ref);
    float *gotm = malloc(g->m * g->n * sizeof *gotm);
    if (!ha || !hb || !hc || !got || !ref || !gotm) {
        fprintf(stderr, "out of host memory\n");
        exit(1);
    }
    test_fill_uniform(&rng, ha, na, -1.0, 1.0);
    test_fill_uniform(&rng, hb, nb, -1.0, 1.0);
    if (g->beta == 0.0f)
        for (size_t i = 0; i < nc; i++) hc[i] = NAN; /* beta = 0: C must not be read */
    else
        test_fill_uniform(&rng, hc, nc, -1.0, 1.0);

    double worst_tol = 0.0;
    for (size_t i = 0; i < g->m; i++)
        for (size_t j = 0; j < g->n; j++) {
            double s = 0.0, abs_sum = 0.0;
            for (size_t p = 0; p < g->k; p++) {
                double a = g->ta ? ha[g->a_off + p * lda + i] : ha[g->a_off + i * lda + p];
                double b = g->tb ? hb[g->b_off + j * ldb + p] : hb[g->b_off + p * ldb + j];
                s += a * b;
                abs_sum += fabs(a * b);
            }
            double c = g->beta == 0.0f ? 0.0 : (double)g->beta * hc[g->c_off + i * ldc + j];
            /* k = 0: C = beta·C whatever alpha is (even infinite). */
            double as = g->k ? (double)g->alpha * s : 0.0, abs_as = g->k ? fabs((double)g->alpha) * abs_sum : 0.0;
            ref[i * g->n + j] = as + c;
            double tol = element_tolerance(abs_as, fabs(c), g->k);
            if (tol > worst_tol) worst_tol = tol;
        }

    lip_tensor *a = make_tensor(ctx, na, ha), *b = make_tensor(ctx, nb, hb), *c = make_tensor(ctx, nc, hc);
    lip_transpose ta = g->ta ? LIP_TRANS : LIP_NO_TRANS, tb = g->tb ? LIP_TRANS : LIP_NO_TRANS;
    if (use_path_run) {
        CHECK_OK(lip_gemm_path_run(ctx, path, ta, tb, g->m, g->n, g->k, g->alpha, a, g->a_off, lda, b, g->b_off,
                                   ldb, g->beta, c, g->c_off, ldc));
    } else {
        CHECK_OK(lip_context_set_gemm_path(ctx, path));
        CHECK_OK(lip_gemm(ctx, ta, tb, g->m, g->n, g->k, g->alpha, a, g->a_off, lda, b, g->b_off, ldb, g->beta, c,
                          g->c_off, ldc));
    }
    CHECK_OK(lip_tensor_download(c, got, nc * sizeof *got));

    char what[160];
    snprintf(what, sizeof what, "gemm %s %c%c m %zu n %zu k %zu alpha %g beta %g offsets %zu/%zu/%zu pads %zu/%zu/%zu",
             path_name(path), g->ta ? 'T' : 'N', g->tb ? 'T' : 'N', g->m, g->n, g->k, (double)g->alpha,
             (double)g->beta, g->a_off, g->b_off, g->c_off, g->a_pad, g->b_pad, g->c_pad);
    for (size_t i = 0; i < g->m; i++)
        for (size_t j = 0; j < g->n; j++) gotm[i * g->n + j] = got[g->c_off + i * ldc + j];
    test_compare(what, gotm, ref, g->m * g->n, worst_tol, 0.0);
    /* Elements of C outside the matrix (before the offset, row padding, after the end) are untouched. */
    size_t changed = 0;
    for (size_t e = 0; e < nc; e++) {
        int inside = e >= g->c_off && (e - g->c_off) / ldc < g->m && (e - g->c_off) % ldc < g->n;
        if (!inside && memcmp(&got[e], &hc[e], sizeof(float)) != 0) changed++;
    }
    if (changed) {
        fprintf(stderr, "%s: %zu elements of C outside the matrix changed\n", what, changed);
        test_failures++;
    }
    lip_tensor_free(a);
    lip_tensor_free(b);
    lip_tensor_free(c);
    free(ha);
    free(hb);
    free(hc);
    free(got);
    free(ref);
    free(gotm);
}

/* Every (m, n) from the awkward sizes, k cycling through them too, per transposition; alpha, beta,
 * offsets and padding vary with the case number. Returns the number of GEMMs run with k > 0. */
static unsigned long run_awkward(lip_context *ctx, lip_gemm_path path) {
    static const size_t dims[] = {1, 7, 13, 129, 257};
    static const float ab[][2] = {{1.0f, 0.0f}, {-1.5f, 0.5f}, {0.25f, 1.0f}};
    unsigned long launches = 0, cno = 0;
    for (int t = 0; t < 4; t++)
        for (size_t im = 0; im < 5; im++)
            for (size_t in = 0; in < 5; in++, cno++) {
                gemm_case g = {t >> 1, t & 1, dims[im], dims[in], dims[(im + 2 * in + (size_t)t) % 5],
                               ab[cno % 3][0], ab[cno % 3][1], (cno % 4) * 5, cno % 3, (cno % 5) * 2, (cno % 2) * 4,
                               cno % 7, (cno % 3) * 2, (cno % 2) * 3};
                run_case(ctx, path, &g, cno % 4 == 3);
                launches++;
            }
    /* Larger shapes, and those of a dense layer's training step (784 inputs, 128 outputs, batch 256). */
    const gemm_case big[] = {
        {0, 0, 300, 200, 100, 1.0f, 0.0f, 0, 0, 0, 0, 0, 0, 0}, {1, 0, 300, 200, 100, 0.5f, -1.0f, 1, 2, 3, 4, 5, 6, 1},
        {0, 1, 300, 200, 100, 1.0f, 0.0f, 7, 1, 0, 0, 2, 1, 0}, {1, 1, 300, 200, 100, 2.0f, 0.5f, 0, 3, 1, 0, 0, 5, 2},
        {0, 0, 256, 128, 784, 1.0f, 0.0f, 0, 0, 0, 0, 0, 0, 0}, /* forward: Y = X·W */
        {1, 0, 784, 128, 256, 1.0f, 1.0f, 0, 0, 0, 0, 0, 0, 0}, /* dW += Xᵀ·dY */
        {0, 1, 256, 784, 128, 1.0f, 0.0f, 0, 0, 0, 0, 0, 0, 0}, /* dX = dY·Wᵀ */
    };
    for (size_t i = 0; i < sizeof big / sizeof big[0]; i++, launches++) run_case(ctx, path, &big[i], 0);
    return launches;
}

/* k = 0 scales C by beta (C not read when beta is 0; alpha does not matter), on any path. */
static void run_k0(lip_context *ctx, lip_gemm_path path) {
    const gemm_case g[] = {
        {0, 0, 7, 13, 0, 3.0f, 0.5f, 2, 0, 1, 0, 3, 2, 0},
        {1, 1, 13, 7, 0, 3.0f, 0.0f, 0, 0, 0, 0, 1, 1, 2},
        {0, 1, 1, 1, 0, INFINITY, 2.0f, 0, 0, 0, 0, 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof g / sizeof g[0]; i++) run_case(ctx, path, &g[i], 0);
}

/* ---- lip_matmul ------------------------------------------------------------------------------ */

static lip_tensor *make2d(lip_context *ctx, size_t r, size_t c, float *host) {
    lip_tensor *t = NULL;
    size_t shape[2] = {r, c};
    REQUIRE_OK(lip_tensor_create(ctx, LIP_FLOAT32, 2, shape, &t));
    if (host) {
        test_fill_uniform(&rng, host, r * c, -1.0, 1.0);
        REQUIRE_OK(lip_tensor_upload(t, host, r * c * sizeof(float)));
    }
    return t;
}

static void test_matmul(lip_context *ctx) {
    /* c (5×3) = aᵀ (a is 4×5) · bᵀ (b is 3×4) */
    float ha[20], hb[12], hc[15];
    double ref[15];
    lip_tensor *a = make2d(ctx, 4, 5, ha), *b = make2d(ctx, 3, 4, hb), *c = make2d(ctx, 5, 3, NULL);
    CHECK_OK(lip_context_set_gemm_path(ctx, LIP_GEMM_AUTO));
    CHECK_OK(lip_matmul(ctx, LIP_TRANS, LIP_TRANS, 2.0f, a, b, 0.0f, c));
    CHECK_OK(lip_tensor_download(c, hc, sizeof hc));
    for (size_t i = 0; i < 5; i++)
        for (size_t j = 0; j < 3; j++) {
            double s = 0.0;
            for (size_t p = 0; p < 4; p++) s += (double)ha[p * 5 + i] * hb[j * 4 + p];
            ref[i * 3 + j] = 2.0 * s;
        }
    test_compare("lip_matmul TT 5x3x4", hc, ref, 15, 1e-5, 1e-5);

    /* Shape mismatches. */
    CHECK_STATUS(lip_matmul(ctx, LIP_NO_TRANS, LIP_NO_TRANS, 1.0f, a, b, 0.0f, c), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "inner dimensions differ");
    CHECK_STATUS(lip_matmul(ctx, LIP_TRANS, LIP_NO_TRANS, 1.0f, a, a, 0.0f, c), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "lip_matmul: C is (5, 3) but op(A)·op(B) is 5x5");
    lip_tensor *v = NULL;
    size_t shape1[1] = {20};
    REQUIRE_OK(lip_tensor_create(ctx, LIP_FLOAT32, 1, shape1, &v));
    CHECK_STATUS(lip_matmul(ctx, LIP_NO_TRANS, LIP_NO_TRANS, 1.0f, v, b, 0.0f, c), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "must all be 2-D");
    CHECK_STATUS(lip_matmul(ctx, LIP_NO_TRANS, LIP_NO_TRANS, 1.0f, a, NULL, 0.0f, c), LIP_ERR_NULL);
    CHECK_MESSAGE(ctx, "lip_matmul: B is NULL");
    lip_tensor_free(v);
    lip_tensor_free(a);
    lip_tensor_free(b);
    lip_tensor_free(c);
}

/* ---- bad input ------------------------------------------------------------------------------- */

static void test_bad_input(lip_context *ctx) {
    size_t s1200[1] = {1200}, s2000[1] = {2000};
    lip_tensor *a = NULL, *b = NULL, *c = NULL, *ai = NULL;
    REQUIRE_OK(lip_tensor_create(ctx, LIP_FLOAT32, 1, s1200, &a));
    REQUIRE_OK(lip_tensor_create(ctx, LIP_FLOAT32, 1, s2000, &b));
    REQUIRE_OK(lip_tensor_create(ctx, LIP_FLOAT32, 1, s2000, &c));
    REQUIRE_OK(lip_tensor_create(ctx, LIP_INT32, 1, s2000, &ai));
    const lip_transpose N = LIP_NO_TRANS, T = LIP_TRANS;

    CHECK_STATUS(lip_gemm(NULL, N, N, 2, 2, 2, 1.0f, a, 0, 2, b, 0, 2, 0.0f, c, 0, 2), LIP_ERR_NULL);
    CHECK_STATUS(lip_gemm(ctx, N, N, 2, 2, 2, 1.0f, NULL, 0, 2, b, 0, 2, 0.0f, c, 0, 2), LIP_ERR_NULL);
    CHECK_MESSAGE(ctx, "lip_gemm: A is NULL");
    CHECK_STATUS(lip_gemm(ctx, N, N, 2, 2, 2, 1.0f, a, 0, 2, b, 0, 2, 0.0f, NULL, 0, 2), LIP_ERR_NULL);
    CHECK_MESSAGE(ctx, "lip_gemm: C is NULL");
    CHECK_STATUS(lip_gemm(ctx, N, N, 2, 2, 2, 1.0f, a, 0, 2, ai, 0, 2, 0.0f, c, 0, 2), LIP_ERR_DTYPE);
    CHECK_MESSAGE(ctx, "lip_gemm: B is int32, expected float32");
    CHECK_STATUS(lip_gemm(ctx, (lip_transpose)2, N, 2, 2, 2, 1.0f, a, 0, 2, b, 0, 2, 0.0f, c, 0, 2),
                 LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "trans_a is 2");

    /* op(A) 13×100 from offset 3 needs 1300 elements after it; the tensor has 1200. */
    CHECK_STATUS(lip_gemm(ctx, N, N, 13, 10, 100, 1.0f, a, 3, 100, b, 0, 10, 0.0f, c, 0, 10), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx,
                  "lip_gemm: A needs 1300 elements from offset 3 (op(A) 13x100, lda 100, no trans) but the tensor has "
                  "1200");
    /* Fits exactly at offset 0 with 12 rows... */
    CHECK_OK(lip_gemm(ctx, N, N, 12, 10, 100, 1.0f, a, 0, 100, b, 0, 10, 0.0f, c, 0, 10));
    /* ...and one element further it does not. */
    CHECK_STATUS(lip_gemm(ctx, N, N, 12, 10, 100, 1.0f, a, 1, 100, b, 0, 10, 0.0f, c, 0, 10), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "A needs 1200 elements from offset 1");
    CHECK_STATUS(lip_gemm(ctx, N, N, 2, 2, 2, 1.0f, a, 5000, 2, b, 0, 2, 0.0f, c, 0, 2), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "from offset 5000");
    /* Transposed: op(A) is 30×50, stored 50×30 with lda 40: 49·40 + 30 = 1990 > 1200. */
    CHECK_STATUS(lip_gemm(ctx, T, N, 30, 2, 50, 1.0f, a, 0, 40, b, 0, 2, 0.0f, c, 0, 2), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "A needs 1990 elements from offset 0 (op(A) 30x50, lda 40, trans)");
    /* op(B) 50×40 stored 40×50: with ldb 50 it fills B exactly, with ldb 51 it does not fit. */
    CHECK_OK(lip_gemm(ctx, N, T, 10, 40, 50, 1.0f, a, 0, 50, b, 0, 50, 0.0f, c, 0, 40));
    CHECK_STATUS(lip_gemm(ctx, N, T, 10, 40, 50, 1.0f, a, 0, 50, b, 0, 51, 0.0f, c, 0, 40), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "B needs 2039 elements from offset 0 (op(B) 50x40, ldb 51, trans) but the tensor has 2000");
    CHECK_STATUS(lip_gemm(ctx, N, N, 50, 41, 2, 1.0f, a, 0, 2, b, 0, 41, 0.0f, c, 0, 41), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "lip_gemm: C needs 2050 elements from offset 0 (C 50x41, ldc 41) but the tensor has 2000");

    /* Leading dimensions too small for the transposition. */
    CHECK_STATUS(lip_gemm(ctx, N, N, 13, 10, 100, 1.0f, a, 0, 50, b, 0, 10, 0.0f, c, 0, 10), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "lip_gemm: lda 50 is smaller than 100, the row length of A as stored (op(A) 13x100, no trans)");
    CHECK_STATUS(lip_gemm(ctx, T, N, 13, 10, 5, 1.0f, a, 0, 12, b, 0, 10, 0.0f, c, 0, 10), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "lda 12 is smaller than 13");
    CHECK_STATUS(lip_gemm(ctx, N, T, 2, 10, 5, 1.0f, a, 0, 5, b, 0, 4, 0.0f, c, 0, 10), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "ldb 4 is smaller than 5");
    CHECK_STATUS(lip_gemm(ctx, N, N, 2, 10, 5, 1.0f, a, 0, 5, b, 0, 10, 0.0f, c, 0, 9), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "lip_gemm: ldc 9 is smaller than n = 10");

    /* Tensor of another context. */
    lip_context_config cfg = lip_context_config_default();
    lip_context *other = test_context_with(&cfg);
    lip_tensor *foreign = NULL;
    REQUIRE_OK(lip_tensor_create(other, LIP_FLOAT32, 1, s2000, &foreign));
    test_ctx_for_messages = ctx;
    CHECK_STATUS(lip_gemm(ctx, N, N, 2, 2, 2, 1.0f, a, 0, 2, foreign, 0, 2, 0.0f, c, 0, 2), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "lip_gemm: B belongs to another context");
    lip_tensor_free(foreign);
    test_context_free(other);
    test_ctx_for_messages = ctx;

    /* A forced path must be a real one; m = 0 or n = 0 is an empty product. */
    CHECK_STATUS(lip_gemm_path_run(ctx, LIP_GEMM_AUTO, N, N, 2, 2, 2, 1.0f, a, 0, 2, b, 0, 2, 0.0f, c, 0, 2),
                 LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "is not LIP_GEMM_CLBLAST or LIP_GEMM_OWN");
    CHECK_OK(lip_gemm(ctx, N, N, 0, 5, 5, 1.0f, a, 0, 5, b, 0, 5, 0.0f, c, 0, 5));
    CHECK_OK(lip_gemm(ctx, N, N, 5, 0, 5, 1.0f, a, 0, 5, b, 0, 5, 0.0f, c, 0, 5));
    CHECK_OK(lip_context_finish(ctx));
    lip_tensor_free(a);
    lip_tensor_free(b);
    lip_tensor_free(c);
    lip_tensor_free(ai);
}

/* ---- tuning table ---------------------------------------------------------------------------- */

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
        fprintf(stderr, "cannot write '%s'\n", path);
        exit(1);
    }
}

static void test_tuning_table(void) {
    char dir[] = "/tmp/lipcl-test-gemm-XXXXXX";
    if (!mkdtemp(dir)) {
        fprintf(stderr, "mkdtemp failed\n");
        exit(1);
    }
    lip_context_config cfg = lip_context_config_default();
    cfg.cache_dir = dir;
    cfg.cache_disable = 0;
    cfg.profile = 1;
    lip_context *ctx = test_context_with(&cfg);

    char *path = lip_gemm_tuning_path(ctx);
    CHECK(path != NULL);
    if (!path) exit(1);
    CHECK(strncmp(path, dir, strlen(dir)) == 0 && strstr(path, "/gemm-") && strlen(strstr(path, "/gemm-")) ==
                                                                                  strlen("/gemm-") + 16 + 4);
    /* Absent table: no entry applies. */
    CHECK(lip_gemm_choice_lookup(ctx, 0, 0, 100, 100, 100) == LIP_GEMM_AUTO);

    write_text(path, "# lipcl GEMM tuning table (test)\n"
                     "# trans_a trans_b m n k path own_gflops clblast_gflops\n"
                     "0 0 100 100 100 clblast 10.5 20.25\n"
                     "\n"
                     "0 0 1000 1000 1000 own 30 20   # a comment\n"
                     "  0 1 64 64 64 own 1 0\n"
                     "1 1 50 50 50 clblast 0 5\r\n"
                     "0 0 7 7 7 fastest 1 1\n" /* malformed: unknown path (a warning, skipped) */
                     "1 1 50 50 50 own 0 5\n"); /* same shape again: the first line wins */
    /* The table was read (as absent) already: a new context reads the new file. */
    CHECK_OK(lip_context_free(ctx));
    ctx = test_context_with(&cfg);
    CHECK(lip_gemm_choice_lookup(ctx, 0, 0, 100, 100, 100) == LIP_GEMM_CLBLAST);   /* exact */
    CHECK(lip_gemm_choice_lookup(ctx, 0, 0, 1000, 1000, 1000) == LIP_GEMM_OWN);    /* exact */
    CHECK(lip_gemm_choice_lookup(ctx, 0, 0, 120, 90, 110) == LIP_GEMM_CLBLAST);    /* nearest: 100³ */
    CHECK(lip_gemm_choice_lookup(ctx, 0, 0, 700, 2000, 600) == LIP_GEMM_OWN);      /* nearest: 1000³ */
    CHECK(lip_gemm_choice_lookup(ctx, 0, 0, 7, 7, 7) == LIP_GEMM_CLBLAST);         /* malformed line ignored */
    CHECK(lip_gemm_choice_lookup(ctx, 0, 0, 300, 300, 300) == LIP_GEMM_CLBLAST);   /* log 3 < log 3.33 */
    CHECK(lip_gemm_choice_lookup(ctx, 0, 0, 400, 400, 400) == LIP_GEMM_OWN);       /* log 4 > log 2.5 */
    CHECK(lip_gemm_choice_lookup(ctx, 0, 1, 3, 5000, 1) == LIP_GEMM_OWN);          /* only NT entry */
    CHECK(lip_gemm_choice_lookup(ctx, 1, 1, 50, 50, 50) == LIP_GEMM_CLBLAST);      /* first line wins */
    CHECK(lip_gemm_choice_lookup(ctx, 1, 0, 100, 100, 100) == LIP_GEMM_AUTO);      /* no TN entry */

    /* AUTO follows the table: count which path ran with the profiler. */
    float ha[100 * 100];
    for (size_t i = 0; i < 100 * 100; i++) ha[i] = (float)(i % 13) * 0.125f;
    lip_tensor *a = make_tensor(ctx, 100 * 100, ha), *c = make_tensor(ctx, 100 * 100, ha);
    CHECK_OK(lip_context_set_gemm_path(ctx, LIP_GEMM_AUTO));
    CHECK_OK(lip_context_profile_reset(ctx));
    CHECK_OK(lip_gemm(ctx, LIP_NO_TRANS, LIP_NO_TRANS, 30, 30, 30, 1.0f, a, 0, 30, a, 0, 30, 0.0f, c, 0, 30));
    path_counts pc = take_counts(ctx); /* 30³ is nearest 100³: CLBlast (our kernel without CLBlast) */
    CHECK(pc.clblast == (lip_have_clblast() ? 1u : 0u) && pc.own == (lip_have_clblast() ? 0u : 1u));
    CHECK_OK(lip_gemm(ctx, LIP_NO_TRANS, LIP_TRANS, 30, 30, 30, 1.0f, a, 0, 30, a, 0, 30, 0.0f, c, 0, 30));
    pc = take_counts(ctx); /* NT table says own */
    CHECK(pc.own == 1 && pc.clblast == 0);
    lip_tensor_free(a);
    lip_tensor_free(c);

    /* Clearing the cache removes the table; lookups fall back to the default. */
    CHECK_OK(lip_context_cache_clear(ctx));
    CHECK(lip_gemm_choice_lookup(ctx, 0, 0, 100, 100, 100) == LIP_GEMM_AUTO);
    CHECK(access(path, F_OK) != 0);
    CHECK_OK(lip_context_free(ctx));
    free(path);
    rmdir(dir);

    /* Without a disk cache there is no table. */
    lip_context_config nocache = lip_context_config_default();
    nocache.cache_disable = 1;
    ctx = test_context_with(&nocache);
    char *none = lip_gemm_tuning_path(ctx);
    CHECK(none == NULL);
    free(none);
    CHECK(lip_gemm_choice_lookup(ctx, 0, 0, 100, 100, 100) == LIP_GEMM_AUTO);
    test_context_free(ctx);
}

int main(void) {
    rng = test_seed(20240611);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    lip_context_config cfg = lip_context_config_default();
    cfg.profile = 1; /* the profile tells which path really ran (CLBlast falls back silently) */
    lip_context *ctx = test_context_with(&cfg);

    /* lip_context_warm builds exactly the matmul programs lip_gemm asks for: afterwards our kernel
     * runs in every transposition without building or loading anything. */
    lip_cache_stats before, after;
    CHECK_OK(lip_context_warm(ctx));
    CHECK_OK(lip_context_cache_stats(ctx, &before));
    CHECK_OK(lip_context_profile_reset(ctx));
    unsigned long n_own = run_awkward(ctx, LIP_GEMM_OWN);
    run_k0(ctx, LIP_GEMM_OWN);
    path_counts pc = take_counts(ctx);
    CHECK(pc.own == n_own + 3 && pc.clblast == 0);
    CHECK_OK(lip_context_cache_stats(ctx, &after));
    CHECK(after.builds == before.builds && after.disk_hits == before.disk_hits);

    unsigned long n_blas = run_awkward(ctx, LIP_GEMM_CLBLAST);
    run_k0(ctx, LIP_GEMM_CLBLAST); /* k = 0 always takes our kernel (CLBlast refuses it) */
    pc = take_counts(ctx);
    if (lip_have_clblast()) {
        if (pc.clblast != n_blas)
            fprintf(stderr, "CLBlast ran %lu of %lu GEMMs (see the warnings above)\n", pc.clblast, n_blas);
        CHECK(pc.clblast == n_blas && pc.own == 3);
    } else {
        printf("built without CLBlast: LIP_GEMM_CLBLAST ran our kernel\n");
        CHECK(pc.own == n_blas + 3);
    }

    /* AUTO: the tuning table of the test cache, else the device default; a few shapes suffice. */
    const gemm_case autos[] = {
        {0, 0, 13, 7, 129, 1.0f, 0.0f, 1, 1, 2, 2, 3, 3, 0},
        {1, 1, 129, 257, 13, -1.0f, 2.0f, 0, 0, 0, 0, 0, 0, 1},
        {0, 1, 256, 784, 128, 1.0f, 0.0f, 0, 0, 0, 0, 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof autos / sizeof autos[0]; i++) run_case(ctx, LIP_GEMM_AUTO, &autos[i], 0);
    run_k0(ctx, LIP_GEMM_AUTO);

    test_matmul(ctx);
    test_bad_input(ctx);
    test_context_free(ctx);
    test_tuning_table();

    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("test_gemm: %.1f s\n", (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
    return test_finish("test_gemm");
}
