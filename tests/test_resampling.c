/* lipcl tests — InvertibleDownSampling / InvertibleUpSampling (pixel_unshuffle order, any H and W):
 * host index map, round trips, finite differences, isometry, bad input (golden cases: refrun/). */
#define _POSIX_C_SOURCE 200809L
#include <string.h>

#include "check.h"
#include "layers/resampling.h"
#include "refcase.h"

static lip_context *ctx;
static uint64_t rng;

#define ATOL REFCASE_ATOL
#define RTOL REFCASE_RTOL

/* ---- tensors ---------------------------------------------------------------------------------- */

/* Float32 tensors on the test context; new ones hold a sentinel, so unwritten outputs show. */
static lip_tensor *tensor_new(int ndim, const size_t *shape) { return test_sentinel(ctx, LIP_FLOAT32, ndim, shape); }
static lip_tensor *tensor_up(int ndim, const size_t *shape, const float *h) { return test_upload(ctx, ndim, shape, h); }

static void *xalloc(size_t bytes) {
    void *p = calloc(1, bytes ? bytes : 1);
    if (!p) exit(1);
    return p;
}

/* ---- host reference: the index map of the spec (section 2.9) --------------------------------- */

/* small[b, y, x, c·p0·p1 + i·p1 + j] = large[b, y·p0 + i, x·p1 + j, c] for large (B, H, W, C). */
static void ref_down(const double *large, const size_t *ls, size_t p0, size_t p1, double *small) {
    size_t B = ls[0], H = ls[1], W = ls[2], C = ls[3], SH = H / p0, SW = W / p1, SC = C * p0 * p1;
    for (size_t b = 0; b < B; b++)
        for (size_t y = 0; y < SH; y++)
            for (size_t x = 0; x < SW; x++)
                for (size_t c = 0; c < C; c++)
                    for (size_t i = 0; i < p0; i++)
                        for (size_t j = 0; j < p1; j++)
                            small[((b * SH + y) * SW + x) * SC + c * p0 * p1 + i * p1 + j] =
                                large[((b * H + y * p0 + i) * W + x * p1 + j) * C + c];
}

/* The inverse: large from small, large of shape ls. */
static void ref_up(const double *small, const size_t *ls, size_t p0, size_t p1, double *large) {
    size_t B = ls[0], H = ls[1], W = ls[2], C = ls[3], SH = H / p0, SW = W / p1, SC = C * p0 * p1;
    for (size_t b = 0; b < B; b++)
        for (size_t y = 0; y < SH; y++)
            for (size_t x = 0; x < SW; x++)
                for (size_t c = 0; c < C; c++)
                    for (size_t i = 0; i < p0; i++)
                        for (size_t j = 0; j < p1; j++)
                            large[((b * H + y * p0 + i) * W + x * p1 + j) * C + c] =
                                small[((b * SH + y) * SW + x) * SC + c * p0 * p1 + i * p1 + j];
}

/* f(x) on the host; `in` is x's shape, `out` y's. */
static void ref_forward(lip_resample_dir dir, const double *x, const size_t *in, const size_t *out, size_t p0,
                        size_t p1, double *y) {
    if (dir == LIP_RESAMPLE_DOWN)
        ref_down(x, in, p0, p1, y);
    else
        ref_up(x, out, p0, p1, y);
}

/*
 * One direction, pool and input shape: output shape, forward and backward against the host map,
 * the round trip (bit-exact), finite differences of the host forward, and the isometry.
 */
