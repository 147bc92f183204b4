/* lipcl — training a model: compile (loss, optimizer, metrics), fit with one loss read per batch,
 * evaluate, host predictions, the per-epoch history (API and CSV), progress printing, stock callbacks. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "train/model_internal.h"

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void free_io(model_training *t) {
    lip_tensor **io[] = {&t->x, &t->y_true, &t->y_pred, &t->dy, &t->loss_value};
    for (size_t i = 0; i < sizeof io / sizeof io[0]; i++) {
        lip_tensor_free(*io[i]);
        *io[i] = NULL;
    }
    t->io_batch = 0;
}

static void free_columns(model_training *t) {
    for (size_t i = 0; i < t->n_columns; i++) free(t->columns[i]);
    free(t->columns);
    t->columns = NULL;
    t->n_columns = 0;
}

static void free_compiled(model_training *t) {
    lip_loss_free(t->loss);
    lip_optimizer_free(t->optimizer);
    for (size_t i = 0; i < t->n_metrics; i++) lip_metric_free(t->metrics[i]);
    free(t->metrics);
    free(t->params);
    free(t->grads);
    t->loss = NULL;
    t->optimizer = NULL;
    t->metrics = NULL;
    t->params = t->grads = NULL;
    t->n_metrics = t->n_params = 0;
}

void lip_model_training_free(lip_model *m) {
    model_training *t = &m->train;
    for (size_t i = 0; i < t->n_attach; i++) {
        lip_constraint_free(t->attach[i].constraint);
        lip_regularizer_free(t->attach[i].regularizer);
    }
    free(t->attach);
    free_compiled(t);
    free_io(t);
    free_columns(t);
    free(t->history);
    memset(t, 0, sizeof *t);
}

lip_status lip_model_compile(lip_model *m, lip_loss *loss, lip_optimizer *optimizer, size_t n_metrics,
                             lip_metric *const *metrics) {
    lip_status st = LIP_OK;
    if (!m) st = LIP_ERR_NULL;
    else if (!m->built)
        st = lip_set_error(m->ctx, LIP_ERR_INVALID_ARGUMENT, "model '%s': build it before compile", m->name);
    else if (!loss)
        st = lip_set_error(m->ctx, LIP_ERR_NULL, "model '%s': compile needs a loss", m->name);
    else if (n_metrics && !metrics)
        st = lip_set_error(m->ctx, LIP_ERR_NULL, "model '%s': %zu metrics but metrics is NULL", m->name, n_metrics);
    lip_loss_config lc;
    if (st == LIP_OK && lip_loss_get_config(loss, &lc) == LIP_OK && lc.reduction == LIP_REDUCTION_NONE)
        st = lip_set_error(m->ctx, LIP_ERR_INVALID_ARGUMENT,
                           "model '%s': the loss must reduce (MEAN or SUM) to train, not NONE", m->name);
    if (st != LIP_OK) { /* ownership was given: release */
        lip_loss_free(loss);
        lip_optimizer_free(optimizer);
        for (size_t i = 0; metrics && i < n_metrics; i++) lip_metric_free(metrics[i]);
        return st;
    }
    model_training *t = &m->train;
    free_compiled(t);
    t->loss = loss;
    t->optimizer = optimizer;
    t->n_metrics = n_metrics;
    t->metrics = n_metrics ? calloc(n_metrics, sizeof *t->metrics) : NULL;
    LIP_TRY(lip_model_trainable_params(m, 0, NULL, NULL, &t->n_params));
    t->params = calloc(t->n_params + 1, sizeof *t->params);
    t->grads = calloc(t->n_params + 1, sizeof *t->grads);
    if ((n_metrics && !t->metrics) || !t->params || !t->grads) {
        for (size_t i = 0; i < n_metrics; i++) lip_metric_free(metrics[i]);
        t->n_metrics = 0;
        free_compiled(t);
        return lip_set_error(m->ctx, LIP_ERR_OUT_OF_HOST_MEMORY, "model '%s': compile: out of host memory", m->name);
    }
    for (size_t i = 0; i < n_metrics; i++) t->metrics[i] = metrics[i];
    return lip_model_trainable_params(m, t->n_params, t->params, t->grads, NULL);
}

