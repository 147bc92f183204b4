/* lipcl — status codes returned by every fallible function.
 * The enum, lip_status_name() and lip_status_string() come from the one list below. */
#ifndef LIPCL_STATUS_H
#define LIPCL_STATUS_H

#include "lipcl/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* X(name, value, description). Values are pinned: never renumber, only append. */
#define LIP_STATUS_MAP(X)                                                                  \
    X(LIP_OK, 0, "success")                                                                \
    X(LIP_ERR_INVALID_ARGUMENT, 1, "invalid argument")                                     \
    X(LIP_ERR_NULL, 2, "required pointer argument is NULL")                                \
    X(LIP_ERR_SHAPE, 3, "tensor shape mismatch")                                           \
    X(LIP_ERR_DTYPE, 4, "tensor data type mismatch")                                       \
    X(LIP_ERR_OUT_OF_HOST_MEMORY, 5, "out of host memory")                                 \
    X(LIP_ERR_OUT_OF_DEVICE_MEMORY, 6, "out of device memory")                             \
    X(LIP_ERR_OPENCL, 7, "OpenCL call failed")                                             \
    X(LIP_ERR_BUILD, 8, "OpenCL program build failed")                                     \
    X(LIP_ERR_NO_COMPILER, 9, "device has no OpenCL compiler and no cached binary")        \
    X(LIP_ERR_BLAS, 10, "CLBlast call failed")                                             \
    X(LIP_ERR_NO_DEVICE, 11, "no matching OpenCL device")                                  \
    X(LIP_ERR_KERNEL_NOT_FOUND, 12, "kernel source or entry point not found")              \
    X(LIP_ERR_IO, 13, "file input/output failed")                                          \
    X(LIP_ERR_FORMAT, 14, "malformed, truncated or foreign file")                          \
    X(LIP_ERR_BUSY, 15, "object still in use")                                             \
    X(LIP_ERR_UNSUPPORTED, 16, "operation not supported")                                  \
    X(LIP_ERR_BOUNDS, 17, "a kernel wrote outside its buffer (guard band overwritten)")    \
    X(LIP_ERR_INTERNAL, 18, "internal error")

typedef enum lip_status {
#define LIP_STATUS_ENUM_(name, value, text) name = value,
    LIP_STATUS_MAP(LIP_STATUS_ENUM_)
#undef LIP_STATUS_ENUM_
} lip_status;

/** The enumerator's name ("LIP_ERR_SHAPE"); "LIP_STATUS_UNKNOWN" for a value not in the list. */
LIP_API const char *lip_status_name(lip_status status);
/** A one-line English description of the status (static string, never NULL). */
LIP_API const char *lip_status_string(lip_status status);

#ifdef __cplusplus
}
#endif
#endif
