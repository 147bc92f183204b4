/* lipcl tests — the model container: chain and residual graphs against the same layers run by hand,
 * gradient fan-in, chunked prediction, parameter listing, summary, and every misuse error. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "lipcl/lipcl.h"

static lip_context *ctx;
static uint64_t rng;

static lip_tensor *tensor2(size_t rows, size_t cols) {
    size_t s[2] = {rows, cols};
    lip_tensor *t = NULL;
    CHECK_OK(lip_tensor_create(ctx, LIP_FLOAT32, 2, s, &t));
    return t;
}

static lip_tensor *random2(size_t rows, size_t cols) {
    float *h = test_falloc(rows * cols);
    test_fill_uniform(&rng, h, rows * cols, -1, 1);
    size_t s[2] = {rows, cols};
    lip_tensor *t = test_upload(ctx, 2, s, h);
    free(h);
    return t;
}

static void compare_tensors(const char *what, const lip_tensor *got, const lip_tensor *want) {
    size_t n = lip_tensor_count(want);
    float *g = test_download(got), *w = test_download(want);
    double *wd = test_to_double(w, n);
    test_compare(what, g, wd, n, 1e-6, 1e-5);
    free(g);
    free(w);
    free(wd);
}

static lip_layer *dense(size_t units, int spectral) {
    lip_dense_config c = lip_dense_config_default(units);
    lip_layer *l = NULL;
    CHECK_OK(spectral ? lip_spectral_dense_create(ctx, &c, "sd", &l) : lip_dense_create(ctx, &c, "d", &l));
    return l;
}

/* Every trainable gradient of the model, downloaded and concatenated. */
static float *all_grads(lip_model *m, size_t *total) {
    size_t count = 0;
    CHECK_OK(lip_model_trainable_params(m, 0, NULL, NULL, &count));
    lip_tensor **g = calloc(count, sizeof *g);
    CHECK_OK(lip_model_trainable_params(m, count, NULL, g, &count));
    size_t n = 0;
    for (size_t i = 0; i < count; i++) n += lip_tensor_count(g[i]);
    float *out = test_falloc(n);
    size_t at = 0;
    for (size_t i = 0; i < count; i++) {
        test_read(g[i], out + at);
        at += lip_tensor_count(g[i]);
    }
    free(g);
    *total = n;
    return out;
}

