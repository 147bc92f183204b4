/* lipcl tests — optimizers and learning-rate schedules against a double-precision host reference of
 * Keras 2's formulas on awkward sizes, exact resume through slot export/import, and refused inputs. */
#include <string.h>

#include "check.h"

static const size_t sizes[3] = {1, 7, 1025};
#define NP 3
#define PI_D 3.14159265358979323846

/* ---- host reference ------------------------------------------------------------------------- */

/* Keras' schedule formulas, written from the documentation (not from the library). */
static double ref_lr(const lip_optimizer_config *c, uint64_t t) {
    const lip_lr_schedule *s = &c->schedule;
    double lr0 = c->learning_rate, steps = (double)s->decay_steps;
    switch (s->kind) {
    case LIP_SCHEDULE_STEP: return lr0 * pow(s->decay_rate, floor((double)t / steps));
    case LIP_SCHEDULE_EXPONENTIAL: return lr0 * pow(s->decay_rate, (double)t / steps);
    case LIP_SCHEDULE_COSINE: {
        double x = fmin((double)t, steps) / steps;
        return lr0 * ((1 - s->alpha) * 0.5 * (1 + cos(PI_D * x)) + s->alpha);
    }
    default: return lr0;
    }
}

/* One step of the reference on one tensor; s0/s1 are the slots (m, v or velocity). */
static void ref_step(const lip_optimizer_config *c, uint64_t t, size_t n, double *p, const double *g, double *s0,
                     double *s1) {
    double lr = ref_lr(c, t);
    for (size_t i = 0; i < n; i++) {
        if (c->kind == LIP_OPTIMIZER_ADAM) {
            /* The bias-corrected form with ε/√(1 − β2^t): algebraically Keras' lr_t·m/(√v + ε). */
            double t1 = (double)t + 1;
            s0[i] = c->beta_1 * s0[i] + (1 - c->beta_1) * g[i];
            s1[i] = c->beta_2 * s1[i] + (1 - c->beta_2) * g[i] * g[i];
            double c2 = 1 - pow(c->beta_2, t1);
            double mhat = s0[i] / (1 - pow(c->beta_1, t1)), vhat = s1[i] / c2;
            p[i] -= lr * mhat / (sqrt(vhat) + c->epsilon / sqrt(c2));
        } else if (c->momentum > 0) {
            s0[i] = c->momentum * s0[i] - lr * g[i];
            p[i] += c->nesterov ? c->momentum * s0[i] - lr * g[i] : s0[i];
        } else {
            p[i] -= lr * g[i];
        }
    }
}

/* ---- device helpers --------------------------------------------------------------------------- */

typedef struct {
    lip_tensor *p[NP], *g[NP];
} plist;

static void plist_make(lip_context *ctx, plist *l, float *const *values) {
    for (int i = 0; i < NP; i++) {
        l->p[i] = test_upload(ctx, 1, &sizes[i], values[i]);
        l->g[i] = test_sentinel(ctx, LIP_FLOAT32, 1, &sizes[i]);
    }
}

static void plist_free(plist *l) {
    for (int i = 0; i < NP; i++) {
        lip_tensor_free(l->p[i]);
        lip_tensor_free(l->g[i]);
    }
}

/* The gradient of step t for tensor i: a deterministic function of (seed, t, i), with a scale that
 * changes between steps so the moments see different magnitudes. */
static void make_grad(uint64_t seed, uint64_t t, int i, float *g) {
    uint64_t st = seed * 1000003u + t * 7919u + (uint64_t)i;
    double scale = (t % 3 == 0) ? 1.0 : (t % 3 == 1 ? 10.0 : 0.01);
    test_fill_uniform(&st, g, sizes[i], -scale, scale);
}

/* ---- cases -------------------------------------------------------------------------------------- */

