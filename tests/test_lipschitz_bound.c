/* lipcl tests — Lipschitz upper bounds: the exact value each layer family reports, the product/sum rule
 * of a model, the refusals (unconstrained layers, per-neuron layers not at the head) and random pairs. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "lipcl/lipcl.h"

static lip_context *ctx;
static uint64_t rng;

static double layer_bound(lip_layer *l, int ndim, const size_t *shape, int *per_neuron) {
    double b = -1.0;
    CHECK_OK(lip_layer_build(l, ndim, shape));
    CHECK_OK(lip_layer_lipschitz_bound(l, &b, per_neuron));
    return b;
}

/* Each family's value, with awkward k values drawn from the seed. */
static void test_layer_values(void) {
    float k = (float)test_uniform(&rng, 0.3, 2.7);
    size_t vec[1] = {6}, img[3] = {6, 9, 4};
    int pn = -1;
    lip_layer *l = NULL;

    lip_dense_config dc = lip_dense_config_default(5);
    dc.k_coef_lip = k;
    CHECK_OK(lip_spectral_dense_create(ctx, &dc, "sd", &l));
    CHECK_NEAR(layer_bound(l, 1, vec, &pn), k, 0); CHECK(pn == 0);
    lip_layer_free(l);
    CHECK_OK(lip_frobenius_dense_create(ctx, &dc, "fd", &l)); /* disjoint_neurons = 1 by default */
    CHECK_NEAR(layer_bound(l, 1, vec, &pn), k, 0); CHECK(pn == 1);
    lip_layer_free(l);
    dc.disjoint_neurons = 0;
    CHECK_OK(lip_frobenius_dense_create(ctx, &dc, "fd0", &l));
    CHECK_NEAR(layer_bound(l, 1, vec, &pn), k, 0); CHECK(pn == 0);
    lip_layer_free(l);

    lip_conv2d_config cc = lip_conv2d_config_default(3, 3, 2);
    cc.k_coef_lip = k;
    cc.stride_h = 2;
    CHECK_OK(lip_spectral_conv2d_create(ctx, &cc, "sc", &l));
    CHECK_NEAR(layer_bound(l, 3, img, &pn), k, 0); CHECK(pn == 0);
    lip_layer_free(l);
    CHECK_OK(lip_frobenius_conv2d_create(ctx, &cc, "fc", &l));
    CHECK_NEAR(layer_bound(l, 3, img, &pn), k, 0);
    lip_layer_free(l);
    cc.stride_h = 1;
    CHECK_OK(lip_spectral_conv2d_transpose_create(ctx, &cc, "sct", &l));
    CHECK_NEAR(layer_bound(l, 3, img, &pn), k, 0);
    lip_layer_free(l);

    /* DEEL_LIP coefficient (stride 1, SAME): deel-lip's average factor over the strict one, ≥ k. For the
     * 3x2 kernel on 6x9: c_deel = √(h·w / ((kh·h − a(a+1))·(kw·w − b(b+1)))), a = 1, b = 1/2 (real
     * division, as deel-lip); c_strict = 1/√6. */
    cc.coef_mode = LIP_CONV_COEF_DEEL_LIP;
    CHECK_OK(lip_spectral_conv2d_create(ctx, &cc, "sc_deel", &l));
    double c_deel = sqrt(6.0 * 9.0 / ((3.0 * 6 - 2) * (2.0 * 9 - 0.75)));
    CHECK_NEAR(layer_bound(l, 3, img, &pn), k * c_deel * sqrt(6.0), 1e-6 * k);
    lip_layer_free(l);
    CHECK_OK(lip_spectral_conv2d_transpose_create(ctx, &cc, "sct_deel", &l));
    CHECK_OK(lip_layer_build(l, 3, img));
    double nb = 0;
    CHECK_STATUS(lip_layer_lipschitz_bound(l, &nb, NULL), LIP_ERR_UNSUPPORTED);
    CHECK_MESSAGE(ctx, "sct_deel");
    lip_layer_free(l);
    cc.coef_mode = LIP_CONV_COEF_STRICT;

    lip_pool2d_config pc = lip_pool2d_config_default();
    pc.pool_h = 3, pc.pool_w = 2, pc.stride_h = 3, pc.stride_w = 2, pc.k_coef_lip = k;
    CHECK_OK(lip_scaled_l2norm_pooling2d_create(ctx, &pc, "l2p", &l));
    CHECK_NEAR(layer_bound(l, 3, img, &pn), k, 0);
    lip_layer_free(l);
    CHECK_OK(lip_scaled_average_pooling2d_create(ctx, &pc, "avp", &l));
    CHECK_NEAR(layer_bound(l, 3, img, &pn), k, 0);
    lip_layer_free(l);
    CHECK_OK(lip_scaled_global_l2norm_pooling2d_create(ctx, k, 1e-6f, "gl2", &l));
    CHECK_NEAR(layer_bound(l, 3, img, &pn), k, 0);
    lip_layer_free(l);
    CHECK_OK(lip_scaled_global_average_pooling2d_create(ctx, k, "gav", &l));
    CHECK_NEAR(layer_bound(l, 3, img, &pn), k, 0);
    lip_layer_free(l);
    /* MaxPooling2D 3x3 stride 2x1: each pixel in ⌈3/2⌉·⌈3/1⌉ = 6 windows at most. */
    pc.pool_w = 3, pc.stride_h = 2, pc.stride_w = 1;
    CHECK_OK(lip_max_pooling2d_create(ctx, &pc, "mp", &l));
    CHECK_NEAR(layer_bound(l, 3, img, &pn), sqrt(6.0), 1e-15);
    lip_layer_free(l);

    CHECK_OK(lip_groupsort_create(ctx, 3, k, "gs", &l));
    CHECK_NEAR(layer_bound(l, 1, vec, &pn), k, 0);
    lip_layer_free(l);
    CHECK_OK(lip_maxmin_create(ctx, k, "mm", &l));
    CHECK_NEAR(layer_bound(l, 1, vec, &pn), k, 0);
    lip_layer_free(l);
    CHECK_OK(lip_householder_create(ctx, k, 1.0f, "hh", &l));
    CHECK_NEAR(layer_bound(l, 1, vec, &pn), k, 0);
    lip_layer_free(l);
    CHECK_OK(lip_prelu_lip_create(ctx, k, "pr", &l));
    CHECK_NEAR(layer_bound(l, 1, vec, &pn), k > 1 ? k : 1.0, 0);
    lip_layer_free(l);
    CHECK_OK(lip_relu_create(ctx, "relu", &l));
    CHECK_NEAR(layer_bound(l, 1, vec, &pn), 1.0, 0);
    lip_layer_free(l);
    CHECK_OK(lip_invertible_downsampling_create(ctx, 3, 3, "down", &l));
    CHECK_NEAR(layer_bound(l, 3, img, &pn), 1.0, 0);
    lip_layer_free(l);
    CHECK_OK(lip_invertible_upsampling_create(ctx, 1, 2, "up", &l));
    CHECK_NEAR(layer_bound(l, 3, img, &pn), 1.0, 0);
    lip_layer_free(l);
    CHECK_OK(lip_flatten_create(ctx, "flat", &l));
    CHECK_NEAR(layer_bound(l, 3, img, &pn), 1.0, 0);
    lip_layer_free(l);
    size_t rs[2] = {0, 2};
    CHECK_OK(lip_reshape_create(ctx, 2, rs, "rs", &l));
    CHECK_NEAR(layer_bound(l, 1, vec, &pn), 1.0, 0);
    lip_layer_free(l);

    /* Unconstrained layers: refused, naming the layer. */
    double b = 0;
    CHECK_OK(lip_dense_create(ctx, &dc, "plain_dense", &l));
    CHECK_STATUS(lip_layer_lipschitz_bound(l, &b, NULL), LIP_ERR_INVALID_ARGUMENT); /* not built */
    CHECK_MESSAGE(ctx, "plain_dense");
    CHECK_OK(lip_layer_build(l, 1, vec));
    CHECK_STATUS(lip_layer_lipschitz_bound(l, &b, NULL), LIP_ERR_UNSUPPORTED);
    CHECK_MESSAGE(ctx, "plain_dense");
    CHECK_MESSAGE(ctx, "unconstrained");
    CHECK_STATUS(lip_layer_lipschitz_bound(l, NULL, NULL), LIP_ERR_NULL);
    lip_layer_free(l);
    CHECK_OK(lip_conv2d_create(ctx, &cc, "plain_conv", &l));
    CHECK_OK(lip_layer_build(l, 3, img));
    CHECK_STATUS(lip_layer_lipschitz_bound(l, &b, NULL), LIP_ERR_UNSUPPORTED);
    CHECK_MESSAGE(ctx, "plain_conv");
    lip_layer_free(l);
    CHECK_STATUS(lip_layer_lipschitz_bound(NULL, &b, NULL), LIP_ERR_NULL);
}

