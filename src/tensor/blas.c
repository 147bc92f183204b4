/* lipcl — GEMM: argument checks, the two paths (CLBlast and kernels/matmul.cl) and the per-device
 * tuning table written by `lipcl-bench gemm` that picks between them (read once, never timed here). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#ifdef LIPCL_HAVE_CLBLAST
#include <clblast_c.h>
#endif

/*
 * Our kernel, one program per transposition. The defines spell out every tunable so that the host,
 * which sizes the NDRange from them, and the kernel cannot disagree; they equal the defaults of
 * kernels/matmul.cl (measured in doc/tuning.md); lip_context_warm builds exactly these programs
 * through lip_gemm_program_defines.
 */
typedef struct gemm_variant {
    const char *defines;
    unsigned tm, tn;   /* block of a work-item: TM rows × TN columns (of Cᵀ for TT) */
    unsigned wgx, wgy; /* work-group size */
    int swap;          /* TT computes Cᵀ = B·A: dimension 0 runs over m, dimension 1 over n */
} gemm_variant;

static const gemm_variant own_variants[2][2] = {
    /* [trans_a][trans_b]: NN, NT, TN, TT */
    {{"-DTRANS_A=0 -DTRANS_B=0 -DTM=8 -DTN=32 -DVW=16 -DWGX=4 -DWGY=4", 8, 32, 4, 4, 0},
     {"-DTRANS_A=0 -DTRANS_B=1 -DTM=4 -DTN=4 -DVW=16 -DWGX=8 -DWGY=8", 4, 4, 8, 8, 0}},
    {{"-DTRANS_A=1 -DTRANS_B=0 -DTM=8 -DTN=32 -DVW=16 -DWGX=4 -DWGY=4", 8, 32, 4, 4, 0},
     {"-DTRANS_A=1 -DTRANS_B=1 -DTM=8 -DTN=32 -DVW=16 -DWGX=4 -DWGY=4", 8, 32, 4, 4, 1}},
};

const char *lip_gemm_program_defines(int trans_a, int trans_b) {
    return own_variants[trans_a != 0][trans_b != 0].defines;
}

/* One line of the tuning file (a flat array of these hangs off the context; freed with free()). */
struct lip_gemm_choice {
    int trans_a, trans_b;
    size_t m, n, k;
    lip_gemm_path path;                /* LIP_GEMM_OWN or LIP_GEMM_CLBLAST */
    double own_gflops, clblast_gflops; /* as measured by lipcl-bench (0: not measured) */
};

/* Whether CLBlast was compiled in (see internal.h). */
int lip_have_clblast(void) {
#ifdef LIPCL_HAVE_CLBLAST
    return 1;
#else
    return 0;
#endif
}

/* ---- argument checks ------------------------------------------------------------------------- */

/* Elements from the offset that a rows×cols matrix with leading dimension ld spans:
 * (rows-1)·ld + cols; SIZE_MAX on overflow (never fits). rows, cols ≥ 1. */
static size_t span_elements(size_t rows, size_t cols, size_t ld) {
    if (rows - 1 != 0 && ld > (SIZE_MAX - cols) / (rows - 1)) return SIZE_MAX;
    return (rows - 1) * ld + cols;
}

/* op(X) is op_rows×op_cols; stored (row-major) as op_rows×op_cols, or op_cols×op_rows when transposed. */
static lip_status check_operand(lip_context *ctx, const char *fn, const char *name, const char *ldname,
                                const lip_tensor *t, size_t offset, size_t op_rows, size_t op_cols, size_t ld,
                                int trans) {
    const size_t rows = trans ? op_cols : op_rows, cols = trans ? op_rows : op_cols;
    const char *how = trans ? "trans" : "no trans";
    if (ld < cols && strcmp(name, "C") == 0)
        return lip_set_error(ctx, LIP_ERR_INVALID_ARGUMENT, "%s: ldc %zu is smaller than n = %zu", fn, ld, cols);
    LIP_CHECK(ctx, ld >= cols, LIP_ERR_INVALID_ARGUMENT,
              "%s: %s %zu is smaller than %zu, the row length of %s as stored (op(%s) %zux%zu, %s)", fn, ldname, ld,
              cols, name, name, op_rows, op_cols, how);
    LIP_CHECK(ctx, ld <= 0xffffffffu, LIP_ERR_INVALID_ARGUMENT, "%s: %s %zu exceeds the 32-bit kernel limit", fn,
              ldname, ld);
    const size_t need = span_elements(rows, cols, ld);
    if (offset <= t->count && need <= t->count - offset) return LIP_OK;
    if (strcmp(name, "C") == 0)
        return lip_set_error(ctx, LIP_ERR_SHAPE,
                             "%s: C needs %zu elements from offset %zu (C %zux%zu, ldc %zu) but the tensor has %zu", fn,
                             need, offset, rows, cols, ld, t->count);
    return lip_set_error(ctx, LIP_ERR_SHAPE,
                         "%s: %s needs %zu elements from offset %zu (op(%s) %zux%zu, %s %zu, %s) "
                         "but the tensor has %zu",
                         fn, name, need, offset, name, op_rows, op_cols, ldname, ld, how, t->count);
}

