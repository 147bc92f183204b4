/* lipcl — invertible down/up-sampling of NHWC images (space to depth and back, pixel_unshuffle
 * order): shape checks, launches of kernels/resampling.cl (the backward of one is the other), the layers. */
#include <stdio.h>

#include "layers/layer.h"
#include "layers/resampling.h"

/* Work-group size of every resampling launch and the most groups launched (grid-stride kernels). */
#define RS_LOCAL 64
#define RS_MAX_GROUPS 131072

const char *lip_resample_name(lip_resample_dir dir) {
    return dir == LIP_RESAMPLE_UP ? "InvertibleUpSampling" : "InvertibleDownSampling";
}

lip_status lip_resample_output_shape(lip_context *ctx, lip_resample_dir dir, size_t p0, size_t p1, int ndim,
                                     const size_t *in, size_t *out) {
    if (!ctx) return LIP_ERR_NULL;
    LIP_CHECK(ctx, dir == LIP_RESAMPLE_DOWN || dir == LIP_RESAMPLE_UP, LIP_ERR_INVALID_ARGUMENT,
              "resampling: unknown direction %d", (int)dir);
    const char *op = lip_resample_name(dir);
    LIP_CHECK(ctx, in && out, LIP_ERR_NULL, "%s: shape pointer is NULL", op);
    LIP_CHECK(ctx, p0 >= 1 && p1 >= 1, LIP_ERR_INVALID_ARGUMENT, "%s: pool size %zux%zu must be >= 1", op, p0, p1);
    LIP_CHECK(ctx, ndim == 4, LIP_ERR_SHAPE, "%s: the input must be 4-D NHWC (batch, height, width, channels), got %d-D",
              op, ndim);
    if (dir == LIP_RESAMPLE_DOWN) {
        LIP_CHECK(ctx, in[1] % p0 == 0 && in[2] % p1 == 0, LIP_ERR_SHAPE,
                  "%s: input %zux%zu is not divisible by the pool %zux%zu", op, in[1], in[2], p0, p1);
        out[0] = in[0];
        out[1] = in[1] / p0;
        out[2] = in[2] / p1;
        out[3] = in[3] * p0 * p1;
    } else {
        LIP_CHECK(ctx, in[3] % (p0 * p1) == 0, LIP_ERR_SHAPE,
                  "%s: %zu channels is not a multiple of the pool area %zux%zu = %zu", op, in[3], p0, p1, p0 * p1);
        out[0] = in[0];
        out[1] = in[1] * p0;
        out[2] = in[2] * p1;
        out[3] = in[3] / (p0 * p1);
    }
    return LIP_OK;
}

/* `t` (named tname) is a float32 tensor of exactly `want` (4-D). */
static lip_status check_shape4(lip_context *ctx, const char *op, const char *tname, const lip_tensor *t,
                               const size_t *want, const char *why) {
    char what[96];
    snprintf(what, sizeof what, "%s: %s", op, tname);
    LIP_TRY(lip_check_tensor(ctx, t, LIP_FLOAT32, what));
    int same = t->ndim == 4;
    for (int i = 0; same && i < 4; i++) same = t->shape[i] == want[i];
    if (!same) {
        char ts[64];
        return lip_set_error(ctx, LIP_ERR_SHAPE, "%s: %s %s must be (%zu, %zu, %zu, %zu) (%s)", op, tname,
                             lip_shape_string(t, ts, sizeof ts), want[0], want[1], want[2], want[3], why);
    }
    return LIP_OK;
}

