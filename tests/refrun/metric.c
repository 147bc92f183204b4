/* lipcl tests — golden cases of category 'metric': every param read and checked, robust accuracy at each
 * epsilon and average robustness compared (through lip_metric and through lip_certified_radius). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>

#include "refrun.h"

static const char *const metric_params[] = {"task",           "lip_const",        "epsilons",
                                            "reduction",      "label_encoding",   "disjoint_neurons",
                                            "negative_robustness", NULL};
static const char *const metric_inputs[] = {"y_true", "y_pred", "epsilons", NULL};
static const char *const metric_outputs[] = {"robust_accuracy",        "robust_accuracy_not_disjoint",
                                             "avg_robustness",         "avg_robustness_not_disjoint",
                                             "avg_robustness_negative", "avg_robustness_not_disjoint_negative",
                                             NULL};
static const refcase_keys metric_keys = {metric_params, metric_inputs, metric_outputs};

#define MAX_EPS 64

typedef struct settings {
    int categorical, disjoint, negative;
    double lip_const;
    double eps[MAX_EPS];
    int n_eps;
    const char *encoding;
} settings;

static int parse_bool(const char *dir, const char *name, const char *v, int *out) {
    if (strcmp(v, "true") == 0)
        *out = 1;
    else if (strcmp(v, "false") == 0)
        *out = 0;
    else
        return refcase_fail(dir, "not a bool:", name);
    return 0;
}

/* The settings of `target`: params overlaid with its variant lines; 0 or -1 (reported). */
static int get_settings(const case_file *c, const char *target, settings *s) {
    const char *dir = c->dir;
    memset(s, 0, sizeof *s);
    s->disjoint = 1; /* deel-lip's default */
    const char *task = refcase_param(c, target, "task");
    if (!task) return refcase_fail(dir, "missing param", "task");
    if (strcmp(task, "binary") == 0)
        s->categorical = 0;
    else if (strcmp(task, "categorical") == 0)
        s->categorical = 1;
    else
        return refcase_fail(dir, "unknown task", task);
    const char *l = refcase_param(c, target, "lip_const");
    s->lip_const = 1.0;
    if (l) {
        char *end;
        s->lip_const = strtod(l, &end);
        if (end == l || *end || !(s->lip_const > 0)) return refcase_fail(dir, "bad lip_const", l);
    }
    const char *e = refcase_param(c, target, "epsilons");
    if (!e) return refcase_fail(dir, "missing param", "epsilons");
    s->n_eps = case_numbers(e, s->eps, MAX_EPS);
    if (s->n_eps < 1) return refcase_fail(dir, "bad epsilons", e);
    for (int i = 0; i < s->n_eps; i++)
        if (!(s->eps[i] >= 0)) return refcase_fail(dir, "negative epsilon in", e);
    const char *d = refcase_param(c, target, "disjoint_neurons");
    if (d) {
        if (!s->categorical) return refcase_fail(dir, "disjoint_neurons given for task", task);
        if (parse_bool(dir, "disjoint_neurons", d, &s->disjoint) != 0) return -1;
    }
    const char *n = refcase_param(c, target, "negative_robustness");
    if (n && parse_bool(dir, "negative_robustness", n, &s->negative) != 0) return -1;
    const char *r = refcase_param(c, target, "reduction");
    if (r && strcmp(r, "mean") != 0) return refcase_fail(dir, "unknown reduction", r);
    s->encoding = refcase_param(c, target, "label_encoding");
    if (!s->encoding) return refcase_fail(dir, "missing param", "label_encoding");
    static const char *const bin_enc[] = {"pm1", "01", NULL};
    static const char *const cat_enc[] = {"onehot", "onehot_pm1", "sparse", NULL};
    if (!refcase_in_list(s->categorical ? cat_enc : bin_enc, s->encoding))
        return refcase_fail(dir, "label_encoding does not fit the task:", s->encoding);
    return 0;
}

