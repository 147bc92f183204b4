/* lipcl — losses (deel-lip's KR family, hinges, soft HKR, margins, Tau cross-entropies, plus CCE and MSE):
 * configuration and bounds, shape and label checks, and the launches of kernels/losses.cl. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "lipcl/losses.h"

/* Work-group size of the one-item-per-row kernel (no barrier, so any size works). */
#define ROWS_LOCAL 64
/* The class counts are float sums of 0/1, exact up to 2^24 rows. */
#define MAX_KR_ROWS 16777216u

/* Label-error bits written by kernels/losses.cl. */
#define BAD_VALUE 1
#define BAD_ONEHOT 2
#define BAD_PROB 4
#define BAD_INDEX 8

struct lip_loss {
    lip_context *ctx;
    lip_loss_config cfg;
    lip_tensor *state;  /* MulticlassSoftHKR: [current_mean, T of the last forward] */
    lip_tensor *flags;  /* int32 (1,): label-error bits since the last lip_loss_label_errors */
    lip_tensor *counts; /* KR class counts, capacity counts_cap */
    lip_tensor *ps;     /* per-sample values before the reduction, capacity ps_cap */
    size_t counts_cap, ps_cap;
};

/* ---- kinds, names, defaults, bounds ---------------------------------------------------------- */

static const char *const kind_names[LIP_LOSS_KIND_COUNT] = {
    "KR", "HKR", "HingeMargin", "MulticlassKR", "MulticlassHinge", "MulticlassHKR", "MulticlassSoftHKR",
    "MultiMargin", "CategoricalHinge", "TauCategoricalCrossentropy", "TauSparseCategoricalCrossentropy",
    "TauBinaryCrossentropy", "CategoricalCrossentropy", "MSE"};

const char *lip_loss_kind_name(lip_loss_kind kind) {
    return (unsigned)kind < LIP_LOSS_KIND_COUNT ? kind_names[kind] : "unknown";
}

lip_status lip_loss_kind_from_name(const char *name, lip_loss_kind *kind) {
    if (!name || !kind) return LIP_ERR_NULL;
    for (int k = 0; k < LIP_LOSS_KIND_COUNT; k++)
        if (strcmp(name, kind_names[k]) == 0) {
            *kind = (lip_loss_kind)k;
            return LIP_OK;
        }
    return LIP_ERR_INVALID_ARGUMENT;
}

lip_loss_config lip_loss_config_default(lip_loss_kind kind) {
    lip_loss_config c;
    memset(&c, 0, sizeof c);
    c.kind = kind;
    c.alpha = 10.0f;
    c.min_margin = 1.0f;
    c.tau = 1.0f;
    c.alpha_mean = 0.99f;
    c.temperature = 1.0f;
    c.multi_gpu = 0;
    c.from_logits = 1;
    c.reduction = LIP_REDUCTION_MEAN;
    return c;
}

/* Label conventions. */
typedef enum { LABELS_BINARY, LABELS_ONEHOT, LABELS_PROB, LABELS_SPARSE, LABELS_ANY } label_family;

static label_family labels_of(lip_loss_kind k) {
    switch (k) {
    case LIP_LOSS_KR:
    case LIP_LOSS_HKR:
    case LIP_LOSS_HINGE_MARGIN:
    case LIP_LOSS_TAU_BINARY_CROSSENTROPY:
        return LABELS_BINARY;
    case LIP_LOSS_TAU_CATEGORICAL_CROSSENTROPY:
    case LIP_LOSS_CATEGORICAL_CROSSENTROPY:
        return LABELS_PROB;
    case LIP_LOSS_TAU_SPARSE_CATEGORICAL_CROSSENTROPY:
        return LABELS_SPARSE;
    case LIP_LOSS_MSE:
        return LABELS_ANY;
    default:
        return LABELS_ONEHOT;
    }
}

static int uses_alpha(lip_loss_kind k) {
    return k == LIP_LOSS_HKR || k == LIP_LOSS_MULTICLASS_HKR || k == LIP_LOSS_MULTICLASS_SOFT_HKR;
}
static int uses_margin(lip_loss_kind k) {
    return k == LIP_LOSS_HKR || k == LIP_LOSS_HINGE_MARGIN || k == LIP_LOSS_MULTICLASS_HINGE ||
           k == LIP_LOSS_MULTICLASS_HKR || k == LIP_LOSS_MULTICLASS_SOFT_HKR || k == LIP_LOSS_MULTI_MARGIN ||
           k == LIP_LOSS_CATEGORICAL_HINGE;
}
static int uses_tau(lip_loss_kind k) {
    return k == LIP_LOSS_TAU_CATEGORICAL_CROSSENTROPY || k == LIP_LOSS_TAU_SPARSE_CATEGORICAL_CROSSENTROPY ||
           k == LIP_LOSS_TAU_BINARY_CROSSENTROPY;
}
static int is_soft(lip_loss_kind k) { return k == LIP_LOSS_MULTICLASS_SOFT_HKR; }
static int is_kr_family(lip_loss_kind k) {
    return k == LIP_LOSS_KR || k == LIP_LOSS_HKR || k == LIP_LOSS_MULTICLASS_KR || k == LIP_LOSS_MULTICLASS_HKR;
}
/* Kinds whose C must be ≥ 2. */
static int needs_classes(lip_loss_kind k) {
    label_family f = labels_of(k);
    return f == LABELS_ONEHOT || f == LABELS_PROB || f == LABELS_SPARSE;
}