/* max over random pairs of ‖f(x) − f(y)‖ / ‖x − y‖, with y = x + a perturbation of random scale. */
static double empirical_ratio(lip_model *m, size_t in_count, size_t out_count, size_t pairs) {
    float *x = test_falloc(2 * pairs * in_count);
    test_fill_uniform(&rng, x, pairs * in_count, -1, 1);
    for (size_t i = 0; i < pairs; i++) {
        double scale = pow(10.0, test_uniform(&rng, -3, 0.5));
        for (size_t j = 0; j < in_count; j++)
            x[(pairs + i) * in_count + j] = x[i * in_count + j] + (float)(scale * test_uniform(&rng, -1, 1));
    }
    size_t xs[2] = {2 * pairs, in_count}, ys[2] = {2 * pairs, out_count};
    lip_tensor *tx = test_upload(ctx, 2, xs, x), *ty = NULL;
    CHECK_OK(lip_tensor_create(ctx, LIP_FLOAT32, 2, ys, &ty));
    CHECK_OK(lip_model_predict(m, tx, ty, 0));
    float *y = test_download(ty);
    double worst = 0;
    for (size_t i = 0; i < pairs; i++) {
        double dx = 0, dy = 0;
        for (size_t j = 0; j < in_count; j++) {
            /* the difference of the float inputs as they were uploaded */
            double d = (double)x[(pairs + i) * in_count + j] - (double)x[i * in_count + j];
            dx += d * d;
        }
        for (size_t j = 0; j < out_count; j++) {
            double d = (double)y[(pairs + i) * out_count + j] - (double)y[i * out_count + j];
            dy += d * d;
        }
        if (dx > 0 && sqrt(dy / dx) > worst) worst = sqrt(dy / dx);
    }
    free(x), free(y);
    lip_tensor_free(tx), lip_tensor_free(ty);
    return worst;
}

