/* lipcl kernels — 2-D convolution on NHWC images with a Keras (kh, kw, cin, cout) kernel: direct
 * forward / backward-data / backward-filter, and the im2col / col2im gathers of the GEMM path. */

/*
 * Geometry (src/tensor/conv2d.h): x (B, H, W, C), K (KH, KW, C, CO), y (B, OH, OW, CO),
 *   y[b, oy, ox, o] = Σ_{i,j,c} xpad[b, oy·SH + i − PT, ox·SW + j − PL, c] · K[i, j, c, o]
 * where a padded coordinate r maps to the pixel lip_conv2d_src(r) along its axis: itself inside
 * the image, else 0 (MODE 0, zeros), or its mirror (1 reflect, 2 symmetric) or wrap (3 circular).
 * The host guarantees that one reflection suffices (pad < n for reflect, ≤ n otherwise).
 *
 * Every kernel is a gather (each output element is written by one work-item), so sums have a fixed
 * order and there are no atomics; the backward-data kernels find, for an input pixel, every padded
 * coordinate that maps to it (≤ 3 per axis: itself, its image in the top/left pad, in the
 * bottom/right pad) and every output whose window covers that coordinate.
 * No -D tunables: sizes travel as arguments (one program serves every shape); the host picks the
 * work-group size (1-D, CONV_LOCAL in conv2d.c) and loops are grid-stride, so any grid covers any
 * size. All indices fit in 32 bits (checked on the host). Buffers come with element offsets.
 * The register blocks LIP_CONV_OB (8 output channels), LIP_CONV_PX (4 output pixels) and LIP_CONV_CB
 * (8 input channels) are fixed, not tunables: the code is written for float8, and
 * src/tensor/conv2d.c sizes its launches with the same numbers.
 */

#define LIP_CONV_GEOM                                                                                         \
    const int B, const int H, const int W, const int C, const int KH, const int KW, const int CO, const int SH, \
        const int SW, const int PT, const int PL, const int OH, const int OW, const int MODE

/* The pixel that padded coordinate r (−pad ≤ r < n + pad) reads along an axis of n pixels, or −1
 * (a zero). */
inline int lip_conv2d_src(const int r, const int n, const int mode) {
    if (r >= 0 && r < n) return r;
    if (mode == 0) return -1;
    if (mode == 1) return r < 0 ? -r : 2 * (n - 1) - r;    /* reflect: x1 | x0 x1 ... */
    if (mode == 2) return r < 0 ? -r - 1 : 2 * n - 1 - r; /* symmetric: x0 | x0 x1 ... */
    return r < 0 ? r + n : r - n;                          /* circular */
}

/* The padded coordinates ≥ −pad that read pixel y along an axis of n pixels: y itself and its
 * images in the pads (those past the last coordinate read get empty output ranges later).
 * Returns their count (1..3) in r[]. */
inline int lip_conv2d_images(const int y, const int n, const int pad, const int mode, int *r) {
    int cnt = 0;
    r[cnt++] = y;
    if (mode == 1) {
        if (y >= 1 && y <= pad) r[cnt++] = -y;
        if (2 * (n - 1) - y >= n) r[cnt++] = 2 * (n - 1) - y;
    } else if (mode == 2) {
        if (y + 1 <= pad) r[cnt++] = -y - 1;
        r[cnt++] = 2 * n - 1 - y;
    } else if (mode == 3) {
        if (y - n >= -pad) r[cnt++] = y - n;
        r[cnt++] = y + n;
    }
    return cnt;
}

/* Outputs o (0 ≤ o < n_out) whose window (o·s − pad .. o·s − pad + k − 1) contains padded
 * coordinate r (≥ −pad): *lo .. *hi inclusive (empty when *lo > *hi). */
inline void lip_conv2d_range(const int r, const int k, const int s, const int pad, const int n_out, int *lo,
                             int *hi) {
    const int t = r + pad;
    int h = t / s;
    if (h > n_out - 1) h = n_out - 1;
    const int first = t - k + 1;
    *lo = first <= 0 ? 0 : (first + s - 1) / s;
    *hi = h;
}

/* ---- direct ---------------------------------------------------------------------------------- */

/* n (≤ 8) consecutive floats from p as a float8, the rest 0 (not read). */
inline float8 lip_conv2d_load8(__global const float *p, const int n) {
    if (n >= 8) return vload8(0, p);
    float t[8];
    for (int q = 0; q < 8; q++) t[q] = q < n ? p[q] : 0.0f;
    return vload8(0, t);
}

