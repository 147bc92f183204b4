/* lipcl — Lipschitz analysis of trained models: per-layer singular values (deel-lip compute_layer_sv),
 * the product of verified σ_max, an empirical lower bound of the Lipschitz constant, and a monitor callback. */
#ifndef LIPCL_ANALYSIS_H
#define LIPCL_ANALYSIS_H

#include "lipcl/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/** How lip_layer_singular_values computed a layer's values. */
typedef enum lip_sv_method {
    LIP_SV_EXACT = 0,    /* dense family: every singular value of the effective kernel (host Jacobi SVD, double) */
    LIP_SV_OPERATOR = 1, /* conv family: power iteration on the conv operator at the layer's input size */
    LIP_SV_BOUND = 2,    /* no kernel: sigma_max = the layer's guaranteed Lipschitz bound */
    LIP_SV_NONE = 3      /* a sum node, or a layer without kernel and without bound: nothing known */
} lip_sv_method;

/** Options of the operator power iterations (conv layers). */
typedef struct lip_sv_options {
    size_t max_iter; /* iterations per power iteration (0: 200) */
    double tol;      /* stop when the estimate changes by less than tol relative (0: 1e-6) */
    uint64_t seed;   /* start vector seed (host generator: the context's RNG is not touched) */
    int smallest;    /* 1: also σ_min of conv operators (a shifted power iteration: slower) */
} lip_sv_options;

/** Defaults: 200 iterations, tol 1e-6, seed 0, no σ_min for convs. */
LIP_API lip_sv_options lip_sv_options_default(void);

/** One layer's singular values. */
typedef struct lip_layer_sv {
    lip_sv_method method;
    double sigma_max;  /* largest singular value (or the bound for LIP_SV_BOUND); NAN for LIP_SV_NONE */
    double sigma_min;  /* smallest of the min(m, n) singular values; NAN when not computed */
    size_t count;      /* LIP_SV_EXACT: number of singular values (min(in, units)); else 0 */
    size_t iterations; /* LIP_SV_OPERATOR: iterations run (σ_max's + σ_min's) */
    int converged;     /* LIP_SV_OPERATOR: 1 when every power iteration met tol; 1 for the other methods */
} lip_layer_sv;

/**
 * deel-lip compute_layer_sv, without its side effects: the singular values of a built layer's linear
 * part with its current effective weights (bias excluded); the layer is not modified (deel-lip
 * condenses it first) and the context's RNG is not used.
 *  - Dense, SpectralDense, FrobeniusDense: every singular value of the effective kernel W̄ (in, units),
 *    by a one-sided Jacobi SVD in double on the host; up to max_values of them, descending, in
 *    `values` (may be NULL).
 *  - Conv2D, SpectralConv2D, FrobeniusConv2D and the transposed kinds: σ_max of the true convolution
 *    operator at the layer's input size (padding included: not the reshaped kernel's σ), by power
 *    iteration on AᵀA with the device conv ops (forward, then backward_data as Aᵀ; one 4-byte read per
 *    iteration for the norm). With options->smallest, σ_min too, by power iteration on σ_max²·I − G with
 *    G the Gram operator of the smaller side (AᵀA or AAᵀ): σ_min is then the smallest of the min(m, n)
 *    singular values (an upper estimate: the Rayleigh quotient approaches it from above; float32
 *    rounding limits it to about 1e-3·σ_max). σ_max is a lower estimate converging from below.
 *  - Any other layer: sigma_max = its Lipschitz bound (LIP_SV_BOUND), or LIP_SV_NONE without one.
 * options may be NULL (defaults). Blocking.
 */
LIP_API lip_status lip_layer_singular_values(lip_layer *layer, const lip_sv_options *options, lip_layer_sv *out,
                                             double *values, size_t max_values);

/** lip_layer_singular_values for every node of a built model into out[0 .. node_count) (n ≥ node
 *  count, else LIP_ERR_INVALID_ARGUMENT); sum nodes get LIP_SV_NONE. */
LIP_API lip_status lip_model_singular_values(lip_model *model, const lip_sv_options *options, lip_layer_sv *out,
                                             size_t n);