/* ---- constraints and regularizers on parameters ------------------------------------------------ */

/* The attachment slot of (node, param name), created when missing; *out NULL on error. */
static lip_status find_attachment(lip_model *m, size_t node, const char *param, int need_grad,
                                  model_attachment **out) {
    *out = NULL;
    LIP_CHECK(m->ctx, m->built, LIP_ERR_INVALID_ARGUMENT, "model '%s': build it before attaching constraints or "
              "regularizers", m->name);
    LIP_CHECK(m->ctx, param, LIP_ERR_NULL, "model '%s': parameter name is NULL", m->name);
    LIP_CHECK(m->ctx, node < m->node_count && m->nodes[node].layer, LIP_ERR_BOUNDS,
              "model '%s': node %zu is not a layer (the model has %zu nodes)", m->name, node, m->node_count);
    lip_layer *l = m->nodes[node].layer;
    size_t pi = l->param_count;
    for (size_t i = 0; i < l->param_count; i++)
        if (!strcmp(l->params[i].name, param)) pi = i;
    LIP_CHECK(m->ctx, pi < l->param_count, LIP_ERR_INVALID_ARGUMENT, "model '%s': layer '%s' (%s, node %zu) has no "
              "parameter '%s'", m->name, l->name, l->vt->type, node, param);
    LIP_CHECK(m->ctx, !need_grad || l->params[pi].grad, LIP_ERR_INVALID_ARGUMENT,
              "model '%s': parameter '%s' of layer '%s' is not trainable: a regularizer needs a gradient", m->name,
              param, l->name);
    model_training *t = &m->train;
    for (size_t i = 0; i < t->n_attach; i++)
        if (t->attach[i].node == node && t->attach[i].param == pi) {
            *out = &t->attach[i];
            return LIP_OK;
        }
    model_attachment *a = realloc(t->attach, (t->n_attach + 1) * sizeof *a);
    if (!a) return lip_set_error(m->ctx, LIP_ERR_OUT_OF_HOST_MEMORY, "model '%s': out of host memory", m->name);
    t->attach = a;
    memset(&a[t->n_attach], 0, sizeof *a);
    a[t->n_attach].node = node;
    a[t->n_attach].param = pi;
    *out = &a[t->n_attach++];
    return LIP_OK;
}

lip_status lip_model_set_constraint(lip_model *m, size_t node, const char *param, lip_constraint *constraint) {
    if (!m) {
        lip_constraint_free(constraint);
        return LIP_ERR_NULL;
    }
    model_attachment *a = NULL;
    lip_status st = find_attachment(m, node, param, 0, &a);
    if (st != LIP_OK) {
        lip_constraint_free(constraint);
        return st;
    }
    lip_constraint_free(a->constraint);
    a->constraint = constraint;
    return LIP_OK;
}

lip_status lip_model_add_regularizer(lip_model *m, size_t node, const char *param, lip_regularizer *regularizer) {
    if (!m) {
        lip_regularizer_free(regularizer);
        return LIP_ERR_NULL;
    }
    model_attachment *a = NULL;
    lip_status st = find_attachment(m, node, param, regularizer != NULL, &a);
    if (st != LIP_OK) {
        lip_regularizer_free(regularizer);
        return st;
    }
    lip_regularizer_free(a->regularizer);
    a->regularizer = regularizer;
    return LIP_OK;
}

static lip_param *attached_param(lip_model *m, const model_attachment *a) {
    return &m->nodes[a->node].layer->params[a->param];
}

/* loss_value += Σ λ·R (and, when training, each parameter's grad += λ·∇R). */
static lip_status apply_regularizers(lip_model *m, int training) {
    model_training *t = &m->train;
    for (size_t i = 0; i < t->n_attach; i++) {
        if (!t->attach[i].regularizer) continue;
        lip_param *p = attached_param(m, &t->attach[i]);
        LIP_TRY(lip_regularizer_apply(t->attach[i].regularizer, p->value, t->loss_value, 1, training ? p->grad : NULL));
    }
    return LIP_OK;
}

