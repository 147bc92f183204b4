/* lipcl kernels — float32 GEMM, row-major: C = alpha·op(A)·op(B) + beta·C with element offsets and
 * leading dimensions. Register-blocked: each work-item keeps a TM×TN block of C in vector registers. */

/*
 * Index formulas (all row-major, offsets and leading dimensions in elements):
 *   op(A)[i, p] = A[a_off + i*lda + p]   (TRANS_A = 0)   or A[a_off + p*lda + i]   (TRANS_A = 1)
 *   op(B)[p, j] = B[b_off + p*ldb + j]   (TRANS_B = 0)   or B[b_off + j*ldb + p]   (TRANS_B = 1)
 *   C[i, j]     = C[c_off + i*ldc + j]
 * Launch: 2-D NDRange, dimension 0 over column blocks (ceil(n/TN)), dimension 1 over row blocks
 * (ceil(m/TM)), work-group exactly WGX×WGY (reqd_work_group_size); surplus work-items return.
 *
 * Two register-blocked forms, chosen by TRANS_B (both use no local memory: on CPU devices such as
 * PoCL the caches do the tiling, and a local-memory tile costs barriers and copies):
 *   TRANS_B = 0, "outer-product form": for each p, TN/VW vector loads of row p of op(B) and TM
 *     scalars of op(A) feed TM·TN/VW vector multiply-adds into accumulators floatVW acc[TM][TN/VW].
 *   TRANS_B = 1, "dot form": rows of B are contiguous along p, so each of the TM×TN accumulators is
 *     a floatVW holding VW partial sums along p (VW-wide loads of op(A) rows and op(B) columns),
 *     reduced horizontally at the end; a scalar tail covers k mod VW.
 * Blocks wholly inside C take the interior path (plain vector loads and stores); blocks crossing the
 * border take the edge path (row/column indices clamped for loads, zero-filled partial vectors,
 * guarded stores), so any m, n, k ≥ 1 works; k = 0 gives C = beta·C. When beta is 0, C is not read.
 * The summation order along p is fixed by the tunables (no atomics): results are deterministic.
 */

/* ---- tunables (every one has a default, so this file builds with no -D at all) -------------- */

#ifndef TRANS_A
#define TRANS_A 0 /* 0 or 1: op(A) = A or Aᵀ */
#endif
#ifndef TRANS_B
#define TRANS_B 0 /* 0 or 1: op(B) = B or Bᵀ; also selects the form (see above) */
#endif

#if TRANS_B == 0
#ifndef VW
#define VW 16 /* vector width along the columns of C: 4, 8 or 16 */
#endif
#ifndef TM
#define TM 8 /* rows of C per work-item: 1..16 */
#endif
#ifndef TN
#define TN 32 /* columns of C per work-item: a multiple of VW, VW..4·VW */
#endif
#else
#ifndef VW
#define VW 16 /* vector width along p (partial sums per accumulator): 4, 8 or 16 */
#endif
#ifndef TM
#define TM 4 /* rows of C per work-item: 1..8 */
#endif
#ifndef TN
#define TN 4 /* columns of C per work-item: 1..8 (TM·TN accumulators of VW floats) */
#endif
#endif

#ifndef WGX
#define WGX 4 /* work-group size along the column blocks: 1..64, WGX·WGY ≤ the device maximum */
#endif
#ifndef WGY
#define WGY 4 /* work-group size along the row blocks: 1..64 */
#endif

#if VW != 4 && VW != 8 && VW != 16
#error "VW must be 4, 8 or 16"
#endif
#if TM < 1 || TM > 16 || TN < 1 || TN > 64
#error "TM must lie in 1..16 and TN in 1..64"
#endif
#if TRANS_B == 0 && (TN % VW) != 0
#error "with TRANS_B = 0, TN must be a multiple of VW"
#endif

#define LIP_CAT_(a, b) a##b
#define LIP_CAT(a, b) LIP_CAT_(a, b)
#define floatV LIP_CAT(float, VW)
#define vloadV LIP_CAT(vload, VW)
#define vstoreV LIP_CAT(vstore, VW)

