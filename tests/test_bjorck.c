/* lipcl tests — Björck orthonormalization on the device, forward and backward: host references on awkward
 * shapes, finite-difference gradients, orthogonality, bad input (golden cases: tests/refrun/bjorck.c). */
#define _POSIX_C_SOURCE 200809L
#include <time.h>

#include "check.h"
#include "hostref_lipschitz.h"
#include "lipschitz/normalizers.h"

static uint64_t rng;

/* ---- device helpers ------------------------------------------------------------------------- */

/* Device Björck with everything the backward needs. */
typedef struct bj_dev {
    lip_tensor *w, *out, *state, *ws;
    size_t rows, cols;
    lip_bjorck_config cfg;
} bj_dev;

static void bj_dev_forward(lip_context *ctx, bj_dev *d, int ndim, const size_t *shape, const float *w,
                           const lip_bjorck_config *cfg, float *out, int *iters) {
    d->cfg = *cfg;
    d->w = test_upload(ctx, ndim, shape, w);
    d->cols = shape[ndim - 1];
    d->rows = lip_tensor_count(d->w) / d->cols;
    size_t two = LIP_NORMALIZER_STATE_INTS, wsn = lip_bjorck_workspace_floats(d->rows, d->cols, cfg->maxiter);
    d->out = test_sentinel(ctx, LIP_FLOAT32, ndim, shape);
    d->state = test_sentinel(ctx, LIP_INT32, 1, &two);
    d->ws = test_sentinel(ctx, LIP_FLOAT32, 1, &wsn);
    CHECK_OK(lip_bjorck_forward(ctx, cfg, d->w, d->out, d->state, d->ws));
    if (out) test_read(d->out, out);
    if (iters) CHECK_OK(lip_normalizer_iterations(ctx, d->state, iters));
}

static void bj_dev_backward(lip_context *ctx, bj_dev *d, const float *g, float *dw) {
    size_t shape[2] = {d->rows, d->cols};
    lip_tensor *gt = test_upload(ctx, 2, shape, g), *dt = test_sentinel(ctx, LIP_FLOAT32, 2, shape);
    CHECK_OK(lip_bjorck_backward(ctx, &d->cfg, d->state, d->ws, gt, dt));
    test_read(dt, dw);
    lip_tensor_free(gt);
    lip_tensor_free(dt);
}

static void bj_dev_free(bj_dev *d) {
    lip_tensor_free(d->w);
    lip_tensor_free(d->out);
    lip_tensor_free(d->state);
    lip_tensor_free(d->ws);
}

/* ---- device vs host on awkward shapes ------------------------------------------------------------ */

/* Uniform random rows×cols matrix scaled to spectral norm `top` (as after the spectral step). */
static void random_normalized(float *wf, size_t rows, size_t cols, double top) {
    size_t mn = rows * cols, k = rows < cols ? rows : cols;
    double *w = hr_alloc(mn), *sv = hr_alloc(k);
    for (size_t i = 0; i < mn; i++) w[i] = test_uniform(&rng, -1.0, 1.0);
    hr_singular_values(w, rows, cols, sv);
    for (size_t i = 0; i < mn; i++) wf[i] = (float)(w[i] * top / sv[0]);
    free(w);
    free(sv);
}

