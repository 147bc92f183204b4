/* lipcl kernels — elementwise Lipschitz activations: ReLU, PReLUlip (with its slope constraint) and
 * Householder (reflection of channel pairs); forward, backward and deterministic parameter gradients. */

/*
 * No tunables: the host picks work-group sizes and the row splits of the parameter gradients.
 * Every buffer comes with its element offset; loops are grid-stride so any grid covers any size.
 *
 * Parameter gradients (PReLU α, Householder θ) without atomics: x is viewed as rows × cols (cols =
 * the parameter count), work-item (j, s) of a cols × S grid handles rows s, s + S, s + 2S, ... of
 * column j, writes dx for them and a Kahan-compensated partial sum of the parameter gradient to
 * partial[s·cols + j]; lip_activations_sum_partials then adds the S partials of each column in
 * order. The order depends only on the sizes, so results are bit-identical from run to run.
 * With S = 1 the host passes the gradient itself as `partial` (with its accumulate flag).
 */

/* No fused multiply-add contraction: the Householder selector must come out the same in the
 * forward and the backward kernel (it decides which branch the gradient takes). */
#pragma OPENCL FP_CONTRACT OFF

/* s + v with the compensation c (the true sum is s − c). */
#define LIP_ACT_KAHAN_ADD(s, c, v)                                                                          \
    do {                                                                                                   \
        const float y_ = (v) - (c);                                                                        \
        const float t_ = (s) + y_;                                                                         \
        (c) = (t_ - (s)) - y_;                                                                             \
        (s) = t_;                                                                                          \
    } while (0)

/* ReLU forward: y = max(x, 0), written so that a NaN propagates. y may be x. */
__kernel void lip_activations_relu(__global const float *x, const uint x_off, __global float *y, const uint y_off,
                                   const uint count) {
    const uint stride = (uint)get_global_size(0);
    for (uint e = (uint)get_global_id(0); e < count; e += stride) {
        const float v = x[x_off + e];
        y[y_off + e] = v < 0.0f ? 0.0f : v;
    }
}

/* ReLU backward (relu'(0) = 0): dx = dy·[x > 0]. dx may be dy. */
__kernel void lip_activations_relu_backward(__global const float *x, const uint x_off, __global const float *dy,
                                            const uint dy_off, __global float *dx, const uint dx_off,
                                            const uint count) {
    const uint stride = (uint)get_global_size(0);
    for (uint e = (uint)get_global_id(0); e < count; e += stride)
        dx[dx_off + e] = x[x_off + e] > 0.0f ? dy[dy_off + e] : 0.0f;
}

/* PReLU forward (Keras: relu(x) − α·relu(−x)): y = x for x ≥ 0, α[e mod cols]·x for x < 0. */
__kernel void lip_activations_prelu(__global const float *x, const uint x_off, __global const float *alpha,
                                    const uint alpha_off, __global float *y, const uint y_off, const uint cols,
                                    const uint count) {
    const uint stride = (uint)get_global_size(0);
    for (uint e = (uint)get_global_id(0); e < count; e += stride) {
        const float v = x[x_off + e];
        y[y_off + e] = v < 0.0f ? alpha[alpha_off + e % cols] * v : v;
    }
}

/* PReLU backward over the rows s, s + S, ... of column j (see the header):
 * dx = dy·(1 if x > 0, α if x < 0, 0 at 0) when write_dx; dα partial = Σ dy·min(x, 0) when
 * write_grad (partial[s·cols + j] = (accumulate ? partial : 0) + sum). */
__kernel void lip_activations_prelu_backward(__global const float *x, const uint x_off, __global const float *alpha,
                                             const uint alpha_off, __global const float *dy, const uint dy_off,
                                             __global float *dx, const uint dx_off, const uint write_dx,
                                             __global float *partial, const uint partial_off,
                                             const uint write_grad, const uint accumulate, const uint rows,
                                             const uint cols, const uint splits) {
    const uint j = (uint)get_global_id(0), s = (uint)get_global_id(1);
    if (j >= cols || s >= splits) return;
    const float a = alpha[alpha_off + j];
    float sum = 0.0f, comp = 0.0f;
    for (uint r = s; r < rows; r += splits) {
        const uint e = r * cols + j;
        const float v = x[x_off + e], g = dy[dy_off + e];
        if (write_dx) dx[dx_off + e] = v > 0.0f ? g : (v < 0.0f ? a * g : 0.0f);
        if (write_grad && v < 0.0f) LIP_ACT_KAHAN_ADD(sum, comp, g * v);
    }
    if (write_grad) {
        const uint o = partial_off + s * cols + j;
        partial[o] = (accumulate ? partial[o] : 0.0f) + (sum - comp);
    }
}

