/* lipcl tests — stock fit callbacks: the singular value monitor (arrays and CSV), condense, the model checkpoint
 * (every epoch, best only, {epoch} paths, training state) and their error cases. */
#define _POSIX_C_SOURCE 200809L
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "lipcl/analysis.h"

static lip_context *ctx;
static char dir[] = "/tmp/lipcl_callbacks_XXXXXX";

/* SpectralDense(12) FullSort SpectralDense(6) FullSort FrobeniusDense(1) on 2-D inputs. */
static lip_model *moons_model(void) {
    lip_model *m = NULL;
    REQUIRE_OK(lip_model_create(ctx, "mlp", &m));
    const size_t units[2] = {12, 6};
    for (int i = 0; i < 2; i++) {
        lip_dense_config c = lip_dense_config_default(units[i]);
        lip_layer *d = NULL, *a = NULL;
        REQUIRE_OK(lip_spectral_dense_create(ctx, &c, NULL, &d));
        REQUIRE_OK(lip_model_add(m, d));
        REQUIRE_OK(lip_fullsort_create(ctx, 1.0f, NULL, &a));
        REQUIRE_OK(lip_model_add(m, a));
    }
    lip_dense_config c = lip_dense_config_default(1);
    lip_layer *head = NULL;
    REQUIRE_OK(lip_frobenius_dense_create(ctx, &c, "head", &head));
    REQUIRE_OK(lip_model_add(m, head));
    size_t in[1] = {2};
    REQUIRE_OK(lip_model_build(m, 1, in));
    lip_loss_config lc = lip_loss_config_default(LIP_LOSS_HKR);
    lc.alpha = 100.0f;
    lc.min_margin = 0.29f;
    lip_loss *loss = NULL;
    REQUIRE_OK(lip_loss_create(ctx, &lc, &loss));
    lip_optimizer_config oc = lip_optimizer_config_default(LIP_OPTIMIZER_ADAM);
    oc.learning_rate = 0.01;
    lip_optimizer *opt = NULL;
    REQUIRE_OK(lip_optimizer_create(ctx, &oc, &opt));
    REQUIRE_OK(lip_model_compile(m, loss, opt, 0, NULL));
    return m;
}

static lip_dataset *moons(size_t n) {
    lip_dataset *ds = NULL;
    REQUIRE_OK(lip_dataset_make_moons(ctx, n, 0.05, 1, test_seed(1), &ds));
    REQUIRE_OK(lip_dataset_binary_targets(ds, 1, 1.0f, -1.0f));
    return ds;
}

static size_t count_lines(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t n = 0;
    int ch;
    while ((ch = fgetc(f)) != EOF) n += ch == '\n';
    fclose(f);
    return n;
}

static void path_for(char *buf, size_t size, const char *name) { snprintf(buf, size, "%s/%s", dir, name); }

