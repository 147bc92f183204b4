/* lipcl kernels — 2-D pooling on NHWC images: ScaledAveragePooling2D, ScaledL2NormPooling2D, their
 * global versions and MaxPooling2D; forward and backward, deterministic (gathers, no atomics). */

/*
 * No tunables: the host picks the work-group size; loops are grid-stride so any grid covers any
 * size. Every buffer comes with its element offset.
 *
 * Windows: output (oh, ow) covers input rows oh·sh − pad_t .. oh·sh − pad_t + ph − 1 and columns
 * ow·sw − pad_l .. ow·sw − pad_l + pw − 1; positions outside the image are skipped (TF 'same'
 * padding for MaxPooling2D; the scaled poolings are 'valid', pads 0). Backward kernels run one
 * work-item per input element and gather from every window that contains it, so overlapping
 * windows need no atomics and the sums have a fixed order.
 */

/* s + v with the compensation c (the true sum is s − c). */
#define LIP_POOL_KAHAN_ADD(s, c, v)                                                                         \
    do {                                                                                                   \
        const float y_ = (v) - (c);                                                                        \
        const float t_ = (s) + y_;                                                                         \
        (c) = (t_ - (s)) - y_;                                                                             \
        (s) = t_;                                                                                          \
    } while (0)

/* (b, h, w, c) of the flat NHWC index e of a tensor of H×W×C samples. */
inline void lip_pool_unflatten(const uint e, const int H, const int W, const int C, int *b, int *h, int *w, int *c) {
    *c = (int)(e % (uint)C);
    uint t = e / (uint)C;
    *w = (int)(t % (uint)W);
    t /= (uint)W;
    *h = (int)(t % (uint)H);
    *b = (int)(t / (uint)H);
}

/* Outputs o (0 ≤ o < n_out) whose window (o·s − pad .. o·s − pad + k − 1) contains input i:
 * *lo .. *hi inclusive (empty when *lo > *hi). */
inline void lip_pool_range(const int i, const int k, const int s, const int pad, const int n_out, int *lo, int *hi) {
    const int t = i + pad;
    int h = t / s;
    if (h > n_out - 1) h = n_out - 1;
    const int first = t - k + 1;
    *lo = first <= 0 ? 0 : (first + s - 1) / s;
    *hi = h;
}

/* Σ over the window of output (b, oh, ow, c) of x (or x² with squares); x index of (b, h, w, c) is
 * ((b·H + h)·W + w)·C + c. */
inline float lip_pool_window_sum(__global const float *x, const int b, const int oh, const int ow, const int c,
                                 const int H, const int W, const int C, const int ph, const int pw, const int sh,
                                 const int sw, const int squares) {
    float sum = 0.0f;
    for (int i = 0; i < ph; i++) {
        const int h = oh * sh + i;
        if (h >= H) break;
        for (int j = 0; j < pw; j++) {
            const int w = ow * sw + j;
            if (w >= W) break;
            const float v = x[((b * H + h) * W + w) * C + c];
            sum += squares ? v * v : v;
        }
    }
    return sum;
}

/* ScaledAveragePooling2D forward: y = coef·Σ_window x with coef = k·√(ph·pw)/(ph·pw)
 * (= avgpool(x)·√(ph·pw)·k). */
__kernel void lip_pooling_avg(__global const float *x, const uint x_off, __global float *y, const uint y_off,
                              const int H, const int W, const int C, const int OH, const int OW, const int ph,
                              const int pw, const int sh, const int sw, const uint count, const float coef) {
    const uint stride = (uint)get_global_size(0);
    for (uint e = (uint)get_global_id(0); e < count; e += stride) {
        int b, oh, ow, c;
        lip_pool_unflatten(e, OH, OW, C, &b, &oh, &ow, &c);
        y[y_off + e] = coef * lip_pool_window_sum(x + x_off, b, oh, ow, c, H, W, C, ph, pw, sh, sw, 0);
    }
}

