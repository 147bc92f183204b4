/* lipcl tests — 2-D convolution ops (src/tensor/conv2d.c): forward, backward data, backward filter for
 * every pad mode and both algorithms, against a double host reference; adjoint identity; bad input. */
#define _POSIX_C_SOURCE 200809L
#include <string.h>

#include "check.h"
#include "tensor/conv2d.h"

static lip_context *ctx;
static uint64_t rng;
static char case_name[256]; /* printed with every failure of the current case */

/* Tolerance: |got − ref| ≤ ATOL + RTOL·Σ|terms| (the same sum on absolute values), which bounds the
 * float32 rounding of any summation order of the ≤ 1000 products an element adds here. */
#define ATOL 1e-6
#define RTOL 1e-5

/* ---- host reference in double ----------------------------------------------------------------- */

/* The geometry, computed independently of the library. */
typedef struct tgeom {
    size_t b, h, w, c, kh, kw, co, sh, sw, pt, pl, oh, ow;
    lip_pad_mode mode;
} tgeom;

/* Fills t; returns 0 when the configuration must be refused (kernel > input for VALID, pad too large). */
static int make_tgeom(size_t b, size_t h, size_t w, size_t c, size_t kh, size_t kw, size_t co, size_t sh, size_t sw,
                      lip_padding padding, lip_pad_mode mode, tgeom *t) {
    memset(t, 0, sizeof *t);
    t->b = b, t->h = h, t->w = w, t->c = c, t->kh = kh, t->kw = kw, t->co = co, t->sh = sh, t->sw = sw;
    t->mode = mode;
    if (padding == LIP_PADDING_VALID) {
        if (kh > h || kw > w) return 0;
        t->mode = LIP_PAD_ZEROS;
        t->oh = (h - kh) / sh + 1;
        t->ow = (w - kw) / sw + 1;
    } else if (mode == LIP_PAD_ZEROS) { /* TF SAME */
        t->oh = (h + sh - 1) / sh;
        t->ow = (w + sw - 1) / sw;
        long th = (long)((t->oh - 1) * sh + kh) - (long)h, tw = (long)((t->ow - 1) * sw + kw) - (long)w;
        t->pt = th > 0 ? (size_t)(th / 2) : 0;
        t->pl = tw > 0 ? (size_t)(tw / 2) : 0;
    } else { /* deel-lip PadConv2D: pad k/2 on each side, then VALID */
        t->pt = kh / 2;
        t->pl = kw / 2;
        size_t lim_h = mode == LIP_PAD_REFLECT ? h - 1 : h, lim_w = mode == LIP_PAD_REFLECT ? w - 1 : w;
        if (t->pt > lim_h || t->pl > lim_w) return 0;
        t->oh = (h + 2 * t->pt - kh) / sh + 1;
        t->ow = (w + 2 * t->pl - kw) / sw + 1;
    }
    return 1;
}

/* Source pixel of padded coordinate r along n pixels, −1 for a zero: written as the pad itself
 * (build the padded axis explicitly) rather than as a formula, so it checks the kernels' formula. */
static long src_index(long r, long n, long pad, lip_pad_mode mode) {
    if (r >= 0 && r < n) return r;
    if (mode == LIP_PAD_ZEROS) return -1;
    /* Padded axis: pad entries, the n pixels, pad entries (pad ≤ n; reflect pad < n). */
    if (r < 0) {
        long d = -r; /* 1 .. pad: distance before the first pixel */
        if (mode == LIP_PAD_REFLECT) return d;          /* x_d .. x1 | x0 */
        if (mode == LIP_PAD_SYMMETRIC) return d - 1;    /* x_{d-1} .. x0 | x0 */
        return n - d;                                   /* circular: x_{n-d} .. x_{n-1} | x0 */
    }
    long d = r - n + 1; /* 1 .. pad: distance after the last pixel */
    (void)pad;
    if (mode == LIP_PAD_REFLECT) return n - 1 - d;
    if (mode == LIP_PAD_SYMMETRIC) return n - d;
    return d - 1;
}

