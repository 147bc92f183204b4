/* lipcl kernels — deel-lip's weight constraints and regularizers: clipping, division by the Frobenius
 * norm held on the device, the identity subtraction and value of the Gram regularizer, and Lorth2D. */

/* No tunables: the host picks work-group sizes; elementwise kernels use grid-stride loops. Every
 * output element is written by one work-item with a fixed summation order (deterministic). */

/* w ← clamp(w, −c, c) */
__kernel void lip_constraints_clip(__global float *w, const uint off, const float c, const uint n) {
    const uint stride = (uint)get_global_size(0);
    for (uint i = (uint)get_global_id(0); i < n; i += stride) w[off + i] = clamp(w[off + i], -c, c);
}

/* w ← w/(√sumsq + eps), sumsq = Σw² computed before on the device (FrobeniusConstraint). */
__kernel void lip_constraints_div_norm(__global float *w, const uint off, __global const float *sumsq,
                                       const uint s_off, const float eps, const uint n) {
    const float d = sqrt(sumsq[s_off]) + eps;
    const uint stride = (uint)get_global_size(0);
    for (uint i = (uint)get_global_id(0); i < n; i += stride) w[off + i] = w[off + i] / d;
}

/* g ← g − I for an n×n matrix g (one work-item per diagonal element). */
__kernel void lip_constraints_sub_identity(__global float *g, const uint off, const uint n) {
    const uint i = (uint)get_global_id(0);
    if (i < n) g[off + i * n + i] -= 1.0f;
}

/* value (+)= λ·(sumsq − δ): the regularizer's value from Σ(G − I)² (one work-item). */
__kernel void lip_constraints_value(__global float *value, const uint v_off, __global const float *sumsq,
                                    const uint s_off, const float lambda, const float delta, const int accumulate) {
    if (get_global_id(0) != 0) return;
    const float v = lambda * (sumsq[s_off] - delta);
    value[v_off] = accumulate ? value[v_off] + v : v;
}

/*
 * Lorth2D: d[a, y, x, b] = Σ_{i,j,c} K[y·s + i − P, x·s + j − P, c, a]·K[i, j, c, b] − target, for
 * K (R, R, C, M) row-major, d (M, o, o, M); target = 1 where a = b and y = x = ct. One work-item per
 * element of d.
 */
__kernel void lip_constraints_lorth_conv(__global const float *k, const uint k_off, __global float *d,
                                         const uint d_off, const int r, const int c, const int m, const int s,
                                         const int p, const int o) {
    const uint idx = (uint)get_global_id(0);
    const uint total = (uint)(m * o * o * m);
    if (idx >= total) return;
    const int b = (int)(idx % (uint)m);
    const int x = (int)((idx / (uint)m) % (uint)o);
    const int y = (int)((idx / (uint)(m * o)) % (uint)o);
    const int a = (int)(idx / (uint)(m * o * o));
    float acc = 0.0f;
    for (int i = 0; i < r; i++) {
        const int ki = y * s + i - p;
        if (ki < 0 || ki >= r) continue;
        for (int j = 0; j < r; j++) {
            const int kj = x * s + j - p;
            if (kj < 0 || kj >= r) continue;
            const uint base1 = k_off + (uint)(((ki * r + kj) * c) * m);
            const uint base2 = k_off + (uint)(((i * r + j) * c) * m);
            for (int ch = 0; ch < c; ch++) acc += k[base1 + (uint)(ch * m + a)] * k[base2 + (uint)(ch * m + b)];
        }
    }
    const int ct = o / 2;
    const float target = (a == b && y == ct && x == ct) ? 1.0f : 0.0f;
    d[d_off + idx] = acc - target;
}

/*
 * Gradient of Σd² with respect to K, times λ, added into grad: both factors of the bilinear conv_kk,
 *   ∂/∂K[p, q, c, e] = 2Σ_{y,x,b} d[e, y, x, b]·K[p − y·s + P, q − x·s + P, c, b]
 *                    + 2Σ_{a,y,x} d[a, y, x, e]·K[y·s + p − P, x·s + q − P, c, a].
 * One work-item per element of K.
 */
__kernel void lip_constraints_lorth_grad(__global const float *k, const uint k_off, __global const float *d,
                                         const uint d_off, __global float *grad, const uint g_off, const int r,
                                         const int c, const int m, const int s, const int p, const int o,
                                         const float lambda) {
    const uint idx = (uint)get_global_id(0);
    const uint total = (uint)(r * r * c * m);
    if (idx >= total) return;
    const int e = (int)(idx % (uint)m);
    const int ch = (int)((idx / (uint)m) % (uint)c);
    const int q = (int)((idx / (uint)(m * c)) % (uint)r);
    const int pp = (int)(idx / (uint)(m * c * r));
    float t1 = 0.0f, t2 = 0.0f;
    for (int y = 0; y < o; y++) {
        const int i1 = pp - y * s + p, i2 = y * s + pp - p;
        for (int x = 0; x < o; x++) {
            const int j1 = q - x * s + p, j2 = x * s + q - p;
            if (i1 >= 0 && i1 < r && j1 >= 0 && j1 < r) {
                const uint kb = k_off + (uint)(((i1 * r + j1) * c + ch) * m);
                const uint db = d_off + (uint)(((e * o + y) * o + x) * m);
                for (int b = 0; b < m; b++) t1 += d[db + (uint)b] * k[kb + (uint)b];
            }
            if (i2 >= 0 && i2 < r && j2 >= 0 && j2 < r) {
                const uint kb = k_off + (uint)(((i2 * r + j2) * c + ch) * m);
                for (int a = 0; a < m; a++) t2 += d[d_off + (uint)((((a * o + y) * o + x) * m) + e)] * k[kb + (uint)a];
            }
        }
    }
    grad[g_off + idx] += 2.0f * lambda * (t1 + t2);
}
