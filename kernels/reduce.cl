/* lipcl kernels — deterministic float32 reductions: sum, sum of squares and max (per-group partials,
 * then one group), column sums of a rows×cols matrix, and the first maximum of each row (argmax). */

/*
 * Determinism: the reduction order depends only on the sizes (number of groups, work-group size,
 * row splits are chosen by the host from n, rows and cols), never on timing; no atomics.
 * Accuracy: each work-item keeps a Kahan-compensated running sum of its strided elements, then the
 * work-group adds the items' sums with a fixed binary tree in local memory (pairwise). The error of
 * a sum of 1e6 elements stays at a few float ulps of Σ|x| (the host checks ~1e-6 relative).
 * This needs IEEE evaluation order: no -cl-fast-relaxed-math (the library's default).
 */

#ifndef REDUCE_WG
#define REDUCE_WG 128 /* work-group size of the *_partial and *_group kernels: a power of two, 16..1024
                         (≤ the device's maximum); the host reads it back from the kernel */
#endif

#if (REDUCE_WG & (REDUCE_WG - 1)) != 0 || REDUCE_WG < 16 || REDUCE_WG > 1024
#error "REDUCE_WG must be a power of two in 16..1024"
#endif

/* s + v with the compensation c (the true sum is s − c). */
#define LIP_KAHAN_ADD(s, c, v)                                                                              \
    do {                                                                                                   \
        const float y_ = (v) - (c);                                                                        \
        const float t_ = (s) + y_;                                                                         \
        (c) = (t_ - (s)) - y_;                                                                             \
        (s) = t_;                                                                                          \
    } while (0)

/* Sum of tile[0..REDUCE_WG) by a fixed binary tree; every work-item of the group must call it. */
float lip_tree_sum(__local float *tile, const uint lid, const float v) {
    tile[lid] = v;
    for (uint step = REDUCE_WG / 2; step > 0; step >>= 1) {
        barrier(CLK_LOCAL_MEM_FENCE);
        if (lid < step) tile[lid] += tile[lid + step];
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    return tile[0];
}

float lip_tree_max(__local float *tile, const uint lid, const float v) {
    tile[lid] = v;
    for (uint step = REDUCE_WG / 2; step > 0; step >>= 1) {
        barrier(CLK_LOCAL_MEM_FENCE);
        if (lid < step) {
            const float o = tile[lid + step];
            if (o > tile[lid]) tile[lid] = o;
        }
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    return tile[0];
}

/* out[out_off + group] = Σ of x[x_off + i] over the i ≡ global id (mod global size), i < n. With one
 * group this is the whole sum (the host's second pass over the partials). */
__kernel __attribute__((reqd_work_group_size(REDUCE_WG, 1, 1))) void
lip_reduce_sum_partial(__global const float *x, const uint x_off, const uint n, __global float *out,
                       const uint out_off) {
    __local float tile[REDUCE_WG];
    const uint lid = (uint)get_local_id(0), stride = (uint)get_global_size(0);
    float s = 0.0f, c = 0.0f;
    for (uint i = (uint)get_global_id(0); i < n; i += stride) LIP_KAHAN_ADD(s, c, x[x_off + i]);
    const float total = lip_tree_sum(tile, lid, s - c);
    if (lid == 0) out[out_off + get_group_id(0)] = total;
}

/* Same with x² (the second pass is lip_reduce_sum_partial over the partials). */
__kernel __attribute__((reqd_work_group_size(REDUCE_WG, 1, 1))) void
lip_reduce_sum_squares_partial(__global const float *x, const uint x_off, const uint n, __global float *out,
                               const uint out_off) {
    __local float tile[REDUCE_WG];
    const uint lid = (uint)get_local_id(0), stride = (uint)get_global_size(0);
    float s = 0.0f, c = 0.0f;
    for (uint i = (uint)get_global_id(0); i < n; i += stride) {
        const float v = x[x_off + i];
        LIP_KAHAN_ADD(s, c, v * v);
    }
    const float total = lip_tree_sum(tile, lid, s - c);
    if (lid == 0) out[out_off + get_group_id(0)] = total;
}

/* Max instead of sum (both passes). NaNs never win a comparison (inputs are expected NaN-free). */
__kernel __attribute__((reqd_work_group_size(REDUCE_WG, 1, 1))) void
lip_reduce_max_partial(__global const float *x, const uint x_off, const uint n, __global float *out,
                       const uint out_off) {
    __local float tile[REDUCE_WG];
    const uint lid = (uint)get_local_id(0), stride = (uint)get_global_size(0);
    float m = -INFINITY;
    for (uint i = (uint)get_global_id(0); i < n; i += stride) {
        const float v = x[x_off + i];
        if (v > m) m = v;
    }
    const float total = lip_tree_max(tile, lid, m);
    if (lid == 0) out[out_off + get_group_id(0)] = total;
}

/* x viewed as rows × cols. Work-item (j, s) writes out[out_off + s·cols + j] = Σ x[i, j] over the
 * rows i ≡ s (mod splits), Kahan-compensated. With splits = 1 these are the column sums; the host's
 * second pass runs it again over the splits × cols partials. */
__kernel void lip_reduce_sum_rows_partial(__global const float *x, const uint x_off, const uint rows, const uint cols,
                                          const uint splits, __global float *out, const uint out_off) {
    const uint j = (uint)get_global_id(0), s = (uint)get_global_id(1);
    if (j >= cols || s >= splits) return;
    float sum = 0.0f, c = 0.0f;
    for (uint i = s; i < rows; i += splits) LIP_KAHAN_ADD(sum, c, x[x_off + i * cols + j]);
    out[out_off + s * cols + j] = sum - c;
}

/* One work-item per row: out[out_off + r] = the smallest j with x[r, j] = max of row r. */
__kernel void lip_reduce_argmax_rows(__global const float *x, const uint x_off, const uint rows, const uint cols,
                                     __global int *out, const uint out_off) {
    const uint r = (uint)get_global_id(0);
    if (r >= rows) return;
    __global const float *row = x + x_off + r * cols;
    float best = row[0];
    uint best_j = 0;
    for (uint j = 1; j < cols; j++) {
        const float v = row[j];
        if (v > best) {
            best = v;
            best_j = j;
        }
    }
    out[out_off + r] = (int)best_j;
}

/* One work-group per row (long rows): each item scans a strided share keeping its first maximum,
 * then a tree keeps the larger value and, on ties, the smaller index. */
__kernel __attribute__((reqd_work_group_size(REDUCE_WG, 1, 1))) void
lip_reduce_argmax_rows_group(__global const float *x, const uint x_off, const uint rows, const uint cols,
                             __global int *out, const uint out_off) {
    __local float val[REDUCE_WG];
    __local uint idx[REDUCE_WG];
    const uint lid = (uint)get_local_id(0), r = (uint)get_group_id(0);
    /* rows = number of groups, so r < rows always; kept for symmetry with the other kernels. */
    __global const float *row = x + x_off + r * cols;
    float best = -INFINITY;
    uint best_j = 0xffffffffu; /* no element yet: loses every tie */
    for (uint j = lid; j < cols; j += REDUCE_WG) {
        const float v = row[j];
        if (best_j == 0xffffffffu || v > best) {
            best = v;
            best_j = j;
        }
    }
    val[lid] = best;
    idx[lid] = best_j;
    for (uint step = REDUCE_WG / 2; step > 0; step >>= 1) {
        barrier(CLK_LOCAL_MEM_FENCE);
        if (lid < step) {
            const float ov = val[lid + step];
            const uint oi = idx[lid + step];
            if (oi != 0xffffffffu && (idx[lid] == 0xffffffffu || ov > val[lid] || (ov == val[lid] && oi < idx[lid]))) {
                val[lid] = ov;
                idx[lid] = oi;
            }
        }
    }
    if (lid == 0 && r < rows) out[out_off + r] = (int)idx[0];
}
