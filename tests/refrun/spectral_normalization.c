/* lipcl tests — golden cases of category spectral_normalization: the power-iteration op with each
 * output's own settings (σ, u, W/(σ + eps), W/σ), on the 4-D kernel when the case gives one, the
 * iteration count exactly and the recorded stopping values. */
#include "hostref_lipschitz.h"
#include "lipschitz/normalizers.h"
#include "refrun.h"

static const char *const params[] = {"eps", "maxiter", "stopping", NULL};
static const char *const inputs[] = {"w", "u0", "kernel4d", NULL};

/* name is `base` or `base` + "_n" + digits. */
static int base_or_n(const char *name, const char *base) {
    static const char *const bare[] = {"", NULL};
    return refcase_name_is(name, base, bare);
}
static int input_ok(const char *name) { return !strcmp(name, "w") || !strcmp(name, "u0") || !strcmp(name, "kernel4d"); }
static int output_ok(const char *name) {
    return base_or_n(name, "sigma") || base_or_n(name, "u") || base_or_n(name, "w_bar") ||
           base_or_n(name, "w_over_sigma");
}

/* What one device run gives back. */
typedef struct pi_result {
    float *u, sigma, *w_bar;
    int iters;
} pi_result;

/* The power iteration of W (given `shape`, viewed as rows × cols) from u0 with settings s on the device. */
static int device_power_iteration(lip_context *ctx, const case_file *c, const refcase_norm *s, int ndim,
                                  const size_t *shape, const npy_array *w, const npy_array *u0, pi_result *r) {
    size_t cols = shape[ndim - 1], rows = w->count / cols, ushape[2] = {1, cols}, one = 1;
    size_t two = LIP_NORMALIZER_STATE_INTS, wsn = lip_power_iteration_workspace_floats(rows, cols);
    lip_power_iteration_config cfg = {(float)s->eps, s->maxiter, s->fixed ? LIP_STOPPING_FIXED : LIP_STOPPING_EPS};
    lip_tensor *tw = refrun_tensor(ctx, ndim, shape), *tu = refrun_tensor(ctx, 2, ushape);
    lip_tensor *sg = refrun_tensor(ctx, 1, &one), *wb = refrun_tensor(ctx, ndim, shape);
    lip_tensor *ws = refrun_tensor(ctx, 1, &wsn), *st = NULL;
    int ok = tw && tu && sg && wb && ws && refrun_ok(c, ctx, lip_tensor_create(ctx, LIP_INT32, 1, &two, &st), "state");
    ok = ok && refrun_ok(c, ctx, lip_tensor_upload(tw, w->data, w->count * sizeof(float)), "upload w");
    ok = ok && refrun_ok(c, ctx, lip_tensor_upload(tu, u0->data, cols * sizeof(float)), "upload u0");
    ok = ok && refrun_ok(c, ctx, lip_power_iteration_forward(ctx, &cfg, tw, tu, sg, wb, st, ws),
                         "lip_power_iteration_forward");
    ok = ok && refrun_ok(c, ctx, lip_tensor_download(tu, r->u, cols * sizeof(float)), "download u");
    ok = ok && refrun_ok(c, ctx, lip_tensor_download(sg, &r->sigma, sizeof(float)), "download sigma");
    ok = ok && refrun_ok(c, ctx, lip_tensor_download(wb, r->w_bar, w->count * sizeof(float)), "download w_bar");
    if (ok) r->iters = refrun_iterations(ctx, c, st);
    lip_tensor_free(tw), lip_tensor_free(tu), lip_tensor_free(sg), lip_tensor_free(wb), lip_tensor_free(ws);
    lip_tensor_free(st);
    return ok;
}

