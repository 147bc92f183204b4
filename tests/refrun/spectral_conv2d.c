/* lipcl tests — golden cases of category spectral_conv2d: the SpectralConv2D layer through the public API
 * (forward, effective kernel, u, σ, every gradient, iteration counts, c_conv) and the normalizer chain. */
#include "layers/conv2d.h"
#include "refrun.h"

static const char *const params[] = {"k_coef_lip",     "use_bias",    "eps_spectral",     "maxiter_spectral",
                                     "eps_bjorck",     "beta_bjorck", "maxiter_bjorck",   "kernel_size",
                                     "strides",        "padding",     "padding_rows_top_bottom",
                                     "padding_cols_left_right",       "data_format",      "conv_coef_mode",
                                     NULL};
static const char *const inputs[] = {"x", "kernel", "bias", "u0", "g", NULL};
static const char *const outputs[] = {"y", "w_bar", "u", "sigma", "grad_kernel", "grad_bias", "grad_x", "grad_w_bar",
                                      NULL};

int refrun_spectral_conv2d(lip_context *ctx, const char *dir, const case_file *c) {
    const refcase_keys keys = {params, inputs, outputs};
    if (refcase_validate(c, &keys) != 0) return 0;
    int before = test_failures;
    npy_array ax, ak, ab, au, ag;
    memset(&ab, 0, sizeof ab);
    float *x = refcase_array(c, "input", "x", &ax), *kernel = refcase_array(c, "input", "kernel", &ak);
    float *u0 = refcase_array(c, "input", "u0", &au), *g = refcase_array(c, "input", "g", &ag);
    int ok = x && kernel && u0 && g;
    if (!ok) refcase_fail(dir, "missing or unreadable input among", "x, kernel, u0, g");
    lip_conv2d_config cfg;
    refrun_spectral_cfg s;
    ok = ok && refrun_read_conv(c, &ax, &ak, &cfg);
    ok = ok && refrun_read_spectral(c, &s);
    if (ok && cfg.use_bias && !refcase_array(c, "input", "bias", &ab))
        ok = refcase_fail(dir, "missing or unreadable input", "bias") == 0;
    lip_layer *l = NULL;
    if (ok) {
        cfg.eps_spectral = (float)s.eps_spectral;
        cfg.maxiter_spectral = s.maxiter_spectral;
        cfg.eps_bjorck = (float)s.eps_bjorck;
        cfg.beta_bjorck = (float)s.beta_bjorck;
        cfg.maxiter_bjorck = s.maxiter_bjorck;
        ok = refrun_ok(c, ctx, lip_spectral_conv2d_create(ctx, &cfg, "sc", &l), "lip_spectral_conv2d_create") &&
             refrun_build_conv(ctx, c, l, &ax, &ag);
    }
    lip_tensor *tx = NULL, *ty = NULL, *tdx = NULL;
    ok = ok && refrun_layer_step(ctx, c, l, &ak, &ab, &au, &ax, &ag, &tx, &ty, &tdx);
    lip_conv2d_internals in_;
    ok = ok && refrun_ok(c, ctx, lip_conv2d_internals_get(l, &in_), "lip_conv2d_internals_get");
    if (ok) {
        refrun_layer_out o = {ty, tdx, in_.w_bar, in_.grad_w_bar, in_.sigma, refrun_layer_param(l, "u", 0),
                              refrun_layer_param(l, "kernel", 1), refrun_layer_param(l, "bias", 1),
                              in_.spectral_state, in_.bjorck_state};
        refrun_layer_compare(ctx, c, &o);
        /* c_conv as deel-lip computes it (conv_coef_mode), and with k */
        refcase_check_result(c, "conv_lip_coef_tf", in_.coef, 1e-12, 1e-9);
        refcase_check_result(c, "adjustment_coef_tf", in_.coef * cfg.k_coef_lip, 1e-12, 1e-9);
        refrun_spectral_chain(ctx, c, &ak, &au, in_.coef * cfg.k_coef_lip, &s);
    }
    lip_tensor_free(tx), lip_tensor_free(ty), lip_tensor_free(tdx);
    lip_layer_free(l);
    npy_free(&ax), npy_free(&ak), npy_free(&ab), npy_free(&au), npy_free(&ag);
    return ok && test_failures == before;
}
