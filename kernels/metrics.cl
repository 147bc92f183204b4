/* lipcl kernels — metrics: per-row accuracy, certified robust accuracy, provable robustness and
 * certified radii (deel-lip's margins), and the compensated running sum a metric keeps on the device. */

/*
 * Determinism: per-row loops in a fixed order; the batch sum is a per-item Kahan sum of a fixed stride
 * followed by a fixed binary tree; no atomics. No early return before a barrier (PoCL 3.1).
 */

#ifndef METRICS_WG
#define METRICS_WG 128 /* work-group size of lip_metrics_accumulate: a power of two, 16..1024 (≤ the
                          device's maximum); the host reads it back from the kernel */
#endif

#if (METRICS_WG & (METRICS_WG - 1)) != 0 || METRICS_WG < 16 || METRICS_WG > 1024
#error "METRICS_WG must be a power of two in 16..1024"
#endif

/* Modes: the values of lip_metric_kind (include/lipcl/metrics.h), then the two radius modes. */
#define M_BIN_ACC 0
#define M_CAT_ACC 1
#define M_BIN_PRA 2
#define M_CAT_PRA 3
#define M_BIN_PAR 4
#define M_CAT_PAR 5
#define M_RADIUS 6          /* signed radius Δ/factor with labels */
#define M_RADIUS_NOLABEL 7  /* radius of the predicted class */

#define METRICS_KAHAN_ADD(s, c, v)                                                                          \
    do {                                                                                                   \
        const float y_ = (v) - (c);                                                                        \
        const float t_ = (s) + y_;                                                                         \
        (c) = (t_ - (s)) - y_;                                                                             \
        (s) = t_;                                                                                          \
    } while (0)

float metrics_lbl(__global const int *y, const uint i, const uint y_int) {
    const int b = y[i];
    return y_int ? (float)b : as_float(b);
}

/*
 * One work-item per row i < B: out[i] = the row's value. Binary modes (and the radius modes with
 * C = 1) use Δ = sign(y − 1e-3)·f per output and sum over the C outputs; categorical ones use the true
 * class (index when sparse, else the first maximum of the label row) and Δ = f_t − max_{c≠t} f_c.
 * A sparse index outside [0, C) is a wrong prediction: 0 for the metrics, −∞ for the radius.
 */
__kernel void lip_metrics_rows(__global const float *f, const uint f_off, __global const int *y, const uint y_off,
                               const uint y_int, const uint sparse, const uint B, const uint C, const uint mode,
                               const float epsilon, const float factor, const uint negative, __global float *out,
                               const uint o_off) {
    const uint i = (uint)get_global_id(0);
    if (i >= B) return; /* no barrier in this kernel */
    __global const float *fr = f + f_off + i * C;
    const int binary = mode == M_BIN_ACC || mode == M_BIN_PRA || mode == M_BIN_PAR ||
                       ((mode == M_RADIUS || mode == M_RADIUS_NOLABEL) && C == 1);
    float value = 0.0f;
    if (binary) {
        for (uint c = 0; c < C; c++) {
            const float x = fr[c];
            if (mode == M_RADIUS_NOLABEL) {
                value += fabs(x) / factor;
                continue;
            }
            const float l = metrics_lbl(y, y_off + i * C + c, y_int), delta = sign(l - 1e-3f) * x;
            if (mode == M_BIN_ACC)
                value += (x > 0.0f) == (l > 0.0f) ? 1.0f : 0.0f;
            else if (mode == M_BIN_PRA)
                value += delta / factor > epsilon ? 1.0f : 0.0f;
            else if (mode == M_BIN_PAR)
                value += (negative ? delta : fmax(delta, 0.0f)) / factor;
            else
                value += delta / factor;
        }
        out[o_off + i] = value;
        return;
    }
    /* predicted class p = first maximum of f; true class t */
    uint p = 0;
    for (uint c = 1; c < C; c++)
        if (fr[c] > fr[p]) p = c;
    if (mode == M_RADIUS_NOLABEL) {
        float second = -INFINITY;
        for (uint c = 0; c < C; c++)
            if (c != p) second = fmax(second, fr[c]);
        out[o_off + i] = (fr[p] - second) / factor;
        return;
    }
    int t = 0;
    if (sparse) {
        const float k = metrics_lbl(y, y_off + i, y_int);
        t = (k >= 0.0f && k < (float)C && k == floor(k)) ? (int)k : -1;
    } else {
        float best = metrics_lbl(y, y_off + i * C, y_int);
        for (uint c = 1; c < C; c++) {
            const float l = metrics_lbl(y, y_off + i * C + c, y_int);
            if (l > best) {
                best = l;
                t = (int)c;
            }
        }
    }
    if (t < 0) {
        out[o_off + i] = mode == M_RADIUS ? -INFINITY : 0.0f;
        return;
    }
    float other = -INFINITY;
    for (uint c = 0; c < C; c++)
        if (c != (uint)t) other = fmax(other, fr[c]);
    const float delta = fr[t] - other;
    if (mode == M_CAT_ACC)
        value = p == (uint)t ? 1.0f : 0.0f;
    else if (mode == M_CAT_PRA)
        value = delta / factor > epsilon ? 1.0f : 0.0f;
    else if (mode == M_CAT_PAR)
        value = (negative ? delta : fmax(delta, 0.0f)) / factor;
    else
        value = delta / factor;
    out[o_off + i] = value;
}

/* One group: acc = [s, c] (the running sum is s − c) += Σ_{i<n} v[i]. */
__kernel __attribute__((reqd_work_group_size(METRICS_WG, 1, 1))) void
lip_metrics_accumulate(__global const float *v, const uint v_off, const uint n, __global float *acc,
                       const uint a_off) {
    __local float tile[METRICS_WG];
    const uint lid = (uint)get_local_id(0);
    float s = 0.0f, c = 0.0f;
    for (uint i = lid; i < n; i += METRICS_WG) METRICS_KAHAN_ADD(s, c, v[v_off + i]);
    tile[lid] = s - c;
    for (uint step = METRICS_WG / 2; step > 0; step >>= 1) {
        barrier(CLK_LOCAL_MEM_FENCE);
        if (lid < step) tile[lid] += tile[lid + step];
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    if (lid == 0) {
        float as = acc[a_off], ac = acc[a_off + 1];
        METRICS_KAHAN_ADD(as, ac, tile[0]);
        acc[a_off] = as;
        acc[a_off + 1] = ac;
    }
}