/* The bound of one parameter; NULL when fine, else what it must be. */
static const char *param_bound(lip_loss_kind kind, const char *name, float v) {
    if (strcmp(name, "alpha") == 0) {
        if (is_soft(kind)) return (v > 0.0f && !isnan(v)) ? NULL : "> 0 (or +INFINITY for the hinge only)";
        return (v >= 0.0f && !isnan(v)) ? NULL : ">= 0 (or +INFINITY for the hinge only)";
    }
    if (strcmp(name, "min_margin") == 0) return (isfinite(v) && v > 0.0f) ? NULL : "finite and > 0";
    if (strcmp(name, "tau") == 0) return (isfinite(v) && v > 0.0f) ? NULL : "finite and > 0";
    if (strcmp(name, "alpha_mean") == 0) return (v >= 0.0f && v <= 1.0f) ? NULL : "in [0, 1]";
    if (strcmp(name, "temperature") == 0) return (isfinite(v) && v > 0.0f) ? NULL : "finite and > 0";
    return "a known parameter";
}

/* Where the config keeps a parameter the kind uses; NULL for an unknown or unused name. */
static float *param_slot(lip_loss_config *c, const char *name) {
    if (!name) return NULL;
    if (strcmp(name, "alpha") == 0) return uses_alpha(c->kind) ? &c->alpha : NULL;
    if (strcmp(name, "min_margin") == 0) return uses_margin(c->kind) ? &c->min_margin : NULL;
    if (strcmp(name, "tau") == 0) return uses_tau(c->kind) ? &c->tau : NULL;
    if (strcmp(name, "alpha_mean") == 0) return is_soft(c->kind) ? &c->alpha_mean : NULL;
    if (strcmp(name, "temperature") == 0) return is_soft(c->kind) ? &c->temperature : NULL;
    return NULL;
}

static lip_status check_config(lip_context *ctx, const lip_loss_config *c) {
    LIP_CHECK(ctx, (unsigned)c->kind < LIP_LOSS_KIND_COUNT, LIP_ERR_INVALID_ARGUMENT, "loss: unknown kind %d",
              (int)c->kind);
    const char *name = kind_names[c->kind];
    LIP_CHECK(ctx, (unsigned)c->reduction <= LIP_REDUCTION_NONE, LIP_ERR_INVALID_ARGUMENT,
              "%s: unknown reduction %d (MEAN, SUM or NONE)", name, (int)c->reduction);
    static const char *const params[] = {"alpha", "min_margin", "tau", "alpha_mean", "temperature"};
    lip_loss_config copy = *c;
    for (size_t i = 0; i < sizeof params / sizeof *params; i++) {
        const float *slot = param_slot(&copy, params[i]);
        if (!slot) continue;
        const char *bound = param_bound(c->kind, params[i], *slot);
        LIP_CHECK(ctx, !bound, LIP_ERR_INVALID_ARGUMENT, "%s: %s must be %s (got %g)", name, params[i], bound,
                  (double)*slot);
    }
    LIP_CHECK(ctx, c->multi_gpu == 0 || c->multi_gpu == 1, LIP_ERR_INVALID_ARGUMENT, "%s: multi_gpu must be 0 or 1",
              name);
    LIP_CHECK(ctx, !c->multi_gpu || is_kr_family(c->kind), LIP_ERR_INVALID_ARGUMENT,
              "%s: multi_gpu applies to KR, HKR, MulticlassKR and MulticlassHKR only", name);
    LIP_CHECK(ctx, c->from_logits == 0 || c->from_logits == 1, LIP_ERR_INVALID_ARGUMENT,
              "%s: from_logits must be 0 or 1", name);
    return LIP_OK;
}

/* ---- kernels ------------------------------------------------------------------------------------- */

/* The work-group size a reduction kernel was compiled for (reqd_work_group_size). */
static lip_status compiled_wg(lip_context *ctx, cl_kernel k, const char *entry, size_t *wg) {
    size_t req[3] = {0, 0, 0};
    LIP_CL(ctx, clGetKernelWorkGroupInfo(k, ctx->device, CL_KERNEL_COMPILE_WORK_GROUP_SIZE, sizeof req, req, NULL));
    LIP_CHECK(ctx, req[0] >= 1, LIP_ERR_INTERNAL, "kernel %s has no required work-group size", entry);
    *wg = req[0];
    return LIP_OK;
}