static lip_status apply_constraints(lip_model *m) {
    model_training *t = &m->train;
    for (size_t i = 0; i < t->n_attach; i++)
        if (t->attach[i].constraint)
            LIP_TRY(lip_constraint_apply(t->attach[i].constraint, attached_param(m, &t->attach[i])->value));
    return LIP_OK;
}

lip_fit_config lip_fit_config_default(void) {
    lip_fit_config c;
    memset(&c, 0, sizeof c);
    c.batch_size = 32;
    c.epochs = 1;
    c.shuffle = 1;
    return c;
}

static size_t out_count(const lip_model *m) { return m->nodes[m->node_count - 1].count; }

/* Device buffers for batches of up to `batch` samples of `data`: they grow, never shrink, so an
 * epoch's smaller last batch runs in views of them instead of reallocating twice per epoch. */
static lip_status ensure_io(lip_model *m, const lip_dataset *data, size_t batch) {
    model_training *t = &m->train;
    size_t width = 0;
    const float *targets = lip_dataset_targets(data, &width);
    int int_labels = targets == NULL;
    if (t->io_batch >= batch && t->io_width == width && t->io_int_labels == int_labels) return LIP_OK;
    free_io(t);
    size_t xs[LIP_MAX_DIMS] = {batch, 1, 1, 1}, one = 1;
    for (int i = 0; i < m->in_ndim; i++) xs[i + 1] = m->in_shape[i];
    size_t ys[2] = {batch, out_count(m)}, ts[2] = {batch, width};
    lip_status st = lip_tensor_create(m->ctx, LIP_FLOAT32, m->in_ndim + 1, xs, &t->x);
    if (st == LIP_OK)
        st = int_labels ? lip_tensor_create(m->ctx, LIP_INT32, 1, &batch, &t->y_true)
                        : lip_tensor_create(m->ctx, LIP_FLOAT32, 2, ts, &t->y_true);
    if (st == LIP_OK) st = lip_tensor_create(m->ctx, LIP_FLOAT32, 2, ys, &t->y_pred);
    if (st == LIP_OK) st = lip_tensor_create(m->ctx, LIP_FLOAT32, 2, ys, &t->dy);
    if (st == LIP_OK) st = lip_tensor_create(m->ctx, LIP_FLOAT32, 1, &one, &t->loss_value);
    if (st != LIP_OK) {
        free_io(t);
        return st;
    }
    t->io_batch = batch;
    t->io_width = width;
    t->io_int_labels = int_labels;
    return LIP_OK;
}

static lip_status check_data(lip_model *m, const lip_dataset *data, const char *what) {
    LIP_CHECK(m->ctx, data, LIP_ERR_NULL, "model '%s': %s dataset is NULL", m->name, what);
    LIP_CHECK(m->ctx, lip_dataset_sample_size(data) == m->in_count, LIP_ERR_SHAPE,
              "model '%s': %s samples have %zu features, the model's input %zu", m->name, what,
              lip_dataset_sample_size(data), m->in_count);
    size_t width = 0;
    int has_targets = lip_dataset_targets(data, &width) != NULL;
    LIP_CHECK(m->ctx, has_targets || lip_dataset_classes(data), LIP_ERR_INVALID_ARGUMENT,
              "model '%s': %s dataset has neither targets nor classes", m->name, what);
    LIP_CHECK(m->ctx, !has_targets || width == out_count(m), LIP_ERR_SHAPE,
              "model '%s': %s targets have width %zu, the model outputs %zu values", m->name, what, width,
              out_count(m));
    return LIP_OK;
}

/* Upload one batch and run the forward pass and the loss; when training also the backward pass, the
 * optimizer step and the reparametrization. *loss_sum += the batch's mean loss × its size. */
static lip_status run_batch_enqueue(lip_model *m, const lip_dataset *data, const lip_batch *b, int training,
                                    double *loss_sum);

static lip_status run_batch(lip_model *m, const lip_dataset *data, const lip_batch *b, int training,
                            double *loss_sum) {
    lip_status st = run_batch_enqueue(m, data, b, training, loss_sum);
    /* A failure may leave uploads of b's buffers queued: let them land before the batcher reuses them. */
    if (st != LIP_OK) lip_context_finish(m->ctx);
    return st;
}

