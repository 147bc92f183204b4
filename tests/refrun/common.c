/* lipcl tests — helpers shared by the golden-case runners: inputs as device tensors, statuses reported
 * with the case instead of exiting, layer parameters by name, normalizer iteration counters. */
#include "lipschitz/normalizers.h"
#include "refrun.h"

int refrun_ok(const case_file *c, lip_context *ctx, lip_status st, const char *what) {
    if (st == LIP_OK) return 1;
    fprintf(stderr, "%s: %s returned %s: %s\n", c->dir, what, lip_status_name(st),
            ctx ? lip_context_last_error(ctx) : "");
    test_failures++;
    return 0;
}

lip_tensor *refrun_tensor(lip_context *ctx, int ndim, const size_t *shape) {
    lip_tensor *t = NULL;
    if (lip_tensor_create(ctx, LIP_FLOAT32, ndim, shape, &t) != LIP_OK || lip_tensor_fill(t, 12345.0) != LIP_OK) {
        fprintf(stderr, "cannot make a tensor: %s\n", lip_context_last_error(ctx));
        test_failures++;
        lip_tensor_free(t);
        return NULL;
    }
    return t;
}

lip_tensor *refrun_upload(lip_context *ctx, const case_file *c, const npy_array *a, const char *what) {
    size_t one = 1;
    lip_tensor *t = NULL;
    lip_status st = lip_tensor_create(ctx, LIP_FLOAT32, a->ndim ? a->ndim : 1, a->ndim ? a->shape : &one, &t);
    if (st == LIP_OK) st = lip_tensor_upload(t, a->data, a->count * sizeof(float));
    if (!refrun_ok(c, ctx, st, what)) {
        lip_tensor_free(t);
        return NULL;
    }
    return t;
}

lip_tensor *refrun_layer_param(lip_layer *l, const char *name, int grad) {
    for (size_t i = 0; i < lip_layer_param_count(l); i++) {
        lip_tensor *v = NULL, *g = NULL;
        const char *n = NULL;
        if (lip_layer_param(l, i, &v, &g, &n) == LIP_OK && n && strcmp(n, name) == 0) return grad ? g : v;
    }
    return NULL;
}

int refrun_iterations(lip_context *ctx, const case_file *c, const lip_tensor *state) {
    int n = -1;
    if (!state) {
        refcase_fail(c->dir, "no iteration counter for", "n_iter");
        return -1;
    }
    if (!refrun_ok(c, ctx, lip_normalizer_iterations(ctx, state, &n), "lip_normalizer_iterations")) return -1;
    return n;
}

void refrun_check_stopping(const case_file *c, const char *name, const double *ref, int it) {
    char key[96];
    snprintf(key, sizeof key, "result.%s", name);
    const char *v = case_get(c, key);
    if (!v) return;
    refcase_mark(c, key);
    double vals[LIP_NORMALIZER_MAX_ITER + 1];
    int nv = case_numbers(v, vals, LIP_NORMALIZER_MAX_ITER + 1);
    test_checks++;
    if (nv != it + 1) {
        fprintf(stderr, "%s: %s has %d values, the host reference tested its loop %d times\n", c->dir, key, nv,
                it + 1);
        test_failures++;
        return;
    }
    for (int e = 0; e < nv; e++)
        if (!(fabs(ref[e] - vals[e]) <= 1e-9 + 1e-7 * fabs(vals[e]))) {
            fprintf(stderr, "%s: %s[%d] = %.12g, the host reference %.12g\n", c->dir, key, e, vals[e], ref[e]);
            test_failures++;
            return;
        }
}
