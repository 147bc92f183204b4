/* lipcl — context life cycle: configuration from arguments and environment, device and queue,
 * error messages, logging, memory accounting and the refusal to free while objects live. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

lip_context_config lip_context_config_default(void) {
    lip_context_config c;
    memset(&c, 0, sizeof c);
    c.profile = -1;
    c.cache_disable = -1;
    c.debug_bounds = -1;
    c.gemm_path = LIP_GEMM_AUTO;
    c.seed = 42;
    c.log_level = LIP_LOG_INFO;
    return c;
}

static void vset_error(lip_context *ctx, const char *fmt, va_list ap) {
    if (!ctx) return;
    vsnprintf(ctx->last_error, sizeof ctx->last_error, fmt, ap);
}

lip_status lip_set_error(lip_context *ctx, lip_status status, const char *fmt, ...) {
    if (ctx) {
        va_list ap;
        va_start(ap, fmt);
        vset_error(ctx, fmt, ap);
        va_end(ap);
        lip_log(ctx, LIP_LOG_DEBUG, "%s: %s", lip_status_name(status), ctx->last_error);
    }
    return status;
}

lip_status lip_cl_fail(lip_context *ctx, cl_int err, const char *call, const char *file, int line) {
    lip_status st = LIP_ERR_OPENCL;
    if (err == CL_MEM_OBJECT_ALLOCATION_FAILURE || err == CL_OUT_OF_RESOURCES || err == CL_INVALID_BUFFER_SIZE)
        st = LIP_ERR_OUT_OF_DEVICE_MEMORY;
    if (err == CL_OUT_OF_HOST_MEMORY) st = LIP_ERR_OUT_OF_HOST_MEMORY;
    const char *base = strrchr(file, '/');
    return lip_set_error(ctx, st, "%s failed: %s (%d) at %s:%d", call, lip_cl_error_name(err), (int)err,
                         base ? base + 1 : file, line);
}

void lip_log(const lip_context *ctx, lip_log_level level, const char *fmt, ...) {
    if (!ctx || !ctx->config.log || level < ctx->config.log_level) return;
    char buf[LIP_MSG_SIZE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    ctx->config.log(level, buf, ctx->config.log_user);
}

const char *lip_context_last_error(const lip_context *ctx) { return ctx ? ctx->last_error : ""; }
const char *lip_context_last_build_log(const lip_context *ctx) {
    return ctx && ctx->last_build_log ? ctx->last_build_log : "";
}
void lip_context_clear_error(lip_context *ctx) {
    if (!ctx) return;
    ctx->last_error[0] = '\0';
    free(ctx->last_build_log);
    ctx->last_build_log = NULL;
}

/* Tri-state option: explicit 0/1 wins, else the environment variable ("1", "true", "on"). */
static int env_flag(int configured, const char *name) {
    if (configured >= 0) return configured != 0;
    const char *v = getenv(name);
    return v && (strcmp(v, "1") == 0 || strcmp(v, "true") == 0 || strcmp(v, "on") == 0 || strcmp(v, "yes") == 0);
}

