/* lipcl-bench — benchmarks on one OpenCL device; `gemm` times CLBlast against kernels/matmul.cl and saves
 * the faster GEMM path per shape (read by lip_gemm's AUTO); `conv` times the two Conv2D algorithms. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "tensor/conv2d.h"

#define MAX_SIZES 32
#define ROUNDS 3 /* timed rounds per path and shape; each round runs --reps GEMMs between two clFinish */

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- logging: warnings to stderr, and notice when CLBlast fell back to our kernel -------------- */

typedef struct bench_log {
    int clblast_failed;
} bench_log;

static void log_to_stderr(lip_log_level level, const char *text, void *user) {
    bench_log *bl = user;
    if (strstr(text, "CLBlastSgemm failed")) bl->clblast_failed = 1;
    if (level >= LIP_LOG_WARN) fprintf(stderr, "lipcl: %s\n", text);
}

/* ---- gemm ----------------------------------------------------------------------------------- */

typedef struct gemm_shape {
    const char *name;
    int ta, tb;
    size_t m, n, k;
} gemm_shape;

typedef struct gemm_result {
    gemm_shape shape;
    double own_best, own_median;         /* GFLOP/s */
    double blas_best, blas_median;       /* 0 when CLBlast is absent or failed */
    double max_diff, tolerance;          /* between the two paths */
    int agree, measured_blas;
    lip_gemm_path choice;
} gemm_result;

static void gemm_usage(FILE *f) {
    fprintf(f,
            "usage: lipcl-bench gemm [--sizes 128,256,512,1024,2048] [--reps N] [--no-save] [--device D]\n"
            "\n"
            "Times GEMM through CLBlast and through kernels/matmul.cl on square sizes (C = A*B) and on the\n"
            "shapes of a dense layer's training step (batch 256, 784 inputs, 128 outputs):\n"
            "  forward  Y  = X*W     256x784 * 784x128   (NN, m 256, n 128, k 784)\n"
            "  dW       dW = X^T*dY  784x256 * 256x128   (TN, m 784, n 128, k 256)\n"
            "  dX       dX = dY*W^T  256x128 * 128x784   (NT, m 256, n 784, k 128)\n"
            "checks that both paths agree, and saves the faster path per shape into the tuning table of\n"
            "the context's cache directory (read by lip_gemm with LIP_GEMM_AUTO; see doc/tuning.md).\n"
            "\n"
            "  --sizes LIST  square sizes, comma-separated (default 128,256,512,1024,2048)\n"
            "  --reps N      GEMMs per timed round, %d rounds per path (default 5)\n"
            "  --no-save     print only; leave the tuning table alone\n"
            "  --device D    device: index, P:D, cpu, gpu or a name substring (default $LIPCL_DEVICE,\n"
            "                else the first GPU, else the first device)\n",
            ROUNDS);
}

static int parse_sizes(const char *list, size_t *sizes, size_t *count) {
    *count = 0;
    const char *p = list;
    while (*p) {
        char *end = NULL;
        errno = 0;
        unsigned long long v = strtoull(p, &end, 10);
        if (end == p || errno || v == 0 || v > 65536 || (*end != ',' && *end != '\0') || *count == MAX_SIZES) return 0;
        sizes[(*count)++] = (size_t)v;
        p = *end == ',' ? end + 1 : end;
    }
    return *count > 0;
}

static uint64_t bench_rng = 0x9e3779b97f4a7c15ULL;
static float random_uniform(void) { /* xorshift64*, in [-1, 1) */
    bench_rng ^= bench_rng >> 12;
    bench_rng ^= bench_rng << 25;
    bench_rng ^= bench_rng >> 27;
    return (float)((double)((bench_rng * 2685821657736338717ULL) >> 11) * (2.0 / 9007199254740992.0) - 1.0);
}

