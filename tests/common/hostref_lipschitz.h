/* lipcl tests — double-precision host references of the two normalizers (power iteration, Björck),
 * forward and backward, plus singular values (one-sided Jacobi) and orthonormal-matrix helpers. */
#ifndef LIPCL_TEST_HOSTREF_LIPSCHITZ_H
#define LIPCL_TEST_HOSTREF_LIPSCHITZ_H

/*
 * Header-only (static functions): include it from any test; tests/CMakeLists.txt needs no change.
 * Semantics: deel-lip 1.5.1 (normalizers.py), written from the spec, not from the device code:
 *  - matrices are row-major m×n (a dense kernel (in, out); a conv kernel viewed as (kh·kw·cin, cout));
 *  - the backward formulas are the plain product rule on the un-split cubic term W·Wᵀ·W, so they do
 *    not share the device's tall/wide rewriting.
 * Every function works in double; float data is converted by the caller.
 */

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* Aborting allocation (tests only). */
static inline double *hr_alloc(size_t n) {
    double *p = (double *)calloc(n ? n : 1, sizeof *p);
    if (!p) abort();
    return p;
}

/* C (m×n) = op(A)·op(B), op(A) m×k; A is m×k (ta = 0) or k×m (ta = 1) row-major, likewise B. */
static inline void hr_matmul(int ta, int tb, size_t m, size_t n, size_t k, const double *a, const double *b,
                             double *c) {
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            double s = 0.0;
            for (size_t p = 0; p < k; p++) s += (ta ? a[p * m + i] : a[i * k + p]) * (tb ? b[j * k + p] : b[p * n + j]);
            c[i * n + j] = s;
        }
}

static inline double hr_norm2(const double *x, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += x[i] * x[i];
    return sqrt(s);
}

/* ---- power iteration ------------------------------------------------------------------------ */

/*
 * deel-lip spectral_normalization on W (m×n) from u0 (n): u = l2_normalize(u0); old = u + 2·eps;
 * i = 0; while i < maxiter and (fixed or ‖u − old‖ ≥ eps): old = u; u = l2_normalize((u Wᵀ) W); i++.
 * σ = ‖u Wᵀ‖; w_bar = W/(σ + eps) (may be NULL). `stop` (may be NULL, room for maxiter + 1) receives
 * every value of the loop test: the initial one, then one after each iteration. Returns i.
 */
static inline int hr_power_iteration(const double *w, size_t m, size_t n, const double *u0, double eps, int maxiter,
                                     int fixed, double *u_out, double *sigma, double *w_bar, double *stop) {
    double *u = hr_alloc(n), *old = hr_alloc(n), *v = hr_alloc(m);
    double s = hr_norm2(u0, n);
    double inv = 1.0 / sqrt(fmax(s * s, 1e-12));
    for (size_t j = 0; j < n; j++) {
        u[j] = u0[j] * inv;
        old[j] = u[j] + 2.0 * eps;
    }
    int i = 0;
    double diff = 0.0;
    for (size_t j = 0; j < n; j++) diff += (u[j] - old[j]) * (u[j] - old[j]);
    diff = sqrt(diff);
    if (stop) stop[0] = diff;
    while (i < maxiter && (fixed || diff >= eps)) {
        memcpy(old, u, n * sizeof *u);
        /* v = u Wᵀ: v[r] = Σ_j u[j] W[r, j] */
        for (size_t r = 0; r < m; r++) {
            double a = 0.0;
            for (size_t j = 0; j < n; j++) a += u[j] * w[r * n + j];
            v[r] = a;
        }
        for (size_t j = 0; j < n; j++) {
            double a = 0.0;
            for (size_t r = 0; r < m; r++) a += v[r] * w[r * n + j];
            u[j] = a;
        }
        s = hr_norm2(u, n);
        inv = 1.0 / sqrt(fmax(s * s, 1e-12));
        diff = 0.0;
        for (size_t j = 0; j < n; j++) {
            u[j] *= inv;
            diff += (u[j] - old[j]) * (u[j] - old[j]);
        }
        diff = sqrt(diff);
        i++;
        if (stop) stop[i] = diff;
    }
    for (size_t r = 0; r < m; r++) {
        double a = 0.0;
        for (size_t j = 0; j < n; j++) a += u[j] * w[r * n + j];
        v[r] = a;
    }
    double sg = hr_norm2(v, m);
    if (sigma) *sigma = sg;
    if (u_out) memcpy(u_out, u, n * sizeof *u);
    if (w_bar)
        for (size_t k = 0; k < m * n; k++) w_bar[k] = w[k] / (sg + eps);
    free(u);
    free(old);
    free(v);
    return i;
}

