/* lipcl tests — pooling (ScaledL2NormPooling2D, ScaledAveragePooling2D, their global versions, MaxPooling2D):
 * double host references, finite differences, Lipschitz bounds, bad input (golden cases: refrun/). */
#define _POSIX_C_SOURCE 200809L
#include <string.h>

#include "check.h"
#include "layers/pooling.h"
#include "refcase.h"

static lip_context *ctx;
static uint64_t rng;

/* Tolerance of every device-vs-reference comparison (tests/reference/README.md). */
#define ATOL REFCASE_ATOL
#define RTOL REFCASE_RTOL
/* Finite differences: step, distance to a kink below which a point is skipped, elements sampled. */
#define FD_H 1e-6
#define FD_KINK 1e-3
#define FD_SAMPLES 24
/* The L2 kinds' gradient carries deel-lip's ε (dy/(2(√a + ε)), ε = 1e-6), off the exact derivative by
 * a relative ε/‖window‖: finite differences skip windows of norm below this (≤ 1e-5 relative). */
#define L2_FD_MIN_NORM 0.1

/* ---- tensors ---------------------------------------------------------------------------------- */

/* Float32 tensors on the test context; new ones hold a sentinel, so unwritten outputs show. */
static lip_tensor *tensor_new(int ndim, const size_t *shape) { return test_sentinel(ctx, LIP_FLOAT32, ndim, shape); }
static lip_tensor *tensor_up(int ndim, const size_t *shape, const float *h) { return test_upload(ctx, ndim, shape, h); }

static double *dalloc(size_t n) {
    double *p = calloc(n ? n : 1, sizeof *p);
    if (!p) exit(1);
    return p;
}

/* ---- host reference in double ----------------------------------------------------------------- */

typedef struct geom {
    size_t b, h, w, c, oh, ow, ph, pw, sh, sw, pt, pl;
    int global;
} geom;

/* TF geometry, computed independently of the library. */
static geom make_geom(const lip_pool2d_params *p, const size_t *in) {
    geom g;
    memset(&g, 0, sizeof g);
    g.b = in[0];
    g.h = in[1];
    g.w = in[2];
    g.c = in[3];
    g.global = p->kind == LIP_POOL_SCALED_GLOBAL_L2 || p->kind == LIP_POOL_SCALED_GLOBAL_AVG;
    if (g.global) return g;
    g.ph = p->pool_h;
    g.pw = p->pool_w;
    g.sh = p->stride_h ? p->stride_h : p->pool_h;
    g.sw = p->stride_w ? p->stride_w : p->pool_w;
    if (p->padding == LIP_POOL_SAME) {
        g.oh = (g.h + g.sh - 1) / g.sh;
        g.ow = (g.w + g.sw - 1) / g.sw;
        long th = (long)((g.oh - 1) * g.sh + g.ph) - (long)g.h, tw = (long)((g.ow - 1) * g.sw + g.pw) - (long)g.w;
        g.pt = th > 0 ? (size_t)th / 2 : 0;
        g.pl = tw > 0 ? (size_t)tw / 2 : 0;
    } else {
        g.oh = (g.h - g.ph) / g.sh + 1;
        g.ow = (g.w - g.pw) / g.sw + 1;
    }
    return g;
}

static size_t out_count(const geom *g) { return g->global ? g->b * g->c : g->b * g->oh * g->ow * g->c; }
static size_t in_count(const geom *g) { return g->b * g->h * g->w * g->c; }
static size_t xi(const geom *g, size_t b, size_t h, size_t w, size_t c) { return ((b * g->h + h) * g->w + w) * g->c + c; }

