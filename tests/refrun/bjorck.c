/* lipcl tests — golden cases of category bjorck: the Björck op with each output's own settings (eps rule
 * or a fixed count), its singular values, the iteration count exactly, the recorded stopping values. */
#include "hostref_lipschitz.h"
#include "lipschitz/normalizers.h"
#include "refrun.h"

static const char *const params[] = {"beta", "eps", "maxiter", "stopping", NULL};
static const char *const inputs[] = {"w", NULL};

/* Outputs: w or sv, with suffix "_eps" or "_n" + digits. */
static int eps_or_n(const char *name, const char *base) {
    static const char *const eps[] = {"_eps", NULL};
    return refcase_name_is(name, base, eps);
}
static int input_ok(const char *name) { return strcmp(name, "w") == 0; }
static int output_ok(const char *name) { return eps_or_n(name, "w") || eps_or_n(name, "sv"); }

/* Björck of W (rows × cols) with `s` on the device: the result in *out (may be NULL), the count. */
static int device_bjorck(lip_context *ctx, const case_file *c, const refcase_norm *s, const npy_array *w,
                         float *out, int *iters) {
    size_t rows = w->shape[0], cols = w->shape[1], two = LIP_NORMALIZER_STATE_INTS;
    size_t wsn = lip_bjorck_workspace_floats(rows, cols, s->maxiter);
    lip_bjorck_config cfg = {(float)s->beta, (float)s->eps, s->maxiter,
                             s->fixed ? LIP_STOPPING_FIXED : LIP_STOPPING_EPS};
    lip_tensor *tw = refrun_tensor(ctx, 2, w->shape), *to = refrun_tensor(ctx, 2, w->shape);
    lip_tensor *ws = refrun_tensor(ctx, 1, &wsn), *st = NULL;
    int ok = tw && to && ws && refrun_ok(c, ctx, lip_tensor_create(ctx, LIP_INT32, 1, &two, &st), "state");
    ok = ok && refrun_ok(c, ctx, lip_tensor_upload(tw, w->data, w->count * sizeof(float)), "upload w");
    ok = ok && refrun_ok(c, ctx, lip_bjorck_forward(ctx, &cfg, tw, to, st, ws), "lip_bjorck_forward");
    if (ok && out) ok = refrun_ok(c, ctx, lip_tensor_download(to, out, w->count * sizeof(float)), "download");
    if (ok) *iters = refrun_iterations(ctx, c, st);
    lip_tensor_free(tw), lip_tensor_free(to), lip_tensor_free(ws), lip_tensor_free(st);
    return ok;
}

int refrun_bjorck(lip_context *ctx, const char *dir, const case_file *c) {
    const refcase_keys keys = {params, inputs, NULL};
    if (refcase_validate_with(c, &keys, output_ok) != 0) return 0;
    int before = test_failures;
    refcase_norm base = {"bjorck", 1, 0.5, 1e-3, 15, 0, 0, 0, 0, 0};
    refcase_norm_validate(c, &base, input_ok, output_ok); /* every setting given */
    npy_array aw;
    float *wf = refcase_array(c, "input", "w", &aw);
    if (!wf || aw.ndim != 2) {
        refcase_fail(dir, "missing, unreadable or not a matrix:", "input.w");
        npy_free(&aw);
        return 0;
    }
    size_t rows = aw.shape[0], cols = aw.shape[1], wn = aw.count, k = rows < cols ? rows : cols;
    double *w = test_to_double(wf, wn);
    for (size_t i = 0; i < c->count; i++) {
        const char *key = c->entries[i].key;
        if (strncmp(key, "output.", 7) != 0) continue;
        const char *name = key + 7;
        refcase_norm s;
        if (refcase_norm_target(c, &base, name, &s) != 0) continue;
        float *out = test_falloc(wn);
        int iters = 0;
        if (device_bjorck(ctx, c, &s, &aw, out, &iters)) {
            size_t en = 0, eshape[8];
            int end = 0;
            double *expected = refcase_doubles(c, key, &en, eshape, &end);
            if (expected && name[0] == 'w') {
                if (en != wn) refcase_fail(dir, "expected matrix of another size:", name);
                else refcase_compare(dir, name, out, expected, wn);
            } else if (expected) { /* singular values of the device result, in double on the host */
                double *od = test_to_double(out, wn), *sv = hr_alloc(k);
                hr_singular_values(od, rows, cols, sv);
                float *svf = test_falloc(k);
                for (size_t e = 0; e < k; e++) svf[e] = (float)sv[e];
                if (en != k) refcase_fail(dir, "expected singular values of another count:", name);
                else refcase_compare(dir, name, svf, expected, k);
                free(od), free(sv), free(svf);
            }
            free(expected);
        }
        free(out);
    }
    for (size_t i = 0; i < c->count; i++) {
        const char *key = c->entries[i].key;
        if (strncmp(key, "result.", 7) != 0) continue;
        const char *name = key + 7;
        refcase_norm s;
        if (refcase_norm_target(c, &base, name, &s) != 0) continue;
        if (strncmp(name, "n_iter", 6) == 0) {
            int iters = -1;
            if (device_bjorck(ctx, c, &s, &aw, NULL, &iters)) refcase_check_iterations(c, name, iters);
        } else if (strncmp(name, "stopping_rule_values", 20) == 0) {
            /* the host reference in double under the target's settings tests its loop as recorded */
            double ref[LIP_NORMALIZER_MAX_ITER + 1];
            if (s.maxiter < 0 || s.maxiter > LIP_NORMALIZER_MAX_ITER) {
                refcase_fail(dir, "maxiter out of range for", key);
                continue;
            }
            double *tmp = hr_alloc(wn);
            int it = hr_bjorck(w, rows, cols, s.beta, s.eps, s.maxiter, s.fixed, tmp, ref);
            refrun_check_stopping(c, name, ref, it);
            free(tmp);
        }
    }
    free(w);
    npy_free(&aw);
    return test_failures == before;
}