static size_t xcount(const tgeom *g) { return g->b * g->h * g->w * g->c; }
static size_t ycount(const tgeom *g) { return g->b * g->oh * g->ow * g->co; }
static size_t kcount(const tgeom *g) { return g->kh * g->kw * g->c * g->co; }

/* Calls f(xi, ki, yi) for every product x[xi]·K[ki] that enters y[yi]: the conv as a list of terms. */
#define FOR_EACH_TERM(g, BODY)                                                                               \
    for (size_t b_ = 0; b_ < (g)->b; b_++)                                                                   \
        for (size_t oy_ = 0; oy_ < (g)->oh; oy_++)                                                           \
            for (size_t ox_ = 0; ox_ < (g)->ow; ox_++)                                                       \
                for (size_t i_ = 0; i_ < (g)->kh; i_++) {                                                    \
                    long yy_ = src_index((long)(oy_ * (g)->sh + i_) - (long)(g)->pt, (long)(g)->h, (long)(g)->pt, \
                                         (g)->mode);                                                         \
                    if (yy_ < 0) continue;                                                                   \
                    for (size_t j_ = 0; j_ < (g)->kw; j_++) {                                                \
                        long xx_ = src_index((long)(ox_ * (g)->sw + j_) - (long)(g)->pl, (long)(g)->w,       \
                                             (long)(g)->pl, (g)->mode);                                      \
                        if (xx_ < 0) continue;                                                               \
                        for (size_t c_ = 0; c_ < (g)->c; c_++)                                               \
                            for (size_t o_ = 0; o_ < (g)->co; o_++) {                                        \
                                const size_t xi = (((b_ * (g)->h + (size_t)yy_) * (g)->w) + (size_t)xx_) * (g)->c + c_; \
                                const size_t ki = ((i_ * (g)->kw + j_) * (g)->c + c_) * (g)->co + o_;        \
                                const size_t yi = ((b_ * (g)->oh + oy_) * (g)->ow + ox_) * (g)->co + o_;     \
                                BODY;                                                                        \
                            }                                                                                \
                    }                                                                                        \
                }

/* y = conv(x, K) + bias; with absval, every term and the bias taken in absolute value. */
static void ref_forward(const tgeom *g, const float *x, const float *k, const float *bias, double *y, int absval) {
    for (size_t i = 0; i < ycount(g); i++) y[i] = bias ? (absval ? fabs(bias[i % g->co]) : bias[i % g->co]) : 0.0;
    FOR_EACH_TERM(g, {
        double t = (double)x[xi] * k[ki];
        y[yi] += absval ? fabs(t) : t;
    })
}

/* dx = Σ dy·K over the terms that read each x (a scatter: independent of the kernels' gather). */
static void ref_backward_data(const tgeom *g, const float *dy, const float *k, double *dx, int absval) {
    for (size_t i = 0; i < xcount(g); i++) dx[i] = 0.0;
    FOR_EACH_TERM(g, {
        double t = (double)dy[yi] * k[ki];
        dx[xi] += absval ? fabs(t) : t;
    })
}

static void ref_backward_filter(const tgeom *g, const float *x, const float *dy, double *dk, int absval) {
    for (size_t i = 0; i < kcount(g); i++) dk[i] = 0.0;
    FOR_EACH_TERM(g, {
        double t = (double)x[xi] * dy[yi];
        dk[ki] += absval ? fabs(t) : t;
    })
}

/* ---- helpers ------------------------------------------------------------------------------------ */

static double *dalloc(size_t n) {
    double *p = calloc(n ? n : 1, sizeof *p);
    if (!p) exit(1);
    return p;
}

static float *frand(size_t n) {
    float *p = test_falloc(n);
    test_fill_uniform(&rng, p, n, -1.0, 1.0);
    return p;
}

static lip_tensor *up(size_t n, const float *h) {
    size_t shape[1] = {n};
    return test_upload(ctx, 1, shape, h);
}

