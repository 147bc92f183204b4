/* lipcl — tensor operations on the device: GEMM, elementwise, reductions, transpose.
 * All are asynchronous (enqueued on the context's in-order queue) and check shapes first. */
#ifndef LIPCL_OPS_H
#define LIPCL_OPS_H

#include "lipcl/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum lip_transpose { LIP_NO_TRANS = 0, LIP_TRANS = 1 } lip_transpose;

/**
 * C = alpha·op(A)·op(B) + beta·C, row-major, on float32 tensors viewed as flat arrays.
 * op(A) is m×k: A[a_offset + i·lda + p] (NO_TRANS) or A[a_offset + p·lda + i] (TRANS); likewise
 * op(B) is k×n and C is m×n at C[c_offset + i·ldc + j]. Offsets are in elements, relative to the
 * tensor's first element. When beta is 0, C is not read (NaNs in C do not propagate).
 * Checks that every accessed element lies inside its tensor. m, n or k may be 1; k = 0 scales C.
 * The path (CLBlast or kernels/matmul.cl) follows lip_context_set_gemm_path.
 */
LIP_API lip_status lip_gemm(lip_context *ctx, lip_transpose trans_a, lip_transpose trans_b, size_t m, size_t n,
                            size_t k, float alpha, const lip_tensor *a, size_t a_offset, size_t lda,
                            const lip_tensor *b, size_t b_offset, size_t ldb, float beta, lip_tensor *c,
                            size_t c_offset, size_t ldc);

/** 2-D convenience: c = alpha·op(a)·op(b) + beta·c with shapes read from the tensors
 *  (a, b, c must be 2-D and agree). */
LIP_API lip_status lip_matmul(lip_context *ctx, lip_transpose trans_a, lip_transpose trans_b, float alpha,
                              const lip_tensor *a, const lip_tensor *b, float beta, lip_tensor *c);

/* Elementwise, float32, same element count for every operand; `out` may alias an input. */
/** out = a + b */
LIP_API lip_status lip_add(lip_context *ctx, const lip_tensor *a, const lip_tensor *b, lip_tensor *out);
/** out = a ⊙ b */
LIP_API lip_status lip_mul(lip_context *ctx, const lip_tensor *a, const lip_tensor *b, lip_tensor *out);
/** out = alpha·x */
LIP_API lip_status lip_scale(lip_context *ctx, float alpha, const lip_tensor *x, lip_tensor *out);
/** y = alpha·x + y */
LIP_API lip_status lip_axpy(lip_context *ctx, float alpha, const lip_tensor *x, lip_tensor *y);
/** out[..., j] = x[..., j] + bias[j]; bias is 1-D with the size of x's last axis. */
LIP_API lip_status lip_bias_add(lip_context *ctx, const lip_tensor *x, const lip_tensor *bias, lip_tensor *out);

/* Reductions, float32 input, deterministic (fixed reduction tree, no atomics); results stay on the
 * device in a 1-element (or per-row/column) float32 tensor. */
/** out[0] = Σ x */
LIP_API lip_status lip_reduce_sum(lip_context *ctx, const lip_tensor *x, lip_tensor *out);
/** out[0] = Σ x² */
LIP_API lip_status lip_reduce_sum_squares(lip_context *ctx, const lip_tensor *x, lip_tensor *out);
/** out[0] = max x */
LIP_API lip_status lip_reduce_max(lip_context *ctx, const lip_tensor *x, lip_tensor *out);
/** x viewed as rows × cols (cols = last axis): out[j] = Σ_i x[i, j] (bias gradients). */
LIP_API lip_status lip_reduce_sum_rows(lip_context *ctx, const lip_tensor *x, lip_tensor *out);
/** x viewed as rows × cols (cols = last axis): out (int32, rows elements) = index of the first
 *  maximum of each row. */
LIP_API lip_status lip_argmax_rows(lip_context *ctx, const lip_tensor *x, lip_tensor *out);
/** out (n×m) = transpose of x (m×n), both 2-D, float32. */
LIP_API lip_status lip_transpose2d(lip_context *ctx, const lip_tensor *x, lip_tensor *out);

#ifdef __cplusplus
}
#endif
#endif
