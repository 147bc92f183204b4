/* lipcl kernels — float32 GEMM, row-major: C = alpha·op(A)·op(B) + beta·C with element offsets and
 * leading dimensions. Register-blocked: each work-item keeps a TM×TN block in vector registers. */

/*
 * Index formulas (all row-major, offsets and leading dimensions in elements):
 *   op(A)[i, p] = A[a_off + i*lda + p]   (TRANS_A = 0)   or A[a_off + p*lda + i]   (TRANS_A = 1)
 *   op(B)[p, j] = B[b_off + p*ldb + j]   (TRANS_B = 0)   or B[b_off + j*ldb + p]   (TRANS_B = 1)
 *   C[i, j]     = C[c_off + i*ldc + j]
 *
 * Two register-blocked forms (neither uses local memory: on CPU devices such as PoCL the caches do
 * the tiling, and a local-memory tile only adds barriers and copies — measured ~10x slower):
 *   "outer-product form" (NN, TN, TT): for each p, TN/VW vector loads of a contiguous row of one
 *     operand and TM scalars of the other feed TM·TN/VW vector multiply-adds into accumulators
 *     floatVW acc[TM][TN/VW]. For TT it computes Cᵀ = B·A (row p of A is contiguous over i) and
 *     stores the block transposed, so no operand is read with a large stride in the inner loop.
 *   "dot form" (NT): rows of A and of B are both contiguous along p, so each of the TM×TN
 *     accumulators is a floatVW of partial sums along p, reduced horizontally at the end; a scalar
 *     tail covers k mod VW.
 * Launch: 2-D NDRange; dimension 0 over blocks of TN (columns of C; rows of C for TT), dimension 1
 * over blocks of TM (rows of C; columns of C for TT); work-group exactly WGX×WGY
 * (reqd_work_group_size); surplus work-items return at once.
 * Blocks wholly inside the matrix take the interior path (plain vector loads and stores); blocks
 * crossing its border take the edge path (indices clamped for loads, zero-filled partial vectors,
 * guarded stores), so any m, n, k ≥ 1 works, and k = 0 gives C = beta·C. When beta is 0, C is not
 * read (NaNs there do not propagate). The summation order along p is fixed by the tunables (no
 * atomics), so results are deterministic.
 */

/* ---- tunables (each has a default, so this file builds with no -D at all) -------------------
 * The defaults are the best measured on PoCL 3.1, 2-core Skylake-AVX512 (doc/tuning.md); the host
 * (src/tensor/blas.c) passes them explicitly, and sizes the NDRange from the same numbers. */

#ifndef TRANS_A
#define TRANS_A 0 /* 0 or 1: op(A) = A or Aᵀ */
#endif
#ifndef TRANS_B
#define TRANS_B 0 /* 0 or 1: op(B) = B or Bᵀ */
#endif
#if (TRANS_A != 0 && TRANS_A != 1) || (TRANS_B != 0 && TRANS_B != 1)
#error "TRANS_A and TRANS_B must be 0 or 1"
#endif

#define LIP_OUTER (TRANS_B == 0 || TRANS_A == 1) /* NN, TN, TT: outer-product form; NT: dot form */
#define LIP_SWAP (TRANS_A == 1 && TRANS_B == 1)  /* TT: compute Cᵀ = B·A */

#if LIP_OUTER
#ifndef VW
#define VW 16 /* vector width along the contiguous operand row: 4, 8 or 16 */
#endif
#ifndef TM
#define TM 8 /* scalar-operand rows per work-item: 1..16; TM·TN/VW ≤ ~24 vector registers */
#endif
#ifndef TN
#define TN 32 /* vector-operand columns per work-item: a multiple of VW, VW..4·VW */
#endif
#ifndef WGX
#define WGX 4 /* work-group size along dimension 0: 1..64, WGX·WGY ≤ the device's maximum */
#endif
#ifndef WGY
#define WGY 4 /* work-group size along dimension 1: 1..64 */
#endif
#else
#ifndef VW
#define VW 16 /* vector width along p (partial sums per accumulator): 4, 8 or 16 */
#endif
#ifndef TM
#define TM 4 /* rows of C per work-item: 1..16; TM·TN ≤ ~20 accumulators of VW floats (registers) */
#endif
#ifndef TN
#define TN 4 /* columns of C per work-item: 1..64 (see TM) */
#endif
#ifndef WGX
#define WGX 8 /* work-group size along dimension 0: 1..64, WGX·WGY ≤ the device's maximum */
#endif
#ifndef WGY
#define WGY 8 /* work-group size along dimension 1: 1..64 */
#endif
#endif

#if VW != 4 && VW != 8 && VW != 16
#error "VW must be 4, 8 or 16"
#endif
#if TM < 1 || TM > 16 || TN < 1 || TN > 64
#error "TM must lie in 1..16 and TN in 1..64"
#endif
#if LIP_OUTER && (TN % VW) != 0
#error "in the outer-product form (NN, TN, TT), TN must be a multiple of VW"
#endif

