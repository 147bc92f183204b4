/* lipcl tests — Lipschitz analysis: dense singular values vs a host eigen-decomposition of WᵀW, conv operator
 * σ_max/σ_min vs host power iteration and the host SVD of the explicit operator, bounds, the empirical estimate. */
#include <string.h>

#include "check.h"
#include "hostref_conv2d.h"
#include "layers/conv2d.h"
#include "layers/dense.h"
#include "lipcl/analysis.h"

static lip_context *ctx;
static uint64_t rng;

/* Eigenvalues of the symmetric n × n matrix a (destroyed) by the cyclic Jacobi eigenvalue method, descending:
 * an algorithm independent of the library's one-sided Jacobi SVD. */
static void host_sym_eigen(double *a, size_t n, double *ev) {
    for (int sweep = 0; sweep < 100; sweep++) {
        double off = 0, diag = 0;
        for (size_t p = 0; p < n; p++)
            for (size_t q = 0; q < n; q++) {
                double v = a[p * n + q] * a[p * n + q];
                if (p == q)
                    diag += v;
                else
                    off += v;
            }
        if (off <= 1e-30 * diag || off == 0) break;
        for (size_t p = 0; p + 1 < n; p++)
            for (size_t q = p + 1; q < n; q++) {
                double apq = a[p * n + q];
                if (apq == 0) continue;
                double theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
                double t = (theta >= 0 ? 1.0 : -1.0) / (fabs(theta) + sqrt(theta * theta + 1));
                double c = 1 / sqrt(t * t + 1), s = t * c;
                for (size_t k = 0; k < n; k++) { /* columns p, q */
                    double akp = a[k * n + p], akq = a[k * n + q];
                    a[k * n + p] = c * akp - s * akq;
                    a[k * n + q] = s * akp + c * akq;
                }
                for (size_t k = 0; k < n; k++) { /* rows p, q */
                    double apk = a[p * n + k], aqk = a[q * n + k];
                    a[p * n + k] = c * apk - s * aqk;
                    a[q * n + k] = s * apk + c * aqk;
                }
            }
    }
    for (size_t i = 0; i < n; i++) ev[i] = a[i * n + i];
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && ev[j] > ev[j - 1]; j--) {
            double t = ev[j];
            ev[j] = ev[j - 1];
            ev[j - 1] = t;
        }
}

/* Singular values (descending, min(m, n) of them) of the m × n row-major matrix a via the Gram of the
 * smaller side. */
static void host_svd(const double *a, size_t m, size_t n, double *s) {
    size_t r = m < n ? m : n;
    double *g = calloc(r * r, sizeof *g), *ev = calloc(r, sizeof *ev);
    for (size_t i = 0; i < r; i++)
        for (size_t j = 0; j < r; j++) {
            double acc = 0;
            if (n <= m)
                for (size_t k = 0; k < m; k++) acc += a[k * n + i] * a[k * n + j];
            else
                for (size_t k = 0; k < n; k++) acc += a[i * n + k] * a[j * n + k];
            g[i * r + j] = acc;
        }
    host_sym_eigen(g, r, ev);
    for (size_t i = 0; i < r; i++) s[i] = sqrt(ev[i] > 0 ? ev[i] : 0);
    free(g);
    free(ev);
}

static lip_layer *dense_layer(int kind, size_t in, size_t units) {
    lip_dense_config c = lip_dense_config_default(units);
    lip_layer *l = NULL;
    if (kind == 0) REQUIRE_OK(lip_dense_create(ctx, &c, "d", &l));
    if (kind == 1) REQUIRE_OK(lip_spectral_dense_create(ctx, &c, "sd", &l));
    if (kind == 2) REQUIRE_OK(lip_frobenius_dense_create(ctx, &c, "fd", &l));
    size_t shape[1] = {in};
    REQUIRE_OK(lip_layer_build(l, 1, shape));
    return l;
}

