/* lipcl — device tensors: allocation with memory accounting, upload/download, fill, copy, reshape,
 * and the guard bands of the debug-bounds mode that catch kernels writing outside a buffer. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define GUARD_BYTES 256 /* per side, in debug-bounds mode; a multiple of every element size */
static const unsigned char guard_pattern[GUARD_BYTES] = {
#define G8 0xA5, 0x5A, 0xC3, 0x3C, 0x96, 0x69, 0xF0, 0x0F
#define G64 G8, G8, G8, G8, G8, G8, G8, G8
    G64, G64, G64, G64
#undef G64
#undef G8
};

size_t lip_dtype_size(lip_dtype dtype) { return dtype == LIP_INT32 ? sizeof(cl_int) : sizeof(cl_float); }

static const char *dtype_name(lip_dtype d) { return d == LIP_INT32 ? "int32" : "float32"; }

const char *lip_shape_string(const lip_tensor *t, char *buf, size_t size) {
    size_t used = 0;
    buf[0] = '\0';
    used += (size_t)snprintf(buf + used, size - used, "(");
    for (int i = 0; i < t->ndim && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, i ? ", %zu" : "%zu", t->shape[i]);
    if (used < size) snprintf(buf + used, size - used, t->ndim == 1 ? ",)" : ")");
    return buf;
}

lip_status lip_check_tensor(lip_context *ctx, const lip_tensor *t, lip_dtype dtype, const char *what) {
    LIP_CHECK(ctx, t, LIP_ERR_NULL, "%s is NULL", what);
    LIP_CHECK(ctx, t->ctx == ctx, LIP_ERR_INVALID_ARGUMENT, "%s belongs to another context", what);
    LIP_CHECK(ctx, t->dtype == dtype, LIP_ERR_DTYPE, "%s is %s, expected %s", what, dtype_name(t->dtype),
              dtype_name(dtype));
    return LIP_OK;
}

static lip_status check_shape(lip_context *ctx, int ndim, const size_t *shape, size_t *count) {
    LIP_CHECK(ctx, shape, LIP_ERR_NULL, "tensor shape is NULL");
    LIP_CHECK(ctx, ndim >= 1 && ndim <= LIP_MAX_DIMS, LIP_ERR_SHAPE, "tensor rank %d outside 1..%d", ndim,
              LIP_MAX_DIMS);
    size_t n = 1;
    for (int i = 0; i < ndim; i++) {
        LIP_CHECK(ctx, shape[i] >= 1, LIP_ERR_SHAPE, "tensor dimension %d is 0", i);
        LIP_CHECK(ctx, n <= SIZE_MAX / 8 / shape[i], LIP_ERR_SHAPE, "tensor of %d dimensions overflows size_t",
                  ndim);
        n *= shape[i];
    }
    /* Kernels index with 32-bit integers. */
    LIP_CHECK(ctx, n <= 0x7fffffffu, LIP_ERR_SHAPE, "tensor of %zu elements exceeds the 2^31-1 element limit", n);
    *count = n;
    return LIP_OK;
}