/* SpectralDense(6) → GroupSort2 → Dense(3): forward, backward and accumulate match the layers run by hand. */
static void test_chain(void) {
    const size_t batch = 5, in = 7;
    lip_model *m = NULL;
    CHECK_OK(lip_model_create(ctx, "chain", &m));
    lip_layer *gs = NULL;
    CHECK_OK(lip_groupsort2_create(ctx, 1.0f, "gs", &gs));
    CHECK_OK(lip_model_add(m, dense(6, 1)));
    CHECK_OK(lip_model_add(m, gs));
    CHECK_OK(lip_model_add(m, dense(3, 0)));
    size_t ishape[1] = {in};
    CHECK_OK(lip_model_build(m, 1, ishape));
    int nd = 0;
    size_t os[LIP_MAX_DIMS];
    CHECK_OK(lip_model_output_shape(m, &nd, os));
    CHECK(nd == 1 && os[0] == 3);

    lip_tensor *x = random2(batch, in), *y = tensor2(batch, 3), *dy = random2(batch, 3), *dx = tensor2(batch, in);
    CHECK_OK(lip_model_forward(m, x, y));
    CHECK_OK(lip_model_backward(m, dy, dx, 0));
    size_t ng = 0;
    float *g_model = all_grads(m, &ng);

    /* by hand */
    lip_layer *l0 = lip_model_layer(m, 0), *l1 = lip_model_layer(m, 1), *l2 = lip_model_layer(m, 2);
    lip_tensor *a0 = tensor2(batch, 6), *a1 = tensor2(batch, 6), *a2 = tensor2(batch, 3);
    lip_tensor *g1 = tensor2(batch, 6), *g0 = tensor2(batch, 6), *gx = tensor2(batch, in);
    CHECK_OK(lip_layer_forward(l0, x, a0));
    CHECK_OK(lip_layer_forward(l1, a0, a1));
    CHECK_OK(lip_layer_forward(l2, a1, a2));
    compare_tensors("chain forward", y, a2);
    CHECK_OK(lip_layer_backward(l2, a1, a2, dy, g1, 0));
    CHECK_OK(lip_layer_backward(l1, a0, a1, g1, g0, 0));
    CHECK_OK(lip_layer_backward(l0, x, a0, g0, gx, 0));
    compare_tensors("chain dx", dx, gx);
    size_t nh = 0;
    float *g_hand = all_grads(m, &nh);
    CHECK(nh == ng);
    double *gd = test_to_double(g_hand, nh);
    test_compare("chain parameter gradients", g_model, gd, ng, 1e-6, 1e-5);

    /* accumulate: a second backward adds the same gradients */
    CHECK_OK(lip_model_forward(m, x, y));
    CHECK_OK(lip_model_backward(m, dy, NULL, 1));
    float *g_twice = all_grads(m, &nh);
    for (size_t i = 0; i < nh; i++) gd[i] *= 2;
    test_compare("chain accumulated gradients", g_twice, gd, nh, 1e-6, 1e-5);

    /* chunked prediction equals one forward */
    const size_t n = 11;
    lip_tensor *xb = random2(n, in), *yb = tensor2(n, 3), *yc = tensor2(n, 3);
    CHECK_OK(lip_model_forward(m, xb, yb));
    CHECK_OK(lip_model_predict(m, xb, yc, 4));
    compare_tensors("chunked predict", yc, yb);
    CHECK_STATUS(lip_model_backward(m, dy, NULL, 0), LIP_ERR_INVALID_ARGUMENT); /* predict leaves no forward */
    CHECK_MESSAGE(ctx, "lip_model_forward first");

    /* parameters and summary */
    size_t tr = 0, nt = 0;
    CHECK_OK(lip_model_param_counts(m, &tr, &nt));
    CHECK(tr == 7 * 6 + 6 + 6 * 3 + 3);
    CHECK(nt == 6); /* SpectralDense's u */
    char *text = NULL;
    CHECK_OK(lip_model_summary(m, &text));
    CHECK(text && strstr(text, "sd (SpectralDense)") && strstr(text, "(None, 6)") && strstr(text, "gs (GroupSort") &&
          strstr(text, "Trainable params: 69") && strstr(text, "Total params: 75"));
    free(text);

    free(g_model);
    free(g_hand);
    free(g_twice);
    free(gd);
    lip_tensor *owned[] = {x, y, dy, dx, a0, a1, a2, g1, g0, gx, xb, yb, yc};
    for (size_t i = 0; i < sizeof owned / sizeof owned[0]; i++) lip_tensor_free(owned[i]);
    lip_model_free(m);
}

/* y = B(x + A(x)): the input feeds two nodes, so dx collects two contributions. */
static void test_residual(void) {
    const size_t batch = 3, n = 5;
    lip_model *m = NULL;
    CHECK_OK(lip_model_create(ctx, "residual", &m));
    int a = -5, s = -5, b = -5;
    CHECK_OK(lip_model_add_node(m, dense(n, 0), LIP_MODEL_INPUT, &a));
    CHECK_OK(lip_model_add_sum(m, LIP_MODEL_INPUT, a, &s));
    CHECK_OK(lip_model_add_node(m, dense(2, 1), s, &b));
    CHECK(a == 0 && s == 1 && b == 2);
    size_t ishape[1] = {n};
    CHECK_OK(lip_model_build(m, 1, ishape));
    lip_tensor *x = random2(batch, n), *y = tensor2(batch, 2), *dy = random2(batch, 2), *dx = tensor2(batch, n);
    CHECK_OK(lip_model_forward(m, x, y));
    CHECK_OK(lip_model_backward(m, dy, dx, 0));
    size_t ng = 0;
    float *g_model = all_grads(m, &ng);

    lip_layer *la = lip_model_layer(m, 0), *lb = lip_model_layer(m, 2);
    CHECK(lip_model_layer(m, 1) == NULL);
    lip_tensor *ya = tensor2(batch, n), *sum = tensor2(batch, n), *yb = tensor2(batch, 2);
    lip_tensor *gs = tensor2(batch, n), *gxa = tensor2(batch, n), *gx = tensor2(batch, n);
    CHECK_OK(lip_layer_forward(la, x, ya));
    CHECK_OK(lip_add(ctx, x, ya, sum));
    CHECK_OK(lip_layer_forward(lb, sum, yb));
    compare_tensors("residual forward", y, yb);
    CHECK_OK(lip_layer_backward(lb, sum, yb, dy, gs, 0));
    CHECK_OK(lip_layer_backward(la, x, ya, gs, gxa, 0));
    CHECK_OK(lip_add(ctx, gs, gxa, gx));
    compare_tensors("residual dx", dx, gx);
    size_t nh = 0;
    float *g_hand = all_grads(m, &nh);
    double *gd = test_to_double(g_hand, nh);
    CHECK(nh == ng);
    test_compare("residual parameter gradients", g_model, gd, ng, 1e-6, 1e-5);
    free(g_model);
    free(g_hand);
    free(gd);
    lip_tensor *owned[] = {x, y, dy, dx, ya, sum, yb, gs, gxa, gx};
    for (size_t i = 0; i < sizeof owned / sizeof owned[0]; i++) lip_tensor_free(owned[i]);
    lip_model_free(m);
}