/* The input indices of the window of output o (b, oh, ow, c); returns their count (≤ cap). */
static size_t window(const geom *g, size_t o, size_t *idx, size_t cap) {
    size_t c = o % g->c, t = o / g->c, n = 0;
    if (g->global) {
        size_t b = t;
        for (size_t h = 0; h < g->h; h++)
            for (size_t w = 0; w < g->w && n < cap; w++) idx[n++] = xi(g, b, h, w, c);
        return n;
    }
    size_t ow = t % g->ow;
    t /= g->ow;
    size_t oh = t % g->oh, b = t / g->oh;
    for (size_t i = 0; i < g->ph; i++) {
        long h = (long)(oh * g->sh + i) - (long)g->pt;
        if (h < 0 || h >= (long)g->h) continue;
        for (size_t j = 0; j < g->pw; j++) {
            long w = (long)(ow * g->sw + j) - (long)g->pl;
            if (w < 0 || w >= (long)g->w || n >= cap) continue;
            idx[n++] = xi(g, b, (size_t)h, (size_t)w, c);
        }
    }
    return n;
}

#define MAX_WIN 4096

static void ref_forward(const lip_pool2d_params *p, const geom *g, const double *x, double *y) {
    size_t *idx = malloc(MAX_WIN * sizeof *idx);
    if (!idx) exit(1);
    double k = p->k_coef_lip, area = g->global ? (double)(g->h * g->w) : (double)(g->ph * g->pw);
    for (size_t o = 0; o < out_count(g); o++) {
        size_t n = window(g, o, idx, MAX_WIN);
        double s = 0, sq = 0, m = -INFINITY;
        for (size_t i = 0; i < n; i++) {
            s += x[idx[i]];
            sq += x[idx[i]] * x[idx[i]];
            if (x[idx[i]] > m) m = x[idx[i]];
        }
        switch (p->kind) {
        case LIP_POOL_SCALED_AVG:
        case LIP_POOL_SCALED_GLOBAL_AVG: y[o] = s / area * sqrt(area) * k; break;
        case LIP_POOL_SCALED_L2: y[o] = sqrt(sq / area) * sqrt(area) * k; break;
        case LIP_POOL_SCALED_GLOBAL_L2: y[o] = sqrt(sq) * k; break;
        case LIP_POOL_MAX: y[o] = m; break;
        }
    }
    free(idx);
}

/* Gradient of Σ y·dy with deel-lip's ε square-root gradient; max: first maximum in scan order. */
static void ref_backward(const lip_pool2d_params *p, const geom *g, const double *x, const double *dy, double *dx) {
    size_t *idx = malloc(MAX_WIN * sizeof *idx);
    if (!idx) exit(1);
    double k = p->k_coef_lip, eps = p->eps_grad_sqrt;
    double area = g->global ? (double)(g->h * g->w) : (double)(g->ph * g->pw);
    for (size_t i = 0; i < in_count(g); i++) dx[i] = 0;
    for (size_t o = 0; o < out_count(g); o++) {
        size_t n = window(g, o, idx, MAX_WIN);
        double sq = 0;
        size_t best = 0;
        for (size_t i = 0; i < n; i++) {
            sq += x[idx[i]] * x[idx[i]];
            if (x[idx[i]] > x[idx[best]]) best = i;
        }
        for (size_t i = 0; i < n; i++) {
            double v = x[idx[i]], d = 0;
            switch (p->kind) {
            case LIP_POOL_SCALED_AVG:
            case LIP_POOL_SCALED_GLOBAL_AVG: d = sqrt(area) * k / area; break;
            case LIP_POOL_SCALED_L2: {
                double a = sq / area, den = 2 * (sqrt(a) + eps); /* d√a = dy/(2(√a + ε)), da/dx = 2x/area */
                d = den > 0 ? sqrt(area) * k / den * 2 * v / area : 0;
                break;
            }
            case LIP_POOL_SCALED_GLOBAL_L2: {
                double den = 2 * (sqrt(sq) + eps);
                d = den > 0 ? k / den * 2 * v : 0;
                break;
            }
            case LIP_POOL_MAX: d = i == best ? 1 : 0; break;
            }
            dx[idx[i]] += d * dy[o];
        }
    }
    free(idx);
}

/* Whether input e is within FD_KINK of a kink (a max window it belongs to has a near tie with it),
 * or in an L2 window of norm below L2_FD_MIN_NORM (zero is the kink; ε matters near it). */
