/* lipcl — the command-line tool: train a model described in a text file (tools/cli/model_cfg.c), evaluate
 * its clean and certified accuracy, export it, print its singular values, list devices (doc/cli.md). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/model_cfg.h"
#include "layers/layer.h" /* sv: the effective kernel of a layer (vanilla_export) and its conv geometry */
#include "lipcl/lipcl.h"
#if LIPCL_CLI_HAVE_IO
#include "lipcl/io.h"
#endif

/* ---- errors: one line, non-zero exit ------------------------------------------------------------ */

static const char *g_cmd = "lipcl";
static lip_context *g_ctx;

/* Bad command line: exit 2. */
static void usage_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", g_cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see '%s --help')\n", g_cmd);
    va_end(ap);
    exit(2);
}

/* Failure while running: exit 1. */
static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", g_cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

#define TRY(call, what)                                                                                      \
    do {                                                                                                     \
        lip_status st_ = (call);                                                                             \
        if (st_ != LIP_OK)                                                                                   \
            die("%s: %s (%s)", what, g_ctx ? lip_context_last_error(g_ctx) : "", lip_status_name(st_));      \
    } while (0)

/* ---- argument values ------------------------------------------------------------------------------ */

static size_t arg_size(const char *opt, const char *s, size_t min) {
    char *end = NULL;
    errno = 0;
    unsigned long long v = (s && *s != '-') ? strtoull(s, &end, 10) : 0;
    if (!s || !*s || *s == '-' || errno || *end || v < min || v > (1ull << 40))
        usage_error("%s needs a whole number >= %zu, not '%s'", opt, min, s ? s : "");
    return (size_t)v;
}

static double arg_double(const char *opt, const char *s) {
    char *end = NULL;
    double v = s ? strtod(s, &end) : NAN;
    if (!s || !*s || *end || !isfinite(v)) usage_error("%s needs a finite number, not '%s'", opt, s ? s : "");
    return v;
}

/* The value after option argv[*i] (which must exist). */
static const char *arg_next(int argc, char **argv, int *i) {
    if (*i + 1 >= argc) usage_error("%s needs a value", argv[*i]);
    return argv[++*i];
}

/* "0.1,0.3,0.5" → up to max radii ≥ 0. */
static size_t arg_eps_list(const char *s, double *eps, size_t max) {
    char buf[512];
    snprintf(buf, sizeof buf, "%s", s);
    size_t n = 0;
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (n == max) usage_error("--eps takes at most %zu radii", max);
        eps[n] = arg_double("--eps", t);
        if (eps[n] < 0) usage_error("--eps radii must be >= 0, not '%s'", t);
        n++;
    }
    if (!n) usage_error("--eps needs a comma-separated list of radii");
    return n;
}

static lip_context *open_context(const char *device, uint64_t seed) {
    lip_context_config cfg = lip_context_config_default();
    cfg.device = device;
    cfg.seed = seed;
    lip_status st = lip_context_create(&g_ctx, &cfg);
    if (st != LIP_OK)
        die("cannot open an OpenCL device%s%s: %s", device ? " matching " : "", device ? device : "",
            lip_status_string(st));
    return g_ctx;
}

static void close_context(void) {
    lip_status st = lip_context_free(g_ctx);
    if (st != LIP_OK) fprintf(stderr, "%s: warning: context not released (%s)\n", g_cmd, lip_status_name(st));
    g_ctx = NULL;
}

/* ---- data --------------------------------------------------------------------------------------- */

typedef struct data_opts {
    const char *spec;  /* moons[:N[:NOISE]], circles[:N[:NOISE[:FACTOR]]], or an IDX folder */
    const char *split; /* IDX: "train" / "t10k" */
    size_t limit;      /* 0: all */
    double scale;      /* NAN: 1/255 for IDX, 1 for synthetic */
    int classes;       /* 1: --classes P,N given */
    int pos, neg;
    uint64_t seed;
} data_opts;

static const char *DATA_HELP =
    "  --data SPEC        moons[:N[:NOISE]] (two moons, N=1000, noise 0.1), circles[:N[:NOISE[:FACTOR]]]\n"
    "                     (N=1000, 0.05, 0.5), or a folder of MNIST-style IDX files (SPLIT-images-idx3-ubyte[.gz],\n"
    "                     SPLIT-labels-idx1-ubyte[.gz])\n"
    "  --split NAME       IDX split to read: train or t10k\n"
    "  --limit N          keep the first N samples only\n"
    "  --scale X          multiply the features by X (default 1/255 for IDX, 1 for synthetic sets)\n"
    "  --classes P,N      binary task of class P (+1) against class N (-1) (one-output models)\n";