static lip_status run_batch_enqueue(lip_model *m, const lip_dataset *data, const lip_batch *b, int training,
                                    double *loss_sum) {
    model_training *t = &m->train;
    LIP_TRY(ensure_io(m, data, b->count));
    lip_tensor x = lip_tensor_rows(t->x, 0, b->count), y_true = lip_tensor_rows(t->y_true, 0, b->count);
    lip_tensor y_pred = lip_tensor_rows(t->y_pred, 0, b->count), dy = lip_tensor_rows(t->dy, 0, b->count);
    /* Asynchronous uploads: the batcher keeps b's buffers until its next call, which comes after the
     * blocking read of the loss below — the step's only sync. */
    LIP_TRY(lip_tensor_upload_async(&x, b->x, b->count * m->in_count * sizeof(float)));
    if (t->io_int_labels)
        LIP_TRY(lip_tensor_upload_async(&y_true, b->classes, b->count * sizeof(int32_t)));
    else
        LIP_TRY(lip_tensor_upload_async(&y_true, b->targets, b->count * b->target_width * sizeof(float)));
    LIP_TRY(lip_model_forward(m, &x, &y_pred));
    if (training) {
        LIP_TRY(lip_loss_forward_backward(t->loss, &y_true, &y_pred, t->loss_value, &dy));
        LIP_TRY(lip_model_backward(m, &dy, NULL, 0));
        LIP_TRY(apply_regularizers(m, 1)); /* on the weights the forward used, before the step */
        if (t->optimizer && t->n_params) {
            LIP_TRY(lip_optimizer_step(t->optimizer, t->n_params, t->params, t->grads));
            LIP_TRY(apply_constraints(m));
            LIP_TRY(lip_model_reparametrize(m));
        }
    } else {
        LIP_TRY(lip_loss_forward(t->loss, &y_true, &y_pred, t->loss_value));
        LIP_TRY(apply_regularizers(m, 0));
    }
    for (size_t i = 0; i < t->n_metrics; i++) LIP_TRY(lip_metric_update(t->metrics[i], &y_true, &y_pred));
    lip_loss_config lc;
    LIP_TRY(lip_loss_get_config(t->loss, &lc));
    float value = 0;
    LIP_TRY(lip_tensor_download(t->loss_value, &value, sizeof value)); /* the one sync of the batch */
    *loss_sum += lc.reduction == LIP_REDUCTION_SUM ? (double)value : (double)value * (double)b->count;
    return LIP_OK;
}

/* Loss and metrics over a whole dataset; values[0] loss, then metrics. */
static lip_status evaluate_into(lip_model *m, const lip_dataset *data, size_t batch_size, double *values) {
    model_training *t = &m->train;
    for (size_t i = 0; i < t->n_metrics; i++) LIP_TRY(lip_metric_reset(t->metrics[i]));
    lip_batcher *bt = NULL;
    LIP_TRY(lip_batcher_create(data, batch_size, 0, 0, &bt));
    double loss_sum = 0;
    size_t n = 0;
    lip_status st = LIP_OK;
    for (;;) {
        lip_batch b;
        int has = 0;
        st = lip_batcher_next(bt, &b, &has);
        if (st != LIP_OK || !has) break;
        st = run_batch(m, data, &b, 0, &loss_sum);
        if (st != LIP_OK) break;
        n += b.count;
    }
    lip_batcher_free(bt);
    LIP_TRY(st);
    values[0] = n ? loss_sum / (double)n : 0.0;
    for (size_t i = 0; i < t->n_metrics; i++) LIP_TRY(lip_metric_result(t->metrics[i], &values[1 + i]));
    return LIP_OK;
}

static lip_status check_compiled(lip_model *m) {
    LIP_CHECK(m->ctx, m->built, LIP_ERR_INVALID_ARGUMENT, "model '%s' is not built", m->name);
    LIP_CHECK(m->ctx, m->train.loss, LIP_ERR_INVALID_ARGUMENT, "model '%s' is not compiled (lip_model_compile)",
              m->name);
    return LIP_OK;
}

