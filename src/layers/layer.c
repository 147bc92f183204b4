/* lipcl — what every layer shares: allocation, the build step, shape checks around forward and
 * backward, parameters, and the dispatch through the family's vtable. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layers/layer.h"
#include "lipschitz/normalizers.h"

lip_status lip_layer_alloc(lip_context *ctx, const lip_layer_vtable *vt, const char *name, size_t priv_size,
                           lip_layer **out) {
    if (!ctx) return LIP_ERR_NULL;
    LIP_CHECK(ctx, out, LIP_ERR_NULL, "%s: out is NULL", vt->type);
    *out = NULL;
    lip_layer *l = calloc(1, sizeof *l);
    void *priv = priv_size ? calloc(1, priv_size) : NULL;
    if (!l || (priv_size && !priv)) {
        free(l);
        free(priv);
        return lip_set_error(ctx, LIP_ERR_OUT_OF_HOST_MEMORY, "%s: out of host memory", vt->type);
    }
    l->vt = vt;
    l->ctx = ctx;
    l->priv = priv;
    static const char *const no_name = "";
    snprintf(l->name, sizeof l->name, "%s", name ? name : no_name);
    ctx->live_objects++;
    *out = l;
    return LIP_OK;
}

void lip_layer_free(lip_layer *layer) {
    if (!layer) return;
    if (layer->vt->destroy) layer->vt->destroy(layer);
    for (size_t i = 0; i < layer->param_count; i++) {
        lip_tensor_free(layer->params[i].value);
        lip_tensor_free(layer->params[i].grad);
    }
    layer->ctx->live_objects--;
    free(layer->priv);
    free(layer);
}

lip_status lip_layer_add_param(lip_layer *layer, const char *name, int ndim, const size_t *shape, int trainable,
                               size_t *index) {
    lip_context *ctx = layer->ctx;
    LIP_CHECK(ctx, layer->param_count < LIP_LAYER_MAX_PARAMS, LIP_ERR_INTERNAL, "%s '%s': too many parameters",
              layer->vt->type, layer->name);
    lip_param *p = &layer->params[layer->param_count];
    snprintf(p->name, sizeof p->name, "%s", name);
    LIP_TRY(lip_tensor_create(ctx, LIP_FLOAT32, ndim, shape, &p->value));
    if (trainable) {
        lip_status st = lip_tensor_create(ctx, LIP_FLOAT32, ndim, shape, &p->grad);
        if (st == LIP_OK) st = lip_tensor_fill(p->grad, 0.0);
        if (st != LIP_OK) {
            lip_tensor_free(p->value);
            lip_tensor_free(p->grad);
            p->value = p->grad = NULL;
            return st;
        }
    }
    if (index) *index = layer->param_count;
    layer->param_count++;
    return LIP_OK;
}

/*
 * deel-lip SpectralInitializer() with its defaults: orthogonal, then one reshaped-kernel
 * orthogonalization of the tensor viewed as (count / last axis, last axis) from a fresh random
 * u ~ U[0, 1) (deel-lip's u=None): power iteration (eps 1e-3, ≤ 10 iterations), W/(σ + 1e-3), Björck
 * (β 0.5, eps 1e-3, ≤ 15 iterations), k 1. The normalizers run in place without the workspaces a
 * backward would need (lip_rko keeps every Björck iterate, ~16 kernels' worth, for nothing here).
 */
static lip_status init_spectral(lip_layer *layer, lip_tensor *t) {
    lip_context *ctx = layer->ctx;
    LIP_TRY(lip_check_tensor(ctx, t, LIP_FLOAT32, "spectral initializer: t"));
    LIP_CHECK(ctx, t->ndim >= 2, LIP_ERR_SHAPE, "%s '%s': the spectral initializer needs a tensor of rank >= 2, got %d",
              layer->vt->type, layer->name, t->ndim);
    LIP_TRY(lip_init_orthogonal(ctx, t, 1.0f));
    size_t cols = t->shape[t->ndim - 1], rows = t->count / cols, ushape[2] = {1, cols};
    size_t nstate = LIP_NORMALIZER_STATE_INTS, one = 1;
    lip_power_iteration_config pi = lip_power_iteration_config_default();
    lip_bjorck_config bj = lip_bjorck_config_default();
    lip_tensor *u = NULL, *sigma = NULL, *state = NULL;
    size_t m[2] = {rows, cols};
    tensor_view v = lip_tensor_view(t, 2, m);
    lip_status st;
    LIP_TRY_GOTO(st, lip_tensor_create(ctx, LIP_FLOAT32, 2, ushape, &u));
    LIP_TRY_GOTO(st, lip_tensor_create(ctx, LIP_FLOAT32, 1, &one, &sigma));
    LIP_TRY_GOTO(st, lip_tensor_create(ctx, LIP_INT32, 1, &nstate, &state));
    LIP_TRY_GOTO(st, lip_random_uniform(ctx, u, 0.0f, 1.0f));
    LIP_TRY_GOTO(st, lip_power_iteration_forward(ctx, &pi, t, u, sigma, t, state, NULL));
    LIP_TRY_GOTO(st, lip_bjorck_forward(ctx, &bj, t, t, state, NULL));
fail:
    lip_tensor_view_restore(v);
    /* Safe with the kernels still queued: OpenCL keeps a buffer until its commands finish. */
    lip_tensor_free(u), lip_tensor_free(sigma), lip_tensor_free(state);
    return st;
}

