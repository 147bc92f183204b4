/* lipcl tests — golden cases of category spectral_dense: the SpectralDense layer through the public API
 * (forward, effective kernel, u, σ, every gradient, iteration counts) and the normalizer chain alone. */
#include "layers/dense.h"
#include "refrun.h"

static const char *const params[] = {"k_coef_lip", "use_bias",       "eps_spectral",   "maxiter_spectral",
                                     "eps_bjorck", "beta_bjorck",    "maxiter_bjorck", NULL};
static const char *const inputs[] = {"x", "kernel", "bias", "u0", "g", NULL};
static const char *const outputs[] = {"y", "w_bar", "u", "sigma", "grad_kernel", "grad_bias", "grad_x", "grad_w_bar",
                                      NULL};

int refrun_spectral_dense(lip_context *ctx, const char *dir, const case_file *c) {
    const refcase_keys keys = {params, inputs, outputs};
    if (refcase_validate(c, &keys) != 0) return 0;
    int before = test_failures;
    double k = 0;
    int use_bias = 0;
    refrun_spectral_cfg s;
    int ok = refcase_float(c, NULL, "k_coef_lip", 1, &k) == 1;
    ok &= refcase_bool(c, NULL, "use_bias", 1, &use_bias) == 1;
    ok &= refrun_read_spectral(c, &s);
    npy_array ax, ak, ab, au, ag;
    memset(&ab, 0, sizeof ab);
    float *x = refcase_array(c, "input", "x", &ax), *kernel = refcase_array(c, "input", "kernel", &ak);
    float *u0 = refcase_array(c, "input", "u0", &au), *g = refcase_array(c, "input", "g", &ag);
    if (use_bias) refcase_array(c, "input", "bias", &ab);
    if (ok && (!x || !kernel || !u0 || !g || (use_bias && !ab.data)))
        ok = refcase_fail(dir, "missing or unreadable input among", "x, kernel, bias, u0, g") == 0;
    if (ok && (ak.ndim != 2 || ax.ndim != 2 || ax.shape[1] != ak.shape[0]))
        ok = refcase_fail(dir, "x (batch, in) and kernel (in, units) do not fit", "kernel") == 0;
    lip_layer *l = NULL;
    if (ok) {
        lip_dense_config cfg = lip_dense_config_default(ak.shape[1]);
        cfg.k_coef_lip = (float)k;
        cfg.use_bias = use_bias;
        cfg.eps_spectral = (float)s.eps_spectral;
        cfg.maxiter_spectral = s.maxiter_spectral;
        cfg.eps_bjorck = (float)s.eps_bjorck;
        cfg.beta_bjorck = (float)s.beta_bjorck;
        cfg.maxiter_bjorck = s.maxiter_bjorck;
        size_t in = ak.shape[0];
        ok = refrun_ok(c, ctx, lip_spectral_dense_create(ctx, &cfg, "sd", &l), "lip_spectral_dense_create") &&
             refrun_ok(c, ctx, lip_layer_build(l, 1, &in), "lip_layer_build");
    }
    lip_tensor *tx = NULL, *ty = NULL, *tdx = NULL;
    ok = ok && refrun_layer_step(ctx, c, l, &ak, &ab, &au, &ax, &ag, &tx, &ty, &tdx);
    lip_dense_internals in_;
    ok = ok && refrun_ok(c, ctx, lip_dense_internals_get(l, &in_), "lip_dense_internals_get");
    if (ok) {
        refrun_layer_out o = {ty, tdx, in_.w_bar, in_.grad_w_bar, in_.sigma, refrun_layer_param(l, "u", 0),
                              refrun_layer_param(l, "kernel", 1), refrun_layer_param(l, "bias", 1),
                              in_.spectral_state, in_.bjorck_state};
        refrun_layer_compare(ctx, c, &o);
        refrun_spectral_chain(ctx, c, &ak, &au, k, &s);
    }
    lip_tensor_free(tx), lip_tensor_free(ty), lip_tensor_free(tdx);
    lip_layer_free(l);
    npy_free(&ax), npy_free(&ak), npy_free(&ab), npy_free(&au), npy_free(&ag);
    return ok && test_failures == before;
}