/* got vs ref within ATOL + RTOL·absref (+ `base`, added to ref, for accumulate checks). */
static void compare(const char *what, const float *got, const double *ref, const double *absref, const float *base,
                    size_t n) {
    size_t bad = 0, worst = 0;
    double worst_ratio = 0.0;
    test_checks++;
    for (size_t i = 0; i < n; i++) {
        double r = ref[i] + (base ? (double)base[i] : 0.0);
        double tol = ATOL + RTOL * (absref[i] + (base ? fabs((double)base[i]) : 0.0));
        double err = fabs((double)got[i] - r);
        if (!(err <= tol)) {
            bad++;
            double ratio = err / tol;
            if (!(ratio <= worst_ratio)) {
                worst_ratio = ratio;
                worst = i;
            }
        }
    }
    if (bad) {
        fprintf(stderr, "%s: %s: %zu of %zu elements off; worst [%zu] = %.9g, expected %.9g\n", case_name, what, bad, n,
                worst, (double)got[worst], ref[worst] + (base ? (double)base[worst] : 0.0));
        test_failures++;
    }
}

/* ---- one case ------------------------------------------------------------------------------------ */

static const char *mode_name(lip_pad_mode m) {
    static const char *names[] = {"zeros", "reflect", "symmetric", "circular"};
    return names[m];
}

static int cases_run = 0, cases_refused = 0;

/* Runs every op with both algorithms on one geometry; configurations the library must refuse are
 * checked for LIP_ERR_SHAPE. */