int refrun_spectral_normalization(lip_context *ctx, const char *dir, const case_file *c) {
    const refcase_keys keys = {params, inputs, NULL};
    if (refcase_validate_with(c, &keys, output_ok) != 0) return 0;
    int before = test_failures;
    refcase_norm base = {"spectral_normalization", 0, 0.0, 1e-3, 10, 0, 0, 0, 0, 0};
    refcase_norm_validate(c, &base, input_ok, output_ok); /* every setting given */
    npy_array aw, au, ak;
    float *wf = refcase_array(c, "input", "w", &aw), *u0f = refcase_array(c, "input", "u0", &au);
    float *k4 = refcase_array(c, "input", "kernel4d", &ak);
    double *w = NULL, *u0 = NULL;
    if (!wf || !u0f || aw.ndim != 2 || au.count != aw.shape[1] || (case_get(c, "input.kernel4d") && !k4)) {
        refcase_fail(dir, "missing, unreadable or misshapen input among", "w (rows, cols), u0 (1, cols), kernel4d");
        goto done;
    }
    /* With a 4-D kernel, run on it directly: the op must view it as (kh·kw·cin, cout) itself. */
    int ndim = 2;
    size_t shape[4] = {aw.shape[0], aw.shape[1], 1, 1};
    if (k4) {
        int same = ak.ndim == 4 && ak.count == aw.count && ak.shape[3] == aw.shape[1];
        for (size_t i = 0; same && i < aw.count; i++) same = k4[i] == wf[i];
        if (!same) {
            refcase_fail(dir, "kernel4d is not w with a 4-D shape:", "kernel4d");
            goto done;
        }
        ndim = 4;
        memcpy(shape, ak.shape, sizeof shape);
    }
    size_t rows = aw.shape[0], cols = aw.shape[1], wn = aw.count;
    w = test_to_double(wf, wn);
    u0 = test_to_double(u0f, cols);
    for (size_t i = 0; i < c->count; i++) {
        const char *key = c->entries[i].key;
        if (strncmp(key, "output.", 7) != 0) continue;
        const char *name = key + 7;
        refcase_norm s;
        if (refcase_norm_target(c, &base, name, &s) != 0) continue;
        pi_result r = {test_falloc(cols), 0.0f, test_falloc(wn), -1};
        size_t en = 0, eshape[8];
        int end = 0;
        double *expected = device_power_iteration(ctx, c, &s, ndim, shape, &aw, &au, &r)
                               ? refcase_doubles(c, key, &en, eshape, &end)
                               : NULL;
        if (expected) {
            size_t want = base_or_n(name, "sigma") ? 1 : base_or_n(name, "u") ? cols : wn;
            if (en != want) {
                refcase_fail(dir, "expected array of another size:", name);
            } else if (base_or_n(name, "sigma")) {
                refcase_compare(dir, name, &r.sigma, expected, 1);
            } else if (base_or_n(name, "u")) {
                refcase_compare(dir, name, r.u, expected, cols);
            } else if (base_or_n(name, "w_bar")) {
                refcase_compare(dir, name, r.w_bar, expected, wn);
            } else { /* w_over_sigma: W/σ from the device σ (the op itself returns deel-lip's W/(σ + eps)) */
                float *wos = test_falloc(wn);
                for (size_t e = 0; e < wn; e++) wos[e] = (float)(w[e] / (double)r.sigma);
                refcase_compare(dir, name, wos, expected, wn);
                free(wos);
            }
            free(expected);
        }
        free(r.u), free(r.w_bar);
    }
    /* Results: n_iter* exactly (device counter); stopping_rule_values* against the host reference. */
    for (size_t i = 0; i < c->count; i++) {
        const char *key = c->entries[i].key;
        if (strncmp(key, "result.", 7) != 0) continue;
        const char *name = key + 7;
        refcase_norm s;
        if (refcase_norm_target(c, &base, name, &s) != 0) continue;
        if (strncmp(name, "n_iter", 6) == 0) {
            pi_result r = {test_falloc(cols), 0.0f, test_falloc(wn), -1};
            if (device_power_iteration(ctx, c, &s, ndim, shape, &aw, &au, &r))
                refcase_check_iterations(c, name, r.iters);
            free(r.u), free(r.w_bar);
        } else if (base_or_n(name, "stopping_rule_values")) {
            double ref[LIP_NORMALIZER_MAX_ITER + 1];
            if (s.maxiter < 0 || s.maxiter > LIP_NORMALIZER_MAX_ITER) {
                refcase_fail(dir, "maxiter out of range for", key);
                continue;
            }
            int it = hr_power_iteration(w, rows, cols, u0, s.eps, s.maxiter, s.fixed, NULL, NULL, NULL, ref);
            refrun_check_stopping(c, name, ref, it);
        }
    }
done:
    free(w), free(u0);
    npy_free(&aw), npy_free(&au), npy_free(&ak);
    return test_failures == before;
}
