/* lipcl quickstart — deel-lip's README model on Fashion-MNIST (or MNIST): train a 1-Lipschitz CNN
 * and print its clean accuracy and its certified accuracy at L2 radii 0.1, 0.3 and 0.5. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXAMPLE_NAME "quickstart"
#include "example.h"

static void usage(FILE *f) {
    fprintf(f, "usage: quickstart [--data DIR] [--epochs N (15)] [--batch N (256)] [--limit N] [--seed S]\n"
               "                  [--device D] [--out PREFIX (quickstart)]\n"
               "Trains deel-lip's README model on the IDX files of DIR (default: Fashion-MNIST from Debian,\n"
               "/usr/share/datasets/fashion-mnist) with pixels scaled to [0, 1], then prints the test accuracy\n"
               "and the certified accuracy at L2 radii 0.1, 0.3 and 0.5. --limit N trains on the first N\n"
               "training images only (a quick run). Writes the model to PREFIX.lipcl and the per-epoch history\n"
               "to PREFIX_history.csv.\n");
}

/* Load SPLIT of dir, pixels to [0, 1], one-hot targets (1/0), optionally the first `limit` samples. */
static lip_dataset *load(const char *dir, const char *split, size_t limit) {
    lip_dataset *ds = NULL;
    TRY(lip_dataset_load_mnist_dir(ctx, dir, split, &ds));
    TRY(lip_dataset_scale(ds, 1.0f / 255.0f, 0.0f));
    TRY(lip_dataset_one_hot(ds, 10, 1.0f, 0.0f));
    if (limit && limit < lip_dataset_count(ds)) {
        size_t *idx = malloc(limit * sizeof *idx);
        for (size_t i = 0; i < limit; i++) idx[i] = i;
        lip_dataset *sub = NULL;
        TRY(lip_dataset_subset(ds, idx, limit, &sub));
        free(idx);
        lip_dataset_free(ds);
        ds = sub;
    }
    return ds;
}

/* SpectralConv2D(16, 3x3) → ScaledL2NormPooling2D(2) → SpectralConv2D(32, 3x3) → ScaledL2NormPooling2D(2)
 * → Flatten → SpectralDense(100) → SpectralDense(10); GroupSort2 activations, no bias, orthogonal init. */
static lip_model *readme_model(void) {
    lip_model *m = NULL;
    lip_layer *l = NULL;
    lip_status st;
    TRY(lip_model_create(ctx, "quickstart", &m));
    size_t filters[2] = {16, 32};
    for (int i = 0; i < 2; i++) {
        lip_conv2d_config cc = lip_conv2d_config_default(filters[i], 3, 3);
        cc.use_bias = 0;
        cc.kernel_init = LIP_INIT_ORTHOGONAL;
        st = lip_spectral_conv2d_create(ctx, &cc, i ? "conv2" : "conv1", &l);
        add(m, st, l);
        st = lip_groupsort2_create(ctx, 1.0f, NULL, &l);
        add(m, st, l);
        lip_pool2d_config pc = lip_pool2d_config_default();
        st = lip_scaled_l2norm_pooling2d_create(ctx, &pc, NULL, &l);
        add(m, st, l);
    }
    st = lip_flatten_create(ctx, "flatten", &l);
    add(m, st, l);
    lip_dense_config dc = lip_dense_config_default(100);
    dc.use_bias = 0;
    dc.kernel_init = LIP_INIT_ORTHOGONAL;
    st = lip_spectral_dense_create(ctx, &dc, "dense1", &l);
    add(m, st, l);
    st = lip_groupsort2_create(ctx, 1.0f, NULL, &l);
    add(m, st, l);
    dc.units = 10;
    st = lip_spectral_dense_create(ctx, &dc, "logits", &l);
    add(m, st, l);
    size_t in[3] = {28, 28, 1};
    TRY(lip_model_build(m, 3, in));
    return m;
}

