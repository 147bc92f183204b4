/* lipcl kernels — elementwise float32 ops: add, mul, scale, axpy, bias_add over flat arrays.
 * Grid-stride loops (any global size covers any n); every buffer comes with its element offset. */

/* No tunables: the host picks the work-group size and the number of groups. Each work-item reads
 * its inputs at index i before writing index i, so `out` may be the same buffer as an input. */

/* out = a + b */
__kernel void lip_elementwise_add(__global float *out, const uint out_off, __global const float *a, const uint a_off,
                                  __global const float *b, const uint b_off, const uint n) {
    const uint stride = (uint)get_global_size(0);
    for (uint i = (uint)get_global_id(0); i < n; i += stride) out[out_off + i] = a[a_off + i] + b[b_off + i];
}

/* out = a ⊙ b */
__kernel void lip_elementwise_mul(__global float *out, const uint out_off, __global const float *a, const uint a_off,
                                  __global const float *b, const uint b_off, const uint n) {
    const uint stride = (uint)get_global_size(0);
    for (uint i = (uint)get_global_id(0); i < n; i += stride) out[out_off + i] = a[a_off + i] * b[b_off + i];
}

/* out = alpha·x */
__kernel void lip_elementwise_scale(__global float *out, const uint out_off, __global const float *x, const uint x_off,
                                    const float alpha, const uint n) {
    const uint stride = (uint)get_global_size(0);
    for (uint i = (uint)get_global_id(0); i < n; i += stride) out[out_off + i] = alpha * x[x_off + i];
}

/* y = alpha·x + y (a separate multiply and add unless the compiler contracts them) */
__kernel void lip_elementwise_axpy(__global float *y, const uint y_off, __global const float *x, const uint x_off,
                                   const float alpha, const uint n) {
    const uint stride = (uint)get_global_size(0);
    for (uint i = (uint)get_global_id(0); i < n; i += stride) y[y_off + i] = alpha * x[x_off + i] + y[y_off + i];
}

/* out[r, j] = x[r, j] + bias[j] for x viewed as (n / cols) × cols */
__kernel void lip_elementwise_bias_add(__global float *out, const uint out_off, __global const float *x,
                                       const uint x_off, __global const float *bias, const uint bias_off,
                                       const uint cols, const uint n) {
    const uint stride = (uint)get_global_size(0);
    for (uint i = (uint)get_global_id(0); i < n; i += stride)
        out[out_off + i] = x[x_off + i] + bias[bias_off + i % cols];
}
