/* lipcl tests — the unconstrained conv layers Conv2D (with PadConv2D's pad modes) and Conv2DTranspose against
 * a double host reference on awkward shapes (forward, dx, dkernel, dbias, accumulation), finite differences
 * of L = Σ g·f(x) in double, the adjoint identity between the two layers, output shapes, bad settings. */
#include <string.h>

#include "check.h"
#include "hostref_conv2d.h"
#include "layers/conv2d.h"

static uint64_t rng;

typedef struct conv_case {
    size_t b, h, w, cin, kh, kw, f, sh, sw;
    int valid;
    lip_pad_mode mode;
    int bias;
} conv_case;

static const char *const mode_names[] = {"zeros", "reflect", "symmetric", "circular"};

static double *dalloc(size_t n) {
    double *p = calloc(n ? n : 1, sizeof *p);
    if (!p) abort();
    return p;
}

static lip_tensor *param_tensor(lip_layer *l, const char *name, int grad) {
    for (size_t i = 0; i < lip_layer_param_count(l); i++) {
        lip_tensor *v = NULL, *g = NULL;
        const char *n = NULL;
        lip_layer_param(l, i, &v, &g, &n);
        if (strcmp(n, name) == 0) return grad ? g : v;
    }
    return NULL;
}

/* The layer's host model. A transposed layer is the adjoint of the conv `g` from its output (f channels)
 * to its input (cin channels), whose kernel (kh, kw, f, cin) is the layer's Keras kernel. */
typedef struct host_layer {
    int transposed;
    hc_geom g;
    size_t oh, ow, nx, ny, nk, f;
} host_layer;

static host_layer host_make(const conv_case *c, int transposed) {
    host_layer h;
    memset(&h, 0, sizeof h);
    h.transposed = transposed;
    h.f = c->f;
    if (!transposed) {
        h.g = hc_geom_make(c->b, c->h, c->w, c->cin, c->kh, c->kw, c->f, c->sh, c->sw, c->valid, c->mode);
        h.oh = h.g.oh;
        h.ow = h.g.ow;
    } else {
        /* Keras deconv_output_length: SAME n·s; VALID n·s + max(k − s, 0). */
        h.oh = c->h * c->sh + (c->valid && c->kh > c->sh ? c->kh - c->sh : 0);
        h.ow = c->w * c->sw + (c->valid && c->kw > c->sw ? c->kw - c->sw : 0);
        h.g = hc_geom_make(c->b, h.oh, h.ow, c->f, c->kh, c->kw, c->cin, c->sh, c->sw, c->valid, LIP_PAD_ZEROS);
        CHECK(h.g.oh == c->h && h.g.ow == c->w); /* the adjoint maps back onto the input size */
    }
    h.nx = c->b * c->h * c->w * c->cin;
    h.ny = c->b * h.oh * h.ow * c->f;
    h.nk = c->kh * c->kw * c->cin * c->f;
    return h;
}

static void host_forward(const host_layer *h, const double *x, const double *k, const double *bias, double *y) {
    if (!h->transposed) {
        hc_conv_forward(&h->g, x, k, bias, y);
        return;
    }
    hc_conv_backward_data(&h->g, x, k, y);
    if (bias)
        for (size_t i = 0; i < h->ny; i++) y[i] += bias[i % h->f];
}

static double host_objective(const host_layer *h, const double *x, const double *k, const double *bias,
                             const double *g) {
    double *y = dalloc(h->ny), s = 0.0;
    host_forward(h, x, k, bias, y);
    for (size_t i = 0; i < h->ny; i++) s += g[i] * y[i];
    free(y);
    return s;
}

/* Central differences of the host objective on up to 12 sampled entries of `var` against the device's
 * gradient; returns the worst error relative to max|device grad|. */
static double finite_differences(const host_layer *h, double *var, size_t n, const float *dgrad, double *x,
                                 double *k, double *bias, const double *g) {
    double worst = 0, scale = 1e-12;
    for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(dgrad[i]));
    size_t step = n > 12 ? n / 12 : 1;
    for (size_t i = (size_t)test_uniform(&rng, 0, (double)step); i < n; i += step) {
        double keep = var[i], e = 1e-4;
        var[i] = keep + e;
        double up = host_objective(h, x, k, bias, g);
        var[i] = keep - e;
        double down = host_objective(h, x, k, bias, g);
        var[i] = keep;
        worst = fmax(worst, fabs((up - down) / (2 * e) - dgrad[i]) / scale);
    }
    return worst;
}

