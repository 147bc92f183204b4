/* lipcl tests — metrics: accuracy, provable robust accuracy and average robustness against a double host
 * reference (ties, misclassified samples), accumulation over batches, spec 2.13's values, radii, errors. */
#define _POSIX_C_SOURCE 200809L
#include <string.h>

#include "check.h"
#include "refcase.h"
#include "refrun/refrun.h"

static lip_context *ctx;
static uint64_t rng;

/* ---- host reference in double ------------------------------------------------------------------- */

static int binary_kind(lip_metric_kind k) {
    return k == LIP_METRIC_BINARY_ACCURACY || k == LIP_METRIC_BINARY_PROVABLE_ROBUST_ACCURACY ||
           k == LIP_METRIC_BINARY_PROVABLE_AVG_ROBUSTNESS;
}

static double sgn(double x) { return x > 0 ? 1 : (x < 0 ? -1 : 0); }

/* True class of a row: the index (sparse) or the first maximum of the label row. */
static size_t true_class(size_t C, const double *y, int sparse) {
    if (sparse) return (size_t)y[0];
    size_t t = 0;
    for (size_t c = 1; c < C; c++)
        if (y[c] > y[t]) t = c;
    return t;
}

/* Categorical margin Δ = f_t − max_{c≠t} f_c. */
static double cat_delta(size_t C, const double *f, size_t t) {
    double other = -INFINITY;
    for (size_t c = 0; c < C; c++)
        if (c != t) other = fmax(other, f[c]);
    return f[t] - other;
}

/* Σ of the metric's per-value terms over the batch, and their number. */
static double ref_metric_sum(lip_metric_kind kind, size_t B, size_t C, const double *y, int sparse, const double *f,
                             double eps, double factor, int negative, size_t *count) {
    double s = 0;
    if (binary_kind(kind)) {
        for (size_t e = 0; e < B * C; e++) {
            double d = sgn(y[e] - 1e-3) * f[e];
            if (kind == LIP_METRIC_BINARY_ACCURACY)
                s += (f[e] > 0) == (y[e] > 0);
            else if (kind == LIP_METRIC_BINARY_PROVABLE_ROBUST_ACCURACY)
                s += d / factor > eps;
            else
                s += (negative ? d : fmax(d, 0)) / factor;
        }
        *count = B * C;
        return s;
    }
    for (size_t i = 0; i < B; i++) {
        const double *fr = f + i * C;
        size_t t = true_class(C, sparse ? y + i : y + i * C, sparse), p = 0;
        for (size_t c = 1; c < C; c++)
            if (fr[c] > fr[p]) p = c;
        double d = cat_delta(C, fr, t);
        if (kind == LIP_METRIC_CATEGORICAL_ACCURACY)
            s += p == t;
        else if (kind == LIP_METRIC_CATEGORICAL_PROVABLE_ROBUST_ACCURACY)
            s += d / factor > eps;
        else
            s += (negative ? d : fmax(d, 0)) / factor;
    }
    *count = B;
    return s;
}

/* Per-sample radii (lip_certified_radius): signed with labels, of the predicted class without. */
static void ref_radii(size_t B, size_t C, const double *y, int sparse, const double *f, double factor, double *r) {
    for (size_t i = 0; i < B; i++) {
        const double *fr = f + i * C;
        if (C == 1) {
            r[i] = y ? sgn(y[i] - 1e-3) * fr[0] / factor : fabs(fr[0]) / factor;
            continue;
        }
        if (y) {
            r[i] = cat_delta(C, fr, true_class(C, sparse ? y + i : y + i * C, sparse)) / factor;
        } else {
            size_t p = 0;
            for (size_t c = 1; c < C; c++)
                if (fr[c] > fr[p]) p = c;
            r[i] = cat_delta(C, fr, p) / factor;
        }
    }
}

/* ---- data: outputs on a grid of 1/32 (exact in float, many ties), labels of every encoding ------- */

