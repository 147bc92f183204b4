/* lipcl tests — training end to end on two moons: the loss falls and accuracy is reached, runs are
 * bit-identical from a seed, evaluate agrees with host predictions, history/CSV, callbacks, misuse errors. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "lipcl/lipcl.h"

static lip_context *ctx;

/* FullSort MLP 64-32 → FrobeniusDense 1 (deel-lip's two-moons shape, smaller). */
static lip_model *moons_model(int with_metrics) {
    lip_model *m = NULL;
    CHECK_OK(lip_model_create(ctx, "moons", &m));
    size_t units[2] = {64, 32};
    for (int i = 0; i < 2; i++) {
        lip_dense_config c = lip_dense_config_default(units[i]);
        lip_layer *d = NULL, *a = NULL;
        CHECK_OK(lip_spectral_dense_create(ctx, &c, NULL, &d));
        CHECK_OK(lip_model_add(m, d));
        CHECK_OK(lip_fullsort_create(ctx, 1.0f, NULL, &a));
        CHECK_OK(lip_model_add(m, a));
    }
    lip_dense_config c = lip_dense_config_default(1);
    lip_layer *head = NULL;
    CHECK_OK(lip_frobenius_dense_create(ctx, &c, "head", &head));
    CHECK_OK(lip_model_add(m, head));
    size_t in[1] = {2};
    CHECK_OK(lip_model_build(m, 1, in));
    lip_loss_config lc = lip_loss_config_default(LIP_LOSS_HKR);
    lc.alpha = 100.0f; /* hinge-dominated: this small net at α = 10 trades accuracy for KR (0.953) */
    lc.min_margin = 0.29f;
    lip_loss *loss = NULL;
    CHECK_OK(lip_loss_create(ctx, &lc, &loss));
    lip_optimizer_config oc = lip_optimizer_config_default(LIP_OPTIMIZER_ADAM);
    oc.learning_rate = 0.01;
    lip_optimizer *opt = NULL;
    CHECK_OK(lip_optimizer_create(ctx, &oc, &opt));
    lip_metric *metrics[2] = {NULL, NULL};
    lip_metric_config mc = lip_metric_config_default(LIP_METRIC_BINARY_ACCURACY);
    CHECK_OK(lip_metric_create(ctx, &mc, &metrics[0]));
    mc = lip_metric_config_default(LIP_METRIC_BINARY_PROVABLE_ROBUST_ACCURACY);
    mc.epsilon = 0.05f;
    CHECK_OK(lip_metric_create(ctx, &mc, &metrics[1]));
    if (!with_metrics) {
        lip_metric_free(metrics[0]);
        lip_metric_free(metrics[1]);
    }
    CHECK_OK(lip_model_compile(m, loss, opt, with_metrics ? 2 : 0, metrics));
    return m;
}

static lip_dataset *moons(size_t n, uint64_t seed) {
    lip_dataset *ds = NULL;
    CHECK_OK(lip_dataset_make_moons(ctx, n, 0.05, 1, seed, &ds));
    CHECK_OK(lip_dataset_binary_targets(ds, 1, 1.0f, -1.0f));
    return ds;
}

static float *weights(lip_model *m, size_t *n) {
    size_t count = 0, total = 0;
    CHECK_OK(lip_model_trainable_params(m, 0, NULL, NULL, &count));
    lip_tensor **v = calloc(count, sizeof *v);
    CHECK_OK(lip_model_trainable_params(m, count, v, NULL, &count));
    for (size_t i = 0; i < count; i++) total += lip_tensor_count(v[i]);
    float *w = test_falloc(total);
    size_t at = 0;
    for (size_t i = 0; i < count; i++) {
        test_read(v[i], w + at);
        at += lip_tensor_count(v[i]);
    }
    free(v);
    *n = total;
    return w;
}