static int near_kink(const lip_pool2d_params *p, const geom *g, const double *x, size_t e) {
    if (p->kind == LIP_POOL_SCALED_AVG || p->kind == LIP_POOL_SCALED_GLOBAL_AVG) return 0;
    size_t *idx = malloc(MAX_WIN * sizeof *idx);
    if (!idx) exit(1);
    int kink = 0;
    for (size_t o = 0; o < out_count(g) && !kink; o++) {
        size_t n = window(g, o, idx, MAX_WIN), in = 0;
        double sq = 0;
        for (size_t i = 0; i < n; i++) {
            in |= idx[i] == e;
            sq += x[idx[i]] * x[idx[i]];
        }
        if (!in) continue;
        if (p->kind == LIP_POOL_MAX) {
            for (size_t i = 0; i < n; i++)
                if (idx[i] != e && fabs(x[idx[i]] - x[e]) < FD_KINK) kink = 1;
        } else if (sqrt(sq) < L2_FD_MIN_NORM) {
            kink = 1;
        }
    }
    free(idx);
    return kink;
}

static double host_loss(const lip_pool2d_params *p, const geom *g, const double *x, const double *dy, double *ybuf) {
    ref_forward(p, g, x, ybuf);
    double s = 0;
    for (size_t o = 0; o < out_count(g); o++) s += ybuf[o] * dy[o];
    return s;
}

static void params_name(const lip_pool2d_params *p, const size_t *in, char *buf, size_t size) {
    if (p->kind == LIP_POOL_SCALED_GLOBAL_AVG || p->kind == LIP_POOL_SCALED_GLOBAL_L2)
        snprintf(buf, size, "%s(k=%g) x(%zu, %zu, %zu, %zu)", lip_pool2d_name(p->kind), (double)p->k_coef_lip, in[0],
                 in[1], in[2], in[3]);
    else
        snprintf(buf, size, "%s(pool %zux%zu, strides %zux%zu, %s, k=%g) x(%zu, %zu, %zu, %zu)",
                 lip_pool2d_name(p->kind), p->pool_h, p->pool_w, p->stride_h, p->stride_w,
                 p->padding == LIP_POOL_SAME ? "same" : "valid", (double)p->k_coef_lip, in[0], in[1], in[2], in[3]);
}

/*
 * One configuration on one shape: output shape, forward and backward against the host reference,
 * finite differences of the host forward against the device backward, determinism, and the
 * Lipschitz bound the op claims on random pairs (far apart and close).
 */
