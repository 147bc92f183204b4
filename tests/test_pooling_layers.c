/* lipcl tests — the pooling layers (ScaledL2NormPooling2D, ScaledAveragePooling2D, MaxPooling2D and the
 * two scaled global ones) through the public layer API: double host references for forward and
 * backward on awkward shapes, finite differences, the Lipschitz bound each claims, and bad input. */
#include <string.h>

#include "check.h"

static uint64_t rng;

typedef enum { K_L2, K_AVG, K_MAX, K_GL2, K_GAVG } kind;

typedef struct pool_case {
    kind kind;
    size_t batch, h, w, c;
    size_t ph, pw, sh, sw; /* strides 0 = the pool */
    int same;              /* MaxPooling2D only */
    float k, eps;
} pool_case;

static const char *const type_names[] = {"ScaledL2NormPooling2D", "ScaledAveragePooling2D", "MaxPooling2D",
                                         "ScaledGlobalL2NormPooling2D", "ScaledGlobalAveragePooling2D"};

static int is_global(kind k) { return k == K_GL2 || k == K_GAVG; }

/* Geometry of one axis as TF computes it: output size and padding before. */
static void axis(size_t n, size_t p, size_t s, int same, size_t *out, size_t *pad) {
    if (same) {
        *out = (n + s - 1) / s;
        size_t need = (*out - 1) * s + p;
        *pad = need > n ? (need - n) / 2 : 0;
    } else {
        *out = (n - p) / s + 1;
        *pad = 0;
    }
}

typedef struct geom {
    size_t oh, ow, pt, pl, sh, sw;
} geom;

static geom geometry(const pool_case *c) {
    geom g = {1, 1, 0, 0, 1, 1};
    if (is_global(c->kind)) return g;
    g.sh = c->sh ? c->sh : c->ph;
    g.sw = c->sw ? c->sw : c->pw;
    axis(c->h, c->ph, g.sh, c->same, &g.oh, &g.pt);
    axis(c->w, c->pw, g.sw, c->same, &g.ow, &g.pl);
    return g;
}

static size_t out_count(const pool_case *c) {
    geom g = geometry(c);
    return c->batch * (is_global(c->kind) ? c->c : g.oh * g.ow * c->c);
}

/*
 * Host reference in double: y = f(x) and, when dy is given, dx = the gradient of Σ dy·f (deel-lip's
 * square-root gradient with ε for the L2 kinds; MaxPooling2D routes to the first maximum in
 * row-major window order).
 */