static void test_shape(lip_context *ctx, size_t rows, size_t cols) {
    size_t mn = rows * cols, shape[2] = {rows, cols};
    float *wf = test_falloc(mn), *gf = test_falloc(mn);
    random_normalized(wf, rows, cols, 0.98);
    test_fill_uniform(&rng, gf, mn, -1.0, 1.0);
    double *w = test_to_double(wf, mn), *g = test_to_double(gf, mn);
    char what[160];
    for (int variant = 0; variant < 2; variant++) {
        lip_bjorck_config cfg = lip_bjorck_config_default();
        if (variant == 1) {
            cfg.stopping = LIP_STOPPING_FIXED;
            cfg.maxiter = 3;
            cfg.beta = 0.3f;
        }
        const char *vname = variant ? "fixed 3, beta 0.3" : "deel-lip defaults";
        bj_dev d;
        float *out = test_falloc(mn), *dw = test_falloc(mn);
        int iters = -1;
        bj_dev_forward(ctx, &d, 2, shape, wf, &cfg, out, &iters);
        double stop[64], *ref = hr_alloc(mn), *dref = hr_alloc(mn);
        int host_iters = hr_bjorck(w, rows, cols, cfg.beta, cfg.eps, cfg.maxiter, variant == 1, ref, stop);
        int borderline = 0;
        for (int i = 0; i <= host_iters && variant == 0; i++)
            if (fabs(stop[i] / cfg.eps - 1.0) < 0.02) borderline = 1;
        if (!borderline) CHECK(iters == host_iters);
        if (iters != host_iters)
            fprintf(stderr, "%zux%zu: device %d vs host %d iterations%s\n", rows, cols, iters, host_iters,
                    borderline ? " (borderline, accepted)" : "");
        hr_bjorck(w, rows, cols, cfg.beta, cfg.eps, iters, 1, ref, NULL);
        snprintf(what, sizeof what, "bjorck %zux%zu %s: forward", rows, cols, vname);
        test_compare(what, out, ref, mn, 1e-5, 1e-4);
        bj_dev_backward(ctx, &d, gf, dw);
        hr_bjorck_backward(w, rows, cols, cfg.beta, iters, g, dref);
        snprintf(what, sizeof what, "bjorck %zux%zu %s: backward (%d iterations)", rows, cols, vname, iters);
        /* Scale: the result, or float rounding of the incoming gradient where cancellation makes the
         * result tiny (a converged 1×1 has a vanishing derivative). */
        test_compare(what, dw, dref, mn, 2e-5 * test_max_abs(dref, mn) + 1e-6 * test_max_abs(g, mn), 1e-4);
        free(out);
        free(dw);
        free(ref);
        free(dref);
        bj_dev_free(&d);
    }
    free(wf);
    free(gf);
    free(w);
    free(g);
}

/* Central differences in double of the host forward with the device's iteration count frozen; input
 * of spectral norm `top`, deel-lip's default rule, or `fixed` iterations when > 0. */
static void test_gradcheck(lip_context *ctx, size_t rows, size_t cols, double top, int fixed) {
    size_t mn = rows * cols, shape[2] = {rows, cols};
    float *wf = test_falloc(mn), *gf = test_falloc(mn), *dwf = test_falloc(mn);
    random_normalized(wf, rows, cols, top);
    test_fill_uniform(&rng, gf, mn, -1.0, 1.0);
    lip_bjorck_config cfg = lip_bjorck_config_default();
    if (fixed > 0) {
        cfg.stopping = LIP_STOPPING_FIXED;
        cfg.maxiter = fixed;
    }
    bj_dev d;
    int iters = 0;
    bj_dev_forward(ctx, &d, 2, shape, wf, &cfg, NULL, &iters);
    bj_dev_backward(ctx, &d, gf, dwf);
    double *w = test_to_double(wf, mn), *g = test_to_double(gf, mn), *fd = hr_alloc(mn), *out = hr_alloc(mn);
    double *href = hr_alloc(mn);
    const double h = 1e-6;
    for (size_t e = 0; e < mn; e++) {
        double keep = w[e], l[2];
        for (int side = 0; side < 2; side++) {
            w[e] = keep + (side ? -h : h);
            hr_bjorck(w, rows, cols, cfg.beta, 0.0, iters, 1, out, NULL);
            double s = 0.0;
            for (size_t i = 0; i < mn; i++) s += g[i] * out[i];
            l[side] = s;
        }
        w[e] = keep;
        fd[e] = (l[0] - l[1]) / (2.0 * h);
    }
    hr_bjorck_backward(w, rows, cols, cfg.beta, iters, g, href);
    double scale = test_max_abs(fd, mn), worst_host = 0.0, worst_dev = 0.0;
    for (size_t e = 0; e < mn; e++) {
        if (fabs(href[e] - fd[e]) > worst_host) worst_host = fabs(href[e] - fd[e]);
        if (fabs(dwf[e] - fd[e]) > worst_dev) worst_dev = fabs(dwf[e] - fd[e]);
    }
    CHECK(worst_host <= 1e-6 * scale);
    CHECK(worst_dev <= 1e-3 * scale);
    printf("gradcheck %zux%zu (%d iterations): max|fd| %.3g, host err %.2g, device err %.2g (relative to max|fd|)\n",
           rows, cols, iters, scale, worst_host / scale, worst_dev / scale);
    bj_dev_free(&d);
    free(wf);
    free(gf);
    free(dwf);
    free(w);
    free(g);
    free(fd);
    free(out);
    free(href);
}

