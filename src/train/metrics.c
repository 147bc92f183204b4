/* lipcl — metrics: binary and categorical accuracy, deel-lip's provable robust accuracy and average
 * robustness accumulated on the device, and per-sample certified radii (launches of kernels/metrics.cl). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "lipcl/metrics.h"

/* Work-group size of the one-item-per-row kernel (no barrier). */
#define ROWS_LOCAL 64
/* lip_metrics_rows' radius modes (after the metric kinds). */
#define MODE_RADIUS 6
#define MODE_RADIUS_NOLABEL 7

struct lip_metric {
    lip_context *ctx;
    lip_metric_config cfg;
    float factor;        /* certificate factor in use */
    lip_tensor *acc;     /* [s, c]: compensated running sum (s − c) */
    lip_tensor *values;  /* per-row values of a batch, capacity values_cap */
    size_t values_cap;
    size_t count;        /* values accumulated */
};

static const char *const kind_names[LIP_METRIC_KIND_COUNT] = {
    "binary_accuracy", "categorical_accuracy", "binary_provable_robust_accuracy",
    "categorical_provable_robust_accuracy", "binary_provable_avg_robustness", "categorical_provable_avg_robustness"};

const char *lip_metric_kind_name(lip_metric_kind kind) {
    return (unsigned)kind < LIP_METRIC_KIND_COUNT ? kind_names[kind] : "unknown";
}

static int is_binary(lip_metric_kind k) {
    return k == LIP_METRIC_BINARY_ACCURACY || k == LIP_METRIC_BINARY_PROVABLE_ROBUST_ACCURACY ||
           k == LIP_METRIC_BINARY_PROVABLE_AVG_ROBUSTNESS;
}

lip_metric_config lip_metric_config_default(lip_metric_kind kind) {
    lip_metric_config c;
    memset(&c, 0, sizeof c);
    c.kind = kind;
    c.epsilon = 36.0f / 255.0f;
    c.lip_const = 1.0f;
    c.disjoint_neurons = 1;
    c.negative_robustness = 0;
    c.certificate_factor = 0.0f;
    return c;
}

double lip_certificate_factor(size_t outputs, double lip_const, int disjoint_neurons) {
    if (outputs <= 1) return lip_const;
    return disjoint_neurons ? 2.0 * lip_const : sqrt(2.0) * lip_const;
}

lip_status lip_metric_create(lip_context *ctx, const lip_metric_config *config, lip_metric **out) {
    if (!ctx) return LIP_ERR_NULL;
    LIP_CHECK(ctx, config && out, LIP_ERR_NULL, "lip_metric_create: config or out is NULL");
    *out = NULL;
    const lip_metric_config *c = config;
    LIP_CHECK(ctx, (unsigned)c->kind < LIP_METRIC_KIND_COUNT, LIP_ERR_INVALID_ARGUMENT, "metric: unknown kind %d",
              (int)c->kind);
    const char *name = kind_names[c->kind];
    LIP_CHECK(ctx, isfinite(c->epsilon) && c->epsilon >= 0.0f, LIP_ERR_INVALID_ARGUMENT,
              "%s: epsilon must be finite and >= 0 (got %g)", name, (double)c->epsilon);
    LIP_CHECK(ctx, isfinite(c->lip_const) && c->lip_const > 0.0f, LIP_ERR_INVALID_ARGUMENT,
              "%s: lip_const must be finite and > 0 (got %g)", name, (double)c->lip_const);
    LIP_CHECK(ctx, c->disjoint_neurons == 0 || c->disjoint_neurons == 1, LIP_ERR_INVALID_ARGUMENT,
              "%s: disjoint_neurons must be 0 or 1", name);
    LIP_CHECK(ctx, c->negative_robustness == 0 || c->negative_robustness == 1, LIP_ERR_INVALID_ARGUMENT,
              "%s: negative_robustness must be 0 or 1", name);
    LIP_CHECK(ctx, isfinite(c->certificate_factor) && c->certificate_factor >= 0.0f, LIP_ERR_INVALID_ARGUMENT,
              "%s: certificate_factor must be 0 (derived) or finite and > 0 (got %g)", name,
              (double)c->certificate_factor);
    lip_metric *m = calloc(1, sizeof *m);
    LIP_CHECK(ctx, m, LIP_ERR_OUT_OF_HOST_MEMORY, "%s: out of host memory", name);
    m->ctx = ctx;
    m->cfg = *c;
    m->factor = c->certificate_factor > 0.0f
                    ? c->certificate_factor
                    : (float)lip_certificate_factor(is_binary(c->kind) ? 1 : 2, c->lip_const, c->disjoint_neurons);
    ctx->live_objects++;
    size_t two = 2;
    lip_status st = lip_tensor_create(ctx, LIP_FLOAT32, 1, &two, &m->acc);
    if (st == LIP_OK) st = lip_tensor_fill(m->acc, 0.0);
    if (st != LIP_OK) {
        lip_metric_free(m);
        return st;
    }
    *out = m;
    return LIP_OK;
}

