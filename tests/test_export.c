/* lipcl tests — vanilla export and condense: a plain model of every family's export computes the Lipschitz
 * model's outputs (≤ 1e-5), is independent of it, and its inference time is measured against the original. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "lipcl/lipcl.h"

static lip_context *ctx;
static uint64_t rng;

static void add(lip_model *m, lip_layer *l) { CHECK_OK(lip_model_add(m, l)); }

/* in (8, 6, 2): every family (as tests/test_model_file.c), a residual sum, non-default k and pad modes. */
static lip_model *every_family(void) {
    lip_model *m = NULL;
    lip_layer *l = NULL;
    CHECK_OK(lip_model_create(ctx, "lip", &m));
    lip_conv2d_config cc = lip_conv2d_config_default(4, 3, 3);
    cc.k_coef_lip = 1.25f;
    CHECK_OK(lip_spectral_conv2d_create(ctx, &cc, "sconv", &l)); add(m, l);
    CHECK_OK(lip_prelu_lip_create(ctx, 0.7f, "prelu", &l)); add(m, l);
    cc.k_coef_lip = 1.0f;
    CHECK_OK(lip_conv2d_create(ctx, &cc, "conv", &l)); add(m, l);
    CHECK_OK(lip_model_add_sum(m, 1, 2, NULL));
    lip_pool2d_config pc = lip_pool2d_config_default();
    pc.k_coef_lip = 0.9f;
    CHECK_OK(lip_scaled_l2norm_pooling2d_create(ctx, &pc, "l2pool", &l)); add(m, l);
    cc.pad_mode = LIP_PAD_SYMMETRIC;
    cc.stride_w = 2;
    cc.k_coef_lip = 1.1f;
    CHECK_OK(lip_frobenius_conv2d_create(ctx, &cc, "fconv", &l)); add(m, l); /* (4, 2, 4) */
    cc.stride_w = 1;
    CHECK_OK(lip_groupsort_create(ctx, 2, 1.0f, "gs", &l)); add(m, l);
    CHECK_OK(lip_invertible_downsampling_create(ctx, 2, 1, "down", &l)); add(m, l);
    CHECK_OK(lip_invertible_upsampling_create(ctx, 2, 1, "up", &l)); add(m, l);
    cc.pad_mode = LIP_PAD_ZEROS;
    CHECK_OK(lip_spectral_conv2d_transpose_create(ctx, &cc, "sconvt", &l)); add(m, l);
    lip_conv2d_config tc = lip_conv2d_config_default(3, 2, 2);
    tc.padding = LIP_PADDING_VALID;
    CHECK_OK(lip_conv2d_transpose_create(ctx, &tc, "convt", &l)); add(m, l); /* (5, 3, 3) */
    lip_pool2d_config mp = lip_pool2d_config_default();
    mp.stride_h = mp.stride_w = 1;
    CHECK_OK(lip_max_pooling2d_create(ctx, &mp, "maxpool", &l)); add(m, l); /* (4, 2, 3) */
    lip_pool2d_config ap = lip_pool2d_config_default();
    ap.pool_w = 1;
    ap.k_coef_lip = 1.3f;
    CHECK_OK(lip_scaled_average_pooling2d_create(ctx, &ap, "avgpool", &l)); add(m, l); /* (2, 2, 3) */
    CHECK_OK(lip_maxmin_create(ctx, 1.5f, "maxmin", &l)); add(m, l);                  /* (2, 2, 6) */
    CHECK_OK(lip_householder_create(ctx, 1.0f, 0.3f, "householder", &l)); add(m, l);
    size_t rs[3] = {3, 0, 2};
    CHECK_OK(lip_reshape_create(ctx, 3, rs, "reshape", &l)); add(m, l); /* (3, 4, 2) */
    CHECK_OK(lip_flatten_create(ctx, NULL, &l)); add(m, l);             /* (24) */
    lip_dense_config dc = lip_dense_config_default(10);
    CHECK_OK(lip_dense_create(ctx, &dc, "dense", &l)); add(m, l);
    CHECK_OK(lip_relu_create(ctx, "relu", &l)); add(m, l);
    dc.units = 6;
    dc.k_coef_lip = 0.8f;
    CHECK_OK(lip_spectral_dense_create(ctx, &dc, "sdense", &l)); add(m, l);
    CHECK_OK(lip_fullsort_create(ctx, 1.0f, "fullsort", &l)); add(m, l);
    dc.units = 4;
    CHECK_OK(lip_frobenius_dense_create(ctx, &dc, "fdense", &l)); add(m, l);
    size_t in[3] = {8, 6, 2};
    CHECK_OK(lip_model_build(m, 3, in));
    return m;
}

