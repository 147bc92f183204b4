/* lipcl tests — deel-lip's constraints (weight clip, auto clip, Frobenius, spectral RKO with a stored u)
 * and regularizers (OrthDense, Lorth2D) against double host references; regularizer gradients by
 * central finite differences; the spectral constraint's Lipschitz bound; refused configurations. */
#include <string.h>

#include "check.h"
#include "hostref_lipschitz.h"

static int warnings_hard = 0;

static void capture_log(lip_log_level level, const char *text, void *user) {
    (void)user;
    if (level >= LIP_LOG_WARN) {
        fprintf(stderr, "[lipcl] %s\n", text);
        if (strstr(text, "hard to optimize")) warnings_hard++;
    }
}

static size_t count_of(int ndim, const size_t *shape) {
    size_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    return n;
}

/* ---- constraints ------------------------------------------------------------------------------ */

static void check_clip(lip_context *ctx, uint64_t *rng) {
    const size_t s1[1] = {1}, s2[2] = {7, 13}, s4[4] = {3, 3, 5, 7};
    const size_t *shapes[3] = {s1, s2, s4};
    const int ndims[3] = {1, 2, 4};
    for (int t = 0; t < 3; t++) {
        size_t n = count_of(ndims[t], shapes[t]);
        /* WeightClip(c = 2) */
        float *w = test_falloc(n);
        test_fill_uniform(rng, w, n, -3, 3);
        if (n == 1) w[0] = -2.5f; /* the single element must be clipped */
        lip_tensor *tw = test_upload(ctx, ndims[t], shapes[t], w);
        lip_constraint *c = NULL;
        lip_constraint_config cfg = lip_constraint_config_default(LIP_CONSTRAINT_WEIGHT_CLIP);
        CHECK(cfg.c == 2.0f);
        REQUIRE_OK(lip_constraint_create(ctx, &cfg, &c));
        CHECK_OK(lip_constraint_apply(c, tw));
        double *ref = hr_alloc(n);
        for (size_t i = 0; i < n; i++) ref[i] = fmin(2.0, fmax(-2.0, (double)w[i]));
        float *got = test_download(tw);
        test_compare("weight clip c=2", got, ref, n, 0, 0);
        free(got);
        lip_constraint_free(c);

        /* AutoWeightClip(scale): c = 1/(√n·scale) */
        const float scales[2] = {1.0f, 0.5f};
        for (int k = 0; k < 2; k++) {
            double cc = 1.0 / (sqrt((double)n) * scales[k]);
            test_fill_uniform(rng, w, n, -2 * cc, 2 * cc);
            if (n == 1) w[0] = (float)(1.5 * cc);
            REQUIRE_OK(lip_tensor_upload(tw, w, n * sizeof *w));
            cfg = lip_constraint_config_default(LIP_CONSTRAINT_AUTO_WEIGHT_CLIP);
            cfg.scale = scales[k];
            REQUIRE_OK(lip_constraint_create(ctx, &cfg, &c));
            CHECK_OK(lip_constraint_apply(c, tw));
            for (size_t i = 0; i < n; i++) ref[i] = fmin(cc, fmax(-cc, (double)w[i]));
            got = test_download(tw);
            /* c itself is rounded to float once. */
            test_compare("auto weight clip", got, ref, n, 1e-7 * cc, 0);
            free(got);
            lip_constraint_free(c);
        }
        free(ref);
        free(w);
        lip_tensor_free(tw);
    }
}