/* Several steps against the reference, comparing parameters and slots after every step. */
static void run_reference_case(lip_context *ctx, const char *name, const lip_optimizer_config *cfg, uint64_t seed) {
    printf("case %s\n", name);
    lip_optimizer *opt = NULL;
    REQUIRE_OK(lip_optimizer_create(ctx, cfg, &opt));
    float *v[NP];
    double *hp[NP], *hs0[NP], *hs1[NP];
    uint64_t st = seed;
    for (int i = 0; i < NP; i++) {
        v[i] = test_falloc(sizes[i]);
        test_fill_uniform(&st, v[i], sizes[i], -1, 1);
        hp[i] = test_to_double(v[i], sizes[i]);
        hs0[i] = calloc(sizes[i], sizeof(double));
        hs1[i] = calloc(sizes[i], sizeof(double));
    }
    plist l;
    plist_make(ctx, &l, v);
    size_t nslots = 99;
    CHECK_OK(lip_optimizer_slot_count(opt, &nslots));
    CHECK(nslots == 0);
    const int steps = 7;
    for (int t = 0; t < steps; t++) {
        double lr_dev = 0;
        CHECK_OK(lip_optimizer_learning_rate(opt, &lr_dev));
        CHECK_NEAR(lr_dev, ref_lr(cfg, (uint64_t)t), 1e-15 * cfg->learning_rate + 1e-12 * lr_dev);
        for (int i = 0; i < NP; i++) {
            float *g = test_falloc(sizes[i]);
            make_grad(seed, (uint64_t)t, i, g);
            REQUIRE_OK(lip_tensor_upload(l.g[i], g, sizes[i] * sizeof *g));
            double *gd = test_to_double(g, sizes[i]);
            ref_step(cfg, (uint64_t)t, sizes[i], hp[i], gd, hs0[i], hs1[i]);
            free(gd);
            free(g);
        }
        CHECK_OK(lip_optimizer_step(opt, NP, l.p, l.g));
        for (int i = 0; i < NP; i++) {
            float *got = test_download(l.p[i]);
            char what[128];
            snprintf(what, sizeof what, "%s step %d params[%d] (%zu)", name, t, i, sizes[i]);
            test_compare(what, got, hp[i], sizes[i], 2e-6, 2e-5);
            free(got);
        }
    }
    uint64_t it = 0;
    CHECK_OK(lip_optimizer_iterations(opt, &it));
    CHECK(it == (uint64_t)steps);
    /* Slots: position, name and content. */
    CHECK_OK(lip_optimizer_slot_count(opt, &nslots));
    size_t per = cfg->kind == LIP_OPTIMIZER_ADAM ? 2 : (cfg->momentum > 0 ? 1 : 0);
    CHECK(nslots == NP * per);
    for (size_t s = 0; s < nslots; s++) {
        lip_tensor *slot = NULL;
        size_t pi = 99;
        const char *sname = NULL;
        CHECK_OK(lip_optimizer_slot(opt, s, &slot, &pi, &sname));
        CHECK(pi == s / per && slot && lip_tensor_count(slot) == sizes[pi]);
        size_t j = s % per;
        const char *expect = cfg->kind == LIP_OPTIMIZER_ADAM ? (j ? "v" : "m") : "velocity";
        CHECK(sname && strcmp(sname, expect) == 0);
        float *got = test_download(slot);
        char what[128];
        snprintf(what, sizeof what, "%s slot %zu (%s of params[%zu])", name, s, expect, pi);
        /* Moments sum gradients of scales 1e-2..10 with cancellation: the absolute tolerance
         * follows the slot's largest value (float rounding of the big terms). */
        const double *ref = j ? hs1[pi] : hs0[pi];
        test_compare(what, got, ref, sizes[pi], 2e-6 * test_max_abs(ref, sizes[pi]) + 1e-12, 2e-5);
        free(got);
    }
    CHECK_STATUS(lip_optimizer_slot(opt, nslots, NULL, NULL, NULL), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "out of range");
    plist_free(&l);
    for (int i = 0; i < NP; i++) {
        free(v[i]);
        free(hp[i]);
        free(hs0[i]);
        free(hs1[i]);
    }
    lip_optimizer_free(opt);
}

/* Run `total` steps from the same start either straight through or as split steps, export, a new
 * optimizer, import, the rest: the results must be bit-identical. */
