/* lipcl — the model container: nodes (layers and residual sums) in topological order, activations
 * planned per batch size, forward, backward with gradient fan-in, prediction in chunks, summary. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train/model_internal.h"

lip_status lip_model_create(lip_context *ctx, const char *name, lip_model **out) {
    if (!ctx) return LIP_ERR_NULL;
    LIP_CHECK(ctx, out, LIP_ERR_NULL, "lip_model_create: out is NULL");
    lip_model *m = calloc(1, sizeof *m);
    if (!m) return lip_set_error(ctx, LIP_ERR_OUT_OF_HOST_MEMORY, "lip_model_create: out of host memory");
    m->ctx = ctx;
    snprintf(m->name, sizeof m->name, "%s", name ? name : "model");
    ctx->live_objects++;
    *out = m;
    return LIP_OK;
}

static void plan_free(model_plan *p, size_t nodes) {
    for (size_t i = 0; i < nodes; i++) {
        if (p->act) lip_tensor_free(p->act[i]);
        if (p->grad) lip_tensor_free(p->grad[i]);
    }
    for (size_t i = 0; p->fanin && i <= nodes; i++) lip_tensor_free(p->fanin[i]);
    free(p->act);
    free(p->grad);
    free(p->fanin);
    memset(p, 0, sizeof *p);
}

void lip_model_free(lip_model *m) {
    if (!m) return;
    for (int i = 0; i < MODEL_MAX_PLANS; i++) plan_free(&m->plans[i], m->node_count);
    for (size_t i = 0; i < m->node_count; i++) lip_layer_free(m->nodes[i].layer);
    free(m->nodes);
    free(m->needed);
    free(m->written);
    lip_model_training_free(m);
    m->ctx->live_objects--;
    free(m);
}

static lip_status push_node(lip_model *m, lip_layer *layer, int a, int b, int *node) {
    lip_context *ctx = m->ctx;
    if (m->built) {
        lip_layer_free(layer);
        return lip_set_error(ctx, LIP_ERR_INVALID_ARGUMENT, "model '%s' is built: no more nodes can be added",
                             m->name);
    }
    int last = (int)m->node_count;
    if (a < LIP_MODEL_INPUT || a >= last || b < LIP_MODEL_INPUT || b >= last) {
        lip_layer_free(layer);
        return lip_set_error(ctx, LIP_ERR_INVALID_ARGUMENT,
                             "model '%s': node %zu reads node %d, which does not exist yet (nodes 0..%d, -1 = input)",
                             m->name, m->node_count, a < LIP_MODEL_INPUT || a >= last ? a : b, last - 1);
    }
    if (m->node_count == m->node_capacity) {
        size_t cap = m->node_capacity ? 2 * m->node_capacity : 8;
        model_node *n = realloc(m->nodes, cap * sizeof *n);
        if (!n) {
            lip_layer_free(layer);
            return lip_set_error(ctx, LIP_ERR_OUT_OF_HOST_MEMORY, "model '%s': out of host memory", m->name);
        }
        m->nodes = n;
        m->node_capacity = cap;
    }
    model_node *n = &m->nodes[m->node_count];
    memset(n, 0, sizeof *n);
    n->layer = layer;
    n->in_a = a;
    n->in_b = b;
    if (node) *node = (int)m->node_count;
    m->node_count++;
    return LIP_OK;
}

lip_status lip_model_add_node(lip_model *m, lip_layer *layer, int input, int *node) {
    if (!m) {
        lip_layer_free(layer);
        return LIP_ERR_NULL;
    }
    LIP_CHECK(m->ctx, layer, LIP_ERR_NULL, "model '%s': layer is NULL", m->name);
    LIP_CHECK(m->ctx, layer->ctx == m->ctx, LIP_ERR_INVALID_ARGUMENT,
              "model '%s': layer '%s' belongs to another context", m->name, layer->name);
    return push_node(m, layer, input, LIP_MODEL_INPUT, node);
}

lip_status lip_model_add(lip_model *m, lip_layer *layer) {
    return lip_model_add_node(m, layer, m ? (int)m->node_count - 1 : 0, NULL);
}

lip_status lip_model_add_sum(lip_model *m, int a, int b, int *node) {
    if (!m) return LIP_ERR_NULL;
    return push_node(m, NULL, a, b, node);
}

static const model_node *input_of(const lip_model *m, int i, int *ndim, const size_t **shape) {
    if (i == LIP_MODEL_INPUT) {
        *ndim = m->in_ndim;
        *shape = m->in_shape;
        return NULL;
    }
    *ndim = m->nodes[i].ndim;
    *shape = m->nodes[i].shape;
    return &m->nodes[i];
}

lip_status lip_model_build(lip_model *m, int ndim, const size_t *input_shape) {
    if (!m) return LIP_ERR_NULL;
    lip_context *ctx = m->ctx;
    LIP_CHECK(ctx, !m->built, LIP_ERR_INVALID_ARGUMENT, "model '%s' is already built", m->name);
    LIP_CHECK(ctx, m->node_count > 0, LIP_ERR_INVALID_ARGUMENT, "model '%s' has no layers", m->name);
    LIP_CHECK(ctx, input_shape, LIP_ERR_NULL, "model '%s': input shape is NULL", m->name);
    LIP_CHECK(ctx, ndim >= 1 && ndim < LIP_MAX_DIMS, LIP_ERR_SHAPE,
              "model '%s': per-sample input rank %d outside 1..%d", m->name, ndim, LIP_MAX_DIMS - 1);
    m->in_ndim = ndim;
    m->in_count = 1;
    for (int i = 0; i < ndim; i++) {
        LIP_CHECK(ctx, input_shape[i] >= 1, LIP_ERR_SHAPE, "model '%s': input dimension %d is 0", m->name, i);
        m->in_shape[i] = input_shape[i];
        m->in_count *= input_shape[i];
    }
    for (size_t i = 0; i < m->node_count; i++) {
        model_node *n = &m->nodes[i];
        int a_ndim;
        const size_t *a_shape;
        input_of(m, n->in_a, &a_ndim, &a_shape);
        if (n->layer) {
            if (!n->layer->built) LIP_TRY(lip_layer_build(n->layer, a_ndim, a_shape));
            LIP_CHECK(ctx, n->layer->in_ndim == a_ndim && !memcmp(n->layer->in_shape, a_shape, a_ndim * sizeof(size_t)),
                      LIP_ERR_SHAPE, "model '%s': layer '%s' was built for another input shape than node %d gives",
                      m->name, n->layer->name, n->in_a);
            LIP_TRY(lip_layer_output_shape(n->layer, &n->ndim, n->shape));
        } else {
            int b_ndim;
            const size_t *b_shape;
            input_of(m, n->in_b, &b_ndim, &b_shape);
            LIP_CHECK(ctx, a_ndim == b_ndim && !memcmp(a_shape, b_shape, a_ndim * sizeof(size_t)), LIP_ERR_SHAPE,
                      "model '%s': sum node %zu adds nodes %d and %d of different shapes", m->name, i, n->in_a,
                      n->in_b);
            n->ndim = a_ndim;
            memcpy(n->shape, a_shape, sizeof n->shape);
        }
        n->count = 1;
        for (int d = 0; d < n->ndim; d++) n->count *= n->shape[d];
    }
    for (size_t i = 0; i + 1 < m->node_count; i++) {
        int read = 0;
        for (size_t c = i + 1; c < m->node_count; c++)
            read |= m->nodes[c].in_a == (int)i || (!m->nodes[c].layer && m->nodes[c].in_b == (int)i);
        LIP_CHECK(ctx, read, LIP_ERR_INVALID_ARGUMENT,
                  "model '%s': node %zu is read by no later node (only the last node may be the output)", m->name, i);
    }
    m->needed = calloc(m->node_count, 1);
    m->written = calloc(m->node_count + 1, 1);
    if (!m->needed || !m->written) return lip_set_error(ctx, LIP_ERR_OUT_OF_HOST_MEMORY, "model '%s': out of memory", m->name);
    m->built = 1;
    return LIP_OK;
}

static lip_status check_built(const lip_model *m) {
    LIP_CHECK(m->ctx, m->built, LIP_ERR_INVALID_ARGUMENT, "model '%s' is not built (lip_model_build)", m->name);
    return LIP_OK;
}

lip_status lip_model_output_shape(const lip_model *m, int *ndim, size_t shape[LIP_MAX_DIMS]) {
    if (!m || !ndim || !shape) return LIP_ERR_NULL;
    LIP_TRY(check_built(m));
    const model_node *last = &m->nodes[m->node_count - 1];
    *ndim = last->ndim;
    for (int i = 0; i < LIP_MAX_DIMS; i++) shape[i] = i < last->ndim ? last->shape[i] : 1;
    return LIP_OK;
}

static lip_status batch_tensor(lip_context *ctx, size_t batch, int ndim, const size_t *shape, lip_tensor **out) {
    size_t s[LIP_MAX_DIMS] = {batch, 1, 1, 1};
    for (int i = 0; i < ndim; i++) s[i + 1] = shape[i];
    return lip_tensor_create(ctx, LIP_FLOAT32, ndim + 1, s, out);
}

/* The plan of `batch`: an existing one, or a new one replacing the least recently used. */
static lip_status get_plan(lip_model *m, size_t batch, model_plan **out) {
    model_plan *victim = &m->plans[0];
    for (int i = 0; i < MODEL_MAX_PLANS; i++) {
        model_plan *p = &m->plans[i];
        if (p->batch == batch) {
            p->last_use = ++m->use_clock;
            *out = p;
            return LIP_OK;
        }
        if (p->batch == 0 || (victim->batch != 0 && p->last_use < victim->last_use)) victim = p;
    }
    if (victim == m->forward_plan) m->forward_plan = NULL;
    plan_free(victim, m->node_count);
    model_plan *p = victim;
    p->act = calloc(m->node_count, sizeof *p->act);
    p->grad = calloc(m->node_count, sizeof *p->grad);
    p->fanin = calloc(m->node_count + 1, sizeof *p->fanin);
    lip_status st = p->act && p->grad && p->fanin
                        ? LIP_OK
                        : lip_set_error(m->ctx, LIP_ERR_OUT_OF_HOST_MEMORY, "model '%s': out of memory", m->name);
    for (size_t i = 0; st == LIP_OK && i < m->node_count; i++) {
        st = batch_tensor(m->ctx, batch, m->nodes[i].ndim, m->nodes[i].shape, &p->act[i]);
        if (st == LIP_OK) st = batch_tensor(m->ctx, batch, m->nodes[i].ndim, m->nodes[i].shape, &p->grad[i]);
    }
    /* Nodes (and the input) read by more than one node get a fan-in buffer. */
    for (int j = LIP_MODEL_INPUT; st == LIP_OK && j < (int)m->node_count; j++) {
        size_t readers = 0;
        for (size_t i = 0; i < m->node_count; i++)
            readers += (m->nodes[i].in_a == j) + (!m->nodes[i].layer && m->nodes[i].in_b == j);
        if (readers < 2) continue;
        size_t slot = j == LIP_MODEL_INPUT ? m->node_count : (size_t)j;
        st = j == LIP_MODEL_INPUT ? batch_tensor(m->ctx, batch, m->in_ndim, m->in_shape, &p->fanin[slot])
                                  : batch_tensor(m->ctx, batch, m->nodes[j].ndim, m->nodes[j].shape, &p->fanin[slot]);
    }
    if (st != LIP_OK) {
        plan_free(p, m->node_count);
        return st;
    }
    p->batch = batch;
    p->last_use = ++m->use_clock;
    *out = p;
    return LIP_OK;
}

