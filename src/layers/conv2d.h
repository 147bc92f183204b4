/* lipcl — internal access to the conv family's reparametrization state, for tests, the golden-vector
 * runner and monitors (the effective kernel, its gradient, σ, the iteration counters and c_conv). */
#ifndef LIPCL_LAYERS_CONV2D_H
#define LIPCL_LAYERS_CONV2D_H

#include "layers/layer.h"

typedef struct lip_conv2d_internals {
    lip_tensor *w_bar;      /* effective kernel, in the Keras layout of the layer's own kernel:
                               (kh, kw, cin, filters) for the convs, (kh, kw, filters, cin) for the
                               transposed ones; the raw kernel for Conv2D / Conv2DTranspose */
    lip_tensor *grad_w_bar; /* dL/dW̄ of the last backward with accumulate 0 (Spectral/Frobenius kinds; an
                               accumulating backward uses it as scratch), else NULL */
    lip_tensor *sigma;      /* (1,) σ of the last reparametrization (spectral kinds), else NULL */
    lip_tensor *spectral_state, *bjorck_state; /* int32 iteration counters (spectral kinds), else NULL */
    double coef;            /* c_conv, the conv Lipschitz coefficient (without k); 1 for unconstrained */
} lip_conv2d_internals;

/** The internals of a built layer of the conv family (Conv2D, SpectralConv2D, FrobeniusConv2D,
 *  Conv2DTranspose, SpectralConv2DTranspose). Returns LIP_ERR_INVALID_ARGUMENT for another family
 *  or an unbuilt layer. The tensors are borrowed. */
lip_status lip_conv2d_internals_get(lip_layer *layer, lip_conv2d_internals *out);

struct lip_conv2d_geom; /* tensor/conv2d.h */
/** The build-time conv geometry of a built conv-family layer (batch 1): the layer's own conv, or for
 *  the transposed kinds (*transposed = 1) the conv A whose adjoint the layer computes (A's input is the
 *  layer's output). The layer's linear operator (bias excluded) is A, or Aᵀ when transposed. */
lip_status lip_conv2d_geometry_get(lip_layer *layer, struct lip_conv2d_geom *geom, int *transposed);

#endif