/* The normalization with u frozen (what is differentiated): σ(W) = ‖W u‖, out = W/(σ + eps). */
static inline double hr_spectral_frozen(const double *w, size_t m, size_t n, const double *u, double eps,
                                        double *out) {
    double s2 = 0.0;
    for (size_t r = 0; r < m; r++) {
        double a = 0.0;
        for (size_t j = 0; j < n; j++) a += w[r * n + j] * u[j];
        s2 += a * a;
    }
    double sg = sqrt(s2);
    if (out)
        for (size_t k = 0; k < m * n; k++) out[k] = w[k] / (sg + eps);
    return sg;
}

/*
 * Gradient of L = ⟨G, W/(σ + eps)⟩ + gs·σ with σ = ‖W u‖, u constant: dW = G/(σ+eps) +
 * (gs − ⟨G, W⟩/(σ+eps)²)·(W u) uᵀ/σ.
 */
static inline void hr_power_iteration_backward(const double *w, size_t m, size_t n, const double *u, double eps,
                                               const double *g, double gs, double *dw) {
    double *v = hr_alloc(m);
    double s2 = 0.0, dot = 0.0;
    for (size_t r = 0; r < m; r++) {
        double a = 0.0;
        for (size_t j = 0; j < n; j++) a += w[r * n + j] * u[j];
        v[r] = a;
        s2 += a * a;
    }
    for (size_t k = 0; k < m * n; k++) dot += g[k] * w[k];
    double sg = sqrt(s2), d = sg + eps;
    double coef = sg > 0.0 ? (gs - dot / (d * d)) / sg : 0.0;
    for (size_t r = 0; r < m; r++)
        for (size_t j = 0; j < n; j++) dw[r * n + j] = g[r * n + j] / d + coef * v[r] * u[j];
    free(v);
}

/* ---- Björck ----------------------------------------------------------------------------------- */

/* One iteration: out = (1+β)W − β·W Wᵀ W, the Gram on the smaller side as deel-lip (rows > cols:
 * W(WᵀW), else (WWᵀ)W). out may not alias w. */
static inline void hr_bjorck_step(const double *w, size_t m, size_t n, double beta, double *out) {
    if (m > n) {
        double *a = hr_alloc(n * n), *p = hr_alloc(m * n);
        hr_matmul(1, 0, n, n, m, w, w, a);
        hr_matmul(0, 0, m, n, n, w, a, p);
        for (size_t k = 0; k < m * n; k++) out[k] = (1.0 + beta) * w[k] - beta * p[k];
        free(a);
        free(p);
    } else {
        double *b = hr_alloc(m * m), *p = hr_alloc(m * n);
        hr_matmul(0, 1, m, m, n, w, w, b);
        hr_matmul(0, 0, m, n, m, b, w, p);
        for (size_t k = 0; k < m * n; k++) out[k] = (1.0 + beta) * w[k] - beta * p[k];
        free(b);
        free(p);
    }
}

/*
 * deel-lip bjorck_normalization: old = 10·W; i = 0; while i < maxiter and (fixed or ‖W − old‖_F ≥ eps):
 * old = W; W = step(W); i++. `stop` (may be NULL, room for maxiter + 1): every value of the loop test.
 * Returns i; out (m×n) may alias w.
 */