/* Sum of the components of a floatV, in a fixed order (halves, then quarters ...). */
inline float lip_matmul_hsum(floatV v) {
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
inline floatV lip_matmul_load_part(const __global float *p, uint valid) {
    float t[VW];
#pragma unroll
    for (uint c = 0; c < VW; c++) t[c] = c < valid ? p[c] : 0.0f;
    return vloadV(0, t);
}

/* alpha·acc (+ beta·C unless beta is 0) into C[row, col .. col+VW), only columns < n when !full. */
inline void lip_matmul_store(__global float *C, uint at, floatV acc, float alpha, float beta, uint valid,
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

#if TRANS_B == 0

/* ---- outer-product form ---------------------------------------------------------------------- */

#define NV (TN / VW)

inline void lip_matmul_block(const uint m, const uint n, const uint k, const float alpha, const __global float *A,
                             const uint lda, const __global float *B, const uint ldb, const float beta,
                             __global float *C, const uint ldc, const uint i0, const uint j0, const int full) {
    floatV acc[TM][NV];
#pragma unroll
    for (uint i = 0; i < TM; i++)
#pragma unroll
        for (uint v = 0; v < NV; v++) acc[i][v] = (floatV)(0.0f);

    /* Rows beyond m (edge blocks) are clamped to m-1: loaded, computed, never stored. */
    uint row[TM];
#pragma unroll
    for (uint i = 0; i < TM; i++) row[i] = full ? i0 + i : min(i0 + i, m - 1);

    for (uint p = 0; p < k; p++) {
        const __global float *brow = B + p * ldb + j0;
        floatV b[NV];
#pragma unroll
        for (uint v = 0; v < NV; v++) {
            if (full || j0 + (v + 1) * VW <= n)
                b[v] = vloadV(0, brow + v * VW);
            else
                b[v] = lip_matmul_load_part(brow + v * VW, j0 + v * VW < n ? n - (j0 + v * VW) : 0u);
        }
#pragma unroll
        for (uint i = 0; i < TM; i++) {
#if TRANS_A == 0
            const float a = A[row[i] * lda + p];
#else
            const float a = A[p * lda + row[i]];
#endif
#pragma unroll
            for (uint v = 0; v < NV; v++) acc[i][v] = fma((floatV)(a), b[v], acc[i][v]);
        }
    }
    const float al = k ? alpha : 0.0f; /* k = 0: C = beta·C whatever alpha is */
#pragma unroll
    for (uint i = 0; i < TM; i++) {
        if (!full && i0 + i >= m) break;
#pragma unroll
        for (uint v = 0; v < NV; v++) {
            const uint col = j0 + v * VW;
            if (full || col + VW <= n)
                lip_matmul_store(C, (i0 + i) * ldc + col, acc[i][v], al, beta, VW, 1);
            else if (col < n)
                lip_matmul_store(C, (i0 + i) * ldc + col, acc[i][v], al, beta, n - col, 0);
        }
    }
}

#else

/* ---- dot form -------------------------------------------------------------------------------- */

inline void lip_matmul_block(const uint m, const uint n, const uint k, const float alpha, const __global float *A,
                             const uint lda, const __global float *B, const uint ldb, const float beta,
                             __global float *C, const uint ldc, const uint i0, const uint j0, const int full) {
    floatV acc[TM][TN];
#pragma unroll
    for (uint i = 0; i < TM; i++)
#pragma unroll
        for (uint j = 0; j < TN; j++) acc[i][j] = (floatV)(0.0f);

    /* Rows of op(A) and columns of op(B) beyond the matrix are clamped: computed, never stored. */
    uint row[TM], col[TN];
#pragma unroll
    for (uint i = 0; i < TM; i++) row[i] = full ? i0 + i : min(i0 + i, m - 1);
#pragma unroll
    for (uint j = 0; j < TN; j++) col[j] = full ? j0 + j : min(j0 + j, n - 1);

    const uint kv = k - k % VW;
    for (uint p = 0; p < kv; p += VW) {
        floatV a[TM];
#pragma unroll
        for (uint i = 0; i < TM; i++) {
#if TRANS_A == 0
            a[i] = vloadV(0, A + row[i] * lda + p);
#else
            float t[VW];
#pragma unroll
            for (uint c = 0; c < VW; c++) t[c] = A[(p + c) * lda + row[i]];
            a[i] = vloadV(0, t);
#endif
        }
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
#if TRANS_A == 0
            const float a = A[row[i] * lda + p];
#else
            const float a = A[p * lda + row[i]];
#endif
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
 * Sizes, offsets and leading dimensions are element counts (uint); the host checks every accessed
 * element lies inside its buffer.
 */
__kernel __attribute__((reqd_work_group_size(WGX, WGY, 1))) void
lip_matmul_gemm(const uint m, const uint n, const uint k, const float alpha, __global const float *A,
                const uint a_off, const uint lda, __global const float *B, const uint b_off, const uint ldb,
                const float beta, __global float *C, const uint c_off, const uint ldc) {
    const uint j0 = (uint)get_global_id(0) * TN;
    const uint i0 = (uint)get_global_id(1) * TM;
    if (i0 >= m || j0 >= n) return;
    A += a_off;
    B += b_off;
    C += c_off;
    if (i0 + TM <= m && j0 + TN <= n)
        lip_matmul_block(m, n, k, alpha, A, lda, B, ldb, beta, C, ldc, i0, j0, 1);
    else
        lip_matmul_block(m, n, k, alpha, A, lda, B, ldb, beta, C, ldc, i0, j0, 0);
}
