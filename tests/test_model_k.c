/* lipcl tests — model-level k_coef_lip (deel-lip Sequential(k_coef_lip)): K^(1/n) to every Lipschitz
 * layer, the model bound becomes K, a homogeneous bias-free chain computes K·f_1, save/load keeps it. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "lipcl/lipcl.h"

static lip_context *ctx;

static void add(lip_model *m, lip_layer *l) { REQUIRE_OK(lip_model_add(m, l)); }

/* Positively homogeneous and bias-free: SpectralConv2D → GroupSort2 → ReLU (not a LipschitzLayer)
 * → ScaledL2NormPooling2D → SpectralConv2D → MaxMin → ScaledAveragePooling2D → Flatten →
 * FrobeniusDense (whole matrix) → FullSort → SpectralDense. Lipschitz layers: 9. */
static lip_model *conv_chain(const char *name) {
    lip_model *m = NULL;
    REQUIRE_OK(lip_model_create(ctx, name, &m));
    lip_layer *l = NULL;
    lip_conv2d_config cc = lip_conv2d_config_default(4, 3, 3);
    cc.use_bias = 0;
    REQUIRE_OK(lip_spectral_conv2d_create(ctx, &cc, "c1", &l));
    add(m, l);
    REQUIRE_OK(lip_groupsort2_create(ctx, 1.0f, "gs", &l));
    add(m, l);
    REQUIRE_OK(lip_relu_create(ctx, "relu", &l));
    add(m, l);
    lip_pool2d_config pc = lip_pool2d_config_default();
    REQUIRE_OK(lip_scaled_l2norm_pooling2d_create(ctx, &pc, "l2pool", &l));
    add(m, l);
    cc = lip_conv2d_config_default(3, 3, 3);
    cc.use_bias = 0;
    REQUIRE_OK(lip_spectral_conv2d_create(ctx, &cc, "c2", &l));
    add(m, l);
    REQUIRE_OK(lip_maxmin_create(ctx, 1.0f, "maxmin", &l));
    add(m, l);
    REQUIRE_OK(lip_scaled_average_pooling2d_create(ctx, &pc, "avgpool", &l));
    add(m, l);
    REQUIRE_OK(lip_flatten_create(ctx, "flat", &l));
    add(m, l);
    lip_dense_config dc = lip_dense_config_default(5);
    dc.use_bias = 0;
    dc.disjoint_neurons = 0;
    REQUIRE_OK(lip_frobenius_dense_create(ctx, &dc, "frob", &l));
    add(m, l);
    REQUIRE_OK(lip_fullsort_create(ctx, 1.0f, "fs", &l));
    add(m, l);
    dc = lip_dense_config_default(3);
    dc.use_bias = 0;
    REQUIRE_OK(lip_spectral_dense_create(ctx, &dc, "head", &l));
    add(m, l);
    size_t in[3] = {10, 10, 2}; /* 10 → pool 5 → pool 2 */
    REQUIRE_OK(lip_model_build(m, 3, in));
    return m;
}

static float *predict(lip_model *m, const float *x, size_t n, size_t in_count, size_t out_count) {
    size_t xs[4] = {n, 10, 10, 2}, ys[2] = {n, out_count};
    (void)in_count;
    lip_tensor *tx = test_upload(ctx, 4, xs, x), *ty = NULL;
    REQUIRE_OK(lip_tensor_create(ctx, LIP_FLOAT32, 2, ys, &ty));
    CHECK_OK(lip_model_predict(m, tx, ty, 0));
    float *y = test_download(ty);
    lip_tensor_free(tx);
    lip_tensor_free(ty);
    return y;
}