/*
 * Forward: y = conv(x, K) (+ bias[o] when has_bias). One work-item per (LIP_CONV_PX consecutive
 * output pixels of a row, block of LIP_CONV_OB output channels), the PX·OB results in registers:
 * for each tap (i, j, c), PX x values times one contiguous row block of K. Work-item e: channel
 * block e % nblk (nblk = ⌈CO/OB⌉), then pixel block, row, image.
 */
#define LIP_CONV_OB 8
#define LIP_CONV_PX 4
__kernel void lip_conv2d_forward_direct(__global const float *x, const uint x_off, __global const float *k,
                                        const uint k_off, __global const float *bias, const uint bias_off,
                                        const int has_bias, __global float *y, const uint y_off, LIP_CONV_GEOM,
                                        const uint count) {
    const int nblk = (CO + LIP_CONV_OB - 1) / LIP_CONV_OB;
    const int npx = (OW + LIP_CONV_PX - 1) / LIP_CONV_PX;
    const uint stride = (uint)get_global_size(0);
    for (uint e = (uint)get_global_id(0); e < count; e += stride) {
        const int o0 = (int)(e % (uint)nblk) * LIP_CONV_OB;
        uint t = e / (uint)nblk;
        const int ox0 = (int)(t % (uint)npx) * LIP_CONV_PX;
        t /= (uint)npx;
        const int oy = (int)(t % (uint)OH);
        const int b = (int)(t / (uint)OH);
        const int nb = min(LIP_CONV_OB, CO - o0);
        float8 acc[LIP_CONV_PX];
        for (int q = 0; q < LIP_CONV_PX; q++) acc[q] = (float8)(0.0f);
        for (int i = 0; i < KH; i++) {
            const int yy = lip_conv2d_src(oy * SH + i - PT, H, MODE);
            if (yy < 0) continue;
            __global const float *xrow = x + x_off + (b * H + yy) * W * C;
            for (int j = 0; j < KW; j++) {
                /* Pixel q reads column xx[q]; a padded zero or a pixel past the row reads nothing. */
                int xo[LIP_CONV_PX];
                for (int q = 0; q < LIP_CONV_PX; q++) {
                    const int xx = ox0 + q < OW ? lip_conv2d_src((ox0 + q) * SW + j - PL, W, MODE) : -1;
                    xo[q] = xx < 0 ? -1 : xx * C;
                }
                __global const float *kp = k + k_off + ((i * KW + j) * C) * CO + o0;
                for (int c = 0; c < C; c++) {
                    const float8 kv = lip_conv2d_load8(kp + c * CO, nb);
                    for (int q = 0; q < LIP_CONV_PX; q++)
                        if (xo[q] >= 0) acc[q] = fma((float8)(xrow[xo[q] + c]), kv, acc[q]);
                }
            }
        }
        const float8 bv = has_bias ? lip_conv2d_load8(bias + bias_off + o0, nb) : (float8)(0.0f);
        for (int q = 0; q < LIP_CONV_PX && ox0 + q < OW; q++) {
            __global float *yp = y + y_off + (((b * OH + oy) * OW + ox0 + q) * CO + o0);
            const float8 v = acc[q] + bv;
            if (nb == LIP_CONV_OB) {
                vstore8(v, 0, yp);
            } else {
                float tv[8];
                vstore8(v, 0, tv);
                for (int r = 0; r < nb; r++) yp[r] = tv[r];
            }
        }
    }
}

/*
 * Backward data: dx = (or += when accumulate) Σ over the outputs and taps that read each input
 * element of dy·K. One work-item per (input pixel, block of LIP_CONV_CB input channels), with
 * ks = K with its last two axes swapped (KH, KW, CO, C: lip_conv2d_kernel_swap), so each dy value
 * multiplies a contiguous block of ks; taps folded by the pad images.
 */
