/* lipcl — what a model guarantees and what it can become: its Lipschitz upper bound, the vanilla export
 * (plain Dense/Conv2D layers holding the effective weights) and condense. */
#include <stdlib.h>
#include <string.h>

#include "train/model_internal.h"

lip_status lip_model_lipschitz_bound(const lip_model *m, double *bound, int *disjoint_head) {
    if (!m) return LIP_ERR_NULL;
    lip_context *ctx = m->ctx;
    LIP_CHECK(ctx, bound, LIP_ERR_NULL, "model '%s': bound is NULL", m->name);
    LIP_CHECK(ctx, m->built, LIP_ERR_INVALID_ARGUMENT, "model '%s' is not built (lip_model_build)", m->name);
    double *b = malloc(m->node_count * sizeof *b);
    if (!b) return lip_set_error(ctx, LIP_ERR_OUT_OF_HOST_MEMORY, "model '%s': out of memory", m->name);
    /* Nodes are in topological order: bound[node] = L(layer)·bound[input] bounds ‖f_node(x) − f_node(y)‖
     * by bound[node]·‖x − y‖ (composition), and a sum's branches add (triangle inequality). */
    lip_status st = LIP_OK;
    int head = 0;
    for (size_t i = 0; i < m->node_count && st == LIP_OK; i++) {
        const model_node *n = &m->nodes[i];
        double a = n->in_a == LIP_MODEL_INPUT ? 1.0 : b[n->in_a];
        if (!n->layer) {
            b[i] = a + (n->in_b == LIP_MODEL_INPUT ? 1.0 : b[n->in_b]);
            continue;
        }
        double lb = 0.0;
        int per_neuron = 0;
        st = lip_layer_lipschitz_bound(n->layer, &lb, &per_neuron);
        if (st != LIP_OK) break;
        if (per_neuron) {
            /* Each output neuron is L-Lipschitz on its own; the vector is only √units·L: valid as a
             * per-output certificate at the head only. */
            if (i + 1 != m->node_count) {
                st = lip_set_error(ctx, LIP_ERR_UNSUPPORTED,
                                   "model '%s': %s '%s' bounds each output neuron only (disjoint_neurons) and is not "
                                   "the output layer: no bound for the whole model",
                                   m->name, n->layer->vt->type, n->layer->name);
                break;
            }
            head = 1;
        }
        b[i] = lb * a;
    }
    if (st == LIP_OK) {
        *bound = b[m->node_count - 1];
        if (disjoint_head) *disjoint_head = head;
    }
    free(b);
    return st;
}

lip_status lip_model_vanilla_export(lip_model *m, lip_model **out) {
    if (!m) return LIP_ERR_NULL;
    lip_context *ctx = m->ctx;
    LIP_CHECK(ctx, out, LIP_ERR_NULL, "lip_model_vanilla_export: out is NULL");
    *out = NULL;
    LIP_CHECK(ctx, m->built, LIP_ERR_INVALID_ARGUMENT, "lip_model_vanilla_export: model '%s' is not built", m->name);
    for (size_t i = 0; i < m->node_count; i++) {
        const lip_layer *l = m->nodes[i].layer;
        LIP_CHECK(ctx, !l || l->vt->vanilla_export, LIP_ERR_UNSUPPORTED,
                  "lip_model_vanilla_export: %s '%s' (node %zu) has no plain equivalent", l ? l->vt->type : "",
                  l ? l->name : "", i);
    }
    lip_model *v = NULL;
    LIP_TRY(lip_model_create(ctx, m->name, &v));
    lip_status st = LIP_OK;
    for (size_t i = 0; st == LIP_OK && i < m->node_count; i++) {
        const model_node *n = &m->nodes[i];
        if (!n->layer) {
            st = lip_model_add_sum(v, n->in_a, n->in_b, NULL);
            continue;
        }
        lip_layer *l = NULL;
        st = n->layer->vt->vanilla_export(n->layer, &l);
        if (st == LIP_OK) st = lip_model_add_node(v, l, n->in_a, NULL);
    }
    /* The layers are built already: this only checks the shapes and lays out the graph. */
    if (st == LIP_OK) st = lip_model_build(v, m->in_ndim, m->in_shape);
    if (st != LIP_OK) {
        lip_model_free(v);
        return st;
    }
    *out = v;
    return LIP_OK;
}

lip_status lip_model_condense(lip_model *m) { return lip_model_reparametrize(m); }

lip_status lip_model_certificate_factor(const lip_model *m, double *factor) {
    if (!m || !factor) return LIP_ERR_NULL;
    double bound = 0;
    int disjoint = 0;
    LIP_TRY(lip_model_lipschitz_bound(m, &bound, &disjoint));
    *factor = lip_certificate_factor(m->nodes[m->node_count - 1].count, bound, disjoint);
    return LIP_OK;
}