/* Parse the data options shared by train and eval; returns 1 when argv[*i] was one of them. */
static int data_option(data_opts *d, int argc, char **argv, int *i) {
    const char *a = argv[*i];
    if (!strcmp(a, "--data"))
        d->spec = arg_next(argc, argv, i);
    else if (!strcmp(a, "--split"))
        d->split = arg_next(argc, argv, i);
    else if (!strcmp(a, "--limit"))
        d->limit = arg_size(a, arg_next(argc, argv, i), 1);
    else if (!strcmp(a, "--scale"))
        d->scale = arg_double(a, arg_next(argc, argv, i));
    else if (!strcmp(a, "--classes")) {
        const char *v = arg_next(argc, argv, i);
        int n = 0;
        if (sscanf(v, "%d,%d%n", &d->pos, &d->neg, &n) != 2 || v[n] || d->pos < 0 || d->neg < 0 || d->pos == d->neg)
            usage_error("--classes needs two different class numbers P,N, not '%s'", v);
        d->classes = 1;
    } else
        return 0;
    return 1;
}

/* "moons:1000:0.1" → the numbers after the name (up to 3); returns how many. */
static int spec_numbers(const char *spec, const char *name, double *v, int max) {
    size_t len = strlen(name);
    const char *s = spec + len;
    int n = 0;
    while (*s == ':') {
        if (n == max) usage_error("--data %s takes at most %d numbers", name, max);
        char *end = NULL;
        v[n] = strtod(s + 1, &end);
        if (end == s + 1 || (*end && *end != ':') || !isfinite(v[n]))
            usage_error("--data '%s': '%s' is not a number", spec, s + 1);
        n++;
        s = end;
    }
    return n;
}

static int spec_is(const char *spec, const char *name) {
    size_t len = strlen(name);
    return !strncmp(spec, name, len) && (spec[len] == 0 || spec[len] == ':');
}

/* Load the data and set its targets for a model with `outputs` outputs: ±1 (class 1, or P, positive)
 * for one output, one-hot (1/0) otherwise. */
static lip_dataset *load_data(const data_opts *d, size_t outputs) {
    lip_context *ctx = g_ctx;
    lip_dataset *ds = NULL;
    double scale = d->scale;
    char what[600];
    snprintf(what, sizeof what, "data '%s'", d->spec);
    if (spec_is(d->spec, "moons") || spec_is(d->spec, "circles")) {
        int moons = spec_is(d->spec, "moons");
        double v[3] = {1000, moons ? 0.1 : 0.05, 0.5};
        spec_numbers(d->spec, moons ? "moons" : "circles", v, moons ? 2 : 3);
        if (!(v[0] >= 2 && v[0] <= 1e8 && v[0] == floor(v[0])))
            usage_error("--data '%s': the sample count must be a whole number >= 2", d->spec);
        if (moons)
            TRY(lip_dataset_make_moons(ctx, (size_t)v[0], v[1], 1, d->seed, &ds), what);
        else
            TRY(lip_dataset_make_circles(ctx, (size_t)v[0], v[1], v[2], 1, d->seed, &ds), what);
        if (isnan(scale)) scale = 1.0;
    } else {
        TRY(lip_dataset_load_mnist_dir(ctx, d->spec, d->split, &ds), what);
        if (isnan(scale)) scale = 1.0 / 255.0;
    }
    if (scale != 1.0) TRY(lip_dataset_scale(ds, (float)scale, 0.0f), what);
    if (d->classes) {
        if (outputs != 1) usage_error("--classes needs a model with one output (this one has %zu)", outputs);
        TRY(lip_dataset_select_classes(ds, d->pos, d->neg), what);
    }
    if (d->limit && d->limit < lip_dataset_count(ds)) {
        size_t *idx = malloc(d->limit * sizeof *idx);
        if (!idx) die("out of memory");
        for (size_t i = 0; i < d->limit; i++) idx[i] = i;
        lip_dataset *sub = NULL;
        TRY(lip_dataset_subset(ds, idx, d->limit, &sub), what);
        free(idx);
        lip_dataset_free(ds);
        ds = sub;
    }
    if (!d->classes) {
        if (outputs == 1)
            TRY(lip_dataset_binary_targets(ds, 1, 1.0f, -1.0f), what);
        else
            TRY(lip_dataset_one_hot(ds, outputs, 1.0f, 0.0f), what);
    }
    return ds;
}

/* ---- models ------------------------------------------------------------------------------------- */

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcasecmp(s + a - b, suffix);
}

