/* lipcl — metrics: accuracy of signed and categorical outputs, deel-lip's certified robust accuracy and
 * provable average robustness, accumulated on the device across batches; per-sample certified radii. */
#ifndef LIPCL_METRICS_H
#define LIPCL_METRICS_H

#include "lipcl/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Shapes: y_pred (B, C) (1-D (B,) = (B, 1)). Binary metrics treat each of the C outputs as a signed
 * binary output with labels in {0, 1} or {−1, 1} (y_true with y_pred's element count) and average
 * over all B·C outputs. Categorical metrics need C ≥ 2; y_true is one-hot (B, C) (1 on the true
 * class; 0 or −1 elsewhere) or int32 class indices (B,) / (B, 1). The true class of a one-hot row is
 * the first maximum of the row (Keras' argmax), the predicted class the first maximum of y_pred.
 *
 * Margins and certificates (deel-lip 1.5.1, metrics.py):
 *  binary       Δ = sign(y − 1e-3)·f (f if the label is positive, −f otherwise); factor = lip_const
 *  categorical  Δ = f_true − max_{c ≠ true} f_c; factor = 2·lip_const when disjoint_neurons (each
 *               output neuron L-Lipschitz, e.g. a disjoint FrobeniusDense head), √2·lip_const when
 *               the network is L-Lipschitz as a vector map (f_l − f_j is then √2·L-Lipschitz)
 * The certified radius is Δ/factor (negative for a misclassified sample).
 *  *_ACCURACY                       mean of [prediction right]: binary: [f > 0] == [y > 0]
 *                                   (Keras BinaryAccuracy with threshold 0); categorical: argmaxes equal
 *  *_PROVABLE_ROBUST_ACCURACY       mean of [Δ/factor > epsilon]
 *  *_PROVABLE_AVG_ROBUSTNESS        mean of φ(Δ)/factor, φ = relu (misclassified samples count 0
 *                                   and stay in the mean) or the identity when negative_robustness
 *
 * A metric keeps a running sum on the device (compensated, fixed order: the same batches give the
 * same bits) and the sample count on the host; update only enqueues, result reads once.
 */

typedef struct lip_metric lip_metric;

/** Values are ABI: only ever appended. */
typedef enum lip_metric_kind {
    LIP_METRIC_BINARY_ACCURACY = 0,
    LIP_METRIC_CATEGORICAL_ACCURACY = 1,
    LIP_METRIC_BINARY_PROVABLE_ROBUST_ACCURACY = 2,      /* deel-lip BinaryProvableRobustAccuracy */
    LIP_METRIC_CATEGORICAL_PROVABLE_ROBUST_ACCURACY = 3, /* CategoricalProvableRobustAccuracy */
    LIP_METRIC_BINARY_PROVABLE_AVG_ROBUSTNESS = 4,       /* BinaryProvableAvgRobustness */
    LIP_METRIC_CATEGORICAL_PROVABLE_AVG_ROBUSTNESS = 5   /* CategoricalProvableAvgRobustness */
} lip_metric_kind;
#define LIP_METRIC_KIND_COUNT 6

/** Options of a metric; fill with lip_metric_config_default(kind). Fields a kind does not use are ignored. */
typedef struct lip_metric_config {
    lip_metric_kind kind;
    float epsilon;            /* robust accuracy radius, finite, ≥ 0 (deel-lip: 36/255) */
    float lip_const;          /* Lipschitz constant L of the model, finite, > 0 (1) */
    int disjoint_neurons;     /* categorical: 1 (deel-lip's default) = factor 2L; 0 = √2·L */
    int negative_robustness;  /* avg robustness: 0 (default) = relu(Δ); 1 = Δ */
    float certificate_factor; /* 0 (default): derived from the three fields above; > 0: used as is */
} lip_metric_config;

/** deel-lip's defaults for `kind`. */
LIP_API lip_metric_config lip_metric_config_default(lip_metric_kind kind);
/** Snake-case name of a kind ("categorical_provable_robust_accuracy"); "unknown" otherwise. */
LIP_API const char *lip_metric_kind_name(lip_metric_kind kind);

/** Create a metric (a context object). Checks the config's bounds. */
LIP_API lip_status lip_metric_create(lip_context *ctx, const lip_metric_config *config, lip_metric **out);
/** Release it. NULL is accepted. */
LIP_API void lip_metric_free(lip_metric *metric);
/** The metric's configuration (as given to lip_metric_create). */
LIP_API lip_status lip_metric_get_config(const lip_metric *metric, lip_metric_config *config);
/** Add one batch (asynchronous): per-sample values are summed on the device, the count on the host. */
LIP_API lip_status lip_metric_update(lip_metric *metric, const lip_tensor *y_true, const lip_tensor *y_pred);
/** The mean over every sample (binary: every output) since create/reset; 0 before any update. One
 *  blocking read. */
LIP_API lip_status lip_metric_result(lip_metric *metric, double *value);
/** Forget the accumulated batches. */
LIP_API lip_status lip_metric_reset(lip_metric *metric);
/** Number of values accumulated (samples; binary: samples × outputs). */
LIP_API lip_status lip_metric_count(const lip_metric *metric, size_t *count);

/** The certificate factor of deel-lip: lip_const for one output (binary), otherwise 2·lip_const
 *  (disjoint_neurons) or √2·lip_const. */
LIP_API double lip_certificate_factor(size_t outputs, double lip_const, int disjoint_neurons);

/**
 * Per-sample certified radii (asynchronous), factor > 0 (lip_certificate_factor, or the user's):
 *  - y_true given: the signed radius Δ/factor of the margins above (negative when misclassified);
 *    C = 1 is the binary margin, C ≥ 2 the categorical one (y_true one-hot or int32 indices);
 *  - y_true NULL: the radius of the predicted class, (top1 − top2)/factor for C ≥ 2, |f|/factor for
 *    C = 1 (never negative).
 * radii: float32 with B elements.
 * Certified accuracy at ε is then mean(radii > ε), the average robustness mean(relu(radii)).
 */
LIP_API lip_status lip_certified_radius(lip_context *ctx, const lip_tensor *y_true, const lip_tensor *y_pred,
                                        float factor, lip_tensor *radii);

#ifdef __cplusplus
}
#endif
#endif
