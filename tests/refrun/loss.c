/* lipcl tests — golden cases of category 'loss': every param read and checked, the loss value, per-sample
 * values and gradient compared, and MulticlassSoftHKR's state (updated_current_mean, temperature_used). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>

#include "refrun.h"

static const char *const loss_params[] = {"loss",        "alpha",     "min_margin",     "tau", "alpha_mean",
                                          "temperature", "reduction", "label_encoding", NULL};
static const char *const loss_inputs[] = {"y_true", "y_pred", NULL};
static const char *const loss_outputs[] = {"loss", "per_sample", "grad_y_pred", NULL};
static const refcase_keys loss_keys = {loss_params, loss_inputs, loss_outputs};

/* The README's vocabulary of param.loss (lipcl's extra kinds are not part of it). */
static const char *const loss_names[] = {"KR",
                                         "HingeMargin",
                                         "HKR",
                                         "TauBinaryCrossentropy",
                                         "MulticlassKR",
                                         "MulticlassHinge",
                                         "MulticlassHKR",
                                         "MulticlassSoftHKR",
                                         "MultiMargin",
                                         "CategoricalHinge",
                                         "TauCategoricalCrossentropy",
                                         "TauSparseCategoricalCrossentropy",
                                         NULL};
static const char *const encodings[] = {"pm1", "01", "onehot", "onehot_pm1", "sparse", NULL};

static int binary_kind(lip_loss_kind k) {
    return k == LIP_LOSS_KR || k == LIP_LOSS_HKR || k == LIP_LOSS_HINGE_MARGIN || k == LIP_LOSS_TAU_BINARY_CROSSENTROPY;
}

/* Which numeric params a kind takes, and which of them deel-lip requires. */
static int takes(lip_loss_kind k, const char *p) {
    if (strcmp(p, "alpha") == 0)
        return k == LIP_LOSS_HKR || k == LIP_LOSS_MULTICLASS_HKR || k == LIP_LOSS_MULTICLASS_SOFT_HKR;
    if (strcmp(p, "min_margin") == 0)
        return k != LIP_LOSS_KR && k != LIP_LOSS_MULTICLASS_KR && k != LIP_LOSS_TAU_BINARY_CROSSENTROPY &&
               k != LIP_LOSS_TAU_CATEGORICAL_CROSSENTROPY && k != LIP_LOSS_TAU_SPARSE_CATEGORICAL_CROSSENTROPY;
    if (strcmp(p, "tau") == 0)
        return k == LIP_LOSS_TAU_BINARY_CROSSENTROPY || k == LIP_LOSS_TAU_CATEGORICAL_CROSSENTROPY ||
               k == LIP_LOSS_TAU_SPARSE_CATEGORICAL_CROSSENTROPY;
    if (strcmp(p, "alpha_mean") == 0 || strcmp(p, "temperature") == 0) return k == LIP_LOSS_MULTICLASS_SOFT_HKR;
    return 0;
}
static int required(lip_loss_kind k, const char *p) {
    return (strcmp(p, "alpha") == 0 && k == LIP_LOSS_HKR) ||
           (strcmp(p, "min_margin") == 0 && k == LIP_LOSS_CATEGORICAL_HINGE) || (strcmp(p, "tau") == 0 && takes(k, p));
}

/* The settings of output/result `target`: params overlaid with its variant lines. 0, or -1 (reported). */
static int settings(const case_file *c, const char *target, lip_loss_config *cfg, const char **encoding) {
    const char *dir = c->dir, *name = refcase_param(c, target, "loss");
    if (!name) return refcase_fail(dir, "missing param", "loss");
    lip_loss_kind kind;
    if (!refcase_in_list(loss_names, name) || lip_loss_kind_from_name(name, &kind) != LIP_OK)
        return refcase_fail(dir, "unknown loss", name);
    *cfg = lip_loss_config_default(kind);
    static const char *const numeric[] = {"alpha", "min_margin", "tau", "alpha_mean", "temperature", NULL};
    float *slots[] = {&cfg->alpha, &cfg->min_margin, &cfg->tau, &cfg->alpha_mean, &cfg->temperature};
    for (int i = 0; numeric[i]; i++) {
        const char *v = refcase_param(c, target, numeric[i]);
        if (!v) {
            if (required(kind, numeric[i])) return refcase_fail(dir, "deel-lip requires param", numeric[i]);
            continue;
        }
        if (!takes(kind, numeric[i])) return refcase_fail(dir, "this loss takes no param", numeric[i]);
        char *end;
        double d = strtod(v, &end);
        if (end == v || *end) return refcase_fail(dir, "not a number:", v);
        *slots[i] = (float)d;
    }
    const char *red = refcase_param(c, target, "reduction");
    if (red && strcmp(red, "mean") != 0) return refcase_fail(dir, "unknown reduction", red);
    cfg->reduction = LIP_REDUCTION_MEAN;
    const char *enc = refcase_param(c, target, "label_encoding");
    if (!enc) return refcase_fail(dir, "missing param", "label_encoding");
    if (!refcase_in_list(encodings, enc)) return refcase_fail(dir, "unknown label_encoding", enc);
    int fits;
    if (kind == LIP_LOSS_TAU_SPARSE_CATEGORICAL_CROSSENTROPY)
        fits = strcmp(enc, "sparse") == 0;
    else if (binary_kind(kind))
        fits = strcmp(enc, "pm1") == 0 || strcmp(enc, "01") == 0;
    else if (kind == LIP_LOSS_TAU_CATEGORICAL_CROSSENTROPY)
        fits = strcmp(enc, "onehot") == 0;
    else
        fits = strcmp(enc, "onehot") == 0 || strcmp(enc, "onehot_pm1") == 0;
    if (!fits) return refcase_fail(dir, "label_encoding does not fit the loss:", enc);
    *encoding = enc;
    return 0;
}