static void run_case(size_t b, size_t h, size_t w, size_t c, size_t kh, size_t kw, size_t co, size_t sh, size_t sw,
                     lip_padding padding, lip_pad_mode mode, int use_bias) {
    snprintf(case_name, sizeof case_name, "b%zu %zux%zux%zu k%zux%zu co%zu s%zux%zu %s %s%s", b, h, w, c, kh, kw, co,
             sh, sw, padding == LIP_PADDING_SAME ? "SAME" : "VALID", mode_name(mode), use_bias ? " bias" : "");
    tgeom t;
    const int valid = make_tgeom(b, h, w, c, kh, kw, co, sh, sw, padding, mode, &t);
    lip_conv2d_geom g;
    lip_status st = lip_conv2d_geom_make(ctx, "conv", b, h, w, c, kh, kw, co, sh, sw, padding, mode, &g);
    if (!valid) {
        cases_refused++;
        CHECK_STATUS(st, LIP_ERR_SHAPE);
        CHECK_MESSAGE(ctx, "conv: ");
        CHECK_MESSAGE(ctx, padding == LIP_PADDING_VALID ? "larger than the input" : mode_name(mode));
        return;
    }
    cases_run++;
    CHECK_OK(st);
    if (st != LIP_OK) {
        fprintf(stderr, "%s: geometry refused\n", case_name);
        return;
    }
    test_checks++;
    if (g.out_h != t.oh || g.out_w != t.ow || g.pad_top != t.pt || g.pad_left != t.pl || g.pad_mode != t.mode) {
        fprintf(stderr, "%s: geometry out %zux%zu pad %zu,%zu mode %d, expected out %zux%zu pad %zu,%zu mode %d\n",
                case_name, g.out_h, g.out_w, g.pad_top, g.pad_left, (int)g.pad_mode, t.oh, t.ow, t.pt, t.pl,
                (int)t.mode);
        test_failures++;
        return;
    }
    const size_t nx = xcount(&t), ny = ycount(&t), nk = kcount(&t);
    float *hx = frand(nx), *hk = frand(nk), *hdy = frand(ny), *hb = frand(co);
    float *base_dx = frand(nx), *base_dk = frand(nk);
    double *ry = dalloc(ny), *ay = dalloc(ny), *rdx = dalloc(nx), *adx = dalloc(nx), *rdk = dalloc(nk),
           *adk = dalloc(nk);
    ref_forward(&t, hx, hk, use_bias ? hb : NULL, ry, 0);
    ref_forward(&t, hx, hk, use_bias ? hb : NULL, ay, 1);
    ref_backward_data(&t, hdy, hk, rdx, 0);
    ref_backward_data(&t, hdy, hk, adx, 1);
    ref_backward_filter(&t, hx, hdy, rdk, 0);
    ref_backward_filter(&t, hx, hdy, adk, 1);

    /* The references themselves: <conv(x), dy> = <x, conv_backward_data(dy)> (bias excluded). */
    {
        double lhs = 0, rhs = 0, scale = 0;
        for (size_t i = 0; i < ny; i++) {
            double yb = ry[i] - (use_bias ? (double)hb[i % co] : 0.0);
            lhs += yb * hdy[i];
            scale += fabs(yb * hdy[i]);
        }
        for (size_t i = 0; i < nx; i++) rhs += (double)hx[i] * rdx[i];
        test_checks++;
        if (!(fabs(lhs - rhs) <= 1e-12 * (1 + scale))) {
            fprintf(stderr, "%s: host references not adjoint: %.17g vs %.17g\n", case_name, lhs, rhs);
            test_failures++;
        }
    }

    lip_tensor *x = up(nx, hx), *k = up(nk, hk), *dy = up(ny, hdy), *bias = up(co, hb);
    size_t sy[1] = {ny}, sx[1] = {nx}, sk[1] = {nk};
    lip_tensor *y = test_sentinel(ctx, LIP_FLOAT32, 1, sy), *dx = test_sentinel(ctx, LIP_FLOAT32, 1, sx),
               *dk = test_sentinel(ctx, LIP_FLOAT32, 1, sk);
    float *out_y = test_falloc(ny), *out_dx = test_falloc(nx), *out_dk = test_falloc(nk);
    const lip_conv2d_algo algos[2] = {LIP_CONV_ALGO_DIRECT, LIP_CONV_ALGO_IM2COL};
    const size_t base_len = strlen(case_name);
    for (int a = 0; a < 2; a++) {
        g.algo = algos[a];
        snprintf(case_name + base_len, sizeof case_name - base_len, " [%s]", a ? "im2col" : "direct");
        test_checks++;
        if (strcmp(lip_conv2d_algorithm(ctx, &g), a ? "im2col" : "direct") != 0) {
            fprintf(stderr, "%s: lip_conv2d_algorithm says %s\n", case_name, lip_conv2d_algorithm(ctx, &g));
            test_failures++;
        }
        CHECK_OK(lip_conv2d_forward(ctx, &g, x, k, use_bias ? bias : NULL, y));
        test_read(y, out_y);
        compare("forward", out_y, ry, ay, NULL, ny);

        CHECK_OK(lip_conv2d_backward_data(ctx, &g, dy, k, dx, 0));
        test_read(dx, out_dx);
        compare("backward data", out_dx, rdx, adx, NULL, nx);
        /* The adjoint identity on the device results, in double. */
        {
            double lhs = 0, rhs = 0, scale = 0;
            for (size_t i = 0; i < ny; i++) {
                double yb = (double)out_y[i] - (use_bias ? (double)hb[i % co] : 0.0);
                lhs += yb * hdy[i];
                scale += ay[i] * fabs((double)hdy[i]);
            }
            for (size_t i = 0; i < nx; i++) {
                rhs += (double)hx[i] * out_dx[i];
                scale += fabs((double)hx[i]) * adx[i];
            }
            test_checks++;
            if (!(fabs(lhs - rhs) <= ATOL + RTOL * scale)) {
                fprintf(stderr, "%s: <conv(x), dy> = %.9g but <x, backward_data(dy)> = %.9g\n", case_name, lhs, rhs);
                test_failures++;
            }
        }
        REQUIRE_OK(lip_tensor_upload(dx, base_dx, nx * sizeof(float)));
        CHECK_OK(lip_conv2d_backward_data(ctx, &g, dy, k, dx, 1));
        test_read(dx, out_dx);
        compare("backward data, accumulate", out_dx, rdx, adx, base_dx, nx);

        CHECK_OK(lip_conv2d_backward_filter(ctx, &g, x, dy, dk, 0));
        test_read(dk, out_dk);
        compare("backward filter", out_dk, rdk, adk, NULL, nk);
        REQUIRE_OK(lip_tensor_upload(dk, base_dk, nk * sizeof(float)));
        CHECK_OK(lip_conv2d_backward_filter(ctx, &g, x, dy, dk, 1));
        test_read(dk, out_dk);
        compare("backward filter, accumulate", out_dk, rdk, adk, base_dk, nk);
        /* Sentinels again, so the next algorithm's unwritten elements show. */
        REQUIRE_OK(lip_tensor_fill(y, 12345.0));
        REQUIRE_OK(lip_tensor_fill(dx, 12345.0));
        REQUIRE_OK(lip_tensor_fill(dk, 12345.0));
    }
    case_name[base_len] = '\0';
    lip_tensor_free(x);
    lip_tensor_free(k);
    lip_tensor_free(dy);
    lip_tensor_free(bias);
    lip_tensor_free(y);
    lip_tensor_free(dx);
    lip_tensor_free(dk);
    free(hx), free(hk), free(hdy), free(hb), free(base_dx), free(base_dk);
    free(ry), free(ay), free(rdx), free(adx), free(rdk), free(adk);
    free(out_y), free(out_dx), free(out_dk);
}

