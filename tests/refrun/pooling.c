/* lipcl tests — golden cases of category pooling: the scaled L2-norm / average pooling ops (local and
 * global), forward and gradient, with each output's own settings (param.* overlaid by variant.*). */
#include "layers/pooling.h"
#include "refrun.h"

static const char *const params[] = {"layer",       "pool_size",     "strides", "padding", "k_coef_lip",
                                     "data_format", "eps_grad_sqrt", NULL};
static const char *const inputs[] = {"x", "g", NULL};
static const char *const outputs[] = {"y", "grad_x", NULL};

/* In the order of lip_pool_kind. */
static const char *const layers[] = {"ScaledL2NormPooling2D", "ScaledAveragePooling2D", "ScaledGlobalL2NormPooling2D",
                                     "ScaledGlobalAveragePooling2D", NULL};
static const char *const paddings[] = {"valid", "same", NULL}; /* in the order of lip_pool_padding */
static const char *const formats[] = {"channels_last", NULL};

/* Two positive ints of param `name` (required for the local kinds, refused for the global ones). */
static int two_sizes(const case_file *c, const char *target, const char *name, int global, size_t *a, size_t *b) {
    long v[2];
    int rc = refcase_ints(c, target, name, !global, v, 2);
    if (rc < 0) return 0;
    if (rc == 1 && global) return refcase_fail(c->dir, "param given for a global pooling layer:", name) == 0;
    if (rc == 1) {
        if (v[0] < 1 || v[1] < 1) return refcase_fail(c->dir, "sizes must be >= 1:", name) == 0;
        *a = (size_t)v[0];
        *b = (size_t)v[1];
    }
    return 1;
}

/* The settings of output `target`; 1 when every param is valid and used by the layer, else 0 (reported). */
static int settings(const case_file *c, const char *target, lip_pool2d_params *p) {
    int kind = 0, pad = 0, fmt = 0;
    if (refcase_token(c, target, "layer", 1, layers, &kind) != 1) return 0;
    *p = lip_pool2d_params_default((lip_pool_kind)kind);
    int global = p->kind == LIP_POOL_SCALED_GLOBAL_L2 || p->kind == LIP_POOL_SCALED_GLOBAL_AVG;
    int l2 = p->kind == LIP_POOL_SCALED_L2 || p->kind == LIP_POOL_SCALED_GLOBAL_L2;
    if (!two_sizes(c, target, "pool_size", global, &p->pool_h, &p->pool_w)) return 0;
    if (!two_sizes(c, target, "strides", global, &p->stride_h, &p->stride_w)) return 0;
    int rc = refcase_token(c, target, "padding", !global, paddings, &pad);
    if (rc < 0) return 0;
    if (rc == 1 && global) return refcase_fail(c->dir, "param given for a global pooling layer:", "padding") == 0;
    p->padding = (lip_pool_padding)pad;
    double k = 0, eps = 0;
    if (refcase_float(c, target, "k_coef_lip", 1, &k) != 1) return 0;
    p->k_coef_lip = (float)k;
    rc = refcase_float(c, target, "eps_grad_sqrt", 0, &eps); /* deel-lip's 1e-6 when absent */
    if (rc < 0) return 0;
    if (rc == 1 && !l2) return refcase_fail(c->dir, "eps_grad_sqrt given for a layer without sqrt:", target) == 0;
    if (rc == 1) p->eps_grad_sqrt = (float)eps;
    if (refcase_token(c, target, "data_format", 1, formats, &fmt) != 1) return 0;
    return 1;
}

int refrun_pooling(lip_context *ctx, const char *dir, const case_file *c) {
    const refcase_keys keys = {params, inputs, outputs};
    if (refcase_validate(c, &keys) != 0) return 0;
    int before = test_failures;
    npy_array ax, ag;
    float *x = refcase_array(c, "input", "x", &ax), *g = refcase_array(c, "input", "g", &ag);
    if (!x || !g || ax.ndim != 4) {
        refcase_fail(dir, "missing, unreadable or not NHWC:", "x, g");
        goto done;
    }
    for (size_t i = 0; i < c->count; i++) {
        if (strncmp(c->entries[i].key, "output.", 7) != 0) continue;
        const char *target = c->entries[i].key + 7;
        lip_pool2d_params p;
        if (!settings(c, target, &p)) break;
        int ondim = 0;
        size_t oshape[4] = {0, 0, 0, 0};
        if (!refrun_ok(c, ctx, lip_pool2d_output_shape(ctx, &p, 4, ax.shape, &ondim, oshape), "output shape")) break;
        int same = ag.ndim == ondim;
        for (int d = 0; same && d < ondim; d++) same = ag.shape[d] == oshape[d];
        if (!same) {
            refcase_fail(dir, "g does not have the output's shape for", target);
            break;
        }
        lip_tensor *xt = refrun_upload(ctx, c, &ax, "input x"), *gt = refrun_upload(ctx, c, &ag, "input g");
        lip_tensor *yt = refrun_tensor(ctx, ondim, oshape), *dxt = refrun_tensor(ctx, 4, ax.shape);
        int ok = xt && gt && yt && dxt;
        ok = ok && refrun_ok(c, ctx, lip_pool2d_forward(ctx, &p, xt, yt), "lip_pool2d_forward");
        ok = ok && refrun_ok(c, ctx, lip_pool2d_backward(ctx, &p, xt, gt, dxt), "lip_pool2d_backward");
        if (ok) refcase_check_output(c, target, strcmp(target, "y") == 0 ? yt : dxt);
        lip_tensor_free(xt), lip_tensor_free(gt), lip_tensor_free(yt), lip_tensor_free(dxt);
    }
done:
    npy_free(&ax), npy_free(&ag);
    return test_failures == before;
}
