/* lipcl — the model's private layout, shared by the container (model.c) and training (fit.c). */
#ifndef LIPCL_MODEL_INTERNAL_H
#define LIPCL_MODEL_INTERNAL_H

#include "layers/layer.h"
#include "lipcl/constraints.h"
#include "lipcl/model.h"

/* A constraint and/or a regularizer attached to one parameter of one node (Keras' kernel_constraint /
 * kernel_regularizer on a plain layer): owned by the model, kept across compile. */
typedef struct model_attachment {
    size_t node, param;
    lip_constraint *constraint;   /* applied after each optimizer step, before reparametrization */
    lip_regularizer *regularizer; /* value added to the loss, gradient to the parameter's gradient */
} model_attachment;

/* Training state: what compile attached, the per-batch-size device buffers of fit, the history. */
typedef struct model_training {
    lip_loss *loss;
    lip_optimizer *optimizer;
    lip_metric **metrics;
    size_t n_metrics;
    lip_tensor **params, **grads; /* trainable parameters in a fixed order */
    size_t n_params;
    /* device buffers of the current batch size */
    size_t io_batch, io_width;
    int io_int_labels;
    lip_tensor *x, *y_true, *y_pred, *dy, *loss_value;
    /* history: rows × columns */
    char **columns;
    size_t n_columns;
    double *history;
    size_t epochs, history_capacity;
    uint64_t step; /* global batch counter (callbacks' step) */
    model_attachment *attach;      /* constraints and regularizers (lip_model_set_constraint ...) */
    size_t n_attach;
} model_training;

#define MODEL_MAX_PLANS 4

typedef struct model_node {
    lip_layer *layer; /* NULL: a sum node */
    int in_a, in_b;   /* input nodes (LIP_MODEL_INPUT = the model input); in_b only for sums */
    int ndim;         /* per-sample output shape */
    size_t shape[LIP_MAX_DIMS], count;
} model_node;

/* Activations and gradients of every node for one batch size. */
typedef struct model_plan {
    size_t batch;
    lip_tensor **act, **grad;
    lip_tensor **fanin;  /* per node (+1: the input): a second gradient contribution, for nodes read twice */
    unsigned long last_use;
} model_plan;

struct lip_model {
    lip_context *ctx;
    char name[64];
    model_node *nodes;
    size_t node_count, node_capacity;
    int built;
    int in_ndim;
    size_t in_shape[LIP_MAX_DIMS], in_count;
    model_plan plans[MODEL_MAX_PLANS];
    unsigned long use_clock;
    model_plan *forward_plan; /* plan of the last forward (backward pairs with it) */
    const lip_tensor *forward_x;
    char *needed;             /* backward scratch, per node: its gradient reaches a parameter or dx */
    char *written;            /* backward scratch, per node + 1 (dx): holds a first contribution */
    model_training train;     /* compile/fit state (fit.c) */
};


/** Release what compile and fit attached (called by lip_model_free). */
void lip_model_training_free(lip_model *m);

#endif
