/* lipcl tests — the Dense layer: forward and backward against a double-precision host reference
 * on awkward shapes, central finite differences of L = Σ g·f(x) in double, accumulation, and
 * bad construction / shapes. (Unconstrained: no Lipschitz bound to check.) */
#include <string.h>

#include "check.h"

typedef struct {
    size_t batch, inner, in, units; /* x: (batch, inner, in) or (batch, in) when inner == 0 */
    int use_bias;
} dense_case;

/* y[r, j] = Σ_p x[r, p] W[p, j] + b[j] over rows r of the flattened input. */
static void host_forward(const double *x, const double *w, const double *b, size_t rows, size_t in, size_t units,
                         double *y) {
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < units; j++) {
            double s = b ? b[j] : 0.0;
            for (size_t p = 0; p < in; p++) s += x[r * in + p] * w[p * units + j];
            y[r * units + j] = s;
        }
}

static double host_objective(const double *x, const double *w, const double *b, const double *g, size_t rows,
                             size_t in, size_t units) {
    double *y = malloc(rows * units * sizeof *y), s = 0;
    host_forward(x, w, b, rows, in, units, y);
    for (size_t i = 0; i < rows * units; i++) s += g[i] * y[i];
    free(y);
    return s;
}

static double *to_double(const float *v, size_t n) {
    double *d = malloc(n * sizeof *d);
    for (size_t i = 0; i < n; i++) d[i] = v[i];
    return d;
}

static float *download(lip_tensor *t) {
    size_t n = lip_tensor_count(t);
    float *v = malloc(n * sizeof *v);
    REQUIRE_OK(lip_tensor_download(t, v, n * sizeof *v));
    return v;
}

/* Finite differences of the objective with respect to sampled entries of `var`. */
static void finite_differences(const char *what, double *var, size_t n, const float *device_grad, double *x,
                               double *w, double *b, const double *g, size_t rows, size_t in, size_t units) {
    double worst = 0, scale = 1e-12;
    for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(device_grad[i]));
    size_t step = n > 40 ? n / 40 : 1;
    for (size_t i = 0; i < n; i += step) {
        double keep = var[i], h = 1e-6 * fmax(1.0, fabs(keep));
        var[i] = keep + h;
        double up = host_objective(x, w, b, g, rows, in, units);
        var[i] = keep - h;
        double down = host_objective(x, w, b, g, rows, in, units);
        var[i] = keep;
        double fd = (up - down) / (2 * h);
        worst = fmax(worst, fabs(fd - device_grad[i]) / scale);
    }
    if (worst > 1e-4) fprintf(stderr, "%s: finite-difference relative error %g\n", what, worst);
    CHECK(worst <= 1e-4);
}