typedef struct data {
    size_t B, C;
    int sparse, as_int;
    float *f, *y;  /* y: B·C labels, or B indices */
    int32_t *yi;
    double *fd, *yd;
} data;

/* encoding: binary 0 = {0,1}, 1 = {-1,1}; categorical 0 = one-hot, 1 = one-hot ±1, 2 = int32 indices. */
static data make_data(size_t B, size_t C, int binary, int encoding) {
    data d;
    memset(&d, 0, sizeof d);
    d.B = B;
    d.C = C;
    d.sparse = !binary && encoding == 2;
    size_t n = B * C, ny = d.sparse ? B : n;
    d.f = test_falloc(n);
    d.y = test_falloc(ny);
    d.yi = calloc(ny, sizeof *d.yi);
    if (!d.yi) exit(1);
    for (size_t e = 0; e < n; e++) d.f[e] = (float)floor(test_uniform(&rng, -64, 65)) / 32.0f;
    for (size_t i = 0; i < B; i++) {
        if (binary) {
            for (size_t c = 0; c < C; c++)
                d.y[i * C + c] = test_uniform(&rng, 0, 1) < 0.5 ? 1.0f : (encoding ? -1.0f : 0.0f);
            continue;
        }
        size_t k = (size_t)test_uniform(&rng, 0, (double)C);
        if (d.sparse) {
            d.y[i] = (float)k;
        } else {
            for (size_t c = 0; c < C; c++) d.y[i * C + c] = c == k ? 1.0f : (encoding ? -1.0f : 0.0f);
        }
        /* a tie with the true class now and then */
        if (i % 5 == 1) d.f[i * C + (k + 1) % C] = d.f[i * C + k];
    }
    for (size_t e = 0; e < ny; e++) d.yi[e] = (int32_t)d.y[e];
    d.fd = test_to_double(d.f, n);
    d.yd = test_to_double(d.y, ny);
    return d;
}

static void free_data(data *d) {
    free(d->f);
    free(d->y);
    free(d->yi);
    free(d->fd);
    free(d->yd);
}

static lip_tensor *upload_pred(const data *d, size_t row0, size_t rows) {
    size_t shape[2] = {rows, d->C};
    return test_upload(ctx, 2, shape, d->f + row0 * d->C);
}

static lip_tensor *upload_true(const data *d, size_t row0, size_t rows) {
    size_t w = d->sparse ? 1 : d->C, shape[2] = {rows, w};
    lip_tensor *t = NULL;
    int use_int = d->sparse || d->as_int;
    REQUIRE_OK(lip_tensor_create(ctx, use_int ? LIP_INT32 : LIP_FLOAT32, d->sparse ? 1 : 2, shape, &t));
    REQUIRE_OK(lip_tensor_upload(t, use_int ? (const void *)(d->yi + row0 * w) : (const void *)(d->y + row0 * w),
                                 rows * w * 4));
    return t;
}

/* ---- random batches ------------------------------------------------------------------------------ */

static double device_metric(const lip_metric_config *mc, const data *d, const size_t *splits, size_t nsplits) {
    lip_metric *m = NULL;
    REQUIRE_OK(lip_metric_create(ctx, mc, &m));
    size_t row = 0;
    for (size_t s = 0; s < nsplits; s++) {
        lip_tensor *tp = upload_pred(d, row, splits[s]), *ty = upload_true(d, row, splits[s]);
        CHECK_OK(lip_metric_update(m, ty, tp));
        lip_tensor_free(tp);
        lip_tensor_free(ty);
        row += splits[s];
    }
    size_t count = 0;
    CHECK_OK(lip_metric_count(m, &count));
    CHECK(count == (binary_kind(mc->kind) ? d->B * d->C : d->B));
    double v = NAN;
    CHECK_OK(lip_metric_result(m, &v));
    lip_metric_free(m);
    return v;
}