static void check_pool(const lip_pool2d_params *p, const size_t *in) {
    char name[256], what[320];
    params_name(p, in, name, sizeof name);
    geom g = make_geom(p, in);
    int ondim;
    size_t oshape[4];
    CHECK_OK(lip_pool2d_output_shape(ctx, p, 4, in, &ondim, oshape));
    if (g.global)
        CHECK(ondim == 2 && oshape[0] == g.b && oshape[1] == g.c);
    else
        CHECK(ondim == 4 && oshape[0] == g.b && oshape[1] == g.oh && oshape[2] == g.ow && oshape[3] == g.c);
    size_t n = in_count(&g), m = out_count(&g);

    float *xf = test_falloc(n), *gf = test_falloc(m);
    test_fill_uniform(&rng, xf, n, -2.0, 2.0);
    test_fill_uniform(&rng, gf, m, -1.0, 1.0);
    double *x = test_to_double(xf, n), *dy = test_to_double(gf, m), *y = dalloc(m), *dx = dalloc(n), *ybuf = dalloc(m);
    lip_tensor *xt = tensor_up(4, in, xf), *gt = tensor_up(ondim, oshape, gf);
    lip_tensor *yt = tensor_new(ondim, oshape), *dxt = tensor_new(4, in);

    CHECK_OK(lip_pool2d_forward(ctx, p, xt, yt));
    float *gy = test_download(yt);
    ref_forward(p, &g, x, y);
    snprintf(what, sizeof what, "%s: forward", name);
    test_compare(what, gy, y, m, ATOL, RTOL);
    CHECK_OK(lip_pool2d_backward(ctx, p, xt, gt, dxt));
    float *gdx = test_download(dxt);
    ref_backward(p, &g, x, dy, dx);
    snprintf(what, sizeof what, "%s: dx", name);
    test_compare(what, gdx, dx, n, ATOL, RTOL);

    /* finite differences (the L2 kinds' ε = 1e-6 shifts the gradient by ~1e-6 relative only) */
    size_t checked = 0;
    for (size_t s = 0; s < FD_SAMPLES && s < n; s++) {
        size_t e = n <= FD_SAMPLES ? s : (size_t)test_uniform(&rng, 0, (double)n);
        if (near_kink(p, &g, x, e)) continue;
        double keep = x[e];
        x[e] = keep + FD_H;
        double lp = host_loss(p, &g, x, dy, ybuf);
        x[e] = keep - FD_H;
        double lm = host_loss(p, &g, x, dy, ybuf);
        x[e] = keep;
        double fd = (lp - lm) / (2 * FD_H);
        checked++;
        if (!(fabs(gdx[e] - fd) <= ATOL + RTOL * fabs(fd))) {
            fprintf(stderr, "%s: dx[%zu] = %.9g, finite difference %.9g\n", name, e, (double)gdx[e], fd);
            test_failures++;
        }
    }
    test_checks++;
    if (checked == 0) {
        fprintf(stderr, "%s: every finite-difference point was skipped\n", name);
        test_failures++;
    }

    /* determinism */
    CHECK_OK(lip_pool2d_backward(ctx, p, xt, gt, dxt));
    float *again = test_download(dxt);
    CHECK(memcmp(again, gdx, n * sizeof *again) == 0);
    free(again);

    /* Lipschitz */
    double bound = lip_pool2d_lipschitz_bound(p), worst = 0;
    float *af = test_falloc(n), *bf = test_falloc(n);
    lip_tensor *at = tensor_new(4, in), *bt = tensor_new(4, in), *fa = tensor_new(ondim, oshape),
               *fb = tensor_new(ondim, oshape);
    for (int pair = 0; pair < 6; pair++) {
        double spread = pair < 3 ? 2.0 : 1e-2;
        test_fill_uniform(&rng, af, n, -2.0, 2.0);
        for (size_t i = 0; i < n; i++) bf[i] = af[i] + (float)test_uniform(&rng, -spread, spread);
        REQUIRE_OK(lip_tensor_upload(at, af, n * sizeof *af));
        REQUIRE_OK(lip_tensor_upload(bt, bf, n * sizeof *bf));
        CHECK_OK(lip_pool2d_forward(ctx, p, at, fa));
        CHECK_OK(lip_pool2d_forward(ctx, p, bt, fb));
        float *ya = test_download(fa), *yb = test_download(fb);
        double num = 0, den = 0;
        for (size_t i = 0; i < m; i++) num += ((double)ya[i] - yb[i]) * ((double)ya[i] - yb[i]);
        for (size_t i = 0; i < n; i++) den += ((double)af[i] - bf[i]) * ((double)af[i] - bf[i]);
        double r = den > 0 ? sqrt(num / den) : 0;
        if (r > worst) worst = r;
        free(ya);
        free(yb);
    }
    test_checks++;
    if (!(worst <= bound * (1 + 1e-4))) {
        fprintf(stderr, "%s: Lipschitz ratio %.9g exceeds the bound %.9g\n", name, worst, bound);
        test_failures++;
    }
    free(af);
    free(bf);
    lip_tensor_free(at);
    lip_tensor_free(bt);
    lip_tensor_free(fa);
    lip_tensor_free(fb);

    free(gy);
    free(gdx);
    free(xf);
    free(gf);
    free(x);
    free(dy);
    free(y);
    free(dx);
    free(ybuf);
    lip_tensor_free(xt);
    lip_tensor_free(gt);
    lip_tensor_free(yt);
    lip_tensor_free(dxt);
}