static void run_case(lip_context *ctx, const dense_case *c, uint64_t *rng) {
    lip_dense_config cfg = lip_dense_config_default(c->units);
    cfg.use_bias = c->use_bias;
    cfg.bias_init = LIP_INIT_GLOROT_UNIFORM; /* non-zero bias, so the forward test sees it */
    lip_layer *l = NULL;
    REQUIRE_OK(lip_dense_create(ctx, &cfg, "dense_test", &l));
    size_t in_shape[2] = {c->inner, c->in};
    int in_ndim = c->inner ? 2 : 1;
    if (!c->inner) in_shape[0] = c->in;
    REQUIRE_OK(lip_layer_build(l, in_ndim, in_shape));
    int out_ndim = 0;
    size_t out_shape[LIP_MAX_DIMS];
    CHECK_OK(lip_layer_output_shape(l, &out_ndim, out_shape));
    CHECK(out_ndim == in_ndim && out_shape[out_ndim - 1] == c->units);
    CHECK(lip_layer_param_count(l) == (c->use_bias ? 2u : 1u));
    CHECK(strcmp(lip_layer_type(l), "Dense") == 0 && strcmp(lip_layer_name(l), "dense_test") == 0);

    size_t rows = c->batch * (c->inner ? c->inner : 1);
    size_t xs[3] = {c->batch, c->inner, c->in}, ys[3] = {c->batch, c->inner, c->units};
    if (!c->inner) {
        xs[1] = c->in;
        ys[1] = c->units;
    }
    lip_tensor *x = NULL, *y = NULL, *dy = NULL, *dx = NULL;
    REQUIRE_OK(lip_tensor_create(ctx, LIP_FLOAT32, in_ndim + 1, xs, &x));
    REQUIRE_OK(lip_tensor_create(ctx, LIP_FLOAT32, in_ndim + 1, ys, &y));
    REQUIRE_OK(lip_tensor_create(ctx, LIP_FLOAT32, in_ndim + 1, ys, &dy));
    REQUIRE_OK(lip_tensor_create(ctx, LIP_FLOAT32, in_ndim + 1, xs, &dx));
    size_t nx = rows * c->in, ny = rows * c->units;
    float *hx = malloc(nx * sizeof *hx), *hg = malloc(ny * sizeof *hg);
    test_fill_uniform(rng, hx, nx, -1, 1);
    test_fill_uniform(rng, hg, ny, -1, 1);
    REQUIRE_OK(lip_tensor_upload(x, hx, nx * sizeof *hx));
    REQUIRE_OK(lip_tensor_upload(dy, hg, ny * sizeof *hg));
    CHECK_OK(lip_layer_forward(l, x, y));
    CHECK_OK(lip_layer_backward(l, x, y, dy, dx, 0));

    lip_tensor *kw = NULL, *kg = NULL, *bw = NULL, *bg = NULL;
    CHECK_OK(lip_layer_param(l, 0, &kw, &kg, NULL));
    if (c->use_bias) CHECK_OK(lip_layer_param(l, 1, &bw, &bg, NULL));
    float *fw = download(kw), *fb = bw ? download(bw) : NULL;
    double *dxh = to_double(hx, nx), *dgh = to_double(hg, ny), *dw = to_double(fw, c->in * c->units);
    double *db = fb ? to_double(fb, c->units) : NULL;
    double *yref = malloc(ny * sizeof *yref);
    host_forward(dxh, dw, db, rows, c->in, c->units, yref);
    float *fy = download(y);
    double tol = 1e-5 * sqrt((double)c->in);
    test_compare("dense forward", fy, yref, ny, tol, 1e-5);

    /* Exact gradients: dx = g·Wᵀ, dW = xᵀ·g, db = Σ g. */
    double *dxref = calloc(nx, sizeof *dxref), *dwref = calloc(c->in * c->units, sizeof *dwref);
    double *dbref = calloc(c->units, sizeof *dbref);
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < c->units; j++) {
            double gv = dgh[r * c->units + j];
            dbref[j] += gv;
            for (size_t p = 0; p < c->in; p++) {
                dxref[r * c->in + p] += gv * dw[p * c->units + j];
                dwref[p * c->units + j] += gv * dxh[r * c->in + p];
            }
        }
    float *fdx = download(dx), *fdw = download(kg), *fdb = bg ? download(bg) : NULL;
    test_compare("dense dx", fdx, dxref, nx, 1e-5 * sqrt((double)c->units), 1e-5);
    test_compare("dense dW", fdw, dwref, c->in * c->units, 1e-5 * sqrt((double)rows), 1e-5);
    if (fdb) test_compare("dense db", fdb, dbref, c->units, 1e-5 * sqrt((double)rows), 1e-5);
    finite_differences("dense dx (fd)", dxh, nx, fdx, dxh, dw, db, dgh, rows, c->in, c->units);
    finite_differences("dense dW (fd)", dw, c->in * c->units, fdw, dxh, dw, db, dgh, rows, c->in, c->units);
    if (fdb) finite_differences("dense db (fd)", db, c->units, fdb, dxh, dw, db, dgh, rows, c->in, c->units);

    /* accumulate = 1 adds: the parameter gradients double, dx is still written. */
    CHECK_OK(lip_layer_backward(l, x, y, dy, NULL, 1));
    float *fdw2 = download(kg);
    for (size_t i = 0; i < c->in * c->units; i++) dwref[i] *= 2;
    test_compare("dense dW accumulated", fdw2, dwref, c->in * c->units, 2e-5 * sqrt((double)rows), 1e-5);
    if (fdb) {
        float *fdb2 = download(bg);
        for (size_t j = 0; j < c->units; j++) dbref[j] *= 2;
        test_compare("dense db accumulated", fdb2, dbref, c->units, 2e-5 * sqrt((double)rows), 1e-5);
        free(fdb2);
    }
    free(fdw2);
    free(hx), free(hg), free(fw), free(fb), free(dxh), free(dgh), free(dw), free(db), free(yref), free(fy);
    free(dxref), free(dwref), free(dbref), free(fdx), free(fdw), free(fdb);
    lip_tensor_free(x), lip_tensor_free(y), lip_tensor_free(dy), lip_tensor_free(dx);
    lip_layer_free(l);
}