static double tol_for(const double *ref, size_t n) { return 2e-5 * fmax(1.0, test_max_abs(ref, n)); }

static void run_case(lip_context *ctx, const conv_case *c, int transposed) {
    char label[200];
    snprintf(label, sizeof label, "%s b%zu %zux%zux%zu k%zux%zu f%zu s%zux%zu %s %s%s",
             transposed ? "Conv2DTranspose" : "Conv2D", c->b, c->h, c->w, c->cin, c->kh, c->kw, c->f, c->sh, c->sw,
             c->valid ? "VALID" : "SAME", mode_names[c->mode], c->bias ? " bias" : "");
    int failures_before = test_failures;
    lip_conv2d_config cfg = lip_conv2d_config_default(c->f, c->kh, c->kw);
    cfg.stride_h = c->sh;
    cfg.stride_w = c->sw;
    cfg.padding = c->valid ? LIP_PADDING_VALID : LIP_PADDING_SAME;
    cfg.pad_mode = c->mode;
    cfg.use_bias = c->bias;
    lip_layer *l = NULL;
    if (transposed)
        REQUIRE_OK(lip_conv2d_transpose_create(ctx, &cfg, "ct", &l));
    else
        REQUIRE_OK(lip_conv2d_create(ctx, &cfg, "c", &l));
    size_t in[3] = {c->h, c->w, c->cin};
    REQUIRE_OK(lip_layer_build(l, 3, in));
    host_layer hl = host_make(c, transposed);
    int nd = 0;
    size_t os[LIP_MAX_DIMS];
    CHECK_OK(lip_layer_output_shape(l, &nd, os));
    CHECK(nd == 3 && os[0] == hl.oh && os[1] == hl.ow && os[2] == c->f);
    CHECK(lip_layer_param_count(l) == (size_t)(c->bias ? 2 : 1));
    lip_tensor *kt = param_tensor(l, "kernel", 0);
    REQUIRE_OK(kt ? LIP_OK : LIP_ERR_INTERNAL);
    /* Keras layouts: (kh, kw, cin, f) for Conv2D, (kh, kw, f, cin) for Conv2DTranspose. */
    CHECK(lip_tensor_ndim(kt) == 4 && lip_tensor_dim(kt, 0) == c->kh && lip_tensor_dim(kt, 1) == c->kw &&
          lip_tensor_dim(kt, 2) == (transposed ? c->f : c->cin) &&
          lip_tensor_dim(kt, 3) == (transposed ? c->cin : c->f));
    float *kf = test_falloc(hl.nk), *bf = test_falloc(c->f), *xf = test_falloc(hl.nx), *gf = test_falloc(hl.ny);
    test_fill_uniform(&rng, kf, hl.nk, -1, 1);
    test_fill_uniform(&rng, bf, c->f, -1, 1);
    test_fill_uniform(&rng, xf, hl.nx, -1, 1);
    test_fill_uniform(&rng, gf, hl.ny, -1, 1);
    CHECK_OK(lip_tensor_upload(kt, kf, hl.nk * sizeof(float)));
    if (c->bias) CHECK_OK(lip_tensor_upload(param_tensor(l, "bias", 0), bf, c->f * sizeof(float)));
    size_t xs[4] = {c->b, c->h, c->w, c->cin}, ys[4] = {c->b, hl.oh, hl.ow, c->f};
    lip_tensor *tx = test_upload(ctx, 4, xs, xf), *ty = test_sentinel(ctx, LIP_FLOAT32, 4, ys);
    lip_tensor *tg = test_upload(ctx, 4, ys, gf), *tdx = test_sentinel(ctx, LIP_FLOAT32, 4, xs);
    CHECK_OK(lip_layer_forward(l, tx, ty));
    CHECK_OK(lip_layer_backward(l, tx, ty, tg, tdx, 0));
    double *x = test_to_double(xf, hl.nx), *k = test_to_double(kf, hl.nk), *g = test_to_double(gf, hl.ny);
    double *bias = c->bias ? test_to_double(bf, c->f) : NULL;
    double *y = dalloc(hl.ny), *dx = dalloc(hl.nx), *dk = dalloc(hl.nk), *db = dalloc(c->f);
    host_forward(&hl, x, k, bias, y);
    if (!transposed) {
        hc_conv_backward_data(&hl.g, g, k, dx);
        hc_conv_backward_filter(&hl.g, x, g, dk);
    } else { /* the adjoint's adjoint is the conv; its kernel gradient swaps the roles of x and dy */
        hc_conv_forward(&hl.g, g, k, NULL, dx);
        hc_conv_backward_filter(&hl.g, g, x, dk);
    }
    for (size_t i = 0; i < hl.ny; i++) db[i % c->f] += g[i];
    float *yd = test_download(ty), *dxd = test_download(tdx), *dkd = test_download(param_tensor(l, "kernel", 1));
    char what[260];
    snprintf(what, sizeof what, "%s: y", label);
    test_compare(what, yd, y, hl.ny, tol_for(y, hl.ny), 1e-4);
    snprintf(what, sizeof what, "%s: dx", label);
    test_compare(what, dxd, dx, hl.nx, tol_for(dx, hl.nx), 1e-4);
    snprintf(what, sizeof what, "%s: dkernel", label);
    test_compare(what, dkd, dk, hl.nk, tol_for(dk, hl.nk), 1e-4);
    float *dbd = NULL;
    if (c->bias) {
        dbd = test_download(param_tensor(l, "bias", 1));
        snprintf(what, sizeof what, "%s: dbias", label);
        test_compare(what, dbd, db, c->f, tol_for(db, c->f), 1e-4);
    }
    /* Finite differences in double on the host model, against the device's gradients. */
    double e1 = finite_differences(&hl, k, hl.nk, dkd, x, k, bias, g);
    double e2 = finite_differences(&hl, x, hl.nx, dxd, x, k, bias, g);
    double e3 = c->bias ? finite_differences(&hl, bias, c->f, dbd, x, k, bias, g) : 0.0;
    CHECK(e1 <= 1e-4 && e2 <= 1e-4 && e3 <= 1e-4);
    /* accumulate = 1 adds to the parameter gradients (dx is always written). */
    CHECK_OK(lip_layer_backward(l, tx, ty, tg, NULL, 1));
    float *dk2 = test_download(param_tensor(l, "kernel", 1));
    for (size_t i = 0; i < hl.nk; i++) dk[i] *= 2;
    snprintf(what, sizeof what, "%s: dkernel accumulated", label);
    test_compare(what, dk2, dk, hl.nk, 2 * tol_for(dk, hl.nk), 1e-4);
    if (c->bias) {
        float *db2 = test_download(param_tensor(l, "bias", 1));
        for (size_t i = 0; i < c->f; i++) db[i] *= 2;
        snprintf(what, sizeof what, "%s: dbias accumulated", label);
        test_compare(what, db2, db, c->f, 2 * tol_for(db, c->f), 1e-4);
        free(db2);
    }
    printf("%s: %s (finite differences %.1e %.1e %.1e)\n", label, test_failures == failures_before ? "ok" : "FAILED",
           e1, e2, e3);
    free(kf), free(bf), free(xf), free(gf), free(x), free(k), free(g), free(bias), free(y), free(dx), free(dk);
    free(db), free(yd), free(dxd), free(dkd), free(dbd), free(dk2);
    lip_tensor_free(tx), lip_tensor_free(ty), lip_tensor_free(tg), lip_tensor_free(tdx);
    lip_layer_free(l);
}