void lip_metric_free(lip_metric *metric) {
    if (!metric) return;
    lip_tensor_free(metric->acc);
    lip_tensor_free(metric->values);
    metric->ctx->live_objects--;
    free(metric);
}

lip_status lip_metric_get_config(const lip_metric *metric, lip_metric_config *config) {
    if (!metric) return LIP_ERR_NULL;
    LIP_CHECK(metric->ctx, config, LIP_ERR_NULL, "%s: config is NULL", kind_names[metric->cfg.kind]);
    *config = metric->cfg;
    return LIP_OK;
}

typedef struct batch {
    size_t B, C;
    int sparse;
} batch;

/* y_pred (B, C) or (B,); y_true: same count, or (for categorical) class indices (B,) / (B, 1). */
static lip_status check_batch(lip_context *ctx, const char *op, int binary, int labels_optional,
                              const lip_tensor *y_true, const lip_tensor *y_pred, batch *b) {
    char what[160], ps[64], ts[64];
    snprintf(what, sizeof what, "%s: y_pred", op);
    LIP_TRY(lip_check_tensor(ctx, y_pred, LIP_FLOAT32, what));
    lip_shape_string(y_pred, ps, sizeof ps);
    LIP_CHECK(ctx, y_pred->ndim <= 2, LIP_ERR_SHAPE, "%s: y_pred %s must be (batch, outputs) or (batch,)", op, ps);
    b->B = y_pred->shape[0];
    b->C = y_pred->ndim == 2 ? y_pred->shape[1] : 1;
    b->sparse = 0;
    LIP_CHECK(ctx, binary || b->C >= 2, LIP_ERR_SHAPE,
              "%s: y_pred %s has one output; categorical metrics need at least 2 classes (use a binary metric)", op,
              ps);
    if (!y_true) {
        LIP_CHECK(ctx, labels_optional, LIP_ERR_NULL, "%s: y_true is NULL", op);
        return LIP_OK;
    }
    LIP_CHECK(ctx, y_true->ctx == ctx, LIP_ERR_INVALID_ARGUMENT, "%s: y_true belongs to another context", op);
    LIP_CHECK(ctx, y_true->dtype == LIP_FLOAT32 || y_true->dtype == LIP_INT32, LIP_ERR_DTYPE,
              "%s: y_true must be float32 or int32", op);
    lip_shape_string(y_true, ts, sizeof ts);
    int rows = y_true->shape[0] == b->B && y_true->ndim <= 2;
    if (rows && y_true->count == b->B * b->C) return LIP_OK;
    if (!binary && rows && y_true->count == b->B && y_true->dtype == LIP_INT32) {
        b->sparse = 1;
        return LIP_OK;
    }
    return lip_set_error(ctx, LIP_ERR_SHAPE, "%s: y_true %s must have the shape of y_pred %s%s", op, ts, ps,
                         binary ? " (one binary label per output)"
                                : " (one-hot rows) or be int32 class indices (batch,) / (batch, 1)");
}

/* The per-row kernel over a batch into (dst, dst_off). */
static lip_status launch_rows(lip_context *ctx, const char *label, cl_uint mode, const lip_tensor *y_true,
                              const lip_tensor *y_pred, const batch *b, float epsilon, float factor, int negative,
                              cl_mem dst, size_t dst_off) {
    cl_kernel k;
    LIP_TRY(lip_kernel_get(ctx, "metrics", "lip_metrics_rows", NULL, &k));
    cl_mem y_mem = y_true ? y_true->mem : y_pred->mem; /* stand-in: not read without labels */
    cl_uint f_off = (cl_uint)y_pred->offset, y_off = y_true ? (cl_uint)y_true->offset : 0,
            y_int = y_true && y_true->dtype == LIP_INT32, sparse = (cl_uint)b->sparse, B = (cl_uint)b->B,
            C = (cl_uint)b->C, neg = (cl_uint)negative, o_off = (cl_uint)dst_off;
    cl_float eps = epsilon, fac = factor;
    size_t local = ROWS_LOCAL, global = b->B;
    return lip_launch(ctx, k, label, 1, &global, &local,
                      LIP_KARGS(LIP_KARG(y_pred->mem), LIP_KARG(f_off), LIP_KARG(y_mem), LIP_KARG(y_off),
                                LIP_KARG(y_int), LIP_KARG(sparse), LIP_KARG(B), LIP_KARG(C), LIP_KARG(mode),
                                LIP_KARG(eps), LIP_KARG(fac), LIP_KARG(neg), LIP_KARG(dst), LIP_KARG(o_off)));
}