static void check_frobenius(lip_context *ctx, uint64_t *rng) {
    const size_t s1[1] = {1}, s2[2] = {5, 3}, s3[1] = {40001}, s4[4] = {3, 3, 4, 6};
    const size_t *shapes[4] = {s1, s2, s3, s4};
    const int ndims[4] = {1, 2, 1, 4};
    const float epss[2] = {1e-7f, 0.5f};
    for (int t = 0; t < 4; t++)
        for (int e = 0; e < 2; e++) {
            size_t n = count_of(ndims[t], shapes[t]);
            float *w = test_falloc(n);
            test_fill_uniform(rng, w, n, -1, 1);
            lip_tensor *tw = test_upload(ctx, ndims[t], shapes[t], w);
            lip_constraint_config cfg = lip_constraint_config_default(LIP_CONSTRAINT_FROBENIUS);
            CHECK(cfg.eps == 1e-7f);
            cfg.eps = epss[e];
            lip_constraint *c = NULL;
            REQUIRE_OK(lip_constraint_create(ctx, &cfg, &c));
            CHECK_OK(lip_constraint_apply(c, tw));
            double s = 0;
            for (size_t i = 0; i < n; i++) s += (double)w[i] * w[i];
            double d = sqrt(s) + (double)epss[e];
            double *ref = hr_alloc(n);
            for (size_t i = 0; i < n; i++) ref[i] = w[i] / d;
            float *got = test_download(tw);
            char what[64];
            snprintf(what, sizeof what, "frobenius n=%zu eps=%g", n, (double)epss[e]);
            test_compare(what, got, ref, n, 1e-7 / sqrt((double)n), 2e-6);
            free(got);
            /* A zero kernel stays zero (no NaN). */
            REQUIRE_OK(lip_tensor_fill(tw, 0.0));
            CHECK_OK(lip_constraint_apply(c, tw));
            got = test_download(tw);
            int zeros = 1;
            for (size_t i = 0; i < n; i++) zeros &= got[i] == 0.0f;
            CHECK(zeros);
            free(got);
            free(ref);
            free(w);
            lip_constraint_free(c);
            lip_tensor_free(tw);
        }
}

/* Host RKO: k·Björck(W/(σ + ε)) from u0; u_out gets the advanced u. */
static void host_rko(const lip_constraint_config *c, const double *w, size_t m, size_t n, const double *u0,
                     double *out, double *u_out) {
    double sigma = 0;
    double *ws = hr_alloc(m * n);
    hr_power_iteration(w, m, n, u0, c->eps_spectral, c->maxiter_spectral, 0, u_out, &sigma, ws, NULL);
    if (c->maxiter_bjorck > 0)
        hr_bjorck(ws, m, n, c->beta_bjorck, c->eps_bjorck, c->maxiter_bjorck, 0, out, NULL);
    else
        memcpy(out, ws, m * n * sizeof *ws);
    for (size_t i = 0; i < m * n; i++) out[i] *= c->k_coef_lip;
    free(ws);
}