static void test_homogeneous_chain(void) {
    uint64_t rng = test_seed(41);
    const size_t n = 7, in_count = 200, oc = 3;
    float *x = test_falloc(n * in_count);
    test_fill_uniform(&rng, x, n * in_count, -1.0, 1.0);
    lip_model *m = conv_chain("kchain");
    double bound = 0;
    CHECK_OK(lip_model_lipschitz_bound(m, &bound, NULL));
    CHECK_NEAR(bound, 1.0, 1e-6);
    /* Reference: the same reparametrization path at K = 1 (u advances one step in each call). */
    CHECK_OK(lip_model_set_k_coef_lip(m, 1.0));
    float *y1 = predict(m, x, n, in_count, oc);
    const double K = 3.7;
    CHECK_OK(lip_model_set_k_coef_lip(m, K));
    CHECK_OK(lip_model_lipschitz_bound(m, &bound, NULL));
    CHECK_NEAR(bound, K, 1e-5 * K);
    /* Each Lipschitz layer holds K^(1/9); ReLU and Flatten were left out of n. */
    double per = pow(K, 1.0 / 9.0), b = 0;
    for (size_t i = 0; i < lip_model_node_count(m); i++) {
        lip_layer *l = lip_model_layer(m, i);
        CHECK_OK(lip_layer_lipschitz_bound(l, &b, NULL));
        int lipschitz = strcmp(lip_layer_type(l), "ReLU") && strcmp(lip_layer_type(l), "Flatten");
        CHECK_NEAR(b, lipschitz ? per : 1.0, 1e-6);
    }
    float *yk = predict(m, x, n, in_count, oc);
    double *ref = calloc(n * oc, sizeof *ref);
    double scale = 0;
    for (size_t i = 0; i < n * oc; i++) {
        ref[i] = K * (double)y1[i];
        scale = fabs(ref[i]) > scale ? fabs(ref[i]) : scale;
    }
    CHECK(scale > 1e-3); /* the net does not collapse to 0 */
    /* the warm-started power iteration moves σ slightly between the two reparametrizations */
    CHECK(test_compare("f_K(x) = K f_1(x)", yk, ref, n * oc, 2e-3 * scale, 2e-3));
    /* Going back to K = 1 restores f_1. */
    CHECK_OK(lip_model_set_k_coef_lip(m, 1.0));
    float *yb = predict(m, x, n, in_count, oc);
    for (size_t i = 0; i < n * oc; i++) ref[i] = y1[i];
    CHECK(test_compare("back to K = 1", yb, ref, n * oc, 2e-3 * scale / K, 2e-3));

    /* Save and load: the per-layer k is part of each layer's configuration. */
    CHECK_OK(lip_model_set_k_coef_lip(m, 0.25));
    float *yq = predict(m, x, n, in_count, oc);
    char path[64];
    snprintf(path, sizeof path, "/tmp/lipcl_test_model_k_%d.lipm", (int)getpid());
    CHECK_OK(lip_model_save(m, path, LIP_SAVE_WEIGHTS));
    lip_model *r = NULL;
    CHECK_OK(lip_model_load(ctx, path, &r));
    if (r) {
        CHECK_OK(lip_model_lipschitz_bound(r, &bound, NULL));
        CHECK_NEAR(bound, 0.25, 1e-6);
        float *yr = predict(r, x, n, in_count, oc);
        double s2 = 0;
        for (size_t i = 0; i < n * oc; i++) {
            ref[i] = yq[i];
            s2 = fabs(ref[i]) > s2 ? fabs(ref[i]) : s2;
        }
        CHECK(test_compare("loaded model's outputs", yr, ref, n * oc, 1e-3 * s2, 1e-3));
        free(yr);
        lip_model_free(r);
    }
    remove(path);
    free(yq);
    free(yb);
    free(ref);
    free(yk);
    free(y1);
    free(x);
    lip_model_free(m);
}

/* Dense chain with a Householder (k = 1 at build: the scratch of an accumulated dθ appears with k ≠ 1)
 * and a SpectralConv2DTranspose: the bound is K and training still runs. */