/* ---- the case grid ------------------------------------------------------------------------------- */

static void test_grid(void) {
    static const size_t kernels[][2] = {{1, 1}, {2, 2}, {3, 3}, {5, 3}};
    static const size_t strides[][2] = {{1, 1}, {2, 2}, {3, 3}, {2, 1}};
    static const size_t images[][2] = {{1, 1}, {7, 5}, {13, 11}};
    static const size_t batches[] = {1, 3};
    static const size_t chans[] = {1, 3, 7, 2, 5};
    size_t n = 0;
    for (size_t ki = 0; ki < 4; ki++)
        for (size_t si = 0; si < 4; si++)
            for (size_t ii = 0; ii < 3; ii++)
                for (int pad = 0; pad < 2; pad++)
                    for (int mode = 0; mode < 4; mode++) {
                        /* VALID reads no padding: one non-zero mode is enough to check it is ignored. */
                        if (pad == LIP_PADDING_VALID && mode > 1) continue;
                        /* Batches and channel counts cycle through awkward values (1, primes). */
                        size_t b = batches[n % 2], c = chans[n % 5], co = chans[(n / 5 + 2) % 5];
                        n++;
                        run_case(b, images[ii][0], images[ii][1], c, kernels[ki][0], kernels[ki][1], co,
                                 strides[si][0], strides[si][1], (lip_padding)pad, (lip_pad_mode)mode, (int)(n % 2));
                    }
    /* Edge geometries: pads equal to the image (symmetric, circular), reflect at its limit, channels
     * past the forward kernel's block of 8 output channels, a wide kernel on a one-row image. */
    run_case(2, 2, 2, 3, 5, 5, 9, 1, 1, LIP_PADDING_SAME, LIP_PAD_SYMMETRIC, 1);
    run_case(1, 2, 3, 2, 5, 7, 3, 1, 2, LIP_PADDING_SAME, LIP_PAD_CIRCULAR, 0);
    run_case(3, 3, 4, 2, 5, 7, 17, 2, 1, LIP_PADDING_SAME, LIP_PAD_REFLECT, 1);
    run_case(2, 1, 9, 4, 1, 5, 16, 1, 3, LIP_PADDING_SAME, LIP_PAD_REFLECT, 1);
    run_case(2, 6, 6, 11, 3, 3, 13, 1, 1, LIP_PADDING_SAME, LIP_PAD_ZEROS, 1);
    run_case(2, 6, 6, 16, 1, 1, 8, 1, 1, LIP_PADDING_SAME, LIP_PAD_CIRCULAR, 0); /* 1×1: im2col is the identity */
    run_case(1, 9, 9, 3, 4, 4, 5, 2, 2, LIP_PADDING_SAME, LIP_PAD_ZEROS, 0);      /* even kernel: pads 1 top, 2 bottom */
    printf("%d configurations run, %d refused as expected\n", cases_run, cases_refused);
}