static lip_status make_random(lip_context *ctx, size_t count, lip_tensor **out) {
    size_t shape[1] = {count};
    LIP_TRY(lip_tensor_create(ctx, LIP_FLOAT32, 1, shape, out));
    float *h = malloc(count * sizeof *h);
    if (!h) return LIP_ERR_OUT_OF_HOST_MEMORY;
    for (size_t i = 0; i < count; i++) h[i] = random_uniform();
    lip_status st = lip_tensor_upload(*out, h, count * sizeof *h);
    free(h);
    return st;
}

static lip_status run_path(lip_context *ctx, lip_gemm_path path, const gemm_shape *s, lip_tensor *a, lip_tensor *b,
                           lip_tensor *c) {
    const size_t lda = s->ta ? s->m : s->k, ldb = s->tb ? s->k : s->n;
    return lip_gemm_path_run(ctx, path, s->ta ? LIP_TRANS : LIP_NO_TRANS, s->tb ? LIP_TRANS : LIP_NO_TRANS, s->m,
                             s->n, s->k, 1.0f, a, 0, lda, b, 0, ldb, 0.0f, c, 0, s->n);
}

/* Seconds per GEMM of one round: `reps` GEMMs between two clFinish. */
static lip_status time_round(lip_context *ctx, lip_gemm_path path, const gemm_shape *s, lip_tensor *a,
                             lip_tensor *b, lip_tensor *c, int reps, double *seconds) {
    LIP_TRY(lip_context_finish(ctx));
    double t0 = now_seconds();
    for (int r = 0; r < reps; r++) LIP_TRY(run_path(ctx, path, s, a, b, c));
    LIP_TRY(lip_context_finish(ctx));
    *seconds = (now_seconds() - t0) / reps;
    return LIP_OK;
}