#define LIP_CONV_CB 8
__kernel void lip_conv2d_backward_data_direct(__global const float *dy, const uint dy_off, __global const float *ks,
                                              const uint ks_off, __global float *dx, const uint dx_off,
                                              const int accumulate, LIP_CONV_GEOM, const uint count) {
    const int nblk = (C + LIP_CONV_CB - 1) / LIP_CONV_CB;
    const uint stride = (uint)get_global_size(0);
    for (uint e = (uint)get_global_id(0); e < count; e += stride) {
        const int c0 = (int)(e % (uint)nblk) * LIP_CONV_CB;
        uint t = e / (uint)nblk;
        const int px = (int)(t % (uint)W);
        t /= (uint)W;
        const int py = (int)(t % (uint)H);
        const int b = (int)(t / (uint)H);
        const int nc = min(LIP_CONV_CB, C - c0);
        int rh[3], rw[3];
        const int nh = lip_conv2d_images(py, H, PT, MODE, rh);
        const int nw = lip_conv2d_images(px, W, PL, MODE, rw);
        float acc[LIP_CONV_CB];
        for (int q = 0; q < LIP_CONV_CB; q++) acc[q] = 0.0f;
        for (int a = 0; a < nh; a++) {
            if (rh[a] < -PT) continue;
            int oy0, oy1;
            lip_conv2d_range(rh[a], KH, SH, PT, OH, &oy0, &oy1);
            for (int oy = oy0; oy <= oy1; oy++) {
                const int i = rh[a] + PT - oy * SH;
                for (int d = 0; d < nw; d++) {
                    if (rw[d] < -PL) continue;
                    int ox0, ox1;
                    lip_conv2d_range(rw[d], KW, SW, PL, OW, &ox0, &ox1);
                    for (int ox = ox0; ox <= ox1; ox++) {
                        const int j = rw[d] + PL - ox * SW;
                        __global const float *dyp = dy + dy_off + ((b * OH + oy) * OW + ox) * CO;
                        __global const float *kp = ks + ks_off + ((i * KW + j) * CO) * C + c0;
                        if (nc == LIP_CONV_CB) {
                            for (int o = 0; o < CO; o++) {
                                const float g = dyp[o];
                                const float8 kv = vload8(0, kp + o * C);
                                acc[0] = fma(g, kv.s0, acc[0]);
                                acc[1] = fma(g, kv.s1, acc[1]);
                                acc[2] = fma(g, kv.s2, acc[2]);
                                acc[3] = fma(g, kv.s3, acc[3]);
                                acc[4] = fma(g, kv.s4, acc[4]);
                                acc[5] = fma(g, kv.s5, acc[5]);
                                acc[6] = fma(g, kv.s6, acc[6]);
                                acc[7] = fma(g, kv.s7, acc[7]);
                            }
                        } else {
                            for (int o = 0; o < CO; o++) {
                                const float g = dyp[o];
                                for (int q = 0; q < nc; q++) acc[q] = fma(g, kp[o * C + q], acc[q]);
                            }
                        }
                    }
                }
            }
        }
        __global float *dp = dx + dx_off + ((uint)((b * H + py) * W + px)) * (uint)C + (uint)c0;
        for (int q = 0; q < nc; q++) dp[q] = accumulate ? dp[q] + acc[q] : acc[q];
    }
}

/* ks (KH, KW, CO, C) = k (KH, KW, C, CO) with its last two axes swapped (for the direct backward data). */
__kernel void lip_conv2d_kernel_swap(__global const float *k, const uint k_off, __global float *ks, const uint ks_off,
                                     const uint taps, const uint c, const uint co) {
    const uint count = taps * c * co, stride = (uint)get_global_size(0);
    for (uint e = (uint)get_global_id(0); e < count; e += stride) {
        const uint ci = e % c, o = (e / c) % co, tap = e / (c * co);
        ks[ks_off + e] = k[k_off + (tap * c + ci) * co + o];
    }
}

/*
 * Backward filter, stage 1: partial sums over a slice of the output rows m = (b·OH + oy)·OW + ox.
 * Work-item e = (s·KK + f)·nblk + ob: kernel tap f = (i·KW + j)·C + c, output channels ob·8 ..,
 * slice s of `rows` rows; part[s·KK·CO + f·CO + o] = Σ_{m in slice} xpad(m, i, j, c)·dy[m, o], one
 * x value times a contiguous block of dy per row. Stage 2 sums the slices in order.
 */