static void host_pool(const pool_case *c, const double *x, double *y, const double *dy, double *dx) {
    geom g = geometry(c);
    size_t H = c->h, W = c->w, C = c->c;
    if (dx) memset(dx, 0, c->batch * H * W * C * sizeof *dx);
    if (is_global(c->kind)) {
        for (size_t b = 0; b < c->batch; b++)
            for (size_t ch = 0; ch < C; ch++) {
                double s = 0;
                for (size_t i = 0; i < H * W; i++) {
                    double v = x[(b * H * W + i) * C + ch];
                    s += c->kind == K_GL2 ? v * v : v;
                }
                double r = sqrt(s), out = c->kind == K_GL2 ? c->k * r : c->k * s / sqrt((double)(H * W));
                if (y) y[b * C + ch] = out;
                if (!dx) continue;
                double d = dy[b * C + ch];
                for (size_t i = 0; i < H * W; i++) {
                    size_t e = (b * H * W + i) * C + ch;
                    dx[e] = c->kind == K_GL2 ? d * c->k * x[e] / (r + c->eps) : d * c->k / sqrt((double)(H * W));
                }
            }
        return;
    }
    double area = (double)(c->ph * c->pw);
    for (size_t b = 0; b < c->batch; b++)
        for (size_t oy = 0; oy < g.oh; oy++)
            for (size_t ox = 0; ox < g.ow; ox++)
                for (size_t ch = 0; ch < C; ch++) {
                    double s = 0, best = -INFINITY;
                    size_t arg = (size_t)-1;
                    for (size_t i = 0; i < c->ph; i++)
                        for (size_t j = 0; j < c->pw; j++) {
                            long yy = (long)(oy * g.sh + i) - (long)g.pt, xx = (long)(ox * g.sw + j) - (long)g.pl;
                            if (yy < 0 || xx < 0 || yy >= (long)H || xx >= (long)W) continue; /* padding */
                            size_t e = ((b * H + (size_t)yy) * W + (size_t)xx) * C + ch;
                            s += c->kind == K_L2 ? x[e] * x[e] : x[e];
                            if (x[e] > best) best = x[e], arg = e;
                        }
                    size_t o = ((b * g.oh + oy) * g.ow + ox) * C + ch;
                    double z = s / area; /* deel-lip: √(avgpool(x²))·√area·k */
                    if (y) y[o] = c->kind == K_MAX ? best : c->kind == K_L2 ? sqrt(z) * sqrt(area) * c->k
                                                                             : c->k * s / sqrt(area);
                    if (!dx) continue;
                    if (c->kind == K_MAX) {
                        dx[arg] += dy[o];
                        continue;
                    }
                    double coef = c->kind == K_L2 ? dy[o] * sqrt(area) * c->k / (2 * (sqrt(z) + c->eps)) * 2 / area
                                                  : dy[o] * c->k / sqrt(area);
                    for (size_t i = 0; i < c->ph; i++)
                        for (size_t j = 0; j < c->pw; j++) {
                            size_t e = ((b * H + oy * g.sh + i) * W + ox * g.sw + j) * C + ch;
                            dx[e] += c->kind == K_L2 ? coef * x[e] : coef;
                        }
                }
}

static double objective(const pool_case *c, const double *x, const double *g, size_t ny) {
    double *y = malloc(ny * sizeof *y), s = 0;
    host_pool(c, x, y, NULL, NULL);
    for (size_t i = 0; i < ny; i++) s += g[i] * y[i];
    free(y);
    return s;
}

static lip_status create(lip_context *ctx, const pool_case *c, const char *name, lip_layer **l) {
    lip_pool2d_config cfg = lip_pool2d_config_default();
    cfg.pool_h = c->ph;
    cfg.pool_w = c->pw;
    cfg.stride_h = c->sh;
    cfg.stride_w = c->sw;
    cfg.padding = c->same ? LIP_PADDING_SAME : LIP_PADDING_VALID;
    cfg.k_coef_lip = c->k;
    cfg.eps_grad_sqrt = c->eps;
    switch (c->kind) {
    case K_L2: return lip_scaled_l2norm_pooling2d_create(ctx, &cfg, name, l);
    case K_AVG: return lip_scaled_average_pooling2d_create(ctx, &cfg, name, l);
    case K_MAX: return lip_max_pooling2d_create(ctx, &cfg, name, l);
    case K_GL2: return lip_scaled_global_l2norm_pooling2d_create(ctx, c->k, c->eps, name, l);
    case K_GAVG: break;
    }
    return lip_scaled_global_average_pooling2d_create(ctx, c->k, name, l);
}

/* Per-sample ‖f(a) − f(b)‖ / ‖a − b‖, the largest over the batch. */
static double worst_ratio(const float *xa, const float *xb, const float *ya, const float *yb, size_t batch, size_t sx,
                          size_t sy) {
    double worst = 0;
    for (size_t b = 0; b < batch; b++) {
        double dxn = 0, dyn = 0;
        for (size_t i = 0; i < sx; i++) dxn += pow((double)xa[b * sx + i] - xb[b * sx + i], 2);
        for (size_t i = 0; i < sy; i++) dyn += pow((double)ya[b * sy + i] - yb[b * sy + i], 2);
        if (dxn > 0) worst = fmax(worst, sqrt(dyn / dxn));
    }
    return worst;
}