/* Launch a one-group-per-`groups` reduction kernel of losses.cl. */
static lip_status launch_groups(lip_context *ctx, const char *entry, const char *label, size_t groups, size_t nargs,
                                const lip_karg *args) {
    cl_kernel k;
    size_t wg;
    LIP_TRY(lip_kernel_get(ctx, "losses", entry, NULL, &k));
    LIP_TRY(compiled_wg(ctx, k, entry, &wg));
    size_t global = groups * wg;
    return lip_launch(ctx, k, label, 1, &global, &wg, nargs, args);
}

/* counts[c] = rows with y[:, c] == 1, into `counts` (≥ C floats). */
static lip_status launch_counts(lip_context *ctx, const lip_tensor *y, size_t B, size_t C, lip_tensor *counts) {
    cl_uint y_off = (cl_uint)y->offset, y_int = y->dtype == LIP_INT32, b = (cl_uint)B, c = (cl_uint)C,
            c_off = (cl_uint)counts->offset;
    return launch_groups(ctx, "lip_losses_class_counts", "losses/class_counts", C,
                         LIP_KARGS(LIP_KARG(y->mem), LIP_KARG(y_off), LIP_KARG(y_int), LIP_KARG(b), LIP_KARG(c),
                                   LIP_KARG(counts->mem), LIP_KARG(c_off)));
}

/* A scratch tensor of at least n floats (grown, never shrunk). */
static lip_status ensure_scratch(lip_context *ctx, lip_tensor **t, size_t *cap, size_t n) {
    if (*t && *cap >= n) return LIP_OK;
    lip_tensor_free(*t);
    *t = NULL;
    *cap = 0;
    LIP_TRY(lip_tensor_create(ctx, LIP_FLOAT32, 1, &n, t));
    *cap = n;
    return LIP_OK;
}

/* The SoftHKR state of a fresh loss: current_mean = m, T = clip(temperature·m / clip(m, m, 20000)). */
static lip_status upload_state(lip_loss *loss, float current_mean, float temperature_used) {
    float s[2] = {current_mean, temperature_used};
    return lip_tensor_upload(loss->state, s, sizeof s);
}

static float initial_temperature(const lip_loss_config *c) {
    float m = c->min_margin, cm = m < 20000.0f ? m : 20000.0f;
    float t = c->temperature * m / cm;
    return t < 0.005f ? 0.005f : (t > 250.0f ? 250.0f : t);
}

/* ---- create / free / params / state ------------------------------------------------------------- */

lip_status lip_loss_create(lip_context *ctx, const lip_loss_config *config, lip_loss **out) {
    if (!ctx) return LIP_ERR_NULL;
    LIP_CHECK(ctx, config && out, LIP_ERR_NULL, "lip_loss_create: config or out is NULL");
    *out = NULL;
    LIP_TRY(check_config(ctx, config));
    lip_loss *l = calloc(1, sizeof *l);
    LIP_CHECK(ctx, l, LIP_ERR_OUT_OF_HOST_MEMORY, "%s: out of host memory", kind_names[config->kind]);
    l->ctx = ctx;
    l->cfg = *config;
    ctx->live_objects++;
    lip_status st;
    size_t one = 1, two = 2;
    LIP_TRY_GOTO(st, lip_tensor_create(ctx, LIP_INT32, 1, &one, &l->flags));
    LIP_TRY_GOTO(st, lip_tensor_fill(l->flags, 0.0));
    if (is_soft(config->kind)) {
        LIP_TRY_GOTO(st, lip_tensor_create(ctx, LIP_FLOAT32, 1, &two, &l->state));
        LIP_TRY_GOTO(st, upload_state(l, config->min_margin, initial_temperature(config)));
    }
    *out = l;
    return LIP_OK;
fail:
    lip_loss_free(l);
    return st;
}

void lip_loss_free(lip_loss *loss) {
    if (!loss) return;
    lip_tensor_free(loss->state);
    lip_tensor_free(loss->flags);
    lip_tensor_free(loss->counts);
    lip_tensor_free(loss->ps);
    loss->ctx->live_objects--;
    free(loss);
}

lip_status lip_loss_get_config(const lip_loss *loss, lip_loss_config *config) {
    if (!loss) return LIP_ERR_NULL;
    LIP_CHECK(loss->ctx, config, LIP_ERR_NULL, "%s: config is NULL", kind_names[loss->cfg.kind]);
    *config = loss->cfg;
    return LIP_OK;
}