static void test_dense(void) {
    const size_t shapes[][2] = {{7, 5}, {3, 11}, {1, 4}, {13, 13}};
    for (int kind = 0; kind < 3; kind++)
        for (size_t s = 0; s < 4; s++) {
            size_t in = shapes[s][0], units = shapes[s][1], r = in < units ? in : units;
            lip_layer *l = dense_layer(kind, in, units);
            lip_dense_internals di;
            REQUIRE_OK(lip_dense_internals_get(l, &di));
            float *w = test_download(di.w_bar);
            double *a = test_to_double(w, in * units), *ref = calloc(r, sizeof *ref), *got = calloc(r + 2, sizeof *got);
            host_svd(a, in, units, ref);
            uint64_t before[4], after[4];
            CHECK_OK(lip_random_get_state(ctx, before));
            lip_layer_sv sv;
            got[r] = got[r + 1] = -7.0; /* must not be written past count */
            CHECK_OK(lip_layer_singular_values(l, NULL, &sv, got, r + 2));
            CHECK_OK(lip_random_get_state(ctx, after));
            CHECK(memcmp(before, after, sizeof before) == 0);
            CHECK(sv.method == LIP_SV_EXACT && sv.count == r && sv.converged);
            for (size_t i = 0; i < r; i++) CHECK_NEAR(got[i], ref[i], 1e-9 * ref[0] + 1e-12);
            CHECK(got[r] == -7.0 && got[r + 1] == -7.0);
            CHECK_NEAR(sv.sigma_max, ref[0], 1e-9 * ref[0]);
            CHECK_NEAR(sv.sigma_min, ref[r - 1], 1e-9 * ref[0] + 1e-12);
            if (kind == 1) CHECK(sv.sigma_max <= 1.0 + 1e-3); /* SpectralDense: k = 1 */
            /* no side effect: W̄ unchanged */
            float *w2 = test_download(di.w_bar);
            CHECK(memcmp(w, w2, in * units * sizeof *w) == 0);
            free(w);
            free(w2);
            free(a);
            free(ref);
            free(got);
            lip_layer_free(l);
        }
}

typedef struct conv_case {
    int kind; /* 0 Conv2D, 1 SpectralConv2D, 2 Conv2DTranspose, 3 FrobeniusConv2D */
    size_t h, w, cin, k, f, s;
    int valid;
    lip_pad_mode mode;
} conv_case;

static lip_layer *conv_layer(const conv_case *c, float kcoef) {
    lip_conv2d_config cfg = lip_conv2d_config_default(c->f, c->k, c->k);
    cfg.stride_h = cfg.stride_w = c->s;
    cfg.padding = c->valid ? LIP_PADDING_VALID : LIP_PADDING_SAME;
    cfg.pad_mode = c->mode;
    cfg.k_coef_lip = kcoef;
    lip_layer *l = NULL;
    if (c->kind == 0) REQUIRE_OK(lip_conv2d_create(ctx, &cfg, "c", &l));
    if (c->kind == 1) REQUIRE_OK(lip_spectral_conv2d_create(ctx, &cfg, "sc", &l));
    if (c->kind == 2) REQUIRE_OK(lip_conv2d_transpose_create(ctx, &cfg, "ct", &l));
    if (c->kind == 3) REQUIRE_OK(lip_frobenius_conv2d_create(ctx, &cfg, "fc", &l));
    size_t shape[3] = {c->h, c->w, c->cin};
    REQUIRE_OK(lip_layer_build(l, 3, shape));
    return l;
}

/* The explicit matrix (n × m, row = input unit vector) of the conv A with host kernel k. */
static double *operator_matrix(const hc_geom *g, const double *k, size_t *n, size_t *m) {
    *n = g->h * g->w * g->cin;
    *m = g->oh * g->ow * g->cout;
    double *a = calloc(*n * *m, sizeof *a), *e = calloc(*n, sizeof *e);
    for (size_t i = 0; i < *n; i++) {
        e[i] = 1;
        hc_conv_forward(g, e, k, NULL, a + i * *m);
        e[i] = 0;
    }
    free(e);
    return a;
}