static void test_householder_and_training(void) {
    lip_model *m = NULL;
    REQUIRE_OK(lip_model_create(ctx, "hh", &m));
    lip_layer *l = NULL;
    lip_conv2d_config cc = lip_conv2d_config_default(2, 3, 3);
    REQUIRE_OK(lip_spectral_conv2d_transpose_create(ctx, &cc, "ct", &l));
    add(m, l);
    REQUIRE_OK(lip_flatten_create(ctx, "flat", &l));
    add(m, l);
    lip_dense_config dc = lip_dense_config_default(6);
    REQUIRE_OK(lip_spectral_dense_create(ctx, &dc, "d1", &l));
    add(m, l);
    REQUIRE_OK(lip_householder_create(ctx, 1.0f, 1.5707963f, "hh", &l));
    add(m, l);
    dc = lip_dense_config_default(1);
    REQUIRE_OK(lip_frobenius_dense_create(ctx, &dc, "head", &l));
    add(m, l);
    size_t in[3] = {3, 3, 1};
    REQUIRE_OK(lip_model_build(m, 3, in));
    CHECK_OK(lip_model_set_k_coef_lip(m, 5.0));
    double bound = 0;
    CHECK_OK(lip_model_lipschitz_bound(m, &bound, NULL));
    CHECK_NEAR(bound, 5.0, 5e-5);
    /* one fit epoch after the change (backward through every re-scaled layer) */
    uint64_t rng = test_seed(43);
    const size_t n = 12;
    float x[12 * 9], t[12];
    test_fill_uniform(&rng, x, n * 9, -1.0, 1.0);
    for (size_t i = 0; i < n; i++) t[i] = x[i * 9] > 0 ? 1.0f : -1.0f;
    size_t shape[3] = {3, 3, 1};
    lip_dataset *ds = NULL;
    REQUIRE_OK(lip_dataset_create(ctx, n, 3, shape, x, NULL, 1, t, &ds));
    lip_loss_config lc = lip_loss_config_default(LIP_LOSS_HKR);
    lip_loss *loss = NULL;
    REQUIRE_OK(lip_loss_create(ctx, &lc, &loss));
    lip_optimizer_config oc = lip_optimizer_config_default(LIP_OPTIMIZER_ADAM);
    lip_optimizer *opt = NULL;
    REQUIRE_OK(lip_optimizer_create(ctx, &oc, &opt));
    REQUIRE_OK(lip_model_compile(m, loss, opt, 0, NULL));
    lip_fit_config fc = lip_fit_config_default();
    fc.batch_size = 5;
    CHECK_OK(lip_model_fit(m, ds, &fc));
    CHECK_OK(lip_model_lipschitz_bound(m, &bound, NULL));
    CHECK_NEAR(bound, 5.0, 5e-5);
    lip_dataset_free(ds);
    lip_model_free(m);
}

static void test_errors(void) {
    lip_model *m = NULL;
    REQUIRE_OK(lip_model_create(ctx, "plain", &m));
    lip_layer *l = NULL;
    lip_dense_config dc = lip_dense_config_default(3);
    REQUIRE_OK(lip_dense_create(ctx, &dc, "d", &l));
    add(m, l);
    CHECK_STATUS(lip_model_set_k_coef_lip(m, 2.0), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "not built");
    size_t in[1] = {4};
    REQUIRE_OK(lip_model_build(m, 1, in));
    CHECK_STATUS(lip_model_set_k_coef_lip(m, 2.0), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "no Lipschitz layer");
    CHECK_OK(lip_model_set_k_coef_lip(m, 1.0));
    CHECK_STATUS(lip_model_set_k_coef_lip(m, 0.0), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "finite and > 0");
    CHECK_STATUS(lip_model_set_k_coef_lip(m, -1.0), LIP_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(lip_model_set_k_coef_lip(m, NAN), LIP_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(lip_model_set_k_coef_lip(m, INFINITY), LIP_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(lip_model_set_k_coef_lip(NULL, 2.0), LIP_ERR_NULL);
    lip_model_free(m);

    /* residual sum: the bound is a sum of branches, K^(1/n) would not give K */
    REQUIRE_OK(lip_model_create(ctx, "res", &m));
    dc = lip_dense_config_default(4);
    int a = 0, b = 0;
    REQUIRE_OK(lip_spectral_dense_create(ctx, &dc, "s1", &l));
    REQUIRE_OK(lip_model_add_node(m, l, LIP_MODEL_INPUT, &a));
    REQUIRE_OK(lip_spectral_dense_create(ctx, &dc, "s2", &l));
    REQUIRE_OK(lip_model_add_node(m, l, a, &b));
    REQUIRE_OK(lip_model_add_sum(m, a, b, NULL));
    REQUIRE_OK(lip_model_build(m, 1, in));
    CHECK_STATUS(lip_model_set_k_coef_lip(m, 2.0), LIP_ERR_UNSUPPORTED);
    CHECK_MESSAGE(ctx, "is a sum");
    lip_model_free(m);
}

int main(void) {
    ctx = test_context();
    test_homogeneous_chain();
    test_householder_and_training();
    test_errors();
    test_context_free(ctx);
    return test_finish("test_model_k");
}
