/* lipcl — the model container: a chain of layers (Sequential) or a small graph with residual sums,
 * run forward and backward on batches with activation memory planned once per batch size. */
#ifndef LIPCL_MODEL_H
#define LIPCL_MODEL_H

#include <stdio.h>

#include "lipcl/constraints.h"
#include "lipcl/data.h"
#include "lipcl/layers.h"
#include "lipcl/losses.h"
#include "lipcl/metrics.h"
#include "lipcl/optim.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A model owns the layers added to it (lip_model_free frees them; a layer added to a model must
 * not be freed by the caller). Nodes are numbered from 0 in the order they are added; the node
 * LIP_MODEL_INPUT (-1) is the model input. lip_model_add chains a layer after the last node
 * (Sequential); lip_model_add_node takes its input from any earlier node; lip_model_add_sum adds two
 * nodes of the same shape (a residual connection: its Lipschitz bound is the sum of the branches').
 * The last node added is the output.
 *
 * Life: create → add layers → lip_model_build(input shape) → forward/backward/predict on batches.
 * Batches are tensors of shape (batch, input shape...); any batch size works, and the activations
 * of each batch size are allocated once and kept (a plan per batch size, the last few kept).
 */
typedef struct lip_model lip_model;

#define LIP_MODEL_INPUT (-1)

/** Create an empty model; `name` may be NULL. */
LIP_API lip_status lip_model_create(lip_context *ctx, const char *name, lip_model **out);
/** Free the model, its layers and its buffers. NULL is accepted. */
LIP_API void lip_model_free(lip_model *model);

/** Append `layer` after the last node (or the input); the model takes ownership, also on failure. */
LIP_API lip_status lip_model_add(lip_model *model, lip_layer *layer);
/** Add `layer` reading node `input` (LIP_MODEL_INPUT or an earlier node); its node index in *node
 *  (may be NULL). Ownership as lip_model_add. */
LIP_API lip_status lip_model_add_node(lip_model *model, lip_layer *layer, int input, int *node);
/** Add a node computing node a + node b (same shapes, checked at build). */
LIP_API lip_status lip_model_add_sum(lip_model *model, int a, int b, int *node);

/** Build every layer for the per-sample input shape (rank 1..3). */
LIP_API lip_status lip_model_build(lip_model *model, int ndim, const size_t *input_shape);
/** Per-sample output shape (after build). */
LIP_API lip_status lip_model_output_shape(const lip_model *model, int *ndim, size_t shape[LIP_MAX_DIMS]);

/** y = model(x) keeping every activation for a following lip_model_backward. Asynchronous. */
LIP_API lip_status lip_model_forward(lip_model *model, const lip_tensor *x, lip_tensor *y);
/** After lip_model_forward on the same batch: the gradient of every trainable parameter from
 *  dy = dL/dy (written, or added when accumulate); dx = dL/dx when dx is not NULL. */
LIP_API lip_status lip_model_backward(lip_model *model, const lip_tensor *dy, lip_tensor *dx, int accumulate);
/** y = model(x) for any number of samples, computed in chunks of at most `batch_size` (0: 256). */
LIP_API lip_status lip_model_predict(lip_model *model, const lip_tensor *x, lip_tensor *y, size_t batch_size);
/** Recompute every layer's effective weights (after an optimizer step, a load, a k change). */
LIP_API lip_status lip_model_reparametrize(lip_model *model);

/** An upper bound of the model's L2 Lipschitz constant (after build): per node, bound = the layer's
 *  bound × its input's bound, a sum node adds its two inputs' bounds (the model input counts 1).
 *  *disjoint_head (may be NULL) is 1 when a layer whose bound holds only per output neuron
 *  (FrobeniusDense with disjoint_neurons) is the output node: the bound then holds for each output on
 *  its own. Such a layer anywhere else, or an unconstrained layer, gives LIP_ERR_UNSUPPORTED. */
LIP_API lip_status lip_model_lipschitz_bound(const lip_model *model, double *bound, int *disjoint_head);
/** The certificate factor of the model's outputs (deel-lip §2.13, from its last layer): L for one
 *  output, 2·L when the head is disjoint (each output neuron L-Lipschitz), √2·L otherwise, with L =
 *  lip_model_lipschitz_bound. A margin Δ then certifies every L2 perturbation of norm < Δ/factor. */
LIP_API lip_status lip_model_certificate_factor(const lip_model *model, double *factor);

/** deel-lip vanilla_export: a new, independent, built model of plain layers computing the same function
 *  with the current effective weights: SpectralDense/FrobeniusDense → Dense (kernel ← W̄, bias copied),
 *  SpectralConv2D/FrobeniusConv2D → Conv2D (same geometry and pad mode; W̄ includes c_conv and k),
 *  SpectralConv2DTranspose → Conv2DTranspose; pooling, resampling, reshaping and activation layers are
 *  copied as they are (their k stays in their options), Dense/Conv2D copied. Layer names are kept.
 *  Outputs agree with the model's to float rounding. */
LIP_API lip_status lip_model_vanilla_export(lip_model *model, lip_model **out);
/** deel-lip condense: bring the effective weights up to date with the raw parameters. lipcl keeps W̄
 *  current at build, after every optimizer step and after load, so this (= lip_model_reparametrize) is
 *  only needed after editing parameters by hand; unlike deel-lip it does not overwrite the raw kernel
 *  with W̄ (that would disturb momentum optimizers, as deel-lip's docstring warns). */
LIP_API lip_status lip_model_condense(lip_model *model);

/** deel-lip Sequential(k_coef_lip=K) (after build): every Lipschitz layer (deel-lip's LipschitzLayer
 *  children: Spectral/Frobenius Dense and Conv2D, SpectralConv2DTranspose, the scaled poolings,
 *  GroupSort (2, Full), MaxMin, Householder — not ReLU, PReLUlip, MaxPooling2D, Dense, Conv2D,
 *  resampling or reshaping) gets k = K^(1/n), n = their number, replacing its own k; then the model
 *  reparametrizes. For a chain of such layers lip_model_lipschitz_bound is then K, and a positively
 *  homogeneous chain without bias computes K·f_1. The new k is part of each layer's configuration,
 *  so a saved model keeps it. K finite and > 0; refused for a model with a sum node (a residual
 *  bound is a sum, not a product) and, for K ≠ 1, for a model without Lipschitz layers. */
LIP_API lip_status lip_model_set_k_coef_lip(lip_model *model, double k_coef_lip);

/** Number of nodes (layers and sums) and the layer of node i (NULL for a sum node). */
LIP_API size_t lip_model_node_count(const lip_model *model);
LIP_API lip_layer *lip_model_layer(const lip_model *model, size_t node);

/** The trainable parameters in a fixed order (node by node, then each layer's order): up to `max`
 *  value/grad pairs are written (arrays may be NULL to only count); the total in *count. */
LIP_API lip_status lip_model_trainable_params(lip_model *model, size_t max, lip_tensor **values, lip_tensor **grads,
                                              size_t *count);
/** Element counts of the trainable and the non-trainable parameters (Keras' summary columns; the
 *  effective weights of Lipschitz layers are buffers, not counted). */
LIP_API lip_status lip_model_param_counts(const lip_model *model, size_t *trainable, size_t *non_trainable);

/** A Keras-like summary table (layer name and type, output shape, parameters) as a malloc'ed string
 *  in *text (free() it). */
LIP_API lip_status lip_model_summary(const lip_model *model, char **text);

LIP_API const char *lip_model_name(const lip_model *model);

/* ---- training: compile, fit, evaluate (src/train/fit.c) --------------------------------------- */

/**
 * Attach the training objects: the model takes ownership of `loss`, `optimizer` (may be NULL for a
 * model that is only evaluated) and the `n_metrics` metrics, and frees them (also on failure, and when
 * compile is called again). Metrics are reported under their kind's name ("categorical_accuracy").
 */
LIP_API lip_status lip_model_compile(lip_model *model, lip_loss *loss, lip_optimizer *optimizer, size_t n_metrics,
                                     lip_metric *const *metrics);

/**
 * Keras' kernel_constraint on any layer's parameter (usually a plain Dense/Conv2D "kernel"): `constraint`
 * projects parameter `param` of node `node` in place after each optimizer step of fit, before the
 * reparametrization. The model takes ownership (also on failure); a second call for the same
 * parameter replaces (and frees) the first; NULL removes it. Not saved with the model (attach it again
 * after lip_model_load). Works before or after compile; needs a built model.
 */
LIP_API lip_status lip_model_set_constraint(lip_model *model, size_t node, const char *param,
                                            lip_constraint *constraint);
/**
 * Keras' kernel_regularizer: each batch of fit adds λ·R(parameter) to the loss value (on the device,
 * before the batch's one read) and λ·∇R to the parameter's gradient before the optimizer step;
 * evaluate (and fit's validation) adds λ·R to each batch's loss, as Keras reports regularization
 * losses in both. With a SUM-reduced loss λ·R is added to each batch's sum. The parameter must be
 * trainable. Ownership, replacement and saving as lip_model_set_constraint.
 */
LIP_API lip_status lip_model_add_regularizer(lip_model *model, size_t node, const char *param,
                                             lip_regularizer *regularizer);

/** What fit reports after each batch and epoch (for progress bars; see lip_progress_print). */
typedef struct lip_fit_progress {
    size_t epoch, epochs;      /* epoch from 0 */
    size_t batch, batches;     /* batch from 0 within the epoch; batch == batches at epoch end */
    size_t samples;            /* samples seen in this epoch */
    double loss;               /* running mean of the loss over the epoch */
    double seconds;            /* since the epoch began */
    int epoch_end;             /* 1: the epoch's history row is complete (metrics, validation) */
    const double *values;      /* epoch end: the history row (lip_model_history_columns order) */
    size_t n_values;
} lip_fit_progress;
typedef void (*lip_progress_fn)(const lip_fit_progress *progress, const lip_model *model, void *user);

/** A stock progress reporter: a Keras-like bar redrawn in place when `user` (a FILE*, NULL = stderr)
 *  is a terminal, one line per epoch otherwise. */
LIP_API void lip_progress_print(const lip_fit_progress *progress, const lip_model *model, void *user);

/** A callback: any hook may be NULL. A non-zero *stop from on_epoch_end ends fit after that epoch. */
typedef struct lip_callback {
    lip_status (*on_batch_begin)(lip_model *model, size_t epoch, size_t batch, uint64_t step, void *user);
    lip_status (*on_epoch_end)(lip_model *model, size_t epoch, const double *values, size_t n_values, int *stop,
                               void *user);
    void *user;
} lip_callback;

typedef struct lip_fit_config {
    size_t batch_size;             /* ≥ 1 (32, Keras' default) */
    size_t epochs;                 /* ≥ 1 (1): the index the last epoch ends at (Keras) */
    size_t initial_epoch;          /* epoch to start from (0): a resumed run passes the epochs done, so
                                      its shuffles continue the interrupted run's (Keras' initial_epoch) */
    int shuffle;                   /* 1: a new permutation each epoch, drawn from (seed, epoch) */
    uint64_t seed;                 /* shuffling seed (0) */
    const lip_dataset *validation; /* evaluated after each epoch (val_ columns), or NULL */
    lip_progress_fn progress;      /* NULL: silent */
    void *progress_user;
    const lip_callback *callbacks; /* n_callbacks callbacks run in order */
    size_t n_callbacks;
} lip_fit_config;

/** Defaults: batch 32, 1 epoch, shuffle, seed 0, no validation, no progress, no callbacks. */
LIP_API lip_fit_config lip_fit_config_default(void);

/**
 * Train on `data` (features of the model's input shape; targets: the dataset's float targets when it
 * has them, else its int32 classes as (B,)). Per batch: upload, forward, loss, backward, optimizer step,
 * reparametrization of every Lipschitz layer, metric updates, and one read of the loss value. The
 * last batch of an epoch holds the remainder (never padded). Appends one history row per epoch.
 */
LIP_API lip_status lip_model_fit(lip_model *model, const lip_dataset *data, const lip_fit_config *config);

/** Mean loss and metrics over `data` in batches of batch_size (0: 256): values[0] = loss, then the
 *  metrics in compile order (values may be NULL; n_values ≥ 1 + metrics, or 0 to skip). */
LIP_API lip_status lip_model_evaluate(lip_model *model, const lip_dataset *data, size_t batch_size, double *values,
                                      size_t n_values);

/** Predictions for every sample of `data` into host memory: out holds count × output size floats. */
LIP_API lip_status lip_model_predict_host(lip_model *model, const lip_dataset *data, size_t batch_size, float *out,
                                          size_t count);

/** History: epochs recorded and columns ("loss", metric names, then "val_loss", "val_..."). */
LIP_API lip_status lip_model_history_size(const lip_model *model, size_t *epochs, size_t *columns);
LIP_API const char *lip_model_history_column(const lip_model *model, size_t column);
LIP_API lip_status lip_model_history_value(const lip_model *model, size_t epoch, size_t column, double *value);
/** Write the history as CSV ("epoch,loss,...", one row per epoch), atomically. */
LIP_API lip_status lip_model_history_save_csv(const lip_model *model, const char *path);
/** Forget the history (a new fit appends to it otherwise). */
LIP_API void lip_model_history_clear(lip_model *model);

/* ---- stock callbacks ---------------------------------------------------------------------------- */

/** Early stopping on history column `monitor` ("val_loss"): stop when it has not improved by more
 *  than min_delta for `patience` epochs; mode +1 = higher is better, -1 = lower (0: -1 for names
 *  containing "loss", else +1). The state lives in `state`, which must outlive fit. */
typedef struct lip_early_stopping {
    const char *monitor;
    double min_delta;
    size_t patience;
    int mode;
    /* state */
    double best;
    size_t wait;
    int started;
} lip_early_stopping;
LIP_API lip_callback lip_callback_early_stopping(lip_early_stopping *state);

/** deel-lip LossParamScheduler: before each batch, loss parameter `param` ("alpha", "min_margin",
 *  "tau") ← the linear interpolation of (xp, fp) at the global step (np.interp: clamped at both ends).
 *  xp ascending, n ≥ 1 points; the arrays must outlive fit. */
typedef struct lip_loss_param_scheduler {
    const char *param;
    const double *xp, *fp;
    size_t n;
} lip_loss_param_scheduler;
LIP_API lip_callback lip_callback_loss_param_scheduler(lip_loss_param_scheduler *state);

/* Stock callbacks of src/train/callbacks.c; the singular value monitor is in lipcl/analysis.h. */

/** deel-lip CondenseCallback: lip_model_condense after every epoch. Only for parity with deel-lip:
 *  lipcl's effective weights are always current (recomputed after every optimizer step), so this
 *  changes nothing in the model's function; it costs one reparametrization per epoch. */
LIP_API lip_callback lip_callback_condense(void);

/**
 * Keras ModelCheckpoint: lip_model_save(model, path, flags) at the end of an epoch. `path` may hold
 * "{epoch}", replaced by the 1-based epoch number (Keras' convention: epoch index + 1). With monitor
 * NULL every epoch is saved; otherwise only when history column `monitor` improved on the best value
 * so far by more than min_delta (mode as lip_early_stopping: +1 higher is better, -1 lower, 0 from the
 * name). flags: LIP_SAVE_WEIGHTS or LIP_SAVE_TRAINING_STATE (lipcl/io.h). The struct must outlive fit.
 */
typedef struct lip_model_checkpoint {
    const char *path;
    const char *monitor; /* NULL: save every epoch */
    double min_delta;
    int mode;
    unsigned flags;
    /* state */
    double best;
    int started;
    size_t saved;          /* files written by this callback */
    size_t last_epoch;     /* 1-based epoch of the last save (0: none) */
} lip_model_checkpoint;
LIP_API lip_callback lip_callback_model_checkpoint(lip_model_checkpoint *state);

#ifdef __cplusplus
}
#endif
#endif