static void test_conv(void) {
    const conv_case cases[] = {
        {0, 6, 5, 3, 3, 4, 1, 0, LIP_PAD_ZEROS},     {0, 7, 7, 2, 3, 3, 2, 0, LIP_PAD_ZEROS},
        {0, 9, 8, 2, 3, 5, 2, 1, LIP_PAD_ZEROS},     {0, 5, 6, 2, 3, 2, 1, 0, LIP_PAD_REFLECT},
        {0, 5, 5, 1, 3, 3, 1, 0, LIP_PAD_CIRCULAR},  {2, 4, 3, 3, 3, 2, 2, 0, LIP_PAD_ZEROS},
        {1, 6, 6, 3, 3, 5, 2, 0, LIP_PAD_ZEROS},     {3, 5, 7, 2, 3, 3, 1, 0, LIP_PAD_ZEROS},
    };
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        const conv_case *c = &cases[ci];
        lip_layer *l = conv_layer(c, 1.0f);
        lip_conv2d_internals in;
        REQUIRE_OK(lip_conv2d_internals_get(l, &in));
        float *wf = test_download(in.w_bar);
        size_t kc = lip_tensor_count(in.w_bar);
        double *k = test_to_double(wf, kc);
        /* the conv A: the layer's own, or the one a transposed layer is the adjoint of (its output is the
         * layer's input, its kernel is the layer's (kh, kw, filters, cin) in conv layout) */
        hc_geom g;
        if (c->kind == 2) {
            size_t oh = c->h * c->s, ow = c->w * c->s; /* SAME transposed: out = in · s */
            g = hc_geom_make(1, oh, ow, c->f, c->k, c->k, c->cin, c->s, c->s, c->valid, c->mode);
            CHECK(g.oh == c->h && g.ow == c->w);
        } else {
            g = hc_geom_make(1, c->h, c->w, c->cin, c->k, c->k, c->f, c->s, c->s, c->valid, c->mode);
        }
        size_t n = 0, m = 0;
        double *a = operator_matrix(&g, k, &n, &m);
        size_t r = n < m ? n : m;
        double *s = calloc(r, sizeof *s);
        host_svd(a, n, m, s);
        double *start = calloc(n, sizeof *start);
        for (size_t i = 0; i < n; i++) start[i] = test_uniform(&rng, -1, 1);
        double pi = hc_conv_sigma(&g, k, start, 2000, NULL, NULL);
        lip_sv_options o = lip_sv_options_default();
        o.max_iter = 3000;
        o.tol = 1e-10;
        o.seed = test_seed(5) + ci;
        o.smallest = 1;
        lip_layer_sv sv;
        CHECK_OK(lip_layer_singular_values(l, &o, &sv, NULL, 0));
        CHECK(sv.method == LIP_SV_OPERATOR && sv.iterations > 0);
        /* power iteration converges from below, slowly when σ1 ≈ σ2 (FrobeniusConv2D kernels have
         * clustered values): the estimate must lie in [σ2, σ1] (σ1 when they are apart), to 2e-4 */
        double lo = (r > 1 ? fmin(s[1], s[0] * (1 - 2e-4)) : s[0]) - 2e-4 * s[0];
        CHECK(sv.sigma_max >= lo && sv.sigma_max <= s[0] * (1 + 2e-4));
        CHECK(pi >= lo && pi <= s[0] * (1 + 1e-9));
        CHECK(sv.sigma_min <= sv.sigma_max);
        /* σ_min through a float32 shifted iteration: accurate to ~1e-3·σ_max² in σ² */
        double tol_min = sqrt(3e-3) * s[0] + 0.02 * s[r - 1];
        if (fabs(sv.sigma_min - s[r - 1]) > tol_min)
            fprintf(stderr, "case %zu: sigma_min %.6g vs host %.6g (sigma_max %.6g, converged %d, %zu it)\n", ci,
                    sv.sigma_min, s[r - 1], s[0], sv.converged, sv.iterations);
        CHECK_NEAR(sv.sigma_min, s[r - 1], tol_min);
        if (c->kind == 1 || c->kind == 3) CHECK(sv.sigma_max <= 1.0 * (1 + 1e-3));
        /* without smallest: no σ_min */
        o.smallest = 0;
        CHECK_OK(lip_layer_singular_values(l, &o, &sv, NULL, 0));
        CHECK(isnan(sv.sigma_min));
        free(wf);
        free(k);
        free(a);
        free(s);
        free(start);
        lip_layer_free(l);
    }
    /* SpectralConv2D in strict mode with k = 1.7: operator σ_max ≤ k(1 + 1e-3), stride 1 and 2 */
    for (size_t s = 1; s <= 2; s++) {
        conv_case c = {1, 9, 8, 3, 3, 6, s, 0, LIP_PAD_ZEROS};
        lip_layer *l = conv_layer(&c, 1.7f);
        lip_sv_options o = lip_sv_options_default();
        o.max_iter = 1000;
        lip_layer_sv sv;
        CHECK_OK(lip_layer_singular_values(l, &o, &sv, NULL, 0));
        CHECK(sv.sigma_max <= 1.7 * (1 + 1e-3));
        CHECK(sv.sigma_max > 0.3 * 1.7); /* not trivially small */
        lip_layer_free(l);
    }
}

