/* lipcl tests — what the four layer categories (spectral/frobenius, dense/conv2d) share: the training step
 * on a built layer, the comparison of every output and iteration count, and the spectral chain check. */
#include "hostref_lipschitz.h"
#include "lipschitz/normalizers.h"
#include "refrun.h"

int refrun_read_spectral(const case_file *c, refrun_spectral_cfg *s) {
    long ms = 0, mb = 0;
    int ok = refcase_float(c, NULL, "eps_spectral", 1, &s->eps_spectral) == 1;
    ok &= refcase_int(c, NULL, "maxiter_spectral", 1, &ms) == 1;
    ok &= refcase_float(c, NULL, "eps_bjorck", 1, &s->eps_bjorck) == 1;
    ok &= refcase_float(c, NULL, "beta_bjorck", 1, &s->beta_bjorck) == 1;
    ok &= refcase_int(c, NULL, "maxiter_bjorck", 1, &mb) == 1;
    s->maxiter_spectral = (int)ms;
    s->maxiter_bjorck = (int)mb;
    return ok;
}

/* Upload host floats into parameter `name` of the layer, whose element count must match. */
static int set_param(lip_context *ctx, const case_file *c, lip_layer *l, const char *name, const npy_array *a) {
    lip_tensor *t = refrun_layer_param(l, name, 0);
    if (!t) return refcase_fail(c->dir, "the layer has no parameter for input", name) == 0;
    if (lip_tensor_count(t) != a->count) {
        fprintf(stderr, "%s: input %s has %zu elements, the layer's parameter %zu\n", c->dir, name, a->count,
                lip_tensor_count(t));
        test_failures++;
        return 0;
    }
    return refrun_ok(c, ctx, lip_tensor_upload(t, a->data, a->count * sizeof(float)), name);
}

int refrun_layer_step(lip_context *ctx, const case_file *c, lip_layer *l, const npy_array *kernel,
                      const npy_array *bias, const npy_array *u0, const npy_array *x, const npy_array *g,
                      lip_tensor **tx, lip_tensor **ty, lip_tensor **tdx) {
    *tx = *ty = *tdx = NULL;
    if (!set_param(ctx, c, l, "kernel", kernel)) return 0;
    int has_bias = refrun_layer_param(l, "bias", 0) != NULL;
    if (has_bias != (bias && bias->data != NULL))
        return refcase_fail(c->dir, has_bias ? "missing input" : "the layer has no bias for input", "bias") == 0;
    if (has_bias && !set_param(ctx, c, l, "bias", bias)) return 0;
    /* u: the power-iteration vector before the step (the layer's own initial u otherwise) */
    if (u0 && u0->data && !set_param(ctx, c, l, "u", u0)) return 0;
    if (!refrun_ok(c, ctx, lip_layer_reparametrize(l), "lip_layer_reparametrize")) return 0;
    lip_tensor *tg = refrun_upload(ctx, c, g, "input g");
    *tx = refrun_upload(ctx, c, x, "input x");
    *ty = refrun_tensor(ctx, g->ndim, g->shape);
    *tdx = refrun_tensor(ctx, x->ndim, x->shape);
    int ok = tg && *tx && *ty && *tdx;
    ok = ok && refrun_ok(c, ctx, lip_layer_forward(l, *tx, *ty), "lip_layer_forward");
    ok = ok && refrun_ok(c, ctx, lip_layer_backward(l, *tx, *ty, tg, *tdx, 0), "lip_layer_backward");
    lip_tensor_free(tg);
    return ok;
}