/* Helpers are always inlined so that the interior/edge flag folds to a constant. */
#define LIP_INLINE inline __attribute__((always_inline))

#define LIP_CAT_(a, b) a##b
#define LIP_CAT(a, b) LIP_CAT_(a, b)
#define floatV LIP_CAT(float, VW)
#define vloadV LIP_CAT(vload, VW)
#define vstoreV LIP_CAT(vstore, VW)

/* Sum of the components of a floatV, in a fixed order (halves, then quarters ...). */
LIP_INLINE float lip_matmul_hsum(floatV v) {
#if VW == 16
    float8 h8 = v.lo + v.hi;
#elif VW == 8
    float8 h8 = v;
#endif
#if VW >= 8
    float4 h4 = h8.lo + h8.hi;
#else
    float4 h4 = v;
#endif
    float2 h2 = h4.lo + h4.hi;
    return h2.x + h2.y;
}

/* VW consecutive floats from `p`, components at or beyond `valid` set to 0 (not read). */
LIP_INLINE floatV lip_matmul_load_part(const __global float *p, uint valid) {
    float t[VW];
#pragma unroll
    for (uint c = 0; c < VW; c++) t[c] = c < valid ? p[c] : 0.0f;
    return vloadV(0, t);
}

/* alpha·acc (+ beta·C unless beta is 0) into C[at .. at+VW); only the first `valid` when !full. */
LIP_INLINE void lip_matmul_store(__global float *C, uint at, floatV acc, float alpha, float beta, uint valid,
                                 const int full) {
    if (full) {
        floatV r = alpha * acc;
        if (beta != 0.0f) r += beta * vloadV(0, C + at);
        vstoreV(r, 0, C + at);
    } else {
        float t[VW];
        vstoreV(alpha * acc, 0, t);
#pragma unroll
        for (uint c = 0; c < VW; c++)
            if (c < valid) C[at + c] = beta != 0.0f ? t[c] + beta * C[at + c] : t[c];
    }
}

#if LIP_OUTER

/* ---- outer-product form ---------------------------------------------------------------------- *
 * Computes a TM×TN block of D = X·Y (R×S, inner dimension k) where X(r, p) is a scalar read and
 * row p of Y is contiguous: Y[p*ldy + s]. NN and TN: D = C, X = op(A), Y = B. TT: D = Cᵀ = B·A,
 * X(r, p) = B[r*ldb + p], Y = A (row p of A holds op(A)[·, p]), stored transposed into C. */

#define NV (TN / VW)

/* alpha·acc (+ beta·C) into column `col` of C at rows s .. s+valid (the transposed store of TT). */
LIP_INLINE void lip_matmul_store_t(__global float *C, uint s, uint col, uint ldc, floatV acc, float alpha,
                                   float beta, uint valid) {
    float t[VW];
    vstoreV(alpha * acc, 0, t);
#pragma unroll
    for (uint c = 0; c < VW; c++)
        if (c < valid) {
            const uint at = (s + c) * ldc + col;
            C[at] = beta != 0.0f ? t[c] + beta * C[at] : t[c];
        }
}

LIP_INLINE void lip_matmul_block(const uint R, const uint S, const uint k, const float alpha,
                                 const __global float *X, const uint ldx, const __global float *Y, const uint ldy,
                                 const float beta, __global float *C, const uint ldc, const uint r0, const uint s0,
                                 const int full) {
    floatV acc[TM][NV];
#pragma unroll
    for (uint i = 0; i < TM; i++)
#pragma unroll
        for (uint v = 0; v < NV; v++) acc[i][v] = (floatV)(0.0f);

    /* Rows beyond R (edge blocks) are clamped to R-1: loaded, computed, never stored. */
    uint row[TM];
#pragma unroll
    for (uint i = 0; i < TM; i++) row[i] = full ? r0 + i : min(r0 + i, R - 1);

    for (uint p = 0; p < k; p++) {
        const __global float *yrow = Y + p * ldy + s0;
        floatV y[NV];
#pragma unroll
        for (uint v = 0; v < NV; v++) {
            if (full || s0 + (v + 1) * VW <= S)
                y[v] = vloadV(0, yrow + v * VW);
            else
                y[v] = lip_matmul_load_part(yrow + v * VW, s0 + v * VW < S ? S - (s0 + v * VW) : 0u);
        }
#pragma unroll
        for (uint i = 0; i < TM; i++) {
#if TRANS_A == 1 && !LIP_SWAP
            const float x = X[p * ldx + row[i]];
#else
            const float x = X[row[i] * ldx + p];
#endif
#pragma unroll
            for (uint v = 0; v < NV; v++) acc[i][v] = fma((floatV)(x), y[v], acc[i][v]);
        }
    }

    const float al = k ? alpha : 0.0f; /* k = 0: C = beta·C whatever alpha is */
#pragma unroll
    for (uint i = 0; i < TM; i++) {
        if (!full && r0 + i >= R) break;
#pragma unroll
        for (uint v = 0; v < NV; v++) {
            const uint s = s0 + v * VW;
            const uint valid = full || s + VW <= S ? VW : s < S ? S - s : 0u;
            if (valid == 0) break;
#if LIP_SWAP
            lip_matmul_store_t(C, s, r0 + i, ldc, acc[i][v], al, beta, valid);
#else
            lip_matmul_store(C, (r0 + i) * ldc + s, acc[i][v], al, beta, valid, valid == VW);
#endif
        }
    }
}