lip_status lip_loss_set_param(lip_loss *loss, const char *name, float value) {
    if (!loss) return LIP_ERR_NULL;
    const char *kn = kind_names[loss->cfg.kind];
    LIP_CHECK(loss->ctx, name, LIP_ERR_NULL, "%s: parameter name is NULL", kn);
    float *slot = param_slot(&loss->cfg, name);
    LIP_CHECK(loss->ctx, slot, LIP_ERR_INVALID_ARGUMENT, "%s has no parameter '%s'", kn, name);
    const char *bound = param_bound(loss->cfg.kind, name, value);
    LIP_CHECK(loss->ctx, !bound, LIP_ERR_INVALID_ARGUMENT, "%s: %s must be %s (got %g)", kn, name, bound,
              (double)value);
    *slot = value;
    return LIP_OK;
}

lip_status lip_loss_get_param(const lip_loss *loss, const char *name, float *value) {
    if (!loss) return LIP_ERR_NULL;
    const char *kn = kind_names[loss->cfg.kind];
    LIP_CHECK(loss->ctx, name && value, LIP_ERR_NULL, "%s: parameter name or value pointer is NULL", kn);
    lip_loss_config c = loss->cfg;
    float *slot = param_slot(&c, name);
    LIP_CHECK(loss->ctx, slot, LIP_ERR_INVALID_ARGUMENT, "%s has no parameter '%s'", kn, name);
    *value = *slot;
    return LIP_OK;
}

lip_status lip_loss_state_size(const lip_loss *loss, size_t *count) {
    if (!loss) return LIP_ERR_NULL;
    LIP_CHECK(loss->ctx, count, LIP_ERR_NULL, "%s: count is NULL", kind_names[loss->cfg.kind]);
    *count = loss->state ? 2 : 0;
    return LIP_OK;
}

static lip_status check_state_count(const lip_loss *loss, const void *values, size_t count) {
    const char *kn = kind_names[loss->cfg.kind];
    size_t want = loss->state ? 2 : 0;
    LIP_CHECK(loss->ctx, count == want, LIP_ERR_INVALID_ARGUMENT, "%s: its state has %zu float%s, not %zu", kn, want,
              want == 1 ? "" : "s", count);
    LIP_CHECK(loss->ctx, values || count == 0, LIP_ERR_NULL, "%s: state values pointer is NULL", kn);
    return LIP_OK;
}

lip_status lip_loss_get_state(lip_loss *loss, float *values, size_t count) {
    if (!loss) return LIP_ERR_NULL;
    LIP_TRY(check_state_count(loss, values, count));
    if (count == 0) return LIP_OK;
    return lip_tensor_download(loss->state, values, count * sizeof *values);
}

lip_status lip_loss_set_state(lip_loss *loss, const float *values, size_t count) {
    if (!loss) return LIP_ERR_NULL;
    LIP_TRY(check_state_count(loss, values, count));
    if (count == 0) return LIP_OK;
    LIP_CHECK(loss->ctx, isfinite(values[0]) && values[0] >= 0.0f, LIP_ERR_INVALID_ARGUMENT,
              "%s: state current_mean must be finite and >= 0 (got %g)", kind_names[loss->cfg.kind],
              (double)values[0]);
    LIP_CHECK(loss->ctx, isfinite(values[1]) && values[1] > 0.0f, LIP_ERR_INVALID_ARGUMENT,
              "%s: state temperature must be finite and > 0 (got %g)", kind_names[loss->cfg.kind],
              (double)values[1]);
    return upload_state(loss, values[0], values[1]);
}

lip_status lip_loss_reset_state(lip_loss *loss) {
    if (!loss) return LIP_ERR_NULL;
    if (!loss->state) return LIP_OK;
    return upload_state(loss, loss->cfg.min_margin, initial_temperature(&loss->cfg));
}

/* ---- shapes ---------------------------------------------------------------------------------------- */

typedef struct batch {
    size_t B, C;
} batch;