static int cmp_double(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

static lip_status bench_shape(lip_context *ctx, bench_log *bl, const gemm_shape *s, int reps, gemm_result *res) {
    lip_status st = LIP_OK;
    lip_tensor *a = NULL, *b = NULL, *c = NULL;
    float *c_own = NULL, *c_blas = NULL;
    memset(res, 0, sizeof *res);
    res->shape = *s;
    const int have_blas = lip_have_clblast();
    LIP_TRY_GOTO(st, make_random(ctx, s->m * s->k, &a));
    LIP_TRY_GOTO(st, make_random(ctx, s->k * s->n, &b));
    LIP_TRY_GOTO(st, make_random(ctx, s->m * s->n, &c));
    c_own = malloc(s->m * s->n * sizeof *c_own);
    c_blas = malloc(s->m * s->n * sizeof *c_blas);
    if (!c_own || !c_blas) {
        st = LIP_ERR_OUT_OF_HOST_MEMORY;
        goto fail;
    }

    /* Warm-up (builds programs; CLBlast's first call compiles for ~10 s) and the agreement check. */
    /* C starts as NaN each time: an element a path leaves unwritten shows up as a mismatch. */
    LIP_TRY_GOTO(st, lip_tensor_fill(c, NAN));
    LIP_TRY_GOTO(st, run_path(ctx, LIP_GEMM_OWN, s, a, b, c));
    LIP_TRY_GOTO(st, lip_tensor_download(c, c_own, s->m * s->n * sizeof *c_own));
    bl->clblast_failed = 0;
    if (have_blas) {
        LIP_TRY_GOTO(st, lip_tensor_fill(c, NAN));
        LIP_TRY_GOTO(st, run_path(ctx, LIP_GEMM_CLBLAST, s, a, b, c));
        LIP_TRY_GOTO(st, lip_tensor_download(c, c_blas, s->m * s->n * sizeof *c_blas));
        res->measured_blas = !bl->clblast_failed;
    }
    /* Inputs are uniform in [-1, 1): Σ_p|a_ip·b_pj| ≈ k/4, and float32 sums of k terms of random sign
     * err by about sqrt(k)·u·Σ|a·b| each (u = 2^-24); allow 16 times that between the two paths. */
    res->tolerance = 16.0 * 5.9604644775390625e-08 * sqrt((double)s->k) * ((double)s->k / 4.0 + 1.0);
    res->agree = 1;
    if (res->measured_blas) {
        for (size_t i = 0; i < s->m * s->n; i++) {
            double d = fabs((double)c_own[i] - (double)c_blas[i]);
            if (!(d <= res->max_diff)) res->max_diff = d; /* NaN sticks */
        }
        res->agree = res->max_diff <= res->tolerance;
    }

    double t_own[ROUNDS], t_blas[ROUNDS];
    for (int r = 0; r < ROUNDS; r++) { /* interleaved, so a load change hits both paths alike */
        LIP_TRY_GOTO(st, time_round(ctx, LIP_GEMM_OWN, s, a, b, c, reps, &t_own[r]));
        if (res->measured_blas) LIP_TRY_GOTO(st, time_round(ctx, LIP_GEMM_CLBLAST, s, a, b, c, reps, &t_blas[r]));
    }
    const double flop = 2.0 * (double)s->m * (double)s->n * (double)s->k * 1e-9;
    qsort(t_own, ROUNDS, sizeof t_own[0], cmp_double);
    res->own_best = flop / t_own[0];
    res->own_median = flop / t_own[ROUNDS / 2];
    if (res->measured_blas && !bl->clblast_failed) {
        qsort(t_blas, ROUNDS, sizeof t_blas[0], cmp_double);
        res->blas_best = flop / t_blas[0];
        res->blas_median = flop / t_blas[ROUNDS / 2];
    } else {
        res->measured_blas = 0;
    }
    /* By the median round: the typical time, not the luckiest. Our kernel when they disagree. */
    res->choice = res->measured_blas && res->agree && res->blas_median > res->own_median ? LIP_GEMM_CLBLAST
                                                                                        : LIP_GEMM_OWN;
fail:
    lip_tensor_free(a);
    lip_tensor_free(b);
    lip_tensor_free(c);
    free(c_own);
    free(c_blas);
    return st;
}

/* Merge the results into the tuning table: lines of other shapes stay, measured shapes are replaced. */
static int save_results(lip_context *ctx, const gemm_result *res, size_t count) {
    char *path = lip_gemm_tuning_path(ctx);
    if (!path) {
        printf("the disk cache is off (LIPCL_CACHE_DISABLE): nothing saved\n");
        return 0;
    }
    size_t cap = 4096 + count * 128, len = 0;
    char *out = malloc(cap);
    char *old = NULL;
    if (!out) {
        free(path);
        return 1;
    }
    len += (size_t)snprintf(out + len, cap - len,
                            "# lipcl GEMM tuning table, written by lipcl-bench gemm (format: doc/tuning.md)\n"
                            "# device: %s\n"
                            "# trans_a trans_b m n k path own_gflops clblast_gflops\n",
                            ctx->device_key);
    FILE *probe = fopen(path, "rb");
    if (probe) {
        fclose(probe);
        if (lip_read_file(ctx, path, &old, NULL) != LIP_OK) old = NULL;
    }
    for (char *line = old; line && *line;) {
        char *next = strchr(line, '\n');
        if (next) *next++ = '\0';
        int ta, tb;
        unsigned long long m, n, k;
        int replaced = 0;
        if (line[0] != '#' && sscanf(line, "%d %d %llu %llu %llu", &ta, &tb, &m, &n, &k) == 5)
            for (size_t i = 0; i < count; i++)
                if (res[i].shape.ta == ta && res[i].shape.tb == tb && res[i].shape.m == m && res[i].shape.n == n &&
                    res[i].shape.k == k)
                    replaced = 1;
        if (!replaced && line[0] != '#' && line[0] != '\0') {
            size_t need = strlen(line) + 2;
            if (len + need >= cap) {
                char *grown = realloc(out, cap = 2 * (len + need));
                if (!grown) break;
                out = grown;
            }
            len += (size_t)snprintf(out + len, cap - len, "%s\n", line);
        }
        line = next;
    }
    for (size_t i = 0; i < count; i++) {
        const gemm_result *r = &res[i];
        if (len + 160 >= cap) {
            char *grown = realloc(out, cap = 2 * cap + 160);
            if (!grown) break;
            out = grown;
        }
        len += (size_t)snprintf(out + len, cap - len, "%d %d %zu %zu %zu %s %.1f %.1f\n", r->shape.ta, r->shape.tb,
                                r->shape.m, r->shape.n, r->shape.k, r->choice == LIP_GEMM_CLBLAST ? "clblast" : "own",
                                r->own_median, r->blas_median);
    }
    int rc = 0;
    if (lip_write_file_atomic(ctx, path, out, len) == LIP_OK) {
        printf("saved the GEMM path choices in %s\n", path);
    } else {
        fprintf(stderr, "lipcl-bench: %s\n", lip_context_last_error(ctx));
        rc = 1;
    }
    free(old);
    free(out);
    free(path);
    return rc;
}

static int cmd_gemm(int argc, char **argv) {
    size_t sizes[MAX_SIZES] = {128, 256, 512, 1024, 2048}, nsizes = 5;
    int reps = 5, save = 1;
    const char *device = NULL;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            gemm_usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--sizes") == 0 && i + 1 < argc) {
            if (!parse_sizes(argv[++i], sizes, &nsizes)) {
                fprintf(stderr, "lipcl-bench gemm: --sizes wants positive integers up to 65536, comma-separated "
                                "(at most %d), got '%s'\n",
                        MAX_SIZES, argv[i]);
                return 2;
            }
        } else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
            char *end = NULL;
            long v = strtol(argv[++i], &end, 10);
            if (*end != '\0' || v < 1 || v > 10000) {
                fprintf(stderr, "lipcl-bench gemm: --reps wants an integer in 1..10000, got '%s'\n", argv[i]);
                return 2;
            }
            reps = (int)v;
        } else if (strcmp(argv[i], "--no-save") == 0) {
            save = 0;
        } else if (strcmp(argv[i], "--device") == 0 && i + 1 < argc) {
            device = argv[++i];
        } else {
            fprintf(stderr, "lipcl-bench gemm: unknown or incomplete option '%s'\n\n", argv[i]);
            gemm_usage(stderr);
            return 2;
        }
    }

    bench_log bl = {0};
    lip_context_config cfg = lip_context_config_default();
    cfg.device = device;
    cfg.log = log_to_stderr;
    cfg.log_user = &bl;
    cfg.log_level = LIP_LOG_WARN;
    lip_context *ctx = NULL;
    lip_status st = lip_context_create(&ctx, &cfg);
    if (st != LIP_OK) {
        fprintf(stderr, "lipcl-bench: no context: %s\n", lip_status_name(st));
        return 1;
    }
    lip_device_info info;
    lip_context_device_info(ctx, &info);
    printf("lipcl-bench gemm on '%s' (%s), CLBlast %s, %d rounds of %d GEMMs per path\n", info.device_name,
           info.platform_name, lip_have_clblast() ? "compiled in" : "not compiled in", ROUNDS, reps);

    gemm_shape shapes[MAX_SIZES + 3];
    char names[MAX_SIZES][24];
    size_t nshapes = 0;
    for (size_t i = 0; i < nsizes; i++) {
        snprintf(names[i], sizeof names[i], "square %zu", sizes[i]);
        shapes[nshapes++] = (gemm_shape){names[i], 0, 0, sizes[i], sizes[i], sizes[i]};
    }
    shapes[nshapes++] = (gemm_shape){"forward Y=X*W", 0, 0, 256, 128, 784};
    shapes[nshapes++] = (gemm_shape){"dW=X^T*dY", 1, 0, 784, 128, 256};
    shapes[nshapes++] = (gemm_shape){"dX=dY*W^T", 0, 1, 256, 784, 128};

    gemm_result res[MAX_SIZES + 3];
    size_t done = 0;
    int mismatches = 0;
    printf("%-16s %-2s %5s %5s %5s | %-19s | %-19s | %-9s %s\n", "shape", "op", "m", "n", "k",
           "own GFLOP/s med/best", "CLBlast med/best", "max|diff|", "choice");
    for (size_t i = 0; i < nshapes; i++) {
        st = bench_shape(ctx, &bl, &shapes[i], reps, &res[done]);
        if (st != LIP_OK) {
            fprintf(stderr, "lipcl-bench: %s: %s: %s\n", shapes[i].name, lip_status_name(st),
                    lip_context_last_error(ctx));
            break;
        }
        const gemm_result *r = &res[done++];
        char blas[32] = "n/a", diff[32] = "-";
        if (r->measured_blas) {
            snprintf(blas, sizeof blas, "%7.1f / %7.1f", r->blas_median, r->blas_best);
            snprintf(diff, sizeof diff, "%.1e%s", r->max_diff, r->agree ? "" : " MISMATCH");
        } else if (lip_have_clblast()) {
            snprintf(blas, sizeof blas, "failed");
        }
        mismatches += !r->agree;
        printf("%-16s %c%c %5zu %5zu %5zu | %7.1f / %7.1f   | %-19s | %-9s %s\n", r->shape.name,
               r->shape.ta ? 'T' : 'N', r->shape.tb ? 'T' : 'N', r->shape.m, r->shape.n, r->shape.k, r->own_median, r->own_best, blas, diff,
               r->choice == LIP_GEMM_CLBLAST ? "clblast" : "own");
        fflush(stdout);
    }
    if (mismatches)
        fprintf(stderr, "lipcl-bench: the two paths disagree beyond tolerance on %d shape%s (our kernel chosen)\n",
                mismatches, mismatches == 1 ? "" : "s");
    int rc = st != LIP_OK || mismatches ? 1 : 0;
    if (save && done > 0 && save_results(ctx, res, done) != 0) rc = 1;
    lip_context_free(ctx);
    return rc;
}

