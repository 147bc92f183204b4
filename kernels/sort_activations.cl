/* lipcl kernels — sorting activations on the last axis: GroupSort(n) and FullSort (rank sort of
 * contiguous channel groups), GroupSort2 (min/max of channel pairs), MaxMin; forward and backward. */

/*
 * No tunables: the host picks the work-group size; every kernel loops over its index range with a
 * grid stride, so any grid covers any element count. Every buffer comes with its element offset.
 *
 * Order used by every sort here (and by the host reference): a total preorder on floats where NaN
 * comes after every number (all NaNs equivalent), and equivalent values keep their channel order
 * (a stable sort). So the output is always a permutation of the group, ties included, and the
 * forward and backward agree on it: y[base + rank(i)] = k·x[i], dx[i] = k·dy[base + rank(i)].
 *
 * Cost: one work-item per element reads its whole group to find its rank, O(n) per element and
 * O(n²) per group, with no private arrays and no barriers — right for the usual group sizes
 * (2..64 channels). A FullSort over thousands of channels would want a local-memory bitonic sort.
 */

/* a strictly before b */
inline int lip_sort_before(const float a, const float b) { return a < b || (isnan(b) && !isnan(a)); }

/* Position of element `i` (0 ≤ i < n) inside its sorted group starting at g[0]. */
inline uint lip_sort_rank(__global const float *g, const uint i, const uint n) {
    const float v = g[i];
    uint r = 0;
    for (uint j = 0; j < n; j++) {
        const float u = g[j];
        /* elements strictly before v, and equivalent ones with a lower index */
        r += lip_sort_before(u, v) || (j < i && !lip_sort_before(v, u));
    }
    return r;
}

/* GroupSort forward, any group size n: y[base + rank(i)] = k·x[i] for each of the `count`
 * elements (count a multiple of n). With store_ranks, ranks[i] = rank(i) (int32, local to the
 * group) for the backward. */
__kernel void lip_sort_activations_groupsort(__global const float *x, const uint x_off, __global float *y,
                                             const uint y_off, __global int *ranks, const uint ranks_off,
                                             const uint store_ranks, const uint n, const uint count,
                                             const float k) {
    const uint stride = (uint)get_global_size(0);
    for (uint e = (uint)get_global_id(0); e < count; e += stride) {
        const uint i = e % n, base = e - i;
        const uint r = lip_sort_rank(x + x_off + base, i, n);
        y[y_off + base + r] = k * x[x_off + e];
        if (store_ranks) ranks[ranks_off + e] = (int)r;
    }
}

/* GroupSort backward: dx[i] = k·dy[base + rank(i)], the rank read from `ranks` (use_ranks) or
 * recomputed from x. */
__kernel void lip_sort_activations_groupsort_backward(__global const float *x, const uint x_off,
                                                      __global const int *ranks, const uint ranks_off,
                                                      const uint use_ranks, __global const float *dy,
                                                      const uint dy_off, __global float *dx, const uint dx_off,
                                                      const uint n, const uint count, const float k) {
    const uint stride = (uint)get_global_size(0);
    for (uint e = (uint)get_global_id(0); e < count; e += stride) {
        const uint i = e % n, base = e - i;
        const uint r = use_ranks ? (uint)ranks[ranks_off + e] : lip_sort_rank(x + x_off + base, i, n);
        dx[dx_off + e] = k * dy[dy_off + base + r];
    }
}

/* GroupSort2 forward, one work-item per channel pair (a, b) = (x[2p], x[2p+1]):
 * (y[2p], y[2p+1]) = k·(min, max), swapping only when b is strictly before a (same order as the
 * general kernel). With store_ranks, ranks = the local positions (0/1) of a and b. */
__kernel void lip_sort_activations_groupsort2(__global const float *x, const uint x_off, __global float *y,
                                              const uint y_off, __global int *ranks, const uint ranks_off,
                                              const uint store_ranks, const uint pairs, const float k) {
    const uint stride = (uint)get_global_size(0);
    for (uint p = (uint)get_global_id(0); p < pairs; p += stride) {
        const float a = x[x_off + 2 * p], b = x[x_off + 2 * p + 1];
        const int swap = lip_sort_before(b, a);
        y[y_off + 2 * p] = k * (swap ? b : a);
        y[y_off + 2 * p + 1] = k * (swap ? a : b);
        if (store_ranks) {
            ranks[ranks_off + 2 * p] = swap;
            ranks[ranks_off + 2 * p + 1] = 1 - swap;
        }
    }
}

/* GroupSort2 backward: the pair's gradient goes back through the same swap. */
__kernel void lip_sort_activations_groupsort2_backward(__global const float *x, const uint x_off,
                                                       __global const int *ranks, const uint ranks_off,
                                                       const uint use_ranks, __global const float *dy,
                                                       const uint dy_off, __global float *dx, const uint dx_off,
                                                       const uint pairs, const float k) {
    const uint stride = (uint)get_global_size(0);
    for (uint p = (uint)get_global_id(0); p < pairs; p += stride) {
        const int swap = use_ranks ? ranks[ranks_off + 2 * p] != 0
                                   : lip_sort_before(x[x_off + 2 * p + 1], x[x_off + 2 * p]);
        const float g0 = dy[dy_off + 2 * p], g1 = dy[dy_off + 2 * p + 1];
        dx[dx_off + 2 * p] = k * (swap ? g1 : g0);
        dx[dx_off + 2 * p + 1] = k * (swap ? g0 : g1);
    }
}

/* MaxMin forward: x viewed as rows × c, y as rows × 2c: y[r, j] = k·relu(x[r, j]),
 * y[r, c + j] = k·relu(−x[r, j]) (two blocks, deel-lip's concatenation). */
__kernel void lip_sort_activations_maxmin(__global const float *x, const uint x_off, __global float *y,
                                          const uint y_off, const uint c, const uint count, const float k) {
    const uint stride = (uint)get_global_size(0);
    for (uint e = (uint)get_global_id(0); e < count; e += stride) {
        const uint j = e % c, r = e / c;
        const float v = x[x_off + e];
        /* written so that a NaN propagates (fmax would drop it) */
        y[y_off + 2 * c * r + j] = k * (v < 0.0f ? 0.0f : v);
        y[y_off + 2 * c * r + c + j] = k * (v > 0.0f ? 0.0f : -v);
    }
}

/* MaxMin backward (relu'(0) = 0): dx[r, j] = k·(dy[r, j]·[x > 0] − dy[r, c + j]·[x < 0]). */
__kernel void lip_sort_activations_maxmin_backward(__global const float *x, const uint x_off,
                                                   __global const float *dy, const uint dy_off, __global float *dx,
                                                   const uint dx_off, const uint c, const uint count,
                                                   const float k) {
    const uint stride = (uint)get_global_size(0);
    for (uint e = (uint)get_global_id(0); e < count; e += stride) {
        const uint j = e % c, r = e / c;
        const float v = x[x_off + e];
        float g = 0.0f;
        if (v > 0.0f) g = dy[dy_off + 2 * c * r + j];
        else if (v < 0.0f) g = -dy[dy_off + 2 * c * r + c + j];
        dx[dx_off + e] = k * g;
    }
}
