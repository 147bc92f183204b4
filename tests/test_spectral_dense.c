/* lipcl tests — SpectralDense: finite differences through the whole reparametrization in double, the
 * Lipschitz bound, and bad construction parameters (its golden cases: tests/refrun/spectral_dense.c). */
#include <string.h>

#include "check.h"
#include "hostref_lipschitz.h"
#include "layers/dense.h"
#include "lipschitz/normalizers.h"

static uint64_t rng;

static lip_tensor *param_tensor(lip_layer *l, const char *name, int grad) {
    for (size_t i = 0; i < lip_layer_param_count(l); i++) {
        lip_tensor *v = NULL, *g = NULL;
        const char *n = NULL;
        lip_layer_param(l, i, &v, &g, &n);
        if (strcmp(n, name) == 0) return grad ? g : v;
    }
    return NULL;
}

/* L = Σ g·(x·W̄ + b) with W̄ = k·Björck_n(W/(‖W u‖ + ε)), u and n frozen: host, in double. */
static double host_objective(const double *w, size_t in, size_t units, const double *u, const lip_dense_config *cfg,
                             int n_bj, const double *x, size_t batch, const double *g) {
    size_t mn = in * units;
    double *v = hr_alloc(mn), *b = hr_alloc(mn), *y = hr_alloc(batch * units);
    hr_spectral_frozen(w, in, units, u, cfg->eps_spectral, v);
    hr_bjorck(v, in, units, cfg->beta_bjorck, 0.0, n_bj, 1, b, NULL);
    for (size_t i = 0; i < mn; i++) b[i] *= cfg->k_coef_lip;
    hr_matmul(0, 0, batch, units, in, x, b, y);
    double s = 0;
    for (size_t i = 0; i < batch * units; i++) s += g[i] * y[i];
    free(v), free(b), free(y);
    return s;
}

static void test_gradients_and_bound(lip_context *ctx, size_t in, size_t units, float k) {
    lip_dense_config cfg = lip_dense_config_default(units);
    cfg.k_coef_lip = k;
    lip_layer *l = NULL;
    REQUIRE_OK(lip_spectral_dense_create(ctx, &cfg, "sd", &l));
    REQUIRE_OK(lip_layer_build(l, 1, &in));
    /* A kernel of condition number ~3, so Björck takes several iterations. */
    float *wf = test_falloc(in * units);
    size_t r = in < units ? in : units;
    double *s = hr_alloc(r);
    for (size_t i = 0; i < r; i++) s[i] = 1.0 + 2.0 * (double)i / (double)(r > 1 ? r - 1 : 1);
    hr_matrix_with_sv(&rng, in, units, s, wf);
    CHECK_OK(lip_tensor_upload(param_tensor(l, "kernel", 0), wf, in * units * sizeof(float)));
    CHECK_OK(lip_layer_reparametrize(l));
    size_t batch = 5, xs[2] = {batch, in}, ys[2] = {batch, units};
    float *xf = test_falloc(batch * in), *gf = test_falloc(batch * units);
    test_fill_uniform(&rng, xf, batch * in, -1, 1);
    test_fill_uniform(&rng, gf, batch * units, -1, 1);
    lip_tensor *tx = test_upload(ctx, 2, xs, xf), *ty = test_sentinel(ctx, LIP_FLOAT32, 2, ys);
    lip_tensor *tg = test_upload(ctx, 2, ys, gf);
    CHECK_OK(lip_layer_forward(l, tx, ty));
    CHECK_OK(lip_layer_backward(l, tx, ty, tg, NULL, 0));
    lip_dense_internals st;
    REQUIRE_OK(lip_dense_internals_get(l, &st));
    int nb = 0;
    CHECK_OK(lip_normalizer_iterations(ctx, st.bjorck_state, &nb));
    float *uf = test_falloc(units), *gk = test_falloc(in * units), *wb = test_falloc(in * units);
    test_read(param_tensor(l, "u", 0), uf);
    test_read(param_tensor(l, "kernel", 1), gk);
    test_read(st.w_bar, wb);
    double *w = test_to_double(wf, in * units), *u = test_to_double(uf, units), *x = test_to_double(xf, batch * in);
    double *g = test_to_double(gf, batch * units);
    /* Finite differences on every kernel entry (small shapes). */
    double worst = 0, scale = 1e-12;
    for (size_t i = 0; i < in * units; i++) scale = fmax(scale, fabs(gk[i]));
    for (size_t i = 0; i < in * units; i++) {
        double keep = w[i], h = 1e-6;
        w[i] = keep + h;
        double up = host_objective(w, in, units, u, &cfg, nb, x, batch, g);
        w[i] = keep - h;
        double down = host_objective(w, in, units, u, &cfg, nb, x, batch, g);
        w[i] = keep;
        worst = fmax(worst, fabs((up - down) / (2 * h) - gk[i]) / scale);
    }
    printf("SpectralDense %zux%zu k=%g: %d Björck iterations, finite-difference error %.2g of max|grad|\n", in, units,
           (double)k, nb, worst);
    CHECK(worst <= 1e-3);
    /* Bound: every singular value of W̄ ≤ k·(1 + 1e-5); orthogonal ones near k at this tolerance. */
    double *wbd = test_to_double(wb, in * units), *sv = hr_alloc(r);
    hr_singular_values(wbd, in, units, sv);
    CHECK(sv[0] <= k * (1 + 1e-5));
    CHECK(sv[r - 1] >= k * (1 - 5e-2));
    /* Random pairs: ‖f(a) − f(b)‖ ≤ k‖a − b‖·(1 + 1e-4). */
    float *yf = test_falloc(batch * units);
    test_read(ty, yf);
    float *x2 = test_falloc(batch * in), *y2 = test_falloc(batch * units);
    for (size_t i = 0; i < batch * in; i++) x2[i] = xf[i] + (float)test_uniform(&rng, -0.3, 0.3);
    CHECK_OK(lip_tensor_upload(tx, x2, batch * in * sizeof(float)));
    CHECK_OK(lip_layer_forward(l, tx, ty));
    test_read(ty, y2);
    for (size_t b = 0; b < batch; b++) {
        double dxn = 0, dyn = 0;
        for (size_t i = 0; i < in; i++) dxn += (x2[b * in + i] - xf[b * in + i]) * (x2[b * in + i] - xf[b * in + i]);
        for (size_t j = 0; j < units; j++)
            dyn += (y2[b * units + j] - yf[b * units + j]) * (y2[b * units + j] - yf[b * units + j]);
        CHECK(sqrt(dyn) <= k * sqrt(dxn) * (1 + 1e-4));
    }
    free(wf), free(s), free(xf), free(gf), free(uf), free(gk), free(wb), free(w), free(u), free(x), free(g);
    free(wbd), free(sv), free(yf), free(x2), free(y2);
    lip_tensor_free(tx), lip_tensor_free(ty), lip_tensor_free(tg);
    lip_layer_free(l);
}