static lip_pool2d_params pp(lip_pool_kind kind, size_t ph, size_t pw, size_t sh, size_t sw, lip_pool_padding pad,
                            double k) {
    lip_pool2d_params p = lip_pool2d_params_default(kind);
    p.pool_h = ph;
    p.pool_w = pw;
    p.stride_h = sh;
    p.stride_w = sw;
    p.padding = pad;
    p.k_coef_lip = (float)k;
    return p;
}

static void test_shapes(void) {
    static const size_t spatial[][3] = {{1, 1, 1}, {3, 7, 5}, {1, 13, 13}, {3, 4, 6}};
    static const size_t channels[] = {2, 6, 12, 14};
    for (size_t si = 0; si < 4; si++)
        for (size_t ci = 0; ci < 4; ci++) {
            if ((si + ci) % 2 && ci > 1) continue; /* a subset of the large ones keeps the test short */
            size_t in[4] = {spatial[si][0], spatial[si][1], spatial[si][2], channels[ci]};
            size_t h = in[1], w = in[2];
            double k = ci % 2 ? 2.0 : 1.0;
            /* global kinds: any shape */
            lip_pool2d_params gl = pp(LIP_POOL_SCALED_GLOBAL_L2, 0, 0, 0, 0, LIP_POOL_VALID, k);
            check_pool(&gl, in);
            lip_pool2d_params ga = pp(LIP_POOL_SCALED_GLOBAL_AVG, 0, 0, 0, 0, LIP_POOL_VALID, k);
            check_pool(&ga, in);
            /* scaled local kinds: non-overlapping 'valid' windows that fit */
            static const size_t pools[][2] = {{2, 2}, {3, 3}, {2, 3}, {1, 1}, {3, 2}};
            for (size_t pi = 0; pi < 5; pi++) {
                size_t ph = pools[pi][0], pw = pools[pi][1];
                if (ph > h || pw > w) continue;
                lip_pool2d_params l2 = pp(LIP_POOL_SCALED_L2, ph, pw, pi % 2 ? ph : 0, pi % 2 ? pw : 0,
                                          LIP_POOL_VALID, k);
                check_pool(&l2, in);
                lip_pool2d_params av = pp(LIP_POOL_SCALED_AVG, ph, pw, 0, 0, LIP_POOL_VALID, k);
                check_pool(&av, in);
            }
            /* MaxPooling2D: 'valid' and 'same', non-overlapping and overlapping, odd sizes */
            static const size_t mp[][4] = {{2, 2, 2, 2}, {3, 3, 2, 2}, {3, 2, 1, 1}, {2, 2, 1, 2}, {5, 5, 3, 3},
                                           {1, 1, 1, 1}};
            for (size_t mi = 0; mi < 6; mi++)
                for (int pad = 0; pad < 2; pad++) {
                    if (pad == 0 && (mp[mi][0] > h || mp[mi][1] > w)) continue;
                    lip_pool2d_params mx = pp(LIP_POOL_MAX, mp[mi][0], mp[mi][1], mp[mi][2], mp[mi][3],
                                              pad ? LIP_POOL_SAME : LIP_POOL_VALID, 1.0);
                    check_pool(&mx, in);
                }
        }
}

