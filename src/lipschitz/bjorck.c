/* lipcl — Björck orthonormalization (deel-lip semantics), forward and backward through every executed
 * iteration on the device: argument checks, workspace layout and the launches of kernels/bjorck.cl. */
#include <math.h>
#include <stdio.h>

#include "lipschitz/normalizers.h"

/*
 * The kernels see a "tall" R×C matrix X (R ≥ C): X = W when rows > cols, else X = Wᵀ (read and written
 * through strides), so the Gram product is the C×C matrix XᵀX, deel-lip's smaller side.
 *
 * Workspace (float32 elements from the workspace tensor's first element), full layout:
 *   X_k   k·RC,                 k = 0..maxiter   X_0 = the input, X_k = after k iterations
 *   A_k   (maxiter+1)·RC + k·CC, k < maxiter   X_kᵀX_k (reused by the backward)
 *   G0,G1 then 2 × RC                           backward ping-pong: iteration k reads G[(k+1) mod 2],
 *                                               writes G[k mod 2] (lip_bjorck_grad_load picks the start)
 *   S     then CC                               GᵀX_k + X_kᵀG (backward)
 *   part  then the partial bound                partial squared norms (forward): one per row of the
 *                                               load, one per work-group of a step
 * The partial region is sized by a bound that holds for every legal geometry of bjorck.cl (work-groups
 * of ≥ 4 items for the block kernels, blocks of ≥ 4 columns, one partial per row for the load), so the
 * size needs no compiled kernel. Without a caller workspace the forward uses a light temporary: X in
 * two alternating slots, one A, the partials (no backward possible).
 *
 * Cost per iteration: two C×C×R-type products forward (the Gram, computed on its upper triangle, and the
 * step), three backward. Measured on PoCL 3.1, 2-core Skylake-AVX512, all 15 iterations (fixed rule):
 * 784×128 forward ≈ 5.5 ms, backward ≈ 8.5 ms; 576×64 (a 3×3×64×64 kernel) ≈ 1.5 ms and 2.2 ms.
 */

/* Geometry of the kernels as compiled (read back from their required work-group sizes). */
typedef struct bj_geometry {
    size_t wx, wy;   /* work-group of the block kernels (gram, step, step_grad) */
    size_t tm, tn;   /* block of one work-item: rows, columns */
    size_t row_wg;   /* work-group of the one-item-per-row kernels (load, store, grad_load, grad_store) */
    size_t check_wg; /* the one-group check kernel */
} bj_geometry;

typedef struct bj_plan {
    size_t rows, cols, R, C;  /* W is rows×cols; X is R×C */
    cl_uint rs, cs;           /* X[r, c] = W[r·rs + c·cs] */
    size_t rc, cc;            /* R·C and C·C */
    int maxiter, light;
    size_t a_base, g0, g1, s, part, part_cap, total;
    size_t grid_s[2], grid_g[2]; /* global sizes: step R×C and Gram C×C (in blocks) */
    size_t grid_r;            /* global size of the one-item-per-row kernels */
    size_t parts_l, parts_s;  /* partials written by the load (one per row) and step (one per group) */
} bj_plan;

static size_t round_up(size_t n, size_t m) { return (n + m - 1) / m * m; }
static size_t div_up(size_t n, size_t m) { return (n + m - 1) / m; }

/* Upper bound of the partials of the load (R) and step (≥ 4-item groups of blocks of ≥ 4 columns:
 * ⌈⌈C/tn⌉/wx⌉·⌈⌈R/tm⌉/wy⌉ ≤ RC/16 + 1.25R + C/4 + 2) launches. */
static size_t part_bound(size_t R, size_t C) { return R * C / 16 + 2 * R + C + 2; }