/* ⟨conv(u), v⟩ = ⟨u, conv_transpose(v)⟩ for a Conv2D and a Conv2DTranspose sharing one kernel: ties the
 * transposed layer to the independently checked conv, whatever the host model says. */
static void test_adjoint(lip_context *ctx, size_t h, size_t w, size_t cin, size_t f, size_t kh, size_t kw, size_t s,
                         lip_padding padding) {
    lip_conv2d_config ct = lip_conv2d_config_default(f, kh, kw);
    ct.stride_h = ct.stride_w = s;
    ct.padding = padding;
    ct.use_bias = 0;
    lip_layer *lt = NULL, *lc = NULL;
    REQUIRE_OK(lip_conv2d_transpose_create(ctx, &ct, "t", &lt));
    size_t in_t[3] = {h, w, cin};
    REQUIRE_OK(lip_layer_build(lt, 3, in_t));
    int nd = 0;
    size_t os[LIP_MAX_DIMS];
    REQUIRE_OK(lip_layer_output_shape(lt, &nd, os));
    lip_conv2d_config cc = lip_conv2d_config_default(cin, kh, kw);
    cc.stride_h = cc.stride_w = s;
    cc.padding = padding;
    cc.use_bias = 0;
    REQUIRE_OK(lip_conv2d_create(ctx, &cc, "c", &lc));
    REQUIRE_OK(lip_layer_build(lc, 3, os));
    int ndc = 0;
    size_t osc[LIP_MAX_DIMS];
    REQUIRE_OK(lip_layer_output_shape(lc, &ndc, osc));
    CHECK(osc[0] == h && osc[1] == w && osc[2] == cin);
    /* One kernel: Conv2D's (kh, kw, f, cin) is Conv2DTranspose's Keras layout. */
    size_t nk = kh * kw * f * cin, batch = 2, nu = batch * os[0] * os[1] * f, nv = batch * h * w * cin;
    float *kf = test_falloc(nk), *uf = test_falloc(nu), *vf = test_falloc(nv);
    test_fill_uniform(&rng, kf, nk, -1, 1);
    test_fill_uniform(&rng, uf, nu, -1, 1);
    test_fill_uniform(&rng, vf, nv, -1, 1);
    CHECK_OK(lip_tensor_upload(param_tensor(lt, "kernel", 0), kf, nk * sizeof(float)));
    CHECK_OK(lip_tensor_upload(param_tensor(lc, "kernel", 0), kf, nk * sizeof(float)));
    size_t us[4] = {batch, os[0], os[1], f}, vs[4] = {batch, h, w, cin};
    lip_tensor *tu = test_upload(ctx, 4, us, uf), *tv = test_upload(ctx, 4, vs, vf);
    lip_tensor *tcu = test_sentinel(ctx, LIP_FLOAT32, 4, vs), *ttv = test_sentinel(ctx, LIP_FLOAT32, 4, us);
    CHECK_OK(lip_layer_forward(lc, tu, tcu));
    CHECK_OK(lip_layer_forward(lt, tv, ttv));
    float *cu = test_download(tcu), *tvv = test_download(ttv);
    double a = 0, b = 0, na = 0, nb = 0;
    for (size_t i = 0; i < nv; i++) a += (double)cu[i] * vf[i], na += fabs((double)cu[i] * vf[i]);
    for (size_t i = 0; i < nu; i++) b += (double)uf[i] * tvv[i], nb += fabs((double)uf[i] * tvv[i]);
    printf("adjoint %zux%zux%zu -> f%zu k%zux%zu s%zu %s: <conv u, v> = %.7g, <u, convT v> = %.7g\n", h, w, cin, f, kh,
           kw, s, padding == LIP_PADDING_VALID ? "VALID" : "SAME", a, b);
    CHECK_NEAR(a, b, 1e-5 * fmax(na, nb));
    free(kf), free(uf), free(vf), free(cu), free(tvv);
    lip_tensor_free(tu), lip_tensor_free(tv), lip_tensor_free(tcu), lip_tensor_free(ttv);
    lip_layer_free(lt);
    lip_layer_free(lc);
}