/*
 * The whole reparametrization (power iteration, then Björck) on the device, against central
 * differences of the host chain with u and both iteration counts frozen.
 */
static void test_chain_gradcheck(lip_context *ctx, size_t rows, size_t cols) {
    size_t mn = rows * cols, shape[2] = {rows, cols}, ushape[2] = {1, cols}, one = 1, two = 2;
    float *wf = test_falloc(mn), *uf = test_falloc(cols), *gf = test_falloc(mn), *dwf = test_falloc(mn);
    test_fill_uniform(&rng, wf, mn, -1.0, 1.0);
    test_fill_uniform(&rng, uf, cols, -1.0, 1.0);
    test_fill_uniform(&rng, gf, mn, -1.0, 1.0);
    lip_power_iteration_config pcfg = lip_power_iteration_config_default();
    lip_bjorck_config bcfg = lip_bjorck_config_default();
    lip_tensor *w = test_upload(ctx, 2, shape, wf), *u = test_upload(ctx, 2, ushape, uf);
    lip_tensor *sigma = test_sentinel(ctx, LIP_FLOAT32, 1, &one), *wsn = test_sentinel(ctx, LIP_FLOAT32, 2, shape);
    lip_tensor *wb = test_sentinel(ctx, LIP_FLOAT32, 2, shape), *pst = test_sentinel(ctx, LIP_INT32, 1, &two);
    lip_tensor *bst = test_sentinel(ctx, LIP_INT32, 1, &two), *g = test_upload(ctx, 2, shape, gf);
    size_t bwn = lip_bjorck_workspace_floats(rows, cols, bcfg.maxiter);
    lip_tensor *bws = test_sentinel(ctx, LIP_FLOAT32, 1, &bwn), *gs = test_sentinel(ctx, LIP_FLOAT32, 2, shape);
    lip_tensor *dw = test_sentinel(ctx, LIP_FLOAT32, 2, shape);
    CHECK_OK(lip_power_iteration_forward(ctx, &pcfg, w, u, sigma, wsn, pst, NULL));
    CHECK_OK(lip_bjorck_forward(ctx, &bcfg, wsn, wb, bst, bws));
    CHECK_OK(lip_bjorck_backward(ctx, &bcfg, bst, bws, g, gs));
    CHECK_OK(lip_power_iteration_backward(ctx, &pcfg, w, u, sigma, gs, NULL, dw, NULL));
    test_read(dw, dwf);
    float *uf2 = test_falloc(cols);
    test_read(u, uf2);
    int bi = 0;
    CHECK_OK(lip_normalizer_iterations(ctx, bst, &bi));
    double *wd = test_to_double(wf, mn), *ud = test_to_double(uf2, cols);
    double *gd = test_to_double(gf, mn), *fd = hr_alloc(mn);
    double *t1 = hr_alloc(mn), *t2 = hr_alloc(mn);
    const double h = 1e-6;
    for (size_t e = 0; e < mn; e++) {
        double keep = wd[e], l[2];
        for (int side = 0; side < 2; side++) {
            wd[e] = keep + (side ? -h : h);
            hr_spectral_frozen(wd, rows, cols, ud, pcfg.eps, t1);
            hr_bjorck(t1, rows, cols, bcfg.beta, 0.0, bi, 1, t2, NULL);
            double s = 0.0;
            for (size_t i = 0; i < mn; i++) s += gd[i] * t2[i];
            l[side] = s;
        }
        wd[e] = keep;
        fd[e] = (l[0] - l[1]) / (2.0 * h);
    }
    double scale = test_max_abs(fd, mn), worst = 0.0;
    for (size_t e = 0; e < mn; e++)
        if (fabs(dwf[e] - fd[e]) > worst) worst = fabs(dwf[e] - fd[e]);
    CHECK(worst <= 1e-3 * scale);
    printf("chain gradcheck %zux%zu (%d Björck iterations): device err %.2g relative to max|fd| %.3g\n", rows, cols, bi,
           worst / scale, scale);
    lip_tensor *ts[] = {w, u, sigma, wsn, wb, pst, bst, g, bws, gs, dw};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) lip_tensor_free(ts[i]);
    free(wf);
    free(uf);
    free(uf2);
    free(gf);
    free(dwf);
    free(wd);
    free(ud);
    free(gd);
    free(fd);
    free(t1);
    free(t2);
}

