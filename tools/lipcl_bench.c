/* lipcl-bench — benchmarks on one OpenCL device; `gemm` times CLBlast against kernels/matmul.cl
 * and saves the faster GEMM path per shape in the tuning table that lip_gemm reads (AUTO). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

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

/* ---- main: one subcommand per benchmark ------------------------------------------------------ */

typedef struct bench_command {
    const char *name;
    int (*run)(int argc, char **argv); /* gets the whole argv; argv[1] is the subcommand */
    const char *summary;
} bench_command;

static const bench_command commands[] = {
    {"gemm", cmd_gemm, "GEMM through CLBlast and kernels/matmul.cl; saves the faster path per shape"},
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