/* y_pred (B, C) or (B,), y_true as the kind wants; names the loss and both shapes on failure. */
static lip_status check_batch(lip_context *ctx, const char *op, lip_loss_kind kind, const lip_tensor *y_true,
                              const lip_tensor *y_pred, batch *b) {
    char what[160], ps[64], ts[64];
    snprintf(what, sizeof what, "%s: y_pred", op);
    LIP_TRY(lip_check_tensor(ctx, y_pred, LIP_FLOAT32, what));
    LIP_CHECK(ctx, y_true, LIP_ERR_NULL, "%s: y_true is NULL", op);
    LIP_CHECK(ctx, y_true->ctx == ctx, LIP_ERR_INVALID_ARGUMENT, "%s: y_true belongs to another context", op);
    LIP_CHECK(ctx, y_pred->ndim <= 2, LIP_ERR_SHAPE, "%s: y_pred %s must be (batch, outputs) or (batch,)", op,
              lip_shape_string(y_pred, ps, sizeof ps));
    b->B = y_pred->shape[0];
    b->C = y_pred->ndim == 2 ? y_pred->shape[1] : 1;
    lip_shape_string(y_pred, ps, sizeof ps);
    lip_shape_string(y_true, ts, sizeof ts);
    LIP_CHECK(ctx, !needs_classes(kind) || b->C >= 2, LIP_ERR_SHAPE,
              "%s: y_pred %s has %zu output; this loss needs at least 2 classes", op, ps, b->C);
    LIP_CHECK(ctx, !is_kr_family(kind) || b->B <= MAX_KR_ROWS, LIP_ERR_SHAPE, "%s: batch of %zu rows exceeds %u",
              op, b->B, MAX_KR_ROWS);
    if (labels_of(kind) == LABELS_SPARSE) {
        LIP_CHECK(ctx, y_true->dtype == LIP_INT32, LIP_ERR_DTYPE,
                  "%s: y_true %s must be int32 class indices", op, ts);
        LIP_CHECK(ctx, y_true->shape[0] == b->B && y_true->count == b->B && y_true->ndim <= 2, LIP_ERR_SHAPE,
                  "%s: y_true %s must hold one class index per row of y_pred %s: (%zu,) or (%zu, 1)", op, ts, ps,
                  b->B, b->B);
        return LIP_OK;
    }
    LIP_CHECK(ctx, y_true->dtype == LIP_FLOAT32 || y_true->dtype == LIP_INT32, LIP_ERR_DTYPE,
              "%s: y_true must be float32 or int32", op);
    int same = y_true->shape[0] == b->B && y_true->count == b->B * b->C && y_true->ndim <= 2;
    const char *conv = labels_of(kind) == LABELS_BINARY   ? "binary labels, one column per output"
                       : labels_of(kind) == LABELS_ONEHOT ? "one-hot labels"
                       : labels_of(kind) == LABELS_PROB   ? "one probability row per sample"
                                                          : "targets";
    LIP_CHECK(ctx, same, LIP_ERR_SHAPE, "%s: y_true %s must have the shape of y_pred %s (%s)", op, ts, ps, conv);
    return LIP_OK;
}

/* An output that must hold `count` floats and not share memory with the inputs. */
static lip_status check_output(lip_context *ctx, const char *op, const char *name, const lip_tensor *t, size_t count,
                               const char *why, const lip_tensor *y_true, const lip_tensor *y_pred) {
    char what[160], s[64];
    snprintf(what, sizeof what, "%s: %s", op, name);
    LIP_TRY(lip_check_tensor(ctx, t, LIP_FLOAT32, what));
    LIP_CHECK(ctx, t->count == count, LIP_ERR_SHAPE, "%s: %s %s must hold %zu element%s (%s)", op, name,
              lip_shape_string(t, s, sizeof s), count, count == 1 ? "" : "s", why);
    LIP_CHECK(ctx, t->mem != y_pred->mem && t->mem != y_true->mem, LIP_ERR_INVALID_ARGUMENT,
              "%s: %s must not share its buffer with y_true or y_pred", op, name);
    return LIP_OK;
}

/* ---- forward / backward ---------------------------------------------------------------------------- */

/* c_kr, c_h of kernels/losses.cl for the kind and α. */
static void coefficients(const lip_loss_config *c, float *c_kr, float *c_h) {
    *c_kr = 0.0f;
    *c_h = 0.0f;
    switch (c->kind) {
    case LIP_LOSS_KR:
    case LIP_LOSS_MULTICLASS_KR:
        *c_kr = 1.0f;
        break;
    case LIP_LOSS_HINGE_MARGIN:
    case LIP_LOSS_MULTICLASS_HINGE:
        *c_h = 1.0f;
        break;
    case LIP_LOSS_HKR:
    case LIP_LOSS_MULTICLASS_HKR:
        if (isinf(c->alpha)) {
            *c_h = 1.0f;
        } else {
            *c_kr = -1.0f;
            *c_h = c->alpha;
        }
        break;
    case LIP_LOSS_MULTICLASS_SOFT_HKR:
        *c_kr = isinf(c->alpha) ? 0.0f : 1.0f / c->alpha;
        *c_h = 1.0f;
        break;
    default:
        break;
    }
}