static void plan_sizes(bj_plan *p, size_t rows, size_t cols, int maxiter, int light) {
    const int tall = rows > cols;
    p->rows = rows;
    p->cols = cols;
    p->R = tall ? rows : cols;
    p->C = tall ? cols : rows;
    p->rs = tall ? (cl_uint)cols : 1u;
    p->cs = tall ? 1u : (cl_uint)cols;
    p->rc = p->R * p->C;
    p->cc = p->C * p->C;
    p->maxiter = maxiter;
    p->light = light;
    if (light) {
        p->a_base = 2 * p->rc;
        p->g0 = p->g1 = p->s = 0; /* no backward */
        p->part = p->a_base + p->cc;
    } else {
        p->a_base = (size_t)(maxiter + 1) * p->rc;
        p->g0 = p->a_base + (size_t)maxiter * p->cc;
        p->g1 = p->g0 + p->rc;
        p->s = p->g1 + p->rc;
        p->part = p->s + p->cc;
    }
    p->part_cap = part_bound(p->R, p->C);
    p->total = p->part + p->part_cap;
}

static size_t slot_x(const bj_plan *p, int k) { return (size_t)(p->light ? k % 2 : k) * p->rc; }
static size_t slot_a(const bj_plan *p, int k) { return p->a_base + (size_t)(p->light ? 0 : k) * p->cc; }

static void plan_grids(bj_plan *p, const bj_geometry *g) {
    p->grid_r = round_up(p->R, g->row_wg);
    p->parts_l = p->R;
    p->grid_s[0] = round_up(div_up(p->C, g->tn), g->wx);
    p->grid_s[1] = round_up(div_up(p->R, g->tm), g->wy);
    p->parts_s = (p->grid_s[0] / g->wx) * (p->grid_s[1] / g->wy);
    p->grid_g[0] = round_up(div_up(p->C, g->tn), g->wx);
    p->grid_g[1] = round_up(div_up(p->C, g->tm), g->wy);
}

lip_bjorck_config lip_bjorck_config_default(void) {
    lip_bjorck_config c;
    c.beta = 0.5f;
    c.eps = 1e-3f;
    c.maxiter = 15;
    c.stopping = LIP_STOPPING_EPS;
    return c;
}

size_t lip_bjorck_workspace_floats(size_t rows, size_t cols, int maxiter) {
    bj_plan p;
    plan_sizes(&p, rows, cols, maxiter < 1 ? 1 : maxiter, 0);
    return p.total;
}

/* A kernel of kernels/bjorck.cl and its required work-group size. */
static lip_status get_kernel(lip_context *ctx, const char *entry, cl_kernel *k, size_t req[3]) {
    LIP_TRY(lip_kernel_get(ctx, "bjorck", entry, NULL, k));
    size_t r[3] = {0, 0, 0};
    LIP_CL(ctx, clGetKernelWorkGroupInfo(*k, ctx->device, CL_KERNEL_COMPILE_WORK_GROUP_SIZE, sizeof r, r, NULL));
    LIP_CHECK(ctx, r[0] >= 1 && r[1] >= 1, LIP_ERR_INTERNAL, "kernel %s has no required work-group size", entry);
    if (req)
        for (int i = 0; i < 3; i++) req[i] = r[i];
    return LIP_OK;
}

/* The compiled geometry. The block shape (BJ_TN, BJ_TM) is not a work-group size: the never-launched
 * kernel lip_bjorck_block_shape carries it as its required work-group size. */
static lip_status geometry(lip_context *ctx, bj_geometry *g) {
    cl_kernel k;
    size_t req[3] = {0, 0, 0};
    LIP_TRY(get_kernel(ctx, "lip_bjorck_step", &k, req));
    g->wx = req[0];
    g->wy = req[1];
    LIP_TRY(get_kernel(ctx, "lip_bjorck_block_shape", &k, req));
    g->tn = req[0];
    g->tm = req[1];
    LIP_TRY(get_kernel(ctx, "lip_bjorck_load", &k, req));
    g->row_wg = req[0];
    LIP_TRY(get_kernel(ctx, "lip_bjorck_check", &k, req));
    g->check_wg = req[0];
    LIP_CHECK(ctx, g->wx * g->wy >= 4 && g->tn >= 4 && g->tm >= 1, LIP_ERR_INTERNAL,
              "kernels/bjorck.cl: geometry outside the supported range (work-group %zux%zu, blocks %zux%zu)", g->wx,
              g->wy, g->tm, g->tn);
    return LIP_OK;
}