/* ---- orthogonality, special inputs, determinism -------------------------------------------------- */

static void test_orthogonality(lip_context *ctx, size_t rows, size_t cols) {
    size_t mn = rows * cols, k = rows < cols ? rows : cols, shape[2] = {rows, cols};
    float *wf = test_falloc(mn), *out = test_falloc(mn);
    double *sv = hr_alloc(k), *s = hr_alloc(k);
    /* β = 0.5 never pushes a singular value above 1 (1.5s − 0.5s³ ≤ 1): σ_max ≤ 1 + 1e-5 after 1, 3
     * and the default iterations, from σ_max = 1 exactly (in double) and from a wide spread. */
    const int iterations[] = {1, 3, 15};
    for (int trial = 0; trial < 2; trial++) {
        if (trial == 0)
            random_normalized(wf, rows, cols, 1.0);
        else {
            for (size_t i = 0; i < k; i++) s[i] = i == 0 ? 1.0 : test_uniform(&rng, 1e-3, 1.0);
            hr_matrix_with_sv(&rng, rows, cols, s, wf);
        }
        for (int v = 0; v < 3; v++) {
            lip_bjorck_config cfg = lip_bjorck_config_default();
            cfg.maxiter = iterations[v];
            cfg.stopping = v == 2 ? LIP_STOPPING_EPS : LIP_STOPPING_FIXED;
            bj_dev d;
            bj_dev_forward(ctx, &d, 2, shape, wf, &cfg, out, NULL);
            double *od = test_to_double(out, mn);
            hr_singular_values(od, rows, cols, sv);
            CHECK(sv[0] <= 1.0 + 1e-5);
            if (!(sv[0] <= 1.0 + 1e-5))
                fprintf(stderr, "%zux%zu trial %d, %d iterations: sigma_max %.9f\n", rows, cols, trial, iterations[v],
                        sv[0]);
            free(od);
            bj_dev_free(&d);
        }
    }
    /* Convergence: condition number ≤ 10, enough iterations → every σ within 1e-4 of 1, both rules. */
    for (size_t i = 0; i < k; i++) s[i] = k == 1 ? 1.0 : 0.1 + 0.9 * (double)i / (double)(k - 1);
    hr_matrix_with_sv(&rng, rows, cols, s, wf);
    for (int rule = 0; rule < 2; rule++) {
        lip_bjorck_config cfg = lip_bjorck_config_default();
        cfg.maxiter = rule ? 25 : 50;
        cfg.stopping = rule ? LIP_STOPPING_FIXED : LIP_STOPPING_EPS;
        cfg.eps = 1e-4f;
        bj_dev d;
        int iters = 0;
        bj_dev_forward(ctx, &d, 2, shape, wf, &cfg, out, &iters);
        double *od = test_to_double(out, mn);
        hr_singular_values(od, rows, cols, sv);
        double worst = 0.0;
        for (size_t i = 0; i < k; i++)
            if (fabs(sv[i] - 1.0) > worst) worst = fabs(sv[i] - 1.0);
        CHECK(worst <= 1e-4);
        printf("orthogonality %zux%zu (%s, %d iterations): max |sigma - 1| = %.2g\n", rows, cols,
               rule ? "fixed" : "eps 1e-4", iters, worst);
        free(od);
        bj_dev_free(&d);
    }
    free(wf);
    free(out);
    free(sv);
    free(s);
}