static void test_learns(void) {
    lip_dataset *train = moons(2000, 1), *val = moons(300, 2);
    lip_model *m = moons_model(1);
    lip_fit_config fc = lip_fit_config_default();
    fc.batch_size = 24; /* 2000 = 83·24 + 8: a partial last batch every epoch */
    fc.epochs = 10;
    fc.seed = 7;
    fc.validation = val;
    CHECK_OK(lip_model_fit(m, train, &fc));
    size_t epochs = 0, cols = 0;
    CHECK_OK(lip_model_history_size(m, &epochs, &cols));
    CHECK(epochs == 10 && cols == 6);
    CHECK(!strcmp(lip_model_history_column(m, 0), "loss"));
    CHECK(!strcmp(lip_model_history_column(m, 1), "binary_accuracy"));
    CHECK(!strcmp(lip_model_history_column(m, 3), "val_loss"));
    double first = 0, last = 0, val_acc = 0, val_cert = 0;
    CHECK_OK(lip_model_history_value(m, 0, 0, &first));
    CHECK_OK(lip_model_history_value(m, 9, 0, &last));
    CHECK_OK(lip_model_history_value(m, 9, 4, &val_acc));
    CHECK_OK(lip_model_history_value(m, 9, 5, &val_cert));
    printf("two moons: loss %.4f -> %.4f, val accuracy %.4f, certified at 0.05: %.4f\n", first, last, val_acc,
           val_cert);
    CHECK(last < first);
    CHECK(val_acc >= 0.97);
    CHECK(val_cert <= val_acc && val_cert > 0.5);
    double factor = 0;
    CHECK_OK(lip_model_certificate_factor(m, &factor)); /* one output: L = 1 */
    CHECK_NEAR(factor, 1.0, 1e-6);
    CHECK_STATUS(lip_model_history_value(m, 10, 0, &last), LIP_ERR_BOUNDS);

    /* evaluate = host predictions scored on the host */
    double ev[3] = {0, 0, 0};
    CHECK_OK(lip_model_evaluate(m, val, 37, ev, 3));
    size_t n = lip_dataset_count(val), width = 0;
    float *pred = test_falloc(n);
    CHECK_OK(lip_model_predict_host(m, val, 50, pred, n));
    const float *y = lip_dataset_targets(val, &width);
    size_t correct = 0;
    for (size_t i = 0; i < n; i++) correct += (pred[i] > 0) == (y[i] > 0);
    CHECK_NEAR(ev[1], (double)correct / (double)n, 1e-9);
    CHECK(ev[1] >= 0.97);
    free(pred);

    /* CSV */
    char path[] = "/tmp/lipcl_test_fit_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    CHECK_OK(lip_model_history_save_csv(m, path));
    FILE *f = fopen(path, "r");
    char line[512] = "";
    CHECK(f && fgets(line, sizeof line, f));
    CHECK(!strncmp(line, "epoch,loss,binary_accuracy,binary_provable_robust_accuracy,val_loss", strlen("epoch,loss,binary_accuracy,binary_provable_robust_accuracy,val_loss")));
    int rows = 0;
    while (f && fgets(line, sizeof line, f)) rows++;
    CHECK(rows == 10);
    if (f) fclose(f);
    remove(path);

    /* a fit with other columns must not mix into this history */
    lip_fit_config no_val = fc;
    no_val.validation = NULL;
    no_val.epochs = 1;
    CHECK_STATUS(lip_model_fit(m, train, &no_val), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "lip_model_history_clear");
    lip_model_history_clear(m);
    CHECK_OK(lip_model_fit(m, train, &no_val));

    lip_model_free(m);
    lip_dataset_free(train);
    lip_dataset_free(val);
}