static void check_spectral(lip_context *ctx, uint64_t *rng) {
    const size_t tall[2] = {6, 4}, wide[2] = {4, 9}, conv[4] = {3, 3, 2, 5};
    const size_t *shapes[3] = {tall, wide, conv};
    const int ndims[3] = {2, 2, 4};
    const float ks[2] = {1.0f, 2.0f};
    for (int t = 0; t < 3; t++)
        for (int kk = 0; kk < 2; kk++) {
            size_t cols = shapes[t][ndims[t] - 1], n = count_of(ndims[t], shapes[t]), rows = n / cols;
            size_t mn = rows < cols ? rows : cols;
            /* A kernel with singular values in [0.4, 3] (so the spectral step matters). */
            double *sv = hr_alloc(mn);
            for (size_t i = 0; i < mn; i++) sv[i] = 3.0 - 2.6 * (double)i / (double)(mn > 1 ? mn - 1 : 1);
            float *w = test_falloc(n);
            hr_matrix_with_sv(rng, rows, cols, sv, w);
            lip_tensor *tw = test_upload(ctx, ndims[t], shapes[t], w);
            float *u0 = test_falloc(cols);
            test_fill_uniform(rng, u0, cols, 0, 1);
            size_t ushape[2] = {1, cols};
            lip_tensor *tu = test_upload(ctx, 2, ushape, u0);

            lip_constraint_config cfg = lip_constraint_config_default(LIP_CONSTRAINT_SPECTRAL);
            cfg.k_coef_lip = ks[kk];
            lip_constraint *c = NULL;
            REQUIRE_OK(lip_constraint_create(ctx, &cfg, &c));
            lip_tensor *stored = (lip_tensor *)1;
            CHECK_OK(lip_constraint_u(c, &stored));
            CHECK(stored == NULL);
            CHECK_OK(lip_constraint_set_u(c, tu));
            CHECK_OK(lip_constraint_apply(c, tw));

            double *wd = test_to_double(w, n), *ud = test_to_double(u0, cols);
            double *ref = hr_alloc(n), *uref = hr_alloc(cols);
            host_rko(&cfg, wd, rows, cols, ud, ref, uref);
            float *got = test_download(tw);
            char what[96];
            snprintf(what, sizeof what, "spectral constraint %zux%zu k=%g", rows, cols, (double)ks[kk]);
            test_compare(what, got, ref, n, 5e-5 * ks[kk], 1e-4);
            CHECK_OK(lip_constraint_u(c, &stored));
            CHECK(stored != NULL);
            float *gu = test_download(stored);
            test_compare("spectral constraint: stored u advanced", gu, uref, cols, 1e-5, 1e-4);
            free(gu);

            /* The bound: every singular value ≤ k (1 + 1e-5) (spectral step then Björck with β = 0.5). */
            double *gd = test_to_double(got, n), *svs = hr_alloc(mn);
            hr_singular_values(gd, rows, cols, svs);
            CHECK(svs[0] <= ks[kk] * (1 + 1e-5));
            if (svs[0] > ks[kk] * (1 + 1e-5)) fprintf(stderr, "%s: sigma_max %.9g > k\n", what, svs[0]);
            /* Applied again (warm u, already orthonormal): it barely moves. */
            CHECK_OK(lip_constraint_apply(c, tw));
            float *again = test_download(tw);
            double moved = 0;
            for (size_t i = 0; i < n; i++) moved = fmax(moved, fabs((double)again[i] - got[i]));
            CHECK(moved < 2e-3 * ks[kk]);
            free(again);

            /* Another shape is refused: one constraint per kernel. */
            size_t other[2] = {rows + 1, cols};
            lip_tensor *to = test_sentinel(ctx, LIP_FLOAT32, 2, other);
            CHECK_STATUS(lip_constraint_apply(c, to), LIP_ERR_SHAPE);
            CHECK_MESSAGE(ctx, "one constraint per kernel");
            size_t bad_u = cols + 1;
            lip_tensor *tbu = test_sentinel(ctx, LIP_FLOAT32, 1, &bad_u);
            CHECK_STATUS(lip_constraint_set_u(c, tbu), LIP_ERR_SHAPE);
            lip_tensor_free(to);
            lip_tensor_free(tbu);

            free(svs);
            free(gd);
            free(got);
            free(ref);
            free(uref);
            free(wd);
            free(ud);
            free(sv);
            free(w);
            free(u0);
            lip_tensor_free(tw);
            lip_tensor_free(tu);
            lip_constraint_free(c);
        }

    /* Without set_u: u drawn on the first apply; converged settings make every singular value ≈ k. */
    size_t shape[2] = {7, 5};
    double sv[5] = {2.0, 1.5, 1.0, 0.7, 0.5};
    float w[35];
    hr_matrix_with_sv(rng, 7, 5, sv, w);
    lip_tensor *tw = test_upload(ctx, 2, shape, w);
    lip_constraint_config cfg = lip_constraint_config_default(LIP_CONSTRAINT_SPECTRAL);
    cfg.eps_spectral = 1e-6f;
    cfg.maxiter_spectral = 200;
    cfg.eps_bjorck = 1e-6f;
    cfg.maxiter_bjorck = 100;
    cfg.k_coef_lip = 0.5f;
    lip_constraint *c = NULL;
    REQUIRE_OK(lip_constraint_create(ctx, &cfg, &c));
    CHECK_OK(lip_constraint_apply(c, tw));
    float got[35];
    test_read(tw, got);
    double gd[35], svs[5];
    for (int i = 0; i < 35; i++) gd[i] = got[i];
    hr_singular_values(gd, 7, 5, svs);
    for (int i = 0; i < 5; i++) CHECK_NEAR(svs[i], 0.5, 2e-4);
    lip_tensor *u = NULL;
    CHECK_OK(lip_constraint_u(c, &u));
    CHECK(u && lip_tensor_count(u) == 5);
    lip_constraint_free(c);
    lip_tensor_free(tw);
}