/* A model from a description (.cfg: freshly initialized) or a model file. */
static lip_model *open_model(const char *path) {
    lip_model *m = NULL;
    if (ends_with(path, ".cfg")) {
        char err[1024];
        if (cli_model_from_cfg(g_ctx, path, &m, err, sizeof err) != LIP_OK) die("%s", err);
        return m;
    }
#if LIPCL_CLI_HAVE_IO
    lip_status st = lip_model_load(g_ctx, path, &m);
    if (st != LIP_OK) die("%s", lip_context_last_error(g_ctx));
    return m;
#else
    die("%s: this build cannot read model files (lip_model_load is missing); give a .cfg description", path);
    return NULL;
#endif
}

static size_t model_outputs(lip_model *m) {
    int nd = 0;
    size_t shape[LIP_MAX_DIMS];
    TRY(lip_model_output_shape(m, &nd, shape), "model output shape");
    if (nd != 1) die("model '%s': the output must be a vector (add a Flatten and a dense head)", lip_model_name(m));
    return shape[0];
}

/* ---- evaluation ------------------------------------------------------------------------------------ */

typedef struct eval_opts {
    double eps[16];
    size_t n_eps;
    double factor; /* > 0: the user's */
    size_t batch;
} eval_opts;

/* Clean accuracy, certified accuracy at each ε and mean certified radius of `m` on `ds`. */
static void evaluate(lip_model *m, const lip_dataset *ds, const eval_opts *o) {
    size_t C = model_outputs(m), n = lip_dataset_count(ds), width = 0;
    double L = 1.0;
    int disjoint = 0, known = 1;
    if (lip_model_lipschitz_bound(m, &L, &disjoint) != LIP_OK) {
        known = 0;
        if (o->factor <= 0)
            fprintf(stderr, "%s: warning: no Lipschitz bound for this model (%s); certificates assume L = 1\n",
                    g_cmd, lip_context_last_error(g_ctx));
        L = 1.0;
        disjoint = 0;
        lip_context_clear_error(g_ctx);
    }
    double factor = o->factor > 0 ? o->factor : lip_certificate_factor(C, L, disjoint);
    float *pred = malloc(n * C * sizeof *pred);
    if (!pred) die("out of memory for %zu predictions", n);
    TRY(lip_model_predict_host(m, ds, o->batch, pred, n * C), "predict");
    const float *y = lip_dataset_targets(ds, &width);
    if (!y || width != C) die("the data's targets (width %zu) do not match the model's %zu outputs", width, C);
    size_t correct = 0, certified[16] = {0};
    double radius_sum = 0.0;
    for (size_t i = 0; i < n; i++) {
        const float *f = pred + C * i, *t = y + C * i;
        double margin;
        int right;
        if (C == 1) {
            margin = t[0] > 0 ? f[0] : -f[0];
            right = (f[0] > 0) == (t[0] > 0);
        } else {
            size_t truth = 0, best = 0;
            for (size_t c = 1; c < C; c++) {
                if (t[c] > t[truth]) truth = c;
                if (f[c] > f[best]) best = c;
            }
            double other = -INFINITY;
            for (size_t c = 0; c < C; c++)
                if (c != truth && f[c] > other) other = f[c];
            margin = f[truth] - other;
            right = best == truth;
        }
        double radius = margin / factor;
        correct += (size_t)right;
        if (radius > 0) radius_sum += radius;
        for (size_t e = 0; e < o->n_eps; e++) certified[e] += radius > o->eps[e];
    }
    free(pred);
    printf("samples: %zu\n", n);
    printf("lipschitz bound: %.6g%s\n", L,
           !known ? " (unknown: assumed)" : disjoint ? " (per output neuron: disjoint head)" : "");
    printf("certificate factor: %.6g%s\n", factor, o->factor > 0 ? " (--factor)" : "");
    printf("clean accuracy: %.4f\n", (double)correct / (double)n);
    for (size_t e = 0; e < o->n_eps; e++)
        printf("certified accuracy (eps=%g): %.4f\n", o->eps[e], (double)certified[e] / (double)n);
    printf("mean certified radius: %.6g\n", radius_sum / (double)n);
}

static int eval_option(eval_opts *o, int argc, char **argv, int *i) {
    const char *a = argv[*i];
    if (!strcmp(a, "--eps"))
        o->n_eps = arg_eps_list(arg_next(argc, argv, i), o->eps, 16);
    else if (!strcmp(a, "--factor")) {
        o->factor = arg_double(a, arg_next(argc, argv, i));
        if (o->factor <= 0) usage_error("--factor must be > 0");
    } else
        return 0;
    return 1;
}

static const char *EVAL_HELP =
    "  --eps LIST         L2 radii of the certified accuracy (default 0.1,0.3,0.5)\n"
    "  --factor F         certificate factor (default: from the model: L for one output, 2L for a disjoint\n"
    "                     FrobeniusDense head, sqrt(2)L otherwise; L = the model's Lipschitz bound, or 1)\n";