/* Apply the permutation `dir` to `in` (its input side) into `out`, with op/names for messages. */
static lip_status permute(lip_context *ctx, const char *op, lip_resample_dir dir, size_t p0, size_t p1,
                          const char *in_name, const lip_tensor *in, const char *out_name, lip_tensor *out) {
    char what[96];
    snprintf(what, sizeof what, "%s: %s", op, in_name);
    LIP_TRY(lip_check_tensor(ctx, in, LIP_FLOAT32, what));
    size_t want[4];
    char is[64], why[96];
    lip_status st = lip_resample_output_shape(ctx, dir, p0, p1, in->ndim, in->shape, want);
    if (st != LIP_OK) { /* name the op and the tensor (a backward checks dy with the inverse map) */
        char cause[LIP_MSG_SIZE];
        snprintf(cause, sizeof cause, "%s", lip_context_last_error(ctx));
        return lip_set_error(ctx, st, "%s: %s %s: %s", op, in_name, lip_shape_string(in, is, sizeof is), cause);
    }
    snprintf(why, sizeof why, "%s %s resampled", in_name, lip_shape_string(in, is, sizeof is));
    LIP_TRY(check_shape4(ctx, op, out_name, out, want, why));
    LIP_CHECK(ctx, out->mem != in->mem, LIP_ERR_INVALID_ARGUMENT, "%s: %s must not be the same tensor as %s", op,
              out_name, in_name);
    /* The kernels take the large image's (H, W, C). */
    const size_t *large = dir == LIP_RESAMPLE_DOWN ? in->shape : want;
    cl_uint H = (cl_uint)large[1], W = (cl_uint)large[2], C = (cl_uint)large[3];
    cl_uint up0 = (cl_uint)p0, up1 = (cl_uint)p1, count = (cl_uint)out->count;
    cl_uint in_off = (cl_uint)in->offset, out_off = (cl_uint)out->offset;
    cl_kernel k;
    const char *entry = dir == LIP_RESAMPLE_DOWN ? "lip_resampling_down" : "lip_resampling_up";
    LIP_TRY(lip_kernel_get(ctx, "resampling", entry, NULL, &k));
    size_t groups = (out->count + RS_LOCAL - 1) / RS_LOCAL;
    if (groups > RS_MAX_GROUPS) groups = RS_MAX_GROUPS;
    size_t global = groups * RS_LOCAL, local = RS_LOCAL;
    return lip_launch(ctx, k, dir == LIP_RESAMPLE_DOWN ? "resampling/down" : "resampling/up", 1, &global, &local,
                      LIP_KARGS(LIP_KARG(in->mem), LIP_KARG(in_off), LIP_KARG(out->mem), LIP_KARG(out_off),
                                LIP_KARG(H), LIP_KARG(W), LIP_KARG(C), LIP_KARG(up0), LIP_KARG(up1),
                                LIP_KARG(count)));
}

lip_status lip_resample_forward(lip_context *ctx, lip_resample_dir dir, size_t p0, size_t p1, const lip_tensor *x,
                                lip_tensor *y) {
    if (!ctx) return LIP_ERR_NULL;
    return permute(ctx, lip_resample_name(dir), dir, p0, p1, "x", x, "y", y);
}

lip_status lip_resample_backward(lip_context *ctx, lip_resample_dir dir, size_t p0, size_t p1, const lip_tensor *dy,
                                 lip_tensor *dx) {
    if (!ctx) return LIP_ERR_NULL;
    LIP_CHECK(ctx, dir == LIP_RESAMPLE_DOWN || dir == LIP_RESAMPLE_UP, LIP_ERR_INVALID_ARGUMENT,
              "resampling: unknown direction %d", (int)dir);
    lip_resample_dir inverse = dir == LIP_RESAMPLE_DOWN ? LIP_RESAMPLE_UP : LIP_RESAMPLE_DOWN;
    char op[64];
    snprintf(op, sizeof op, "%s backward", lip_resample_name(dir));
    return permute(ctx, op, inverse, p0, p1, "dy", dy, "dx", dx);
}

/* ---- layers: InvertibleDownSampling, InvertibleUpSampling --------------------------------------- */

typedef struct resample_layer_priv {
    lip_resample_dir dir;
    size_t p0, p1;
} resample_layer_priv;

/* The image (H, W, C) → the per-sample output shape, refusing sizes that do not divide (with the
 * layer named). */
static lip_status resample_layer_init(lip_layer *l) {
    lip_context *ctx = l->ctx;
    const resample_layer_priv *q = l->priv;
    const char *type = l->vt->type;
    LIP_CHECK(ctx, l->in_ndim == 3, LIP_ERR_SHAPE,
              "%s '%s': the input must be an image (height, width, channels), got a per-sample rank of %d", type,
              l->name, l->in_ndim);
    size_t h = l->in_shape[0], w = l->in_shape[1], c = l->in_shape[2];
    if (q->dir == LIP_RESAMPLE_DOWN)
        LIP_CHECK(ctx, h % q->p0 == 0 && w % q->p1 == 0, LIP_ERR_SHAPE,
                  "%s '%s': input %zux%zu is not divisible by the pool %zux%zu", type, l->name, h, w, q->p0, q->p1);
    else
        LIP_CHECK(ctx, c % (q->p0 * q->p1) == 0, LIP_ERR_SHAPE,
                  "%s '%s': %zu channels is not a multiple of the pool area %zux%zu = %zu", type, l->name, c, q->p0,
                  q->p1, q->p0 * q->p1);
    size_t in4[4] = {1, h, w, c}, out4[4];
    LIP_TRY(lip_resample_output_shape(ctx, q->dir, q->p0, q->p1, 4, in4, out4));
    l->out_ndim = 3;
    for (int i = 0; i < 3; i++) l->out_shape[i] = out4[i + 1];
    return LIP_OK;
}