static inline int hr_bjorck(const double *w, size_t m, size_t n, double beta, double eps, int maxiter, int fixed,
                            double *out, double *stop) {
    size_t mn = m * n;
    double *cur = hr_alloc(mn), *next = hr_alloc(mn);
    memcpy(cur, w, mn * sizeof *w);
    double diff = 9.0 * hr_norm2(cur, mn); /* ‖W − 10W‖ */
    if (stop) stop[0] = diff;
    int i = 0;
    while (i < maxiter && (fixed || diff >= eps)) {
        hr_bjorck_step(cur, m, n, beta, next);
        diff = 0.0;
        for (size_t k = 0; k < mn; k++) diff += (next[k] - cur[k]) * (next[k] - cur[k]);
        diff = sqrt(diff);
        double *t = cur;
        cur = next;
        next = t;
        i++;
        if (stop) stop[i] = diff;
    }
    memcpy(out, cur, mn * sizeof *cur);
    free(cur);
    free(next);
    return i;
}

/*
 * Gradient of L = ⟨G, W_iters⟩ w.r.t. W_0 through exactly `iters` iterations (the count frozen):
 * per iteration, dW = (1+β)G − β(G·WᵀW + W·GᵀW + WWᵀ·G), from the last iteration to the first.
 */
static inline void hr_bjorck_backward(const double *w, size_t m, size_t n, double beta, int iters, const double *g,
                                      double *dw) {
    size_t mn = m * n;
    double *its = hr_alloc((size_t)(iters > 0 ? iters : 1) * mn);
    if (iters > 0) memcpy(its, w, mn * sizeof *w);
    for (int k = 1; k < iters; k++) hr_bjorck_step(its + (size_t)(k - 1) * mn, m, n, beta, its + (size_t)k * mn);
    double *cur = hr_alloc(mn), *a = hr_alloc(n * n), *b = hr_alloc(m * m), *c = hr_alloc(n * n);
    double *t1 = hr_alloc(mn), *t2 = hr_alloc(mn), *t3 = hr_alloc(mn);
    memcpy(cur, g, mn * sizeof *g);
    for (int k = iters - 1; k >= 0; k--) {
        const double *x = its + (size_t)k * mn;
        hr_matmul(1, 0, n, n, m, x, x, a);   /* WᵀW */
        hr_matmul(0, 1, m, m, n, x, x, b);   /* WWᵀ */
        hr_matmul(1, 0, n, n, m, cur, x, c); /* GᵀW */
        hr_matmul(0, 0, m, n, n, cur, a, t1);
        hr_matmul(0, 0, m, n, n, x, c, t2);
        hr_matmul(0, 0, m, n, m, b, cur, t3);
        for (size_t e = 0; e < mn; e++) cur[e] = (1.0 + beta) * cur[e] - beta * (t1[e] + t2[e] + t3[e]);
    }
    memcpy(dw, cur, mn * sizeof *cur);
    free(its);
    free(cur);
    free(a);
    free(b);
    free(c);
    free(t1);
    free(t2);
    free(t3);
}

/* ---- singular values and test matrices -------------------------------------------------------- */

/* Singular values of W (m×n), descending, min(m, n) of them, by one-sided Jacobi (Hestenes) on the
 * tall view: rotate column pairs until orthogonal; the column norms are the singular values. */