/* ---- conv ----------------------------------------------------------------------------------- */

#define CONV_ROUNDS 5 /* timed rounds per op and algorithm */

typedef struct conv_shape {
    const char *name;
    size_t h, w, cin, kh, kw, cout, stride;
    lip_padding padding;
    lip_pad_mode mode;
} conv_shape;

static void conv_usage(FILE *f) {
    fprintf(f,
            "usage: lipcl-bench conv [--batch N] [--reps N] [--shape NAME] [--profile] [--device D]\n"
            "\n"
            "Times the three Conv2D ops (forward, backward data, backward filter) with both algorithms\n"
            "(direct kernels and im2col + GEMM) on the shapes of the README model and two more:\n"
            "  conv1   28x28x1  -> 16, 3x3, SAME      (quickstart, first SpectralConv2D)\n"
            "  conv2   14x14x16 -> 32, 3x3, SAME      (quickstart, second SpectralConv2D)\n"
            "  s2      28x28x16 -> 32, 3x3, stride 2, SAME\n"
            "  1x1     14x14x32 -> 16, 1x1\n"
            "  reflect 14x14x16 -> 32, 3x3, SAME, reflect padding\n"
            "  narrow  14x14x64 -> 16, 3x3, SAME      (many inputs, few outputs)\n"
            "  wide    7x7x32   -> 64, 3x3, SAME      (small image, many outputs)\n"
            "prints ms per op (median and best of %d rounds: other jobs on the machine make the median noisy)\n"
            "and GFLOP/s of the best round (2*batch*out_h*out_w*kh*kw*cin*cout per op), the algorithm that\n"
            "lip_conv2d_algorithm_for picks, and the largest difference between the two algorithms.\n"
            "Nothing is saved: the rule of src/tensor/conv2d.c comes from these figures (doc/tuning.md).\n"
            "\n"
            "  --batch N   batch size (default 256)\n"
            "  --reps N    ops per timed round (default 3)\n"
            "  --shape S   only the shape named S\n"
            "  --profile   also print the device time of each kernel (LIPCL_PROFILE)\n"
            "  --device D  device: index, P:D, cpu, gpu or a name substring\n",
            CONV_ROUNDS);
}