/* ScaledAveragePooling2D backward: dx = coef·Σ dy over the windows containing the element (0 for
 * rows/columns no window covers). */
__kernel void lip_pooling_avg_backward(__global const float *dy, const uint dy_off, __global float *dx,
                                       const uint dx_off, const int H, const int W, const int C, const int OH,
                                       const int OW, const int ph, const int pw, const int sh, const int sw,
                                       const uint count, const float coef) {
    const uint stride = (uint)get_global_size(0);
    for (uint e = (uint)get_global_id(0); e < count; e += stride) {
        int b, h, w, c;
        lip_pool_unflatten(e, H, W, C, &b, &h, &w, &c);
        int oh0, oh1, ow0, ow1;
        lip_pool_range(h, ph, sh, 0, OH, &oh0, &oh1);
        lip_pool_range(w, pw, sw, 0, OW, &ow0, &ow1);
        float g = 0.0f;
        for (int oh = oh0; oh <= oh1; oh++)
            for (int ow = ow0; ow <= ow1; ow++) g += dy[dy_off + ((b * OH + oh) * OW + ow) * C + c];
        dx[dx_off + e] = coef * g;
    }
}

/* ScaledL2NormPooling2D forward: y = √(Σ_window x² / area) · c with c = √area·k
 * (= √(avgpool(x²))·√(ph·pw)·k, the k-scaled L2 norm of the window). */
__kernel void lip_pooling_l2(__global const float *x, const uint x_off, __global float *y, const uint y_off,
                             const int H, const int W, const int C, const int OH, const int OW, const int ph,
                             const int pw, const int sh, const int sw, const uint count, const float area,
                             const float c_out) {
    const uint stride = (uint)get_global_size(0);
    for (uint e = (uint)get_global_id(0); e < count; e += stride) {
        int b, oh, ow, c;
        lip_pool_unflatten(e, OH, OW, C, &b, &oh, &ow, &c);
        const float a = lip_pool_window_sum(x + x_off, b, oh, ow, c, H, W, C, ph, pw, sh, sw, 1) / area;
        y[y_off + e] = sqrt(a) * c_out;
    }
}

/* ScaledL2NormPooling2D backward with deel-lip's square-root gradient dy/(2(√a + eps)):
 * dx = x · Σ_windows dy·c/(area·(√a + eps)); a window with √a + eps = 0 (all zero, eps = 0)
 * contributes 0 instead of 0/0. */
__kernel void lip_pooling_l2_backward(__global const float *x, const uint x_off, __global const float *dy,
                                      const uint dy_off, __global float *dx, const uint dx_off, const int H,
                                      const int W, const int C, const int OH, const int OW, const int ph,
                                      const int pw, const int sh, const int sw, const uint count, const float area,
                                      const float c_out, const float eps) {
    const uint stride = (uint)get_global_size(0);
    for (uint e = (uint)get_global_id(0); e < count; e += stride) {
        int b, h, w, c;
        lip_pool_unflatten(e, H, W, C, &b, &h, &w, &c);
        int oh0, oh1, ow0, ow1;
        lip_pool_range(h, ph, sh, 0, OH, &oh0, &oh1);
        lip_pool_range(w, pw, sw, 0, OW, &ow0, &ow1);
        float g = 0.0f;
        for (int oh = oh0; oh <= oh1; oh++)
            for (int ow = ow0; ow <= ow1; ow++) {
                const float a = lip_pool_window_sum(x + x_off, b, oh, ow, c, H, W, C, ph, pw, sh, sw, 1) / area;
                const float d = area * (sqrt(a) + eps);
                if (d > 0.0f) g += dy[dy_off + ((b * OH + oh) * OW + ow) * C + c] * c_out / d;
            }
        dx[dx_off + e] = x[x_off + e] * g;
    }
}

/* The same gradient from the forward's output y = √a·c_out (so √a = y/c_out), one work-item per
 * window writing its ph×pw inputs: valid for the scaled kinds, whose windows never overlap (strides =
 * pool), so each input is written once (inputs in no window are zeroed by the host first). It needs no
 * window sum and a quarter of the index arithmetic of lip_pooling_l2_backward. */
