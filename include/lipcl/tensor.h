/* lipcl — device tensors: float32 (data, weights) and int32 (labels, argmax, counters), up to 4-D.
 * A tensor lives on its context's device; the host reads or writes it only on request. */
#ifndef LIPCL_TENSOR_H
#define LIPCL_TENSOR_H

#include "lipcl/context.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Layout: row-major (C order), images NHWC. For shape (s0, s1, s2, s3) the element
 * (i0, i1, i2, i3) sits at element index ((i0 * s1 + i1) * s2 + i2) * s3 + i3 of the tensor,
 * i.e. at element `offset + index` of its cl_mem (lip_tensor_cl gives both).
 * A tensor of ndim < 4 uses the first ndim entries of that formula.
 */
#define LIP_MAX_DIMS 4

typedef enum lip_dtype { LIP_FLOAT32 = 0, LIP_INT32 = 1 } lip_dtype;

typedef struct lip_tensor lip_tensor;

/** Create an uninitialized tensor of `ndim` (1..4) dimensions, each ≥ 1. The caller frees it. */
LIP_API lip_status lip_tensor_create(lip_context *ctx, lip_dtype dtype, int ndim, const size_t *shape,
                                     lip_tensor **out);
/** Release the tensor's device memory. NULL is accepted. */
LIP_API void lip_tensor_free(lip_tensor *t);

/** Copy `bytes` (must equal the tensor's size in bytes) from the host; returns when the host
 *  buffer may be reused. */
LIP_API lip_status lip_tensor_upload(lip_tensor *t, const void *host, size_t bytes);
/** lip_tensor_upload without waiting: the copy is enqueued and the host buffer must stay valid and
 *  unchanged until the queue has reached it (any later blocking call — a download, lip_context_finish —
 *  guarantees that). A training step uses it so that its only sync is the read of the loss. */
LIP_API lip_status lip_tensor_upload_async(lip_tensor *t, const void *host, size_t bytes);
/** Copy the tensor to the host (blocking: waits for the work enqueued before it). */
LIP_API lip_status lip_tensor_download(const lip_tensor *t, void *host, size_t bytes);
/** Set every element to `value` (converted to the tensor's dtype). Asynchronous. */
LIP_API lip_status lip_tensor_fill(lip_tensor *t, double value);
/** Copy src into dst (same dtype and element count; shapes may differ). Asynchronous. */
LIP_API lip_status lip_tensor_copy(lip_tensor *dst, const lip_tensor *src);
/** Give the tensor a new shape with the same element count (no data moves). */
LIP_API lip_status lip_tensor_reshape(lip_tensor *t, int ndim, const size_t *shape);

LIP_API lip_dtype lip_tensor_dtype(const lip_tensor *t);
LIP_API int lip_tensor_ndim(const lip_tensor *t);
/** Size of dimension `axis` (0..ndim-1); 0 for an axis out of range. */
LIP_API size_t lip_tensor_dim(const lip_tensor *t, int axis);
/** Number of elements. */
LIP_API size_t lip_tensor_count(const lip_tensor *t);
LIP_API lip_context *lip_tensor_context(const lip_tensor *t);
/** The buffer holding the tensor and the element offset of its first element (borrowed). */
LIP_API lip_status lip_tensor_cl(const lip_tensor *t, cl_mem *mem, size_t *offset);

#ifdef __cplusplus
}
#endif
#endif
