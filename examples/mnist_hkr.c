/* lipcl example — deel-lip demo3: a 1-Lipschitz GroupSort MLP trained with the HKR loss to tell two
 * MNIST digits apart (0 vs 8 by default), with its validation accuracy and certified robustness. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXAMPLE_NAME "mnist_hkr"
#include "example.h"
#ifdef LIPCL_HAVE_PLOT
#include "plot.h"
#endif

static void usage(FILE *f) {
    fprintf(f,
            "usage: mnist_hkr [--data DIR (mnist)] [--classes P,N (0,8)] [--epochs N (5)] [--batch N (128)]\n"
            "                 [--seed S (0)] [--device D] [--out PREFIX (mnist_hkr)] [--check MIN_ACCURACY]\n"
            "Trains deel-lip's demo3 on the MNIST-style IDX files of DIR, class P (label +1) against class N\n"
            "(label -1), pixels scaled to [0, 1]: Flatten, SpectralDense 128-64-32 with GroupSort2,\n"
            "FrobeniusDense 1, HKR loss (alpha 10, min_margin 1), Adam 1e-3. With a train split in DIR it\n"
            "trains on it and validates on t10k; with only t10k, it splits t10k's two classes 80/20 with\n"
            "the seed. Prints the validation accuracy and certified accuracies, writes PREFIX_history.csv\n"
            "and PREFIX_history.png. --check exits with 3 when the validation accuracy is below MIN.\n");
}

/* (28, 28, 1) → Flatten → SpectralDense 128/64/32, each followed by GroupSort2 → FrobeniusDense 1. */
static lip_model *binary_model(int ndim, const size_t *shape) {
    lip_model *m = NULL;
    lip_layer *l = NULL;
    TRY(lip_model_create(ctx, "mnist_hkr", &m));
    lip_status st = lip_flatten_create(ctx, "flatten", &l);
    add(m, st, l);
    const size_t units[3] = {128, 64, 32};
    for (int i = 0; i < 3; i++) {
        lip_dense_config dc = lip_dense_config_default(units[i]);
        st = lip_spectral_dense_create(ctx, &dc, NULL, &l);
        add(m, st, l);
        st = lip_groupsort2_create(ctx, 1.0f, NULL, &l);
        add(m, st, l);
    }
    lip_dense_config dc = lip_dense_config_default(1);
    st = lip_frobenius_dense_create(ctx, &dc, "head", &l);
    add(m, st, l);
    TRY(lip_model_build(m, ndim, shape));
    return m;
}

/* SPLIT of dir with only classes pos (+1) and neg (−1), pixels in [0, 1]; NULL when the split is absent. */
static lip_dataset *load(const char *dir, const char *split, int pos, int neg, int required) {
    lip_dataset *ds = NULL;
    lip_status st = lip_dataset_load_mnist_dir(ctx, dir, split, &ds);
    if (st == LIP_ERR_IO && !required) return NULL;
    if (st != LIP_OK) {
        fprintf(stderr, "mnist_hkr: cannot load the %s split: %s\n", split, lip_context_last_error(ctx));
        exit(1);
    }
    TRY(lip_dataset_scale(ds, 1.0f / 255.0f, 0.0f));
    TRY(lip_dataset_select_classes(ds, pos, neg));
    return ds;
}

