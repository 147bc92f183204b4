/* lipcl tests — the layers that only move elements (InvertibleDownSampling, InvertibleUpSampling,
 * Flatten, Reshape) through the public layer API: host index maps, gradients, exact isometry,
 * output shapes, aliasing, and bad construction / shapes with their messages. */
#include <string.h>

#include "check.h"

static uint64_t rng;

/* deel-lip 1.5.1's map (pixel_unshuffle): small[b, y, x, c·p0·p1 + i·p1 + j] = large[b, y·p0 + i, x·p1 + j, c]
 * for the large image (H, W, C). Returns the flat index in `small` of large element `e`. */
static size_t small_index(size_t e, size_t H, size_t W, size_t C, size_t p0, size_t p1) {
    size_t c = e % C, xx = (e / C) % W, yy = (e / (C * W)) % H, b = e / (C * W * H);
    size_t oh = H / p0, ow = W / p1, oc = C * p0 * p1;
    size_t y = yy / p0, i = yy % p0, x = xx / p1, j = xx % p1;
    return ((b * oh + y) * ow + x) * oc + c * p0 * p1 + i * p1 + j;
}

/* Per-sample ‖f(a) − f(b)‖ / ‖a − b‖: smallest and largest over the batch. */
static void ratios(const float *xa, const float *xb, const float *ya, const float *yb, size_t batch, size_t per,
                   double *lo, double *hi) {
    *lo = INFINITY, *hi = 0;
    for (size_t b = 0; b < batch; b++) {
        double dxn = 0, dyn = 0;
        for (size_t i = 0; i < per; i++) {
            dxn += pow((double)xa[b * per + i] - xb[b * per + i], 2);
            dyn += pow((double)ya[b * per + i] - yb[b * per + i], 2);
        }
        *lo = fmin(*lo, sqrt(dyn / dxn));
        *hi = fmax(*hi, sqrt(dyn / dxn));
    }
}

/*
 * Build `l` on `in` (per sample), check its output shape `want`, then forward and backward on a batch
 * against `map` (the output index of each input element; NULL = identity: Flatten/Reshape), finite
 * differences of Σ g·f on the host map, and the isometry on a random pair.
 */