static lip_status gemm_check(lip_context *ctx, const char *fn, lip_transpose trans_a, lip_transpose trans_b,
                             size_t m, size_t n, size_t k, const lip_tensor *a, size_t a_offset, size_t lda,
                             const lip_tensor *b, size_t b_offset, size_t ldb, const lip_tensor *c, size_t c_offset,
                             size_t ldc) {
    char what[64];
    snprintf(what, sizeof what, "%s: A", fn);
    LIP_TRY(lip_check_tensor(ctx, a, LIP_FLOAT32, what));
    snprintf(what, sizeof what, "%s: B", fn);
    LIP_TRY(lip_check_tensor(ctx, b, LIP_FLOAT32, what));
    snprintf(what, sizeof what, "%s: C", fn);
    LIP_TRY(lip_check_tensor(ctx, c, LIP_FLOAT32, what));
    LIP_CHECK(ctx, trans_a == LIP_NO_TRANS || trans_a == LIP_TRANS, LIP_ERR_INVALID_ARGUMENT,
              "%s: trans_a is %d, expected LIP_NO_TRANS or LIP_TRANS", fn, (int)trans_a);
    LIP_CHECK(ctx, trans_b == LIP_NO_TRANS || trans_b == LIP_TRANS, LIP_ERR_INVALID_ARGUMENT,
              "%s: trans_b is %d, expected LIP_NO_TRANS or LIP_TRANS", fn, (int)trans_b);
    if (m == 0 || n == 0) return LIP_OK; /* C is empty: nothing is accessed */
    LIP_TRY(check_operand(ctx, fn, "C", "ldc", c, c_offset, m, n, ldc, 0));
    if (k == 0) return LIP_OK; /* A and B are not accessed */
    LIP_TRY(check_operand(ctx, fn, "A", "lda", a, a_offset, m, k, lda, trans_a == LIP_TRANS));
    LIP_TRY(check_operand(ctx, fn, "B", "ldb", b, b_offset, k, n, ldb, trans_b == LIP_TRANS));
    return LIP_OK;
}

/* ---- the two paths ----------------------------------------------------------------------------- */

static lip_status gemm_own(lip_context *ctx, lip_transpose trans_a, lip_transpose trans_b, size_t m, size_t n,
                           size_t k, float alpha, const lip_tensor *a, size_t a_offset, size_t lda,
                           const lip_tensor *b, size_t b_offset, size_t ldb, float beta, lip_tensor *c,
                           size_t c_offset, size_t ldc) {
    const gemm_variant *v = &own_variants[trans_a == LIP_TRANS][trans_b == LIP_TRANS];
    cl_kernel kernel = NULL;
    LIP_TRY(lip_kernel_get(ctx, "matmul", "lip_matmul_gemm", v->defines, &kernel));
    /* Every value below fits: each is bounded by a tensor's element count (< 2^31) or checked. */
    cl_uint um = (cl_uint)m, un = (cl_uint)n, uk = (cl_uint)k;
    cl_uint ao = (cl_uint)(a->offset + a_offset), bo = (cl_uint)(b->offset + b_offset),
            co = (cl_uint)(c->offset + c_offset);
    cl_uint ulda = (cl_uint)lda, uldb = (cl_uint)ldb, uldc = (cl_uint)ldc;
    if (k == 0) { /* A and B are not read */
        ao = bo = 0;
        ulda = uldb = 1;
    }
    cl_float al = alpha, be = beta;
    const size_t rows = v->swap ? n : m, cols = v->swap ? m : n;
    const size_t global[2] = {(cols + v->tn - 1) / v->tn, (rows + v->tm - 1) / v->tm};
    const size_t local[2] = {v->wgx, v->wgy};
    return lip_launch(ctx, kernel, "gemm/own", 2, global, local,
                      LIP_KARGS(LIP_KARG(um), LIP_KARG(un), LIP_KARG(uk), LIP_KARG(al), LIP_KARG(a->mem),
                                LIP_KARG(ao), LIP_KARG(ulda), LIP_KARG(b->mem), LIP_KARG(bo), LIP_KARG(uldb),
                                LIP_KARG(be), LIP_KARG(c->mem), LIP_KARG(co), LIP_KARG(uldc)));
}

