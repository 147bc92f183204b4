/* lipcl tests — spectral normalization by power iteration on the device: double-precision host references
 * on awkward shapes, finite-difference gradients, σ accuracy, bad input (golden cases: refrun/). */
#define _POSIX_C_SOURCE 200809L
#include <time.h>

#include "check.h"
#include "hostref_lipschitz.h"
#include "lipschitz/normalizers.h"

static uint64_t rng;

/* ---- device helpers ------------------------------------------------------------------------- */

/* One device power iteration: forward on a rows×cols (or the given shape) matrix, outputs to host. */
typedef struct pi_dev {
    lip_tensor *w, *u, *sigma, *w_bar, *state, *ws;
    size_t rows, cols;
} pi_dev;

static void pi_dev_setup(lip_context *ctx, pi_dev *d, int ndim, const size_t *shape, const float *w, const float *u0) {
    d->w = test_upload(ctx, ndim, shape, w);
    d->cols = shape[ndim - 1];
    d->rows = lip_tensor_count(d->w) / d->cols;
    size_t ushape[2] = {1, d->cols}, one = 1, two = LIP_NORMALIZER_STATE_INTS;
    d->u = test_upload(ctx, 2, ushape, u0);
    d->sigma = test_sentinel(ctx, LIP_FLOAT32, 1, &one);
    d->w_bar = test_sentinel(ctx, LIP_FLOAT32, ndim, shape);
    d->state = test_sentinel(ctx, LIP_INT32, 1, &two);
    size_t wsn = lip_power_iteration_workspace_floats(d->rows, d->cols);
    d->ws = test_sentinel(ctx, LIP_FLOAT32, 1, &wsn);
}

static void pi_dev_free(pi_dev *d) {
    lip_tensor_free(d->w);
    lip_tensor_free(d->u);
    lip_tensor_free(d->sigma);
    lip_tensor_free(d->w_bar);
    lip_tensor_free(d->state);
    lip_tensor_free(d->ws);
}

/* Forward; u, σ, w_bar (each may be NULL) and the iteration count come back to the host. */
static void pi_dev_forward(lip_context *ctx, pi_dev *d, const lip_power_iteration_config *cfg, float *u, float *sigma,
                           float *w_bar, int *iters) {
    CHECK_OK(lip_power_iteration_forward(ctx, cfg, d->w, d->u, d->sigma, d->w_bar, d->state, d->ws));
    if (u) test_read(d->u, u);
    if (sigma) test_read(d->sigma, sigma);
    if (w_bar) test_read(d->w_bar, w_bar);
    if (iters) CHECK_OK(lip_normalizer_iterations(ctx, d->state, iters));
}

/* ---- device vs host on awkward shapes ---------------------------------------------------------- */

static void random_matrix(float *w, size_t n) { test_fill_uniform(&rng, w, n, -1.0, 1.0); }