static lip_status batch_of(lip_model *m, const lip_tensor *t, size_t per_sample, const char *what, size_t *batch) {
    LIP_TRY(lip_check_tensor(m->ctx, t, LIP_FLOAT32, what));
    char shape[64];
    LIP_CHECK(m->ctx, t->count >= per_sample && t->count % per_sample == 0, LIP_ERR_SHAPE,
              "model '%s': %s %s is not a batch of samples of %zu elements", m->name, what,
              lip_shape_string(t, shape, sizeof shape), per_sample);
    *batch = t->count / per_sample;
    return LIP_OK;
}

/* The tensor node i reads as input a (or b): the model input or an earlier activation. */
static const lip_tensor *node_input(const model_plan *p, const lip_tensor *x, int i) {
    return i == LIP_MODEL_INPUT ? x : p->act[i];
}

lip_status lip_model_forward(lip_model *m, const lip_tensor *x, lip_tensor *y) {
    if (!m) return LIP_ERR_NULL;
    LIP_TRY(check_built(m));
    size_t bx = 0, by = 0;
    LIP_TRY(batch_of(m, x, m->in_count, "x", &bx));
    LIP_TRY(batch_of(m, y, m->nodes[m->node_count - 1].count, "y", &by));
    LIP_CHECK(m->ctx, bx == by, LIP_ERR_SHAPE, "model '%s': y holds %zu samples, x %zu", m->name, by, bx);
    model_plan *p;
    LIP_TRY(get_plan(m, bx, &p));
    m->forward_plan = NULL;
    for (size_t i = 0; i < m->node_count; i++) {
        const model_node *n = &m->nodes[i];
        if (n->layer)
            LIP_TRY(lip_layer_forward(n->layer, node_input(p, x, n->in_a), p->act[i]));
        else
            LIP_TRY(lip_add(m->ctx, node_input(p, x, n->in_a), node_input(p, x, n->in_b), p->act[i]));
    }
    LIP_TRY(lip_tensor_copy(y, p->act[m->node_count - 1]));
    m->forward_plan = p;
    m->forward_x = x;
    return LIP_OK;
}