static inline void hr_singular_values(const double *w, size_t m, size_t n, double *sv) {
    const int tall = m >= n;
    size_t R = tall ? m : n, C = tall ? n : m;
    double *x = hr_alloc(R * C);
    for (size_t r = 0; r < R; r++)
        for (size_t c = 0; c < C; c++) x[r * C + c] = tall ? w[r * n + c] : w[c * n + r];
    for (int sweep = 0; sweep < 60; sweep++) {
        double off = 0.0;
        for (size_t p = 0; p + 1 < C; p++)
            for (size_t q = p + 1; q < C; q++) {
                double alpha = 0.0, beta = 0.0, gamma = 0.0;
                for (size_t r = 0; r < R; r++) {
                    alpha += x[r * C + p] * x[r * C + p];
                    beta += x[r * C + q] * x[r * C + q];
                    gamma += x[r * C + p] * x[r * C + q];
                }
                if (gamma == 0.0 || fabs(gamma) <= 1e-15 * sqrt(alpha * beta)) continue;
                double rel = fabs(gamma) / sqrt(alpha * beta);
                if (rel > off) off = rel;
                double zeta = (beta - alpha) / (2.0 * gamma);
                double t = (zeta >= 0 ? 1.0 : -1.0) / (fabs(zeta) + sqrt(1.0 + zeta * zeta));
                double cs = 1.0 / sqrt(1.0 + t * t), sn = cs * t;
                for (size_t r = 0; r < R; r++) {
                    double xp = x[r * C + p], xq = x[r * C + q];
                    x[r * C + p] = cs * xp - sn * xq;
                    x[r * C + q] = sn * xp + cs * xq;
                }
            }
        if (off < 1e-15) break;
    }
    for (size_t c = 0; c < C; c++) {
        double s = 0.0;
        for (size_t r = 0; r < R; r++) s += x[r * C + c] * x[r * C + c];
        sv[c] = sqrt(s);
    }
    for (size_t i = 1; i < C; i++) /* insertion sort, descending */
        for (size_t j = i; j > 0 && sv[j] > sv[j - 1]; j--) {
            double t = sv[j];
            sv[j] = sv[j - 1];
            sv[j - 1] = t;
        }
    free(x);
}

/* Orthonormalize the n columns of q (m×n, m ≥ n, full column rank) in place: modified Gram-Schmidt,
 * twice for accuracy. */
static inline void hr_orthonormalize_columns(double *q, size_t m, size_t n) {
    for (int pass = 0; pass < 2; pass++)
        for (size_t j = 0; j < n; j++) {
            for (size_t i = 0; i < j; i++) {
                double d = 0.0;
                for (size_t r = 0; r < m; r++) d += q[r * n + i] * q[r * n + j];
                for (size_t r = 0; r < m; r++) q[r * n + j] -= d * q[r * n + i];
            }
            double s = 0.0;
            for (size_t r = 0; r < m; r++) s += q[r * n + j] * q[r * n + j];
            s = sqrt(s);
            for (size_t r = 0; r < m; r++) q[r * n + j] /= s;
        }
}

/* W (m×n) = U diag(s) Vᵀ from U (m×k) and V (n×k) with orthonormal columns, k = min(m, n). */
static inline void hr_compose_svd(const double *uq, const double *vq, const double *s, size_t m, size_t n,
                                  double *w) {
    size_t k = m < n ? m : n;
    for (size_t r = 0; r < m; r++)
        for (size_t c = 0; c < n; c++) {
            double a = 0.0;
            for (size_t i = 0; i < k; i++) a += uq[r * k + i] * s[i] * vq[c * k + i];
            w[r * n + c] = a;
        }
}

/* A rows×cols matrix (as float) with singular values s (min(rows, cols) of them) and random singular
 * vectors drawn from rng. */
static inline void hr_matrix_with_sv(uint64_t *rng, size_t rows, size_t cols, const double *s, float *wf) {
    size_t k = rows < cols ? rows : cols;
    double *uq = hr_alloc(rows * k), *vq = hr_alloc(cols * k), *w = hr_alloc(rows * cols);
    for (size_t i = 0; i < rows * k; i++) uq[i] = test_uniform(rng, -1.0, 1.0);
    for (size_t i = 0; i < cols * k; i++) vq[i] = test_uniform(rng, -1.0, 1.0);
    hr_orthonormalize_columns(uq, rows, k);
    hr_orthonormalize_columns(vq, cols, k);
    hr_compose_svd(uq, vq, s, rows, cols, w);
    for (size_t i = 0; i < rows * cols; i++) wf[i] = (float)w[i];
    free(uq);
    free(vq);
    free(w);
}

#endif