static void run_resume_case(lip_context *ctx, const char *name, const lip_optimizer_config *cfg, uint64_t seed) {
    printf("resume %s\n", name);
    const int total = 6, split = 3;
    float *v[NP];
    uint64_t st = seed ^ 0x5555;
    for (int i = 0; i < NP; i++) {
        v[i] = test_falloc(sizes[i]);
        test_fill_uniform(&st, v[i], sizes[i], -1, 1);
    }
    float *grads[NP];
    for (int i = 0; i < NP; i++) grads[i] = test_falloc(sizes[i]);

    /* Straight run. */
    lip_optimizer *a = NULL;
    REQUIRE_OK(lip_optimizer_create(ctx, cfg, &a));
    plist la;
    plist_make(ctx, &la, v);
    for (int t = 0; t < total; t++) {
        for (int i = 0; i < NP; i++) {
            make_grad(seed, (uint64_t)t, i, grads[i]);
            REQUIRE_OK(lip_tensor_upload(la.g[i], grads[i], sizes[i] * sizeof(float)));
        }
        CHECK_OK(lip_optimizer_step(a, NP, la.p, la.g));
    }

    /* Interrupted run: `split` steps, then export everything. */
    lip_optimizer *b = NULL;
    REQUIRE_OK(lip_optimizer_create(ctx, cfg, &b));
    plist lb;
    plist_make(ctx, &lb, v);
    for (int t = 0; t < split; t++) {
        for (int i = 0; i < NP; i++) {
            make_grad(seed, (uint64_t)t, i, grads[i]);
            REQUIRE_OK(lip_tensor_upload(lb.g[i], grads[i], sizes[i] * sizeof(float)));
        }
        CHECK_OK(lip_optimizer_step(b, NP, lb.p, lb.g));
    }
    size_t nslots = 0;
    CHECK_OK(lip_optimizer_slot_count(b, &nslots));
    float **saved = calloc(nslots + 1, sizeof *saved);
    for (size_t s = 0; s < nslots; s++) {
        lip_tensor *slot = NULL;
        CHECK_OK(lip_optimizer_slot(b, s, &slot, NULL, NULL));
        saved[s] = test_download(slot);
    }
    float *saved_p[NP];
    for (int i = 0; i < NP; i++) saved_p[i] = test_download(lb.p[i]);
    uint64_t it = 0;
    CHECK_OK(lip_optimizer_iterations(b, &it));
    CHECK(it == (uint64_t)split);
    lip_optimizer_free(b);
    plist_free(&lb);

    /* A fresh optimizer and fresh tensors, state imported. */
    lip_optimizer *c = NULL;
    REQUIRE_OK(lip_optimizer_create(ctx, cfg, &c));
    plist lc;
    plist_make(ctx, &lc, saved_p);
    CHECK_OK(lip_optimizer_prepare(c, NP, lc.p));
    size_t nslots_c = 0;
    CHECK_OK(lip_optimizer_slot_count(c, &nslots_c));
    CHECK(nslots_c == nslots);
    for (size_t s = 0; s < nslots && s < nslots_c; s++) {
        lip_tensor *slot = NULL;
        CHECK_OK(lip_optimizer_slot(c, s, &slot, NULL, NULL));
        CHECK_OK(lip_tensor_upload(slot, saved[s], lip_tensor_count(slot) * sizeof(float)));
    }
    CHECK_OK(lip_optimizer_set_iterations(c, it));
    for (int t = split; t < total; t++) {
        for (int i = 0; i < NP; i++) {
            make_grad(seed, (uint64_t)t, i, grads[i]);
            REQUIRE_OK(lip_tensor_upload(lc.g[i], grads[i], sizes[i] * sizeof(float)));
        }
        CHECK_OK(lip_optimizer_step(c, NP, lc.p, lc.g));
    }
    for (int i = 0; i < NP; i++) {
        float *pa = test_download(la.p[i]), *pc = test_download(lc.p[i]);
        int same = memcmp(pa, pc, sizes[i] * sizeof(float)) == 0;
        if (!same) fprintf(stderr, "%s: resumed params[%d] differ from the straight run\n", name, i);
        CHECK(same);
        free(pa);
        free(pc);
    }
    for (size_t s = 0; s < nslots; s++) {
        lip_tensor *sa = NULL, *sc = NULL;
        CHECK_OK(lip_optimizer_slot(a, s, &sa, NULL, NULL));
        CHECK_OK(lip_optimizer_slot(c, s, &sc, NULL, NULL));
        float *fa = test_download(sa), *fc = test_download(sc);
        CHECK(memcmp(fa, fc, lip_tensor_count(sa) * sizeof(float)) == 0);
        free(fa);
        free(fc);
    }
    /* Reset: the next step starts over (count 0, slots zero). */
    CHECK_OK(lip_optimizer_reset(c));
    CHECK_OK(lip_optimizer_iterations(c, &it));
    CHECK(it == 0);
    CHECK_OK(lip_optimizer_slot_count(c, &nslots_c));
    CHECK(nslots_c == 0);

    for (size_t s = 0; s < nslots; s++) free(saved[s]);
    free(saved);
    for (int i = 0; i < NP; i++) {
        free(saved_p[i]);
        free(v[i]);
        free(grads[i]);
    }
    plist_free(&la);
    plist_free(&lc);
    lip_optimizer_free(a);
    lip_optimizer_free(c);
}

