/* lipcl tests — losses: every kind against a double host reference on random data (all reductions), device
 * gradients against finite differences of that reference, spec 2.12's golden table, SoftHKR state, errors. */
#define _POSIX_C_SOURCE 200809L
#include <string.h>

#include "check.h"
#include "refcase.h"
#include "refrun/refrun.h"

static lip_context *ctx;
static uint64_t rng;

/* Finite differences (double, on the host reference): step, the second step that detects kinks,
 * and the most elements checked per case (sampled beyond). */
#define FD_H 1e-6
#define FD_KINK_TOL 1e-6
#define FD_MAX 600

/* ---- host reference in double ------------------------------------------------------------------- */

typedef struct refcfg {
    lip_loss_kind kind;
    double alpha, m, tau, alpha_mean, temperature;
    int multi_gpu, from_logits;
} refcfg;

static refcfg ref_of(const lip_loss_config *c) {
    refcfg r = {c->kind, c->alpha, c->min_margin, c->tau, c->alpha_mean, c->temperature, c->multi_gpu, c->from_logits};
    return r;
}

static double relu(double x) { return x > 0 ? x : 0; }
static int sparse_kind(lip_loss_kind k) { return k == LIP_LOSS_TAU_SPARSE_CATEGORICAL_CROSSENTROPY; }
static int multiclass_kind(lip_loss_kind k) {
    return k != LIP_LOSS_KR && k != LIP_LOSS_HKR && k != LIP_LOSS_HINGE_MARGIN &&
           k != LIP_LOSS_TAU_BINARY_CROSSENTROPY && k != LIP_LOSS_MSE;
}

/* KR's positives per column: rows with y == 1. */
static void ref_counts(size_t B, size_t C, const double *y, double *counts) {
    for (size_t c = 0; c < C; c++) {
        counts[c] = 0;
        for (size_t i = 0; i < B; i++) counts[c] += y[i * C + c] == 1.0;
    }
}

static double ref_kr_row(const refcfg *r, size_t B, size_t C, const double *counts, const double *y, const double *f) {
    double s = 0;
    for (size_t c = 0; c < C; c++) {
        double w;
        if (r->multi_gpu) {
            w = y[c];
        } else {
            double p = y[c] == 1.0, n = counts[c];
            w = (double)B * (p / (n + 1e-7) - (1 - p) / ((double)B - n + 1e-7));
        }
        s += f[c] * w;
    }
    return s / (double)C;
}

static double ref_hinge_row(const refcfg *r, size_t C, const double *y, const double *f, int weighted) {
    double s = 0;
    for (size_t c = 0; c < C; c++) {
        double sg = y[c] > 0 ? 1 : -1, w = (weighted && y[c] > 0) ? (double)(C - 1) : 1.0;
        s += w * relu(r->m / 2 - sg * f[c]);
    }
    return s / (double)C;
}

/* log Σ exp(t·f) over the columns where use(c) (all when mask NULL). */
static double ref_lse(size_t C, const double *f, double t, const double *mask_y) {
    double mx = -INFINITY;
    for (size_t c = 0; c < C; c++)
        if (!mask_y || !(mask_y[c] > 0)) mx = fmax(mx, t * f[c]);
    double z = 0;
    for (size_t c = 0; c < C; c++)
        if (!mask_y || !(mask_y[c] > 0)) z += exp(t * f[c] - mx);
    return mx + log(z);
}

/* ℓ_i of row (y, f); counts for KR, T for SoftHKR (a constant, as deel-lip's stop-gradient). */
static double ref_row(const refcfg *r, size_t B, size_t C, const double *counts, double T, const double *y,
                      const double *f) {
    switch (r->kind) {
    case LIP_LOSS_KR:
    case LIP_LOSS_MULTICLASS_KR:
        return ref_kr_row(r, B, C, counts, y, f);
    case LIP_LOSS_HINGE_MARGIN:
        return ref_hinge_row(r, C, y, f, 0);
    case LIP_LOSS_MULTICLASS_HINGE:
        return ref_hinge_row(r, C, y, f, 1);
    case LIP_LOSS_HKR:
    case LIP_LOSS_MULTICLASS_HKR: {
        int w = r->kind == LIP_LOSS_MULTICLASS_HKR;
        if (isinf(r->alpha)) return ref_hinge_row(r, C, y, f, w);
        if (r->alpha == 0) return -ref_kr_row(r, B, C, counts, y, f);
        return -ref_kr_row(r, B, C, counts, y, f) + r->alpha * ref_hinge_row(r, C, y, f, w);
    }
    case LIP_LOSS_MULTICLASS_SOFT_HKR: {
        double ia = isinf(r->alpha) ? 0 : 1 / r->alpha, v = 0;
        int any_neg = 0;
        for (size_t c = 0; c < C; c++) any_neg |= !(y[c] > 0);
        double lse = any_neg ? ref_lse(C, f, T, y) : 0;
        for (size_t c = 0; c < C; c++) {
            if (y[c] > 0)
                v += -ia * f[c] + relu(r->m / 2 - f[c]);
            else
                v += exp(T * f[c] - lse) * (ia * f[c] + relu(r->m / 2 + f[c]));
        }
        return v;
    }
    case LIP_LOSS_MULTI_MARGIN: {
        double v = 0, s = 0;
        for (size_t c = 0; c < C; c++)
            if (y[c] > 0) v += f[c];
        for (size_t c = 0; c < C; c++)
            if (!(y[c] > 0)) s += relu(r->m - v + f[c]);
        return s / (double)C;
    }
    case LIP_LOSS_CATEGORICAL_HINGE: {
        double v = 0, mx = -3.4028234663852886e38;
        for (size_t c = 0; c < C; c++) {
            if (y[c] > 0)
                v += f[c];
            else
                mx = fmax(mx, f[c]);
        }
        return relu(r->m - (v - mx));
    }
    case LIP_LOSS_TAU_CATEGORICAL_CROSSENTROPY:
    case LIP_LOSS_CATEGORICAL_CROSSENTROPY: {
        if (r->kind == LIP_LOSS_CATEGORICAL_CROSSENTROPY && !r->from_logits) {
            double s = 0, v = 0;
            for (size_t c = 0; c < C; c++) s += f[c];
            for (size_t c = 0; c < C; c++) {
                double p = f[c] / s, lo = 1e-7, hi = (double)(1.0f - 1e-7f);
                v -= y[c] * log(p < lo ? lo : (p > hi ? hi : p));
            }
            return v;
        }
        double t = r->kind == LIP_LOSS_CATEGORICAL_CROSSENTROPY ? 1.0 : r->tau, lse = ref_lse(C, f, t, NULL), v = 0;
        for (size_t c = 0; c < C; c++) v += y[c] * (lse - t * f[c]);
        return v / t;
    }
    case LIP_LOSS_TAU_SPARSE_CATEGORICAL_CROSSENTROPY: {
        size_t k = (size_t)y[0];
        return (ref_lse(C, f, r->tau, NULL) - r->tau * f[k]) / r->tau;
    }
    case LIP_LOSS_TAU_BINARY_CROSSENTROPY: {
        double v = 0;
        for (size_t c = 0; c < C; c++) {
            double t = y[c] > 0, z = r->tau * f[c];
            v += relu(z) - z * t + log1p(exp(-fabs(z)));
        }
        return v / (double)C / r->tau;
    }
    case LIP_LOSS_MSE: {
        double v = 0;
        for (size_t c = 0; c < C; c++) v += (f[c] - y[c]) * (f[c] - y[c]);
        return v / (double)C;
    }
    }
    return NAN;
}

/* Labels per row: C values, or 1 index for the sparse loss. */
static size_t label_width(lip_loss_kind k, size_t C) { return sparse_kind(k) ? 1 : C; }