static void check_constraint_errors(lip_context *ctx) {
    lip_constraint *c = (lip_constraint *)1;
    lip_constraint_config cfg = lip_constraint_config_default(LIP_CONSTRAINT_WEIGHT_CLIP);
    cfg.c = 0;
    CHECK_STATUS(lip_constraint_create(ctx, &cfg, &c), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "WeightClip: c");
    CHECK(c == NULL);
    cfg = lip_constraint_config_default(LIP_CONSTRAINT_AUTO_WEIGHT_CLIP);
    cfg.scale = -1;
    CHECK_STATUS(lip_constraint_create(ctx, &cfg, &c), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "scale");
    cfg = lip_constraint_config_default(LIP_CONSTRAINT_FROBENIUS);
    cfg.eps = -1e-3f;
    CHECK_STATUS(lip_constraint_create(ctx, &cfg, &c), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "eps");
    cfg = lip_constraint_config_default(LIP_CONSTRAINT_SPECTRAL);
    cfg.beta_bjorck = 0.7f;
    CHECK_STATUS(lip_constraint_create(ctx, &cfg, &c), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "beta_bjorck");
    cfg = lip_constraint_config_default(LIP_CONSTRAINT_SPECTRAL);
    cfg.maxiter_spectral = 0;
    CHECK_STATUS(lip_constraint_create(ctx, &cfg, &c), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "maxiter_spectral");
    cfg = lip_constraint_config_default(LIP_CONSTRAINT_SPECTRAL);
    cfg.k_coef_lip = 0;
    CHECK_STATUS(lip_constraint_create(ctx, &cfg, &c), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "k_coef_lip");
    cfg.kind = (lip_constraint_kind)9;
    CHECK_STATUS(lip_constraint_create(ctx, &cfg, &c), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "unknown constraint");
    CHECK_STATUS(lip_constraint_create(ctx, NULL, &c), LIP_ERR_NULL);

    cfg = lip_constraint_config_default(LIP_CONSTRAINT_WEIGHT_CLIP);
    REQUIRE_OK(lip_constraint_create(ctx, &cfg, &c));
    size_t n = 4;
    lip_tensor *ti = test_sentinel(ctx, LIP_INT32, 1, &n);
    CHECK_STATUS(lip_constraint_apply(c, ti), LIP_ERR_DTYPE);
    CHECK_MESSAGE(ctx, "WeightClip");
    CHECK_STATUS(lip_constraint_apply(c, NULL), LIP_ERR_NULL);
    lip_tensor *u = NULL;
    CHECK_STATUS(lip_constraint_u(c, &u), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "only SpectralConstraint");
    CHECK_STATUS(lip_constraint_apply(NULL, ti), LIP_ERR_NULL);
    lip_tensor_free(ti);
    lip_constraint_free(c);
    lip_constraint_free(NULL);
}

/* ---- regularizers: host references ------------------------------------------------------------ */

/* ‖G − I‖², G = WWᵀ (rows ≤ cols) or WᵀW. */
static double host_orth(const double *w, size_t rows, size_t cols) {
    int wide = rows <= cols;
    size_t k = wide ? rows : cols;
    double *g = hr_alloc(k * k);
    if (wide)
        hr_matmul(0, 1, k, k, cols, w, w, g);
    else
        hr_matmul(1, 0, k, k, rows, w, w, g);
    double s = 0;
    for (size_t i = 0; i < k; i++)
        for (size_t j = 0; j < k; j++) {
            double d = g[i * k + j] - (i == j ? 1.0 : 0.0);
            s += d * d;
        }
    free(g);
    return s;
}

/* Lorth2D exactly as deel-lip builds it: transpose (3, 0, 1, 2), pad spatially by P, VALID conv with
 * stride s against K, minus the centred identity; Σ(·)² − δ. */