/* SpectralDense(16) FullSort SpectralDense(8) FullSort FrobeniusDense(1) trained a little on moons. */
static lip_model *moons_model(lip_dataset **data) {
    lip_model *m = NULL;
    REQUIRE_OK(lip_model_create(ctx, "mlp", &m));
    const size_t units[2] = {16, 8};
    for (int i = 0; i < 2; i++) {
        lip_dense_config c = lip_dense_config_default(units[i]);
        lip_layer *d = NULL, *a = NULL;
        REQUIRE_OK(lip_spectral_dense_create(ctx, &c, NULL, &d));
        REQUIRE_OK(lip_model_add(m, d));
        REQUIRE_OK(lip_fullsort_create(ctx, 1.0f, NULL, &a));
        REQUIRE_OK(lip_model_add(m, a));
    }
    lip_dense_config c = lip_dense_config_default(1);
    lip_layer *head = NULL;
    REQUIRE_OK(lip_frobenius_dense_create(ctx, &c, "head", &head));
    REQUIRE_OK(lip_model_add(m, head));
    size_t in[1] = {2};
    REQUIRE_OK(lip_model_build(m, 1, in));
    lip_loss_config lc = lip_loss_config_default(LIP_LOSS_HKR);
    lc.alpha = 100.0f;
    lc.min_margin = 0.29f;
    lip_loss *loss = NULL;
    REQUIRE_OK(lip_loss_create(ctx, &lc, &loss));
    lip_optimizer_config oc = lip_optimizer_config_default(LIP_OPTIMIZER_ADAM);
    oc.learning_rate = 0.01;
    lip_optimizer *opt = NULL;
    REQUIRE_OK(lip_optimizer_create(ctx, &oc, &opt));
    REQUIRE_OK(lip_model_compile(m, loss, opt, 0, NULL));
    REQUIRE_OK(lip_dataset_make_moons(ctx, 256, 0.05, 1, test_seed(3), data));
    REQUIRE_OK(lip_dataset_binary_targets(*data, 1, 1.0f, -1.0f));
    lip_fit_config fc = lip_fit_config_default();
    fc.epochs = 3;
    fc.seed = test_seed(4);
    REQUIRE_OK(lip_model_fit(m, *data, &fc));
    return m;
}