/* SoftHKR's state update from (cm) on the batch f: the new current_mean and T. */
static void ref_soft_update(const refcfg *r, size_t n, const double *f, double *cm, double *T) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += fabs(f[i]);
    *cm = r->alpha_mean * *cm + (1 - r->alpha_mean) * s / (double)n;
    double cl = *cm < r->m ? r->m : (*cm > 20000 ? 20000 : *cm), t = r->temperature * r->m / cl;
    *T = t < 0.005 ? 0.005 : (t > 250 ? 250 : t);
}

/* Per-sample values of a batch. */
static void ref_batch(const refcfg *r, size_t B, size_t C, const double *y, const double *f, double T, double *ps) {
    double *counts = calloc(C, sizeof *counts);
    if (!counts) exit(1);
    if (!sparse_kind(r->kind)) ref_counts(B, C, y, counts);
    size_t w = label_width(r->kind, C);
    for (size_t i = 0; i < B; i++) ps[i] = ref_row(r, B, C, counts, T, y + i * w, f + i * C);
    free(counts);
}

static double ref_reduce(lip_reduction red, size_t B, const double *ps) {
    double s = 0;
    for (size_t i = 0; i < B; i++) s += ps[i];
    return red == LIP_REDUCTION_MEAN ? s / (double)B : s;
}

/* Central difference of ℓ_i along f[i, c] with step h. */
static double fd_at(const refcfg *r, size_t B, size_t C, const double *counts, double T, const double *yrow,
                    double *frow, size_t c, double h) {
    double keep = frow[c];
    frow[c] = keep + h;
    double up = ref_row(r, B, C, counts, T, yrow, frow);
    frow[c] = keep - h;
    double down = ref_row(r, B, C, counts, T, yrow, frow);
    frow[c] = keep;
    return (up - down) / (2 * h);
}

/*
 * Compare the device gradient with central differences of the reference (scaled by 1/B for MEAN) on at
 * most FD_MAX elements; an element where two step sizes disagree sits at a kink and is skipped.
 */
static void check_gradient_fd(const char *what, const refcfg *r, lip_reduction red, size_t B, size_t C,
                              const double *y, double *f, double T, const float *grad) {
    double *counts = calloc(C, sizeof *counts);
    size_t n = B * C, m = n < FD_MAX ? n : FD_MAX;
    double *ref = calloc(m, sizeof *ref);
    float *got = calloc(m, sizeof *got);
    if (!counts || !ref || !got) exit(1);
    if (!sparse_kind(r->kind)) ref_counts(B, C, y, counts);
    double scale = red == LIP_REDUCTION_MEAN ? 1.0 / (double)B : 1.0;
    size_t w = label_width(r->kind, C), used = 0, skipped = 0;
    for (size_t k = 0; k < m; k++) {
        size_t e = m == n ? k : (size_t)test_uniform(&rng, 0, (double)n);
        size_t i = e / C, c = e % C;
        double h = FD_H * fmax(1.0, fabs(f[e]));
        double d1 = fd_at(r, B, C, counts, T, y + i * w, f + i * C, c, h);
        double d2 = fd_at(r, B, C, counts, T, y + i * w, f + i * C, c, h / 8);
        if (fabs(d1 - d2) > FD_KINK_TOL * (1 + fabs(d1))) {
            skipped++;
            continue;
        }
        ref[used] = scale * d1;
        got[used] = grad[e];
        used++;
    }
    double gmax = test_max_abs(ref, used);
    char msg[512];
    snprintf(msg, sizeof msg, "%s: gradient vs finite differences", what);
    test_compare(msg, got, ref, used, 2e-5 * gmax + 1e-9, 2e-4);
    CHECK(skipped * 20 <= m); /* kinks are rare on random data */
    free(counts);
    free(ref);
    free(got);
}

/* ---- data ---------------------------------------------------------------------------------------- */

/* Labels of a kind for a batch: float labels (and int32 copies), encoding picked by `variant`:
 * binary {0,1} (even) or {-1,1} (odd); one-hot with 0 (even) or -1 (odd) elsewhere; smoothed one-hot
 * probabilities for the cross-entropies; class indices for the sparse loss; uniform targets for MSE. */
static void make_labels(lip_loss_kind kind, size_t B, size_t C, int variant, float *y, int32_t *yi) {
    size_t w = label_width(kind, C);
    for (size_t i = 0; i < B; i++) {
        size_t k = (size_t)test_uniform(&rng, 0, (double)C);
        for (size_t c = 0; c < w; c++) {
            float v;
            switch (kind) {
            case LIP_LOSS_KR:
            case LIP_LOSS_HKR:
            case LIP_LOSS_HINGE_MARGIN:
            case LIP_LOSS_TAU_BINARY_CROSSENTROPY:
                v = test_uniform(&rng, 0, 1) < 0.5 ? 1.0f : (variant & 1 ? -1.0f : 0.0f);
                break;
            case LIP_LOSS_TAU_CATEGORICAL_CROSSENTROPY:
            case LIP_LOSS_CATEGORICAL_CROSSENTROPY:
                v = (variant & 1) ? (c == k ? 0.9f + 0.1f / (float)C : 0.1f / (float)C) : (c == k ? 1.0f : 0.0f);
                break;
            case LIP_LOSS_TAU_SPARSE_CATEGORICAL_CROSSENTROPY:
                v = (float)k;
                break;
            case LIP_LOSS_MSE:
                v = (float)test_uniform(&rng, -1, 1);
                break;
            default:
                v = c == k ? 1.0f : (variant & 1 ? -1.0f : 0.0f);
                break;
            }
            y[i * w + c] = v;
            yi[i * w + c] = (int32_t)v;
        }
    }
}

static lip_tensor *upload_f(size_t B, size_t C, const float *f) {
    size_t shape[2] = {B, C};
    return test_upload(ctx, 2, shape, f);
}

/* Labels as a device tensor: int32 (sparse loss, or as_int) or float32; (B,) for the sparse loss. */
static lip_tensor *upload_labels(lip_loss_kind kind, size_t B, size_t C, const float *y, const int32_t *yi,
                                 int as_int) {
    size_t shape[2] = {B, C};
    int ndim = sparse_kind(kind) ? 1 : 2;
    lip_tensor *t = NULL;
    int use_int = as_int || sparse_kind(kind);
    REQUIRE_OK(lip_tensor_create(ctx, use_int ? LIP_INT32 : LIP_FLOAT32, ndim, shape, &t));
    size_t n = B * label_width(kind, C);
    REQUIRE_OK(lip_tensor_upload(t, use_int ? (const void *)yi : (const void *)y, n * 4));
    return t;
}

static lip_tensor *new_out(size_t n) {
    size_t s[1] = {n};
    return test_sentinel(ctx, LIP_FLOAT32, 1, s);
}

static const char *red_name(lip_reduction r) {
    return r == LIP_REDUCTION_MEAN ? "MEAN" : (r == LIP_REDUCTION_SUM ? "SUM" : "NONE");
}

/* ---- random cases: every kind, shapes, reductions ----------------------------------------------- */