/* All-zero windows: the L2 gradient is 0 there (ε, and 0 instead of 0/0 when ε = 0), never NaN. */
static void test_zero_windows(void) {
    size_t in[4] = {1, 4, 4, 3}, n = 48, g2[2] = {1, 3}, o4[4] = {1, 2, 2, 3};
    float *xf = test_falloc(n), *ones = test_falloc(12);
    for (size_t i = 0; i < n; i++) xf[i] = (i / 3) % 4 < 2 && i / 12 < 2 ? 0.0f : (float)(0.1 * (double)(i % 7) - 0.3);
    for (size_t i = 0; i < 12; i++) ones[i] = 1.0f;
    lip_tensor *xt = tensor_up(4, in, xf), *dxt = tensor_new(4, in);
    lip_tensor *g4 = tensor_up(4, o4, ones), *g2t = tensor_up(2, g2, ones);
    lip_tensor *zero = tensor_new(4, in);
    REQUIRE_OK(lip_tensor_fill(zero, 0.0));
    for (int eps_zero = 0; eps_zero < 2; eps_zero++) {
        lip_pool2d_params l2 = pp(LIP_POOL_SCALED_L2, 2, 2, 0, 0, LIP_POOL_VALID, 1.0);
        lip_pool2d_params gl = pp(LIP_POOL_SCALED_GLOBAL_L2, 0, 0, 0, 0, LIP_POOL_VALID, 1.0);
        if (eps_zero) l2.eps_grad_sqrt = gl.eps_grad_sqrt = 0.0f;
        CHECK_OK(lip_pool2d_backward(ctx, &l2, xt, g4, dxt));
        float *d = test_download(dxt);
        size_t bad = 0;
        for (size_t i = 0; i < n; i++) bad += !isfinite(d[i]) || (xf[i] == 0.0f && d[i] != 0.0f);
        CHECK(bad == 0);
        free(d);
        CHECK_OK(lip_pool2d_backward(ctx, &gl, zero, g2t, dxt));
        d = test_download(dxt);
        bad = 0;
        for (size_t i = 0; i < n; i++) bad += d[i] != 0.0f;
        CHECK(bad == 0);
        free(d);
    }
    free(xf);
    free(ones);
    lip_tensor_free(xt);
    lip_tensor_free(dxt);
    lip_tensor_free(g4);
    lip_tensor_free(g2t);
    lip_tensor_free(zero);
}

/* MaxPooling2D ties: the gradient goes to the first maximum (row-major) of each window only. */
static void test_max_ties(void) {
    size_t in[4] = {1, 4, 4, 1}, o[4] = {1, 2, 2, 1};
    float x[16], g[4] = {1, 2, 3, 4};
    for (int i = 0; i < 16; i++) x[i] = 1.0f;
    lip_tensor *xt = tensor_up(4, in, x), *gt = tensor_up(4, o, g), *dxt = tensor_new(4, in);
    lip_pool2d_params mx = pp(LIP_POOL_MAX, 2, 2, 0, 0, LIP_POOL_VALID, 1.0);
    CHECK_OK(lip_pool2d_backward(ctx, &mx, xt, gt, dxt));
    float *d = test_download(dxt);
    const float want[16] = {1, 0, 2, 0, 0, 0, 0, 0, 3, 0, 4, 0, 0, 0, 0, 0};
    CHECK(memcmp(d, want, sizeof want) == 0);
    free(d);
    lip_tensor_free(xt);
    lip_tensor_free(gt);
    lip_tensor_free(dxt);
}