int main(int argc, char **argv) {
    const char *device = NULL, *out = "mnist_hkr", *dir = "mnist";
    size_t epochs = 5, batch = 128;
    int pos = 0, neg = 8;
    unsigned long long seed = 0;
    double check = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (v && !strcmp(a, "--data")) dir = v, i++;
        else if (v && !strcmp(a, "--classes") && sscanf(v, "%d,%d", &pos, &neg) == 2) i++;
        else if (v && !strcmp(a, "--epochs")) epochs = strtoul(v, NULL, 10), i++;
        else if (v && !strcmp(a, "--batch")) batch = strtoul(v, NULL, 10), i++;
        else if (v && !strcmp(a, "--seed")) seed = strtoull(v, NULL, 10), i++;
        else if (v && !strcmp(a, "--device")) device = v, i++;
        else if (v && !strcmp(a, "--out")) out = v, i++;
        else if (v && !strcmp(a, "--check")) check = strtod(v, NULL), i++;
        else {
            fprintf(stderr, "mnist_hkr: bad argument '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (!epochs || !batch || pos == neg) {
        fprintf(stderr, "mnist_hkr: --epochs and --batch must be >= 1, the two classes different\n");
        return 2;
    }
    lip_context_config cfg = lip_context_config_default();
    cfg.device = device;
    if (lip_context_create(&ctx, &cfg) != LIP_OK) {
        fprintf(stderr, "mnist_hkr: no OpenCL device: %s\n", ctx ? lip_context_last_error(ctx) : "");
        return 1;
    }
    uint64_t rng[4] = {seed + 1, seed + 2, seed + 3, seed + 4}; /* weight initialization */
    TRY(lip_random_set_state(ctx, rng));

    lip_dataset *train = load(dir, "train", pos, neg, 0), *val = NULL;
    int split = !train;
    if (train) {
        val = load(dir, "t10k", pos, neg, 1);
    } else { /* only the test split here: a seeded 80/20 split of its two classes */
        lip_dataset *all = load(dir, "t10k", pos, neg, 1);
        TRY(lip_dataset_split(all, 0.8, seed, &train, &val));
        lip_dataset_free(all);
    }
    lip_device_info info;
    TRY(lip_context_device_info(ctx, &info));
    printf("device: %s\ndata: %s, %d (+1) vs %d (-1): %zu training, %zu validation images%s\n", info.device_name, dir,
           pos, neg, lip_dataset_count(train), lip_dataset_count(val),
           split ? " (80/20 split of t10k)" : "");

    int ndim = 0;
    size_t shape[LIP_MAX_DIMS];
    TRY(lip_dataset_sample_shape(train, &ndim, shape));
    lip_model *model = binary_model(ndim, shape);
    lip_loss_config lc = lip_loss_config_default(LIP_LOSS_HKR);
    lc.alpha = 10.0f;
    lc.min_margin = 1.0f;
    lip_loss *loss = NULL;
    TRY(lip_loss_create(ctx, &lc, &loss));
    lip_optimizer_config oc = lip_optimizer_config_default(LIP_OPTIMIZER_ADAM);
    oc.learning_rate = 1e-3;
    lip_optimizer *opt = NULL;
    TRY(lip_optimizer_create(ctx, &oc, &opt));
    lip_metric *metrics[2] = {NULL, NULL};
    lip_metric_config mc = lip_metric_config_default(LIP_METRIC_BINARY_ACCURACY);
    TRY(lip_metric_create(ctx, &mc, &metrics[0]));
    mc = lip_metric_config_default(LIP_METRIC_BINARY_PROVABLE_AVG_ROBUSTNESS);
    TRY(lip_metric_create(ctx, &mc, &metrics[1]));
    TRY(lip_model_compile(model, loss, opt, 2, metrics));

    lip_fit_config fc = lip_fit_config_default();
    fc.batch_size = batch;
    fc.epochs = epochs;
    fc.seed = seed;
    fc.validation = val;
    fc.progress = lip_progress_print;
    fc.progress_user = stdout;
    TRY(lip_model_fit(model, train, &fc));

    /* Validation accuracy and certified accuracy: f is 1-Lipschitz, so |f(x)| certifies every L2
     * perturbation of norm < |f(x)| (lip_certificate_factor(1, 1, 0) = 1). */
    size_t n = lip_dataset_count(val);
    float *pred = malloc(n * sizeof *pred);
    TRY(lip_model_predict_host(model, val, 256, pred, n));
    const float *y = lip_dataset_targets(val, NULL);
    const double eps[3] = {0.5, 1.0, 1.5}, factor = lip_certificate_factor(1, 1.0, 0);
    size_t correct = 0, certified[3] = {0, 0, 0};
    for (size_t i = 0; i < n; i++) {
        double margin = (y[i] > 0 ? pred[i] : -pred[i]) / factor;
        correct += margin > 0;
        for (int e = 0; e < 3; e++) certified[e] += margin > eps[e];
    }
    double accuracy = (double)correct / (double)n;
    printf("\nvalidation accuracy: %.4f%s\n", accuracy,
           pos == 0 && neg == 8 ? " (deel-lip: 0.9918 after 5 epochs on MNIST's full split)" : "");
    for (int e = 0; e < 3; e++)
        printf("certified accuracy at L2 eps=%.1f: %.4f\n", eps[e], (double)certified[e] / (double)n);

    char path[1024];
    snprintf(path, sizeof path, "%s_history.csv", out);
    TRY(lip_model_history_save_csv(model, path));
    printf("history: %s\n", path);
#ifdef LIPCL_HAVE_PLOT
    char err[512], png[1024];
    snprintf(png, sizeof png, "%s_history.png", out);
    if (lipcl_plot_history(path, png, 640, err, sizeof err)) fprintf(stderr, "mnist_hkr: %s\n", err);
    else printf("curves: %s\n", png);
#endif

    free(pred);
    lip_model_free(model);
    lip_dataset_free(train);
    lip_dataset_free(val);
    if (lip_context_free(ctx) != LIP_OK) return 1;
    if (check >= 0 && accuracy < check) {
        fprintf(stderr, "mnist_hkr: validation accuracy %.4f below %.4f\n", accuracy, check);
        return 3;
    }
    return 0;
}