/* Whether any trainable parameter sits at or before node i (its gradient is worth computing). */
static int layer_trainable(const lip_layer *l) {
    for (size_t k = 0; l && k < l->param_count; k++)
        if (l->params[k].grad) return 1;
    return 0;
}

lip_status lip_model_backward(lip_model *m, const lip_tensor *dy, lip_tensor *dx, int accumulate) {
    if (!m) return LIP_ERR_NULL;
    LIP_TRY(check_built(m));
    model_plan *p = m->forward_plan;
    LIP_CHECK(m->ctx, p, LIP_ERR_INVALID_ARGUMENT, "model '%s': lip_model_backward needs a lip_model_forward first",
              m->name);
    size_t b = 0;
    LIP_TRY(batch_of(m, dy, m->nodes[m->node_count - 1].count, "dy", &b));
    LIP_CHECK(m->ctx, b == p->batch, LIP_ERR_SHAPE, "model '%s': dy holds %zu samples, the forward batch %zu", m->name,
              b, p->batch);
    if (dx) {
        size_t bd = 0;
        LIP_TRY(batch_of(m, dx, m->in_count, "dx", &bd));
        LIP_CHECK(m->ctx, bd == p->batch, LIP_ERR_SHAPE, "model '%s': dx holds %zu samples, the forward batch %zu",
                  m->name, bd, p->batch);
    }
    /* needed[i]: node i's output gradient leads to a trainable parameter or to dx. Inputs come
     * before their consumers, so one forward sweep decides it. */
    char *needed = m->needed;
    for (size_t i = 0; i < m->node_count; i++) {
        const model_node *n = &m->nodes[i];
        int from_a = n->in_a == LIP_MODEL_INPUT ? dx != NULL : needed[n->in_a];
        int from_b = !n->layer && (n->in_b == LIP_MODEL_INPUT ? dx != NULL : needed[n->in_b]);
        needed[i] = (char)(layer_trainable(n->layer) || from_a || from_b);
    }
    /* written[j]: node j's gradient holds a first contribution (later ones are added). Index
     * node_count stands for dx. */
    char *written = m->written;
    memset(written, 0, m->node_count + 1);
    lip_status st = lip_tensor_copy(p->grad[m->node_count - 1], dy);
    written[m->node_count - 1] = 1;
    for (size_t r = m->node_count; st == LIP_OK && r-- > 0;) {
        const model_node *n = &m->nodes[r];
        if (!written[r] || !needed[r]) continue;
        int ins[2] = {n->in_a, n->layer ? -2 : n->in_b};
        for (int k = 0; k < 2 && st == LIP_OK; k++) {
            int j = ins[k];
            if (j == -2) continue;
            int wanted = j == LIP_MODEL_INPUT ? dx != NULL : needed[j];
            lip_tensor *dst = !wanted ? NULL : j == LIP_MODEL_INPUT ? dx : p->grad[j];
            char *done = &written[j == LIP_MODEL_INPUT ? m->node_count : (size_t)j];
            if (n->layer) {
                /* A second contribution to the same gradient goes through that node's fan-in buffer. */
                lip_tensor *target = dst && *done ? p->fanin[j == LIP_MODEL_INPUT ? m->node_count : (size_t)j] : dst;
                if (k == 0) /* parameter gradients once per layer */
                    st = lip_layer_backward(n->layer, node_input(p, m->forward_x, j), p->act[r], p->grad[r], target,
                                            accumulate);
                if (st == LIP_OK && dst && *done) st = lip_axpy(m->ctx, 1.0f, target, dst);
            } else if (dst) {
                st = *done ? lip_axpy(m->ctx, 1.0f, p->grad[r], dst) : lip_tensor_copy(dst, p->grad[r]);
            }
            if (dst) *done = 1;
        }
    }
    return st;
}