static void run_case(lip_context *ctx, const pool_case *c) {
    char label[160];
    snprintf(label, sizeof label, "%s %zux%zux%zux%zu pool %zux%zu%s k=%g", type_names[c->kind], c->batch, c->h, c->w,
             c->c, c->ph, c->pw, c->same ? " same" : "", (double)c->k);
    lip_layer *l = NULL;
    REQUIRE_OK(create(ctx, c, "pool", &l));
    size_t in[3] = {c->h, c->w, c->c};
    REQUIRE_OK(lip_layer_build(l, 3, in));
    CHECK(strcmp(lip_layer_type(l), type_names[c->kind]) == 0 && strcmp(lip_layer_name(l), "pool") == 0);
    CHECK(lip_layer_param_count(l) == 0);
    int ond = 0;
    size_t os[LIP_MAX_DIMS];
    CHECK_OK(lip_layer_output_shape(l, &ond, os));
    geom g = geometry(c);
    if (is_global(c->kind))
        CHECK(ond == 1 && os[0] == c->c);
    else
        CHECK(ond == 3 && os[0] == g.oh && os[1] == g.ow && os[2] == c->c);

    size_t nx = c->batch * c->h * c->w * c->c, ny = out_count(c);
    /* Flat tensors on purpose: the layer API views them as (batch, h, w, c). */
    lip_tensor *x = NULL, *y = NULL, *dy = NULL, *dx = NULL;
    REQUIRE_OK(lip_tensor_create(ctx, LIP_FLOAT32, 1, &nx, &x));
    y = test_sentinel(ctx, LIP_FLOAT32, 1, &ny);
    REQUIRE_OK(lip_tensor_create(ctx, LIP_FLOAT32, 1, &ny, &dy));
    dx = test_sentinel(ctx, LIP_FLOAT32, 1, &nx);
    float *hx = test_falloc(nx), *hg = test_falloc(ny);
    test_fill_uniform(&rng, hx, nx, -2, 2);
    test_fill_uniform(&rng, hg, ny, -1, 1);
    REQUIRE_OK(lip_tensor_upload(x, hx, nx * sizeof(float)));
    REQUIRE_OK(lip_tensor_upload(dy, hg, ny * sizeof(float)));
    CHECK_OK(lip_layer_forward(l, x, y));
    CHECK(lip_tensor_ndim(x) == 1 && lip_tensor_dim(x, 0) == nx); /* the views were undone */
    CHECK_OK(lip_layer_backward(l, x, y, dy, dx, 0));
    float *fy = test_download(y), *fdx = test_download(dx);
    double *xd = test_to_double(hx, nx), *gd = test_to_double(hg, ny);
    double *yref = malloc(ny * sizeof *yref), *dxref = malloc(nx * sizeof *dxref);
    host_pool(c, xd, yref, gd, dxref);
    double window = is_global(c->kind) ? (double)(c->h * c->w) : (double)(c->ph * c->pw);
    test_compare(label, fy, yref, ny, 1e-6 * sqrt(window) * c->k, 1e-5);
    test_compare(label, fdx, dxref, nx, 1e-6 * c->k, 1e-5);

    /* Central differences of Σ g·f(x) on the host reference, against the device's dx (max: skip
     * inputs within 1e-3 of another input of one of their windows, where the argmax may switch; L2:
     * skip windows of norm < 0.05, where deel-lip's ε gradient departs from the exact one by > 2e-5). */
    double worst = 0, scale = 1e-12;
    for (size_t i = 0; i < nx; i++) scale = fmax(scale, fabs(fdx[i]));
    size_t step = nx > 60 ? nx / 60 : 1;
    for (size_t i = 0; i < nx; i += step) {
        if (c->kind == K_MAX) {
            int kink = 0;
            for (size_t j = 0; j < nx && !kink; j++)
                kink = j != i && j % c->c == i % c->c && fabs(xd[j] - xd[i]) < 1e-3;
            if (kink) continue;
        }
        if (c->kind == K_L2 || c->kind == K_GL2) {
            size_t ch = i % c->c, pix = i / c->c, xx = pix % c->w, yy = (pix / c->w) % c->h, b = pix / (c->w * c->h);
            double sq = 0;
            for (size_t yy2 = 0; yy2 < c->h; yy2++)
                for (size_t xx2 = 0; xx2 < c->w; xx2++) {
                    int same = c->kind == K_GL2 || (yy2 / g.sh == yy / g.sh && xx2 / g.sw == xx / g.sw);
                    double v = xd[((b * c->h + yy2) * c->w + xx2) * c->c + ch];
                    if (same) sq += v * v;
                }
            if (sqrt(sq) < 0.05) continue;
        }
        double keep = xd[i], h = 1e-6;
        xd[i] = keep + h;
        double up = objective(c, xd, gd, ny);
        xd[i] = keep - h;
        double down = objective(c, xd, gd, ny);
        xd[i] = keep;
        worst = fmax(worst, fabs((up - down) / (2 * h) - fdx[i]) / scale);
    }
    if (worst > 1e-4) fprintf(stderr, "%s: finite-difference error %g of max|dx|\n", label, worst);
    CHECK(worst <= 1e-4);

    /* dx is written, not accumulated (no parameters); dx may be left out. */
    CHECK_OK(lip_layer_backward(l, x, y, dy, dx, 1));
    float *fdx2 = test_download(dx);
    CHECK(memcmp(fdx, fdx2, nx * sizeof *fdx) == 0);
    CHECK_OK(lip_layer_backward(l, x, NULL, dy, NULL, 0));

    /* Lipschitz: random pairs stay under the bound; MaxPooling2D is only checked (bound 1) with
     * non-overlapping windows. A pair built to reach the bound checks that it is tight (that k is
     * applied): a = 0, b = one constant per window (one positive entry per window for max). */
    int overlapping = c->kind == K_MAX && (g.sh < c->ph || g.sw < c->pw);
    if (!overlapping) {
        double bound = c->kind == K_MAX ? 1.0 : c->k;
        float *hx2 = test_falloc(nx), *fy2;
        for (size_t i = 0; i < nx; i++) hx2[i] = hx[i] + (float)test_uniform(&rng, -0.5, 0.5);
        REQUIRE_OK(lip_tensor_upload(x, hx2, nx * sizeof(float)));
        CHECK_OK(lip_layer_forward(l, x, y));
        fy2 = test_download(y);
        double r = worst_ratio(hx, hx2, fy, fy2, c->batch, nx / c->batch, ny / c->batch);
        if (!(r <= bound * (1 + 1e-5))) fprintf(stderr, "%s: ratio %.9g above the bound %g\n", label, r, bound);
        CHECK(r <= bound * (1 + 1e-5));
        /* The tight pair. */
        float *za = test_falloc(nx), *zb = test_falloc(nx), *ya, *yb;
        for (size_t e = 0; e < nx; e++) {
            size_t ch = e % c->c, pix = e / c->c, xx = pix % c->w, yy = (pix / c->w) % c->h;
            size_t wy = is_global(c->kind) ? 0 : yy / g.sh, wx = is_global(c->kind) ? 0 : xx / g.sw;
            int inside = is_global(c->kind) || (wy < g.oh && wx < g.ow && !c->same);
            float v = (float)(0.5 + 0.1 * (double)((ch + wy + wx) % 5));
            if (c->kind == K_MAX) inside = (c->same || inside) && yy % g.sh == 0 && xx % g.sw == 0;
            zb[e] = inside ? v : 0.0f;
        }
        REQUIRE_OK(lip_tensor_upload(x, za, nx * sizeof(float)));
        CHECK_OK(lip_layer_forward(l, x, y));
        ya = test_download(y);
        REQUIRE_OK(lip_tensor_upload(x, zb, nx * sizeof(float)));
        CHECK_OK(lip_layer_forward(l, x, y));
        yb = test_download(y);
        double tight = worst_ratio(za, zb, ya, yb, c->batch, nx / c->batch, ny / c->batch);
        CHECK_NEAR(tight, bound, 1e-5 * bound);
        free(hx2), free(fy2), free(za), free(zb), free(ya), free(yb);
    }
    free(hx), free(hg), free(fy), free(fdx), free(fdx2), free(xd), free(gd), free(yref), free(dxref);
    lip_tensor_free(x), lip_tensor_free(y), lip_tensor_free(dy), lip_tensor_free(dx);
    lip_layer_free(l);
}

