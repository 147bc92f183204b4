/* lipcl kernels — losses of deel-lip (KR family, hinges, soft HKR, margins, Tau cross-entropies) plus
 * cross-entropy and MSE: per-row values and gradients, KR class counts, SoftHKR state, batch sums. */

/*
 * Layout: y_pred f is B rows of C floats; labels y are read through an int pointer and converted by
 * lbl() (float32 bits or int32 values, flag y_int); the sparse loss reads one index per row.
 * Determinism: every sum has a fixed order (per-row loops, or per-item Kahan sums of a fixed stride
 * then a fixed binary tree in local memory); the only atomic is an integer OR of label-error bits.
 * No early return before a barrier (PoCL 3.1 miscompiles it): reduction kernels mask their writes.
 */

#ifndef LOSSES_WG
#define LOSSES_WG 128 /* work-group size of the reduction kernels: a power of two, 16..1024 (≤ the
                         device's maximum); the host reads it back from the kernel */
#endif

#if (LOSSES_WG & (LOSSES_WG - 1)) != 0 || LOSSES_WG < 16 || LOSSES_WG > 1024
#error "LOSSES_WG must be a power of two in 16..1024"
#endif

/* Kinds: the values of lip_loss_kind (include/lipcl/losses.h). */
#define K_KR 0
#define K_HKR 1
#define K_HINGE 2
#define K_MKR 3
#define K_MHINGE 4
#define K_MHKR 5
#define K_SOFT_HKR 6
#define K_MULTI_MARGIN 7
#define K_CAT_HINGE 8
#define K_TAU_CCE 9
#define K_TAU_SPARSE 10
#define K_TAU_BCE 11
#define K_CCE 12
#define K_MSE 13

/* Label-error bits (src/train/losses.c names them). */
#define BAD_VALUE 1  /* a binary / one-hot label outside {-1, 0, 1} */
#define BAD_ONEHOT 2 /* a one-hot row without exactly one positive entry */
#define BAD_PROB 4   /* a probability row with an entry outside [0, 1] or a sum off 1 by > 1e-3 */
#define BAD_INDEX 8  /* a class index outside [0, C) */

/* s + v with the compensation c (the true sum is s − c). */
#define LOSSES_KAHAN_ADD(s, c, v)                                                                           \
    do {                                                                                                   \
        const float y_ = (v) - (c);                                                                        \
        const float t_ = (s) + y_;                                                                         \
        (c) = (t_ - (s)) - y_;                                                                             \
        (s) = t_;                                                                                          \
    } while (0)

/* A label as float: int32 labels are converted, float32 ones reinterpreted. */
float lbl(__global const int *y, const uint i, const uint y_int) {
    const int b = y[i];
    return y_int ? (float)b : as_float(b);
}

int is_sign_label(const float v) { return v == 0.0f || v == 1.0f || v == -1.0f; }