/* ---- lipcl train ---------------------------------------------------------------------------------- */

static void train_help(void) {
    printf("usage: lipcl train --model FILE.cfg --data SPEC [options]\n"
           "Builds the model of FILE.cfg (doc/cli.md), trains it and writes the model file and the history.\n"
           "%s"
           "  --val-data SPEC    validation data (same forms as --data; --val-split instead: a part of --data)\n"
           "  --val-split F      keep a fraction F in (0, 1) of the data for training, the rest for validation\n"
           "  --epochs N         (10)\n"
           "  --batch N          (32)\n"
           "  --optimizer NAME   adam (default) or sgd\n"
           "  --lr X             learning rate (adam 1e-3, sgd 1e-2)\n"
           "  --momentum X       sgd momentum (0); --nesterov\n"
           "  --loss NAME        deel-lip loss class name: HKR, KR, HingeMargin, MulticlassHKR, MulticlassKR,\n"
           "                     MulticlassHinge, MulticlassSoftHKR, MultiMargin, CategoricalHinge,\n"
           "                     TauCategoricalCrossentropy, TauBinaryCrossentropy, CategoricalCrossentropy, MSE\n"
           "                     (default: HKR for one output, MulticlassHKR otherwise)\n"
           "  --alpha X --min-margin X --tau X --temperature X --alpha-mean X   loss parameters\n"
           "  --out FILE         model file to write (default: the .cfg name with .lipcl, in the current folder)\n"
           "  --history FILE     history CSV (default: the model file's name with .csv)\n"
           "  --no-save          write neither\n"
           "  --eval             then evaluate on the validation data (else the training data)\n"
           "%s"
           "  --device SPEC      OpenCL device (index, P:D, cpu, gpu or a name substring; default $LIPCL_DEVICE)\n"
           "  --seed S           seed of the initialization, the synthetic data and the shuffling (0)\n"
           "  --quiet            no summary, no progress bar\n",
           DATA_HELP, EVAL_HELP);
}

/* path with its extension (after the last '/') replaced by ext. */
static char *with_extension(const char *path, const char *ext) {
    const char *slash = strrchr(path, '/'), *dot = strrchr(path, '.');
    size_t keep = dot && (!slash || dot > slash + 1) ? (size_t)(dot - path) : strlen(path);
    char *s = malloc(keep + strlen(ext) + 1);
    if (!s) die("out of memory");
    memcpy(s, path, keep);
    strcpy(s + keep, ext);
    return s;
}

