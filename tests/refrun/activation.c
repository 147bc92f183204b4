/* lipcl tests — golden cases of category activation: GroupSort(n) / FullSort, MaxMin and Householder ops,
 * forward and gradients (x and θ), with each output's own settings (param.* overlaid by variant.*). */
#include "layers/activations.h"
#include "refrun.h"

static const char *const params[] = {"activation", "n", "k_coef_lip", "data_format", "inputs_tie_free", NULL};
static const char *const inputs[] = {"x", "theta", "g", NULL};
static const char *const outputs[] = {"y", "grad_x", "grad_theta", NULL};

enum { ACT_GROUPSORT, ACT_MAXMIN, ACT_HOUSEHOLDER };
static const char *const activations[] = {"GroupSort", "MaxMin", "Householder", NULL};
static const char *const formats[] = {"channels_last", NULL};

typedef struct act_settings {
    int kind;
    size_t n; /* GroupSort group size, 0 = FullSort */
    float k;
} act_settings;

/* The settings of output `target`; 1 when valid and consistent with the inputs, else 0 (reported). */
static int settings(const case_file *c, const char *target, const npy_array *x, int have_theta, act_settings *s) {
    const char *dir = c->dir;
    int fmt = 0, tie_free = 0, none = 0;
    long n = 0;
    double k = 1.0;
    if (refcase_token(c, target, "activation", 1, activations, &s->kind) != 1) return 0;
    if (refcase_token(c, target, "data_format", 1, formats, &fmt) != 1) return 0;
    int has_k = refcase_float(c, target, "k_coef_lip", 0, &k);
    int has_n = refcase_int_or_none(c, target, "n", 0, &n, &none);
    int has_tf = refcase_bool(c, target, "inputs_tie_free", 0, &tie_free);
    if (has_k < 0 || has_n < 0 || has_tf < 0) return 0;
    if (s->kind == ACT_HOUSEHOLDER) {
        /* deel-lip's Householder has no k: a k other than 1 would be silently ignored by deel-lip too */
        if (has_k && k != 1.0) return refcase_fail(dir, "k_coef_lip other than 1 given for", "Householder") == 0;
        k = 1.0;
    } else if (has_k != 1) {
        return refcase_fail(dir, "missing param", "k_coef_lip") == 0;
    }
    if (!(k > 0)) return refcase_fail(dir, "k_coef_lip must be > 0 in", target) == 0;
    s->k = (float)k;
    s->n = 0;
    if (s->kind == ACT_GROUPSORT) {
        if (has_n != 1) return refcase_fail(dir, "missing param", "n") == 0;
        if (!none && n < 1) return refcase_fail(dir, "GroupSort n must be >= 1 or none in", target) == 0;
        s->n = none ? 0 : (size_t)n;
    } else if (has_n) {
        return refcase_fail(dir, "param n given for", activations[s->kind]) == 0;
    }
    if (have_theta != (s->kind == ACT_HOUSEHOLDER))
        return refcase_fail(dir, have_theta ? "input theta given for" : "missing input theta for",
                            activations[s->kind]) == 0;
    if (x->ndim < 1 || x->ndim > 4) return refcase_fail(dir, "x must have 1 to 4 axes in", target) == 0;
    if (tie_free) {
        /* the case promises unique gradients: no zero input, no tie inside a sorted group */
        const float *xv = x->data;
        size_t ch = x->shape[x->ndim - 1], grp = s->kind != ACT_GROUPSORT ? 1 : (s->n == 0 || s->n > ch) ? ch : s->n;
        for (size_t e = 0; e < x->count; e++) {
            if (xv[e] == 0.0f) return refcase_fail(dir, "inputs_tie_free = true but x has a", "0") == 0;
            for (size_t j = e - e % grp; j < e; j++)
                if (xv[j] == xv[e]) return refcase_fail(dir, "inputs_tie_free = true but x has a", "tie") == 0;
        }
    }
    return 1;
}

