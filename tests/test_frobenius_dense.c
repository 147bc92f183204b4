/* lipcl tests — FrobeniusDense: finite differences through W̄ = k·W/‖W‖ (global and per column), the
 * bound each mode claims, bad input (its golden cases: tests/refrun/frobenius_dense.c). */
#include <string.h>

#include "check.h"
#include "hostref_lipschitz.h"
#include "layers/dense.h"

static uint64_t rng;

static lip_tensor *param_tensor(lip_layer *l, size_t index, int grad) {
    lip_tensor *v = NULL, *g = NULL;
    lip_layer_param(l, index, &v, &g, NULL);
    return grad ? g : v;
}

/* ⟨G, k·W/‖W‖⟩ on the host (global or per column). */
static double host_objective(const double *w, size_t rows, size_t cols, int disjoint, double k, const double *g) {
    double s = 0;
    if (!disjoint) {
        double n = hr_norm2(w, rows * cols);
        for (size_t i = 0; i < rows * cols; i++) s += g[i] * k * w[i] / n;
        return s;
    }
    for (size_t j = 0; j < cols; j++) {
        double n2 = 0;
        for (size_t r = 0; r < rows; r++) n2 += w[r * cols + j] * w[r * cols + j];
        for (size_t r = 0; r < rows; r++) s += g[r * cols + j] * k * w[r * cols + j] / sqrt(n2);
    }
    return s;
}

static void test_mode(lip_context *ctx, size_t in, size_t units, int disjoint, float k) {
    lip_dense_config cfg = lip_dense_config_default(units);
    cfg.k_coef_lip = k;
    cfg.disjoint_neurons = disjoint;
    lip_layer *l = NULL;
    REQUIRE_OK(lip_frobenius_dense_create(ctx, &cfg, "fd", &l));
    REQUIRE_OK(lip_layer_build(l, 1, &in));
    size_t n = in * units, batch = 6, xs[2] = {batch, in}, ys[2] = {batch, units};
    float *wf = test_falloc(n), *xf = test_falloc(batch * in), *gf = test_falloc(batch * units);
    test_fill_uniform(&rng, wf, n, -1, 1);
    test_fill_uniform(&rng, xf, batch * in, -1, 1);
    test_fill_uniform(&rng, gf, batch * units, -1, 1);
    CHECK_OK(lip_tensor_upload(param_tensor(l, 0, 0), wf, n * sizeof(float)));
    CHECK_OK(lip_layer_reparametrize(l));
    lip_tensor *tx = test_upload(ctx, 2, xs, xf), *ty = test_sentinel(ctx, LIP_FLOAT32, 2, ys);
    lip_tensor *tg = test_upload(ctx, 2, ys, gf);
    CHECK_OK(lip_layer_forward(l, tx, ty));
    CHECK_OK(lip_layer_backward(l, tx, ty, tg, NULL, 0));
    /* dL/dW̄ = xᵀ·g on the host; then finite differences of ⟨dL/dW̄, W̄(W)⟩. */
    double *x = test_to_double(xf, batch * in), *g = test_to_double(gf, batch * units), *w = test_to_double(wf, n);
    double *gw = hr_alloc(n);
    hr_matmul(1, 0, in, units, batch, x, g, gw);
    float *gk = test_falloc(n);
    test_read(param_tensor(l, 0, 1), gk);
    double worst = 0, scale = 1e-12;
    for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(gk[i]));
    for (size_t i = 0; i < n; i++) {
        double keep = w[i], h = 1e-6;
        w[i] = keep + h;
        double up = host_objective(w, in, units, disjoint, k, gw);
        w[i] = keep - h;
        double down = host_objective(w, in, units, disjoint, k, gw);
        w[i] = keep;
        worst = fmax(worst, fabs((up - down) / (2 * h) - gk[i]) / scale);
    }
    printf("FrobeniusDense %zux%zu %s k=%g: finite-difference error %.2g of max|grad|\n", in, units,
           disjoint ? "disjoint" : "global", (double)k, worst);
    CHECK(worst <= 1e-4);
    /* The bound: global → σ_max(W̄) ≤ k; disjoint → every column has norm k (each neuron k-Lipschitz). */
    lip_dense_internals st;
    REQUIRE_OK(lip_dense_internals_get(l, &st));
    float *wb = test_falloc(n);
    test_read(st.w_bar, wb);
    double *wbd = test_to_double(wb, n);
    if (disjoint) {
        for (size_t j = 0; j < units; j++) {
            double n2 = 0;
            for (size_t r = 0; r < in; r++) n2 += wbd[r * units + j] * wbd[r * units + j];
            CHECK_NEAR(sqrt(n2), k, 1e-5 * k);
        }
    } else {
        size_t r = in < units ? in : units;
        double *sv = hr_alloc(r);
        hr_singular_values(wbd, in, units, sv);
        CHECK(sv[0] <= k * (1 + 1e-5));
        CHECK_NEAR(hr_norm2(wbd, n), k, 1e-5 * k);
        free(sv);
    }
    free(wf), free(xf), free(gf), free(x), free(g), free(w), free(gw), free(gk), free(wb), free(wbd);
    lip_tensor_free(tx), lip_tensor_free(ty), lip_tensor_free(tg);
    lip_layer_free(l);
}

int main(void) {
    rng = test_seed(20241127);
    lip_context *ctx = test_context();
    test_mode(ctx, 7, 3, 1, 1.0f);
    test_mode(ctx, 13, 1, 0, 2.0f);
    test_mode(ctx, 300, 5, 0, 0.5f); /* more elements than one work-group: the strided global sum */
    test_mode(ctx, 300, 5, 1, 1.0f);
    lip_dense_config cfg = lip_dense_config_default(3);
    cfg.k_coef_lip = -1.0f;
    lip_layer *l = NULL;
    CHECK_STATUS(lip_frobenius_dense_create(ctx, &cfg, "bad", &l), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "FrobeniusDense 'bad': k_coef_lip");
    test_context_free(ctx);
    return test_finish("test_frobenius_dense");
}