#ifdef LIPCL_HAVE_CLBLAST
static const char *clblast_status_name(CLBlastStatusCode s) {
    switch (s) {
    case CLBlastNotImplemented: return "CLBlastNotImplemented";
    case CLBlastInvalidMatrixA: return "CLBlastInvalidMatrixA";
    case CLBlastInvalidMatrixB: return "CLBlastInvalidMatrixB";
    case CLBlastInvalidMatrixC: return "CLBlastInvalidMatrixC";
    case CLBlastInvalidDimension: return "CLBlastInvalidDimension";
    case CLBlastInvalidLeadDimA: return "CLBlastInvalidLeadDimA";
    case CLBlastInvalidLeadDimB: return "CLBlastInvalidLeadDimB";
    case CLBlastInvalidLeadDimC: return "CLBlastInvalidLeadDimC";
    case CLBlastInsufficientMemoryA: return "CLBlastInsufficientMemoryA";
    case CLBlastInsufficientMemoryB: return "CLBlastInsufficientMemoryB";
    case CLBlastInsufficientMemoryC: return "CLBlastInsufficientMemoryC";
    case CLBlastInsufficientMemoryTemp: return "CLBlastInsufficientMemoryTemp";
    case CLBlastInvalidLocalMemUsage: return "CLBlastInvalidLocalMemUsage";
    case CLBlastDatabaseError: return "CLBlastDatabaseError";
    case CLBlastUnknownError: return "CLBlastUnknownError";
    case CLBlastUnexpectedError: return "CLBlastUnexpectedError";
    default: return (int)s > -1000 ? lip_cl_error_name((cl_int)s) : "CLBlast error";
    }
}
#endif

/* CLBlast, row-major. LIP_OK when it ran; LIP_ERR_BLAS (with the reason in the log) when it refused,
 * so that the caller falls back to our kernel; other statuses are real failures. */
static lip_status gemm_clblast(lip_context *ctx, lip_transpose trans_a, lip_transpose trans_b, size_t m, size_t n,
                               size_t k, float alpha, const lip_tensor *a, size_t a_offset, size_t lda,
                               const lip_tensor *b, size_t b_offset, size_t ldb, float beta, lip_tensor *c,
                               size_t c_offset, size_t ldc) {
#ifdef LIPCL_HAVE_CLBLAST
    cl_event ev = NULL;
    CLBlastStatusCode s = CLBlastSgemm(CLBlastLayoutRowMajor, trans_a ? CLBlastTransposeYes : CLBlastTransposeNo,
                                       trans_b ? CLBlastTransposeYes : CLBlastTransposeNo, m, n, k, alpha, a->mem,
                                       a->offset + a_offset, lda, b->mem, b->offset + b_offset, ldb, beta, c->mem,
                                       c->offset + c_offset, ldc, &ctx->queue, ctx->profile ? &ev : NULL);
    if (s != CLBlastSuccess) {
        if (ev) clReleaseEvent(ev);
        if (!ctx->clblast_warned++)
            lip_log(ctx, LIP_LOG_WARN,
                "lip_gemm: CLBlastSgemm failed with %s (%d) for m %zu, n %zu, k %zu, %s%s; using kernels/matmul.cl "
                "instead",
                clblast_status_name(s), (int)s, m, n, k, trans_a ? "T" : "N", trans_b ? "T" : "N");
        return LIP_ERR_BLAS;
    }
    if (ev) lip_profile_record(ctx, "gemm/clblast", ev);
    if (ctx->debug_bounds) {
        LIP_CL(ctx, clFinish(ctx->queue));
        LIP_TRY(lip_tensor_check_guards(ctx, "gemm/clblast"));
    }
    return LIP_OK;
#else
    (void)ctx, (void)trans_a, (void)trans_b, (void)m, (void)n, (void)k, (void)alpha, (void)a, (void)a_offset;
    (void)lda, (void)b, (void)b_offset, (void)ldb, (void)beta, (void)c, (void)c_offset, (void)ldc;
    return LIP_ERR_BLAS;
#endif
}