int main(void) {
    uint64_t rng = test_seed(11);
    lip_context *ctx = test_context();
    const dense_case cases[] = {
        {1, 0, 1, 1, 1}, {3, 0, 7, 13, 1}, {5, 0, 13, 1, 0}, {2, 4, 7, 5, 1}, {7, 0, 129, 10, 1}, {1, 3, 1, 257, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_case(ctx, &cases[i], &rng);

    /* Bad construction and use. */
    lip_dense_config cfg = lip_dense_config_default(0);
    lip_layer *l = NULL;
    CHECK_STATUS(lip_dense_create(ctx, &cfg, "bad", &l), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "units must be >= 1");
    CHECK_STATUS(lip_dense_create(ctx, NULL, "bad", &l), LIP_ERR_NULL);
    cfg = lip_dense_config_default(4);
    cfg.kernel_init = (lip_init)42;
    CHECK_STATUS(lip_dense_create(ctx, &cfg, "bad", &l), LIP_ERR_INVALID_ARGUMENT);
    cfg = lip_dense_config_default(4);
    REQUIRE_OK(lip_dense_create(ctx, &cfg, "d1", &l));
    size_t in[1] = {6}, zero[1] = {0};
    size_t xs[2] = {3, 6}, ys[2] = {3, 4}, bad_ys[2] = {2, 4}, bad_xs[2] = {3, 5};
    lip_tensor *x = NULL, *y = NULL, *y2 = NULL, *x5 = NULL;
    REQUIRE_OK(lip_tensor_create(ctx, LIP_FLOAT32, 2, xs, &x));
    REQUIRE_OK(lip_tensor_create(ctx, LIP_FLOAT32, 2, ys, &y));
    REQUIRE_OK(lip_tensor_create(ctx, LIP_FLOAT32, 2, bad_ys, &y2));
    REQUIRE_OK(lip_tensor_create(ctx, LIP_FLOAT32, 2, bad_xs, &x5));
    CHECK_STATUS(lip_layer_forward(l, x, y), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "build it before forward");
    CHECK_STATUS(lip_layer_build(l, 1, zero), LIP_ERR_SHAPE);
    CHECK_STATUS(lip_layer_build(l, 0, in), LIP_ERR_SHAPE);
    CHECK_OK(lip_layer_build(l, 1, in));
    CHECK_STATUS(lip_layer_build(l, 1, in), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "already built");
    CHECK_STATUS(lip_layer_forward(l, x, y2), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "'d1'");
    CHECK_STATUS(lip_layer_forward(l, x5, y), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "samples of 6 elements");
    CHECK_STATUS(lip_layer_backward(l, x, y, y2, NULL, 0), LIP_ERR_SHAPE);
    CHECK_STATUS(lip_layer_forward(l, NULL, y), LIP_ERR_NULL);
    CHECK_STATUS(lip_layer_param(l, 5, NULL, NULL, NULL), LIP_ERR_INVALID_ARGUMENT);
    /* The context refuses to go while the layer lives. */
    lip_tensor_free(x), lip_tensor_free(y), lip_tensor_free(y2), lip_tensor_free(x5);
    CHECK_STATUS(lip_context_free(ctx), LIP_ERR_BUSY);
    CHECK_MESSAGE(ctx, "1 other object");
    lip_layer_free(l);
    lip_layer_free(NULL);
    test_context_free(ctx);
    return test_finish("test_dense");
}
