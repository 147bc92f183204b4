/* lipcl tests — golden cases of category frobenius_dense: the FrobeniusDense layer through the public API
 * (forward, effective kernel k·W/‖W‖ globally or per column, every gradient). */
#include "layers/dense.h"
#include "refrun.h"

static const char *const params[] = {"disjoint_neurons", "k_coef_lip", "use_bias", NULL};
static const char *const inputs[] = {"x", "kernel", "bias", "g", NULL};
static const char *const outputs[] = {"y", "w_bar", "grad_kernel", "grad_bias", "grad_x", NULL};

int refrun_frobenius_dense(lip_context *ctx, const char *dir, const case_file *c) {
    const refcase_keys keys = {params, inputs, outputs};
    if (refcase_validate(c, &keys) != 0) return 0;
    int before = test_failures;
    double k = 0;
    int use_bias = 0, disjoint = 0;
    int ok = refcase_float(c, NULL, "k_coef_lip", 1, &k) == 1;
    ok &= refcase_bool(c, NULL, "use_bias", 1, &use_bias) == 1;
    ok &= refcase_bool(c, NULL, "disjoint_neurons", 1, &disjoint) == 1;
    npy_array ax, ak, ab, ag;
    memset(&ab, 0, sizeof ab);
    float *x = refcase_array(c, "input", "x", &ax), *kernel = refcase_array(c, "input", "kernel", &ak);
    float *g = refcase_array(c, "input", "g", &ag);
    if (use_bias) refcase_array(c, "input", "bias", &ab);
    if (ok && (!x || !kernel || !g || (use_bias && !ab.data)))
        ok = refcase_fail(dir, "missing or unreadable input among", "x, kernel, bias, g") == 0;
    if (ok && (ak.ndim != 2 || ax.ndim != 2 || ax.shape[1] != ak.shape[0]))
        ok = refcase_fail(dir, "x (batch, in) and kernel (in, units) do not fit", "kernel") == 0;
    lip_layer *l = NULL;
    if (ok) {
        lip_dense_config cfg = lip_dense_config_default(ak.shape[1]);
        cfg.k_coef_lip = (float)k;
        cfg.use_bias = use_bias;
        cfg.disjoint_neurons = disjoint;
        size_t in = ak.shape[0];
        ok = refrun_ok(c, ctx, lip_frobenius_dense_create(ctx, &cfg, "fd", &l), "lip_frobenius_dense_create") &&
             refrun_ok(c, ctx, lip_layer_build(l, 1, &in), "lip_layer_build");
    }
    lip_tensor *tx = NULL, *ty = NULL, *tdx = NULL;
    ok = ok && refrun_layer_step(ctx, c, l, &ak, &ab, NULL, &ax, &ag, &tx, &ty, &tdx);
    lip_dense_internals in_;
    ok = ok && refrun_ok(c, ctx, lip_dense_internals_get(l, &in_), "lip_dense_internals_get");
    if (ok) {
        refrun_layer_out o = {ty, tdx, in_.w_bar, in_.grad_w_bar, in_.sigma, NULL,
                              refrun_layer_param(l, "kernel", 1), refrun_layer_param(l, "bias", 1),
                              in_.spectral_state, in_.bjorck_state};
        refrun_layer_compare(ctx, c, &o);
    }
    lip_tensor_free(tx), lip_tensor_free(ty), lip_tensor_free(tdx);
    lip_layer_free(l);
    npy_free(&ax), npy_free(&ak), npy_free(&ab), npy_free(&ag);
    return ok && test_failures == before;
}