static lip_status check_config(lip_context *ctx, const char *op, const lip_bjorck_config *cfg) {
    LIP_CHECK(ctx, cfg, LIP_ERR_NULL, "%s: config is NULL", op);
    LIP_CHECK(ctx, cfg->beta > 0.0f && cfg->beta <= 0.5f, LIP_ERR_INVALID_ARGUMENT,
              "%s: beta = %g outside (0, 0.5] (deel-lip's bound; beta > 0.5 can diverge)", op, (double)cfg->beta);
    LIP_CHECK(ctx, cfg->maxiter >= 1 && cfg->maxiter <= LIP_NORMALIZER_MAX_ITER, LIP_ERR_INVALID_ARGUMENT,
              "%s: maxiter = %d outside 1..%d", op, cfg->maxiter, LIP_NORMALIZER_MAX_ITER);
    LIP_CHECK(ctx, cfg->stopping == LIP_STOPPING_EPS || cfg->stopping == LIP_STOPPING_FIXED,
              LIP_ERR_INVALID_ARGUMENT, "%s: unknown stopping rule %d", op, (int)cfg->stopping);
    if (cfg->stopping == LIP_STOPPING_EPS)
        LIP_CHECK(ctx, cfg->eps > 0.0f && isfinite(cfg->eps), LIP_ERR_INVALID_ARGUMENT,
                  "%s: eps = %g must be finite and > 0 with the eps stopping rule (use LIP_STOPPING_FIXED for a "
                  "fixed number of iterations)",
                  op, (double)cfg->eps);
    return LIP_OK;
}

/* `t` (named `name`) is float32 with the element count of `ref` (named `ref_name`). */
static lip_status check_same(lip_context *ctx, const char *op, const char *name, const lip_tensor *t,
                             const char *ref_name, const lip_tensor *ref) {
    char what[96], a[64], b[64];
    snprintf(what, sizeof what, "%s: %s", op, name);
    LIP_TRY(lip_check_tensor(ctx, t, LIP_FLOAT32, what));
    LIP_CHECK(ctx, t->count == ref->count, LIP_ERR_SHAPE, "%s: %s %s and %s %s differ in element count (%zu vs %zu)",
              op, ref_name, lip_shape_string(ref, a, sizeof a), name, lip_shape_string(t, b, sizeof b), ref->count,
              t->count);
    return LIP_OK;
}

static lip_status check_workspace(lip_context *ctx, const char *op, const lip_tensor *ws, const bj_plan *p) {
    char what[96], s[64];
    snprintf(what, sizeof what, "%s: workspace", op);
    LIP_TRY(lip_check_tensor(ctx, ws, LIP_FLOAT32, what));
    LIP_CHECK(ctx, ws->count >= p->total, LIP_ERR_SHAPE,
              "%s: workspace %s holds %zu floats; a %zux%zu matrix with maxiter %d needs %zu "
              "(lip_bjorck_workspace_floats)",
              op, lip_shape_string(ws, s, sizeof s), ws->count, p->rows, p->cols, p->maxiter, p->total);
    return LIP_OK;
}