static void check_layer(lip_context *ctx, lip_layer *l, const char *type, int in_ndim, const size_t *in, int out_ndim,
                        const size_t *want, size_t batch, size_t (*map)(size_t, const size_t *, size_t),
                        const size_t *map_args) {
    char label[96];
    snprintf(label, sizeof label, "%s '%s'", type, lip_layer_name(l));
    REQUIRE_OK(lip_layer_build(l, in_ndim, in));
    CHECK(strcmp(lip_layer_type(l), type) == 0);
    CHECK(lip_layer_param_count(l) == 0);
    int ond = 0;
    size_t os[LIP_MAX_DIMS];
    CHECK_OK(lip_layer_output_shape(l, &ond, os));
    CHECK(ond == out_ndim);
    for (int i = 0; i < out_ndim && i < ond; i++) CHECK(os[i] == want[i]);
    size_t per = 1;
    for (int i = 0; i < in_ndim; i++) per *= in[i];
    size_t n = batch * per;
    lip_tensor *x = NULL, *dy = NULL, *y = test_sentinel(ctx, LIP_FLOAT32, 1, &n);
    lip_tensor *dx = test_sentinel(ctx, LIP_FLOAT32, 1, &n);
    REQUIRE_OK(lip_tensor_create(ctx, LIP_FLOAT32, 1, &n, &x));
    REQUIRE_OK(lip_tensor_create(ctx, LIP_FLOAT32, 1, &n, &dy));
    float *hx = test_falloc(n), *hg = test_falloc(n);
    test_fill_uniform(&rng, hx, n, -3, 3);
    test_fill_uniform(&rng, hg, n, -1, 1);
    REQUIRE_OK(lip_tensor_upload(x, hx, n * sizeof(float)));
    REQUIRE_OK(lip_tensor_upload(dy, hg, n * sizeof(float)));
    CHECK_OK(lip_layer_forward(l, x, y));
    CHECK_OK(lip_layer_backward(l, x, y, dy, dx, 0));
    float *fy = test_download(y), *fdx = test_download(dx);
    /* y[map(e)] = x[e] exactly and dx[e] = dy[map(e)] exactly (a permutation: no arithmetic). */
    double *yref = malloc(n * sizeof *yref), *dxref = malloc(n * sizeof *dxref);
    for (size_t e = 0; e < n; e++) {
        size_t o = map ? map(e, map_args, per) : e;
        yref[o] = hx[e];
        dxref[e] = hg[o];
    }
    test_compare(label, fy, yref, n, 0, 0);
    test_compare(label, fdx, dxref, n, 0, 0);
    /* Central differences of L(x) = Σ g·f(x) in double (f linear: exact up to rounding). */
    double worst = 0;
    size_t step = n > 50 ? n / 50 : 1;
    for (size_t e = 0; e < n; e += step) {
        double h = 1e-3, lp = 0, lm = 0;
        for (size_t i = 0; i < n; i++) {
            size_t o = map ? map(i, map_args, per) : i;
            double v = hx[i];
            lp += hg[o] * (v + (i == e ? h : 0));
            lm += hg[o] * (v - (i == e ? h : 0));
        }
        worst = fmax(worst, fabs((lp - lm) / (2 * h) - fdx[e]));
    }
    if (worst > 1e-9) fprintf(stderr, "%s: finite-difference error %g\n", label, worst);
    CHECK(worst <= 1e-9);
    CHECK_OK(lip_layer_backward(l, x, NULL, dy, NULL, 1)); /* no dx wanted, nothing to accumulate */
    /* Exactly isometric: the norm of a difference is kept. */
    float *hx2 = test_falloc(n), *fy2;
    for (size_t i = 0; i < n; i++) hx2[i] = hx[i] + (float)test_uniform(&rng, -1, 1);
    REQUIRE_OK(lip_tensor_upload(x, hx2, n * sizeof(float)));
    CHECK_OK(lip_layer_forward(l, x, y));
    fy2 = test_download(y);
    double lo, hi;
    ratios(hx, hx2, fy, fy2, batch, per, &lo, &hi);
    CHECK_NEAR(lo, 1.0, 1e-12);
    CHECK_NEAR(hi, 1.0, 1e-12);
    free(hx), free(hg), free(fy), free(fdx), free(yref), free(dxref), free(hx2), free(fy2);
    lip_tensor_free(x), lip_tensor_free(y), lip_tensor_free(dy), lip_tensor_free(dx);
    lip_layer_free(l);
}

/* Output index of input element e. args: H, W, C of the large image, p0, p1. */
static size_t down_map(size_t e, const size_t *a, size_t per) {
    (void)per;
    return small_index(e, a[0], a[1], a[2], a[3], a[4]);
}

/* Up-sampling's input is the small image: its element e is the large element whose small index is e.
 * The inverse is found by scanning one sample (the tests' images are small). */
static size_t up_map(size_t e, const size_t *a, size_t per) {
    size_t b = e / per, local = e % per;
    for (size_t l = 0; l < per; l++)
        if (small_index(l, a[0], a[1], a[2], a[3], a[4]) == local) return b * per + l;
    return (size_t)-1;
}