static void test_model(void) {
    lip_dataset *data = NULL;
    lip_model *m = moons_model(&data);
    double bound = 0, product = 0, est = 0;
    CHECK_OK(lip_model_lipschitz_bound(m, &bound, NULL));
    CHECK_OK(lip_model_lipschitz_product(m, NULL, &product));
    lip_lipschitz_estimate_options eo;
    memset(&eo, 0, sizeof eo);
    eo.seed = test_seed(9);
    CHECK_OK(lip_model_estimate_lipschitz(m, data, &eo, &est));
    printf("moons MLP: bound %.6g, product of sigma_max %.6g, empirical estimate %.6g\n", bound, product, est);
    CHECK(est > 0);
    CHECK(est <= bound * (1 + 1e-4));
    CHECK(est <= product * (1 + 1e-4));
    CHECK(product <= bound * (1 + 1e-3));
    double no_power = 0;
    eo.power_steps = -1;
    CHECK_OK(lip_model_estimate_lipschitz(m, data, &eo, &no_power));
    eo.power_steps = 0;
    printf("moons MLP without the Jacobian power steps: %.6g\n", no_power);
    CHECK(no_power <= est);
    /* seeded: the same estimate twice */
    double est2 = 0;
    CHECK_OK(lip_model_estimate_lipschitz(m, data, &eo, &est2));
    CHECK(est == est2);
    size_t nodes = lip_model_node_count(m);
    lip_layer_sv *sv = calloc(nodes, sizeof *sv);
    CHECK_OK(lip_model_singular_values(m, NULL, sv, nodes));
    CHECK(sv[0].method == LIP_SV_EXACT && sv[1].method == LIP_SV_BOUND && sv[4].method == LIP_SV_EXACT);
    CHECK_NEAR(sv[1].sigma_max, 1.0, 1e-12);
    /* errors */
    CHECK_STATUS(lip_model_singular_values(m, NULL, sv, nodes - 1), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "room for");
    CHECK_STATUS(lip_model_singular_values(m, NULL, NULL, nodes), LIP_ERR_NULL);
    CHECK_STATUS(lip_model_lipschitz_product(m, NULL, NULL), LIP_ERR_NULL);
    CHECK_STATUS(lip_model_estimate_lipschitz(m, NULL, &eo, &est), LIP_ERR_NULL);
    CHECK_MESSAGE(ctx, "data");
    eo.eps = -1;
    CHECK_STATUS(lip_model_estimate_lipschitz(m, data, &eo, &est), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "eps");
    free(sv);
    lip_model_free(m);
    /* a dataset of the wrong sample size */
    lip_model *m3 = NULL;
    REQUIRE_OK(lip_model_create(ctx, "three", &m3));
    lip_dense_config c = lip_dense_config_default(2);
    lip_layer *d = NULL;
    REQUIRE_OK(lip_spectral_dense_create(ctx, &c, NULL, &d));
    REQUIRE_OK(lip_model_add(m3, d));
    size_t in3[1] = {3};
    REQUIRE_OK(lip_model_build(m3, 1, in3));
    memset(&eo, 0, sizeof eo);
    CHECK_STATUS(lip_model_estimate_lipschitz(m3, data, &eo, &est), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "takes 3");
    lip_model_free(m3);
    lip_dataset_free(data);
}

/* A single near-orthogonal SpectralDense: the estimate is ≥ 0.5 · bound (random directions already see
 * σ ≈ 1 in every direction). */