static void test_errors(void) {
    lip_model *m = NULL;
    size_t ishape[1] = {4};
    CHECK_STATUS(lip_model_create(ctx, "m", NULL), LIP_ERR_NULL);
    CHECK_OK(lip_model_create(ctx, "empty", &m));
    CHECK_STATUS(lip_model_build(m, 1, ishape), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "has no layers");
    CHECK_STATUS(lip_model_add_node(m, dense(2, 0), 3, NULL), LIP_ERR_INVALID_ARGUMENT); /* freed by the model */
    CHECK_MESSAGE(ctx, "does not exist yet");
    CHECK_OK(lip_model_add(m, dense(4, 0)));
    CHECK_OK(lip_model_add(m, dense(3, 0)));
    CHECK_STATUS(lip_model_add_sum(m, 0, 1, NULL), LIP_OK);
    CHECK_STATUS(lip_model_build(m, 1, ishape), LIP_ERR_SHAPE); /* (4) + (3) */
    CHECK_MESSAGE(ctx, "different shapes");
    lip_model_free(m);

    CHECK_OK(lip_model_create(ctx, "dangling", &m));
    CHECK_OK(lip_model_add_node(m, dense(2, 0), LIP_MODEL_INPUT, NULL));
    CHECK_OK(lip_model_add_node(m, dense(2, 0), LIP_MODEL_INPUT, NULL));
    CHECK_STATUS(lip_model_build(m, 1, ishape), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "node 0 is read by no later node");
    lip_model_free(m);

    CHECK_OK(lip_model_create(ctx, "ok", &m));
    CHECK_OK(lip_model_add(m, dense(2, 0)));
    lip_tensor *x = random2(3, 4), *y = tensor2(3, 2), *ybad = tensor2(2, 2), *xbad = random2(3, 5);
    CHECK_STATUS(lip_model_forward(m, x, y), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "not built");
    CHECK_OK(lip_model_build(m, 1, ishape));
    CHECK_STATUS(lip_model_build(m, 1, ishape), LIP_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(lip_model_add(m, dense(2, 0)), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "is built");
    CHECK_STATUS(lip_model_backward(m, y, NULL, 0), LIP_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(lip_model_forward(m, x, ybad), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "y holds 2 samples, x 3");
    CHECK_STATUS(lip_model_forward(m, xbad, y), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "not a batch of samples of 4 elements");
    CHECK_OK(lip_model_forward(m, x, y));
    CHECK_STATUS(lip_model_backward(m, ybad, NULL, 0), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "forward batch 3");
    lip_tensor_free(x);
    lip_tensor_free(y);
    lip_tensor_free(ybad);
    lip_tensor_free(xbad);
    lip_model_free(m);
    lip_model_free(NULL);
}

int main(void) {
    rng = test_seed(20261126);
    ctx = test_context();
    test_chain();
    test_residual();
    test_errors();
    test_context_free(ctx);
    return test_finish("test_model");
}