lip_status lip_model_evaluate(lip_model *m, const lip_dataset *data, size_t batch_size, double *values,
                              size_t n_values) {
    if (!m) return LIP_ERR_NULL;
    LIP_TRY(check_compiled(m));
    LIP_TRY(check_data(m, data, "evaluation"));
    size_t need = 1 + m->train.n_metrics;
    LIP_CHECK(m->ctx, !values || n_values >= need, LIP_ERR_INVALID_ARGUMENT,
              "model '%s': evaluate returns %zu values, room for %zu", m->name, need, n_values);
    double *v = calloc(need, sizeof *v);
    if (!v) return lip_set_error(m->ctx, LIP_ERR_OUT_OF_HOST_MEMORY, "model '%s': out of host memory", m->name);
    lip_status st = evaluate_into(m, data, batch_size ? batch_size : 256, v);
    if (st == LIP_OK && values) memcpy(values, v, need * sizeof *v);
    free(v);
    return st;
}

lip_status lip_model_predict_host(lip_model *m, const lip_dataset *data, size_t batch_size, float *out,
                                  size_t count) {
    if (!m) return LIP_ERR_NULL;
    LIP_CHECK(m->ctx, m->built, LIP_ERR_INVALID_ARGUMENT, "model '%s' is not built", m->name);
    LIP_CHECK(m->ctx, data && out, LIP_ERR_NULL, "model '%s': predict_host: data or out is NULL", m->name);
    LIP_CHECK(m->ctx, lip_dataset_sample_size(data) == m->in_count, LIP_ERR_SHAPE,
              "model '%s': samples have %zu features, the model's input %zu", m->name, lip_dataset_sample_size(data),
              m->in_count);
    size_t n = lip_dataset_count(data), oc = out_count(m);
    LIP_CHECK(m->ctx, count >= n * oc, LIP_ERR_INVALID_ARGUMENT,
              "model '%s': predict_host needs room for %zu floats, got %zu", m->name, n * oc, count);
    if (!batch_size) batch_size = 256;
    if (batch_size > n) batch_size = n;
    size_t xs[LIP_MAX_DIMS] = {batch_size, 1, 1, 1}, ys[2] = {batch_size, oc};
    for (int i = 0; i < m->in_ndim; i++) xs[i + 1] = m->in_shape[i];
    lip_tensor *x = NULL, *y = NULL;
    const float *features = lip_dataset_features(data);
    lip_status st = lip_tensor_create(m->ctx, LIP_FLOAT32, m->in_ndim + 1, xs, &x);
    if (st == LIP_OK) st = lip_tensor_create(m->ctx, LIP_FLOAT32, 2, ys, &y);
    for (size_t start = 0; start < n && st == LIP_OK; start += batch_size) {
        size_t b = n - start < batch_size ? n - start : batch_size;
        lip_tensor xb = lip_tensor_rows(x, 0, b), yb = lip_tensor_rows(y, 0, b); /* the last chunk may be short */
        st = lip_tensor_upload(&xb, features + start * m->in_count, b * m->in_count * sizeof(float));
        if (st == LIP_OK) st = lip_model_forward(m, &xb, &yb);
        if (st == LIP_OK) st = lip_tensor_download(&yb, out + start * oc, b * oc * sizeof(float));
    }
    lip_tensor_free(x);
    lip_tensor_free(y);
    m->forward_plan = NULL;
    return st;
}

/* ---- history ------------------------------------------------------------------------------------ */

static lip_status set_columns(lip_model *m, int with_validation) {
    model_training *t = &m->train;
    size_t n = (1 + t->n_metrics) * (with_validation ? 2 : 1);
    char **cols = calloc(n, sizeof *cols);
    if (!cols) return lip_set_error(m->ctx, LIP_ERR_OUT_OF_HOST_MEMORY, "model '%s': out of host memory", m->name);
    size_t k = 0;
    for (int v = 0; v <= with_validation; v++) {
        cols[k++] = lip_asprintf("%sloss", v ? "val_" : "");
        for (size_t i = 0; i < t->n_metrics; i++) {
            lip_metric_config mc;
            memset(&mc, 0, sizeof mc);
            lip_metric_get_config(t->metrics[i], &mc);
            cols[k++] = lip_asprintf("%s%s", v ? "val_" : "", lip_metric_kind_name(mc.kind));
        }
    }
    int same = t->n_columns == n;
    for (size_t i = 0; same && i < n; i++) same = cols[i] && !strcmp(cols[i], t->columns[i]);
    if (same || t->epochs == 0) {
        free_columns(t);
        t->columns = cols;
        t->n_columns = n;
        for (size_t i = 0; i < n; i++)
            if (!cols[i]) return lip_set_error(m->ctx, LIP_ERR_OUT_OF_HOST_MEMORY, "model '%s': out of memory", m->name);
        return LIP_OK;
    }
    for (size_t i = 0; i < n; i++) free(cols[i]);
    free(cols);
    return lip_set_error(m->ctx, LIP_ERR_INVALID_ARGUMENT,
                         "model '%s': this fit's history columns differ from the recorded ones (validation or "
                         "metrics changed): call lip_model_history_clear first",
                         m->name);
}