/* Schedules: the library's values against the formulas at chosen steps, including the boundaries. */
static void check_schedules(lip_context *ctx) {
    lip_optimizer_config c = lip_optimizer_config_default(LIP_OPTIMIZER_SGD);
    c.learning_rate = 0.05;
    const uint64_t steps[] = {0, 1, 6, 7, 8, 13, 14, 15, 100, 1000000007ull};
    const lip_schedule_kind kinds[] = {LIP_SCHEDULE_CONSTANT, LIP_SCHEDULE_STEP, LIP_SCHEDULE_EXPONENTIAL,
                                       LIP_SCHEDULE_COSINE};
    for (size_t k = 0; k < 4; k++) {
        c.schedule.kind = kinds[k];
        c.schedule.decay_steps = 7;
        c.schedule.decay_rate = 0.5;
        c.schedule.alpha = kinds[k] == LIP_SCHEDULE_COSINE ? 0.1 : 0.0;
        for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
            double got = -1;
            CHECK_OK(lip_lr_schedule_eval(ctx, &c.schedule, c.learning_rate, steps[i], &got));
            double ref = ref_lr(&c, steps[i]);
            CHECK_NEAR(got, ref, 1e-15 + 1e-13 * ref);
        }
    }
    /* Independent spot values: the staircase halves at 7, the cosine reaches α·lr0 at decay_steps and
     * stays there, the exponential is continuous (√0.5 at half the period). */
    c.schedule.kind = LIP_SCHEDULE_STEP;
    double v6 = 0, v7 = 0;
    CHECK_OK(lip_lr_schedule_eval(ctx, &c.schedule, 1.0, 6, &v6));
    CHECK_OK(lip_lr_schedule_eval(ctx, &c.schedule, 1.0, 7, &v7));
    CHECK(v6 == 1.0 && v7 == 0.5);
    c.schedule.kind = LIP_SCHEDULE_COSINE;
    c.schedule.alpha = 0.25;
    double cend = 0, clate = 0, cmid = 0;
    CHECK_OK(lip_lr_schedule_eval(ctx, &c.schedule, 2.0, 7, &cend));
    CHECK_OK(lip_lr_schedule_eval(ctx, &c.schedule, 2.0, 70, &clate));
    CHECK_NEAR(cend, 0.5, 1e-15);
    CHECK(clate == cend);
    c.schedule.decay_steps = 8;
    CHECK_OK(lip_lr_schedule_eval(ctx, &c.schedule, 2.0, 4, &cmid));
    CHECK_NEAR(cmid, 2.0 * (0.75 * 0.5 + 0.25), 1e-15);
    c.schedule.kind = LIP_SCHEDULE_EXPONENTIAL;
    c.schedule.decay_steps = 10;
    double e5 = 0;
    CHECK_OK(lip_lr_schedule_eval(ctx, &c.schedule, 1.0, 5, &e5));
    CHECK_NEAR(e5, sqrt(0.5), 1e-15);

    /* Bad schedules. */
    lip_lr_schedule s = lip_lr_schedule_constant();
    double out = 0;
    s.kind = LIP_SCHEDULE_EXPONENTIAL;
    s.decay_steps = 0;
    CHECK_STATUS(lip_lr_schedule_eval(ctx, &s, 1.0, 0, &out), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "decay_steps");
    s.decay_steps = 3;
    s.decay_rate = 0;
    CHECK_STATUS(lip_lr_schedule_eval(ctx, &s, 1.0, 0, &out), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "decay_rate");
    s.kind = LIP_SCHEDULE_COSINE;
    s.alpha = 1.5;
    CHECK_STATUS(lip_lr_schedule_eval(ctx, &s, 1.0, 0, &out), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "alpha");
    s.alpha = 0;
    CHECK_STATUS(lip_lr_schedule_eval(ctx, &s, -1.0, 0, &out), LIP_ERR_INVALID_ARGUMENT);
    s.kind = (lip_schedule_kind)42;
    CHECK_STATUS(lip_lr_schedule_eval(ctx, &s, 1.0, 0, &out), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "unknown schedule");
}