static void test_special(lip_context *ctx) {
    /* 9‖W‖_F < eps: deel-lip's loop runs no iteration; the output is W and the gradient is G. */
    size_t shape[2] = {4, 3}, mn = 12;
    float wf[12], gf[12], out[12], dw[12];
    for (size_t i = 0; i < mn; i++) {
        wf[i] = (float)(1e-6 * ((double)i - 5.5)); /* 9‖W‖_F ≈ 1.1e-4 < 1e-3 */
        gf[i] = (float)i - 3.0f;
    }
    lip_bjorck_config cfg = lip_bjorck_config_default();
    bj_dev d;
    int iters = -1;
    bj_dev_forward(ctx, &d, 2, shape, wf, &cfg, out, &iters);
    CHECK(iters == 0);
    CHECK(memcmp(out, wf, sizeof out) == 0);
    bj_dev_backward(ctx, &d, gf, dw);
    CHECK(memcmp(dw, gf, sizeof dw) == 0);
    bj_dev_free(&d);

    /* A 4-D tensor is viewed as (kh·kw·cin, cout), and w_out may alias w_in; NULL workspace works. */
    size_t k4[4] = {3, 3, 2, 4}, n4 = 72, two = 2;
    float *kf = test_falloc(n4), *ref_out = test_falloc(n4), *got = test_falloc(n4);
    random_normalized(kf, 18, 4, 0.95);
    size_t shape2[2] = {18, 4};
    bj_dev_forward(ctx, &d, 2, shape2, kf, &cfg, ref_out, NULL);
    bj_dev_free(&d);
    lip_tensor *t = test_upload(ctx, 4, k4, kf), *st = test_sentinel(ctx, LIP_INT32, 1, &two);
    CHECK_OK(lip_bjorck_forward(ctx, &cfg, t, t, st, NULL));
    test_read(t, got);
    CHECK(memcmp(got, ref_out, n4 * sizeof *got) == 0);
    lip_tensor_free(t);
    lip_tensor_free(st);

    /* Determinism: bit-identical forward and backward on a repeat. */
    size_t sh[2] = {129, 33}, n = 129 * 33;
    float *w = test_falloc(n), *g = test_falloc(n), *o1 = test_falloc(n);
    float *o2 = test_falloc(n), *g1 = test_falloc(n), *g2 = test_falloc(n);
    random_normalized(w, 129, 33, 0.99);
    test_fill_uniform(&rng, g, n, -1.0, 1.0);
    bj_dev d1, d2;
    bj_dev_forward(ctx, &d1, 2, sh, w, &cfg, o1, NULL);
    bj_dev_backward(ctx, &d1, g, g1);
    bj_dev_forward(ctx, &d2, 2, sh, w, &cfg, o2, NULL);
    bj_dev_backward(ctx, &d2, g, g2);
    CHECK(memcmp(o1, o2, n * sizeof *o1) == 0);
    CHECK(memcmp(g1, g2, n * sizeof *g1) == 0);
    /* The backward may run twice on one forward (same result), and grad_in may alias grad_out. */
    lip_tensor *gt = test_upload(ctx, 2, sh, g);
    CHECK_OK(lip_bjorck_backward(ctx, &cfg, d1.state, d1.ws, gt, gt));
    test_read(gt, g2);
    CHECK(memcmp(g1, g2, n * sizeof *g1) == 0);
    lip_tensor_free(gt);
    bj_dev_free(&d1);
    bj_dev_free(&d2);
    free(w);
    free(g);
    free(o1);
    free(o2);
    free(g1);
    free(g2);
    free(kf);
    free(ref_out);
    free(got);
}

/* ---- bad arguments -------------------------------------------------------------------------------- */

