/* lipcl — spectral normalization by power iteration (deel-lip semantics), forward and backward on the
 * device: argument checks, workspace layout and the launches of kernels/power_iteration.cl. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "lipschitz/normalizers.h"

/*
 * Workspace layout (float32 elements from the workspace tensor's first element), rows = m, cols = n:
 *   v      [0, m)               v = W u
 *   t      [m, m + n)           t = v W
 *   part   [m + n, … + PI_PARTS) per-group partials of ⟨G, W⟩ (backward)
 *   coef   2 scalars            1/(σ + eps) and the σ-term factor (backward)
 * The number of partial groups depends only on the element count, so results are bit-identical
 * from run to run. Three small launches per iteration: 784×128 with 10 iterations takes ≈ 1.9 ms
 * forward (mostly launch overhead and the two matrix-vector products), ≈ 0.25 ms backward on PoCL 3.1,
 * 2-core Skylake-AVX512.
 */
#define PI_PARTS 64             /* most partial groups of the ⟨G, W⟩ reduction */
#define PI_ITEMS_PER_THREAD 4   /* aimed-at elements per work-item of that reduction's first pass */

typedef struct pi_layout {
    size_t rows, cols, v, t, part, coef, total;
} pi_layout;

static pi_layout pi_plan(size_t rows, size_t cols) {
    pi_layout p;
    p.rows = rows;
    p.cols = cols;
    p.v = 0;
    p.t = rows;
    p.part = rows + cols;
    p.coef = p.part + PI_PARTS;
    p.total = p.coef + 2;
    return p;
}

lip_power_iteration_config lip_power_iteration_config_default(void) {
    lip_power_iteration_config c;
    c.eps = 1e-3f;
    c.maxiter = 10;
    c.stopping = LIP_STOPPING_EPS;
    return c;
}

size_t lip_power_iteration_workspace_floats(size_t rows, size_t cols) { return pi_plan(rows, cols).total; }

/* The work-group size a kernel was compiled for (its reqd_work_group_size, dimension 0). */
static lip_status compiled_wg(lip_context *ctx, cl_kernel k, const char *entry, size_t *wg) {
    size_t req[3] = {0, 0, 0};
    LIP_CL(ctx, clGetKernelWorkGroupInfo(k, ctx->device, CL_KERNEL_COMPILE_WORK_GROUP_SIZE, sizeof req, req, NULL));
    LIP_CHECK(ctx, req[0] >= 1, LIP_ERR_INTERNAL, "kernel %s has no required work-group size", entry);
    *wg = req[0];
    return LIP_OK;
}

/* A kernel of kernels/power_iteration.cl and its compiled work-group size. */
static lip_status get_kernel(lip_context *ctx, const char *entry, cl_kernel *k, size_t *wg) {
    LIP_TRY(lip_kernel_get(ctx, "power_iteration", entry, NULL, k));
    return compiled_wg(ctx, *k, entry, wg);
}

static lip_status check_config(lip_context *ctx, const char *op, const lip_power_iteration_config *cfg) {
    LIP_CHECK(ctx, cfg, LIP_ERR_NULL, "%s: config is NULL", op);
    LIP_CHECK(ctx, cfg->eps > 0.0f && isfinite(cfg->eps), LIP_ERR_INVALID_ARGUMENT,
              "%s: eps = %g must be finite and > 0 (it is the stopping threshold and the epsilon of "
              "W/(sigma + eps))",
              op, (double)cfg->eps);
    LIP_CHECK(ctx, cfg->maxiter >= 1 && cfg->maxiter <= LIP_NORMALIZER_MAX_ITER, LIP_ERR_INVALID_ARGUMENT,
              "%s: maxiter = %d outside 1..%d", op, cfg->maxiter, LIP_NORMALIZER_MAX_ITER);
    LIP_CHECK(ctx, cfg->stopping == LIP_STOPPING_EPS || cfg->stopping == LIP_STOPPING_FIXED,
              LIP_ERR_INVALID_ARGUMENT, "%s: unknown stopping rule %d", op, (int)cfg->stopping);
    return LIP_OK;
}