static int cmd_train(int argc, char **argv) {
    g_cmd = "lipcl train";
    data_opts d = {NULL, "train", 0, NAN, 0, 0, 0, 0};
    const char *model_path = NULL, *val_spec = NULL, *device = NULL, *out = NULL, *history = NULL, *loss_name = NULL;
    const char *optimizer = "adam";
    size_t epochs = 10, batch = 32;
    double lr = 0, momentum = 0, val_split = 0, lp[5];
    int lp_set[5] = {0}, nesterov = 0, save = 1, do_eval = 0, quiet = 0;
    static const char *const lp_opt[5] = {"--alpha", "--min-margin", "--tau", "--temperature", "--alpha-mean"};
    static const char *const lp_name[5] = {"alpha", "min_margin", "tau", "temperature", "alpha_mean"};
    uint64_t seed = 0;
    eval_opts eo = {{0.1, 0.3, 0.5}, 3, 0, 256};
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        int lp_i = -1;
        for (int j = 0; j < 5; j++)
            if (!strcmp(a, lp_opt[j])) lp_i = j;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            train_help();
            return 0;
        } else if (data_option(&d, argc, argv, &i) || eval_option(&eo, argc, argv, &i)) {
        } else if (lp_i >= 0) {
            lp[lp_i] = arg_double(a, arg_next(argc, argv, &i));
            lp_set[lp_i] = 1;
        } else if (!strcmp(a, "--model"))
            model_path = arg_next(argc, argv, &i);
        else if (!strcmp(a, "--val-data"))
            val_spec = arg_next(argc, argv, &i);
        else if (!strcmp(a, "--val-split")) {
            val_split = arg_double(a, arg_next(argc, argv, &i));
            if (!(val_split > 0 && val_split < 1)) usage_error("--val-split must be in (0, 1)");
        } else if (!strcmp(a, "--epochs"))
            epochs = arg_size(a, arg_next(argc, argv, &i), 1);
        else if (!strcmp(a, "--batch"))
            batch = arg_size(a, arg_next(argc, argv, &i), 1);
        else if (!strcmp(a, "--optimizer"))
            optimizer = arg_next(argc, argv, &i);
        else if (!strcmp(a, "--lr")) {
            lr = arg_double(a, arg_next(argc, argv, &i));
            if (lr <= 0) usage_error("--lr must be > 0");
        } else if (!strcmp(a, "--momentum"))
            momentum = arg_double(a, arg_next(argc, argv, &i));
        else if (!strcmp(a, "--nesterov"))
            nesterov = 1;
        else if (!strcmp(a, "--loss"))
            loss_name = arg_next(argc, argv, &i);
        else if (!strcmp(a, "--out"))
            out = arg_next(argc, argv, &i);
        else if (!strcmp(a, "--history"))
            history = arg_next(argc, argv, &i);
        else if (!strcmp(a, "--no-save"))
            save = 0;
        else if (!strcmp(a, "--eval"))
            do_eval = 1;
        else if (!strcmp(a, "--device"))
            device = arg_next(argc, argv, &i);
        else if (!strcmp(a, "--seed"))
            seed = arg_size(a, arg_next(argc, argv, &i), 0);
        else if (!strcmp(a, "--quiet"))
            quiet = 1;
        else
            usage_error("unknown argument '%s'", a);
    }
    if (!model_path) usage_error("--model FILE.cfg is required");
    if (!d.spec) usage_error("--data SPEC is required");
    if (val_spec && val_split > 0) usage_error("give --val-data or --val-split, not both");
    lip_optimizer_kind okind;
    if (!strcasecmp(optimizer, "adam"))
        okind = LIP_OPTIMIZER_ADAM;
    else if (!strcasecmp(optimizer, "sgd"))
        okind = LIP_OPTIMIZER_SGD;
    else
        usage_error("--optimizer must be adam or sgd, not '%s'", optimizer);
    lip_loss_kind lkind = LIP_LOSS_HKR;
    if (loss_name && lip_loss_kind_from_name(loss_name, &lkind) != LIP_OK)
        usage_error("unknown loss '%s' (deel-lip class names: HKR, MulticlassHKR, ...)", loss_name);
#if !LIPCL_CLI_HAVE_IO
    if (save && out) die("this build cannot write model files (lip_model_save is missing); use --no-save");
    if (save && !history) save = 0;
#endif
    char *out_path = NULL, *hist_path = NULL;
    if (save) {
        const char *base = strrchr(model_path, '/');
        out_path = out ? strdup(out) : with_extension(base ? base + 1 : model_path, ".lipcl");
        hist_path = history ? strdup(history) : with_extension(out_path, ".csv");
        if (!out_path || !hist_path) die("out of memory");
    }

    open_context(device, seed);
    lip_model *m = open_model(model_path);
    size_t C = model_outputs(m);
    d.seed = seed;
    lip_dataset *train = load_data(&d, C), *val = NULL;
    if (val_split > 0) {
        lip_dataset *a = NULL, *b = NULL;
        TRY(lip_dataset_split(train, val_split, seed, &a, &b), "--val-split");
        lip_dataset_free(train);
        train = a;
        val = b;
    } else if (val_spec) {
        data_opts v = d;
        v.spec = val_spec;
        v.seed = seed + 1; /* a synthetic validation set: other samples than the training set's */
        v.limit = 0;
        val = load_data(&v, C);
    }
    if (!quiet) {
        char *summary = NULL;
        TRY(lip_model_summary(m, &summary), "summary");
        fputs(summary, stdout);
        free(summary);
        lip_device_info info;
        TRY(lip_context_device_info(g_ctx, &info), "device");
        printf("device: %s\ndata: %s (%zu training samples%s", info.device_name, d.spec, lip_dataset_count(train),
               val ? ", " : ")\n");
        if (val) printf("%zu validation)\n", lip_dataset_count(val));
        fflush(stdout);
    }

    if (!loss_name) lkind = C == 1 ? LIP_LOSS_HKR : LIP_LOSS_MULTICLASS_HKR;
    lip_loss_config lc = lip_loss_config_default(lkind);
    if (lp_set[0]) lc.alpha = (float)lp[0];
    if (lp_set[1]) lc.min_margin = (float)lp[1];
    if (lp_set[2]) lc.tau = (float)lp[2];
    if (lp_set[3]) lc.temperature = (float)lp[3];
    if (lp_set[4]) lc.alpha_mean = (float)lp[4];
    (void)lp_name;
    lip_loss *loss = NULL;
    TRY(lip_loss_create(g_ctx, &lc, &loss), "loss");
    lip_optimizer_config oc = lip_optimizer_config_default(okind);
    if (lr > 0) oc.learning_rate = lr;
    oc.momentum = momentum;
    oc.nesterov = nesterov;
    lip_optimizer *opt = NULL;
    lip_status st = lip_optimizer_create(g_ctx, &oc, &opt);
    if (st != LIP_OK) {
        lip_loss_free(loss);
        TRY(st, "optimizer");
    }
    lip_metric_config mc = lip_metric_config_default(C == 1 ? LIP_METRIC_BINARY_ACCURACY : LIP_METRIC_CATEGORICAL_ACCURACY);
    lip_metric *acc = NULL;
    st = lip_metric_create(g_ctx, &mc, &acc);
    if (st != LIP_OK) {
        lip_loss_free(loss);
        lip_optimizer_free(opt);
        TRY(st, "metric");
    }
    TRY(lip_model_compile(m, loss, opt, 1, &acc), "compile");

    lip_fit_config fc = lip_fit_config_default();
    fc.batch_size = batch;
    fc.epochs = epochs;
    fc.seed = seed;
    fc.validation = val;
    fc.progress = quiet ? NULL : lip_progress_print;
    fc.progress_user = stderr;
    TRY(lip_model_fit(m, train, &fc), "training");

    if (save) {
#if LIPCL_CLI_HAVE_IO
        TRY(lip_model_save(m, out_path, LIP_SAVE_WEIGHTS), "saving the model");
        printf("model: %s\n", out_path);
#endif
        TRY(lip_model_history_save_csv(m, hist_path), "saving the history");
        printf("history: %s\n", hist_path);
    }
    if (do_eval) evaluate(m, val ? val : train, &eo);
    free(out_path);
    free(hist_path);
    lip_model_free(m);
    lip_dataset_free(train);
    lip_dataset_free(val);
    close_context();
    return 0;
}