/* Forward (both stopping rules) and backward (with and without dL/dσ) against the host reference. */
static void test_shape(lip_context *ctx, size_t rows, size_t cols) {
    size_t mn = rows * cols, shape[2] = {rows, cols};
    float *wf = test_falloc(mn), *u0f = test_falloc(cols), *gf = test_falloc(mn);
    random_matrix(wf, mn);
    random_matrix(u0f, cols);
    random_matrix(gf, mn);
    double *w = test_to_double(wf, mn), *u0 = test_to_double(u0f, cols), *g = test_to_double(gf, mn);
    char what[128];
    for (int fixed = 0; fixed <= 1; fixed++) {
        lip_power_iteration_config cfg = lip_power_iteration_config_default();
        if (fixed) {
            cfg.stopping = LIP_STOPPING_FIXED;
            cfg.maxiter = 4;
        }
        pi_dev d;
        pi_dev_setup(ctx, &d, 2, shape, wf, u0f);
        float *u = test_falloc(cols), sigma = 0.0f, *wb = test_falloc(mn);
        int iters = -1;
        pi_dev_forward(ctx, &d, &cfg, u, &sigma, wb, &iters);
        /* Iteration count: the host's own under the same rule, unless a stopping value lies within
         * 2 % of eps (float and double may then disagree); the outputs with the device's count. */
        double stop[64];
        int host_iters = hr_power_iteration(w, rows, cols, u0, cfg.eps, cfg.maxiter, fixed, NULL, NULL, NULL, stop);
        int borderline = 0;
        for (int i = 0; i <= host_iters; i++)
            if (fabs(stop[i] / cfg.eps - 1.0) < 0.02) borderline = 1;
        if (!borderline) CHECK(iters == host_iters);
        if (iters != host_iters)
            fprintf(stderr, "%zux%zu: device %d vs host %d iterations%s\n", rows, cols, iters, host_iters,
                    borderline ? " (borderline, accepted)" : "");
        double *hu = hr_alloc(cols), hs = 0.0, *hwb = hr_alloc(mn);
        hr_power_iteration(w, rows, cols, u0, cfg.eps, iters, 1, hu, &hs, hwb, NULL);
        snprintf(what, sizeof what, "power iteration %zux%zu %s: sigma", rows, cols, fixed ? "fixed" : "eps");
        test_compare(what, &sigma, &hs, 1, 1e-6, 1e-5);
        snprintf(what, sizeof what, "power iteration %zux%zu %s: u", rows, cols, fixed ? "fixed" : "eps");
        test_compare(what, u, hu, cols, 1e-5, 1e-4);
        snprintf(what, sizeof what, "power iteration %zux%zu %s: w_bar", rows, cols, fixed ? "fixed" : "eps");
        test_compare(what, wb, hwb, mn, 1e-6, 1e-5);

        /* Backward, u frozen at the device's final u. */
        double *ud = test_to_double(u, cols), *dref = hr_alloc(mn);
        lip_tensor *gt = test_upload(ctx, 2, shape, gf), *dw = test_sentinel(ctx, LIP_FLOAT32, 2, shape);
        size_t one = 1;
        float gsf = 0.75f;
        lip_tensor *gs = test_upload(ctx, 1, &one, &gsf);
        float *dwf = test_falloc(mn);
        for (int with_gs = 0; with_gs <= 1; with_gs++) {
            CHECK_OK(lip_power_iteration_backward(ctx, &cfg, d.w, d.u, d.sigma, gt, with_gs ? gs : NULL, dw, d.ws));
            test_read(dw, dwf);
            hr_power_iteration_backward(w, rows, cols, ud, cfg.eps, g, with_gs ? gsf : 0.0, dref);
            snprintf(what, sizeof what, "power iteration %zux%zu %s: grad%s", rows, cols, fixed ? "fixed" : "eps",
                     with_gs ? " with dL/dsigma" : "");
            test_compare(what, dwf, dref, mn, 1e-5 * test_max_abs(dref, mn) + 1e-6 * test_max_abs(g, mn), 1e-4);
        }
        lip_tensor_free(gt);
        lip_tensor_free(dw);
        lip_tensor_free(gs);
        free(dwf);
        free(ud);
        free(dref);
        free(hu);
        free(hwb);
        free(u);
        free(wb);
        pi_dev_free(&d);
    }
    free(wf);
    free(u0f);
    free(gf);
    free(w);
    free(u0);
    free(g);
}

/* Central differences in double of the host forward with u frozen, against the device gradient. */
static void test_gradcheck(lip_context *ctx, size_t rows, size_t cols) {
    size_t mn = rows * cols, shape[2] = {rows, cols};
    float *wf = test_falloc(mn), *u0f = test_falloc(cols), *gf = test_falloc(mn);
    random_matrix(wf, mn);
    random_matrix(u0f, cols);
    random_matrix(gf, mn);
    lip_power_iteration_config cfg = lip_power_iteration_config_default();
    pi_dev d;
    pi_dev_setup(ctx, &d, 2, shape, wf, u0f);
    float *u = test_falloc(cols);
    pi_dev_forward(ctx, &d, &cfg, u, NULL, NULL, NULL);
    const float gsf = -0.4f;
    size_t one = 1;
    lip_tensor *gt = test_upload(ctx, 2, shape, gf), *dw = test_sentinel(ctx, LIP_FLOAT32, 2, shape);
    lip_tensor *gs = test_upload(ctx, 1, &one, &gsf);
    CHECK_OK(lip_power_iteration_backward(ctx, &cfg, d.w, d.u, d.sigma, gt, gs, dw, NULL));
    float *dwf = test_falloc(mn);
    test_read(dw, dwf);

    double *w = test_to_double(wf, mn), *ud = test_to_double(u, cols), *g = test_to_double(gf, mn), *fd = hr_alloc(mn);
    double *out = hr_alloc(mn), *href = hr_alloc(mn);
    const double h = 1e-6;
    for (size_t e = 0; e < mn; e++) {
        double keep = w[e], l[2];
        for (int side = 0; side < 2; side++) {
            w[e] = keep + (side ? -h : h);
            double sg = hr_spectral_frozen(w, rows, cols, ud, cfg.eps, out);
            double s = gsf * sg;
            for (size_t i = 0; i < mn; i++) s += g[i] * out[i];
            l[side] = s;
        }
        w[e] = keep;
        fd[e] = (l[0] - l[1]) / (2.0 * h);
    }
    double scale = test_max_abs(fd, mn);
    hr_power_iteration_backward(w, rows, cols, ud, cfg.eps, g, gsf, href);
    double worst_host = 0.0, worst_dev = 0.0;
    for (size_t e = 0; e < mn; e++) {
        if (fabs(href[e] - fd[e]) > worst_host) worst_host = fabs(href[e] - fd[e]);
        if (fabs(dwf[e] - fd[e]) > worst_dev) worst_dev = fabs(dwf[e] - fd[e]);
    }
    CHECK(worst_host <= 1e-6 * scale);
    CHECK(worst_dev <= 1e-3 * scale);
    printf("gradcheck %zux%zu: max|fd| %.3g, host err %.2g, device err %.2g (relative to max|fd|)\n", rows, cols, scale,
           worst_host / scale, worst_dev / scale);
    lip_tensor_free(gt);
    lip_tensor_free(dw);
    lip_tensor_free(gs);
    pi_dev_free(&d);
    free(wf);
    free(u0f);
    free(gf);
    free(u);
    free(dwf);
    free(w);
    free(ud);
    free(g);
    free(fd);
    free(out);
    free(href);
}

