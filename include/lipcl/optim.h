/* lipcl — optimizers on the device (SGD with momentum / Nesterov, Adam) and learning-rate schedules,
 * with Keras 2's update formulas and defaults, and the state export/import that resumes a run exactly. */
#ifndef LIPCL_OPTIM_H
#define LIPCL_OPTIM_H

#include <stdint.h>

#include "lipcl/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Update rules (t = the optimizer's iteration count before the step, starting at 0; lr = the
 * schedule's value at t; g = the gradient; every slot starts at zero):
 *
 *  SGD, momentum 0:   p ← p − lr·g
 *  SGD, momentum μ:   vel ← μ·vel − lr·g;  p ← p + vel                  (nesterov: p ← p + μ·vel − lr·g)
 *  Adam:              m ← β1·m + (1 − β1)·g;  v ← β2·v + (1 − β2)·g²
 *                     p ← p − lr_t · m / (√v + ε),   lr_t = lr·√(1 − β2^(t+1)) / (1 − β1^(t+1))
 *
 * These are Keras 2's (tf.keras OptimizerV2 `ResourceApplyKerasMomentum` / `ResourceApplyAdam`, and
 * the same arithmetic in the Keras 2.11+ optimizers). For Adam this means ε is Kingma & Ba's "ε hat":
 * it is added to √v of the *uncorrected* v, with both bias corrections folded into lr_t; written with
 * the corrected moments m̂ = m/(1 − β1^(t+1)), v̂ = v/(1 − β2^(t+1)) the same step is
 *   p ← p − lr · m̂ / (√v̂ + ε/√(1 − β2^(t+1))),
 * i.e. NOT the paper's Algorithm 1 form m̂/(√v̂ + ε) (which PyTorch uses). lr_t is computed on the host
 * in double and rounded once to float; the moments and the update run in float32 on the device.
 *
 * Slots (the per-parameter state: Adam m and v; SGD with momentum "velocity"; plain SGD none) are
 * created, zeroed, on the first step (or by lip_optimizer_prepare) for the parameter list given
 * then, and are keyed by position: every later step must pass the same parameters in the same
 * order (a different count, or a tensor whose element count differs from its slot's, is refused).
 * The step count and the learning rate live on the host: a step enqueues exactly one fused kernel
 * per parameter tensor and never reads the device.
 *
 * Thread safety: as every object of a context (one thread at a time).
 */

typedef struct lip_optimizer lip_optimizer;

typedef enum lip_optimizer_kind { LIP_OPTIMIZER_SGD = 0, LIP_OPTIMIZER_ADAM = 1 } lip_optimizer_kind;

/** Learning-rate schedules: lr(t) from the base rate lr0 (the config's learning_rate), Keras formulas. */
typedef enum lip_schedule_kind {
    LIP_SCHEDULE_CONSTANT = 0,    /* lr0 */
    LIP_SCHEDULE_STEP = 1,        /* lr0 · rate^⌊t / steps⌋        (ExponentialDecay, staircase=True) */
    LIP_SCHEDULE_EXPONENTIAL = 2, /* lr0 · rate^(t / steps)         (ExponentialDecay) */
    LIP_SCHEDULE_COSINE = 3       /* lr0 · ((1 − α)·½(1 + cos(π·min(t, steps)/steps)) + α)  (CosineDecay) */
} lip_schedule_kind;

typedef struct lip_lr_schedule {
    lip_schedule_kind kind;
    uint64_t decay_steps; /* step, exponential, cosine: ≥ 1 */
    double decay_rate;    /* step, exponential: finite, > 0 (< 1 decays) */
    double alpha;         /* cosine: the final rate as a fraction of lr0, in [0, 1] (Keras default 0) */
} lip_lr_schedule;

typedef struct lip_optimizer_config {
    lip_optimizer_kind kind;
    double learning_rate;     /* lr0: finite, > 0. Keras defaults: Adam 1e-3, SGD 1e-2 */
    /* Adam (Keras defaults): */
    double beta_1;            /* [0, 1), 0.9 */
    double beta_2;            /* [0, 1), 0.999 */
    double epsilon;           /* finite, > 0, 1e-7 (see the formula above for where it enters) */
    /* SGD (Keras defaults): */
    double momentum;          /* [0, 1], 0 */
    int nesterov;             /* 0 */
    lip_lr_schedule schedule; /* constant */
} lip_optimizer_config;

/** Keras' defaults for `kind` (Adam: lr 1e-3, β1 0.9, β2 0.999, ε 1e-7; SGD: lr 1e-2, momentum 0,
 *  nesterov off), with a constant schedule. */
LIP_API lip_optimizer_config lip_optimizer_config_default(lip_optimizer_kind kind);

/** A constant schedule (the other kinds: set the fields). */
LIP_API lip_lr_schedule lip_lr_schedule_constant(void);

/** The learning rate of `schedule` at step `step` (0-based) for the base rate `base_lr` (> 0).
 *  LIP_ERR_INVALID_ARGUMENT (message in ctx, which may be NULL) for a schedule out of bounds. */
LIP_API lip_status lip_lr_schedule_eval(lip_context *ctx, const lip_lr_schedule *schedule, double base_lr,
                                        uint64_t step, double *lr);

/** Create an optimizer (no device memory until the first step or lip_optimizer_prepare). Checks every
 *  bound of the config (LIP_ERR_INVALID_ARGUMENT naming the field). The caller frees it. */
LIP_API lip_status lip_optimizer_create(lip_context *ctx, const lip_optimizer_config *config, lip_optimizer **out);
/** Free the optimizer and its slot tensors. NULL is accepted. */
LIP_API void lip_optimizer_free(lip_optimizer *opt);

/**
 * One step on n parameter tensors: params[i] is updated in place from grads[i] (float32, same element
 * count). The first call (or lip_optimizer_prepare) fixes the parameter list; later calls must pass
 * the same list (see above). Everything is checked before anything is enqueued, so a refused step
 * changes nothing (not even the step count). Asynchronous.
 */
LIP_API lip_status lip_optimizer_step(lip_optimizer *opt, size_t n, lip_tensor *const *params,
                                      lip_tensor *const *grads);

/** Create the (zeroed) slots for this parameter list now, without stepping — so a resumed run can
 *  upload saved slots before its first step. Refused if slots exist for a different list. */
LIP_API lip_status lip_optimizer_prepare(lip_optimizer *opt, size_t n, lip_tensor *const *params);

/** Replace the base learning rate lr0 (finite, > 0); a schedule then scales the new value. */
LIP_API lip_status lip_optimizer_set_learning_rate(lip_optimizer *opt, double learning_rate);
/** The learning rate the next step will use (the schedule at the current step count). */
LIP_API lip_status lip_optimizer_learning_rate(const lip_optimizer *opt, double *learning_rate);

/** Steps taken (Keras `iterations`): the schedule's t and Adam's bias-correction power. */
LIP_API lip_status lip_optimizer_iterations(const lip_optimizer *opt, uint64_t *iterations);
/** Set the step count (resume). */
LIP_API lip_status lip_optimizer_set_iterations(lip_optimizer *opt, uint64_t iterations);

/** Number of slot tensors (0 before the first step or prepare): params × slots per param
 *  (Adam 2, SGD with momentum 1, plain SGD 0). */
LIP_API lip_status lip_optimizer_slot_count(const lip_optimizer *opt, size_t *count);
/**
 * Slot `index` (0 ≤ index < slot count): the tensor (borrowed, same shape as its parameter; download
 * it to save, upload into it to resume), the parameter position it belongs to, and its name ("m",
 * "v" or "velocity"); any output pointer may be NULL. Slot index = param_index·slots_per_param + j,
 * with j following the order m, v.
 */
LIP_API lip_status lip_optimizer_slot(const lip_optimizer *opt, size_t index, lip_tensor **slot,
                                      size_t *param_index, const char **name);

/** Drop every slot and set the step count to 0 (the next step starts a fresh run). */
LIP_API lip_status lip_optimizer_reset(lip_optimizer *opt);

#ifdef __cplusplus
}
#endif
#endif