static lip_status gemm_run(lip_context *ctx, lip_gemm_path path, lip_transpose trans_a, lip_transpose trans_b,
                           size_t m, size_t n, size_t k, float alpha, const lip_tensor *a, size_t a_offset,
                           size_t lda, const lip_tensor *b, size_t b_offset, size_t ldb, float beta, lip_tensor *c,
                           size_t c_offset, size_t ldc) {
    if (m == 0 || n == 0) return LIP_OK;
    /* CLBlast refuses k = 0 (kInvalidDimension); our kernel scales C then. */
    if (path == LIP_GEMM_CLBLAST && k > 0 && lip_have_clblast()) {
        lip_status st = gemm_clblast(ctx, trans_a, trans_b, m, n, k, alpha, a, a_offset, lda, b, b_offset, ldb, beta,
                                     c, c_offset, ldc);
        if (st != LIP_ERR_BLAS) return st;
    }
    return gemm_own(ctx, trans_a, trans_b, m, n, k, alpha, a, a_offset, lda, b, b_offset, ldb, beta, c, c_offset,
                    ldc);
}

/* ---- public entry points ----------------------------------------------------------------------- */

/* lip_gemm with a forced path; same checks and messages (see internal.h). */
lip_status lip_gemm_path_run(lip_context *ctx, lip_gemm_path path, lip_transpose trans_a, lip_transpose trans_b,
                             size_t m, size_t n, size_t k, float alpha, const lip_tensor *a, size_t a_offset,
                             size_t lda, const lip_tensor *b, size_t b_offset, size_t ldb, float beta,
                             lip_tensor *c, size_t c_offset, size_t ldc) {
    if (!ctx) return LIP_ERR_NULL;
    LIP_CHECK(ctx, path == LIP_GEMM_CLBLAST || path == LIP_GEMM_OWN, LIP_ERR_INVALID_ARGUMENT,
              "lip_gemm_path_run: path %d is not LIP_GEMM_CLBLAST or LIP_GEMM_OWN", (int)path);
    LIP_TRY(gemm_check(ctx, "lip_gemm", trans_a, trans_b, m, n, k, a, a_offset, lda, b, b_offset, ldb, c, c_offset,
                       ldc));
    return gemm_run(ctx, path, trans_a, trans_b, m, n, k, alpha, a, a_offset, lda, b, b_offset, ldb, beta, c,
                    c_offset, ldc);
}

/* The path for a shape: the context's setting; for AUTO the tuning table, else the device default. */
static lip_gemm_path choose_path(lip_context *ctx, int trans_a, int trans_b, size_t m, size_t n, size_t k) {
    lip_gemm_path path = ctx->config.gemm_path;
    if (path == LIP_GEMM_AUTO) path = lip_gemm_choice_lookup(ctx, trans_a, trans_b, m, n, k);
    if (path == LIP_GEMM_AUTO) path = ctx->info.is_cpu ? LIP_GEMM_OWN : LIP_GEMM_CLBLAST;
    return path;
}

/* C = alpha·op(A)·op(B) + beta·C on the path lip_context_set_gemm_path chose (see ops.h). */
lip_status lip_gemm(lip_context *ctx, lip_transpose trans_a, lip_transpose trans_b, size_t m, size_t n, size_t k,
                    float alpha, const lip_tensor *a, size_t a_offset, size_t lda, const lip_tensor *b,
                    size_t b_offset, size_t ldb, float beta, lip_tensor *c, size_t c_offset, size_t ldc) {
    if (!ctx) return LIP_ERR_NULL;
    LIP_TRY(gemm_check(ctx, "lip_gemm", trans_a, trans_b, m, n, k, a, a_offset, lda, b, b_offset, ldb, c, c_offset,
                       ldc));
    if (m == 0 || n == 0) return LIP_OK;
    lip_gemm_path path = choose_path(ctx, trans_a == LIP_TRANS, trans_b == LIP_TRANS, m, n, k);
    return gemm_run(ctx, path, trans_a, trans_b, m, n, k, alpha, a, a_offset, lda, b, b_offset, ldb, beta, c,
                    c_offset, ldc);
}

