/* lipcl tests — Björck orthonormalization on the device, forward and backward: the golden reference
 * cases, host references on awkward shapes, finite-difference gradients, orthogonality, bad input. */
#define _POSIX_C_SOURCE 200809L
#include <time.h>

#include "check.h"
#include "hostref_lipschitz.h"
#include "lipschitz/normalizers.h"
#include "npy.h"
#include "refcase.h"

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

/* ---- reference cases (category bjorck) --------------------------------------------------------- */

/* Outputs: w or sv, with suffix "_eps" or "_n" + digits. */
static int eps_or_n(const char *name, const char *base) {
    static const char *const eps[] = {"_eps", NULL};
    return refcase_name_is(name, base, eps);
}

static int input_ok(const char *name) { return strcmp(name, "w") == 0; }
static int output_ok(const char *name) { return eps_or_n(name, "w") || eps_or_n(name, "sv"); }

static lip_bjorck_config config_of(const refcase_norm *s) {
    lip_bjorck_config cfg = {(float)s->beta, (float)s->eps, s->maxiter, s->fixed ? LIP_STOPPING_FIXED : LIP_STOPPING_EPS};
    return cfg;
}

static int run_case(lip_context *ctx, const char *dir) {
    case_file c;
    if (!refcase_open(dir, "bjorck", &c)) return 0;
    int failures_before = test_failures;
    refcase_norm base = {"bjorck", 1, 0.5, 1e-3, 15, 0, 0, 0, 0, 0};
    /* Every key: known family; params, inputs, outputs, variants of this category. */
    refcase_norm_validate(&c, &base, input_ok, output_ok);

    size_t wn = 0, wshape[8];
    int wnd = 0;
    double *w = refcase_doubles(&c, "input.w", &wn, wshape, &wnd);
    if (!w) goto done;
    CHECK(wnd == 2);
    size_t rows = wshape[0], cols = wshape[1], k = rows < cols ? rows : cols;
    float *wf = test_falloc(wn);
    for (size_t i = 0; i < wn; i++) wf[i] = (float)w[i];

    for (size_t i = 0; i < c.count; i++) {
        const char *key = c.entries[i].key;
        if (strncmp(key, "output.", 7) != 0) continue;
        const char *name = key + 7;
        refcase_norm s;
        if (refcase_norm_target(&c, &base, name, &s) != 0) continue;
        lip_bjorck_config cfg = config_of(&s);
        bj_dev d;
        float *out = test_falloc(wn);
        bj_dev_forward(ctx, &d, 2, wshape, wf, &cfg, out, NULL);
        size_t en = 0, eshape[8];
        int end = 0;
        double *expected = refcase_doubles(&c, key, &en, eshape, &end);
        if (expected) {
            if (name[0] == 'w') {
                CHECK(en == wn);
                if (en == wn) refcase_compare(dir, name, out, expected, wn);
            } else { /* singular values of the device result, in double on the host */
                double *od = test_to_double(out, wn), *sv = hr_alloc(k);
                hr_singular_values(od, rows, cols, sv);
                float *svf = test_falloc(k);
                for (size_t e = 0; e < k; e++) svf[e] = (float)sv[e];
                CHECK(en == k);
                if (en == k) refcase_compare(dir, name, svf, expected, k);
                free(od);
                free(sv);
                free(svf);
            }
            free(expected);
        }
        free(out);
        bj_dev_free(&d);
    }
    for (size_t i = 0; i < c.count; i++) {
        const char *key = c.entries[i].key;
        if (strncmp(key, "result.", 7) != 0) continue;
        const char *name = key + 7;
        refcase_norm s;
        if (refcase_norm_target(&c, &base, name, &s) != 0) continue;
        if (strncmp(name, "n_iter", 6) == 0) {
            lip_bjorck_config cfg = config_of(&s);
            bj_dev d;
            int iters = -1;
            bj_dev_forward(ctx, &d, 2, wshape, wf, &cfg, NULL, &iters);
            int expected = atoi(c.entries[i].value);
            test_checks++;
            if (iters != expected) {
                fprintf(stderr, "%s: %s: device ran %d iterations, expected %d\n", dir, name, iters, expected);
                test_failures++;
            }
            bj_dev_free(&d);
        } else if (strncmp(name, "stopping_rule_values", 20) == 0) {
            double vals[1024], ref[1024];
            int nv = case_numbers(c.entries[i].value, vals, 1024);
            double *tmp = hr_alloc(wn);
            int it = hr_bjorck(w, rows, cols, s.beta, s.eps, s.maxiter, s.fixed, tmp, ref);
            CHECK(nv == it + 1);
            for (int e = 0; e < nv && e <= it; e++) CHECK_NEAR(ref[e], vals[e], 1e-9 + 1e-7 * fabs(vals[e]));
            free(tmp);
        }
    }
    free(wf);
done:
    free(w);
    printf("case %s: %s\n", dir, test_failures == failures_before ? "passed" : "FAILED");
    case_free(&c);
    return 1;
}

