/* lipcl — optimizers: SGD (momentum, Nesterov) and Adam on the device with Keras 2's formulas, learning
 * rate schedules evaluated on the host, lazily created slots and their export/import for exact resume. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "lipcl/optim.h"

/* Launch shape of every update kernel (grid-stride, so any n): as the elementwise ops. */
#define OPT_LOCAL 128
#define OPT_MAX_GROUPS 65536

struct lip_optimizer {
    lip_context *ctx;
    lip_optimizer_config cfg;
    uint64_t iterations;
    size_t n_params;        /* 0 until the slots exist (also for plain SGD, which has none) */
    int bound;              /* the parameter list is fixed */
    size_t *param_counts;   /* element count of each parameter, to refuse a different list */
    lip_tensor **slots;     /* n_params × slots_per_param */
};

static const char *kind_name(lip_optimizer_kind k) { return k == LIP_OPTIMIZER_ADAM ? "Adam" : "SGD"; }

static size_t slots_per_param(const lip_optimizer_config *c) {
    if (c->kind == LIP_OPTIMIZER_ADAM) return 2;
    return c->momentum > 0 ? 1 : 0;
}

lip_lr_schedule lip_lr_schedule_constant(void) {
    lip_lr_schedule s;
    memset(&s, 0, sizeof s);
    s.kind = LIP_SCHEDULE_CONSTANT;
    s.decay_steps = 1;
    s.decay_rate = 1.0;
    s.alpha = 0.0;
    return s;
}

lip_optimizer_config lip_optimizer_config_default(lip_optimizer_kind kind) {
    lip_optimizer_config c;
    memset(&c, 0, sizeof c);
    c.kind = kind;
    c.learning_rate = kind == LIP_OPTIMIZER_ADAM ? 1e-3 : 1e-2;
    c.beta_1 = 0.9;
    c.beta_2 = 0.999;
    c.epsilon = 1e-7;
    c.momentum = 0.0;
    c.nesterov = 0;
    c.schedule = lip_lr_schedule_constant();
    return c;
}

static lip_status check_schedule(lip_context *ctx, const char *op, const lip_lr_schedule *s) {
    LIP_CHECK(ctx, s, LIP_ERR_NULL, "%s: schedule is NULL", op);
    switch (s->kind) {
    case LIP_SCHEDULE_CONSTANT: return LIP_OK;
    case LIP_SCHEDULE_STEP:
    case LIP_SCHEDULE_EXPONENTIAL:
        LIP_CHECK(ctx, s->decay_steps >= 1, LIP_ERR_INVALID_ARGUMENT, "%s: schedule decay_steps must be >= 1, got 0",
                  op);
        LIP_CHECK(ctx, isfinite(s->decay_rate) && s->decay_rate > 0, LIP_ERR_INVALID_ARGUMENT,
                  "%s: schedule decay_rate must be finite and > 0, got %g", op, s->decay_rate);
        return LIP_OK;
    case LIP_SCHEDULE_COSINE:
        LIP_CHECK(ctx, s->decay_steps >= 1, LIP_ERR_INVALID_ARGUMENT, "%s: schedule decay_steps must be >= 1, got 0",
                  op);
        LIP_CHECK(ctx, s->alpha >= 0 && s->alpha <= 1, LIP_ERR_INVALID_ARGUMENT,
                  "%s: cosine schedule alpha must be in [0, 1], got %g", op, s->alpha);
        return LIP_OK;
    }
    return lip_set_error(ctx, LIP_ERR_INVALID_ARGUMENT, "%s: unknown schedule kind %d", op, (int)s->kind);
}