lip_status lip_model_predict(lip_model *m, const lip_tensor *x, lip_tensor *y, size_t batch_size) {
    if (!m) return LIP_ERR_NULL;
    LIP_TRY(check_built(m));
    size_t n = 0, ny = 0, out_count = m->nodes[m->node_count - 1].count;
    LIP_TRY(batch_of(m, x, m->in_count, "x", &n));
    LIP_TRY(batch_of(m, y, out_count, "y", &ny));
    LIP_CHECK(m->ctx, n == ny, LIP_ERR_SHAPE, "model '%s': y holds %zu samples, x %zu", m->name, ny, n);
    if (batch_size == 0) batch_size = 256;
    if (n <= batch_size) return lip_model_forward(m, x, y);
    /* Chunks are views into x and y (batch-major tensors of n rows). */
    lip_status st = LIP_OK;
    size_t xs[1] = {n * m->in_count}, ys[1] = {n * out_count};
    tensor_view vx = lip_tensor_view(x, 1, xs), vy = lip_tensor_view(y, 1, ys);
    for (size_t start = 0; start < n && st == LIP_OK; start += batch_size) {
        size_t b = n - start < batch_size ? n - start : batch_size;
        lip_tensor xc = lip_tensor_rows(x, start * m->in_count, b * m->in_count);
        lip_tensor yc = lip_tensor_rows(y, start * out_count, b * out_count);
        st = lip_model_forward(m, &xc, &yc);
    }
    lip_tensor_view_restore(vy);
    lip_tensor_view_restore(vx);
    m->forward_plan = NULL; /* the chunk views are gone: no backward pairs with a predict */
    return st;
}