/* out[j] = (accumulate ? out[j] : 0) + Σ_s partial[s·cols + j], s = 0 .. splits−1 in order. */
__kernel void lip_activations_sum_partials(__global const float *partial, const uint partial_off, const uint splits,
                                           const uint cols, __global float *out, const uint out_off,
                                           const uint accumulate) {
    const uint stride = (uint)get_global_size(0);
    for (uint j = (uint)get_global_id(0); j < cols; j += stride) {
        float sum = 0.0f, comp = 0.0f;
        for (uint s = 0; s < splits; s++) LIP_ACT_KAHAN_ADD(sum, comp, partial[partial_off + s * cols + j]);
        out[out_off + j] = (accumulate ? out[out_off + j] : 0.0f) + (sum - comp);
    }
}

/* PReLUlip's slope constraint (Keras MinMaxNorm(min_value = −k, max_value = k), rate 1, axis 0):
 * α viewed as rows × cols (rows = α's first axis); each column is scaled by
 * min(‖α[:, j]‖, k) / (1e-7 + ‖α[:, j]‖), so every column norm ends ≤ k. In place. */
__kernel void lip_activations_prelu_constrain(__global float *alpha, const uint alpha_off, const uint rows,
                                              const uint cols, const float k) {
    const uint stride = (uint)get_global_size(0);
    for (uint j = (uint)get_global_id(0); j < cols; j += stride) {
        float sq = 0.0f;
        for (uint r = 0; r < rows; r++) {
            const float a = alpha[alpha_off + r * cols + j];
            sq += a * a;
        }
        const float norm = sqrt(sq);
        const float f = fmin(norm, k) / (1e-7f + norm);
        for (uint r = 0; r < rows; r++) alpha[alpha_off + r * cols + j] *= f;
    }
}

/* Whether the pair (z1, z2) is reflected: not (z1·sin(θ/2) − z2·cos(θ/2) ≤ 0). */
inline int lip_householder_reflects(const float z1, const float z2, const float sh, const float ch) {
    const float sel = z1 * sh - z2 * ch;
    return !(sel <= 0.0f);
}

/* Householder forward on x viewed as rows × 2h: z1 = x[r, j], z2 = x[r, h + j], θ = theta[j];
 * s = z1·sin(θ/2) − z2·cos(θ/2); s ≤ 0 keeps (z1, z2), else (z1 cos θ + z2 sin θ, z1 sin θ − z2 cos θ)
 * goes to (y[r, j], y[r, h + j]). */
__kernel void lip_activations_householder(__global const float *x, const uint x_off, __global const float *theta,
                                          const uint theta_off, __global float *y, const uint y_off, const uint h,
                                          const uint pairs) {
    const uint stride = (uint)get_global_size(0);
    for (uint p = (uint)get_global_id(0); p < pairs; p += stride) {
        const uint j = p % h, e = (p / h) * 2 * h + j;
        const float t = theta[theta_off + j];
        const float z1 = x[x_off + e], z2 = x[x_off + e + h];
        float a = z1, b = z2;
        if (lip_householder_reflects(z1, z2, sin(0.5f * t), cos(0.5f * t))) {
            const float c = cos(t), sn = sin(t);
            a = z1 * c + z2 * sn;
            b = z1 * sn - z2 * c;
        }
        y[y_off + e] = a;
        y[y_off + e + h] = b;
    }
}

/* Householder backward over the rows s, s + S, ... of pair column j (see the header). Where the
 * pair was reflected: dz1 = g1 cos θ + g2 sin θ, dz2 = g1 sin θ − g2 cos θ and
 * dθ += g1·(−z1 sin θ + z2 cos θ) + g2·(z1 cos θ + z2 sin θ); elsewhere dz = g, no dθ (the
 * selector is piecewise constant, as in TF's tf.where). */
__kernel void lip_activations_householder_backward(__global const float *x, const uint x_off,
                                                   __global const float *theta, const uint theta_off,
                                                   __global const float *dy, const uint dy_off, __global float *dx,
                                                   const uint dx_off, const uint write_dx, __global float *partial,
                                                   const uint partial_off, const uint write_grad,
                                                   const uint accumulate, const uint rows, const uint h,
                                                   const uint splits) {
    const uint j = (uint)get_global_id(0), s = (uint)get_global_id(1);
    if (j >= h || s >= splits) return;
    const float t = theta[theta_off + j];
    const float sh = sin(0.5f * t), ch = cos(0.5f * t), c = cos(t), sn = sin(t);
    float sum = 0.0f, comp = 0.0f;
    for (uint r = s; r < rows; r += splits) {
        const uint e = r * 2 * h + j;
        const float z1 = x[x_off + e], z2 = x[x_off + e + h];
        const float g1 = dy[dy_off + e], g2 = dy[dy_off + e + h];
        const int reflect = lip_householder_reflects(z1, z2, sh, ch);
        if (write_dx) {
            dx[dx_off + e] = reflect ? g1 * c + g2 * sn : g1;
            dx[dx_off + e + h] = reflect ? g1 * sn - g2 * c : g2;
        }
        if (write_grad && reflect) LIP_ACT_KAHAN_ADD(sum, comp, g1 * (z2 * c - z1 * sn) + g2 * (z1 * c + z2 * sn));
    }
    if (write_grad) {
        const uint o = partial_off + s * h + j;
        partial[o] = (accumulate ? partial[o] : 0.0f) + (sum - comp);
    }
}