static lip_layer *sdense(size_t units, float k) {
    lip_dense_config c = lip_dense_config_default(units);
    c.k_coef_lip = k;
    lip_layer *l = NULL;
    CHECK_OK(lip_spectral_dense_create(ctx, &c, NULL, &l));
    return l;
}

/* in(8) → SpectralDense(8, k1) → GroupSort2(k2) → (+ input) → SpectralDense(3, k3):
 * bound = k3·(k1·k2 + 1), exactly; random pairs stay below it. */
static void test_residual_model(void) {
    float k1 = (float)test_uniform(&rng, 0.5, 2), k2 = (float)test_uniform(&rng, 0.5, 1.5),
          k3 = (float)test_uniform(&rng, 0.5, 2);
    lip_model *m = NULL;
    CHECK_OK(lip_model_create(ctx, "res", &m));
    lip_layer *gs = NULL;
    CHECK_OK(lip_groupsort2_create(ctx, k2, NULL, &gs));
    int n1 = 0, s = 0;
    CHECK_OK(lip_model_add(m, sdense(8, k1)));
    CHECK_OK(lip_model_add_node(m, gs, 0, &n1));
    CHECK_OK(lip_model_add_sum(m, n1, LIP_MODEL_INPUT, &s));
    CHECK_OK(lip_model_add(m, sdense(3, k3)));
    double b = 0;
    CHECK_STATUS(lip_model_lipschitz_bound(m, &b, NULL), LIP_ERR_INVALID_ARGUMENT); /* not built */
    size_t in[1] = {8};
    CHECK_OK(lip_model_build(m, 1, in));
    int head = -1;
    CHECK_OK(lip_model_lipschitz_bound(m, &b, &head));
    CHECK_NEAR(b, (double)k3 * ((double)k1 * k2 + 1.0), 1e-12);
    CHECK(head == 0);
    double r = empirical_ratio(m, 8, 3, 200);
    printf("residual model: bound %.6f, empirical ratio %.6f\n", b, r);
    CHECK(r > 0 && r <= b * (1 + 1e-4));
    CHECK_STATUS(lip_model_lipschitz_bound(m, NULL, NULL), LIP_ERR_NULL);
    CHECK_STATUS(lip_model_lipschitz_bound(NULL, &b, NULL), LIP_ERR_NULL);
    lip_model_free(m);
}