static void test_random(void) {
    static const size_t bshapes[][2] = {{1, 1}, {7, 1}, {13, 3}, {256, 1}, {200, 1}};
    static const size_t cshapes[][2] = {{1, 3}, {7, 3}, {13, 10}, {61, 100}, {200, 10}};
    static const double eps[] = {0.0, 0.1, 0.37};
    for (int kind = 0; kind < LIP_METRIC_KIND_COUNT; kind++) {
        int binary = binary_kind((lip_metric_kind)kind);
        for (int s = 0; s < 5; s++) {
            size_t B = binary ? bshapes[s][0] : cshapes[s][0], C = binary ? bshapes[s][1] : cshapes[s][1];
            data d = make_data(B, C, binary, s % (binary ? 2 : 3));
            d.as_int = !d.sparse && s == 3;
            for (int variant = 0; variant < 3; variant++) {
                lip_metric_config mc = lip_metric_config_default((lip_metric_kind)kind);
                mc.epsilon = (float)eps[variant];
                mc.lip_const = variant == 2 ? 0.5f : 1.0f;
                mc.disjoint_neurons = variant != 1;
                mc.negative_robustness = variant == 1;
                double factor = lip_certificate_factor(binary ? 1 : C, mc.lip_const, mc.disjoint_neurons);
                size_t count = 0;
                double ref = ref_metric_sum((lip_metric_kind)kind, B, C, d.yd, d.sparse, d.fd, eps[variant], factor,
                                            mc.negative_robustness, &count) /
                             (double)count;
                size_t whole[1] = {B};
                double got = device_metric(&mc, &d, whole, 1);
                char what[160];
                snprintf(what, sizeof what, "%s B=%zu C=%zu variant %d", lip_metric_kind_name((lip_metric_kind)kind), B,
                         C, variant);
                float g = (float)got;
                test_compare(what, &g, &ref, 1, 1e-6, 1e-6);
                if (B == 200) {
                    /* batches of different sizes add up to the one big batch */
                    size_t parts[5] = {1, 7, 13, 64, 115};
                    double acc = device_metric(&mc, &d, parts, 5);
                    int exact = kind == LIP_METRIC_BINARY_ACCURACY || kind == LIP_METRIC_CATEGORICAL_ACCURACY ||
                                kind == LIP_METRIC_BINARY_PROVABLE_ROBUST_ACCURACY ||
                                kind == LIP_METRIC_CATEGORICAL_PROVABLE_ROBUST_ACCURACY;
                    if (exact)
                        CHECK(acc == got);
                    else
                        CHECK_NEAR(acc, got, 1e-6 * fmax(1.0, fabs(got)));
                }
            }
            free_data(&d);
        }
    }
}

/* Certified radii against the host, with and without labels. */
static void test_radii(void) {
    static const size_t shapes[][2] = {{1, 1}, {29, 1}, {1, 4}, {31, 4}, {97, 100}};
    for (int s = 0; s < 5; s++) {
        size_t B = shapes[s][0], C = shapes[s][1];
        for (int enc = 0; enc < (C == 1 ? 2 : 3); enc++) {
            data d = make_data(B, C, C == 1, enc);
            double factor = lip_certificate_factor(C, 1.5, enc == 1);
            lip_tensor *tp = upload_pred(&d, 0, B), *ty = upload_true(&d, 0, B), *r = NULL;
            REQUIRE_OK(lip_tensor_create(ctx, LIP_FLOAT32, 1, &B, &r));
            double *ref = calloc(B, sizeof *ref);
            if (!ref) exit(1);
            for (int labels = 0; labels < 2; labels++) {
                CHECK_OK(lip_certified_radius(ctx, labels ? ty : NULL, tp, (float)factor, r));
                float *got = test_download(r);
                ref_radii(B, C, labels ? d.yd : NULL, d.sparse, d.fd, factor, ref);
                char what[128];
                snprintf(what, sizeof what, "certified radius B=%zu C=%zu encoding %d labels %d", B, C, enc, labels);
                test_compare(what, got, ref, B, 1e-6, 1e-6);
                if (!labels)
                    for (size_t i = 0; i < B; i++) CHECK(got[i] >= 0.0f);
                free(got);
            }
            free(ref);
            lip_tensor_free(tp);
            lip_tensor_free(ty);
            lip_tensor_free(r);
            free_data(&d);
        }
    }
    CHECK_NEAR(lip_certificate_factor(1, 2.0, 1), 2.0, 0);
    CHECK_NEAR(lip_certificate_factor(10, 2.0, 1), 4.0, 0);
    CHECK_NEAR(lip_certificate_factor(10, 2.0, 0), 2.0 * sqrt(2.0), 1e-15);
}