/* ---- lipcl eval --------------------------------------------------------------------------------- */

static void eval_help(void) {
    printf("usage: lipcl eval MODEL --data SPEC [options]\n"
           "Prints the clean accuracy, the certified accuracy at each radius and the mean certified radius\n"
           "(mean of max(0, margin/factor)) of MODEL (a model file, or a .cfg: an untrained model) on the data.\n"
           "%s%s"
           "  --batch N          prediction batch (256)\n"
           "  --device SPEC      OpenCL device\n"
           "  --seed S           seed of a synthetic data set (default 1: other samples than 'train --seed 0')\n",
           DATA_HELP, EVAL_HELP);
}

static int cmd_eval(int argc, char **argv) {
    g_cmd = "lipcl eval";
    data_opts d = {NULL, "t10k", 0, NAN, 0, 0, 0, 1};
    eval_opts eo = {{0.1, 0.3, 0.5}, 3, 0, 256};
    const char *model_path = NULL, *device = NULL;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            eval_help();
            return 0;
        } else if (data_option(&d, argc, argv, &i) || eval_option(&eo, argc, argv, &i)) {
        } else if (!strcmp(a, "--batch"))
            eo.batch = arg_size(a, arg_next(argc, argv, &i), 1);
        else if (!strcmp(a, "--device"))
            device = arg_next(argc, argv, &i);
        else if (!strcmp(a, "--seed"))
            d.seed = arg_size(a, arg_next(argc, argv, &i), 0);
        else if (a[0] == '-' || model_path)
            usage_error("unknown argument '%s'", a);
        else
            model_path = a;
    }
    if (!model_path) usage_error("the MODEL file is required");
    if (!d.spec) usage_error("--data SPEC is required");
    open_context(device, 0);
    lip_model *m = open_model(model_path);
    lip_dataset *ds = load_data(&d, model_outputs(m));
    evaluate(m, ds, &eo);
    lip_dataset_free(ds);
    lip_model_free(m);
    close_context();
    return 0;
}

/* ---- lipcl export ------------------------------------------------------------------------------- */

static void export_help(void) {
    printf("usage: lipcl export MODEL --out FILE [--format lipcl|safetensors] [--device SPEC]\n"
           "Writes the vanilla model of MODEL: plain Dense/Conv2D layers holding the effective (constrained)\n"
           "weights, which compute the same function without any reparametrization. lipcl: a model file that\n"
           "lipcl eval reads; safetensors: its weights only (\"layer/param\" keys, float32).\n"
           "The format defaults to safetensors when FILE ends in .safetensors, else lipcl.\n");
}