lip_status lip_tensor_create(lip_context *ctx, lip_dtype dtype, int ndim, const size_t *shape, lip_tensor **out) {
    if (!ctx) return LIP_ERR_NULL;
    LIP_CHECK(ctx, out, LIP_ERR_NULL, "lip_tensor_create: out is NULL");
    *out = NULL;
    LIP_CHECK(ctx, dtype == LIP_FLOAT32 || dtype == LIP_INT32, LIP_ERR_DTYPE, "lip_tensor_create: unknown dtype %d",
              (int)dtype);
    size_t count = 0;
    LIP_TRY(check_shape(ctx, ndim, shape, &count));
    size_t esize = lip_dtype_size(dtype);
    size_t guard = ctx->debug_bounds ? GUARD_BYTES : 0;
    size_t bytes = count * esize + 2 * guard;
    LIP_CHECK(ctx, bytes <= ctx->info.max_alloc_bytes, LIP_ERR_OUT_OF_DEVICE_MEMORY,
              "tensor of %zu bytes exceeds the device's largest allocation (%llu bytes)", bytes,
              (unsigned long long)ctx->info.max_alloc_bytes);
    LIP_CHECK(ctx, ctx->memory_in_use + bytes <= ctx->memory_limit, LIP_ERR_OUT_OF_DEVICE_MEMORY,
              "tensor of %zu bytes does not fit: %zu of %zu bytes of device memory already in use", bytes,
              ctx->memory_in_use, ctx->memory_limit);
    lip_tensor *t = calloc(1, sizeof *t);
    LIP_CHECK(ctx, t, LIP_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    cl_int err = CL_SUCCESS;
    t->mem = clCreateBuffer(ctx->cl_ctx, CL_MEM_READ_WRITE, bytes, NULL, &err);
    if (err != CL_SUCCESS) {
        free(t);
        return lip_cl_fail(ctx, err, "clCreateBuffer", __FILE__, __LINE__);
    }
    t->ctx = ctx;
    t->dtype = dtype;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
    for (int i = ndim; i < LIP_MAX_DIMS; i++) t->shape[i] = 1;
    t->count = count;
    t->offset = guard / esize;
    t->alloc_bytes = bytes;
    if (guard) {
        err = clEnqueueWriteBuffer(ctx->queue, t->mem, CL_FALSE, 0, guard, guard_pattern, 0, NULL, NULL);
        if (err == CL_SUCCESS)
            err = clEnqueueWriteBuffer(ctx->queue, t->mem, CL_FALSE, bytes - guard, guard, guard_pattern, 0, NULL,
                                       NULL);
        if (err != CL_SUCCESS) {
            clReleaseMemObject(t->mem);
            free(t);
            return lip_cl_fail(ctx, err, "clEnqueueWriteBuffer (guard band)", __FILE__, __LINE__);
        }
    }
    ctx->memory_in_use += bytes;
    if (ctx->memory_in_use > ctx->memory_peak) ctx->memory_peak = ctx->memory_in_use;
    t->next = ctx->tensors;
    if (ctx->tensors) ctx->tensors->prev = t;
    ctx->tensors = t;
    *out = t;
    return LIP_OK;
}

void lip_tensor_free(lip_tensor *t) {
    if (!t) return;
    lip_context *ctx = t->ctx;
    if (t->prev)
        t->prev->next = t->next;
    else
        ctx->tensors = t->next;
    if (t->next) t->next->prev = t->prev;
    ctx->memory_in_use -= t->alloc_bytes;
    clReleaseMemObject(t->mem);
    free(t);
}

lip_status lip_tensor_check_guards(lip_context *ctx, const char *after) {
    unsigned char buf[GUARD_BYTES];
    if (!ctx->debug_bounds) return LIP_OK; /* no bands to check */
    for (lip_tensor *t = ctx->tensors; t; t = t->next) {
        size_t starts[2] = {0, t->alloc_bytes - GUARD_BYTES};
        for (int side = 0; side < 2; side++) {
            LIP_CL(ctx, clEnqueueReadBuffer(ctx->queue, t->mem, CL_TRUE, starts[side], GUARD_BYTES, buf, 0, NULL, NULL));
            if (memcmp(buf, guard_pattern, GUARD_BYTES) != 0) {
                char shape[64];
                size_t first = 0;
                while (first < GUARD_BYTES && buf[first] == guard_pattern[first]) first++;
                lip_status st = lip_set_error(ctx, LIP_ERR_BOUNDS,
                                              "'%s' wrote outside tensor %s (%s): guard band %s the data, byte %zu of "
                                              "%d changed",
                                              after, lip_shape_string(t, shape, sizeof shape), dtype_name(t->dtype),
                                              side ? "after" : "before", first, GUARD_BYTES);
                /* Restore the band so that one overrun is reported once. */
                clEnqueueWriteBuffer(ctx->queue, t->mem, CL_TRUE, starts[side], GUARD_BYTES, guard_pattern, 0, NULL,
                                     NULL);
                return st;
            }
        }
    }
    return LIP_OK;
}

static lip_status check_bytes(const lip_tensor *t, size_t bytes, const char *fn) {
    char shape[64];
    LIP_CHECK(t->ctx, bytes == t->count * lip_dtype_size(t->dtype), LIP_ERR_SHAPE,
              "%s: %zu bytes given, tensor %s of %s holds %zu", fn, bytes, lip_shape_string(t, shape, sizeof shape),
              dtype_name(t->dtype), t->count * lip_dtype_size(t->dtype));
    return LIP_OK;
}

lip_status lip_tensor_upload(lip_tensor *t, const void *host, size_t bytes) {
    if (!t) return LIP_ERR_NULL;
    LIP_CHECK(t->ctx, host, LIP_ERR_NULL, "lip_tensor_upload: host pointer is NULL");
    LIP_TRY(check_bytes(t, bytes, "lip_tensor_upload"));
    size_t es = lip_dtype_size(t->dtype);
    /* Blocking: the caller may reuse its buffer at once; an in-order queue keeps later kernels behind. */
    LIP_CL(t->ctx, clEnqueueWriteBuffer(t->ctx->queue, t->mem, CL_TRUE, t->offset * es, bytes, host, 0, NULL, NULL));
    return LIP_OK;
}

lip_status lip_tensor_upload_async(lip_tensor *t, const void *host, size_t bytes) {
    if (!t) return LIP_ERR_NULL;
    LIP_CHECK(t->ctx, host, LIP_ERR_NULL, "lip_tensor_upload_async: host pointer is NULL");
    LIP_TRY(check_bytes(t, bytes, "lip_tensor_upload_async"));
    size_t es = lip_dtype_size(t->dtype);
    LIP_CL(t->ctx, clEnqueueWriteBuffer(t->ctx->queue, t->mem, CL_FALSE, t->offset * es, bytes, host, 0, NULL, NULL));
    return LIP_OK;
}

lip_status lip_tensor_download(const lip_tensor *t, void *host, size_t bytes) {
    if (!t) return LIP_ERR_NULL;
    LIP_CHECK(t->ctx, host, LIP_ERR_NULL, "lip_tensor_download: host pointer is NULL");
    LIP_TRY(check_bytes(t, bytes, "lip_tensor_download"));
    size_t es = lip_dtype_size(t->dtype);
    LIP_CL(t->ctx, clEnqueueReadBuffer(t->ctx->queue, t->mem, CL_TRUE, t->offset * es, bytes, host, 0, NULL, NULL));
    return LIP_OK;
}

lip_status lip_tensor_fill(lip_tensor *t, double value) {
    if (!t) return LIP_ERR_NULL;
    lip_context *ctx = t->ctx;
    size_t es = lip_dtype_size(t->dtype);
    cl_float f = 0.0f;
    cl_int i = 0;
    if (t->dtype == LIP_INT32) {
        /* Converting a double outside int range is undefined in C: refuse it. */
        LIP_CHECK(ctx, value >= -2147483648.0 && value <= 2147483647.0 && value == (double)(long long)value,
                  LIP_ERR_INVALID_ARGUMENT, "lip_tensor_fill: %g is not an int32 value", value);
        i = (cl_int)value;
    } else {
        f = (cl_float)value;
    }
    const void *pattern = t->dtype == LIP_INT32 ? (const void *)&i : (const void *)&f;
    cl_event ev = NULL;
    LIP_CL(ctx, clEnqueueFillBuffer(ctx->queue, t->mem, pattern, es, t->offset * es, t->count * es, 0, NULL,
                                    ctx->profile ? &ev : NULL));
    if (ev) lip_profile_record(ctx, "tensor_fill", ev);
    return LIP_OK;
}

lip_status lip_tensor_copy(lip_tensor *dst, const lip_tensor *src) {
    if (!dst || !src) return dst ? lip_set_error(dst->ctx, LIP_ERR_NULL, "lip_tensor_copy: src is NULL") : LIP_ERR_NULL;
    lip_context *ctx = dst->ctx;
    LIP_TRY(lip_check_tensor(ctx, src, dst->dtype, "lip_tensor_copy: src"));
    char a[64], b[64];
    LIP_CHECK(ctx, src->count == dst->count, LIP_ERR_SHAPE, "lip_tensor_copy: src %s and dst %s differ in size",
              lip_shape_string(src, a, sizeof a), lip_shape_string(dst, b, sizeof b));
    if (src == dst) return LIP_OK;
    size_t es = lip_dtype_size(dst->dtype);
    cl_event ev = NULL;
    LIP_CL(ctx, clEnqueueCopyBuffer(ctx->queue, src->mem, dst->mem, src->offset * es, dst->offset * es, dst->count * es,
                                    0, NULL, ctx->profile ? &ev : NULL));
    if (ev) lip_profile_record(ctx, "tensor_copy", ev);
    return LIP_OK;
}

lip_status lip_tensor_reshape(lip_tensor *t, int ndim, const size_t *shape) {
    if (!t) return LIP_ERR_NULL;
    size_t count = 0;
    LIP_TRY(check_shape(t->ctx, ndim, shape, &count));
    char a[64];
    LIP_CHECK(t->ctx, count == t->count, LIP_ERR_SHAPE, "lip_tensor_reshape: %zu elements cannot view tensor %s",
              count, lip_shape_string(t, a, sizeof a));
    t->ndim = ndim;
    for (int i = 0; i < LIP_MAX_DIMS; i++) t->shape[i] = i < ndim ? shape[i] : 1;
    return LIP_OK;
}

lip_dtype lip_tensor_dtype(const lip_tensor *t) { return t ? t->dtype : LIP_FLOAT32; }
int lip_tensor_ndim(const lip_tensor *t) { return t ? t->ndim : 0; }
size_t lip_tensor_dim(const lip_tensor *t, int axis) {
    return t && axis >= 0 && axis < t->ndim ? t->shape[axis] : 0;
}
size_t lip_tensor_count(const lip_tensor *t) { return t ? t->count : 0; }
lip_context *lip_tensor_context(const lip_tensor *t) { return t ? t->ctx : NULL; }
lip_status lip_tensor_cl(const lip_tensor *t, cl_mem *mem, size_t *offset) {
    if (!t) return LIP_ERR_NULL;
    if (mem) *mem = t->mem;
    if (offset) *offset = t->offset;
    return LIP_OK;
}

tensor_view lip_tensor_view(const lip_tensor *t, int ndim, const size_t *shape) {
    tensor_view v = {(lip_tensor *)t, 0, {0}};
    if (!t) return v;
    v.ndim = t->ndim;
    memcpy(v.shape, t->shape, sizeof v.shape);
    lip_tensor_reshape(v.t, ndim, shape); /* same count: checked by the callers */
    return v;
}

void lip_tensor_view_restore(tensor_view v) {
    if (v.t) lip_tensor_reshape(v.t, v.ndim, v.shape);
}

lip_tensor lip_tensor_rows(const lip_tensor *t, size_t first, size_t rows) {
    lip_tensor v = *t;
    size_t row = t->count / t->shape[0];
    v.offset += first * row;
    v.shape[0] = rows;
    v.count = rows * row;
    v.prev = v.next = NULL; /* not one of the context's live tensors */
    return v;
}