static const char *env_or(const char *configured, const char *name) {
    if (configured) return configured;
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static char *default_cache_dir(void) {
    const char *x = getenv("XDG_CACHE_HOME");
    if (x && *x) return lip_asprintf("%s/lipcl", x);
    const char *home = getenv("HOME");
    if (home && *home) return lip_asprintf("%s/.cache/lipcl", home);
    return NULL;
}

/* Everything after the OpenCL objects exist: options, cache folder, device key. */
static lip_status finish_setup(lip_context *ctx, const lip_context_config *cfg) {
    ctx->config = cfg ? *cfg : lip_context_config_default();
    ctx->config.device = NULL;
    ctx->profile = env_flag(ctx->config.profile, "LIPCL_PROFILE");
    ctx->debug_bounds = env_flag(ctx->config.debug_bounds, "LIPCL_DEBUG_BOUNDS");
    ctx->disk_cache = !env_flag(ctx->config.cache_disable, "LIPCL_CACHE_DISABLE");
    ctx->kernel_dir = lip_strdup(env_or(ctx->config.kernel_dir, "LIPCL_KERNEL_DIR"));
    ctx->user_build_options = lip_strdup(env_or(ctx->config.build_options, "LIPCL_BUILD_OPTIONS"));
    const char *dir = env_or(ctx->config.cache_dir, "LIPCL_CACHE_DIR");
    ctx->cache_dir = dir ? lip_strdup(dir) : default_cache_dir();
    if (!ctx->cache_dir) ctx->disk_cache = 0;
    ctx->config.kernel_dir = ctx->kernel_dir;
    ctx->config.cache_dir = ctx->cache_dir;
    ctx->config.build_options = ctx->user_build_options;
    lip_random_init_state(ctx, ctx->config.seed);
    lip_device_fill_info(ctx->platform, ctx->device, &ctx->info);
    ctx->memory_limit = ctx->config.device_memory_limit ? ctx->config.device_memory_limit
                                                         : (size_t)ctx->info.global_mem_bytes;
    /* PoCL names its CPU device "pthread-<cpu>"; the prefix says nothing about the binary. */
    const char *dname = ctx->info.device_name;
    if (strncmp(dname, "pthread-", 8) == 0) dname += 8;
    snprintf(ctx->device_key, sizeof ctx->device_key, "%s|%s|%s|%u|%s|%s", ctx->info.platform_name,
             ctx->info.platform_version, dname, ctx->info.vendor_id, ctx->info.driver_version,
             ctx->info.device_version);
    lip_log(ctx, LIP_LOG_INFO, "lipcl %s on '%s' (%s)%s", lip_version_string(), ctx->info.device_name,
            ctx->info.platform_name, ctx->info.is_gpu ? "" : " — not a GPU");
    if (ctx->disk_cache && lip_mkdirs(ctx->cache_dir) != 0) {
        lip_log(ctx, LIP_LOG_WARN, "cache directory '%s' cannot be created; building without a disk cache",
                ctx->cache_dir);
        ctx->disk_cache = 0;
    }
    return LIP_OK;
}

static void context_destroy(lip_context *ctx) {
    if (!ctx) return;
    if (ctx->queue) clFinish(ctx->queue);
    lip_profile_release(ctx);
    lip_programs_release(ctx);
    if (ctx->queue) clReleaseCommandQueue(ctx->queue);
    if (ctx->cl_ctx) clReleaseContext(ctx->cl_ctx);
    free(ctx->kernel_dir);
    free(ctx->cache_dir);
    free(ctx->user_build_options);
    free(ctx->gemm_choices);
    free(ctx->last_build_log);
    free(ctx);
}

static void report_without_context(const lip_context_config *cfg, const char *msg) {
    if (cfg && cfg->log) cfg->log(LIP_LOG_ERROR, msg, cfg->log_user);
}

static cl_command_queue make_queue(cl_context c, cl_device_id d, int profile, cl_int *err) {
    cl_command_queue_properties props = profile ? CL_QUEUE_PROFILING_ENABLE : 0;
    /* clCreateCommandQueue is deprecated in 2.0 but present everywhere, and 1.2 is our target. */
    return clCreateCommandQueue(c, d, props, err);
}

lip_status lip_context_create(lip_context **out, const lip_context_config *config) {
    if (!out) return LIP_ERR_NULL;
    *out = NULL;
    lip_context *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return LIP_ERR_OUT_OF_HOST_MEMORY;
    char msg[512];
    int index = 0;
    lip_status st = lip_device_resolve(config ? config->device : NULL, &ctx->platform, &ctx->device, &index, msg,
                                       sizeof msg);
    if (st != LIP_OK) {
        report_without_context(config, msg);
        free(ctx);
        return st;
    }
    cl_int err = CL_SUCCESS;
    cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)ctx->platform, 0};
    ctx->cl_ctx = clCreateContext(props, 1, &ctx->device, NULL, NULL, &err);
    if (err == CL_SUCCESS) {
        int profile = env_flag(config ? config->profile : -1, "LIPCL_PROFILE");
        ctx->queue = make_queue(ctx->cl_ctx, ctx->device, profile, &err);
    }
    if (err != CL_SUCCESS) {
        snprintf(msg, sizeof msg, "creating the OpenCL context or queue failed: %s (%d)", lip_cl_error_name(err),
                 (int)err);
        report_without_context(config, msg);
        context_destroy(ctx);
        return err == CL_OUT_OF_HOST_MEMORY ? LIP_ERR_OUT_OF_HOST_MEMORY : LIP_ERR_OPENCL;
    }
    st = finish_setup(ctx, config);
    if (st != LIP_OK) {
        context_destroy(ctx);
        return st;
    }
    *out = ctx;
    return LIP_OK;
}