/* Chunks of the im2col path (1 MiB column buffers on CPU devices, 64 MiB elsewhere): several chunks of
 * whole images (CPU), and an image whose column matrix exceeds even 64 MiB, split mid-image, so
 * col2im adds into a zeroed dx and the filter GEMMs add up across chunks. */
static void test_chunks(void) {
    run_case(20, 13, 11, 7, 5, 3, 5, 1, 1, LIP_PADDING_SAME, LIP_PAD_SYMMETRIC, 1);
    run_case(2, 140, 128, 64, 5, 3, 3, 1, 1, LIP_PADDING_SAME, LIP_PAD_REFLECT, 1);
}

/* ---- the algorithm switch ------------------------------------------------------------------------- */

static void test_algorithm_env(void) {
    lip_conv2d_geom g;
    setenv("LIPCL_CONV_ALGO", "im2col", 1);
    CHECK_OK(lip_conv2d_geom_make(ctx, "conv", 1, 5, 5, 1, 3, 3, 1, 1, 1, LIP_PADDING_SAME, LIP_PAD_ZEROS, &g));
    CHECK(g.algo == LIP_CONV_ALGO_IM2COL);
    CHECK(strcmp(lip_conv2d_algorithm(ctx, &g), "im2col") == 0);
    CHECK(strcmp(lip_conv2d_algorithm_for(ctx, &g, LIP_CONV_OP_BACKWARD_FILTER), "im2col") == 0);
    setenv("LIPCL_CONV_ALGO", "direct", 1);
    CHECK_OK(lip_conv2d_geom_make(ctx, "conv", 1, 5, 5, 1, 3, 3, 1, 1, 1, LIP_PADDING_SAME, LIP_PAD_ZEROS, &g));
    CHECK(g.algo == LIP_CONV_ALGO_DIRECT);
    CHECK(strcmp(lip_conv2d_algorithm_for(ctx, &g, LIP_CONV_OP_BACKWARD_DATA), "direct") == 0);
    setenv("LIPCL_CONV_ALGO", "fastest", 1);
    CHECK_STATUS(lip_conv2d_geom_make(ctx, "conv", 1, 5, 5, 1, 3, 3, 1, 1, 1, LIP_PADDING_SAME, LIP_PAD_ZEROS, &g),
                 LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "LIPCL_CONV_ALGO='fastest'");
    unsetenv("LIPCL_CONV_ALGO");
    CHECK_OK(lip_conv2d_geom_make(ctx, "conv", 1, 5, 5, 1, 3, 3, 1, 1, 1, LIP_PADDING_SAME, LIP_PAD_ZEROS, &g));
    CHECK(g.algo == LIP_CONV_ALGO_AUTO);
    const char *a = lip_conv2d_algorithm(ctx, &g);
    CHECK(strcmp(a, "im2col") == 0 || strcmp(a, "direct") == 0);
}

/* ---- errors -------------------------------------------------------------------------------------- */