static void test_errors(void) {
    size_t s4[4] = {2, 2, 2, 3}, s3[3] = {2, 2, 3}, o4[4] = {2, 1, 1, 3}, o2[2] = {2, 3}, big[4] = {2, 4, 4, 3};
    lip_tensor *x = tensor_new(4, s4), *x3 = tensor_new(3, s3), *y4 = tensor_new(4, o4), *y2 = tensor_new(2, o2);
    lip_tensor *xb = tensor_new(4, big), *dx = tensor_new(4, s4);
    lip_pool2d_params p = pp(LIP_POOL_SCALED_L2, 3, 3, 0, 0, LIP_POOL_VALID, 1.0);
    CHECK_STATUS(lip_pool2d_forward(ctx, &p, x, y4), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "ScaledL2NormPooling2D: pool 3x3 larger than the input 2x2 (padding 'valid')");
    p = pp(LIP_POOL_MAX, 3, 3, 1, 1, LIP_POOL_VALID, 1.0);
    CHECK_STATUS(lip_pool2d_forward(ctx, &p, x, y4), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "MaxPooling2D: pool 3x3 larger than the input 2x2");
    p = pp(LIP_POOL_SCALED_AVG, 2, 2, 1, 1, LIP_POOL_VALID, 1.0);
    CHECK_STATUS(lip_pool2d_forward(ctx, &p, xb, y4), LIP_ERR_UNSUPPORTED);
    CHECK_MESSAGE(ctx, "ScaledAveragePooling2D: strides 1x1 must equal the pool size 2x2");
    p = pp(LIP_POOL_SCALED_AVG, 2, 2, 0, 0, LIP_POOL_SAME, 1.0);
    CHECK_STATUS(lip_pool2d_forward(ctx, &p, x, y4), LIP_ERR_UNSUPPORTED);
    CHECK_MESSAGE(ctx, "only padding 'valid'");
    p = pp(LIP_POOL_SCALED_AVG, 2, 2, 0, 0, LIP_POOL_VALID, 1.0);
    CHECK_STATUS(lip_pool2d_forward(ctx, &p, x3, y4), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "must be 4-D NHWC");
    CHECK_STATUS(lip_pool2d_forward(ctx, &p, xb, y4), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "ScaledAveragePooling2D: y (2, 1, 1, 3) must be (2, 2, 2, 3) (the pooled shape of x (2, 4, 4, 3))");
    CHECK_STATUS(lip_pool2d_backward(ctx, &p, x, y4, x), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "dx must not be the same tensor as x or dy");
    CHECK_STATUS(lip_pool2d_backward(ctx, &p, x, y4, y4), LIP_ERR_SHAPE);
    p.k_coef_lip = 0.0f;
    CHECK_STATUS(lip_pool2d_forward(ctx, &p, x, y4), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "k_coef_lip must be finite and > 0");
    p = pp(LIP_POOL_SCALED_GLOBAL_L2, 0, 0, 0, 0, LIP_POOL_VALID, 1.0);
    p.eps_grad_sqrt = -1.0f;
    CHECK_STATUS(lip_pool2d_forward(ctx, &p, x, y2), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "eps_grad_sqrt must be finite and >= 0");
    p.eps_grad_sqrt = 1e-6f;
    CHECK_STATUS(lip_pool2d_forward(ctx, &p, x, y4), LIP_ERR_SHAPE); /* global: (batch, C), not 4-D */
    CHECK_MESSAGE(ctx, "ScaledGlobalL2NormPooling2D: y (2, 1, 1, 3) must be (2, 3)");
    CHECK_OK(lip_pool2d_forward(ctx, &p, x, y2));
    p.kind = (lip_pool_kind)9;
    CHECK_STATUS(lip_pool2d_forward(ctx, &p, x, y2), LIP_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(lip_pool2d_forward(ctx, NULL, x, y2), LIP_ERR_NULL);
    p = pp(LIP_POOL_MAX, 0, 2, 0, 0, LIP_POOL_VALID, 1.0);
    CHECK_STATUS(lip_pool2d_forward(ctx, &p, x, y4), LIP_ERR_INVALID_ARGUMENT);
    /* claimed bounds */
    p = pp(LIP_POOL_MAX, 3, 3, 2, 2, LIP_POOL_SAME, 1.0);
    CHECK_NEAR(lip_pool2d_lipschitz_bound(&p), 2.0, 1e-12);
    p = pp(LIP_POOL_MAX, 2, 2, 0, 0, LIP_POOL_VALID, 1.0);
    CHECK_NEAR(lip_pool2d_lipschitz_bound(&p), 1.0, 1e-12);
    p = pp(LIP_POOL_SCALED_L2, 2, 2, 0, 0, LIP_POOL_VALID, 3.0);
    CHECK_NEAR(lip_pool2d_lipschitz_bound(&p), 3.0, 1e-12);
    lip_tensor_free(x);
    lip_tensor_free(x3);
    lip_tensor_free(y4);
    lip_tensor_free(y2);
    lip_tensor_free(xb);
    lip_tensor_free(dx);
}

int main(void) {
    rng = test_seed(20240612);
    ctx = test_context();
    test_errors();
    test_zero_windows();
    test_max_ties();
    test_shapes();
    test_context_free(ctx);
    return test_finish("test_pooling");
}