static void bad_input(lip_context *ctx) {
    lip_layer *l = (lip_layer *)&rng; /* must be reset to NULL on failure */
    lip_pool2d_config cfg = lip_pool2d_config_default();
    CHECK(cfg.pool_h == 2 && cfg.pool_w == 2 && cfg.stride_h == 0 && cfg.padding == LIP_PADDING_VALID &&
          cfg.k_coef_lip == 1.0f && cfg.eps_grad_sqrt == 1e-6f);
    cfg.k_coef_lip = 0.0f;
    CHECK_STATUS(lip_scaled_l2norm_pooling2d_create(ctx, &cfg, "p1", &l), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "ScaledL2NormPooling2D 'p1': k_coef_lip must be finite and > 0");
    CHECK(l == NULL);
    cfg.k_coef_lip = NAN;
    CHECK_STATUS(lip_scaled_average_pooling2d_create(ctx, &cfg, "p2", &l), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "ScaledAveragePooling2D 'p2': k_coef_lip");
    CHECK_OK(lip_max_pooling2d_create(ctx, &cfg, "m", &l)); /* MaxPooling2D has no k */
    lip_layer_free(l);
    cfg = lip_pool2d_config_default();
    cfg.pool_w = 0;
    CHECK_STATUS(lip_max_pooling2d_create(ctx, &cfg, "m0", &l), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "MaxPooling2D 'm0': pool size 2x0 must be >= 1");
    cfg = lip_pool2d_config_default();
    cfg.stride_h = 1;
    CHECK_STATUS(lip_scaled_average_pooling2d_create(ctx, &cfg, "s", &l), LIP_ERR_UNSUPPORTED);
    CHECK_MESSAGE(ctx, "ScaledAveragePooling2D 's': strides 1x2 must equal the pool size 2x2");
    cfg.stride_h = 2; /* explicit strides equal to the pool are fine */
    CHECK_OK(lip_scaled_average_pooling2d_create(ctx, &cfg, "s", &l));
    lip_layer_free(l);
    cfg = lip_pool2d_config_default();
    cfg.padding = LIP_PADDING_SAME;
    CHECK_STATUS(lip_scaled_l2norm_pooling2d_create(ctx, &cfg, "same", &l), LIP_ERR_UNSUPPORTED);
    CHECK_MESSAGE(ctx, "ScaledL2NormPooling2D 'same': only padding VALID");
    cfg.padding = (lip_padding)7;
    CHECK_STATUS(lip_max_pooling2d_create(ctx, &cfg, "pad", &l), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "unknown padding 7");
    cfg = lip_pool2d_config_default();
    cfg.eps_grad_sqrt = -1e-3f;
    CHECK_STATUS(lip_scaled_l2norm_pooling2d_create(ctx, &cfg, "eps", &l), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "eps_grad_sqrt");
    CHECK_OK(lip_scaled_average_pooling2d_create(ctx, &cfg, "eps", &l)); /* ε is the L2 kinds' only */
    lip_layer_free(l);
    CHECK_STATUS(lip_scaled_l2norm_pooling2d_create(ctx, NULL, "null", &l), LIP_ERR_NULL);
    CHECK_MESSAGE(ctx, "config is NULL");
    CHECK_STATUS(lip_scaled_l2norm_pooling2d_create(ctx, &cfg, "null", NULL), LIP_ERR_NULL);
    CHECK_STATUS(lip_scaled_l2norm_pooling2d_create(NULL, &cfg, "null", &l), LIP_ERR_NULL);
    CHECK_STATUS(lip_scaled_global_l2norm_pooling2d_create(ctx, -1.0f, 1e-6f, "g", &l), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "ScaledGlobalL2NormPooling2D 'g': k_coef_lip");
    CHECK_STATUS(lip_scaled_global_l2norm_pooling2d_create(ctx, 1.0f, NAN, "g", &l), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "eps_grad_sqrt");
    CHECK_STATUS(lip_scaled_global_average_pooling2d_create(ctx, 0.0f, "ga", &l), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "ScaledGlobalAveragePooling2D 'ga': k_coef_lip");

    /* Shapes at build, with the layer named; a failed build can be retried. */
    cfg = lip_pool2d_config_default();
    REQUIRE_OK(lip_scaled_l2norm_pooling2d_create(ctx, &cfg, "pool1", &l));
    size_t tiny[3] = {1, 1, 3}, flat[1] = {12}, ok[3] = {2, 3, 1};
    CHECK_STATUS(lip_layer_build(l, 3, tiny), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "ScaledL2NormPooling2D 'pool1': window 2x2 larger than input 1x1");
    CHECK_STATUS(lip_layer_build(l, 1, flat), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "'pool1': the input must be an image (height, width, channels)");
    CHECK_OK(lip_layer_build(l, 3, ok));
    int ond = 0;
    size_t os[LIP_MAX_DIMS];
    CHECK_OK(lip_layer_output_shape(l, &ond, os));
    CHECK(ond == 3 && os[0] == 1 && os[1] == 1 && os[2] == 1); /* 2x3 → 1x1: the odd column is dropped */
    lip_layer_free(l);
    /* SAME max pooling accepts a window larger than the image. */
    cfg.pool_h = cfg.pool_w = 3;
    cfg.padding = LIP_PADDING_SAME;
    REQUIRE_OK(lip_max_pooling2d_create(ctx, &cfg, "msame", &l));
    CHECK_OK(lip_layer_build(l, 3, tiny));
    CHECK_OK(lip_layer_output_shape(l, &ond, os));
    CHECK(ond == 3 && os[0] == 1 && os[1] == 1 && os[2] == 3);
    lip_layer_free(l);
    REQUIRE_OK(lip_scaled_global_average_pooling2d_create(ctx, 1.0f, "gap", &l));
    size_t two[2] = {4, 4};
    CHECK_STATUS(lip_layer_build(l, 2, two), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "ScaledGlobalAveragePooling2D 'gap': the input must be an image");
    lip_layer_free(l);
}