__kernel void lip_pooling_l2_backward_y(__global const float *x, const uint x_off, __global const float *y,
                                        const uint y_off, __global const float *dy, const uint dy_off,
                                        __global float *dx, const uint dx_off, const int H, const int W, const int C,
                                        const int OH, const int OW, const int ph, const int pw, const uint count,
                                        const float area, const float c_out, const float eps) {
    const uint stride = (uint)get_global_size(0);
    for (uint o = (uint)get_global_id(0); o < count; o += stride) {
        int b, oh, ow, c;
        lip_pool_unflatten(o, OH, OW, C, &b, &oh, &ow, &c);
        const float d = area * (y[y_off + o] / c_out + eps);
        const float g = d > 0.0f ? dy[dy_off + o] * c_out / d : 0.0f;
        for (int i = 0; i < ph; i++)
            for (int j = 0; j < pw; j++) {
                const uint e = (uint)(((b * H + oh * ph + i) * W + ow * pw + j) * C + c);
                dx[dx_off + e] = x[x_off + e] * g;
            }
    }
}

/* Input index (h·W + w) of the first maximum (row-major scan) of the window of output (oh, ow),
 * channel c of image b; −1 if the window holds no input position. */
inline int lip_pool_argmax(__global const float *x, const int b, const int oh, const int ow, const int c,
                           const int H, const int W, const int C, const int ph, const int pw, const int sh,
                           const int sw, const int pad_t, const int pad_l, float *best_value) {
    int best = -1;
    float m = 0.0f;
    for (int i = 0; i < ph; i++) {
        const int h = oh * sh - pad_t + i;
        if (h < 0 || h >= H) continue;
        for (int j = 0; j < pw; j++) {
            const int w = ow * sw - pad_l + j;
            if (w < 0 || w >= W) continue;
            const float v = x[((b * H + h) * W + w) * C + c];
            if (best < 0 || v > m) {
                m = v;
                best = h * W + w;
            }
        }
    }
    *best_value = m;
    return best;
}

/* MaxPooling2D forward: y = max over the window's positions inside the image. */
__kernel void lip_pooling_max(__global const float *x, const uint x_off, __global float *y, const uint y_off,
                              const int H, const int W, const int C, const int OH, const int OW, const int ph,
                              const int pw, const int sh, const int sw, const int pad_t, const int pad_l,
                              const uint count) {
    const uint stride = (uint)get_global_size(0);
    for (uint e = (uint)get_global_id(0); e < count; e += stride) {
        int b, oh, ow, c;
        lip_pool_unflatten(e, OH, OW, C, &b, &oh, &ow, &c);
        float m;
        lip_pool_argmax(x + x_off, b, oh, ow, c, H, W, C, ph, pw, sh, sw, pad_t, pad_l, &m);
        y[y_off + e] = m;
    }
}

/* MaxPooling2D backward: each window's gradient goes to its first maximum; an input gathers the
 * gradients of the windows whose maximum it is. */
__kernel void lip_pooling_max_backward(__global const float *x, const uint x_off, __global const float *dy,
                                       const uint dy_off, __global float *dx, const uint dx_off, const int H,
                                       const int W, const int C, const int OH, const int OW, const int ph,
                                       const int pw, const int sh, const int sw, const int pad_t, const int pad_l,
                                       const uint count) {
    const uint stride = (uint)get_global_size(0);
    for (uint e = (uint)get_global_id(0); e < count; e += stride) {
        int b, h, w, c;
        lip_pool_unflatten(e, H, W, C, &b, &h, &w, &c);
        int oh0, oh1, ow0, ow1;
        lip_pool_range(h, ph, sh, pad_t, OH, &oh0, &oh1);
        lip_pool_range(w, pw, sw, pad_l, OW, &ow0, &ow1);
        float g = 0.0f;
        for (int oh = oh0; oh <= oh1; oh++)
            for (int ow = ow0; ow <= ow1; ow++) {
                float m;
                if (lip_pool_argmax(x + x_off, b, oh, ow, c, H, W, C, ph, pw, sh, sw, pad_t, pad_l, &m) == h * W + w)
                    g += dy[dy_off + ((b * OH + oh) * OW + ow) * C + c];
            }
        dx[dx_off + e] = g;
    }
}