static void check_create_errors(lip_context *ctx) {
    lip_optimizer *o = (lip_optimizer *)1;
    lip_optimizer_config c = lip_optimizer_config_default(LIP_OPTIMIZER_ADAM);
    CHECK(c.learning_rate == 1e-3 && c.beta_1 == 0.9 && c.beta_2 == 0.999 && c.epsilon == 1e-7);
    lip_optimizer_config s = lip_optimizer_config_default(LIP_OPTIMIZER_SGD);
    CHECK(s.learning_rate == 1e-2 && s.momentum == 0 && s.nesterov == 0);

    const double bad_lr[] = {0.0, -1e-3, NAN, INFINITY};
    for (size_t i = 0; i < 4; i++) {
        c = lip_optimizer_config_default(LIP_OPTIMIZER_ADAM);
        c.learning_rate = bad_lr[i];
        CHECK_STATUS(lip_optimizer_create(ctx, &c, &o), LIP_ERR_INVALID_ARGUMENT);
        CHECK_MESSAGE(ctx, "learning_rate");
        CHECK(o == NULL);
    }
    const double bad_beta[] = {1.0, -0.1, 1.5, NAN};
    for (size_t i = 0; i < 4; i++) {
        c = lip_optimizer_config_default(LIP_OPTIMIZER_ADAM);
        c.beta_1 = bad_beta[i];
        CHECK_STATUS(lip_optimizer_create(ctx, &c, &o), LIP_ERR_INVALID_ARGUMENT);
        CHECK_MESSAGE(ctx, "beta_1");
        c = lip_optimizer_config_default(LIP_OPTIMIZER_ADAM);
        c.beta_2 = bad_beta[i];
        CHECK_STATUS(lip_optimizer_create(ctx, &c, &o), LIP_ERR_INVALID_ARGUMENT);
        CHECK_MESSAGE(ctx, "beta_2");
    }
    c = lip_optimizer_config_default(LIP_OPTIMIZER_ADAM);
    c.beta_1 = 0.0; /* allowed: [0, 1) */
    CHECK_OK(lip_optimizer_create(ctx, &c, &o));
    lip_optimizer_free(o);
    c.epsilon = 0;
    CHECK_STATUS(lip_optimizer_create(ctx, &c, &o), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "epsilon");
    s = lip_optimizer_config_default(LIP_OPTIMIZER_SGD);
    s.momentum = 1.01;
    CHECK_STATUS(lip_optimizer_create(ctx, &s, &o), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "momentum");
    s.momentum = -0.5;
    CHECK_STATUS(lip_optimizer_create(ctx, &s, &o), LIP_ERR_INVALID_ARGUMENT);
    s = lip_optimizer_config_default(LIP_OPTIMIZER_SGD);
    s.schedule.kind = LIP_SCHEDULE_COSINE;
    s.schedule.decay_steps = 0;
    CHECK_STATUS(lip_optimizer_create(ctx, &s, &o), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "decay_steps");
    s = lip_optimizer_config_default(LIP_OPTIMIZER_SGD);
    s.kind = (lip_optimizer_kind)7;
    CHECK_STATUS(lip_optimizer_create(ctx, &s, &o), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "kind");
    CHECK_STATUS(lip_optimizer_create(ctx, NULL, &o), LIP_ERR_NULL);
    CHECK_STATUS(lip_optimizer_create(NULL, &s, &o), LIP_ERR_NULL);
}