int main(int argc, char **argv) {
    const char *dir = "/usr/share/datasets/fashion-mnist", *device = NULL, *out = "quickstart";
    size_t epochs = 15, batch = 256, limit = 0;
    unsigned long long seed = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (v && !strcmp(a, "--data")) dir = v, i++;
        else if (v && !strcmp(a, "--epochs")) epochs = strtoul(v, NULL, 10), i++;
        else if (v && !strcmp(a, "--batch")) batch = strtoul(v, NULL, 10), i++;
        else if (v && !strcmp(a, "--limit")) limit = strtoul(v, NULL, 10), i++;
        else if (v && !strcmp(a, "--seed")) seed = strtoull(v, NULL, 10), i++;
        else if (v && !strcmp(a, "--device")) device = v, i++;
        else if (v && !strcmp(a, "--out")) out = v, i++;
        else {
            fprintf(stderr, "quickstart: bad argument '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (!epochs || !batch) {
        fprintf(stderr, "quickstart: --epochs and --batch must be >= 1\n");
        return 2;
    }
    lip_context_config cfg = lip_context_config_default();
    cfg.device = device;
    cfg.log = example_log;
    if (lip_context_create(&ctx, &cfg) != LIP_OK) {
        fprintf(stderr, "quickstart: no OpenCL device: %s\n", ctx ? lip_context_last_error(ctx) : "");
        return 1;
    }
    uint64_t rng[4] = {seed + 1, seed + 2, seed + 3, seed + 4};
    TRY(lip_random_set_state(ctx, rng));
    lip_dataset *train = load(dir, "train", limit), *test = load(dir, "t10k", 0);
    lip_device_info info;
    TRY(lip_context_device_info(ctx, &info));
    printf("device: %s\ndata: %s (%zu training, %zu test images)\n", info.device_name, dir, lip_dataset_count(train),
           lip_dataset_count(test));

    lip_model *model = readme_model();
    char *summary = NULL;
    TRY(lip_model_summary(model, &summary));
    fputs(summary, stdout);
    free(summary);

    lip_loss_config lc = lip_loss_config_default(LIP_LOSS_MULTICLASS_HKR);
    lc.alpha = 5.0f;
    lc.min_margin = 0.5f;
    lip_loss *loss = NULL;
    TRY(lip_loss_create(ctx, &lc, &loss));
    lip_optimizer_config oc = lip_optimizer_config_default(LIP_OPTIMIZER_ADAM);
    oc.learning_rate = 0.01;
    lip_optimizer *opt = NULL;
    TRY(lip_optimizer_create(ctx, &oc, &opt));
    lip_metric *acc = NULL;
    lip_metric_config mc = lip_metric_config_default(LIP_METRIC_CATEGORICAL_ACCURACY);
    TRY(lip_metric_create(ctx, &mc, &acc));
    TRY(lip_model_compile(model, loss, opt, 1, &acc));

    lip_fit_config fc = lip_fit_config_default();
    fc.batch_size = batch;
    fc.epochs = epochs;
    fc.seed = seed;
    fc.validation = test;
    fc.progress = lip_progress_print;
    fc.progress_user = stdout;
    TRY(lip_model_fit(model, train, &fc));

    /* Certified accuracy: the network is 1-Lipschitz as a vector map, so a margin Δ between the true
     * class and the runner-up certifies every L2 perturbation of norm < Δ/√2 (pixels in [0, 1]). */
    size_t n = lip_dataset_count(test), width = 0;
    float *pred = malloc(n * 10 * sizeof *pred);
    TRY(lip_model_predict_host(model, test, batch, pred, n * 10));
    const float *y = lip_dataset_targets(test, &width);
    const double eps[3] = {0.1, 0.3, 0.5};
    double factor = 0;
    TRY(lip_model_certificate_factor(model, &factor)); /* √2·L: L = 1 here, the head is not disjoint */
    size_t correct = 0, certified[3] = {0, 0, 0};
    for (size_t i = 0; i < n; i++) {
        const float *f = pred + 10 * i;
        size_t truth = 0, best = 0;
        for (size_t c = 0; c < 10; c++) {
            if (y[10 * i + c] > 0) truth = c;
            if (f[c] > f[best]) best = c;
        }
        float other = -INFINITY;
        for (size_t c = 0; c < 10; c++)
            if (c != truth && f[c] > other) other = f[c];
        double radius = (f[truth] - other) / factor;
        correct += best == truth;
        for (int e = 0; e < 3; e++) certified[e] += radius > eps[e];
    }
    printf("\nclean accuracy: %.4f\n", (double)correct / (double)n);
    for (int e = 0; e < 3; e++)
        printf("certified accuracy at eps=%.1f: %.4f\n", eps[e], (double)certified[e] / (double)n);
    free(pred);

    char path[1024];
    snprintf(path, sizeof path, "%s.lipcl", out);
    TRY(lip_model_save(model, path, LIP_SAVE_WEIGHTS));
    printf("model saved to %s", path);
    snprintf(path, sizeof path, "%s_history.csv", out);
    TRY(lip_model_history_save_csv(model, path));
    printf(", history to %s\n", path);
    lip_model_free(model);
    lip_dataset_free(train);
    lip_dataset_free(test);
    return lip_context_free(ctx) == LIP_OK ? 0 : 1;
}