/* Value (each reduction) and gradient of one loss config on one random batch. */
static void check_random_case(lip_loss_config cfg, size_t B, size_t C, int variant, int as_int) {
    lip_loss_kind kind = cfg.kind;
    size_t w = label_width(kind, C), n = B * C;
    float *f = test_falloc(n), *y = test_falloc(B * w);
    int32_t *yi = calloc(B * w, sizeof *yi);
    if (!yi) exit(1);
    int probs = kind == LIP_LOSS_CATEGORICAL_CROSSENTROPY && !cfg.from_logits;
    test_fill_uniform(&rng, f, n, probs ? 0.05 : -2.0, probs ? 1.0 : 2.0);
    make_labels(kind, B, C, variant, y, yi);
    double *fd = test_to_double(f, n), *yd = test_to_double(y, B * w);
    if (as_int)
        for (size_t e = 0; e < B * w; e++) yd[e] = yi[e];
    refcfg r = ref_of(&cfg);
    double T = 0, cm = cfg.min_margin;
    if (kind == LIP_LOSS_MULTICLASS_SOFT_HKR) ref_soft_update(&r, n, fd, &cm, &T);
    double *ps = calloc(B, sizeof *ps);
    if (!ps) exit(1);
    ref_batch(&r, B, C, yd, fd, T, ps);

    lip_tensor *tf = upload_f(B, C, f), *ty = upload_labels(kind, B, C, y, yi, as_int);
    char what[256];
    for (int ri = 0; ri < 3; ri++) {
        lip_reduction red = (lip_reduction)ri;
        cfg.reduction = red;
        snprintf(what, sizeof what, "%s %s B=%zu C=%zu variant %d%s", lip_loss_kind_name(kind), red_name(red), B, C,
                 variant, as_int ? " int32 labels" : "");
        lip_loss *loss = NULL;
        REQUIRE_OK(lip_loss_create(ctx, &cfg, &loss));
        size_t on = red == LIP_REDUCTION_NONE ? B : 1;
        lip_tensor *out = new_out(on), *out2 = new_out(on);
        size_t gs[2] = {B, C};
        lip_tensor *grad = test_sentinel(ctx, LIP_FLOAT32, 2, gs), *grad2 = test_sentinel(ctx, LIP_FLOAT32, 2, gs);
        CHECK_OK(lip_loss_forward(loss, ty, tf, out));
        CHECK_OK(lip_loss_backward(loss, ty, tf, grad));
        float *got = test_download(out), *g = test_download(grad);
        double ref_red = ref_reduce(red, B, ps), scale = 1;
        for (size_t i = 0; i < B; i++) scale = fmax(scale, fabs(ps[i]));
        if (red == LIP_REDUCTION_NONE) {
            test_compare(what, got, ps, B, 2e-5 * scale, 1e-4);
        } else {
            double mag = red == LIP_REDUCTION_MEAN ? scale : scale * (double)B;
            test_compare(what, got, &ref_red, 1, 2e-5 * mag, 1e-4);
        }
        check_gradient_fd(what, &r, red, B, C, yd, fd, T, g);
        /* forward_backward = forward then backward (SoftHKR: from the same starting state) */
        if (kind == LIP_LOSS_MULTICLASS_SOFT_HKR) CHECK_OK(lip_loss_reset_state(loss));
        CHECK_OK(lip_loss_forward_backward(loss, ty, tf, out2, grad2));
        float *got2 = test_download(out2), *g2 = test_download(grad2);
        CHECK(memcmp(got, got2, on * sizeof *got) == 0);
        CHECK(memcmp(g, g2, n * sizeof *g) == 0);
        CHECK_OK(lip_loss_label_errors(loss)); /* the labels were valid */
        free(got);
        free(g);
        free(got2);
        free(g2);
        lip_tensor_free(out);
        lip_tensor_free(out2);
        lip_tensor_free(grad);
        lip_tensor_free(grad2);
        lip_loss_free(loss);
    }
    lip_tensor_free(tf);
    lip_tensor_free(ty);
    free(f);
    free(y);
    free(yi);
    free(fd);
    free(yd);
    free(ps);
}

static void test_random_all_kinds(void) {
    static const size_t binary_shapes[][2] = {{1, 1}, {7, 1}, {13, 3}, {256, 1}, {37, 5}};
    static const size_t class_shapes[][2] = {{1, 3}, {7, 3}, {13, 10}, {61, 100}, {257, 10}};
    for (int k = 0; k < LIP_LOSS_KIND_COUNT; k++) {
        lip_loss_kind kind = (lip_loss_kind)k;
        int mc = multiclass_kind(kind);
        for (int s = 0; s < 5; s++) {
            size_t B = mc ? class_shapes[s][0] : binary_shapes[s][0], C = mc ? class_shapes[s][1] : binary_shapes[s][1];
            lip_loss_config cfg = lip_loss_config_default(kind);
            /* parameters off their defaults, one variant each */
            cfg.alpha = s == 2 ? 0.0f : (s == 3 ? INFINITY : 3.5f);
            if (kind == LIP_LOSS_MULTICLASS_SOFT_HKR && s == 2) cfg.alpha = 0.25f;
            cfg.min_margin = s == 1 ? 0.3f : 1.4f;
            cfg.tau = s == 4 ? 12.0f : 2.5f;
            cfg.alpha_mean = 0.9f;
            cfg.temperature = s == 3 ? 3.0f : 1.0f;
            cfg.from_logits = s % 2;
            check_random_case(cfg, B, C, s, kind != LIP_LOSS_MSE && !sparse_kind(kind) && s == 4);
        }
    }
}

/* multi_gpu KR family: pre-processed labels on the device equal the host formula; shard sums add up. */
static void test_multi_gpu(void) {
    static const lip_loss_kind kinds[] = {LIP_LOSS_KR, LIP_LOSS_HKR, LIP_LOSS_MULTICLASS_KR, LIP_LOSS_MULTICLASS_HKR};
    for (size_t ki = 0; ki < 4; ki++) {
        lip_loss_kind kind = kinds[ki];
        size_t B = 23, C = multiclass_kind(kind) ? 4 : 2, n = B * C;
        float *f = test_falloc(n), *y = test_falloc(n);
        int32_t *yi = calloc(n, sizeof *yi);
        if (!yi) exit(1);
        test_fill_uniform(&rng, f, n, -2, 2);
        make_labels(kind, B, C, 1, y, yi);
        lip_tensor *ty = upload_labels(kind, B, C, y, yi, 0), *tp = NULL;
        size_t shape[2] = {B, C};
        REQUIRE_OK(lip_tensor_create(ctx, LIP_FLOAT32, 2, shape, &tp));
        CHECK_OK(lip_loss_process_labels_multi_gpu(ctx, ty, tp));
        float *proc = test_download(tp);
        double *yd = test_to_double(y, n), *pref = calloc(n, sizeof *pref), *counts = calloc(C, sizeof *counts);
        if (!pref || !counts) exit(1);
        ref_counts(B, C, yd, counts);
        for (size_t e = 0; e < n; e++) {
            double p = yd[e] == 1.0, nc = counts[e % C];
            pref[e] = (double)B * (p / (nc + 1e-7) - (1 - p) / ((double)B - nc + 1e-7));
        }
        test_compare("process_labels_multi_gpu", proc, pref, n, 1e-5, 1e-5);
        /* Σ over shards (SUM) of the multi_gpu loss = B · (non-multi-gpu MEAN loss) */
        lip_loss_config cfg = lip_loss_config_default(kind);
        cfg.alpha = 2.5f;
        cfg.multi_gpu = 1;
        cfg.reduction = LIP_REDUCTION_SUM;
        lip_loss *lm = NULL, *ln = NULL;
        REQUIRE_OK(lip_loss_create(ctx, &cfg, &lm));
        cfg.multi_gpu = 0;
        cfg.reduction = LIP_REDUCTION_MEAN;
        REQUIRE_OK(lip_loss_create(ctx, &cfg, &ln));
        size_t splits[3] = {5, 11, 7};
        double total = 0;
        size_t row = 0;
        for (int s = 0; s < 3; s++) {
            lip_tensor *sf = upload_f(splits[s], C, f + row * C), *sy = upload_f(splits[s], C, proc + row * C);
            lip_tensor *o = new_out(1);
            CHECK_OK(lip_loss_forward(lm, sy, sf, o));
            float v;
            test_read(o, &v);
            total += v;
            lip_tensor_free(sf);
            lip_tensor_free(sy);
            lip_tensor_free(o);
            row += splits[s];
        }
        lip_tensor *tf = upload_f(B, C, f), *o = new_out(1);
        CHECK_OK(lip_loss_forward(ln, ty, tf, o));
        float whole;
        test_read(o, &whole);
        CHECK_NEAR(total, (double)B * whole, 1e-4 * (double)B * fmax(1.0, fabs(whole)));
        /* gradient of the multi_gpu SUM loss = B · gradient of the MEAN loss */
        lip_tensor *g1 = test_sentinel(ctx, LIP_FLOAT32, 2, shape), *g2 = test_sentinel(ctx, LIP_FLOAT32, 2, shape);
        CHECK_OK(lip_loss_backward(lm, tp, tf, g1));
        CHECK_OK(lip_loss_backward(ln, ty, tf, g2));
        float *a = test_download(g1), *b = test_download(g2);
        double *bd = test_to_double(b, n);
        for (size_t e = 0; e < n; e++) bd[e] *= (double)B;
        test_compare("multi_gpu gradient", a, bd, n, 1e-5 * test_max_abs(bd, n), 1e-4);
        free(a);
        free(b);
        free(bd);
        lip_tensor_free(g1);
        lip_tensor_free(g2);
        lip_tensor_free(tf);
        lip_tensor_free(o);
        lip_loss_free(lm);
        lip_loss_free(ln);
        lip_tensor_free(ty);
        lip_tensor_free(tp);
        free(proc);
        free(f);
        free(y);
        free(yi);
        free(yd);
        free(pref);
        free(counts);
    }
}