static void resampling(lip_context *ctx) {
    lip_layer *l = NULL;
    /* Down: (H, W, C) → (H/p0, W/p1, C·p0·p1). */
    const size_t down_cases[][5] = {{4, 6, 3, 2, 2}, {6, 5, 1, 3, 1}, {1, 1, 2, 1, 1}, {2, 7, 5, 2, 7}};
    for (size_t i = 0; i < sizeof down_cases / sizeof down_cases[0]; i++) {
        const size_t *a = down_cases[i];
        REQUIRE_OK(lip_invertible_downsampling_create(ctx, a[3], a[4], "down", &l));
        size_t want[3] = {a[0] / a[3], a[1] / a[4], a[2] * a[3] * a[4]};
        check_layer(ctx, l, "InvertibleDownSampling", 3, a, 3, want, 3, down_map, a);
    }
    /* Up: the small (h, w, C·p0·p1) → (h·p0, w·p1, C); H ≠ W on purpose (deel-lip's own is wrong there). */
    const size_t up_cases[][5] = {{6, 10, 2, 2, 2}, {2, 6, 1, 1, 3}, {3, 3, 1, 3, 3}};
    for (size_t i = 0; i < sizeof up_cases / sizeof up_cases[0]; i++) {
        const size_t *a = up_cases[i]; /* the large image (H, W, C) and the pool */
        REQUIRE_OK(lip_invertible_upsampling_create(ctx, a[3], a[4], "up", &l));
        size_t small[3] = {a[0] / a[3], a[1] / a[4], a[2] * a[3] * a[4]};
        check_layer(ctx, l, "InvertibleUpSampling", 3, small, 3, a, 2, up_map, a);
    }
    /* Down then up is the identity. */
    lip_layer *down = NULL, *up = NULL;
    REQUIRE_OK(lip_invertible_downsampling_create(ctx, 2, 3, "d", &down));
    REQUIRE_OK(lip_invertible_upsampling_create(ctx, 2, 3, "u", &up));
    size_t img[3] = {4, 9, 5}, mid[3] = {2, 3, 30}, n = 2 * 4 * 9 * 5;
    REQUIRE_OK(lip_layer_build(down, 3, img));
    REQUIRE_OK(lip_layer_build(up, 3, mid));
    float *hx = test_falloc(n);
    test_fill_uniform(&rng, hx, n, -1, 1);
    lip_tensor *x = test_upload(ctx, 1, &n, hx), *m = test_sentinel(ctx, LIP_FLOAT32, 1, &n);
    lip_tensor *back = test_sentinel(ctx, LIP_FLOAT32, 1, &n);
    CHECK_OK(lip_layer_forward(down, x, m));
    CHECK_OK(lip_layer_forward(up, m, back));
    float *hb = test_download(back);
    CHECK(memcmp(hx, hb, n * sizeof *hx) == 0);
    free(hx), free(hb);
    lip_tensor_free(x), lip_tensor_free(m), lip_tensor_free(back);
    lip_layer_free(down), lip_layer_free(up);

    /* Bad construction and shapes. */
    l = (lip_layer *)&rng;
    CHECK_STATUS(lip_invertible_downsampling_create(ctx, 0, 2, "d0", &l), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "InvertibleDownSampling 'd0': pool size 0x2");
    CHECK(l == NULL);
    CHECK_STATUS(lip_invertible_upsampling_create(ctx, 2, 0, "u0", &l), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "InvertibleUpSampling 'u0': pool size 2x0");
    CHECK_STATUS(lip_invertible_upsampling_create(NULL, 2, 2, "u0", &l), LIP_ERR_NULL);
    REQUIRE_OK(lip_invertible_downsampling_create(ctx, 2, 2, "d", &l));
    size_t odd[3] = {5, 6, 1}, flat[1] = {24};
    CHECK_STATUS(lip_layer_build(l, 3, odd), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "InvertibleDownSampling 'd': input 5x6 is not divisible by the pool 2x2");
    CHECK_STATUS(lip_layer_build(l, 1, flat), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "InvertibleDownSampling 'd': the input must be an image");
    lip_layer_free(l);
    REQUIRE_OK(lip_invertible_upsampling_create(ctx, 2, 2, "u", &l));
    size_t six[3] = {2, 2, 6};
    CHECK_STATUS(lip_layer_build(l, 3, six), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "InvertibleUpSampling 'u': 6 channels is not a multiple of the pool area 2x2 = 4");
    lip_layer_free(l);
}

