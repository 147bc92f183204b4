/* lipcl kernels — optimizer updates, one fused kernel per parameter tensor: plain SGD, SGD with
 * momentum (Nesterov or not) and Adam, with Keras 2's arithmetic (see include/lipcl/optim.h). */

/* No tunables: the host picks the work-group size and the number of groups; grid-stride loops cover
 * any n. Each work-item reads and writes only its own indices, so every update is deterministic.
 * Scalars that depend on the step (lr, Adam's lr_t) are computed on the host and passed in. */

/* p ← p − lr·g */
__kernel void lip_optim_sgd(__global float *p, const uint p_off, __global const float *g, const uint g_off,
                            const float lr, const uint n) {
    const uint stride = (uint)get_global_size(0);
    for (uint i = (uint)get_global_id(0); i < n; i += stride) p[p_off + i] = p[p_off + i] - lr * g[g_off + i];
}

/* vel ← μ·vel − lr·g; p ← p + vel, or with Nesterov p ← p + μ·vel − lr·g (Keras ResourceApplyKerasMomentum). */
__kernel void lip_optim_momentum(__global float *p, const uint p_off, __global const float *g, const uint g_off,
                                 __global float *vel, const uint v_off, const float lr, const float momentum,
                                 const int nesterov, const uint n) {
    const uint stride = (uint)get_global_size(0);
    for (uint i = (uint)get_global_id(0); i < n; i += stride) {
        const float gi = g[g_off + i];
        const float v = momentum * vel[v_off + i] - lr * gi;
        vel[v_off + i] = v;
        p[p_off + i] = nesterov ? p[p_off + i] + (momentum * v - lr * gi) : p[p_off + i] + v;
    }
}

/* m ← β1·m + (1 − β1)·g; v ← β2·v + (1 − β2)·g²; p ← p − lr_t·m/(√v + ε) (Keras ResourceApplyAdam). */
__kernel void lip_optim_adam(__global float *p, const uint p_off, __global const float *g, const uint g_off,
                             __global float *m, const uint m_off, __global float *v, const uint v_off,
                             const float lr_t, const float beta_1, const float beta_2, const float epsilon,
                             const uint n) {
    const uint stride = (uint)get_global_size(0);
    const float one_m_b1 = 1.0f - beta_1, one_m_b2 = 1.0f - beta_2;
    for (uint i = (uint)get_global_id(0); i < n; i += stride) {
        const float gi = g[g_off + i];
        const float mi = beta_1 * m[m_off + i] + one_m_b1 * gi;
        const float vi = beta_2 * v[v_off + i] + one_m_b2 * (gi * gi);
        m[m_off + i] = mi;
        v[v_off + i] = vi;
        p[p_off + i] = p[p_off + i] - lr_t * mi / (sqrt(vi) + epsilon);
    }
}