/* The schedule's value without checks (the config was checked at creation). */
static double schedule_value(const lip_lr_schedule *s, double lr0, uint64_t t) {
    switch (s->kind) {
    case LIP_SCHEDULE_STEP: return lr0 * pow(s->decay_rate, floor((double)t / (double)s->decay_steps));
    case LIP_SCHEDULE_EXPONENTIAL: return lr0 * pow(s->decay_rate, (double)t / (double)s->decay_steps);
    case LIP_SCHEDULE_COSINE: {
        double step = t < s->decay_steps ? (double)t : (double)s->decay_steps;
        const double pi = 3.14159265358979323846;
        double cosine = 0.5 * (1.0 + cos(pi * step / (double)s->decay_steps));
        return lr0 * ((1.0 - s->alpha) * cosine + s->alpha);
    }
    case LIP_SCHEDULE_CONSTANT:
    default: return lr0;
    }
}

lip_status lip_lr_schedule_eval(lip_context *ctx, const lip_lr_schedule *schedule, double base_lr, uint64_t step,
                                double *lr) {
    LIP_CHECK(ctx, lr, LIP_ERR_NULL, "lip_lr_schedule_eval: lr is NULL");
    LIP_TRY(check_schedule(ctx, "lip_lr_schedule_eval", schedule));
    LIP_CHECK(ctx, isfinite(base_lr) && base_lr > 0, LIP_ERR_INVALID_ARGUMENT,
              "lip_lr_schedule_eval: base learning rate must be finite and > 0, got %g", base_lr);
    *lr = schedule_value(schedule, base_lr, step);
    return LIP_OK;
}

static lip_status check_config(lip_context *ctx, const lip_optimizer_config *c) {
    const char *op = "lip_optimizer_create";
    LIP_CHECK(ctx, c->kind == LIP_OPTIMIZER_SGD || c->kind == LIP_OPTIMIZER_ADAM, LIP_ERR_INVALID_ARGUMENT,
              "%s: unknown optimizer kind %d", op, (int)c->kind);
    const char *k = kind_name(c->kind);
    LIP_CHECK(ctx, isfinite(c->learning_rate) && c->learning_rate > 0, LIP_ERR_INVALID_ARGUMENT,
              "%s: %s learning_rate must be finite and > 0, got %g", op, k, c->learning_rate);
    if (c->kind == LIP_OPTIMIZER_ADAM) {
        LIP_CHECK(ctx, c->beta_1 >= 0 && c->beta_1 < 1, LIP_ERR_INVALID_ARGUMENT,
                  "%s: Adam beta_1 must be in [0, 1), got %g", op, c->beta_1);
        LIP_CHECK(ctx, c->beta_2 >= 0 && c->beta_2 < 1, LIP_ERR_INVALID_ARGUMENT,
                  "%s: Adam beta_2 must be in [0, 1), got %g", op, c->beta_2);
        LIP_CHECK(ctx, isfinite(c->epsilon) && c->epsilon > 0, LIP_ERR_INVALID_ARGUMENT,
                  "%s: Adam epsilon must be finite and > 0, got %g", op, c->epsilon);
    } else {
        LIP_CHECK(ctx, c->momentum >= 0 && c->momentum <= 1, LIP_ERR_INVALID_ARGUMENT,
                  "%s: SGD momentum must be in [0, 1], got %g", op, c->momentum);
        LIP_CHECK(ctx, c->nesterov == 0 || c->nesterov == 1, LIP_ERR_INVALID_ARGUMENT,
                  "%s: SGD nesterov must be 0 or 1, got %d", op, c->nesterov);
    }
    return check_schedule(ctx, op, &c->schedule);
}

lip_status lip_optimizer_create(lip_context *ctx, const lip_optimizer_config *config, lip_optimizer **out) {
    if (!ctx) return LIP_ERR_NULL;
    LIP_CHECK(ctx, out, LIP_ERR_NULL, "lip_optimizer_create: out is NULL");
    *out = NULL;
    LIP_CHECK(ctx, config, LIP_ERR_NULL, "lip_optimizer_create: config is NULL");
    LIP_TRY(check_config(ctx, config));
    lip_optimizer *o = calloc(1, sizeof *o);
    if (!o) return lip_set_error(ctx, LIP_ERR_OUT_OF_HOST_MEMORY, "lip_optimizer_create: out of host memory");
    o->ctx = ctx;
    o->cfg = *config;
    ctx->live_objects++;
    *out = o;
    return LIP_OK;
}