static void test_monitor_condense_checkpoint(void) {
    lip_model *m = moons_model();
    lip_dataset *ds = moons(200);
    char csv[512], ck[512];
    path_for(csv, sizeof csv, "sv.csv");
    path_for(ck, sizeof ck, "every_{epoch}.lipm");
    lip_sv_monitor mon;
    memset(&mon, 0, sizeof mon);
    mon.csv_path = csv;
    lip_model_checkpoint cp;
    memset(&cp, 0, sizeof cp);
    cp.path = ck;
    cp.flags = LIP_SAVE_TRAINING_STATE;
    lip_callback cbs[3] = {lip_callback_sv_monitor(&mon), lip_callback_condense(), lip_callback_model_checkpoint(&cp)};
    lip_fit_config fc = lip_fit_config_default();
    fc.epochs = 3;
    fc.seed = test_seed(2);
    fc.callbacks = cbs;
    fc.n_callbacks = 3;
    CHECK_OK(lip_model_fit(m, ds, &fc));
    /* monitor: the two SpectralDense layers and the FrobeniusDense head (nodes 0, 2, 4), 3 rows */
    CHECK(mon.epochs == 3);
    CHECK(mon.layers == 3);
    if (mon.layers == 3) CHECK(mon.nodes[0] == 0 && mon.nodes[1] == 2 && mon.nodes[2] == 4);
    for (size_t e = 0; e < mon.epochs; e++) {
        CHECK(mon.epoch_index[e] == e);
        for (size_t i = 0; i < mon.layers; i++) {
            double lo = mon.sigma_min[e * mon.layers + i], hi = mon.sigma_max[e * mon.layers + i];
            CHECK(lo > 0 && lo <= hi);
            CHECK(hi <= 1.0 + 1e-3); /* every layer is 1-Lipschitz */
            if (i < 2) CHECK(hi >= 0.99); /* SpectralDense: σ_max = 1 after Björck */
        }
    }
    /* it agrees with lip_layer_singular_values after fit (the last row; condense ran after the monitor and
     * moved W̄ by one more reparametrization) */
    lip_layer_sv sv;
    CHECK_OK(lip_layer_singular_values(lip_model_layer(m, 2), NULL, &sv, NULL, 0));
    CHECK_NEAR(mon.sigma_max[2 * mon.layers + 1], sv.sigma_max, 1e-5);
    CHECK(count_lines(csv) == 1 + 3 * 3);
    /* checkpoints for epochs 1..3, loadable, with a training state */
    float *pred = test_falloc(200), *pred2 = test_falloc(200);
    CHECK_OK(lip_model_predict_host(m, ds, 64, pred, 200));
    CHECK(cp.saved == 3 && cp.last_epoch == 3);
    for (int e = 1; e <= 3; e++) {
        char p[512], name[64];
        snprintf(name, sizeof name, "every_%d.lipm", e);
        path_for(p, sizeof p, name);
        lip_model *l = NULL;
        CHECK_OK(lip_model_load(ctx, p, &l));
        if (!l) continue;
        CHECK(lip_model_node_count(l) == lip_model_node_count(m));
        if (e == 3) { /* the last checkpoint is the trained model (u advanced once more at load) */
            CHECK_OK(lip_model_predict_host(l, ds, 64, pred2, 200));
            double md = 0;
            for (size_t i = 0; i < 200; i++) md = fmax(md, fabs((double)pred[i] - pred2[i]));
            CHECK(md < 1e-3);
            /* the training state is in the file */
            lip_loss_config lc = lip_loss_config_default(LIP_LOSS_HKR);
            lip_loss *loss = NULL;
            REQUIRE_OK(lip_loss_create(ctx, &lc, &loss));
            lip_optimizer_config oc = lip_optimizer_config_default(LIP_OPTIMIZER_ADAM);
            lip_optimizer *opt = NULL;
            REQUIRE_OK(lip_optimizer_create(ctx, &oc, &opt));
            REQUIRE_OK(lip_model_compile(l, loss, opt, 0, NULL));
            CHECK_OK(lip_model_load_training_state(l, p));
        }
        lip_model_free(l);
        unlink(p);
    }
    free(pred);
    free(pred2);
    lip_sv_monitor_free(&mon);
    CHECK(mon.sigma_max == NULL && mon.epochs == 0);
    lip_sv_monitor_free(NULL);
    unlink(csv);
    lip_dataset_free(ds);
    lip_model_free(m);
}