/* Tensor `t` (named `name`) is float32 of this context with exactly `count` elements; `why` says what
 * the count is. */
static lip_status check_count(lip_context *ctx, const char *op, const char *name, const lip_tensor *t, size_t count,
                              const char *why, const lip_tensor *w) {
    char what[96], ts[64], ws[64];
    snprintf(what, sizeof what, "%s: %s", op, name);
    LIP_TRY(lip_check_tensor(ctx, t, LIP_FLOAT32, what));
    LIP_CHECK(ctx, t->count == count, LIP_ERR_SHAPE, "%s: %s %s must hold %zu element%s (%s of w %s)", op, name,
              lip_shape_string(t, ts, sizeof ts), count, count == 1 ? "" : "s", why, lip_shape_string(w, ws, sizeof ws));
    return LIP_OK;
}

/* Shared by both normalizers (declared in normalizers.h). */
lip_status lip_normalizer_check_state(lip_context *ctx, const char *op, const lip_tensor *state) {
    char what[96], s[64];
    snprintf(what, sizeof what, "%s: state", op);
    LIP_TRY(lip_check_tensor(ctx, state, LIP_INT32, what));
    LIP_CHECK(ctx, state->count >= LIP_NORMALIZER_STATE_INTS, LIP_ERR_SHAPE,
              "%s: state %s must hold at least %d int32 elements (iteration count, done flag)", op,
              lip_shape_string(state, s, sizeof s), LIP_NORMALIZER_STATE_INTS);
    return LIP_OK;
}

/* The caller's workspace (checked to be large enough), or a temporary in *tmp (NULL workspace). */
static lip_status use_workspace(lip_context *ctx, const char *op, lip_tensor *workspace, size_t floats,
                                lip_tensor **ws, lip_tensor **tmp) {
    *tmp = NULL;
    if (!workspace) {
        LIP_TRY(lip_tensor_create(ctx, LIP_FLOAT32, 1, &floats, tmp));
        *ws = *tmp;
        return LIP_OK;
    }
    char what[96], s[64];
    snprintf(what, sizeof what, "%s: workspace", op);
    LIP_TRY(lip_check_tensor(ctx, workspace, LIP_FLOAT32, what));
    LIP_CHECK(ctx, workspace->count >= floats, LIP_ERR_SHAPE,
              "%s: workspace %s holds %zu floats, lip_power_iteration_workspace_floats asks %zu", op,
              lip_shape_string(workspace, s, sizeof s), workspace->count, floats);
    *ws = workspace;
    return LIP_OK;
}

static size_t round_up(size_t n, size_t m) { return (n + m - 1) / m * m; }

/* v = W u (one work-item per row); predicated launches skip when the done flag is set. `state_mem` must
 * be a valid buffer even when not predicated (it is then not read). */
static lip_status launch_wu(lip_context *ctx, const lip_tensor *w, const lip_tensor *u, cl_mem ws, cl_uint v_off,
                            const pi_layout *p, cl_mem state_mem, cl_uint st_off, cl_uint predicated) {
    cl_kernel k;
    size_t wg;
    LIP_TRY(get_kernel(ctx, "lip_power_iteration_wu", &k, &wg));
    cl_uint w_off = (cl_uint)w->offset, u_off = (cl_uint)u->offset, m = (cl_uint)p->rows, n = (cl_uint)p->cols;
    size_t global = round_up(p->rows, wg);
    return lip_launch(ctx, k, "power_iteration/wu", 1, &global, &wg,
                      LIP_KARGS(LIP_KARG(w->mem), LIP_KARG(w_off), LIP_KARG(u->mem), LIP_KARG(u_off), LIP_KARG(ws),
                                LIP_KARG(v_off), LIP_KARG(m), LIP_KARG(n), LIP_KARG(state_mem), LIP_KARG(st_off),
                                LIP_KARG(predicated)));
}