lip_status lip_metric_update(lip_metric *metric, const lip_tensor *y_true, const lip_tensor *y_pred) {
    if (!metric) return LIP_ERR_NULL;
    lip_context *ctx = metric->ctx;
    const char *name = kind_names[metric->cfg.kind];
    char op[96];
    snprintf(op, sizeof op, "%s update", name);
    const int binary = is_binary(metric->cfg.kind);
    batch b;
    LIP_TRY(check_batch(ctx, op, binary, 0, y_true, y_pred, &b));
    if (!metric->values || metric->values_cap < b.B) {
        lip_tensor_free(metric->values);
        metric->values = NULL;
        metric->values_cap = 0;
        LIP_TRY(lip_tensor_create(ctx, LIP_FLOAT32, 1, &b.B, &metric->values));
        metric->values_cap = b.B;
    }
    char label[96];
    snprintf(label, sizeof label, "metrics/%s", name);
    LIP_TRY(launch_rows(ctx, label, (cl_uint)metric->cfg.kind, y_true, y_pred, &b, metric->cfg.epsilon, metric->factor,
                        metric->cfg.negative_robustness, metric->values->mem, metric->values->offset));
    cl_kernel k;
    LIP_TRY(lip_kernel_get(ctx, "metrics", "lip_metrics_accumulate", NULL, &k));
    size_t req[3] = {0, 0, 0};
    LIP_CL(ctx, clGetKernelWorkGroupInfo(k, ctx->device, CL_KERNEL_COMPILE_WORK_GROUP_SIZE, sizeof req, req, NULL));
    LIP_CHECK(ctx, req[0] >= 1, LIP_ERR_INTERNAL, "kernel lip_metrics_accumulate has no required work-group size");
    size_t local = req[0], global = req[0];
    cl_uint v_off = (cl_uint)metric->values->offset, n = (cl_uint)b.B, a_off = (cl_uint)metric->acc->offset;
    LIP_TRY(lip_launch(ctx, k, "metrics/accumulate", 1, &global, &local,
                       LIP_KARGS(LIP_KARG(metric->values->mem), LIP_KARG(v_off), LIP_KARG(n),
                                 LIP_KARG(metric->acc->mem), LIP_KARG(a_off))));
    metric->count += binary ? b.B * b.C : b.B;
    return LIP_OK;
}

lip_status lip_metric_result(lip_metric *metric, double *value) {
    if (!metric) return LIP_ERR_NULL;
    LIP_CHECK(metric->ctx, value, LIP_ERR_NULL, "%s: value is NULL", kind_names[metric->cfg.kind]);
    *value = 0.0;
    if (metric->count == 0) return LIP_OK;
    float acc[2];
    LIP_TRY(lip_tensor_download(metric->acc, acc, sizeof acc));
    *value = ((double)acc[0] - (double)acc[1]) / (double)metric->count;
    return LIP_OK;
}

lip_status lip_metric_reset(lip_metric *metric) {
    if (!metric) return LIP_ERR_NULL;
    metric->count = 0;
    return lip_tensor_fill(metric->acc, 0.0);
}

lip_status lip_metric_count(const lip_metric *metric, size_t *count) {
    if (!metric) return LIP_ERR_NULL;
    LIP_CHECK(metric->ctx, count, LIP_ERR_NULL, "%s: count is NULL", kind_names[metric->cfg.kind]);
    *count = metric->count;
    return LIP_OK;
}

lip_status lip_certified_radius(lip_context *ctx, const lip_tensor *y_true, const lip_tensor *y_pred, float factor,
                                lip_tensor *radii) {
    if (!ctx) return LIP_ERR_NULL;
    const char *op = "lip_certified_radius";
    LIP_CHECK(ctx, isfinite(factor) && factor > 0.0f, LIP_ERR_INVALID_ARGUMENT,
              "%s: factor must be finite and > 0 (got %g)", op, (double)factor);
    LIP_CHECK(ctx, y_pred, LIP_ERR_NULL, "%s: y_pred is NULL", op);
    LIP_CHECK(ctx, y_pred->ctx == ctx, LIP_ERR_INVALID_ARGUMENT, "%s: y_pred belongs to another context", op);
    size_t C = y_pred->ndim == 2 ? y_pred->shape[1] : 1;
    batch b;
    LIP_TRY(check_batch(ctx, op, C == 1, 1, y_true, y_pred, &b));
    LIP_TRY(lip_check_tensor(ctx, radii, LIP_FLOAT32, "lip_certified_radius: radii"));
    char rs[64];
    LIP_CHECK(ctx, radii->count == b.B, LIP_ERR_SHAPE, "%s: radii %s must hold one value per sample (%zu)", op,
              lip_shape_string(radii, rs, sizeof rs), b.B);
    LIP_CHECK(ctx, radii->mem != y_pred->mem && (!y_true || radii->mem != y_true->mem), LIP_ERR_INVALID_ARGUMENT,
              "%s: radii must not share its buffer with y_true or y_pred", op);
    return launch_rows(ctx, "metrics/certified_radius", y_true ? MODE_RADIUS : MODE_RADIUS_NOLABEL, y_true, y_pred,
                       &b, 0.0f, factor, 0, radii->mem, radii->offset);
}
