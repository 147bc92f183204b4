/* lipcl tests — golden cases of category resampling: InvertibleDownSampling / InvertibleUpSampling,
 * forward and gradient, with each output's own settings (param.* overlaid by variant.*). */
#include "layers/resampling.h"
#include "refrun.h"

static const char *const params[] = {"layer", "pool_size", "data_format", NULL};
static const char *const inputs[] = {"x", "g", NULL};
static const char *const outputs[] = {"y", "grad_x", NULL};

static const char *const layers[] = {"InvertibleDownSampling", "InvertibleUpSampling", NULL}; /* lip_resample_dir */
static const char *const formats[] = {"channels_last", NULL};

int refrun_resampling(lip_context *ctx, const char *dir, const case_file *c) {
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
        int layer = 0, fmt = 0;
        long p[2] = {0, 0};
        if (refcase_token(c, target, "layer", 1, layers, &layer) != 1 ||
            refcase_ints(c, target, "pool_size", 1, p, 2) != 1 ||
            refcase_token(c, target, "data_format", 1, formats, &fmt) != 1)
            break;
        if (p[0] < 1 || p[1] < 1) {
            refcase_fail(dir, "pool sizes must be >= 1 in", target);
            break;
        }
        lip_resample_dir rd = (lip_resample_dir)layer;
        size_t p0 = (size_t)p[0], p1 = (size_t)p[1], oshape[4];
        if (!refrun_ok(c, ctx, lip_resample_output_shape(ctx, rd, p0, p1, 4, ax.shape, oshape), "output shape")) break;
        if (ag.ndim != 4 || memcmp(ag.shape, oshape, sizeof oshape) != 0) {
            refcase_fail(dir, "g does not have the output's shape for", target);
            break;
        }
        lip_tensor *xt = refrun_upload(ctx, c, &ax, "input x"), *gt = refrun_upload(ctx, c, &ag, "input g");
        lip_tensor *yt = refrun_tensor(ctx, 4, oshape), *dxt = refrun_tensor(ctx, 4, ax.shape);
        int ok = xt && gt && yt && dxt;
        ok = ok && refrun_ok(c, ctx, lip_resample_forward(ctx, rd, p0, p1, xt, yt), "lip_resample_forward");
        ok = ok && refrun_ok(c, ctx, lip_resample_backward(ctx, rd, p0, p1, gt, dxt), "lip_resample_backward");
        if (ok) refcase_check_output(c, target, strcmp(target, "y") == 0 ? yt : dxt);
        lip_tensor_free(xt), lip_tensor_free(gt), lip_tensor_free(yt), lip_tensor_free(dxt);
    }
done:
    npy_free(&ax), npy_free(&ag);
    return test_failures == before;
}