/* One op with the geometry's algorithm. */
static lip_status conv_run(lip_context *ctx, const lip_conv2d_geom *g, lip_conv2d_op op, lip_tensor *x, lip_tensor *k,
                           lip_tensor *b, lip_tensor *y, lip_tensor *dx, lip_tensor *dk) {
    switch (op) {
    case LIP_CONV_OP_FORWARD: return lip_conv2d_forward(ctx, g, x, k, b, y);
    case LIP_CONV_OP_BACKWARD_DATA: return lip_conv2d_backward_data(ctx, g, y, k, dx, 0);
    case LIP_CONV_OP_BACKWARD_FILTER: return lip_conv2d_backward_filter(ctx, g, x, y, dk, 0);
    }
    return LIP_ERR_INVALID_ARGUMENT;
}

/* Median and best seconds per op over CONV_ROUNDS rounds of `reps` ops. */
static lip_status conv_time(lip_context *ctx, const lip_conv2d_geom *g, lip_conv2d_op op, lip_tensor *x,
                            lip_tensor *k, lip_tensor *b, lip_tensor *y, lip_tensor *dx, lip_tensor *dk, int reps,
                            double *median, double *best) {
    double t[CONV_ROUNDS];
    for (int r = 0; r < CONV_ROUNDS; r++) {
        LIP_TRY(lip_context_finish(ctx));
        double t0 = now_seconds();
        for (int i = 0; i < reps; i++) LIP_TRY(conv_run(ctx, g, op, x, k, b, y, dx, dk));
        LIP_TRY(lip_context_finish(ctx));
        t[r] = (now_seconds() - t0) / reps;
    }
    qsort(t, CONV_ROUNDS, sizeof t[0], cmp_double);
    *median = t[CONV_ROUNDS / 2];
    *best = t[0];
    return LIP_OK;
}