/* The stopping test: norm = scale·√(Σ partials); state[0] += inc; done = (norm < eps). */
static lip_status launch_check(lip_context *ctx, const bj_geometry *g, size_t n_parts, cl_mem ws, cl_uint part_off,
                               float scale, float eps, int inc, const lip_tensor *state) {
    cl_kernel k;
    LIP_TRY(get_kernel(ctx, "lip_bjorck_check", &k, NULL));
    const cl_uint parts = (cl_uint)n_parts, st_off = (cl_uint)state->offset;
    const cl_float sc = scale, e = eps;
    const cl_int increment = inc;
    size_t global = g->check_wg, local = g->check_wg;
    return lip_launch(ctx, k, "bjorck/check", 1, &global, &local,
                      LIP_KARGS(LIP_KARG(ws), LIP_KARG(part_off), LIP_KARG(parts), LIP_KARG(sc), LIP_KARG(e),
                                LIP_KARG(increment), LIP_KARG(state->mem), LIP_KARG(st_off)));
}

/* C×C Gram-type product g = PᵀQ (+ QᵀP when sym), skipped per replay_k (0xffffffff: forward). */
static lip_status launch_gram(lip_context *ctx, const bj_geometry *g, const bj_plan *p, cl_mem ws, cl_uint p_off,
                              cl_uint q_off, cl_uint sym, cl_uint g_off, const lip_tensor *state, cl_uint replay_k,
                              const char *label) {
    cl_kernel k;
    LIP_TRY(get_kernel(ctx, "lip_bjorck_gram", &k, NULL));
    const cl_uint st_off = (cl_uint)state->offset, R = (cl_uint)p->R, C = (cl_uint)p->C;
    size_t local[2] = {g->wx, g->wy};
    return lip_launch(ctx, k, label, 2, p->grid_g, local,
                      LIP_KARGS(LIP_KARG(ws), LIP_KARG(p_off), LIP_KARG(q_off), LIP_KARG(sym), LIP_KARG(g_off),
                                LIP_KARG(state->mem), LIP_KARG(st_off), LIP_KARG(replay_k), LIP_KARG(R), LIP_KARG(C)));
}

/* Enqueue the whole forward on a planned workspace. */
static lip_status forward_on(lip_context *ctx, const lip_bjorck_config *cfg, const bj_geometry *g, const bj_plan *p,
                             const lip_tensor *w_in, lip_tensor *w_out, const lip_tensor *state,
                             const lip_tensor *ws) {
    cl_kernel k_load, k_step, k_store;
    LIP_TRY(get_kernel(ctx, "lip_bjorck_load", &k_load, NULL));
    LIP_TRY(get_kernel(ctx, "lip_bjorck_step", &k_step, NULL));
    LIP_TRY(get_kernel(ctx, "lip_bjorck_store", &k_store, NULL));
    LIP_CHECK(ctx, p->parts_l <= p->part_cap && p->parts_s <= p->part_cap, LIP_ERR_INTERNAL,
              "bjorck: %zu/%zu partials exceed the workspace bound %zu", p->parts_l, p->parts_s, p->part_cap);
    const cl_uint base = (cl_uint)ws->offset, part_off = base + (cl_uint)p->part;
    const cl_uint w_off = (cl_uint)w_in->offset, out_off = (cl_uint)w_out->offset, st_off = (cl_uint)state->offset;
    const cl_uint R = (cl_uint)p->R, C = (cl_uint)p->C, rs = p->rs, cs = p->cs;
    const int eps_rule = cfg->stopping == LIP_STOPPING_EPS;
    const float eps_stop = eps_rule ? cfg->eps : 0.0f; /* 0: never stops (fixed rule) */
    size_t local_r = g->row_wg, local_b[2] = {g->wx, g->wy};

    /* X_0 = view of W, partials of ‖W‖², state reset. */
    const cl_uint x0 = base + (cl_uint)slot_x(p, 0);
    LIP_TRY(lip_launch(ctx, k_load, "bjorck/load", 1, &p->grid_r, &local_r,
                       LIP_KARGS(LIP_KARG(w_in->mem), LIP_KARG(w_off), LIP_KARG(rs), LIP_KARG(cs), LIP_KARG(ws->mem),
                                 LIP_KARG(x0), LIP_KARG(part_off), LIP_KARG(state->mem), LIP_KARG(st_off), LIP_KARG(R),
                                 LIP_KARG(C))));
    /* deel-lip's first test: ‖W − 10W‖_F = 9‖W‖_F ≥ eps (fails only for a near-zero W). */
    if (eps_rule) LIP_TRY(launch_check(ctx, g, p->parts_l, ws->mem, part_off, 9.0f, eps_stop, 0, state));

    const cl_float beta = cfg->beta;
    for (int k = 0; k < cfg->maxiter; k++) {
        const cl_uint xk = base + (cl_uint)slot_x(p, k), ak = base + (cl_uint)slot_a(p, k);
        const cl_uint next = base + (cl_uint)slot_x(p, k + 1);
        LIP_TRY(launch_gram(ctx, g, p, ws->mem, xk, xk, 0, ak, state, 0xffffffffu, "bjorck/gram"));
        LIP_TRY(lip_launch(ctx, k_step, "bjorck/step", 2, p->grid_s, local_b,
                           LIP_KARGS(LIP_KARG(beta), LIP_KARG(ws->mem), LIP_KARG(xk), LIP_KARG(ak), LIP_KARG(next),
                                     LIP_KARG(part_off), LIP_KARG(state->mem), LIP_KARG(st_off), LIP_KARG(R),
                                     LIP_KARG(C))));
        LIP_TRY(launch_check(ctx, g, p->parts_s, ws->mem, part_off, 1.0f, eps_stop, 1, state));
    }
    /* w_out = X_n, n read on the device. */
    const cl_uint light = p->light ? 1u : 0u;
    return lip_launch(ctx, k_store, "bjorck/store", 1, &p->grid_r, &local_r,
                      LIP_KARGS(LIP_KARG(ws->mem), LIP_KARG(x0), LIP_KARG(light), LIP_KARG(state->mem),
                                LIP_KARG(st_off), LIP_KARG(w_out->mem), LIP_KARG(out_off), LIP_KARG(rs), LIP_KARG(cs),
                                LIP_KARG(R), LIP_KARG(C)));
}