static lip_status history_append(lip_model *m, const double *row) {
    model_training *t = &m->train;
    if (t->epochs == t->history_capacity) {
        size_t cap = t->history_capacity ? 2 * t->history_capacity : 16;
        double *h = realloc(t->history, cap * t->n_columns * sizeof *h);
        if (!h) return lip_set_error(m->ctx, LIP_ERR_OUT_OF_HOST_MEMORY, "model '%s': out of host memory", m->name);
        t->history = h;
        t->history_capacity = cap;
    }
    memcpy(t->history + t->epochs * t->n_columns, row, t->n_columns * sizeof *row);
    t->epochs++;
    return LIP_OK;
}

lip_status lip_model_history_size(const lip_model *m, size_t *epochs, size_t *columns) {
    if (!m) return LIP_ERR_NULL;
    if (epochs) *epochs = m->train.epochs;
    if (columns) *columns = m->train.n_columns;
    return LIP_OK;
}

const char *lip_model_history_column(const lip_model *m, size_t column) {
    return m && column < m->train.n_columns ? m->train.columns[column] : NULL;
}

lip_status lip_model_history_value(const lip_model *m, size_t epoch, size_t column, double *value) {
    if (!m || !value) return LIP_ERR_NULL;
    LIP_CHECK(m->ctx, epoch < m->train.epochs && column < m->train.n_columns, LIP_ERR_BOUNDS,
              "model '%s': history has %zu epochs x %zu columns, asked (%zu, %zu)", m->name, m->train.epochs,
              m->train.n_columns, epoch, column);
    *value = m->train.history[epoch * m->train.n_columns + column];
    return LIP_OK;
}

void lip_model_history_clear(lip_model *m) {
    if (!m) return;
    m->train.epochs = 0;
}

lip_status lip_model_history_save_csv(const lip_model *m, const char *path) {
    if (!m) return LIP_ERR_NULL;
    LIP_CHECK(m->ctx, path, LIP_ERR_NULL, "model '%s': CSV path is NULL", m->name);
    const model_training *t = &m->train;
    size_t cap = 64 + t->n_columns * 32 + t->epochs * (t->n_columns + 1) * 28, len = 0;
    char *buf = malloc(cap);
    if (!buf) return lip_set_error(m->ctx, LIP_ERR_OUT_OF_HOST_MEMORY, "model '%s': out of host memory", m->name);
    len += (size_t)snprintf(buf + len, cap - len, "epoch");
    for (size_t c = 0; c < t->n_columns; c++) len += (size_t)snprintf(buf + len, cap - len, ",%s", t->columns[c]);
    len += (size_t)snprintf(buf + len, cap - len, "\n");
    for (size_t e = 0; e < t->epochs; e++) {
        len += (size_t)snprintf(buf + len, cap - len, "%zu", e + 1);
        for (size_t c = 0; c < t->n_columns; c++)
            len += (size_t)snprintf(buf + len, cap - len, ",%.9g", t->history[e * t->n_columns + c]);
        len += (size_t)snprintf(buf + len, cap - len, "\n");
    }
    lip_status st = lip_write_file_atomic(m->ctx, path, buf, len);
    free(buf);
    return st;
}

/* ---- fit ------------------------------------------------------------------------------------------ */