void refrun_layer_compare(lip_context *ctx, const case_file *c, const refrun_layer_out *o) {
    const struct {
        const char *name;
        const lip_tensor *src;
    } outs[] = {{"y", o->y},
                {"grad_x", o->grad_x},
                {"w_bar", o->w_bar},
                {"grad_w_bar", o->grad_w_bar},
                {"sigma", o->sigma},
                {"u", o->u},
                {"grad_kernel", o->grad_kernel},
                {"grad_bias", o->grad_bias}};
    for (size_t i = 0; i < c->count; i++) {
        const char *k = c->entries[i].key;
        if (strncmp(k, "output.", 7) == 0) {
            const char *name = k + 7;
            size_t j = 0;
            while (j < sizeof outs / sizeof outs[0] && strcmp(outs[j].name, name) != 0) j++;
            if (j == sizeof outs / sizeof outs[0]) {
                refcase_fail(c->dir, "not an output of a layer case", k);
                continue;
            }
            refcase_check_output(c, name, outs[j].src); /* a NULL tensor is reported */
        } else if (strncmp(k, "result.n_iter", 13) == 0) {
            const char *name = k + 7;
            const lip_tensor *state = strcmp(name, "n_iter_spectral") == 0 ? o->spectral_state
                                      : strcmp(name, "n_iter_bjorck") == 0 ? o->bjorck_state
                                                                           : NULL;
            if (!state) {
                refcase_mark(c, k);
                refcase_fail(c->dir, "no iteration counter of this layer for", k);
                continue;
            }
            refcase_check_iterations(c, name, refrun_iterations(ctx, c, state));
        }
    }
    if (case_get(c, "result.max_abs_grad_kernel") && o->grad_kernel) {
        float *gk = test_download(o->grad_kernel);
        double m = 0;
        for (size_t i = 0; i < lip_tensor_count(o->grad_kernel); i++) m = fmax(m, fabs((double)gk[i]));
        refcase_check_result(c, "max_abs_grad_kernel", m, REFCASE_ATOL, REFCASE_RTOL);
        free(gk);
    }
}