static void drop_slots(lip_optimizer *o) {
    size_t total = o->n_params * slots_per_param(&o->cfg);
    for (size_t i = 0; o->slots && i < total; i++) lip_tensor_free(o->slots[i]);
    free(o->slots);
    free(o->param_counts);
    o->slots = NULL;
    o->param_counts = NULL;
    o->n_params = 0;
    o->bound = 0;
}

void lip_optimizer_free(lip_optimizer *opt) {
    if (!opt) return;
    drop_slots(opt);
    opt->ctx->live_objects--;
    free(opt);
}

/* Check a parameter list (and the gradients when grads != NULL) against the bound list, if any. */
static lip_status check_list(lip_optimizer *o, const char *op, size_t n, lip_tensor *const *params,
                             lip_tensor *const *grads, int with_grads) {
    lip_context *ctx = o->ctx;
    LIP_CHECK(ctx, n >= 1, LIP_ERR_INVALID_ARGUMENT, "%s: empty parameter list", op);
    LIP_CHECK(ctx, params, LIP_ERR_NULL, "%s: params is NULL", op);
    LIP_CHECK(ctx, !with_grads || grads, LIP_ERR_NULL, "%s: grads is NULL", op);
    LIP_CHECK(ctx, !o->bound || n == o->n_params, LIP_ERR_INVALID_ARGUMENT,
              "%s: %zu parameter tensors, but the optimizer's slots were made for %zu: pass the same parameter "
              "list (same tensors, same order) at every step",
              op, n, o->n_params);
    char what[96], ps[64], gs[64];
    for (size_t i = 0; i < n; i++) {
        snprintf(what, sizeof what, "%s: params[%zu]", op, i);
        LIP_TRY(lip_check_tensor(ctx, params[i], LIP_FLOAT32, what));
        if (with_grads) {
            snprintf(what, sizeof what, "%s: grads[%zu]", op, i);
            LIP_TRY(lip_check_tensor(ctx, grads[i], LIP_FLOAT32, what));
            LIP_CHECK(ctx, grads[i]->count == params[i]->count, LIP_ERR_SHAPE,
                      "%s: grads[%zu] %s has %zu elements but params[%zu] %s has %zu", op, i,
                      lip_shape_string(grads[i], gs, sizeof gs), grads[i]->count, i,
                      lip_shape_string(params[i], ps, sizeof ps), params[i]->count);
        }
        LIP_CHECK(ctx, !o->bound || params[i]->count == o->param_counts[i], LIP_ERR_SHAPE,
                  "%s: params[%zu] %s has %zu elements but its optimizer slots have %zu: pass the same parameter "
                  "list (same tensors, same order) at every step",
                  op, i, lip_shape_string(params[i], ps, sizeof ps), params[i]->count, o->param_counts[i]);
    }
    return LIP_OK;
}

/* Create and zero the slots for a checked list (no-op when bound). */
static lip_status bind(lip_optimizer *o, size_t n, lip_tensor *const *params) {
    if (o->bound) return LIP_OK;
    lip_context *ctx = o->ctx;
    size_t per = slots_per_param(&o->cfg);
    o->param_counts = calloc(n, sizeof *o->param_counts);
    o->slots = per ? calloc(n * per, sizeof *o->slots) : NULL;
    o->n_params = n;
    if (!o->param_counts || (per && !o->slots)) {
        drop_slots(o);
        return lip_set_error(ctx, LIP_ERR_OUT_OF_HOST_MEMORY, "%s optimizer: out of host memory for %zu slots",
                             kind_name(o->cfg.kind), n * per);
    }
    lip_status st = LIP_OK;
    for (size_t i = 0; i < n; i++) {
        o->param_counts[i] = params[i]->count;
        for (size_t j = 0; j < per; j++) {
            lip_tensor **s = &o->slots[i * per + j];
            LIP_TRY_GOTO(st, lip_tensor_create(ctx, LIP_FLOAT32, params[i]->ndim, params[i]->shape, s));
            LIP_TRY_GOTO(st, lip_tensor_fill(*s, 0.0));
        }
    }
    o->bound = 1;
    return LIP_OK;
fail:
    drop_slots(o);
    return st;
}