lip_status lip_model_fit(lip_model *m, const lip_dataset *data, const lip_fit_config *config) {
    if (!m) return LIP_ERR_NULL;
    LIP_TRY(check_compiled(m));
    lip_context *ctx = m->ctx;
    LIP_CHECK(ctx, config, LIP_ERR_NULL, "model '%s': fit config is NULL (lip_fit_config_default)", m->name);
    LIP_CHECK(ctx, config->batch_size >= 1 && config->epochs >= 1, LIP_ERR_INVALID_ARGUMENT,
              "model '%s': fit needs batch_size >= 1 and epochs >= 1 (got %zu, %zu)", m->name, config->batch_size,
              config->epochs);
    LIP_CHECK(ctx, config->initial_epoch < config->epochs, LIP_ERR_INVALID_ARGUMENT,
              "model '%s': initial_epoch %zu must be below epochs %zu", m->name, config->initial_epoch,
              config->epochs);
    LIP_CHECK(ctx, m->train.optimizer, LIP_ERR_INVALID_ARGUMENT, "model '%s': compiled without an optimizer",
              m->name);
    LIP_CHECK(ctx, !config->n_callbacks || config->callbacks, LIP_ERR_NULL, "model '%s': callbacks is NULL",
              m->name);
    LIP_TRY(check_data(m, data, "training"));
    if (config->validation) LIP_TRY(check_data(m, config->validation, "validation"));
    model_training *t = &m->train;
    LIP_TRY(set_columns(m, config->validation != NULL));
    double *row = calloc(t->n_columns, sizeof *row);
    if (!row) return lip_set_error(ctx, LIP_ERR_OUT_OF_HOST_MEMORY, "model '%s': out of host memory", m->name);
    lip_batcher *bt = NULL;
    lip_status st = lip_batcher_create(data, config->batch_size, config->shuffle, config->seed, &bt);
    size_t batches = bt ? lip_batcher_batches_per_epoch(bt) : 0;
    if (st == LIP_OK && config->initial_epoch) st = lip_batcher_seek(bt, config->initial_epoch, 0);
    int stop = 0;
    for (size_t epoch = config->initial_epoch; st == LIP_OK && epoch < config->epochs && !stop; epoch++) {
        double t0 = now_seconds(), loss_sum = 0;
        size_t seen = 0;
        for (size_t i = 0; i < t->n_metrics && st == LIP_OK; i++) st = lip_metric_reset(t->metrics[i]);
        for (size_t bi = 0; st == LIP_OK; bi++) {
            lip_batch b;
            int has = 0;
            st = lip_batcher_next(bt, &b, &has);
            if (st != LIP_OK || !has) break;
            for (size_t c = 0; c < config->n_callbacks && st == LIP_OK; c++)
                if (config->callbacks[c].on_batch_begin)
                    st = config->callbacks[c].on_batch_begin(m, epoch, bi, t->step, config->callbacks[c].user);
            if (st == LIP_OK) st = run_batch(m, data, &b, 1, &loss_sum);
            if (st != LIP_OK) break;
            t->step++;
            seen += b.count;
            if (config->progress) {
                lip_fit_progress p = {epoch, config->epochs, bi, batches, seen, loss_sum / (double)seen,
                                      now_seconds() - t0, 0, NULL, 0};
                config->progress(&p, m, config->progress_user);
            }
        }
        if (st != LIP_OK) break;
        row[0] = seen ? loss_sum / (double)seen : 0.0;
        for (size_t i = 0; i < t->n_metrics && st == LIP_OK; i++) st = lip_metric_result(t->metrics[i], &row[1 + i]);
        if (st == LIP_OK && config->validation)
            st = evaluate_into(m, config->validation, config->batch_size, row + 1 + t->n_metrics);
        if (st == LIP_OK) st = history_append(m, row);
        if (st == LIP_OK && config->progress) {
            lip_fit_progress p = {epoch, config->epochs, batches, batches, seen, row[0], now_seconds() - t0,
                                  1, row, t->n_columns};
            config->progress(&p, m, config->progress_user);
        }
        for (size_t c = 0; c < config->n_callbacks && st == LIP_OK; c++) {
            int s = 0;
            if (config->callbacks[c].on_epoch_end)
                st = config->callbacks[c].on_epoch_end(m, epoch, row, t->n_columns, &s, config->callbacks[c].user);
            stop |= s;
        }
    }
    lip_batcher_free(bt);
    free(row);
    m->forward_plan = NULL;
    return st;
}