/* ---- σ accuracy, warm start, determinism -------------------------------------------------------- */

static void test_sigma_accuracy(lip_context *ctx) {
    const size_t rows = 40, cols = 12, k = 12, shape[2] = {rows, cols};
    double s[12];
    for (size_t i = 0; i < k; i++) s[i] = 1.0 - 0.05 * (double)i;
    s[0] = 2.0; /* gap 2 : 0.95 */
    float *wf = test_falloc(rows * cols), *u0f = test_falloc(cols);
    hr_matrix_with_sv(&rng, rows, cols, s, wf);
    random_matrix(u0f, cols);
    double *w = test_to_double(wf, rows * cols), sv[12];
    hr_singular_values(w, rows, cols, sv);
    const double truth = sv[0];

    /* Converged (fixed, many iterations): σ to float precision. */
    lip_power_iteration_config cfg = {1e-3f, 200, LIP_STOPPING_FIXED};
    pi_dev d;
    pi_dev_setup(ctx, &d, 2, shape, wf, u0f);
    float sigma = 0.0f;
    int iters = 0;
    pi_dev_forward(ctx, &d, &cfg, NULL, &sigma, NULL, &iters);
    CHECK(iters == 200);
    CHECK_NEAR(sigma, truth, 4e-6 * truth);
    const float converged = sigma;

    /* deel-lip defaults from a random u: an under-estimate (‖W u‖ ≤ σ_max for unit u) within the
     * tolerance the stopping rule gives, and W/(σ + eps) has spectral norm ≤ 1 + eps-level slack. */
    cfg = lip_power_iteration_config_default();
    REQUIRE_OK(lip_tensor_upload(d.u, u0f, cols * sizeof *u0f));
    float *wb = test_falloc(rows * cols);
    pi_dev_forward(ctx, &d, &cfg, NULL, &sigma, wb, &iters);
    CHECK(sigma <= truth * (1.0 + 1e-6));
    CHECK(sigma >= truth * (1.0 - 1e-3));
    double *wbd = test_to_double(wb, rows * cols), svb[12];
    hr_singular_values(wbd, rows, cols, svb);
    CHECK(svb[0] <= 1.0 + 1e-3);
    printf("sigma: true %.7f, converged %.7f, default settings %.7f after %d iterations\n", truth,
           (double)converged, (double)sigma, iters);

    /* Warm start, as during training: the persisted u makes the next call stop after 1 iteration. */
    int warm = 0;
    pi_dev_forward(ctx, &d, &cfg, NULL, NULL, NULL, &warm);
    CHECK(warm == 1);

    /* Determinism: the same inputs give bit-identical outputs. */
    float *u1 = test_falloc(cols), *u2 = test_falloc(cols), s1 = 0.0f, s2 = 0.0f;
    REQUIRE_OK(lip_tensor_upload(d.u, u0f, cols * sizeof *u0f));
    pi_dev_forward(ctx, &d, &cfg, u1, &s1, NULL, NULL);
    REQUIRE_OK(lip_tensor_upload(d.u, u0f, cols * sizeof *u0f));
    pi_dev_forward(ctx, &d, &cfg, u2, &s2, NULL, NULL);
    CHECK(memcmp(u1, u2, cols * sizeof *u1) == 0 && s1 == s2);

    /* u = 0: l2_normalize keeps 0, σ = 0, w_bar = W/eps, and the gradient has no σ term. */
    float *zero = test_falloc(cols);
    REQUIRE_OK(lip_tensor_upload(d.u, zero, cols * sizeof *zero));
    pi_dev_forward(ctx, &d, &cfg, NULL, &sigma, wb, NULL);
    CHECK(sigma == 0.0f);
    CHECK_NEAR(wb[3], wf[3] / 1e-3, 1e-3 * fabs(wf[3] / 1e-3));
    free(zero);
    free(u1);
    free(u2);
    free(wb);
    free(wbd);
    pi_dev_free(&d);
    free(wf);
    free(u0f);
    free(w);
}