lip_status lip_optimizer_prepare(lip_optimizer *opt, size_t n, lip_tensor *const *params) {
    if (!opt) return LIP_ERR_NULL;
    LIP_TRY(check_list(opt, "lip_optimizer_prepare", n, params, NULL, 0));
    return bind(opt, n, params);
}

static size_t grid(size_t n) {
    size_t groups = (n + OPT_LOCAL - 1) / OPT_LOCAL;
    if (groups > OPT_MAX_GROUPS) groups = OPT_MAX_GROUPS;
    return groups * OPT_LOCAL;
}

lip_status lip_optimizer_step(lip_optimizer *opt, size_t n, lip_tensor *const *params, lip_tensor *const *grads) {
    if (!opt) return LIP_ERR_NULL;
    lip_context *ctx = opt->ctx;
    LIP_TRY(check_list(opt, "lip_optimizer_step", n, params, grads, 1));
    const lip_optimizer_config *c = &opt->cfg;
    for (size_t i = 0; i < n; i++)
        LIP_CHECK(ctx, params[i]->count <= 0xffffffffu, LIP_ERR_SHAPE,
                  "lip_optimizer_step: params[%zu] has %zu elements, more than the kernels' 2^32 - 1", i,
                  params[i]->count);
    LIP_TRY(bind(opt, n, params));

    double lr = schedule_value(&c->schedule, c->learning_rate, opt->iterations);
    size_t per = slots_per_param(c);
    const char *entry, *label;
    if (c->kind == LIP_OPTIMIZER_ADAM) {
        entry = "lip_optim_adam";
        label = "optim/adam";
    } else if (per) {
        entry = "lip_optim_momentum";
        label = "optim/momentum";
    } else {
        entry = "lip_optim_sgd";
        label = "optim/sgd";
    }
    cl_kernel k;
    LIP_TRY(lip_kernel_get(ctx, "optim", entry, NULL, &k));
    cl_float flr = (cl_float)lr;
    if (c->kind == LIP_OPTIMIZER_ADAM) {
        /* Keras' lr_t with both bias corrections, t + 1 = the step being taken. */
        double t1 = (double)opt->iterations + 1.0;
        flr = (cl_float)(lr * sqrt(1.0 - pow(c->beta_2, t1)) / (1.0 - pow(c->beta_1, t1)));
    }
    cl_float b1 = (cl_float)c->beta_1, b2 = (cl_float)c->beta_2, eps = (cl_float)c->epsilon;
    cl_float mu = (cl_float)c->momentum;
    cl_int nest = c->nesterov;
    for (size_t i = 0; i < n; i++) {
        lip_tensor *p = params[i], *g = grads[i];
        cl_uint po = (cl_uint)p->offset, go = (cl_uint)g->offset, cn = (cl_uint)p->count;
        size_t global = grid(p->count), local = OPT_LOCAL;
        if (c->kind == LIP_OPTIMIZER_ADAM) {
            lip_tensor *m = opt->slots[i * 2], *v = opt->slots[i * 2 + 1];
            cl_uint mo = (cl_uint)m->offset, vo = (cl_uint)v->offset;
            LIP_TRY(lip_launch(ctx, k, label, 1, &global, &local,
                               LIP_KARGS(LIP_KARG(p->mem), LIP_KARG(po), LIP_KARG(g->mem), LIP_KARG(go),
                                         LIP_KARG(m->mem), LIP_KARG(mo), LIP_KARG(v->mem), LIP_KARG(vo),
                                         LIP_KARG(flr), LIP_KARG(b1), LIP_KARG(b2), LIP_KARG(eps), LIP_KARG(cn))));
        } else if (per) {
            lip_tensor *vel = opt->slots[i];
            cl_uint vo = (cl_uint)vel->offset;
            LIP_TRY(lip_launch(ctx, k, label, 1, &global, &local,
                               LIP_KARGS(LIP_KARG(p->mem), LIP_KARG(po), LIP_KARG(g->mem), LIP_KARG(go),
                                         LIP_KARG(vel->mem), LIP_KARG(vo), LIP_KARG(flr), LIP_KARG(mu),
                                         LIP_KARG(nest), LIP_KARG(cn))));
        } else {
            LIP_TRY(lip_launch(ctx, k, label, 1, &global, &local,
                               LIP_KARGS(LIP_KARG(p->mem), LIP_KARG(po), LIP_KARG(g->mem), LIP_KARG(go),
                                         LIP_KARG(flr), LIP_KARG(cn))));
        }
    }
    opt->iterations++;
    return LIP_OK;
}