lip_status lip_model_reparametrize(lip_model *m) {
    if (!m) return LIP_ERR_NULL;
    LIP_TRY(check_built(m));
    for (size_t i = 0; i < m->node_count; i++)
        if (m->nodes[i].layer) LIP_TRY(lip_layer_reparametrize(m->nodes[i].layer));
    return LIP_OK;
}

lip_status lip_model_set_k_coef_lip(lip_model *m, double k) {
    if (!m) return LIP_ERR_NULL;
    LIP_TRY(check_built(m));
    LIP_CHECK(m->ctx, isfinite(k) && k > 0, LIP_ERR_INVALID_ARGUMENT,
              "model '%s': k_coef_lip must be finite and > 0, got %g", m->name, k);
    size_t n = 0;
    for (size_t i = 0; i < m->node_count; i++) {
        const lip_layer *l = m->nodes[i].layer;
        LIP_CHECK(m->ctx, l, LIP_ERR_UNSUPPORTED,
                  "model '%s': k_coef_lip is distributed over a chain (deel-lip Sequential); node %zu is a sum",
                  m->name, i);
        if (l->vt->set_k_coef_lip) n++;
    }
    if (n == 0) {
        LIP_CHECK(m->ctx, k == 1.0, LIP_ERR_INVALID_ARGUMENT,
                  "model '%s': k_coef_lip %g but the model has no Lipschitz layer to carry it", m->name, k);
        return LIP_OK;
    }
    float per_layer = (float)pow(k, 1.0 / (double)n); /* deel-lip: K^(1/n) to each LipschitzLayer child */
    LIP_CHECK(m->ctx, isfinite(per_layer) && per_layer > 0.0f, LIP_ERR_INVALID_ARGUMENT,
              "model '%s': k_coef_lip %g gives a per-layer k %g out of float range", m->name, k, (double)per_layer);
    for (size_t i = 0; i < m->node_count; i++) {
        lip_layer *l = m->nodes[i].layer;
        if (l->vt->set_k_coef_lip) LIP_TRY(l->vt->set_k_coef_lip(l, per_layer));
    }
    return lip_model_reparametrize(m);
}

size_t lip_model_node_count(const lip_model *m) { return m ? m->node_count : 0; }