static int cmd_export(int argc, char **argv) {
    g_cmd = "lipcl export";
    const char *model_path = NULL, *out = NULL, *format = NULL, *device = NULL;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            export_help();
            return 0;
        } else if (!strcmp(a, "--out"))
            out = arg_next(argc, argv, &i);
        else if (!strcmp(a, "--format"))
            format = arg_next(argc, argv, &i);
        else if (!strcmp(a, "--device"))
            device = arg_next(argc, argv, &i);
        else if (a[0] == '-' || model_path)
            usage_error("unknown argument '%s'", a);
        else
            model_path = a;
    }
    if (!model_path) usage_error("the MODEL file is required");
    if (!out) usage_error("--out FILE is required");
    if (!format) format = ends_with(out, ".safetensors") ? "safetensors" : "lipcl";
    if (strcmp(format, "lipcl") && strcmp(format, "safetensors"))
        usage_error("--format must be lipcl or safetensors, not '%s'", format);
#if LIPCL_CLI_HAVE_IO && LIPCL_CLI_HAVE_VANILLA
    open_context(device, 0);
    lip_model *m = open_model(model_path), *v = NULL;
    TRY(lip_model_vanilla_export(m, &v), "vanilla export");
    if (!strcmp(format, "lipcl"))
        TRY(lip_model_save(v, out, LIP_SAVE_WEIGHTS), "saving");
    else
        TRY(lip_model_save_safetensors(v, out), "saving");
    printf("%s: %s\n", format, out);
    lip_model_free(v);
    lip_model_free(m);
    close_context();
    return 0;
#else
    (void)device;
    die("this build has no model files or vanilla export (lip_model_save / lip_model_vanilla_export missing)");
    return 1;
#endif
}

/* ---- lipcl sv ------------------------------------------------------------------------------------ */

static void sv_help(void) {
    printf("usage: lipcl sv MODEL [--all] [--device SPEC] [--seed S]\n"
           "Per layer: the singular values of its linear part with the weights it applies (deel-lip's\n"
           "compute_layer_sv, via lip_layer_singular_values), its guaranteed bound, then the model's bound\n"
           "and the product of the measured largest singular values.\n"
           "Dense: every singular value of the (in, units) kernel (exact, double precision).\n"
           "Conv: sigma_max (and sigma_min) of the convolution operator itself at the layer's input size,\n"
           "padding included, by power iteration on the device.\n"
           "MODEL: a model file, or a .cfg (a freshly initialized model; --seed S).\n"
           "  --all   print every singular value (default: largest, smallest and the count)\n");
}

/* A layer's name for a table ("-" when unnamed). */
static const char *shown_name(const lip_layer *l) {
    const char *n = lip_layer_name(l);
    return n && *n ? n : "-";
}

static int cmd_sv(int argc, char **argv) {
    g_cmd = "lipcl sv";
    const char *model_path = NULL, *device = NULL;
    int all = 0;
    uint64_t seed = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            sv_help();
            return 0;
        } else if (!strcmp(a, "--all"))
            all = 1;
        else if (!strcmp(a, "--device"))
            device = arg_next(argc, argv, &i);
        else if (!strcmp(a, "--seed"))
            seed = arg_size(a, arg_next(argc, argv, &i), 0);
        else if (a[0] == '-' || model_path)
            usage_error("unknown argument '%s'", a);
        else
            model_path = a;
    }
    if (!model_path) usage_error("the MODEL file is required");
    open_context(device, seed);
    lip_model *m = open_model(model_path);
    size_t nodes = lip_model_node_count(m);
    printf("%-4s %-20s %-24s %-12s %12s %12s %12s\n", "node", "layer", "type", "of", "sigma_max", "sigma_min",
           "layer_bound");
    for (size_t i = 0; i < nodes; i++) {
        lip_layer *l = lip_model_layer(m, i);
        if (!l) {
            printf("%-4zu %-20s %-24s\n", i, "(sum)", "Add");
            continue;
        }
        double bound = 0;
        int per_neuron = 0;
        char bound_s[48];
        if (lip_layer_lipschitz_bound(l, &bound, &per_neuron) == LIP_OK)
            snprintf(bound_s, sizeof bound_s, "%.6g%s", bound, per_neuron ? "/neuron" : "");
        else {
            snprintf(bound_s, sizeof bound_s, "none");
            lip_context_clear_error(g_ctx);
        }
        lip_sv_options opts = lip_sv_options_default();
        opts.seed = seed;
        opts.smallest = 1;
        lip_layer_sv sv;
        double values[4096];
        TRY(lip_layer_singular_values(l, &opts, &sv, values, sizeof values / sizeof values[0]), "singular values");
        if (sv.method != LIP_SV_EXACT && sv.method != LIP_SV_OPERATOR) {
            printf("%-4zu %-20s %-24s %-12s %12s %12s %12s\n", i, shown_name(l), lip_layer_type(l), "-", "-", "-",
                   bound_s);
            continue;
        }
        printf("%-4zu %-20s %-24s %-12s %12.6f %12.6f %12s\n", i, shown_name(l), lip_layer_type(l),
               sv.method == LIP_SV_EXACT ? "kernel" : "operator", sv.sigma_max, sv.sigma_min, bound_s);
        if (all && sv.method == LIP_SV_EXACT) {
            size_t ns = sv.count < sizeof values / sizeof values[0] ? sv.count : sizeof values / sizeof values[0];
            printf("     singular values (%zu):", sv.count);
            for (size_t j = 0; j < ns; j++) printf("%s%.6f", j % 8 ? " " : "\n      ", values[j]);
            printf("\n");
        }
    }
    double L = 0;
    int disjoint = 0;
    if (lip_model_lipschitz_bound(m, &L, &disjoint) == LIP_OK)
        printf("model lipschitz bound: %.6g%s\n", L, disjoint ? " (per output neuron: disjoint head)" : "");
    else
        printf("model lipschitz bound: none (%s)\n", lip_context_last_error(g_ctx));
    double product = 0;
    lip_sv_options opts = lip_sv_options_default();
    opts.seed = seed;
    if (lip_model_lipschitz_product(m, &opts, &product) == LIP_OK)
        printf("product of the measured sigma_max: %.6g\n", product);
    lip_model_free(m);
    close_context();
    return 0;
}