lip_status lip_layer_init_param(lip_layer *layer, lip_tensor *t, lip_init init) {
    switch (init) {
    case LIP_INIT_SPECTRAL:
        return init_spectral(layer, t);
    case LIP_INIT_GLOROT_UNIFORM:
        return lip_init_glorot_uniform(layer->ctx, t);
    case LIP_INIT_ORTHOGONAL:
        return lip_init_orthogonal(layer->ctx, t, 1.0f);
    case LIP_INIT_ZEROS:
        return lip_init_zeros(layer->ctx, t);
    case LIP_INIT_DEFAULT:
        break;
    }
    return lip_set_error(layer->ctx, LIP_ERR_INVALID_ARGUMENT, "%s '%s': unknown initializer %d", layer->vt->type,
                         layer->name, (int)init);
}

lip_status lip_accumulate(lip_context *ctx, lip_tensor *dst, const lip_tensor *src, int accumulate) {
    return accumulate ? lip_axpy(ctx, 1.0f, src, dst) : lip_tensor_copy(dst, src);
}

lip_status lip_layer_build(lip_layer *layer, int ndim, const size_t *input_shape) {
    if (!layer) return LIP_ERR_NULL;
    lip_context *ctx = layer->ctx;
    LIP_CHECK(ctx, !layer->built, LIP_ERR_INVALID_ARGUMENT, "%s '%s' is already built", layer->vt->type,
              layer->name);
    LIP_CHECK(ctx, input_shape, LIP_ERR_NULL, "%s '%s': input shape is NULL", layer->vt->type, layer->name);
    LIP_CHECK(ctx, ndim >= 1 && ndim <= LIP_MAX_DIMS - 1, LIP_ERR_SHAPE,
              "%s '%s': per-sample input rank %d outside 1..%d (the batch axis is not part of it)", layer->vt->type,
              layer->name, ndim, LIP_MAX_DIMS - 1);
    layer->in_ndim = ndim;
    layer->in_count = 1;
    for (int i = 0; i < ndim; i++) {
        LIP_CHECK(ctx, input_shape[i] >= 1, LIP_ERR_SHAPE, "%s '%s': input dimension %d is 0", layer->vt->type,
                  layer->name, i);
        layer->in_shape[i] = input_shape[i];
        layer->in_count *= input_shape[i];
    }
    lip_status st = layer->vt->init(layer);
    layer->out_count = 1;
    for (int i = 0; i < layer->out_ndim; i++) layer->out_count *= layer->out_shape[i];
    if (st == LIP_OK && layer->vt->reparam_forward) st = layer->vt->reparam_forward(layer);
    if (st != LIP_OK) { /* leave the layer as it was before the call, so it can be built again */
        if (layer->vt->destroy) layer->vt->destroy(layer);
        for (size_t i = 0; i < layer->param_count; i++) {
            lip_tensor_free(layer->params[i].value);
            lip_tensor_free(layer->params[i].grad);
        }
        memset(layer->params, 0, sizeof layer->params);
        layer->param_count = 0;
        return st;
    }
    layer->built = 1;
    return LIP_OK;
}

lip_status lip_layer_output_shape(const lip_layer *layer, int *ndim, size_t shape[LIP_MAX_DIMS]) {
    if (!layer || !ndim || !shape) return LIP_ERR_NULL;
    LIP_CHECK(layer->ctx, layer->built, LIP_ERR_INVALID_ARGUMENT, "%s '%s' is not built yet", layer->vt->type,
              layer->name);
    *ndim = layer->out_ndim;
    for (int i = 0; i < LIP_MAX_DIMS; i++) shape[i] = i < layer->out_ndim ? layer->out_shape[i] : 1;
    return LIP_OK;
}