static void test_bad_arguments(lip_context *ctx) {
    size_t shape[2] = {6, 4}, other[2] = {4, 6}, bad_shape[2] = {5, 4}, one = 1, two = 2;
    float wf[24];
    for (int i = 0; i < 24; i++) wf[i] = 0.05f * (float)(i % 7);
    lip_tensor *w = test_upload(ctx, 2, shape, wf), *out = test_sentinel(ctx, LIP_FLOAT32, 2, shape);
    lip_tensor *out_t = test_sentinel(ctx, LIP_FLOAT32, 2, other);
    lip_tensor *out_bad = test_sentinel(ctx, LIP_FLOAT32, 2, bad_shape);
    lip_tensor *state = test_sentinel(ctx, LIP_INT32, 1, &two), *fstate = test_sentinel(ctx, LIP_FLOAT32, 1, &two);
    lip_tensor *small_state = test_sentinel(ctx, LIP_INT32, 1, &one);
    lip_bjorck_config cfg = lip_bjorck_config_default(), bad;
    size_t wsn = lip_bjorck_workspace_floats(6, 4, cfg.maxiter), small = wsn - 1;
    lip_tensor *ws = test_sentinel(ctx, LIP_FLOAT32, 1, &wsn), *ws_small = test_sentinel(ctx, LIP_FLOAT32, 1, &small);
    lip_tensor *ws_int = test_sentinel(ctx, LIP_INT32, 1, &wsn);

    const float betas[] = {0.0f, -0.1f, 0.5000001f, 0.75f, NAN};
    for (size_t i = 0; i < sizeof betas / sizeof betas[0]; i++) {
        bad = cfg;
        bad.beta = betas[i];
        CHECK_STATUS(lip_bjorck_forward(ctx, &bad, w, out, state, ws), LIP_ERR_INVALID_ARGUMENT);
        CHECK_MESSAGE(ctx, "outside (0, 0.5]");
        CHECK_STATUS(lip_bjorck_backward(ctx, &bad, state, ws, out, out), LIP_ERR_INVALID_ARGUMENT);
    }
    bad = cfg;
    bad.beta = 0.5f; /* the bound itself is allowed */
    CHECK_OK(lip_bjorck_forward(ctx, &bad, w, out, state, ws));
    bad.eps = 0.0f;
    CHECK_STATUS(lip_bjorck_forward(ctx, &bad, w, out, state, ws), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "eps = 0 must be finite and > 0");
    bad.eps = -1.0f;
    CHECK_STATUS(lip_bjorck_forward(ctx, &bad, w, out, state, ws), LIP_ERR_INVALID_ARGUMENT);
    bad.eps = INFINITY;
    CHECK_STATUS(lip_bjorck_forward(ctx, &bad, w, out, state, ws), LIP_ERR_INVALID_ARGUMENT);
    bad.stopping = LIP_STOPPING_FIXED; /* eps is not used by the fixed rule */
    bad.eps = 0.0f;
    CHECK_OK(lip_bjorck_forward(ctx, &bad, w, out, state, ws));
    bad = cfg;
    bad.maxiter = 0;
    CHECK_STATUS(lip_bjorck_forward(ctx, &bad, w, out, state, ws), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "maxiter = 0 outside 1..");
    bad.maxiter = -3;
    CHECK_STATUS(lip_bjorck_forward(ctx, &bad, w, out, state, ws), LIP_ERR_INVALID_ARGUMENT);
    bad = cfg;
    bad.stopping = (lip_stopping)5;
    CHECK_STATUS(lip_bjorck_forward(ctx, &bad, w, out, state, ws), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "stopping rule");
    CHECK_STATUS(lip_bjorck_forward(ctx, NULL, w, out, state, ws), LIP_ERR_NULL);
    CHECK_STATUS(lip_bjorck_forward(ctx, &cfg, w, out_bad, state, ws), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "w_out (5, 4)");
    CHECK_OK(lip_bjorck_forward(ctx, &cfg, w, out_t, state, ws)); /* same count: a reshape is fine */
    CHECK_STATUS(lip_bjorck_forward(ctx, &cfg, w, out, fstate, ws), LIP_ERR_DTYPE);
    CHECK_MESSAGE(ctx, "state");
    CHECK_STATUS(lip_bjorck_forward(ctx, &cfg, w, out, small_state, ws), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "at least 2 int32");
    CHECK_STATUS(lip_bjorck_forward(ctx, &cfg, w, out, state, ws_small), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "lip_bjorck_workspace_floats");
    CHECK_STATUS(lip_bjorck_forward(ctx, &cfg, w, out, state, ws_int), LIP_ERR_DTYPE);
    CHECK_STATUS(lip_bjorck_forward(ctx, &cfg, NULL, out, state, ws), LIP_ERR_NULL);
    CHECK_STATUS(lip_bjorck_backward(ctx, &cfg, state, NULL, w, out), LIP_ERR_NULL);
    CHECK_MESSAGE(ctx, "workspace is NULL");
    CHECK_STATUS(lip_bjorck_backward(ctx, &cfg, state, ws, w, out_bad), LIP_ERR_SHAPE);
    CHECK_STATUS(lip_bjorck_backward(ctx, &cfg, state, ws_small, w, out), LIP_ERR_SHAPE);
    bad = cfg;
    bad.maxiter = 30; /* the workspace was sized for 15 */
    CHECK_STATUS(lip_bjorck_backward(ctx, &bad, state, ws, w, out), LIP_ERR_SHAPE);
    CHECK_OK(lip_bjorck_forward(ctx, &cfg, w, out, state, ws));
    CHECK_OK(lip_bjorck_backward(ctx, &cfg, state, ws, w, out));
    lip_tensor *ts[] = {w, out, out_t, out_bad, state, fstate, small_state, ws, ws_small, ws_int};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) lip_tensor_free(ts[i]);
}