static void check_step_errors(lip_context *ctx, uint64_t seed) {
    lip_optimizer_config c = lip_optimizer_config_default(LIP_OPTIMIZER_ADAM);
    lip_optimizer *o = NULL;
    REQUIRE_OK(lip_optimizer_create(ctx, &c, &o));
    float *v[NP];
    uint64_t st = seed;
    for (int i = 0; i < NP; i++) {
        v[i] = test_falloc(sizes[i]);
        test_fill_uniform(&st, v[i], sizes[i], -1, 1);
    }
    plist l;
    plist_make(ctx, &l, v);
    for (int i = 0; i < NP; i++) REQUIRE_OK(lip_tensor_fill(l.g[i], 0.5));

    /* A gradient whose size differs from its parameter. */
    size_t eight = 8;
    lip_tensor *g8 = test_sentinel(ctx, LIP_FLOAT32, 1, &eight);
    lip_tensor *grads_bad[NP] = {l.g[0], g8, l.g[2]};
    CHECK_STATUS(lip_optimizer_step(o, NP, l.p, grads_bad), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "grads[1]");
    /* Refused steps change nothing. */
    uint64_t it = 99;
    size_t ns = 99;
    CHECK_OK(lip_optimizer_iterations(o, &it));
    CHECK_OK(lip_optimizer_slot_count(o, &ns));
    CHECK(it == 0 && ns == 0);
    float *p1 = test_download(l.p[1]);
    CHECK(memcmp(p1, v[1], sizes[1] * sizeof(float)) == 0);
    free(p1);

    /* int32 gradient, NULL entries, NULL arrays, empty list. */
    lip_tensor *gi = test_sentinel(ctx, LIP_INT32, 1, &sizes[0]);
    lip_tensor *grads_int[NP] = {gi, l.g[1], l.g[2]};
    CHECK_STATUS(lip_optimizer_step(o, NP, l.p, grads_int), LIP_ERR_DTYPE);
    CHECK_MESSAGE(ctx, "grads[0]");
    lip_tensor *grads_null[NP] = {l.g[0], l.g[1], NULL};
    CHECK_STATUS(lip_optimizer_step(o, NP, l.p, grads_null), LIP_ERR_NULL);
    CHECK_STATUS(lip_optimizer_step(o, NP, l.p, NULL), LIP_ERR_NULL);
    CHECK_STATUS(lip_optimizer_step(o, 0, l.p, l.g), LIP_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(lip_optimizer_step(NULL, NP, l.p, l.g), LIP_ERR_NULL);

    /* A good step binds the list; then a different count or a different tensor size is refused. */
    CHECK_OK(lip_optimizer_step(o, NP, l.p, l.g));
    CHECK_STATUS(lip_optimizer_step(o, NP - 1, l.p, l.g), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "same parameter list");
    lip_tensor *p8 = test_sentinel(ctx, LIP_FLOAT32, 1, &eight);
    lip_tensor *params_swapped[NP] = {l.p[0], p8, l.p[2]};
    lip_tensor *grads_swapped[NP] = {l.g[0], g8, l.g[2]};
    CHECK_STATUS(lip_optimizer_step(o, NP, params_swapped, grads_swapped), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "same parameter list");
    CHECK_STATUS(lip_optimizer_prepare(o, NP - 1, l.p), LIP_ERR_INVALID_ARGUMENT);
    CHECK_OK(lip_optimizer_prepare(o, NP, l.p)); /* the bound list again: fine */
    CHECK_OK(lip_optimizer_iterations(o, &it));
    CHECK(it == 1);

    /* Learning-rate setter. */
    CHECK_STATUS(lip_optimizer_set_learning_rate(o, 0.0), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "learning rate");
    CHECK_STATUS(lip_optimizer_set_learning_rate(o, NAN), LIP_ERR_INVALID_ARGUMENT);
    CHECK_OK(lip_optimizer_set_learning_rate(o, 0.25));
    double lr = 0;
    CHECK_OK(lip_optimizer_learning_rate(o, &lr));
    CHECK(lr == 0.25);

    lip_tensor_free(g8);
    lip_tensor_free(p8);
    lip_tensor_free(gi);
    plist_free(&l);
    for (int i = 0; i < NP; i++) free(v[i]);
    lip_optimizer_free(o);
    lip_optimizer_free(NULL);
}

/* set_learning_rate mid-run changes the next update exactly (SGD: Δp = −lr·g). */
static void check_set_lr_effect(lip_context *ctx) {
    lip_optimizer_config c = lip_optimizer_config_default(LIP_OPTIMIZER_SGD);
    lip_optimizer *o = NULL;
    REQUIRE_OK(lip_optimizer_create(ctx, &c, &o));
    size_t n = 5;
    float p0[5] = {1, 2, 3, 4, 5}, g[5] = {1, -1, 0.5f, 0.25f, -2};
    lip_tensor *p = test_upload(ctx, 1, &n, p0), *gt = test_upload(ctx, 1, &n, g);
    CHECK_OK(lip_optimizer_step(o, 1, &p, &gt));
    CHECK_OK(lip_optimizer_set_learning_rate(o, 0.5));
    CHECK_OK(lip_optimizer_step(o, 1, &p, &gt));
    float got[5];
    test_read(p, got);
    double ref[5];
    for (int i = 0; i < 5; i++) ref[i] = p0[i] - 0.01 * g[i] - 0.5 * g[i];
    test_compare("sgd after set_learning_rate", got, ref, 5, 1e-6, 1e-6);
    lip_tensor_free(p);
    lip_tensor_free(gt);
    lip_optimizer_free(o);
}

int main(void) {
    lip_context *ctx = test_context();
    test_ctx_for_messages = ctx;
    uint64_t seed = test_seed(20240611);

    lip_optimizer_config sgd = lip_optimizer_config_default(LIP_OPTIMIZER_SGD);
    run_reference_case(ctx, "sgd", &sgd, seed);
    lip_optimizer_config mom = sgd;
    mom.momentum = 0.9;
    mom.learning_rate = 0.05;
    run_reference_case(ctx, "sgd momentum 0.9", &mom, seed + 1);
    lip_optimizer_config nes = mom;
    nes.nesterov = 1;
    nes.momentum = 0.7;
    run_reference_case(ctx, "sgd nesterov 0.7", &nes, seed + 2);
    lip_optimizer_config adam = lip_optimizer_config_default(LIP_OPTIMIZER_ADAM);
    run_reference_case(ctx, "adam defaults", &adam, seed + 3);
    lip_optimizer_config adam2 = adam;
    adam2.learning_rate = 0.01;
    adam2.beta_1 = 0.5;
    adam2.beta_2 = 0.9;
    adam2.epsilon = 1e-3; /* large enough that its placement (√v vs √v̂) shows */
    run_reference_case(ctx, "adam beta 0.5/0.9 eps 1e-3", &adam2, seed + 4);
    lip_optimizer_config adam0 = adam;
    adam0.beta_1 = 0.0;
    run_reference_case(ctx, "adam beta_1 0", &adam0, seed + 5);

    /* Schedules through the optimizer. */
    lip_optimizer_config sched = sgd;
    sched.learning_rate = 0.1;
    sched.schedule.kind = LIP_SCHEDULE_STEP;
    sched.schedule.decay_steps = 2;
    sched.schedule.decay_rate = 0.5;
    run_reference_case(ctx, "sgd step schedule", &sched, seed + 6);
    sched = mom;
    sched.schedule.kind = LIP_SCHEDULE_EXPONENTIAL;
    sched.schedule.decay_steps = 3;
    sched.schedule.decay_rate = 0.3;
    run_reference_case(ctx, "momentum exponential schedule", &sched, seed + 7);
    sched = adam;
    sched.learning_rate = 0.02;
    sched.schedule.kind = LIP_SCHEDULE_COSINE;
    sched.schedule.decay_steps = 5; /* the run goes past the end of the decay */
    sched.schedule.alpha = 0.1;
    run_reference_case(ctx, "adam cosine schedule", &sched, seed + 8);

    check_schedules(ctx);

    run_resume_case(ctx, "adam cosine", &sched, seed + 9);
    run_resume_case(ctx, "sgd nesterov", &nes, seed + 10);
    run_resume_case(ctx, "sgd", &sgd, seed + 11);

    check_create_errors(ctx);
    check_step_errors(ctx, seed + 12);
    check_set_lr_effect(ctx);

    test_context_free(ctx);
    return test_finish("test_optim");
}