/* The batch size of `t` for a per-sample count, or 0 (with a message) if it does not divide. */
static lip_status batch_of(const lip_layer *layer, const lip_tensor *t, size_t per_sample, const char *what,
                           size_t *batch) {
    lip_context *ctx = layer->ctx;
    LIP_TRY(lip_check_tensor(ctx, t, LIP_FLOAT32, what));
    char shape[64];
    LIP_CHECK(ctx, t->count % per_sample == 0 && t->count >= per_sample, LIP_ERR_SHAPE,
              "%s '%s': %s %s is not a batch of samples of %zu elements", layer->vt->type, layer->name, what,
              lip_shape_string(t, shape, sizeof shape), per_sample);
    *batch = t->count / per_sample;
    return LIP_OK;
}

static lip_status same_batch(const lip_layer *layer, size_t a, size_t b, const char *what) {
    LIP_CHECK(layer->ctx, a == b, LIP_ERR_SHAPE, "%s '%s': %s holds %zu samples, the input %zu", layer->vt->type,
              layer->name, what, b, a);
    return LIP_OK;
}

/* Callers may pass any tensors with the right element counts; the family code always sees
 * (batch, per-sample shape...). */
static tensor_view view_batch(const lip_tensor *t, size_t batch, int ndim, const size_t *shape) {
    size_t s[LIP_MAX_DIMS] = {batch, 1, 1, 1};
    for (int i = 0; i < ndim; i++) s[i + 1] = shape[i];
    return lip_tensor_view(t, ndim + 1, s);
}

lip_status lip_layer_forward(lip_layer *layer, const lip_tensor *x, lip_tensor *y) {
    if (!layer) return LIP_ERR_NULL;
    LIP_CHECK(layer->ctx, layer->built, LIP_ERR_INVALID_ARGUMENT, "%s '%s': build it before forward",
              layer->vt->type, layer->name);
    size_t bx = 0, by = 0;
    LIP_TRY(batch_of(layer, x, layer->in_count, "x", &bx));
    LIP_TRY(batch_of(layer, y, layer->out_count, "y", &by));
    LIP_TRY(same_batch(layer, bx, by, "y"));
    tensor_view vx = view_batch(x, bx, layer->in_ndim, layer->in_shape);
    tensor_view vy = view_batch(y, bx, layer->out_ndim, layer->out_shape);
    lip_status st = layer->vt->forward(layer, x, y, bx);
    lip_tensor_view_restore(vx);
    lip_tensor_view_restore(vy);
    return st;
}

lip_status lip_layer_backward(lip_layer *layer, const lip_tensor *x, const lip_tensor *y, const lip_tensor *dy,
                              lip_tensor *dx, int accumulate) {
    if (!layer) return LIP_ERR_NULL;
    LIP_CHECK(layer->ctx, layer->built, LIP_ERR_INVALID_ARGUMENT, "%s '%s': build it before backward",
              layer->vt->type, layer->name);
    size_t bx = 0, b = 0;
    LIP_TRY(batch_of(layer, x, layer->in_count, "x", &bx));
    if (y) {
        LIP_TRY(batch_of(layer, y, layer->out_count, "y", &b));
        LIP_TRY(same_batch(layer, bx, b, "y"));
    }
    LIP_TRY(batch_of(layer, dy, layer->out_count, "dy", &b));
    LIP_TRY(same_batch(layer, bx, b, "dy"));
    if (dx) {
        LIP_TRY(batch_of(layer, dx, layer->in_count, "dx", &b));
        LIP_TRY(same_batch(layer, bx, b, "dx"));
    }
    tensor_view vx = view_batch(x, bx, layer->in_ndim, layer->in_shape);
    tensor_view vy = view_batch(y, bx, layer->out_ndim, layer->out_shape);
    tensor_view vdy = view_batch(dy, bx, layer->out_ndim, layer->out_shape);
    tensor_view vdx = view_batch(dx, bx, layer->in_ndim, layer->in_shape);
    lip_status st = layer->vt->backward(layer, x, y, dy, dx, bx, accumulate != 0);
    lip_tensor_view_restore(vx);
    lip_tensor_view_restore(vy);
    lip_tensor_view_restore(vdy);
    lip_tensor_view_restore(vdx);
    return st;
}

lip_status lip_layer_reparametrize(lip_layer *layer) {
    if (!layer) return LIP_ERR_NULL;
    LIP_CHECK(layer->ctx, layer->built, LIP_ERR_INVALID_ARGUMENT, "%s '%s': build it before reparametrizing",
              layer->vt->type, layer->name);
    return layer->vt->reparam_forward ? layer->vt->reparam_forward(layer) : LIP_OK;
}

size_t lip_layer_param_count(const lip_layer *layer) { return layer ? layer->param_count : 0; }

