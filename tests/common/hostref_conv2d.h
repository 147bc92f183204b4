/* lipcl tests — double-precision host reference of the 2-D convolution (NHWC, Keras kernel layout):
 * geometry, forward, the adjoint (backward data = transposed conv), the kernel gradient, read counts. */
#ifndef LIPCL_TEST_HOSTREF_CONV2D_H
#define LIPCL_TEST_HOSTREF_CONV2D_H

/*
 * Header-only (static functions), written from the spec (Keras / TF 'same' and 'valid', deel-lip
 * PadConv2D's pad modes, tests/reference/README.md), not from the device code:
 *  - VALID: out = (n − k)/s + 1, no padding;
 *  - SAME with zeros: out = ⌈n/s⌉, pad_total = max((out − 1)·s + k − n, 0), pad_total/2 before;
 *  - SAME with reflect / symmetric / circular: pad k/2 on each side, then VALID:
 *    out = (n + 2·(k/2) − k)/s + 1;
 *  - window o reads index o·s + i − pad_before (i < k); outside [0, n) the pad mode maps it once:
 *    reflect x1 | x0 x1 ..., symmetric x0 | x0 x1 ..., circular x_{n−1} | x0 ...; zeros reads 0.
 * Everything is in double; the kernel is (kh, kw, cin, cout), images (batch, h, w, c).
 */

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lipcl/lipcl.h"

typedef struct hc_geom {
    size_t b, h, w, cin, kh, kw, cout, sh, sw;
    size_t oh, ow, pt, pl; /* output size, padding before */
    lip_pad_mode mode;     /* ZEROS for VALID */
} hc_geom;

/* Output size and padding before along one axis; 0 output when the kernel does not fit (VALID). */
static inline void hc_axis(size_t n, size_t k, size_t s, int valid, lip_pad_mode mode, size_t *out, size_t *pad) {
    if (valid) {
        *out = n >= k ? (n - k) / s + 1 : 0;
        *pad = 0;
    } else if (mode == LIP_PAD_ZEROS) {
        size_t o = (n + s - 1) / s;
        long total = (long)((o - 1) * s + k) - (long)n;
        *out = o;
        *pad = total > 0 ? (size_t)total / 2 : 0;
    } else {
        *out = (n + 2 * (k / 2) - k) / s + 1;
        *pad = k / 2;
    }
}

static inline hc_geom hc_geom_make(size_t b, size_t h, size_t w, size_t cin, size_t kh, size_t kw, size_t cout,
                                   size_t sh, size_t sw, int valid, lip_pad_mode mode) {
    hc_geom g;
    memset(&g, 0, sizeof g);
    g.b = b, g.h = h, g.w = w, g.cin = cin, g.kh = kh, g.kw = kw, g.cout = cout, g.sh = sh, g.sw = sw;
    g.mode = valid ? LIP_PAD_ZEROS : mode;
    hc_axis(h, kh, sh, valid, g.mode, &g.oh, &g.pt);
    hc_axis(w, kw, sw, valid, g.mode, &g.ow, &g.pl);
    return g;
}

/* The real index padded index idx reads (one reflection), or −1 for a zero. */
static inline long hc_map(long idx, long n, lip_pad_mode mode) {
    if (idx >= 0 && idx < n) return idx;
    switch (mode) {
    case LIP_PAD_REFLECT: return idx < 0 ? -idx : 2 * (n - 1) - idx;
    case LIP_PAD_SYMMETRIC: return idx < 0 ? -idx - 1 : 2 * n - 1 - idx;
    case LIP_PAD_CIRCULAR: return idx < 0 ? idx + n : idx - n;
    default: return -1;
    }
}

/* Row (or column) read by output o, tap i; −1 for a zero. */
static inline long hc_row(const hc_geom *g, size_t o, size_t i) {
    return hc_map((long)(o * g->sh + i) - (long)g->pt, (long)g->h, g->mode);
}
static inline long hc_col(const hc_geom *g, size_t o, size_t j) {
    return hc_map((long)(o * g->sw + j) - (long)g->pl, (long)g->w, g->mode);
}

/* y = conv(x, k) (+ bias when not NULL). */
static inline void hc_conv_forward(const hc_geom *g, const double *x, const double *k, const double *bias, double *y) {
    for (size_t b = 0; b < g->b; b++)
        for (size_t oy = 0; oy < g->oh; oy++)
            for (size_t ox = 0; ox < g->ow; ox++) {
                double *yo = y + ((b * g->oh + oy) * g->ow + ox) * g->cout;
                for (size_t o = 0; o < g->cout; o++) yo[o] = bias ? bias[o] : 0.0;
                for (size_t i = 0; i < g->kh; i++) {
                    long iy = hc_row(g, oy, i);
                    if (iy < 0) continue;
                    for (size_t j = 0; j < g->kw; j++) {
                        long ix = hc_col(g, ox, j);
                        if (ix < 0) continue;
                        const double *xi = x + ((b * g->h + (size_t)iy) * g->w + (size_t)ix) * g->cin;
                        const double *kk = k + (i * g->kw + j) * g->cin * g->cout;
                        for (size_t c = 0; c < g->cin; c++)
                            for (size_t o = 0; o < g->cout; o++) yo[o] += xi[c] * kk[c * g->cout + o];
                    }
                }
            }
}