/* ---- timing --------------------------------------------------------------------------------------- */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void time_shape(lip_context *ctx, int ndim, const size_t *shape, int reps) {
    size_t cols = shape[ndim - 1], n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    size_t rows = n / cols;
    float *wf = test_falloc(n);
    random_normalized(wf, rows, cols, 0.99);
    lip_bjorck_config cfg = lip_bjorck_config_default();
    cfg.stopping = LIP_STOPPING_FIXED; /* all 15 iterations: the worst case */
    bj_dev d;
    bj_dev_forward(ctx, &d, ndim, shape, wf, &cfg, NULL, NULL);
    lip_tensor *g = test_upload(ctx, ndim, shape, wf), *dw = test_sentinel(ctx, LIP_FLOAT32, ndim, shape);
    CHECK_OK(lip_bjorck_backward(ctx, &cfg, d.state, d.ws, g, dw));
    CHECK_OK(lip_context_finish(ctx));
    double best_f = 1e9, best_b = 1e9;
    for (int r = 0; r < reps; r++) {
        double t0 = now_s();
        CHECK_OK(lip_bjorck_forward(ctx, &cfg, d.w, d.out, d.state, d.ws));
        CHECK_OK(lip_context_finish(ctx));
        double t1 = now_s();
        CHECK_OK(lip_bjorck_backward(ctx, &cfg, d.state, d.ws, g, dw));
        CHECK_OK(lip_context_finish(ctx));
        double t2 = now_s();
        if (t1 - t0 < best_f) best_f = t1 - t0;
        if (t2 - t1 < best_b) best_b = t2 - t1;
    }
    printf("timing: bjorck %zux%zu (%d-D tensor), 15 iterations: forward %.2f ms, backward %.2f ms (best of %d)\n",
           rows, cols, ndim, 1e3 * best_f, 1e3 * best_b, reps);
    lip_tensor_free(g);
    lip_tensor_free(dw);
    bj_dev_free(&d);
    free(wf);
}

int main(void) {
    rng = test_seed(20240612);
    lip_context *ctx = test_context();

    const size_t shapes[][2] = {{1, 1}, {7, 3}, {3, 7}, {13, 13}, {129, 5}, {5, 129}, {257, 64}, {64, 257}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) test_shape(ctx, shapes[i][0], shapes[i][1]);
    test_gradcheck(ctx, 7, 3, 0.9, 0);
    test_gradcheck(ctx, 3, 7, 0.9, 0);
    test_gradcheck(ctx, 5, 5, 0.9, 0);
    test_gradcheck(ctx, 11, 2, 0.9, 0);
    test_gradcheck(ctx, 1, 1, 0.4, 2); /* converged scalars have a vanishing gradient: stop early */
    test_gradcheck(ctx, 6, 4, 0.7, 15);
    test_chain_gradcheck(ctx, 8, 5);
    test_chain_gradcheck(ctx, 4, 9);
    test_orthogonality(ctx, 40, 12);
    test_orthogonality(ctx, 12, 40);
    test_orthogonality(ctx, 16, 16);
    test_special(ctx);
    test_bad_arguments(ctx);
    const char *dbg = getenv("LIPCL_DEBUG_BOUNDS");
    int reps = dbg && *dbg == '1' ? 1 : 3;
    const size_t dense[2] = {784, 128}, conv[4] = {3, 3, 64, 64};
    time_shape(ctx, 2, dense, reps);
    time_shape(ctx, 4, conv, reps);
    test_context_free(ctx);
    return test_finish("test_bjorck");
}