static void test_errors(lip_context *ctx) {
    lip_layer *l = NULL;
    lip_conv2d_config cfg = lip_conv2d_config_default(4, 3, 3);
    CHECK_STATUS(lip_conv2d_create(ctx, NULL, "bad", &l), LIP_ERR_NULL);
    CHECK_MESSAGE(ctx, "config is NULL");
    CHECK_STATUS(lip_conv2d_create(ctx, &cfg, "bad", NULL), LIP_ERR_NULL);
    CHECK_STATUS(lip_conv2d_create(NULL, &cfg, "bad", &l), LIP_ERR_NULL);
    cfg.filters = 0;
    CHECK_STATUS(lip_conv2d_create(ctx, &cfg, "bad", &l), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "Conv2D 'bad': filters must be >= 1");
    CHECK(l == NULL);
    cfg = lip_conv2d_config_default(4, 0, 3);
    CHECK_STATUS(lip_conv2d_transpose_create(ctx, &cfg, "bad", &l), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "Conv2DTranspose 'bad': kernel size 0x3");
    cfg = lip_conv2d_config_default(4, 3, 3);
    cfg.stride_w = 0;
    CHECK_STATUS(lip_conv2d_create(ctx, &cfg, "bad", &l), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "strides 1x0");
    cfg = lip_conv2d_config_default(4, 3, 3);
    cfg.padding = (lip_padding)7;
    CHECK_STATUS(lip_conv2d_create(ctx, &cfg, "bad", &l), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "unknown padding 7");
    cfg = lip_conv2d_config_default(4, 3, 3);
    cfg.pad_mode = (lip_pad_mode)9;
    CHECK_STATUS(lip_conv2d_create(ctx, &cfg, "bad", &l), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "unknown pad_mode 9");
    cfg = lip_conv2d_config_default(4, 3, 3);
    cfg.padding = LIP_PADDING_VALID;
    cfg.pad_mode = LIP_PAD_REFLECT;
    CHECK_STATUS(lip_conv2d_create(ctx, &cfg, "bad", &l), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "pad_mode applies to padding SAME only");
    cfg = lip_conv2d_config_default(4, 3, 3);
    cfg.pad_mode = LIP_PAD_CIRCULAR;
    CHECK_STATUS(lip_conv2d_transpose_create(ctx, &cfg, "bad", &l), LIP_ERR_UNSUPPORTED);
    CHECK_MESSAGE(ctx, "only pad_mode LIP_PAD_ZEROS");
    cfg = lip_conv2d_config_default(4, 3, 3);
    cfg.kernel_init = (lip_init)42;
    CHECK_STATUS(lip_conv2d_create(ctx, &cfg, "bad", &l), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "unknown initializer");
    CHECK(l == NULL);

    /* Shapes at build: rank, VALID kernel larger than the input, a reflect pad the image cannot mirror. */
    cfg = lip_conv2d_config_default(2, 5, 5);
    cfg.padding = LIP_PADDING_VALID;
    REQUIRE_OK(lip_conv2d_create(ctx, &cfg, "v", &l));
    size_t flat[2] = {4, 4}, small[3] = {4, 6, 2}, fits[3] = {5, 6, 2};
    CHECK_STATUS(lip_layer_build(l, 2, flat), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "Conv2D 'v': the per-sample input must be 3-D (height, width, channels), got 2-D");
    CHECK_STATUS(lip_layer_build(l, 3, small), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "kernel 5x5 larger than the input 4x6");
    CHECK_OK(lip_layer_build(l, 3, fits)); /* a failed build leaves the layer buildable */
    int nd = 0;
    size_t os[LIP_MAX_DIMS];
    CHECK_OK(lip_layer_output_shape(l, &nd, os));
    CHECK(nd == 3 && os[0] == 1 && os[1] == 2 && os[2] == 2);
    lip_conv2d_internals in_;
    CHECK_OK(lip_conv2d_internals_get(l, &in_));
    CHECK(in_.w_bar == param_tensor(l, "kernel", 0) && in_.grad_w_bar == NULL && in_.sigma == NULL &&
          in_.coef == 1.0);
    /* Wrong batch tensors are refused by the dispatcher. */
    size_t xs[4] = {2, 5, 6, 2}, ys_bad[4] = {3, 1, 2, 2};
    lip_tensor *tx = test_sentinel(ctx, LIP_FLOAT32, 4, xs), *ty = test_sentinel(ctx, LIP_FLOAT32, 4, ys_bad);
    CHECK_STATUS(lip_layer_forward(l, tx, ty), LIP_ERR_SHAPE);
    lip_tensor_free(tx), lip_tensor_free(ty);
    lip_layer_free(l);
    cfg = lip_conv2d_config_default(2, 5, 5);
    cfg.pad_mode = LIP_PAD_REFLECT;
    REQUIRE_OK(lip_conv2d_create(ctx, &cfg, "r", &l));
    size_t tiny[3] = {2, 9, 1};
    CHECK_STATUS(lip_layer_build(l, 3, tiny), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "reflect");
    lip_layer_free(l);
    /* The internals accessor refuses other families and unbuilt layers. */
    lip_layer *d = NULL;
    lip_dense_config dc = lip_dense_config_default(3);
    REQUIRE_OK(lip_dense_create(ctx, &dc, "dense", &d));
    CHECK_STATUS(lip_conv2d_internals_get(d, &in_), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "not a conv layer");
    lip_layer_free(d);
    cfg = lip_conv2d_config_default(2, 3, 3);
    REQUIRE_OK(lip_conv2d_transpose_create(ctx, &cfg, "unbuilt", &l));
    CHECK_STATUS(lip_conv2d_internals_get(l, &in_), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "not built");
    CHECK(strcmp(lip_layer_type(l), "Conv2DTranspose") == 0);
    lip_layer_free(l);
}