/** The product of the verified σ_max along the model (as lip_model_lipschitz_bound, with each weight
 *  layer's computed σ_max in place of its guaranteed bound; a sum node adds its inputs'): a tighter
 *  upper bound than lip_model_lipschitz_bound (up to the power iteration's convergence for convs).
 *  LIP_ERR_UNSUPPORTED when a layer has neither a kernel nor a bound, or when a per-neuron layer
 *  (FrobeniusDense disjoint_neurons) is not the output node. */
LIP_API lip_status lip_model_lipschitz_product(lip_model *model, const lip_sv_options *options, double *product);

/** Options of lip_model_estimate_lipschitz. */
typedef struct lip_lipschitz_estimate_options {
    size_t samples;    /* dataset samples used, drawn without replacement (0: 64; capped at the count) */
    size_t perturbations; /* random perturbations per sample (0: 8) */
    double eps;        /* L2 norm of each perturbation (0: 0.05): small enough to probe the local slope,
                          large enough that float32 rounding of the outputs stays negligible */
    uint64_t seed;     /* host generator seed (the context's RNG is not touched) */
    size_t batch_size; /* prediction batch (0: 256) */
    int power_steps;   /* Jacobian power-iteration steps per sample (0: 10; < 0: none) */
} lip_lipschitz_estimate_options;

/**
 * deel-lip evaluate_lip_const: an empirical LOWER bound of the model's L2 Lipschitz constant on
 * `data`: the largest ‖f(x) − f(y)‖₂ / ‖x − y‖₂ over (a) each chosen sample x with y = x + δ, δ a
 * random Gaussian direction scaled to ‖δ‖ = eps, and (b) consecutive pairs of the chosen samples
 * (x_i, x_{i+1}), then (c) power_steps steps of a power iteration on each sample's JᵀJ (deel-lip ≥
 * 1.5.1 takes max ‖J(x)‖₂: random directions alone underestimate, deel-lip issue #30): u = (f(x +
 * eps·v) − f(x))/eps ≈ J v, v ← Jᵀu/‖Jᵀu‖ through lip_model_backward at x, each step's pair
 * (x, x + eps·v) joining the max, so the result is always a ratio of two real points: a lower bound.
 * Outputs are computed on the device and the ratios in double on the host from the float inputs
 * actually fed. The best ratio is in *estimate; options may be NULL (defaults). The model must be
 * built for the dataset's sample shape. Step (c) overwrites the parameters' gradient buffers (as a
 * backward does; the weights are not touched) and runs in one batch of `samples` rows.
 */
LIP_API lip_status lip_model_estimate_lipschitz(lip_model *model, const lip_dataset *data,
                                                const lip_lipschitz_estimate_options *options, double *estimate);

/* ---- singular value monitor (a stock fit callback) --------------------------------------------- */

/**
 * After each epoch, the singular values of every Lipschitz weight layer (a dense or conv layer with a
 * guaranteed bound): σ_min and σ_max stored in the state (epochs × layers, row-major) and, when
 * csv_path is set, appended to that file ("epoch,node,layer,sigma_min,sigma_max" rows; the header is
 * written when the file is created). For conv layers σ_min is NAN unless options.smallest.
 * Zero the struct, set the options, pass it to lip_callback_sv_monitor; read the arrays after fit and
 * release them with lip_sv_monitor_free. The struct must outlive fit.
 */
typedef struct lip_sv_monitor {
    const char *csv_path;   /* NULL: no file */
    lip_sv_options options; /* zero fields take their defaults */
    /* state (filled by the callback) */
    size_t epochs;          /* rows recorded */
    size_t layers;          /* monitored layers (fixed at the first epoch) */
    size_t *nodes;          /* their node indices */
    double *sigma_min, *sigma_max; /* [epoch * layers + i] */
    size_t *epoch_index;    /* fit's epoch number of each row */
    size_t capacity;
} lip_sv_monitor;
LIP_API lip_callback lip_callback_sv_monitor(lip_sv_monitor *state);
/** Free the monitor's arrays (the struct itself is the caller's) and reset its state. NULL accepted. */
LIP_API void lip_sv_monitor_free(lip_sv_monitor *state);

#ifdef __cplusplus
}
#endif
#endif
