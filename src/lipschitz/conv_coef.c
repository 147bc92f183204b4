/* lipcl — the conv Lipschitz coefficient c_conv: the strict bound from counting how often the windows
 * read each pixel (pad modes included), and deel-lip 1.5.1's input-size dependent formula. */
#include <math.h>
#include <stdlib.h>

#include "lipschitz/conv_coef.h"

/* The real index that padded index idx reads, or −1 (zero padding / outside). The periodic forms are
 * the infinite extensions of each mode; the conv geometry keeps pads within one reflection. */
static long map_index(long idx, long n, lip_pad_mode mode) {
    if (idx >= 0 && idx < n) return idx;
    long m;
    switch (mode) {
    case LIP_PAD_REFLECT: /* x1 | x0 x1 ... x_{n-1} | x_{n-2}: period 2n − 2 */
        if (n == 1) return 0;
        m = ((idx % (2 * n - 2)) + (2 * n - 2)) % (2 * n - 2);
        return m < n ? m : 2 * n - 2 - m;
    case LIP_PAD_SYMMETRIC: /* x0 | x0 x1 ... x_{n-1} | x_{n-1}: period 2n */
        m = ((idx % (2 * n)) + 2 * n) % (2 * n);
        return m < n ? m : 2 * n - 1 - m;
    case LIP_PAD_CIRCULAR:
        return ((idx % n) + n) % n;
    case LIP_PAD_ZEROS:
    default:
        return -1;
    }
}

size_t lip_conv_axis_max_reads(size_t n, size_t k, size_t s, size_t pad_before, size_t out, lip_pad_mode mode) {
    if (n == 0 || k == 0 || s == 0 || out == 0) return 0;
    if (mode == LIP_PAD_ZEROS) {
        /* No duplicates: index r is covered by the windows o with o·s ≤ r + pad < o·s + k. */
        size_t best = 0;
        for (size_t r = 0; r < n; r++) {
            size_t q = r + pad_before, lo = q + 1 > k ? (q + 1 - k + s - 1) / s : 0, hi = q / s;
            if (hi > out - 1) hi = out - 1;
            size_t c = hi >= lo ? hi - lo + 1 : 0;
            if (c > best) best = c;
            if (best >= (k + s - 1) / s) break; /* the most any index can get */
        }
        return best;
    }
    /* Pad modes: count every tap (O(out·k), run once at build). A failed allocation falls back to
     * a bound that needs no memory: every tap of every window on one index, which is safe. */
    size_t *count = calloc(n, sizeof *count);
    if (!count) return out * k;
    for (size_t o = 0; o < out; o++)
        for (size_t i = 0; i < k; i++) {
            long r = map_index((long)(o * s + i) - (long)pad_before, (long)n, mode);
            if (r >= 0) count[r]++;
        }
    size_t best = 0;
    for (size_t r = 0; r < n; r++)
        if (count[r] > best) best = count[r];
    free(count);
    return best;
}

double lip_conv_coef_strict(const lip_conv2d_geom *g) {
    size_t ch = (g->kh + g->stride_h - 1) / g->stride_h, cw = (g->kw + g->stride_w - 1) / g->stride_w;
    size_t rh = lip_conv_axis_max_reads(g->in_h, g->kh, g->stride_h, g->pad_top, g->out_h, g->pad_mode);
    size_t rw = lip_conv_axis_max_reads(g->in_w, g->kw, g->stride_w, g->pad_left, g->out_w, g->pad_mode);
    if (rh < ch) rh = ch;
    if (rw < cw) rw = cw;
    return 1.0 / sqrt((double)rh * (double)rw);
}

double lip_conv_coef_deel_lip(size_t h, size_t w, size_t kh, size_t kw, size_t sh, size_t sw) {
    if (sh * sw != 1) {
        double ch = ceil((double)kh / (double)sh), cw = ceil((double)kw / (double)sw);
        return sqrt(1.0 / (ch * cw));
    }
    double a = ((double)kh - 1.0) / 2.0, b = ((double)kw - 1.0) / 2.0;
    double dh = (double)kh * (double)h - a * (a + 1.0), dw = (double)kw * (double)w - b * (b + 1.0);
    if (!(dh > 0.0) || !(dw > 0.0)) return NAN;
    return sqrt((double)h * (double)w / (dh * dw));
}

lip_status lip_conv_coef(lip_context *ctx, const char *who, lip_conv_coef_mode mode, const lip_conv2d_geom *g,
                         size_t h, size_t w, double *coef) {
    if (mode == LIP_CONV_COEF_STRICT) {
        *coef = lip_conv_coef_strict(g);
        return LIP_OK;
    }
    LIP_CHECK(ctx, mode == LIP_CONV_COEF_DEEL_LIP, LIP_ERR_INVALID_ARGUMENT,
              "%s: unknown coef_mode %d (LIP_CONV_COEF_STRICT or LIP_CONV_COEF_DEEL_LIP)", who, (int)mode);
    double c = lip_conv_coef_deel_lip(h, w, g->kh, g->kw, g->stride_h, g->stride_w);
    LIP_CHECK(ctx, isfinite(c) && c > 0.0, LIP_ERR_INVALID_ARGUMENT,
              "%s: deel-lip's conv coefficient is undefined for a %zux%zu kernel on a %zux%zu input (its "
              "denominator kh*h - a(a+1) is not positive); use LIP_CONV_COEF_STRICT",
              who, g->kh, g->kw, h, w);
    *coef = c;
    return LIP_OK;
}
