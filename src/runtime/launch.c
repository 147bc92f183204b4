/* lipcl — the one kernel-launch helper, and the profiler it feeds: events are attached only
 * when profiling is on, read after the step's sync, aggregated by label and released. */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct lip_profile_entry {
    char *name;
    unsigned long count;
    double total_ms;
    lip_profile_entry *next;
};

int lip_profiling(const lip_context *ctx) { return ctx->profile; }

static void add_row(lip_context *ctx, const char *name, double ms) {
    lip_profile_entry *e = ctx->profile_rows;
    while (e && strcmp(e->name, name) != 0) e = e->next;
    if (!e) {
        e = calloc(1, sizeof *e);
        if (!e) return;
        e->name = lip_strdup(name);
        if (!e->name) {
            free(e);
            return;
        }
        e->next = ctx->profile_rows;
        ctx->profile_rows = e;
    }
    e->count++;
    e->total_ms += ms;
}

void lip_profile_collect(lip_context *ctx) {
    for (size_t i = 0; i < ctx->pending_count; i++) {
        cl_ulong start = 0, end = 0;
        cl_event ev = ctx->pending_events[i];
        if (clWaitForEvents(1, &ev) == CL_SUCCESS &&
            clGetEventProfilingInfo(ev, CL_PROFILING_COMMAND_START, sizeof start, &start, NULL) == CL_SUCCESS &&
            clGetEventProfilingInfo(ev, CL_PROFILING_COMMAND_END, sizeof end, &end, NULL) == CL_SUCCESS)
            add_row(ctx, ctx->pending_labels[i], end >= start ? (double)(end - start) * 1e-6 : 0.0);
        clReleaseEvent(ev);
        free(ctx->pending_labels[i]);
    }
    ctx->pending_count = 0;
}

void lip_profile_record(lip_context *ctx, const char *label, cl_event event) {
    if (!event) return;
    if (!ctx->profile) {
        clReleaseEvent(event);
        return;
    }
    if (ctx->pending_count == ctx->pending_capacity) {
        /* Bound the memory of a long run without a sync: collect (waits) when the list is full. */
        if (ctx->pending_capacity >= 4096) lip_profile_collect(ctx);
        if (ctx->pending_count == ctx->pending_capacity) {
            size_t cap = ctx->pending_capacity ? 2 * ctx->pending_capacity : 256;
            cl_event *ev = realloc(ctx->pending_events, cap * sizeof *ev);
            if (ev) ctx->pending_events = ev;
            char **lb = realloc(ctx->pending_labels, cap * sizeof *lb);
            if (lb) ctx->pending_labels = lb;
            if (!ev || !lb) {
                clReleaseEvent(event);
                return;
            }
            ctx->pending_capacity = cap;
        }
    }
    char *name = lip_strdup(label);
    if (!name) {
        clReleaseEvent(event);
        return;
    }
    ctx->pending_events[ctx->pending_count] = event;
    ctx->pending_labels[ctx->pending_count++] = name;
}

void lip_profile_release(lip_context *ctx) {
    lip_profile_collect(ctx);
    free(ctx->pending_events);
    free(ctx->pending_labels);
    ctx->pending_events = NULL;
    ctx->pending_labels = NULL;
    ctx->pending_capacity = 0;
    lip_profile_entry *e = ctx->profile_rows;
    while (e) {
        lip_profile_entry *next = e->next;
        free(e->name);
        free(e);
        e = next;
    }
    ctx->profile_rows = NULL;
}

static int by_total_desc(const void *a, const void *b) {
    const lip_profile_row *x = a, *y = b;
    return (x->total_ms < y->total_ms) - (x->total_ms > y->total_ms);
}

lip_status lip_context_profile(lip_context *ctx, lip_profile_fn fn, void *user) {
    if (!ctx || !fn) return LIP_ERR_NULL;
    LIP_CHECK(ctx, ctx->profile, LIP_ERR_UNSUPPORTED,
              "profiling is off: create the context with config.profile = 1 or LIPCL_PROFILE=1");
    LIP_CL(ctx, clFinish(ctx->queue));
    lip_profile_collect(ctx);
    size_t n = 0;
    for (lip_profile_entry *e = ctx->profile_rows; e; e = e->next) n++;
    if (n == 0) return LIP_OK;
    lip_profile_row *rows = malloc(n * sizeof *rows);
    LIP_CHECK(ctx, rows, LIP_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    size_t i = 0;
    for (lip_profile_entry *e = ctx->profile_rows; e; e = e->next, i++) {
        rows[i].name = e->name;
        rows[i].count = e->count;
        rows[i].total_ms = e->total_ms;
        rows[i].mean_ms = e->count ? e->total_ms / (double)e->count : 0.0;
    }
    qsort(rows, n, sizeof *rows, by_total_desc);
    for (i = 0; i < n; i++) fn(&rows[i], user);
    free(rows);
    return LIP_OK;
}

lip_status lip_context_profile_reset(lip_context *ctx) {
    if (!ctx) return LIP_ERR_NULL;
    if (!ctx->profile) return LIP_OK;
    LIP_CL(ctx, clFinish(ctx->queue));
    lip_profile_release(ctx);
    return LIP_OK;
}

lip_status lip_launch(lip_context *ctx, cl_kernel kernel, const char *label, cl_uint dims, const size_t *global,
                      const size_t *local, size_t nargs, const lip_karg *args) {
    LIP_CHECK(ctx, dims >= 1 && dims <= 3 && global && local, LIP_ERR_INTERNAL,
              "launch of '%s': bad work dimensions", label);
    for (size_t i = 0; i < nargs; i++) {
        cl_int err = clSetKernelArg(kernel, (cl_uint)i, args[i].size, args[i].value);
        if (err != CL_SUCCESS)
            return lip_set_error(ctx, LIP_ERR_OPENCL, "kernel '%s': setting argument %zu (%zu bytes) failed: %s",
                                 label, i, args[i].size, lip_cl_error_name(err));
    }
    size_t rounded[3];
    for (cl_uint d = 0; d < dims; d++) {
        LIP_CHECK(ctx, local[d] > 0, LIP_ERR_INTERNAL, "launch of '%s': local size 0 in dimension %u", label, d);
        if (global[d] == 0) return LIP_OK; /* nothing to do */
        rounded[d] = (global[d] + local[d] - 1) / local[d] * local[d];
    }
    cl_event ev = NULL;
    cl_int err = clEnqueueNDRangeKernel(ctx->queue, kernel, dims, NULL, rounded, local, 0, NULL,
                                        ctx->profile ? &ev : NULL);
    if (err != CL_SUCCESS) {
        lip_status st = lip_cl_fail(ctx, err, "clEnqueueNDRangeKernel", __FILE__, __LINE__);
        char cause[LIP_MSG_SIZE];
        memcpy(cause, ctx->last_error, sizeof cause);
        return lip_set_error(ctx, st, "kernel '%s': %s", label, cause);
    }
    if (ev) lip_profile_record(ctx, label, ev);
    if (ctx->debug_bounds) {
        LIP_CL(ctx, clFinish(ctx->queue));
        LIP_TRY(lip_tensor_check_guards(ctx, label));
    }
    return LIP_OK;
}
