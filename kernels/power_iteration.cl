/* lipcl kernels — spectral normalization by power iteration (deel-lip): u ← normalize((u Wᵀ) W) until
 * ‖u − u_old‖ < eps, σ = ‖u Wᵀ‖, W/(σ + eps), and the gradient with u held constant. */

/*
 * W is rows×cols (m×n) row-major, u has n elements (deel-lip's (1, out) row vector), v = W u has m.
 * State (int32): state[0] = iterations executed, state[1] = done flag. The kernels of an iteration
 * read the flag first and return at once when it is set (uniformly: only the init and update kernels
 * write the state, each in its own launch, after every read of it), so maxiter iterations can be
 * enqueued without a host sync.
 * Kernels with barriers never return early (see lip_power_iteration_update): they read the flag into a
 * private variable and mask their writes.
 *
 * Determinism: each output element is one work-item's fixed-order loop; norms and dot products use
 * fixed binary trees in one work-group, or per-group partials added in a fixed order; no atomics.
 * Needs IEEE evaluation order: no -cl-fast-relaxed-math (the library's default).
 */

#ifndef PI_WG
#define PI_WG 64 /* work-group size of the matrix-vector and elementwise kernels: 1..1024 */
#endif
#ifndef PI_RED_WG
#define PI_RED_WG 256 /* work-group size of the one-group (norm, update) kernels and of the dot-product
                         partials: a power of two, 16..1024 */
#endif

#if PI_WG < 1 || PI_WG > 1024
#error "PI_WG must be in 1..1024"
#endif
#if (PI_RED_WG & (PI_RED_WG - 1)) != 0 || PI_RED_WG < 16 || PI_RED_WG > 1024
#error "PI_RED_WG must be a power of two in 16..1024"
#endif

/* deel-lip's l2_normalize floor on Σx² (tf.math.l2_normalize epsilon). */
#define PI_NORM_FLOOR 1e-12f