void refrun_spectral_chain(lip_context *ctx, const case_file *c, const npy_array *kernel, const npy_array *u0,
                           double coef, const refrun_spectral_cfg *cfg) {
    const char *dir = c->dir;
    size_t kn = kernel->count, cols = kernel->shape[kernel->ndim - 1], rows = kn / cols;
    if (u0->count != cols || cfg->maxiter_spectral > LIP_NORMALIZER_MAX_ITER ||
        cfg->maxiter_bjorck > LIP_NORMALIZER_MAX_ITER) {
        refcase_fail(dir, "kernel, u0 or maxiter do not fit the chain check", "u0");
        return;
    }
    /* Host reference in double: the stopping-rule values the case records. */
    double *w = test_to_double(kernel->data, kn), *u = test_to_double(u0->data, cols), *wb = hr_alloc(kn);
    double *bj = hr_alloc(kn), *stop = hr_alloc(LIP_NORMALIZER_MAX_ITER + 1), sg = 0;
    int it = hr_power_iteration(w, rows, cols, u, cfg->eps_spectral, cfg->maxiter_spectral, 0, NULL, &sg, wb, stop);
    refrun_check_stopping(c, "stopping_rule_values_spectral", stop, it);
    it = hr_bjorck(wb, rows, cols, cfg->beta_bjorck, cfg->eps_bjorck, cfg->maxiter_bjorck, 0, bj, stop);
    refrun_check_stopping(c, "stopping_rule_values_bjorck", stop, it);
    free(w), free(u), free(wb), free(bj), free(stop);

    /* Device: the normalizer ops alone, forward and backward. */
    size_t n1 = 0, s1[8];
    int d1 = 0;
    double *e_wbar = refcase_doubles(c, "output.w_bar", &n1, s1, &d1);
    double *e_u = refcase_doubles(c, "output.u", &n1, s1, &d1);
    double *e_sigma = refcase_doubles(c, "output.sigma", &n1, s1, &d1);
    double *e_gk = refcase_doubles(c, "output.grad_kernel", &n1, s1, &d1);
    double *gwb = refcase_doubles(c, "output.grad_w_bar", &n1, s1, &d1);
    lip_power_iteration_config pcfg = {(float)cfg->eps_spectral, cfg->maxiter_spectral, LIP_STOPPING_EPS};
    lip_bjorck_config bcfg = {(float)cfg->beta_bjorck, (float)cfg->eps_bjorck, cfg->maxiter_bjorck, LIP_STOPPING_EPS};
    size_t one = 1, shape2[2] = {rows, cols}, bwn = lip_bjorck_workspace_floats(rows, cols, bcfg.maxiter);
    size_t two = LIP_NORMALIZER_STATE_INTS;
    lip_tensor *k = refrun_upload(ctx, c, kernel, "chain kernel"), *tu = refrun_upload(ctx, c, u0, "chain u0");
    lip_tensor *sigma = refrun_tensor(ctx, 1, &one), *ws = refrun_tensor(ctx, 2, shape2);
    lip_tensor *wbar = refrun_tensor(ctx, 2, shape2), *g = refrun_tensor(ctx, 2, shape2);
    lip_tensor *bws = refrun_tensor(ctx, 1, &bwn), *gs = refrun_tensor(ctx, 2, shape2);
    lip_tensor *gk = refrun_tensor(ctx, kernel->ndim, kernel->shape), *pst = NULL, *bst = NULL;
    int ok = refrun_ok(c, ctx, lip_tensor_create(ctx, LIP_INT32, 1, &two, &pst), "chain state") &&
             refrun_ok(c, ctx, lip_tensor_create(ctx, LIP_INT32, 1, &two, &bst), "chain state");
    ok = ok && e_wbar && e_u && e_sigma && e_gk && gwb && k && tu && sigma && ws && wbar && g && bws && gs && gk;
    if (ok) {
        float *gf = test_falloc(kn);
        for (size_t i = 0; i < kn; i++) gf[i] = (float)(gwb[i] * coef); /* d(coef·B)/dB */
        ok = refrun_ok(c, ctx, lip_tensor_upload(g, gf, kn * sizeof(float)), "chain upload");
        free(gf);
    }
    ok = ok && refrun_ok(c, ctx, lip_power_iteration_forward(ctx, &pcfg, k, tu, sigma, ws, pst, NULL),
                         "chain lip_power_iteration_forward");
    ok = ok && refrun_ok(c, ctx, lip_bjorck_forward(ctx, &bcfg, ws, wbar, bst, bws), "chain lip_bjorck_forward");
    ok = ok && refrun_ok(c, ctx, lip_bjorck_backward(ctx, &bcfg, bst, bws, g, gs), "chain lip_bjorck_backward");
    ok = ok && refrun_ok(c, ctx, lip_power_iteration_backward(ctx, &pcfg, k, tu, sigma, gs, NULL, gk, NULL),
                         "chain lip_power_iteration_backward");
    if (ok) {
        float *h_wb = test_download(wbar), *h_u = test_download(tu), *h_s = test_download(sigma);
        float *h_gk = test_download(gk);
        for (size_t i = 0; i < kn; i++) h_wb[i] = (float)(h_wb[i] * coef);
        char what[1400];
        snprintf(what, sizeof what, "%s (chain): w_bar", dir);
        test_compare(what, h_wb, e_wbar, kn, REFCASE_ATOL, REFCASE_RTOL);
        snprintf(what, sizeof what, "%s (chain): u", dir);
        test_compare(what, h_u, e_u, cols, REFCASE_ATOL, REFCASE_RTOL);
        snprintf(what, sizeof what, "%s (chain): sigma", dir);
        test_compare(what, h_s, e_sigma, 1, REFCASE_ATOL, REFCASE_RTOL);
        /* README: gradients through 15 Björck iterations: 5e-5 relative to max|expected|. */
        snprintf(what, sizeof what, "%s (chain): grad_kernel", dir);
        test_compare(what, h_gk, e_gk, kn, fmax(REFCASE_ATOL, 5e-5 * test_max_abs(e_gk, kn)), REFCASE_RTOL);
        /* the counts of the ops alone (the layer's own are compared by refrun_layer_compare) */
        const char *keys[2] = {"result.n_iter_spectral", "result.n_iter_bjorck"};
        int got[2] = {refrun_iterations(ctx, c, pst), refrun_iterations(ctx, c, bst)};
        for (int i = 0; i < 2; i++) {
            const char *v = case_get(c, keys[i]);
            test_checks++;
            if (v && got[i] != atoi(v)) {
                fprintf(stderr, "%s (chain): %s: the ops ran %d iterations, expected %s\n", dir, keys[i], got[i], v);
                test_failures++;
            }
        }
        free(h_wb), free(h_u), free(h_s), free(h_gk);
    } else if (!e_wbar || !e_u || !e_sigma || !e_gk || !gwb) {
        refcase_fail(dir, "the chain check needs outputs", "w_bar, u, sigma, grad_kernel, grad_w_bar");
    }
    lip_tensor *ts[] = {k, tu, sigma, ws, wbar, pst, bst, g, bws, gs, gk};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) lip_tensor_free(ts[i]);
    free(e_wbar), free(e_u), free(e_sigma), free(e_gk), free(gwb);
}