/* ---- spec 2.12 golden table -------------------------------------------------------------------- */

/* Host reference and device on a small hand-written batch: per-sample (none) or reduced values. */
static void golden(const char *name, lip_loss_config cfg, size_t B, size_t C, const double *y, const double *f,
                   const double *expected, double tol) {
    refcfg r = ref_of(&cfg);
    size_t w = label_width(cfg.kind, C);
    double T = 0, cm = cfg.min_margin, *ps = calloc(B, sizeof *ps);
    if (!ps) exit(1);
    if (cfg.kind == LIP_LOSS_MULTICLASS_SOFT_HKR) ref_soft_update(&r, B * C, f, &cm, &T);
    ref_batch(&r, B, C, y, f, T, ps);
    size_t on = cfg.reduction == LIP_REDUCTION_NONE ? B : 1;
    double red = ref_reduce(cfg.reduction, B, ps);
    const double *host = on == 1 ? &red : ps;
    int ok = 1;
    for (size_t i = 0; i < on; i++) ok &= fabs(host[i] - expected[i]) <= tol * fmax(1.0, fabs(expected[i]));
    CHECK(ok);
    if (!ok) fprintf(stderr, "golden %s: host reference disagrees with spec 2.12\n", name);
    /* the device, from float32 data */
    float *ff = test_falloc(B * C), *yf = test_falloc(B * w);
    int32_t *yi = calloc(B * w, sizeof *yi);
    if (!yi) exit(1);
    for (size_t e = 0; e < B * C; e++) ff[e] = (float)f[e];
    for (size_t e = 0; e < B * w; e++) {
        yf[e] = (float)y[e];
        yi[e] = (int32_t)y[e];
    }
    lip_loss *loss = NULL;
    REQUIRE_OK(lip_loss_create(ctx, &cfg, &loss));
    lip_tensor *tf = upload_f(B, C, ff), *ty = upload_labels(cfg.kind, B, C, yf, yi, 0), *out = new_out(on);
    CHECK_OK(lip_loss_forward(loss, ty, tf, out));
    float *got = test_download(out);
    char what[128];
    snprintf(what, sizeof what, "golden %s (device)", name);
    test_compare(what, got, expected, on, 2e-5, 2e-5 + tol);
    free(got);
    lip_tensor_free(tf);
    lip_tensor_free(ty);
    lip_tensor_free(out);
    lip_loss_free(loss);
    free(ff);
    free(yf);
    free(yi);
    free(ps);
}

static lip_loss_config gcfg(lip_loss_kind kind, lip_reduction red, double alpha, double m, double tau) {
    lip_loss_config c = lip_loss_config_default(kind);
    c.reduction = red;
    c.alpha = (float)alpha;
    c.min_margin = (float)m;
    c.tau = (float)tau;
    return c;
}

static void onehot(const int *cls, size_t B, size_t C, double *y) {
    for (size_t i = 0; i < B; i++)
        for (size_t c = 0; c < C; c++) y[i * C + c] = (size_t)cls[i] == c;
}