lip_status lip_bjorck_forward(lip_context *ctx, const lip_bjorck_config *cfg, const lip_tensor *w_in,
                              lip_tensor *w_out, lip_tensor *state, lip_tensor *workspace) {
    if (!ctx) return LIP_ERR_NULL;
    const char *op = "lip_bjorck_forward";
    LIP_TRY(check_config(ctx, op, cfg));
    char what[96];
    snprintf(what, sizeof what, "%s: w_in", op);
    LIP_TRY(lip_check_tensor(ctx, w_in, LIP_FLOAT32, what));
    LIP_TRY(check_same(ctx, op, "w_out", w_out, "w_in", w_in));
    LIP_TRY(lip_normalizer_check_state(ctx, op, state));
    const size_t cols = w_in->shape[w_in->ndim - 1], rows = w_in->count / cols;
    bj_geometry g;
    LIP_TRY(geometry(ctx, &g));
    bj_plan p;
    plan_sizes(&p, rows, cols, cfg->maxiter, workspace == NULL);
    plan_grids(&p, &g);
    if (workspace) {
        LIP_TRY(check_workspace(ctx, op, workspace, &p));
        return forward_on(ctx, cfg, &g, &p, w_in, w_out, state, workspace);
    }
    lip_tensor *tmp = NULL;
    LIP_TRY(lip_tensor_create(ctx, LIP_FLOAT32, 1, &p.total, &tmp));
    lip_status st = forward_on(ctx, cfg, &g, &p, w_in, w_out, state, tmp);
    lip_tensor_free(tmp); /* OpenCL keeps the buffer until the queued launches finish */
    return st;
}

