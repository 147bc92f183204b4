/* lipcl-bench layers — forward, backward and reparametrization time of every layer of the README
 * models at their real shapes, and the share of a training step the reparametrization takes. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lipcl/lipcl.h"

static double seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* One layer to time: a model, the layer made by `make`, the per-sample input shape. */
typedef struct bench_layer {
    const char *model, *label;
    int ndim;
    size_t shape[3];
    int kind; /* index into make_layer's switch */
} bench_layer;

enum {
    B_SCONV16, B_L2POOL_28, B_SCONV32, B_L2POOL_14, B_FLATTEN, B_SDENSE100, B_GS2_100, B_SDENSE10,
    B_SDENSE128, B_GS2_128, B_SDENSE64, B_SDENSE32, B_FDENSE1, B_SDENSE256, B_FULLSORT256, B_CONV16
};

static lip_status make_layer(lip_context *ctx, int kind, lip_layer **out) {
    lip_conv2d_config cc;
    lip_dense_config dc;
    lip_pool2d_config pc = lip_pool2d_config_default();
    switch (kind) {
    case B_SCONV16:
    case B_SCONV32:
    case B_CONV16:
        cc = lip_conv2d_config_default(kind == B_SCONV32 ? 32 : 16, 3, 3);
        cc.use_bias = 0;
        if (kind == B_CONV16) return lip_conv2d_create(ctx, &cc, "conv", out);
        return lip_spectral_conv2d_create(ctx, &cc, "sconv", out);
    case B_L2POOL_28:
    case B_L2POOL_14:
        return lip_scaled_l2norm_pooling2d_create(ctx, &pc, "pool", out);
    case B_FLATTEN:
        return lip_flatten_create(ctx, "flatten", out);
    case B_GS2_100:
    case B_GS2_128:
        return lip_groupsort2_create(ctx, 1.0f, "gs2", out);
    case B_FULLSORT256:
        return lip_fullsort_create(ctx, 1.0f, "fullsort", out);
    case B_FDENSE1:
        dc = lip_dense_config_default(1);
        return lip_frobenius_dense_create(ctx, &dc, "fdense", out);
    default: {
        size_t units = kind == B_SDENSE100 ? 100 : kind == B_SDENSE10 ? 10 : kind == B_SDENSE128 ? 128
                     : kind == B_SDENSE64 ? 64 : kind == B_SDENSE32 ? 32 : 256;
        dc = lip_dense_config_default(units);
        dc.use_bias = kind != B_SDENSE100 && kind != B_SDENSE10; /* the quickstart has no bias */
        return lip_spectral_dense_create(ctx, &dc, "sdense", out);
    }
    }
}

static const bench_layer bench_layers[] = {
    {"quickstart", "SpectralConv2D 16 3x3  28x28x1", 3, {28, 28, 1}, B_SCONV16},
    {"quickstart", "ScaledL2NormPooling2D  28x28x16", 3, {28, 28, 16}, B_L2POOL_28},
    {"quickstart", "SpectralConv2D 32 3x3  14x14x16", 3, {14, 14, 16}, B_SCONV32},
    {"quickstart", "ScaledL2NormPooling2D  14x14x32", 3, {14, 14, 32}, B_L2POOL_14},
    {"quickstart", "Flatten                7x7x32", 3, {7, 7, 32}, B_FLATTEN},
    {"quickstart", "SpectralDense 100      1568", 1, {1568}, B_SDENSE100},
    {"quickstart", "GroupSort2             100", 1, {100}, B_GS2_100},
    {"quickstart", "SpectralDense 10       100", 1, {100}, B_SDENSE10},
    {"vanilla", "Conv2D 16 3x3          28x28x1", 3, {28, 28, 1}, B_CONV16},
    {"mnist_hkr", "SpectralDense 128      784", 1, {784}, B_SDENSE128},
    {"mnist_hkr", "GroupSort2             128", 1, {128}, B_GS2_128},
    {"mnist_hkr", "SpectralDense 64       128", 1, {128}, B_SDENSE64},
    {"mnist_hkr", "SpectralDense 32       64", 1, {64}, B_SDENSE32},
    {"mnist_hkr", "FrobeniusDense 1       32", 1, {32}, B_FDENSE1},
    {"two_moons", "SpectralDense 256      2", 1, {2}, B_SDENSE256},
    {"two_moons", "FullSort               256", 1, {256}, B_FULLSORT256},
};

static lip_status batch_tensor(lip_context *ctx, size_t batch, int ndim, const size_t *shape, lip_tensor **t) {
    size_t s[4] = {batch, 1, 1, 1};
    for (int i = 0; i < ndim; i++) s[i + 1] = shape[i];
    return lip_tensor_create(ctx, LIP_FLOAT32, ndim + 1, s, t);
}