/* Sum of tile[0..LOSSES_WG) by a fixed binary tree; every work-item of the group must call it. */
float losses_tree_sum(__local float *tile, const uint lid, const float v) {
    tile[lid] = v;
    for (uint step = LOSSES_WG / 2; step > 0; step >>= 1) {
        barrier(CLK_LOCAL_MEM_FENCE);
        if (lid < step) tile[lid] += tile[lid + step];
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    return tile[0];
}

/* counts[c] = number of rows with y[i, c] == 1 (KR's positives), one group per column. Integer
 * values below 2^24, so the float tree is exact. */
__kernel __attribute__((reqd_work_group_size(LOSSES_WG, 1, 1))) void
lip_losses_class_counts(__global const int *y, const uint y_off, const uint y_int, const uint B, const uint C,
                        __global float *counts, const uint c_off) {
    __local float tile[LOSSES_WG];
    const uint lid = (uint)get_local_id(0), c = (uint)get_group_id(0);
    float n = 0.0f;
    for (uint i = lid; i < B; i += LOSSES_WG) n += lbl(y, y_off + i * C + c, y_int) == 1.0f ? 1.0f : 0.0f;
    const float total = losses_tree_sum(tile, lid, n);
    if (lid == 0 && c < C) counts[c_off + c] = total;
}

/* deel-lip's process_labels_for_multi_gpu: out = B·(P/(n_c + 1e-7) − (1 − P)/(B − n_c + 1e-7)). */
__kernel void lip_losses_multi_gpu_labels(__global const int *y, const uint y_off, const uint y_int,
                                          __global const float *counts, const uint c_off, const uint B,
                                          const uint C, __global float *out, const uint o_off) {
    const uint n = B * C, stride = (uint)get_global_size(0);
    const float bf = (float)B;
    for (uint e = (uint)get_global_id(0); e < n; e += stride) {
        const float p = lbl(y, y_off + e, y_int) == 1.0f ? 1.0f : 0.0f, nc = counts[c_off + e % C];
        out[o_off + e] = bf * (p / (nc + 1e-7f) - (1.0f - p) / (bf - nc + 1e-7f));
    }
}

/* MulticlassSoftHKR's state update, one group: current_mean ← α_mean·current_mean + (1 − α_mean)·mean|f|
 * over the n = B·C outputs; T = clip(temperature·m / clip(current_mean, m, 20000), 0.005, 250).
 * state = [current_mean, T]. */
__kernel __attribute__((reqd_work_group_size(LOSSES_WG, 1, 1))) void
lip_losses_soft_hkr_update(__global const float *f, const uint f_off, const uint n, __global float *state,
                           const uint s_off, const float alpha_mean, const float margin, const float temperature) {
    __local float tile[LOSSES_WG];
    const uint lid = (uint)get_local_id(0);
    float s = 0.0f, c = 0.0f;
    for (uint i = lid; i < n; i += LOSSES_WG) LOSSES_KAHAN_ADD(s, c, fabs(f[f_off + i]));
    const float total = losses_tree_sum(tile, lid, s - c);
    if (lid == 0) {
        const float mean = total / (float)n;
        const float cm = alpha_mean * state[s_off] + (1.0f - alpha_mean) * mean;
        state[s_off] = cm;
        state[s_off + 1] = clamp(temperature * margin / clamp(cm, margin, 20000.0f), 0.005f, 250.0f);
    }
}

/* out[0] = (Σ_{i<n} ps[i]) / divisor (MEAN: B, SUM: 1), one group. */
__kernel __attribute__((reqd_work_group_size(LOSSES_WG, 1, 1))) void
lip_losses_reduce(__global const float *ps, const uint ps_off, const uint n, const float divisor,
                  __global float *out, const uint o_off) {
    __local float tile[LOSSES_WG];
    const uint lid = (uint)get_local_id(0);
    float s = 0.0f, c = 0.0f;
    for (uint i = lid; i < n; i += LOSSES_WG) LOSSES_KAHAN_ADD(s, c, ps[ps_off + i]);
    const float total = losses_tree_sum(tile, lid, s - c);
    if (lid == 0) out[o_off] = total / divisor;
}

/* ---- per-row losses ---------------------------------------------------------------------------- */

/* The arguments every row function shares. */
#define ROW_ARGS                                                                                            \
    __global const float *fr, __global const int *y, const uint yr, const uint y_int, __global float *gr,     \
        const uint write_g, const float gs, const uint C, int *bad

/*
 * KR, HKR, HingeMargin, MulticlassKR/Hinge/HKR: ℓ = (c_kr·Σ_c f_c·w_c + c_h·Σ_c W_c·relu(m/2 − s_c f_c))/C
 * with KR weights w_c (B·(P/(n_c + ε) − (1 − P)/(B − n_c + ε)), or the pre-processed label when
 * multi_gpu) and hinge weights W_c = C − 1 on positives when `weighted` (MulticlassHinge), else 1.
 * The host sets c_kr ∈ {0, ±1} and c_h ∈ {0, 1, α} from the kind and α.
 */
float row_kr_hinge(ROW_ARGS, __global const float *counts, const uint B, const float c_kr, const float c_h,
                   const float margin, const uint weighted, const uint multi_gpu, const uint onehot) {
    const float bf = (float)B, hm = 0.5f * margin, wpos = weighted ? (float)(C - 1) : 1.0f, inv_c = 1.0f / (float)C;
    float kr = 0.0f, hinge = 0.0f;
    uint npos = 0;
    for (uint c = 0; c < C; c++) {
        const float v = lbl(y, yr + c, y_int), x = fr[c];
        if (!multi_gpu && !is_sign_label(v)) *bad |= BAD_VALUE;
        const float s = v > 0.0f ? 1.0f : -1.0f;
        npos += v > 0.0f;
        float w = 0.0f;
        if (c_kr != 0.0f) {
            if (multi_gpu) {
                w = v;
            } else {
                const float nc = counts[c], p = v == 1.0f ? 1.0f : 0.0f;
                w = bf * (p / (nc + 1e-7f) - (1.0f - p) / (bf - nc + 1e-7f));
            }
            kr += x * w;
        }
        const float t = hm - s * x, W = v > 0.0f ? wpos : 1.0f;
        if (t > 0.0f) hinge += W * t;
        if (write_g) gr[c] = gs * (c_kr * w + (t > 0.0f ? -c_h * W * s : 0.0f)) * inv_c;
    }
    if (onehot && npos != 1) *bad |= BAD_ONEHOT;
    return (c_kr * kr + c_h * hinge) * inv_c;
}

/* MulticlassSoftHKR with T = state[1]: positives weigh 1, negatives the softmax F of T·f over the
 * negatives; g_c = c_kr·(−s f) + relu(m/2 − s f); ℓ = Σ_pos g_c + Σ_neg F_c g_c; c_kr = 1/α. */
float row_soft_hkr(ROW_ARGS, const float T, const float c_kr, const float margin) {
    const float hm = 0.5f * margin;
    float mx = -INFINITY;
    uint npos = 0;
    for (uint c = 0; c < C; c++) {
        const float v = lbl(y, yr + c, y_int);
        if (!is_sign_label(v)) *bad |= BAD_VALUE;
        if (v > 0.0f)
            npos++;
        else
            mx = fmax(mx, T * fr[c]);
    }
    if (npos != 1) *bad |= BAD_ONEHOT;
    float z = 0.0f, sg = 0.0f, value = 0.0f;
    for (uint c = 0; c < C; c++) {
        const float v = lbl(y, yr + c, y_int), x = fr[c];
        if (v > 0.0f) {
            value += -c_kr * x + fmax(hm - x, 0.0f);
        } else {
            const float e = exp(T * x - mx), g = c_kr * x + fmax(hm + x, 0.0f);
            z += e;
            sg += e * g;
        }
    }
    const float G = z > 0.0f ? sg / z : 0.0f;
    value += G;
    if (write_g) {
        for (uint c = 0; c < C; c++) {
            const float v = lbl(y, yr + c, y_int), x = fr[c];
            if (v > 0.0f) {
                gr[c] = gs * (-c_kr - (hm - x > 0.0f ? 1.0f : 0.0f));
            } else {
                const float F = exp(T * x - mx) / z, g = c_kr * x + fmax(hm + x, 0.0f);
                gr[c] = gs * F * (c_kr + (hm + x > 0.0f ? 1.0f : 0.0f) + T * (g - G));
            }
        }
    }
    return value;
}

/* MultiMargin: v = Σ_pos f; ℓ = (1/C) Σ_neg relu(m − v + f_c). */
float row_multi_margin(ROW_ARGS, const float margin) {
    float v = 0.0f;
    uint npos = 0;
    for (uint c = 0; c < C; c++) {
        const float l = lbl(y, yr + c, y_int);
        if (!is_sign_label(l)) *bad |= BAD_VALUE;
        if (l > 0.0f) {
            v += fr[c];
            npos++;
        }
    }
    if (npos != 1) *bad |= BAD_ONEHOT;
    const float inv_c = 1.0f / (float)C;
    float value = 0.0f;
    uint active = 0;
    for (uint c = 0; c < C; c++) {
        if (lbl(y, yr + c, y_int) > 0.0f) continue;
        const float t = margin - v + fr[c];
        if (t > 0.0f) {
            value += t;
            active++;
        }
        if (write_g) gr[c] = t > 0.0f ? gs * inv_c : 0.0f;
    }
    if (write_g)
        for (uint c = 0; c < C; c++)
            if (lbl(y, yr + c, y_int) > 0.0f) gr[c] = -gs * (float)active * inv_c;
    return value * inv_c;
}

/* CategoricalHinge: ℓ = relu(m − (Σ_pos f − max_neg f)); tied maxima share the gradient (TensorFlow). */
float row_categorical_hinge(ROW_ARGS, const float margin) {
    float v = 0.0f, mx = -FLT_MAX;
    uint npos = 0;
    for (uint c = 0; c < C; c++) {
        const float l = lbl(y, yr + c, y_int);
        if (!is_sign_label(l)) *bad |= BAD_VALUE;
        if (l > 0.0f) {
            v += fr[c];
            npos++;
        } else {
            mx = fmax(mx, fr[c]);
        }
    }
    if (npos != 1) *bad |= BAD_ONEHOT;
    const float t = margin - (v - mx);
    if (write_g) {
        uint ties = 0;
        for (uint c = 0; c < C; c++) ties += lbl(y, yr + c, y_int) <= 0.0f && fr[c] == mx;
        const float a = t > 0.0f ? gs : 0.0f, share = ties ? a / (float)ties : 0.0f;
        for (uint c = 0; c < C; c++) {
            const int pos = lbl(y, yr + c, y_int) > 0.0f;
            gr[c] = pos ? -a : (fr[c] == mx ? share : 0.0f);
        }
    }
    return fmax(t, 0.0f);
}

/* log Σ_c exp(τ f_c) and its max, for the softmax losses. */
float row_lse(__global const float *fr, const uint C, const float tau, float *mx) {
    float m = -INFINITY;
    for (uint c = 0; c < C; c++) m = fmax(m, tau * fr[c]);
    float z = 0.0f;
    for (uint c = 0; c < C; c++) z += exp(tau * fr[c] - m);
    *mx = m;
    return m + log(z);
}

/* Cross-entropy of logits τ·f with probability rows y: ℓ = Σ_c y_c (lse − τ f_c)/τ;
 * gradient softmax_c·Σy − y_c. */
float row_cross_entropy(ROW_ARGS, const float tau) {
    float mx;
    const float lse = row_lse(fr, C, tau, &mx);
    float value = 0.0f, sy = 0.0f;
    for (uint c = 0; c < C; c++) {
        const float l = lbl(y, yr + c, y_int);
        if (!(l >= 0.0f && l <= 1.0f)) *bad |= BAD_PROB;
        sy += l;
        value += l * (lse - tau * fr[c]);
    }
    if (!(fabs(sy - 1.0f) <= 1e-3f)) *bad |= BAD_PROB;
    if (write_g)
        for (uint c = 0; c < C; c++) gr[c] = gs * (exp(tau * fr[c] - lse) * sy - lbl(y, yr + c, y_int));
    return value / tau;
}

/* Sparse: ℓ = (lse − τ f_k)/τ for the index k of the row; gradient softmax − onehot(k). An index out of
 * range gives 0 and a zero gradient. */
float row_sparse_cross_entropy(ROW_ARGS, const float tau) {
    const float kf = lbl(y, yr, y_int);
    const int ok = kf >= 0.0f && kf < (float)C && kf == floor(kf);
    if (!ok) {
        *bad |= BAD_INDEX;
        if (write_g)
            for (uint c = 0; c < C; c++) gr[c] = 0.0f;
        return 0.0f;
    }
    const uint k = (uint)kf;
    float mx;
    const float lse = row_lse(fr, C, tau, &mx);
    if (write_g)
        for (uint c = 0; c < C; c++) gr[c] = gs * (exp(tau * fr[c] - lse) - (c == k ? 1.0f : 0.0f));
    return (lse - tau * fr[k]) / tau;
}

/* Keras' categorical cross-entropy on probabilities: p = f/Σf, ℓ = −Σ y log(clip(p, 1e-7, 1 − 1e-7));
 * the clip passes the gradient inside [1e-7, 1 − 1e-7] (bounds included), as TensorFlow's. */
float row_cross_entropy_probs(ROW_ARGS) {
    const float lo = 1e-7f, hi = 1.0f - 1e-7f;
    float sum = 0.0f, sy = 0.0f;
    for (uint c = 0; c < C; c++) sum += fr[c];
    float value = 0.0f, qp = 0.0f;
    for (uint c = 0; c < C; c++) {
        const float l = lbl(y, yr + c, y_int), p = fr[c] / sum;
        if (!(l >= 0.0f && l <= 1.0f)) *bad |= BAD_PROB;
        sy += l;
        value -= l * log(clamp(p, lo, hi));
        if (p >= lo && p <= hi) qp -= l; /* Σ_c q_c·p_c with q_c = −y_c/p_c */
    }
    if (!(fabs(sy - 1.0f) <= 1e-3f)) *bad |= BAD_PROB;
    if (write_g)
        for (uint c = 0; c < C; c++) {
            const float l = lbl(y, yr + c, y_int), p = fr[c] / sum;
            const float q = (p >= lo && p <= hi) ? -l / p : 0.0f;
            gr[c] = gs * (q - qp) / sum;
        }
    return value;
}

/* TauBinaryCrossentropy: ℓ = (1/C) Σ_c BCE_logits([y_c > 0], τ f_c)/τ; gradient (σ(τ f) − t)/C. */
float row_tau_bce(ROW_ARGS, const float tau) {
    const float inv_c = 1.0f / (float)C;
    float value = 0.0f;
    for (uint c = 0; c < C; c++) {
        const float l = lbl(y, yr + c, y_int);
        if (!is_sign_label(l)) *bad |= BAD_VALUE;
        const float t = l > 0.0f ? 1.0f : 0.0f, z = tau * fr[c];
        value += fmax(z, 0.0f) - z * t + log1p(exp(-fabs(z)));
        if (write_g) {
            const float e = exp(-fabs(z)), sig = z >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
            gr[c] = gs * (sig - t) * inv_c;
        }
    }
    return value * inv_c / tau;
}

/* MSE: ℓ = (1/C) Σ (f − y)². */
float row_mse(ROW_ARGS) {
    const float inv_c = 1.0f / (float)C;
    float value = 0.0f;
    for (uint c = 0; c < C; c++) {
        const float d = fr[c] - lbl(y, yr + c, y_int);
        value += d * d;
        if (write_g) gr[c] = gs * 2.0f * d * inv_c;
    }
    return value * inv_c;
}

/*
 * One work-item per row i < B: the per-sample value into ps[i] (write_ps) and the gradient of
 * gs·ℓ_i into g's row i (write_g). stats: KR class counts (C floats) or the SoftHKR state [cm, T].
 * multi_gpu: KR labels are pre-processed; probs: CategoricalCrossentropy on probabilities (else logits).
 * Unused buffers may be any valid buffer. Label problems are OR-ed into flags[0].
 */
__kernel void lip_losses_rows(__global const float *f, const uint f_off, __global const int *y, const uint y_off,
                              const uint y_int, __global const float *stats, const uint s_off, __global float *ps,
                              const uint ps_off, const uint write_ps, __global float *g, const uint g_off,
                              const uint write_g, const float gs, __global int *flags, const uint fl_off,
                              const uint kind, const uint B, const uint C, const float c_kr, const float c_h,
                              const float margin, const float tau, const uint multi_gpu, const uint probs) {
    const uint i = (uint)get_global_id(0);
    if (i >= B) return; /* no barrier in this kernel */
    __global const float *fr = f + f_off + i * C;
    __global float *gr = g + g_off + i * C;
    const uint yr = y_off + i * C;
    int bad = 0;
    float value = 0.0f;
    switch (kind) {
    case K_KR:
    case K_HKR:
    case K_HINGE:
        value = row_kr_hinge(fr, y, yr, y_int, gr, write_g, gs, C, &bad, stats + s_off, B, c_kr, c_h, margin, 0,
                             multi_gpu, 0);
        break;
    case K_MKR:
    case K_MHKR:
    case K_MHINGE:
        value = row_kr_hinge(fr, y, yr, y_int, gr, write_g, gs, C, &bad, stats + s_off, B, c_kr, c_h, margin,
                             kind != K_MKR, multi_gpu, 1);
        break;
    case K_SOFT_HKR:
        value = row_soft_hkr(fr, y, yr, y_int, gr, write_g, gs, C, &bad, stats[s_off + 1], c_kr, margin);
        break;
    case K_MULTI_MARGIN:
        value = row_multi_margin(fr, y, yr, y_int, gr, write_g, gs, C, &bad, margin);
        break;
    case K_CAT_HINGE:
        value = row_categorical_hinge(fr, y, yr, y_int, gr, write_g, gs, C, &bad, margin);
        break;
    case K_TAU_CCE:
        value = row_cross_entropy(fr, y, yr, y_int, gr, write_g, gs, C, &bad, tau);
        break;
    case K_TAU_SPARSE:
        value = row_sparse_cross_entropy(fr, y, y_off + i, y_int, gr, write_g, gs, C, &bad, tau);
        break;
    case K_TAU_BCE:
        value = row_tau_bce(fr, y, yr, y_int, gr, write_g, gs, C, &bad, tau);
        break;
    case K_CCE:
        value = probs ? row_cross_entropy_probs(fr, y, yr, y_int, gr, write_g, gs, C, &bad)
                          : row_cross_entropy(fr, y, yr, y_int, gr, write_g, gs, C, &bad, 1.0f);
        break;
    case K_MSE:
        value = row_mse(fr, y, yr, y_int, gr, write_g, gs, C, &bad);
        break;
    default:
        break;
    }
    if (write_ps) ps[ps_off + i] = value;
    if (bad) atomic_or(flags + fl_off, bad);
}