/* A wider conv net for the timing: SpectralConv2D 32 → GroupSort2 → ScaledL2NormPooling2D → SpectralConv2D 64
 * → GroupSort2 → ScaledL2NormPooling2D → Flatten → SpectralDense 64 → GroupSort2 → FrobeniusDense 10. */
static lip_model *timing_model(void) {
    lip_model *m = NULL;
    lip_layer *l = NULL;
    CHECK_OK(lip_model_create(ctx, "timing", &m));
    size_t f[2] = {32, 64};
    for (int i = 0; i < 2; i++) {
        lip_conv2d_config cc = lip_conv2d_config_default(f[i], 3, 3);
        CHECK_OK(lip_spectral_conv2d_create(ctx, &cc, NULL, &l)); add(m, l);
        CHECK_OK(lip_groupsort2_create(ctx, 1.0f, NULL, &l)); add(m, l);
        lip_pool2d_config pc = lip_pool2d_config_default();
        CHECK_OK(lip_scaled_l2norm_pooling2d_create(ctx, &pc, NULL, &l)); add(m, l);
    }
    CHECK_OK(lip_flatten_create(ctx, NULL, &l)); add(m, l);
    lip_dense_config dc = lip_dense_config_default(64);
    CHECK_OK(lip_spectral_dense_create(ctx, &dc, NULL, &l)); add(m, l);
    CHECK_OK(lip_groupsort2_create(ctx, 1.0f, NULL, &l)); add(m, l);
    dc.units = 10;
    dc.disjoint_neurons = 0;
    CHECK_OK(lip_frobenius_dense_create(ctx, &dc, NULL, &l)); add(m, l);
    size_t in[3] = {28, 28, 1};
    CHECK_OK(lip_model_build(m, 3, in));
    return m;
}

static size_t count_of(const lip_model *m, int output) {
    (void)output;
    int nd = 0;
    size_t s[LIP_MAX_DIMS], c = 1;
    CHECK_OK(lip_model_output_shape(m, &nd, s));
    for (int i = 0; i < nd; i++) c *= s[i];
    return c;
}

static float *predict(lip_model *m, const lip_tensor *x, size_t batch) {
    size_t oc = count_of(m, 1), ys[2] = {batch, oc};
    lip_tensor *y = NULL;
    CHECK_OK(lip_tensor_create(ctx, LIP_FLOAT32, 2, ys, &y));
    CHECK_OK(lip_model_predict(m, x, y, 0));
    float *h = test_download(y);
    lip_tensor_free(y);
    return h;
}

static lip_tensor *random_batch(size_t batch, size_t in) {
    float *h = test_falloc(batch * in);
    test_fill_uniform(&rng, h, batch * in, -1, 1);
    size_t s[2] = {batch, in};
    lip_tensor *t = test_upload(ctx, 2, s, h);
    free(h);
    return t;
}