/* The zero rows (or columns) TF adds before and after for an input of n, kernel k, stride s. */
static void tf_padding(int same, long n, long k, long s, long *before, long *after) {
    long total = 0;
    if (same) {
        long out = (n + s - 1) / s, t = (out - 1) * s + k - n;
        total = t > 0 ? t : 0;
    }
    *before = total / 2;
    *after = total - *before;
}

int refrun_read_conv(const case_file *c, const npy_array *x, const npy_array *kernel, lip_conv2d_config *cfg) {
    static const char *const paddings[] = {"same", "valid", NULL};       /* lip_padding */
    static const char *const modes[] = {"strict", "deel_lip", NULL};     /* lip_conv_coef_mode */
    static const char *const formats[] = {"channels_last", NULL};
    const char *dir = c->dir;
    long ks[2] = {0, 0}, st[2] = {0, 0}, rows[2], cols[2];
    int pad = 0, mode = 0, fmt = 0, use_bias = 0;
    double k = 0;
    int ok = refcase_ints(c, NULL, "kernel_size", 1, ks, 2) == 1;
    ok &= refcase_ints(c, NULL, "strides", 1, st, 2) == 1;
    ok &= refcase_token(c, NULL, "padding", 1, paddings, &pad) == 1;
    int has_rows = refcase_ints(c, NULL, "padding_rows_top_bottom", 0, rows, 2);
    int has_cols = refcase_ints(c, NULL, "padding_cols_left_right", 0, cols, 2);
    ok &= has_rows >= 0 && has_cols >= 0;
    ok &= refcase_token(c, NULL, "data_format", 1, formats, &fmt) == 1;
    ok &= refcase_token(c, NULL, "conv_coef_mode", 1, modes, &mode) == 1;
    ok &= refcase_float(c, NULL, "k_coef_lip", 1, &k) == 1;
    ok &= refcase_bool(c, NULL, "use_bias", 1, &use_bias) == 1;
    if (!ok) return 0;
    if (x->ndim != 4 || kernel->ndim != 4 || x->shape[3] != kernel->shape[2])
        return refcase_fail(dir, "x (batch, h, w, cin) and kernel (kh, kw, cin, cout) do not fit", "kernel") == 0;
    if ((size_t)ks[0] != kernel->shape[0] || (size_t)ks[1] != kernel->shape[1])
        return refcase_fail(dir, "kernel_size is not the kernel's (kh, kw)", "kernel_size") == 0;
    if (st[0] < 1 || st[1] < 1) return refcase_fail(dir, "strides must be >= 1", "strides") == 0;
    /* lipcl derives the zero padding from the mode (TF's rule): the case's amounts must be those */
    long b = 0, a = 0;
    tf_padding(pad == 0, (long)x->shape[1], ks[0], st[0], &b, &a);
    if (has_rows == 1 && (rows[0] != b || rows[1] != a))
        return refcase_fail(dir, "padding amounts differ from the padding mode's:", "padding_rows_top_bottom") == 0;
    tf_padding(pad == 0, (long)x->shape[2], ks[1], st[1], &b, &a);
    if (has_cols == 1 && (cols[0] != b || cols[1] != a))
        return refcase_fail(dir, "padding amounts differ from the padding mode's:", "padding_cols_left_right") == 0;
    *cfg = lip_conv2d_config_default(kernel->shape[3], kernel->shape[0], kernel->shape[1]);
    cfg->stride_h = (size_t)st[0];
    cfg->stride_w = (size_t)st[1];
    cfg->padding = (lip_padding)pad;
    cfg->coef_mode = (lip_conv_coef_mode)mode;
    cfg->k_coef_lip = (float)k;
    cfg->use_bias = use_bias;
    return 1;
}

int refrun_build_conv(lip_context *ctx, const case_file *c, lip_layer *l, const npy_array *x, const npy_array *g) {
    size_t in[3] = {x->shape[1], x->shape[2], x->shape[3]}, out[LIP_MAX_DIMS];
    int ndim = 0;
    if (!refrun_ok(c, ctx, lip_layer_build(l, 3, in), "lip_layer_build") ||
        !refrun_ok(c, ctx, lip_layer_output_shape(l, &ndim, out), "lip_layer_output_shape"))
        return 0;
    int same = ndim == 3 && g->ndim == 4 && g->shape[0] == x->shape[0];
    for (int d = 0; same && d < 3; d++) same = g->shape[d + 1] == out[d];
    if (!same) return refcase_fail(c->dir, "g does not have the shape of the layer's output:", "g") == 0;
    return 1;
}