static int load_input(const case_file *c, const char *name, npy_array *a) {
    char key[64], file[256], dtype[32], path[1536], err[512];
    size_t shape[8];
    int ndim;
    memset(a, 0, sizeof *a);
    snprintf(key, sizeof key, "input.%s", name);
    const char *v = case_get(c, key);
    if (!v) return refcase_fail(c->dir, "missing input", name);
    refcase_mark(c, key);
    if (case_file_line(v, file, sizeof file, dtype, sizeof dtype, shape, &ndim) != 0)
        return refcase_fail(c->dir, "malformed file line", key);
    snprintf(path, sizeof path, "%s/%s", c->dir, file);
    if (npy_load(path, a, err, sizeof err) != 0) return refcase_fail(c->dir, "cannot load", path);
    int want_int = strcmp(dtype, "int32") == 0;
    if ((want_int && a->dtype != NPY_I32) || (!want_int && a->dtype != NPY_F32) || a->ndim != ndim)
        return refcase_fail(c->dir, "array does not match its file line:", key);
    for (int d = 0; d < ndim; d++)
        if (a->shape[d] != shape[d]) return refcase_fail(c->dir, "array does not match its file line:", key);
    return 0;
}

/* The labels follow their encoding. */
static int labels_match(const char *dir, const char *enc, const npy_array *a, size_t B, size_t C) {
    if (strcmp(enc, "sparse") == 0) {
        if (a->dtype != NPY_I32 || a->count != B)
            return refcase_fail(dir, "sparse labels must be int32 (batch,)", "y_true");
        for (size_t i = 0; i < B; i++) {
            int32_t k = ((const int32_t *)a->data)[i];
            if (k < 0 || (size_t)k >= C) return refcase_fail(dir, "class index out of range in", "y_true");
        }
        return 0;
    }
    if (a->dtype != NPY_F32 || a->count != B * C)
        return refcase_fail(dir, "labels must be float32 like y_pred", "y_true");
    const float *y = a->data;
    int binary = strcmp(enc, "pm1") == 0 || strcmp(enc, "01") == 0;
    float neg = (strcmp(enc, "01") == 0 || strcmp(enc, "onehot") == 0) ? 0.0f : -1.0f;
    for (size_t i = 0; i < B; i++) {
        size_t ones = 0;
        for (size_t c = 0; c < C; c++) {
            float v = y[i * C + c];
            if (v != 1.0f && v != neg) return refcase_fail(dir, "label value outside the encoding", enc);
            ones += v == 1.0f;
        }
        if (!binary && ones != 1) return refcase_fail(dir, "one-hot row without exactly one 1 in", "y_true");
    }
    return 0;
}

static lip_tensor *upload_array(lip_context *ctx, const npy_array *a) {
    size_t shape[4];
    int ndim = a->ndim < 1 ? 1 : a->ndim;
    for (int d = 0; d < ndim && d < 4; d++) shape[d] = a->ndim ? a->shape[d] : 1;
    lip_tensor *t = NULL;
    REQUIRE_OK(lip_tensor_create(ctx, a->dtype == NPY_I32 ? LIP_INT32 : LIP_FLOAT32, ndim, shape, &t));
    REQUIRE_OK(lip_tensor_upload(t, a->data, a->count * 4));
    return t;
}

/* One metric on the whole batch. */
static double metric_value(lip_context *ctx, lip_metric_kind kind, const settings *s, double epsilon,
                           const lip_tensor *ty, const lip_tensor *tp) {
    lip_metric_config mc = lip_metric_config_default(kind);
    mc.epsilon = (float)epsilon;
    mc.lip_const = (float)s->lip_const;
    mc.disjoint_neurons = s->disjoint;
    mc.negative_robustness = s->negative;
    lip_metric *m = NULL;
    REQUIRE_OK(lip_metric_create(ctx, &mc, &m));
    double v = NAN;
    CHECK_OK(lip_metric_update(m, ty, tp));
    CHECK_OK(lip_metric_result(m, &v));
    lip_metric_free(m);
    return v;
}