/* best only: a file exactly for the epochs where "loss" improved on the best so far. */
static void test_best_only(void) {
    lip_model *m = moons_model();
    lip_dataset *ds = moons(160);
    char ck[512];
    path_for(ck, sizeof ck, "best_{epoch}.lipm");
    lip_model_checkpoint cp;
    memset(&cp, 0, sizeof cp);
    cp.path = ck;
    cp.monitor = "loss";
    cp.min_delta = 0.0;
    lip_callback cb = lip_callback_model_checkpoint(&cp);
    lip_fit_config fc = lip_fit_config_default();
    fc.epochs = 5;
    fc.seed = test_seed(3);
    fc.callbacks = &cb;
    fc.n_callbacks = 1;
    CHECK_OK(lip_model_fit(m, ds, &fc));
    size_t epochs = 0, cols = 0, expected = 0;
    CHECK_OK(lip_model_history_size(m, &epochs, &cols));
    CHECK(epochs == 5);
    double best = INFINITY;
    for (size_t e = 0; e < epochs; e++) {
        double v = 0;
        CHECK_OK(lip_model_history_value(m, e, 0, &v));
        int improved = v < best;
        if (improved) {
            best = v;
            expected++;
        }
        char p[512], name[64];
        snprintf(name, sizeof name, "best_%zu.lipm", e + 1);
        path_for(p, sizeof p, name);
        CHECK((access(p, F_OK) == 0) == improved);
        if (improved) {
            lip_model *l = NULL;
            CHECK_OK(lip_model_load(ctx, p, &l));
            lip_model_free(l);
        }
        unlink(p);
    }
    CHECK(cp.saved == expected && expected >= 1);
    CHECK_NEAR(cp.best, best, 0.0);
    /* a huge min_delta: only the first epoch is saved */
    lip_model_checkpoint cp2;
    memset(&cp2, 0, sizeof cp2);
    cp2.path = ck;
    cp2.monitor = "loss";
    cp2.min_delta = 1e9;
    cb = lip_callback_model_checkpoint(&cp2);
    fc.epochs = 8; /* continues from epoch 5 */
    fc.initial_epoch = 5;
    CHECK_OK(lip_model_fit(m, ds, &fc));
    CHECK(cp2.saved == 1 && cp2.last_epoch == 6);
    char p6[512];
    path_for(p6, sizeof p6, "best_6.lipm");
    CHECK(access(p6, F_OK) == 0);
    unlink(p6);
    lip_dataset_free(ds);
    lip_model_free(m);
}

static void test_errors(void) {
    lip_model *m = moons_model();
    lip_dataset *ds = moons(64);
    lip_fit_config fc = lip_fit_config_default();
    fc.epochs = 1;
    /* an unknown monitored column */
    char ck[512];
    path_for(ck, sizeof ck, "x_{epoch}.lipm");
    lip_model_checkpoint cp;
    memset(&cp, 0, sizeof cp);
    cp.path = ck;
    cp.monitor = "val_accuracy";
    lip_callback cb = lip_callback_model_checkpoint(&cp);
    fc.callbacks = &cb;
    fc.n_callbacks = 1;
    CHECK_STATUS(lip_model_fit(m, ds, &fc), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "val_accuracy");
    /* a folder that does not exist */
    cp.monitor = NULL;
    cp.path = "/nonexistent_lipcl_dir/m_{epoch}.lipm";
    cb = lip_callback_model_checkpoint(&cp);
    CHECK_STATUS(lip_model_fit(m, ds, &fc), LIP_ERR_IO);
    CHECK(cp.saved == 0);
    /* an empty path */
    cp.path = "";
    cb = lip_callback_model_checkpoint(&cp);
    CHECK_STATUS(lip_model_fit(m, ds, &fc), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "path");
    /* a monitor CSV that cannot be opened */
    lip_sv_monitor mon;
    memset(&mon, 0, sizeof mon);
    mon.csv_path = "/nonexistent_lipcl_dir/sv.csv";
    cb = lip_callback_sv_monitor(&mon);
    CHECK_STATUS(lip_model_fit(m, ds, &fc), LIP_ERR_IO);
    CHECK_MESSAGE(ctx, "sv.csv");
    CHECK(mon.epochs == 0);
    lip_sv_monitor_free(&mon);
    /* a NULL state */
    cb = lip_callback_model_checkpoint(NULL);
    CHECK_STATUS(lip_model_fit(m, ds, &fc), LIP_ERR_NULL);
    lip_dataset_free(ds);
    lip_model_free(m);
}

int main(void) {
    ctx = test_context();
    if (!mkdtemp(dir)) {
        fprintf(stderr, "mkdtemp failed\n");
        return 1;
    }
    test_monitor_condense_checkpoint();
    test_best_only();
    test_errors();
    rmdir(dir);
    test_context_free(ctx);
    return test_finish("test_callbacks");
}
