/* lipcl — kernel programs: sources (embedded or LIPCL_KERNEL_DIR), build options in one place,
 * the per-context memory cache and the on-disk binary cache (one file per key, temp + rename). */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

#define LIP_KERNELS_PER_PROGRAM 32

struct lip_program_entry {
    char *label;   /* family or caller-given label */
    char *defines; /* as given ("" for none) */
    uint64_t source_hash;
    cl_program program;
    char *kernel_names[LIP_KERNELS_PER_PROGRAM];
    cl_kernel kernels[LIP_KERNELS_PER_PROGRAM];
    int kernel_count;
    lip_program_entry *next;
};


static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

char *lip_program_options(const lip_context *ctx, const char *defines) {
    /* OpenCL C 1.2 everywhere we can: it is what PoCL and every vendor support. */
    const char *std = strstr(ctx->info.opencl_c_version, "OpenCL C 1.0") ? "" : "-cl-std=CL1.2";
    /* No fast-math by default: σ and Björck accuracy is what the Lipschitz bound rests on. */
    const char *fast = ctx->config.fast_math ? " -cl-fast-relaxed-math" : "";
    return lip_asprintf("%s%s%s%s%s%s", std, fast, defines && *defines ? " " : "", defines ? defines : "",
                        ctx->user_build_options ? " " : "", ctx->user_build_options ? ctx->user_build_options : "");
}