/* A conv model (odd sizes) whose bound is k_conv·k_pool·k_mm·k_dense; and the per-neuron head. */
static void test_conv_model(void) {
    float kc = (float)test_uniform(&rng, 0.5, 1.5), kp = (float)test_uniform(&rng, 0.5, 1.5),
          kd = (float)test_uniform(&rng, 0.5, 1.5);
    for (int disjoint = 0; disjoint < 2; disjoint++) {
        lip_model *m = NULL;
        CHECK_OK(lip_model_create(ctx, "conv", &m));
        lip_conv2d_config cc = lip_conv2d_config_default(3, 3, 3);
        cc.k_coef_lip = kc;
        lip_pool2d_config pc = lip_pool2d_config_default();
        pc.k_coef_lip = kp;
        lip_dense_config dc = lip_dense_config_default(4);
        dc.k_coef_lip = kd;
        dc.disjoint_neurons = disjoint;
        lip_layer *c = NULL, *p = NULL, *mm = NULL, *f = NULL, *d = NULL;
        CHECK_OK(lip_spectral_conv2d_create(ctx, &cc, "c", &c));
        CHECK_OK(lip_scaled_l2norm_pooling2d_create(ctx, &pc, "p", &p));
        CHECK_OK(lip_maxmin_create(ctx, 1.0f, "mm", &mm));
        CHECK_OK(lip_flatten_create(ctx, "f", &f));
        CHECK_OK(lip_frobenius_dense_create(ctx, &dc, "fd", &d));
        CHECK_OK(lip_model_add(m, c));
        CHECK_OK(lip_model_add(m, p));
        CHECK_OK(lip_model_add(m, mm));
        CHECK_OK(lip_model_add(m, f));
        CHECK_OK(lip_model_add(m, d));
        size_t in[3] = {7, 5, 2};
        CHECK_OK(lip_model_build(m, 3, in));
        double b = 0;
        int head = -1;
        CHECK_OK(lip_model_lipschitz_bound(m, &b, &head));
        CHECK_NEAR(b, (double)kc * kp * kd, 1e-12);
        CHECK(head == disjoint);
        if (!disjoint) {
            double r = empirical_ratio(m, 70, 4, 200);
            printf("conv model: bound %.6f, empirical ratio %.6f\n", b, r);
            CHECK(r > 0 && r <= b * (1 + 1e-4));
        }
        lip_model_free(m);
    }
    /* A per-neuron layer that is not the head: no bound; an unconstrained one: refused by name. */
    for (int plain = 0; plain < 2; plain++) {
        lip_model *m = NULL;
        CHECK_OK(lip_model_create(ctx, "bad", &m));
        lip_dense_config dc = lip_dense_config_default(4);
        lip_layer *a = NULL;
        CHECK_OK(plain ? lip_dense_create(ctx, &dc, "vanilla", &a) : lip_frobenius_dense_create(ctx, &dc, "fdj", &a));
        CHECK_OK(lip_model_add(m, a));
        CHECK_OK(lip_model_add(m, sdense(2, 1.0f)));
        size_t in[1] = {5};
        CHECK_OK(lip_model_build(m, 1, in));
        double b = 0;
        CHECK_STATUS(lip_model_lipschitz_bound(m, &b, NULL), LIP_ERR_UNSUPPORTED);
        CHECK_MESSAGE(ctx, plain ? "vanilla" : "fdj");
        lip_model_free(m);
    }
}

int main(void) {
    ctx = test_context();
    test_ctx_for_messages = ctx;
    rng = test_seed(0x11b0);
    CHECK_OK(lip_random_seed(ctx, rng));
    test_layer_values();
    test_residual_model();
    test_conv_model();
    test_context_free(ctx);
    return test_finish("test_lipschitz_bound");
}