/* ---- lipcl info ----------------------------------------------------------------------------------- */

static int cmd_info(int argc, char **argv) {
    g_cmd = "lipcl info";
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: lipcl info\nLists the OpenCL devices and the one lipcl selects ($LIPCL_DEVICE, else the\n"
                   "first GPU, else the first device). lipcl-info also times the kernel builds.\n");
            return 0;
        }
        usage_error("unknown argument '%s'", argv[i]);
    }
    size_t n = 0;
    lip_status st = lip_device_list(NULL, 0, &n);
    if (st != LIP_OK || n == 0) die("no OpenCL device found (%s)", lip_status_string(st));
    lip_device_info *d = calloc(n, sizeof *d);
    if (!d) die("out of memory");
    TRY(lip_device_list(d, n, &n), "device list");
    int sel = -1;
    char msg[256] = "";
    if (lip_device_select(NULL, &sel, msg, sizeof msg) != LIP_OK) sel = -1;
    for (size_t i = 0; i < n; i++)
        printf("%c %d  %d:%d  %-40s %s, %u CU, %.0f MiB, fp64 %s  (%s)\n", d[i].index == sel ? '*' : ' ', d[i].index,
               d[i].platform_index, d[i].device_index, d[i].device_name,
               d[i].is_gpu ? "GPU" : d[i].is_cpu ? "CPU" : "other", d[i].compute_units,
               (double)d[i].global_mem_bytes / 1048576.0, d[i].fp64 ? "yes" : "no", d[i].platform_name);
    if (sel < 0) printf("no device selected: %s\n", msg);
    free(d);
    return 0;
}

/* ---- main --------------------------------------------------------------------------------------- */

static void main_help(FILE *f) {
    fprintf(f, "usage: lipcl COMMAND [options]   ('lipcl COMMAND --help' for its options)\n"
               "  train    train a model described in a .cfg file; writes the model file and the history CSV\n"
               "  eval     clean accuracy, certified accuracy at a list of radii, mean certified radius\n"
               "  export   vanilla model file (plain layers with the effective weights) or safetensors\n"
               "  sv       per-layer singular values of the effective kernels and the model's Lipschitz bound\n"
               "  info     OpenCL devices\n"
               "The model description format is in doc/cli.md (examples/models/*.cfg).\n"
               "model files: %s\n",
            LIPCL_CLI_HAVE_IO && LIPCL_CLI_HAVE_VANILLA ? "yes" : "no (train --no-save --eval only)");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "lipcl: a command is required (see 'lipcl --help')\n");
        return 2;
    }
    const char *c = argv[1];
    if (!strcmp(c, "--help") || !strcmp(c, "-h") || !strcmp(c, "help")) {
        main_help(stdout);
        return 0;
    }
    if (!strcmp(c, "train")) return cmd_train(argc - 2, argv + 2);
    if (!strcmp(c, "eval")) return cmd_eval(argc - 2, argv + 2);
    if (!strcmp(c, "export")) return cmd_export(argc - 2, argv + 2);
    if (!strcmp(c, "sv")) return cmd_sv(argc - 2, argv + 2);
    if (!strcmp(c, "info")) return cmd_info(argc - 2, argv + 2);
    fprintf(stderr, "lipcl: unknown command '%s' (see 'lipcl --help')\n", c);
    return 2;
}
