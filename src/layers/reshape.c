/* lipcl — the reshaping layers (Keras Flatten and Reshape): a new per-sample shape over the same
 * row-major elements, so forward and backward are plain device copies (none when in and out alias). */
#include <stdio.h>
#include <string.h>

#include "layers/layer.h"

typedef struct reshape_priv {
    int ndim;                    /* Reshape's target rank (1..3); 0 for Flatten */
    size_t shape[LIP_MAX_DIMS];  /* Reshape's target, one entry may be 0 (inferred) */
} reshape_priv;

/* "4x8", "2x?x3" (0 = inferred) into buf. */
static const char *dims_string(int ndim, const size_t *shape, char *buf, size_t size) {
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < ndim && used < size; i++) {
        const char *sep = i ? "x" : "";
        int n = shape[i] ? snprintf(buf + used, size - used, "%s%zu", sep, shape[i])
                         : snprintf(buf + used, size - used, "%s?", sep);
        if (n < 0) break;
        used += (size_t)n;
    }
    return buf;
}

static lip_status flatten_init(lip_layer *l) {
    l->out_ndim = 1;
    l->out_shape[0] = l->in_count;
    return LIP_OK;
}

/* The target shape with its inferred entry resolved; the element count must be kept. */
static lip_status reshape_init(lip_layer *l) {
    const reshape_priv *q = l->priv;
    size_t known = 1;
    int inferred = -1;
    for (int i = 0; i < q->ndim; i++) {
        if (q->shape[i] == 0)
            inferred = i;
        else
            known *= q->shape[i];
    }
    char in[64], target[64];
    dims_string(l->in_ndim, l->in_shape, in, sizeof in);
    dims_string(q->ndim, q->shape, target, sizeof target);
    if (inferred >= 0)
        LIP_CHECK(l->ctx, l->in_count % known == 0, LIP_ERR_SHAPE,
                  "%s '%s': %zu elements (input %s) cannot become %s: %zu is not a multiple of %zu", l->vt->type,
                  l->name, l->in_count, in, target, l->in_count, known);
    else
        LIP_CHECK(l->ctx, l->in_count == known, LIP_ERR_SHAPE,
                  "%s '%s': %zu elements (input %s) cannot become %s (%zu elements)", l->vt->type, l->name,
                  l->in_count, in, target, known);
    l->out_ndim = q->ndim;
    for (int i = 0; i < q->ndim; i++) l->out_shape[i] = q->shape[i] ? q->shape[i] : l->in_count / known;
    return LIP_OK;
}

/* dst = src over the same element count; nothing to do when both are the same memory. */
static lip_status copy_same(lip_tensor *dst, const lip_tensor *src) {
    if (dst->mem == src->mem && dst->offset == src->offset) return LIP_OK;
    return lip_tensor_copy(dst, src);
}

static lip_status reshape_forward(lip_layer *l, const lip_tensor *x, lip_tensor *y, size_t batch) {
    (void)l, (void)batch;
    return copy_same(y, x);
}

static lip_status reshape_backward(lip_layer *l, const lip_tensor *x, const lip_tensor *y, const lip_tensor *dy,
                                   lip_tensor *dx, size_t batch, int accumulate) {
    (void)l, (void)x, (void)y, (void)batch, (void)accumulate; /* no parameters */
    return dx ? copy_same(dx, dy) : LIP_OK;
}

/* The elements are only moved: 1-Lipschitz. */
static lip_status reshape_lipschitz_bound(const lip_layer *l, double *bound, int *per_neuron) {
    (void)l;
    *bound = 1.0;
    *per_neuron = 0;
    return LIP_OK;
}

/* Reshape: ndim, then shape0.. (0 = inferred); Flatten has no options. */
static lip_status reshape_get_config(const lip_layer *l, lip_layer_config *cfg) {
    const reshape_priv *q = l->priv;
    if (q->ndim == 0) return LIP_OK;
    static const char *const keys[] = {"shape0", "shape1", "shape2", "shape3"};
    LIP_TRY(lip_layer_config_add(l->ctx, cfg, "ndim", q->ndim));
    for (int i = 0; i < q->ndim && i < LIP_MAX_DIMS; i++) LIP_TRY(lip_layer_config_add(l->ctx, cfg, keys[i], (double)q->shape[i]));
    return LIP_OK;
}

static lip_status reshape_vanilla_export(lip_layer *l, lip_layer **out) {
    return lip_layer_export_copy(l, sizeof(reshape_priv), out);
}

static const lip_layer_vtable flatten_vtable = {.type = "Flatten",
                                                .init = flatten_init,
                                                .forward = reshape_forward,
                                                .backward = reshape_backward,
                                                .lipschitz_bound = reshape_lipschitz_bound,
                                                .get_config = reshape_get_config,
                                                .vanilla_export = reshape_vanilla_export};
static const lip_layer_vtable reshape_vtable = {.type = "Reshape",
                                                .init = reshape_init,
                                                .forward = reshape_forward,
                                                .backward = reshape_backward,
                                                .lipschitz_bound = reshape_lipschitz_bound,
                                                .get_config = reshape_get_config,
                                                .vanilla_export = reshape_vanilla_export};

lip_status lip_flatten_create(lip_context *ctx, const char *name, lip_layer **out) {
    if (!ctx) return LIP_ERR_NULL;
    return lip_layer_alloc(ctx, &flatten_vtable, name, sizeof(reshape_priv), out);
}

lip_status lip_reshape_create(lip_context *ctx, int ndim, const size_t *shape, const char *name, lip_layer **out) {
    if (!ctx) return LIP_ERR_NULL;
    const char *type = reshape_vtable.type, *n = name ? name : "";
    LIP_CHECK(ctx, out, LIP_ERR_NULL, "%s '%s': out is NULL", type, n);
    *out = NULL;
    LIP_CHECK(ctx, shape, LIP_ERR_NULL, "%s '%s': target shape is NULL", type, n);
    LIP_CHECK(ctx, ndim >= 1 && ndim <= LIP_MAX_DIMS - 1, LIP_ERR_SHAPE,
              "%s '%s': target rank %d outside 1..%d (per sample, without the batch axis)", type, n, ndim,
              LIP_MAX_DIMS - 1);
    int zeros = 0;
    for (int i = 0; i < ndim; i++) zeros += shape[i] == 0;
    char target[64];
    LIP_CHECK(ctx, zeros <= 1, LIP_ERR_SHAPE, "%s '%s': target %s has %d inferred dimensions (0 entries); at most one",
              type, n, dims_string(ndim, shape, target, sizeof target), zeros);
    LIP_TRY(lip_layer_alloc(ctx, &reshape_vtable, name, sizeof(reshape_priv), out));
    reshape_priv *q = (*out)->priv;
    q->ndim = ndim;
    memcpy(q->shape, shape, (size_t)ndim * sizeof *shape);
    return LIP_OK;
}