static void test_golden_table(void) {
    const lip_reduction M = LIP_REDUCTION_MEAN, N = LIP_REDUCTION_NONE, S = LIP_REDUCTION_SUM;
    double y1[6] = {1, 1, 1, 0, 0, 0}, f1[6] = {.5, 1.5, -.5, -.5, -1.5, .5};
    double e;
    e = 1.0;
    golden("KR", gcfg(LIP_LOSS_KR, M, 0, 1, 1), 6, 1, y1, f1, &e, 1e-6);
    e = 4.0 / 6;
    golden("HingeMargin(2)", gcfg(LIP_LOSS_HINGE_MARGIN, M, 0, 2, 1), 6, 1, y1, f1, &e, 1e-6);
    e = 0.279185;
    golden("TauBCE(2)", gcfg(LIP_LOSS_TAU_BINARY_CROSSENTROPY, M, 0, 1, 2), 6, 1, y1, f1, &e, 1e-5);

    int c2[6] = {0, 0, 0, 1, 1, 2};
    double y2[18], f2[18] = {2, .2, -.5, -1, -1.2, .3, .8, 2, 0, 0, 1, -.5, 2.4, -.4, -1.1, -.1, -1.7, .6};
    onehot(c2, 6, 3, y2);
    e = 761.0 / 1800;
    golden("MulticlassKR", gcfg(LIP_LOSS_MULTICLASS_KR, M, 0, 1, 1), 6, 3, y2, f2, &e, 1e-6);
    e = 1071.0 / 200;
    golden("MulticlassHKR(5, 2)", gcfg(LIP_LOSS_MULTICLASS_HKR, M, 5, 2, 1), 6, 3, y2, f2, &e, 1e-6);
    e = 1.0897621;
    golden("MulticlassSoftHKR(5, .2) first call", gcfg(LIP_LOSS_MULTICLASS_SOFT_HKR, M, 5, .2, 1), 6, 3, y2, f2, &e,
           1e-6);

    double y1b[8] = {1, 1, 1, 1, 0, 0, 0, 0}, f1b[8] = {.5, 1.1, -.1, .7, -1.3, -.4, .2, -.9};
    double kr_none[8] = {1, 2.2, -.2, 1.4, 2.6, .8, -.4, 1.8};
    golden("KR none", gcfg(LIP_LOSS_KR, N, 0, 1, 1), 8, 1, y1b, f1b, kr_none, 1e-6);
    double h_none[8] = {.2, 0, .8, 0, 0, .3, .9, 0};
    golden("HingeMargin(1.4) none", gcfg(LIP_LOSS_HINGE_MARGIN, N, 0, 1.4, 1), 8, 1, y1b, f1b, h_none, 1e-6);
    double hkr_none[8] = {.25, -2.2, 2.95, -.65, -2.6, .7, 3.4, -1.55};
    golden("HKR(2.5, 2) none", gcfg(LIP_LOSS_HKR, N, 2.5, 2, 1), 8, 1, y1b, f1b, hkr_none, 1e-6);
    double bce_none[8] = {1.15188, .91098, 1.43692, 1.06676, .84011, 1.19628, 1.48879, .98650};
    golden("TauBCE(.5) none", gcfg(LIP_LOSS_TAU_BINARY_CROSSENTROPY, N, 0, 1, .5), 8, 1, y1b, f1b, bce_none, 1e-5);
    e = 2.19262;
    golden("TauBCE(1.5) sum", gcfg(LIP_LOSS_TAU_BINARY_CROSSENTROPY, S, 0, 1, 1.5), 8, 1, y1b, f1b, &e, 1e-5);

    int c3[8] = {0, 0, 0, 1, 1, 1, 2, 2};
    double y3[24], f3[24] = {1.5, .2, -.5, 1, -1.2, .3, .8, 2, -2, 0, 1, -.5, -.8, 2, 0, 2.4, -.4, -1.1,
                             -.1, -1.7, .6, 1.2, 1.3, 2.5};
    onehot(c3, 8, 3, y3);
    double mkr[8] = {326, 314, 120, 250, 496, -258, 396, 450};
    for (int i = 0; i < 8; i++) mkr[i] /= 225;
    golden("MulticlassKR none", gcfg(LIP_LOSS_MULTICLASS_KR, N, 0, 1, 1), 8, 3, y3, f3, mkr, 1e-6);
    double mh[8] = {17, 13, 34, 15, 12, 62, 17, 45};
    for (int i = 0; i < 8; i++) mh[i] /= 30;
    golden("MulticlassHinge(2) none", gcfg(LIP_LOSS_MULTICLASS_HINGE, N, 0, 2, 1), 8, 3, y3, f3, mh, 1e-6);
    double mm[8] = {0, 0, 19, 0, 0, 35, 0, 0};
    for (int i = 0; i < 8; i++) mm[i] /= 30;
    golden("MultiMargin(.7) none", gcfg(LIP_LOSS_MULTI_MARGIN, N, 0, .7, 1), 8, 3, y3, f3, mm, 1e-6);
    double mhkr[8] = {-779, -656, 1395, -625, -1609, 4557, -1284, 825};
    for (int i = 0; i < 8; i++) mhkr[i] /= 900;
    golden("MulticlassHKR(2.5, 1) none", gcfg(LIP_LOSS_MULTICLASS_HKR, N, 2.5, 1, 1), 8, 3, y3, f3, mhkr, 1e-6);
    double ch[8] = {0, .4, 2.3, .1, 0, 3.9, .4, 0};
    golden("CategoricalHinge(1.1) none", gcfg(LIP_LOSS_CATEGORICAL_HINGE, N, 0, 1.1, 1), 8, 3, y3, f3, ch, 1e-6);
    double cce[8] = {.044275, .115109, 1.243572, .084923, .010887, 2.802300, .114224, .076357};
    golden("TauCCE(2) none", gcfg(LIP_LOSS_TAU_CATEGORICAL_CROSSENTROPY, N, 0, 1, 2), 8, 3, y3, f3, cce, 2e-5);
    double soft[8] = {-.10878129, .12582462, 2.2788424, -.17646402, -.38242298, 3.4523692, -.19672059, 1.1028761};
    golden("MulticlassSoftHKR(5, .2) none", gcfg(LIP_LOSS_MULTICLASS_SOFT_HKR, N, 5, .2, 1), 8, 3, y3, f3, soft, 1e-6);
    e = 43.0 / 6;
    golden("MulticlassHinge(2) sum", gcfg(LIP_LOSS_MULTICLASS_HINGE, S, 0, 2, 1), 8, 3, y3, f3, &e, 1e-6);
    e = 9.0 / 5;
    golden("MultiMargin(.7) sum", gcfg(LIP_LOSS_MULTI_MARGIN, S, 0, .7, 1), 8, 3, y3, f3, &e, 1e-6);
    /* the sparse loss equals the one-hot one */
    double idx3[8];
    for (int i = 0; i < 8; i++) idx3[i] = c3[i];
    golden("TauSparseCCE(2) none", gcfg(LIP_LOSS_TAU_SPARSE_CATEGORICAL_CROSSENTROPY, N, 0, 1, 2), 8, 3, idx3, f3, cce,
           2e-5);

    /* multi-GPU sums: labels processed on the global batch, any split into shards */
    struct {
        const char *name;
        lip_loss_kind kind;
        size_t B, C;
        const double *y, *f;
        double alpha, m, expected;
    } mg[] = {{"multi-GPU KR sum", LIP_LOSS_KR, 8, 1, y1b, f1b, 0, 1, 9.2},
              {"multi-GPU MulticlassKR sum", LIP_LOSS_MULTICLASS_KR, 8, 3, y3, f3, 0, 1, 698.0 / 75},
              {"multi-GPU MulticlassHKR(2.5, 1) sum", LIP_LOSS_MULTICLASS_HKR, 8, 3, y3, f3, 2.5, 1, 152.0 / 75}};
    for (size_t t = 0; t < 3; t++) {
        size_t B = mg[t].B, C = mg[t].C;
        double *py = calloc(B * C, sizeof *py), *counts = calloc(C, sizeof *counts);
        if (!py || !counts) exit(1);
        ref_counts(B, C, mg[t].y, counts);
        for (size_t e2 = 0; e2 < B * C; e2++) {
            double p = mg[t].y[e2] == 1.0, nc = counts[e2 % C];
            py[e2] = (double)B * (p / (nc + 1e-7) - (1 - p) / ((double)B - nc + 1e-7));
        }
        lip_loss_config cfg = gcfg(mg[t].kind, S, mg[t].alpha, mg[t].m, 1);
        cfg.multi_gpu = 1;
        /* two shards: rows [0, 3) and [3, B) */
        refcfg r = ref_of(&cfg);
        double sum = 0, *ps = calloc(B, sizeof *ps);
        if (!ps) exit(1);
        ref_batch(&r, 3, C, py, mg[t].f, 0, ps);
        sum += ref_reduce(S, 3, ps);
        ref_batch(&r, B - 3, C, py + 3 * C, mg[t].f + 3 * C, 0, ps);
        sum += ref_reduce(S, B - 3, ps);
        CHECK_NEAR(sum, mg[t].expected, 1e-6);
        golden(mg[t].name, cfg, B, C, py, mg[t].f, &mg[t].expected, 1e-6);
        free(py);
        free(counts);
        free(ps);
    }

    /* two Gaussian columns (means ±1, σ .1, 20 000 each): KR ≈ 2 */
    size_t B = 40000;
    double *yg = calloc(B, sizeof *yg), *fg = calloc(B, sizeof *fg);
    if (!yg || !fg) exit(1);
    for (size_t i = 0; i < B; i++) {
        double u1 = test_uniform(&rng, 1e-12, 1), u2 = test_uniform(&rng, 0, 1);
        double z = sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2);
        yg[i] = i < B / 2;
        fg[i] = (i < B / 2 ? 1 : -1) + 0.1 * z;
    }
    e = 2.0;
    golden("KR Gaussian columns", gcfg(LIP_LOSS_KR, M, 0, 1, 1), B, 1, yg, fg, &e, 1e-3);
    free(yg);
    free(fg);
}

/* ---- MulticlassSoftHKR state ---------------------------------------------------------------------- */