/* Forward and backward of one output's settings; the tensor named `target` compared. */
static void run_target(lip_context *ctx, const case_file *c, const char *target, const act_settings *s,
                       const npy_array *x, const npy_array *g, const npy_array *theta) {
    size_t oshape[4];
    memcpy(oshape, x->shape, sizeof oshape);
    if (s->kind == ACT_MAXMIN) oshape[x->ndim - 1] *= 2;
    size_t ocount = x->count * (s->kind == ACT_MAXMIN ? 2 : 1);
    if (g->count != ocount) {
        refcase_fail(c->dir, "g does not have the output's size for", target);
        return;
    }
    lip_tensor *xt = refrun_upload(ctx, c, x, "input x"), *gt = refrun_tensor(ctx, x->ndim, oshape);
    lip_tensor *yt = refrun_tensor(ctx, x->ndim, oshape), *dxt = refrun_tensor(ctx, x->ndim, x->shape);
    lip_tensor *pt = theta->data ? refrun_upload(ctx, c, theta, "input theta") : NULL;
    lip_tensor *dpt = theta->data ? refrun_tensor(ctx, theta->ndim, theta->shape) : NULL;
    int ok = xt && gt && yt && dxt && (!theta->data || (pt && dpt));
    ok = ok && refrun_ok(c, ctx, lip_tensor_upload(gt, g->data, g->count * sizeof(float)), "upload g");
    if (ok) {
        lip_status fw = LIP_OK, bw = LIP_OK;
        switch (s->kind) {
        case ACT_GROUPSORT:
            fw = lip_groupsort_forward(ctx, s->n, s->k, xt, yt, NULL);
            bw = fw ? fw : lip_groupsort_backward(ctx, s->n, s->k, xt, NULL, gt, dxt);
            break;
        case ACT_MAXMIN:
            fw = lip_maxmin_forward(ctx, s->k, xt, yt);
            bw = fw ? fw : lip_maxmin_backward(ctx, s->k, xt, gt, dxt);
            break;
        default:
            fw = lip_householder_forward(ctx, pt, xt, yt);
            bw = fw ? fw : lip_householder_backward(ctx, pt, xt, gt, dxt, dpt, 0);
            break;
        }
        ok = refrun_ok(c, ctx, fw, "forward") && refrun_ok(c, ctx, bw, "backward");
    }
    if (ok) {
        const lip_tensor *src = !strcmp(target, "y") ? yt : !strcmp(target, "grad_x") ? dxt : dpt;
        refcase_check_output(c, target, src); /* grad_theta without θ: NULL, reported */
    }
    lip_tensor_free(xt), lip_tensor_free(gt), lip_tensor_free(yt), lip_tensor_free(dxt);
    lip_tensor_free(pt), lip_tensor_free(dpt);
}

int refrun_activation(lip_context *ctx, const char *dir, const case_file *c) {
    const refcase_keys keys = {params, inputs, outputs};
    if (refcase_validate(c, &keys) != 0) return 0;
    int before = test_failures;
    npy_array ax, ag, at;
    float *x = refcase_array(c, "input", "x", &ax), *g = refcase_array(c, "input", "g", &ag);
    refcase_array(c, "input", "theta", &at);
    if (case_get(c, "input.theta") && !at.data) goto done; /* unreadable: reported */
    if (!x || !g) {
        refcase_fail(dir, "missing or unreadable input among", "x, g");
        goto done;
    }
    for (size_t i = 0; i < c->count; i++) {
        if (strncmp(c->entries[i].key, "output.", 7) != 0) continue;
        const char *target = c->entries[i].key + 7;
        act_settings s;
        if (!settings(c, target, &ax, at.data != NULL, &s)) break;
        run_target(ctx, c, target, &s, &ax, &ag, &at);
    }
done:
    npy_free(&ax), npy_free(&ag), npy_free(&at);
    return test_failures == before;
}