lip_status lip_kernel_source(lip_context *ctx, const char *family, char **out) {
    *out = NULL;
    if (ctx->kernel_dir) {
        char *path = lip_asprintf("%s/%s.cl", ctx->kernel_dir, family);
        if (!path) return lip_set_error(ctx, LIP_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
        lip_status st = lip_read_file(ctx, path, out, NULL);
        if (st == LIP_ERR_IO)
            st = lip_set_error(ctx, LIP_ERR_KERNEL_NOT_FOUND,
                               "kernel family '%s': cannot read '%s' (LIPCL_KERNEL_DIR is '%s')", family, path,
                               ctx->kernel_dir);
        free(path);
        return st;
    }
    for (size_t i = 0; i < lip_embedded_source_count; i++)
        if (strcmp(lip_embedded_sources[i].family, family) == 0) {
            *out = lip_strdup(lip_embedded_sources[i].source);
            return *out ? LIP_OK : lip_set_error(ctx, LIP_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
        }
    return lip_set_error(ctx, LIP_ERR_KERNEL_NOT_FOUND, "kernel family '%s' is not among the embedded kernels",
                         family);
}

/* ---- on-disk binary cache ------------------------------------------------------------------ */

static const char cache_magic[8] = {'L', 'I', 'P', 'C', 'L', 'B', 'I', 'N'};
#define CACHE_FORMAT 1u
#define CACHE_HEADER 32 /* magic 8, format u32, reserved u32, payload size u64, payload FNV u64 */

static void put_u64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static uint64_t get_u64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

/* Key: platform, device, vendor id, driver, lipcl version, options and the final source. */
static char *cache_path(const lip_context *ctx, const char *label, const char *options, const char *source) {
    const char *ver = lip_version_string();
    uint64_t h1 = LIP_FNV_INIT, h2 = 0x84222325cbf29ce4ULL;
    const char *parts[] = {ctx->device_key, ver, options, source};
    for (size_t i = 0; i < 4; i++) {
        size_t n = strlen(parts[i]) + 1; /* the NUL separates parts */
        h1 = lip_fnv1a(h1, parts[i], n);
        h2 = lip_fnv1a(h2 ^ (uint64_t)i, parts[i], n);
    }
    char safe[48];
    size_t j = 0;
    for (const char *p = label; *p && j < sizeof safe - 1; p++)
        safe[j++] = (char)((*p == '/' || *p == ' ' || *p == '.') ? '_' : *p);
    safe[j] = '\0';
    return lip_asprintf("%s/%s-%016llx%016llx.bin", ctx->cache_dir, safe, (unsigned long long)h1,
                        (unsigned long long)h2);
}

/* A verified payload from the cache file, or NULL (missing, truncated, corrupt). */
static unsigned char *cache_read(lip_context *ctx, const char *path, size_t *size, int *corrupt) {
    char *data = NULL;
    size_t n = 0;
    *corrupt = 0;
    FILE *probe = fopen(path, "rb");
    if (!probe) return NULL;
    fclose(probe);
    char saved[LIP_MSG_SIZE];
    memcpy(saved, ctx->last_error, sizeof saved); /* a cache miss is not an error */
    lip_status st = lip_read_file(ctx, path, &data, &n);
    memcpy(ctx->last_error, saved, sizeof saved);
    if (st != LIP_OK) return NULL;
    const unsigned char *u = (const unsigned char *)data;
    if (n < CACHE_HEADER || memcmp(u, cache_magic, 8) != 0 || get_u64(u + 16) != n - CACHE_HEADER ||
        get_u64(u + 24) != lip_fnv1a(LIP_FNV_INIT, u + CACHE_HEADER, n - CACHE_HEADER) ||
        (u[8] | (u[9] << 8)) != CACHE_FORMAT) {
        free(data);
        *corrupt = 1;
        return NULL;
    }
    unsigned char *payload = malloc(n - CACHE_HEADER);
    if (payload) memcpy(payload, u + CACHE_HEADER, n - CACHE_HEADER);
    free(data);
    *size = n - CACHE_HEADER;
    return payload;
}

static void cache_write(lip_context *ctx, const char *path, cl_program program) {
    size_t size = 0;
    if (clGetProgramInfo(program, CL_PROGRAM_BINARY_SIZES, sizeof size, &size, NULL) != CL_SUCCESS || size == 0)
        return;
    unsigned char *buf = malloc(CACHE_HEADER + size);
    if (!buf) return;
    unsigned char *bin = buf + CACHE_HEADER;
    if (clGetProgramInfo(program, CL_PROGRAM_BINARIES, sizeof bin, &bin, NULL) != CL_SUCCESS) {
        free(buf);
        return;
    }
    memset(buf, 0, CACHE_HEADER);
    memcpy(buf, cache_magic, 8);
    buf[8] = (unsigned char)CACHE_FORMAT;
    put_u64(buf + 16, size);
    put_u64(buf + 24, lip_fnv1a(LIP_FNV_INIT, bin, size));
    char saved[LIP_MSG_SIZE];
    memcpy(saved, ctx->last_error, sizeof saved); /* an unwritable cache is a warning, not an error */
    if (lip_write_file_atomic(ctx, path, buf, CACHE_HEADER + size) == LIP_OK)
        ctx->cache_stats.disk_writes++;
    else
        lip_log(ctx, LIP_LOG_WARN, "program cache: %s", ctx->last_error);
    memcpy(ctx->last_error, saved, sizeof saved);
    free(buf);
}

lip_status lip_context_cache_clear(lip_context *ctx) {
    if (!ctx) return LIP_ERR_NULL;
    if (!ctx->disk_cache) return LIP_OK;
    DIR *d = opendir(ctx->cache_dir);
    if (!d) return LIP_OK;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        int ours = (n > 4 && strcmp(e->d_name + n - 4, ".bin") == 0) || strncmp(e->d_name, "gemm-", 5) == 0;
        if (!ours) continue;
        char *p = lip_asprintf("%s/%s", ctx->cache_dir, e->d_name);
        if (p) remove(p);
        free(p);
    }
    closedir(d);
    free(ctx->gemm_choices);
    ctx->gemm_choices = NULL;
    ctx->gemm_choice_count = 0;
    ctx->gemm_choices_loaded = 0;
    return LIP_OK;
}

/* ---- building --------------------------------------------------------------------------------- */

static lip_status build_failed(lip_context *ctx, cl_program program, cl_int err, const char *label,
                               const char *options) {
    size_t n = 0;
    char *log = NULL;
    if (clGetProgramBuildInfo(program, ctx->device, CL_PROGRAM_BUILD_LOG, 0, NULL, &n) == CL_SUCCESS && n > 0) {
        log = malloc(n + 1);
        if (log && clGetProgramBuildInfo(program, ctx->device, CL_PROGRAM_BUILD_LOG, n, log, NULL) != CL_SUCCESS)
            log[0] = '\0';
        if (log) log[n] = '\0';
    }
    free(ctx->last_build_log);
    ctx->last_build_log = log ? log : lip_strdup("");
    return lip_set_error(ctx, LIP_ERR_BUILD, "building kernel '%s' with options \"%s\" failed: %s (%d)\n%.3000s",
                         label, options, lip_cl_error_name(err), (int)err,
                         ctx->last_build_log ? ctx->last_build_log : "");
}

static lip_status build_program(lip_context *ctx, const char *label, const char *source, const char *defines,
                                cl_program *out) {
    *out = NULL;
    lip_status st = LIP_OK;
    cl_program program = NULL;
    unsigned char *binary = NULL;
    char *path = NULL;
    char *options = lip_program_options(ctx, defines);
    if (!options) return lip_set_error(ctx, LIP_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    double t0 = now_seconds();
    if (ctx->disk_cache) path = cache_path(ctx, label, options, source);
    if (path) {
        size_t size = 0;
        int corrupt = 0;
        binary = cache_read(ctx, path, &size, &corrupt);
        if (binary) {
            cl_int err = CL_SUCCESS, bin_status = CL_SUCCESS;
            const unsigned char *bins[1] = {binary};
            program = clCreateProgramWithBinary(ctx->cl_ctx, 1, &ctx->device, &size, bins, &bin_status, &err);
            if (err == CL_SUCCESS && bin_status == CL_SUCCESS &&
                clBuildProgram(program, 1, &ctx->device, options, NULL, NULL) == CL_SUCCESS) {
                ctx->cache_stats.disk_hits++;
                goto done;
            }
            if (program) clReleaseProgram(program);
            program = NULL;
            corrupt = 1;
        }
        if (corrupt) {
            ctx->cache_stats.disk_rejected++;
            lip_log(ctx, LIP_LOG_WARN, "program cache: '%s' is corrupt or refused by the driver; rebuilding", path);
        }
    }
    if (!ctx->info.compiler_available) {
        st = lip_set_error(ctx, LIP_ERR_NO_COMPILER,
                           "kernel '%s': device '%s' has no OpenCL compiler and no valid prebuilt binary at '%s'",
                           label, ctx->info.device_name, path ? path : "(disk cache disabled)");
        goto fail;
    }
    {
        cl_int err = CL_SUCCESS;
        program = clCreateProgramWithSource(ctx->cl_ctx, 1, &source, NULL, &err);
        LIP_CL_GOTO(ctx, st, err);
        err = clBuildProgram(program, 1, &ctx->device, options, NULL, NULL);
        if (err != CL_SUCCESS) {
            st = build_failed(ctx, program, err, label, options);
            goto fail;
        }
        ctx->cache_stats.builds++;
        if (path) cache_write(ctx, path, program);
    }
done:
    ctx->cache_stats.build_seconds += now_seconds() - t0;
    lip_log(ctx, LIP_LOG_DEBUG, "program '%s' (%s) ready in %.3f s", label, options, now_seconds() - t0);
    *out = program;
    free(binary);
    free(path);
    free(options);
    return LIP_OK;
fail:
    if (program) clReleaseProgram(program);
    free(binary);
    free(path);
    free(options);
    return st;
}

static lip_status program_get(lip_context *ctx, const char *label, const char *source, const char *defines,
                              lip_program_entry **out) {
    const char *defs = defines ? defines : "";
    uint64_t h = lip_fnv1a(LIP_FNV_INIT, source, strlen(source));
    for (lip_program_entry *e = ctx->programs; e; e = e->next)
        if (e->source_hash == h && strcmp(e->label, label) == 0 && strcmp(e->defines, defs) == 0) {
            ctx->cache_stats.memory_hits++;
            *out = e;
            return LIP_OK;
        }
    cl_program program = NULL;
    LIP_TRY(build_program(ctx, label, source, defs, &program));
    lip_program_entry *e = calloc(1, sizeof *e);
    if (e) {
        e->label = lip_strdup(label);
        e->defines = lip_strdup(defs);
    }
    if (!e || !e->label || !e->defines) {
        if (e) {
            free(e->label);
            free(e->defines);
        }
        free(e);
        clReleaseProgram(program);
        return lip_set_error(ctx, LIP_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    }
    e->source_hash = h;
    e->program = program;
    e->next = ctx->programs;
    ctx->programs = e;
    *out = e;
    return LIP_OK;
}

static lip_status kernel_from(lip_context *ctx, lip_program_entry *e, const char *entry, cl_kernel *out) {
    for (int i = 0; i < e->kernel_count; i++)
        if (strcmp(e->kernel_names[i], entry) == 0) {
            *out = e->kernels[i];
            return LIP_OK;
        }
    LIP_CHECK(ctx, e->kernel_count < LIP_KERNELS_PER_PROGRAM, LIP_ERR_INTERNAL,
              "program '%s' has more than %d kernels in use", e->label, LIP_KERNELS_PER_PROGRAM);
    cl_int err = CL_SUCCESS;
    cl_kernel k = clCreateKernel(e->program, entry, &err);
    if (err == CL_INVALID_KERNEL_NAME)
        return lip_set_error(ctx, LIP_ERR_KERNEL_NOT_FOUND, "kernel family '%s' has no entry point '%s'", e->label,
                             entry);
    LIP_CL(ctx, err);
    e->kernel_names[e->kernel_count] = lip_strdup(entry);
    if (!e->kernel_names[e->kernel_count]) {
        clReleaseKernel(k);
        return lip_set_error(ctx, LIP_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    }
    e->kernels[e->kernel_count++] = k;
    *out = k;
    return LIP_OK;
}

lip_status lip_kernel_get_source(lip_context *ctx, const char *label, const char *source, const char *entry,
                                 const char *defines, cl_kernel *out) {
    lip_program_entry *e = NULL;
    LIP_TRY(program_get(ctx, label, source, defines, &e));
    return kernel_from(ctx, e, entry, out);
}

lip_status lip_kernel_get(lip_context *ctx, const char *family, const char *entry, const char *defines,
                          cl_kernel *out) {
    const char *defs = defines ? defines : "";
    /* Fast path: a program of this family and defines is already built (no source reload). */
    for (lip_program_entry *e = ctx->programs; e; e = e->next)
        if (strcmp(e->label, family) == 0 && strcmp(e->defines, defs) == 0) {
            ctx->cache_stats.memory_hits++;
            return kernel_from(ctx, e, entry, out);
        }
    char *source = NULL;
    LIP_TRY(lip_kernel_source(ctx, family, &source));
    lip_status st = lip_kernel_get_source(ctx, family, source, entry, defs, out);
    free(source);
    return st;
}

void lip_programs_release(lip_context *ctx) {
    lip_program_entry *e = ctx->programs;
    while (e) {
        lip_program_entry *next = e->next;
        for (int i = 0; i < e->kernel_count; i++) {
            clReleaseKernel(e->kernels[i]);
            free(e->kernel_names[i]);
        }
        clReleaseProgram(e->program);
        free(e->label);
        free(e->defines);
        free(e);
        e = next;
    }
    ctx->programs = NULL;
}

static lip_status warm_one(lip_context *ctx, const char *family, const char *defines) {
    char *source = NULL;
    LIP_TRY(lip_kernel_source(ctx, family, &source));
    lip_program_entry *e = NULL;
    lip_status st = program_get(ctx, family, source, defines, &e);
    free(source);
    return st;
}

lip_status lip_context_warm(lip_context *ctx) {
    if (!ctx) return LIP_ERR_NULL;
    for (size_t i = 0; i < lip_embedded_source_count; i++) {
        const char *family = lip_embedded_sources[i].family;
        if (strcmp(family, "matmul") == 0) {
            /* GEMM builds one program per transposition, with the defines blas.c uses. */
            for (int t = 0; t < 4; t++) LIP_TRY(warm_one(ctx, family, lip_gemm_program_defines(t >> 1, t & 1)));
        } else {
            LIP_TRY(warm_one(ctx, family, ""));
        }
    }
    return LIP_OK;
}