int main(void) {
    rng = test_seed(17);
    lip_context *ctx = test_context();
    const pool_case cases[] = {
        {K_L2, 2, 7, 5, 3, 2, 2, 0, 0, 0, 1.0f, 1e-6f},    /* odd sizes: the last row/column dropped */
        {K_L2, 1, 9, 4, 1, 3, 1, 0, 0, 0, 2.5f, 1e-6f},    /* C = 1, non-square window */
        {K_L2, 3, 1, 1, 2, 1, 1, 0, 0, 0, 0.5f, 1e-6f},    /* 1×1 image, 1×1 window */
        {K_AVG, 3, 5, 7, 13, 2, 3, 0, 0, 0, 0.7f, 0.0f},   /* primes */
        {K_AVG, 1, 1, 1, 2, 1, 1, 0, 0, 0, 1.0f, 0.0f},
        {K_MAX, 2, 5, 7, 3, 2, 2, 0, 0, 0, 1.0f, 0.0f},    /* non-overlapping, valid */
        {K_MAX, 2, 5, 5, 1, 2, 2, 0, 0, 1, 1.0f, 0.0f},    /* non-overlapping, same (padded windows) */
        {K_MAX, 1, 7, 6, 2, 3, 3, 2, 2, 1, 1.0f, 0.0f},    /* overlapping: no bound checked */
        {K_MAX, 2, 1, 1, 3, 1, 1, 0, 0, 0, 1.0f, 0.0f},
        {K_GL2, 2, 3, 5, 7, 0, 0, 0, 0, 0, 1.5f, 1e-6f},
        {K_GL2, 3, 1, 1, 1, 0, 0, 0, 0, 0, 1.0f, 1e-6f},
        {K_GAVG, 2, 6, 1, 4, 0, 0, 0, 0, 0, 0.5f, 0.0f},
        {K_GAVG, 1, 1, 1, 3, 0, 0, 0, 0, 0, 3.0f, 0.0f},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_case(ctx, &cases[i]);
    bad_input(ctx);
    test_context_free(ctx);
    return test_finish("test_pooling_layers");
}
