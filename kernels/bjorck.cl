/* lipcl kernels — Björck orthonormalization W ← (1+β)W − β·W(WᵀW), forward and backward, with the
 * stopping test on the device: a `done` flag and an iteration counter that every iteration reads first. */

/*
 * The host (src/lipschitz/bjorck.c) works on a "tall" R×C view X of the matrix, R ≥ C: X = W when
 * rows > cols, X = Wᵀ otherwise, so the Gram product is always the C×C matrix XᵀX (the smaller side,
 * as deel-lip's W(WᵀW) / (WWᵀ)W choice). The load/store kernels (one work-item per row of X) read and
 * write W through two strides (rs, cs): X[r, c] = w[off + r·rs + c·cs]; everything else is contiguous
 * row-major in a workspace.
 *
 * State (int32): state[0] = iterations executed, state[1] = done flag. Forward kernels skip their work
 * when done is set; backward kernels replaying iteration k skip it when k ≥ state[0]. A launch reads the
 * state before anything else and never writes it (only the check and load kernels do, in their own
 * launches), so every work-item of a launch takes the same branch. Kernels with barriers never return
 * early all the same: PoCL 3.1 miscompiles a uniform return placed before tree reductions (code meant
 * for local id 0 then runs on every work-item), so they read the state into a private flag, skip their
 * heavy loop under it and mask their writes; barrier-free kernels simply return.
 *
 * Products (Gram XᵀX, step X·A, and their backward forms) are register-blocked like kernels/matmul.cl:
 * each work-item owns a BJ_TM × BJ_TN block of the result, kept in floatBJ_VW accumulators, and for
 * each index p of the inner dimension multiplies BJ_TM scalars of one operand with a contiguous row of
 * the other (no local memory: on CPU devices the caches tile). Blocks crossing the matrix border take
 * an edge path (clamped rows, zero-filled partial vectors, guarded stores), so any R ≥ C ≥ 1 works.
 *
 * Determinism: every output element is one work-item's fixed-order loop; norms go through per-row sums
 * (load) or per-group fixed binary trees (step), then one group adds the partials in a fixed order; no
 * atomics. Needs IEEE evaluation order: no -cl-fast-relaxed-math (the library's default).
 */

/* ---- tunables (defaults measured on PoCL 3.1, 2-core Skylake-AVX512; every one has a default so the
 * file builds with no -D; the host reads the geometry back from the kernels' required work-group sizes) */
#ifndef BJ_VW
#define BJ_VW 16 /* vector width of the accumulators: 4, 8 or 16 */
#endif
#ifndef BJ_TM
#define BJ_TM 8 /* rows of a work-item's block: 1..16 */
#endif
#ifndef BJ_TN
#define BJ_TN 32 /* columns of a work-item's block: a multiple of BJ_VW, BJ_VW..4·BJ_VW */
#endif
#ifndef BJ_WG_X
#define BJ_WG_X 4 /* work-group size of the block kernels along the block columns: 1..64 */
#endif
#ifndef BJ_WG_Y
#define BJ_WG_Y 4 /* along the block rows: 1..64; BJ_WG_X·BJ_WG_Y a power of two in 4..1024 */
#endif
#ifndef BJ_ROW_WG
#define BJ_ROW_WG 64 /* work-group size of the one-item-per-row kernels (load, store, grad_load/store): 1..1024 */
#endif
#ifndef BJ_CHECK_WG
#define BJ_CHECK_WG 256 /* work-group size of the one-group check kernel: a power of two, 16..1024 */
#endif

#define BJ_WG (BJ_WG_X * BJ_WG_Y)
#define BJ_NV (BJ_TN / BJ_VW)
#if BJ_VW != 4 && BJ_VW != 8 && BJ_VW != 16
#error "BJ_VW must be 4, 8 or 16"
#endif
#if BJ_TM < 1 || BJ_TM > 16 || (BJ_TN % BJ_VW) != 0 || BJ_NV < 1 || BJ_NV > 4
#error "BJ_TM must lie in 1..16 and BJ_TN be BJ_VW, 2, 3 or 4 times BJ_VW"
#endif
#if (BJ_WG & (BJ_WG - 1)) != 0 || BJ_WG < 4 || BJ_WG > 1024 || BJ_WG_X > 64 || BJ_WG_Y > 64
#error "BJ_WG_X * BJ_WG_Y must be a power of two in 4..1024, each at most 64"
#endif
#if BJ_ROW_WG < 1 || BJ_ROW_WG > 1024
#error "BJ_ROW_WG must be in 1..1024"
#endif
#if (BJ_CHECK_WG & (BJ_CHECK_WG - 1)) != 0 || BJ_CHECK_WG < 16 || BJ_CHECK_WG > 1024
#error "BJ_CHECK_WG must be a power of two in 16..1024"
#endif