/* What forward and backward both take: the config, w, u (one value per column) and σ (a scalar). */
static lip_status check_operands(lip_context *ctx, const char *op, const lip_power_iteration_config *cfg,
                                 const lip_tensor *w, const lip_tensor *u, const lip_tensor *sigma) {
    LIP_TRY(check_config(ctx, op, cfg));
    char what[96];
    snprintf(what, sizeof what, "%s: w", op);
    LIP_TRY(lip_check_tensor(ctx, w, LIP_FLOAT32, what));
    const size_t cols = w->shape[w->ndim - 1];
    LIP_TRY(check_count(ctx, op, "u", u, cols, "the columns", w));
    return check_count(ctx, op, "sigma", sigma, 1, "one scalar", w);
}

lip_status lip_power_iteration_forward(lip_context *ctx, const lip_power_iteration_config *cfg, const lip_tensor *w,
                                       lip_tensor *u, lip_tensor *sigma, lip_tensor *w_bar, lip_tensor *state,
                                       lip_tensor *workspace) {
    if (!ctx) return LIP_ERR_NULL;
    const char *op = "lip_power_iteration_forward";
    LIP_TRY(check_operands(ctx, op, cfg, w, u, sigma));
    const size_t cols = w->shape[w->ndim - 1], rows = w->count / cols;
    if (w_bar) LIP_TRY(check_count(ctx, op, "w_bar", w_bar, w->count, "the elements", w));
    LIP_TRY(lip_normalizer_check_state(ctx, op, state));
    const pi_layout p = pi_plan(rows, cols);
    lip_tensor *ws = NULL, *tmp = NULL;
    LIP_TRY(use_workspace(ctx, op, workspace, p.total, &ws, &tmp));

    lip_status st = LIP_OK;
    cl_kernel k_init, k_vw, k_update, k_sigma, k_scale;
    size_t wg_init, wg_vw, wg_update, wg_sigma, wg_scale;
    LIP_TRY_GOTO(st, get_kernel(ctx, "lip_power_iteration_init", &k_init, &wg_init));
    LIP_TRY_GOTO(st, get_kernel(ctx, "lip_power_iteration_vw", &k_vw, &wg_vw));
    LIP_TRY_GOTO(st, get_kernel(ctx, "lip_power_iteration_update", &k_update, &wg_update));
    LIP_TRY_GOTO(st, get_kernel(ctx, "lip_power_iteration_sigma", &k_sigma, &wg_sigma));
    LIP_TRY_GOTO(st, get_kernel(ctx, "lip_power_iteration_scale", &k_scale, &wg_scale));

    const cl_uint m = (cl_uint)rows, n = (cl_uint)cols, w_off = (cl_uint)w->offset, u_off = (cl_uint)u->offset;
    const cl_uint st_off = (cl_uint)state->offset, base = (cl_uint)ws->offset;
    const cl_uint v_off = base + (cl_uint)p.v, t_off = base + (cl_uint)p.t;
    /* The `fixed` rule never stops early: a threshold of 0 is never beaten by a norm. */
    const cl_float eps_stop = cfg->stopping == LIP_STOPPING_EPS ? cfg->eps : 0.0f;

    /* u ← l2_normalize(u), state ← (0, not done). deel-lip's first test ‖u − (u + 2ε)‖ = 2ε√n ≥ ε
     * always passes, so the first iteration always runs. */
    LIP_TRY_GOTO(st, lip_launch(ctx, k_init, "power_iteration/init", 1, &wg_init, &wg_init,
                                LIP_KARGS(LIP_KARG(u->mem), LIP_KARG(u_off), LIP_KARG(n), LIP_KARG(state->mem),
                                          LIP_KARG(st_off))));
    size_t global_vw = round_up(cols, wg_vw);
    for (int it = 0; it < cfg->maxiter; it++) {
        LIP_TRY_GOTO(st, launch_wu(ctx, w, u, ws->mem, v_off, &p, state->mem, st_off, 1));
        LIP_TRY_GOTO(st, lip_launch(ctx, k_vw, "power_iteration/vw", 1, &global_vw, &wg_vw,
                                    LIP_KARGS(LIP_KARG(w->mem), LIP_KARG(w_off), LIP_KARG(ws->mem), LIP_KARG(v_off),
                                              LIP_KARG(ws->mem), LIP_KARG(t_off), LIP_KARG(m), LIP_KARG(n),
                                              LIP_KARG(state->mem), LIP_KARG(st_off))));
        LIP_TRY_GOTO(st, lip_launch(ctx, k_update, "power_iteration/update", 1, &wg_update, &wg_update,
                                    LIP_KARGS(LIP_KARG(ws->mem), LIP_KARG(t_off), LIP_KARG(u->mem), LIP_KARG(u_off),
                                              LIP_KARG(n), LIP_KARG(eps_stop), LIP_KARG(state->mem),
                                              LIP_KARG(st_off))));
    }
    /* σ = ‖u Wᵀ‖ from the final u, then W/(σ + ε). */
    LIP_TRY_GOTO(st, launch_wu(ctx, w, u, ws->mem, v_off, &p, state->mem, st_off, 0));
    const cl_uint s_off = (cl_uint)sigma->offset;
    LIP_TRY_GOTO(st, lip_launch(ctx, k_sigma, "power_iteration/sigma", 1, &wg_sigma, &wg_sigma,
                                LIP_KARGS(LIP_KARG(ws->mem), LIP_KARG(v_off), LIP_KARG(m), LIP_KARG(sigma->mem),
                                          LIP_KARG(s_off))));
    if (w_bar) {
        const cl_uint wb_off = (cl_uint)w_bar->offset, count = (cl_uint)w->count;
        const cl_float eps = cfg->eps;
        size_t groups = (w->count + wg_scale - 1) / wg_scale;
        if (groups > 4096) groups = 4096;
        size_t global = groups * wg_scale;
        LIP_TRY_GOTO(st, lip_launch(ctx, k_scale, "power_iteration/scale", 1, &global, &wg_scale,
                                    LIP_KARGS(LIP_KARG(w->mem), LIP_KARG(w_off), LIP_KARG(w_bar->mem),
                                              LIP_KARG(wb_off), LIP_KARG(count), LIP_KARG(sigma->mem),
                                              LIP_KARG(s_off), LIP_KARG(eps))));
    }
fail:
    /* Safe with launches still queued: OpenCL keeps the buffer until its commands finish. */
    lip_tensor_free(tmp);
    return st;
}