__kernel void lip_conv2d_filter_partial(__global const float *x, const uint x_off, __global const float *dy,
                                        const uint dy_off, __global float *part, const uint part_off, LIP_CONV_GEOM,
                                        const uint rows, const uint count) {
    const uint kk = (uint)(KH * KW * C);
    const int nblk = (CO + LIP_CONV_OB - 1) / LIP_CONV_OB;
    const uint m_total = (uint)(B * OH * OW);
    const uint stride = (uint)get_global_size(0);
    for (uint e = (uint)get_global_id(0); e < count; e += stride) {
        const int o0 = (int)(e % (uint)nblk) * LIP_CONV_OB;
        const uint t = e / (uint)nblk;
        const uint f = t % kk, s = t / kk;
        const int c = (int)(f % (uint)C);
        const int j = (int)((f / (uint)C) % (uint)KW);
        const int i = (int)(f / (uint)(C * KW));
        const int nb = min(LIP_CONV_OB, CO - o0);
        const uint m0 = s * rows, m1 = min(m_total, m0 + rows);
        float acc[LIP_CONV_OB];
        for (int q = 0; q < LIP_CONV_OB; q++) acc[q] = 0.0f;
        /* (b, oy, ox) of m, advanced incrementally. */
        int ox = (int)(m0 % (uint)OW), oy = (int)((m0 / (uint)OW) % (uint)OH), b = (int)(m0 / (uint)(OW * OH));
        int yy = lip_conv2d_src(oy * SH + i - PT, H, MODE);
        for (uint m = m0; m < m1; m++) {
            const int xx = lip_conv2d_src(ox * SW + j - PL, W, MODE);
            if (yy >= 0 && xx >= 0) {
                const float xv = x[x_off + ((b * H + yy) * W + xx) * C + c];
                __global const float *dp = dy + dy_off + m * (uint)CO + (uint)o0;
                if (nb == LIP_CONV_OB) {
                    const float8 d = vload8(0, dp);
                    acc[0] = fma(xv, d.s0, acc[0]);
                    acc[1] = fma(xv, d.s1, acc[1]);
                    acc[2] = fma(xv, d.s2, acc[2]);
                    acc[3] = fma(xv, d.s3, acc[3]);
                    acc[4] = fma(xv, d.s4, acc[4]);
                    acc[5] = fma(xv, d.s5, acc[5]);
                    acc[6] = fma(xv, d.s6, acc[6]);
                    acc[7] = fma(xv, d.s7, acc[7]);
                } else {
                    for (int q = 0; q < nb; q++) acc[q] = fma(xv, dp[q], acc[q]);
                }
            }
            if (++ox == OW) {
                ox = 0;
                if (++oy == OH) {
                    oy = 0;
                    b++;
                }
                yy = lip_conv2d_src(oy * SH + i - PT, H, MODE);
            }
        }
        __global float *pp = part + part_off + s * kk * (uint)CO + f * (uint)CO + (uint)o0;
        for (int q = 0; q < nb; q++) pp[q] = acc[q];
    }
}

/* Backward filter, stage 2: dk[f] = (dk[f] +) Σ_s part[s·n + f], s = 0 .. slices−1 in order. */
__kernel void lip_conv2d_filter_reduce(__global const float *part, const uint part_off, __global float *dk,
                                       const uint dk_off,
                                       const uint n, const uint slices, const int accumulate) {
    const uint stride = (uint)get_global_size(0);
    for (uint f = (uint)get_global_id(0); f < n; f += stride) {
        float acc = 0.0f;
        for (uint s = 0; s < slices; s++) acc += part[part_off + s * n + f];
        dk[dk_off + f] = accumulate ? dk[dk_off + f] + acc : acc;
    }
}

/* ---- im2col path ----------------------------------------------------------------------------- */

/*
 * col (rows × ld, ld = KK or KK + 1, KK = KH·KW·C) = the patches of output rows m0 .. m0 + rows − 1
 * (m = (b·OH + oy)·OW + ox over the whole batch): col[r, (i·KW + j)·C + c] = xpad(m0 + r, i, j, c),
 * the Keras kernel layout, so y rows = col · K(KK × CO); with ld = KK + 1 the last column is 1, so
 * that col · [K; bias] adds the bias inside the GEMM. One work-item per row: the C channels of a tap
 * are contiguous in x and in col, and the row's index arithmetic is done once.
 */
__kernel void lip_conv2d_im2col(__global const float *x, const uint x_off, __global float *col, const uint col_off,
                                LIP_CONV_GEOM, const uint m0, const uint rows, const uint ld) {
    const uint kk = (uint)(KH * KW * C);
    const uint stride = (uint)get_global_size(0);
    for (uint r = (uint)get_global_id(0); r < rows; r += stride) {
        const uint m = m0 + r;
        const int ox = (int)(m % (uint)OW);
        const uint u = m / (uint)OW;
        const int oy = (int)(u % (uint)OH);
        const int b = (int)(u / (uint)OH);
        __global float *cp = col + col_off + r * ld;
        if (ld > kk) cp[kk] = 1.0f;
        for (int i = 0; i < KH; i++) {
            const int yy = lip_conv2d_src(oy * SH + i - PT, H, MODE);
            for (int j = 0; j < KW; j++, cp += C) {
                const int xx = lip_conv2d_src(ox * SW + j - PL, W, MODE);
                if (yy < 0 || xx < 0) {
                    for (int c = 0; c < C; c++) cp[c] = 0.0f;
                } else {
                    __global const float *xp = x + x_off + ((b * H + yy) * W + xx) * C;
                    for (int c = 0; c < C; c++) cp[c] = xp[c];
                }
            }
        }
    }
}