/* ---- spec 2.13's hand-checked values ------------------------------------------------------------- */

static void test_spec_values(void) {
    /* categorical: f = [[1,0,0],[.1,0,0],[0,0,1],[0,0,.1]], true classes [0, 0, 1, 1], factor √2 */
    double fc[12] = {1, 0, 0, .1, 0, 0, 0, 0, 1, 0, 0, .1}, yc[12] = {1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 1, 0};
    size_t n;
    double ra =
        ref_metric_sum(LIP_METRIC_CATEGORICAL_PROVABLE_ROBUST_ACCURACY, 4, 3, yc, 0, fc, .25, sqrt(2), 0, &n) / 4;
    double ar = ref_metric_sum(LIP_METRIC_CATEGORICAL_PROVABLE_AVG_ROBUSTNESS, 4, 3, yc, 0, fc, 0, sqrt(2), 0, &n) / 4;
    CHECK_NEAR(ra, 0.25, 1e-12);
    CHECK_NEAR(ar, .25 * 1.1 / sqrt(2), 1e-12);
    /* binary: f = [1, .1, 1, .1, −1, −.1, −1, −.1], y = [1, 1, −1, −1, −1, −1, 1, 1] */
    double fb[8] = {1, .1, 1, .1, -1, -.1, -1, -.1}, yb[8] = {1, 1, -1, -1, -1, -1, 1, 1};
    double rb = ref_metric_sum(LIP_METRIC_BINARY_PROVABLE_ROBUST_ACCURACY, 8, 1, yb, 0, fb, .25, 1, 0, &n) / 8;
    double ab = ref_metric_sum(LIP_METRIC_BINARY_PROVABLE_AVG_ROBUSTNESS, 8, 1, yb, 0, fb, 0, 1, 0, &n) / 8;
    CHECK_NEAR(rb, 0.25, 1e-12);
    CHECK_NEAR(ab, 0.275, 1e-12);
    /* the device gives the same */
    float fcf[12], ycf[12], fbf[8], ybf[8];
    for (int e = 0; e < 12; e++) {
        fcf[e] = (float)fc[e];
        ycf[e] = (float)yc[e];
    }
    for (int e = 0; e < 8; e++) {
        fbf[e] = (float)fb[e];
        ybf[e] = (float)yb[e];
    }
    size_t s43[2] = {4, 3}, s81[2] = {8, 1};
    lip_tensor *tfc = test_upload(ctx, 2, s43, fcf), *tyc = test_upload(ctx, 2, s43, ycf);
    lip_tensor *tfb = test_upload(ctx, 2, s81, fbf), *tyb = test_upload(ctx, 2, s81, ybf);
    struct {
        lip_metric_kind kind;
        int disjoint;
        double eps, expected;
    } t[] = {{LIP_METRIC_CATEGORICAL_PROVABLE_ROBUST_ACCURACY, 0, .25, .25},
             {LIP_METRIC_CATEGORICAL_PROVABLE_AVG_ROBUSTNESS, 0, 0, .25 * 1.1 / sqrt(2)},
             {LIP_METRIC_BINARY_PROVABLE_ROBUST_ACCURACY, 1, .25, .25},
             {LIP_METRIC_BINARY_PROVABLE_AVG_ROBUSTNESS, 1, 0, .275},
             {LIP_METRIC_CATEGORICAL_ACCURACY, 1, 0, .5},
             {LIP_METRIC_BINARY_ACCURACY, 1, 0, .5}};
    for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
        lip_metric_config mc = lip_metric_config_default(t[i].kind);
        mc.epsilon = (float)t[i].eps;
        mc.disjoint_neurons = t[i].disjoint;
        lip_metric *m = NULL;
        REQUIRE_OK(lip_metric_create(ctx, &mc, &m));
        double v = -1;
        CHECK_OK(lip_metric_result(m, &v));
        CHECK(v == 0.0); /* nothing accumulated yet */
        int bin = binary_kind(t[i].kind);
        CHECK_OK(lip_metric_update(m, bin ? tyb : tyc, bin ? tfb : tfc));
        CHECK_OK(lip_metric_result(m, &v));
        CHECK_NEAR(v, t[i].expected, 1e-7);
        CHECK_OK(lip_metric_reset(m));
        CHECK_OK(lip_metric_result(m, &v));
        CHECK(v == 0.0);
        CHECK_OK(lip_metric_update(m, bin ? tyb : tyc, bin ? tfb : tfc));
        CHECK_OK(lip_metric_update(m, bin ? tyb : tyc, bin ? tfb : tfc));
        CHECK_OK(lip_metric_result(m, &v));
        CHECK_NEAR(v, t[i].expected, 1e-7);
        lip_metric_free(m);
    }
    /* the certificate factor can be overridden */
    lip_metric_config mc = lip_metric_config_default(LIP_METRIC_CATEGORICAL_PROVABLE_AVG_ROBUSTNESS);
    mc.certificate_factor = 4.0f;
    lip_metric *m = NULL;
    REQUIRE_OK(lip_metric_create(ctx, &mc, &m));
    CHECK_OK(lip_metric_update(m, tyc, tfc));
    double v;
    CHECK_OK(lip_metric_result(m, &v));
    CHECK_NEAR(v, 1.1 / 4 / 4, 1e-7);
    lip_metric_free(m);
    lip_tensor_free(tfc);
    lip_tensor_free(tyc);
    lip_tensor_free(tfb);
    lip_tensor_free(tyb);
}