/* dx = the adjoint of the conv applied to dy (the transposed conv), written. */
static inline void hc_conv_backward_data(const hc_geom *g, const double *dy, const double *k, double *dx) {
    memset(dx, 0, g->b * g->h * g->w * g->cin * sizeof *dx);
    for (size_t b = 0; b < g->b; b++)
        for (size_t oy = 0; oy < g->oh; oy++)
            for (size_t ox = 0; ox < g->ow; ox++) {
                const double *d = dy + ((b * g->oh + oy) * g->ow + ox) * g->cout;
                for (size_t i = 0; i < g->kh; i++) {
                    long iy = hc_row(g, oy, i);
                    if (iy < 0) continue;
                    for (size_t j = 0; j < g->kw; j++) {
                        long ix = hc_col(g, ox, j);
                        if (ix < 0) continue;
                        double *xi = dx + ((b * g->h + (size_t)iy) * g->w + (size_t)ix) * g->cin;
                        const double *kk = k + (i * g->kw + j) * g->cin * g->cout;
                        for (size_t c = 0; c < g->cin; c++)
                            for (size_t o = 0; o < g->cout; o++) xi[c] += d[o] * kk[c * g->cout + o];
                    }
                }
            }
}

/* dk = Σ over the batch of the gradient of Σ y·dy with respect to the kernel, written. */
static inline void hc_conv_backward_filter(const hc_geom *g, const double *x, const double *dy, double *dk) {
    memset(dk, 0, g->kh * g->kw * g->cin * g->cout * sizeof *dk);
    for (size_t b = 0; b < g->b; b++)
        for (size_t oy = 0; oy < g->oh; oy++)
            for (size_t ox = 0; ox < g->ow; ox++) {
                const double *d = dy + ((b * g->oh + oy) * g->ow + ox) * g->cout;
                for (size_t i = 0; i < g->kh; i++) {
                    long iy = hc_row(g, oy, i);
                    if (iy < 0) continue;
                    for (size_t j = 0; j < g->kw; j++) {
                        long ix = hc_col(g, ox, j);
                        if (ix < 0) continue;
                        const double *xi = x + ((b * g->h + (size_t)iy) * g->w + (size_t)ix) * g->cin;
                        double *kk = dk + (i * g->kw + j) * g->cin * g->cout;
                        for (size_t c = 0; c < g->cin; c++)
                            for (size_t o = 0; o < g->cout; o++) kk[c * g->cout + o] += xi[c] * d[o];
                    }
                }
            }
}

/* Largest number of reads of one row (axis 0) or column (axis 1) by the windows, brute force. */
static inline size_t hc_axis_max_reads(const hc_geom *g, int axis) {
    size_t n = axis ? g->w : g->h, out = axis ? g->ow : g->oh, k = axis ? g->kw : g->kh;
    size_t *cnt = (size_t *)calloc(n, sizeof *cnt), best = 0;
    if (!cnt) abort();
    for (size_t o = 0; o < out; o++)
        for (size_t i = 0; i < k; i++) {
            long r = axis ? hc_col(g, o, i) : hc_row(g, o, i);
            if (r >= 0) cnt[r]++;
        }
    for (size_t r = 0; r < n; r++) best = cnt[r] > best ? cnt[r] : best;
    free(cnt);
    return best;
}

/*
 * σ_max of the conv operator x (h, w, cin) → y (oh, ow, cout) (batch ignored) by power iteration on
 * AᵀA in double from `start` (h·w·cin values, NULL: all ones), `iters` iterations: returns ‖A v‖ for
 * the final unit v, a lower bound that converges to σ_max. The transposed conv Aᵀ has the same σ.
 * v_in (h·w·cin, may be NULL) receives v, v_out (oh·ow·cout, may be NULL) A·v/‖A·v‖: the top right and
 * left singular vectors, i.e. the worst input direction of A and of Aᵀ.
 */
static inline double hc_conv_sigma(const hc_geom *g0, const double *k, const double *start, int iters, double *v_in,
                                   double *v_out) {
    hc_geom g = *g0;
    g.b = 1;
    size_t nx = g.h * g.w * g.cin, ny = g.oh * g.ow * g.cout;
    double *v = (double *)calloc(nx, sizeof *v), *y = (double *)calloc(ny, sizeof *y);
    if (!v || !y) abort();
    for (size_t i = 0; i < nx; i++) v[i] = start ? start[i] : 1.0;
    double sigma = 0.0;
    for (int it = 0; it <= iters; it++) {
        double nv = 0.0;
        for (size_t i = 0; i < nx; i++) nv += v[i] * v[i];
        nv = sqrt(nv);
        if (nv == 0.0) break;
        for (size_t i = 0; i < nx; i++) v[i] /= nv;
        hc_conv_forward(&g, v, k, NULL, y);
        double ny2 = 0.0;
        for (size_t i = 0; i < ny; i++) ny2 += y[i] * y[i];
        sigma = sqrt(ny2);
        if (it < iters) hc_conv_backward_data(&g, y, k, v);
    }
    if (v_in) memcpy(v_in, v, nx * sizeof *v);
    if (v_out)
        for (size_t i = 0; i < ny; i++) v_out[i] = sigma > 0.0 ? y[i] / sigma : 0.0;
    free(v);
    free(y);
    return sigma;
}

#endif