static void check_resample(lip_resample_dir dir, size_t p0, size_t p1, const size_t *in) {
    char name[160], what[200];
    snprintf(name, sizeof name, "%s(%zux%zu) x(%zu, %zu, %zu, %zu)", lip_resample_name(dir), p0, p1, in[0], in[1],
             in[2], in[3]);
    size_t out[4];
    CHECK_OK(lip_resample_output_shape(ctx, dir, p0, p1, 4, in, out));
    size_t n = in[0] * in[1] * in[2] * in[3];
    CHECK(out[0] * out[1] * out[2] * out[3] == n);
    float *xf = xalloc(n * sizeof *xf), *gf = xalloc(n * sizeof *gf);
    test_fill_uniform(&rng, xf, n, -2, 2);
    test_fill_uniform(&rng, gf, n, -1, 1);
    double *x = test_to_double(xf, n), *g = test_to_double(gf, n);
    double *y = xalloc(n * sizeof *y), *dx = xalloc(n * sizeof *dx);
    lip_tensor *xt = tensor_up(4, in, xf), *gt = tensor_up(4, out, gf), *yt = tensor_new(4, out), *dxt = tensor_new(4, in);
    CHECK_OK(lip_resample_forward(ctx, dir, p0, p1, xt, yt));
    CHECK_OK(lip_resample_backward(ctx, dir, p0, p1, gt, dxt));
    float *gy = test_download(yt), *gdx = test_download(dxt);
    ref_forward(dir, x, in, out, p0, p1, y);
    snprintf(what, sizeof what, "%s: forward", name);
    test_compare(what, gy, y, n, 0, 0); /* a permutation: exact */
    /* backward = the inverse map of g */
    lip_resample_dir inv = dir == LIP_RESAMPLE_DOWN ? LIP_RESAMPLE_UP : LIP_RESAMPLE_DOWN;
    ref_forward(inv, g, out, in, p0, p1, dx);
    snprintf(what, sizeof what, "%s: dx", name);
    test_compare(what, gdx, dx, n, 0, 0);

    /* round trip: the inverse op on y gives x back bit for bit */
    lip_tensor *back = tensor_new(4, in);
    CHECK_OK(lip_resample_forward(ctx, inv, p0, p1, yt, back));
    float *gb = test_download(back);
    CHECK(memcmp(gb, xf, n * sizeof *gb) == 0);
    free(gb);
    lip_tensor_free(back);

    /* finite differences of L = Σ f(x)·g on the host (a linear map: exact away from rounding) */
    double *ybuf = xalloc(n * sizeof *ybuf);
    for (int s = 0; s < 8; s++) {
        size_t e = (size_t)test_uniform(&rng, 0, (double)n);
        double keep = x[e], lp = 0, lm = 0, h = 1e-3;
        x[e] = keep + h;
        ref_forward(dir, x, in, out, p0, p1, ybuf);
        for (size_t i = 0; i < n; i++) lp += ybuf[i] * g[i];
        x[e] = keep - h;
        ref_forward(dir, x, in, out, p0, p1, ybuf);
        for (size_t i = 0; i < n; i++) lm += ybuf[i] * g[i];
        x[e] = keep;
        CHECK_NEAR(gdx[e], (lp - lm) / (2 * h), ATOL + RTOL * fabs(gdx[e]));
    }

    /* isometry: ‖f(a) − f(b)‖ = ‖a − b‖ */
    float *bf = xalloc(n * sizeof *bf);
    for (size_t i = 0; i < n; i++) bf[i] = xf[i] + (float)test_uniform(&rng, -0.5, 0.5);
    lip_tensor *bt = tensor_up(4, in, bf), *fb = tensor_new(4, out);
    CHECK_OK(lip_resample_forward(ctx, dir, p0, p1, bt, fb));
    float *yb = test_download(fb);
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        num += ((double)gy[i] - yb[i]) * ((double)gy[i] - yb[i]);
        den += ((double)xf[i] - bf[i]) * ((double)xf[i] - bf[i]);
    }
    CHECK_NEAR(sqrt(num / den), 1.0, 1e-12);
    free(yb);
    free(bf);
    lip_tensor_free(bt);
    lip_tensor_free(fb);

    free(ybuf);
    free(gy);
    free(gdx);
    free(xf);
    free(gf);
    free(x);
    free(g);
    free(y);
    free(dx);
    lip_tensor_free(xt);
    lip_tensor_free(gt);
    lip_tensor_free(yt);
    lip_tensor_free(dxt);
}