static void reshaping(lip_context *ctx) {
    lip_layer *l = NULL;
    /* Flatten: any rank to one axis. */
    const size_t s3[3] = {3, 5, 2}, s1[1] = {7}, ones[3] = {1, 1, 1};
    size_t f30 = 30, f7 = 7, f1 = 1;
    REQUIRE_OK(lip_flatten_create(ctx, "flat", &l));
    check_layer(ctx, l, "Flatten", 3, s3, 1, &f30, 4, NULL, NULL);
    REQUIRE_OK(lip_flatten_create(ctx, "flat", &l));
    check_layer(ctx, l, "Flatten", 1, s1, 1, &f7, 1, NULL, NULL);
    REQUIRE_OK(lip_flatten_create(ctx, NULL, &l));
    check_layer(ctx, l, "Flatten", 3, ones, 1, &f1, 3, NULL, NULL);
    /* Reshape, with and without an inferred entry. */
    const size_t s56[2] = {5, 6}, t30[3] = {2, 5, 3}, t3x0[2] = {3, 0}, r3x10[2] = {3, 10}, t0x3[3] = {2, 0, 3};
    const size_t r2x5x3[3] = {2, 5, 3};
    REQUIRE_OK(lip_reshape_create(ctx, 2, t3x0, "r", &l));
    check_layer(ctx, l, "Reshape", 2, s56, 2, r3x10, 2, NULL, NULL);
    REQUIRE_OK(lip_reshape_create(ctx, 3, t30, "r", &l));
    check_layer(ctx, l, "Reshape", 1, &f30, 3, r2x5x3, 3, NULL, NULL);
    REQUIRE_OK(lip_reshape_create(ctx, 3, t0x3, "r", &l));
    check_layer(ctx, l, "Reshape", 3, s3, 3, r2x5x3, 1, NULL, NULL);
    REQUIRE_OK(lip_reshape_create(ctx, 1, &f1, "r", &l));
    check_layer(ctx, l, "Reshape", 3, ones, 1, &f1, 2, NULL, NULL);

    /* In place: the same tensor as input and output (no copy is made, nothing fails). */
    REQUIRE_OK(lip_flatten_create(ctx, "inplace", &l));
    REQUIRE_OK(lip_layer_build(l, 3, s3));
    size_t n = 2 * 30;
    float *hx = test_falloc(n);
    test_fill_uniform(&rng, hx, n, -1, 1);
    lip_tensor *x = test_upload(ctx, 1, &n, hx);
    CHECK_OK(lip_layer_forward(l, x, x));
    CHECK_OK(lip_layer_backward(l, x, x, x, x, 0));
    float *hb = test_download(x);
    CHECK(memcmp(hx, hb, n * sizeof *hx) == 0);
    free(hx), free(hb);
    lip_tensor_free(x);
    lip_layer_free(l);

    /* Bad construction and shapes. */
    const size_t t4x8[2] = {4, 8}, t00[2] = {0, 0}, t4x0[2] = {4, 0};
    l = (lip_layer *)&rng;
    CHECK_STATUS(lip_reshape_create(ctx, 2, t00, "r2", &l), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "Reshape 'r2': target ?x? has 2 inferred dimensions");
    CHECK(l == NULL);
    CHECK_STATUS(lip_reshape_create(ctx, 0, t4x8, "r0", &l), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "Reshape 'r0': target rank 0 outside 1..3");
    CHECK_STATUS(lip_reshape_create(ctx, 4, t4x8, "r4", &l), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "target rank 4");
    CHECK_STATUS(lip_reshape_create(ctx, 2, NULL, "rn", &l), LIP_ERR_NULL);
    CHECK_MESSAGE(ctx, "Reshape 'rn': target shape is NULL");
    CHECK_STATUS(lip_reshape_create(ctx, 2, t4x8, "rn", NULL), LIP_ERR_NULL);
    CHECK_STATUS(lip_flatten_create(ctx, "f", NULL), LIP_ERR_NULL);
    REQUIRE_OK(lip_reshape_create(ctx, 2, t4x8, "r", &l));
    CHECK_STATUS(lip_layer_build(l, 2, s56), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "Reshape 'r': 30 elements (input 5x6) cannot become 4x8");
    lip_layer_free(l);
    REQUIRE_OK(lip_reshape_create(ctx, 2, t4x0, "ri", &l));
    CHECK_STATUS(lip_layer_build(l, 1, &f30), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "Reshape 'ri': 30 elements (input 30) cannot become 4x?: 30 is not a multiple of 4");
    size_t f32 = 32, dummy[LIP_MAX_DIMS];
    CHECK_OK(lip_layer_build(l, 1, &f32)); /* a failed build can be retried */
    int ond = 0;
    CHECK_OK(lip_layer_output_shape(l, &ond, dummy));
    CHECK(ond == 2 && dummy[0] == 4 && dummy[1] == 8);
    /* A batch whose count does not match is refused by the layer API, naming the layer. */
    size_t bad = 33;
    lip_tensor *tx = test_sentinel(ctx, LIP_FLOAT32, 1, &bad), *ty = test_sentinel(ctx, LIP_FLOAT32, 1, &f32);
    CHECK_STATUS(lip_layer_forward(l, tx, ty), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "Reshape 'ri'");
    lip_tensor_free(tx), lip_tensor_free(ty);
    lip_layer_free(l);
}

int main(void) {
    rng = test_seed(23);
    lip_context *ctx = test_context();
    resampling(ctx);
    reshaping(ctx);
    test_context_free(ctx);
    return test_finish("test_reshape_layers");
}