static lip_status resample_layer_forward(lip_layer *l, const lip_tensor *x, lip_tensor *y, size_t batch) {
    (void)batch;
    const resample_layer_priv *q = l->priv;
    return lip_resample_forward(l->ctx, q->dir, q->p0, q->p1, x, y);
}

static lip_status resample_layer_backward(lip_layer *l, const lip_tensor *x, const lip_tensor *y,
                                          const lip_tensor *dy, lip_tensor *dx, size_t batch, int accumulate) {
    (void)x, (void)y, (void)batch, (void)accumulate; /* a permutation: no parameters, x not needed */
    const resample_layer_priv *q = l->priv;
    return dx ? lip_resample_backward(l->ctx, q->dir, q->p0, q->p1, dy, dx) : LIP_OK;
}

/* A permutation: exactly 1-Lipschitz. */
static lip_status resample_layer_lipschitz_bound(const lip_layer *l, double *bound, int *per_neuron) {
    (void)l;
    *bound = 1.0;
    *per_neuron = 0;
    return LIP_OK;
}

static lip_status resample_layer_get_config(const lip_layer *l, lip_layer_config *cfg) {
    const resample_layer_priv *q = l->priv;
    LIP_TRY(lip_layer_config_add(l->ctx, cfg, "pool_h", (double)q->p0));
    return lip_layer_config_add(l->ctx, cfg, "pool_w", (double)q->p1);
}

static lip_status resample_layer_vanilla_export(lip_layer *l, lip_layer **out) {
    return lip_layer_export_copy(l, sizeof(resample_layer_priv), out);
}

static const lip_layer_vtable down_vtable = {.type = "InvertibleDownSampling",
                                             .init = resample_layer_init,
                                             .forward = resample_layer_forward,
                                             .backward = resample_layer_backward,
                                             .lipschitz_bound = resample_layer_lipschitz_bound,
                                             .get_config = resample_layer_get_config,
                                             .vanilla_export = resample_layer_vanilla_export};
static const lip_layer_vtable up_vtable = {.type = "InvertibleUpSampling",
                                           .init = resample_layer_init,
                                           .forward = resample_layer_forward,
                                           .backward = resample_layer_backward,
                                           .lipschitz_bound = resample_layer_lipschitz_bound,
                                           .get_config = resample_layer_get_config,
                                           .vanilla_export = resample_layer_vanilla_export};

static lip_status resample_layer_create(lip_context *ctx, const lip_layer_vtable *vt, lip_resample_dir dir,
                                        size_t p0, size_t p1, const char *name, lip_layer **out) {
    if (!ctx) return LIP_ERR_NULL;
    LIP_CHECK(ctx, out, LIP_ERR_NULL, "%s: out is NULL", vt->type);
    *out = NULL;
    LIP_CHECK(ctx, p0 >= 1 && p1 >= 1 && p0 <= 0xffff && p1 <= 0xffff, LIP_ERR_INVALID_ARGUMENT,
              "%s '%s': pool size %zux%zu must be in 1..65535", vt->type, name ? name : "", p0, p1);
    LIP_TRY(lip_layer_alloc(ctx, vt, name, sizeof(resample_layer_priv), out));
    resample_layer_priv *q = (*out)->priv;
    q->dir = dir;
    q->p0 = p0;
    q->p1 = p1;
    return LIP_OK;
}

lip_status lip_invertible_downsampling_create(lip_context *ctx, size_t pool_h, size_t pool_w, const char *name,
                                              lip_layer **out) {
    return resample_layer_create(ctx, &down_vtable, LIP_RESAMPLE_DOWN, pool_h, pool_w, name, out);
}

lip_status lip_invertible_upsampling_create(lip_context *ctx, size_t pool_h, size_t pool_w, const char *name,
                                            lip_layer **out) {
    return resample_layer_create(ctx, &up_vtable, LIP_RESAMPLE_UP, pool_h, pool_w, name, out);
}