/* kb ((KK + 1) × CO) = the kernel (KK × CO) with the bias (CO) appended as a last row. */
__kernel void lip_conv2d_kernel_bias(__global const float *k, const uint k_off, __global const float *bias,
                                     const uint bias_off, __global float *kb, const uint kb_off, const uint kk,
                                     const uint co) {
    const uint count = (kk + 1) * co, stride = (uint)get_global_size(0);
    for (uint e = (uint)get_global_id(0); e < count; e += stride)
        kb[kb_off + e] = e < kk * co ? k[k_off + e] : bias[bias_off + e - kk * co];
}

/*
 * The adjoint of lip_conv2d_im2col for output rows m0 .. m0 + rows − 1: every input element of the
 * images b_first .. gathers the col entries that read it; dx = dx + Σ when add, else Σ (the host
 * uses add for accumulate, and for every chunk when chunks split images). One work-item per
 * (input pixel, block of LIP_CONV_CB channels); count = pixels · ⌈C / CB⌉.
 */
__kernel void lip_conv2d_col2im(__global const float *col, const uint col_off, __global float *dx, const uint dx_off,
                                LIP_CONV_GEOM, const uint m0, const uint rows, const uint b_first, const int add,
                                const uint count) {
    const uint kk = (uint)(KH * KW * C);
    const int nblk = (C + LIP_CONV_CB - 1) / LIP_CONV_CB;
    const uint stride = (uint)get_global_size(0);
    for (uint e = (uint)get_global_id(0); e < count; e += stride) {
        const int c0 = (int)(e % (uint)nblk) * LIP_CONV_CB;
        uint t = e / (uint)nblk;
        const int px = (int)(t % (uint)W);
        t /= (uint)W;
        const int py = (int)(t % (uint)H);
        const int b = (int)b_first + (int)(t / (uint)H);
        const int nc = min(LIP_CONV_CB, C - c0);
        int rh[3], rw[3];
        const int nh = lip_conv2d_images(py, H, PT, MODE, rh);
        const int nw = lip_conv2d_images(px, W, PL, MODE, rw);
        float acc[LIP_CONV_CB];
        for (int q = 0; q < LIP_CONV_CB; q++) acc[q] = 0.0f;
        for (int a = 0; a < nh; a++) {
            if (rh[a] < -PT) continue;
            int oy0, oy1;
            lip_conv2d_range(rh[a], KH, SH, PT, OH, &oy0, &oy1);
            for (int oy = oy0; oy <= oy1; oy++) {
                const int i = rh[a] + PT - oy * SH;
                for (int d = 0; d < nw; d++) {
                    if (rw[d] < -PL) continue;
                    int ox0, ox1;
                    lip_conv2d_range(rw[d], KW, SW, PL, OW, &ox0, &ox1);
                    for (int ox = ox0; ox <= ox1; ox++) {
                        const int j = rw[d] + PL - ox * SW;
                        const uint m = (uint)((b * OH + oy) * OW + ox);
                        if (m < m0 || m - m0 >= rows) continue;
                        __global const float *cp = col + col_off + (m - m0) * kk + (uint)((i * KW + j) * C + c0);
                        for (int q = 0; q < nc; q++) acc[q] += cp[q];
                    }
                }
            }
        }
        __global float *dp = dx + dx_off + ((uint)((b * H + py) * W + px)) * (uint)C + (uint)c0;
        for (int q = 0; q < nc; q++) dp[q] = add ? dp[q] + acc[q] : acc[q];
    }
}

/* kt (CO × KK) = the transpose of k (KK × CO): the backward-data GEMM then runs as NN (dy · kt). */
__kernel void lip_conv2d_kernel_transpose(__global const float *k, const uint k_off, __global float *kt,
                                          const uint kt_off, const uint kk, const uint co) {
    const uint count = kk * co, stride = (uint)get_global_size(0);
    for (uint e = (uint)get_global_id(0); e < count; e += stride) {
        const uint o = e / kk, f = e % kk;
        kt[kt_off + e] = k[k_off + f * co + o];
    }
}

/* y rows m0 .. m0 + rows − 1 = bias (broadcast over rows), before a GEMM with beta = 1. */
__kernel void lip_conv2d_bias_fill(__global const float *bias, const uint bias_off, __global float *y,
                                   const uint y_off, const int CO, const uint count) {
    const uint stride = (uint)get_global_size(0);
    for (uint e = (uint)get_global_id(0); e < count; e += stride) y[y_off + e] = bias[bias_off + e % (uint)CO];
}