static void test_every_family(void) {
    lip_model *m = every_family(), *v = NULL;
    const size_t batch = 7, in = 8 * 6 * 2;
    CHECK_OK(lip_model_vanilla_export(m, &v));
    if (!v) return;
    /* plain families only, same names */
    CHECK(lip_model_node_count(v) == lip_model_node_count(m));
    for (size_t i = 0; i < lip_model_node_count(v); i++) {
        lip_layer *a = lip_model_layer(m, i), *b = lip_model_layer(v, i);
        CHECK((a == NULL) == (b == NULL));
        if (!a || !b) continue;
        const char *t = lip_layer_type(b);
        CHECK(!strstr(t, "Spectral") && !strstr(t, "Frobenius"));
        CHECK(strcmp(lip_layer_name(a), lip_layer_name(b)) == 0);
        CHECK(a != b);
        if (strstr(lip_layer_type(a), "Dense")) CHECK(strcmp(t, "Dense") == 0);
        if (strstr(lip_layer_type(a), "Conv2DTranspose")) CHECK(strcmp(t, "Conv2DTranspose") == 0);
        else if (strstr(lip_layer_type(a), "Conv2D")) CHECK(strcmp(t, "Conv2D") == 0);
    }
    lip_tensor *x = random_batch(batch, in);
    float *ya = predict(m, x, batch), *yb = predict(v, x, batch);
    size_t n = batch * count_of(m, 1);
    double *ref = test_to_double(ya, n);
    test_compare("vanilla export vs Lipschitz model", yb, ref, n, 1e-5, 0);
    free(ref), free(yb);
    /* Independent: editing the original's raw weights and condensing changes only the original. */
    lip_layer *sd = lip_model_layer(m, 0);
    lip_tensor *k = NULL;
    CHECK_OK(lip_layer_param(sd, 0, &k, NULL, NULL));
    CHECK_OK(lip_tensor_fill(k, 0.5));
    CHECK_OK(lip_model_condense(m));
    float *yc = predict(m, x, batch);
    CHECK(memcmp(yc, ya, n * sizeof *ya) != 0); /* condense took the edit into account */
    lip_model_free(m);
    yb = predict(v, x, batch);
    ref = test_to_double(ya, n);
    test_compare("vanilla export after the original is freed", yb, ref, n, 1e-5, 0);
    free(ref), free(ya), free(yb), free(yc);
    lip_tensor_free(x);
    /* The plain model guarantees nothing. */
    double bound = 0;
    CHECK_STATUS(lip_model_lipschitz_bound(v, &bound, NULL), LIP_ERR_UNSUPPORTED);
    lip_model_free(v);
    /* The global pools (a chain of their own: they end in a vector). */
    for (int l2 = 0; l2 < 2; l2++) {
        lip_model *g = NULL;
        lip_layer *l = NULL;
        CHECK_OK(lip_model_create(ctx, "global", &g));
        lip_conv2d_config cc = lip_conv2d_config_default(6, 3, 3);
        CHECK_OK(lip_frobenius_conv2d_create(ctx, &cc, "fc", &l)); add(g, l);
        if (l2)
            CHECK_OK(lip_scaled_global_l2norm_pooling2d_create(ctx, 1.7f, 1e-5f, "g", &l));
        else
            CHECK_OK(lip_scaled_global_average_pooling2d_create(ctx, 0.6f, "g", &l));
        add(g, l);
        size_t gin[3] = {5, 3, 4};
        CHECK_OK(lip_model_build(g, 3, gin));
        lip_model *gv = NULL;
        CHECK_OK(lip_model_vanilla_export(g, &gv));
        lip_tensor *gx = random_batch(batch, 60);
        float *ga = predict(g, gx, batch), *gb = gv ? predict(gv, gx, batch) : test_falloc(batch * 6);
        double *gref = test_to_double(ga, batch * 6);
        test_compare("global pools export", gb, gref, batch * 6, 1e-5, 0);
        free(ga), free(gb), free(gref);
        lip_tensor_free(gx);
        lip_model_free(g), lip_model_free(gv);
    }
    /* Misuse */
    lip_model *u = NULL;
    CHECK_OK(lip_model_create(ctx, "unbuilt", &u));
    CHECK_STATUS(lip_model_vanilla_export(u, &v), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "not built");
    CHECK_STATUS(lip_model_vanilla_export(u, NULL), LIP_ERR_NULL);
    CHECK_STATUS(lip_model_vanilla_export(NULL, &v), LIP_ERR_NULL);
    CHECK_STATUS(lip_model_condense(u), LIP_ERR_INVALID_ARGUMENT);
    lip_model_free(u);
}

static double seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Inference time of both models on one batch (best of 5 after a warm-up): the export skips nothing at
 * inference since lipcl caches W̄, so the two should be close; printed for the notes. */
static void test_timing(void) {
    lip_model *m = timing_model(), *v = NULL;
    CHECK_OK(lip_model_vanilla_export(m, &v));
    if (!v) return;
    const size_t batch = 64;
    lip_tensor *x = random_batch(batch, 28 * 28);
    size_t oc = count_of(m, 1), ys[2] = {batch, oc};
    lip_tensor *y = NULL;
    CHECK_OK(lip_tensor_create(ctx, LIP_FLOAT32, 2, ys, &y));
    double best[2] = {1e30, 1e30};
    lip_model *models[2] = {m, v};
    for (int rep = 0; rep < 6; rep++)
        for (int k = 0; k < 2; k++) {
            double t0 = seconds();
            CHECK_OK(lip_model_predict(models[k], x, y, 0));
            CHECK_OK(lip_context_finish(ctx));
            double dt = seconds() - t0;
            if (rep > 0 && dt < best[k]) best[k] = dt;
        }
    lip_device_info info;
    CHECK_OK(lip_context_device_info(ctx, &info));
    printf("inference, batch %zu of 28x28x1, best of 5 on %s: Lipschitz model %.3f ms, vanilla export %.3f ms\n",
           batch, info.device_name, 1e3 * best[0], 1e3 * best[1]);
    float *ya = predict(m, x, batch), *yb = predict(v, x, batch);
    double *ref = test_to_double(ya, batch * oc);
    test_compare("timing model export", yb, ref, batch * oc, 1e-5, 0);
    free(ya), free(yb), free(ref);
    lip_tensor_free(x), lip_tensor_free(y);
    lip_model_free(m), lip_model_free(v);
}

int main(void) {
    ctx = test_context();
    test_ctx_for_messages = ctx;
    rng = test_seed(0xe4);
    CHECK_OK(lip_random_seed(ctx, rng));
    test_every_family();
    test_timing();
    test_context_free(ctx);
    return test_finish("test_export");
}
