/* lipcl — losses of deel-lip 1.5.1 (KR, HKR, hinge, multiclass and soft HKR, margins, Tau cross-entropies)
 * plus categorical cross-entropy and MSE: value and gradient on the device, deel-lip's label conventions. */
#ifndef LIPCL_LOSSES_H
#define LIPCL_LOSSES_H

#include "lipcl/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Shapes. y_pred is (B, C) (a 1-D (B,) is read as (B, 1)); B ≥ 1 samples, C outputs. y_true has
 * y_pred's element count with B rows ((B,) is accepted when C = 1), float32 or int32 (int32 labels
 * give identical values); the sparse loss takes int32 class indices (B,) or (B, 1). Any other shape
 * or dtype fails with LIP_ERR_SHAPE / LIP_ERR_DTYPE and a message naming the loss and both shapes.
 *
 * Label conventions (deel-lip). A label y is positive when y > 0 (sign s = +1), negative otherwise
 * (s = −1); KR's positive set is y == 1 exactly, as in deel-lip.
 *  - binary / multilabel losses (KR, HKR, HingeMargin, TauBinaryCrossentropy): each column is a
 *    binary task with labels in {0, 1} or {−1, 1}; C ≥ 1 (C > 1 = deel-lip's multilabel form:
 *    per-sample values are the mean over the columns).
 *  - multiclass losses (MulticlassKR, MulticlassHinge, MulticlassHKR, MulticlassSoftHKR, MultiMargin,
 *    CategoricalHinge): one-hot rows, 1 on the true class and 0 (or −1) elsewhere; C ≥ 2.
 *  - TauCategoricalCrossentropy, CategoricalCrossentropy: probability rows (one-hot or smoothed,
 *    entries in [0, 1] summing to 1); C ≥ 2. TauSparseCategoricalCrossentropy: indices in [0, C).
 *  - MSE: any values.
 *  - multi_gpu (KR family): labels pre-processed by lip_loss_process_labels_multi_gpu on the global
 *    batch (their sign still marks the positives).
 * Label *values* are not read back by forward/backward (no host sync). They are checked twice:
 * lip_loss_check_labels downloads a label tensor and names the first bad row (meant to be run once
 * per dataset), and every forward/backward records on the device which kinds of bad values it met
 * (no host read); lip_loss_label_errors reads that record once (e.g. per epoch). A sparse index out
 * of range contributes 0 to the value and the gradient.
 *
 * Reductions: MEAN (Keras Reduction.AUTO = SUM_OVER_BATCH_SIZE: Σ per-sample / B), SUM, NONE
 * (per-sample values, shape (B,)). Gradients are those of the reduced value; for NONE, of Σ_i ℓ_i
 * (each row's gradient is that of its own ℓ_i: the batch statistics KR uses depend on labels only,
 * and MulticlassSoftHKR's temperature is a constant for the gradient, as in deel-lip).
 *
 * Formulas (per sample i, f = y_pred row, m = min_margin, s_c = sign of y_c, n_c = number of
 * y == 1 in column c over the batch):
 *  KR            ℓ = (1/C) Σ_c B·f_c·(P_c/(n_c + 1e-7) − (1 − P_c)/(B − n_c + 1e-7)), P_c = [y_c == 1];
 *                its batch mean is mean_c(mean_{pos} f − mean_{neg} f); a column with no positive (or
 *                no negative) in the batch contributes 0 for the missing mean, never NaN.
 *                multi_gpu: ℓ = (1/C) Σ_c f_c·ŷ_c with the pre-processed labels ŷ.
 *  HingeMargin   ℓ = (1/C) Σ_c relu(m/2 − s_c f_c)
 *  HKR           ℓ = −KR + α·HingeMargin (deel-lip's convention); α = 0: −KR; α = +∞: hinge only
 *  MulticlassKR  the KR formula (deel-lip uses the same function)
 *  MulticlassHinge ℓ = (1/C) Σ_c w_c relu(m/2 − s_c f_c), w_c = C − 1 on positives, 1 elsewhere
 *  MulticlassHKR ℓ = −MulticlassKR + α·MulticlassHinge; α = +∞: hinge only
 *  MulticlassSoftHKR (stateful) each forward: current_mean ← α_mean·current_mean + (1 − α_mean)·mean|f|
 *                (mean over the B·C outputs); T = clip(temperature·m / clip(current_mean, m, 20000),
 *                0.005, 250), a constant for the gradient; F_c = 1 on positives, softmax of T·f over
 *                the negatives elsewhere; ℓ = (1/α) Σ_c (−s_c f_c F_c) + Σ_c relu(m/2 − s_c f_c) F_c
 *                (α = +∞: the hinge sum only, of shape (B,), where deel-lip returns (B, C)).
 *  MultiMargin   ℓ = (1/C) Σ_{c negative} relu(m − v + f_c), v = Σ_{c positive} f_c
 *  CategoricalHinge ℓ = relu(m − (v − max_{c negative} f_c)); tied maxima share the gradient
 *                equally (TensorFlow's rule)
 *  TauCategoricalCrossentropy ℓ = CE(y, softmax(τ f))/τ;  Sparse: −log softmax(τ f)[label]/τ
 *  TauBinaryCrossentropy ℓ = (1/C) Σ_c BCE_logits([y_c > 0], τ f_c)/τ
 *  CategoricalCrossentropy from_logits: CE(y, softmax(f)); else Keras' probability form
 *                −Σ_c y_c log(clip(f_c / Σ_k f_k, 1e-7, 1 − 1e-7))
 *  MSE           ℓ = (1/C) Σ_c (f_c − y_c)²
 * relu'(0) = 0 everywhere.
 *
 * Every call is asynchronous (enqueued on the context's queue); only lip_loss_get_state,
 * lip_loss_check_labels and lip_loss_label_errors read from the device.
 */

typedef struct lip_loss lip_loss;

/** The losses (deel-lip class names in the comments). Values are ABI: only ever appended. */
typedef enum lip_loss_kind {
    LIP_LOSS_KR = 0,                                  /* KR */
    LIP_LOSS_HKR = 1,                                 /* HKR */
    LIP_LOSS_HINGE_MARGIN = 2,                        /* HingeMargin */
    LIP_LOSS_MULTICLASS_KR = 3,                       /* MulticlassKR */
    LIP_LOSS_MULTICLASS_HINGE = 4,                    /* MulticlassHinge */
    LIP_LOSS_MULTICLASS_HKR = 5,                      /* MulticlassHKR */
    LIP_LOSS_MULTICLASS_SOFT_HKR = 6,                 /* MulticlassSoftHKR */
    LIP_LOSS_MULTI_MARGIN = 7,                        /* MultiMargin */
    LIP_LOSS_CATEGORICAL_HINGE = 8,                   /* CategoricalHinge */
    LIP_LOSS_TAU_CATEGORICAL_CROSSENTROPY = 9,        /* TauCategoricalCrossentropy */
    LIP_LOSS_TAU_SPARSE_CATEGORICAL_CROSSENTROPY = 10,/* TauSparseCategoricalCrossentropy */
    LIP_LOSS_TAU_BINARY_CROSSENTROPY = 11,            /* TauBinaryCrossentropy */
    LIP_LOSS_CATEGORICAL_CROSSENTROPY = 12,           /* Keras CategoricalCrossentropy */
    LIP_LOSS_MSE = 13                                 /* Keras MeanSquaredError */
} lip_loss_kind;
#define LIP_LOSS_KIND_COUNT 14

typedef enum lip_reduction {
    LIP_REDUCTION_MEAN = 0, /* Keras AUTO / SUM_OVER_BATCH_SIZE: output shape (1,) */
    LIP_REDUCTION_SUM = 1,  /* output (1,) */
    LIP_REDUCTION_NONE = 2  /* per-sample values, output (B,) */
} lip_reduction;

/** Options of a loss; fill with lip_loss_config_default(kind), then change fields. A field a kind
 *  does not use is ignored. Bounds are checked by lip_loss_create and lip_loss_set_param. */
typedef struct lip_loss_config {
    lip_loss_kind kind;
    float alpha;          /* HKR family: ≥ 0 or +INFINITY (hinge only); SoftHKR: > 0 or +INFINITY.
                             Default 10 (deel-lip's MulticlassHKR/SoftHKR default; HKR requires it). */
    float min_margin;     /* margin m > 0, finite: hinge losses, MultiMargin, CategoricalHinge, SoftHKR
                             (default 1; deel-lip's CategoricalHinge requires it) */
    float tau;            /* Tau* temperature > 0, finite (default 1; deel-lip requires it) */
    float alpha_mean;     /* SoftHKR moving-average factor in [0, 1] (0.99) */
    float temperature;    /* SoftHKR temperature > 0, finite (1) */
    int multi_gpu;        /* KR family: 1 = labels pre-processed by lip_loss_process_labels_multi_gpu (0) */
    int from_logits;      /* CategoricalCrossentropy: 1 (default) = y_pred are logits; 0 = probabilities */
    lip_reduction reduction; /* MEAN */
} lip_loss_config;

/** deel-lip's defaults for `kind` (see the field comments). */
LIP_API lip_loss_config lip_loss_config_default(lip_loss_kind kind);
/** deel-lip's class name of a kind ("MulticlassHKR", "MSE"); "unknown" for a value not in the enum. */
LIP_API const char *lip_loss_kind_name(lip_loss_kind kind);
/** The kind of a deel-lip class name (exact spelling of lip_loss_kind_name); LIP_ERR_INVALID_ARGUMENT
 *  for an unknown name. */
LIP_API lip_status lip_loss_kind_from_name(const char *name, lip_loss_kind *kind);

/** Create a loss (a context object: lip_context_free refuses while it lives). Checks every bound of
 *  the config (message names the field and the value). MulticlassSoftHKR starts with
 *  current_mean = min_margin, as deel-lip. */
LIP_API lip_status lip_loss_create(lip_context *ctx, const lip_loss_config *config, lip_loss **out);
/** Release the loss and its device buffers. NULL is accepted. */
LIP_API void lip_loss_free(lip_loss *loss);
/** The loss's current configuration (with the values set by lip_loss_set_param). */
LIP_API lip_status lip_loss_get_config(const lip_loss *loss, lip_loss_config *config);

/**
 * Value of the loss: out is a float32 device tensor of 1 element (MEAN, SUM) or B elements (NONE),
 * left on the device. MulticlassSoftHKR first updates its current_mean from this batch and uses the
 * new temperature (as deel-lip's call). Labels: see the top of this header.
 */
LIP_API lip_status lip_loss_forward(lip_loss *loss, const lip_tensor *y_true, const lip_tensor *y_pred,
                                    lip_tensor *out);
/**
 * Gradient of the reduced loss with respect to y_pred (for NONE: of Σ_i ℓ_i) into grad (float32,
 * y_pred's element count; overwritten). MulticlassSoftHKR uses the temperature of the last forward
 * (deel-lip's gradient uses the T computed in the same call: call forward on the batch first), and
 * does not touch current_mean; after create, reset or set_state it uses the T of that state.
 */
LIP_API lip_status lip_loss_backward(lip_loss *loss, const lip_tensor *y_true, const lip_tensor *y_pred,
                                     lip_tensor *grad);
/** lip_loss_forward then lip_loss_backward on the same batch, sharing the batch statistics (what a
 *  training step uses). `out` or `grad` may be NULL to skip that part; MulticlassSoftHKR's state
 *  advances as in lip_loss_forward even when out is NULL. */
LIP_API lip_status lip_loss_forward_backward(lip_loss *loss, const lip_tensor *y_true, const lip_tensor *y_pred,
                                             lip_tensor *out, lip_tensor *grad);

/** Change a hyper-parameter between calls (for a parameter scheduler): "alpha", "min_margin", "tau",
 *  "alpha_mean", "temperature", with the bounds of lip_loss_config; LIP_ERR_INVALID_ARGUMENT for a
 *  name the kind does not use or a value out of bounds. No device work. */
LIP_API lip_status lip_loss_set_param(lip_loss *loss, const char *name, float value);
/** Read a hyper-parameter (same names). */
LIP_API lip_status lip_loss_get_param(const lip_loss *loss, const char *name, float *value);

/** Number of floats of the loss's state: 2 for MulticlassSoftHKR (current_mean, temperature of the
 *  last forward), 0 for every other kind. */
LIP_API lip_status lip_loss_state_size(const lip_loss *loss, size_t *count);
/** Copy the state into values[0..count) (blocking read); count must equal the state size. */
LIP_API lip_status lip_loss_get_state(lip_loss *loss, float *values, size_t count);
/** Restore a state saved by lip_loss_get_state (count = state size; current_mean finite and ≥ 0,
 *  temperature finite and > 0). */
LIP_API lip_status lip_loss_set_state(lip_loss *loss, const float *values, size_t count);
/** Back to the state after creation (current_mean = min_margin); nothing to do for stateless kinds. */
LIP_API lip_status lip_loss_reset_state(lip_loss *loss);

/**
 * Download y_true (blocking) and check its shape against y_pred and its values against the kind's
 * convention (see the top of this header). LIP_ERR_INVALID_ARGUMENT names the first bad row, column
 * and value ("MulticlassHKR: y_true row 17 has 2 positive entries; one-hot labels need exactly one").
 */
LIP_API lip_status lip_loss_check_labels(lip_loss *loss, const lip_tensor *y_true, const lip_tensor *y_pred);
/**
 * Read (one blocking read) and clear the record of bad label values met by forward/backward since
 * the last call: LIP_OK when there was none, else LIP_ERR_INVALID_ARGUMENT with a message saying
 * which kinds (value outside the convention, row without exactly one positive, probability row not
 * summing to 1, class index out of range).
 */
LIP_API lip_status lip_loss_label_errors(lip_loss *loss);

/**
 * deel-lip's process_labels_for_multi_gpu on the device: out[i, c] = B·(P/(n_c + 1e-7) −
 * (1 − P)/(B − n_c + 1e-7)), P = [y_true[i, c] == 1], n_c the positives of column c, B the rows of
 * the *global* batch given here. Then Σ over any split into shards of a multi_gpu KR loss with SUM
 * reduction equals B·KR of the global batch. y_true float32 or int32 (B, C); out float32, same count.
 */
LIP_API lip_status lip_loss_process_labels_multi_gpu(lip_context *ctx, const lip_tensor *y_true, lip_tensor *out);

#ifdef __cplusplus
}
#endif
#endif