static void conv_profile_row(const lip_profile_row *row, void *user) {
    (void)user;
    printf("    %-32s %5lu launches %9.3f ms each\n", row->name, row->count, row->mean_ms);
}

static lip_status conv_bench_shape(lip_context *ctx, const conv_shape *s, size_t batch, int reps, int profile) {
    static const char *op_names[3] = {"forward", "bwd data", "bwd filter"};
    lip_conv2d_geom g;
    LIP_TRY(lip_conv2d_geom_make(ctx, s->name, batch, s->h, s->w, s->cin, s->kh, s->kw, s->cout, s->stride, s->stride,
                                 s->padding, s->mode, &g));
    const size_t nx = batch * s->h * s->w * s->cin, ny = batch * g.out_h * g.out_w * s->cout,
                 nk = s->kh * s->kw * s->cin * s->cout;
    lip_status st = LIP_OK;
    lip_tensor *x = NULL, *k = NULL, *b = NULL, *y = NULL, *dx = NULL, *dk = NULL;
    float *out[2] = {NULL, NULL};
    LIP_TRY_GOTO(st, make_random(ctx, nx, &x));
    LIP_TRY_GOTO(st, make_random(ctx, nk, &k));
    LIP_TRY_GOTO(st, make_random(ctx, s->cout, &b));
    LIP_TRY_GOTO(st, make_random(ctx, ny, &y));
    LIP_TRY_GOTO(st, make_random(ctx, nx, &dx));
    LIP_TRY_GOTO(st, make_random(ctx, nk, &dk));
    const size_t nmax = nx > ny ? nx : ny;
    out[0] = malloc(nmax * sizeof(float));
    out[1] = malloc(nmax * sizeof(float));
    if (!out[0] || !out[1]) {
        st = LIP_ERR_OUT_OF_HOST_MEMORY;
        goto fail;
    }
    const double flop = 2.0 * (double)batch * (double)(g.out_h * g.out_w) * (double)nk;
    for (int op = 0; op < 3; op++) {
        double ms[2], best[2], gf[2], diff = 0.0, scale = 0.0;
        lip_tensor *res = op == 0 ? y : op == 1 ? dx : dk;
        const size_t n = op == 0 ? ny : op == 1 ? nx : nk;
        for (int a = 0; a < 2; a++) {
            g.algo = a ? LIP_CONV_ALGO_IM2COL : LIP_CONV_ALGO_DIRECT;
            /* Warm-up (program builds), and the result for the agreement check. */
            LIP_TRY_GOTO(st, conv_run(ctx, &g, (lip_conv2d_op)op, x, k, b, y, dx, dk));
            LIP_TRY_GOTO(st, lip_tensor_download(res, out[a], n * sizeof(float)));
            double sec = 0.0, sec_best = 0.0;
            if (profile) LIP_TRY_GOTO(st, lip_context_profile_reset(ctx));
            LIP_TRY_GOTO(st, conv_time(ctx, &g, (lip_conv2d_op)op, x, k, b, y, dx, dk, reps, &sec, &sec_best));
            if (profile) {
                printf("  %s %s %s:\n", s->name, op_names[op], a ? "im2col" : "direct");
                LIP_TRY_GOTO(st, lip_context_profile(ctx, conv_profile_row, NULL));
            }
            ms[a] = sec * 1e3;
            best[a] = sec_best * 1e3;
            gf[a] = flop / sec_best * 1e-9;
        }
        for (size_t i = 0; i < n; i++) {
            double d = fabs((double)out[0][i] - (double)out[1][i]);
            if (!(d <= diff)) diff = d;
            if (fabs((double)out[1][i]) > scale) scale = fabs((double)out[1][i]);
        }
        g.algo = LIP_CONV_ALGO_AUTO;
        printf("%-8s %-10s | %8.2f %8.2f %6.1f | %8.2f %8.2f %6.1f | %-6s | %.1e of %.1e\n", s->name, op_names[op],
               ms[0], best[0], gf[0], ms[1], best[1], gf[1], lip_conv2d_algorithm_for(ctx, &g, (lip_conv2d_op)op),
               diff, scale);
        fflush(stdout); /* after the forward, y (its result) serves as dy */
    }
fail:
    lip_tensor_free(x);
    lip_tensor_free(k);
    lip_tensor_free(b);
    lip_tensor_free(y);
    lip_tensor_free(dx);
    lip_tensor_free(dk);
    free(out[0]);
    free(out[1]);
    return st;
}