/* The same seed gives bit-identical weights; another shuffle seed gives different ones. */
static void test_determinism(void) {
    lip_dataset *train = moons(200, 3);
    float *w[3];
    size_t n[3];
    for (int run = 0; run < 3; run++) {
        uint64_t state[4] = {11, 12, 13, 14};
        CHECK_OK(lip_random_set_state(ctx, state));
        lip_model *m = moons_model(0);
        lip_fit_config fc = lip_fit_config_default();
        fc.batch_size = 32;
        fc.epochs = 2;
        fc.seed = run == 2 ? 99 : 5;
        CHECK_OK(lip_model_fit(m, train, &fc));
        w[run] = weights(m, &n[run]);
        lip_model_free(m);
    }
    CHECK(n[0] == n[1] && n[0] == n[2]);
    CHECK(memcmp(w[0], w[1], n[0] * sizeof(float)) == 0);
    CHECK(memcmp(w[0], w[2], n[0] * sizeof(float)) != 0);
    for (int i = 0; i < 3; i++) free(w[i]);

    /* Interrupted after epoch 1 and resumed with initial_epoch 1: the same weights as 2 epochs at once. */
    uint64_t state[4] = {11, 12, 13, 14};
    CHECK_OK(lip_random_set_state(ctx, state));
    lip_model *m = moons_model(0);
    lip_fit_config fc = lip_fit_config_default();
    fc.batch_size = 32;
    fc.epochs = 1;
    fc.seed = 5;
    CHECK_OK(lip_model_fit(m, train, &fc));
    fc.epochs = 2;
    fc.initial_epoch = 1;
    CHECK_OK(lip_model_fit(m, train, &fc));
    size_t nr = 0;
    float *resumed = weights(m, &nr);
    lip_model_free(m);
    CHECK_OK(lip_random_set_state(ctx, state));
    m = moons_model(0);
    fc.initial_epoch = 0;
    CHECK_OK(lip_model_fit(m, train, &fc));
    size_t nu = 0;
    float *straight = weights(m, &nu);
    CHECK(nr == nu && memcmp(resumed, straight, nr * sizeof(float)) == 0);
    fc.initial_epoch = 2;
    CHECK_STATUS(lip_model_fit(m, train, &fc), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "initial_epoch 2 must be below epochs 2");
    free(resumed);
    free(straight);
    lip_model_free(m);
    lip_dataset_free(train);
}

/* Early stopping on a metric that cannot improve; the scheduler moves the loss parameter. */
static void test_callbacks(void) {
    lip_dataset *train = moons(128, 4);
    lip_model *m = moons_model(0);
    lip_early_stopping es = {"loss", 1e9, 2, 0, 0, 0, 0}; /* improvement must exceed 1e9: never */
    double xp[2] = {0, 4}, fp[2] = {1.0, 5.0};
    lip_loss_param_scheduler sched = {"alpha", xp, fp, 2};
    lip_callback cbs[2] = {lip_callback_early_stopping(&es), lip_callback_loss_param_scheduler(&sched)};
    lip_fit_config fc = lip_fit_config_default();
    fc.batch_size = 64; /* 2 batches per epoch */
    fc.epochs = 10;
    fc.callbacks = cbs;
    fc.n_callbacks = 2;
    CHECK_OK(lip_model_fit(m, train, &fc));
    size_t epochs = 0;
    CHECK_OK(lip_model_history_size(m, &epochs, NULL));
    CHECK(epochs == 3); /* epoch 1 sets the best, 2 and 3 wait, stop */
    lip_model_free(m);

    /* scheduler: after 6 steps (last batch began at step 5 > 4) alpha is clamped at 5 */
    m = moons_model(0);
    lip_callback only_sched = lip_callback_loss_param_scheduler(&sched);
    fc.epochs = 3;
    fc.callbacks = &only_sched;
    fc.n_callbacks = 1;
    CHECK_OK(lip_model_fit(m, train, &fc));
    lip_model_free(m);
    lip_dataset_free(train);
}