/* ---- bad arguments ------------------------------------------------------------------------------ */

static void test_bad_arguments(lip_context *ctx) {
    size_t shape[2] = {6, 4}, ushape[2] = {1, 4}, bad_ushape[2] = {1, 5}, one = 1, two = 2;
    float wf[24] = {0}, u0f[5] = {1, 2, 3, 4, 5};
    for (int i = 0; i < 24; i++) wf[i] = (float)(i % 5) - 2.0f;
    lip_tensor *w = test_upload(ctx, 2, shape, wf), *u = test_upload(ctx, 2, ushape, u0f);
    lip_tensor *ubad = test_upload(ctx, 2, bad_ushape, u0f), *sigma = test_sentinel(ctx, LIP_FLOAT32, 1, &one);
    lip_tensor *state = test_sentinel(ctx, LIP_INT32, 1, &two), *fstate = test_sentinel(ctx, LIP_FLOAT32, 1, &two);
    lip_tensor *small_state = test_sentinel(ctx, LIP_INT32, 1, &one), *wb = test_sentinel(ctx, LIP_FLOAT32, 2, shape);
    lip_tensor *wb_bad = test_sentinel(ctx, LIP_FLOAT32, 1, &two), *ws_small = test_sentinel(ctx, LIP_FLOAT32, 1, &two);
    lip_power_iteration_config cfg = lip_power_iteration_config_default(), bad;

    bad = cfg;
    bad.eps = 0.0f;
    CHECK_STATUS(lip_power_iteration_forward(ctx, &bad, w, u, sigma, wb, state, NULL), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "eps = 0");
    bad.eps = -1e-3f;
    CHECK_STATUS(lip_power_iteration_forward(ctx, &bad, w, u, sigma, wb, state, NULL), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "must be finite and > 0");
    bad.eps = NAN;
    CHECK_STATUS(lip_power_iteration_forward(ctx, &bad, w, u, sigma, wb, state, NULL), LIP_ERR_INVALID_ARGUMENT);
    bad = cfg;
    bad.maxiter = 0;
    CHECK_STATUS(lip_power_iteration_forward(ctx, &bad, w, u, sigma, wb, state, NULL), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "maxiter = 0 outside 1..");
    bad.maxiter = LIP_NORMALIZER_MAX_ITER + 1;
    CHECK_STATUS(lip_power_iteration_forward(ctx, &bad, w, u, sigma, wb, state, NULL), LIP_ERR_INVALID_ARGUMENT);
    bad = cfg;
    bad.stopping = (lip_stopping)7;
    CHECK_STATUS(lip_power_iteration_forward(ctx, &bad, w, u, sigma, wb, state, NULL), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "stopping rule");
    CHECK_STATUS(lip_power_iteration_forward(ctx, NULL, w, u, sigma, wb, state, NULL), LIP_ERR_NULL);
    CHECK_STATUS(lip_power_iteration_forward(ctx, &cfg, w, ubad, sigma, wb, state, NULL), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "u (1, 5) must hold 4 elements");
    CHECK_STATUS(lip_power_iteration_forward(ctx, &cfg, w, u, wb, wb, state, NULL), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "sigma");
    CHECK_STATUS(lip_power_iteration_forward(ctx, &cfg, w, u, sigma, wb_bad, state, NULL), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "w_bar");
    CHECK_STATUS(lip_power_iteration_forward(ctx, &cfg, w, u, sigma, wb, fstate, NULL), LIP_ERR_DTYPE);
    CHECK_MESSAGE(ctx, "state");
    CHECK_STATUS(lip_power_iteration_forward(ctx, &cfg, w, u, sigma, wb, small_state, NULL), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "at least 2 int32");
    CHECK_STATUS(lip_power_iteration_forward(ctx, &cfg, w, u, sigma, wb, state, ws_small), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "workspace");
    CHECK_STATUS(lip_power_iteration_forward(ctx, &cfg, NULL, u, sigma, wb, state, NULL), LIP_ERR_NULL);
    CHECK_STATUS(lip_power_iteration_backward(ctx, &cfg, w, u, sigma, wb_bad, NULL, wb, NULL), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "grad_w_bar");
    CHECK_STATUS(lip_power_iteration_backward(ctx, &cfg, w, u, sigma, wb, wb, wb, NULL), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "grad_sigma");
    CHECK_STATUS(lip_power_iteration_backward(ctx, &cfg, w, u, sigma, wb, NULL, wb_bad, NULL), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "grad_w");
    int it = 0;
    CHECK_STATUS(lip_normalizer_iterations(ctx, fstate, &it), LIP_ERR_DTYPE);
    /* With fixed stopping eps still enters σ + eps: it must be valid there too. */
    bad = cfg;
    bad.stopping = LIP_STOPPING_FIXED;
    bad.eps = 0.0f;
    CHECK_STATUS(lip_power_iteration_forward(ctx, &bad, w, u, sigma, wb, state, NULL), LIP_ERR_INVALID_ARGUMENT);
    /* A valid call still works after all that. */
    CHECK_OK(lip_power_iteration_forward(ctx, &cfg, w, u, sigma, wb, state, NULL));
    lip_tensor *ts[] = {w, u, ubad, sigma, state, fstate, small_state, wb, wb_bad, ws_small};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) lip_tensor_free(ts[i]);
}