#else

/* ---- dot form (NT) ---------------------------------------------------------------------------- */

LIP_INLINE void lip_matmul_block(const uint m, const uint n, const uint k, const float alpha,
                                 const __global float *A, const uint lda, const __global float *B, const uint ldb,
                                 const float beta, __global float *C, const uint ldc, const uint i0, const uint j0,
                                 const int full) {
    floatV acc[TM][TN];
#pragma unroll
    for (uint i = 0; i < TM; i++)
#pragma unroll
        for (uint j = 0; j < TN; j++) acc[i][j] = (floatV)(0.0f);

    /* Rows of A and of B beyond the matrix are clamped: computed, never stored. */
    uint row[TM], col[TN];
#pragma unroll
    for (uint i = 0; i < TM; i++) row[i] = full ? i0 + i : min(i0 + i, m - 1);
#pragma unroll
    for (uint j = 0; j < TN; j++) col[j] = full ? j0 + j : min(j0 + j, n - 1);

    const uint kv = k - k % VW;
    for (uint p = 0; p < kv; p += VW) {
        floatV a[TM];
#pragma unroll
        for (uint i = 0; i < TM; i++) a[i] = vloadV(0, A + row[i] * lda + p);
#pragma unroll
        for (uint j = 0; j < TN; j++) {
            const floatV b = vloadV(0, B + col[j] * ldb + p);
#pragma unroll
            for (uint i = 0; i < TM; i++) acc[i][j] = fma(a[i], b, acc[i][j]);
        }
    }

    float s[TM][TN];
#pragma unroll
    for (uint i = 0; i < TM; i++)
#pragma unroll
        for (uint j = 0; j < TN; j++) s[i][j] = lip_matmul_hsum(acc[i][j]);
    for (uint p = kv; p < k; p++) {
#pragma unroll
        for (uint i = 0; i < TM; i++) {
            const float a = A[row[i] * lda + p];
#pragma unroll
            for (uint j = 0; j < TN; j++) s[i][j] = fma(a, B[col[j] * ldb + p], s[i][j]);
        }
    }

    const float al = k ? alpha : 0.0f; /* k = 0: C = beta·C whatever alpha is */
#pragma unroll
    for (uint i = 0; i < TM; i++) {
        if (!full && i0 + i >= m) break;
#pragma unroll
        for (uint j = 0; j < TN; j++) {
            if (!full && j0 + j >= n) break;
            const uint at = (i0 + i) * ldc + j0 + j;
            C[at] = beta != 0.0f ? al * s[i][j] + beta * C[at] : al * s[i][j];
        }
    }
}

#endif

/*
 * C = alpha·op(A)·op(B) + beta·C for an m×n C and inner dimension k (see the index formulas above).
 * Sizes, offsets and leading dimensions are element counts (uint); the host checks that every
 * accessed element lies inside its buffer. NDRange: ceil(n/TN) × ceil(m/TM) work-items, or
 * ceil(m/TN) × ceil(n/TM) for TT, in work-groups of WGX × WGY.
 */
__kernel __attribute__((reqd_work_group_size(WGX, WGY, 1))) void
lip_matmul_gemm(const uint m, const uint n, const uint k, const float alpha, __global const float *A,
                const uint a_off, const uint lda, __global const float *B, const uint b_off, const uint ldb,
                const float beta, __global float *C, const uint c_off, const uint ldc) {
#if LIP_SWAP
    /* Cᵀ (n×m) = B·A: X(r, p) = B[r*ldb + p], row p of Y = A is contiguous over the rows of C. */
    const uint R = n, S = m, ldx = ldb, ldy = lda;
    const __global float *X = B + b_off, *Y = A + a_off;
#else
    const uint R = m, S = n, ldx = lda, ldy = ldb;
    const __global float *X = A + a_off, *Y = B + b_off;
#endif
    const uint s0 = (uint)get_global_id(0) * TN;
    const uint r0 = (uint)get_global_id(1) * TM;
    if (r0 >= R || s0 >= S) return;
    C += c_off;
    if (r0 + TM <= R && s0 + TN <= S)
        lip_matmul_block(R, S, k, alpha, X, ldx, Y, ldy, beta, C, ldc, r0, s0, 1);
    else
        lip_matmul_block(R, S, k, alpha, X, ldx, Y, ldy, beta, C, ldc, r0, s0, 0);
}