int main(void) {
    rng = test_seed(20250301);
    lip_context *ctx = test_context();
    const conv_case convs[] = {
        {2, 7, 5, 3, 3, 3, 5, 1, 1, 0, LIP_PAD_ZEROS, 1},
        {1, 9, 6, 2, 3, 2, 4, 2, 1, 0, LIP_PAD_ZEROS, 1},
        {3, 8, 7, 1, 4, 4, 3, 2, 2, 0, LIP_PAD_ZEROS, 0}, /* even kernel: TF puts the odd pad pixel after */
        {2, 9, 6, 2, 3, 3, 3, 2, 2, 1, LIP_PAD_ZEROS, 1},
        {1, 5, 5, 3, 5, 5, 2, 1, 1, 1, LIP_PAD_ZEROS, 0}, /* VALID to a single pixel */
        {2, 6, 7, 2, 1, 1, 3, 1, 1, 0, LIP_PAD_ZEROS, 1},
        {2, 1, 1, 3, 3, 3, 2, 1, 1, 0, LIP_PAD_ZEROS, 1}, /* one-pixel image */
        {1, 4, 3, 13, 2, 2, 17, 1, 1, 0, LIP_PAD_ZEROS, 1},
        {2, 6, 5, 2, 3, 3, 3, 1, 1, 0, LIP_PAD_REFLECT, 1},
        {1, 8, 8, 1, 5, 5, 2, 2, 2, 0, LIP_PAD_REFLECT, 0},
        {1, 7, 6, 2, 4, 3, 2, 2, 1, 0, LIP_PAD_SYMMETRIC, 1}, /* even kernel: n + 1 windows */
        {2, 5, 7, 3, 3, 5, 2, 1, 2, 0, LIP_PAD_CIRCULAR, 1},
        {1, 2, 3, 2, 3, 3, 3, 1, 1, 0, LIP_PAD_SYMMETRIC, 0}, /* pad = image size */
    };
    for (size_t i = 0; i < sizeof convs / sizeof convs[0]; i++) run_case(ctx, &convs[i], 0);
    const conv_case transposed[] = {
        {2, 4, 3, 3, 3, 3, 5, 2, 2, 0, LIP_PAD_ZEROS, 1},
        {1, 5, 4, 2, 4, 4, 3, 2, 2, 0, LIP_PAD_ZEROS, 0},
        {2, 3, 4, 2, 3, 2, 2, 1, 2, 1, LIP_PAD_ZEROS, 1},
        {1, 4, 4, 1, 2, 2, 3, 3, 3, 1, LIP_PAD_ZEROS, 1}, /* VALID with k < s: rows nobody writes */
        {2, 6, 5, 4, 1, 1, 3, 1, 1, 0, LIP_PAD_ZEROS, 1},
        {1, 2, 3, 5, 5, 3, 2, 2, 2, 0, LIP_PAD_ZEROS, 1}, /* kernel larger than the input */
    };
    for (size_t i = 0; i < sizeof transposed / sizeof transposed[0]; i++) run_case(ctx, &transposed[i], 1);
    test_adjoint(ctx, 4, 5, 3, 2, 3, 3, 2, LIP_PADDING_SAME);
    test_adjoint(ctx, 3, 3, 2, 4, 4, 2, 2, LIP_PADDING_VALID);
    test_adjoint(ctx, 5, 4, 1, 3, 3, 3, 1, LIP_PADDING_SAME);
    test_errors(ctx);
    test_context_free(ctx);
    return test_finish("test_conv2d");
}