static void test_shapes(void) {
    static const size_t channels[] = {2, 6, 12, 14};
    /* (batch, H, W) and the pools tried on them (down-sampling needs H % p0 == W % p1 == 0) */
    static const size_t spatial[][3] = {{1, 1, 1}, {3, 6, 10}, {1, 13, 13}, {3, 7, 5}, {1, 4, 4}};
    static const size_t pools[][2] = {{1, 1}, {2, 2}, {3, 5}, {2, 1}, {1, 2}, {13, 13}, {1, 13}, {7, 5}, {7, 1}, {4, 2}, {3, 2}};
    for (size_t si = 0; si < sizeof spatial / sizeof spatial[0]; si++)
        for (size_t ci = 0; ci < 4; ci++)
            for (size_t pi = 0; pi < sizeof pools / sizeof pools[0]; pi++) {
                size_t p0 = pools[pi][0], p1 = pools[pi][1];
                size_t large[4] = {spatial[si][0], spatial[si][1], spatial[si][2], channels[ci]};
                if (large[1] % p0 || large[2] % p1) continue;
                check_resample(LIP_RESAMPLE_DOWN, p0, p1, large);
                /* up-sampling of the matching small image */
                size_t small[4] = {large[0], large[1] / p0, large[2] / p1, large[3] * p0 * p1};
                check_resample(LIP_RESAMPLE_UP, p0, p1, small);
            }
}

static void test_errors(void) {
    size_t s[4] = {2, 6, 5, 3}, s3[3] = {2, 6, 5}, o[4] = {2, 3, 5, 6}, wrong[4] = {2, 3, 5, 3};
    lip_tensor *x = tensor_new(4, s), *x3 = tensor_new(3, s3), *y = tensor_new(4, o), *yw = tensor_new(4, wrong);
    CHECK_STATUS(lip_resample_forward(ctx, LIP_RESAMPLE_DOWN, 2, 2, x, y), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "InvertibleDownSampling: input 6x5 is not divisible by the pool 2x2");
    CHECK_OK(lip_resample_forward(ctx, LIP_RESAMPLE_DOWN, 2, 1, x, y));
    CHECK_STATUS(lip_resample_forward(ctx, LIP_RESAMPLE_DOWN, 2, 1, x, yw), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "InvertibleDownSampling: y (2, 3, 5, 3) must be (2, 3, 5, 6)");
    CHECK_STATUS(lip_resample_forward(ctx, LIP_RESAMPLE_UP, 2, 2, x, y), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "InvertibleUpSampling: 3 channels is not a multiple of the pool area 2x2 = 4");
    CHECK_STATUS(lip_resample_forward(ctx, LIP_RESAMPLE_DOWN, 0, 2, x, y), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "pool size 0x2 must be >= 1");
    CHECK_STATUS(lip_resample_forward(ctx, LIP_RESAMPLE_DOWN, 2, 1, x3, y), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "must be 4-D NHWC");
    CHECK_STATUS(lip_resample_forward(ctx, LIP_RESAMPLE_DOWN, 1, 1, x, x), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "y must not be the same tensor as x");
    CHECK_STATUS(lip_resample_backward(ctx, LIP_RESAMPLE_DOWN, 2, 1, x, y), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "InvertibleDownSampling backward: dy (2, 6, 5, 3): InvertibleUpSampling: 3 channels is not a "
                       "multiple of the pool area 2x1 = 2");
    CHECK_STATUS(lip_resample_backward(ctx, LIP_RESAMPLE_DOWN, 2, 1, y, yw), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "InvertibleDownSampling backward: dx (2, 3, 5, 3) must be (2, 6, 5, 3)");
    CHECK_OK(lip_resample_backward(ctx, LIP_RESAMPLE_DOWN, 2, 1, y, x));
    CHECK_STATUS(lip_resample_forward(ctx, (lip_resample_dir)7, 1, 1, x, y), LIP_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(lip_resample_forward(ctx, LIP_RESAMPLE_DOWN, 1, 1, NULL, y), LIP_ERR_NULL);
    CHECK_STATUS(lip_resample_forward(NULL, LIP_RESAMPLE_DOWN, 1, 1, x, y), LIP_ERR_NULL);
    lip_tensor_free(x);
    lip_tensor_free(x3);
    lip_tensor_free(y);
    lip_tensor_free(yw);
}

int main(void) {
    rng = test_seed(20240613);
    ctx = test_context();
    test_errors();
    test_shapes();
    test_context_free(ctx);
    return test_finish("test_resampling");
}
