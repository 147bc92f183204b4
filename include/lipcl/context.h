/* lipcl — the context: one OpenCL device and queue, its program cache, profiler, RNG and logs.
 * Every other lipcl object is made from a context. */
#ifndef LIPCL_CONTEXT_H
#define LIPCL_CONTEXT_H

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>
#include <stddef.h>
#include <stdint.h>

#include "lipcl/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Thread safety: one context, and every object made from it (tensors, layers, models), is used
 * by one thread at a time. Distinct contexts are independent and may be used from different
 * threads concurrently; the on-disk program cache is the only thing they share, and it is
 * written atomically (temp file + rename).
 */
typedef struct lip_context lip_context;

typedef enum lip_log_level { LIP_LOG_DEBUG = 0, LIP_LOG_INFO = 1, LIP_LOG_WARN = 2, LIP_LOG_ERROR = 3 } lip_log_level;

/** Receives every message the library has to say; the library itself never prints. */
typedef void (*lip_log_fn)(lip_log_level level, const char *text, void *user);

/** Which GEMM implementation lip_gemm uses. */
typedef enum lip_gemm_path {
    LIP_GEMM_AUTO = 0,    /* per device and shape, from lipcl-bench's saved choice; default otherwise */
    LIP_GEMM_CLBLAST = 1, /* CLBlast (falls back to our kernel if CLBlast fails) */
    LIP_GEMM_OWN = 2      /* kernels/matmul.cl */
} lip_gemm_path;

/** Options of lip_context_create. Fill with lip_context_config_default(), then set fields.
 *  Tri-state ints: -1 = read the environment variable named in the comment, 0 = off, 1 = on. */
typedef struct lip_context_config {
    const char *device;        /* NULL: $LIPCL_DEVICE, else first GPU, else first device.
                                  Forms: "2" (global index), "0:1" (platform:device), "cpu",
                                  "gpu", or a case-insensitive substring of "platform device". */
    int profile;               /* -1: $LIPCL_PROFILE; 1: per-kernel device times */
    int cache_disable;         /* -1: $LIPCL_CACHE_DISABLE; 1: no on-disk binary cache */
    const char *cache_dir;     /* NULL: $LIPCL_CACHE_DIR, else $XDG_CACHE_HOME/lipcl, else ~/.cache/lipcl */
    const char *kernel_dir;    /* NULL: $LIPCL_KERNEL_DIR, else the sources embedded at build time */
    const char *build_options; /* NULL: $LIPCL_BUILD_OPTIONS; appended to every program build */
    int fast_math;             /* 0 (default): exact IEEE math; 1 adds -cl-fast-relaxed-math */
    int debug_bounds;          /* -1: $LIPCL_DEBUG_BOUNDS; 1: guard bands around every buffer,
                                  checked after every kernel (slow; for tests) */
    lip_gemm_path gemm_path;   /* LIP_GEMM_AUTO */
    uint64_t seed;             /* seed of the context's RNG (default 42) */
    size_t device_memory_limit;/* bytes lipcl may allocate; 0: the device's global memory size */
    lip_log_fn log;            /* NULL: messages are dropped */
    void *log_user;
    lip_log_level log_level;   /* minimum level passed to log (LIP_LOG_INFO) */
} lip_context_config;

/** Properties of one OpenCL device, as listed by lip_device_list. */
typedef struct lip_device_info {
    int index;             /* global index over all platforms (what LIPCL_DEVICE=N means) */
    int platform_index, device_index;
    char platform_name[128], platform_version[128];
    char device_name[128], vendor[128], driver_version[64], device_version[128], opencl_c_version[64];
    unsigned vendor_id;
    int is_gpu, is_cpu, is_accelerator;
    unsigned compute_units;
    unsigned max_clock_mhz;
    uint64_t global_mem_bytes, max_alloc_bytes, local_mem_bytes;
    size_t max_work_group_size;
    int fp64, compiler_available;
} lip_device_info;

/** A default configuration (every field documented above). */
LIP_API lip_context_config lip_context_config_default(void);

/** Count the OpenCL devices of every platform. @return LIP_OK, or LIP_ERR_NO_DEVICE if none. */
LIP_API lip_status lip_device_count(size_t *count);
/** Fill up to `capacity` entries of `infos` (may be NULL when capacity is 0); `*count` gets the
 *  total number of devices. */