static lip_status run(lip_loss *loss, const char *op, const lip_tensor *y_true, const lip_tensor *y_pred,
                      lip_tensor *out, lip_tensor *grad, int update_state) {
    lip_context *ctx = loss->ctx;
    const lip_loss_config *cfg = &loss->cfg;
    batch b;
    LIP_TRY(check_batch(ctx, op, cfg->kind, y_true, y_pred, &b));
    const int none = cfg->reduction == LIP_REDUCTION_NONE;
    if (out)
        LIP_TRY(check_output(ctx, op, "out", out, none ? b.B : 1,
                             none ? "one value per sample for reduction NONE" : "the reduced value", y_true, y_pred));
    if (grad) {
        LIP_TRY(check_output(ctx, op, "grad", grad, b.B * b.C, "the shape of y_pred", y_true, y_pred));
        LIP_CHECK(ctx, !out || out->mem != grad->mem, LIP_ERR_INVALID_ARGUMENT,
                  "%s: out and grad must not share a buffer", op);
    }
    float c_kr, c_h;
    coefficients(cfg, &c_kr, &c_h);

    /* Batch statistics: KR's class counts, or the SoftHKR state update. */
    lip_tensor *stats = NULL;
    if (is_kr_family(cfg->kind) && c_kr != 0.0f && !cfg->multi_gpu) {
        LIP_TRY(ensure_scratch(ctx, &loss->counts, &loss->counts_cap, b.C));
        LIP_TRY(launch_counts(ctx, y_true, b.B, b.C, loss->counts));
        stats = loss->counts;
    } else if (is_soft(cfg->kind)) {
        stats = loss->state;
        if (update_state) {
            cl_uint f_off = (cl_uint)y_pred->offset, n = (cl_uint)(b.B * b.C), s_off = (cl_uint)loss->state->offset;
            cl_float am = cfg->alpha_mean, m = cfg->min_margin, t = cfg->temperature;
            LIP_TRY(launch_groups(ctx, "lip_losses_soft_hkr_update", "losses/soft_hkr_update", 1,
                                  LIP_KARGS(LIP_KARG(y_pred->mem), LIP_KARG(f_off), LIP_KARG(n),
                                            LIP_KARG(loss->state->mem), LIP_KARG(s_off), LIP_KARG(am), LIP_KARG(m),
                                            LIP_KARG(t))));
        }
    }

    lip_tensor *ps = NULL;
    if (out) {
        if (none) {
            ps = out;
        } else {
            LIP_TRY(ensure_scratch(ctx, &loss->ps, &loss->ps_cap, b.B));
            ps = loss->ps;
        }
    }
    /* Unused buffers get a valid stand-in (the kernel does not touch them). */
    cl_mem stats_mem = stats ? stats->mem : y_pred->mem, ps_mem = ps ? ps->mem : y_pred->mem,
           g_mem = grad ? grad->mem : y_pred->mem;
    cl_uint f_off = (cl_uint)y_pred->offset, y_off = (cl_uint)y_true->offset, y_int = y_true->dtype == LIP_INT32,
            s_off = stats ? (cl_uint)stats->offset : 0, ps_off = ps ? (cl_uint)ps->offset : 0, write_ps = ps != NULL,
            g_off = grad ? (cl_uint)grad->offset : 0, write_g = grad != NULL, fl_off = (cl_uint)loss->flags->offset,
            kind = (cl_uint)cfg->kind, B = (cl_uint)b.B, C = (cl_uint)b.C, multi_gpu = (cl_uint)cfg->multi_gpu,
            probs = cfg->kind == LIP_LOSS_CATEGORICAL_CROSSENTROPY && !cfg->from_logits;
    cl_float gs = cfg->reduction == LIP_REDUCTION_MEAN ? 1.0f / (float)b.B : 1.0f;
    cl_float ckr = c_kr, ch = c_h, margin = cfg->min_margin, tau = cfg->tau;
    cl_kernel k;
    LIP_TRY(lip_kernel_get(ctx, "losses", "lip_losses_rows", NULL, &k));
    size_t local = ROWS_LOCAL, global = b.B;
    char label[64];
    snprintf(label, sizeof label, "losses/%s%s", kind_names[cfg->kind], grad ? (out ? "_fwd_bwd" : "_bwd") : "");
    LIP_TRY(lip_launch(ctx, k, label, 1, &global, &local,
                       LIP_KARGS(LIP_KARG(y_pred->mem), LIP_KARG(f_off), LIP_KARG(y_true->mem), LIP_KARG(y_off),
                                 LIP_KARG(y_int), LIP_KARG(stats_mem), LIP_KARG(s_off), LIP_KARG(ps_mem),
                                 LIP_KARG(ps_off), LIP_KARG(write_ps), LIP_KARG(g_mem), LIP_KARG(g_off),
                                 LIP_KARG(write_g), LIP_KARG(gs), LIP_KARG(loss->flags->mem), LIP_KARG(fl_off),
                                 LIP_KARG(kind), LIP_KARG(B), LIP_KARG(C), LIP_KARG(ckr), LIP_KARG(ch),
                                 LIP_KARG(margin), LIP_KARG(tau), LIP_KARG(multi_gpu), LIP_KARG(probs))));
    if (out && !none) {
        cl_uint p_off = (cl_uint)ps->offset, n = (cl_uint)b.B, o_off = (cl_uint)out->offset;
        cl_float divisor = cfg->reduction == LIP_REDUCTION_MEAN ? (float)b.B : 1.0f;
        LIP_TRY(launch_groups(ctx, "lip_losses_reduce", "losses/reduce", 1,
                              LIP_KARGS(LIP_KARG(ps->mem), LIP_KARG(p_off), LIP_KARG(n), LIP_KARG(divisor),
                                        LIP_KARG(out->mem), LIP_KARG(o_off))));
    }
    return LIP_OK;
}