#define BJ_INLINE inline __attribute__((always_inline))
#define BJ_CAT_(a, b) a##b
#define BJ_CAT(a, b) BJ_CAT_(a, b)
#define floatB BJ_CAT(float, BJ_VW)
#define vloadB BJ_CAT(vload, BJ_VW)
#define vstoreB BJ_CAT(vstore, BJ_VW)

/* replay_k of a forward launch: skip when the done flag is set. */
#define BJ_FORWARD 0xffffffffu

/* Never launched: its required work-group size tells the host BJ_TN and BJ_TM, which it needs for its
 * grid sizes and which no other kernel query returns (BJ_TN·BJ_TM must then not exceed the device's
 * largest work-group: 256 with the defaults). */
__kernel __attribute__((reqd_work_group_size(BJ_TN, BJ_TM, 1))) void lip_bjorck_block_shape(__global int *unused) {
    if (get_global_id(0) == 0 && get_global_id(1) == 0) unused[0] = BJ_TN * BJ_TM;
}

/* Whether this launch has nothing to do (see the state paragraph above). */
int lip_bjorck_skip(__global const int *state, const uint st_off, const uint replay_k) {
    if (replay_k == BJ_FORWARD) return state[st_off + 1] != 0;
    return (int)replay_k >= state[st_off];
}