/* ScaledGlobalAveragePooling2D forward: y[b, c] = coef·Σ_{h,w} x[b, h, w, c] with
 * coef = k/√(H·W) (= mean·√(H·W)·k). count = batch·C; hw = H·W. */
__kernel void lip_pooling_global_avg(__global const float *x, const uint x_off, __global float *y, const uint y_off,
                                     const uint hw, const uint C, const uint count, const float coef) {
    const uint stride = (uint)get_global_size(0);
    for (uint e = (uint)get_global_id(0); e < count; e += stride) {
        const uint c = e % C, b = e / C;
        float s = 0.0f, comp = 0.0f;
        for (uint p = 0; p < hw; p++) LIP_POOL_KAHAN_ADD(s, comp, x[x_off + (b * hw + p) * C + c]);
        y[y_off + e] = coef * (s - comp);
    }
}

/* ScaledGlobalAveragePooling2D backward: dx[b, h, w, c] = coef·dy[b, c]; count = batch·H·W·C. */
__kernel void lip_pooling_global_avg_backward(__global const float *dy, const uint dy_off, __global float *dx,
                                              const uint dx_off, const uint hw, const uint C, const uint count,
                                              const float coef) {
    const uint stride = (uint)get_global_size(0);
    for (uint e = (uint)get_global_id(0); e < count; e += stride) {
        const uint c = e % C, b = e / (C * hw);
        dx[dx_off + e] = coef * dy[dy_off + b * C + c];
    }
}

/* ScaledGlobalL2NormPooling2D forward: y[b, c] = k·√(Σ_{h,w} x²). count = batch·C. */
__kernel void lip_pooling_global_l2(__global const float *x, const uint x_off, __global float *y, const uint y_off,
                                    const uint hw, const uint C, const uint count, const float k) {
    const uint stride = (uint)get_global_size(0);
    for (uint e = (uint)get_global_id(0); e < count; e += stride) {
        const uint c = e % C, b = e / C;
        float s = 0.0f, comp = 0.0f;
        for (uint p = 0; p < hw; p++) {
            const float v = x[x_off + (b * hw + p) * C + c];
            LIP_POOL_KAHAN_ADD(s, comp, v * v);
        }
        y[y_off + e] = k * sqrt(s - comp);
    }
}

/* ScaledGlobalL2NormPooling2D backward, one work-item per (b, c): recomputes s = √(Σ x²), then
 * dx = x·dy·k/(s + eps) (0 when s + eps = 0). count = batch·C. */
__kernel void lip_pooling_global_l2_backward(__global const float *x, const uint x_off, __global const float *dy,
                                             const uint dy_off, __global float *dx, const uint dx_off, const uint hw,
                                             const uint C, const uint count, const float k, const float eps) {
    const uint stride = (uint)get_global_size(0);
    for (uint e = (uint)get_global_id(0); e < count; e += stride) {
        const uint c = e % C, b = e / C;
        float s = 0.0f, comp = 0.0f;
        for (uint p = 0; p < hw; p++) {
            const float v = x[x_off + (b * hw + p) * C + c];
            LIP_POOL_KAHAN_ADD(s, comp, v * v);
        }
        const float d = sqrt(s - comp) + eps;
        const float f = d > 0.0f ? dy[dy_off + e] * k / d : 0.0f;
        for (uint p = 0; p < hw; p++) {
            const uint i = (b * hw + p) * C + c;
            dx[dx_off + i] = f * x[x_off + i];
        }
    }
}