static void test_soft_hkr_state(void) {
    int c2[6] = {0, 0, 0, 1, 1, 2};
    double y2[18], f2[18] = {2, .2, -.5, -1, -1.2, .3, .8, 2, 0, 0, 1, -.5, 2.4, -.4, -1.1, -.1, -1.7, .6};
    onehot(c2, 6, 3, y2);
    float yf[18], ff[18];
    for (int e = 0; e < 18; e++) {
        yf[e] = (float)y2[e];
        ff[e] = (float)f2[e];
    }
    lip_loss_config cfg = gcfg(LIP_LOSS_MULTICLASS_SOFT_HKR, LIP_REDUCTION_MEAN, 5, .2, 1);
    lip_loss *loss = NULL;
    REQUIRE_OK(lip_loss_create(ctx, &cfg, &loss));
    size_t count = 0;
    CHECK_OK(lip_loss_state_size(loss, &count));
    CHECK(count == 2);
    float s0[2], s1[2], s2[2];
    CHECK_OK(lip_loss_get_state(loss, s0, 2));
    CHECK_NEAR(s0[0], 0.2, 1e-7); /* current_mean starts at min_margin */
    CHECK_NEAR(s0[1], 1.0, 1e-7); /* T = temperature·m/m */
    lip_tensor *tf = upload_f(6, 3, ff), *ty = upload_f(6, 3, yf), *o = new_out(1);
    float v1, v2, v3, v4;
    CHECK_OK(lip_loss_forward(loss, ty, tf, o));
    test_read(o, &v1);
    CHECK_OK(lip_loss_get_state(loss, s1, 2));
    CHECK_OK(lip_loss_forward(loss, ty, tf, o));
    test_read(o, &v2);
    CHECK_OK(lip_loss_get_state(loss, s2, 2));
    CHECK_NEAR(v1, 1.0897621, 2e-6);
    CHECK_NEAR(v2, 1.0834466, 2e-6);
    /* host sequence of the state */
    refcfg r = ref_of(&cfg);
    double cm = 0.2, T;
    ref_soft_update(&r, 18, f2, &cm, &T);
    CHECK_NEAR(s1[0], cm, 1e-6);
    CHECK_NEAR(s1[1], T, 1e-6 * T);
    ref_soft_update(&r, 18, f2, &cm, &T);
    CHECK_NEAR(s2[0], cm, 1e-6);
    CHECK_NEAR(s2[1], T, 1e-6 * T);
    /* set_state(after the first call) then forward repeats the second call exactly */
    CHECK_OK(lip_loss_set_state(loss, s1, 2));
    CHECK_OK(lip_loss_forward(loss, ty, tf, o));
    test_read(o, &v3);
    CHECK(v3 == v2);
    /* reset then forward repeats the first call exactly */
    CHECK_OK(lip_loss_reset_state(loss));
    CHECK_OK(lip_loss_forward(loss, ty, tf, o));
    test_read(o, &v4);
    CHECK(v4 == v1);
    /* backward does not move the state */
    size_t gs[2] = {6, 3};
    lip_tensor *g = test_sentinel(ctx, LIP_FLOAT32, 2, gs);
    float before[2], after[2];
    CHECK_OK(lip_loss_get_state(loss, before, 2));
    CHECK_OK(lip_loss_backward(loss, ty, tf, g));
    CHECK_OK(lip_loss_get_state(loss, after, 2));
    CHECK(memcmp(before, after, sizeof before) == 0);
    /* forward_backward without out still advances the state (a training step) and gives the same gradient */
    lip_tensor *g2 = test_sentinel(ctx, LIP_FLOAT32, 2, gs);
    CHECK_OK(lip_loss_reset_state(loss));
    CHECK_OK(lip_loss_forward_backward(loss, ty, tf, NULL, g2));
    CHECK_OK(lip_loss_get_state(loss, after, 2));
    CHECK(memcmp(after, s1, sizeof after) == 0);
    float *ga = test_download(g), *gb = test_download(g2);
    CHECK(memcmp(ga, gb, 18 * sizeof *ga) == 0);
    free(ga);
    free(gb);
    lip_tensor_free(g2);
    /* errors */
    float bad[2] = {NAN, 1};
    CHECK_STATUS(lip_loss_set_state(loss, bad, 2), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "current_mean");
    bad[0] = 1;
    bad[1] = 0;
    CHECK_STATUS(lip_loss_set_state(loss, bad, 2), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "temperature");
    CHECK_STATUS(lip_loss_get_state(loss, s0, 1), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "2 floats");
    lip_tensor_free(g);
    lip_tensor_free(tf);
    lip_tensor_free(ty);
    lip_tensor_free(o);
    lip_loss_free(loss);
    /* stateless kinds have an empty state */
    lip_loss_config kc = lip_loss_config_default(LIP_LOSS_KR);
    REQUIRE_OK(lip_loss_create(ctx, &kc, &loss));
    CHECK_OK(lip_loss_state_size(loss, &count));
    CHECK(count == 0);
    CHECK_OK(lip_loss_get_state(loss, NULL, 0));
    CHECK_OK(lip_loss_reset_state(loss));
    lip_loss_free(loss);
}

/* ---- special values: absent classes, ties, relu'(0), int labels, determinism, parameters ------------ */

static float read1(lip_loss *loss, lip_tensor *ty, lip_tensor *tf) {
    lip_tensor *o = new_out(1);
    CHECK_OK(lip_loss_forward(loss, ty, tf, o));
    float v;
    test_read(o, &v);
    lip_tensor_free(o);
    return v;
}