static double host_lorth(const double *k, int R, int C, int M, int s, int conv_transpose) {
    int P = ((R - 1) / s) * s, Rp = R + 2 * P;
    int o = (Rp - R) / s + 1;
    double *kp = hr_alloc((size_t)M * Rp * Rp * C); /* (M, Rp, Rp, C) */
    for (int a = 0; a < M; a++)
        for (int p = 0; p < R; p++)
            for (int q = 0; q < R; q++)
                for (int c = 0; c < C; c++)
                    kp[(((size_t)a * Rp + p + P) * Rp + q + P) * C + c] = k[(((size_t)p * R + q) * C + c) * M + a];
    int ct = o / 2;
    double total = 0;
    for (int a = 0; a < M; a++)
        for (int y = 0; y < o; y++)
            for (int x = 0; x < o; x++)
                for (int b = 0; b < M; b++) {
                    double acc = 0;
                    for (int i = 0; i < R; i++)
                        for (int j = 0; j < R; j++)
                            for (int c = 0; c < C; c++)
                                acc += kp[(((size_t)a * Rp + y * s + i) * Rp + x * s + j) * C + c] *
                                       k[(((size_t)i * R + j) * C + c) * M + b];
                    double t = (a == b && y == ct && x == ct) ? 1.0 : 0.0;
                    total += (acc - t) * (acc - t);
                }
    free(kp);
    int cin = conv_transpose ? M : C, cout = conv_transpose ? C : M;
    int delta = cout - s * s * cin;
    return total - (delta > 0 ? delta : 0);
}

typedef struct {
    int lorth;
    size_t rows, cols;   /* orth dense */
    int R, C, M, stride; /* lorth */
    int conv_transpose;
} reg_case;

static double host_reg(const reg_case *rc, const double *w) {
    if (rc->lorth) return host_lorth(w, rc->R, rc->C, rc->M, rc->stride, rc->conv_transpose);
    return host_orth(w, rc->rows, rc->cols);
}

static void run_reg_case(lip_context *ctx, const reg_case *rc, int ndim, const size_t *shape, uint64_t *rng) {
    size_t n = count_of(ndim, shape);
    char name[128];
    if (rc->lorth)
        snprintf(name, sizeof name, "Lorth2D (%d,%d,%d,%d) stride %d%s", rc->R, rc->R, rc->C, rc->M, rc->stride,
                 rc->conv_transpose ? " transposed" : "");
    else
        snprintf(name, sizeof name, "OrthDense %zux%zu (n=%zu)", rc->rows, rc->cols, n);
    printf("case %s\n", name);
    const float lambda = 0.7f;
    lip_regularizer_config cfg =
        lip_regularizer_config_default(rc->lorth ? LIP_REGULARIZER_LORTH2D : LIP_REGULARIZER_ORTH_DENSE);
    cfg.lambda = lambda;
    cfg.stride = rc->stride ? rc->stride : 1;
    cfg.conv_transpose = rc->conv_transpose;
    lip_regularizer *r = NULL;
    REQUIRE_OK(lip_regularizer_create(ctx, &cfg, &r));

    float *w = test_falloc(n), *g0 = test_falloc(n);
    test_fill_uniform(rng, w, n, -0.6, 0.6);
    test_fill_uniform(rng, g0, n, -1, 1);
    lip_tensor *tw = test_upload(ctx, ndim, shape, w);
    lip_tensor *tg = test_upload(ctx, ndim, shape, g0);
    size_t one = 1;
    float v0 = 1.5f;
    lip_tensor *tv = test_upload(ctx, 1, &one, &v0);

    /* Value written, then accumulated; the gradient added to g0. */
    CHECK_OK(lip_regularizer_apply(r, tw, tv, 0, tg));
    double *wd = test_to_double(w, n);
    double ref = lambda * host_reg(rc, wd);
    float got = 0;
    test_read(tv, &got);
    double scale = fmax(1.0, fabs(ref));
    CHECK_NEAR(got, ref, 2e-5 * scale);
    CHECK_OK(lip_regularizer_apply(r, tw, tv, 1, NULL));
    test_read(tv, &got);
    CHECK_NEAR(got, 2 * ref, 4e-5 * scale);

    /* Gradient: central differences of the double reference on every element. */
    float *gg = test_download(tg);
    double *fd = hr_alloc(n);
    for (size_t i = 0; i < n; i++) {
        double keep = wd[i], h = 1e-6;
        wd[i] = keep + h;
        double up = host_reg(rc, wd);
        wd[i] = keep - h;
        double down = host_reg(rc, wd);
        wd[i] = keep;
        fd[i] = g0[i] + lambda * (up - down) / (2 * h);
    }
    double gscale = 0;
    for (size_t i = 0; i < n; i++) gscale = fmax(gscale, fabs(fd[i] - g0[i]));
    char what[160];
    snprintf(what, sizeof what, "%s gradient vs finite differences", name);
    test_compare(what, gg, fd, n, 1e-4 * fmax(gscale, 1e-3), 1e-5);

    /* Value only / gradient only. */
    CHECK_OK(lip_regularizer_apply(r, tw, NULL, 0, tg));
    CHECK_OK(lip_regularizer_apply(r, tw, tv, 0, NULL));
    test_read(tv, &got);
    CHECK_NEAR(got, ref, 2e-5 * scale);

    free(fd);
    free(gg);
    free(wd);
    free(w);
    free(g0);
    lip_tensor_free(tw);
    lip_tensor_free(tg);
    lip_tensor_free(tv);
    lip_regularizer_free(r);
}