/* ---- progress printing ---------------------------------------------------------------------------- */

void lip_progress_print(const lip_fit_progress *p, const lip_model *m, void *user) {
    FILE *f = user ? (FILE *)user : stderr;
    int tty = isatty(fileno(f));
    if (!p->epoch_end) {
        if (!tty) return; /* plain output: one line per epoch only */
        const int width = 30;
        size_t done = p->batches ? (p->batch + 1) * (size_t)width / p->batches : (size_t)width;
        char bar[32];
        for (int i = 0; i < width; i++) bar[i] = (size_t)i < done ? '=' : '.';
        bar[width] = 0;
        if (done > 0 && done < (size_t)width) bar[done - 1] = '>';
        fprintf(f, "\rEpoch %zu/%zu %zu/%zu [%s] %.1fs loss: %.4f", p->epoch + 1, p->epochs, p->batch + 1, p->batches,
                bar, p->seconds, p->loss);
        fflush(f);
        return;
    }
    if (tty) fprintf(f, "\r\033[K");
    fprintf(f, "Epoch %zu/%zu %zu/%zu %.1fs (%.0f ms/step)", p->epoch + 1, p->epochs, p->batches, p->batches,
            p->seconds, p->batches ? 1e3 * p->seconds / (double)p->batches : 0.0);
    for (size_t i = 0; i < p->n_values; i++) fprintf(f, " - %s: %.4f", lip_model_history_column(m, i), p->values[i]);
    fprintf(f, "\n");
    fflush(f);
}

/* ---- stock callbacks ------------------------------------------------------------------------------- */

static lip_status early_stopping_epoch_end(lip_model *m, size_t epoch, const double *values, size_t n, int *stop,
                                           void *user) {
    (void)epoch;
    lip_early_stopping *s = user;
    size_t col = n;
    for (size_t i = 0; i < n; i++)
        if (s->monitor && !strcmp(lip_model_history_column(m, i), s->monitor)) col = i;
    LIP_CHECK(m->ctx, col < n, LIP_ERR_INVALID_ARGUMENT,
              "early stopping: no history column '%s' (columns are loss, metric names, val_...)",
              s->monitor ? s->monitor : "(null)");
    int mode = s->mode ? s->mode : strstr(s->monitor, "loss") ? -1 : 1;
    double v = values[col];
    if (!s->started || (mode > 0 ? v > s->best + s->min_delta : v < s->best - s->min_delta)) {
        s->best = v;
        s->wait = 0;
        s->started = 1;
    } else if (++s->wait >= s->patience) {
        *stop = 1;
    }
    return LIP_OK;
}

lip_callback lip_callback_early_stopping(lip_early_stopping *state) {
    lip_callback c = {NULL, early_stopping_epoch_end, state};
    if (state) {
        state->started = 0;
        state->wait = 0;
    }
    return c;
}

static lip_status scheduler_batch_begin(lip_model *m, size_t epoch, size_t batch, uint64_t step, void *user) {
    (void)epoch;
    (void)batch;
    const lip_loss_param_scheduler *s = user;
    LIP_CHECK(m->ctx, s->n >= 1 && s->xp && s->fp, LIP_ERR_INVALID_ARGUMENT,
              "loss parameter scheduler: needs n >= 1 points (xp, fp)");
    double x = (double)step, v;
    if (x <= s->xp[0]) {
        v = s->fp[0];
    } else if (x >= s->xp[s->n - 1]) {
        v = s->fp[s->n - 1];
    } else {
        size_t i = 1;
        while (s->xp[i] < x) i++;
        double w = (x - s->xp[i - 1]) / (s->xp[i] - s->xp[i - 1]);
        v = s->fp[i - 1] + w * (s->fp[i] - s->fp[i - 1]);
    }
    return lip_loss_set_param(m->train.loss, s->param, (float)v);
}

lip_callback lip_callback_loss_param_scheduler(lip_loss_param_scheduler *state) {
    lip_callback c = {scheduler_batch_begin, NULL, state};
    return c;
}