static void test_special_values(void) {
    /* KR with a class absent from the batch: finite, the missing mean counts 0 */
    float f[5] = {0.5f, -1.0f, 2.0f, 0.25f, -0.75f}, yneg[5] = {0, 0, -1, 0, -1}, ypos[5] = {1, 1, 1, 1, 1};
    lip_tensor *tf = upload_f(5, 1, f), *tn = upload_f(5, 1, yneg), *tp = upload_f(5, 1, ypos);
    lip_loss_config cfg = lip_loss_config_default(LIP_LOSS_KR);
    lip_loss *kr = NULL;
    REQUIRE_OK(lip_loss_create(ctx, &cfg, &kr));
    float vn = read1(kr, tn, tf), vp = read1(kr, tp, tf);
    CHECK(isfinite(vn) && isfinite(vp));
    CHECK_NEAR(vn, -0.2, 1e-6); /* 0 − mean(f) */
    CHECK_NEAR(vp, 0.2, 1e-6);  /* mean(f) − 0 */
    size_t gs[2] = {5, 1};
    lip_tensor *g = test_sentinel(ctx, LIP_FLOAT32, 2, gs);
    CHECK_OK(lip_loss_backward(kr, tn, tf, g));
    float gh[5];
    test_read(g, gh);
    for (int i = 0; i < 5; i++) CHECK(isfinite(gh[i]) && fabs(gh[i] + 0.2) < 1e-6);
    lip_loss_free(kr);
    lip_tensor_free(tf);
    lip_tensor_free(tn);
    lip_tensor_free(tp);
    lip_tensor_free(g);

    /* CategoricalHinge: tied maxima share the gradient; relu'(0) = 0 in the hinge */
    float fc[8] = {2, 1, 1, 0, /* row 2: */ 0.5f, 3, -1, 3}, yc[8] = {1, 0, 0, 0, 1, 0, 0, 0};
    lip_tensor *tfc = upload_f(2, 4, fc), *tyc = upload_f(2, 4, yc);
    cfg = gcfg(LIP_LOSS_CATEGORICAL_HINGE, LIP_REDUCTION_SUM, 0, 3, 1);
    lip_loss *chl = NULL;
    REQUIRE_OK(lip_loss_create(ctx, &cfg, &chl));
    size_t gs2[2] = {2, 4};
    lip_tensor *g2 = test_sentinel(ctx, LIP_FLOAT32, 2, gs2);
    CHECK_NEAR(read1(chl, tyc, tfc), 2 + 5.5, 1e-6);
    CHECK_OK(lip_loss_backward(chl, tyc, tfc, g2));
    float gc[8];
    test_read(g2, gc);
    float want[8] = {-1, 0.5f, 0.5f, 0, -1, 0.5f, 0, 0.5f};
    for (int e = 0; e < 8; e++) CHECK_NEAR(gc[e], want[e], 1e-7);
    lip_loss_free(chl);
    float fh[2] = {0.5f, -0.5f}, yh[2] = {1, 0}; /* exactly at the margin m/2 = 0.5 */
    lip_tensor *tfh = upload_f(2, 1, fh), *tyh = upload_f(2, 1, yh);
    cfg = gcfg(LIP_LOSS_HINGE_MARGIN, LIP_REDUCTION_SUM, 0, 1, 1);
    lip_loss *hl = NULL;
    REQUIRE_OK(lip_loss_create(ctx, &cfg, &hl));
    size_t gs3[2] = {2, 1};
    lip_tensor *g3 = test_sentinel(ctx, LIP_FLOAT32, 2, gs3);
    CHECK_OK(lip_loss_backward(hl, tyh, tfh, g3));
    float gh3[2];
    test_read(g3, gh3);
    CHECK(gh3[0] == 0.0f && gh3[1] == 0.0f);
    lip_loss_free(hl);
    lip_tensor_free(tfc);
    lip_tensor_free(tyc);
    lip_tensor_free(g2);
    lip_tensor_free(tfh);
    lip_tensor_free(tyh);
    lip_tensor_free(g3);

    /* int32 labels give identical bits; repeated calls too (fixed reduction order); set_param */
    size_t B = 97, C = 7;
    float *ff = test_falloc(B * C), *yf = test_falloc(B * C);
    int32_t *yi = calloc(B * C, sizeof *yi);
    if (!yi) exit(1);
    test_fill_uniform(&rng, ff, B * C, -3, 3);
    make_labels(LIP_LOSS_MULTICLASS_HKR, B, C, 1, yf, yi);
    lip_tensor *a = upload_f(B, C, ff), *lf = upload_labels(LIP_LOSS_MULTICLASS_HKR, B, C, yf, yi, 0),
               *li = upload_labels(LIP_LOSS_MULTICLASS_HKR, B, C, yf, yi, 1);
    cfg = gcfg(LIP_LOSS_MULTICLASS_HKR, LIP_REDUCTION_MEAN, 3, 1, 1);
    lip_loss *l3 = NULL, *l7 = NULL;
    REQUIRE_OK(lip_loss_create(ctx, &cfg, &l3));
    float v1 = read1(l3, lf, a), v2 = read1(l3, li, a), v3 = read1(l3, lf, a);
    CHECK(v1 == v2 && v1 == v3);
    cfg.alpha = 7;
    REQUIRE_OK(lip_loss_create(ctx, &cfg, &l7));
    CHECK_OK(lip_loss_set_param(l3, "alpha", 7));
    float p;
    CHECK_OK(lip_loss_get_param(l3, "alpha", &p));
    CHECK(p == 7.0f);
    CHECK(read1(l3, lf, a) == read1(l7, lf, a));
    lip_loss_config back;
    CHECK_OK(lip_loss_get_config(l3, &back));
    CHECK(back.alpha == 7.0f && back.kind == LIP_LOSS_MULTICLASS_HKR);
    lip_loss_free(l3);
    lip_loss_free(l7);
    lip_tensor_free(a);
    lip_tensor_free(lf);
    lip_tensor_free(li);
    free(ff);
    free(yf);
    free(yi);
}

/* ---- errors -------------------------------------------------------------------------------------- */