static void check_regularizers(lip_context *ctx, uint64_t *rng) {
    /* OrthDense: wide, tall, square, 1×1, a conv kernel viewed as (kh·kw·cin, cout). */
    const size_t d1[2] = {5, 8}, d2[2] = {8, 5}, d3[2] = {6, 6}, d4[2] = {1, 1}, d5[4] = {3, 3, 2, 4};
    const size_t *ds[5] = {d1, d2, d3, d4, d5};
    const int dn[5] = {2, 2, 2, 2, 4};
    for (int i = 0; i < 5; i++) {
        reg_case rc = {0};
        rc.cols = ds[i][dn[i] - 1];
        rc.rows = count_of(dn[i], ds[i]) / rc.cols;
        run_reg_case(ctx, &rc, dn[i], ds[i], rng);
    }
    /* Lorth2D: CO (δ > 0), RO, C·s² = M (warns), stride 2, 5×5, 1×1, transposed. */
    const int lc[][5] = {{3, 2, 4, 1, 0}, {3, 4, 2, 1, 0}, {3, 2, 2, 1, 0}, {5, 3, 5, 2, 0},
                         {3, 1, 4, 2, 0}, {1, 3, 3, 1, 0}, {3, 4, 2, 1, 1}, {3, 3, 7, 2, 1}};
    int warned_before = warnings_hard;
    for (size_t i = 0; i < sizeof lc / sizeof lc[0]; i++) {
        reg_case rc = {0};
        rc.lorth = 1;
        rc.R = lc[i][0];
        rc.C = lc[i][1];
        rc.M = lc[i][2];
        rc.stride = lc[i][3];
        rc.conv_transpose = lc[i][4];
        size_t shape[4] = {(size_t)rc.R, (size_t)rc.R, (size_t)rc.C, (size_t)rc.M};
        run_reg_case(ctx, &rc, 4, shape, rng);
    }
    /* (3,3,2,2) s1, (3,3,1,4) s2 and (1,1,3,3) s1 have C·s² = M: one warning each (not one per apply). */
    CHECK(warnings_hard - warned_before == 3);
}