lip_status lip_bjorck_backward(lip_context *ctx, const lip_bjorck_config *cfg, const lip_tensor *state,
                               lip_tensor *workspace, const lip_tensor *grad_out, lip_tensor *grad_in) {
    if (!ctx) return LIP_ERR_NULL;
    const char *op = "lip_bjorck_backward";
    LIP_TRY(check_config(ctx, op, cfg));
    LIP_TRY(lip_normalizer_check_state(ctx, op, state));
    char what[96];
    snprintf(what, sizeof what, "%s: grad_out", op);
    LIP_TRY(lip_check_tensor(ctx, grad_out, LIP_FLOAT32, what));
    LIP_TRY(check_same(ctx, op, "grad_in", grad_in, "grad_out", grad_out));
    LIP_CHECK(ctx, workspace, LIP_ERR_NULL,
              "%s: workspace is NULL (the backward replays the iterates the forward kept in its workspace)", op);
    const size_t cols = grad_out->shape[grad_out->ndim - 1], rows = grad_out->count / cols;
    bj_geometry g;
    LIP_TRY(geometry(ctx, &g));
    bj_plan p;
    plan_sizes(&p, rows, cols, cfg->maxiter, 0);
    plan_grids(&p, &g);
    LIP_TRY(check_workspace(ctx, op, workspace, &p));

    cl_kernel k_load, k_step, k_store;
    LIP_TRY(get_kernel(ctx, "lip_bjorck_grad_load", &k_load, NULL));
    LIP_TRY(get_kernel(ctx, "lip_bjorck_step_grad", &k_step, NULL));
    LIP_TRY(get_kernel(ctx, "lip_bjorck_grad_store", &k_store, NULL));
    const cl_uint base = (cl_uint)workspace->offset, g0 = base + (cl_uint)p.g0, g1 = base + (cl_uint)p.g1;
    const cl_uint s_off = base + (cl_uint)p.s, st_off = (cl_uint)state->offset;
    const cl_uint R = (cl_uint)p.R, C = (cl_uint)p.C, rs = p.rs, cs = p.cs;
    const cl_uint go_off = (cl_uint)grad_out->offset, gi_off = (cl_uint)grad_in->offset;
    size_t local_r = g.row_wg, local_b[2] = {g.wx, g.wy};

    LIP_TRY(lip_launch(ctx, k_load, "bjorck/grad_load", 1, &p.grid_r, &local_r,
                       LIP_KARGS(LIP_KARG(grad_out->mem), LIP_KARG(go_off), LIP_KARG(rs), LIP_KARG(cs),
                                 LIP_KARG(workspace->mem), LIP_KARG(g0), LIP_KARG(g1), LIP_KARG(state->mem),
                                 LIP_KARG(st_off), LIP_KARG(R), LIP_KARG(C))));
    const cl_float beta = cfg->beta;
    for (int k = cfg->maxiter - 1; k >= 0; k--) {
        const cl_uint src = ((k + 1) % 2) ? g1 : g0, dst = (k % 2) ? g1 : g0;
        const cl_uint xk = base + (cl_uint)slot_x(&p, k), ak = base + (cl_uint)slot_a(&p, k), replay = (cl_uint)k;
        LIP_TRY(launch_gram(ctx, &g, &p, workspace->mem, src, xk, 1, s_off, state, replay, "bjorck/grad_gram"));
        LIP_TRY(lip_launch(ctx, k_step, "bjorck/step_grad", 2, p.grid_s, local_b,
                           LIP_KARGS(LIP_KARG(beta), LIP_KARG(workspace->mem), LIP_KARG(src), LIP_KARG(dst),
                                     LIP_KARG(xk), LIP_KARG(ak), LIP_KARG(s_off), LIP_KARG(state->mem),
                                     LIP_KARG(st_off), LIP_KARG(replay), LIP_KARG(R), LIP_KARG(C))));
    }
    return lip_launch(ctx, k_store, "bjorck/grad_store", 1, &p.grid_r, &local_r,
                      LIP_KARGS(LIP_KARG(workspace->mem), LIP_KARG(g0), LIP_KARG(grad_in->mem), LIP_KARG(gi_off),
                                LIP_KARG(rs), LIP_KARG(cs), LIP_KARG(R), LIP_KARG(C)));
}