/* Sum of v over a work-group of `size` items (a power of two), flattened id lid, by a fixed tree. */
BJ_INLINE float lip_bjorck_group_sum(__local float *tile, const uint lid, const uint size, const float v) {
    tile[lid] = v;
    for (uint step = size / 2; step > 0; step >>= 1) {
        barrier(CLK_LOCAL_MEM_FENCE);
        if (lid < step) tile[lid] += tile[lid + step];
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    return tile[0];
}

/* BJ_VW floats of a row from column c on, those at or beyond C set to 0 (full: all inside). */
BJ_INLINE floatB lip_bjorck_vload(__global const float *row, const uint c, const uint C, const int full) {
    if (full || c + BJ_VW <= C) return vloadB(0, row + c);
    float t[BJ_VW];
#pragma unroll
    for (uint v = 0; v < BJ_VW; v++) t[v] = c + v < C ? row[c + v] : 0.0f;
    return vloadB(0, t);
}

/* The block of a work-item: rows r0 .. r0+BJ_TM, columns c0 .. c0+BJ_TN. */
#define BJ_R0 ((uint)get_global_id(1) * BJ_TM)
#define BJ_C0 ((uint)get_global_id(0) * BJ_TN)

/* ---- forward -------------------------------------------------------------------------------------- */

/*
 * Forward start, one work-item per row r of X: X0[r, ·] = view of w (slot 0 of the workspace),
 * part[r] = Σ_c X0[r, c]² (no barrier: R partials), and the state reset to "0 iterations, not done".
 * Grid: R work-items, local BJ_ROW_WG.
 */
__kernel __attribute__((reqd_work_group_size(BJ_ROW_WG, 1, 1))) void
lip_bjorck_load(__global const float *w, const uint w_off, const uint rs, const uint cs, __global float *ws,
                const uint x_off, const uint part_off, __global int *state, const uint st_off, const uint R,
                const uint C) {
    const uint r = (uint)get_global_id(0);
    if (r == 0) {
        state[st_off] = 0;
        state[st_off + 1] = 0;
    }
    if (r >= R) return;
    float sq = 0.0f;
    for (uint c = 0; c < C; c++) {
        const float v = w[w_off + r * rs + c * cs];
        ws[x_off + r * C + c] = v;
        sq += v * v;
    }
    ws[part_off + r] = sq;
}

/*
 * The stopping test, one work-group: norm = scale·√(Σ partials) (added in a fixed order), then
 * state[0] += inc and done = (norm < eps). eps = 0 never stops (the `fixed` rule). Nothing when done.
 */
__kernel __attribute__((reqd_work_group_size(BJ_CHECK_WG, 1, 1))) void
lip_bjorck_check(__global const float *ws, const uint part_off, const uint parts, const float scale, const float eps,
                 const int inc, __global int *state, const uint st_off) {
    __local float tile[BJ_CHECK_WG];
    const int done = state[st_off + 1]; /* no early return before barriers: see the top comment */
    const uint lid = (uint)get_local_id(0);
    float s = 0.0f;
    for (uint i = lid; i < parts; i += BJ_CHECK_WG) s += ws[part_off + i];
    const float total = lip_bjorck_group_sum(tile, lid, BJ_CHECK_WG, s);
    if (lid == 0 && !done) {
        const float norm = scale * sqrt(total);
        state[st_off] += inc;
        if (norm < eps) state[st_off + 1] = 1;
    }
}

/*
 * Gram block: g[i, j] = Σ_r P[r, i]·Q[r, j] (+ Q[r, i]·P[r, j] when SYM) for the work-item's block,
 * P, Q R×C; rows i are clamped (edge), columns j zero-filled beyond C.
 */
BJ_INLINE void lip_bjorck_gram_block(__global const float *P, __global const float *Q, __global float *G,
                                     const uint R, const uint C, const int sym, const int full) {
    const uint i0 = BJ_R0, j0 = BJ_C0;
    floatB acc[BJ_TM][BJ_NV];
    uint col[BJ_TM];
#pragma unroll
    for (uint i = 0; i < BJ_TM; i++) {
        col[i] = full ? i0 + i : min(i0 + i, C - 1);
#pragma unroll
        for (uint v = 0; v < BJ_NV; v++) acc[i][v] = (floatB)(0.0f);
    }
    for (uint r = 0; r < R; r++) {
        __global const float *prow = P + r * C, *qrow = Q + r * C;
        floatB q[BJ_NV];
#pragma unroll
        for (uint v = 0; v < BJ_NV; v++) q[v] = lip_bjorck_vload(qrow, j0 + v * BJ_VW, C, full);
        if (sym) {
            floatB p[BJ_NV];
#pragma unroll
            for (uint v = 0; v < BJ_NV; v++) p[v] = lip_bjorck_vload(prow, j0 + v * BJ_VW, C, full);
#pragma unroll
            for (uint i = 0; i < BJ_TM; i++) {
                const float a = prow[col[i]], b = qrow[col[i]];
#pragma unroll
                for (uint v = 0; v < BJ_NV; v++) acc[i][v] = fma((floatB)(a), q[v], fma((floatB)(b), p[v], acc[i][v]));
            }
        } else {
#pragma unroll
            for (uint i = 0; i < BJ_TM; i++) {
                const float a = prow[col[i]];
#pragma unroll
                for (uint v = 0; v < BJ_NV; v++) acc[i][v] = fma((floatB)(a), q[v], acc[i][v]);
            }
        }
    }
    /* The result is symmetric: this block writes its elements (i, j) with i ≤ j and mirrors them to
     * (j, i), so every element is written exactly once (by the block holding its upper-triangle twin). */
#pragma unroll
    for (uint i = 0; i < BJ_TM; i++) {
        const uint gi = i0 + i;
        if (!full && gi >= C) break;
#pragma unroll
        for (uint v = 0; v < BJ_NV; v++) {
            const uint j = j0 + v * BJ_VW;
            float t[BJ_VW];
            vstoreB(acc[i][v], 0, t);
            for (uint e = 0; e < BJ_VW && j + e < C; e++) {
                const uint gj = j + e;
                if (gi <= gj) {
                    G[gi * C + gj] = t[e];
                    G[gj * C + gi] = t[e];
                }
            }
        }
    }
}

/*
 * C×C Gram-type product (forward: P = Q = X, g = XᵀX; backward: P = G, Q = X, sym: g = GᵀX + XᵀG), all in
 * the workspace; both are symmetric, so only blocks touching the upper triangle compute. Skipped per replay_k. Grid: (⌈C/BJ_TN⌉, ⌈C/BJ_TM⌉) work-items, local (BJ_WG_X, BJ_WG_Y).
 */
__kernel __attribute__((reqd_work_group_size(BJ_WG_X, BJ_WG_Y, 1))) void
lip_bjorck_gram(__global float *ws, const uint p_off, const uint q_off, const uint sym, const uint g_off,
                __global const int *state, const uint st_off, const uint replay_k, const uint R, const uint C) {
    if (lip_bjorck_skip(state, st_off, replay_k)) return;
    const uint i0 = BJ_R0, j0 = BJ_C0;
    if (i0 >= C || j0 >= C || i0 > j0 + BJ_TN - 1) return; /* wholly below the diagonal: mirrored */
    __global const float *P = ws + p_off, *Q = ws + q_off;
    __global float *G = ws + g_off;
    const int full = i0 + BJ_TM <= C && j0 + BJ_TN <= C;
    if (sym)
        lip_bjorck_gram_block(P, Q, G, R, C, 1, full);
    else
        lip_bjorck_gram_block(P, Q, G, R, C, 0, full);
}

/*
 * Step block: acc = Σ_p U[r, p]·A[p, c..] (+ V[r, p]·B[p, c..] when TWO), for the work-item's rows
 * (clamped) and columns (zero-filled beyond C); U, V are R×C, A, B are C×C.
 */
BJ_INLINE void lip_bjorck_step_block(__global const float *U, __global const float *A, __global const float *V,
                                     __global const float *B, const uint R, const uint C, const int two,
                                     const int full, floatB acc[BJ_TM][BJ_NV]) {
    const uint r0 = BJ_R0, c0 = BJ_C0;
    uint row[BJ_TM];
#pragma unroll
    for (uint i = 0; i < BJ_TM; i++) {
        row[i] = full ? r0 + i : min(r0 + i, R - 1);
#pragma unroll
        for (uint v = 0; v < BJ_NV; v++) acc[i][v] = (floatB)(0.0f);
    }
    for (uint p = 0; p < C; p++) {
        floatB a[BJ_NV];
#pragma unroll
        for (uint v = 0; v < BJ_NV; v++) a[v] = lip_bjorck_vload(A + p * C, c0 + v * BJ_VW, C, full);
        if (two) {
            floatB b[BJ_NV];
#pragma unroll
            for (uint v = 0; v < BJ_NV; v++) b[v] = lip_bjorck_vload(B + p * C, c0 + v * BJ_VW, C, full);
#pragma unroll
            for (uint i = 0; i < BJ_TM; i++) {
                const float x = U[row[i] * C + p], y = V[row[i] * C + p];
#pragma unroll
                for (uint v = 0; v < BJ_NV; v++) acc[i][v] = fma((floatB)(x), a[v], fma((floatB)(y), b[v], acc[i][v]));
            }
        } else {
#pragma unroll
            for (uint i = 0; i < BJ_TM; i++) {
                const float x = U[row[i] * C + p];
#pragma unroll
                for (uint v = 0; v < BJ_NV; v++) acc[i][v] = fma((floatB)(x), a[v], acc[i][v]);
            }
        }
    }
}

/*
 * The update of a block: out = (1+β)·U − β·acc into rows/columns inside R×C; returns Σ (out − U)² over
 * the block when want_sq (the forward's stopping norm).
 */
BJ_INLINE float lip_bjorck_update_block(__global const float *U, __global float *out, const float beta,
                                        floatB acc[BJ_TM][BJ_NV], const uint R, const uint C, const int full,
                                        const int want_sq) {
    const uint r0 = BJ_R0, c0 = BJ_C0;
    floatB sq = (floatB)(0.0f);
#pragma unroll
    for (uint i = 0; i < BJ_TM; i++) {
        if (!full && r0 + i >= R) break;
        const uint r = r0 + i;
#pragma unroll
        for (uint v = 0; v < BJ_NV; v++) {
            const uint c = c0 + v * BJ_VW;
            const int inside = full || c + BJ_VW <= C;
            const floatB u = lip_bjorck_vload(U + r * C, c, C, inside);
            const floatB n = (1.0f + beta) * u - beta * acc[i][v];
            const floatB d = n - u; /* zero in the zero-filled lanes */
            sq = fma(d, d, sq);
            if (inside) {
                vstoreB(n, 0, out + r * C + c);
            } else {
                float t[BJ_VW];
                vstoreB(n, 0, t);
                for (uint e = 0; e < BJ_VW && c + e < C; e++) out[r * C + c + e] = t[e];
            }
        }
    }
    if (!want_sq) return 0.0f;
    float t[BJ_VW];
    vstoreB(sq, 0, t);
    float s = 0.0f;
    for (uint e = 0; e < BJ_VW; e++) s += t[e];
    return s;
}

/*
 * Forward iteration k: X_{k+1} = (1+β)·X_k − β·X_k·A_k (A_k = X_kᵀX_k from lip_bjorck_gram) into the next
 * slot, and part[group] = Σ (X_{k+1} − X_k)² over the group. Grid: (⌈C/BJ_TN⌉, ⌈R/BJ_TM⌉) work-items.
 */
__kernel __attribute__((reqd_work_group_size(BJ_WG_X, BJ_WG_Y, 1))) void
lip_bjorck_step(const float beta, __global float *ws, const uint x_off, const uint a_off, const uint next_off,
                const uint part_off, __global const int *state, const uint st_off, const uint R, const uint C) {
    __local float tile[BJ_WG];
    const int skip = lip_bjorck_skip(state, st_off, BJ_FORWARD); /* masks; no early return (top comment) */
    const uint r0 = BJ_R0, c0 = BJ_C0;
    const int active = !skip && r0 < R && c0 < C;
    const int full = r0 + BJ_TM <= R && c0 + BJ_TN <= C;
    __global const float *X = ws + x_off, *A = ws + a_off;
    float sq = 0.0f;
    if (active) {
        floatB acc[BJ_TM][BJ_NV];
        lip_bjorck_step_block(X, A, X, A, R, C, 0, full, acc);
        sq = lip_bjorck_update_block(X, ws + next_off, beta, acc, R, C, full, 1);
    }
    const uint lid = (uint)get_local_id(1) * BJ_WG_X + (uint)get_local_id(0);
    const float total = lip_bjorck_group_sum(tile, lid, BJ_WG, sq);
    if (lid == 0 && !skip) ws[part_off + get_group_id(1) * get_num_groups(0) + get_group_id(0)] = total;
}

/*
 * Forward end, one work-item per row r: w_out (through the strides) = X_n, n = state[0] iterations
 * executed; X_n sits at x_base + (n mod 2 when light, else n)·R·C. Grid: R, local BJ_ROW_WG.
 */
__kernel __attribute__((reqd_work_group_size(BJ_ROW_WG, 1, 1))) void
lip_bjorck_store(__global const float *ws, const uint x_base, const uint light, __global const int *state,
                 const uint st_off, __global float *out, const uint out_off, const uint rs, const uint cs,
                 const uint R, const uint C) {
    const uint r = (uint)get_global_id(0);
    if (r >= R) return;
    const uint n = (uint)state[st_off];
    const uint slot = light ? (n & 1u) : n;
    __global const float *x = ws + x_base + slot * (R * C) + r * C;
    for (uint c = 0; c < C; c++) out[out_off + r * rs + c * cs] = x[c];
}

/* ---- backward ------------------------------------------------------------------------------------- */

/*
 * Backward start, one work-item per row r: the upstream gradient dL/dW_out viewed through the strides,
 * into the buffer that the first replayed iteration (k = n − 1, n = state[0]) reads: iteration k reads
 * buffer (k+1) mod 2 and writes buffer k mod 2, so the result always ends in buffer 0. Grid: R.
 */
__kernel __attribute__((reqd_work_group_size(BJ_ROW_WG, 1, 1))) void
lip_bjorck_grad_load(__global const float *g, const uint g_off, const uint rs, const uint cs, __global float *ws,
                     const uint buf0_off, const uint buf1_off, __global const int *state, const uint st_off,
                     const uint R, const uint C) {
    const uint r = (uint)get_global_id(0);
    if (r >= R) return;
    const uint dst = (state[st_off] & 1) ? buf1_off : buf0_off;
    for (uint c = 0; c < C; c++) ws[dst + r * C + c] = g[g_off + r * rs + c * cs];
}

/*
 * Backward of iteration k (skipped unless k < state[0]): with G = dL/dX_{k+1},
 * dL/dX_k = (1+β)·G − β·(G·A + X·S), A = X_kᵀX_k (kept by the forward), S = GᵀX_k + X_kᵀG.
 * Grid: (⌈C/BJ_TN⌉, ⌈R/BJ_TM⌉) work-items.
 */
__kernel __attribute__((reqd_work_group_size(BJ_WG_X, BJ_WG_Y, 1))) void
lip_bjorck_step_grad(const float beta, __global float *ws, const uint g_off, const uint out_off, const uint x_off,
                     const uint a_off, const uint s_off, __global const int *state, const uint st_off,
                     const uint replay_k, const uint R, const uint C) {
    if (lip_bjorck_skip(state, st_off, replay_k)) return;
    const uint r0 = BJ_R0, c0 = BJ_C0;
    if (r0 >= R || c0 >= C) return;
    __global const float *G = ws + g_off, *X = ws + x_off, *A = ws + a_off, *S = ws + s_off;
    floatB acc[BJ_TM][BJ_NV];
    const int full = r0 + BJ_TM <= R && c0 + BJ_TN <= C;
    lip_bjorck_step_block(G, A, X, S, R, C, 1, full, acc);
    lip_bjorck_update_block(G, ws + out_off, beta, acc, R, C, full, 0);
}

/* Backward end, one work-item per row: dL/dW_in (through the strides) = buffer 0. Grid: R. */
__kernel __attribute__((reqd_work_group_size(BJ_ROW_WG, 1, 1))) void
lip_bjorck_grad_store(__global const float *ws, const uint buf0_off, __global float *g, const uint g_off,
                      const uint rs, const uint cs, const uint R, const uint C) {
    const uint r = (uint)get_global_id(0);
    if (r >= R) return;
    for (uint c = 0; c < C; c++) g[g_off + r * rs + c * cs] = ws[buf0_off + r * C + c];
}