/* ---- errors -------------------------------------------------------------------------------------- */

static void test_errors(void) {
    lip_metric *m = NULL;
    lip_metric_config mc = lip_metric_config_default(LIP_METRIC_CATEGORICAL_PROVABLE_ROBUST_ACCURACY);
    mc.lip_const = 0;
    CHECK_STATUS(lip_metric_create(ctx, &mc, &m), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "lip_const must be finite and > 0");
    mc = lip_metric_config_default(LIP_METRIC_BINARY_PROVABLE_ROBUST_ACCURACY);
    mc.epsilon = -0.1f;
    CHECK_STATUS(lip_metric_create(ctx, &mc, &m), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "epsilon");
    mc = lip_metric_config_default(LIP_METRIC_BINARY_ACCURACY);
    mc.certificate_factor = -1;
    CHECK_STATUS(lip_metric_create(ctx, &mc, &m), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "certificate_factor");
    mc = lip_metric_config_default((lip_metric_kind)9);
    CHECK_STATUS(lip_metric_create(ctx, &mc, &m), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "unknown kind");
    CHECK_STATUS(lip_metric_create(ctx, NULL, &m), LIP_ERR_NULL);
    CHECK(m == NULL);
    CHECK(strcmp(lip_metric_kind_name(LIP_METRIC_CATEGORICAL_PROVABLE_AVG_ROBUSTNESS),
                 "categorical_provable_avg_robustness") == 0);

    float z[12] = {0};
    size_t s43[2] = {4, 3}, s34[2] = {3, 4}, s41[2] = {4, 1}, s4[1] = {4}, s5[1] = {5};
    lip_tensor *f = test_upload(ctx, 2, s43, z), *yb = test_upload(ctx, 2, s34, z), *f1 = test_upload(ctx, 2, s41, z),
               *yf = test_upload(ctx, 1, s4, z), *r5 = NULL, *yi = NULL;
    REQUIRE_OK(lip_tensor_create(ctx, LIP_FLOAT32, 1, s5, &r5));
    REQUIRE_OK(lip_tensor_create(ctx, LIP_INT32, 1, s4, &yi));
    REQUIRE_OK(lip_tensor_fill(yi, 0));
    mc = lip_metric_config_default(LIP_METRIC_CATEGORICAL_ACCURACY);
    REQUIRE_OK(lip_metric_create(ctx, &mc, &m));
    CHECK_STATUS(lip_metric_update(m, yb, f), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "y_true (3, 4) must have the shape of y_pred (4, 3)");
    CHECK_STATUS(lip_metric_update(m, yf, f), LIP_ERR_SHAPE); /* float (B,) is not an index tensor */
    CHECK_MESSAGE(ctx, "int32 class indices");
    CHECK_OK(lip_metric_update(m, yi, f));
    CHECK_STATUS(lip_metric_update(m, f1, f1), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "categorical metrics need at least 2 classes");
    CHECK_STATUS(lip_metric_update(m, NULL, f), LIP_ERR_NULL);
    CHECK_STATUS(lip_metric_result(m, NULL), LIP_ERR_NULL);
    lip_metric_free(m);
    mc = lip_metric_config_default(LIP_METRIC_BINARY_PROVABLE_AVG_ROBUSTNESS);
    REQUIRE_OK(lip_metric_create(ctx, &mc, &m));
    CHECK_STATUS(lip_metric_update(m, yi, f), LIP_ERR_SHAPE); /* no index labels for binary metrics */
    CHECK_MESSAGE(ctx, "one binary label per output");
    CHECK_OK(lip_metric_update(m, f, f));                      /* multilabel: one label per output */
    lip_metric_free(m);

    CHECK_STATUS(lip_certified_radius(ctx, NULL, f, 0.0f, r5), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "factor must be finite and > 0");
    CHECK_STATUS(lip_certified_radius(ctx, NULL, f, 1.0f, r5), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "radii (5,) must hold one value per sample (4)");
    CHECK_STATUS(lip_certified_radius(ctx, yb, f, 1.0f, yf), LIP_ERR_SHAPE);
    CHECK_STATUS(lip_certified_radius(ctx, NULL, NULL, 1.0f, yf), LIP_ERR_NULL);
    CHECK_STATUS(lip_certified_radius(ctx, NULL, f1, 1.0f, f1), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "must not share its buffer");
    lip_metric_free(NULL);
    CHECK_STATUS(lip_metric_update(NULL, f, f), LIP_ERR_NULL);
    lip_tensor *all[] = {f, yb, f1, yf, r5, yi};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) lip_tensor_free(all[i]);
}