static void check_regularizer_errors(lip_context *ctx) {
    lip_regularizer *r = (lip_regularizer *)1;
    lip_regularizer_config cfg = lip_regularizer_config_default(LIP_REGULARIZER_ORTH_DENSE);
    CHECK(cfg.lambda == 1.0f && cfg.stride == 1 && cfg.conv_transpose == 0);
    cfg.lambda = -1;
    CHECK_STATUS(lip_regularizer_create(ctx, &cfg, &r), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "lambda");
    CHECK(r == NULL);
    cfg = lip_regularizer_config_default(LIP_REGULARIZER_LORTH2D);
    cfg.stride = 0;
    CHECK_STATUS(lip_regularizer_create(ctx, &cfg, &r), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "stride");
    cfg.kind = (lip_regularizer_kind)5;
    CHECK_STATUS(lip_regularizer_create(ctx, &cfg, &r), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "unknown regularizer");

    cfg = lip_regularizer_config_default(LIP_REGULARIZER_LORTH2D);
    REQUIRE_OK(lip_regularizer_create(ctx, &cfg, &r));
    size_t one = 1, two = 2;
    lip_tensor *v = test_sentinel(ctx, LIP_FLOAT32, 1, &one), *v2 = test_sentinel(ctx, LIP_FLOAT32, 1, &two);
    size_t even[4] = {2, 2, 1, 1}, rect[4] = {3, 1, 2, 2}, flat[2] = {9, 4}, ok[4] = {3, 3, 2, 3};
    lip_tensor *te = test_sentinel(ctx, LIP_FLOAT32, 4, even), *tr = test_sentinel(ctx, LIP_FLOAT32, 4, rect);
    lip_tensor *tf = test_sentinel(ctx, LIP_FLOAT32, 2, flat), *tk = test_sentinel(ctx, LIP_FLOAT32, 4, ok);
    CHECK_STATUS(lip_regularizer_apply(r, te, v, 0, NULL), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "odd");
    CHECK_STATUS(lip_regularizer_apply(r, tr, v, 0, NULL), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "square");
    CHECK_STATUS(lip_regularizer_apply(r, tf, v, 0, NULL), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "(R, R, C, M)");
    CHECK_STATUS(lip_regularizer_apply(r, tk, v2, 0, NULL), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "value");
    CHECK_STATUS(lip_regularizer_apply(r, tk, v, 0, tf), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "grad");
    lip_regularizer_free(r);

    /* deel-lip's existence checks. */
    size_t ro[4] = {1, 1, 1, 4}, co[4] = {1, 1, 1, 8};
    lip_tensor *tro = test_sentinel(ctx, LIP_FLOAT32, 4, ro), *tco = test_sentinel(ctx, LIP_FLOAT32, 4, co);
    cfg.stride = 3;
    REQUIRE_OK(lip_regularizer_create(ctx, &cfg, &r));
    CHECK_STATUS(lip_regularizer_apply(r, tro, v, 0, NULL), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "impossible RO");
    lip_regularizer_free(r);
    cfg.stride = 2;
    REQUIRE_OK(lip_regularizer_create(ctx, &cfg, &r));
    CHECK_STATUS(lip_regularizer_apply(r, tco, v, 0, NULL), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "impossible CO");
    CHECK_STATUS(lip_regularizer_apply(NULL, tco, v, 0, NULL), LIP_ERR_NULL);
    lip_regularizer_free(r);
    lip_regularizer_free(NULL);

    lip_tensor *all[] = {v, v2, te, tr, tf, tk, tro, tco};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) lip_tensor_free(all[i]);
}

int main(void) {
    lip_context_config config = lip_context_config_default();
    config.log = capture_log;
    config.log_level = LIP_LOG_WARN;
    lip_context *ctx = NULL;
    lip_status st = lip_context_create(&ctx, &config);
    if (st == LIP_ERR_NO_DEVICE) {
        fprintf(stderr, "no OpenCL device: skipped\n");
        return 77;
    }
    REQUIRE_OK(st);
    test_ctx_for_messages = ctx;
    uint64_t rng = test_seed(777123);

    check_clip(ctx, &rng);
    check_frobenius(ctx, &rng);
    check_spectral(ctx, &rng);
    check_constraint_errors(ctx);
    check_regularizers(ctx, &rng);
    check_regularizer_errors(ctx);

    test_context_free(ctx);
    return test_finish("test_constraints");
}