static void test_single_layer(void) {
    const size_t n = 6;
    lip_model *m = NULL;
    REQUIRE_OK(lip_model_create(ctx, "one", &m));
    lip_dense_config c = lip_dense_config_default(n);
    lip_layer *d = NULL;
    REQUIRE_OK(lip_spectral_dense_create(ctx, &c, NULL, &d));
    REQUIRE_OK(lip_model_add(m, d));
    size_t in[1] = {n};
    REQUIRE_OK(lip_model_build(m, 1, in));
    size_t count = 40;
    float *x = test_falloc(count * n);
    test_fill_uniform(&rng, x, count * n, -1, 1);
    lip_dataset *ds = NULL;
    REQUIRE_OK(lip_dataset_create(ctx, count, 1, in, x, NULL, 0, NULL, &ds));
    double bound = 0, est = 0, product = 0;
    CHECK_OK(lip_model_lipschitz_bound(m, &bound, NULL));
    CHECK_OK(lip_model_lipschitz_product(m, NULL, &product));
    lip_lipschitz_estimate_options eo;
    memset(&eo, 0, sizeof eo);
    eo.seed = test_seed(11);
    CHECK_OK(lip_model_estimate_lipschitz(m, ds, &eo, &est));
    printf("single SpectralDense(%zu): bound %.6g, product %.6g, estimate %.6g\n", n, bound, product, est);
    CHECK(est >= 0.5 * bound);
    CHECK(est <= product * (1 + 1e-4));
    CHECK(product <= bound * (1 + 1e-3));
    lip_dataset_free(ds);
    free(x);
    lip_model_free(m);
    /* A wide SpectralDense (16 → 2): random directions see σ ≈ √(2/16) on average; the Jacobian power
     * steps find the top singular direction: ≥ 0.999·σ_max, and never less than without them. */
    REQUIRE_OK(lip_model_create(ctx, "wide", &m));
    c = lip_dense_config_default(2);
    REQUIRE_OK(lip_spectral_dense_create(ctx, &c, NULL, &d));
    REQUIRE_OK(lip_model_add(m, d));
    in[0] = 16;
    REQUIRE_OK(lip_model_build(m, 1, in));
    x = test_falloc(count * 16);
    test_fill_uniform(&rng, x, count * 16, -1, 1);
    REQUIRE_OK(lip_dataset_create(ctx, count, 1, in, x, NULL, 0, NULL, &ds));
    CHECK_OK(lip_model_lipschitz_product(m, NULL, &product));
    double plain = 0;
    eo.power_steps = -1;
    CHECK_OK(lip_model_estimate_lipschitz(m, ds, &eo, &plain));
    eo.power_steps = 0;
    CHECK_OK(lip_model_estimate_lipschitz(m, ds, &eo, &est));
    printf("SpectralDense(16 -> 2): sigma_max %.6g, random directions %.6g, with Jacobian power steps %.6g\n",
           product, plain, est);
    CHECK(est >= plain);
    CHECK(est >= 0.999 * product && est <= product * (1 + 1e-4));
    lip_dataset_free(ds);
    free(x);
    lip_model_free(m);
}

static void test_errors(void) {
    lip_layer_sv sv;
    CHECK_STATUS(lip_layer_singular_values(NULL, NULL, &sv, NULL, 0), LIP_ERR_NULL);
    lip_dense_config c = lip_dense_config_default(3);
    lip_layer *l = NULL;
    REQUIRE_OK(lip_dense_create(ctx, &c, "unbuilt", &l));
    CHECK_STATUS(lip_layer_singular_values(l, NULL, &sv, NULL, 0), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "not built");
    CHECK_STATUS(lip_layer_singular_values(l, NULL, NULL, NULL, 0), LIP_ERR_NULL);
    lip_layer_free(l);
    lip_model *m = NULL;
    REQUIRE_OK(lip_model_create(ctx, "empty", &m));
    double p = 0;
    CHECK_STATUS(lip_model_lipschitz_product(m, NULL, &p), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "not built");
    lip_model_free(m);
    /* an unconstrained Dense: exact values, but a product is still defined (its σ_max) */
    lip_model *m2 = NULL;
    REQUIRE_OK(lip_model_create(ctx, "plain", &m2));
    REQUIRE_OK(lip_dense_create(ctx, &c, NULL, &l));
    REQUIRE_OK(lip_model_add(m2, l));
    size_t in[1] = {4};
    REQUIRE_OK(lip_model_build(m2, 1, in));
    CHECK_OK(lip_model_lipschitz_product(m2, NULL, &p));
    CHECK(p > 0);
    lip_model_free(m2);
    /* a layer without bound and without kernel */
    lip_layer *relu = NULL;
    REQUIRE_OK(lip_relu_create(ctx, NULL, &relu));
    REQUIRE_OK(lip_layer_build(relu, 1, in));
    CHECK_OK(lip_layer_singular_values(relu, NULL, &sv, NULL, 0));
    CHECK(sv.method == LIP_SV_BOUND || sv.method == LIP_SV_NONE);
    lip_layer_free(relu);
}

int main(void) {
    ctx = test_context();
    rng = test_seed(0x5EED);
    test_dense();
    test_conv();
    test_model();
    test_single_layer();
    test_errors();
    test_context_free(ctx);
    return test_finish("test_analysis");
}