static void test_errors(void) {
    /* configs */
    lip_loss *loss = NULL;
    lip_loss_config cfg = lip_loss_config_default(LIP_LOSS_HKR);
    cfg.alpha = -1;
    CHECK_STATUS(lip_loss_create(ctx, &cfg, &loss), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "alpha");
    CHECK(loss == NULL);
    cfg = lip_loss_config_default(LIP_LOSS_TAU_CATEGORICAL_CROSSENTROPY);
    cfg.tau = 0;
    CHECK_STATUS(lip_loss_create(ctx, &cfg, &loss), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "tau must be finite and > 0");
    cfg = lip_loss_config_default(LIP_LOSS_MULTICLASS_SOFT_HKR);
    cfg.alpha_mean = 1.5f;
    CHECK_STATUS(lip_loss_create(ctx, &cfg, &loss), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "alpha_mean");
    cfg = lip_loss_config_default(LIP_LOSS_MULTICLASS_SOFT_HKR);
    cfg.alpha = 0;
    CHECK_STATUS(lip_loss_create(ctx, &cfg, &loss), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "MulticlassSoftHKR: alpha must be > 0");
    cfg = lip_loss_config_default(LIP_LOSS_HINGE_MARGIN);
    cfg.min_margin = NAN;
    CHECK_STATUS(lip_loss_create(ctx, &cfg, &loss), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "min_margin");
    cfg = lip_loss_config_default(LIP_LOSS_MSE);
    cfg.reduction = (lip_reduction)7;
    CHECK_STATUS(lip_loss_create(ctx, &cfg, &loss), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "reduction");
    cfg = lip_loss_config_default(LIP_LOSS_MSE);
    cfg.multi_gpu = 1;
    CHECK_STATUS(lip_loss_create(ctx, &cfg, &loss), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "multi_gpu");
    cfg = lip_loss_config_default((lip_loss_kind)99);
    CHECK_STATUS(lip_loss_create(ctx, &cfg, &loss), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "unknown kind");
    CHECK_STATUS(lip_loss_create(ctx, NULL, &loss), LIP_ERR_NULL);
    CHECK_STATUS(lip_loss_create(NULL, &cfg, &loss), LIP_ERR_NULL);
    lip_loss_kind k;
    CHECK_OK(lip_loss_kind_from_name("MulticlassSoftHKR", &k));
    CHECK(k == LIP_LOSS_MULTICLASS_SOFT_HKR);
    CHECK_STATUS(lip_loss_kind_from_name("Hinge", &k), LIP_ERR_INVALID_ARGUMENT);
    CHECK(strcmp(lip_loss_kind_name((lip_loss_kind)42), "unknown") == 0);

    /* params */
    cfg = lip_loss_config_default(LIP_LOSS_KR);
    REQUIRE_OK(lip_loss_create(ctx, &cfg, &loss));
    CHECK_STATUS(lip_loss_set_param(loss, "alpha", 2), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "KR has no parameter 'alpha'");
    CHECK_STATUS(lip_loss_set_param(loss, NULL, 2), LIP_ERR_NULL);
    lip_loss_free(loss);
    cfg = lip_loss_config_default(LIP_LOSS_MULTICLASS_HKR);
    REQUIRE_OK(lip_loss_create(ctx, &cfg, &loss));
    CHECK_STATUS(lip_loss_set_param(loss, "min_margin", -1), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "min_margin must be finite and > 0");
    CHECK_OK(lip_loss_set_param(loss, "alpha", INFINITY));

    /* shapes */
    float f12[12] = {0}, y12[12] = {0};
    for (int i = 0; i < 4; i++) y12[i * 3] = 1;
    lip_tensor *f = upload_f(4, 3, f12), *y = upload_f(4, 3, y12), *y2 = upload_f(3, 4, y12), *o = new_out(1),
               *o4 = new_out(4);
    size_t s3[3] = {2, 2, 3}, s43[2] = {4, 3};
    lip_tensor *f3 = NULL, *g = test_sentinel(ctx, LIP_FLOAT32, 2, s43), *yint = NULL;
    REQUIRE_OK(lip_tensor_create(ctx, LIP_FLOAT32, 3, s3, &f3));
    CHECK_STATUS(lip_loss_forward(loss, y2, f, o), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "MulticlassHKR forward: y_true (3, 4) must have the shape of y_pred (4, 3)");
    CHECK_STATUS(lip_loss_forward(loss, y, f3, o), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "y_pred (2, 2, 3) must be (batch, outputs)");
    CHECK_STATUS(lip_loss_forward(loss, y, f, o4), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "out (4,) must hold 1 element");
    CHECK_STATUS(lip_loss_backward(loss, y, f, o4), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "grad (4,) must hold 12 elements");
    CHECK_STATUS(lip_loss_forward(loss, y, f, NULL), LIP_ERR_NULL);
    CHECK_STATUS(lip_loss_forward(loss, NULL, f, o), LIP_ERR_NULL);
    CHECK_MESSAGE(ctx, "y_true is NULL");
    CHECK_STATUS(lip_loss_backward(loss, y, f, (lip_tensor *)f), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "must not share its buffer");
    CHECK_STATUS(lip_loss_forward_backward(loss, y, f, g, g), LIP_ERR_SHAPE);
    lip_loss_free(loss);
    /* one output for a multiclass loss */
    lip_tensor *f1 = upload_f(12, 1, f12), *y1 = upload_f(12, 1, y12);
    REQUIRE_OK(lip_loss_create(ctx, &cfg, &loss));
    CHECK_STATUS(lip_loss_forward(loss, y1, f1, o), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "needs at least 2 classes");
    lip_loss_free(loss);
    /* sparse labels must be int32 indices */
    cfg = lip_loss_config_default(LIP_LOSS_TAU_SPARSE_CATEGORICAL_CROSSENTROPY);
    REQUIRE_OK(lip_loss_create(ctx, &cfg, &loss));
    CHECK_STATUS(lip_loss_forward(loss, y, f, o), LIP_ERR_DTYPE);
    CHECK_MESSAGE(ctx, "int32 class indices");
    size_t s4[1] = {4};
    REQUIRE_OK(lip_tensor_create(ctx, LIP_INT32, 1, s4, &yint));
    int32_t idx[4] = {0, 2, 5, 1};
    REQUIRE_OK(lip_tensor_upload(yint, idx, sizeof idx));
    CHECK_OK(lip_loss_forward(loss, yint, f, o));
    float v;
    test_read(o, &v);
    CHECK(isfinite(v));
    /* the out-of-range index shows in the device record and in the host check */
    CHECK_STATUS(lip_loss_label_errors(loss), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "class index outside");
    CHECK_OK(lip_loss_label_errors(loss)); /* cleared */
    CHECK_STATUS(lip_loss_check_labels(loss, yint, f), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "y_true row 2 holds class index 5, outside [0, 3)");
    lip_loss_free(loss);

    /* label values: host check (names the row) and device record */
    struct {
        lip_loss_kind kind;
        size_t B, C;
        float y[8];
        const char *host, *device;
    } bad[] = {{LIP_LOSS_KR, 4, 1, {1, 0, 0.5f, 1}, "y_true[2, 0] = 0.5; this loss takes binary labels",
                "outside {-1, 0, 1}"},
               {LIP_LOSS_MULTICLASS_HINGE, 2, 4, {1, 0, 0, 1, 0, 1, 0, 0}, "row 0 has 2 positive entries",
                "without exactly one positive"},
               {LIP_LOSS_MULTI_MARGIN, 2, 4, {0, 0, 0, 0, 0, 1, 0, 0}, "row 0 has 0 positive entries",
                "without exactly one positive"},
               {LIP_LOSS_TAU_CATEGORICAL_CROSSENTROPY, 2, 4, {0.5f, 0.3f, 0, 0, 0, 1, 0, 0}, "row 0 sums to 0.8",
                "probability row"},
               {LIP_LOSS_CATEGORICAL_CROSSENTROPY, 2, 4, {1, 0, 0, 0, 0, 1, -1, 1}, "y_true[1, 2] = -1",
                "probability row"}};
    for (size_t t = 0; t < sizeof bad / sizeof *bad; t++) {
        cfg = lip_loss_config_default(bad[t].kind);
        REQUIRE_OK(lip_loss_create(ctx, &cfg, &loss));
        float fb[8] = {0.1f, -0.2f, 0.3f, 0.4f, 0.5f, 0.6f, 0.7f, 0.8f};
        lip_tensor *tf = upload_f(bad[t].B, bad[t].C, fb), *ty = upload_f(bad[t].B, bad[t].C, bad[t].y);
        CHECK_STATUS(lip_loss_check_labels(loss, ty, tf), LIP_ERR_INVALID_ARGUMENT);
        CHECK_MESSAGE(ctx, bad[t].host);
        CHECK_OK(lip_loss_label_errors(loss)); /* nothing ran yet */
        CHECK_OK(lip_loss_forward(loss, ty, tf, o));
        CHECK_STATUS(lip_loss_label_errors(loss), LIP_ERR_INVALID_ARGUMENT);
        CHECK_MESSAGE(ctx, bad[t].device);
        lip_tensor_free(tf);
        lip_tensor_free(ty);
        lip_loss_free(loss);
    }
    /* good labels pass the host check; multi_gpu labels only need their signs */
    cfg = lip_loss_config_default(LIP_LOSS_MULTICLASS_KR);
    REQUIRE_OK(lip_loss_create(ctx, &cfg, &loss));
    CHECK_OK(lip_loss_check_labels(loss, y, f));
    lip_loss_free(loss);

    /* process_labels_multi_gpu */
    CHECK_STATUS(lip_loss_process_labels_multi_gpu(ctx, y, o), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "element count of y_true");
    CHECK_STATUS(lip_loss_process_labels_multi_gpu(ctx, y, (lip_tensor *)y), LIP_ERR_SHAPE);
    CHECK_STATUS(lip_loss_process_labels_multi_gpu(ctx, NULL, o), LIP_ERR_NULL);

    /* NULL-safe free and NULL handles */
    lip_loss_free(NULL);
    CHECK_STATUS(lip_loss_forward(NULL, y, f, o), LIP_ERR_NULL);
    CHECK_STATUS(lip_loss_backward(NULL, y, f, g), LIP_ERR_NULL);

    /* the context refuses to go while a loss lives */
    cfg = lip_loss_config_default(LIP_LOSS_KR);
    REQUIRE_OK(lip_loss_create(ctx, &cfg, &loss));
    lip_tensor *all[] = {f, y, y2, o, o4, f3, g, yint, f1, y1};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) lip_tensor_free(all[i]);
    CHECK_STATUS(lip_context_free(ctx), LIP_ERR_BUSY);
    lip_loss_free(loss);
}

/* ---- golden reference cases (tests/reference/loss_*), through the shared runner ------------------ */

static int run_case(const char *dir) {
    case_file c;
    if (!refcase_open(dir, "loss", &c)) return 0;
    int failures = test_failures;
    refcase_track_begin(&c); /* the runner must use every param, variant, input and output line */
    int ok = refrun_loss(ctx, dir, &c) == 1 && failures == test_failures;
    if (ok) ok = refcase_track_end(&c) == 0;
    refcase_track_discard();
    case_free(&c);
    return ok && failures == test_failures;
}

int main(int argc, char **argv) {
    rng = test_seed(20240611);
    ctx = test_context();
    const char *root = argc > 1 ? argv[1] : LIPCL_SOURCE_DIR "/tests/reference";
    if (refcase_is_case_folder(root)) {
        refcase_expect_pass(root, run_case(root));
        test_context_free(ctx);
        return test_finish("test_losses");
    }
    static const char *const prefixes[] = {"loss_", NULL};
    int ran = refcase_for_each(root, prefixes, 1, run_case);
    printf("%d loss reference cases passed\n", ran);
    CHECK(ran >= 17);
    test_golden_table();
    test_soft_hkr_state();
    test_special_values();
    test_multi_gpu();
    test_random_all_kinds();
    test_errors();
    test_context_free(ctx);
    return test_finish("test_losses");
}