/* lip_gemm with the shapes and leading dimensions of three 2-D tensors (see ops.h). */
lip_status lip_matmul(lip_context *ctx, lip_transpose trans_a, lip_transpose trans_b, float alpha,
                      const lip_tensor *a, const lip_tensor *b, float beta, lip_tensor *c) {
    if (!ctx) return LIP_ERR_NULL;
    LIP_TRY(lip_check_tensor(ctx, a, LIP_FLOAT32, "lip_matmul: A"));
    LIP_TRY(lip_check_tensor(ctx, b, LIP_FLOAT32, "lip_matmul: B"));
    LIP_TRY(lip_check_tensor(ctx, c, LIP_FLOAT32, "lip_matmul: C"));
    char sa[64], sb[64], sc[64];
    LIP_CHECK(ctx, a->ndim == 2 && b->ndim == 2 && c->ndim == 2, LIP_ERR_SHAPE,
              "lip_matmul: A %s, B %s and C %s must all be 2-D", lip_shape_string(a, sa, sizeof sa),
              lip_shape_string(b, sb, sizeof sb), lip_shape_string(c, sc, sizeof sc));
    const int ta = trans_a == LIP_TRANS, tb = trans_b == LIP_TRANS;
    const size_t m = ta ? a->shape[1] : a->shape[0], k = ta ? a->shape[0] : a->shape[1];
    const size_t kb = tb ? b->shape[1] : b->shape[0], n = tb ? b->shape[0] : b->shape[1];
    LIP_CHECK(ctx, k == kb, LIP_ERR_SHAPE,
              "lip_matmul: op(A) is %zux%zu (A %s%s) but op(B) is %zux%zu (B %s%s): inner dimensions differ", m, k,
              lip_shape_string(a, sa, sizeof sa), ta ? " transposed" : "", kb, n, lip_shape_string(b, sb, sizeof sb),
              tb ? " transposed" : "");
    LIP_CHECK(ctx, c->shape[0] == m && c->shape[1] == n, LIP_ERR_SHAPE,
              "lip_matmul: C is %s but op(A)·op(B) is %zux%zu", lip_shape_string(c, sc, sizeof sc), m, n);
    return lip_gemm(ctx, trans_a, trans_b, m, n, k, alpha, a, 0, a->shape[1], b, 0, b->shape[1], beta, c, 0,
                    c->shape[1]);
}

/* ---- tuning table -------------------------------------------------------------------------------
 * File <cache_dir>/gemm-<16 hex digits of FNV-1a(device key)>.txt, written by `lipcl-bench gemm`.
 * Text, one shape per line, '#' starts a comment, blank lines ignored (doc/tuning.md):
 *     trans_a trans_b m n k path own_gflops clblast_gflops
 *     0 1 256 128 784 own 91.2 40.5
 * path is "own" or "clblast"; the GFLOP/s figures are informative (0: not measured). */

/* <cache_dir>/gemm-<FNV-1a of the device key>.txt, or NULL without a disk cache; caller frees. */
char *lip_gemm_tuning_path(const lip_context *ctx) {
    if (!ctx || !ctx->disk_cache || !ctx->cache_dir) return NULL;
    uint64_t h = lip_fnv1a(LIP_FNV_INIT, ctx->device_key, strlen(ctx->device_key));
    return lip_asprintf("%s/gemm-%016llx.txt", ctx->cache_dir, (unsigned long long)h);
}

/* Parse one non-comment line; 0 if malformed. */
static int parse_choice(const char *line, lip_gemm_choice *out) {
    int ta = 0, tb = 0, used = 0;
    unsigned long long m = 0, n = 0, k = 0;
    char path[16];
    double g_own = 0.0, g_blas = 0.0;
    if (sscanf(line, "%d %d %llu %llu %llu %15s %lf %lf %n", &ta, &tb, &m, &n, &k, path, &g_own, &g_blas, &used) < 8)
        return 0;
    if ((ta != 0 && ta != 1) || (tb != 0 && tb != 1) || line[used] != '\0') return 0;
    if (strcmp(path, "own") == 0)
        out->path = LIP_GEMM_OWN;
    else if (strcmp(path, "clblast") == 0)
        out->path = LIP_GEMM_CLBLAST;
    else
        return 0;
    out->trans_a = ta;
    out->trans_b = tb;
    out->m = (size_t)m;
    out->n = (size_t)n;
    out->k = (size_t)k;
    out->own_gflops = g_own;
    out->clblast_gflops = g_blas;
    return 1;
}

