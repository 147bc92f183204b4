/* lipcl tests — golden cases of category frobenius_conv2d: the FrobeniusConv2D layer through the public
 * API (forward, effective kernel k·c_conv·W/‖W‖_F, every gradient, c_conv). */
#include "layers/conv2d.h"
#include "refrun.h"

static const char *const params[] = {"kernel_size",  "strides",        "padding",    "padding_rows_top_bottom",
                                     "padding_cols_left_right",        "data_format", "conv_coef_mode",
                                     "k_coef_lip",   "use_bias",       NULL};
static const char *const inputs[] = {"x", "kernel", "bias", "g", NULL};
static const char *const outputs[] = {"y", "w_bar", "grad_kernel", "grad_bias", "grad_x", NULL};

int refrun_frobenius_conv2d(lip_context *ctx, const char *dir, const case_file *c) {
    const refcase_keys keys = {params, inputs, outputs};
    if (refcase_validate(c, &keys) != 0) return 0;
    int before = test_failures;
    npy_array ax, ak, ab, ag;
    memset(&ab, 0, sizeof ab);
    float *x = refcase_array(c, "input", "x", &ax), *kernel = refcase_array(c, "input", "kernel", &ak);
    float *g = refcase_array(c, "input", "g", &ag);
    int ok = x && kernel && g;
    if (!ok) refcase_fail(dir, "missing or unreadable input among", "x, kernel, g");
    lip_conv2d_config cfg;
    ok = ok && refrun_read_conv(c, &ax, &ak, &cfg);
    if (ok && cfg.use_bias && !refcase_array(c, "input", "bias", &ab))
        ok = refcase_fail(dir, "missing or unreadable input", "bias") == 0;
    lip_layer *l = NULL;
    ok = ok && refrun_ok(c, ctx, lip_frobenius_conv2d_create(ctx, &cfg, "fc", &l), "lip_frobenius_conv2d_create") &&
         refrun_build_conv(ctx, c, l, &ax, &ag);
    lip_tensor *tx = NULL, *ty = NULL, *tdx = NULL;
    ok = ok && refrun_layer_step(ctx, c, l, &ak, &ab, NULL, &ax, &ag, &tx, &ty, &tdx);
    lip_conv2d_internals in_;
    ok = ok && refrun_ok(c, ctx, lip_conv2d_internals_get(l, &in_), "lip_conv2d_internals_get");
    if (ok) {
        refrun_layer_out o = {ty, tdx, in_.w_bar, in_.grad_w_bar, in_.sigma, NULL,
                              refrun_layer_param(l, "kernel", 1), refrun_layer_param(l, "bias", 1),
                              in_.spectral_state, in_.bjorck_state};
        refrun_layer_compare(ctx, c, &o);
        refcase_check_result(c, "conv_lip_coef_tf", in_.coef, 1e-12, 1e-9);
    }
    lip_tensor_free(tx), lip_tensor_free(ty), lip_tensor_free(tdx);
    lip_layer_free(l);
    npy_free(&ax), npy_free(&ak), npy_free(&ab), npy_free(&ag);
    return ok && test_failures == before;
}