static int cmd_conv(int argc, char **argv) {
    size_t batch = 256;
    int reps = 3, profile = 0;
    const char *device = NULL, *only = NULL;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            conv_usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--profile") == 0) {
            profile = 1;
        } else if (strcmp(argv[i], "--shape") == 0 && i + 1 < argc) {
            only = argv[++i];
        } else if ((strcmp(argv[i], "--reps") == 0 || strcmp(argv[i], "--batch") == 0) && i + 1 < argc) {
            const int is_reps = strcmp(argv[i], "--reps") == 0;
            char *end = NULL;
            long v = strtol(argv[++i], &end, 10);
            if (*end != '\0' || v < 1 || v > (is_reps ? 10000 : 65536)) {
                fprintf(stderr, "lipcl-bench conv: %s wants an integer in 1..%d, got '%s'\n", argv[i - 1],
                        is_reps ? 10000 : 65536, argv[i]);
                return 2;
            }
            if (is_reps)
                reps = (int)v;
            else
                batch = (size_t)v;
        } else if (strcmp(argv[i], "--device") == 0 && i + 1 < argc) {
            device = argv[++i];
        } else {
            fprintf(stderr, "lipcl-bench conv: unknown or incomplete option '%s'\n\n", argv[i]);
            conv_usage(stderr);
            return 2;
        }
    }
    bench_log bl = {0};
    lip_context_config cfg = lip_context_config_default();
    cfg.device = device;
    cfg.log = log_to_stderr;
    cfg.log_user = &bl;
    cfg.log_level = LIP_LOG_WARN;
    cfg.profile = profile;
    lip_context *ctx = NULL;
    lip_status st = lip_context_create(&ctx, &cfg);
    if (st != LIP_OK) {
        fprintf(stderr, "lipcl-bench: no context: %s\n", lip_status_name(st));
        return 1;
    }
    lip_device_info info;
    lip_context_device_info(ctx, &info);
    printf("lipcl-bench conv on '%s' (%s), batch %zu, %d rounds of %d ops (median and best round; GF/s of the best)\n",
           info.device_name, info.platform_name, batch, CONV_ROUNDS, reps);
    printf("%-8s %-10s | %-24s | %-24s | %-6s | %s\n", "", "", "direct", "im2col", "", "");
    printf("%-8s %-10s | %8s %8s %6s | %8s %8s %6s | %-6s | %s\n", "shape", "op", "med ms", "best ms", "GF/s",
           "med ms", "best ms", "GF/s", "auto", "max|diff| of max|y|");
    static const conv_shape shapes[] = {
        {"conv1", 28, 28, 1, 3, 3, 16, 1, LIP_PADDING_SAME, LIP_PAD_ZEROS},
        {"conv2", 14, 14, 16, 3, 3, 32, 1, LIP_PADDING_SAME, LIP_PAD_ZEROS},
        {"s2", 28, 28, 16, 3, 3, 32, 2, LIP_PADDING_SAME, LIP_PAD_ZEROS},
        {"1x1", 14, 14, 32, 1, 1, 16, 1, LIP_PADDING_SAME, LIP_PAD_ZEROS},
        {"reflect", 14, 14, 16, 3, 3, 32, 1, LIP_PADDING_SAME, LIP_PAD_REFLECT},
        {"narrow", 14, 14, 64, 3, 3, 16, 1, LIP_PADDING_SAME, LIP_PAD_ZEROS},
        {"wide", 7, 7, 32, 3, 3, 64, 1, LIP_PADDING_SAME, LIP_PAD_ZEROS},
    };
    int rc = 0, ran = 0;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        if (only && strcmp(only, shapes[i].name) != 0) continue;
        ran++;
        st = conv_bench_shape(ctx, &shapes[i], batch, reps, profile);
        if (st != LIP_OK) {
            fprintf(stderr, "lipcl-bench: %s: %s: %s\n", shapes[i].name, lip_status_name(st),
                    lip_context_last_error(ctx));
            rc = 1;
            break;
        }
    }
    if (!ran) {
        fprintf(stderr, "lipcl-bench conv: no shape named '%s' (see --help)\n", only);
        rc = 2;
    }
    lip_context_free(ctx);
    return rc;
}

/* ---- main: one subcommand per benchmark ------------------------------------------------------ */

typedef struct bench_command {
    const char *name;
    int (*run)(int argc, char **argv); /* gets the whole argv; argv[1] is the subcommand */
    const char *summary;
} bench_command;

int bench_layers_main(int argc, char **argv); /* tools/bench_layers.c */

static const bench_command commands[] = {
    {"gemm", cmd_gemm, "GEMM through CLBlast and kernels/matmul.cl; saves the faster path per shape"},
    {"conv", cmd_conv, "Conv2D forward/backward ops, direct kernels against im2col + GEMM"},
    {"layers", bench_layers_main, "forward/backward/reparametrization time of each layer of the README models"},
};

static void usage(FILE *f) {
    fprintf(f, "usage: lipcl-bench COMMAND [options]   (lipcl-bench COMMAND --help for its options)\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
}

int main(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0) return commands[i].run(argc, argv);
    fprintf(stderr, "lipcl-bench: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