static void test_bad_parameters(lip_context *ctx) {
    lip_layer *l = NULL;
    lip_dense_config cfg = lip_dense_config_default(4);
    cfg.k_coef_lip = 0.0f;
    CHECK_STATUS(lip_spectral_dense_create(ctx, &cfg, "bad", &l), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "k_coef_lip must be finite and > 0");
    cfg = lip_dense_config_default(4);
    cfg.beta_bjorck = 0.6f;
    CHECK_STATUS(lip_spectral_dense_create(ctx, &cfg, "bad", &l), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "beta_bjorck");
    cfg = lip_dense_config_default(4);
    cfg.eps_spectral = -1.0f;
    CHECK_STATUS(lip_spectral_dense_create(ctx, &cfg, "bad", &l), LIP_ERR_INVALID_ARGUMENT);
    cfg = lip_dense_config_default(4);
    cfg.maxiter_spectral = 0;
    CHECK_STATUS(lip_spectral_dense_create(ctx, &cfg, "bad", &l), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "maxiter_spectral 0");
    cfg = lip_dense_config_default(4);
    cfg.maxiter_bjorck = -1;
    CHECK_STATUS(lip_spectral_dense_create(ctx, &cfg, "bad", &l), LIP_ERR_INVALID_ARGUMENT);
    CHECK(l == NULL);
    /* Without Björck (deel-lip's eps_bjorck=None) the layer is only spectrally normalized: σ_max ≈ k. */
    cfg = lip_dense_config_default(6);
    cfg.maxiter_bjorck = 0;
    REQUIRE_OK(lip_spectral_dense_create(ctx, &cfg, "nobj", &l));
    size_t in = 9;
    REQUIRE_OK(lip_layer_build(l, 1, &in));
    lip_dense_internals st;
    REQUIRE_OK(lip_dense_internals_get(l, &st));
    float wb[54];
    test_read(st.w_bar, wb);
    double wd[54], sv[6];
    for (int i = 0; i < 54; i++) wd[i] = wb[i];
    hr_singular_values(wd, 9, 6, sv);
    CHECK(sv[0] <= 1.0 + 1e-5);
    lip_layer_free(l);
}

int main(void) {
    rng = test_seed(20241126);
    lip_context *ctx = test_context();
    test_gradients_and_bound(ctx, 7, 4, 1.0f);
    test_gradients_and_bound(ctx, 3, 8, 2.0f);
    test_gradients_and_bound(ctx, 6, 6, 0.5f);
    test_bad_parameters(ctx);
    test_context_free(ctx);
    return test_finish("test_spectral_dense");
}