static void test_errors(void) {
    lip_dataset *train = moons(64, 5);
    lip_model *m = NULL;
    CHECK_OK(lip_model_create(ctx, "e", &m));
    lip_dense_config c = lip_dense_config_default(3);
    lip_layer *d = NULL;
    CHECK_OK(lip_dense_create(ctx, &c, NULL, &d));
    CHECK_OK(lip_model_add(m, d));
    lip_loss_config lc = lip_loss_config_default(LIP_LOSS_HKR);
    lip_loss *loss = NULL;
    CHECK_OK(lip_loss_create(ctx, &lc, &loss));
    CHECK_STATUS(lip_model_compile(m, loss, NULL, 0, NULL), LIP_ERR_INVALID_ARGUMENT); /* not built; loss freed */
    CHECK_MESSAGE(ctx, "build it before compile");
    size_t in[1] = {2};
    CHECK_OK(lip_model_build(m, 1, in));
    lip_fit_config fc = lip_fit_config_default();
    CHECK_STATUS(lip_model_fit(m, train, &fc), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "not compiled");
    CHECK_OK(lip_loss_create(ctx, &lc, &loss));
    CHECK_OK(lip_model_compile(m, loss, NULL, 0, NULL));
    CHECK_STATUS(lip_model_fit(m, train, &fc), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "without an optimizer");
    lip_optimizer_config oc = lip_optimizer_config_default(LIP_OPTIMIZER_SGD);
    lip_optimizer *opt = NULL;
    CHECK_OK(lip_optimizer_create(ctx, &oc, &opt));
    CHECK_OK(lip_loss_create(ctx, &lc, &loss));
    CHECK_OK(lip_model_compile(m, loss, opt, 0, NULL));
    CHECK_STATUS(lip_model_fit(m, train, &fc), LIP_ERR_SHAPE); /* targets width 1, model outputs 3 */
    CHECK_MESSAGE(ctx, "targets have width 1, the model outputs 3");
    fc.batch_size = 0;
    CHECK_STATUS(lip_model_fit(m, train, &fc), LIP_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(lip_model_fit(m, train, NULL), LIP_ERR_NULL);
    lip_model_free(m);
    lip_dataset_free(train);
}

/* ---- constraints and regularizers on plain layers --------------------------------------------- */

/* A plain Dense in→out (with bias), MSE, SGD (lr) or Adam; `from` (may be NULL) gives its initial weights. */
static lip_model *plain_model(size_t in, size_t out, int adam, double lr, lip_model *from) {
    lip_model *m = NULL;
    REQUIRE_OK(lip_model_create(ctx, "plain", &m));
    lip_dense_config c = lip_dense_config_default(out);
    lip_layer *d = NULL;
    REQUIRE_OK(lip_dense_create(ctx, &c, "d", &d));
    REQUIRE_OK(lip_model_add(m, d));
    REQUIRE_OK(lip_model_build(m, 1, &in));
    if (from) {
        lip_tensor *a[2], *b[2];
        size_t n = 0;
        REQUIRE_OK(lip_model_trainable_params(from, 2, a, NULL, &n));
        REQUIRE_OK(lip_model_trainable_params(m, 2, b, NULL, &n));
        for (size_t i = 0; i < n; i++) REQUIRE_OK(lip_tensor_copy(b[i], a[i]));
    }
    lip_loss_config lc = lip_loss_config_default(LIP_LOSS_MSE);
    lip_loss *loss = NULL;
    REQUIRE_OK(lip_loss_create(ctx, &lc, &loss));
    lip_optimizer_config oc = lip_optimizer_config_default(adam ? LIP_OPTIMIZER_ADAM : LIP_OPTIMIZER_SGD);
    oc.learning_rate = lr;
    lip_optimizer *opt = NULL;
    REQUIRE_OK(lip_optimizer_create(ctx, &oc, &opt));
    REQUIRE_OK(lip_model_compile(m, loss, opt, 0, NULL));
    return m;
}

/* n samples x ~ U(-1, 1)^in, targets x·A with A ~ U(-scale, scale) (in × out). */
static lip_dataset *linear_data(size_t n, size_t in, size_t out, double scale, uint64_t seed) {
    uint64_t rng = seed;
    float *x = test_falloc(n * in), *a = test_falloc(in * out), *t = test_falloc(n * out);
    test_fill_uniform(&rng, x, n * in, -1.0, 1.0);
    test_fill_uniform(&rng, a, in * out, -scale, scale);
    for (size_t s = 0; s < n; s++)
        for (size_t j = 0; j < out; j++) {
            double acc = 0;
            for (size_t i = 0; i < in; i++) acc += (double)x[s * in + i] * a[i * out + j];
            t[s * out + j] = (float)acc;
        }
    lip_dataset *ds = NULL;
    REQUIRE_OK(lip_dataset_create(ctx, n, 1, &in, x, NULL, out, t, &ds));
    free(x);
    free(a);
    free(t);
    return ds;
}

static lip_tensor *kernel_of(lip_model *m) {
    lip_tensor *k = NULL;
    REQUIRE_OK(lip_layer_param(lip_model_layer(m, 0), 0, &k, NULL, NULL));
    return k;
}

static double max_abs_kernel(lip_model *m) {
    lip_tensor *k = kernel_of(m);
    float *w = test_download(k);
    double mx = 0;
    for (size_t i = 0; i < lip_tensor_count(k); i++) mx = fabs(w[i]) > mx ? fabs(w[i]) : mx;
    free(w);
    return mx;
}

/* ‖G − I‖²_F in double, G = W·Wᵀ when rows ≤ cols else Wᵀ·W (OrthDenseRegularizer); grad (may be
 * NULL) = its gradient: 4·(G − I)·W or 4·W·(G − I). W is rows × cols row-major. */
static double orth_measure(const float *w, size_t rows, size_t cols, double *grad) {
    int small_rows = rows <= cols;
    size_t g = small_rows ? rows : cols;
    double *gm = calloc(g * g, sizeof *gm), r = 0;
    for (size_t a = 0; a < g; a++)
        for (size_t b = 0; b < g; b++) {
            double acc = 0;
            if (small_rows)
                for (size_t j = 0; j < cols; j++) acc += (double)w[a * cols + j] * w[b * cols + j];
            else
                for (size_t i = 0; i < rows; i++) acc += (double)w[i * cols + a] * w[i * cols + b];
            gm[a * g + b] = acc - (a == b);
            r += gm[a * g + b] * gm[a * g + b];
        }
    if (grad)
        for (size_t i = 0; i < rows; i++)
            for (size_t j = 0; j < cols; j++) {
                double acc = 0;
                if (small_rows)
                    for (size_t a = 0; a < rows; a++) acc += gm[i * g + a] * w[a * cols + j];
                else
                    for (size_t b = 0; b < cols; b++) acc += (double)w[i * cols + b] * gm[b * g + j];
                grad[i * cols + j] = 4.0 * acc;
            }
    free(gm);
    return r;
}

static void test_weight_clip(void) {
    lip_dataset *ds = linear_data(48, 2, 3, 3.0, test_seed(61));
    lip_fit_config fc = lip_fit_config_default();
    fc.batch_size = 16;
    fc.epochs = 3;
    lip_model *free_run = plain_model(2, 3, 0, 0.5, NULL);
    lip_model *clipped = plain_model(2, 3, 0, 0.5, free_run);
    lip_constraint_config cc = lip_constraint_config_default(LIP_CONSTRAINT_WEIGHT_CLIP);
    cc.c = 0.05f;
    lip_constraint *clip = NULL;
    REQUIRE_OK(lip_constraint_create(ctx, &cc, &clip));
    CHECK_OK(lip_model_set_constraint(clipped, 0, "kernel", clip));
    CHECK_OK(lip_model_fit(free_run, ds, &fc));
    CHECK_OK(lip_model_fit(clipped, ds, &fc));
    CHECK(max_abs_kernel(free_run) > 0.05);  /* without it the kernel leaves [−c, c] */
    CHECK(max_abs_kernel(clipped) <= 0.05f); /* with it, never (exactly: a clip) */
    CHECK(max_abs_kernel(clipped) >= 0.049); /* and it is active */
    lip_model_free(free_run);
    lip_model_free(clipped);
    lip_dataset_free(ds);
}

static lip_status frobenius_epoch_end(lip_model *m, size_t epoch, const double *values, size_t n, int *stop,
                                      void *user) {
    (void)epoch, (void)values, (void)n, (void)stop, (void)user;
    lip_tensor *k = kernel_of(m);
    float *w = test_download(k);
    double s = 0;
    for (size_t i = 0; i < lip_tensor_count(k); i++) s += (double)w[i] * w[i];
    free(w);
    CHECK_NEAR(sqrt(s), 1.0, 1e-5);
    (*(int *)user)++;
    return LIP_OK;
}

static void test_frobenius_constraint(void) {
    lip_dataset *ds = linear_data(40, 4, 2, 2.0, test_seed(62));
    lip_model *m = plain_model(4, 2, 1, 0.05, NULL);
    lip_constraint_config cc = lip_constraint_config_default(LIP_CONSTRAINT_FROBENIUS);
    lip_constraint *c = NULL;
    REQUIRE_OK(lip_constraint_create(ctx, &cc, &c));
    CHECK_OK(lip_model_set_constraint(m, 0, "kernel", c));
    int epochs_seen = 0;
    lip_callback cb = {NULL, frobenius_epoch_end, &epochs_seen};
    lip_fit_config fc = lip_fit_config_default();
    fc.batch_size = 7; /* a remainder batch too */
    fc.epochs = 4;
    fc.callbacks = &cb;
    fc.n_callbacks = 1;
    CHECK_OK(lip_model_fit(m, ds, &fc));
    CHECK(epochs_seen == 4);
    lip_model_free(m);
    lip_dataset_free(ds);
}

static void test_orth_regularizer(void) {
    const size_t in = 5, out = 3;
    lip_dataset *ds = linear_data(64, in, out, 2.0, test_seed(63));
    lip_model *plain = plain_model(in, out, 1, 0.05, NULL);
    lip_model *reg = plain_model(in, out, 1, 0.05, plain);
    lip_regularizer_config rc = lip_regularizer_config_default(LIP_REGULARIZER_ORTH_DENSE);
    lip_regularizer *r = NULL;
    REQUIRE_OK(lip_regularizer_create(ctx, &rc, &r));
    CHECK_OK(lip_model_add_regularizer(reg, 0, "kernel", r));
    lip_fit_config fc = lip_fit_config_default();
    fc.batch_size = 16;
    fc.epochs = 25;
    CHECK_OK(lip_model_fit(plain, ds, &fc));
    CHECK_OK(lip_model_fit(reg, ds, &fc));
    float *wp = test_download(kernel_of(plain)), *wr = test_download(kernel_of(reg));
    double mp = orth_measure(wp, in, out, NULL), mr = orth_measure(wr, in, out, NULL);
    printf("‖WᵀW − I‖²: %.4g without the regularizer, %.4g with it\n", mp, mr);
    CHECK(mr < 0.5 * mp);
    free(wp);
    free(wr);
    lip_model_free(plain);
    lip_model_free(reg);
    lip_dataset_free(ds);
}

/* The reported loss (fit and evaluate) is the loss + λ·R(W) and the step follows λ·∇R too: a run with
 * λ = 0.3 against one with λ = 0 from the same weights on one batch. */
static void test_regularized_loss(void) {
    const size_t in = 3, out = 5, n = 9; /* rows ≤ cols: G = W·Wᵀ */
    const double lambda = 0.3, lr = 0.1;
    lip_dataset *ds = linear_data(n, in, out, 1.0, test_seed(64));
    lip_model *m0 = plain_model(in, out, 0, lr, NULL);
    lip_model *m1 = plain_model(in, out, 0, lr, m0);
    lip_regularizer_config rc = lip_regularizer_config_default(LIP_REGULARIZER_ORTH_DENSE);
    lip_regularizer *r = NULL;
    rc.lambda = 0.0f;
    REQUIRE_OK(lip_regularizer_create(ctx, &rc, &r));
    CHECK_OK(lip_model_add_regularizer(m0, 0, "kernel", r));
    rc.lambda = (float)lambda;
    REQUIRE_OK(lip_regularizer_create(ctx, &rc, &r));
    CHECK_OK(lip_model_add_regularizer(m1, 0, "kernel", r));
    float *w0 = test_download(kernel_of(m0));
    double *grad = calloc(in * out, sizeof *grad);
    double reg = (double)(float)lambda * orth_measure(w0, in, out, grad);
    CHECK(reg > 1e-2);
    double e0 = 0, e1 = 0;
    CHECK_OK(lip_model_evaluate(m0, ds, 4, &e0, 1)); /* 3 batches: Keras adds R to each batch's loss */
    CHECK_OK(lip_model_evaluate(m1, ds, 4, &e1, 1));
    CHECK_NEAR(e1 - e0, reg, 1e-5 * (1 + e1));
    lip_fit_config fc = lip_fit_config_default();
    fc.batch_size = n;
    fc.shuffle = 0;
    CHECK_OK(lip_model_fit(m0, ds, &fc));
    CHECK_OK(lip_model_fit(m1, ds, &fc));
    double h0 = 0, h1 = 0;
    CHECK_OK(lip_model_history_value(m0, 0, 0, &h0));
    CHECK_OK(lip_model_history_value(m1, 0, 0, &h1));
    CHECK_NEAR(h1 - h0, reg, 1e-5 * (1 + h1));
    /* SGD: W1(λ) − W1(0) = −lr·λ·∇R(W0) */
    float *a = test_download(kernel_of(m0)), *b = test_download(kernel_of(m1));
    float *diff = test_falloc(in * out);
    double *ref = calloc(in * out, sizeof *ref);
    for (size_t i = 0; i < in * out; i++) {
        diff[i] = b[i] - a[i];
        ref[i] = -lr * (double)(float)lambda * grad[i];
    }
    CHECK(test_compare("step difference = −lr·λ·∇R", diff, ref, in * out, 2e-5, 2e-3));
    free(a);
    free(b);
    free(diff);
    free(ref);
    free(grad);
    free(w0);
    lip_model_free(m0);
    lip_model_free(m1);
    lip_dataset_free(ds);
}

static void test_attach_errors(void) {
    lip_constraint_config cc = lip_constraint_config_default(LIP_CONSTRAINT_WEIGHT_CLIP);
    lip_regularizer_config rc = lip_regularizer_config_default(LIP_REGULARIZER_ORTH_DENSE);
    lip_constraint *c = NULL;
    lip_regularizer *r = NULL;
    lip_model *m = NULL;
    REQUIRE_OK(lip_model_create(ctx, "att", &m));
    lip_dense_config dc = lip_dense_config_default(4);
    lip_layer *l = NULL;
    int a = 0;
    REQUIRE_OK(lip_spectral_dense_create(ctx, &dc, "s", &l));
    REQUIRE_OK(lip_model_add_node(m, l, LIP_MODEL_INPUT, &a));
    REQUIRE_OK(lip_model_add_sum(m, a, a, NULL));
    /* every failure below frees the object (test_context_free counts what is left alive) */
    REQUIRE_OK(lip_constraint_create(ctx, &cc, &c));
    CHECK_STATUS(lip_model_set_constraint(m, 0, "kernel", c), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "build it before");
    size_t in = 4;
    REQUIRE_OK(lip_model_build(m, 1, &in));
    REQUIRE_OK(lip_constraint_create(ctx, &cc, &c));
    CHECK_STATUS(lip_model_set_constraint(m, 1, "kernel", c), LIP_ERR_BOUNDS); /* a sum node */
    CHECK_MESSAGE(ctx, "node 1 is not a layer");
    REQUIRE_OK(lip_constraint_create(ctx, &cc, &c));
    CHECK_STATUS(lip_model_set_constraint(m, 7, "kernel", c), LIP_ERR_BOUNDS);
    REQUIRE_OK(lip_constraint_create(ctx, &cc, &c));
    CHECK_STATUS(lip_model_set_constraint(m, 0, "kernal", c), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "has no parameter 'kernal'");
    REQUIRE_OK(lip_constraint_create(ctx, &cc, &c));
    CHECK_STATUS(lip_model_set_constraint(m, 0, NULL, c), LIP_ERR_NULL);
    REQUIRE_OK(lip_constraint_create(ctx, &cc, &c));
    CHECK_STATUS(lip_model_set_constraint(NULL, 0, "kernel", c), LIP_ERR_NULL);
    REQUIRE_OK(lip_regularizer_create(ctx, &rc, &r));
    CHECK_STATUS(lip_model_add_regularizer(m, 0, "u", r), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "not trainable");
    REQUIRE_OK(lip_regularizer_create(ctx, &rc, &r));
    CHECK_STATUS(lip_model_add_regularizer(NULL, 0, "kernel", r), LIP_ERR_NULL);
    /* replacing frees the first; NULL removes; the model frees what it holds */
    REQUIRE_OK(lip_constraint_create(ctx, &cc, &c));
    CHECK_OK(lip_model_set_constraint(m, 0, "kernel", c));
    REQUIRE_OK(lip_constraint_create(ctx, &cc, &c));
    CHECK_OK(lip_model_set_constraint(m, 0, "kernel", c));
    CHECK_OK(lip_model_set_constraint(m, 0, "kernel", NULL));
    REQUIRE_OK(lip_regularizer_create(ctx, &rc, &r));
    CHECK_OK(lip_model_add_regularizer(m, 0, "kernel", r));
    REQUIRE_OK(lip_constraint_create(ctx, &cc, &c));
    CHECK_OK(lip_model_set_constraint(m, 0, "bias", c));
    lip_model_free(m);
}

int main(void) {
    ctx = test_context();
    test_learns();
    test_determinism();
    test_callbacks();
    test_errors();
    test_weight_clip();
    test_frobenius_constraint();
    test_orth_regularizer();
    test_regularized_loss();
    test_attach_errors();
    test_context_free(ctx);
    return test_finish("test_fit");
}
