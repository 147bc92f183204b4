/* lipcl — internal declarations shared by the library's source files (never installed).
 * Context and tensor layouts, error macros, program cache and the one kernel-launch helper. */
#ifndef LIPCL_INTERNAL_H
#define LIPCL_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "lipcl/lipcl.h"

#define LIP_MSG_SIZE 4096

/* ---- errors ------------------------------------------------------------------------------- */

/** Record a failure (printf-style message) in the context and return `status`. ctx may be NULL. */
lip_status lip_set_error(lip_context *ctx, lip_status status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/** Record a failed OpenCL call: its text, the error name and where; maps allocation failures
 *  to LIP_ERR_OUT_OF_DEVICE_MEMORY, the rest to LIP_ERR_OPENCL. */
lip_status lip_cl_fail(lip_context *ctx, cl_int err, const char *call, const char *file, int line);
/** Send a message to the context's log callback (if its level passes). */
void lip_log(const lip_context *ctx, lip_log_level level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

#define LIP_CHECK(ctx, cond, status, ...)                                                            \
    do {                                                                                           \
        if (!(cond)) return lip_set_error((ctx), (status), __VA_ARGS__);                          \
    } while (0)
#define LIP_TRY(expr)                                                                              \
    do {                                                                                           \
        lip_status lip_try_status_ = (expr);                                                       \
        if (lip_try_status_ != LIP_OK) return lip_try_status_;                                     \
    } while (0)
#define LIP_CL(ctx, call)                                                                          \
    do {                                                                                           \
        cl_int lip_cl_err_ = (call);                                                               \
        if (lip_cl_err_ != CL_SUCCESS) return lip_cl_fail((ctx), lip_cl_err_, #call, __FILE__, __LINE__); \
    } while (0)
/* Variants for functions with a cleanup path: set `st` and jump to `fail`. */
#define LIP_TRY_GOTO(st, expr)                                                                     \
    do {                                                                                           \
        (st) = (expr);                                                                             \
        if ((st) != LIP_OK) goto fail;                                                             \
    } while (0)
#define LIP_CL_GOTO(ctx, st, call)                                                                 \
    do {                                                                                           \
        cl_int lip_cl_err_ = (call);                                                               \
        if (lip_cl_err_ != CL_SUCCESS) {                                                           \
            (st) = lip_cl_fail((ctx), lip_cl_err_, #call, __FILE__, __LINE__);                     \
            goto fail;                                                                             \
        }                                                                                          \
    } while (0)

/* ---- context ------------------------------------------------------------------------------ */

typedef struct lip_program_entry lip_program_entry;
typedef struct lip_profile_entry lip_profile_entry;
typedef struct lip_gemm_choice lip_gemm_choice;

struct lip_tensor {
    lip_context *ctx;
    lip_dtype dtype;
    int ndim;
    size_t shape[LIP_MAX_DIMS];
    size_t count;        /* elements */
    cl_mem mem;
    size_t offset;       /* elements before the first element (the guard band in debug mode) */
    size_t alloc_bytes;  /* bytes of mem, guard bands included */
    lip_tensor *prev, *next; /* the context's list of live tensors */
};

struct lip_context {
    cl_context cl_ctx;
    cl_device_id device;
    cl_command_queue queue;
    cl_platform_id platform;
    lip_device_info info;
    lip_context_config config;  /* with strings below owned copies */
    char *kernel_dir, *cache_dir, *user_build_options;
    char device_key[1024];       /* platform, device, vendor id, driver: part of every cache key */
    int profile, debug_bounds, disk_cache;
    size_t memory_limit, memory_in_use, memory_peak;
    lip_tensor *tensors;        /* live tensors */
    unsigned long live_objects; /* other live objects (layers, models) */
    lip_program_entry *programs;
    lip_cache_stats cache_stats;
    lip_profile_entry *profile_rows;
    cl_event *pending_events;   /* profiling events not yet read */
    char **pending_labels;
    size_t pending_count, pending_capacity;
    lip_gemm_choice *gemm_choices; /* read from the tuning file, lazily */
    int gemm_choices_loaded;
    int clblast_warned;         /* a CLBlast failure was logged once already */
    size_t gemm_choice_count;
    uint64_t rng[4];             /* xoshiro256** state of the context's random stream */
    char last_error[LIP_MSG_SIZE];
    char *last_build_log;
};

/** Fill `info` for a platform and device (index fields left 0). */
void lip_device_fill_info(cl_platform_id p, cl_device_id d, lip_device_info *info);
/** Resolve a device string to OpenCL ids (message explains a failure). */
lip_status lip_device_resolve(const char *spec, cl_platform_id *platform, cl_device_id *device, int *index,
                              char *message, size_t message_size);

/* ---- programs and kernels ----------------------------------------------------------------- */

/** Embedded kernel sources (generated at build time from every kernels/NAME.cl). */
typedef struct lip_embedded_source {
    const char *family; /* file name without .cl */
    const char *source;
} lip_embedded_source;
extern const lip_embedded_source lip_embedded_sources[];
extern const size_t lip_embedded_source_count;

/** The kernel `entry` of family `family` ("matmul" → kernels/matmul.cl) built with the extra
 *  `defines` ("-DTM=8 -DTN=16", may be NULL). Programs and kernels are cached per context. */
lip_status lip_kernel_get(lip_context *ctx, const char *family, const char *entry, const char *defines,
                          cl_kernel *out);
/** Same, from a source string given by the caller (tests, tuned variants); `label` names it in
 *  messages and in the cache. */
lip_status lip_kernel_get_source(lip_context *ctx, const char *label, const char *source, const char *entry,
                                 const char *defines, cl_kernel *out);
/** The source of a kernel family (kernel_dir or embedded); *out is malloc'ed, caller frees. */
lip_status lip_kernel_source(lip_context *ctx, const char *family, char **out);
/** Release every cached program and kernel. */
void lip_programs_release(lip_context *ctx);
/** The full option string for a build: -cl-std, quirks, defines, user options. Caller frees. */
char *lip_program_options(const lip_context *ctx, const char *defines);

/** A kernel argument: its size and address (see LIP_KARG / LIP_KARGS). */
typedef struct lip_karg {
    size_t size;
    const void *value;
} lip_karg;
#define LIP_KARG(v) ((lip_karg){sizeof(v), &(v)})
#define LIP_KLOCAL(bytes) ((lip_karg){(bytes), NULL})
#define LIP_KARGS(...) (sizeof((lip_karg[]){__VA_ARGS__}) / sizeof(lip_karg)), ((lip_karg[]){__VA_ARGS__})

/**
 * The one way the library launches a kernel: sets the arguments, rounds each global size up to a
 * multiple of the (always explicit) local size, enqueues, and records a profiling event under
 * `label` when profiling is on. In debug-bounds mode it waits and checks every guard band.
 * Use as: lip_launch(ctx, k, "matmul", 2, global, local, LIP_KARGS(LIP_KARG(a), LIP_KARG(n))).
 */
lip_status lip_launch(lip_context *ctx, cl_kernel kernel, const char *label, cl_uint dims, const size_t *global,
                      const size_t *local, size_t nargs, const lip_karg *args);
/** Record an event produced outside lip_launch (CLBlast) for the profile; takes ownership. */
void lip_profile_record(lip_context *ctx, const char *label, cl_event event);
/** Read and release pending profiling events (after a sync). */
void lip_profile_collect(lip_context *ctx);
void lip_profile_release(lip_context *ctx);
/** Whether profiling is on (then pass an event pointer to CLBlast). */
int lip_profiling(const lip_context *ctx);

/* ---- tensors ------------------------------------------------------------------------------ */

/** Check the guard bands of every live tensor; LIP_ERR_BOUNDS naming `after` if one changed. */
lip_status lip_tensor_check_guards(lip_context *ctx, const char *after);
/** Element size of a dtype. */
size_t lip_dtype_size(lip_dtype dtype);
/** "(2, 3, 4)" into buf. */
const char *lip_shape_string(const lip_tensor *t, char *buf, size_t size);
/** Check a tensor argument: non-NULL, of this context, of this dtype. `what` names it. */
lip_status lip_check_tensor(lip_context *ctx, const lip_tensor *t, lip_dtype dtype, const char *what);

/* ---- GEMM tuning table (written by lipcl-bench gemm, read by lip_gemm) -------------------- */

/** Path recorded for this device and shape, LIP_GEMM_AUTO if no entry applies. */
lip_gemm_path lip_gemm_choice_lookup(lip_context *ctx, int trans_a, int trans_b, size_t m, size_t n, size_t k);
/** Path of the tuning file in the cache directory, NULL when the disk cache is off. Caller frees. */
char *lip_gemm_tuning_path(const lip_context *ctx);
/** lip_gemm with a forced path (LIP_GEMM_CLBLAST or LIP_GEMM_OWN); used by the benchmark. */
lip_status lip_gemm_path_run(lip_context *ctx, lip_gemm_path path, lip_transpose trans_a, lip_transpose trans_b,
                             size_t m, size_t n, size_t k, float alpha, const lip_tensor *a, size_t a_offset,
                             size_t lda, const lip_tensor *b, size_t b_offset, size_t ldb, float beta,
                             lip_tensor *c, size_t c_offset, size_t ldc);
/** The -D string of kernels/matmul.cl's program for a transposition (what lip_context_warm builds). */
const char *lip_gemm_program_defines(int trans_a, int trans_b);
/** Whether the library was built with CLBlast. */
int lip_have_clblast(void);

/** Seed the context's random stream (splitmix64 expansion of `seed`). */
void lip_random_init_state(lip_context *ctx, uint64_t seed);

/* ---- small utilities ---------------------------------------------------------------------- */

char *lip_strdup(const char *s);
/** printf into a fresh malloc'ed string. */
char *lip_asprintf(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
/** 64-bit FNV-1a, continuing from `h` (start with LIP_FNV_INIT). */
#define LIP_FNV_INIT 14695981039346656037ULL
uint64_t lip_fnv1a(uint64_t h, const void *data, size_t size);
/** Read a whole file; *size may be NULL. Caller frees. LIP_ERR_IO with the path on failure. */
lip_status lip_read_file(lip_context *ctx, const char *path, char **data, size_t *size);
/** Write a file atomically (temp file in the same folder, then rename). */
lip_status lip_write_file_atomic(lip_context *ctx, const char *path, const void *data, size_t size);
/** mkdir -p */
int lip_mkdirs(const char *path);

/** A temporary reshape of a tensor the caller passed as const (shape metadata only, no data moves);
 *  undo it with lip_tensor_view_restore before returning. NULL tensors give a no-op view. */
typedef struct tensor_view {
    lip_tensor *t;
    int ndim;
    size_t shape[LIP_MAX_DIMS];
} tensor_view;
tensor_view lip_tensor_view(const lip_tensor *t, int ndim, const size_t *shape);
void lip_tensor_view_restore(tensor_view v);

/** Rows first .. first + rows − 1 along axis 0 of t, as a tensor value sharing t's buffer (its shape
 *  keeps t's other axes). The caller checks the bounds; the view must not outlive t nor be freed. It
 *  lets a buffer sized for the largest batch serve a smaller one, and a long tensor be cut in chunks. */
lip_tensor lip_tensor_rows(const lip_tensor *t, size_t first, size_t rows);

#endif