/* The labels follow their declared encoding (host check on the loaded array). */
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
    if (binary && C != 1) return refcase_fail(dir, "binary labels need one column:", enc);
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

/* Load input `name` (float32 or int32) of the case. */
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

static lip_tensor *upload_array(lip_context *ctx, const npy_array *a) {
    size_t shape[4];
    int ndim = a->ndim < 1 ? 1 : a->ndim;
    for (int d = 0; d < ndim && d < 4; d++) shape[d] = a->ndim ? a->shape[d] : 1;
    lip_tensor *t = NULL;
    REQUIRE_OK(lip_tensor_create(ctx, a->dtype == NPY_I32 ? LIP_INT32 : LIP_FLOAT32, ndim, shape, &t));
    REQUIRE_OK(lip_tensor_upload(t, a->data, a->count * 4));
    return t;
}

/* result.<name> (a float) against `got` under the reference tolerance, when the case has it. */
static void check_result(const case_file *c, const char *name, double got) {
    refcase_check_result(c, name, (double)(float)got, REFCASE_ATOL, REFCASE_RTOL);
}

int refrun_loss(lip_context *ctx, const char *dir, const case_file *c) {
    int failures = test_failures;
    if (refcase_validate(c, &loss_keys) != 0) return 0;
    npy_array ay, ap;
    memset(&ay, 0, sizeof ay);
    memset(&ap, 0, sizeof ap);
    int ok = load_input(c, "y_true", &ay) == 0 && load_input(c, "y_pred", &ap) == 0;
    if (ok && ap.ndim != 2) ok = refcase_fail(dir, "y_pred must be (batch, classes):", "y_pred") == 0;
    if (!ok) {
        npy_free(&ay);
        npy_free(&ap);
        return 0;
    }
    size_t B = ap.shape[0], C = ap.shape[1];
    lip_tensor *ty = upload_array(ctx, &ay), *tp = upload_array(ctx, &ap);
    int compared = 0, outputs = 0;
    for (size_t i = 0; i < c->count; i++) {
        const char *key = c->entries[i].key;
        if (strncmp(key, "output.", 7) != 0) continue;
        const char *target = key + 7;
        outputs++;
        lip_loss_config cfg;
        const char *enc = "";
        if (settings(c, target, &cfg, &enc) != 0 || labels_match(dir, enc, &ay, B, C) != 0) break;
        int per_sample = strcmp(target, "per_sample") == 0, grad = strcmp(target, "grad_y_pred") == 0;
        if (per_sample) cfg.reduction = LIP_REDUCTION_NONE; /* the values before the reduction */
        lip_loss *loss = NULL;
        if (lip_loss_create(ctx, &cfg, &loss) != LIP_OK) {
            refcase_fail(dir, lip_context_last_error(ctx), target);
            break;
        }
        CHECK_OK(lip_loss_check_labels(loss, ty, tp));
        size_t oshape[2] = {B, C}, on = per_sample ? B : 1;
        lip_tensor *out = test_sentinel(ctx, LIP_FLOAT32, 1, &on), *g = test_sentinel(ctx, LIP_FLOAT32, 2, oshape);
        /* a fresh loss: the first call after construction (SoftHKR's state), then the gradient of that call */
        CHECK_OK(lip_loss_forward_backward(loss, ty, tp, out, g));
        compared += refcase_check_output(c, target, grad ? g : out);
        if (strcmp(target, "loss") == 0) {
            float v;
            test_read(out, &v);
            check_result(c, "loss", v);
            size_t n = 0;
            CHECK_OK(lip_loss_state_size(loss, &n));
            float state[2] = {0, 0};
            if (n == 2) {
                CHECK_OK(lip_loss_get_state(loss, state, 2));
                check_result(c, "updated_current_mean", state[0]);
                check_result(c, "temperature_used", state[1]);
            } else if (case_get(c, "result.updated_current_mean") || case_get(c, "result.temperature_used")) {
                refcase_fail(dir, "state results for a stateless loss", lip_loss_kind_name(cfg.kind));
            }
        }
        CHECK_OK(lip_loss_label_errors(loss));
        lip_tensor_free(out);
        lip_tensor_free(g);
        lip_loss_free(loss);
    }
    if (outputs == 0) refcase_fail(dir, "no output to compare in", "case.txt");
    lip_tensor_free(ty);
    lip_tensor_free(tp);
    npy_free(&ay);
    npy_free(&ap);
    return compared == outputs && outputs > 0 && failures == test_failures;
}