lip_layer *lip_model_layer(const lip_model *m, size_t node) {
    return m && node < m->node_count ? m->nodes[node].layer : NULL;
}

const char *lip_model_name(const lip_model *m) { return m ? m->name : ""; }

lip_status lip_model_trainable_params(lip_model *m, size_t max, lip_tensor **values, lip_tensor **grads,
                                      size_t *count) {
    if (!m) return LIP_ERR_NULL;
    LIP_TRY(check_built(m));
    size_t c = 0;
    for (size_t i = 0; i < m->node_count; i++) {
        lip_layer *l = m->nodes[i].layer;
        for (size_t k = 0; l && k < l->param_count; k++) {
            if (!l->params[k].grad) continue;
            if (c < max) {
                if (values) values[c] = l->params[k].value;
                if (grads) grads[c] = l->params[k].grad;
            }
            c++;
        }
    }
    if (count) *count = c;
    return LIP_OK;
}

lip_status lip_model_param_counts(const lip_model *m, size_t *trainable, size_t *non_trainable) {
    if (!m) return LIP_ERR_NULL;
    LIP_TRY(check_built(m));
    size_t t = 0, nt = 0;
    for (size_t i = 0; i < m->node_count; i++) {
        const lip_layer *l = m->nodes[i].layer;
        for (size_t k = 0; l && k < l->param_count; k++) {
            if (l->params[k].grad)
                t += l->params[k].value->count;
            else
                nt += l->params[k].value->count;
        }
    }
    if (trainable) *trainable = t;
    if (non_trainable) *non_trainable = nt;
    return LIP_OK;
}

/* A growing string for the summary. */
typedef struct text_buf {
    char *data;
    size_t len, cap;
    int failed;
} text_buf;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void text_add(text_buf *t, const char *fmt, ...) {
    if (t->failed) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        t->failed = 1;
        return;
    }
    if (t->len + (size_t)n + 1 > t->cap) {
        size_t cap = (t->len + (size_t)n + 1) * 2;
        char *d = realloc(t->data, cap);
        if (!d) {
            t->failed = 1;
            return;
        }
        t->data = d;
        t->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(t->data + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    t->len += (size_t)n;
}

static void shape_text(int ndim, const size_t *shape, char *buf, size_t size) {
    int k = snprintf(buf, size, "(None");
    for (int i = 0; i < ndim && k > 0 && (size_t)k < size; i++) k += snprintf(buf + k, size - (size_t)k, ", %zu", shape[i]);
    if (k > 0 && (size_t)k < size) snprintf(buf + k, size - (size_t)k, ")");
}

lip_status lip_model_summary(const lip_model *m, char **text) {
    if (!m || !text) return LIP_ERR_NULL;
    *text = NULL;
    LIP_TRY(check_built(m));
    text_buf t = {0};
    const char *rule = "_________________________________________________________________________\n";
    const char *bold = "=========================================================================\n";
    text_add(&t, "Model: \"%s\"\n%s", m->name, rule);
    text_add(&t, "%-40s %-20s %10s\n%s", "Layer (type)", "Output Shape", "Param #", bold);
    for (size_t i = 0; i < m->node_count; i++) {
        const model_node *n = &m->nodes[i];
        char label[96], shape[64];
        size_t params = 0;
        if (n->layer) {
            snprintf(label, sizeof label, "%s (%s)", n->layer->name[0] ? n->layer->name : "-", n->layer->vt->type);
            for (size_t k = 0; k < n->layer->param_count; k++) params += n->layer->params[k].value->count;
        } else {
            snprintf(label, sizeof label, "add_%zu (Add: %d + %d)", i, n->in_a, n->in_b);
        }
        shape_text(n->ndim, n->shape, shape, sizeof shape);
        text_add(&t, "%-40s %-20s %10zu\n%s", label, shape, params, i + 1 < m->node_count ? rule : bold);
    }
    size_t tr = 0, nt = 0;
    lip_model_param_counts(m, &tr, &nt);
    text_add(&t, "Total params: %zu\nTrainable params: %zu\nNon-trainable params: %zu\n%s", tr + nt, tr, nt, rule);
    if (t.failed) {
        free(t.data);
        return lip_set_error(m->ctx, LIP_ERR_OUT_OF_HOST_MEMORY, "model '%s': summary: out of host memory", m->name);
    }
    *text = t.data;
    return LIP_OK;
}