lip_status lip_loss_forward(lip_loss *loss, const lip_tensor *y_true, const lip_tensor *y_pred, lip_tensor *out) {
    if (!loss) return LIP_ERR_NULL;
    char op[96];
    snprintf(op, sizeof op, "%s forward", kind_names[loss->cfg.kind]);
    LIP_CHECK(loss->ctx, out, LIP_ERR_NULL, "%s: out is NULL", op);
    return run(loss, op, y_true, y_pred, out, NULL, 1);
}

lip_status lip_loss_backward(lip_loss *loss, const lip_tensor *y_true, const lip_tensor *y_pred, lip_tensor *grad) {
    if (!loss) return LIP_ERR_NULL;
    char op[96];
    snprintf(op, sizeof op, "%s backward", kind_names[loss->cfg.kind]);
    LIP_CHECK(loss->ctx, grad, LIP_ERR_NULL, "%s: grad is NULL", op);
    return run(loss, op, y_true, y_pred, NULL, grad, 0);
}

lip_status lip_loss_forward_backward(lip_loss *loss, const lip_tensor *y_true, const lip_tensor *y_pred,
                                     lip_tensor *out, lip_tensor *grad) {
    if (!loss) return LIP_ERR_NULL;
    char op[96];
    snprintf(op, sizeof op, "%s forward_backward", kind_names[loss->cfg.kind]);
    if (!out && !grad) return LIP_OK;
    /* A training step: the SoftHKR state advances as in a forward, even without out. */
    return run(loss, op, y_true, y_pred, out, grad, 1);
}

/* ---- label checks ------------------------------------------------------------------------------------ */

static int sign_label(float v) { return v == 0.0f || v == 1.0f || v == -1.0f; }

lip_status lip_loss_check_labels(lip_loss *loss, const lip_tensor *y_true, const lip_tensor *y_pred) {
    if (!loss) return LIP_ERR_NULL;
    lip_context *ctx = loss->ctx;
    const lip_loss_config *cfg = &loss->cfg;
    const char *kn = kind_names[cfg->kind];
    char op[96];
    snprintf(op, sizeof op, "%s labels", kn);
    batch b;
    LIP_TRY(check_batch(ctx, op, cfg->kind, y_true, y_pred, &b));
    label_family fam = labels_of(cfg->kind);
    if (fam == LABELS_ANY) return LIP_OK;
    size_t n = y_true->count;
    int32_t *raw = malloc(n * sizeof *raw);
    LIP_CHECK(ctx, raw, LIP_ERR_OUT_OF_HOST_MEMORY, "%s: out of host memory for %zu labels", op, n);
    lip_status st = lip_tensor_download(y_true, raw, n * sizeof *raw);
    if (st != LIP_OK) {
        free(raw);
        return st;
    }
    const int is_int = y_true->dtype == LIP_INT32;
    st = LIP_OK;
    for (size_t i = 0; i < b.B && st == LIP_OK; i++) {
        if (fam == LABELS_SPARSE) {
            int32_t k = raw[i];
            if (k < 0 || (size_t)k >= b.C)
                st = lip_set_error(ctx, LIP_ERR_INVALID_ARGUMENT,
                                   "%s: y_true row %zu holds class index %d, outside [0, %zu)", kn, i, (int)k, b.C);
            continue;
        }
        size_t npos = 0;
        double sum = 0.0;
        for (size_t c = 0; c < b.C && st == LIP_OK; c++) {
            float v;
            if (is_int) {
                v = (float)raw[i * b.C + c];
            } else {
                memcpy(&v, &raw[i * b.C + c], sizeof v);
            }
            npos += v > 0.0f;
            sum += v;
            int bad = 0;
            const char *want = "";
            if (fam == LABELS_PROB) {
                bad = !(v >= 0.0f && v <= 1.0f);
                want = "probabilities in [0, 1]";
            } else if (!cfg->multi_gpu) {
                bad = !sign_label(v);
                want = fam == LABELS_BINARY ? "binary labels in {0, 1} or {-1, 1}"
                                            : "one-hot labels: 1 on the true class, 0 or -1 elsewhere";
            }
            if (bad)
                st = lip_set_error(ctx, LIP_ERR_INVALID_ARGUMENT, "%s: y_true[%zu, %zu] = %g; this loss takes %s", kn,
                                   i, c, (double)v, want);
        }
        if (st != LIP_OK) break;
        if (fam == LABELS_ONEHOT && npos != 1)
            st = lip_set_error(ctx, LIP_ERR_INVALID_ARGUMENT,
                               "%s: y_true row %zu has %zu positive entries; one-hot labels need exactly one", kn, i,
                               npos);
        else if (fam == LABELS_PROB && !(fabs(sum - 1.0) <= 1e-3))
            st = lip_set_error(ctx, LIP_ERR_INVALID_ARGUMENT,
                               "%s: y_true row %zu sums to %g; probability rows must sum to 1", kn, i, sum);
    }
    free(raw);
    return st;
}