/*
 * The reparametrization chain of the spectral_dense / spectral_conv2d cases (not this module's
 * category; only their reparametrization parts): kernel, u0 → power iteration → Björck → × coef·k
 * must give w_bar, u and sigma, and grad_w_bar back through the chain must give grad_kernel.
 */
static int run_chain_case(lip_context *ctx, const char *dir) {
    case_file c;
    char err[512];
    if (case_load(dir, &c, err, sizeof err) != 0) return 0;
    const char *cat = case_get(&c, "category");
    if (!cat || (strcmp(cat, "spectral_dense") != 0 && strcmp(cat, "spectral_conv2d") != 0)) {
        case_free(&c);
        return 0;
    }
    int failures_before = test_failures;
    const char *need[] = {"param.k_coef_lip", "param.eps_spectral", "param.maxiter_spectral", "param.eps_bjorck",
                          "param.beta_bjorck", "param.maxiter_bjorck", "result.n_iter_spectral",
                          "result.n_iter_bjorck"};
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++)
        if (!case_get(&c, need[i])) {
            fprintf(stderr, "%s: missing %s\n", dir, need[i]);
            test_failures++;
            case_free(&c);
            return 1;
        }
    double coef = atof(case_get(&c, "param.k_coef_lip"));
    if (strcmp(cat, "spectral_conv2d") == 0) {
        const char *a = case_get(&c, "result.adjustment_coef_tf");
        CHECK(a != NULL);
        coef = a ? atof(a) : coef;
    }
    lip_power_iteration_config pcfg = {(float)atof(case_get(&c, "param.eps_spectral")),
                                       atoi(case_get(&c, "param.maxiter_spectral")), LIP_STOPPING_EPS};
    lip_bjorck_config bcfg = {(float)atof(case_get(&c, "param.beta_bjorck")),
                              (float)atof(case_get(&c, "param.eps_bjorck")), atoi(case_get(&c, "param.maxiter_bjorck")),
                              LIP_STOPPING_EPS};
    size_t kn = 0, un = 0, n1 = 0, kshape[8], ushape[8], s1[8];
    int knd = 0, und = 0, d1 = 0;
    double *kernel = refcase_doubles(&c, "input.kernel", &kn, kshape, &knd);
    double *u0 = refcase_doubles(&c, "input.u0", &un, ushape, &und);
    double *e_wbar = refcase_doubles(&c, "output.w_bar", &n1, s1, &d1);
    double *e_u = refcase_doubles(&c, "output.u", &n1, s1, &d1);
    double *e_sigma = refcase_doubles(&c, "output.sigma", &n1, s1, &d1);
    double *e_gk = refcase_doubles(&c, "output.grad_kernel", &n1, s1, &d1);
    double *gwb = refcase_doubles(&c, "output.grad_w_bar", &n1, s1, &d1);
    if (kernel && u0 && e_wbar && e_u && e_sigma && e_gk && gwb) {
        size_t cols = kshape[knd - 1], rows = kn / cols, one = 1, two = 2, shape2[2] = {rows, cols};
        float *kf = test_falloc(kn), *uf = test_falloc(un), *gf = test_falloc(kn);
        for (size_t i = 0; i < kn; i++) kf[i] = (float)kernel[i];
        for (size_t i = 0; i < un; i++) uf[i] = (float)u0[i];
        for (size_t i = 0; i < kn; i++) gf[i] = (float)(gwb[i] * coef); /* d(coef·B)/dB */
        lip_tensor *k = test_upload(ctx, knd, kshape, kf), *u = test_upload(ctx, 2, ushape, uf);
        lip_tensor *sigma = test_sentinel(ctx, LIP_FLOAT32, 1, &one), *ws_ = test_sentinel(ctx, LIP_FLOAT32, 2, shape2);
        lip_tensor *wb = test_sentinel(ctx, LIP_FLOAT32, 2, shape2), *pst = test_sentinel(ctx, LIP_INT32, 1, &two);
        lip_tensor *bst = test_sentinel(ctx, LIP_INT32, 1, &two), *g = test_upload(ctx, 2, shape2, gf);
        size_t bwn = lip_bjorck_workspace_floats(rows, cols, bcfg.maxiter);
        lip_tensor *bws = test_sentinel(ctx, LIP_FLOAT32, 1, &bwn), *gs = test_sentinel(ctx, LIP_FLOAT32, 2, shape2);
        lip_tensor *gk = test_sentinel(ctx, LIP_FLOAT32, knd, kshape);
        CHECK_OK(lip_power_iteration_forward(ctx, &pcfg, k, u, sigma, ws_, pst, NULL));
        CHECK_OK(lip_bjorck_forward(ctx, &bcfg, ws_, wb, bst, bws));
        CHECK_OK(lip_bjorck_backward(ctx, &bcfg, bst, bws, g, gs));
        CHECK_OK(lip_power_iteration_backward(ctx, &pcfg, k, u, sigma, gs, NULL, gk, NULL));
        float *h_wb = test_falloc(kn), *h_u = test_falloc(un), h_s = 0.0f, *h_gk = test_falloc(kn);
        test_read(wb, h_wb);
        for (size_t i = 0; i < kn; i++) h_wb[i] = (float)(h_wb[i] * coef);
        test_read(u, h_u);
        test_read(sigma, &h_s);
        test_read(gk, h_gk);
        int pi = 0, bi = 0;
        CHECK_OK(lip_normalizer_iterations(ctx, pst, &pi));
        CHECK_OK(lip_normalizer_iterations(ctx, bst, &bi));
        CHECK(pi == atoi(case_get(&c, "result.n_iter_spectral")));
        CHECK(bi == atoi(case_get(&c, "result.n_iter_bjorck")));
        char what[1400];
        snprintf(what, sizeof what, "%s (chain): w_bar", dir);
        test_compare(what, h_wb, e_wbar, kn, 1e-5, 1e-4);
        snprintf(what, sizeof what, "%s (chain): u", dir);
        test_compare(what, h_u, e_u, un, 1e-5, 1e-4);
        snprintf(what, sizeof what, "%s (chain): sigma", dir);
        test_compare(what, &h_s, e_sigma, 1, 1e-5, 1e-4);
        /* README: gradients through 15 Björck iterations: 5e-5 relative to max|expected|. */
        snprintf(what, sizeof what, "%s (chain): grad_kernel", dir);
        test_compare(what, h_gk, e_gk, kn, 5e-5 * test_max_abs(e_gk, kn), 1e-4);
        lip_tensor *ts[] = {k, u, sigma, ws_, wb, pst, bst, g, bws, gs, gk};
        for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) lip_tensor_free(ts[i]);
        free(kf);
        free(uf);
        free(gf);
        free(h_wb);
        free(h_u);
        free(h_gk);
    }
    free(kernel);
    free(u0);
    free(e_wbar);
    free(e_u);
    free(e_sigma);
    free(e_gk);
    free(gwb);
    printf("chain %s: %s\n", dir, test_failures == failures_before ? "passed" : "FAILED");
    case_free(&c);
    return 1;
}

static void test_reference_cases(lip_context *ctx, const char *root) {
    static const char *const prefixes[] = {"bjorck_", "spectral_", NULL};
    size_t n = 0;
    char **dirs = refcase_list(root, prefixes, 0, &n);
    if (!dirs) return;
    int ran = 0, chains = 0;
    for (size_t i = 0; i < n; i++) {
        ran += run_case(ctx, dirs[i]);
        chains += run_chain_case(ctx, dirs[i]);
    }
    refcase_list_free(dirs, n);
    printf("%d bjorck reference cases, %d reparametrization chains\n", ran, chains);
    CHECK(ran >= 5);
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

int main(int argc, char **argv) {
    rng = test_seed(20240612);
    lip_context *ctx = test_context();
    if (argc > 1 && refcase_is_case_folder(argv[1])) { /* one reference case: its own CTest entry */
        CHECK(run_case(ctx, argv[1]) + run_chain_case(ctx, argv[1]) >= 1);
        test_context_free(ctx);
        return test_finish("test_bjorck");
    }
    const char *root = argc > 1 ? argv[1] : LIPCL_SOURCE_DIR "/tests/reference";
    test_reference_cases(ctx, root);

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