LIP_API lip_status lip_device_list(lip_device_info *infos, size_t capacity, size_t *count);
/** Resolve a device string (the forms of lip_context_config.device; NULL applies $LIPCL_DEVICE and
 *  the GPU-first default) to a global device index. On failure `message` (if not NULL) explains. */
LIP_API lip_status lip_device_select(const char *spec, int *index, char *message, size_t message_size);

/** Create a context on the configured device with an in-order queue. `config` may be NULL
 *  (defaults). On failure *out is NULL and, for lack of a context, the reason is in the log. */
LIP_API lip_status lip_context_create(lip_context **out, const lip_context_config *config);
/** Adopt an application's own OpenCL context, device and in-order queue (queue may be NULL: one is
 *  created). They are retained, and released by lip_context_free. */
LIP_API lip_status lip_context_create_from_cl(lip_context **out, cl_context cl_ctx, cl_device_id device,
                                              cl_command_queue queue, const lip_context_config *config);
/** Release the context. Refuses with LIP_ERR_BUSY (and a message naming them) while tensors or
 *  other objects made from it are alive. NULL is accepted (LIP_OK). Profiling results, if on,
 *  are sent to the log first. */
LIP_API lip_status lip_context_free(lip_context *ctx);

/** Message of the last failure in this context ("" if none). Valid until the next failing call. */
LIP_API const char *lip_context_last_error(const lip_context *ctx);
/** Whole build log of the last failed program build ("" if none). */
LIP_API const char *lip_context_last_build_log(const lip_context *ctx);
/** Forget the last error and build log. */
LIP_API void lip_context_clear_error(lip_context *ctx);

/** Properties of the context's device. */
LIP_API lip_status lip_context_device_info(const lip_context *ctx, lip_device_info *info);
/** The underlying OpenCL objects (borrowed; any argument may be NULL). */
LIP_API lip_status lip_context_cl(const lip_context *ctx, cl_context *cl_ctx, cl_device_id *device,
                                  cl_command_queue *queue);
/** Wait for everything enqueued so far (the one sync point of a step). Checks guard bands in
 *  debug-bounds mode and collects profiling events. */
LIP_API lip_status lip_context_finish(lip_context *ctx);
/** Build every kernel program the library uses (fills the memory and disk caches). */
LIP_API lip_status lip_context_warm(lip_context *ctx);
/** Bytes of device memory lipcl holds now and at most since creation. Either may be NULL. */
LIP_API lip_status lip_context_memory(const lip_context *ctx, size_t *in_use, size_t *peak);
/** Directory of the on-disk cache, or NULL when the disk cache is off. */
LIP_API const char *lip_context_cache_dir(const lip_context *ctx);

/** Program-cache counters since creation. Any pointer may be NULL. */
typedef struct lip_cache_stats {
    unsigned long memory_hits;  /* served from the context's in-memory cache */
    unsigned long disk_hits;    /* loaded from a cached binary */
    unsigned long builds;       /* compiled from source */
    unsigned long disk_rejected;/* cached binary that was corrupt or refused, rebuilt */
    unsigned long disk_writes;  /* binaries written to the disk cache */
    double build_seconds;       /* wall time spent building or loading programs */
} lip_cache_stats;
LIP_API lip_status lip_context_cache_stats(const lip_context *ctx, lip_cache_stats *stats);
/** Delete every file of the on-disk cache directory of this context (programs and tuning). */
LIP_API lip_status lip_context_cache_clear(lip_context *ctx);

/** Choose the GEMM path from now on (see lip_gemm_path). */
LIP_API lip_status lip_context_set_gemm_path(lip_context *ctx, lip_gemm_path path);

/** One row of the profile: all launches with the same label ("matmul", "conv1/power_iter"). */
typedef struct lip_profile_row {
    const char *name;
    unsigned long count;
    double total_ms, mean_ms;
} lip_profile_row;
typedef void (*lip_profile_fn)(const lip_profile_row *row, void *user);
/** Wait for the queue, then call `fn` once per label, most expensive first. LIP_ERR_UNSUPPORTED
 *  when the context was created without profiling. */
LIP_API lip_status lip_context_profile(lip_context *ctx, lip_profile_fn fn, void *user);
/** Forget the profile gathered so far. */
LIP_API lip_status lip_context_profile_reset(lip_context *ctx);

/** Name of an OpenCL error code ("CL_OUT_OF_RESOURCES"); "CL_UNKNOWN_ERROR" if unknown. */
LIP_API const char *lip_cl_error_name(cl_int err);

#ifdef __cplusplus
}
#endif
#endif