lip_status lip_loss_label_errors(lip_loss *loss) {
    if (!loss) return LIP_ERR_NULL;
    int32_t bits = 0;
    LIP_TRY(lip_tensor_download(loss->flags, &bits, sizeof bits));
    if (bits == 0) return LIP_OK;
    LIP_TRY(lip_tensor_fill(loss->flags, 0.0));
    char what[256];
    what[0] = '\0';
    static const struct {
        int bit;
        const char *text;
    } names[] = {{BAD_VALUE, "a label outside {-1, 0, 1}"},
                 {BAD_ONEHOT, "a one-hot row without exactly one positive entry"},
                 {BAD_PROB, "a probability row with an entry outside [0, 1] or a sum off 1"},
                 {BAD_INDEX, "a class index outside [0, classes)"}};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        if (!(bits & names[i].bit)) continue;
        size_t used = strlen(what);
        snprintf(what + used, sizeof what - used, "%s%s", used ? "; " : "", names[i].text);
    }
    return lip_set_error(loss->ctx, LIP_ERR_INVALID_ARGUMENT,
                         "%s: the batches since the last check had bad labels: %s "
                         "(lip_loss_check_labels names the row)",
                         kind_names[loss->cfg.kind], what);
}

lip_status lip_loss_process_labels_multi_gpu(lip_context *ctx, const lip_tensor *y_true, lip_tensor *out) {
    if (!ctx) return LIP_ERR_NULL;
    const char *op = "lip_loss_process_labels_multi_gpu";
    LIP_CHECK(ctx, y_true && out, LIP_ERR_NULL, "%s: y_true or out is NULL", op);
    LIP_CHECK(ctx, y_true->ctx == ctx, LIP_ERR_INVALID_ARGUMENT, "%s: y_true belongs to another context", op);
    LIP_CHECK(ctx, y_true->dtype == LIP_FLOAT32 || y_true->dtype == LIP_INT32, LIP_ERR_DTYPE,
              "%s: y_true must be float32 or int32", op);
    char ts[64], os[64];
    LIP_CHECK(ctx, y_true->ndim <= 2, LIP_ERR_SHAPE, "%s: y_true %s must be (batch, classes) or (batch,)", op,
              lip_shape_string(y_true, ts, sizeof ts));
    size_t B = y_true->shape[0], C = y_true->ndim == 2 ? y_true->shape[1] : 1;
    LIP_CHECK(ctx, B <= MAX_KR_ROWS, LIP_ERR_SHAPE, "%s: batch of %zu rows exceeds %u", op, B, MAX_KR_ROWS);
    LIP_TRY(lip_check_tensor(ctx, out, LIP_FLOAT32, "lip_loss_process_labels_multi_gpu: out"));
    LIP_CHECK(ctx, out->count == y_true->count && out->mem != y_true->mem, LIP_ERR_SHAPE,
              "%s: out %s must be a separate tensor with the element count of y_true %s", op,
              lip_shape_string(out, os, sizeof os), lip_shape_string(y_true, ts, sizeof ts));
    lip_tensor *counts = NULL;
    LIP_TRY(lip_tensor_create(ctx, LIP_FLOAT32, 1, &C, &counts));
    lip_status st;
    LIP_TRY_GOTO(st, launch_counts(ctx, y_true, B, C, counts));
    cl_kernel k;
    LIP_TRY_GOTO(st, lip_kernel_get(ctx, "losses", "lip_losses_multi_gpu_labels", NULL, &k));
    cl_uint y_off = (cl_uint)y_true->offset, y_int = y_true->dtype == LIP_INT32, c_off = (cl_uint)counts->offset,
            b = (cl_uint)B, c = (cl_uint)C, o_off = (cl_uint)out->offset;
    size_t local = ROWS_LOCAL, global = B * C;
    if (global > (size_t)ROWS_LOCAL * 65536) global = (size_t)ROWS_LOCAL * 65536; /* grid-stride loop */
    LIP_TRY_GOTO(st, lip_launch(ctx, k, "losses/multi_gpu_labels", 1, &global, &local,
                                LIP_KARGS(LIP_KARG(y_true->mem), LIP_KARG(y_off), LIP_KARG(y_int),
                                          LIP_KARG(counts->mem), LIP_KARG(c_off), LIP_KARG(b), LIP_KARG(c),
                                          LIP_KARG(out->mem), LIP_KARG(o_off))));
fail:
    /* Safe with the launches still queued: OpenCL keeps the buffer until its commands finish. */
    lip_tensor_free(counts);
    return st;
}