lip_status lip_layer_param(lip_layer *layer, size_t index, lip_tensor **value, lip_tensor **grad, const char **name) {
    if (!layer) return LIP_ERR_NULL;
    LIP_CHECK(layer->ctx, index < layer->param_count, LIP_ERR_INVALID_ARGUMENT,
              "%s '%s' has %zu parameters, index %zu asked", layer->vt->type, layer->name, layer->param_count, index);
    if (value) *value = layer->params[index].value;
    if (grad) *grad = layer->params[index].grad;
    if (name) *name = layer->params[index].name;
    return LIP_OK;
}

const char *lip_layer_name(const lip_layer *layer) { return layer ? layer->name : ""; }
const char *lip_layer_type(const lip_layer *layer) { return layer ? layer->vt->type : ""; }

/* ---- creation options, Lipschitz bounds, vanilla export ------------------------------------------ */

lip_status lip_layer_config_add(lip_context *ctx, lip_layer_config *config, const char *key, double value) {
    LIP_CHECK(ctx, config->count < LIP_LAYER_MAX_CONFIG, LIP_ERR_INTERNAL, "layer config: more than %d options",
              LIP_LAYER_MAX_CONFIG);
    lip_layer_kv *kv = &config->kv[config->count++];
    snprintf(kv->key, sizeof kv->key, "%s", key);
    kv->value = value;
    return LIP_OK;
}

lip_status lip_layer_config_get(lip_context *ctx, const lip_layer_config *config, const char *type, const char *key,
                                double *value) {
    for (size_t i = 0; i < config->count; i++)
        if (strcmp(config->kv[i].key, key) == 0) {
            *value = config->kv[i].value;
            return LIP_OK;
        }
    return lip_set_error(ctx, LIP_ERR_INVALID_ARGUMENT, "%s: option '%s' is missing from the layer config", type, key);
}

lip_status lip_layer_export_copy(lip_layer *src, size_t priv_size, lip_layer **out) {
    lip_context *ctx = src->ctx;
    lip_layer *l = NULL;
    LIP_TRY(lip_layer_alloc(ctx, src->vt, src->name, priv_size, &l));
    if (priv_size) memcpy(l->priv, src->priv, priv_size);
    lip_status st = lip_layer_build(l, src->in_ndim, src->in_shape);
    for (size_t i = 0; st == LIP_OK && i < l->param_count; i++) st = lip_tensor_copy(l->params[i].value, src->params[i].value);
    if (st != LIP_OK) {
        lip_layer_free(l);
        return st;
    }
    *out = l;
    return LIP_OK;
}

/** The L2 Lipschitz bound of a built layer (see the vtable's lipschitz_bound). */
lip_status lip_layer_lipschitz_bound(const lip_layer *layer, double *bound, int *per_neuron) {
    if (!layer) return LIP_ERR_NULL;
    LIP_CHECK(layer->ctx, bound, LIP_ERR_NULL, "%s '%s': bound is NULL", layer->vt->type, layer->name);
    LIP_CHECK(layer->ctx, layer->built, LIP_ERR_INVALID_ARGUMENT, "%s '%s': build it before asking its Lipschitz bound",
              layer->vt->type, layer->name);
    LIP_CHECK(layer->ctx, layer->vt->lipschitz_bound, LIP_ERR_UNSUPPORTED,
              "%s '%s' is unconstrained: it guarantees no Lipschitz bound", layer->vt->type, layer->name);
    int pn = 0;
    LIP_TRY(layer->vt->lipschitz_bound(layer, bound, &pn));
    if (per_neuron) *per_neuron = pn;
    return LIP_OK;
}

/* The index of parameter `name` of l, or l->param_count when it has none. */
static size_t param_index(const lip_layer *l, const char *name) {
    size_t i = 0;
    while (i < l->param_count && strcmp(l->params[i].name, name)) i++;
    return i;
}

lip_status lip_layer_export_weights(lip_layer *src, lip_layer *plain, const lip_tensor *w_bar, const lip_tensor *bias,
                                    lip_layer **out) {
    lip_status st = lip_layer_build(plain, src->in_ndim, src->in_shape);
    size_t k = param_index(plain, "kernel"), b = param_index(plain, "bias");
    if (st == LIP_OK && k == plain->param_count)
        st = lip_set_error(src->ctx, LIP_ERR_INTERNAL, "%s '%s': export target has no kernel", src->vt->type, src->name);
    if (st == LIP_OK) st = lip_tensor_copy(plain->params[k].value, w_bar);
    if (st == LIP_OK && bias && b < plain->param_count) st = lip_tensor_copy(plain->params[b].value, bias);
    if (st != LIP_OK) {
        lip_layer_free(plain);
        return st;
    }
    *out = plain;
    return LIP_OK;
}
