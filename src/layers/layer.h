/* lipcl — the layer vtable and the parts every layer family shares (parameters, shapes).
 * Adding a layer = one file in src/layers/ filling a lip_layer_vtable, one test file. */
#ifndef LIPCL_LAYER_H
#define LIPCL_LAYER_H

#include "internal.h"

#define LIP_LAYER_MAX_PARAMS 8
#define LIP_LAYER_MAX_CONFIG 24

/* A layer's creation options as named numbers (every option is a count, a float or an enum; floats
 * round-trip exactly through double). With the family's type name this is enough to recreate the
 * layer through its public create function (src/io/layer_config.c). */
typedef struct lip_layer_kv {
    char key[24];
    double value;
} lip_layer_kv;

typedef struct lip_layer_config {
    size_t count;
    lip_layer_kv kv[LIP_LAYER_MAX_CONFIG];
} lip_layer_config;

typedef struct lip_param {
    char name[32];
    lip_tensor *value;
    lip_tensor *grad; /* NULL for non-trainable state (u vectors, counters) */
} lip_param;

typedef struct lip_layer_vtable {
    const char *type; /* Keras / deel-lip class name */
    /** (required) From the per-sample input shape: check it, set the per-sample output shape and
     *  create the parameters (lip_layer_add_param) and initialize them. */
    lip_status (*init)(lip_layer *layer);
    /** (optional; NULL = parameters are used as they are) Recompute the effective weights from the
     *  raw parameters: run at build, after each optimizer step, after load. */
    lip_status (*reparam_forward)(lip_layer *layer);
    /** (required) y = f(x) for `batch` samples; counts checked by the caller, and every tensor is
     *  shaped (batch, per-sample shape...) for the duration of the call. */
    lip_status (*forward)(lip_layer *layer, const lip_tensor *x, lip_tensor *y, size_t batch);
    /** (required) dx (NULL: skip) and the parameter gradients (written or, if accumulate, added). */
    lip_status (*backward)(lip_layer *layer, const lip_tensor *x, const lip_tensor *y, const lip_tensor *dy,
                           lip_tensor *dx, size_t batch, int accumulate);
    /** (optional) Free what `priv` holds (not priv itself) and reset it to NULLs: called by
     *  lip_layer_free and after a failed build. The parameters are freed by the caller. */
    void (*destroy)(lip_layer *layer);
    /** (optional; NULL = no bound: an unconstrained layer) The L2 Lipschitz constant the layer
     *  guarantees (of a built layer, with its current effective weights) and whether it holds only per
     *  output neuron (*per_neuron = 1: FrobeniusDense with disjoint_neurons). */
    lip_status (*lipschitz_bound)(const lip_layer *layer, double *bound, int *per_neuron);
    /** (optional; NULL = not serializable) The creation options (lip_layer_config_add). */
    lip_status (*get_config)(const lip_layer *layer, lip_layer_config *config);
    /** (optional; NULL = not exportable) A new plain layer computing the same function with the
     *  effective weights copied in (built for the same input shape): SpectralDense → Dense, ... */
    lip_status (*vanilla_export)(lip_layer *layer, lip_layer **out);
    /** (optional; NULL = not a deel-lip LipschitzLayer) Replace the layer's k_coef_lip by `k` (finite,
     *  > 0, checked by the caller), built or not, as deel-lip's set_klip_factor; the caller
     *  reparametrizes afterwards. The new k is what get_config reports, so it is saved. */
    lip_status (*set_k_coef_lip)(lip_layer *layer, float k);
} lip_layer_vtable;

struct lip_layer {
    const lip_layer_vtable *vt;
    lip_context *ctx;
    char name[64];
    int built;
    int in_ndim, out_ndim;
    size_t in_shape[LIP_MAX_DIMS], out_shape[LIP_MAX_DIMS]; /* per sample, no batch axis */
    size_t in_count, out_count;                             /* elements per sample */
    lip_param params[LIP_LAYER_MAX_PARAMS];
    size_t param_count;
    void *priv;
};


/** Allocate a layer of family `vt` with a private struct of `priv_size` bytes (zeroed). */
lip_status lip_layer_alloc(lip_context *ctx, const lip_layer_vtable *vt, const char *name, size_t priv_size,
                           lip_layer **out);
/** Create a parameter tensor (and its gradient when trainable); returns its index in *index. */
lip_status lip_layer_add_param(lip_layer *layer, const char *name, int ndim, const size_t *shape, int trainable,
                               size_t *index);
/** Fill a parameter with an initializer (DEFAULT resolved by the caller). */
lip_status lip_layer_init_param(lip_layer *layer, lip_tensor *t, lip_init init);
/** Append key = value to a config (LIP_ERR_INTERNAL when full). */
lip_status lip_layer_config_add(lip_context *ctx, lip_layer_config *config, const char *key, double value);
/** The value of `key` (LIP_ERR_INVALID_ARGUMENT naming the key when missing). */
lip_status lip_layer_config_get(lip_context *ctx, const lip_layer_config *config, const char *type, const char *key,
                                double *value);
/** Recreate a layer from its family's type name and creation options through the public create
 *  functions (src/io/layer_config.c); LIP_ERR_FORMAT for an unknown type or an option missing. */
lip_status lip_layer_from_config(lip_context *ctx, const char *type, const char *name, const lip_layer_config *config,
                                 lip_layer **out);

/** Vanilla export of a family whose private struct holds only plain values (no pointers: a family
 *  owning tensors in priv exports through its create function instead): a new layer of the same family with a copy of `priv_size` bytes of priv, built for
 *  src's input shape, every parameter value copied. */
lip_status lip_layer_export_copy(lip_layer *src, size_t priv_size, lip_layer **out);

/** Finish the vanilla export of a weight layer: build the freshly created plain layer `plain` for src's
 *  input shape and copy the effective kernel `w_bar` into its parameter "kernel" and `bias` (NULL: none)
 *  into "bias". *out = plain on success; plain is freed on failure. */
lip_status lip_layer_export_weights(lip_layer *src, lip_layer *plain, const lip_tensor *w_bar, const lip_tensor *bias,
                                    lip_layer **out);

/** Write or accumulate `src` into `dst` (same size): dst = src, or dst += src. */
lip_status lip_accumulate(lip_context *ctx, lip_tensor *dst, const lip_tensor *src, int accumulate);

#endif