/* Median of n doubles (sorts in place). */
static double median(double *v, int n) {
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
            double t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

typedef struct layer_times {
    double fwd, bwd, reparam; /* ms, medians */
} layer_times;

/* Time `reps` calls of each phase, `rounds` times, one finish per round. */
static lip_status time_layer(lip_context *ctx, const bench_layer *b, size_t batch, int reps, layer_times *out) {
    lip_layer *l = NULL;
    lip_tensor *x = NULL, *y = NULL, *dy = NULL, *dx = NULL;
    lip_status st = make_layer(ctx, b->kind, &l);
    if (st == LIP_OK) st = lip_layer_build(l, b->ndim, b->shape);
    int ondim = 0;
    size_t oshape[LIP_MAX_DIMS];
    if (st == LIP_OK) st = lip_layer_output_shape(l, &ondim, oshape);
    if (st == LIP_OK) st = batch_tensor(ctx, batch, b->ndim, b->shape, &x);
    if (st == LIP_OK) st = batch_tensor(ctx, batch, b->ndim, b->shape, &dx);
    if (st == LIP_OK) st = batch_tensor(ctx, batch, ondim, oshape, &y);
    if (st == LIP_OK) st = batch_tensor(ctx, batch, ondim, oshape, &dy);
    if (st == LIP_OK) st = lip_random_normal(ctx, x, 0.0f, 1.0f);
    if (st == LIP_OK) st = lip_random_normal(ctx, dy, 0.0f, 1.0f);
    enum { ROUNDS = 5 };
    double t[3][ROUNDS];
    for (int round = -1; st == LIP_OK && round < ROUNDS; round++) { /* round -1 warms up */
        for (int phase = 0; phase < 3 && st == LIP_OK; phase++) {
            double t0 = seconds();
            for (int r = 0; r < reps && st == LIP_OK; r++) {
                if (phase == 0) st = lip_layer_forward(l, x, y);
                if (phase == 1) st = lip_layer_backward(l, x, y, dy, dx, 0);
                if (phase == 2) st = lip_layer_reparametrize(l);
            }
            if (st == LIP_OK) st = lip_context_finish(ctx);
            if (round >= 0) t[phase][round] = 1e3 * (seconds() - t0) / reps;
        }
    }
    if (st == LIP_OK) {
        out->fwd = median(t[0], ROUNDS);
        out->bwd = median(t[1], ROUNDS);
        out->reparam = median(t[2], ROUNDS);
    }
    lip_tensor_free(x);
    lip_tensor_free(y);
    lip_tensor_free(dy);
    lip_tensor_free(dx);
    lip_layer_free(l);
    return st;
}

static void layers_usage(FILE *f) {
    fprintf(f, "usage: lipcl-bench layers [--batch N (256)] [--reps N (5)] [--model NAME] [--device D]\n"
               "\n"
               "Times forward, backward (dx and parameter gradients) and reparametrization (power iteration,\n"
               "Bjorck, scaling: once per optimizer step) of each layer of the README models at their shapes\n"
               "(quickstart, mnist_hkr, two_moons; a plain Conv2D for comparison), and prints the share of a\n"
               "training step (forward + backward + reparametrization) spent in the reparametrization.\n");
}

int bench_layers_main(int argc, char **argv);
int bench_layers_main(int argc, char **argv) {
    size_t batch = 256;
    int reps = 5;
    const char *device = NULL, *only = NULL;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            layers_usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--batch") && i + 1 < argc) {
            batch = strtoul(argv[++i], NULL, 10);
        } else if (!strcmp(argv[i], "--reps") && i + 1 < argc) {
            reps = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--model") && i + 1 < argc) {
            only = argv[++i];
        } else if (!strcmp(argv[i], "--device") && i + 1 < argc) {
            device = argv[++i];
        } else {
            fprintf(stderr, "lipcl-bench layers: bad argument '%s'\n", argv[i]);
            layers_usage(stderr);
            return 2;
        }
    }
    if (batch == 0 || reps < 1) {
        fprintf(stderr, "lipcl-bench layers: --batch and --reps must be >= 1\n");
        return 2;
    }
    lip_context_config cfg = lip_context_config_default();
    cfg.device = device;
    lip_context *ctx = NULL;
    lip_status st = lip_context_create(&ctx, &cfg);
    if (st != LIP_OK) {
        fprintf(stderr, "lipcl-bench layers: %s\n", ctx ? lip_context_last_error(ctx) : lip_status_string(st));
        lip_context_free(ctx);
        return 1;
    }
    lip_device_info info;
    lip_context_device_info(ctx, &info);
    printf("device: %s (%s)\nbatch %zu, median of 5 rounds x %d calls, ms per call\n\n", info.device_name,
           info.driver_version, batch, reps);
    printf("%-11s %-32s %9s %9s %9s %8s\n", "model", "layer", "forward", "backward", "reparam", "reparam%");
    double tot[3] = {0, 0, 0};
    const char *current = NULL;
    int rc = 0;
    for (size_t i = 0; i < sizeof bench_layers / sizeof bench_layers[0]; i++) {
        const bench_layer *b = &bench_layers[i];
        if (only && strcmp(only, b->model)) continue;
        if (current && strcmp(current, b->model)) {
            double s = tot[0] + tot[1] + tot[2];
            printf("%-11s %-32s %9.3f %9.3f %9.3f %7.1f%%\n\n", current, "total", tot[0], tot[1], tot[2],
                   s > 0 ? 100 * tot[2] / s : 0);
            tot[0] = tot[1] = tot[2] = 0;
        }
        current = b->model;
        layer_times t = {0, 0, 0};
        st = time_layer(ctx, b, batch, reps, &t);
        if (st != LIP_OK) {
            fprintf(stderr, "lipcl-bench layers: %s: %s\n", b->label, lip_context_last_error(ctx));
            rc = 1;
            continue;
        }
        double s = t.fwd + t.bwd + t.reparam;
        printf("%-11s %-32s %9.3f %9.3f %9.3f %7.1f%%\n", b->model, b->label, t.fwd, t.bwd, t.reparam,
               s > 0 ? 100 * t.reparam / s : 0);
        tot[0] += t.fwd;
        tot[1] += t.bwd;
        tot[2] += t.reparam;
    }
    if (current) {
        double s = tot[0] + tot[1] + tot[2];
        printf("%-11s %-32s %9.3f %9.3f %9.3f %7.1f%%\n", current, "total", tot[0], tot[1], tot[2],
               s > 0 ? 100 * tot[2] / s : 0);
    }
    lip_context_free(ctx);
    return rc;
}