/* Read the tuning file once per context; a missing file is an empty table, a bad line a warning. */
static void load_choices(lip_context *ctx) {
    if (ctx->gemm_choices_loaded) return;
    ctx->gemm_choices_loaded = 1;
    free(ctx->gemm_choices);
    ctx->gemm_choices = NULL;
    ctx->gemm_choice_count = 0;
    char *path = lip_gemm_tuning_path(ctx);
    if (!path) return;
    FILE *probe = fopen(path, "rb");
    if (!probe) { /* no tuning done on this device: defaults */
        free(path);
        return;
    }
    fclose(probe);
    char saved[LIP_MSG_SIZE];
    memcpy(saved, ctx->last_error, sizeof saved); /* an unreadable table is a warning, not an error */
    char *text = NULL;
    if (lip_read_file(ctx, path, &text, NULL) != LIP_OK) {
        lip_log(ctx, LIP_LOG_WARN, "GEMM tuning table: %s; using defaults", ctx->last_error);
        memcpy(ctx->last_error, saved, sizeof saved);
        free(path);
        return;
    }
    size_t lines = 1;
    for (const char *p = text; *p; p++) lines += *p == '\n';
    ctx->gemm_choices = calloc(lines, sizeof *ctx->gemm_choices);
    size_t count = 0, bad = 0, first_bad = 0, lineno = 0;
    for (char *line = text; ctx->gemm_choices && line;) {
        char *next = strchr(line, '\n');
        if (next) *next++ = '\0';
        lineno++;
        char *hash = strchr(line, '#');
        if (hash) *hash = '\0';
        size_t len = strlen(line);
        while (len && (line[len - 1] == ' ' || line[len - 1] == '\t' || line[len - 1] == '\r')) line[--len] = '\0';
        const char *s = line;
        while (*s == ' ' || *s == '\t') s++;
        if (*s) {
            if (parse_choice(s, &ctx->gemm_choices[count]))
                count++;
            else if (bad++ == 0)
                first_bad = lineno;
        }
        line = next;
    }
    if (bad)
        lip_log(ctx, LIP_LOG_WARN, "GEMM tuning table '%s': %zu malformed line%s ignored (first: line %zu)", path, bad,
                bad == 1 ? "" : "s", first_bad);
    ctx->gemm_choice_count = ctx->gemm_choices ? count : 0;
    lip_log(ctx, LIP_LOG_DEBUG, "GEMM tuning table '%s': %zu entries", path, ctx->gemm_choice_count);
    free(text);
    free(path);
}

static double log_size(size_t x) { return log(x ? (double)x : 1.0); }

/* The recorded path for this shape: exact line, else nearest of the same transposition, else
 * LIP_GEMM_AUTO (no entry: the caller applies the device default). Reads the table on first use. */
lip_gemm_path lip_gemm_choice_lookup(lip_context *ctx, int trans_a, int trans_b, size_t m, size_t n, size_t k) {
    if (!ctx) return LIP_GEMM_AUTO;
    load_choices(ctx);
    const lip_gemm_choice *best = NULL;
    double best_d = HUGE_VAL;
    for (size_t i = 0; i < ctx->gemm_choice_count; i++) {
        const lip_gemm_choice *e = &ctx->gemm_choices[i];
        if (e->trans_a != (trans_a != 0) || e->trans_b != (trans_b != 0)) continue;
        if (e->m == m && e->n == n && e->k == k) return e->path; /* exact: the first such line wins */
        /* Nearest in log space: a 2x change in any dimension weighs the same whatever the size. */
        const double dm = log_size(m) - log_size(e->m), dn = log_size(n) - log_size(e->n),
                     dk = log_size(k) - log_size(e->k);
        const double d = dm * dm + dn * dn + dk * dk;
        if (d < best_d) { /* strict: ties go to the earlier line */
            best_d = d;
            best = e;
        }
    }
    return best ? best->path : LIP_GEMM_AUTO;
}