static void test_errors(void) {
    lip_conv2d_geom g;
    /* Geometry. */
    CHECK_STATUS(lip_conv2d_geom_make(ctx, "conv1", 2, 4, 4, 3, 5, 5, 8, 1, 1, LIP_PADDING_VALID, LIP_PAD_ZEROS, &g),
                 LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "conv1: kernel 5x5 larger than the input 4x4");
    CHECK_STATUS(lip_conv2d_geom_make(ctx, "conv1", 2, 3, 8, 3, 7, 3, 8, 1, 1, LIP_PADDING_SAME, LIP_PAD_REFLECT, &g),
                 LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "reflect padding of 3x1");
    CHECK_MESSAGE(ctx, "got 3x8");
    CHECK_STATUS(lip_conv2d_geom_make(ctx, "conv1", 2, 1, 8, 3, 5, 1, 8, 1, 1, LIP_PADDING_SAME, LIP_PAD_CIRCULAR, &g),
                 LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "circular padding");
    CHECK_STATUS(lip_conv2d_geom_make(ctx, "conv1", 2, 8, 8, 3, 3, 3, 8, 0, 1, LIP_PADDING_SAME, LIP_PAD_ZEROS, &g),
                 LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "conv1: strides 0x1 must be >= 1");
    CHECK_STATUS(lip_conv2d_geom_make(ctx, "conv1", 2, 8, 8, 3, 0, 3, 8, 1, 1, LIP_PADDING_SAME, LIP_PAD_ZEROS, &g),
                 LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "kernel size 0x3");
    CHECK_STATUS(lip_conv2d_geom_make(ctx, "conv1", 2, 8, 8, 3, 3, 3, 0, 1, 1, LIP_PADDING_SAME, LIP_PAD_ZEROS, &g),
                 LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "filters");
    CHECK_STATUS(lip_conv2d_geom_make(ctx, "conv1", 2, 0, 8, 3, 3, 3, 4, 1, 1, LIP_PADDING_SAME, LIP_PAD_ZEROS, &g),
                 LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "empty dimension");
    CHECK_STATUS(lip_conv2d_geom_make(ctx, "conv1", 2, 8, 8, 3, 3, 3, 4, 1, 1, (lip_padding)7, LIP_PAD_ZEROS, &g),
                 LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "unknown padding 7");
    CHECK_STATUS(lip_conv2d_geom_make(ctx, "conv1", 2, 8, 8, 3, 3, 3, 4, 1, 1, LIP_PADDING_SAME, (lip_pad_mode)9, &g),
                 LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "unknown pad mode 9");
    CHECK_STATUS(lip_conv2d_geom_make(ctx, "conv1", 2, 8, 8, 3, 3, 3, 4, 1, 1, LIP_PADDING_SAME, LIP_PAD_ZEROS, NULL),
                 LIP_ERR_NULL);
    CHECK_MESSAGE(ctx, "geometry pointer is NULL");

    /* Tensors: g is (2, 6, 5, 3) → (2, 3, 3, 4) with a 3×3 kernel, stride 2, SAME. */
    REQUIRE_OK(lip_conv2d_geom_make(ctx, "conv1", 2, 6, 5, 3, 3, 3, 4, 2, 2, LIP_PADDING_SAME, LIP_PAD_ZEROS, &g));
    size_t sx[4] = {2, 6, 5, 3}, sy[4] = {2, 3, 3, 4}, sk[4] = {3, 3, 3, 4}, sb[1] = {4}, sbad[2] = {7, 3};
    lip_tensor *x = test_sentinel(ctx, LIP_FLOAT32, 4, sx), *y = test_sentinel(ctx, LIP_FLOAT32, 4, sy);
    lip_tensor *k = test_sentinel(ctx, LIP_FLOAT32, 4, sk), *bias = test_sentinel(ctx, LIP_FLOAT32, 1, sb);
    lip_tensor *bad = test_sentinel(ctx, LIP_FLOAT32, 2, sbad);
    lip_tensor *ints = test_sentinel(ctx, LIP_INT32, 4, sy);
    CHECK_OK(lip_conv2d_forward(ctx, &g, x, k, bias, y));
    CHECK_STATUS(lip_conv2d_forward(ctx, &g, NULL, k, bias, y), LIP_ERR_NULL);
    CHECK_MESSAGE(ctx, "lip_conv2d_forward: x is NULL");
    CHECK_STATUS(lip_conv2d_forward(ctx, &g, x, NULL, bias, y), LIP_ERR_NULL);
    CHECK_MESSAGE(ctx, "kernel is NULL");
    CHECK_STATUS(lip_conv2d_forward(ctx, &g, x, k, bias, NULL), LIP_ERR_NULL);
    CHECK_MESSAGE(ctx, "y is NULL");
    CHECK_STATUS(lip_conv2d_forward(ctx, NULL, x, k, bias, y), LIP_ERR_NULL);
    CHECK_STATUS(lip_conv2d_forward(ctx, &g, bad, k, bias, y), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "x (7, 3) has 21 elements, expected (batch 2, 6, 5, cin 3) = 180");
    CHECK_STATUS(lip_conv2d_forward(ctx, &g, x, bad, bias, y), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "expected (kh 3, kw 3, cin 3, cout 4)");
    CHECK_STATUS(lip_conv2d_forward(ctx, &g, x, k, bad, y), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "bias (7, 3) has 21 elements, expected (cout) = 4");
    CHECK_STATUS(lip_conv2d_forward(ctx, &g, x, k, bias, bad), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "expected (batch 2, 3, 3, cout 4) = 72");
    CHECK_STATUS(lip_conv2d_forward(ctx, &g, x, k, bias, ints), LIP_ERR_DTYPE);
    CHECK_STATUS(lip_conv2d_forward(ctx, &g, x, k, bias, x), LIP_ERR_SHAPE);
    CHECK_STATUS(lip_conv2d_backward_data(ctx, &g, y, k, NULL, 0), LIP_ERR_NULL);
    CHECK_MESSAGE(ctx, "lip_conv2d_backward_data: dx is NULL");
    CHECK_STATUS(lip_conv2d_backward_data(ctx, &g, NULL, k, x, 0), LIP_ERR_NULL);
    CHECK_MESSAGE(ctx, "dy is NULL");
    CHECK_STATUS(lip_conv2d_backward_data(ctx, &g, x, k, y, 0), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "lip_conv2d_backward_data: dy");
    CHECK_STATUS(lip_conv2d_backward_filter(ctx, &g, x, y, NULL, 0), LIP_ERR_NULL);
    CHECK_MESSAGE(ctx, "lip_conv2d_backward_filter: dkernel is NULL");
    CHECK_STATUS(lip_conv2d_backward_filter(ctx, &g, x, y, bad, 1), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "dkernel (7, 3) has 21 elements");
    CHECK_STATUS(lip_conv2d_backward_filter(ctx, &g, y, y, k, 0), LIP_ERR_SHAPE);
    /* Same-shape aliasing: y = x is refused. */
    lip_conv2d_geom g1;
    REQUIRE_OK(lip_conv2d_geom_make(ctx, "conv1", 2, 6, 5, 3, 1, 1, 3, 1, 1, LIP_PADDING_SAME, LIP_PAD_ZEROS, &g1));
    lip_tensor *k1 = test_sentinel(ctx, LIP_FLOAT32, 2, (size_t[]){3, 3});
    CHECK_STATUS(lip_conv2d_forward(ctx, &g1, x, k1, NULL, x), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "must not be the same tensor");
    CHECK_STATUS(lip_conv2d_backward_data(ctx, &g1, x, k1, x, 0), LIP_ERR_INVALID_ARGUMENT);
    /* Hand-made geometries the kernels could not serve. */
    lip_conv2d_geom h = g;
    h.stride_w = 0;
    CHECK_STATUS(lip_conv2d_forward(ctx, &h, x, k, bias, y), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "zero size");
    h = g;
    h.pad_mode = LIP_PAD_REFLECT;
    h.pad_top = 6;
    CHECK_STATUS(lip_conv2d_backward_filter(ctx, &h, x, y, k, 0), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "reflect padding (top 6");
    h = g;
    h.algo = (lip_conv2d_algo)5;
    CHECK_STATUS(lip_conv2d_backward_data(ctx, &h, y, k, x, 0), LIP_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(lip_conv2d_forward(ctx, NULL, x, k, bias, y), LIP_ERR_NULL);
    CHECK_MESSAGE(ctx, "geometry is NULL");
    CHECK_STATUS(lip_conv2d_forward(NULL, &g, x, k, bias, y), LIP_ERR_NULL);
    lip_tensor_free(x);
    lip_tensor_free(y);
    lip_tensor_free(k);
    lip_tensor_free(k1);
    lip_tensor_free(bias);
    lip_tensor_free(bad);
    lip_tensor_free(ints);
}

int main(void) {
    rng = test_seed(20240611);
    ctx = test_context();
    unsetenv("LIPCL_CONV_ALGO");
    test_errors();
    test_algorithm_env();
    test_grid();
    test_chunks();
    test_context_free(ctx);
    return test_finish("test_conv2d_ops");
}