lip_status lip_power_iteration_backward(lip_context *ctx, const lip_power_iteration_config *cfg, const lip_tensor *w,
                                        const lip_tensor *u, const lip_tensor *sigma, const lip_tensor *grad_w_bar,
                                        const lip_tensor *grad_sigma, lip_tensor *grad_w, lip_tensor *workspace) {
    if (!ctx) return LIP_ERR_NULL;
    const char *op = "lip_power_iteration_backward";
    LIP_TRY(check_operands(ctx, op, cfg, w, u, sigma));
    const size_t cols = w->shape[w->ndim - 1], rows = w->count / cols;
    LIP_TRY(check_count(ctx, op, "grad_w_bar", grad_w_bar, w->count, "the elements", w));
    if (grad_sigma) LIP_TRY(check_count(ctx, op, "grad_sigma", grad_sigma, 1, "one scalar", w));
    LIP_TRY(check_count(ctx, op, "grad_w", grad_w, w->count, "the elements", w));
    const pi_layout p = pi_plan(rows, cols);
    lip_tensor *ws = NULL, *tmp = NULL;
    LIP_TRY(use_workspace(ctx, op, workspace, p.total, &ws, &tmp));

    lip_status st = LIP_OK;
    cl_kernel k_dot, k_coef, k_grad;
    size_t wg_dot, wg_coef, wg_grad;
    LIP_TRY_GOTO(st, get_kernel(ctx, "lip_power_iteration_dot_partial", &k_dot, &wg_dot));
    LIP_TRY_GOTO(st, get_kernel(ctx, "lip_power_iteration_grad_coef", &k_coef, &wg_coef));
    LIP_TRY_GOTO(st, get_kernel(ctx, "lip_power_iteration_grad", &k_grad, &wg_grad));

    const cl_uint base = (cl_uint)ws->offset, v_off = base + (cl_uint)p.v, part_off = base + (cl_uint)p.part;
    const cl_uint coef_off = base + (cl_uint)p.coef;
    /* v = W u (u frozen: the forward's final vector). The state argument is not read (not predicated). */
    LIP_TRY_GOTO(st, launch_wu(ctx, w, u, ws->mem, v_off, &p, w->mem, 0, 0));

    /* ⟨G, W⟩: a fixed number of groups (from the size only), then one group adds the partials. */
    size_t parts = (w->count + wg_dot * PI_ITEMS_PER_THREAD - 1) / (wg_dot * PI_ITEMS_PER_THREAD);
    if (parts > PI_PARTS) parts = PI_PARTS;
    if (parts < 1) parts = 1;
    const cl_uint g_off = (cl_uint)grad_w_bar->offset, w_off = (cl_uint)w->offset, count = (cl_uint)w->count;
    size_t global = parts * wg_dot;
    LIP_TRY_GOTO(st, lip_launch(ctx, k_dot, "power_iteration/grad_dot", 1, &global, &wg_dot,
                                LIP_KARGS(LIP_KARG(grad_w_bar->mem), LIP_KARG(g_off), LIP_KARG(w->mem),
                                          LIP_KARG(w_off), LIP_KARG(count), LIP_KARG(ws->mem), LIP_KARG(part_off))));
    const cl_uint n_parts = (cl_uint)parts, s_off = (cl_uint)sigma->offset;
    const cl_uint has_gs = grad_sigma ? 1u : 0u, gs_off = grad_sigma ? (cl_uint)grad_sigma->offset : 0u;
    const cl_mem gs_mem = grad_sigma ? grad_sigma->mem : sigma->mem; /* not read without grad_sigma */
    const cl_float eps = cfg->eps;
    LIP_TRY_GOTO(st, lip_launch(ctx, k_coef, "power_iteration/grad_coef", 1, &wg_coef, &wg_coef,
                                LIP_KARGS(LIP_KARG(ws->mem), LIP_KARG(part_off), LIP_KARG(n_parts),
                                          LIP_KARG(sigma->mem), LIP_KARG(s_off), LIP_KARG(gs_mem), LIP_KARG(gs_off),
                                          LIP_KARG(has_gs), LIP_KARG(eps), LIP_KARG(ws->mem), LIP_KARG(coef_off))));
    const cl_uint u_off = (cl_uint)u->offset, m = (cl_uint)rows, n = (cl_uint)cols, dw_off = (cl_uint)grad_w->offset;
    size_t global2[2] = {round_up(cols, wg_grad), rows}, local2[2] = {wg_grad, 1};
    LIP_TRY_GOTO(st, lip_launch(ctx, k_grad, "power_iteration/grad", 2, global2, local2,
                                LIP_KARGS(LIP_KARG(grad_w_bar->mem), LIP_KARG(g_off), LIP_KARG(ws->mem),
                                          LIP_KARG(v_off), LIP_KARG(u->mem), LIP_KARG(u_off), LIP_KARG(ws->mem),
                                          LIP_KARG(coef_off), LIP_KARG(m), LIP_KARG(n), LIP_KARG(grad_w->mem),
                                          LIP_KARG(dw_off))));
fail:
    lip_tensor_free(tmp); /* see the forward */
    return st;
}

lip_status lip_normalizer_iterations(lip_context *ctx, const lip_tensor *state, int *iterations) {
    if (!ctx) return LIP_ERR_NULL;
    const char *op = "lip_normalizer_iterations";
    LIP_CHECK(ctx, iterations, LIP_ERR_NULL, "%s: iterations is NULL", op);
    LIP_TRY(lip_normalizer_check_state(ctx, op, state));
    cl_int *h = malloc(state->count * sizeof *h);
    LIP_CHECK(ctx, h, LIP_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    lip_status st = lip_tensor_download(state, h, state->count * sizeof *h);
    if (st == LIP_OK) *iterations = (int)h[0];
    free(h);
    return st;
}