int refrun_metric(lip_context *ctx, const char *dir, const case_file *c) {
    int failures = test_failures;
    if (refcase_validate(c, &metric_keys) != 0) return 0;
    npy_array ay, ap, ae;
    memset(&ay, 0, sizeof ay);
    memset(&ap, 0, sizeof ap);
    memset(&ae, 0, sizeof ae);
    int ok = load_input(c, "y_true", &ay) == 0 && load_input(c, "y_pred", &ap) == 0 &&
             load_input(c, "epsilons", &ae) == 0;
    if (ok && ap.ndim != 2) ok = refcase_fail(dir, "y_pred must be (batch, outputs):", "y_pred") == 0;
    if (ok && ae.dtype != NPY_F32) ok = refcase_fail(dir, "epsilons must be float32:", "epsilons") == 0;
    if (!ok) {
        npy_free(&ay);
        npy_free(&ap);
        npy_free(&ae);
        return 0;
    }
    size_t B = ap.shape[0], C = ap.shape[1];
    lip_tensor *ty = upload_array(ctx, &ay), *tp = upload_array(ctx, &ap), *radii = NULL;
    REQUIRE_OK(lip_tensor_create(ctx, LIP_FLOAT32, 1, &B, &radii));
    int compared = 0, outputs = 0;
    for (size_t i = 0; i < c->count; i++) {
        const char *key = c->entries[i].key;
        if (strncmp(key, "output.", 7) != 0) continue;
        const char *target = key + 7;
        outputs++;
        settings s;
        if (get_settings(c, target, &s) != 0 || labels_match(dir, s.encoding, &ay, B, C) != 0) break;
        if (s.categorical != (C > 1)) {
            refcase_fail(dir, "task does not fit the number of outputs of", "y_pred");
            break;
        }
        /* input epsilons.npy holds the param's list */
        const float *ein = ae.data;
        int same = ae.count == (size_t)s.n_eps;
        for (int e = 0; same && e < s.n_eps; e++) same = fabs(ein[e] - s.eps[e]) <= 1e-7 * (1 + s.eps[e]);
        if (!same) {
            refcase_fail(dir, "input epsilons differ from", "param.epsilons");
            break;
        }
        size_t count = 0, shape[8];
        int ndim = 0;
        double *expected = refcase_doubles(c, key, &count, shape, &ndim);
        if (!expected) break;
        /* the certified radii give the same numbers: mean(r > ε) and mean(φ(r)) */
        float factor = (float)lip_certificate_factor(C, s.lip_const, s.disjoint);
        CHECK_OK(lip_certified_radius(ctx, ty, tp, factor, radii));
        float *r = test_download(radii);
        char what[256];
        if (strncmp(target, "robust_accuracy", 15) == 0) {
            lip_metric_kind kind = s.categorical ? LIP_METRIC_CATEGORICAL_PROVABLE_ROBUST_ACCURACY
                                                 : LIP_METRIC_BINARY_PROVABLE_ROBUST_ACCURACY;
            float got[MAX_EPS], via_radius[MAX_EPS];
            for (int e = 0; e < s.n_eps; e++) {
                got[e] = (float)metric_value(ctx, kind, &s, s.eps[e], ty, tp);
                size_t above = 0;
                for (size_t j = 0; j < B; j++) above += r[j] > (float)s.eps[e];
                via_radius[e] = (float)((double)above / (double)B);
            }
            if (count != (size_t)s.n_eps) {
                refcase_fail(dir, "expected one value per epsilon in", key);
            } else {
                compared += refcase_compare(dir, target, got, expected, count);
                snprintf(what, sizeof what, "%s (via lip_certified_radius)", target);
                refcase_compare(dir, what, via_radius, expected, count);
            }
        } else {
            lip_metric_kind kind = s.categorical ? LIP_METRIC_CATEGORICAL_PROVABLE_AVG_ROBUSTNESS
                                                 : LIP_METRIC_BINARY_PROVABLE_AVG_ROBUSTNESS;
            float got = (float)metric_value(ctx, kind, &s, 0.0, ty, tp);
            double sum = 0;
            for (size_t j = 0; j < B; j++) sum += s.negative ? r[j] : fmax(r[j], 0.0f);
            float via = (float)(sum / (double)B);
            if (count != 1) {
                refcase_fail(dir, "expected one value in", key);
            } else {
                compared += refcase_compare(dir, target, &got, expected, 1);
                snprintf(what, sizeof what, "%s (via lip_certified_radius)", target);
                refcase_compare(dir, what, &via, expected, 1);
                refcase_check_result(c, target, got, REFCASE_ATOL, REFCASE_RTOL);
            }
        }
        free(r);
        free(expected);
    }
    if (outputs == 0) refcase_fail(dir, "no output to compare in", "case.txt");
    lip_tensor_free(ty);
    lip_tensor_free(tp);
    lip_tensor_free(radii);
    npy_free(&ay);
    npy_free(&ap);
    npy_free(&ae);
    return compared == outputs && outputs > 0 && failures == test_failures;
}
