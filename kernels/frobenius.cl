/* lipcl kernels — Frobenius normalization of a rows×cols kernel (deel-lip FrobeniusDense/Conv2D):
 * W̄ = k·W/‖W‖_F (global) or k·W[:, j]/‖W[:, j]‖ per output column (disjoint neurons), and backward. */

#ifndef FROB_WG
#define FROB_WG 256 /* work-group size of the global (one work-group) kernels: a power of two, 16..1024 */
#endif

/* Per column: one work-item per column (no barriers). A zero column gives zero output and gradient. */
__kernel void lip_frobenius_columns(__global const float *w, const uint w_off, __global float *out, const uint o_off,
                                    const uint rows, const uint cols, const float k) {
    const uint j = get_global_id(0);
    if (j >= cols) return;
    float s = 0.0f;
    for (uint r = 0; r < rows; r++) {
        const float v = w[w_off + r * cols + j];
        s += v * v;
    }
    const float scale = s > 0.0f ? k / sqrt(s) : 0.0f;
    for (uint r = 0; r < rows; r++) out[o_off + r * cols + j] = w[w_off + r * cols + j] * scale;
}

/* dW[:, j] (+)= k·(G[:, j]/n − ⟨G[:, j], W[:, j]⟩/n³ · W[:, j]), n = ‖W[:, j]‖. */
__kernel void lip_frobenius_columns_backward(__global const float *w, const uint w_off, __global const float *g,
                                             const uint g_off, __global float *dw, const uint d_off, const uint rows,
                                             const uint cols, const float k, const int accumulate) {
    const uint j = get_global_id(0);
    if (j >= cols) return;
    float s = 0.0f, dot = 0.0f;
    for (uint r = 0; r < rows; r++) {
        const float v = w[w_off + r * cols + j];
        s += v * v;
        dot += v * g[g_off + r * cols + j];
    }
    const float n = sqrt(s);
    const float a = n > 0.0f ? k / n : 0.0f, b = n > 0.0f ? k * dot / (s * n) : 0.0f;
    for (uint r = 0; r < rows; r++) {
        const uint i = r * cols + j;
        const float d = a * g[g_off + i] - b * w[w_off + i];
        dw[d_off + i] = accumulate ? dw[d_off + i] + d : d;
    }
}

/* Tree sum over the work-group of two values (fixed order: deterministic). */
static void pair_tree(__local float *sa, __local float *sb, const uint lid) {
    for (uint step = FROB_WG / 2; step > 0; step >>= 1) {
        barrier(CLK_LOCAL_MEM_FENCE);
        if (lid < step) {
            sa[lid] += sa[lid + step];
            sb[lid] += sb[lid + step];
        }
    }
    barrier(CLK_LOCAL_MEM_FENCE);
}

/* Global norm: one work-group of FROB_WG items. */
__kernel __attribute__((reqd_work_group_size(FROB_WG, 1, 1))) void
lip_frobenius_global(__global const float *w, const uint w_off, __global float *out, const uint o_off, const uint n,
                     const float k) {
    __local float sa[FROB_WG], sb[FROB_WG];
    const uint lid = get_local_id(0);
    float s = 0.0f;
    for (uint i = lid; i < n; i += FROB_WG) {
        const float v = w[w_off + i];
        s += v * v;
    }
    sa[lid] = s;
    sb[lid] = 0.0f;
    pair_tree(sa, sb, lid);
    const float scale = sa[0] > 0.0f ? k / sqrt(sa[0]) : 0.0f;
    for (uint i = lid; i < n; i += FROB_WG) out[o_off + i] = w[w_off + i] * scale;
}

/* dW (+)= k·(G/n − ⟨G, W⟩/n³ · W), n = ‖W‖_F; one work-group. */
__kernel __attribute__((reqd_work_group_size(FROB_WG, 1, 1))) void
lip_frobenius_global_backward(__global const float *w, const uint w_off, __global const float *g, const uint g_off,
                              __global float *dw, const uint d_off, const uint n, const float k, const int accumulate) {
    __local float sa[FROB_WG], sb[FROB_WG];
    const uint lid = get_local_id(0);
    float s = 0.0f, dot = 0.0f;
    for (uint i = lid; i < n; i += FROB_WG) {
        const float v = w[w_off + i];
        s += v * v;
        dot += v * g[g_off + i];
    }
    sa[lid] = s;
    sb[lid] = dot;
    pair_tree(sa, sb, lid);
    const float nn = sqrt(sa[0]);
    const float a = nn > 0.0f ? k / nn : 0.0f, b = nn > 0.0f ? k * sb[0] / (sa[0] * nn) : 0.0f;
    for (uint i = lid; i < n; i += FROB_WG) {
        const float d = a * g[g_off + i] - b * w[w_off + i];
        dw[d_off + i] = accumulate ? dw[d_off + i] + d : d;
    }
}