/* ---- golden reference cases (tests/reference/metric_*), through the shared runner ---------------- */

static int run_case(const char *dir) {
    case_file c;
    if (!refcase_open(dir, "metric", &c)) return 0;
    int failures = test_failures;
    refcase_track_begin(&c); /* the runner must use every param, variant, input and output line */
    int ok = refrun_metric(ctx, dir, &c) == 1 && failures == test_failures;
    if (ok) ok = refcase_track_end(&c) == 0;
    refcase_track_discard();
    case_free(&c);
    return ok && failures == test_failures;
}

int main(int argc, char **argv) {
    rng = test_seed(20240611);
    ctx = test_context();
    const char *root = argc > 1 ? argv[1] : LIPCL_SOURCE_DIR "/tests/reference";
    if (refcase_is_case_folder(root)) {
        refcase_expect_pass(root, run_case(root));
        test_context_free(ctx);
        return test_finish("test_metrics");
    }
    static const char *const prefixes[] = {"metric_", NULL};
    int ran = refcase_for_each(root, prefixes, 1, run_case);
    printf("%d metric reference cases passed\n", ran);
    CHECK(ran >= 3);
    test_spec_values();
    test_random();
    test_radii();
    test_errors();
    test_context_free(ctx);
    return test_finish("test_metrics");
}