lip_status lip_context_create_from_cl(lip_context **out, cl_context cl_ctx, cl_device_id device,
                                      cl_command_queue queue, const lip_context_config *config) {
    if (!out) return LIP_ERR_NULL;
    *out = NULL;
    if (!cl_ctx || !device) {
        report_without_context(config, "lip_context_create_from_cl: cl_context and device are required");
        return LIP_ERR_NULL;
    }
    lip_context *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return LIP_ERR_OUT_OF_HOST_MEMORY;
    cl_int err = clGetDeviceInfo(device, CL_DEVICE_PLATFORM, sizeof ctx->platform, &ctx->platform, NULL);
    if (err != CL_SUCCESS) {
        free(ctx);
        report_without_context(config, "lip_context_create_from_cl: the device handle is not valid");
        return LIP_ERR_INVALID_ARGUMENT;
    }
    if (queue) {
        cl_command_queue_properties qp = 0;
        clGetCommandQueueInfo(queue, CL_QUEUE_PROPERTIES, sizeof qp, &qp, NULL);
        if (qp & CL_QUEUE_OUT_OF_ORDER_EXEC_MODE_ENABLE) {
            free(ctx);
            report_without_context(config, "lip_context_create_from_cl: the queue must be in-order (CLBlast takes no "
                                           "wait lists)");
            return LIP_ERR_INVALID_ARGUMENT;
        }
    }
    clRetainContext(cl_ctx);
    ctx->cl_ctx = cl_ctx;
    ctx->device = device;
    if (queue) {
        clRetainCommandQueue(queue);
        ctx->queue = queue;
        cl_command_queue_properties qp = 0;
        clGetCommandQueueInfo(queue, CL_QUEUE_PROPERTIES, sizeof qp, &qp, NULL);
        lip_context_config c = config ? *config : lip_context_config_default();
        c.profile = (qp & CL_QUEUE_PROFILING_ENABLE) ? (c.profile != 0) : 0; /* can't profile without it */
        lip_status st = finish_setup(ctx, &c);
        if (st != LIP_OK) {
            context_destroy(ctx);
            return st;
        }
    } else {
        int profile = env_flag(config ? config->profile : -1, "LIPCL_PROFILE");
        ctx->queue = make_queue(cl_ctx, device, profile, &err);
        if (err != CL_SUCCESS) {
            context_destroy(ctx);
            report_without_context(config, "lip_context_create_from_cl: creating a queue failed");
            return LIP_ERR_OPENCL;
        }
        lip_status st = finish_setup(ctx, config);
        if (st != LIP_OK) {
            context_destroy(ctx);
            return st;
        }
    }
    *out = ctx;
    return LIP_OK;
}

/* Sent to the log at release when profiling is on. */
static void log_profile_row(const lip_profile_row *row, void *user) {
    const lip_context *ctx = user;
    lip_log(ctx, LIP_LOG_INFO, "profile %-32s %8lu calls %12.3f ms total %10.4f ms mean", row->name, row->count,
            row->total_ms, row->mean_ms);
}

lip_status lip_context_free(lip_context *ctx) {
    if (!ctx) return LIP_OK;
    if (ctx->tensors || ctx->live_objects) {
        unsigned long n = 0;
        for (lip_tensor *t = ctx->tensors; t; t = t->next) n++;
        char shape[64] = "";
        if (ctx->tensors) lip_shape_string(ctx->tensors, shape, sizeof shape);
        return lip_set_error(ctx, LIP_ERR_BUSY,
                             "lip_context_free: %lu tensor%s (e.g. one of shape %s) and %lu other object%s made "
                             "from this context are still alive; free them first",
                             n, n == 1 ? "" : "s", ctx->tensors ? shape : "-", ctx->live_objects,
                             ctx->live_objects == 1 ? "" : "s");
    }
    if (ctx->profile && ctx->config.log) {
        lip_context_profile(ctx, log_profile_row, ctx);
    }
    context_destroy(ctx);
    return LIP_OK;
}

lip_status lip_context_device_info(const lip_context *ctx, lip_device_info *info) {
    if (!ctx || !info) return LIP_ERR_NULL;
    *info = ctx->info;
    return LIP_OK;
}

lip_status lip_context_cl(const lip_context *ctx, cl_context *cl_ctx, cl_device_id *device,
                          cl_command_queue *queue) {
    if (!ctx) return LIP_ERR_NULL;
    if (cl_ctx) *cl_ctx = ctx->cl_ctx;
    if (device) *device = ctx->device;
    if (queue) *queue = ctx->queue;
    return LIP_OK;
}

lip_status lip_context_finish(lip_context *ctx) {
    if (!ctx) return LIP_ERR_NULL;
    LIP_CL(ctx, clFinish(ctx->queue));
    if (ctx->profile) lip_profile_collect(ctx);
    if (ctx->debug_bounds) LIP_TRY(lip_tensor_check_guards(ctx, "the last sync"));
    return LIP_OK;
}

lip_status lip_context_memory(const lip_context *ctx, size_t *in_use, size_t *peak) {
    if (!ctx) return LIP_ERR_NULL;
    if (in_use) *in_use = ctx->memory_in_use;
    if (peak) *peak = ctx->memory_peak;
    return LIP_OK;
}

const char *lip_context_cache_dir(const lip_context *ctx) {
    return ctx && ctx->disk_cache ? ctx->cache_dir : NULL;
}

lip_status lip_context_cache_stats(const lip_context *ctx, lip_cache_stats *stats) {
    if (!ctx || !stats) return LIP_ERR_NULL;
    *stats = ctx->cache_stats;
    return LIP_OK;
}

lip_status lip_context_set_gemm_path(lip_context *ctx, lip_gemm_path path) {
    if (!ctx) return LIP_ERR_NULL;
    LIP_CHECK(ctx, path == LIP_GEMM_AUTO || path == LIP_GEMM_CLBLAST || path == LIP_GEMM_OWN,
              LIP_ERR_INVALID_ARGUMENT, "lip_context_set_gemm_path: unknown path %d", (int)path);
    ctx->config.gemm_path = path;
    return LIP_OK;
}