/* Sum of v over the work-group (PI_RED_WG items) by a fixed binary tree; all items must call it. */
float lip_pi_group_sum(__local float *tile, const uint lid, const float v) {
    barrier(CLK_LOCAL_MEM_FENCE); /* the tile may still be read from a previous call */
    tile[lid] = v;
    for (uint step = PI_RED_WG / 2; step > 0; step >>= 1) {
        barrier(CLK_LOCAL_MEM_FENCE);
        if (lid < step) tile[lid] += tile[lid + step];
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    return tile[0];
}

/* One group: u ← u / √max(Σu², 1e-12) in place, and the state reset to "0 iterations, not done". */
__kernel __attribute__((reqd_work_group_size(PI_RED_WG, 1, 1))) void
lip_power_iteration_init(__global float *u, const uint u_off, const uint n, __global int *state, const uint st_off) {
    __local float tile[PI_RED_WG];
    const uint lid = (uint)get_local_id(0);
    float s = 0.0f;
    for (uint j = lid; j < n; j += PI_RED_WG) s += u[u_off + j] * u[u_off + j];
    const float inv = 1.0f / sqrt(fmax(lip_pi_group_sum(tile, lid, s), PI_NORM_FLOOR));
    for (uint j = lid; j < n; j += PI_RED_WG) u[u_off + j] *= inv;
    if (lid == 0) {
        state[st_off] = 0;
        state[st_off + 1] = 0;
    }
}

/* v[r] = Σ_j W[r, j]·u[j] (v = u Wᵀ as a column). Skipped when `predicated` and the done flag is set. */
__kernel __attribute__((reqd_work_group_size(PI_WG, 1, 1))) void
lip_power_iteration_wu(__global const float *w, const uint w_off, __global const float *u, const uint u_off,
                       __global float *v, const uint v_off, const uint m, const uint n, __global const int *state,
                       const uint st_off, const uint predicated) {
    if (predicated && state[st_off + 1]) return;
    const uint r = (uint)get_global_id(0);
    if (r >= m) return;
    __global const float *row = w + w_off + r * n;
    float s = 0.0f;
    for (uint j = 0; j < n; j++) s += row[j] * u[u_off + j];
    v[v_off + r] = s;
}

/* t[j] = Σ_r v[r]·W[r, j] (t = v W). Skipped when the done flag is set. */
__kernel __attribute__((reqd_work_group_size(PI_WG, 1, 1))) void
lip_power_iteration_vw(__global const float *w, const uint w_off, __global const float *v, const uint v_off,
                       __global float *t, const uint t_off, const uint m, const uint n, __global const int *state,
                       const uint st_off) {
    if (state[st_off + 1]) return;
    const uint j = (uint)get_global_id(0);
    if (j >= n) return;
    float s = 0.0f;
    for (uint r = 0; r < m; r++) s += v[v_off + r] * w[w_off + r * n + j];
    t[t_off + j] = s;
}

/*
 * One group, end of an iteration (skipped when done): u_new = t / √max(Σt², 1e-12), d = ‖u_new − u‖,
 * u ← u_new, state[0] += 1, done = (d < eps). eps = 0 never stops (the `fixed` rule).
 */
__kernel __attribute__((reqd_work_group_size(PI_RED_WG, 1, 1))) void
lip_power_iteration_update(__global const float *t, const uint t_off, __global float *u, const uint u_off,
                           const uint n, const float eps, __global int *state, const uint st_off) {
    __local float tile[PI_RED_WG];
    /* No early return in a kernel with barriers: PoCL 3.1 miscompiles a (uniform) return before two
     * tree reductions (the lid == 0 branch then runs on every work-item). The flag masks the writes. */
    const int done = state[st_off + 1];
    const uint lid = (uint)get_local_id(0);
    float s = 0.0f;
    for (uint j = lid; j < n; j += PI_RED_WG) s += t[t_off + j] * t[t_off + j];
    const float inv = 1.0f / sqrt(fmax(lip_pi_group_sum(tile, lid, s), PI_NORM_FLOOR));
    float d = 0.0f;
    for (uint j = lid; j < n; j += PI_RED_WG) {
        const float un = t[t_off + j] * inv;
        const float e = un - u[u_off + j];
        d += e * e;
        if (!done) u[u_off + j] = un;
    }
    const float dist = sqrt(lip_pi_group_sum(tile, lid, d));
    if (lid == 0 && !done) {
        state[st_off] += 1;
        if (dist < eps) state[st_off + 1] = 1;
    }
}

/* One group: sigma = ‖v‖ (v = u Wᵀ from the final u). */
__kernel __attribute__((reqd_work_group_size(PI_RED_WG, 1, 1))) void
lip_power_iteration_sigma(__global const float *v, const uint v_off, const uint m, __global float *sigma,
                          const uint s_off) {
    __local float tile[PI_RED_WG];
    const uint lid = (uint)get_local_id(0);
    float s = 0.0f;
    for (uint r = lid; r < m; r += PI_RED_WG) s += v[v_off + r] * v[v_off + r];
    const float total = lip_pi_group_sum(tile, lid, s);
    if (lid == 0) sigma[s_off] = sqrt(total);
}

/* w_bar = W / (σ + eps), elementwise (grid-stride loop). */
__kernel __attribute__((reqd_work_group_size(PI_WG, 1, 1))) void
lip_power_iteration_scale(__global const float *w, const uint w_off, __global float *wbar, const uint wb_off,
                          const uint count, __global const float *sigma, const uint s_off, const float eps) {
    const float denom = sigma[s_off] + eps;
    const uint stride = (uint)get_global_size(0);
    for (uint i = (uint)get_global_id(0); i < count; i += stride) wbar[wb_off + i] = w[w_off + i] / denom;
}

/* part[group] = Σ G∘W over the elements i ≡ global id (mod global size), then the group's tree. */
__kernel __attribute__((reqd_work_group_size(PI_RED_WG, 1, 1))) void
lip_power_iteration_dot_partial(__global const float *g, const uint g_off, __global const float *w, const uint w_off,
                                const uint count, __global float *part, const uint part_off) {
    __local float tile[PI_RED_WG];
    const uint lid = (uint)get_local_id(0), stride = (uint)get_global_size(0);
    float s = 0.0f;
    for (uint i = (uint)get_global_id(0); i < count; i += stride) s += g[g_off + i] * w[w_off + i];
    const float total = lip_pi_group_sum(tile, lid, s);
    if (lid == 0) part[part_off + get_group_id(0)] = total;
}

/*
 * One group: the two scalars of the gradient. With dot = Σ G∘W (the partials added in a fixed order),
 * gs = dL/dσ from outside (0 when has_gs = 0):
 *   coef[0] = 1/(σ + eps),  coef[1] = (gs − dot/(σ + eps)²)/σ  (0 when σ = 0: the σ term is dropped).
 */
__kernel __attribute__((reqd_work_group_size(PI_RED_WG, 1, 1))) void
lip_power_iteration_grad_coef(__global const float *part, const uint part_off, const uint parts,
                              __global const float *sigma, const uint s_off, __global const float *gs,
                              const uint gs_off, const uint has_gs, const float eps, __global float *coef,
                              const uint coef_off) {
    __local float tile[PI_RED_WG];
    const uint lid = (uint)get_local_id(0);
    float s = 0.0f;
    for (uint i = lid; i < parts; i += PI_RED_WG) s += part[part_off + i];
    const float dot = lip_pi_group_sum(tile, lid, s);
    if (lid == 0) {
        const float sig = sigma[s_off];
        const float inv = 1.0f / (sig + eps);
        const float g_sigma = (has_gs ? gs[gs_off] : 0.0f) - dot * inv * inv;
        coef[coef_off] = inv;
        coef[coef_off + 1] = sig > 0.0f ? g_sigma / sig : 0.0f;
    }
}

/* dW[r, j] = coef[0]·G[r, j] + coef[1]·v[r]·u[j]  (∂σ/∂W = v uᵀ/σ with u constant). Grid: (n, m). */
__kernel __attribute__((reqd_work_group_size(PI_WG, 1, 1))) void
lip_power_iteration_grad(__global const float *g, const uint g_off, __global const float *v, const uint v_off,
                         __global const float *u, const uint u_off, __global const float *coef, const uint coef_off,
                         const uint m, const uint n, __global float *dw, const uint dw_off) {
    const uint j = (uint)get_global_id(0), r = (uint)get_global_id(1);
    if (j >= n || r >= m) return;
    const uint i = r * n + j;
    dw[dw_off + i] = coef[coef_off] * g[g_off + i] + coef[coef_off + 1] * v[v_off + r] * u[u_off + j];
}