lip_status lip_optimizer_set_learning_rate(lip_optimizer *opt, double learning_rate) {
    if (!opt) return LIP_ERR_NULL;
    LIP_CHECK(opt->ctx, isfinite(learning_rate) && learning_rate > 0, LIP_ERR_INVALID_ARGUMENT,
              "lip_optimizer_set_learning_rate: %s learning rate must be finite and > 0, got %g",
              kind_name(opt->cfg.kind), learning_rate);
    opt->cfg.learning_rate = learning_rate;
    return LIP_OK;
}

lip_status lip_optimizer_learning_rate(const lip_optimizer *opt, double *learning_rate) {
    if (!opt) return LIP_ERR_NULL;
    LIP_CHECK(opt->ctx, learning_rate, LIP_ERR_NULL, "lip_optimizer_learning_rate: learning_rate is NULL");
    *learning_rate = schedule_value(&opt->cfg.schedule, opt->cfg.learning_rate, opt->iterations);
    return LIP_OK;
}

lip_status lip_optimizer_iterations(const lip_optimizer *opt, uint64_t *iterations) {
    if (!opt) return LIP_ERR_NULL;
    LIP_CHECK(opt->ctx, iterations, LIP_ERR_NULL, "lip_optimizer_iterations: iterations is NULL");
    *iterations = opt->iterations;
    return LIP_OK;
}

lip_status lip_optimizer_set_iterations(lip_optimizer *opt, uint64_t iterations) {
    if (!opt) return LIP_ERR_NULL;
    opt->iterations = iterations;
    return LIP_OK;
}

lip_status lip_optimizer_slot_count(const lip_optimizer *opt, size_t *count) {
    if (!opt) return LIP_ERR_NULL;
    LIP_CHECK(opt->ctx, count, LIP_ERR_NULL, "lip_optimizer_slot_count: count is NULL");
    *count = opt->n_params * slots_per_param(&opt->cfg);
    return LIP_OK;
}

lip_status lip_optimizer_slot(const lip_optimizer *opt, size_t index, lip_tensor **slot, size_t *param_index,
                              const char **name) {
    if (!opt) return LIP_ERR_NULL;
    size_t per = slots_per_param(&opt->cfg), total = opt->n_params * per;
    LIP_CHECK(opt->ctx, index < total, LIP_ERR_INVALID_ARGUMENT,
              "lip_optimizer_slot: index %zu out of range: the %s optimizer has %zu slot%s%s", index,
              kind_name(opt->cfg.kind), total, total == 1 ? "" : "s",
              opt->bound ? "" : " (slots are created by the first step or lip_optimizer_prepare)");
    if (slot) *slot = opt->slots[index];
    if (param_index) *param_index = index / per;
    if (name) *name = opt->cfg.kind == LIP_OPTIMIZER_ADAM ? (index % 2 ? "v" : "m") : "velocity";
    return LIP_OK;
}

lip_status lip_optimizer_reset(lip_optimizer *opt) {
    if (!opt) return LIP_ERR_NULL;
    drop_slots(opt);
    opt->iterations = 0;
    return LIP_OK;
}
