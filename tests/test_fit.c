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

int main(void) {
    ctx = test_context();
    test_learns();
    test_determinism();
    test_callbacks();
    test_errors();
    test_context_free(ctx);
    return test_finish("test_fit");
}