/* ---- timing -------------------------------------------------------------------------------------- */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void time_shape(lip_context *ctx, size_t rows, size_t cols, int reps) {
    size_t mn = rows * cols, shape[2] = {rows, cols};
    float *wf = test_falloc(mn), *u0f = test_falloc(cols);
    random_matrix(wf, mn);
    random_matrix(u0f, cols);
    pi_dev d;
    pi_dev_setup(ctx, &d, 2, shape, wf, u0f);
    lip_power_iteration_config cfg = {1e-3f, 10, LIP_STOPPING_FIXED};
    lip_tensor *g = test_upload(ctx, 2, shape, wf), *dw = test_sentinel(ctx, LIP_FLOAT32, 2, shape);
    CHECK_OK(lip_power_iteration_forward(ctx, &cfg, d.w, d.u, d.sigma, d.w_bar, d.state, d.ws));
    CHECK_OK(lip_context_finish(ctx));
    double best_f = 1e9, best_b = 1e9;
    for (int r = 0; r < reps; r++) {
        double t0 = now_s();
        CHECK_OK(lip_power_iteration_forward(ctx, &cfg, d.w, d.u, d.sigma, d.w_bar, d.state, d.ws));
        CHECK_OK(lip_context_finish(ctx));
        double t1 = now_s();
        CHECK_OK(lip_power_iteration_backward(ctx, &cfg, d.w, d.u, d.sigma, g, NULL, dw, d.ws));
        CHECK_OK(lip_context_finish(ctx));
        double t2 = now_s();
        if (t1 - t0 < best_f) best_f = t1 - t0;
        if (t2 - t1 < best_b) best_b = t2 - t1;
    }
    printf("timing: power iteration %zux%zu, 10 iterations: forward %.3f ms, backward %.3f ms (best of %d)\n", rows,
           cols, 1e3 * best_f, 1e3 * best_b, reps);
    lip_tensor_free(g);
    lip_tensor_free(dw);
    pi_dev_free(&d);
    free(wf);
    free(u0f);
}

int main(void) {
    rng = test_seed(20240611);
    lip_context *ctx = test_context();

    const size_t shapes[][2] = {{1, 1}, {7, 3}, {3, 7}, {13, 13}, {129, 5}, {5, 129}, {257, 64}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) test_shape(ctx, shapes[i][0], shapes[i][1]);
    test_gradcheck(ctx, 7, 3);
    test_gradcheck(ctx, 3, 7);
    test_gradcheck(ctx, 1, 1);
    test_gradcheck(ctx, 9, 9);
    test_sigma_accuracy(ctx);
    test_bad_arguments(ctx);
    lip_device_info info;
    REQUIRE_OK(lip_context_device_info(ctx, &info));
    const char *dbg = getenv("LIPCL_DEBUG_BOUNDS");
    int reps = dbg && *dbg == '1' ? 1 : 5;
    time_shape(ctx, 784, 128, reps);
    time_shape(ctx, 576, 64, reps);
    test_context_free(ctx);
    return test_finish("test_power_iteration");
}
