/* lipcl — internal access to the dense family's reparametrization state, for tests and monitors
 * (the effective kernel, its gradient and the normalizers' device-side iteration counters). */
#ifndef LIPCL_LAYERS_DENSE_H
#define LIPCL_LAYERS_DENSE_H

#include "layers/layer.h"

typedef struct lip_dense_internals {
    lip_tensor *w_bar;        /* effective kernel (in, units); the raw kernel for Dense */
    lip_tensor *grad_w_bar;   /* dL/dW̄ of the last backward (SpectralDense), else NULL */
    lip_tensor *sigma;        /* (1,) σ of the last reparametrization, else NULL */
    lip_tensor *spectral_state, *bjorck_state; /* int32 iteration counters, else NULL */
} lip_dense_internals;

/** The internals of a Dense or SpectralDense layer. */
lip_status lip_dense_internals_get(lip_layer *layer, lip_dense_internals *out);

#endif
